"""The explorer in a real browser: headless Chromium (Debian's) driven by Playwright.

Builds a small demo store with ``tousu demo --no-explore``, serves it with ``tousu explore
--password-file``, opens every page, logs in through the form, checks what an analyst sees and
saves a screenshot of each page to ``out/screenshots/`` (or ``$TOUSU_SCREENSHOT_DIR``).  Skipped,
with the reason, where Chromium or Playwright is not installed (``.ci/run`` installs both).
"""
from __future__ import annotations

import os
import re
import socket
import struct
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tousu.explorer.passwords import PasswordHash
from tousu.explorer.screenshots import CHROMIUM, PAGES, chromium, screenshot_page
from tousu.nlp.paths import PACKAGE_ROOT

# url path → text that must be visible in the page's own area once it has rendered (not the
# sidebar, which names every page): its title and what only that page shows.
EXPECTED = {
    "": ["总览", "投诉量", "投诉客户平均CSAT", "24小时响应率", "投诉排列图", "增长预警"],
    "drivers": ["满意度驱动", "模型解释度 R²", "重点改进区", "驱动因素明细", "各类别满意度"],
    "change": ["变化归因", "各细分群体"],
    "topics": ["主题", "主题地图", "主题与类别对应"],
    "verbatims": ["工单", "当前筛选工单数", "导出 CSV", "导出 Excel", "相似工单"],
    "model": ["模型", "主题：重命名与合并", "更正工单类别", "保存为新模型版本"],
    "upload": ["上传分类", "上传投诉表"],
}
PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
PASSWORD = "投诉 explorer 2026"
LOGIN_TITLE = "tousu 投诉分析"

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Chromium: apt install chromium")]


@pytest.fixture(scope="module")
def explorer_url(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    built = subprocess.run([sys.executable, "-m", "tousu.cli", "demo", "--out", str(out), "--complaints", "400",
                            "--no-explore"], capture_output=True, text=True, timeout=900)
    assert built.returncode == 0, built.stderr
    password_file = out / "explorer.pw"
    password_file.write_text(PasswordHash.of(PASSWORD).line() + "\n", encoding="utf-8")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "tousu.cli", "explore", "--store", str(out / "tousu.duckdb"),
                               "--port", str(port), "--no-browser", "--password-file", str(password_file)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
                break
            except OSError:
                assert server.poll() is None, f"the explorer stopped at start (exit code {server.returncode})"
                assert time.monotonic() < deadline, "the explorer did not answer within 90 s"
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)


class LoggingInPage:
    """A Playwright page that logs in through the explorer's form after each ``goto``: every page
    load is a new Streamlit session, and each one starts logged out."""

    def __init__(self, page):
        self._page = page

    def __getattr__(self, name):
        return getattr(self._page, name)

    def goto(self, url: str, **options):
        response = self._page.goto(url, **options)
        login_title = self._page.get_by_role("heading", name=LOGIN_TITLE)
        login_title.wait_for(timeout=60_000)
        self._page.locator('input[type="password"]').fill(PASSWORD)
        self._page.get_by_role("button", name="登录", exact=True).click()
        login_title.wait_for(state="detached", timeout=60_000)
        return response


class LoggingInBrowser:
    def __init__(self, browser):
        self._browser = browser

    def new_page(self, **options):
        return LoggingInPage(self._browser.new_page(**options))


@pytest.fixture(scope="module")
def browser():
    pytest.importorskip("playwright.sync_api", reason="needs Playwright: pip install -e '.[test]'")
    with chromium() as launched:
        yield LoggingInBrowser(launched)


def test_every_page_is_checked():
    assert set(EXPECTED) == set(PAGES)


@pytest.mark.parametrize("path", list(EXPECTED))
def test_every_page_renders_in_chromium_without_errors_or_phone_numbers(explorer_url, browser, path):
    screenshots = Path(os.environ.get("TOUSU_SCREENSHOT_DIR", PACKAGE_ROOT / "out" / "screenshots"))
    shot = screenshot_page(browser, explorer_url, path, screenshots)
    assert shot.png.is_file()
    _, height = struct.unpack(">II", shot.png.read_bytes()[16:24])  # the PNG header's IHDR
    assert height >= shot.content_height, f"/{path}: the screenshot cuts the page at {height} px"
    assert shot.exceptions == 0, f"/{path} shows an exception"
    assert not shot.errors, f"/{path} shows an error: {shot.errors}"
    for expected in EXPECTED[path]:
        assert expected in shot.main_text, f"{expected!r} not shown on /{path}"
    assert not PHONE.search(shot.text), "an unmasked phone number is visible"
