"""Load for `scripts/bench identity`: logins, refresh grants and
introspections per second against a running knot-identity (and knot-users),
driven by wrk, printed beside Keycloak's and Ory Hydra's published figures.

The tokens come from real authorization-code flows (PKCE) run here first;
every refresh in the run rotates its token, so each wrk connection carries
its own chain of refresh tokens forward (see the Lua below).
"""
import argparse
import base64
import hashlib
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import urllib.parse

import requests

REDIRECT = "https://bench.example.test/cb"

REFRESH_LUA = r"""
local pool = {}

local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("tokens", TOKENS[counter])
  thread:set("auth", AUTH)
end
function init(args)
  for token in string.gmatch(tokens, "[^,]+") do table.insert(pool, token) end
end
function request()
  local token = table.remove(pool)
  if token == nil then token = "exhausted" end
  return wrk.format("POST", "/auth/oidc/token",
    {["Content-Type"] = "application/x-www-form-urlencoded", ["Authorization"] = auth},
    "grant_type=refresh_token&refresh_token=" .. token)
end
function response(status, headers, body)
  local next_token = string.match(body, '"refresh_token":"([^"]+)"')
  if next_token then table.insert(pool, next_token) end
end
"""


def pkce():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def session_cookie(identity, username, password):
    answer = requests.post(f"{identity}/auth/login", json={"username": username, "password": password})
    answer.raise_for_status()
    match = re.search(r"knot_session=([^;]+)", answer.headers["Set-Cookie"])
    return match.group(1)


def code_flow(identity, cookie, client_id, basic):
    verifier, challenge = pkce()
    query = urllib.parse.urlencode({
        "client_id": client_id, "redirect_uri": REDIRECT, "response_type": "code", "scope": "openid profile email groups",
        "state": secrets.token_urlsafe(8), "nonce": secrets.token_urlsafe(8), "code_challenge": challenge,
        "code_challenge_method": "S256"})
    # The cookie is Secure, so it is sent by hand over the loopback HTTP the bench uses.
    answer = requests.get(f"{identity}/auth/oidc/authorize?{query}", headers={"Cookie": f"knot_session={cookie}"},
                          allow_redirects=False)
    location = answer.headers.get("Location", "")
    code = urllib.parse.parse_qs(urllib.parse.urlparse(location).query).get("code", [None])[0]
    if not code:
        sys.exit(f"no code from the authorization endpoint: {answer.status_code} {location[:200]}")
    token = requests.post(f"{identity}/auth/oidc/token", headers={"Authorization": basic}, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier})
    token.raise_for_status()
    return token.json()


