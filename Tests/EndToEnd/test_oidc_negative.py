"""What Knot's OpenID Connect provider must refuse (docs/identity.md).

Each case asserts the refusal precisely (status, OAuth `error`, no redirect
where none may happen) and that nothing was issued or changed. Refusals are
paired with the same request done right, here or in a fixture, so that a
provider cannot pass by refusing everything.
"""
import json
import secrets
import time
from urllib.parse import urljoin, urlsplit

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from conftest import unique
from oidc_helpers import oidc  # noqa: F401  (the fixture)
from oidc_helpers import (OTHER_REDIRECT_URI, PASSWORD, POST_LOGOUT_URI, REDIRECT_URI, assert_error_page,
                          assert_inactive, assert_invalid_token, assert_oauth_error, base_of, browser_resolve,
                          consent_choice, csrf_form, form_login, knot_error_code, login_page, params_of, pat_secret,
                          public_pem, session_cookie_set, sign_hs256, sign_none, sign_own, tamper, unverified)

R = REDIRECT_URI  # https://app.example.test/cb


# --- shared, read-only fixtures ----------------------------------------------

@pytest.fixture(scope="module")
def person(make_user):
    """(name, browser) of someone signed in, used by cases that change nothing of theirs."""
    return make_user("neg")


@pytest.fixture(scope="module")
def rp(oidc):
    """A confidential, first-party client registered for R only."""
    return oidc.register("neg")


@pytest.fixture(scope="module")
def other_rp(oidc):
    """Another confidential client, registered for the same R and for OTHER_REDIRECT_URI."""
    return oidc.register("other", redirect_uris=[R, OTHER_REDIRECT_URI],
                         post_logout_redirect_uris=["https://app.example.test/other-logged-out"])


@pytest.fixture(scope="module")
def public_rp(oidc):
    return oidc.register("pub", public=True)


@pytest.fixture(scope="module")
def genuine(oidc, person, rp):
    """Real tokens of `person` for `rp`, shown to work: the pair of every forgery."""
    _, browser = person
    tokens = oidc.tokens(browser, rp, "openid profile")
    assert oidc.userinfo(tokens["access_token"]).status_code == 200
    assert oidc.introspect(rp, tokens["access_token"]).json()["active"] is True
    return tokens


def test_the_requests_done_right_succeed(oidc, person, rp, other_rp, public_rp, genuine):
    _, browser = person
    oidc.expect_code(oidc.authorize(browser, rp, "openid"))
    authz = oidc.authorize(browser, other_rp, "openid", redirect_uri=OTHER_REDIRECT_URI)
    oidc.expect_code(authz)
    assert oidc.exchange(other_rp, authz).status_code == 200
    authz = oidc.authorize(browser, public_rp, "openid")
    oidc.expect_code(authz)
    assert oidc.exchange(public_rp, authz).status_code == 200


# --- redirect URIs: compared exactly, never redirected to ----------------------

BAD_REDIRECTS = {
    "trailing_slash": R + "/",
    "longer_path": R + "/evil",
    "longer_segment": R + "x",
    "prefix": R[:-1],
    "parent": "https://app.example.test/",
    "host_case": "https://APP.example.test/cb",
    "path_case": "https://app.example.test/CB",
    "scheme_case": "HTTPS://app.example.test/cb",
    "percent_encoded_path": "https://app.example.test/%63b",
    "percent_encoded_host": "https://app%2Eexample.test/cb",
    "extra_query": R + "?next=https://evil.example/",
    "fragment": R + "#x",
    "empty_fragment": R + "#",
    "userinfo": "https://user:pass@app.example.test/cb",
    "at_evil_host": "https://app.example.test@evil.example/cb",
    "backslash_at": "https://evil.example\\@app.example.test/cb",
    "default_port": "https://app.example.test:443/cb",
    "other_port": "https://app.example.test:8443/cb",
    "dot_dot": "https://app.example.test/cb/../cb",
    "encoded_dot_dot": "https://app.example.test/cb/..%2F..%2Fevil",
    "dot_segment": "https://app.example.test/./cb",
    "double_slash": "https://app.example.test//cb",
    "http_downgrade": "http://app.example.test/cb",
    "other_host": "https://evil.example/cb",
    "suffix_host": "https://app.example.test.evil.example/cb",
    "trailing_dot_host": "https://app.example.test./cb",
    "scheme_relative": "//app.example.test/cb",
    "trailing_space": R + " ",
    "crlf": R + "\r\nSet-Cookie: x=y",
    "nul": R + "\x00",
    "another_clients_uri": OTHER_REDIRECT_URI,
}


@pytest.mark.parametrize("bad", BAD_REDIRECTS.values(), ids=BAD_REDIRECTS.keys())
def test_authorize_with_a_mismatched_redirect_uri_is_an_error_page(oidc, person, rp, bad):
    _, browser = person
    assert_error_page(oidc.authorize(browser, rp, "openid", redirect_uri=bad).response)


