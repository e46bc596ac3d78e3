"""The dashboard in a real browser (headless Chromium through Selenium), over
the real edge and services, trusting Knot's CA through an NSS database. One
person's day: sign up and wait, be activated by an admin on the Users screen,
sign in, launch a service from the catalogue and open it, upload a file and
watch its progress, create an API token; an admin impersonates them and
comes back. With KNOT_SCREENSHOTS set to a folder, every screen is saved
there (scripts/screenshots does that into docs/screenshots)."""
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import Select

from conftest import unique
from dashboard_browser import PASSWORD, console_problems, screen, shot, sign_in, start_browser, stop_browser, wait


@pytest.fixture(scope="module")
def browser(knot):
    driver = start_browser(knot)
    yield driver
    stop_browser(driver)


def no_script_errors(browser):
    """Nothing the dashboard ran failed (CSP refusals and uncaught errors land in the console)."""
    problems = console_problems(browser)
    assert problems == [], problems


def click(browser, selector, button_text):
    """Clicks a button inside the element `selector`, looking again while its list redraws."""
    def attempt(b):
        b.find_element(By.CSS_SELECTOR, selector).find_element(By.XPATH, f".//button[text()='{button_text}']").click()
        return True
    wait(browser).until(attempt)



def test_signed_out_visitors_get_the_welcome(knot, browser):
    browser.delete_all_cookies()
    browser.get(f"{knot.url}/")
    wait(browser).until(ready.text_to_be_present_in_element((By.CSS_SELECTOR, "main h1"), "Welcome to Knot"))
    assert browser.find_element(By.LINK_TEXT, "Sign in").get_attribute("href").startswith(f"{knot.url}/auth/login?next=")
    shot(browser, "welcome")


