"""``tousu explore``: serve the Streamlit explorer (``app.py``) on a results store."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tousu.nlp.paths import PACKAGE_ROOT

APP = PACKAGE_ROOT / "app.py"
DEFAULT_STORE = Path("out/demo/tousu.duckdb")
DEFAULT_PORT = 8501
STORE_VARIABLE = "TOUSU_STORE"


def store_path() -> Path:
    """The store the explorer shows: ``$TOUSU_STORE``, else the demo's."""
    return Path(os.environ.get(STORE_VARIABLE, DEFAULT_STORE))


def run_explorer(store: str | Path | None = None, port: int = DEFAULT_PORT, open_browser: bool = True) -> int:
    """Run ``streamlit run app.py`` until it stops (Ctrl-C); returns its exit code."""
    from tousu.store import ResultsStore

    store = Path(store) if store is not None else DEFAULT_STORE
    if not store.is_file():
        raise FileNotFoundError(
            f"{store}: no results store here; `tousu demo` builds the demo's, and "
            f"`tousu classify MODEL_DIR INPUT -o OUTPUT --store {store}` builds one from your data")
    # A file that is not a store fails here, with its name; an older store is upgraded.
    ResultsStore(store, hold=False)
    # No file watcher: this serves analysts, not app development, and watching a checkout
    # with its virtual environment exhausts inotify.
    command = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(port),
               "--server.headless", "false" if open_browser else "true", "--browser.gatherUsageStats", "false",
               "--server.fileWatcherType", "none", "--client.toolbarMode", "viewer"]
    environment = os.environ | {STORE_VARIABLE: str(store.resolve())}
    print(f"explorer: http://localhost:{port}  (store {store}; Ctrl-C stops it)")
    process = subprocess.Popen(command, env=environment, cwd=PACKAGE_ROOT)
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
