"""The identity assertion the edge would forward for a session, for `scripts/bench files`.

To time a download from knot-files without the edge, the bench needs what
the edge adds to a request: the signed assertion of who asks. It gets it
the way the edge does: a one-minute service token naming the edge, signed
with the deployment secret, and identity's session check
(POST /internal/v1/sessions/verify). Prints the assertion and nothing else.

    assertion.py --identity http://127.0.0.1:PORT --secret-file FILE --session TOKEN
"""
import argparse
import base64
import hashlib
import hmac
import json
import sys
import time
import urllib.error
import urllib.request


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def service_token(secret, service="edge"):
    now = int(time.time())
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = b64(json.dumps({"iss": service, "aud": ["knot-services"], "exp": now + 60, "iat": now}).encode())
    signature = b64(hmac.new(secret.encode(), f"{header}.{claims}".encode(), hashlib.sha256).digest())
    return f"{header}.{claims}.{signature}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--identity", required=True, help="identity's base URL (its own port, not the edge)")
    parser.add_argument("--secret-file", required=True)
    parser.add_argument("--session", required=True, help="the knot_session cookie's value")
    args = parser.parse_args()
    with open(args.secret_file) as f:
        secret = f.read().strip()
    request = urllib.request.Request(
        f"{args.identity}/internal/v1/sessions/verify", data=json.dumps({"token": args.session}).encode(), method="POST",
        headers={"Content-Type": "application/json", "Accept": "application/json", "Knot-Service-Token": service_token(secret)})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            verdict = json.load(answer)
    except urllib.error.HTTPError as error:
        sys.exit(f"identity refused the session check: HTTP {error.code} {error.read()[:200]!r}")
    assertion = verdict.get("assertion") if isinstance(verdict, dict) else None
    if not assertion:
        sys.exit(f"identity's verdict has no assertion: {str(verdict)[:200]}")
    print(assertion)


if __name__ == "__main__":
    main()
