"""A path-escape corpus for the files service, through the edge over real TLS
with real files on disk.

An attacker (a person with their own private folder, and a container that
can plant links, sockets and pipes in it) tries every spelling of "somewhere
else" against the file API, the JSON endpoints, the public folders and the
share links: dot segments plain and encoded, absolute paths, NUL, backslashes,
encoded separators, overlong UTF-8, double encoding, look-alike dots, overlong
names and paths, other people's and other domains' names, links planted in
the tree (to the victim's folder, /etc, the admin domain, the folder above,
dangling, looping, /proc) and links swapped in while requests run.

Every case asserts the same three things: no answer is a 5xx; no answer
carries a canary (unique contents planted in the victim's folder, the admin
domain, the files root and its parent, a folder outside, /etc/passwd) or the
name of a file only a listing outside could show; and no write lands outside
the attacker's own domains (the watched trees are compared with a snapshot
taken before, and /, /etc, /tmp and the run folders are searched for the
marker every written name carries).

Requests whose path `requests` would normalise are sent byte for byte over
TLS (`send`); the edge refuses dot segments with 400, which counts as a
correct refusal."""
import collections
import ctypes
import hashlib
import http.client
import json
import os
import shutil
import socket
import ssl
import stat
import threading
import time
import uuid
from urllib.parse import urlsplit

import pytest
import requests


MARK = "kpwn" + uuid.uuid4().hex[:8]  # every name a write case creates carries it
RACE_SECONDS = 1.5
PASSWD = b"root:x:0:0"


# ---------------------------------------------------------------- raw HTTP


class Answer:
    def __init__(self, status, body=b"", headers=None):
        self.status = status
        self.body = body
        self.headers = headers or {}

    def __repr__(self):
        return f"<{self.status} {self.body[:200]!r}>"


def answer_of(response):
    return Answer(response.status_code, response.content, dict(response.headers))


class Raw:
    """HTTP/1.1 over TLS with the request target sent exactly as given (bytes), one
    kept-alive connection per thread."""

    def __init__(self, knot):
        parts = urlsplit(knot.url)
        self.hostname, self.port = parts.hostname, parts.port
        self.authority = parts.netloc
        self.context = ssl.create_default_context(cafile=knot.ca)
        self.local = threading.local()

    def connect(self, timeout):
        connection = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        return self.context.wrap_socket(connection, server_hostname=self.hostname)

    def __call__(self, method, target, cookie=None, body=None, headers=None, timeout=15):
        if isinstance(target, str):
            target = target.encode("latin-1")
        lines = [method.encode() + b" " + target + b" HTTP/1.1", b"Host: " + self.authority.encode(),
                 b"User-Agent: knot-escape-corpus"]
        if cookie:
            lines.append(b"Cookie: " + cookie.encode())
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}".encode())
        if body is not None:
            lines.append(b"Content-Length: " + str(len(body)).encode())
        message = b"\r\n".join(lines) + b"\r\n\r\n" + (body or b"")
        kept = getattr(self.local, "tls", None)
        self.local.tls = None
        # A kept connection the server has meanwhile closed gets one retry on a fresh one.
        for tls in ([kept] if kept else []) + [None]:
            fresh = tls is None
            try:
                tls = tls or self.connect(timeout)
                tls.settimeout(timeout)
                tls.sendall(message)
                response = http.client.HTTPResponse(tls, method=method)
                response.begin()
                data = response.read()
            except (http.client.HTTPException, ConnectionError, ssl.SSLError, BrokenPipeError) as error:
                if tls is not None:
                    tls.close()
                if fresh:
                    return Answer(None, repr(error).encode())
                continue
            if response.will_close:
                tls.close()
            else:
                self.local.tls = tls
            return Answer(response.status, data, dict(response.getheaders()))


# ---------------------------------------------------------------- the world


def tree(top):
    """Everything under `top` (links not followed): kind, size, inode, link target, small files' digest."""
    seen = {}
    if not os.path.lexists(top):
        return seen
    for directory, folders, files in os.walk(top):
        for name in folders + files:
            path = os.path.join(directory, name)
            try:
                info = os.lstat(path)
            except FileNotFoundError:
                continue
            kind = stat.S_IFMT(info.st_mode)
            entry = [kind, info.st_ino]
            if kind == stat.S_IFLNK:
                entry.append(os.readlink(path))
            elif kind == stat.S_IFREG:
                entry += [info.st_size, info.st_mtime_ns]
                if info.st_size <= 65536:
                    with open(path, "rb") as f:
                        entry.append(hashlib.sha256(f.read()).hexdigest())
            seen[path] = tuple(entry)
    return seen


def names(top):
    try:
        return set(os.listdir(top))
    except OSError:
        return set()


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def remove(path):
    if os.path.islink(path) or os.path.isfile(path) or (os.path.lexists(path) and not os.path.isdir(path)):
        os.unlink(path)
    elif os.path.isdir(path):
        shutil.rmtree(path)


_libc = ctypes.CDLL(None, use_errno=True)


def exchange(a, b):
    """Swaps two names atomically (renameat2 RENAME_EXCHANGE): the path is always one or the other."""
    if _libc.renameat2(-100, a.encode(), -100, b.encode(), 2) != 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error), a)


