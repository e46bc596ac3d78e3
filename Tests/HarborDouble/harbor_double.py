#!/usr/bin/env python3
"""A recorded-contract double of Harbor's REST API v2.0 (TEST ONLY).

Harbor cannot run on the test machines. This serves the few paths Knot calls,
with the verbs, status codes and JSON shapes of Harbor v2.x (see README.md),
refuses everything else (404 for unknown paths, 405 for other verbs, 400 for
malformed bodies, 401 without the admin's basic credentials), and records
every request so tests can assert exactly what Knot sent.

Control endpoints (no auth, under /_double/, never part of Harbor):
  POST /_double/oidc-login   {"username": "alice"}  a first OIDC sign-in: the user
                                                     appears with a CLI secret
  POST /_double/rotate-secret {"username": "alice"} a new CLI secret
  GET  /_double/requests                            the recorded requests
  GET  /_double/state                               configuration, projects, members, users

Usage: harbor_double.py [--port 0] [--admin admin] [--password Harbor12345]
Prints "READY http://127.0.0.1:PORT" once listening.
"""
import argparse
import os
import signal
import base64
import json
import re
import secrets
import sys
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

PROJECT_NAME = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
# Harbor's configuration keys Knot may set, with their JSON types (swagger: Configurations).
CONFIG_KEYS = {
    "auth_mode": str, "oidc_name": str, "oidc_endpoint": str, "oidc_client_id": str, "oidc_client_secret": str,
    "oidc_scope": str, "oidc_groups_claim": str, "oidc_admin_group": str, "oidc_user_claim": str,
    "oidc_auto_onboard": bool, "oidc_verify_cert": bool, "oidc_extra_redirect_parms": str,
    "oidc_group_filter": str, "project_creation_restriction": str, "self_registration": bool,
}
AUTH_MODES = {"db_auth", "ldap_auth", "uaa_auth", "http_auth", "oidc_auth"}


def now():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class State:
    def __init__(self, admin, password):
        self.lock = threading.Lock()
        self.admin, self.password = admin, password
        self.config = {"auth_mode": "db_auth"}
        self.users = {admin: {"user_id": 1, "username": admin, "sysadmin_flag": True, "secret": None}}
        self.projects = {"library": {"project_id": 1, "name": "library", "public": "true", "members": {}}}
        self.requests = []

    def next_id(self, table, key):
        return max([v[key] for v in table.values()] + [0]) + 1


