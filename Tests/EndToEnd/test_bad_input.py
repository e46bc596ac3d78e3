"""Every public endpoint answers bad input with a 4xx JSON error that names
the problem, and changes nothing."""
import pytest


@pytest.fixture(scope="module")
def person(make_user):
    return make_user("bad")


def error_of(answer):
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text)
    body = answer.json()
    assert set(body) == {"error"} and body["error"]["code"] and body["error"]["message"]
    return body["error"]


def services(knot, session):
    return session.get(f"{knot.url}/api/v1/launcher/services").json()["services"]


def test_malformed_json_wrong_types_missing_fields(knot, person):
    _, session = person
    url = f"{knot.url}/api/v1/launcher/services"
    headers = {"Content-Type": "application/json"}
    before = services(knot, session)
    assert "not valid JSON" in error_of(session.post(url, data=b"{not json", headers=headers))["message"]
    assert "template" in error_of(session.post(url, json={"template": 7}))["message"]
    assert "missing field" in error_of(session.post(url, json={"values": {}}))["message"]
    assert "values.NAME" in error_of(session.post(url, json={"template": "file-server", "values": {"NAME": 3}}))["message"]
    assert error_of(session.post(url, data=b"", headers=headers))["code"] == "bad_request"
    assert error_of(session.post(url, data=b"template=x", headers={"Content-Type": "text/plain"}))["code"] == "unsupported_media_type"
    assert services(knot, session) == before


def test_oversized_bodies_are_refused(knot, person):
    _, session = person
    big = {"template": "file-server", "values": {"NAME": "x", "PAD": "y" * 200_000}}
    answer = session.post(f"{knot.url}/api/v1/launcher/services", json=big)
    assert answer.status_code == 413 and error_of(answer)["code"] == "too_large"
    signup = knot.client().post(f"{knot.url}/auth/signup", json={"username": "x" * 100_000, "email": "a@b.c", "password": "p"})
    assert signup.status_code == 413


def test_template_values_are_checked(knot, person):
    _, session = person
    url = f"{knot.url}/api/v1/launcher/services"
    before = services(knot, session)
    cases = [
        ({"template": "no-such-template"}, "unknown_template"),
        ({"template": "file-server", "values": {"HOSTNAME": "evil.example"}}, "invalid_value"),
        ({"template": "file-server", "values": {"PRIVATE": "/etc"}}, "invalid_value"),
        ({"template": "file-server", "values": {"UNDECLARED": "x"}}, "invalid_value"),
        ({"template": "file-server", "values": {"NAME": "Bad_Name"}}, "invalid_name"),
        ({"template": "file-server", "values": {"NAME": "a\nb"}}, "invalid_name"),
        ({"template": "file-server", "values": {"NAME": "x" * 41}}, "invalid_name"),
    ]
    for body, code in cases:
        assert error_of(session.post(url, json=body))["code"] == code, body
    assert services(knot, session) == before


def test_duplicate_service_is_a_conflict(knot, person):
    _, session = person
    url = f"{knot.url}/api/v1/launcher/services"
    assert session.post(url, json={"template": "file-server", "values": {"NAME": "dup"}}).status_code == 202
    answer = session.post(url, json={"template": "file-server", "values": {"NAME": "dup"}})
    assert answer.status_code == 409 and error_of(answer)["code"] == "service_exists"
    assert [s["name"] for s in services(knot, session)].count("dup") == 1


def test_signup_input_is_checked_and_leaves_nothing(knot, admin):
    url = f"{knot.url}/auth/signup"
    client = knot.client()
    cases = [
        ({"username": "Bad Name", "email": "a@example.org", "password": "long enough pw"}, "invalid_username"),
        ({"username": "root", "email": "a@example.org", "password": "long enough pw"}, "invalid_username"),
        ({"username": "okname", "email": "not-an-email", "password": "long enough pw"}, "invalid_email"),
        ({"username": "okname", "email": "a@example.org", "password": "short"}, "weak_password"),
        ({"username": "okname", "email": "a@example.org"}, "invalid_json"),
        ({"username": ["x"], "email": "a@example.org", "password": "long enough pw"}, "invalid_json"),
    ]
    for body, code in cases:
        assert error_of(client.post(url, json=body))["code"] == code, body
    names = [u["username"] for u in admin.get(f"{knot.url}/api/v1/users").json()["users"]]
    assert "okname" not in names


