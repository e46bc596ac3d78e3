"""The dashboard's theme from the admin domain's theme/ folder (docs/theme.md):
an admin uploads theme.json and a logo through the files API, and a person's
dashboard in headless Chromium shows the colours (computed styles), the logo,
the title and the extra menu entries; a malicious theme (CSS and script in
colours, javascript: addresses, an SVG with script, a logo that is not what it
says) is neutralised and explained to admins; removing the folder restores
the default. The theme is global, so every test leaves it removed."""
import json

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready

from dashboard_browser import console_problems, screen, shot, sign_in, start_browser, stop_browser, wait, PASSWORD

LOGO = b"""<svg xmlns="http://www.w3.org/2000/svg" width="120" height="32" viewBox="0 0 120 32">
<rect width="120" height="32" rx="6" fill="#0b6e4f"/><text x="10" y="22" fill="#fff" font-size="16">Lab</text></svg>"""

EVIL_SVG = b"""<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40" onload="window.top.pwned = 1">
<script>window.top.pwned = 2; fetch('/api/v1/users/me')</script><rect width="40" height="40" fill="#c00"/></svg>"""

THEME = {
    "title": "Data Lab",
    "colours": {"primary": "#0B6E4F", "background": "#fdf6e3", "surface": "#fffdf7", "text": "#222", "accent": "#d8efe6"},
    "menu": [
        {"title": "Documentation", "url": "https://docs.example.org/knot"},
        {"title": "Status", "url": "/status"},
    ],
    "logo": "logo.svg",
}


@pytest.fixture(scope="module")
def browser(knot):
    driver = start_browser(knot)
    yield driver
    stop_browser(driver)


def url(knot, path):
    return f"{knot.url}/api/v1/files/{path}"


def put(knot, admin, name, data):
    answer = admin.put(url(knot, f"admin/theme/{name}"), data=data, params={"overwrite": "true"})
    assert answer.status_code == 201, answer.text


def remove_theme(knot, admin):
    answer = admin.delete(url(knot, "admin/theme"), params={"recursive": "true"})
    assert answer.status_code in (200, 404), answer.text


@pytest.fixture
def clean(knot, admin):
    remove_theme(knot, admin)
    yield
    remove_theme(knot, admin)


def theme(session, knot):
    answer = session.get(url(knot, "theme"))
    assert answer.status_code == 200, answer.text
    return answer.json()


def rgb(hex_):
    hex_ = hex_.lstrip("#")
    if len(hex_) == 3:
        hex_ = "".join(c * 2 for c in hex_)
    return f"rgb({int(hex_[0:2], 16)}, {int(hex_[2:4], 16)}, {int(hex_[4:6], 16)})"


def style(browser, selector, property_):
    return browser.execute_script(
        "return getComputedStyle(document.querySelector(arguments[0])).getPropertyValue(arguments[1])", selector, property_)


def test_without_a_theme_folder_the_default_is_served(knot, admin, make_user, clean):
    _, person = make_user("plain")
    answer = theme(person, knot)
    assert answer == {"title": "Knot", "colours": {}, "menu": [], "source": "default"}
    assert theme(admin, knot)["warnings"] == []
    assert person.get(url(knot, "theme/logo")).status_code == 404
    # Only signed-in people: the edge admits no anonymous API call.
    assert knot.client().get(url(knot, "theme")).status_code == 401


def test_only_admins_can_write_the_theme(knot, make_user, clean):
    _, person = make_user("nothemer")
    answer = person.put(url(knot, "admin/theme/theme.json"), data=json.dumps(THEME))
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "forbidden"