@pytest.mark.parametrize("client_id", ["no-such-client", None], ids=["unknown", "missing"])
def test_authorize_for_an_unknown_or_missing_client_is_an_error_page(oidc, person, rp, client_id):
    _, browser = person
    params = {"redirect_uri": R, "response_type": "code", "scope": "openid", "state": "s",
              "code_challenge": create_s256_code_challenge("v" * 43), "code_challenge_method": "S256"}
    if client_id:
        params["client_id"] = client_id
    assert_error_page(browser.get(oidc.config["authorization_endpoint"], params=params, allow_redirects=False))


# --- the login page's `next` is no open redirect --------------------------------

BAD_NEXT = {
    "scheme_relative": "//evil.com",
    "absolute": "https://evil.com",
    "backslash": "/\\evil.com",
    "suffix_domain": "https://{domain}.evil.com",
    "userinfo": "https://{domain}@evil.com",
    "javascript": "javascript:alert(document.domain)",
    "data": "data:text/html,<script>alert(1)</script>",
    "crlf": "/\r\nLocation: https://evil.com",
    "encoded_crlf": "/%0d%0aLocation:%20https://evil.com",
    "http_downgrade": "http://{domain}:{port}/",
    "tab_scheme_relative": "/\t/evil.com",
}


def _stays_on_knot(knot, target):
    resolved = browser_resolve(knot.url + "/", target)
    origin = urlsplit(knot.url)
    return (resolved.scheme, resolved.netloc) == (origin.scheme, origin.netloc)


@pytest.mark.parametrize("target", BAD_NEXT.values(), ids=BAD_NEXT.keys())
def test_login_next_never_leaves_knot(knot, person, target):
    name, _ = person
    target = target.format(domain=knot.domain, port=knot.public_port)
    # The page does not carry it into its form...
    _, form = login_page(knot, next_url=target)
    carried = form.fields.get("next", "")
    assert not carried or _stays_on_knot(knot, carried), carried
    # ...and a form post that names it is sent to Knot's own address instead.
    _, answer = form_login(knot, name, PASSWORD, next_url=target)
    assert answer.status_code in (302, 303), (answer.status_code, answer.text[:300])
    locations = answer.raw.headers.getlist("Location")  # not folded together: a CRLF could have added one
    assert len(locations) == 1, locations
    assert "\r" not in locations[0] and "\n" not in locations[0], locations
    assert _stays_on_knot(knot, locations[0]), locations
    assert not answer.raw.headers.getlist("Refresh"), answer.raw.headers


# --- PKCE ----------------------------------------------------------------------------

def test_pkce_plain_is_refused(oidc, person, rp):
    _, browser = person
    authz = oidc.authorize(browser, rp, "openid", pkce=False, code_challenge="p" * 43, code_challenge_method="plain")
    oidc.expect_redirect_error(authz, "invalid_request")


def test_pkce_challenge_without_a_method_is_not_taken_as_plain(oidc, person, rp):
    _, browser = person
    authz = oidc.authorize(browser, rp, "openid", pkce=False, code_challenge="p" * 43)
    oidc.expect_redirect_error(authz, "invalid_request")


def test_public_client_must_send_a_challenge(oidc, person, public_rp):
    _, browser = person
    oidc.expect_redirect_error(oidc.authorize(browser, public_rp, "openid", pkce=False), "invalid_request")


@pytest.mark.parametrize("client_kind", ["confidential", "public"])
def test_code_with_a_challenge_needs_the_verifier(oidc, person, rp, public_rp, client_kind):
    _, browser = person
    client = rp if client_kind == "confidential" else public_rp
    authz = oidc.authorize(browser, client, "openid")
    oidc.expect_code(authz)
    assert_oauth_error(oidc.exchange(client, authz, code_verifier=None), 400, "invalid_grant", "invalid_request")


def test_wrong_verifier_is_invalid_grant(oidc, person, public_rp):
    _, browser = person
    authz = oidc.authorize(browser, public_rp, "openid")
    oidc.expect_code(authz)
    wrong = secrets.token_urlsafe(48)[:64]
    assert_oauth_error(oidc.exchange(public_rp, authz, code_verifier=wrong), 400, "invalid_grant")


def test_verifier_for_a_code_issued_without_challenge_is_refused(oidc, person, rp):
    _, browser = person
    authz = oidc.authorize(browser, rp, "openid", pkce=False)
    oidc.expect_code(authz)  # a confidential client may go without PKCE...
    answer = oidc.exchange(rp, authz, code_verifier="x" * 64)  # ...but then must not send a verifier
    assert_oauth_error(answer, 400, "invalid_grant", "invalid_request")


@pytest.mark.parametrize("verifier", ["a" * 42, "a" * 129, "a" * 42 + "+", "a" * 42 + " "],
                         ids=["42_chars", "129_chars", "plus_sign", "space"])
def test_verifier_outside_rfc7636_is_refused_even_when_it_matches(oidc, person, public_rp, verifier):
    _, browser = person
    authz = oidc.authorize(browser, public_rp, "openid", verifier=verifier)  # its S256 challenge looks fine
    oidc.expect_code(authz)
    assert_oauth_error(oidc.exchange(public_rp, authz), 400, "invalid_request", "invalid_grant")


# --- codes ------------------------------------------------------------------------------

