"""The issue's "Done when", in a real browser: headless Chromium (Debian's `chromium` and
`chromium-driver`, driven by Selenium; no driver or browser downloads) against the app
served by a real HTTP server on 127.0.0.1.

A records officer signs in with a token, finds a deleted post by a Persian phrase typed
without the zero-width non-joiner, opens it and sees its versions and its deletion; a
legal user places a hold, starts the export from it, watches it finish and downloads
it. Screenshots of the main pages are saved (the path is printed) to be looked at.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait
from werkzeug.serving import make_server

from archiver.wiring import Archive
from tests.fixtures.backends import backend_env_for
from tests.web.conftest import PERSIAN_ITEM, PERSIAN_QUERY

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1280,1100", "--lang=en-GB")
SCREENSHOTS = Path(os.environ.get("ARCHIVER_SCREENSHOTS",
                                  Path(__file__).resolve().parents[2] / "var" / "screenshots"))


@pytest.fixture(params=[("filesystem", "sqlite")], ids=["filesystem-sqlite"])
def backend_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """One backend pair: the browser tests the pages, the other suites the backends."""
    return backend_env_for(request, tmp_path)


@pytest.fixture
def server(app: Flask, indexed: Archive) -> Iterator[str]:
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[tuple[WebDriver, Path]]:
    for path in (CHROMIUM, CHROMEDRIVER):
        assert shutil.which(path), f"{path} is missing: run `make test-deps`"
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.execute_cdp_cmd("Page.setDownloadBehavior",
                           {"behavior": "allow", "downloadPath": str(downloads)})
    try:
        yield driver, downloads
    finally:
        driver.quit()


def _shot(driver: WebDriver, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, min(max(int(height) + 120, 700), 4000))
    driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))
    driver.set_window_size(1280, 1100)


def _sign_in(driver: WebDriver, base: str, token: str) -> None:
    driver.delete_all_cookies()
    driver.get(base + "/")
    assert "/signin" in driver.current_url
    driver.find_element(By.ID, "token").send_keys(token + Keys.ENTER)
    WebDriverWait(driver, 10).until(lambda d: "/signin" not in d.current_url)


def _wait_for(driver: WebDriver, by: str, what: str, seconds: float = 20) -> object:
    return WebDriverWait(driver, seconds).until(ec.presence_of_element_located((by, what)))


def test_done_when_a_records_officer_and_a_legal_user_in_the_browser(
        server: str, browser: tuple[WebDriver, Path], tokens: dict[str, str]) -> None:
    driver, downloads = browser
    print(f"\nscreenshots: {SCREENSHOTS}")

    # A records officer finds the deleted post by a Persian phrase typed without ZWNJ.
    _sign_in(driver, server, tokens["records_officer"])
    assert driver.current_url.endswith("/search")
    box = driver.find_element(By.ID, "q")
    box.send_keys(PERSIAN_QUERY + Keys.ENTER)
    link = _wait_for(driver, By.CSS_SELECTOR, f'a[href="/items/x/{PERSIAN_ITEM}"]')
    hit = driver.find_element(By.CSS_SELECTOR, "[data-hit]")
    assert "deleted" in hit.text
    snippet = hit.find_element(By.CSS_SELECTOR, ".snippet")
    assert snippet.get_attribute("dir") == "auto"
    assert driver.execute_script("return getComputedStyle(arguments[0]).direction",
                                 snippet) == "rtl"
    _shot(driver, "search-persian")
    driver.find_element(By.ID, "q").clear()
    driver.find_element(By.ID, "q").send_keys("flood" + Keys.ENTER)
    _wait_for(driver, By.CSS_SELECTOR, "[data-hit]")
    _shot(driver, "search")
    driver.back()
    _wait_for(driver, By.CSS_SELECTOR, f'a[href="/items/x/{PERSIAN_ITEM}"]')
    # Keyboard: j selects the first result, Enter opens it.
    driver.find_element(By.TAG_NAME, "body").send_keys("j")
    driver.switch_to.active_element.send_keys(Keys.ENTER)
    _wait_for(driver, By.CSS_SELECTOR, ".mark.deleted")
    assert f"/items/x/{PERSIAN_ITEM}" in driver.current_url
    assert link is not None
    page = driver.find_element(By.TAG_NAME, "main").text
    assert "Deleted at the source" in page and "2 versions" in page
    assert driver.find_element(By.CSS_SELECTOR, ".pair del").text == "شنبه"
    assert driver.find_element(By.CSS_SELECTOR, ".pair ins").text == "یکشنبه"
    _shot(driver, "item-persian-deleted")
    driver.get(server + "/items/mastodon/112060198503477832")
    _wait_for(driver, By.CSS_SELECTOR, ".records table, .records")
    _shot(driver, "item-mastodon")

    # A legal user places a hold, exports it and downloads the package.
    _sign_in(driver, server, tokens["legal"])
    driver.get(server + "/holds")
    form = driver.find_element(By.CSS_SELECTOR, "#place form")
    form.find_element(By.NAME, "matter_name").send_keys("Maktaba v. Jiji")
    form.find_element(By.NAME, "matter_number").send_keys("2026-CV-0042")
    form.find_element(By.NAME, "platforms").send_keys("x")
    form.find_element(By.NAME, "query").send_keys(PERSIAN_QUERY)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    _wait_for(driver, By.CSS_SELECTOR, ".notice")
    assert "Maktaba v. Jiji" in driver.find_element(By.TAG_NAME, "table").text
    _shot(driver, "holds")
    driver.find_element(By.LINK_TEXT, "Export").click()
    _wait_for(driver, By.NAME, "hold")
    driver.find_element(By.CSS_SELECTOR, "form.card button[type=submit]").click()
    download = WebDriverWait(driver, 120, ignored_exceptions=(
        StaleElementReferenceException,)).until(  # the page reloads itself when done
        ec.visibility_of_element_located((By.ID, "download")))
    assert driver.find_element(By.CSS_SELECTOR, '[data-field="state"]').text == "done"
    _shot(driver, "export-done")
    download.click()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done = [p for p in downloads.glob("*.zip")]
        if done and not list(downloads.glob("*.crdownload")):
            break
        time.sleep(0.2)
    (package,) = downloads.glob("*.zip")
    names = zipfile.ZipFile(package).namelist()
    assert any(n.endswith("bagit.txt") for n in names)
    driver.get(server + "/exports")
    _shot(driver, "exports")


def test_screenshots_of_the_other_main_pages(server: str, browser: tuple[WebDriver, Path],
                                             tokens: dict[str, str]) -> None:
    driver, _ = browser
    _sign_in(driver, server, tokens["admin"])
    for name, path in (("accounts", "/accounts"), ("retention", "/retention"),
                       ("disposition", "/disposition")):
        driver.get(server + path)
        _wait_for(driver, By.TAG_NAME, "table")
        _shot(driver, name)
    _sign_in(driver, server, tokens["auditor"])
    driver.get(server + "/integrity")
    driver.find_element(By.CSS_SELECTOR, "form[action='/integrity/verify'] button").click()
    # The page reloads itself while the verification runs: elements go stale meanwhile.
    WebDriverWait(driver, 60, ignored_exceptions=(StaleElementReferenceException,
                                                  NoSuchElementException)).until(
        lambda d: "intact" in d.find_element(By.ID, "verify-runs").text)
    _shot(driver, "integrity")
    driver.get(server + "/search")
    assert "403" in driver.title or "Not allowed" in driver.page_source
    driver.get(server + "/signin")
    _shot(driver, "signin")
