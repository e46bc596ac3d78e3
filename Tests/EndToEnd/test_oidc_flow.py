"""Knot's OpenID Connect provider with a real relying party (docs/identity.md).

authlib's OAuth2Session does the relying party's part (authorization URL
with PKCE S256, code redemption, refresh, revocation, introspection,
client credentials), joserfc checks every JWT against the published keys,
and a `requests` session holding the Knot cookie plays the browser without
following redirects, so each hop is read. Every client is registered through
the admin API with an id of its own; every person is new.
"""
import json
import secrets
import time
from authlib.oidc.discovery import OpenIDProviderMetadata
from joserfc import jwt

from oidc_helpers import oidc  # noqa: F401  (the fixture)
from oidc_helpers import (ALL_SCOPES, PASSWORD, POST_LOGOUT_URI, UUID_RE, assert_inactive, assert_invalid_token,
                          assert_oauth_error, base_of, cache_seconds, csrf_form, is_number, new_verifier, params_of, pat_secret,
                          session_value, unverified, wait_until, with_cookie)


def me(knot):
    return f"{knot.url}/api/v1/users/me"


# --- discovery and keys ------------------------------------------------------------

def test_discovery_names_the_issuer_and_every_endpoint(knot, oidc):
    config = oidc.config
    assert config["issuer"] == knot.url
    OpenIDProviderMetadata(config).validate()  # OIDC Discovery 1.0 / RFC 8414, as authlib reads it
    for name, path in {
        "authorization_endpoint": "/auth/oidc/authorize",
        "token_endpoint": "/auth/oidc/token",
        "userinfo_endpoint": "/auth/oidc/userinfo",
        "jwks_uri": "/.well-known/jwks.json",
        "revocation_endpoint": "/auth/oidc/revoke",
        "introspection_endpoint": "/auth/oidc/introspect",
        "end_session_endpoint": "/auth/oidc/logout",
    }.items():
        assert config[name] == knot.url + path, (name, config.get(name))
    assert config["response_types_supported"] == ["code"]
    assert "public" in config["subject_types_supported"]
    assert {"RS256", "ES256"} <= set(config["id_token_signing_alg_values_supported"])
    assert "none" not in config["id_token_signing_alg_values_supported"]
    # Optional members, but when published they must tell the truth.
    if "code_challenge_methods_supported" in config:
        assert config["code_challenge_methods_supported"] == ["S256"]
    if "grant_types_supported" in config:
        assert {"authorization_code", "refresh_token", "client_credentials"} <= set(config["grant_types_supported"])
        assert not {"implicit", "password"} & set(config["grant_types_supported"])
    if "scopes_supported" in config:
        assert set(ALL_SCOPES) <= set(config["scopes_supported"])
    if "token_endpoint_auth_methods_supported" in config:
        assert {"client_secret_basic", "client_secret_post"} <= set(config["token_endpoint_auth_methods_supported"])
    if "response_modes_supported" in config:
        assert config["response_modes_supported"] == ["query"]
    # The same document at the issuer's well-known address is what a client finds from `iss`.
    again = knot.client().get(f"{config['issuer']}/.well-known/openid-configuration")
    assert again.status_code == 200 and again.json()["issuer"] == knot.url


def test_jwks_publishes_public_rs256_and_es256_keys_only(oidc):
    keys = oidc.jwks()["keys"]
    kids = [k["kid"] for k in keys]
    assert len(kids) == len(set(kids)), kids
    assert any(k["kty"] == "RSA" and k.get("alg", "RS256") == "RS256" for k in keys), keys
    assert any(k["kty"] == "EC" and k["crv"] == "P-256" and k.get("alg", "ES256") == "ES256" for k in keys), keys
    for key in keys:
        assert not {"d", "p", "q", "dp", "dq", "qi", "k"} & set(key), f"private material published: {key['kid']}"
        assert key.get("use", "sig") == "sig", key


# --- the code flow -------------------------------------------------------------

