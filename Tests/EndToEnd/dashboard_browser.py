"""Headless Chromium for every browser test of the dashboard: Debian's chromium
and chromedriver (never a downloaded driver), Knot's CA trusted through an NSS
database, and the few steps every test repeats (sign in, open a screen, save a
screenshot when KNOT_SCREENSHOTS names a folder)."""
import os
import shutil
import subprocess
import tempfile

from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait

PASSWORD = "a long enough password"
SHOTS = os.environ.get("KNOT_SCREENSHOTS")


def start_browser(knot):
    home = tempfile.mkdtemp(prefix="knot-dashboard-")
    nssdb = os.path.join(home, ".pki", "nssdb")
    os.makedirs(nssdb)
    subprocess.run(["certutil", "-d", f"sql:{nssdb}", "-N", "--empty-password"], check=True)
    subprocess.run(["certutil", "-d", f"sql:{nssdb}", "-A", "-t", "C,,", "-n", "knot-local-ca", "-i", knot.ca], check=True)
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,860",
                     f"--user-data-dir={home}/profile"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    options.binary_location = shutil.which("chromium")
    service = Service(shutil.which("chromedriver"), env=dict(os.environ, HOME=home))
    driver = webdriver.Chrome(service=service, options=options)
    driver.knot_home = home
    return driver


def stop_browser(driver):
    driver.quit()
    shutil.rmtree(driver.knot_home, ignore_errors=True)


def wait(browser, seconds=15):
    return WebDriverWait(browser, seconds, ignored_exceptions=[StaleElementReferenceException, NoSuchElementException])


def shot(browser, name):
    if SHOTS:
        os.makedirs(SHOTS, exist_ok=True)
        browser.save_screenshot(os.path.join(SHOTS, f"{name}.png"))


def console_problems(browser):
    """What the page logged as SEVERE (CSP refusals, uncaught errors), besides failed loads."""
    return [entry for entry in browser.get_log("browser")
            if entry["level"] == "SEVERE" and "favicon" not in entry["message"]
            and "Failed to load resource" not in entry["message"]]


def sign_in(browser, knot, username, password):
    browser.delete_all_cookies()
    browser.get(f"{knot.url}/auth/login?next=/")
    wait(browser).until(ready.presence_of_element_located((By.ID, "username"))).send_keys(username)
    browser.find_element(By.ID, "password").send_keys(password)
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(browser).until(ready.text_to_be_present_in_element((By.ID, "who-name"), username))


def screen(browser, knot, hash_, heading):
    browser.get(f"{knot.url}/#/{hash_}")
    wait(browser).until(ready.text_to_be_present_in_element((By.CSS_SELECTOR, "main h1"), heading))
