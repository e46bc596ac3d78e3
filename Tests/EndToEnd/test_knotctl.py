"""knotctl, the command-line client, end to end: the built binary run as a
subprocess against the real edge over TLS (the test CA given with --ca-file
or KNOT_CA_FILE), as a person with a personal API token.

Covers login (token on standard input, the file written 0600, a bad token
refused), configuration from the environment alone (what a notebook gets),
services on the local runtime (create with KEY=value, list, status, logs,
stop, start, delete) with KNOT_URL seen inside the service, templates (list,
get, add, delete), files (a multi-MB put/get round trip compared byte for
byte, an upload killed half-way and finished with --resume, mkdir, mv, rm -r,
share), tokens (create, list, revoke, a revoked token refused), admin-only
commands refused to a normal user with exit code 3 and allowed to an admin,
teams, JSON output parsed, and the exit codes scripts rely on: 2 usage,
3 unauthorised, 4 not found, 5 conflict.
"""
import hashlib
import json
import os
import signal
import stat
import subprocess
import time

import pytest

from conftest import unique, wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def knotctl_path():
    bin_dir = subprocess.run(["swift", "build", "--show-bin-path"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.strip()
    path = os.path.join(bin_dir, "knotctl")
    assert os.access(path, os.X_OK), f"{path} is not built (scripts/test builds it with swift build)"
    return path


def make_token(knot, session, name="knotctl", scope="full"):
    answer = session.post(f"{knot.url}/api/v1/identity/tokens", json={"name": name, "scope": scope})
    assert answer.status_code == 201, answer.text
    return answer.json()["token"]


class CLI:
    """One person's knotctl: its own configuration file, run as a subprocess."""

    def __init__(self, path, knot, home):
        self.path = path
        self.knot = knot
        self.home = str(home)
        self.config = os.path.join(self.home, "config", "config.json")

    def env(self, extra=None):
        env = {"PATH": os.environ["PATH"], "HOME": self.home, "KNOT_CONFIG": self.config, "LANG": "C.UTF-8"}
        env.update(extra or {})
        return env

    def run(self, *args, input=None, env=None, timeout=120, cwd=None):
        return subprocess.run([self.path, *args], input=input, env=self.env(env), capture_output=True, text=True,
                              timeout=timeout, cwd=cwd or self.home)

    def ok(self, *args, **kwargs):
        done = self.run(*args, **kwargs)
        assert done.returncode == 0, f"knotctl {' '.join(args)} -> {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done

    def json(self, *args, **kwargs):
        return json.loads(self.ok(*args, "--output", "json", **kwargs).stdout)

    def fails(self, code, *args, **kwargs):
        done = self.run(*args, **kwargs)
        assert done.returncode == code, f"knotctl {' '.join(args)} -> {done.returncode}, wanted {code}\n{done.stdout}\n{done.stderr}"
        assert done.stderr.strip(), "an error says what went wrong"
        return done

    def login(self, token):
        return self.ok("login", "--url", self.knot.url, "--ca-file", self.knot.ca, input=token + "\n")


@pytest.fixture(scope="module")
def person(knot, make_user, knotctl_path, tmp_path_factory):
    name, session = make_user("cli")
    cli = CLI(knotctl_path, knot, tmp_path_factory.mktemp("cli-home"))
    cli.login(make_token(knot, session))
    return name, session, cli


def test_login_stores_a_checked_token_privately(knot, make_user, knotctl_path, tmp_path):
    name, session = make_user("clilogin")
    cli = CLI(knotctl_path, knot, tmp_path)
    token = make_token(knot, session)

    # A wrong token is refused and nothing is stored.
    cli.fails(3, "login", "--url", knot.url, "--ca-file", knot.ca, input="knot_pat_" + "x" * 43 + "\n")
    assert not os.path.exists(cli.config)
    # Without the CA the TLS check fails: a generic error, not a silent insecure connection.
    cli.fails(1, "login", "--url", knot.url, input=token + "\n")

    done = cli.login(token)
    assert name in done.stdout
    assert stat.S_IMODE(os.stat(cli.config).st_mode) == 0o600
    stored = json.load(open(cli.config))
    assert stored["url"] == knot.url and stored["token"] == token and stored["ca_file"] == knot.ca
    assert cli.json("whoami")["username"] == name

    # Flags beat the environment, which beats the file: a bad KNOT_TOKEN wins over the file's good one...
    cli.fails(3, "whoami", env={"KNOT_TOKEN": "knot_pat_" + "y" * 43})
    # ...and --token beats KNOT_TOKEN.
    assert cli.json("whoami", "--token", token, env={"KNOT_TOKEN": "knot_pat_" + "y" * 43})["username"] == name

    # Logged out: exit 3 with a hint.
    cli.ok("logout")
    done = cli.fails(3, "services", "list")
    assert "login" in done.stderr


def test_environment_alone_is_enough(knot, person, knotctl_path, tmp_path):
    """What a notebook inside Knot has: KNOT_URL, KNOT_TOKEN (and here KNOT_CA_FILE), no file."""
    name, session, _ = person
    bare = CLI(knotctl_path, knot, tmp_path)
    env = {"KNOT_URL": knot.url, "KNOT_TOKEN": make_token(knot, session, "env"), "KNOT_CA_FILE": knot.ca}
    assert bare.json("whoami", env=env)["username"] == name
    assert not os.path.exists(bare.config)
    shown = bare.json("config", env=env)
    assert shown["sources"]["url"] == "environment (KNOT_URL)" and "token" not in shown


def test_usage_errors_exit_2(person):
    _, _, cli = person
    cli.fails(2, "services", "create")
    cli.fails(2, "services", "create", "lifecycle", "not-an-assignment")
    cli.fails(2, "services", "create", "lifecycle", "A=1", "A=2")
    cli.fails(2, "files", "ls", "home/x")
    cli.fails(2, "services", "list", "--output", "yaml")
    cli.fails(2, "no-such-command")
    assert cli.run("--help").returncode == 0
    help_text = cli.ok("--help").stdout
    for line in ("3  not logged in", "4  not found", "5  conflict"):
        assert line in help_text
    completion = cli.ok("--generate-completion-script", "bash").stdout
    assert "knotctl" in completion and "services" in completion


def test_services_lifecycle(knot, person):
    owner, _, cli = person
    name = unique("svc")
    record = cli.json("services", "create", "lifecycle", f"NAME={name}", "GREETING=hi there", "--wait", "--timeout", "60")
    assert record["name"] == name and record["status"] == "ready", record
    assert record["values"]["GREETING"] == "hi there"
    assert record["url"].startswith("https://")

    listed = cli.json("services", "list")
    assert name in [service["name"] for service in listed["services"]]
    table = cli.ok("services", "list").stdout
    assert table.splitlines()[0].split()[:2] == ["NAME", "TEMPLATE"] and name in table

    assert cli.json("services", "status", name)["status"] == "ready"
    cli.ok("services", "logs", name, "--tail", "20")

    # A name that is taken: 409 -> 5; a service that does not exist: 404 -> 4.
    done = cli.fails(5, "services", "create", "lifecycle", f"NAME={name}")
    assert "knotctl:" in done.stderr
    cli.fails(4, "services", "status", unique("missing"))
    cli.fails(4, "services", "stop", unique("missing"))
    # An unknown template is the API's 400: exit 1 with its message.
    done = cli.fails(1, "services", "create", unique("notemplate"))
    assert "template" in done.stderr

    assert cli.json("services", "stop", name)["status"] in ("stopping", "stopped")
    wait_until(lambda: cli.json("services", "status", name)["status"] == "stopped", 20, "the service stopped")
    assert cli.json("services", "start", name, "--wait", "--timeout", "60")["status"] == "ready"

    cli.ok("services", "delete", name)
    cli.fails(4, "services", "status", name)
    cli.fails(4, "services", "delete", name)


def test_templates_and_knot_url_inside_a_service(knot, person, tmp_path):
    owner, session, cli = person
    listed = cli.json("templates", "list")
    assert "lifecycle" in [t["id"] for t in listed["templates"]]
    source = cli.ok("templates", "get", "lifecycle").stdout
    assert "kind: Template" in source
    assert cli.json("templates", "get", "lifecycle")["id"] == "lifecycle"
    cli.fails(4, "templates", "get", unique("nothere"))

    # A template of one's own whose process serves its KNOT_URL, to see what Knot injects.
    script = tmp_path / "envecho.py"
    script.write_text(
        "import http.server, os, sys\n"
        "class H(http.server.BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        "        import json\n"
        "        body = json.dumps({k: os.environ.get(k) for k in ('KNOT_URL', 'KNOT_TOKEN')}).encode()\n"
        "        self.send_response(200); self.send_header('Content-Length', str(len(body))); self.end_headers()\n"
        "        self.wfile.write(body)\n"
        "http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()\n")
    cli.ok("files", "put", str(script), "private/envecho.py", "--overwrite")
    template = tmp_path / "envecho.template.yaml"
    template.write_text(
        "kind: Template\nname: Env echo\ndescription: serves its KNOT_URL (a knotctl test)\nversion: \"1\"\n"
        "variables:\n- name: NAME\n  default: envecho\n"
        "local:\n  command: python3\n  args: [\"envecho.py\", \"$PORT\"]\n")
    added = cli.json("templates", "add", str(template), "--id", "envecho")
    assert added["id"] == "envecho" and added["source"] == "private"
    cli.fails(5, "templates", "add", str(template), "--id", "envecho")
    cli.ok("templates", "add", str(template), "--id", "envecho", "--overwrite")

    name = unique("env")
    record = cli.json("services", "create", "envecho", "--name", name, "--wait", "--timeout", "60")
    assert record["status"] == "ready", record
    seen = session.get(record["url"] + "/")
    assert seen.status_code == 200, seen.text
    injected = seen.json()
    assert injected["KNOT_URL"] == knot.url

    # The service's own token: the owner's, named after the service, listed and usable as them.
    token = injected["KNOT_TOKEN"]
    assert token and token.startswith("knot_pat_")
    tokens = cli.json("tokens", "list")["tokens"]
    assert [t["name"] for t in tokens].count(f"service:{name}") == 1
    inside = CLI(cli.path, knot, tmp_path)
    env = {"KNOT_URL": injected["KNOT_URL"], "KNOT_TOKEN": token, "KNOT_CA_FILE": knot.ca}
    assert inside.json("whoami", env=env)["username"] == owner
    assert name in [s["name"] for s in inside.json("services", "list", env=env)["services"]]

    # A restart gets a fresh token and the old one is revoked.
    cli.ok("services", "stop", name)
    wait_until(lambda: cli.json("services", "status", name)["status"] == "stopped", 20, "the service stopped")
    cli.ok("services", "start", name, "--wait", "--timeout", "60")
    again = session.get(record["url"] + "/").json()["KNOT_TOKEN"]
    assert again and again != token
    wait_until(lambda: inside.run("whoami", env=env).returncode == 3, 15, "the previous token is refused")
    assert [t["name"] for t in cli.json("tokens", "list")["tokens"]].count(f"service:{name}") == 1

    # Deleting the service revokes its token.
    cli.ok("services", "delete", name)
    assert f"service:{name}" not in [t["name"] for t in cli.json("tokens", "list")["tokens"]]
    env["KNOT_TOKEN"] = again
    wait_until(lambda: inside.run("whoami", env=env).returncode == 3, 15, "the deleted service's token is refused")

    cli.ok("templates", "delete", "envecho")
    cli.fails(4, "templates", "delete", "envecho")


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def test_files_round_trip_and_operations(person, tmp_path):
    _, _, cli = person
    folder = unique("data")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(12 * 1024 * 1024 + 12345))
    put = cli.json("files", "put", str(big), f"private/{folder}/big.bin", "--chunk-size", "4M")
    assert put["size"] == big.stat().st_size and "resumed_from" not in put
    # Uploading over it again needs --overwrite: 409 -> 5.
    cli.fails(5, "files", "put", str(big), f"private/{folder}/big.bin")

    back = tmp_path / "back.bin"
    cli.ok("files", "get", f"private/{folder}/big.bin", str(back))
    assert back.stat().st_size == big.stat().st_size and sha256(back) == sha256(big)
    cli.fails(5, "files", "get", f"private/{folder}/big.bin", str(back))
    cli.ok("files", "get", f"private/{folder}/big.bin", str(back), "--force")
    cli.fails(4, "files", "get", f"private/{folder}/nothing.bin", str(tmp_path / "nothing"))
    assert not (tmp_path / "nothing").exists()

    listing = cli.json("files", "ls", f"private/{folder}")
    assert [(e["name"], e["kind"], e["size"]) for e in listing["entries"]] == [("big.bin", "file", big.stat().st_size)]
    assert "big.bin" in cli.ok("files", "ls", f"private/{folder}").stdout

    cli.ok("files", "mkdir", f"private/{folder}/sub/deeper")
    cli.ok("files", "mv", f"private/{folder}/big.bin", f"private/{folder}/sub/moved.bin")
    names = [e["name"] for e in cli.json("files", "ls", f"private/{folder}/sub")["entries"]]
    assert names == ["deeper", "moved.bin"]
    cli.fails(4, "files", "mv", f"private/{folder}/big.bin", f"private/{folder}/again.bin")

    share = cli.json("files", "share", f"private/{folder}/sub/moved.bin", "--expires", "2")
    assert "/s/" in share["url"]

    # A folder with content needs -r.
    cli.fails(5, "files", "rm", f"private/{folder}")
    cli.ok("files", "rm", "-r", f"private/{folder}")
    cli.fails(4, "files", "ls", f"private/{folder}")


def test_put_resumes_an_interrupted_upload(knot, person, tmp_path):
    _, _, cli = person
    source = tmp_path / "resume.bin"
    source.write_bytes(os.urandom(16 * 1024 * 1024))
    target = f"private/{unique('resume')}.bin"
    uploads = os.path.join(os.path.dirname(cli.config), "uploads")

    # Sent slowly (4 MiB/s in 1 MiB chunks), then killed half-way, as a dropped laptop would be.
    process = subprocess.Popen([cli.path, "files", "put", str(source), target, "--chunk-size", "1M", "--limit-rate", "4M"],
                               env=cli.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cli.home)
    wait_until(lambda: os.path.isdir(uploads) and os.listdir(uploads), 20, "the upload's state was saved")
    time.sleep(1.5)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    # Not there yet: the file appears only when complete.
    cli.fails(4, "files", "ls", target)

    done = cli.json("files", "put", str(source), target, "--resume")
    assert done["size"] == source.stat().st_size
    assert 0 < done["resumed_from"] < source.stat().st_size, done
    assert os.listdir(uploads) == [], "the state goes once the upload is complete"
    back = tmp_path / "resume.back"
    cli.ok("files", "get", target, str(back))
    assert sha256(back) == sha256(source)
    cli.ok("files", "rm", target)


def test_tokens(knot, person, knotctl_path, tmp_path):
    _, _, cli = person
    created = cli.json("tokens", "create", "from-cli", "--scope", "read", "--expires-days", "2")
    assert created["token"].startswith("knot_pat_") and created["scope"] == "read"
    listed = cli.json("tokens", "list")
    assert created["id"] in [t["id"] for t in listed["tokens"]]
    assert all("token" not in t for t in listed["tokens"]), "secrets are shown only once"

    other = CLI(knotctl_path, knot, tmp_path)
    env = {"KNOT_URL": knot.url, "KNOT_TOKEN": created["token"], "KNOT_CA_FILE": knot.ca}
    other.ok("services", "list", env=env)
    # A read token may not change anything: 403 -> 3.
    other.fails(3, "files", "mkdir", f"private/{unique('ro')}", env=env)

    cli.ok("tokens", "revoke", created["id"])
    cli.fails(4, "tokens", "revoke", created["id"])
    wait_until(lambda: other.run("services", "list", env=env).returncode == 3, 15, "the revoked token is refused")


def test_admin_commands(knot, admin, make_user, person, knotctl_path, tmp_path):
    name, _, cli = person
    for args in (["users", "list"], ["users", "activate", name], ["users", "promote", name], ["users", "deactivate", name]):
        cli.fails(3, *args)
    assert cli.json("whoami")["admin"] is False

    boss = CLI(knotctl_path, knot, tmp_path)
    boss.login(make_token(knot, admin, "admin-cli"))
    users = boss.json("users", "list")
    assert name in [u["username"] for u in users["users"]]
    assert name in boss.ok("users", "list", "--search", name).stdout
    promoted = boss.json("users", "promote", name)
    assert promoted["admin"] is True
    assert boss.json("users", "demote", name)["admin"] is False
    boss.fails(4, "users", "activate", unique("nobody"))


def test_teams(knot, person, make_user):
    _, _, cli = person
    other, _ = make_user("mate")
    team = unique("team")
    created = cli.json("teams", "create", team, "--full-name", "A test team")
    assert created["team"]["username"] == team
    cli.fails(5, "teams", "create", team)
    view = cli.json("teams", "add-member", team, other, "--role", "viewer")
    assert {m["username"]: m["role"] for m in view["members"]}[other] == "viewer"
    assert team in [t["team"] for t in cli.json("teams", "list")["teams"]]
    view = cli.json("teams", "remove-member", team, other)
    assert other not in [m["username"] for m in view["members"]]
    cli.fails(4, "teams", "add-member", team, unique("ghost"))


def test_service_token_endpoint_is_only_for_the_launcher(knot, person):
    """identity's internal endpoint that mints services' tokens: launcher only, checked input, nothing minted on refusal."""
    import requests
    from test_launcher import service_token

    owner, _, cli = person
    url = f"http://127.0.0.1:{knot.service_port('identity')}/internal/v1/service-tokens"
    before = len(cli.json("tokens", "list")["tokens"])

    def call(body, caller="launcher", headers=None):
        sent = {"Knot-Service-Token": service_token(knot, caller)} if headers is None else headers
        return requests.post(url, json=body, headers=sent, timeout=10)

    assert call({"username": owner, "service": "x"}, headers={}).status_code == 401
    assert call({"username": owner, "service": "x"}, caller="edge").status_code == 403
    for body, status in (({"username": owner, "service": "../x"}, 400), ({"username": owner, "service": "A" * 10}, 400),
                         ({"username": owner}, 400), ({"username": unique("ghost"), "service": "x"}, 404)):
        answer = call(body)
        assert answer.status_code == status, (body, answer.text)
        assert "error" in answer.json()
    assert len(cli.json("tokens", "list")["tokens"]) == before, "a refused call mints nothing"