def wrk(wrk_bin, url, script, threads, connections, seconds):
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
        path = handle.name
    try:
        output = subprocess.run(
            [wrk_bin, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", path, url],
            capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(path)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    total = int(re.search(r"(\d+) requests in", output).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    p99 = re.search(r"99%\s+([\d.]+\w+)", output)
    return {"rate": rate, "total": total, "non2xx": int(bad.group(1)) if bad else 0,
            "socket_errors": errors.group(1) if errors else "", "p99": p99.group(1) if p99 else "?"}


def lua_string(text):
    return json.dumps(text)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--identity", required=True)
    parser.add_argument("--username", default="admin")
    parser.add_argument("--password", required=True)
    parser.add_argument("--client-id", required=True, help="a client whose ID tokens are ES256")
    parser.add_argument("--rs256-client-id", required=True, help="a client whose ID tokens are RS256")
    parser.add_argument("--client-secret", required=True, help="both clients' secret")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--login-connections", type=int, default=8)
    parser.add_argument("--wrk", default="wrk")
    parser.add_argument("--cpus", type=int, default=os.cpu_count())
    parser.add_argument("--bcrypt-cost", default="12")
    args = parser.parse_args()

    identity = args.identity.rstrip("/")
    cookie = session_cookie(identity, args.username, args.password)
    per_thread = args.connections // args.threads + 2

    def basic_for(client_id):
        return "Basic " + base64.b64encode(f"{client_id}:{args.client_secret}".encode()).decode()

    def refresh_script(client_id):
        basic = basic_for(client_id)
        flows = [code_flow(identity, cookie, client_id, basic) for _ in range(per_thread * args.threads)]
        chains = [",".join(flow["refresh_token"] for flow in flows[i * per_thread:(i + 1) * per_thread])
                  for i in range(args.threads)]
        script = ("TOKENS = {" + ",".join(lua_string(chain) for chain in chains) + "}\n"
                  + f"AUTH = {lua_string(basic)}\n" + REFRESH_LUA)
        return script, flows[0]["access_token"]

    refresh_es, access = refresh_script(args.client_id)
    refresh_rs, _ = refresh_script(args.rs256_client_id)
    introspect = f"""
wrk.method = "POST"
wrk.path = "/auth/oidc/introspect"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = {lua_string(basic_for(args.client_id))}
wrk.body = {lua_string("token=" + access)}
"""
    login = f"""
wrk.method = "POST"
wrk.path = "/auth/login"
wrk.headers["Content-Type"] = "application/json"
wrk.body = {lua_string(json.dumps({"username": args.username, "password": args.password}))}
"""
    results = {
        "introspect": wrk(args.wrk, identity, introspect, args.threads, args.connections, args.seconds),
        "refresh": wrk(args.wrk, identity, refresh_es, args.threads, args.connections, args.seconds),
        "refresh_rs": wrk(args.wrk, identity, refresh_rs, args.threads, args.connections, args.seconds),
        "login": wrk(args.wrk, identity, login, args.threads, args.login_connections, args.seconds),
    }
    # The token the introspections read must still be live: a run of "inactive" answers would be a fake figure.
    still = requests.post(f"{identity}/auth/oidc/introspect", headers={"Authorization": basic_for(args.client_id)},
                          data={"token": access}).json()
    if not still.get("active"):
        sys.exit("the introspected token was not active")
    failed = {name: r for name, r in results.items() if r["non2xx"] or r["total"] == 0}
    cpus = args.cpus
    peers = {
        "introspect": (5109, "Ory Hydra, 2 CPUs (published)"),
        "refresh": (120 * cpus, f"Keycloak, 120/s per vCPU x {cpus} (published)"),
        "refresh_rs": (120 * cpus, f"Keycloak, 120/s per vCPU x {cpus} (published)"),
        "login": (15 * cpus, f"Keycloak, 15/s per vCPU x {cpus} (published)"),
    }
    goals = {"introspect": 10000, "refresh": 1200, "refresh_rs": 1200, "login": None}
    print()
    print(f"Identity (knot-identity + knot-users, PostgreSQL, {cpus} CPUs shared with wrk; bcrypt cost {args.bcrypt_cost})")
    print("  (a refresh returns a new access token, refresh token and ID token; the ID token is ES256 or RS256 as the client registered)")
    print(f"  {'':<16}{'Knot /s':>10}{'p99':>10}{'peer /s':>10}{'ratio':>8}   peer")
    names = {"introspect": "introspections", "refresh": "refresh, ES256", "refresh_rs": "refresh, RS256",
             "login": "logins"}
    for name, result in results.items():
        peer, label = peers[name]
        goal = goals[name]
        note = f"   goal {goal}/s: {'met' if result['rate'] >= goal else 'NOT met'}" if goal else ""
        print(f"  {names[name]:<16}{result['rate']:>10.0f}{result['p99']:>10}{peer:>10}{result['rate'] / peer:>7.2f}x   {label}{note}")
    rsa = subprocess.run(["openssl", "speed", "-seconds", "1", "rsa2048"], capture_output=True, text=True).stdout
    signs = re.search(r"rsa 2048 bits\s+\S+\s+\S+\s+([\d.]+)", rsa)
    if signs:
        print(f"  (RSA-2048 signatures on this machine, openssl speed: {float(signs.group(1)):.0f}/s per core: the RS256 ceiling)")
    if failed:
        sys.exit(f"some requests failed: {failed}")


if __name__ == "__main__":
    main()
