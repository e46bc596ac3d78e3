"""Fuzzing every public API against its own OpenAPI document, through the edge.

Each service serves its document at /api/v1/<area>/openapi.json; the test
fetches it through the edge (real TLS, the test CA) as a signed-in ordinary
person and hands it to schemathesis, which generates requests for every
operation, valid and not, and sends them with that person's session cookie.
Every answer must be no server error (5xx) and must match the document: the
status must be one the operation lists (every operation lists `default`, the
KnotError shape, for its failures) and the body must fit that status's schema.

The person is an ordinary user: admin-only operations answer 403 in the error
shape, which the document promises. The run is bounded (MAX_EXAMPLES per
operation, no per-example deadline) so the four areas take well under three
minutes on a debug build.
"""
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance, status_code_conformance

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready

# The dashboard tests' headless Chromium (a module fixture) and their helpers.
from test_dashboard import PASSWORD, browser, no_script_errors, sign_in, wait  # noqa: F401

# Per operation; the documents hold about 60 operations in all.
MAX_EXAMPLES = int(os.environ.get("KNOT_FUZZ_EXAMPLES", "25"))

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]

# Operations left out, each with its reason. Nothing an ordinary person can
# reach here ends their own session or account: deleting, deactivating or
# demoting accounts is for admins (403 to this person), and a password change
# needs the current password, which the fuzzer cannot guess. What is left out
# is what cannot be fuzzed by request and answer:
EXCLUDED = {
    # An endless text/event-stream (a snapshot, then changes as they happen):
    # there is no "whole answer" to check, and each request would hold the
    # fuzzer until its timeout. test_launcher drives it with a real reader.
    ("GET", "/api/v1/launcher/services/events"): "endless event stream",
}


@pytest.fixture(scope="module")
def fuzzer(knot, make_user, admin):
    """An ordinary signed-in person: their name and session (cookie, test CA).

    With KNOT_FUZZ_AS_ADMIN=1 (by hand, never in scripts/test) the person is
    promoted first, so the admin-only handlers are fuzzed too. That rotates
    keys and registers clients in the running system, which would disturb the
    other test modules, so the default run stays with an ordinary person."""
    name, session = make_user("fuzz")
    if os.environ.get("KNOT_FUZZ_AS_ADMIN") == "1":
        answer = admin.post(f"{knot.url}/api/v1/users/{name}/promote", timeout=10)
        assert answer.status_code == 200, answer.text
        session = knot.login(name, "a long enough password")
    return name, session


def load(knot, fuzzer, area):
    _, session = fuzzer
    answer = session.get(f"{knot.url}/api/v1/{area}/openapi.json", timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    document = answer.json()
    assert document["openapi"].startswith("3.")
    return schemathesis.openapi.from_dict(document)


@pytest.fixture(scope="module")
def identity_schema(knot, fuzzer):
    return load(knot, fuzzer, "identity")


@pytest.fixture(scope="module")
def users_schema(knot, fuzzer):
    return load(knot, fuzzer, "users")


@pytest.fixture(scope="module")
def launcher_schema(knot, fuzzer):
    return load(knot, fuzzer, "launcher")


@pytest.fixture(scope="module")
def files_schema(knot, fuzzer):
    return load(knot, fuzzer, "files")


@pytest.fixture(scope="module")
def images_schema(knot, fuzzer):
    return load(knot, fuzzer, "images")


def fuzz(knot, fuzzer, case):
    _, session = fuzzer
    # schemathesis passes its own `verify` (the system's CAs); Knot's test CA is the one to trust.
    case.call_and_validate(base_url=knot.url, session=session, checks=CHECKS, timeout=20, verify=knot.ca)


def bounded(test):
    return settings(
        max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), print_blob=True
    )(test)


def lazy(fixture):
    schema = schemathesis.pytest.from_fixture(fixture)
    for method, path in EXCLUDED:
        schema = schema.exclude(method=method, path=path)
    return schema


# A resumable upload's PATCH carries raw bytes under tus's own media type.
schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")

