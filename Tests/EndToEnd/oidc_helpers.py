"""Helpers and fixtures for the OpenID Connect tests (docs/identity.md).

The relying party is a real client library: authlib's
`OAuth2Session` (on `requests`) for the protocol, `joserfc` for JWTs. The
browser is a `requests` session holding the Knot cookie; it never follows
redirects, so every hop is read and checked. Redirect URIs are under
`https://app.example.test/`, which is never visited.

Test modules import the fixtures they use from here (`from oidc_helpers
import oidc`), so conftest.py stays as it is. Nothing here touches the
environment at import time: collection works without a running stack.
"""
import base64
import hashlib
import hmac
import html.parser
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field, replace
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

REDIRECT_URI = "https://app.example.test/cb"
OTHER_REDIRECT_URI = "https://app.example.test/cb2"
POST_LOGOUT_URI = "https://app.example.test/logged-out"
PASSWORD = "a long enough password"  # conftest's make_user
ALL_SCOPES = ["openid", "profile", "email", "groups", "knot", "offline_access"]
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def unverified(token):
    """(header, claims) of a compact JWT, without checking anything."""
    header, payload, _ = token.split(".")
    return json.loads(b64url_decode(header)), json.loads(b64url_decode(payload))


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def half_hash(value):
    """at_hash / c_hash for the SHA-256 algorithms (RS256, ES256): OIDC Core 3.1.3.6."""
    return b64url(hashlib.sha256(value.encode("ascii")).digest()[:16])


def new_verifier():
    return secrets.token_urlsafe(48)[:64]  # 64 characters of the unreserved set


