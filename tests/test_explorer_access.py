"""Who may open the explorer, and that it reaches nothing beyond this machine (issue 14, points 1-2).

``tousu explore`` and ``tousu demo`` listen on 127.0.0.1 unless ``--host`` says otherwise; another
address needs ``--password-file``, ``--oidc`` or ``--no-auth``; the login runs before any page; and
the explorer, served in a network namespace of its own, tries no address beyond loopback.
"""
from __future__ import annotations

import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tousu import cli
from tousu.explorer import access, auth, launch, passwords, resources
from tousu.explorer.passwords import PasswordFileError, PasswordHash, read_password_hash
from tousu.store import ResultsStore

APP = Path(__file__).resolve().parent.parent / "app.py"
SESSION_SCRIPT = Path(__file__).resolve().parent / "explorer_session.py"
PASSWORD = "正确的 horse battery"


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """An empty results store: the overview opens on it and says there is nothing to show."""
    path = tmp_path_factory.mktemp("access") / "tousu.duckdb"
    with ResultsStore(path):
        pass
    return path


@pytest.fixture(scope="module")
def password_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("password") / "explorer.pw"
    path.write_text(PasswordHash.of(PASSWORD).line() + "\n", encoding="utf-8")
    return path


@pytest.fixture
def launched(monkeypatch):
    """What run_explorer would start: the command and environment of the Streamlit process."""
    started = {}

    class Started:
        def __init__(self, command, env, cwd):
            started.update(command=command, env=env)

        def wait(self):
            return 0

    monkeypatch.setattr(launch.subprocess, "Popen", Started)
    monkeypatch.setattr(launch.signal, "signal", lambda *_: None)  # not pytest's own SIGTERM handling
    return started


def option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_the_explorer_listens_on_this_machine_only_by_default(store, launched, monkeypatch):
    for variable in launch.OFFLINE_ENVIRONMENT:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv(access.LOGIN_VARIABLE, "none")  # left in the shell: must not reach the app
    assert cli.main(["explore", "--store", str(store), "--no-browser"]) == 0
    command, environment = launched["command"], launched["env"]
    assert option(command, "--server.address") == "127.0.0.1"
    # Set, so Streamlit neither looks up the external address nor opens a socket towards 8.8.8.8.
    assert option(command, "--browser.serverAddress") == "localhost"
    assert option(command, "--browser.gatherUsageStats") == "false"
    assert option(command, "--server.showEmailPrompt") == "false"
    assert access.LOGIN_VARIABLE not in environment
    assert {environment[name] for name in launch.OFFLINE_ENVIRONMENT} == {"1"}


def test_a_password_file_reaches_the_app_by_its_path_never_the_password(store, password_file, launched,
                                                                          monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # the path is made absolute: the app runs in the package's folder
    relative = os.path.relpath(password_file, tmp_path)
    assert cli.main(["explore", "--store", str(store), "--no-browser", "--host", "0.0.0.0",
                     "--password-file", relative]) == 0
    command, environment = launched["command"], launched["env"]
    assert option(command, "--server.address") == "0.0.0.0"
    assert option(command, "--browser.serverAddress") == socket.gethostname()  # all addresses: the machine's name
    assert environment[access.LOGIN_VARIABLE] == "password"
    assert environment[access.PASSWORD_FILE_VARIABLE] == str(password_file.resolve())
    assert not any(PASSWORD in value for value in [*command, *environment.values()])


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "explorer.example.internal"])
def test_a_shared_address_without_a_login_is_refused_naming_the_three_options(store, launched, capsys, host):
    assert cli.main(["explore", "--store", str(store), "--host", host]) == 2
    message = capsys.readouterr().err
    assert all(choice in message for choice in ("--password-file", "--oidc", "--no-auth")), message
    assert not launched


def test_no_auth_serves_a_shared_address_for_a_proxy_that_authenticates(store, launched):
    assert cli.main(["explore", "--store", str(store), "--no-browser", "--host", "0.0.0.0", "--no-auth"]) == 0
    assert access.LOGIN_VARIABLE not in launched["env"]