def test_a_day_with_knot(knot, browser, tmp_path):
    name = unique("ui")
    # Sign up in the browser: the account waits for an administrator.
    browser.delete_all_cookies()
    browser.get(f"{knot.url}/auth/signup")
    wait(browser).until(ready.presence_of_element_located((By.ID, "username"))).send_keys(name)
    browser.find_element(By.ID, "email").send_keys(f"{name}@example.org")
    browser.find_element(By.ID, "full_name").send_keys("Ada Dashboard")
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(browser).until(ready.text_to_be_present_in_element((By.TAG_NAME, "main"), "waiting for an administrator"))
    shot(browser, "signup-waiting")

    # The admin finds them among those waiting and activates them.
    sign_in(browser, knot, "admin", knot.admin_password)
    screen(browser, knot, "users", "Users")
    Select(browser.find_element(By.ID, "user-status")).select_by_value("inactive")
    wait(browser).until(lambda b: all("Waiting" in r.text for r in b.find_elements(By.CSS_SELECTOR, "#user-list tbody tr")))
    wait(browser).until(ready.presence_of_element_located((By.CSS_SELECTOR, f"tr[data-username='{name}']")))
    shot(browser, "users")
    click(browser, f"tr[data-username='{name}']", "Activate")
    wait(browser).until(lambda b: b.find_elements(By.XPATH, f"//tr[@data-username='{name}']//button[text()='Deactivate']")
                        or not b.find_elements(By.CSS_SELECTOR, f"tr[data-username='{name}']"))
    no_script_errors(browser)

    # They sign in and launch the file server from the catalogue.
    sign_in(browser, knot, name, PASSWORD)
    wait(browser).until(ready.text_to_be_present_in_element((By.CSS_SELECTOR, "main h1"), "Services"))
    wait(browser).until(ready.text_to_be_present_in_element((By.ID, "services"), "You run no services yet"))
    shot(browser, "services-empty")
    browser.find_element(By.ID, "new-service").click()
    wait(browser).until(ready.element_to_be_clickable((By.CSS_SELECTOR, "a[data-template='file-server']")))
    shot(browser, "new-service")
    browser.find_element(By.CSS_SELECTOR, "a[data-template='file-server']").click()
    field = wait(browser).until(ready.presence_of_element_located((By.ID, "var-NAME")))
    field.clear()
    field.send_keys("Bad Name!")
    browser.find_element(By.ID, "launch").click()
    # The refusal is shown beside the field, in words.
    wait(browser).until(ready.text_to_be_present_in_element((By.ID, "var-NAME-error"), "lowercase"))
    assert browser.find_element(By.ID, "var-NAME").get_attribute("aria-invalid") == "true"
    field.clear()
    field.send_keys("site")
    shot(browser, "launch-form")
    browser.find_element(By.ID, "launch").click()
    link = wait(browser, 40).until(ready.presence_of_element_located((By.ID, "open-new")))
    assert link.get_attribute("href") == f"https://site-{name}.knot.localhost:{knot.url.rsplit(':', 1)[1]}/"
    shot(browser, "launch-ready")

    # The list shows it ready, live.
    screen(browser, knot, "services", "Services")
    # The event stream redraws the list, so the card is looked up afresh each time.
    wait(browser).until(lambda b: "Ready" in b.find_element(By.CSS_SELECTOR, "li[data-name='site'] .pill").text)
    shot(browser, "services")
    wait(browser).until(lambda b: "file-server" in b.find_element(By.CSS_SELECTOR, "li[data-name='site']").text)

    # Upload a file with progress, and see it listed; it is what the service serves.
    screen(browser, knot, "files/private", "Files")
    upload = tmp_path / "hello.html"
    upload.write_bytes(b"<h1>uploaded from the dashboard</h1>" + b" " * (3 * 1024 * 1024))
    browser.find_element(By.ID, "upload-input").send_keys(str(upload))
    wait(browser).until(ready.presence_of_element_located((By.CSS_SELECTOR, ".upload[data-path='hello.html'] progress")))
    wait(browser, 30).until(ready.text_to_be_present_in_element((By.CSS_SELECTOR, ".upload[data-path='hello.html'] .upload-state"), "Uploaded"))
    wait(browser).until(ready.presence_of_element_located((By.CSS_SELECTOR, "tr[data-name='hello.html']")))
    progress = browser.find_element(By.CSS_SELECTOR, ".upload[data-path='hello.html'] progress")
    assert progress.get_attribute("value") == progress.get_attribute("max")
    shot(browser, "files")
    browser.get(f"https://site-{name}.knot.localhost:{knot.url.rsplit(':', 1)[1]}/hello.html")
    wait(browser).until(ready.text_to_be_present_in_element((By.TAG_NAME, "h1"), "uploaded from the dashboard"))

    # An API token, shown once.
    screen(browser, knot, "tokens", "API tokens")
    browser.find_element(By.ID, "token-name").send_keys("laptop")
    browser.find_element(By.CSS_SELECTOR, "#token-form button[type=submit]").click()
    token = wait(browser).until(ready.presence_of_element_located((By.ID, "token-value"))).text
    assert token.startswith("knot_pat_")
    wait(browser).until(ready.presence_of_element_located((By.CSS_SELECTOR, "tr[data-name='laptop']")))
    shot(browser, "tokens")
    answer = knot.client().get(f"{knot.url}/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200 and answer.json()["username"] == name
    for page, heading in (("templates", "Templates"), ("messages", "Messages"), ("teams", "Teams"), ("audit", "Audit log")):
        screen(browser, knot, page, heading)
        wait(browser).until(lambda b: not b.find_elements(By.CSS_SELECTOR, "main .state.loading"))
        assert not browser.find_elements(By.CSS_SELECTOR, "main .state.error"), page
        shot(browser, page)
    no_script_errors(browser)

    # The admin impersonates them: a banner says so, and one click goes back.
    sign_in(browser, knot, "admin", knot.admin_password)
    screen(browser, knot, "users", "Users")
    browser.find_element(By.ID, "user-q").send_keys(name)
    wait(browser).until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#user-list tbody tr")) == 1)
    click(browser, f"tr[data-username='{name}']", "Impersonate")
    wait(browser).until(ready.visibility_of_element_located((By.ID, "banner")))
    wait(browser).until(ready.text_to_be_present_in_element((By.ID, "banner"), f"acting as {name}"))
    assert name in browser.find_element(By.ID, "who-name").text
    shot(browser, "impersonating")
    browser.find_element(By.ID, "act-back").click()
    wait(browser).until(ready.text_to_be_present_in_element((By.ID, "who-name"), "admin"))
    assert not browser.find_element(By.ID, "banner").is_displayed()
    no_script_errors(browser)


def test_the_dashboard_works_at_phone_width(knot, browser, make_user):
    name, _ = make_user("phone")
    browser.set_window_size(390, 844)
    try:
        sign_in(browser, knot, name, PASSWORD)
        wait(browser).until(ready.text_to_be_present_in_element((By.CSS_SELECTOR, "main h1"), "Services"))
        width = browser.execute_script("return document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways at phone width ({width}px)"
        shot(browser, "phone-services")
    finally:
        browser.set_window_size(1280, 860)
