"""Signing in to Knot at an upstream OpenID Connect provider (docs/identity.md, "Upstream login").

The upstream is a real provider built with authlib (upstream_oidc.py), started
here on KNOT_E2E_UPSTREAM_PORT and knowing the one client that identity is
configured as (KNOT_UPSTREAM_*). A `requests` session holding the Knot cookies plays the
browser and never follows redirects, so each hop is read: Knot's start, the
upstream's authorization answer (the upstream user is named by the
`upstream_user` cookie, sent only to the upstream), Knot's callback. The
upstream's token log shows what Knot sent it. Every person is new.
"""
import html
import os
import re
import select
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit, urlunsplit

import pytest
import requests

from conftest import unique
from oidc_helpers import base_of, browser_resolve, forms_of, params_of, session_cookie_set

CLIENT_ID = "knot-upstream"
START = "/auth/upstream/start"
CALLBACK = "/auth/upstream/callback"
COOKIE = "knot_upstream"
HERE = os.path.dirname(os.path.abspath(__file__))
USERNAME_RE = re.compile(r"^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){1,31}$")  # Knot's rule: a DNS label, 2-32 characters


# --- the upstream provider ----------------------------------------------------------------

class Upstream:
    def __init__(self, url, knot_callback):
        self.url = url
        self.knot_callback = knot_callback  # the one redirect URI it knows

    def http(self, user=None):
        """A browser at the upstream, signed in there as `user`."""
        session = requests.Session()
        session.trust_env = False  # plain http on 127.0.0.1: no proxy
        if user:
            session.headers["Cookie"] = f"upstream_user={user}"
        return session

    def add_user(self, username, email, verified=True, name=None, deny=False, tamper=""):
        """Creates (or replaces, keeping the subject) a person at the upstream; returns the subject."""
        answer = self.http().post(f"{self.url}/test/users", json={
            "username": username, "email": email, "email_verified": verified, "name": name or username.title(),
            "deny": deny, "tamper": tamper})
        assert answer.status_code == 200, answer.text
        return answer.json()["sub"]

    def token_requests(self, code):
        """The token requests the upstream received for `code`."""
        answer = self.http().get(f"{self.url}/test/log")
        assert answer.status_code == 200, answer.text
        return [entry for entry in answer.json() if entry["code"] == code]


def _wait_ready(process, log_path, timeout):
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        ready, _, _ = select.select([process.stdout], [], [], max(remaining, 0))
        line = process.stdout.readline() if ready else None
        if line and line.strip() == "READY":
            return
        if line == "" or process.poll() is not None or remaining <= 0:
            with open(log_path, errors="replace") as f:
                tail = f.read()[-2000:]
            raise AssertionError(
                f"upstream_oidc.py did not get ready (exit code {process.poll()}, at most {timeout}s):\n{tail}")


@pytest.fixture(scope="session")
def upstream(knot):
    port = os.environ.get("KNOT_E2E_UPSTREAM_PORT")
    if not port:
        pytest.fail("KNOT_E2E_UPSTREAM_PORT is not set: scripts/test must start identity with an upstream provider")
    url = f"http://127.0.0.1:{int(port)}"
    configured = knot.env.get("KNOT_UPSTREAM_ISSUER")
    assert configured in (None, url), f"identity's KNOT_UPSTREAM_ISSUER is {configured}, the provider runs at {url}"
    assert knot.env.get("KNOT_UPSTREAM_CLIENT_ID", CLIENT_ID) == CLIENT_ID
    with open(knot.env["KNOT_UPSTREAM_CLIENT_SECRET_FILE"]) as f:
        secret = f.read().strip()
    log_path = os.path.join(knot.run, "logs", "upstream-oidc.log")  # kept with the services' logs on failure
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "upstream_oidc.py"), "--port", str(int(port)), "--client-id", CLIENT_ID,
             "--client-secret", secret, "--redirect-uri", f"{knot.url}{CALLBACK}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        _wait_ready(process, log_path, 20)
        yield Upstream(url, f"{knot.url}{CALLBACK}")
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        process.stdout.close()


