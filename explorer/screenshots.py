"""Screenshots of the explorer's pages in headless Chromium, for a meeting or the docs.

    python -m tousu.explorer.screenshots [--store out/demo/tousu.duckdb] [--out out/screenshots]

Serves the explorer on a free port, opens every page in Debian's Chromium through Playwright,
waits until Streamlit has finished rendering (its skeleton shows first), makes the window as
tall as the page's content (Streamlit scrolls inside its main area, which a browser's own
"full page" screenshot does not see) and saves one PNG per page. Needs Playwright
(``pip install -e '.[test]'``) and Chromium with a CJK font (``apt install chromium
fonts-noto-cjk``). The browser test drives the explorer the same way.
"""
from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tousu.explorer.launch import DEFAULT_STORE

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# url path → file name of its screenshot
PAGES = {"": "overview", "drivers": "drivers", "change": "change", "topics": "topics", "verbatims": "verbatims",
         "model": "model", "upload": "upload"}
# Chromium on a closed network: no background requests, which would be refused many at a time.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1400, "height": 1000}
# Chromium cannot capture much taller than this in one piece.
MAX_HEIGHT = 16000
MAIN = '[data-testid="stMain"]'  # the page's content, without the sidebar
SIDEBAR = '[data-testid="stSidebarContent"]'


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serving(store: str | Path, port: int | None = None, timeout_s: float = 90) -> Iterator[str]:
    """``tousu explore`` on ``store`` in a child process; yields its URL once it answers."""
    port = port or _free_port()
    server = subprocess.Popen([sys.executable, "-m", "tousu.cli", "explore", "--store", str(store),
                               "--port", str(port), "--no-browser"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                    break
            except OSError:
                if server.poll() is not None:
                    raise RuntimeError(f"the explorer stopped at start (exit code {server.returncode}); "
                                       f"run `tousu explore --store {store}` to see why") from None
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the explorer did not answer within {timeout_s:.0f} s") from None
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)


@contextmanager
def chromium(executable: str = CHROMIUM) -> Iterator:
    """A headless Chromium browser driven by Playwright."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise ImportError("screenshots need Playwright: pip install -e '.[test]'") from None
    if not Path(executable).exists():
        raise FileNotFoundError(f"{executable}: no Chromium here; apt install chromium fonts-noto-cjk")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def wait_rendered(page, timeout_s: float = 60) -> None:
    """Wait until Streamlit has finished: its skeleton gone, no script running, a title shown."""
    page.wait_for_selector(MAIN, timeout=timeout_s * 1000)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        busy = page.locator('[data-testid="stSkeleton"], [data-testid="stStatusWidget"] button').count()
        if not busy and page.locator('[data-testid="stMainBlockContainer"] h1').count():
            break
        time.sleep(0.5)
    time.sleep(1.5)  # charts draw after the script finishes


def main_height(page) -> int:
    """The height of the page's own content: Streamlit scrolls inside its main area, so the
    document itself is never taller than the window and a "full page" shot would cut it."""
    return int(page.evaluate(f"() => document.querySelector('{MAIN}').scrollHeight"))


def content_height(page) -> int:
    """The taller of the main area's content and the sidebar's, which scrolls on its own."""
    sidebar = page.evaluate(f"() => document.querySelector('{SIDEBAR}')?.scrollHeight ?? 0")
    return max(main_height(page), int(sidebar))


def fit_viewport_to_content(page, timeout_s: float = 20) -> None:
    """Make the window as tall as the content of the main area and the sidebar, until that
    height stops changing (charts and tables lay out again for the new window)."""
    deadline = time.monotonic() + timeout_s
    height = VIEWPORT["height"]
    while time.monotonic() < deadline:
        wanted = min(max(content_height(page), VIEWPORT["height"]), MAX_HEIGHT)
        if wanted == height:
            return
        height = wanted
        page.set_viewport_size({"width": VIEWPORT["width"], "height": height})
        time.sleep(1.0)


@dataclass
class PageShot:
    path: str
    png: Path
    text: str  # everything visible, sidebar included
    main_text: str  # the page's own content
    content_height: int  # of the main area or the sidebar, the taller, in pixels
    exceptions: int
    errors: list[str]  # st.error messages


def screenshot_page(browser, url: str, path: str, out_dir: Path) -> PageShot:
    """Open one page, wait for it, save ``out_dir/<name>.png`` of its whole content; returns
    what it showed."""
    out_dir.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport=VIEWPORT)
    try:
        page.goto(f"{url}/{path}")
        wait_rendered(page)
        fit_viewport_to_content(page)
        png = out_dir / f"{PAGES.get(path, path)}.png"
        page.screenshot(path=str(png), full_page=True)
        return PageShot(path, png, page.inner_text("body"), page.inner_text(MAIN), content_height(page),
                        page.locator('[data-testid="stException"]').count(),
                        page.locator('[data-testid="stAlertContentError"]').all_inner_texts())
    finally:
        page.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", type=Path, default=DEFAULT_STORE)
    parser.add_argument("--out", type=Path, default=Path("out/screenshots"))
    args = parser.parse_args(argv)
    failed = 0
    with serving(args.store) as url, chromium() as browser:
        for path in PAGES:
            shot = screenshot_page(browser, url, path, args.out)
            broken = shot.exceptions or shot.errors
            failed += bool(broken)
            print(f"{shot.png}{'  (shows an exception or an error)' if broken else ''}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
