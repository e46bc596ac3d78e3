"""People and sessions in identity: impersonation, the audit trail it
leaves, admin password resets, deactivation ending everything at once,
personal API tokens at the edge, and the pages' CSRF protection."""
import time

from conftest import unique, wait_until

PASSWORD = "a long enough password"


def me(knot, session, **kwargs):
    return session.get(f"{knot.url}/api/v1/users/me", **kwargs)




def cache_seconds(knot):
    return int(knot.env.get("KNOT_SESSION_CACHE_SECONDS", "5")) + 2


def test_an_admin_impersonates_visibly_and_comes_back(knot, make_user):
    name, user = make_user("imp")
    admin = knot.login("admin", knot.admin_password)
    started = admin.post(f"{knot.url}/auth/impersonate", json={"username": name})
    assert started.status_code == 200, started.text
    assert started.json() == {"acting_as": name, "actor": "admin"}
    # The session was replaced: the new cookie acts as the user at once, no cache delay.
    assert me(knot, admin).json()["username"] == name
    assert admin.get(f"{knot.url}/api/v1/identity/session").json() == {"username": name, "admin": False, "actor": "admin"}
    # The person sees it in their own audit view.
    entries = user.get(f"{knot.url}/api/v1/users/audit").json()["entries"]
    assert any(e["action"] == "user.impersonate" and e["actor"] == "admin" and e["subject"] == name for e in entries), entries
    # While acting as the user, the admin has the user's rights, not an admin's.
    assert admin.get(f"{knot.url}/api/v1/users").status_code == 403
    assert admin.post(f"{knot.url}/api/v1/identity/password",
                      json={"current_password": PASSWORD, "new_password": "x" * 12}).status_code == 403
    back = admin.delete(f"{knot.url}/auth/impersonate")
    assert back.status_code == 200, back.text
    assert me(knot, admin).json()["username"] == "admin"
    assert admin.get(f"{knot.url}/api/v1/identity/session").json().get("actor") is None
    entries = user.get(f"{knot.url}/api/v1/users/audit").json()["entries"]
    assert any(e["action"] == "user.impersonate.stop" for e in entries)


def test_only_admins_impersonate_and_only_active_people(knot, make_user):
    name, user = make_user("imq")
    other, _ = make_user("imr")
    refused = user.post(f"{knot.url}/auth/impersonate", json={"username": other})
    assert refused.status_code == 403 and me(knot, user).json()["username"] == name
    admin = knot.login("admin", knot.admin_password)
    assert admin.post(f"{knot.url}/auth/impersonate", json={"username": "nobody-here"}).status_code == 404
    assert admin.post(f"{knot.url}/auth/impersonate", json={"username": "admin"}).status_code == 400
    # A cross-site form cannot start it: JSON only.
    form = admin.post(f"{knot.url}/auth/impersonate", data={"username": name})
    assert form.status_code == 415 and me(knot, admin).json()["username"] == "admin"
    assert admin.delete(f"{knot.url}/auth/impersonate").status_code == 409


def test_admin_password_reset_gives_a_new_password_once_and_ends_sessions(knot, make_user, admin):
    name, user = make_user("rst")
    answer = admin.post(f"{knot.url}/api/v1/identity/users/{name}/password")
    assert answer.status_code == 200, answer.text
    new_password = answer.json()["password"]
    wait_until(lambda: me(knot, user).status_code == 401, cache_seconds(knot), "the old session ended")
    assert knot.client().post(f"{knot.url}/auth/login", json={"username": name, "password": PASSWORD}).status_code == 401
    assert me(knot, knot.login(name, new_password)).json()["username"] == name
    _, plain = make_user("rsu")
    assert plain.post(f"{knot.url}/api/v1/identity/users/{name}/password").status_code == 403
    audit = admin.get(f"{knot.url}/api/v1/users/audit", params={"user": name}).json()["entries"]
    assert any(e["action"] == "password.reset" and e["actor"] == "admin" for e in audit)