def test_the_demo_refuses_a_shared_address_before_it_runs_the_pipeline(monkeypatch, capsys):
    monkeypatch.setattr("tousu.demo.run_demo", lambda *_, **__: pytest.fail("the demo ran before refusing"))
    assert cli.main(["demo", "--host", "0.0.0.0"]) == 2
    assert "--password-file" in capsys.readouterr().err


def test_the_demo_serves_its_explorer_as_asked(store, password_file, launched, monkeypatch):
    monkeypatch.setattr("tousu.demo.run_demo", lambda *_, **__: {"store": store})
    assert cli.main(["demo", "--no-browser", "--host", "0.0.0.0", "--password-file", str(password_file)]) == 0
    assert option(launched["command"], "--server.address") == "0.0.0.0"
    assert launched["env"][access.LOGIN_VARIABLE] == "password"


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("127.3.2.1", True), ("::1", True),
                                            ("[::1]", True), ("localhost", True), ("LOCALHOST", True),
                                            ("0.0.0.0", False), ("::", False), ("10.1.2.3", False),
                                            ("myhost", False)])
def test_only_loopback_addresses_count_as_this_machine(host, loopback):
    assert access.is_loopback(host) is loopback


def test_two_logins_at_once_are_refused(password_file):
    with pytest.raises(access.AccessError, match="choose one of --password-file, --no-auth"):
        access.checked_access("0.0.0.0", password_file=password_file, no_auth=True)


