"""The slice in a real browser: headless Chromium driven by Selenium, with
Knot's local CA trusted through an NSS database (no certificate errors are
ignored). A person opens their service's address, is sent to sign in, and
lands back on the service; the dashboard lists the service."""
import os
import shutil
import subprocess
import tempfile
import time

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait


@pytest.fixture(scope="module")
def browser(knot):
    home = tempfile.mkdtemp(prefix="knot-browser-")
    nssdb = os.path.join(home, ".pki", "nssdb")
    os.makedirs(nssdb)
    subprocess.run(["certutil", "-d", f"sql:{nssdb}", "-N", "--empty-password"], check=True)
    subprocess.run(["certutil", "-d", f"sql:{nssdb}", "-A", "-t", "C,,", "-n", "knot-local-ca", "-i", knot.ca], check=True)
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1100,760",
                     f"--user-data-dir={home}/profile"):
        options.add_argument(argument)
    options.binary_location = shutil.which("chromium")
    service = Service(shutil.which("chromedriver"), env=dict(os.environ, HOME=home))
    driver = webdriver.Chrome(service=service, options=options)
    yield driver
    driver.quit()
    shutil.rmtree(home, ignore_errors=True)


def test_sign_in_returns_to_the_service_and_the_dashboard_lists_it(knot, browser, make_user):
    name, session = make_user("web")
    assert session.put(f"{knot.url}/api/v1/files/private/index.html", data=b"<h1>hello from my folder</h1>").status_code == 201
    assert session.post(f"{knot.url}/api/v1/launcher/services",
                        json={"template": "file-server", "values": {"NAME": "site"}}).status_code == 202
    record = knot.wait_for_service(session, "site")
    assert record["status"] in ("running", "ready")

    browser.get(record["url"])
    WebDriverWait(browser, 10).until(ready.presence_of_element_located((By.ID, "username")))
    assert browser.current_url.startswith(f"{knot.url}/auth/login?next=")
    browser.find_element(By.ID, "username").send_keys(name)
    browser.find_element(By.ID, "password").send_keys("a long enough password")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(browser, 10).until(lambda b: b.current_url == record["url"])
    assert browser.find_element(By.TAG_NAME, "h1").text == "hello from my folder"

    browser.get(f"{knot.url}/")
    WebDriverWait(browser, 10).until(ready.visibility_of_element_located((By.ID, "services")))
    WebDriverWait(browser, 10).until(lambda b: "site" in b.find_element(By.ID, "services").text)
    assert name in browser.find_element(By.ID, "who").text
    WebDriverWait(browser, 10).until(lambda b: "Ready" in b.find_element(By.ID, "services").text)


def test_a_stranger_in_the_browser_sees_the_refusal_page(knot, browser, make_user):
    owner, owner_session = make_user("own")
    assert owner_session.post(f"{knot.url}/api/v1/launcher/services",
                              json={"template": "file-server", "values": {"NAME": "mine"}}).status_code == 202
    record = knot.wait_for_service(owner_session, "mine")
    browser.delete_all_cookies()
    other, _ = make_user("oth")
    browser.get(f"{knot.url}/auth/login")
    browser.find_element(By.ID, "username").send_keys(other)
    browser.find_element(By.ID, "password").send_keys("a long enough password")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(browser, 10).until(lambda b: b.current_url == f"{knot.url}/")
    browser.get(record["url"])
    WebDriverWait(browser, 10).until(ready.presence_of_element_located((By.TAG_NAME, "h1")))
    assert browser.find_element(By.TAG_NAME, "h1").text == "Not yours"
