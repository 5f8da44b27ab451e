"""A browser's part without a browser: serve the explorer, open one session over its WebSocket as
Streamlit's frontend does, log in through the password form, and print what the page showed.

    python explorer_session.py PORT PASSWORD -- EXPLORE_COMMAND…

The network test runs it inside a network namespace of its own, so that the server and this client
are alone on a loopback interface; it prints one JSON object: the headings shown before and after
the login.
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

TIMEOUT_S = 40


def wait_healthy(port: int, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).status == 200:
                return
        except OSError:
            if server.poll() is not None:
                sys.exit(f"the explorer stopped at start (exit code {server.returncode})")
            time.sleep(0.3)
    sys.exit(f"the explorer did not answer within {TIMEOUT_S} s")


async def script_run(socket, widgets=()) -> list:
    """Ask for a run of the app (with these widget states) and collect the elements it draws, through
    any reruns the script asks for, until a run finishes."""
    request = BackMsg()
    request.rerun_script.query_string = ""
    request.rerun_script.page_script_hash = ""
    for widget in widgets:
        request.rerun_script.widget_states.widgets.add().CopyFrom(widget)
    await socket.send(request.SerializeToString())
    elements = []
    while True:
        message = ForwardMsg()
        message.ParseFromString(await asyncio.wait_for(socket.recv(), TIMEOUT_S))
        kind = message.WhichOneof("type")
        if kind == "delta" and message.delta.WhichOneof("type") == "new_element":
            elements.append(message.delta.new_element)
        elif kind == "script_finished":
            if message.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                return elements
            elements = []  # the run the script replaced with a new one


def headings(elements) -> list[str]:
    return [element.heading.body for element in elements if element.WhichOneof("type") == "heading"]


async def log_in(port: int, password: str) -> dict:
    async with websockets.connect(f"ws://127.0.0.1:{port}/_stcore/stream", subprotocols=["streamlit"]) as socket:
        before = await script_run(socket)
        by_type = {element.WhichOneof("type"): element for element in before}
        password_field, submit = by_type["text_input"].text_input, by_type["button"].button
        after = await script_run(socket, [WidgetState(id=password_field.id, string_value=password),
                                          WidgetState(id=submit.id, trigger_value=True)])
    return {"before": headings(before), "after": headings(after)}


def main(argv: list[str]) -> int:
    port, password, command = int(argv[0]), argv[1], argv[argv.index("--") + 1:]
    # A process group of its own: the command may be a tracer in front of the explorer, which starts
    # Streamlit in turn, and all of them must stop.
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_healthy(port, server)
        shown = asyncio.run(log_in(port, password))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
    print(json.dumps(shown, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