def test_code_replay_fails_and_revokes_what_it_issued(oidc, person, rp):
    _, browser = person
    authz = oidc.authorize(browser, rp, "openid")
    oidc.expect_code(authz)
    first = oidc.exchange(rp, authz)
    assert first.status_code == 200
    tokens = first.json()
    assert oidc.userinfo(tokens["access_token"]).status_code == 200
    assert_oauth_error(oidc.exchange(rp, authz), 400, "invalid_grant")
    assert_inactive(oidc.introspect(rp, tokens["access_token"]))
    assert_inactive(oidc.introspect(rp, tokens["refresh_token"]))
    assert_invalid_token(oidc.userinfo(tokens["access_token"]))
    assert_oauth_error(oidc.refresh(rp, tokens["refresh_token"]), 400, "invalid_grant")


def test_code_issued_to_another_client_is_invalid_grant(oidc, person, rp, other_rp):
    _, browser = person
    authz = oidc.authorize(browser, rp, "openid")
    oidc.expect_code(authz)
    assert_oauth_error(oidc.exchange(other_rp, authz), 400, "invalid_grant")


def test_code_with_another_redirect_uri_at_the_token_endpoint_is_invalid_grant(oidc, person, other_rp):
    _, browser = person
    authz = oidc.authorize(browser, other_rp, "openid")  # issued for R
    oidc.expect_code(authz)
    assert_oauth_error(oidc.exchange(other_rp, authz, redirect_uri=OTHER_REDIRECT_URI), 400, "invalid_grant")


def test_code_without_its_redirect_uri_at_the_token_endpoint_is_refused(oidc, person, rp):
    _, browser = person
    authz = oidc.authorize(browser, rp, "openid")
    oidc.expect_code(authz)
    assert_oauth_error(oidc.exchange(rp, authz, redirect_uri=None), 400, "invalid_grant", "invalid_request")


def test_expired_code_is_invalid_grant(knot, oidc, person, rp):
    seconds = int(knot.env.get("KNOT_OIDC_CODE_SECONDS", "10"))
    assert seconds <= 15, "the test stack shortens the code lifetime (KNOT_OIDC_CODE_SECONDS=10)"
    _, browser = person
    authz = oidc.authorize(browser, rp, "openid")
    oidc.expect_code(authz)
    time.sleep(seconds + 1)
    assert_oauth_error(oidc.exchange(rp, authz), 400, "invalid_grant")


# --- forged and misused tokens at userinfo and introspection ---------------------------

def _forge(kind, oidc, genuine):
    access, id_token = genuine["access_token"], genuine["id_token"]
    header, claims = unverified(access)
    keys = oidc.jwks()["keys"]
    ec_key = next(k for k in keys if k["kid"] == header["kid"])
    rsa_key = next(k for k in keys if k["kty"] == "RSA")
    later = int(time.time()) + 3600
    if kind == "alg_none":
        return sign_none(header, claims)
    if kind == "alg_none_capitalised":
        return sign_none(header, claims, alg="None")
    if kind == "hs256_with_ec_public_pem":
        return sign_hs256(header, claims, public_pem(ec_key))
    if kind == "hs256_with_rsa_public_pem":
        return sign_hs256(dict(header, kid=rsa_key["kid"]), claims, public_pem(rsa_key))
    if kind == "hs256_with_public_jwk":
        return sign_hs256(header, claims, json.dumps(ec_key).encode())
    if kind == "tampered_scope":
        return tamper(access, scope=claims["scope"] + " knot groups", exp=later)
    if kind == "tampered_sub":
        return tamper(access, sub="00000000-0000-0000-0000-000000000001")
    if kind == "tampered_aud":
        return tamper(access, aud="someone-else", client_id="someone-else")
    if kind == "tampered_iss":
        return tamper(access, iss="https://evil.example")
    if kind == "resigned_own_key_real_kid":
        return sign_own(header, claims)
    if kind == "own_key_real_kid_wrong_aud":
        return sign_own(header, dict(claims, aud="someone-else"))
    if kind == "own_key_real_kid_wrong_iss":
        return sign_own(header, dict(claims, iss="https://evil.example"))
    if kind == "own_rsa_key_real_rsa_kid":
        return sign_own({"alg": "RS256", "kid": rsa_key["kid"], "typ": "at+jwt"}, claims)
    if kind == "signature_stripped":
        return access.rsplit(".", 1)[0] + "."
    if kind == "signature_of_the_id_token":
        return access.rsplit(".", 1)[0] + "." + id_token.rsplit(".", 1)[1]
    if kind == "garbage":
        return "not-a-token"
    if kind == "id_token_as_access_token":
        return id_token
    if kind == "refresh_token_as_access_token":
        return genuine["refresh_token"]
    raise AssertionError(kind)


FORGERIES = ["alg_none", "alg_none_capitalised", "hs256_with_ec_public_pem", "hs256_with_rsa_public_pem",
             "hs256_with_public_jwk", "tampered_scope", "tampered_sub", "tampered_aud", "tampered_iss",
             "resigned_own_key_real_kid", "own_key_real_kid_wrong_aud", "own_key_real_kid_wrong_iss",
             "own_rsa_key_real_rsa_kid", "signature_stripped", "signature_of_the_id_token", "garbage"]
USERINFO_ONLY = ["id_token_as_access_token", "refresh_token_as_access_token"]