def test_code_flow_with_pkce_id_token_and_userinfo(knot, oidc, make_user):
    name, browser = make_user("oidc")
    client = oidc.register("flow")
    rp = oidc.rp(client, scope="openid profile email")
    nonce, verifier = secrets.token_urlsafe(16), new_verifier()
    url, state = rp.create_authorization_url(oidc.config["authorization_endpoint"], nonce=nonce,
                                             code_verifier=verifier)
    query = params_of(url)
    assert query["code_challenge_method"] == "S256" and query["code_challenge"]

    answer = browser.get(url, allow_redirects=False)
    assert answer.status_code in (302, 303), answer.text[:300]
    location = answer.headers["Location"]
    assert base_of(location) == client.redirect_uri
    assert params_of(location)["state"] == state
    # authlib checks the state and redeems the code with the verifier and client_secret_basic.
    token = rp.fetch_token(authorization_response=location, state=state, code_verifier=verifier)
    assert token["token_type"].lower() == "bearer"
    assert 0 < int(token["expires_in"]) <= int(knot.env.get("KNOT_OIDC_ACCESS_TOKEN_SECONDS", "600"))
    assert token["refresh_token"].startswith("knot_rt_")
    if "scope" in token:
        assert set(token["scope"].split()) == {"openid", "profile", "email"}

    header, claims = oidc.validate_id_token(token["id_token"], client, nonce=nonce,
                                            access_token=token["access_token"], alg="RS256")
    assert claims["preferred_username"] == name
    assert claims["name"] == name.title()
    assert claims["email"] == f"{name}@example.org"
    assert isinstance(claims["email_verified"], bool)
    assert claims["sid"]
    assert "groups" not in claims and "knot_namespace" not in claims  # not asked for

    at_header, at_claims = oidc.validate_access_token(token["access_token"], client.client_id)
    assert at_claims["sub"] == claims["sub"]
    assert set(at_claims["scope"].split()) == {"openid", "profile", "email"}
    assert at_claims["auth_time"] == claims["auth_time"]

    # Userinfo: GET and POST with the bearer header, and POST with the token in the form.
    for answer in (rp.get(oidc.config["userinfo_endpoint"]), rp.post(oidc.config["userinfo_endpoint"]),
                   oidc.userinfo(token["access_token"], in_body=True)):
        assert answer.status_code == 200, answer.text
        info = answer.json()
        assert info["sub"] == claims["sub"]
        assert info["preferred_username"] == name and info["email"] == f"{name}@example.org"
        assert "groups" not in info and "knot_namespace" not in info
    # The subject is the person's stable id.
    account = browser.get(me(knot)).json()
    if "id" in account:
        assert str(account["id"]).lower() == claims["sub"]


def test_token_answers_are_not_cached(oidc, make_user):
    _, browser = make_user("nostore")
    client = oidc.register("nostore")
    authz = oidc.authorize(browser, client, "openid")
    oidc.expect_code(authz)
    answer = oidc.exchange(client, authz)
    assert answer.status_code == 200
    assert "no-store" in answer.headers.get("Cache-Control", "")  # RFC 6749 5.1
    assert answer.headers["Content-Type"].startswith("application/json")


def test_userinfo_gives_only_what_the_scopes_allow(oidc, make_user):
    _, browser = make_user("scoped")
    client = oidc.register("scoped")
    token = oidc.tokens(browser, client, "openid")
    info = oidc.userinfo(token["access_token"])
    assert info.status_code == 200
    assert UUID_RE.match(info.json()["sub"])
    assert not {"preferred_username", "email", "name", "groups", "knot_namespace"} & set(info.json()), info.json()


# --- refresh, revocation, introspection ----------------------------------------

def test_refresh_rotates_and_reuse_revokes_the_family(oidc, make_user):
    _, browser = make_user("rot")
    client = oidc.register("rotate")
    first = oidc.tokens(browser, client, "openid profile")
    _, first_claims = oidc.validate_id_token(first["id_token"], client, nonce=first["authz"].nonce)

    rp = oidc.rp(client, scope=None)
    second = rp.refresh_token(refresh_token=first["refresh_token"])
    assert second["refresh_token"].startswith("knot_rt_")
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    if "id_token" in second:
        _, claims = oidc.validate_id_token(second["id_token"], client, access_token=second["access_token"])
        assert claims["sub"] == first_claims["sub"]
    for token in (second["refresh_token"], second["access_token"]):
        assert oidc.introspect(client, token).json()["active"] is True

    # The rotated-out token comes back: refused, and the whole family dies.
    assert_oauth_error(oidc.refresh(client, first["refresh_token"]), 400, "invalid_grant")
    for token in (second["refresh_token"], second["access_token"], first["access_token"]):
        assert_inactive(oidc.introspect(client, token))
    assert_oauth_error(oidc.refresh(client, second["refresh_token"]), 400, "invalid_grant")
    assert_invalid_token(oidc.userinfo(second["access_token"]))