def test_an_admins_theme_shows_on_everyones_dashboard(knot, admin, browser, make_user, clean):
    put(knot, admin, "theme.json", json.dumps(THEME))
    put(knot, admin, "logo.svg", LOGO)
    name, person = make_user("themed")

    answer = theme(person, knot)
    assert answer["title"] == "Data Lab" and answer["source"] == "admin"
    # Normalised to lowercase #rrggbb.
    assert answer["colours"] == {"primary": "#0b6e4f", "background": "#fdf6e3", "surface": "#fffdf7", "text": "#222222",
                                 "accent": "#d8efe6"}
    assert answer["menu"] == THEME["menu"]
    assert "warnings" not in answer  # only admins hear about problems
    logo = person.get(f"{knot.url}{answer['logo']}")
    assert logo.status_code == 200 and logo.content == LOGO
    assert logo.headers["Content-Type"] == "image/svg+xml"
    assert "sandbox" in logo.headers["Content-Security-Policy"] and logo.headers["X-Content-Type-Options"] == "nosniff"
    again = person.get(f"{knot.url}{answer['logo']}", headers={"If-None-Match": logo.headers["ETag"]})
    assert again.status_code == 304 and again.content == b""

    sign_in(browser, knot, name, PASSWORD)
    wait(browser).until(ready.text_to_be_present_in_element((By.ID, "brand-title"), "Data Lab"))
    wait(browser).until(lambda b: style(b, "body", "background-color") == rgb("#fdf6e3"))
    assert style(browser, "body", "color") == rgb("#222222")
    assert style(browser, "header.top", "background-color") == rgb("#fffdf7")
    assert style(browser, "#brand", "color") == rgb("#0b6e4f")
    assert style(browser, "#menu a[aria-current=page]", "background-color") == rgb("#d8efe6")
    image = wait(browser).until(ready.presence_of_element_located((By.ID, "brand-logo")))
    wait(browser).until(lambda b: b.execute_script("return arguments[0].complete && arguments[0].naturalWidth", image) == 120)
    assert image.get_attribute("alt") == ""
    links = browser.find_elements(By.CSS_SELECTOR, "#menu li.theme-link a")
    assert [link.text.split("\n")[0].strip() for link in links] == ["Documentation", "Status"]
    assert links[0].get_attribute("href") == "https://docs.example.org/knot"
    assert links[1].get_attribute("href") == f"{knot.url}/status"
    for link in links:
        assert link.get_attribute("target") == "_blank"
        assert "noopener" in link.get_attribute("rel").split()
        # Screen readers hear that it leaves the dashboard.
        assert "opens in a new tab" in link.get_attribute("textContent")
    wait(browser).until(lambda b: b.title.endswith("· Data Lab"))
    assert not browser.find_elements(By.ID, "theme-warnings")  # not an admin
    assert console_problems(browser) == []
    shot(browser, "themed")

    # Phone width: the logo and the extra entries still fit.
    browser.set_window_size(390, 844)
    try:
        screen(browser, knot, "files", "Files")
        assert browser.execute_script("return document.documentElement.scrollWidth") <= 390
        shot(browser, "themed-phone")
    finally:
        browser.set_window_size(1280, 860)

    # Removing the folder restores the default, at the next load.
    remove_theme(knot, admin)
    assert theme(person, knot)["source"] == "default"
    browser.refresh()
    wait(browser).until(ready.text_to_be_present_in_element((By.CSS_SELECTOR, "main h1"), "Files"))
    wait(browser).until(lambda b: style(b, "body", "background-color") == rgb("#f3f5f8"))
    assert browser.find_element(By.ID, "brand").text == "Knot"
    assert not browser.find_elements(By.ID, "brand-logo")
    assert not browser.find_elements(By.CSS_SELECTOR, "#menu li.theme-link")