@pytest.mark.parametrize("kind", FORGERIES + USERINFO_ONLY)
def test_userinfo_refuses_forged_and_misused_tokens(oidc, genuine, kind):
    token = _forge(kind, oidc, genuine)
    assert_invalid_token(oidc.userinfo(token))
    assert_invalid_token(oidc.userinfo(token, method="POST"))


@pytest.mark.parametrize("kind", FORGERIES)
def test_introspection_says_forged_tokens_are_inactive(oidc, genuine, rp, kind):
    assert_inactive(oidc.introspect(rp, _forge(kind, oidc, genuine)))


def test_userinfo_without_a_token_asks_for_one(knot, oidc):
    answer = knot.client().get(oidc.config["userinfo_endpoint"])
    assert answer.status_code == 401
    assert answer.headers.get("WWW-Authenticate", "").startswith("Bearer")


def test_a_personal_api_token_is_no_access_token_and_the_reverse(knot, oidc, person, genuine):
    _, session = person
    created = session.post(f"{knot.url}/api/v1/identity/tokens",
                           json={"name": unique("neg"), "scope": "full", "expires_in_days": 1})
    assert created.status_code in (200, 201), created.text
    pat = pat_secret(created.json())
    assert_invalid_token(oidc.userinfo(pat))
    api = knot.client()
    assert api.get(f"{knot.url}/api/v1/users/me", headers={"Authorization": f"Bearer {pat}"}).status_code == 200
    # An access token is for its client (aud), not for Knot's API.
    answer = api.get(f"{knot.url}/api/v1/users/me", headers={"Authorization": f"Bearer {genuine['access_token']}"})
    assert answer.status_code == 401


def test_expired_access_token_is_refused(oidc, make_user):
    _, browser = make_user("short")
    client = oidc.register("short", access_token_seconds=1)
    tokens = oidc.tokens(browser, client, "openid")
    assert int(tokens["expires_in"]) <= 1
    _, claims = unverified(tokens["access_token"])
    assert claims["exp"] - claims["iat"] <= 1
    time.sleep(max(0.0, claims["exp"] - time.time()) + 1.5)
    assert_invalid_token(oidc.userinfo(tokens["access_token"]))
    assert_inactive(oidc.introspect(client, tokens["access_token"]))
    # Only the access token expired: the refresh token still gives a working one.
    renewed = oidc.refresh(client, tokens["refresh_token"])
    assert renewed.status_code == 200, renewed.text


# --- refresh and revocation misuse ----------------------------------------------------------

def test_refresh_token_reuse_is_invalid_grant(oidc, person, rp):
    _, browser = person
    tokens = oidc.tokens(browser, rp, "openid")
    rotated = oidc.refresh(rp, tokens["refresh_token"])
    assert rotated.status_code == 200
    assert_oauth_error(oidc.refresh(rp, tokens["refresh_token"]), 400, "invalid_grant")
    assert_oauth_error(oidc.refresh(rp, rotated.json()["refresh_token"]), 400, "invalid_grant")


def test_revoked_access_token_is_refused(oidc, person, rp):
    _, browser = person
    tokens = oidc.tokens(browser, rp, "openid")
    assert oidc.revoke(rp, tokens["access_token"]).status_code == 200
    assert_invalid_token(oidc.userinfo(tokens["access_token"]))
    assert_inactive(oidc.introspect(rp, tokens["access_token"]))


def test_revoked_refresh_token_is_invalid_grant(oidc, person, rp):
    _, browser = person
    tokens = oidc.tokens(browser, rp, "openid")
    assert oidc.revoke(rp, tokens["refresh_token"], hint="refresh_token").status_code == 200
    assert_oauth_error(oidc.refresh(rp, tokens["refresh_token"]), 400, "invalid_grant")
    assert_invalid_token(oidc.userinfo(tokens["access_token"]))  # the family went with it


def test_refresh_token_of_another_client_is_invalid_grant(oidc, person, rp, other_rp):
    _, browser = person
    tokens = oidc.tokens(browser, rp, "openid")
    assert_oauth_error(oidc.refresh(other_rp, tokens["refresh_token"]), 400, "invalid_grant")


def test_another_client_cannot_introspect_or_revoke_a_token(oidc, person, rp, other_rp):
    _, browser = person
    tokens = oidc.tokens(browser, rp, "openid")
    assert_inactive(oidc.introspect(other_rp, tokens["access_token"]))
    assert_inactive(oidc.introspect(other_rp, tokens["refresh_token"]))
    answer = oidc.revoke(other_rp, tokens["refresh_token"])
    assert answer.status_code in (200, 400, 403), answer.status_code
    # Whatever it was told, the owner's tokens live on.
    assert oidc.introspect(rp, tokens["access_token"]).json()["active"] is True
    assert oidc.refresh(rp, tokens["refresh_token"]).status_code == 200


# --- a deactivated person ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def deactivated(knot, oidc, admin, make_user):
    name, browser = make_user("gone")
    client = oidc.register("gone")
    online = oidc.tokens(browser, client, "openid")
    offline = oidc.tokens(browser, client, "openid offline_access")
    for tokens in (online, offline):
        assert oidc.userinfo(tokens["access_token"]).status_code == 200
    answer = admin.post(f"{knot.url}/api/v1/users/{name}/deactivate")
    assert answer.status_code == 200, answer.text
    return {"name": name, "browser": browser, "client": client, "online": online, "offline": offline}