def test_a_successful_refresh_answers_like_the_token_endpoint(oidc, make_user):
    _, browser = make_user("refr")
    client = oidc.register("refresh")
    first = oidc.tokens(browser, client, "openid")
    answer = oidc.refresh(client, first["refresh_token"])
    assert answer.status_code == 200, answer.text
    assert "no-store" in answer.headers.get("Cache-Control", "")
    body = answer.json()
    oidc.validate_access_token(body["access_token"], client.client_id)
    assert oidc.userinfo(body["access_token"]).status_code == 200


def test_introspection_and_revocation(oidc, make_user):
    name, browser = make_user("intro")
    client = oidc.register("introspect")
    token = oidc.tokens(browser, client, "openid profile")
    _, id_claims = oidc.validate_id_token(token["id_token"], client, nonce=token["authz"].nonce)
    rp = oidc.rp(client, scope=None)

    answer = rp.introspect_token(oidc.config["introspection_endpoint"], token=token["access_token"],
                                 token_type_hint="access_token")
    assert answer.status_code == 200, answer.text
    info = answer.json()
    assert info["active"] is True
    assert info["sub"] == id_claims["sub"]
    assert info["client_id"] == client.client_id
    assert set(info["scope"].split()) == {"openid", "profile"}
    assert is_number(info["exp"]) and info["exp"] > time.time()
    if "iss" in info:
        assert info["iss"] == oidc.knot.url
    if "username" in info:
        assert info["username"] == name
    refresh_info = oidc.introspect(client, token["refresh_token"], hint="refresh_token").json()
    assert refresh_info["active"] is True and refresh_info["client_id"] == client.client_id

    # Revoking the access token revokes that token only.
    revoked = rp.revoke_token(oidc.config["revocation_endpoint"], token=token["access_token"],
                              token_type_hint="access_token")
    assert revoked.status_code == 200, revoked.text
    assert_inactive(oidc.introspect(client, token["access_token"]))
    assert_invalid_token(oidc.userinfo(token["access_token"]))
    assert oidc.introspect(client, token["refresh_token"]).json()["active"] is True

    # Revoking a refresh token revokes its family.
    renewed = oidc.refresh(client, token["refresh_token"])
    assert renewed.status_code == 200, renewed.text
    renewed = renewed.json()
    assert oidc.userinfo(renewed["access_token"]).status_code == 200
    revoked = rp.revoke_token(oidc.config["revocation_endpoint"], token=renewed["refresh_token"],
                              token_type_hint="refresh_token")
    assert revoked.status_code == 200, revoked.text
    assert_inactive(oidc.introspect(client, renewed["refresh_token"]))
    assert_inactive(oidc.introspect(client, renewed["access_token"]))
    assert_oauth_error(oidc.refresh(client, renewed["refresh_token"]), 400, "invalid_grant")
    assert_invalid_token(oidc.userinfo(renewed["access_token"]))

    # RFC 7009 2.2: an unknown token is answered 200 all the same.
    assert rp.revoke_token(oidc.config["revocation_endpoint"], token="no-such-token").status_code == 200


def test_a_resource_server_may_introspect_any_token(oidc, make_user):
    _, browser = make_user("rs")
    client = oidc.register("owner")
    resource_server = oidc.register("resource", grant_types=["client_credentials"], introspect_any=True)
    bystander = oidc.register("bystander", grant_types=["client_credentials"])
    token = oidc.tokens(browser, client, "openid")
    info = oidc.introspect(resource_server, token["access_token"]).json()
    assert info["active"] is True and info["client_id"] == client.client_id
    assert_inactive(oidc.introspect(bystander, token["access_token"]))


# --- logout ------------------------------------------------------------------------

