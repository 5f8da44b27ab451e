"""``tousu explore``: serve the Streamlit explorer (``app.py``) on a results store."""
from __future__ import annotations

import ipaddress
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from tousu.explorer.access import LOGIN_VARIABLE, PASSWORD_FILE_VARIABLE, Access
from tousu.nlp.paths import PACKAGE_ROOT

APP = PACKAGE_ROOT / "app.py"
DEFAULT_STORE = Path("out/demo/tousu.duckdb")
DEFAULT_PORT = 8501
STORE_VARIABLE = "TOUSU_STORE"
# Models load from folders and the Hugging Face cache, never from the hub: a hub model named at train
# time is in the cache since training. A variable the user set wins.
OFFLINE_ENVIRONMENT = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}


def store_path() -> Path:
    """The store the explorer shows: ``$TOUSU_STORE``, else the demo's."""
    return Path(os.environ.get(STORE_VARIABLE, DEFAULT_STORE))


def browser_host(host: str) -> str:
    """The host name of the explorer's URL: ``localhost`` for this machine, the machine's name for all of
    its addresses, an IPv6 address in brackets."""
    if host in ("127.0.0.1", "localhost"):
        return "localhost"
    if host in ("0.0.0.0", "::"):
        return socket.gethostname()
    try:
        return f"[{host}]" if ipaddress.ip_address(host).version == 6 else host
    except ValueError:
        return host


def streamlit_command(port: int, open_browser: bool, access: Access) -> list[str]:
    """``streamlit run app.py`` with its options; none lets it reach beyond this machine on its own."""
    # No file watcher: this serves analysts, not app development, and watching a checkout
    # with its virtual environment exhausts inotify.
    command = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.address", access.host,
               "--server.port", str(port), "--server.headless", "false" if open_browser else "true",
               # Set, so that Streamlit prints and allows this address instead of looking up the machine's
               # own (a socket towards 8.8.8.8) and its external one (checkip.amazonaws.com).
               "--browser.serverAddress", browser_host(access.host),
               "--browser.gatherUsageStats", "false", "--server.showEmailPrompt", "false",
               "--server.fileWatcherType", "none", "--client.toolbarMode", "viewer"]
    if access.oidc_secrets is not None:
        command += ["--secrets.files", str(access.oidc_secrets)]
    return command


def run_explorer(store: str | Path | None = None, port: int = DEFAULT_PORT, open_browser: bool = True,
                 access: Access | None = None) -> int:
    """Run ``streamlit run app.py`` until it stops (Ctrl-C); returns its exit code. ``access`` (from
    :func:`tousu.explorer.access.checked_access`) says where it listens and who may log in; by
    default 127.0.0.1, without a login."""
    from tousu.store import ResultsStore

    access = access or Access()

    store = Path(store) if store is not None else DEFAULT_STORE
    if not store.is_file():
        raise FileNotFoundError(
            f"{store}: no results store here; `tousu demo` builds the demo's, and "
            f"`tousu classify MODEL_DIR INPUT -o OUTPUT --store {store}` builds one from your data")
    # A file that is not a store fails here, with its name; an older store is upgraded.
    ResultsStore(store, hold=False)
    # The login is ours to set: a TOUSU_LOGIN left in the shell must not choose it.
    inherited = {name: value for name, value in os.environ.items()
                 if name not in (LOGIN_VARIABLE, PASSWORD_FILE_VARIABLE)}
    environment = OFFLINE_ENVIRONMENT | inherited | {STORE_VARIABLE: str(store.resolve())} | access.environment()
    print(f"explorer: http://{browser_host(access.host)}:{port}  (store {store}; Ctrl-C stops it)")
    process = subprocess.Popen(streamlit_command(port, open_browser, access), env=environment, cwd=PACKAGE_ROOT)
    # A service manager stops us with SIGTERM: take the server down with us.
    signal.signal(signal.SIGTERM, lambda *_: process.terminate())
    try:
        return process.wait()
    except KeyboardInterrupt:
        # A terminal sends Ctrl-C to streamlit too; forward it anyway for when it does not.
        process.send_signal(signal.SIGINT)
        try:
            return process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.terminate()
            return process.wait()