def test_taken_username_and_email_are_conflicts(knot, make_user):
    name, _ = make_user("dup")
    client = knot.client()
    taken = client.post(f"{knot.url}/auth/signup", json={"username": name, "email": "other@example.org", "password": "long enough pw"})
    assert taken.status_code == 409 and error_of(taken)["code"] == "username_taken"
    email = client.post(f"{knot.url}/auth/signup", json={"username": name + "x", "email": f"{name.upper()}@example.org", "password": "long enough pw"})
    assert email.status_code == 409 and error_of(email)["code"] == "email_taken"


def test_files_bad_requests(knot, person):
    _, session = person
    base = f"{knot.url}/api/v1/files"
    assert error_of(session.post(f"{base}/folders", json={"domain": "private"}))["code"] == "invalid_json"
    assert error_of(session.post(f"{base}/folders", json={"domain": "private", "path": "/abs"}))["code"] == "invalid_path"
    assert error_of(session.post(f"{base}/folders", json={"domain": "elsewhere", "path": "x"}))["code"] == "invalid_domain"
    assert session.post(f"{base}/folders", json={"domain": "private", "path": "made"}).status_code == 201
    assert error_of(session.post(f"{base}/folders", json={"domain": "private", "path": "made"}))["code"] == "exists"
    assert session.put(f"{base}/private/made/f.txt", data=b"1").status_code == 201
    assert error_of(session.delete(f"{base}/private/made"))["code"] == "not_empty"
    # Never overwrite silently.
    assert error_of(session.put(f"{base}/private/made/f.txt", data=b"2"))["code"] == "exists"
    assert session.get(f"{base}/private/made/f.txt").content == b"1"
    assert session.put(f"{base}/private/made/f.txt", data=b"2", params={"overwrite": "true"}).status_code == 201
    assert session.get(f"{base}/private/made/f.txt").content == b"2"
    assert session.delete(f"{base}/private/made", params={"recursive": "true"}).status_code == 200
    assert session.get(f"{base}/private/made").status_code == 404


def test_unknown_endpoints_are_json_404(knot, person):
    _, session = person
    assert error_of(session.get(f"{knot.url}/api/v1/nothing/here"))["code"] == "not_found"
    assert error_of(session.get(f"{knot.url}/api/v1/users/no/such/route"))["code"] == "not_found"


def test_login_input_is_checked(knot):
    url = f"{knot.url}/auth/login"
    client = knot.client()
    assert error_of(client.post(url, data=b"{", headers={"Content-Type": "application/json"}))["code"] == "invalid_json"
    assert "password" in error_of(client.post(url, json={"username": "admin"}))["message"]
    assert error_of(client.post(url, json={"username": 5, "password": "x"}))["code"] == "invalid_json"
    assert client.post(url, json={"username": "admin", "password": "x" * 100_000}).status_code == 413
    # Names that could never exist are simply wrong credentials, not errors of another kind.
    assert error_of(client.post(url, json={"username": "../../etc", "password": "long enough pw"}))["code"] == "invalid_credentials"


def test_an_upload_over_the_limit_leaves_no_file(knot, person):
    import os
    name, session = person
    limit = int(knot.env.get("KNOT_MAX_UPLOAD_BYTES", "0"))
    assert limit, "scripts/test sets a small upload limit"

    def chunks(total):
        block = b"z" * (1 << 20)
        sent = 0
        while sent < total:
            yield block
            sent += len(block)

    answer = session.put(f"{knot.url}/api/v1/files/private/huge.bin", data=chunks(limit + (4 << 20)))
    assert answer.status_code == 413, answer.status_code
    assert error_of(answer)["code"] == "too_large"
    names = [e["name"] for e in session.get(f"{knot.url}/api/v1/files/private/").json()["entries"]]
    assert "huge.bin" not in names
    folder = os.path.join(knot.env["KNOT_FILES_ROOT"], "private", name)
    assert not [f for f in os.listdir(folder) if f.startswith(".knot-upload-") or f == "huge.bin"]
    # Just under the limit is fine.
    ok = session.put(f"{knot.url}/api/v1/files/private/big.bin", data=chunks(limit - (1 << 20)))
    assert ok.status_code == 201 and ok.json()["size"] == limit - (1 << 20)