# --- one sign-in, hop by hop --------------------------------------------------------------

@dataclass
class Attempt:
    browser: requests.Session  # Knot's browser
    start: requests.Response
    authorize_url: str
    callback_url: str = ""
    answer: requests.Response = None  # Knot's answer to the callback

    @property
    def returned(self):
        """The parameters the upstream sent back (code and state, or error)."""
        return params_of(self.callback_url)

    def sealed_cookie(self):
        values = [c.value for c in self.browser.cookies if c.name == COOKIE]
        assert values, f"the browser holds no {COOKIE} cookie"
        return values[-1]


def start(knot, upstream, next_url=None, browser=None):
    """GET /auth/upstream/start in `browser` (a fresh one by default): Knot sends it to the upstream."""
    browser = browser or knot.client()
    answer = browser.get(f"{knot.url}{START}", params={"next": next_url} if next_url is not None else None,
                         allow_redirects=False)
    assert answer.status_code in (302, 303), (answer.status_code, answer.text[:300])
    location = answer.headers["Location"]
    assert base_of(location) == f"{upstream.url}/authorize", location
    return Attempt(browser=browser, start=answer, authorize_url=location)


def at_upstream(upstream, attempt, user):
    """The upstream, where `user` is signed in, answers the authorization request with a redirect to Knot."""
    answer = upstream.http(user).get(attempt.authorize_url, allow_redirects=False)
    assert answer.status_code == 302, (answer.status_code, answer.text[:300])
    attempt.callback_url = answer.headers["Location"]
    assert base_of(attempt.callback_url) == upstream.knot_callback, attempt.callback_url
    return attempt


def callback(attempt, url=None, browser=None):
    """The browser (by default the one that started) brings the upstream's answer back to Knot."""
    attempt.answer = (browser or attempt.browser).get(url or attempt.callback_url, allow_redirects=False)
    return attempt.answer


def sign_in(knot, upstream, user, next_url=None, browser=None):
    attempt = at_upstream(upstream, start(knot, upstream, next_url, browser), user)
    callback(attempt)
    return attempt


def me(knot, browser):
    return browser.get(f"{knot.url}/api/v1/users/me")


def assert_signed_in_as(knot, attempt, username, lands_on):
    answer = attempt.answer
    assert answer.status_code == 303, (answer.status_code, answer.headers.get("Location"), answer.text[:300])
    assert browser_resolve(knot.url, answer.headers["Location"]).geturl() == lands_on, answer.headers["Location"]
    assert session_cookie_set(answer), answer.headers.get("Set-Cookie")
    account = me(knot, attempt.browser)
    assert account.status_code == 200, account.text
    assert account.json()["username"] == username
    # The sealed state is spent with the sign-in.
    assert COOKIE not in [c.name for c in attempt.browser.cookies], "the knot_upstream cookie is cleared after use"


def assert_page(answer, status, *words):
    assert answer.status_code == status, (answer.status_code, answer.headers.get("Location"), answer.text[:300])
    assert "Location" not in answer.headers, answer.headers.get("Location")
    assert answer.headers.get("Content-Type", "").startswith("text/html"), answer.headers.get("Content-Type")
    for word in words:
        assert word in answer.text.lower(), (word, answer.text[:600])


def assert_no_session(knot, answer, browser):
    """The answer started no session, and a browser that had none still has none."""
    assert not session_cookie_set(answer), answer.headers.get("Set-Cookie")
    if not any(c.name == "knot_session" and c.value for c in browser.cookies):
        assert me(knot, browser).status_code == 401


def accounts_with(knot, admin, email):
    listing = admin.get(f"{knot.url}/api/v1/users")
    assert listing.status_code == 200, listing.text
    return [u for u in listing.json()["users"] if u["email"].lower() == email.lower()]