@pytest.mark.parametrize("which", ["online", "offline"])
def test_deactivated_persons_refresh_tokens_die(oidc, deactivated, which):
    answer = oidc.refresh(deactivated["client"], deactivated[which]["refresh_token"])
    assert_oauth_error(answer, 400, "invalid_grant")


@pytest.mark.parametrize("which", ["online", "offline"])
def test_deactivated_persons_access_tokens_stop_working(oidc, deactivated, which):
    assert_invalid_token(oidc.userinfo(deactivated[which]["access_token"]))
    assert_inactive(oidc.introspect(deactivated["client"], deactivated[which]["access_token"]))


def test_deactivated_persons_browser_must_sign_in_again(oidc, deactivated):
    authz = oidc.authorize(deactivated["browser"], deactivated["client"], "openid")
    oidc.expect_login_page(authz)


def test_deactivated_person_cannot_sign_in(knot, deactivated):
    answer = knot.client().post(f"{knot.url}/auth/login", json={"username": deactivated["name"], "password": PASSWORD})
    assert answer.status_code == 403 and knot_error_code(answer) == "inactive"
    assert not session_cookie_set(answer)


# --- client authentication at the token endpoint -------------------------------------------------

CLIENT_AUTH_FAILURES = ["wrong_secret_basic", "wrong_secret_post", "unknown_client_basic", "unknown_client_post",
                        "no_secret", "empty_secret_basic", "other_clients_secret", "both_basic_and_post"]


@pytest.mark.parametrize("case", CLIENT_AUTH_FAILURES)
def test_token_endpoint_refuses_failed_client_authentication(knot, oidc, person, rp, other_rp, case):
    _, browser = person
    authz = oidc.authorize(browser, rp, "openid")
    oidc.expect_code(authz)
    grant = {"grant_type": "authorization_code", "code": authz.code, "redirect_uri": R, "code_verifier": authz.verifier}
    url, client = oidc.config["token_endpoint"], knot.client()
    basic = case.endswith("basic") or case == "other_clients_secret"
    if case == "wrong_secret_basic":
        answer = client.post(url, data=grant, auth=(rp.client_id, rp.client_secret + "x"))
    elif case == "wrong_secret_post":
        answer = client.post(url, data=dict(grant, client_id=rp.client_id, client_secret=rp.client_secret[:-1]))
    elif case == "unknown_client_basic":
        answer = client.post(url, data=grant, auth=("no-such-client", rp.client_secret))
    elif case == "unknown_client_post":
        answer = client.post(url, data=dict(grant, client_id="no-such-client", client_secret=rp.client_secret))
    elif case == "no_secret":
        answer = client.post(url, data=dict(grant, client_id=rp.client_id))
    elif case == "empty_secret_basic":
        answer = client.post(url, data=grant, auth=(rp.client_id, ""))
    elif case == "other_clients_secret":
        answer = client.post(url, data=grant, auth=(rp.client_id, other_rp.client_secret))
    else:  # RFC 6749 2.3: one method per request
        answer = client.post(url, data=dict(grant, client_id=rp.client_id, client_secret=rp.client_secret),
                             auth=(rp.client_id, rp.client_secret))
    if case == "both_basic_and_post":
        if answer.status_code == 401:
            assert_oauth_error(answer, 401, "invalid_client")
        else:
            assert_oauth_error(answer, 400, "invalid_request")
    else:
        assert_oauth_error(answer, 401, "invalid_client")
        if basic:
            assert answer.headers.get("WWW-Authenticate", "").lower().startswith("basic"), answer.headers
    # The code was not spent by a request that did not authenticate.
    assert oidc.exchange(rp, authz).status_code == 200


@pytest.mark.parametrize("how", ["post", "basic"])
def test_a_public_client_sending_a_secret_is_refused(knot, oidc, person, public_rp, how):
    _, browser = person
    authz = oidc.authorize(browser, public_rp, "openid")
    oidc.expect_code(authz)
    grant = {"grant_type": "authorization_code", "code": authz.code, "redirect_uri": R, "code_verifier": authz.verifier}
    url = oidc.config["token_endpoint"]
    if how == "post":
        answer = knot.client().post(url, data=dict(grant, client_id=public_rp.client_id, client_secret="guess"))
    else:
        answer = knot.client().post(url, data=grant, auth=(public_rp.client_id, "guess"))
    assert_oauth_error(answer, 401, "invalid_client")
    assert oidc.exchange(public_rp, authz).status_code == 200


def test_introspection_needs_client_authentication(knot, oidc, rp, genuine):
    url = oidc.config["introspection_endpoint"]
    answer = knot.client().post(url, data={"token": genuine["access_token"]})
    assert answer.status_code == 401
    assert "active" not in answer.text


def test_introspection_with_a_wrong_secret_is_401(knot, oidc, rp, genuine):
    url = oidc.config["introspection_endpoint"]
    answer = knot.client().post(url, data={"token": genuine["access_token"]}, auth=(rp.client_id, "wrong"))
    assert answer.status_code == 401
    assert "active" not in answer.text