def unique_id(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


from conftest import wait_until  # noqa: E402,F401  (re-exported for the OIDC tests)


def params_of(location):
    """The parameters of a redirect, from its query and (for wrong response types) its fragment."""
    parts = urlsplit(location)
    merged = {}
    for source in (parts.fragment, parts.query):
        for key, values in parse_qs(source, keep_blank_values=True).items():
            merged[key] = values
    return {key: values[0] if len(values) == 1 else values for key, values in merged.items()}


def base_of(location):
    parts = urlsplit(location)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def knot_error_code(answer):
    """The error code of a Knot JSON error ({"error": {"code": …}}) or an OAuth one ({"error": "…"})."""
    body = answer.json()
    error = body.get("error")
    return error.get("code") if isinstance(error, dict) else error


def assert_oauth_error(answer, status, *errors):
    """An RFC 6749 5.2 error: the status, a JSON body whose `error` is one of `errors`, and no token."""
    assert answer.status_code == status, (answer.status_code, answer.text[:500])
    body = answer.json()
    assert body.get("error") in errors, body
    for issued in ("access_token", "refresh_token", "id_token"):
        assert issued not in body, body
    return body


def assert_invalid_token(answer):
    """RFC 6750 3.1: 401 with `WWW-Authenticate: Bearer error="invalid_token"`, and no claims."""
    assert answer.status_code == 401, (answer.status_code, answer.text[:500])
    challenge = answer.headers.get("WWW-Authenticate", "")
    assert challenge.startswith("Bearer"), challenge
    assert 'error="invalid_token"' in challenge, challenge
    if answer.headers.get("Content-Type", "").startswith("application/json"):
        assert "sub" not in answer.json(), answer.text


def assert_inactive(answer):
    """RFC 7662: a bad token introspects as exactly {"active": false}."""
    assert answer.status_code == 200, (answer.status_code, answer.text[:500])
    assert answer.json() == {"active": False}, answer.text


def assert_error_page(answer):
    """An authorization request that must not be redirected anywhere: a 400 page, no Location."""
    assert answer.status_code == 400, (answer.status_code, answer.headers.get("Location"), answer.text[:300])
    assert "Location" not in answer.headers, answer.headers.get("Location")
    assert answer.headers.get("Content-Type", "").startswith("text/html"), answer.headers.get("Content-Type")
    assert "code=" not in answer.text


# --- HTML forms -------------------------------------------------------------

@dataclass
class Form:
    action: str
    method: str
    fields: dict = field(default_factory=dict)  # hidden and text inputs: name -> value
    buttons: list = field(default_factory=list)  # (name, value, label) of every submit control
    text: str = ""


class _FormParser(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms = []
        self._form = None
        self._button = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self._form = Form(action=a.get("action", ""), method=a.get("method", "get").lower())
            self.forms.append(self._form)
        elif self._form is None:
            return
        elif tag == "input":
            kind = a.get("type", "text").lower()
            if kind in ("submit", "image"):
                self._form.buttons.append((a.get("name"), a.get("value", ""), a.get("value", "")))
            elif kind in ("checkbox", "radio"):
                if "checked" in a and a.get("name"):
                    self._form.fields[a["name"]] = a.get("value", "on")
            elif a.get("name"):
                self._form.fields[a["name"]] = a.get("value", "")
        elif tag == "button":
            if a.get("type", "submit").lower() == "submit":
                self._button = [a.get("name"), a.get("value", ""), ""]

    def handle_endtag(self, tag):
        if tag == "button" and self._button is not None and self._form is not None:
            self._form.buttons.append((self._button[0], self._button[1], self._button[2].strip()))
            self._button = None
        elif tag == "form":
            self._form = None

    def handle_data(self, data):
        if self._button is not None:
            self._button[2] += data
        if self._form is not None:
            self._form.text += data


def forms_of(page):
    parser = _FormParser()
    parser.feed(page)
    return parser.forms


def csrf_form(page):
    """The form of a page that carries the hidden `csrf` field."""
    found = [f for f in forms_of(page) if "csrf" in f.fields]
    assert found, f"no form with a csrf field in: {page[:600]}"
    return found[0]


ALLOW_WORDS = ("allow", "approve", "accept", "authorize", "authorise", "grant", "yes", "consent", "continue")
DENY_WORDS = ("deny", "reject", "decline", "cancel", "no", "refuse")


def _says(label, words):
    return any(re.search(rf"\b{w}\b", label.lower()) for w in words)


def consent_choice(page, allow):
    """(action, fields) that submit the consent page's allow or deny control, as a browser would.

    The contract names the endpoint (POST /auth/oidc/consent) and the csrf
    field, not the controls: a submit button (or a form of its own) is
    recognised by a label or value that says allow or deny.
    """
    words, other = (ALLOW_WORDS, DENY_WORDS) if allow else (DENY_WORDS, ALLOW_WORDS)
    forms = [f for f in forms_of(page) if "csrf" in f.fields]
    assert forms, f"no consent form with a csrf field in: {page[:600]}"
    for form in forms:
        for name, value, label in form.buttons:
            said = f"{value} {label}"
            if _says(said, words) and not _says(said, other):
                data = dict(form.fields)
                if name:
                    data[name] = value
                return form.action, data
    for form in forms:  # one form per decision
        said = " ".join([form.action, form.text, *form.fields.values(), *(f"{v} {l}" for _, v, l in form.buttons)])
        if _says(said, words) and not _says(said, other):
            return form.action, dict(form.fields)
    raise AssertionError(f"no {'allow' if allow else 'deny'} control on the consent page: {page[:800]}")


# --- the provider ------------------------------------------------------------

@dataclass
class Client:
    client_id: str
    client_secret: str
    redirect_uris: list
    post_logout_redirect_uris: list
    public: bool
    first_party: bool
    registration: dict

    @property
    def redirect_uri(self):
        return self.redirect_uris[0]


@dataclass
class Authorization:
    """One authorization request as the browser made it, and where it was sent."""
    response: object
    url: str
    state: str
    nonce: str
    verifier: str
    redirect_uri: str

    @property
    def location(self):
        location = self.response.headers.get("Location")
        return urljoin(self.url, location) if location else None

    @property
    def params(self):
        return params_of(self.location) if self.location else {}

    @property
    def code(self):
        return self.params.get("code")

    def then(self, answer):
        """The same authorization, now answered by `answer` (e.g. the consent form's)."""
        return replace(self, response=answer, url=answer.url)


class Provider:
    """Knot's OpenID Connect provider as a relying party sees it."""

    def __init__(self, knot, admin):
        self.knot = knot
        self.admin = admin
        self._config = None

    # discovery and keys
    @property
    def config(self):
        if self._config is None:
            answer = self.knot.client().get(f"{self.knot.url}/.well-known/openid-configuration")
            assert answer.status_code == 200, answer.text
            self._config = answer.json()
        return self._config

    def endpoint(self, name):
        return self.config[name]

    def jwks(self):
        answer = self.knot.client().get(self.config["jwks_uri"])
        assert answer.status_code == 200, answer.text
        return answer.json()

    def keyset(self):
        return KeySet.import_key_set(self.jwks())

    # clients
    def register(self, prefix="rp", *, first_party=True, public=False, redirect_uris=None,
                 post_logout_redirect_uris=None, **fields):
        body = {
            "client_id": unique_id(prefix),
            "name": f"Test client {prefix}",
            "redirect_uris": redirect_uris or [REDIRECT_URI],
            "post_logout_redirect_uris": post_logout_redirect_uris or [POST_LOGOUT_URI],
            "public": public,
            "first_party": first_party,
            **fields,
        }
        answer = self.admin.post(f"{self.knot.url}/api/v1/identity/clients", json=body)
        assert answer.status_code == 201, answer.text
        registration = answer.json()
        secret = registration.get("client_secret")
        if public:
            assert not secret, registration
        else:
            assert isinstance(secret, str) and len(secret) >= 16, registration
        return Client(body["client_id"], secret, body["redirect_uris"], body["post_logout_redirect_uris"],
                      public, first_party, registration)

    def rp(self, client, scope="openid", **kwargs):
        """authlib's relying party for `client`, trusting only Knot's CA."""
        session = OAuth2Session(
            client_id=client.client_id,
            client_secret=None if client.public else client.client_secret,
            token_endpoint_auth_method="none" if client.public else "client_secret_basic",
            revocation_endpoint_auth_method="none" if client.public else "client_secret_basic",
            scope=scope,
            redirect_uri=client.redirect_uri,
            code_challenge_method="S256",
            token_endpoint=self.config["token_endpoint"],
            leeway=0,  # never refresh behind the test's back
            **kwargs,
        )
        session.trust_env = False
        session.verify = self.knot.ca
        return session

    # the browser's part
    def authorize(self, browser, client, scope="openid", *, pkce=True, nonce=None, state=None, verifier=None,
                  redirect_uri=None, method="GET", drop=(), **extra):
        """Sends the browser to the authorization endpoint (without following the answer)."""
        nonce = nonce or secrets.token_urlsafe(16)
        state = state or secrets.token_urlsafe(16)
        verifier = verifier or new_verifier()
        redirect_uri = redirect_uri or client.redirect_uri
        params = {"client_id": client.client_id, "redirect_uri": redirect_uri, "response_type": "code",
                  "scope": scope, "state": state, "nonce": nonce}
        if pkce:
            params["code_challenge"] = create_s256_code_challenge(verifier)
            params["code_challenge_method"] = "S256"
        params.update(extra)
        for name in drop:
            params.pop(name, None)
        url = self.config["authorization_endpoint"]
        if method == "GET":
            answer = browser.get(url, params=params, allow_redirects=False)
        else:
            answer = browser.post(url, data=params, allow_redirects=False)
        return Authorization(answer, answer.url if method == "GET" else url, state, nonce, verifier, redirect_uri)

    def expect_code(self, authz):
        """The authorization answered with a code for the client's redirect URI and the state."""
        answer = authz.response
        assert answer.status_code in (302, 303), (answer.status_code, answer.text[:500])
        assert base_of(authz.location) == authz.redirect_uri, authz.location
        params = authz.params
        assert "error" not in params, params
        assert params.get("state") == authz.state, params
        if "iss" in params:  # RFC 9207
            assert params["iss"] == self.knot.url, params
        assert isinstance(params.get("code"), str) and params["code"], params
        return params["code"]

    def expect_redirect_error(self, authz, error):
        """An authorization error sent back to the client (RFC 6749 4.1.2.1): no code."""
        answer = authz.response
        assert answer.status_code in (302, 303), (answer.status_code, answer.text[:500])
        assert base_of(authz.location) == authz.redirect_uri, authz.location
        params = authz.params
        assert params.get("error") == error, params
        assert "code" not in params and "access_token" not in params and "id_token" not in params, params
        assert params.get("state") == authz.state, params
        return params

    def expect_login_page(self, authz, inline_ok=False):
        """The browser is sent to sign in (not to the client); with `inline_ok`, a sign-in form shown in
        place (how prompt=login "asks for the password again" is not fixed by the contract) is fine too."""
        answer = authz.response
        if inline_ok and answer.status_code == 200:
            assert "Location" not in answer.headers
            assert any("password" in f.fields for f in forms_of(answer.text)), answer.text[:600]
            return
        assert answer.status_code in (302, 303), (answer.status_code, answer.text[:500])
        target = urlsplit(authz.location)
        assert f"{target.scheme}://{target.netloc}" == self.knot.url, authz.location
        assert target.path == "/auth/login", authz.location
        assert "code" not in params_of(authz.location), authz.location

    def consent(self, browser, authz, allow=True):
        """Answers the consent page shown for `authz`; returns the answer (not followed)."""
        page = authz.response
        assert page.status_code == 200, (page.status_code, page.headers.get("Location"))
        assert page.headers.get("Content-Type", "").startswith("text/html")
        action, data = consent_choice(page.text, allow)
        return browser.post(urljoin(page.url, action or page.url), data=data, allow_redirects=False)

    # the token endpoint, by hand (the negative tests need to get every detail wrong)
    def token(self, client, data, auth="default", secret=None):
        data = list(data.items()) if isinstance(data, dict) else list(data)
        secret = client.client_secret if secret is None else secret
        kwargs = {}
        if auth == "default":
            auth = "none" if client.public else "basic"
        if auth == "basic":
            kwargs["auth"] = (client.client_id, secret)
        elif auth == "post":
            data += [("client_id", client.client_id), ("client_secret", secret)]
        elif auth == "none":
            data += [("client_id", client.client_id)]
        return self.knot.client().post(self.config["token_endpoint"], data=data, **kwargs)

    def exchange(self, client, authz, **overrides):
        data = {"grant_type": "authorization_code", "code": authz.code, "redirect_uri": authz.redirect_uri,
                "code_verifier": authz.verifier}
        data.update(overrides)
        return self.token(client, {k: v for k, v in data.items() if v is not None})

    def tokens(self, browser, client, scope="openid", **extra):
        """Code flow (PKCE) and redemption; returns the token answer with the authorization under `authz`."""
        authz = self.authorize(browser, client, scope, **extra)
        self.expect_code(authz)
        answer = self.exchange(client, authz)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["access_token"], body
        body["authz"] = authz
        return body

    def refresh(self, client, refresh_token, **extra):
        return self.token(client, {"grant_type": "refresh_token", "refresh_token": refresh_token, **extra})

    def introspect(self, client, token, hint=None, auth="basic"):
        data = {"token": token}
        if hint:
            data["token_type_hint"] = hint
        kwargs = {"auth": (client.client_id, client.client_secret)} if auth == "basic" else {}
        return self.knot.client().post(self.config["introspection_endpoint"], data=data, **kwargs)

    def revoke(self, client, token, hint=None, auth="basic"):
        data = {"token": token}
        if hint:
            data["token_type_hint"] = hint
        if client.public or auth == "none":
            data["client_id"] = client.client_id
            kwargs = {}
        else:
            kwargs = {"auth": (client.client_id, client.client_secret)}
        return self.knot.client().post(self.config["revocation_endpoint"], data=data, **kwargs)

    def userinfo(self, access_token, method="GET", in_body=False):
        url = self.config["userinfo_endpoint"]
        if in_body:
            return self.knot.client().post(url, data={"access_token": access_token})
        headers = {"Authorization": f"Bearer {access_token}"}
        return self.knot.client().request(method, url, headers=headers)

    # JWTs
    def validate_id_token(self, id_token, client, nonce=None, access_token=None, alg="RS256"):
        """OIDC Core 3.1.3.7 against the published keys; returns (header, claims)."""
        decoded = jwt.decode(id_token, self.keyset(), algorithms=[alg])
        header, claims = decoded.header, decoded.claims
        assert header["alg"] == alg, header
        assert header.get("kid") in {k.get("kid") for k in self.jwks()["keys"]}, header
        now = time.time()
        assert claims["iss"] == self.knot.url, claims
        audience = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        assert client.client_id in audience, claims
        assert claims["azp"] == client.client_id, claims
        assert is_number(claims["exp"]) and claims["exp"] > now, claims  # NumericDate: any JSON number
        assert is_number(claims["iat"]) and claims["iat"] <= now + 5, claims
        assert is_number(claims["auth_time"]) and claims["auth_time"] <= now + 5, claims
        assert UUID_RE.match(claims["sub"]), claims
        if nonce is not None:
            assert claims["nonce"] == nonce, claims
        if access_token is not None:
            assert claims["at_hash"] == half_hash(access_token), claims
        jwt.JWTClaimsRegistry(leeway=5, iss={"essential": True, "value": self.knot.url},
                              aud={"essential": True, "value": client.client_id},
                              exp={"essential": True}, iat={"essential": True}).validate(claims)
        return header, claims

    def validate_access_token(self, access_token, client_id):
        """RFC 9068 against the published keys (ES256, typ at+jwt); returns (header, claims)."""
        decoded = jwt.decode(access_token, self.keyset(), algorithms=["ES256"])
        header, claims = decoded.header, decoded.claims
        assert header["typ"].lower() in ("at+jwt", "application/at+jwt"), header
        assert claims["iss"] == self.knot.url, claims
        audience = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        assert client_id in audience, claims
        assert claims["client_id"] == client_id, claims
        for name in ("sub", "scope", "jti", "exp", "iat"):
            assert name in claims, (name, claims)
        assert claims["exp"] > time.time(), claims
        return header, claims


# --- browsers ----------------------------------------------------------------

def login_page(knot, client=None, next_url=None):
    """GET /auth/login in `client` (a fresh browser by default): (client, csrf form)."""
    client = client or knot.client()
    page = client.get(f"{knot.url}/auth/login", params={"next": next_url} if next_url else None)
    assert page.status_code == 200, page.text[:300]
    assert client.cookies.get("knot_csrf"), "the login page sets knot_csrf"
    return client, csrf_form(page.text)


def form_login(knot, username, password=PASSWORD, next_url=None, client=None):
    """Signs in through the HTML form as a browser does; returns (client, answer)."""
    client, form = login_page(knot, client, next_url)
    data = dict(form.fields, username=username, password=password)
    if next_url is not None:
        data["next"] = next_url
    answer = client.post(f"{knot.url}/auth/login", data=data, allow_redirects=False)
    return client, answer


def session_cookie_set(answer):
    """Whether the answer set a live knot_session cookie (an expired one, clearing it, does not count)."""
    return any(c.name == "knot_session" and c.value for c in answer.cookies)


def with_cookie(knot, cookie):
    """A fresh browser that carries only the given knot_session value."""
    client = knot.client()
    client.headers["Cookie"] = f"knot_session={cookie}"
    return client


def session_value(browser):
    values = [c.value for c in browser.cookies if c.name == "knot_session"]
    assert values, "the browser holds a knot_session cookie"
    return values[-1]


def cache_seconds(knot):
    """How long the edge may still believe in an ended session."""
    return int(knot.env.get("KNOT_SESSION_CACHE_SECONDS", "5")) + 5


# --- forged JWTs -------------------------------------------------------------

def sign_none(header, claims, alg="none"):
    return f"{b64url(json.dumps(dict(header, alg=alg)).encode())}.{b64url(json.dumps(claims).encode())}."


def sign_hs256(header, claims, secret):
    signing_input = f"{b64url(json.dumps(dict(header, alg='HS256')).encode())}.{b64url(json.dumps(claims).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def sign_own(header, claims):
    """Signed with a key made here, under whatever kid the header names."""
    if header.get("alg", "ES256") == "RS256":
        key = RSAKey.generate_key(2048)
        return jwt.encode(dict(header, alg="RS256"), claims, key)
    key = ECKey.generate_key("P-256")
    return jwt.encode(dict(header, alg="ES256"), claims, key)


def pat_secret(body):
    """The knot_pat_… value anywhere in a personal token's creation answer."""
    if isinstance(body, str):
        return body if body.startswith("knot_pat_") else None
    values = body.values() if isinstance(body, dict) else body if isinstance(body, list) else []
    for value in values:
        found = pat_secret(value)
        if found:
            return found
    return None


def browser_resolve(base, location):
    """Where a browser goes for `location`: WHATWG parsers drop tabs and newlines and read `\\` as `/`."""
    cleaned = location.replace("\t", "").replace("\n", "").replace("\r", "").replace("\\", "/")
    return urlsplit(urljoin(base, cleaned))


def public_pem(jwk):
    key = (ECKey if jwk["kty"] == "EC" else RSAKey).import_key(jwk)
    return key.as_pem(private=False)


def tamper(token, **changes):
    """The token with its payload changed and its signature kept."""
    header, payload, signature = token.split(".")
    claims = json.loads(b64url_decode(payload))
    claims.update(changes)
    return f"{header}.{b64url(json.dumps(claims).encode())}.{signature}"


# --- fixtures ----------------------------------------------------------------

@pytest.fixture(scope="session")
def oidc(knot, admin):
    return Provider(knot, admin)
