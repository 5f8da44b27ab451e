"""The explorer in a real browser: headless Chromium (Debian's) driven by Playwright.

Builds a small demo store with ``tousu demo --no-explore``, serves it with ``tousu explore``,
opens every page, checks what an analyst sees and saves a screenshot of each page to
``out/screenshots/`` (or ``$TOUSU_SCREENSHOT_DIR``).  Skipped, with the reason, where
Chromium or Playwright is not installed (``.ci/run`` installs both).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from explorer.screenshots import CHROMIUM, PAGES, chromium, screenshot_page, serving
from nlp.paths import PROJECT_ROOT

EXPECTED = {  # url path → text that must be visible once the page has rendered
    "": ["总览", "投诉量", "投诉排列图"],
    "drivers": ["满意度驱动", "重点改进区"],
    "topics": ["主题"],
    "verbatims": ["工单"],
    "model": ["模型"],
    "upload": ["上传"],
}
PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Chromium: apt install chromium")


@pytest.fixture(scope="module")
def explorer_url(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    built = subprocess.run([sys.executable, "-m", "tousu.cli", "demo", "--out", str(out), "--complaints", "400",
                            "--no-explore"], capture_output=True, text=True, timeout=900)
    assert built.returncode == 0, built.stderr
    with serving(out / "tousu.duckdb") as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    pytest.importorskip("playwright.sync_api", reason="needs Playwright: pip install -e '.[test]'")
    with chromium() as launched:
        yield launched


def test_every_page_is_checked():
    assert set(EXPECTED) == set(PAGES)


@pytest.mark.parametrize("path", list(EXPECTED))
def test_every_page_renders_in_chromium_without_errors_or_phone_numbers(explorer_url, browser, path):
    screenshots = Path(os.environ.get("TOUSU_SCREENSHOT_DIR", PROJECT_ROOT / "out" / "screenshots"))
    shot = screenshot_page(browser, explorer_url, path, screenshots)
    assert shot.png.is_file()
    assert shot.exceptions == 0, f"/{path} shows an exception"
    for expected in EXPECTED[path]:
        assert expected in shot.text, f"{expected!r} not shown on /{path}"
    assert not PHONE.search(shot.text), "an unmasked phone number is visible"