@pytest.mark.parametrize("auth", [None, "wrong"], ids=["no_auth", "wrong_secret"])
def test_revocation_needs_client_authentication(knot, oidc, person, rp, auth):
    _, browser = person
    tokens = oidc.tokens(browser, rp, "openid")
    kwargs = {"auth": (rp.client_id, "wrong")} if auth else {}
    answer = knot.client().post(oidc.config["revocation_endpoint"], data={"token": tokens["refresh_token"]}, **kwargs)
    assert answer.status_code == 401
    assert oidc.introspect(rp, tokens["refresh_token"]).json()["active"] is True  # nothing changed


# --- grant types, response types, scopes ------------------------------------------------------------

@pytest.mark.parametrize("grant_type", ["password", "urn:ietf:params:oauth:grant-type:jwt-bearer",
                                        "urn:ietf:params:oauth:grant-type:device_code", "implicit"])
def test_unsupported_grant_types(oidc, person, rp, grant_type):
    name, _ = person
    answer = oidc.token(rp, {"grant_type": grant_type, "username": name, "password": PASSWORD, "scope": "openid"})
    assert_oauth_error(answer, 400, "unsupported_grant_type")


def test_missing_grant_type_is_invalid_request(oidc, rp):
    assert_oauth_error(oidc.token(rp, {"scope": "openid"}), 400, "invalid_request")


def test_client_credentials_for_a_client_not_registered_for_it(oidc, rp):
    assert_oauth_error(oidc.token(rp, {"grant_type": "client_credentials"}), 400, "unauthorized_client")


@pytest.mark.parametrize("response_type", ["token", "id_token", "code id_token", "code token", "id_token token",
                                           "none"])
def test_unsupported_response_types(oidc, person, rp, response_type):
    _, browser = person
    authz = oidc.authorize(browser, rp, "openid", response_type=response_type)
    params = oidc.expect_redirect_error(authz, "unsupported_response_type")
    assert "access_token" not in params and "id_token" not in params


def test_missing_response_type_is_invalid_request(oidc, person, rp):
    _, browser = person
    oidc.expect_redirect_error(oidc.authorize(browser, rp, "openid", drop=("response_type",)), "invalid_request")


@pytest.mark.parametrize("mode", ["fragment", "form_post"])
def test_response_modes_other_than_query_are_refused(oidc, person, rp, mode):
    _, browser = person
    oidc.expect_redirect_error(oidc.authorize(browser, rp, "openid", response_mode=mode), "invalid_request")


@pytest.fixture(scope="module")
def narrow_rp(oidc):
    return oidc.register("narrow", scopes=["openid", "profile"], grant_types=["authorization_code", "refresh_token",
                                                                               "client_credentials"])


@pytest.mark.parametrize("scope", ["openid email", "openid offline_access", "openid profile knot"])
def test_scope_not_allowed_for_the_client_is_invalid_scope(oidc, person, narrow_rp, scope):
    _, browser = person
    oidc.expect_redirect_error(oidc.authorize(browser, narrow_rp, scope), "invalid_scope")


def test_client_credentials_with_a_scope_not_allowed_is_invalid_scope(oidc, narrow_rp):
    assert_oauth_error(oidc.token(narrow_rp, {"grant_type": "client_credentials", "scope": "groups"}),
                       400, "invalid_scope")


def test_refresh_cannot_widen_the_scope(oidc, person, rp):
    _, browser = person
    tokens = oidc.tokens(browser, rp, "openid")
    assert_oauth_error(oidc.refresh(rp, tokens["refresh_token"], scope="openid profile email"), 400, "invalid_scope")


# --- CSRF ----------------------------------------------------------------------------------------------

LOGIN_CSRF_CASES = ["missing", "forged", "another_browsers", "no_cookie", "empty"]


@pytest.mark.parametrize("case", LOGIN_CSRF_CASES)
def test_login_form_without_a_matching_csrf_token_is_403(knot, person, case):
    name, _ = person
    browser, form = login_page(knot)
    data = dict(form.fields, username=name, password=PASSWORD, next="/")
    if case == "missing":
        del data["csrf"]
    elif case == "forged":
        data["csrf"] = "A" * len(data["csrf"])
    elif case == "another_browsers":
        _, theirs = login_page(knot)
        data["csrf"] = theirs.fields["csrf"]
    elif case == "no_cookie":
        browser.cookies.clear()
    else:
        data["csrf"] = ""
    answer = browser.post(f"{knot.url}/auth/login", data=data, allow_redirects=False)
    assert answer.status_code == 403, (answer.status_code, answer.text[:300])
    assert not session_cookie_set(answer)
    assert browser.get(f"{knot.url}/api/v1/users/me").status_code == 401


def test_login_form_with_its_csrf_token_signs_in(knot, person):
    name, _ = person
    browser, answer = form_login(knot, name, PASSWORD, next_url="/")
    assert answer.status_code in (302, 303), answer.text[:300]
    assert session_cookie_set(answer)
    assert browser.get(f"{knot.url}/api/v1/users/me").status_code == 200