@pytest.fixture
def linked(knot, upstream, make_user):
    """A Knot account and an upstream person with its verified address: (knot username, upstream username)."""
    name, _ = make_user("upl")
    person = unique("up")
    upstream.add_user(person, f"{name}@example.org", verified=True)
    return name, person


# --- the way in --------------------------------------------------------------------------

def test_the_login_page_offers_the_upstream(knot, upstream):
    label = f"Sign in with {knot.env.get('KNOT_UPSTREAM_NAME', 'Upstream IdP')}"
    browser = knot.client()
    page = browser.get(f"{knot.url}/auth/login", params={"next": "/x"})
    assert page.status_code == 200, page.text[:300]
    assert label in page.text, page.text[:1500]
    # A link to the start, or a GET form that goes there carrying `next`.
    links = [browser_resolve(knot.url, html.unescape(href))
             for href in re.findall(r'<a\b[^>]*\bhref="([^"]*)"', page.text)]
    targets = [link for link in links if link.path == START]
    for form in forms_of(page.text):
        if form.method == "get" and browser_resolve(knot.url, form.action).path == START:
            targets.append(browser_resolve(knot.url, f"{form.action}?{urlencode(form.fields)}"))
    assert targets, f"no link or form to {START} on the login page"
    target = targets[0]
    assert f"{target.scheme}://{target.netloc}" == knot.url, target
    assert browser_resolve(knot.url, params_of(target.geturl())["next"]).geturl() == f"{knot.url}/x", target
    # Pressing it sends the browser to the upstream.
    assert base_of(browser.get(target.geturl(), allow_redirects=False).headers["Location"]) == f"{upstream.url}/authorize"


def test_start_sends_a_pkce_authorization_request_and_seals_it_in_a_cookie(knot, upstream):
    attempt = start(knot, upstream, "/x")
    query = params_of(attempt.authorize_url)
    assert query["response_type"] == "code"
    assert query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == f"{knot.url}{CALLBACK}"
    assert {"openid", "email", "profile"} <= set(query["scope"].split()), query["scope"]
    assert len(query["state"]) >= 16 and len(query["nonce"]) >= 16, query
    assert query["code_challenge_method"] == "S256"
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", query["code_challenge"]), query["code_challenge"]  # a SHA-256, base64url
    assert "code_verifier" not in query

    cookies = [c for c in attempt.start.raw.headers.getlist("Set-Cookie") if c.startswith(f"{COOKIE}=")]
    assert len(cookies) == 1, attempt.start.raw.headers.getlist("Set-Cookie")
    attributes = [part.strip().lower() for part in cookies[0].split(";")[1:]]
    assert "path=/auth/upstream" in attributes, cookies[0]
    assert "httponly" in attributes and "secure" in attributes, cookies[0]
    assert attempt.sealed_cookie()
    # What the cookie carries is sealed (docs/identity.md): the request's secrets are not readable in it.
    for secret in (query["state"], query["nonce"]):
        assert secret not in cookies[0]

    # Every start is fresh.
    again = params_of(start(knot, upstream, "/x").authorize_url)
    for name in ("state", "nonce", "code_challenge"):
        assert again[name] != query[name], name


# --- who comes back ------------------------------------------------------------------------

def test_a_verified_address_signs_in_to_its_account_and_links_the_subject(knot, upstream, linked):
    name, person = linked
    first = sign_in(knot, upstream, person, next_url=f"{knot.url}/x")
    assert_signed_in_as(knot, first, name, lands_on=f"{knot.url}/x")

    second = sign_in(knot, upstream, person, next_url="/y")
    assert_signed_in_as(knot, second, name, lands_on=f"{knot.url}/y")
    assert second.browser is not first.browser

    # Linked by issuer and subject: the upstream changes the address (to one it has not verified), same account.
    upstream.add_user(person, f"moved-{uuid.uuid4().hex[:8]}@example.org", verified=False)
    third = sign_in(knot, upstream, person)
    assert_signed_in_as(knot, third, name, lands_on=f"{knot.url}/")  # no `next`: the dashboard