def test_end_session_redirects_with_state_and_ends_the_browser_session(knot, oidc, make_user):
    _, browser = make_user("bye")
    client = oidc.register("logout")
    token = oidc.tokens(browser, client, "openid")
    cookie = session_value(browser)
    assert with_cookie(knot, cookie).get(me(knot)).status_code == 200

    state = secrets.token_urlsafe(12)
    answer = browser.get(oidc.config["end_session_endpoint"], allow_redirects=False, params={
        "id_token_hint": token["id_token"], "post_logout_redirect_uri": POST_LOGOUT_URI, "state": state})
    assert answer.status_code in (302, 303), (answer.status_code, answer.text[:300])
    location = answer.headers["Location"]
    assert base_of(location) == POST_LOGOUT_URI, location
    assert params_of(location) == {"state": state}, location

    # The session is gone on the server, not only from this browser's jar.
    wait_until(lambda: with_cookie(knot, cookie).get(me(knot)).status_code == 401, cache_seconds(knot),
               "the ended session is refused at the API")
    assert browser.get(me(knot)).status_code == 401
    oidc.expect_login_page(oidc.authorize(with_cookie(knot, cookie), client, "openid"))
    # Its refresh token (no offline_access) died with it.
    assert_oauth_error(oidc.refresh(client, token["refresh_token"]), 400, "invalid_grant")


def test_offline_access_outlives_logout_and_the_session_bound_token_does_not(knot, oidc, make_user):
    _, browser = make_user("off")
    client = oidc.register("offline")
    offline = oidc.tokens(browser, client, "openid offline_access")
    online = oidc.tokens(browser, client, "openid")
    if "scope" in offline:
        assert "offline_access" in offline["scope"].split()
    # Both work while the session lives (and each rotates).
    online_rt = oidc.refresh(client, online["refresh_token"])
    offline_rt = oidc.refresh(client, offline["refresh_token"])
    assert online_rt.status_code == 200 and offline_rt.status_code == 200
    online_rt, offline_rt = online_rt.json()["refresh_token"], offline_rt.json()["refresh_token"]

    cookie = session_value(browser)
    ended = browser.post(f"{knot.url}/auth/logout", json={})
    assert ended.status_code in (200, 204), ended.text
    wait_until(lambda: with_cookie(knot, cookie).get(me(knot)).status_code == 401, cache_seconds(knot),
               "the session ended")

    assert_oauth_error(oidc.refresh(client, online_rt), 400, "invalid_grant")
    survived = oidc.refresh(client, offline_rt)
    assert survived.status_code == 200, survived.text
    info = oidc.userinfo(survived.json()["access_token"])
    assert info.status_code == 200
    assert info.json()["sub"] == unverified(offline["id_token"])[1]["sub"]


# --- client credentials ------------------------------------------------------------------

def test_client_credentials_token_is_the_clients_own(oidc):
    client = oidc.register("machine", grant_types=["client_credentials"])
    rp = oidc.rp(client, scope=None)
    token = rp.fetch_token(grant_type="client_credentials")
    assert token["token_type"].lower() == "bearer"
    assert "refresh_token" not in token and "id_token" not in token
    _, claims = oidc.validate_access_token(token["access_token"], client.client_id)
    assert claims["sub"] == client.client_id
    assert not {"preferred_username", "email", "name", "groups", "knot_namespace", "knot_username"} & set(claims), claims
    info = oidc.introspect(client, token["access_token"]).json()
    assert info["active"] is True
    assert info["sub"] == client.client_id and info["client_id"] == client.client_id


# --- consent and prompt ----------------------------------------------------------------------

def test_consent_screen_allow_is_remembered_until_the_scopes_grow(oidc, make_user):
    _, browser = make_user("cons")
    client = oidc.register("third", first_party=False)
    authz = oidc.authorize(browser, client, "openid profile email")
    page = authz.response
    assert page.status_code == 200, (page.status_code, page.headers.get("Location"))
    assert "Location" not in page.headers
    assert page.headers["Content-Type"].startswith("text/html")
    assert "mail" in page.text.lower()  # the scopes are listed (by name or in words)
    answer = oidc.consent(browser, authz, allow=True)
    allowed = authz.then(answer)
    oidc.expect_code(allowed)
    token = oidc.exchange(client, allowed)
    assert token.status_code == 200, token.text
    oidc.validate_id_token(token.json()["id_token"], client, nonce=authz.nonce,
                           access_token=token.json()["access_token"])

    # Remembered: the same scopes go straight back to the client.
    oidc.expect_code(oidc.authorize(browser, client, "openid profile email"))
    oidc.expect_code(oidc.authorize(browser, client, "openid email"))
    # More scopes: asked again.
    grown = oidc.authorize(browser, client, "openid profile email groups")
    assert grown.response.status_code == 200 and "Location" not in grown.response.headers
    assert "group" in grown.response.text.lower()