def test_a_malicious_theme_is_neutralised(knot, admin, browser, make_user, clean):
    evil = {
        "title": "Evil</title><script>alert(1)</script>",
        "colours": {
            "primary": "red; } body { display: none",
            "background": "#fff;background:url(https://evil.example/x)",
            "text": "expression(alert(1))",
            "surface": "#12345g",
            "shadow": "#000",
        },
        "menu": [
            {"title": "Click me", "url": "javascript:alert(document.cookie)"},
            {"title": "Data", "url": "data:text/html,<script>alert(1)</script>"},
            {"title": "Elsewhere", "url": "//evil.example/phish"},
            {"title": "Spaced", "url": " java\tscript:alert(1)"},
            {"title": "Good", "url": "https://example.org/help"},
        ],
        "logo": "logo.svg",
        "css": "body { display: none }",
    }
    put(knot, admin, "theme.json", json.dumps(evil))
    put(knot, admin, "logo.svg", EVIL_SVG)
    answer = theme(admin, knot)
    assert answer["colours"] == {}
    assert answer["menu"] == [{"title": "Good", "url": "https://example.org/help"}]
    # The title is text: the dashboard sets it with textContent, so the markup shows as characters.
    assert answer["title"] == evil["title"]
    warnings = " ".join(answer["warnings"])
    for expected in ("css", "shadow", "colours.primary", "colours.background", "colours.text", "colours.surface",
                     "menu entry 1", "menu entry 2", "menu entry 3", "menu entry 4"):
        assert expected in warnings, expected
    # The SVG is served, but only as an image: sandboxed, never sniffed, never run.
    logo = admin.get(f"{knot.url}{answer['logo']}")
    assert logo.headers["Content-Type"] == "image/svg+xml"
    csp = logo.headers["Content-Security-Policy"]
    assert "sandbox" in csp and "default-src 'none'" in csp and "script" not in csp

    sign_in(browser, knot, "admin", knot.admin_password)
    box = wait(browser).until(ready.visibility_of_element_located((By.ID, "theme-warnings")))
    assert "Colours.primary must be a colour written #rgb or #rrggbb" in box.text
    assert "Menu entry 1" in box.text
    wait(browser).until(lambda b: b.execute_script(
        "const i = document.getElementById('brand-logo'); return i && i.complete && i.naturalWidth") == 40)
    # Opened on its own, the SVG's script still cannot run: the sandbox CSP gives it an opaque origin.
    assert browser.execute_script("return window.pwned") is None
    assert browser.find_element(By.ID, "brand-title").text == evil["title"]
    assert browser.find_element(By.TAG_NAME, "body").is_displayed()
    assert style(browser, "body", "background-color") == rgb("#f3f5f8")
    hrefs = [a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "#menu a")]
    assert all(h.startswith(("https://", "http://")) and "evil.example" not in h for h in hrefs), hrefs
    themed = [a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "#menu li.theme-link a")]
    assert themed == ["https://example.org/help"]
    assert browser.execute_script("return document.querySelectorAll('script').length") == 1  # only main.js
    assert console_problems(browser) == []
    shot(browser, "theme-warnings")


def test_a_logo_that_is_not_what_it_says_is_refused(knot, admin, clean):
    put(knot, admin, "theme.json", json.dumps({"logo": "logo.png"}))
    put(knot, admin, "logo.png", b"<html><script>alert(1)</script></html>")
    answer = theme(admin, knot)
    assert answer.get("logo") is None
    assert any("not a real PNG image" in w for w in answer["warnings"])
    assert admin.get(url(knot, "theme/logo")).status_code == 404
    for name in ("../users.db", "/etc/passwd", "theme.json", ".hidden.svg", "logo.html"):
        put(knot, admin, "theme.json", json.dumps({"logo": name}))
        answer = theme(admin, knot)
        assert answer.get("logo") is None, name
        assert any("logo must be the name of an .svg, .png or .webp file" in w for w in answer["warnings"]), name


def test_a_broken_theme_file_falls_back_to_the_default_with_a_warning(knot, admin, make_user, clean):
    _, person = make_user("broken")
    for content, words in ((b"{\"title\": \"Lab\",", "not valid JSON"), (b"[1, 2]", "one JSON object"),
                           (b"\xff\xfe\x00garbage", "not valid JSON")):
        put(knot, admin, "theme.json", content)
        answer = theme(admin, knot)
        assert answer["title"] == "Knot" and answer["colours"] == {}
        assert any(words in w for w in answer["warnings"]), answer
        # Everyone else just gets the default look.
        assert theme(person, knot) == {"title": "Knot", "colours": {}, "menu": [], "source": "default"}
    put(knot, admin, "theme.json", b"{" + b" " * (70 * 1024) + b"}")
    assert any("larger than 64 KiB" in w for w in theme(admin, knot)["warnings"])


def test_low_contrast_is_reported_to_admins(knot, admin, clean):
    put(knot, admin, "theme.json", json.dumps({"colours": {"text": "#999", "background": "#aaa", "primary": "#0b6e4f"}}))
    answer = theme(admin, knot)
    # Applied all the same (it is the admin's choice), but explained.
    assert answer["colours"]["text"] == "#999999"
    contrast = [w for w in answer["warnings"] if "contrast" in w]
    assert any("body text on the page background (#999999 on #aaaaaa)" in w and "4.5:1" in w for w in contrast), contrast
    assert not any("primary" in w or "links" in w for w in contrast), contrast