def test_json_login_sent_as_a_simple_cross_site_request_is_refused(knot, person):
    name, _ = person
    answer = knot.client().post(f"{knot.url}/auth/login", data=json.dumps({"username": name, "password": PASSWORD}),
                                headers={"Content-Type": "text/plain"})
    assert answer.status_code in (403, 415), answer.status_code
    assert not session_cookie_set(answer)


@pytest.fixture(scope="module")
def consenting(oidc, make_user):
    name, browser = make_user("csrfc")
    return name, browser, oidc.register("csrfc", first_party=False)


@pytest.mark.parametrize("case", ["missing", "forged", "another_browsers"])
def test_consent_form_without_a_matching_csrf_token_is_403(knot, oidc, consenting, case):
    name, browser, client = consenting
    authz = oidc.authorize(browser, client, "openid profile")
    action, data = consent_choice(authz.response.text, allow=True)
    if case == "missing":
        del data["csrf"]
    elif case == "forged":
        data["csrf"] = "A" * len(data["csrf"])
    else:  # the same person's other browser has a csrf cookie of its own
        other = knot.login(name, PASSWORD)
        theirs = oidc.authorize(other, client, "openid profile")
        data["csrf"] = csrf_form(theirs.response.text).fields["csrf"]
    answer = browser.post(urljoin(authz.response.url, action), data=data, allow_redirects=False)
    assert answer.status_code == 403, (answer.status_code, answer.headers.get("Location"))
    assert "code=" not in answer.headers.get("Location", "")
    # No consent was recorded.
    oidc.expect_redirect_error(oidc.authorize(browser, client, "openid profile", prompt="none"), "consent_required")


# --- brute force -------------------------------------------------------------------------------------------

def _throttled(answer):
    assert answer.status_code == 429, (answer.status_code, answer.text[:300])
    assert knot_error_code(answer) == "too_many_attempts"
    assert int(answer.headers["Retry-After"]) >= 1
    assert not session_cookie_set(answer)


def test_sixth_login_after_five_failures_is_throttled_even_with_the_right_password(knot, make_user):
    name, _ = make_user("brute")
    client, url = knot.client(), f"{knot.url}/auth/login"
    for _ in range(5):
        wrong = client.post(url, json={"username": name, "password": "not the password at all"})
        assert wrong.status_code == 401 and knot_error_code(wrong) == "invalid_credentials"
    _throttled(client.post(url, json={"username": name, "password": PASSWORD}))


def test_an_unknown_account_is_throttled_alike(knot):
    name = unique("ghost")
    client, url = knot.client(), f"{knot.url}/auth/login"
    for _ in range(5):
        wrong = client.post(url, json={"username": name, "password": "not the password at all"})
        assert wrong.status_code == 401 and knot_error_code(wrong) == "invalid_credentials"
    _throttled(client.post(url, json={"username": name, "password": PASSWORD}))


# --- method, size, duplicates ----------------------------------------------------------------------------

def test_token_endpoint_refuses_get(knot, oidc, person, rp):
    _, browser = person
    authz = oidc.authorize(browser, rp, "openid")
    oidc.expect_code(authz)
    answer = knot.client().get(oidc.config["token_endpoint"], auth=(rp.client_id, rp.client_secret), params={
        "grant_type": "authorization_code", "code": authz.code, "redirect_uri": R, "code_verifier": authz.verifier})
    assert answer.status_code == 405
    assert "access_token" not in answer.text
    assert oidc.exchange(rp, authz).status_code == 200  # the GET did nothing with the code


BIG = "a" * 10_240
OVERSIZED = "a" * 5_000


@pytest.mark.parametrize("name", ["state", "redirect_uri"])
def test_authorize_with_an_oversized_parameter_is_400(oidc, person, rp, name):
    _, browser = person
    # Over identity's 4 KiB per parameter, under the edge's 8 KiB per address.
    value = R + "?" + OVERSIZED if name == "redirect_uri" else OVERSIZED
    assert_error_page(oidc.authorize(browser, rp, "openid", **{name: value}).response)


def test_an_authorization_address_over_8_kib_is_refused_at_the_edge(oidc, person, rp):
    _, browser = person
    answer = oidc.authorize(browser, rp, "openid", state=BIG).response
    assert answer.status_code == 414 and "Location" not in answer.headers


@pytest.mark.parametrize("name", ["nonce", "scope", "code_challenge"])
def test_authorize_with_an_oversized_parameter_is_refused(oidc, person, rp, name):
    _, browser = person
    params = {"scope": "openid " + OVERSIZED} if name == "scope" else {"scope": "openid", name: OVERSIZED}
    answer = oidc.authorize(browser, rp, **params).response
    if answer.status_code == 400:
        assert_error_page(answer)
    else:
        assert answer.status_code in (302, 303)
        params = params_of(answer.headers["Location"])
        assert base_of(answer.headers["Location"]) == R
        assert params.get("error") in ("invalid_request", "invalid_scope") and "code" not in params, params


