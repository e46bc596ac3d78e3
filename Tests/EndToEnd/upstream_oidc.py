#!/usr/bin/env python3
"""An upstream OpenID Connect provider for the end-to-end tests: a real test peer.

Knot's identity service can let people sign in at another OpenID Connect
provider ("upstream login", docs/identity.md). This is that other provider,
built with a maintained library rather than by hand: authlib's server side on
Flask (`AuthorizationServer`, the authorization code grant with the
`OpenIDCode` extension for ID tokens and `CodeChallenge` for PKCE, the
`UserInfoEndpoint`), joserfc for the RS256 key. Everything is kept in memory
and lives as long as the process.

    python3 upstream_oidc.py --port P --client-id ID --client-secret SECRET --redirect-uri URI

serves plain HTTP on 127.0.0.1:P (issuer `http://127.0.0.1:P`), knows exactly
one confidential client (`client_secret_basic` or `client_secret_post`, the
one redirect URI compared exactly), and prints READY once it listens.

- `/.well-known/openid-configuration`, `/jwks` (a 2048-bit RSA key made at start)
- `GET /authorize`: the signed-in person is named by the cookie `upstream_user`
  (401 "not signed in" without one); consent is automatic. `nonce` and PKCE
  (`S256`) are required. A person marked `deny` refuses: the client gets
  `error=access_denied`.
- `POST /token`: `authorization_code` only; codes are single use and live 60 s.
- `GET`/`POST /userinfo` with a bearer access token.

Test-only endpoints:
- `POST /test/users` `{"username", "email", "email_verified", "name", "deny"?}`
  creates or replaces a person; the subject is random and stays the same when
  the person is replaced, so a test can change someone's address. Answers
  `{"sub": …}`.
- `GET /test/log`: every token request, in order: `grant_type`, `client_id`
  and `auth_method` (as authlib authenticated the client; null when it did
  not), `code`, `code_verifier` (whether one was sent) and the answer's
  `status`.
"""
import argparse
import hmac
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.integrations.flask_oauth2.signals import client_authenticated
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import ClientMixin, InvalidRequestError, TokenMixin, grants
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import AuthorizationCodeMixin, UserInfo, UserInfoEndpoint
from authlib.oidc.core.grants import OpenIDCode
from flask import Flask, g, jsonify, request
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server

SCOPES = ("openid", "profile", "email")
CODE_SECONDS = 60
TOKEN_SECONDS = 600


# --- the in-memory models ------------------------------------------------------------

@dataclass
class User:
    username: str
    sub: str
    email: str
    email_verified: bool
    name: str
    deny: bool = False
    # How this person's ID tokens are to be spoiled, to prove the client checks them:
    # "aud", "iss", "nonce", "expired", or "key" (signed with a key not in the JWKS, same kid).
    tamper: str = ""

    def get_user_id(self):
        return self.sub

    def claims(self):
        return UserInfo(sub=self.sub, name=self.name, preferred_username=self.username, email=self.email,
                        email_verified=self.email_verified)


@dataclass
class Client(ClientMixin):
    client_id: str
    client_secret: str
    redirect_uri: str
    client_metadata: dict = field(default_factory=dict)  # read by UserInfoEndpoint

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return self.redirect_uri

    def get_allowed_scope(self, scope):
        return " ".join(s for s in (scope or "").split() if s in SCOPES)

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri == self.redirect_uri

    def check_client_secret(self, client_secret):
        return hmac.compare_digest(client_secret.encode(), self.client_secret.encode())

    def check_endpoint_auth_method(self, method, endpoint):
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type == "authorization_code"


@dataclass
class AuthorizationCode(AuthorizationCodeMixin):
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: User
    nonce: str
    auth_time: int
    code_challenge: str
    code_challenge_method: str
    expires_at: float

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope

    def get_nonce(self):
        return self.nonce

    def get_auth_time(self):
        return self.auth_time