class Handler(BaseHTTPRequestHandler):
    server_version = "HarborDouble/2.11"
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        if not self.server.quiet:
            super().log_message(*args)

    # -- plumbing ----------------------------------------------------------
    def reply(self, status, body=None, headers=()):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def error(self, status, code, message):
        # Harbor's error shape: {"errors": [{"code": ..., "message": ...}]}
        self.reply(status, {"errors": [{"code": code, "message": message}]})

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def handle_any(self, method):
        state = self.server.state
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query)
        raw = self.read_body()
        body = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = ValueError
        if path.startswith("/_double/"):
            return self.control(method, path, body)
        user = self.authenticated()
        with state.lock:
            state.requests.append({"method": method, "path": path, "query": parts.query, "body": None if body is ValueError else body,
                                   "user": user, "headers": {"X-Is-Resource-Name": self.headers.get("X-Is-Resource-Name")}})
        if user is None:
            return self.error(401, "UNAUTHORIZED", "unauthorized")
        if body is ValueError:
            return self.error(400, "BAD_REQUEST", "invalid JSON body")
        if raw and not (self.headers.get("Content-Type") or "").startswith("application/json"):
            return self.error(415, "UNSUPPORTED_MEDIA_TYPE", "application/json only")
        routes = [
            (r"/api/v2\.0/configurations", {"GET": self.get_config, "PUT": self.put_config}),
            (r"/api/v2\.0/projects", {"GET": self.list_projects, "POST": self.create_project}),
            (r"/api/v2\.0/projects/([^/]+)", {"GET": self.get_project}),
            (r"/api/v2\.0/projects/([^/]+)/members", {"GET": self.list_members, "POST": self.add_member}),
            (r"/api/v2\.0/users/search", {"GET": self.search_users}),
            (r"/api/v2\.0/users/(\d+)", {"GET": self.get_user}),
        ]
        for pattern, verbs in routes:
            match = re.fullmatch(pattern, path)
            if match:
                handler = verbs.get(method)
                if handler is None:
                    return self.error(405, "METHOD_NOT_ALLOWED", f"{method} is not allowed on {path}")
                with state.lock:
                    return handler(body, query, *[unquote(g) for g in match.groups()])
        return self.error(404, "NOT_FOUND", f"no route for {path}")

    def authenticated(self):
        header = self.headers.get("Authorization") or ""
        if not header.startswith("Basic "):
            return None
        try:
            username, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return None
        state = self.server.state
        return username if (username, password) == (state.admin, state.password) else None

    def project(self, name_or_id):
        state = self.server.state
        if self.headers.get("X-Is-Resource-Name", "").lower() != "true" and name_or_id.isdigit():
            return next((p for p in state.projects.values() if p["project_id"] == int(name_or_id)), None)
        return state.projects.get(name_or_id)

    # -- Harbor's API --------------------------------------------------------
    def get_config(self, body, query):
        self.reply(200, {k: {"value": v, "editable": True} for k, v in self.server.state.config.items()
                         if k != "oidc_client_secret"})

    def put_config(self, body, query):
        if not isinstance(body, dict):
            return self.error(400, "BAD_REQUEST", "a configuration object is required")
        for key, value in body.items():
            kind = CONFIG_KEYS.get(key)
            if kind is None:
                return self.error(400, "BAD_REQUEST", f"invalid configuration key: {key}")
            if type(value) is not kind:
                return self.error(400, "BAD_REQUEST", f"{key} must be a {kind.__name__}")
        if "auth_mode" in body and body["auth_mode"] not in AUTH_MODES:
            return self.error(400, "BAD_REQUEST", "invalid auth_mode")
        self.server.state.config.update(body)
        self.reply(200)

    def list_projects(self, body, query):
        name = (query.get("name") or [""])[0]
        found = [p for p in self.server.state.projects.values() if name in p["name"]]
        self.reply(200, [self.project_json(p) for p in found], headers=[("X-Total-Count", str(len(found)))])

    def project_json(self, p):
        return {"project_id": p["project_id"], "name": p["name"], "metadata": {"public": p["public"]},
                "creation_time": now(), "update_time": now()}

    def create_project(self, body, query):
        state = self.server.state
        if not isinstance(body, dict) or not isinstance(body.get("project_name"), str):
            return self.error(400, "BAD_REQUEST", "project_name is required")
        name = body["project_name"]
        if not PROJECT_NAME.match(name) or len(name) > 255:
            return self.error(400, "BAD_REQUEST", "project name is not in lower case or contains illegal characters")
        public = (body.get("metadata") or {}).get("public", "false")
        if public not in ("true", "false"):
            return self.error(400, "BAD_REQUEST", "metadata.public must be \"true\" or \"false\"")
        if name in state.projects:
            return self.error(409, "CONFLICT", f"The project named {name} already exists")
        project_id = state.next_id(state.projects, "project_id")
        state.projects[name] = {"project_id": project_id, "name": name, "public": public, "members": {}}
        self.reply(201, headers=[("Location", f"/api/v2.0/projects/{project_id}")])

    def get_project(self, body, query, name):
        project = self.project(name)
        if project is None:
            return self.error(404, "NOT_FOUND", f"project {name} not found")
        self.reply(200, self.project_json(project))

    def list_members(self, body, query, name):
        project = self.project(name)
        if project is None:
            return self.error(404, "NOT_FOUND", f"project {name} not found")
        self.reply(200, [{"entity_name": u, "entity_type": "u", "role_id": r} for u, r in project["members"].items()])

    def add_member(self, body, query, name):
        state = self.server.state
        project = self.project(name)
        if project is None:
            return self.error(404, "NOT_FOUND", f"project {name} not found")
        if not isinstance(body, dict) or body.get("role_id") not in (1, 2, 3, 4, 5) or not isinstance(body.get("member_user"), dict):
            return self.error(400, "BAD_REQUEST", "role_id (1-5) and member_user are required")
        username = body["member_user"].get("username")
        if username not in state.users:
            return self.error(404, "NOT_FOUND", f"user {username} not found")
        if username in project["members"]:
            return self.error(409, "CONFLICT", "The project member specified already exist")
        project["members"][username] = body["role_id"]
        self.reply(201, headers=[("Location", f"/api/v2.0/projects/{project['project_id']}/members/{len(project['members'])}")])

    def search_users(self, body, query):
        username = (query.get("username") or [""])[0]
        if not username:
            return self.error(400, "BAD_REQUEST", "username is required")
        found = [{"user_id": u["user_id"], "username": u["username"]} for u in self.server.state.users.values()
                 if username in u["username"]]
        self.reply(200, found, headers=[("X-Total-Count", str(len(found)))])

    def get_user(self, body, query, user_id):
        user = next((u for u in self.server.state.users.values() if u["user_id"] == int(user_id)), None)
        if user is None:
            return self.error(404, "NOT_FOUND", f"user {user_id} not found")
        answer = {"user_id": user["user_id"], "username": user["username"], "email": f"{user['username']}@example.org",
                  "realname": user["username"], "sysadmin_flag": user["sysadmin_flag"], "admin_role_in_auth": False,
                  "creation_time": now(), "update_time": now()}
        if user["secret"] is not None:
            answer["oidc_user_meta"] = {"id": user["user_id"], "user_id": user["user_id"], "secret": user["secret"],
                                        "subiss": f"{user['username']}https://knot", "creation_time": now(), "update_time": now()}
        self.reply(200, answer)

    # -- control ---------------------------------------------------------------
    def control(self, method, path, body):
        state = self.server.state
        with state.lock:
            if method == "GET" and path == "/_double/requests":
                return self.reply(200, state.requests)
            if method == "GET" and path == "/_double/state":
                return self.reply(200, {"config": state.config, "users": state.users,
                                        "projects": {k: {**v} for k, v in state.projects.items()}})
            if method == "POST" and path in ("/_double/oidc-login", "/_double/rotate-secret") and isinstance(body, dict):
                username = body.get("username")
                if path.endswith("oidc-login") and username not in state.users:
                    state.users[username] = {"user_id": state.next_id(state.users, "user_id"), "username": username,
                                             "sysadmin_flag": False, "secret": None}
                if username not in state.users:
                    return self.error(404, "NOT_FOUND", "no such user")
                state.users[username]["secret"] = secrets.token_urlsafe(24)
                return self.reply(200, state.users[username])
        return self.error(404, "NOT_FOUND", "no such control endpoint")

    def do_GET(self): self.handle_any("GET")
    def do_POST(self): self.handle_any("POST")
    def do_PUT(self): self.handle_any("PUT")
    def do_DELETE(self): self.handle_any("DELETE")
    def do_PATCH(self): self.handle_any("PATCH")
    def do_HEAD(self): self.handle_any("HEAD")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--admin", default="admin")
    parser.add_argument("--password", default="Harbor12345")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    # Started from an XCTest process that blocks SIGTERM (children inherit the
    # mask): unblock it so the test's stop() ends the double at once.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.state = State(args.admin, args.password)
    server.quiet = args.quiet
    print(f"READY http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