@pytest.mark.parametrize("name", ["code", "code_verifier", "redirect_uri"])
def test_token_request_with_an_oversized_parameter_is_400(oidc, person, rp, name):
    _, browser = person
    authz = oidc.authorize(browser, rp, "openid")
    oidc.expect_code(authz)
    value = R + "?" + BIG if name == "redirect_uri" else BIG
    assert_oauth_error(oidc.exchange(rp, authz, **{name: value}), 400, "invalid_request", "invalid_grant")


DUPLICATED_AUTHORIZE = ["client_id", "redirect_uri", "scope", "state", "response_type", "code_challenge"]


@pytest.mark.parametrize("name", DUPLICATED_AUTHORIZE)
def test_authorize_with_a_duplicated_parameter_is_invalid_request(oidc, person, rp, other_rp, name):
    _, browser = person
    params = {"client_id": rp.client_id, "redirect_uri": R, "response_type": "code", "scope": "openid",
              "state": "first-state", "nonce": "n", "code_challenge": create_s256_code_challenge("v" * 43),
              "code_challenge_method": "S256"}
    second = {"client_id": other_rp.client_id, "redirect_uri": "https://evil.example/cb", "scope": "openid profile",
              "state": "second-state", "response_type": "code",
              "code_challenge": create_s256_code_challenge("w" * 43)}[name]
    query = list(params.items()) + [(name, second)]
    answer = browser.get(oidc.config["authorization_endpoint"], params=query, allow_redirects=False)
    location = answer.headers.get("Location", "")
    assert "evil.example" not in location
    if name in ("client_id", "redirect_uri") or answer.status_code == 400:
        assert_error_page(answer)  # whom to tell is itself in doubt
    else:
        assert answer.status_code in (302, 303) and base_of(location) == R, (answer.status_code, location)
        assert params_of(location).get("error") == "invalid_request" and "code" not in params_of(location)


@pytest.mark.parametrize("name", ["grant_type", "code", "redirect_uri", "code_verifier"])
def test_token_request_with_a_duplicated_parameter_is_invalid_request(oidc, person, rp, name):
    _, browser = person
    authz = oidc.authorize(browser, rp, "openid")
    oidc.expect_code(authz)
    data = {"grant_type": "authorization_code", "code": authz.code, "redirect_uri": R, "code_verifier": authz.verifier}
    body = list(data.items()) + [(name, data[name])]
    assert_oauth_error(oidc.token(rp, body), 400, "invalid_request")


# --- end session ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("target", ["https://evil.example/logged-out", "https://app.example.test/other-logged-out",
                                    POST_LOGOUT_URI + "/x"],
                         ids=["unregistered", "another_clients", "longer"])
def test_end_session_never_redirects_to_an_unregistered_uri(knot, oidc, make_user, rp, other_rp, target):
    _, browser = make_user("lo")
    tokens = oidc.tokens(browser, rp, "openid")
    answer = browser.get(oidc.config["end_session_endpoint"], allow_redirects=False, params={
        "id_token_hint": tokens["id_token"], "post_logout_redirect_uri": target, "state": "s"})
    location = answer.headers.get("Location")
    if location:
        assert not urljoin(knot.url, location).startswith(target), location
        assert urlsplit(urljoin(knot.url, location)).netloc != "evil.example", location
    assert answer.status_code < 500


# --- the admin API ------------------------------------------------------------------------------------------

def test_only_an_admin_registers_clients(knot, admin, person):
    _, session = person
    client_id = unique("sneaky")
    answer = session.post(f"{knot.url}/api/v1/identity/clients", json={"client_id": client_id, "name": "x",
                                                                         "redirect_uris": [R]})
    assert answer.status_code == 403
    assert "client_secret" not in answer.text
    assert admin.get(f"{knot.url}/api/v1/identity/clients/{client_id}").status_code == 404


def test_only_an_admin_rotates_keys(knot, oidc, person):
    _, session = person
    before = {k["kid"] for k in oidc.jwks()["keys"]}
    assert session.post(f"{knot.url}/api/v1/identity/keys/rotate").status_code == 403
    assert {k["kid"] for k in oidc.jwks()["keys"]} == before


BAD_REGISTERED_URIS = {
    "http_not_loopback": "http://app.example.test/cb",
    "fragment": R + "#frag",
    "relative": "/cb",
    "too_long": "https://app.example.test/" + "a" * 2100,
    "javascript": "javascript:alert(1)",
    "wildcard": "https://*.example.test/cb",
}


@pytest.mark.parametrize("uri", BAD_REGISTERED_URIS.values(), ids=BAD_REGISTERED_URIS.keys())
def test_registration_refuses_bad_redirect_uris(knot, admin, uri):
    client_id = unique("badreg")
    answer = admin.post(f"{knot.url}/api/v1/identity/clients",
                        json={"client_id": client_id, "name": "bad", "redirect_uris": [uri]})
    assert answer.status_code == 400, (answer.status_code, answer.text[:300])
    assert admin.get(f"{knot.url}/api/v1/identity/clients/{client_id}").status_code == 404


def test_registration_accepts_http_on_loopback(knot, admin):
    client_id = unique("loop")
    answer = admin.post(f"{knot.url}/api/v1/identity/clients",
                        json={"client_id": client_id, "name": "native", "public": True,
                              "redirect_uris": ["http://127.0.0.1:8765/cb"]})
    assert answer.status_code == 201, answer.text