def test_a_new_address_makes_an_inactive_account_that_signs_in_once_activated(knot, admin, upstream):
    tag = uuid.uuid4().hex[:8]
    email = f"mail-{uuid.uuid4().hex[:8]}@example.org"
    person = f"Nova.Up_{tag}"
    upstream.add_user(person, email, verified=True, name="Nova Up")

    waiting = sign_in(knot, upstream, person, next_url="/x")
    assert_page(waiting.answer, 201, "waiting")
    assert_no_session(knot, waiting.answer, waiting.browser)

    accounts = accounts_with(knot, admin, email)
    assert len(accounts) == 1, accounts
    account = accounts[0]
    assert account["active"] is False
    username = account["username"]
    assert USERNAME_RE.match(username) and "--" not in username, username
    assert tag in username and "nova" in username, f"{username} is not made from {person}"

    # Until an administrator acts, signing in again still waits, and makes no second account.
    again = sign_in(knot, upstream, person)
    assert_page(again.answer, 201, "waiting")
    assert_no_session(knot, again.answer, again.browser)
    assert len(accounts_with(knot, admin, email)) == 1

    activated = admin.post(f"{knot.url}/api/v1/users/{username}/activate")
    assert activated.status_code == 200, activated.text
    now = sign_in(knot, upstream, person, next_url="/x")
    assert_signed_in_as(knot, now, username, lands_on=f"{knot.url}/x")


def test_an_unverified_address_of_an_existing_account_signs_nobody_in(knot, admin, upstream, make_user):
    name, _ = make_user("unv")
    email = f"{name}@example.org"
    person = unique("claim")
    upstream.add_user(person, email, verified=False)

    attempt = sign_in(knot, upstream, person)
    assert_page(attempt.answer, 409, "password")
    assert email in attempt.answer.text or "exists" in attempt.answer.text.lower(), attempt.answer.text[:600]
    assert_no_session(knot, attempt.answer, attempt.browser)
    assert [u["username"] for u in accounts_with(knot, admin, email)] == [name]

    # Once the upstream has verified the address, the same person is matched to the account.
    upstream.add_user(person, email, verified=True)
    later = sign_in(knot, upstream, person)
    assert_signed_in_as(knot, later, name, lands_on=f"{knot.url}/")


def test_a_refusal_at_the_upstream_is_a_403_page(knot, upstream):
    person = unique("deny")
    upstream.add_user(person, f"{person}@example.org", verified=True, deny=True)
    attempt = sign_in(knot, upstream, person)
    assert attempt.returned["error"] == "access_denied" and "code" not in attempt.returned, attempt.callback_url
    assert_page(attempt.answer, 403)
    assert_no_session(knot, attempt.answer, attempt.browser)


# --- attacks -----------------------------------------------------------------------------

@pytest.mark.parametrize("tamper", ["aud", "iss", "nonce", "expired", "key"])
def test_a_spoiled_id_token_signs_nobody_in_and_makes_no_account(knot, admin, upstream, make_user, tamper):
    """The upstream answers properly but its ID token is wrong in one way: Knot must notice each."""
    name, _ = make_user("upt")
    person = unique("spoil")
    upstream.add_user(person, f"{name}@example.org", verified=True, tamper=tamper)
    attempt = sign_in(knot, upstream, person)
    assert "code" in attempt.returned, attempt.callback_url
    assert attempt.answer.status_code >= 400 and "Location" not in attempt.answer.headers, attempt.answer.status_code
    assert_no_session(knot, attempt.answer, attempt.browser)
    # Not linked either: with an honest token next time, it is the same person's first sign-in.
    stranger = unique("spn")
    upstream.add_user(stranger, f"{stranger}@example.org", verified=True, tamper=tamper)
    assert sign_in(knot, upstream, stranger).answer.status_code >= 400
    assert accounts_with(knot, admin, f"{stranger}@example.org") == []