def test_deactivation_ends_sessions_and_api_tokens_at_once(knot, make_user, admin):
    name, user = make_user("dea")
    token = user.post(f"{knot.url}/api/v1/identity/tokens", json={"name": "ci", "scope": "read"}).json()["token"]
    bearer = knot.client()
    bearer.headers["Authorization"] = f"Bearer {token}"
    assert me(knot, bearer).json()["username"] == name
    assert admin.post(f"{knot.url}/api/v1/users/{name}/deactivate").status_code == 200
    wait_until(lambda: me(knot, user).status_code == 401, cache_seconds(knot), "the session ended")
    wait_until(lambda: me(knot, bearer).status_code == 401, cache_seconds(knot), "the token ended")
    # Reactivation does not bring them back.
    assert admin.post(f"{knot.url}/api/v1/users/{name}/activate").status_code == 200
    time.sleep(cache_seconds(knot))
    assert me(knot, user).status_code == 401 and me(knot, bearer).status_code == 401
    assert me(knot, knot.login(name, PASSWORD)).status_code == 200


def test_api_tokens_are_read_only_when_asked_and_never_reach_services(knot, make_user):
    name, user = make_user("tok")
    created = user.post(f"{knot.url}/api/v1/identity/tokens", json={"name": "reader", "scope": "read", "expires_in_days": 7})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["token"].startswith("knot_pat_") and body["scope"] == "read"
    listed = user.get(f"{knot.url}/api/v1/identity/tokens").json()["tokens"]
    assert [t["name"] for t in listed] == ["reader"]
    assert listed[0].get("token") is None, "the secret is shown once, at creation"
    bearer = knot.client()
    bearer.headers["Authorization"] = f"Bearer {body['token']}"
    assert me(knot, bearer).json()["username"] == name
    refused = bearer.post(f"{knot.url}/api/v1/identity/tokens", json={"name": "escalate"})
    assert refused.status_code == 403
    for bad in ({"name": ""}, {"name": "x", "scope": "admin"}, {"name": "x", "expires_in_days": 0},
                {"name": "x", "expires_in_days": 1000}):
        assert user.post(f"{knot.url}/api/v1/identity/tokens", json=bad).status_code == 400, bad
    assert user.delete(f"{knot.url}/api/v1/identity/tokens/{body['id']}").status_code == 200
    wait_until(lambda: me(knot, bearer).status_code == 401, cache_seconds(knot), "the revoked token stopped working")
    other_name, other = make_user("tol")
    theirs = other.post(f"{knot.url}/api/v1/identity/tokens", json={"name": "mine"}).json()
    assert user.delete(f"{knot.url}/api/v1/identity/tokens/{theirs['id']}").status_code == 404
    garbage = knot.client()
    garbage.headers["Authorization"] = "Bearer knot_pat_" + "A" * 43
    assert me(knot, garbage).status_code == 401


def test_every_form_needs_its_csrf_token(knot, make_user):
    name, _ = make_user("csr")
    browser = knot.client()
    page = browser.get(f"{knot.url}/auth/login")
    assert page.status_code == 200 and "knot_csrf" in browser.cookies.get_dict()
    csrf = knot.csrf(browser)
    for form in ({"username": name, "password": PASSWORD},
                 {"username": name, "password": PASSWORD, "csrf": "forged"},
                 {"username": name, "password": PASSWORD, "csrf": csrf + "x"}):
        answer = browser.post(f"{knot.url}/auth/login", data=form, allow_redirects=False)
        assert answer.status_code == 403 and "knot_session" not in answer.headers.get("Set-Cookie", ""), form
    # A token from another browser's cookie is worthless here.
    elsewhere = knot.client()
    other_csrf = knot.csrf(elsewhere)
    answer = browser.post(f"{knot.url}/auth/login", data={"username": name, "password": PASSWORD, "csrf": other_csrf},
                          allow_redirects=False)
    assert answer.status_code == 403
    signup = browser.post(f"{knot.url}/auth/signup", data={"username": unique("csf"), "email": "c@example.org",
                                                            "password": PASSWORD})
    assert signup.status_code == 403
    ok = browser.post(f"{knot.url}/auth/login", data={"username": name, "password": PASSWORD, "csrf": csrf},
                      allow_redirects=False)
    assert ok.status_code == 303 and "knot_session=" in ok.headers["Set-Cookie"]
    # Pages cannot be framed and run no script.
    headers = browser.get(f"{knot.url}/auth/login").headers
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"] and "script-src" not in headers["Content-Security-Policy"]


def test_logout_is_immediate(knot, make_user):
    name, user = make_user("lgo")
    assert me(knot, user).status_code == 200
    assert user.post(f"{knot.url}/auth/logout").status_code == 200
    wait_until(lambda: me(knot, user).status_code == 401, cache_seconds(knot), "logout took effect")