class World:
    """The attacker, the victim, the canaries and the watched trees."""

    def __init__(self, knot, make_user, admin):
        self.knot = knot
        self.raw = Raw(knot)
        self.attacker, self.session = make_user("esa")
        self.victim, self.victim_session = make_user("esv")
        # People whose `public` folder a container replaced with a link.
        self.p1, _ = make_user("esp")  # public -> the victim's folder
        self.p2, _ = make_user("esp")  # public -> /etc
        self.p3, _ = make_user("esp")  # public -> .. (every private folder)
        self.cookie = "; ".join(f"{c.name}={c.value}" for c in self.session.cookies)
        self.root = os.path.realpath(knot.env["KNOT_FILES_ROOT"])
        self.data = os.path.dirname(self.root)
        self.A = os.path.join(self.root, "private", self.attacker)
        self.V = os.path.join(self.root, "private", self.victim)
        self.admin_dir = os.path.join(self.root, "admin")
        self.out = f"/tmp/knot-escape-{uuid.uuid4().hex[:10]}"
        for domain in ("shared", "admin"):
            os.makedirs(os.path.join(self.root, domain), exist_ok=True)
        tag = uuid.uuid4().hex[:12]
        self.secrets = {}  # label -> bytes no answer may carry

        def canary(label, path):
            content = f"CANARY-{label}-{tag}".encode()
            write(path, content)
            self.secrets[label] = content
            self.planted.append(path)

        self.planted = []
        canary("victim", f"{self.V}/secret.txt")
        canary("victim-only", f"{self.V}/victim-only.txt")
        canary("victim-deep", f"{self.V}/b/secret.txt")
        canary("victim-listing", f"{self.V}/vlist-{tag}.txt")
        canary("admin", f"{self.admin_dir}/admin-secret.txt")
        canary("admin-listing", f"{self.admin_dir}/alist-{tag}.txt")
        canary("files-root", f"{self.root}/root-canary.txt")
        canary("files-root-listing", f"{self.root}/rlist-{tag}.txt")
        canary("private-parent", f"{self.root}/private/private-canary.txt")
        canary("private-listing", f"{self.root}/private/plist-{tag}.txt")
        canary("data", f"{self.data}/escape-canary.txt")
        canary("data-listing", f"{self.data}/dlist-{tag}.txt")
        canary("outside", f"{self.out}/canary.txt")
        canary("outside-listing", f"{self.out}/olist-{tag}.txt")
        canary("p3-private", f"{self.root}/private/{self.p3}/private-secret.txt")
        write(f"{self.V}/public/hello.txt", b"the victim's public page")
        # Names only a listing of those folders could show (no request ever names them).
        self.listing_names = {f"{kind}list-{tag}".encode() for kind in "vardpo"}
        self.secrets["passwd"] = PASSWD
        secret_file = os.path.join(self.data, "internal-secret")
        if os.path.isfile(secret_file):
            value = open(secret_file, "rb").read().strip()
            if len(value) >= 16:
                self.secrets["internal-secret"] = value

        for person, target in ((self.p1, self.V), (self.p2, "/etc"), (self.p3, "..")):
            home = os.path.join(self.root, "private", person)
            os.makedirs(home, exist_ok=True)
            remove(os.path.join(home, "public"))
            os.symlink(target, os.path.join(home, "public"))

        # The attacker's own tree.
        A = self.A
        write(f"{A}/own.txt", b"the attacker's own file")
        write(f"{A}/dir/inner.txt", b"the attacker's inner file")
        write(f"{A}/public/hello.txt", b"the attacker's public page")
        write(f"{A}/public/secret.txt", b"the attacker's public secret")
        os.symlink(f"{self.V}/secret.txt", f"{A}/public/leak")
        os.symlink(self.V, f"{A}/public/victim")
        os.symlink("/etc", f"{A}/public/etc")
        os.symlink("..", f"{A}/public/up")
        write(f"{A}/share-folder/ok.txt", b"the attacker's shared file")
        os.symlink(self.V, f"{A}/share-folder/victim-link")
        write(f"{A}/share-file.txt", b"the attacker's shared single file")
        self.token = self.share("share-folder")
        self.file_token = self.share("share-file.txt")
        os.symlink(self.V, f"{A}/v")

        self.names = {
            "V": self.victim, "VU": self.victim.upper(), "A": self.attacker, "AS": "admin-secret.txt",
            "OUT": self.out.lstrip("/"), "OUTE": self.out.lstrip("/").replace("/", "%2f"), "OS": "canary.txt",
            "M": MARK, "T": self.token, "TF": self.file_token, "P1": self.p1, "P2": self.p2, "P3": self.p3,
            "ROOTE": self.root.lstrip("/").replace("/", "%2f"),
        }
        self.watched = [self.V, self.admin_dir, self.out] + [
            os.path.join(self.root, "private", p) for p in (self.p1, self.p2, self.p3)]
        self.listed = [self.root, os.path.join(self.root, "private"), self.data, os.path.dirname(self.data)]
        self.scanned = ["/", "/etc", "/tmp", "/root", knot.run, self.data, os.path.dirname(self.data),
                        os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")), self.out]
        self.baseline = self.snapshot()

    def share(self, path):
        made = self.session.post(f"{self.knot.url}/api/v1/files/shares", json={"domain": "private", "path": path})
        assert made.status_code == 201, made.text
        return made.json()["url"].rstrip("/").rsplit("/", 1)[1]

    def client(self, signed_in=True):
        session = self.knot.client()
        session.base = self.knot.url
        if signed_in:
            session.cookies.update(self.session.cookies)
        return session

    def fill(self, template):
        return template.format(**self.names)

    # -- checks

    def snapshot(self):
        watched = {}
        for top in self.watched:
            watched.update(tree(top))
        return {
            "trees": watched,
            "listed": {top: names(top) for top in self.listed},
            "passwd": hashlib.sha256(open("/etc/passwd", "rb").read()).hexdigest(),
        }

    def problems(self, what, answer, request_text=b""):
        """Why `answer` is wrong (empty when it is fine)."""
        found = []
        if answer.status is None:
            found.append(f"{what}: no HTTP answer ({answer.body[:200]!r})")
        elif answer.status >= 500:
            found.append(f"{what}: {answer.status} {answer.body[:300]!r}")
        for label, secret in self.secrets.items():
            if secret in answer.body:
                found.append(f"ESCAPE {what}: the answer ({answer.status}) carries the {label} canary")
        for name in self.listing_names:
            if name in answer.body and name not in request_text:
                found.append(f"ESCAPE {what}: the answer ({answer.status}) lists {name!r}, a file outside")
        return found

    def check(self, what, answer, request_text=b""):
        found = self.problems(what, answer, request_text)
        assert not found, "\n".join(found)

    def changes(self):
        now = self.snapshot()
        found = []
        before, after = self.baseline["trees"], now["trees"]
        for path in sorted(set(before) | set(after)):
            if path not in after:
                if not os.path.basename(path).startswith(".knot-upload-"):  # the sweeper may take stale uploads
                    found.append(f"deleted outside: {path}")
            elif path not in before:
                found.append(f"created outside: {path}")
            elif before[path] != after[path]:
                found.append(f"changed outside: {path}")
        for top in self.listed:
            for name in sorted(now["listed"][top] - self.baseline["listed"][top]):
                found.append(f"created outside: {top}/{name}")
            for name in sorted(self.baseline["listed"][top] - now["listed"][top]):
                found.append(f"deleted outside: {top}/{name}")
        if now["passwd"] != self.baseline["passwd"]:
            found.append("/etc/passwd changed")
        for top in self.scanned:
            for name in names(top):
                if MARK in name:
                    found.append(f"created outside: {top}/{name}")
        return found

    def untouched(self, what):
        found = self.changes()
        assert not found, f"ESCAPE {what}:\n" + "\n".join(found)

    # -- requests

    def send(self, method, template, signed_in=True, body=None, headers=None, timeout=15):
        target = self.fill(template) if isinstance(template, str) else template
        return self.raw(method, target, cookie=self.cookie if signed_in else None, body=body, headers=headers,
                        timeout=timeout)

    def api(self, endpoint, body, session=None):
        return answer_of((session or self.session).post(f"{self.knot.url}/api/v1/files/{endpoint}", json=body))


@pytest.fixture(scope="module")
def world(knot, make_user, admin):
    world = World(knot, make_user, admin)
    yield world
    # What was planted outside the test's own folders goes; a last look for anything that escaped.
    leftovers = world.changes()
    for path in world.planted:
        if not path.startswith((world.V, world.A)):
            try:
                os.unlink(path)
            except OSError:
                pass
    shutil.rmtree(world.out, ignore_errors=True)
    assert not leftovers, "\n".join(leftovers)


# ---------------------------------------------------------------- 1. spellings of a path, by method

SPELLINGS = [
    ("dotdot", "private/../{V}/secret.txt"),
    ("dotdot-twice", "private/../../admin/{AS}"),
    ("dotdot-to-passwd", "private/../../../../../../../etc/passwd"),
    ("dot", "private/./secret.txt"),
    ("dot-dot-only", "private/./."),
    ("lead-dot", "./private/secret.txt"),
    ("enc-dotdot", "private/%2e%2e/{V}/secret.txt"),
    ("enc-dotdot-upper", "private/%2E%2E/{V}/secret.txt"),
    ("enc-half-1", "private/.%2e/{V}/secret.txt"),
    ("enc-half-2", "private/%2e./{V}/secret.txt"),
    ("enc-dot", "private/%2e/secret.txt"),
    ("enc-dotdot-domain", "%2e%2e/admin/{AS}"),
    ("enc-slash-after-dotdot", "private/..%2f{V}%2fsecret.txt"),
    ("enc-all", "private/%2e%2e%2f{V}%2fsecret.txt"),
    ("enc-all-upper", "private/%2E%2E%2F%2E%2E%2Fadmin%2F{AS}"),
    ("enc-slash-only", "private/%2f"),
    ("enc-absolute", "private/%2fetc%2fpasswd"),
    ("enc-absolute-outside", "private/%2f{OUTE}%2f{OS}"),
    ("enc-absolute-root", "private/%2f{ROOTE}%2fadmin%2f{AS}"),
    ("enc-backslash", "private/..%5c{V}%5csecret.txt"),
    ("enc-backslash-lead", "private/%5c..%5c..%5cadmin%5c{AS}"),
    ("raw-backslash", "private/..\\{V}\\secret.txt"),
    ("raw-backslash-lead", "private/\\..\\..\\admin\\{AS}"),
    ("enc-dotdot-backslash", "private/%2e%2e%5c%2e%2e%5cetc%5cpasswd"),
    ("nul", "private/%00"),
    ("nul-after-dotdot", "private/..%00/{V}/secret.txt"),
    ("nul-in-name", "private/{V}%00/secret.txt"),
    ("nul-dotdot", "private/%00%2e%2e/{V}/secret.txt"),
    ("dotdot-nul", "private/%2e%2e%00/{V}/secret.txt"),
    ("enc-nul-literal", "private/%2500/secret.txt"),
    ("overlong-dot-c0", "private/%c0%ae%c0%ae/{V}/secret.txt"),
    ("overlong-slash-c0", "private/%c0%ae%c0%ae%c0%af{V}%c0%afsecret.txt"),
    ("overlong-dot-e0", "private/%e0%80%ae%e0%80%ae/{V}/secret.txt"),
    ("overlong-mixed", "private/%C0%2E%C0%2E/{V}/secret.txt"),
    ("overlong-slash-after-dotdot", "private/..%c0%af{V}%c0%afsecret.txt"),
    ("overlong-backslash", "private/..%c1%9c{V}%c1%9csecret.txt"),
    ("invalid-utf8", "private/%ff%fe/secret.txt"),
    ("double-enc", "private/%252e%252e/{V}/secret.txt"),
    ("double-enc-slash", "private/%252e%252e%252f{V}%252fsecret.txt"),
    ("double-enc-backslash", "private/..%255c..%255cetc%255cpasswd"),
    ("double-enc-nibbles", "private/%25%32%65%25%32%65/{V}/secret.txt"),
    ("broken-enc", "private/%%32%65%%32%65/{V}/secret.txt"),
    ("iis-unicode", "private/%u002e%u002e/{V}/secret.txt"),
    ("fullwidth-dots", "private/%ef%bc%8e%ef%bc%8e/{V}/secret.txt"),
    ("fullwidth-solidus", "private/%ef%bc%8e%ef%bc%8e%ef%bc%8f{V}%ef%bc%8fsecret.txt"),
    ("two-dot-leader", "private/%e2%80%a5/{V}/secret.txt"),
    ("one-dot-leaders", "private/%e2%80%a4%e2%80%a4/{V}/secret.txt"),
    ("division-slash", "private/..%e2%88%95{V}%e2%88%95secret.txt"),
    ("raw-utf8-fullwidth", b"/api/v1/files/private/\xef\xbc\x8e\xef\xbc\x8e/secret.txt"),
    ("raw-overlong", b"/api/v1/files/private/\xc0\xae\xc0\xae/secret.txt"),
    ("raw-nul", b"/api/v1/files/private/a\x00/secret.txt"),
    ("empty-segment-absolute", "private//etc/passwd"),
    ("empty-segments-dotdot", "private///..//..//admin/{AS}"),
    ("domain-absolute", "%2fetc%2fpasswd"),
    ("absolute-after-prefix", "/etc/passwd"),
    ("name-256", "private/" + "a" * 256),
    ("name-300-then-dotdot", "private/" + "b" * 300 + "%2f..%2f..%2fadmin"),
    ("depth-2100", "private/" + "x/" * 2100 + "secret.txt"),
    ("long-encoded-dotdots", "private/" + "%2e%2e%2f" * 500 + "etc%2fpasswd"),
    ("path-4250-bytes", "private/" + ("y" * 250 + "/") * 17 + "{M}"),
    ("request-line-64k", "private/" + "z/" * 32768),  # PUT and DELETE: see the last test
    ("tilde-domain", "~{V}/secret.txt"),
    ("tilde-in-private", "private/~{V}/secret.txt"),
    ("user-as-domain", "{V}/secret.txt"),
    ("user-under-private", "private/{V}/secret.txt"),
    ("domain-enc-dotdot", "private%2f..%2f{V}/secret.txt"),
    ("domain-enc-user", "private%2f{V}/secret.txt"),
    ("domain-dotdot-private", "private/../private/{V}/secret.txt"),
    ("admin-as-person", "admin/{AS}"),
    ("admin-enc-escape", "admin/..%2f{AS}"),
    ("admin-capital", "Admin/{AS}"),
    ("admin-upper", "ADMIN/{AS}"),
    ("admin-nul", "admin%00/{AS}"),
    ("admin-trailing-dot", "admin./{AS}"),
    ("admin-enc-letter", "%61dmin/{AS}"),
    ("shared-dotdot", "shared/../admin/{AS}"),
    ("shared-enc-dotdot", "shared/%2e%2e/admin/{AS}"),
    ("shared-enc-slash", "shared/..%2fadmin%2f{AS}"),
    ("shared-to-victim", "shared/..%2fprivate%2f{V}%2fsecret.txt"),
    ("shared-to-data", "shared/%2e%2e%2f%2e%2e%2finternal-secret"),
    ("unknown-domain", "unknown/{AS}"),
    ("trailing-dot", "private/..%2f{V}%2fsecret.txt."),
    ("trailing-space", "private/..%2f{V}%2fsecret.txt%20"),
    ("dotdot-space", "private/%2e%2e%20/{V}/secret.txt"),
    ("dotdot-enc-space", "private/..%20/{V}/secret.txt"),
    ("three-dots", "private/.../{V}/secret.txt"),
    ("dotdot-semicolon", "private/..;/{V}/secret.txt"),
    ("enc-dotdot-semicolon", "private/%2e%2e;/{V}/secret.txt"),
    ("newline-dotdot", "private/%0a..%0a/{V}/secret.txt"),
    ("crlf-dotdot", "private/..%0d%0a/{V}/secret.txt"),
    ("tab-dotdot", "private/%09../{V}/secret.txt"),
    ("reserved-upload-name", "private/.knot-upload-0000"),
    ("inner-enc-climb", "private/x%2F..%2F..%2F{V}%2Fsecret.txt"),
    ("windows-drive", "private/C:%5cWindows%5cwin.ini"),
    ("file-url", "private/file:%2f%2f%2fetc%2fpasswd"),
    ("to-data-dir", "private/%2e%2e%2f%2e%2e%2f%2e%2e%2fescape-canary.txt"),
    ("to-files-root", "private/..%2f..%2froot-canary.txt"),
    ("proc-root", "private/%2fproc%2fself%2froot%2fetc%2fpasswd"),
    ("proc-environ", "private/%2fproc%2fself%2fenviron"),
    ("dev-zero", "private/%2fdev%2fzero"),
    ("query-smuggled-path", "private?path=../../admin/{AS}"),
    ("fragment-dotdot", "private/a#/../../admin/{AS}"),
]


SPELLING_CASES = [pytest.param(template, method, id=f"{name}-{method}") for name, template in SPELLINGS
                  for method in ("GET", "HEAD", "PUT", "DELETE") if not (name == "request-line-64k" and method in ("PUT", "DELETE"))]


@pytest.mark.parametrize("template,method", SPELLING_CASES)
def test_path_spellings(world, template, method):
    target = template if isinstance(template, bytes) else "/api/v1/files/" + world.fill(template)
    if method == "PUT" and isinstance(target, str):
        target += ("&" if "?" in target else "?") + "overwrite=true"
    if method == "DELETE" and isinstance(target, str):
        target += ("&" if "?" in target else "?") + "recursive=true"
    body = b"pwned " + MARK.encode() if method == "PUT" else None
    answer = world.send(method, target, body=body)
    world.check(f"{method} {target[:200]!r}", answer, target.encode() if isinstance(target, str) else target)
    if method in ("PUT", "DELETE"):
        world.untouched(f"{method} {target[:200]!r}")


IDENTITY_HEADERS = [
    {"X-Knot-User": "{V}"},
    {"Knot-Assertion": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ7Vn0ifQ."},
    {"X-Forwarded-User": "{V}", "X-Remote-User": "{V}"},
    {"X-Original-URL": "/api/v1/files/private/../{V}/secret.txt", "X-Rewrite-URL": "/api/v1/files/admin/{AS}"},
]


@pytest.mark.parametrize("headers", IDENTITY_HEADERS, ids=["x-knot-user", "assertion", "forwarded-user", "rewrite-url"])
def test_the_private_domain_is_the_callers_whatever_the_headers_say(world, headers):
    # The victim's secret sits at the root of the victim's private folder under this very name.
    filled = {name: world.fill(value) for name, value in headers.items()}
    answer = world.send("GET", "/api/v1/files/private/secret.txt", headers=filled)
    world.check(f"GET private/secret.txt with {filled}", answer)
    listing = world.send("GET", "/api/v1/files/private", headers=filled)
    world.check(f"GET private with {filled}", listing)
    assert listing.status == 200 and answer.status in (200, 404), (answer, listing)


# ---------------------------------------------------------------- 2. JSON bodies with bad paths

BAD_PATHS = [
    ("dotdot", "../{V}/secret.txt"),
    ("dotdot-admin", "../../admin/{AS}"),
    ("absolute", "/etc/passwd"),
    ("absolute-outside", "/{OUT}/{OS}"),
    ("inner-climb", "x/../../{V}/secret.txt"),
    ("dot", "./secret.txt"),
    ("only-dotdot", ".."),
    ("backslash", "..\\{V}\\secret.txt"),
    ("nul", "secret.txt\u0000/../../{V}"),
    ("name-256", "a" * 256),
    ("depth-65", "d/" * 65 + "x"),
    ("link-through", "v/secret.txt"),
    ("reserved-name", ".knot-upload-1234"),
    ("tilde", "~{V}/secret.txt"),
]
BAD_WRITE_PATHS = [(i, p.replace("secret.txt", "{M}")) for i, p in BAD_PATHS]
BAD_DOMAINS = [
    ("admin", "admin"), ("admin-capital", "Admin"), ("dotdot-admin", "../admin"), ("private-dotdot", "private/../admin"),
    ("empty", ""), ("user", "{V}"), ("tilde-user", "~{V}"), ("nul", "private\u0000"), ("number", 5), ("null", None),
]


def place(world, domain, path):
    return {"domain": world.fill(domain) if isinstance(domain, str) else domain, "path": world.fill(path)}


@pytest.fixture
def fresh(world):
    """The attacker's own files as they were (a case may have moved or replaced them)."""
    write(f"{world.A}/own.txt", b"the attacker's own file")
    write(f"{world.A}/dir/inner.txt", b"the attacker's inner file")
    remove(f"{world.A}/v")
    os.symlink(world.V, f"{world.A}/v")
    return world


def json_cases():
    cases = []
    for i, path in BAD_WRITE_PATHS:
        cases.append((f"folders-{i}", "folders", {"domain": "private", "path": path}))
    for i, domain in BAD_DOMAINS:
        cases.append((f"folders-domain-{i}", "folders", {"domain": domain, "path": "{M}"}))
    for i, path in BAD_PATHS:
        cases.append((f"move-from-{i}", "move", {"from": ("private", path), "to": ("private", "{M}-moved")}))
        cases.append((f"copy-from-{i}", "copy", {"from": ("private", path), "to": ("private", "{M}-copied")}))
    for i, path in BAD_WRITE_PATHS:
        cases.append((f"move-to-{i}", "move", {"from": ("private", "own.txt"), "to": ("private", path)}))
        cases.append((f"copy-to-{i}", "copy", {"from": ("private", "dir"), "to": ("private", path)}))
    for i, domain in BAD_DOMAINS:
        cases.append((f"move-from-domain-{i}", "move", {"from": (domain, "{AS}"), "to": ("private", "{M}-d")}))
        cases.append((f"copy-to-domain-{i}", "copy", {"from": ("private", "own.txt"), "to": (domain, "{M}")}))
    cases.append(("move-both-escape", "move", {"from": ("private", "../{V}/secret.txt"), "to": ("shared", "../admin/{M}")}))
    cases.append(("copy-both-escape", "copy", {"from": ("admin", "{AS}"), "to": ("private", "../{V}/{M}")}))
    cases.append(("move-overwrite-escape", "move", {"from": ("private", "own.txt"), "to": ("private", "../{V}/secret.txt"),
                                                    "overwrite": True}))
    for i, path in BAD_WRITE_PATHS:
        cases.append((f"uploads-{i}", "uploads", {"domain": "private", "path": path, "length": 4, "overwrite": True}))
    for i, domain in BAD_DOMAINS[:5]:
        cases.append((f"uploads-domain-{i}", "uploads", {"domain": domain, "path": "{M}", "length": 4}))
    for i, path in BAD_PATHS:
        cases.append((f"shares-{i}", "shares", {"domain": "private", "path": path}))
    for i, domain in BAD_DOMAINS[:5]:
        cases.append((f"shares-domain-{i}", "shares", {"domain": domain, "path": "{AS}"}))
    return cases


JSON_CASES = json_cases()


@pytest.mark.parametrize("case,endpoint,body", JSON_CASES, ids=[i for i, _, _ in JSON_CASES])
def test_json_bodies(fresh, case, endpoint, body):
    world = fresh
    filled = {}
    for key, value in body.items():
        if isinstance(value, tuple):
            filled[key] = place(world, *value)
        elif isinstance(value, str):
            filled[key] = world.fill(value)
        else:
            filled[key] = value
    answer = world.api(endpoint, filled)
    what = f"POST {endpoint} {filled}"
    world.check(what, answer, repr(filled).encode())
    world.untouched(what)
    if not case.endswith("-tilde"):  # "~victim" is just a name in the attacker's own folder
        assert answer.status >= 400, f"{what}: {answer}"
    if endpoint == "uploads" and answer.status == 201:
        # Whatever was opened stays the attacker's: finishing it lands nothing outside.
        location = world.knot.url + answer.headers["Location"]
        done = answer_of(world.session.patch(location, data=b"abcd", headers={
            "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}))
        world.check(f"PATCH after {what}", done)
        world.untouched(f"PATCH after {what}")
    if endpoint == "shares" and answer.status == 201:
        served = world.raw("GET", "/s/" + token_of(answer))
        world.check(f"GET the share made by {what}", served)


def answer_of_json(answer):
    return json.loads(answer.body)


def token_of(answer):
    return answer_of_json(answer)["url"].rstrip("/").rsplit("/", 1)[1]


# ---------------------------------------------------------------- 3. links planted in the tree


def links(world):
    """name -> (target, a path inside the target worth asking for)."""
    return {
        "victim": (world.V, "secret.txt"),
        "victim-rel": (f"../../{world.victim}", "secret.txt"),
        "victim-secret": (f"{world.V}/secret.txt", "x"),
        "etc": ("/etc", "passwd"),
        "passwd": ("/etc/passwd", "x"),
        "outside": (world.out, "canary.txt"),
        "outside-file": (f"{world.out}/canary.txt", "x"),
        "parent": ("..", "own.txt"),
        "private-parent": ("../..", f"{world.victim}/secret.txt"),
        "files-root": (world.root, "admin/admin-secret.txt"),
        "slash": ("/", "etc/passwd"),
        "admin": (world.admin_dir, "admin-secret.txt"),
        "data": (world.data, "escape-canary.txt"),
        "dangling": (f"/nonexistent-{MARK}/deeper", "x"),
        "loop": ("loop-b", "x"),
        "self": ("self", "x"),
        "proc-root": ("/proc/self/root", "etc/passwd"),
        "proc-cwd": ("/proc/self/cwd", "x"),
    }


LINK_NAMES = ["victim", "victim-rel", "victim-secret", "etc", "passwd", "outside", "outside-file", "parent",
              "private-parent", "files-root", "slash", "admin", "data", "dangling", "loop", "self", "proc-root",
              "proc-cwd"]


def plant(world):
    """The attacker's `links` folder as a container left it."""
    base = f"{world.A}/links"
    remove(base)
    os.makedirs(base)
    for name, (target, _) in links(world).items():
        os.symlink(target, f"{base}/{name}")
    os.symlink("loop", f"{base}/loop-b")
    os.makedirs(f"{world.A}/copies", exist_ok=True)


@pytest.fixture
def planted(fresh):
    plant(fresh)
    return fresh


def _files(world, path):
    return f"/api/v1/files/private/{path}"


LINK_OPS = {
    "get-link": lambda w, L, inner: w.send("GET", _files(w, L)),
    "get-through": lambda w, L, inner: w.send("GET", _files(w, f"{L}/{inner}")),
    "get-tar": lambda w, L, inner: w.send("GET", _files(w, L) + "?archive=tar"),
    "get-stat": lambda w, L, inner: w.send("GET", _files(w, L) + "?stat"),
    "head-through": lambda w, L, inner: w.send("HEAD", _files(w, f"{L}/{inner}")),
    "put-through": lambda w, L, inner: w.send("PUT", _files(w, f"{L}/{MARK}"), body=b"pwned"),
    "put-over-link": lambda w, L, inner: w.send("PUT", _files(w, L) + "?overwrite=true", body=b"pwned"),
    "delete-through": lambda w, L, inner: w.send("DELETE", _files(w, f"{L}/{inner}") + "?recursive=true"),
    "delete-link": lambda w, L, inner: w.send("DELETE", _files(w, L) + "?recursive=true"),
    "copy-from-link": lambda w, L, inner: w.api("copy", {"from": {"domain": "private", "path": L},
                                                         "to": {"domain": "private", "path": f"copies/{MARK}"}}),
    "move-from-through": lambda w, L, inner: w.api("move", {"from": {"domain": "private", "path": f"{L}/{inner}"},
                                                            "to": {"domain": "private", "path": f"{MARK}-stolen"}}),
    "move-into-link": lambda w, L, inner: w.api("move", {"from": {"domain": "private", "path": "own.txt"},
                                                         "to": {"domain": "private", "path": f"{L}/{MARK}"}}),
    "copy-into-link": lambda w, L, inner: w.api("copy", {"from": {"domain": "private", "path": "dir"},
                                                         "to": {"domain": "private", "path": f"{L}/{MARK}"}}),
    "folder-in-link": lambda w, L, inner: w.api("folders", {"domain": "private", "path": f"{L}/{MARK}"}),
    "upload-in-link": lambda w, L, inner: w.api("uploads", {"domain": "private", "path": f"{L}/{MARK}", "length": 4}),
    "share-link": lambda w, L, inner: w.api("shares", {"domain": "private", "path": L}),
    "share-through": lambda w, L, inner: w.api("shares", {"domain": "private", "path": f"{L}/{inner}"}),
}


@pytest.mark.parametrize("op", list(LINK_OPS))
@pytest.mark.parametrize("link", LINK_NAMES)
def test_links_planted_in_the_tree(planted, link, op):
    world = planted
    target, inner = links(world)[link]
    answer = LINK_OPS[op](world, f"links/{link}", inner)
    what = f"{op} on links/{link} (-> {target})"
    world.check(what, answer)
    world.untouched(what)
    if op.startswith(("move", "copy")) or op == "put-over-link":
        # Nothing in the attacker's folder now reads as what the link pointed at.
        for path in (f"{MARK}-stolen", f"copies/{MARK}", f"links/{link}", f"links/{link}/{inner}"):
            world.check(f"GET {path} after {what}", world.send("GET", _files(world, path)))
    if op in ("share-link", "share-through") and answer.status == 201:
        world.check(f"GET the share made by {what}", world.raw("GET", f"/s/{token_of(answer)}/{inner}"))
    if op == "put-over-link":
        # The link itself is replaced; its target stays as it was (checked above).
        assert answer.status == 201 and not os.path.islink(f"{world.A}/links/{link}"), answer
    elif op == "delete-link":
        assert answer.status == 200 and not os.path.lexists(f"{world.A}/links/{link}"), "the link goes, never its target"
    else:
        assert answer.status >= 400, f"{what}: links are never followed, yet {answer}"


@pytest.mark.parametrize("what", ["listing", "tar", "stat", "copy", "move-to-shared", "top-level-link",
                                  "top-level-link-tar", "root-tar"])
def test_folders_holding_links(planted, what):
    world = planted
    if what == "listing":
        answer = world.send("GET", _files(world, "links"))
        world.check(what, answer)
        kinds = {e["name"]: e["kind"] for e in answer_of_json(answer)["entries"]}
        assert set(kinds.values()) == {"link"} and "victim" in kinds, kinds
    elif what == "tar":
        world.check(what, world.send("GET", _files(world, "links") + "?archive=tar"))
    elif what == "stat":
        world.check(what, world.send("GET", _files(world, "links") + "?stat"))
    elif what == "copy":
        answer = world.api("copy", {"from": {"domain": "private", "path": "links"},
                                    "to": {"domain": "private", "path": f"copies/{MARK}-links"}})
        world.check(what, answer)
        assert answer.status == 201 and os.listdir(f"{world.A}/copies/{MARK}-links") == [], "links are not copied"
        remove(f"{world.A}/copies/{MARK}-links")
    elif what == "move-to-shared":
        name = f"{MARK}-links-{uuid.uuid4().hex[:6]}"
        answer = world.api("move", {"from": {"domain": "private", "path": "links"}, "to": {"domain": "shared", "path": name}})
        world.check(what, answer)
        assert answer.status == 201, answer
        for inner in ("victim/secret.txt", "etc/passwd", "admin/admin-secret.txt", "victim", "victim?archive=tar"):
            world.check(f"shared/{name}/{inner}", world.send("GET", f"/api/v1/files/shared/{name}/{inner}"))
        assert world.send("DELETE", f"/api/v1/files/shared/{name}?recursive=true").status == 200
    elif what == "top-level-link":
        for inner in ("v/secret.txt", "v", "v/b/secret.txt"):
            world.check(inner, world.send("GET", _files(world, inner)))
    elif what == "top-level-link-tar":
        world.check(what, world.send("GET", _files(world, "v") + "?archive=tar"))
    elif what == "root-tar":
        world.check(what, world.send("GET", "/api/v1/files/private?archive=tar"))
    world.untouched(what)


# ---------------------------------------------------------------- swapped between two requests


def open_upload(world, path, length):
    opened = world.session.post(f"{world.knot.url}/api/v1/files/uploads",
                                json={"domain": "private", "path": path, "length": length, "overwrite": True})
    assert opened.status_code == 201, opened.text
    return opened.headers["Location"]


def patch(world, location, offset, data, timeout=15):
    return answer_of(world.session.patch(world.knot.url + location, data=data, timeout=timeout, headers={
        "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream", "Tus-Resumable": "1.0.0"}))


def test_an_upload_whose_folder_becomes_a_link(world):
    folder = f"{world.A}/swap-upload-{uuid.uuid4().hex[:6]}"
    os.makedirs(folder)
    location = open_upload(world, f"{os.path.basename(folder)}/secret.txt", 10)
    assert patch(world, location, 0, b"12345").status == 204
    os.rename(folder, folder + ".real")
    os.symlink(world.V, folder)
    rest = patch(world, location, 5, b"67890")
    world.check("PATCH into a folder now a link", rest)
    offset = answer_of(world.session.head(world.knot.url + location))
    world.check("HEAD of an upload whose folder is now a link", offset)
    abandoned = answer_of(world.session.delete(world.knot.url + location))
    world.check("DELETE of an upload whose folder is now a link", abandoned)
    world.untouched("an upload whose folder became a link")
    assert rest.status in (403, 404, 409), rest


def test_an_upload_whose_hidden_file_becomes_a_link(world):
    folder = f"{world.A}/swap-hidden-{uuid.uuid4().hex[:6]}"
    os.makedirs(folder)
    location = open_upload(world, f"{os.path.basename(folder)}/x.bin", 5)
    hidden = f"{folder}/.knot-upload-{location.rsplit('/', 1)[1]}"
    assert os.path.isfile(hidden)
    os.unlink(hidden)
    os.symlink(f"{world.V}/secret.txt", hidden)
    answer = patch(world, location, 0, b"pwned")
    world.check("PATCH onto a hidden file swapped for a link", answer)
    world.check("HEAD", answer_of(world.session.head(world.knot.url + location)))
    world.check("DELETE", answer_of(world.session.delete(world.knot.url + location)))
    world.untouched("an upload whose hidden file became a link to the victim's secret")
    assert os.path.islink(hidden) or not os.path.lexists(hidden)


def test_an_upload_whose_hidden_file_becomes_a_pipe(world):
    """The hidden file's name is in the upload's Location; a container can put a FIFO there.
    The append must answer (never block a thread waiting for a reader)."""
    folder = f"{world.A}/swap-fifo-{uuid.uuid4().hex[:6]}"
    os.makedirs(folder)
    location = open_upload(world, f"{os.path.basename(folder)}/x.bin", 5)
    hidden = f"{folder}/.knot-upload-{location.rsplit('/', 1)[1]}"
    os.unlink(hidden)
    os.mkfifo(hidden)
    started = time.time()
    try:
        answer = patch(world, location, 0, b"hello", timeout=3)
    except requests.exceptions.ReadTimeout:
        answer = Answer(None, b"no answer within 3 s: the files service is blocked opening the FIFO")
    finally:
        # Unblock whatever waits on the pipe: open its reading end, let the writer finish, close.
        reader = os.open(hidden, os.O_RDONLY | os.O_NONBLOCK)
        time.sleep(0.5)
        try:
            os.read(reader, 65536)
        except BlockingIOError:
            pass
        os.close(reader)
        for leftover in (hidden, f"{folder}/x.bin"):  # a finished upload renames the pipe into place
            if os.path.lexists(leftover):
                os.unlink(leftover)
    world.check(f"PATCH onto a hidden file swapped for a FIFO ({time.time() - started:.1f}s)", answer)
    world.untouched("an upload whose hidden file became a FIFO")


def test_a_shared_folder_that_becomes_a_link(world):
    name = f"share-swap-{uuid.uuid4().hex[:6]}"
    write(f"{world.A}/{name}/secret.txt", b"the attacker's shared secret")
    token = world.share(name)
    assert world.raw("GET", f"/s/{token}/secret.txt").body == b"the attacker's shared secret"
    os.rename(f"{world.A}/{name}", f"{world.A}/{name}.real")
    os.symlink(world.V, f"{world.A}/{name}")
    for path in (f"/s/{token}/secret.txt", f"/s/{token}/", f"/s/{token}", f"/s/{token}/b/secret.txt",
                 f"/s/{token}/victim-only.txt"):
        answer = world.raw("GET", path)
        world.check(f"GET {path} of a folder share now a link", answer)
        assert answer.status in (403, 404), (path, answer)


def test_a_shared_file_that_becomes_a_link(world):
    name = f"share-file-swap-{uuid.uuid4().hex[:6]}.txt"
    write(f"{world.A}/{name}", b"the attacker's file")
    token = world.share(name)
    for target in ("/etc/passwd", f"{world.V}/secret.txt", world.V):
        remove(f"{world.A}/{name}")
        os.symlink(target, f"{world.A}/{name}")
        for path in (f"/s/{token}", f"/s/{token}/secret.txt"):
            answer = world.raw("GET", path)
            world.check(f"GET {path} of a file share now a link to {target}", answer)
            assert answer.status in (403, 404), (path, answer)


# ---------------------------------------------------------------- 5. public folders and share links, anonymously

ANONYMOUS = [
    ("victim-private-file", "GET", "/~{V}/secret.txt"),
    ("victim-dotdot", "GET", "/~{V}/../secret.txt"),
    ("victim-enc-dotdot", "GET", "/~{V}/%2e%2e/secret.txt"),
    ("victim-enc-dotdot-upper", "GET", "/~{V}/%2E%2E/secret.txt"),
    ("victim-half-enc", "GET", "/~{V}/.%2e/secret.txt"),
    ("victim-enc-slash", "GET", "/~{V}/..%2fsecret.txt"),
    ("victim-all-enc", "GET", "/~{V}/%2e%2e%2fsecret.txt"),
    ("victim-enc-backslash", "GET", "/~{V}/..%5csecret.txt"),
    ("victim-raw-backslash", "GET", "/~{V}/..\\secret.txt"),
    ("victim-double-enc", "GET", "/~{V}/%252e%252e/secret.txt"),
    ("victim-overlong", "GET", "/~{V}/%c0%ae%c0%ae/secret.txt"),
    ("victim-fullwidth", "GET", "/~{V}/%ef%bc%8e%ef%bc%8e/secret.txt"),
    ("victim-nul", "GET", "/~{V}/%00/secret.txt"),
    ("victim-empty-segment", "GET", "/~{V}//secret.txt"),
    ("victim-public-dotdot", "GET", "/~{V}/public/../secret.txt"),
    ("victim-public-enc-dotdot", "GET", "/~{V}/hello.txt%2f..%2f..%2fsecret.txt"),
    ("victim-deep-climb", "GET", "/~{V}/%2e%2e/%2e%2e/%2e%2e/admin/{AS}"),
    ("victim-head-enc", "HEAD", "/~{V}/%2e%2e/secret.txt"),
    ("owner-enc-slash", "GET", "/~{V}%2f..%2fsecret.txt"),
    ("owner-enc-dotdot", "GET", "/~{V}%2f%2e%2e/secret.txt"),
    ("owner-is-dotdot", "GET", "/~..%2f{V}/secret.txt"),
    ("owner-enc-dotdot-only", "GET", "/~%2e%2e/private/{V}/secret.txt"),
    ("owner-empty", "GET", "/~/secret.txt"),
    ("owner-nul", "GET", "/~{V}%00/secret.txt"),
    ("owner-upper", "GET", "/~{VU}/secret.txt"),
    ("owner-admin-climb", "GET", "/~admin/../../admin/{AS}"),
    ("owner-admin-enc-climb", "GET", "/~admin/%2e%2e%2f%2e%2e%2fadmin%2f{AS}"),
    ("owner-long", "GET", "/~" + "a" * 300 + "/x"),
    ("attacker-link-to-secret", "GET", "/~{A}/leak"),
    ("attacker-link-to-folder", "GET", "/~{A}/victim/secret.txt"),
    ("attacker-link-listing", "GET", "/~{A}/victim/"),
    ("attacker-link-etc", "GET", "/~{A}/etc/passwd"),
    ("attacker-link-up", "GET", "/~{A}/up/own.txt"),
    ("attacker-index", "GET", "/~{A}/"),
    ("attacker-enc-dotdot", "GET", "/~{A}/%2e%2e/own.txt"),
    ("attacker-enc-climb-to-victim", "GET", "/~{A}/%2e%2e%2f%2e%2e%2f{V}%2fsecret.txt"),
    ("public-is-link-to-victim", "GET", "/~{P1}/secret.txt"),
    ("public-is-link-to-victim-index", "GET", "/~{P1}/"),
    ("public-is-link-to-victim-deep", "GET", "/~{P1}/b/secret.txt"),
    ("public-is-link-to-etc", "GET", "/~{P2}/passwd"),
    ("public-is-link-to-etc-index", "GET", "/~{P2}/"),
    ("public-is-link-up", "GET", "/~{P3}/{P3}/private-secret.txt"),
    ("public-is-link-up-victim", "GET", "/~{P3}/{V}/secret.txt"),
    ("public-is-link-up-index", "GET", "/~{P3}/"),
    ("share-empty", "GET", "/s/"),
    ("share-short", "GET", "/s/x"),
    ("share-42", "GET", "/s/" + "A" * 42),
    ("share-44", "GET", "/s/" + "A" * 44),
    ("share-enc-slash-token", "GET", "/s/" + "A" * 37 + "%2f..%2f"),
    ("share-climb-instead-of-token", "GET", "/s/..%2f..%2fprivate%2f{V}%2fsecret.txt"),
    ("share-dotdot-instead-of-token", "GET", "/s/%2e%2e/{V}/secret.txt"),
    ("share-raw-dotdot", "GET", "/s/{T}/../secret.txt"),
    ("share-enc-climb", "GET", "/s/{T}/..%2f..%2fsecret.txt"),
    ("share-enc-dotdot", "GET", "/s/{T}/%2e%2e/own.txt"),
    ("share-enc-climb-victim", "GET", "/s/{T}/%2e%2e%2f%2e%2e%2f{V}%2fsecret.txt"),
    ("share-token-enc-climb", "GET", "/s/{T}%2f..%2f..%2fown.txt"),
    ("share-link-inside", "GET", "/s/{T}/victim-link/secret.txt"),
    ("share-link-inside-listing", "GET", "/s/{T}/victim-link/"),
    ("share-index", "GET", "/s/{T}/"),
    ("share-nul", "GET", "/s/{T}/%00"),
    ("share-token-nul", "GET", "/s/{T}%00/"),
    ("share-file-has-no-inside", "GET", "/s/{TF}/x"),
    ("share-file-climb", "GET", "/s/{TF}/..%2f{V}%2fsecret.txt"),
    ("share-file-head", "HEAD", "/s/{TF}/%2e%2e"),
    ("put-public", "PUT", "/~{A}/{M}"),
    ("delete-public", "DELETE", "/~{V}/hello.txt"),
    ("post-share", "POST", "/s/{T}/{M}"),
    ("put-share-climb", "PUT", "/s/{T}/..%2f{M}"),
]


@pytest.mark.parametrize("case,method,template", ANONYMOUS, ids=[i for i, _, _ in ANONYMOUS])
def test_public_and_share_paths_anonymously(world, case, method, template):
    target = world.fill(template)
    body = b"pwned" if method in ("PUT", "POST") else None
    answer = world.send(method, target, signed_in=False, body=body)
    world.check(f"{method} {target[:200]}", answer, target.encode())
    if method not in ("GET", "HEAD"):
        # A climbing path is refused as such (400) before its method is (405).
        assert answer.status == (400 if "..%2f" in template else 405), answer
        world.untouched(f"{method} {target}")
    elif case in ("attacker-index", "share-index"):
        # The attacker's own public folder and shared folder: listed, without their links.
        assert answer.status == 200 and b"leak" not in answer.body and b"victim-link" not in answer.body, answer
    else:
        assert answer.status >= 400, f"{method} {target}: {answer}"


# ---------------------------------------------------------------- 4. races: links swapped in mid-request


class Swapper:
    """Swaps `place` with `other` (a link somewhere else) in a tight loop, atomically."""

    def __init__(self, place, other):
        self.place, self.other = place, other
        self.swaps = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.is_set():
            exchange(self.place, self.other)
            self.swaps += 1

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        if self.swaps % 2:
            exchange(self.place, self.other)
            self.swaps += 1


def hammer(world, ops, seconds=RACE_SECONDS, threads=3, signed_in=True):
    """Runs `ops` (each: session, index -> (what, Answer)) in threads until time is up; returns statuses and problems."""
    statuses = collections.Counter()
    problems = []
    lock = threading.Lock()
    deadline = time.time() + seconds

    def worker(number):
        session = world.client(signed_in)
        index = number
        while time.time() < deadline:
            op = ops[index % len(ops)]
            index += 1
            extra = None
            try:
                result = op(session, index)
            except requests.RequestException as error:
                result = (op.__name__, Answer(None, repr(error).encode()))
            what, answer = result[:2]
            if len(result) > 2:
                extra = result[2]
            found = world.problems(what, answer) + ([f"ESCAPE {what}: {extra}"] if extra else [])
            with lock:
                statuses[(what, answer.status)] += 1
                problems.extend(found)

    workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return statuses, problems


def get(path, **params):
    label = f"GET {path}" + "".join(f" ?{key}" for key in params)

    def op(session, index):
        return label, answer_of(session.get(f"{session.base}/api/v1/files/private/{path}", params=params))
    op.__name__ = label
    return op


@pytest.fixture
def racing(world):
    """A folder of the attacker's that the race swaps with a link to the victim's folder."""
    name = f"race-{uuid.uuid4().hex[:6]}"
    place = f"{world.A}/{name}"
    write(f"{place}/secret.txt", b"the attacker's race file")
    write(f"{place}/b/secret.txt", b"the attacker's deep race file")
    other = f"{world.A}/{name}.link"
    os.symlink(world.V, other)
    return world, name, place, other


def report(statuses, swaps):
    print(f"\n  swaps: {swaps}; answers: " + ", ".join(f"{w} {s}: {n}" for (w, s), n in sorted(statuses.items(), key=str)))


def test_race_reads_through_a_folder_swapped_with_a_link(racing):
    world, name, place, other = racing
    ops = [get(f"{name}/secret.txt"), get(name), get(name, archive="tar"), get(f"{name}/secret.txt", stat=""),
           get(f"{name}/victim-only.txt"), get(f"{name}/b/secret.txt"), get(f"{name}/b")]
    with Swapper(place, other) as swapper:
        statuses, problems = hammer(world, ops)
    report(statuses, swapper.swaps)
    assert not problems, "\n".join(problems[:10])
    reads = {s for (w, s) in statuses if w == f"GET {name}/secret.txt"}
    assert swapper.swaps > 100 and 200 in reads and reads - {200}, ("the race did not race", statuses)
    world.untouched("reads racing a swapped folder")


def test_race_writes_and_deletes_through_a_folder_swapped_with_a_link(racing):
    world, name, place, other = racing
    real = os.open(place, os.O_RDONLY | os.O_DIRECTORY)  # the attacker's folder, wherever the swaps put it

    def put(session, index):
        path = f"{name}/{MARK}-{index}"
        answer = answer_of(session.put(f"{session.base}/api/v1/files/private/{path}", data=b"pwned"))
        landed = answer.status == 201 and os.path.lexists(f"/proc/self/fd/{real}/{MARK}-{index}")
        if answer.status == 201:
            session.delete(f"{session.base}/api/v1/files/private/{path}")
        return "PUT", answer, None if landed or answer.status != 201 else f"{path} answered 201 but is not in the attacker's folder"

    def delete_victims(session, index):
        path = f"{name}/victim-only.txt"
        answer = answer_of(session.delete(f"{session.base}/api/v1/files/private/{path}", params={"recursive": "true"}))
        return "DELETE victim-only.txt", answer, "deleted the victim's file" if answer.status == 200 else None

    def mkdir(session, index):
        return "POST folders", answer_of(session.post(f"{session.base}/api/v1/files/folders",
                                                      json={"domain": "private", "path": f"{name}/{MARK}-d{index}"}))

    try:
        with Swapper(place, other) as swapper:
            statuses, problems = hammer(world, [put, delete_victims, mkdir])
    finally:
        os.close(real)
    report(statuses, swapper.swaps)
    assert not problems, "\n".join(problems[:10])
    world.untouched("writes racing a swapped folder")
    assert any(w == "PUT" and s == 201 for (w, s) in statuses), statuses


def test_race_moves_and_copies_through_a_folder_swapped_with_a_link(racing):
    world, name, place, other = racing

    def move(session, index):
        path = f"{name}/secret.txt"
        answer = answer_of(session.post(f"{session.base}/api/v1/files/move", json={
            "from": {"domain": "private", "path": path}, "to": {"domain": "private", "path": f"{name}/moved.txt"}}))
        session.post(f"{session.base}/api/v1/files/move", json={
            "from": {"domain": "private", "path": f"{name}/moved.txt"}, "to": {"domain": "private", "path": path}})
        return "POST move", answer

    def steal(session, index):
        answer = answer_of(session.post(f"{session.base}/api/v1/files/copy", json={
            "from": {"domain": "private", "path": f"{name}/victim-only.txt"},
            "to": {"domain": "private", "path": f"copies/{MARK}-{index}"}}))
        return "POST copy victim-only.txt", answer, "copied the victim's file" if answer.status == 201 else None

    def copy_folder(session, index):
        target = f"copies/{MARK}-folder-{index}"
        answer = answer_of(session.post(f"{session.base}/api/v1/files/copy", json={
            "from": {"domain": "private", "path": name}, "to": {"domain": "private", "path": target}}))
        if answer.status == 201:
            copied = tree(f"{world.A}/{target}")
            contents = b"".join(open(p, "rb").read() for p, e in copied.items() if e[0] == stat.S_IFREG)
            answer = Answer(answer.status, contents)
            remove(f"{world.A}/{target}")
        return "POST copy-folder", answer

    def move_in(session, index):
        answer = answer_of(session.post(f"{session.base}/api/v1/files/copy", json={
            "from": {"domain": "private", "path": "own.txt"}, "to": {"domain": "private", "path": f"{name}/{MARK}-{index}"}}))
        if answer.status == 201:
            session.delete(f"{session.base}/api/v1/files/private/{name}/{MARK}-{index}")
        return "POST copy-in", answer

    os.makedirs(f"{world.A}/copies", exist_ok=True)
    write(f"{world.A}/own.txt", b"the attacker's own file")
    with Swapper(place, other) as swapper:
        statuses, problems = hammer(world, [move, steal, copy_folder, move_in])
    report(statuses, swapper.swaps)
    assert not problems, "\n".join(problems[:10])
    world.untouched("moves and copies racing a swapped folder")


def test_race_resumable_uploads_into_a_folder_swapped_with_a_link(racing):
    world, name, place, other = racing

    def upload(session, index):
        opened = session.post(f"{session.base}/api/v1/files/uploads",
                              json={"domain": "private", "path": f"{name}/{MARK}-{index}", "length": 4})
        if opened.status_code != 201:
            return "POST uploads", answer_of(opened)
        location = session.base + opened.headers["Location"]
        answer = answer_of(session.patch(location, data=b"abcd", headers={
            "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}))
        session.delete(location)
        session.delete(f"{session.base}/api/v1/files/private/{name}/{MARK}-{index}")
        return "PATCH uploads", answer

    with Swapper(place, other) as swapper:
        statuses, problems = hammer(world, [upload])
    report(statuses, swapper.swaps)
    assert not problems, "\n".join(problems[:10])
    world.untouched("resumable uploads racing a swapped folder")


def test_race_a_leaf_file_swapped_with_a_link(racing):
    world, name, place, other = racing
    leaf, link = f"{place}/leaf.txt", f"{place}/leaf.link"
    write(leaf, b"the attacker's leaf")
    os.symlink(f"{world.V}/secret.txt", link)

    def copy_leaf(session, index):
        target = f"copies/{MARK}-leaf-{index}"
        answer = answer_of(session.post(f"{session.base}/api/v1/files/copy", json={
            "from": {"domain": "private", "path": f"{name}/leaf.txt"}, "to": {"domain": "private", "path": target}}))
        if answer.status == 201:
            path = f"{world.A}/{target}"
            answer = Answer(201, open(path, "rb").read() if os.path.isfile(path) else b"")
            remove(path)
        return "POST copy-leaf", answer

    def share_leaf(session, index):
        made = session.post(f"{session.base}/api/v1/files/shares", json={"domain": "private", "path": f"{name}/leaf.txt"})
        if made.status_code != 201:
            return "POST shares", answer_of(made)
        token = made.json()["url"].rsplit("/", 1)[1]
        return "GET share-of-leaf", world.raw("GET", f"/s/{token}")

    os.makedirs(f"{world.A}/copies", exist_ok=True)
    with Swapper(leaf, link) as swapper:
        statuses, problems = hammer(world, [get(f"{name}/leaf.txt"), get(f"{name}/leaf.txt", stat=""),
                                            get(name, archive="tar"), copy_leaf, share_leaf])
    report(statuses, swapper.swaps)
    assert not problems, "\n".join(problems[:10])
    world.untouched("a leaf swapped with a link")


def test_race_a_deeper_folder_swapped_with_a_link(racing):
    world, name, place, other = racing
    deep, link = f"{place}/deep/a", f"{place}/deep/a.link"
    write(f"{deep}/b/secret.txt", b"the attacker's deep file")
    os.symlink(world.V, link)

    def put(session, index):
        path = f"{name}/deep/a/b/{MARK}-{index}"
        answer = answer_of(session.put(f"{session.base}/api/v1/files/private/{path}", data=b"pwned"))
        if answer.status == 201:
            session.delete(f"{session.base}/api/v1/files/private/{path}")
        return "PUT deep", answer

    with Swapper(deep, link) as swapper:
        statuses, problems = hammer(world, [get(f"{name}/deep/a/b/secret.txt"), get(f"{name}/deep/a/b"),
                                            get(f"{name}/deep", archive="tar"), put])
    report(statuses, swapper.swaps)
    assert not problems, "\n".join(problems[:10])
    world.untouched("a deeper folder swapped with a link")


def test_race_the_public_folder_swapped_with_a_link(world):
    place, other = f"{world.A}/public", f"{world.A}/public.link"
    remove(other)
    os.symlink(world.V, other)

    def anonymous(path):
        def op(session, index):
            return f"GET {path}", world.raw("GET", f"/~{world.attacker}/{path}")
        op.__name__ = path
        return op

    with Swapper(place, other) as swapper:
        statuses, problems = hammer(world, [anonymous("secret.txt"), anonymous(""), anonymous("victim-only.txt"),
                                            anonymous("b/secret.txt")], signed_in=False)
    report(statuses, swapper.swaps)
    assert not problems, "\n".join(problems[:10])
    assert os.path.isdir(place) and not os.path.islink(place)


def test_race_a_shared_folder_swapped_with_a_link(world):
    name = f"share-race-{uuid.uuid4().hex[:6]}"
    place, other = f"{world.A}/{name}", f"{world.A}/{name}.link"
    write(f"{place}/secret.txt", b"the attacker's shared race file")
    token = world.share(name)
    os.symlink(world.V, other)

    def anonymous(path):
        def op(session, index):
            return f"GET /s/{path}", world.raw("GET", f"/s/{token}/{path}")
        op.__name__ = path
        return op

    with Swapper(place, other) as swapper:
        statuses, problems = hammer(world, [anonymous("secret.txt"), anonymous(""), anonymous("victim-only.txt")],
                                    signed_in=False)
    report(statuses, swapper.swaps)
    assert not problems, "\n".join(problems[:10])


# -- special files a container can make, swapped in mid-request


def test_race_a_file_swapped_with_a_socket(racing):
    """A unix socket (any container can bind one) swapped for a file between the
    service's look and its open: the open fails with ENXIO, which must not be a 5xx."""
    world, name, place, other = racing
    leaf, alt = f"{place}/f", f"{place}/f.sock"
    write(leaf, b"the attacker's file")
    listener = socket.socket(socket.AF_UNIX)
    folder = os.open(place, os.O_RDONLY | os.O_DIRECTORY)
    try:
        listener.bind(f"/proc/self/fd/{folder}/f.sock")  # short enough for sun_path whatever the root's length
    finally:
        os.close(folder)
    try:
        with Swapper(leaf, alt) as swapper:
            statuses, problems = hammer(world, [get(f"{name}/f"), get(name, archive="tar")])
    finally:
        listener.close()
    report(statuses, swapper.swaps)
    assert not problems, "\n".join(problems[:10])


def test_race_a_folder_moved_into_its_own_subfolder(racing):
    """The target's parent is opened, then (by a container) moved inside the folder being
    moved: rename fails with EINVAL, which must not be a 5xx. Three pairs race at once."""
    world, name, place, other = racing
    stop = threading.Event()
    statuses = collections.Counter()
    problems = []
    lock = threading.Lock()

    def shuffle(source, target):
        while not stop.is_set():
            for a, b in ((target, f"{source}/b"), (f"{source}/b", target)):
                try:
                    os.rename(a, b)
                except OSError:
                    pass

    def mover(pair):
        session = world.client()
        body = {"from": {"domain": "private", "path": f"{name}/{pair}/a"},
                "to": {"domain": "private", "path": f"{name}/{pair}/b/c"}}
        back = {"from": body["to"], "to": body["from"]}
        while not stop.is_set():
            answer = answer_of(session.post(f"{session.base}/api/v1/files/move", json=body))
            if answer.status == 201:
                session.post(f"{session.base}/api/v1/files/move", json=back)
            with lock:
                statuses[("POST move", answer.status)] += 1
                problems.extend(world.problems(f"move {pair}/a -> {pair}/b/c", answer))

    threads = []
    for pair in ("p1", "p2", "p3"):
        os.makedirs(f"{place}/{pair}/a/keep")
        os.makedirs(f"{place}/{pair}/b")
        threads += [threading.Thread(target=shuffle, args=(f"{place}/{pair}/a", f"{place}/{pair}/b")),
                    threading.Thread(target=mover, args=(pair,))]
    for thread in threads:
        thread.start()
    time.sleep(RACE_SECONDS)
    stop.set()
    for thread in threads:
        thread.join()
    report(statuses, 0)
    assert not problems, "\n".join(problems[:10])


# ---------------------------------------------------------------- last: a request head over 64 KiB with a body


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_zz_a_request_head_over_64_kib_that_may_carry_a_body(world, method):
    """A PUT or DELETE whose path makes the forwarded head larger than 64 KiB (the
    edge streams a body upstream for every method but GET and HEAD). Last in this
    module: when the edge aborts on it, everything after it fails."""
    target = "/api/v1/files/private/" + "z/" * 32768
    answer = world.send(method, target, body=b"pwned " + MARK.encode() if method == "PUT" else None)
    world.raw.local.tls = None
    try:
        alive = world.send("GET", "/api/v1/files/private", timeout=5)
    except OSError as error:
        alive = Answer(None, repr(error).encode())
    world.check(f"{method} {target[:40]}... ({len(target)} bytes)", answer)
    assert alive.status == 200, f"the edge no longer answers after that request: {alive}"
    world.untouched("a request head over 64 KiB")