@dataclass
class Token(TokenMixin):
    access_token: str
    client: Client
    user: User
    scope: str
    expires_at: float

    def check_client(self, client):
        return client.client_id == self.client.client_id

    def get_scope(self):
        return self.scope

    def get_expires_in(self):
        return TOKEN_SECONDS

    def is_expired(self):
        return time.time() >= self.expires_at

    def is_revoked(self):
        return False

    def get_user(self):
        return self.user

    def get_client(self):
        return self.client


class Store:
    def __init__(self, client):
        self.lock = threading.Lock()
        self.client = client
        self.users = {}  # username -> User
        self.codes = {}  # code -> AuthorizationCode
        self.tokens = {}  # access token -> Token
        self.nonces = set()  # (client_id, nonce) of every code issued
        self.log = []  # token requests

    def put_user(self, body):
        with self.lock:
            old = self.users.get(body["username"])
            user = User(username=body["username"], sub=old.sub if old else str(uuid.uuid4()), email=body["email"],
                        email_verified=bool(body["email_verified"]), name=body.get("name", ""),
                        deny=bool(body.get("deny", False)), tamper=str(body.get("tamper", "")))
            self.users[user.username] = user
            return user


# --- authlib's parts ------------------------------------------------------------------

def build(issuer, client):
    store = Store(client)
    key = RSAKey.generate_key(2048, parameters={"kid": uuid.uuid4().hex[:16], "use": "sig", "alg": "RS256"})
    rogue = RSAKey.generate_key(2048, parameters={"kid": key.kid, "use": "sig", "alg": "RS256"})
    signing = threading.local()
    app = Flask(__name__)
    app.config["OAUTH2_TOKEN_EXPIRES_IN"] = {"authorization_code": TOKEN_SECONDS}

    def save_token(token, oauth_request):
        with store.lock:
            store.tokens[token["access_token"]] = Token(token["access_token"], oauth_request.client, oauth_request.user,
                                                        token.get("scope", ""), time.time() + TOKEN_SECONDS)

    server = AuthorizationServer(app, query_client=lambda cid: client if cid == client.client_id else None,
                                 save_token=save_token)

    class CodeGrant(grants.AuthorizationCodeGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

        def save_authorization_code(self, code, oauth_request):
            data = oauth_request.payload.data
            item = AuthorizationCode(
                code=code, client_id=oauth_request.client.client_id, redirect_uri=oauth_request.payload.redirect_uri,
                scope=oauth_request.scope, user=oauth_request.user, nonce=data.get("nonce"), auth_time=int(time.time()),
                code_challenge=data.get("code_challenge"), code_challenge_method=data.get("code_challenge_method"),
                expires_at=time.time() + CODE_SECONDS)
            with store.lock:
                store.codes[code] = item
                store.nonces.add((item.client_id, item.nonce))

        def query_authorization_code(self, code, oauth_client):
            with store.lock:
                item = store.codes.get(code)
            if item and item.client_id == oauth_client.client_id and time.time() < item.expires_at:
                return item
            return None

        def delete_authorization_code(self, item):
            with store.lock:
                store.codes.pop(item.code, None)

        def authenticate_user(self, item):
            return item.user

    class IDToken(OpenIDCode):
        def exists_nonce(self, nonce, oauth_request):
            with store.lock:
                return (oauth_request.payload.client_id, nonce) in store.nonces

        def resolve_client_private_key(self, oauth_client):
            # generate_user_info runs first and says whether this token is to be signed wrongly.
            return rogue if getattr(signing, "rogue", False) else key

        def get_client_algorithm(self, oauth_client):
            return "RS256"

        def get_encode_header(self, oauth_client):
            return {"alg": "RS256", "kid": key.kid, "typ": "JWT"}

        def get_client_claims(self, oauth_client):
            return {"iss": issuer, "aud": oauth_client.client_id}

        def generate_user_info(self, user, scope):
            claims = dict(user.claims().filter(scope))
            signing.rogue = user.tamper == "key"
            # authlib lays these over the token's own claims.
            now = int(time.time())
            claims.update({"aud": {"aud": "someone-else"}, "iss": {"iss": "http://evil.example"},
                           "nonce": {"nonce": "not-the-nonce"},
                           "expired": {"exp": now - 600, "iat": now - 1200}}.get(user.tamper, {}))
            return claims

    class S256Only(CodeChallenge):
        """PKCE for every client, and only S256."""
        SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

        def validate_code_challenge(self, grant, redirect_uri):
            data = grant.request.payload.data
            if not data.get("code_challenge") or data.get("code_challenge_method") != "S256":
                raise InvalidRequestError("PKCE is required: code_challenge with code_challenge_method=S256")
            super().validate_code_challenge(grant, redirect_uri)

    server.register_grant(CodeGrant, [IDToken(require_nonce=True), S256Only(required=True)])

    class Bearer(BearerTokenValidator):
        def authenticate_token(self, token_string):
            with store.lock:
                return store.tokens.get(token_string)

    protector = ResourceProtector()
    protector.register_token_validator(Bearer())

    class UserInfoAnswer(UserInfoEndpoint):
        def get_issuer(self):
            return issuer

        def generate_user_info(self, user, scope):
            return user.claims().filter(scope)

    server.register_endpoint(UserInfoAnswer(resource_protector=protector))

    @client_authenticated.connect_via(server)
    def remember_auth_method(sender, client=None, grant=None, **_):
        g.auth_method = grant.request.auth_method

    # --- routes --------------------------------------------------------------------------

    @app.get("/.well-known/openid-configuration")
    def discovery():
        return jsonify(
            issuer=issuer,
            authorization_endpoint=f"{issuer}/authorize",
            token_endpoint=f"{issuer}/token",
            userinfo_endpoint=f"{issuer}/userinfo",
            jwks_uri=f"{issuer}/jwks",
            response_types_supported=["code"],
            subject_types_supported=["public"],
            id_token_signing_alg_values_supported=["RS256"],
            code_challenge_methods_supported=["S256"],
            token_endpoint_auth_methods_supported=["client_secret_basic", "client_secret_post"],
            grant_types_supported=["authorization_code"],
            scopes_supported=list(SCOPES),
            claims_supported=["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "name", "preferred_username",
                              "email", "email_verified"],
        )

    @app.get("/jwks")
    def jwks():
        return jsonify(keys=[key.as_dict(private=False)])

    @app.get("/authorize")
    def authorize():
        with store.lock:
            user = store.users.get(request.cookies.get("upstream_user", ""))
        if user is None:
            return "not signed in\n", 401, {"Content-Type": "text/plain"}
        try:
            grant = server.get_consent_grant(end_user=user)
        except OAuth2Error as error:  # redirected when the client and redirect URI are known, else shown
            return server.handle_error_response(None, error)
        # Consent is automatic; a person marked `deny` refuses (authlib answers access_denied).
        return server.create_authorization_response(grant_user=None if user.deny else user, grant=grant)

    @app.post("/token")
    def token():
        g.auth_method = None
        answer = server.create_token_response()
        with store.lock:
            store.log.append({
                "grant_type": request.form.get("grant_type"),
                "client_id": client.client_id if g.auth_method else None,
                "auth_method": g.auth_method,
                "code": request.form.get("code"),
                "code_verifier": bool(request.form.get("code_verifier")),
                "status": answer.status_code,
            })
        return answer

    @app.route("/userinfo", methods=["GET", "POST"])
    def userinfo():
        return server.create_endpoint_response("userinfo")

    @app.post("/test/users")
    def test_users():
        body = request.get_json(force=True)
        if not isinstance(body, dict) or not body.get("username") or "email" not in body or "email_verified" not in body:
            return jsonify(error="username, email and email_verified are required"), 400
        return jsonify(sub=store.put_user(body).sub)

    @app.get("/test/log")
    def test_log():
        with store.lock:
            return jsonify(list(store.log))

    return app, key


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--redirect-uri", required=True)
    args = parser.parse_args()
    issuer = f"http://127.0.0.1:{args.port}"
    app, _ = build(issuer, Client(args.client_id, args.client_secret, args.redirect_uri))
    server = make_server("127.0.0.1", args.port, app, threaded=True)
    print("READY", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