def test_consent_screen_deny_sends_access_denied(oidc, make_user):
    _, browser = make_user("deny")
    client = oidc.register("denied", first_party=False)
    authz = oidc.authorize(browser, client, "openid profile")
    answer = oidc.consent(browser, authz, allow=False)
    oidc.expect_redirect_error(authz.then(answer), "access_denied")
    # Nothing was remembered: the next request asks again.
    again = oidc.authorize(browser, client, "openid profile")
    assert again.response.status_code == 200 and "Location" not in again.response.headers


def test_prompt_none_and_prompt_login(knot, oidc, make_user):
    _, browser = make_user("prompt")
    first_party = oidc.register("prompt")
    third_party = oidc.register("prompt3", first_party=False)
    # With a session and nothing to ask: a code, no page.
    oidc.expect_code(oidc.authorize(browser, first_party, "openid", prompt="none"))
    # Without a session: login_required, sent to the client rather than to the login page.
    oidc.expect_redirect_error(oidc.authorize(knot.client(), first_party, "openid", prompt="none"), "login_required")
    # Consent not given yet: consent_required.
    oidc.expect_redirect_error(oidc.authorize(browser, third_party, "openid", prompt="none"), "consent_required")
    # prompt=login asks for the password again even with a fresh session.
    oidc.expect_login_page(oidc.authorize(browser, first_party, "openid", prompt="login"), inline_ok=True)
    # Without a session the browser is sent to sign in, and comes back to this very request.
    authz = oidc.authorize(knot.client(), first_party, "openid")
    oidc.expect_login_page(authz)
    back = params_of(authz.location)["next"]
    assert back.startswith(oidc.config["authorization_endpoint"]) or back.startswith("/auth/oidc/authorize")
    assert params_of(back)["state"] == authz.state


def test_signing_in_through_the_login_form_comes_back_with_a_code(knot, oidc, make_user):
    name, _ = make_user("form")
    client = oidc.register("formlogin")
    browser = knot.client()
    authz = oidc.authorize(browser, client, "openid")
    oidc.expect_login_page(authz)
    page = browser.get(authz.location)
    assert page.status_code == 200
    form = csrf_form(page.text)
    answer = browser.post(f"{knot.url}/auth/login", allow_redirects=False,
                          data=dict(form.fields, username=name, password=PASSWORD))
    assert answer.status_code in (302, 303), answer.text[:300]
    again = browser.get(answer.headers["Location"], allow_redirects=False)
    final = authz.then(again)
    oidc.expect_code(final)
    token = oidc.exchange(client, final)
    assert token.status_code == 200, token.text


# --- signing algorithms and claims -------------------------------------------------------------

def test_es256_id_tokens_for_a_client_that_asks(oidc, make_user):
    _, browser = make_user("es")
    client = oidc.register("es256", id_token_signed_response_alg="ES256")
    token = oidc.tokens(browser, client, "openid")
    header, _ = oidc.validate_id_token(token["id_token"], client, nonce=token["authz"].nonce,
                                       access_token=token["access_token"], alg="ES256")
    key = next(k for k in oidc.jwks()["keys"] if k["kid"] == header["kid"])
    assert key["kty"] == "EC" and key["crv"] == "P-256"
    # The default stays RS256.
    default = oidc.register("rs256")
    header, _ = oidc.validate_id_token(oidc.tokens(browser, default, "openid")["id_token"], default, alg="RS256")
    key = next(k for k in oidc.jwks()["keys"] if k["kid"] == header["kid"])
    assert key["kty"] == "RSA"