def test_hash_password_prints_a_salted_scrypt_line_that_knows_its_password(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))  # a pipe: one line, no prompt
    assert cli.main(["hash-password"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("scrypt$n=16384,r=8,p=1$")
    (tmp_path / "explorer.pw").write_text(line + "\n", encoding="utf-8")
    stored = read_password_hash(tmp_path / "explorer.pw")
    assert stored.matches(PASSWORD)
    assert not stored.matches(PASSWORD + " ") and not stored.matches("")
    again = PasswordHash.of(PASSWORD)
    assert again.salt != stored.salt and again.key != stored.key  # salted: the same password, another line


def test_an_empty_password_is_refused(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n"))
    assert cli.main(["hash-password"]) == 2
    assert "empty password" in capsys.readouterr().err


def test_passwords_are_compared_in_constant_time(monkeypatch):
    compared = []
    real = passwords.hmac.compare_digest

    def spy(a, b):
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(passwords.hmac, "compare_digest", spy)
    stored = PasswordHash.of(PASSWORD)
    assert not stored.matches("wrong")
    assert compared and compared[0][1] == stored.key


@pytest.mark.parametrize("content", ["", "\n\n", "hunter2\n", "scrypt$n=16384,r=8,p=1$c2FsdA==\n",
                                     "scrypt$n=1000,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA==$" + "A" * 44 + "\n",
                                     "scrypt$n=16384,r=8,p=1$!!!!$" + "A" * 44 + "\n",
                                     "scrypt$n=16384,r=8,p=1$c2FsdA==$a2V5\n"])
def test_a_malformed_password_file_is_an_error_naming_the_file(tmp_path, content):
    path = tmp_path / "explorer.pw"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(PasswordFileError, match="explorer.pw"):
        read_password_hash(path)


def test_a_bad_password_file_stops_the_command_before_it_serves(store, launched, capsys, tmp_path):
    (tmp_path / "bad.pw").write_bytes(b"\xff\xfe not a hash")
    assert cli.main(["explore", "--store", str(store), "--password-file", str(tmp_path / "bad.pw")]) == 2
    assert "bad.pw" in capsys.readouterr().err and not launched
    assert cli.main(["explore", "--store", str(store), "--password-file", str(tmp_path / "missing.pw")]) == 2
    assert "missing.pw" in capsys.readouterr().err and not launched


def test_oidc_needs_authlib_and_the_auth_settings(store, launched, monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    real_version = metadata.version

    def authlib_version(version):
        def installed(name):
            if name != "Authlib":
                return real_version(name)
            if version is None:
                raise metadata.PackageNotFoundError(name)
            return version
        monkeypatch.setattr(access.metadata, "version", installed)

    explore = ["explore", "--store", str(store), "--no-browser", "--host", "0.0.0.0", "--oidc"]
    authlib_version(None)
    assert cli.main(explore) == 2
    assert "pip install Authlib" in capsys.readouterr().err
    authlib_version("1.6.5")
    assert cli.main(explore) == 2
    assert ".streamlit/secrets.toml" in capsys.readouterr().err
    secrets = tmp_path / ".streamlit" / "secrets.toml"
    secrets.parent.mkdir()
    secrets.write_text('[auth]\nredirect_uri = "https://tousu.example/oauth2callback"\n', encoding="utf-8")
    assert cli.main(explore) == 2
    assert "lacks cookie_secret, client_id, client_secret, server_metadata_url" in capsys.readouterr().err
    secrets.write_text('[auth]\nredirect_uri = "https://tousu.example/oauth2callback"\ncookie_secret = "x"\n'
                       'client_id = "tousu"\nclient_secret = "y"\n'
                       'server_metadata_url = "https://id.example/.well-known/openid-configuration"\n',
                       encoding="utf-8")
    assert not launched
    assert cli.main(explore) == 0
    assert option(launched["command"], "--secrets.files") == str(secrets.resolve())
    assert launched["env"][access.LOGIN_VARIABLE] == "oidc"


def test_each_wrong_password_in_a_row_waits_longer():
    assert [auth.failure_delay_s(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert auth.failure_delay_s(20) == auth.MAX_FAILURE_DELAY_S


@pytest.fixture
def gated_app(store, monkeypatch):
    """The app with the store's entry point counted: every page, query and export goes through it."""
    monkeypatch.setenv("TOUSU_STORE", str(store))
    opened = []
    real_store = resources.store
    monkeypatch.setattr(resources, "store", lambda: opened.append(1) or real_store())
    slept = []
    monkeypatch.setattr(auth, "sleep", slept.append)
    yield AppTest.from_file(APP, default_timeout=60), opened, slept
    st.cache_resource.clear()
    st.cache_data.clear()


def log_in(app: AppTest, password: str) -> AppTest:
    app.text_input(key="login_password").input(password)
    return app.button[0].click().run()


def test_no_page_runs_before_the_password_and_the_right_one_opens_the_overview(gated_app, password_file,
                                                                                 monkeypatch):
    monkeypatch.setenv(access.LOGIN_VARIABLE, "password")
    monkeypatch.setenv(access.PASSWORD_FILE_VARIABLE, str(password_file))
    app, opened, slept = gated_app
    app.run()
    assert [title.value for title in app.title] == ["tousu 投诉分析"] and not opened
    app.switch_page("app_pages/drivers.py").run()  # a page asked for by its address: still the form
    assert [title.value for title in app.title] == ["tousu 投诉分析"] and not opened
    log_in(app, "wrong")
    assert [error.value for error in app.error] == ["密码不正确。"] and not opened
    log_in(app, "wrong again")
    assert slept == [auth.FAILURE_FLOOR_S, 0.0, auth.FAILURE_FLOOR_S, 1.0]  # the floor, then 1 s more
    log_in(app, PASSWORD)
    assert not app.exception and not app.error
    assert [title.value for title in app.title] == ["满意度驱动"] and opened  # the page asked for
    app.switch_page("app_pages/overview.py").run()
    assert [title.value for title in app.title] == ["总览"]
    app.button(key="logout").click().run()
    assert [title.value for title in app.title] == ["tousu 投诉分析"]


def test_no_page_runs_before_the_oidc_login(gated_app, monkeypatch):
    monkeypatch.setenv(access.LOGIN_VARIABLE, "oidc")
    app, opened, _ = gated_app
    app.user = {"is_logged_in": False}
    app.run()
    assert [button.label for button in app.button] == ["登录"] and not opened
    assert [title.value for title in app.title] == ["tousu 投诉分析"]
    app.user = {"is_logged_in": True, "email": "analyst@example.com"}
    app.run()
    assert [title.value for title in app.title] == ["总览"] and opened
    assert app.sidebar.button[0].label == "退出登录"


def test_a_password_login_whose_file_is_gone_shows_only_the_error(gated_app, monkeypatch, tmp_path):
    monkeypatch.setenv(access.LOGIN_VARIABLE, "password")
    monkeypatch.setenv(access.PASSWORD_FILE_VARIABLE, str(tmp_path / "gone.pw"))
    app, opened, _ = gated_app
    app.run()
    assert "gone.pw" in app.error[0].value and not app.title and not opened


# -- nothing leaves the machine --------------------------------------------------------------------

# Loaded by every Python process of the explorer (PYTHONPATH): logs each connection, datagram and name
# lookup that is not this machine's, through Python's audit hooks.
NETWORK_AUDIT = '''
import ipaddress, os, sys

def _this_machine(host):
    host = host.decode() if isinstance(host, bytes) else host
    if host is None or host.lower() in ("", "localhost"):
        return True
    try:
        address = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified

def _audit(event, args):
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg") and isinstance(args[1], tuple):
        host = args[1][0]
    elif event == "socket.getaddrinfo":
        host = args[0]
    else:
        return
    if not _this_machine(host):
        with open(os.environ["TOUSU_NETWORK_LOG"], "a", encoding="utf-8") as log:
            log.write(f"{os.getpid()} {event} {host!r}\\n")

sys.addaudithook(_audit)
'''


def own_network_namespace() -> list[str] | None:
    """The command prefix that runs a command in a network namespace of its own with loopback up, or None."""
    if not (shutil.which("unshare") and shutil.which("ip")):
        return None
    # Unprivileged: a user namespace makes us root in it. As root (a CI container), -n alone may be allowed.
    for prefix in (["unshare", "-rn"], ["unshare", "-n"]):
        if subprocess.run([*prefix, "ip", "link", "set", "lo", "up"], capture_output=True).returncode == 0:
            return prefix
    return None


def strace_addresses(trace: Path) -> list[str]:
    """The IPv4 and IPv6 addresses in the traced connect/sendto/sendmsg calls that are not this machine's."""
    found = re.findall(r'inet_addr\("([^"]+)"\)|inet_pton\(AF_INET6, "([^"]+)"', trace.read_text(errors="replace"))
    return [address for pair in found for address in pair if address and not access.is_loopback(address)
            and address not in ("0.0.0.0", "::")]


@pytest.mark.slow
@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0"])
def test_the_explorer_tries_no_address_beyond_this_machine(store, password_file, tmp_path, host):
    namespace = own_network_namespace()
    if namespace is None:
        pytest.skip("needs a network namespace of its own: unshare and ip (util-linux, iproute2), and user "
                    "namespaces or CAP_SYS_ADMIN")
    (tmp_path / "audit").mkdir()
    (tmp_path / "audit" / "sitecustomize.py").write_text(NETWORK_AUDIT, encoding="utf-8")
    network_log, trace = tmp_path / "network.log", tmp_path / "strace.log"
    port = "8501"  # the namespace's own loopback: nothing else listens there
    explore = [sys.executable, "-m", "tousu.cli", "explore", "--store", str(store), "--port", port, "--no-browser",
               "--host", host, "--password-file", str(password_file)]
    if shutil.which("strace"):  # also what code outside Python (DuckDB, torch) might try
        explore = ["strace", "-f", "-qq", "--seccomp-bpf", "-e", "trace=connect,sendto,sendmsg", "-o", str(trace), *explore]
    python_path = [str(tmp_path / "audit"), *filter(None, [os.environ.get("PYTHONPATH")])]
    environment = os.environ | {"PYTHONPATH": os.pathsep.join(python_path), "TOUSU_NETWORK_LOG": str(network_log)}
    served = subprocess.run([*namespace, "sh", "-c", 'ip link set lo up && exec "$@"', "sh", sys.executable,
                             str(SESSION_SCRIPT), port, PASSWORD, "--", *explore],
                            capture_output=True, text=True, timeout=120, env=environment)
    assert served.returncode == 0, served.stderr[-3000:]
    shown = json.loads(served.stdout.strip().splitlines()[-1])
    assert shown == {"before": ["tousu 投诉分析"], "after": ["筛选", "总览"]}  # the form, then the overview
    assert not network_log.exists(), network_log.read_text()
    if trace.exists():
        assert not strace_addresses(trace), strace_addresses(trace)
