"""The explorer in a real browser: headless Chromium (Debian's) driven by Playwright.

Builds a small demo store with ``tousu demo --no-explore``, serves it with ``tousu explore``,
opens every page, checks what an analyst sees and saves a screenshot of each page to
``out/screenshots/`` (or ``$TOUSU_SCREENSHOT_DIR``).  Skipped, with the reason, where
Chromium or Playwright is not installed (``.ci/run`` installs both).
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from nlp.paths import PROJECT_ROOT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PAGES = {  # url path → text that must be visible once the page has rendered
    "": ["总览", "投诉量", "投诉排列图"],
    "drivers": ["满意度驱动", "重点改进区"],
    "topics": ["主题"],
    "verbatims": ["工单"],
    "model": ["模型"],
    "upload": ["上传"],
}
PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Chromium: apt install chromium")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def explorer_url(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    built = subprocess.run([sys.executable, "-m", "tousu.cli", "demo", "--out", str(out), "--complaints", "400",
                            "--no-explore"], capture_output=True, text=True, timeout=900)
    assert built.returncode == 0, built.stderr
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "tousu.cli", "explore", "--store", str(out / "tousu.duckdb"),
                               "--port", str(port), "--no-browser"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                break
        except OSError:
            time.sleep(0.5)
    else:
        server.terminate()
        pytest.fail("the explorer did not answer within 90 s")
    yield url
    server.terminate()
    server.wait(timeout=20)


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs Playwright: pip install -e '.[test]'")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield chromium
        chromium.close()


def _rendered(page) -> None:
    """Wait until Streamlit has finished: its skeleton gone and no script running."""
    page.wait_for_selector('[data-testid="stMain"]', timeout=60_000)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        busy = page.locator('[data-testid="stSkeleton"], [data-testid="stStatusWidget"] button').count()
        if not busy and page.locator('[data-testid="stMainBlockContainer"] h1').count():
            break
        time.sleep(0.5)
    time.sleep(1.5)  # charts draw after the script finishes


@pytest.mark.parametrize("path", list(PAGES))
def test_every_page_renders_in_chromium_without_errors_or_phone_numbers(explorer_url, browser, path):
    screenshots = Path(os.environ.get("TOUSU_SCREENSHOT_DIR", PROJECT_ROOT / "out" / "screenshots"))
    screenshots.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{explorer_url}/{path}")
    _rendered(page)
    text = page.inner_text("body")
    errors = page.locator('[data-testid="stException"]').count()
    page.screenshot(path=str(screenshots / f"{path or 'overview'}.png"), full_page=True)
    page.close()
    assert errors == 0, f"/{path} shows an exception"
    for expected in PAGES[path]:
        assert expected in text, f"{expected!r} not shown on /{path}"
    assert not PHONE.search(text), "an unmasked phone number is visible"