def test_knot_claims_in_userinfo_and_in_the_id_token_when_asked(oidc, make_user):
    name, browser = make_user("kc")
    client = oidc.register("knotclaims")
    token = oidc.tokens(browser, client, "openid knot")
    info = oidc.userinfo(token["access_token"]).json()
    assert info["knot_namespace"] == f"knot-{name}"
    assert info["knot_username"] == name
    for claim in ("knot_private_dir", "knot_shared_dir", "knot_ingress_url"):
        assert isinstance(info[claim], str) and info[claim], (claim, info)
    _, claims = oidc.validate_id_token(token["id_token"], client, nonce=token["authz"].nonce)
    assert "knot_namespace" not in claims  # not asked for in the ID token

    asked = oidc.tokens(browser, client, "openid knot",
                        claims=json.dumps({"id_token": {"knot_namespace": None, "knot_username": None}}))
    _, claims = oidc.validate_id_token(asked["id_token"], client, nonce=asked["authz"].nonce,
                                       access_token=asked["access_token"])
    assert claims["knot_namespace"] == f"knot-{name}" and claims["knot_username"] == name

    registered = oidc.register("knotid", knot_claims_in_id_token=True)
    token = oidc.tokens(browser, registered, "openid knot")
    _, claims = oidc.validate_id_token(token["id_token"], registered, nonce=token["authz"].nonce)
    assert claims["knot_namespace"] == f"knot-{name}"


def test_groups_say_admin_for_the_admin_only(oidc, admin, make_user):
    client = oidc.register("groups")
    token = oidc.tokens(admin, client, "openid groups")
    _, claims = oidc.validate_id_token(token["id_token"], client, nonce=token["authz"].nonce)
    assert "admin" in claims["groups"]
    assert "admin" in oidc.userinfo(token["access_token"]).json()["groups"]

    _, browser = make_user("grp")
    token = oidc.tokens(browser, client, "openid groups")
    _, claims = oidc.validate_id_token(token["id_token"], client, nonce=token["authz"].nonce)
    assert isinstance(claims["groups"], list) and "admin" not in claims["groups"]
    groups = oidc.userinfo(token["access_token"]).json()["groups"]
    assert isinstance(groups, list) and "admin" not in groups


# --- the admin API, personal tokens, passwords, keys ---------------------------------------------

def test_client_secret_is_shown_once_and_can_be_replaced(knot, oidc, admin):
    client = oidc.register("secret", grant_types=["client_credentials"])
    shown = admin.get(f"{knot.url}/api/v1/identity/clients/{client.client_id}")
    assert shown.status_code == 200
    assert shown.json()["client_id"] == client.client_id
    assert shown.json()["redirect_uris"] == client.redirect_uris
    assert client.client_secret not in shown.text and not shown.json().get("client_secret")
    listed = admin.get(f"{knot.url}/api/v1/identity/clients")
    assert listed.status_code == 200 and client.client_id in listed.text and client.client_secret not in listed.text

    answer = admin.post(f"{knot.url}/api/v1/identity/clients/{client.client_id}/secret")
    assert answer.status_code in (200, 201), answer.text
    new_secret = answer.json()["client_secret"]
    assert new_secret != client.client_secret
    token_url = oidc.config["token_endpoint"]
    old = knot.client().post(token_url, data={"grant_type": "client_credentials"},
                             auth=(client.client_id, client.client_secret))
    assert_oauth_error(old, 401, "invalid_client")
    new = knot.client().post(token_url, data={"grant_type": "client_credentials"}, auth=(client.client_id, new_secret))
    assert new.status_code == 200, new.text


def _pat_list(answer):
    body = answer.json()
    return body["tokens"] if isinstance(body, dict) else body