def with_state(url, state):
    query = params_of(url)
    query["state"] = state
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def test_an_answer_for_another_sign_in_is_refused(knot, upstream, linked):
    """Login CSRF: an attacker's own code and state, loaded in the victim's browser mid-sign-in."""
    _, attacker = linked
    theirs = at_upstream(upstream, start(knot, upstream), attacker)
    victim = start(knot, upstream)
    answer = callback(victim, url=theirs.callback_url)
    assert_page(answer, 400)
    assert_no_session(knot, answer, victim.browser)
    assert upstream.token_requests(theirs.returned["code"]) == [], "Knot redeemed a code before checking the state"


def test_a_tampered_state_is_refused(knot, upstream, linked):
    _, person = linked
    attempt = at_upstream(upstream, start(knot, upstream), person)
    answer = callback(attempt, url=with_state(attempt.callback_url, attempt.returned["state"] + "x"))
    assert_page(answer, 400)
    assert_no_session(knot, answer, attempt.browser)
    assert upstream.token_requests(attempt.returned["code"]) == []


def test_an_answer_without_the_cookie_is_refused(knot, upstream, linked):
    name, person = linked
    attempt = at_upstream(upstream, start(knot, upstream), person)
    other = knot.client()  # another browser
    answer = callback(attempt, browser=other)
    assert_page(answer, 400)
    assert_no_session(knot, answer, other)
    assert upstream.token_requests(attempt.returned["code"]) == []
    # The same answer in the browser that started is fine: the refusal was the missing cookie's.
    callback(attempt)
    assert_signed_in_as(knot, attempt, name, lands_on=f"{knot.url}/")


def test_a_replayed_answer_is_refused(knot, upstream, linked):
    name, person = linked
    attempt = at_upstream(upstream, start(knot, upstream), person)
    sealed = attempt.sealed_cookie()
    callback(attempt)
    assert_signed_in_as(knot, attempt, name, lands_on=f"{knot.url}/")

    # The same browser again: its cookie was spent.
    answer = callback(attempt)
    assert_page(answer, 400)
    assert not session_cookie_set(answer)

    # A copy of the cookie taken before (a stolen jar): the upstream code is spent, so no session either.
    thief = knot.client()
    answer = thief.get(attempt.callback_url, headers={"Cookie": f"{COOKIE}={sealed}"}, allow_redirects=False)
    assert answer.status_code >= 400, (answer.status_code, answer.headers.get("Location"))
    assert_no_session(knot, answer, thief)


@pytest.mark.parametrize("elsewhere", ["https://evil.example/", "//evil.example/", "https://evil.example/x?next=/"])
def test_next_off_the_domain_lands_on_the_dashboard(knot, upstream, linked, elsewhere):
    name, person = linked
    attempt = sign_in(knot, upstream, person, next_url=elsewhere)
    assert_signed_in_as(knot, attempt, name, lands_on=f"{knot.url}/")


# --- what Knot sent the upstream ------------------------------------------------------------

def test_knot_redeems_the_code_with_pkce_and_client_authentication(knot, upstream, linked):
    name, person = linked
    attempt = sign_in(knot, upstream, person)
    assert_signed_in_as(knot, attempt, name, lands_on=f"{knot.url}/")
    requests_for_code = upstream.token_requests(attempt.returned["code"])
    assert len(requests_for_code) == 1, requests_for_code
    entry = requests_for_code[0]
    assert entry["grant_type"] == "authorization_code"
    assert entry["auth_method"] in ("client_secret_basic", "client_secret_post"), entry
    assert entry["client_id"] == CLIENT_ID
    assert entry["code_verifier"] is True
    assert entry["status"] == 200, entry
