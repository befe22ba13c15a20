"""The status page in a real headless Chromium (Debian's chromium + chromedriver, nothing downloaded)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import Db
from .http_client import HttpService, csv_bytes

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
TOKEN = "page-token-for-the-browser-test-42"
pytestmark = pytest.mark.skipif(not (Path(CHROMIUM).exists() and Path(DRIVER).exists()),
                                reason="Debian chromium and chromium-driver are not installed (.ci/run installs them)")


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as DriverService

    profile = tempfile.mkdtemp(prefix="chromium-", dir=tmp_path)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                 f"--user-data-dir={profile}", "--window-size=1280,1100"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=DriverService(executable_path=DRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_the_page_shows_a_loaded_file_and_a_failure_with_its_reason(sqlite_db: Db, tmp_path: Path,
                                                                    browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    env = {"LOADER_SERVICE__HTTP_TOKEN": TOKEN, "LOADER_LOAD__SAMPLE_ROWS": "2"}
    with HttpService(sqlite_db, tmp_path / "drop", env=env) as svc:
        good = svc.upload("customers.csv", csv_bytes(250), token=TOKEN).json()["id"]
        bad = svc.upload("orders.csv", b"id,qty\n1,2\n2,3\n3,three\n", token=TOKEN).json()["id"]
        assert svc.poll(good, token=TOKEN)["status"] == "loaded"
        assert svc.poll(bad, token=TOKEN)["status"] == "failed"

        browser.get(f"http://127.0.0.1:{svc.port}/")
        browser.find_element(By.ID, "token").send_keys(TOKEN)  # the sign-in form: no token, no data
        browser.find_element(By.ID, "signin").click()
        wait = WebDriverWait(browser, 30)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "table.failures tr.load"))
        loaded = browser.find_element(By.CSS_SELECTOR, "table.recent tr.load[data-status='loaded']").text
        failure = browser.find_element(By.CSS_SELECTOR, "table.failures tr.load").text
        bars = browser.find_elements(By.CSS_SELECTOR, "#chart svg rect")
        browser.save_screenshot(str(tmp_path / "status-page.png"))
        print(f"screenshot: {tmp_path / 'status-page.png'}")
    assert "customers.csv" in loaded and "250" in loaded and "loaded" in loaded
    assert "orders.csv" in failure and "line 4" in failure and "qty" in failure and "three" in failure
    assert len(bars) >= 1, "the throughput chart drew the minute of the load"
    assert (tmp_path / "status-page.png").stat().st_size > 10_000