identity = lazy("identity_schema")
users = lazy("users_schema")
launcher = lazy("launcher_schema")
files = lazy("files_schema")
images = lazy("images_schema")


@identity.parametrize()
@bounded
def test_identity_api(case, knot, fuzzer):
    fuzz(knot, fuzzer, case)


@users.parametrize()
@bounded
def test_users_api(case, knot, fuzzer):
    fuzz(knot, fuzzer, case)


@launcher.parametrize()
@bounded
def test_launcher_api(case, knot, fuzzer):
    fuzz(knot, fuzzer, case)


@files.parametrize()
@bounded
def test_files_api(case, knot, fuzzer):
    fuzz(knot, fuzzer, case)


@images.parametrize()
@bounded
def test_images_api(case, knot, fuzzer):
    fuzz(knot, fuzzer, case)


def test_the_documents_need_a_signed_in_caller(knot):
    """Like every /api/v1 route, the documents are for signed-in callers (the edge's rule for /api/)."""
    anonymous = knot.client()
    for area in ["identity", "users", "launcher", "files", "images"]:
        answer = anonymous.get(f"{knot.url}/api/v1/{area}/openapi.json", timeout=10)
        assert answer.status_code == 401, (area, answer.status_code)
        assert answer.json()["error"]["code"] == "unauthorized"


def test_the_fuzzer_is_still_signed_in(knot, fuzzer):
    """Nothing the fuzzer sent ended its own session or account (runs after the fuzzing in this module)."""
    name, session = fuzzer
    answer = session.get(f"{knot.url}/api/v1/users/me", timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json()["username"] == name


def test_the_api_screen_lists_every_document(knot, fuzzer, browser):
    """The dashboard's API screen, in a real browser: reachable from the menu, each area's operations readable."""
    name, _ = fuzzer
    sign_in(browser, knot, name, PASSWORD)
    wait(browser).until(ready.element_to_be_clickable((By.ID, "menu-api"))).click()
    wait(browser).until(ready.text_to_be_present_in_element((By.CSS_SELECTOR, "main h1"), "API"))
    for area, path in [("identity", "/api/v1/identity/tokens"), ("users", "/api/v1/users/teams/{team}"),
                       ("launcher", "/api/v1/launcher/services"), ("files", "/api/v1/files/{domain}/{path}")]:
        browser.find_element(By.ID, f"api-tab-{area}").click()
        wait(browser).until(ready.text_to_be_present_in_element((By.ID, "api-doc"), path))
        text = browser.find_element(By.ID, "api-doc").text
        assert f"/api/v1/{area}/openapi.json" in text
        assert "GET" in text and "Answers:" in text
    no_script_errors(browser)


# What the fuzzer found once, kept as plain requests: text with a NUL (which
# PostgreSQL refuses) in the query or the path is never a server error, for a
# person and for an admin (whose searches reach more of the database). Mostly
# it is a 4xx; a person's `?user=` on the audit log is ignored (200), since
# people see only entries about themselves.
NUL_PROBES = [
    "/api/v1/users/audit?q=a%00b", "/api/v1/users/audit?user=a%00b", "/api/v1/users?q=a%00b",
    "/api/v1/users/a%00b", "/api/v1/users/teams/a%00b", "/api/v1/identity/clients/a%00b",
    "/api/v1/launcher/services/a%00b", "/api/v1/launcher/templates/a%00b", "/api/v1/files/private/a%00b",
]


@pytest.mark.parametrize("path", NUL_PROBES)
def test_a_nul_in_the_request_is_a_client_error(knot, fuzzer, admin, path):
    for who, session in [("person", fuzzer[1]), ("admin", admin)]:
        answer = session.get(f"{knot.url}{path}", timeout=10)
        assert answer.status_code < 500, (who, path, answer.status_code, answer.text)
        if answer.status_code >= 400:
            assert answer.json()["error"]["code"], (who, path)
    if "%00" in path.partition("?")[2]:
        # The admin's search term itself is refused before it reaches the database.
        assert admin.get(f"{knot.url}{path}", timeout=10).json()["error"]["code"] == "invalid_query"
