"""Refusals: no session, forged assertions, spoofed headers, unauthenticated
internal calls, open redirects, path escapes. Each refusal is paired with
the same request done right, so that a test cannot pass by refusing all."""
import base64
import hashlib
import hmac
import json
import subprocess
import time

import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged_es256(claims, kid="es256-forged"):
    key = ec.generate_private_key(ec.SECP256R1())
    header = b64(json.dumps({"alg": "ES256", "typ": "JWT", "kid": kid}).encode())
    payload = b64(json.dumps(claims).encode())
    der = key.sign(f"{header}.{payload}".encode(), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return f"{header}.{payload}.{b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def hs256(claims, secret):
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64(json.dumps(claims).encode())
    signature = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(signature)}"


def admin_claims():
    now = int(time.time())
    return {"iss": "knot-identity", "aud": ["knot-internal"], "sub": "00000000-0000-0000-0000-000000000001",
            "exp": now + 300, "iat": now, "preferred_username": "admin", "knot_namespace": "knot-admin", "admin": True}


def test_api_without_session_is_401_json(knot):
    answer = knot.client().get(f"{knot.url}/api/v1/users/me")
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthorized"


def test_spoofed_user_headers_and_assertions_do_not_pass_the_edge(knot):
    forged = forged_es256(admin_claims())
    answer = knot.client().get(
        f"{knot.url}/api/v1/users",
        headers={"X-Knot-User": "admin", "Knot-Assertion": forged, "X-Forwarded-For": "10.0.0.1"})
    assert answer.status_code == 401


def test_spoofed_assertion_header_is_replaced_for_a_signed_in_user(knot, make_user):
    name, session = make_user("jon")
    answer = session.get(f"{knot.url}/api/v1/users", headers={"Knot-Assertion": forged_es256(admin_claims())})
    assert answer.status_code == 403  # the user's own assertion was used: not an admin
    me = session.get(f"{knot.url}/api/v1/users/me", headers={"X-Knot-User": "admin"})
    assert me.json()["username"] == name


def test_services_refuse_forged_assertions_directly(knot):
    users = f"http://127.0.0.1:{knot.service_port('users')}"
    claims = admin_claims()
    none_alg = b64(json.dumps({"alg": "none"}).encode()) + "." + b64(json.dumps(claims).encode()) + "."
    for token in (forged_es256(claims), hs256(claims, "guess"), none_alg, "garbage"):
        answer = requests.get(f"{users}/api/v1/users", headers={"Knot-Assertion": token})
        assert answer.status_code == 401, token
    assert requests.get(f"{users}/api/v1/users/me", headers={"X-Knot-User": "admin"}).status_code == 401
    # The HS256 deployment secret itself does not make an assertion either.
    secret = open(knot.env["KNOT_INTERNAL_SECRET_FILE"]).read().strip()
    assert requests.get(f"{users}/api/v1/users", headers={"Knot-Assertion": hs256(claims, secret)}).status_code == 401


def test_internal_endpoints_need_a_genuine_service_token(knot):
    launcher = f"http://127.0.0.1:{knot.service_port('launcher')}"
    assert requests.get(f"{launcher}/internal/v1/routes").status_code == 401
    now = int(time.time())
    claims = {"iss": "edge", "aud": ["knot-services"], "exp": now + 60, "iat": now}
    wrong = hs256(claims, "not-the-deployment-secret-not-the-deployment-secret")
    assert requests.get(f"{launcher}/internal/v1/routes", headers={"Knot-Service-Token": wrong}).status_code == 401
    secret = open(knot.env["KNOT_INTERNAL_SECRET_FILE"]).read().strip()
    right = requests.get(f"{launcher}/internal/v1/routes", headers={"Knot-Service-Token": hs256(claims, secret)})
    assert right.status_code == 200 and "routes" in right.json()
    # A genuine token from a service that may not call this endpoint is refused.
    files_token = hs256(dict(claims, iss="files"), secret)
    assert requests.get(f"{launcher}/internal/v1/routes", headers={"Knot-Service-Token": files_token}).status_code == 403
    # The edge never routes internal paths from outside.
    assert knot.client().get(f"{knot.url}/internal/v1/routes").status_code == 404


def test_login_never_redirects_off_domain(knot, make_user):
    name, _ = make_user("kim")
    for target in ("https://evil.example/", "//evil.example/", "https://knot.localhost.evil.example/",
                   "javascript:alert(1)", "https://user@knot.localhost/", "/\\evil.example"):
        browser = knot.client()
        answer = browser.post(
            f"{knot.url}/auth/login",
            data={"username": name, "password": "a long enough password", "next": target, "csrf": knot.csrf(browser)},
            allow_redirects=False)
        assert answer.status_code == 303, target
        assert answer.headers["Location"] == f"{knot.url}/", target
    page = knot.client().get(f"{knot.url}/auth/login", params={"next": "https://evil.example/"})
    assert "evil.example" not in page.text


def test_files_cannot_escape_their_domain(knot, make_user):
    _, session = make_user("lee")
    base = f"{knot.url}/api/v1/files"
    assert session.put(f"{base}/private/mine.txt", data=b"mine").status_code == 201
    for path in ("private/..%2f..%2fetc/passwd", "private/%2e%2e/%2e%2e/x", "private/a%00b", "private/%2e%2e"):
        answer = session.get(f"{base}/{path}")
        assert answer.status_code in (400, 404), (path, answer.status_code)
        assert answer.json()["error"]["code"] in ("invalid_path", "not_found"), path
    # Literal dot segments, sent as they are (requests would normalise them away).
    cookie = session.cookies.get("knot_session")
    for raw in ("private/..", "private/a/../../x", "private/../../../../etc/passwd"):
        status = subprocess.run(
            ["curl", "-s", "--path-as-is", "--cacert", knot.ca, "--resolve", f"knot.localhost:{knot.public_port}:127.0.0.1",
             "-b", f"knot_session={cookie}", "-o", "/dev/null", "-w", "%{http_code}", f"{base}/{raw}"],
            capture_output=True, text=True, check=True).stdout
        assert status in ("400", "404"), (raw, status)
    assert session.get(f"{base}/admin/").status_code == 403
    assert session.get(f"{base}/nowhere/").status_code == 400


def test_files_do_not_follow_symlinks_planted_in_a_folder(knot, make_user):
    import os
    name, session = make_user("max")
    private = os.path.join(knot.env["KNOT_FILES_ROOT"], "private", name)
    os.makedirs(private, exist_ok=True)
    os.symlink("/etc", os.path.join(private, "escape"))
    os.symlink("/etc/hostname", os.path.join(private, "host.txt"))
    base = f"{knot.url}/api/v1/files/private"
    assert session.get(f"{base}/escape/hostname").status_code == 403
    assert session.get(f"{base}/host.txt").status_code == 403
    assert session.put(f"{base}/escape/planted.txt", data=b"x").status_code == 403
    assert not os.path.exists("/etc/planted.txt")
    entries = {e["name"]: e["kind"] for e in session.get(f"{base}/").json()["entries"]}
    assert entries["escape"] == "link"