def test_personal_api_tokens(knot, make_user):
    name, session = make_user("pat")
    tokens_url = f"{knot.url}/api/v1/identity/tokens"
    created = session.post(tokens_url, json={"name": "laptop", "scope": "read", "expires_in_days": 30})
    assert created.status_code in (200, 201), created.text
    read_secret, read_id = pat_secret(created.json()), created.json()["id"]
    assert read_secret and read_secret.startswith("knot_pat_")
    full = session.post(tokens_url, json={"name": "ci", "scope": "full", "expires_in_days": 1})
    assert full.status_code in (200, 201), full.text
    full_secret = pat_secret(full.json())

    listing = session.get(tokens_url)
    assert listing.status_code == 200
    entries = {t["id"]: t for t in _pat_list(listing)}
    assert entries[read_id]["name"] == "laptop" and entries[read_id]["scope"] == "read"
    assert read_secret not in listing.text and full_secret not in listing.text  # shown once

    def bearer(secret):
        client = knot.client()
        client.headers["Authorization"] = f"Bearer {secret}"
        return client

    answer = bearer(read_secret).get(f"{knot.url}/api/v1/users/me")
    assert answer.status_code == 200 and answer.json()["username"] == name
    # A read token may only read.
    refused = bearer(read_secret).post(tokens_url, json={"name": "more", "scope": "full", "expires_in_days": 1})
    assert refused.status_code == 403, refused.text
    assert len(_pat_list(session.get(tokens_url))) == 2
    refused = bearer(read_secret).put(f"{knot.url}/api/v1/files/private/by-read-token.txt", data=b"x")
    assert refused.status_code == 403, refused.text
    assert session.get(f"{knot.url}/api/v1/files/private/by-read-token.txt").status_code == 404
    written = bearer(full_secret).put(f"{knot.url}/api/v1/files/private/by-full-token.txt", data=b"full")
    assert written.status_code == 201, written.text
    assert session.get(f"{knot.url}/api/v1/files/private/by-full-token.txt").content == b"full"

    # Revoked: refused from then on.
    deleted = session.delete(f"{tokens_url}/{read_id}")
    assert deleted.status_code in (200, 204), deleted.text
    wait_until(lambda: bearer(read_secret).get(f"{knot.url}/api/v1/users/me").status_code == 401,
               cache_seconds(knot), "a revoked personal token is refused")
    assert read_id not in {t["id"] for t in _pat_list(session.get(tokens_url))}
    assert bearer(full_secret).get(f"{knot.url}/api/v1/users/me").status_code == 200


def test_password_change_ends_the_other_sessions(knot, make_user):
    name, session = make_user("pwd")
    other = knot.login(name, PASSWORD)
    url = f"{knot.url}/api/v1/identity/password"
    new_password = "another long enough password"
    wrong = session.post(url, json={"current_password": "not the password", "new_password": new_password})
    assert wrong.status_code in (400, 401, 403), wrong.text
    short = session.post(url, json={"current_password": PASSWORD, "new_password": "short"})
    assert short.status_code == 400, short.text
    assert other.get(me(knot)).status_code == 200  # nothing changed yet

    changed = session.post(url, json={"current_password": PASSWORD, "new_password": new_password})
    assert changed.status_code in (200, 204), changed.text
    assert session.get(me(knot)).status_code == 200
    wait_until(lambda: other.get(me(knot)).status_code == 401, cache_seconds(knot), "the other session ended")
    assert knot.login(name, new_password).get(me(knot)).status_code == 200
    old = knot.client().post(f"{knot.url}/auth/login", json={"username": name, "password": PASSWORD})
    assert old.status_code == 401 and old.json()["error"]["code"] == "invalid_credentials"


def test_key_rotation_publishes_a_new_key_and_keeps_the_old_one(knot, oidc, admin, make_user):
    _, browser = make_user("keys")
    client = oidc.register("rotation")
    before = {k["kid"] for k in oidc.jwks()["keys"]}
    old = oidc.tokens(browser, client, "openid profile")
    old_id_kid = unverified(old["id_token"])[0]["kid"]
    old_at_kid = unverified(old["access_token"])[0]["kid"]

    answer = admin.post(f"{knot.url}/api/v1/identity/keys/rotate")
    assert answer.status_code in (200, 201, 204), answer.text
    after = {k["kid"] for k in oidc.jwks()["keys"]}
    assert after - before, "a new kid is published"
    assert {old_id_kid, old_at_kid} <= after, "the keys of unexpired tokens stay published"
    # Tokens signed before the rotation still validate, and still work.
    oidc.validate_id_token(old["id_token"], client, nonce=old["authz"].nonce, access_token=old["access_token"])
    oidc.validate_access_token(old["access_token"], client.client_id)
    assert oidc.userinfo(old["access_token"]).status_code == 200
    # And new ones validate against the same document.
    new = oidc.tokens(browser, client, "openid profile")
    oidc.validate_id_token(new["id_token"], client, nonce=new["authz"].nonce, access_token=new["access_token"])
    assert jwt.decode(new["access_token"], oidc.keyset(), algorithms=["ES256"]).claims["client_id"] == client.client_id
