"""The walking skeleton's slice, end to end through the edge over HTTPS.

sign-up -> admin activation -> login (session cookie for the domain and its
subdomains) -> API calls with a verified identity assertion -> launch a
service on the local runtime -> open it at <name>-<user>.<domain> -> upload a
file that the service then serves.
"""
import subprocess
import time

from conftest import unique


def test_admin_signs_in_and_gets_a_domain_wide_secure_cookie(knot):
    answer = knot.client().post(f"{knot.url}/auth/login", json={"username": "admin", "password": knot.admin_password})
    assert answer.status_code == 200
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith("knot_session=")
    for attribute in ("Domain=knot.localhost", "Path=/", "HttpOnly", "Secure", "SameSite=Lax"):
        assert attribute in cookie, cookie


def test_wrong_password_is_refused_with_json_error(knot):
    answer = knot.client().post(f"{knot.url}/auth/login", json={"username": "admin", "password": "not the password"})
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "invalid_credentials"
    assert "Set-Cookie" not in answer.headers


def test_signup_waits_for_activation_then_signs_in(knot, admin):
    name = unique("ada")
    created = knot.signup(name, "a long enough password")
    assert created["active"] is False and created["admin"] is False
    assert created["namespace"] == f"knot-{name}"

    refused = knot.client().post(f"{knot.url}/auth/login", json={"username": name, "password": "a long enough password"})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "inactive"

    activated = admin.post(f"{knot.url}/api/v1/users/{name}/activate")
    assert activated.status_code == 200 and activated.json()["active"] is True

    session = knot.login(name, "a long enough password")
    me = session.get(f"{knot.url}/api/v1/users/me")
    assert me.status_code == 200
    assert me.json()["username"] == name
    assert me.json()["last_login"] is not None
    # The edge gave the request an id that came back.
    assert len(me.headers["X-Request-Id"]) >= 16


def test_only_admins_list_and_activate_users(knot, admin, make_user):
    name, session = make_user("bea")
    assert session.get(f"{knot.url}/api/v1/users").status_code == 403
    assert session.post(f"{knot.url}/api/v1/users/{name}/activate").status_code == 403
    listing = admin.get(f"{knot.url}/api/v1/users")
    assert listing.status_code == 200
    assert name in [u["username"] for u in listing.json()["users"]]


def test_each_service_is_reached_with_a_verified_identity(knot, make_user):
    name, session = make_user("cai")
    assert session.get(f"{knot.url}/api/v1/users/me").json()["username"] == name
    assert session.get(f"{knot.url}/api/v1/launcher/services").json() == {"services": []}
    listing = session.get(f"{knot.url}/api/v1/files/private/")
    # A new person's private folder is empty but for `notebooks/`, made on activation when JupyterHub is configured.
    expected = ["notebooks"] if knot.env.get("KNOT_JUPYTERHUB_URL") else []
    assert listing.status_code == 200 and [entry["name"] for entry in listing.json()["entries"]] == expected


def test_launch_open_and_see_uploaded_file(knot, make_user):
    name, session = make_user("dee")
    listing = session.get(f"{knot.url}/api/v1/launcher/templates").json()["templates"]
    server = next(t for t in listing if t["id"] == "file-server")
    assert server["available"] is True and server["runtime"] == "local"

    launched = session.post(f"{knot.url}/api/v1/launcher/services", json={"template": "file-server", "values": {"NAME": "web"}})
    assert launched.status_code == 202, launched.text
    record = launched.json()
    assert record["status"] == "starting"
    assert record["url"] == f"{knot.host_url(f'web-{name}.knot.localhost')}/"

    record = knot.wait_for_service(session, "web")
    assert record["status"] == "ready", record

    body = b"hello from knot\n" * 1000
    uploaded = session.put(f"{knot.url}/api/v1/files/private/notes/hello.txt", data=body)
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["size"] == len(body)

    # The service the person launched serves the file they uploaded.
    opened = session.get(f"{record['url']}notes/hello.txt")
    assert opened.status_code == 200
    assert opened.content == body
    assert opened.headers["Content-Length"] == str(len(body))  # one framing header, not two
    head = session.head(f"{record['url']}notes/hello.txt")
    assert head.status_code == 200 and head.headers["Content-Length"] == str(len(body)) and head.content == b""

    # And the file comes back through the files API too.
    downloaded = session.get(f"{knot.url}/api/v1/files/private/notes/hello.txt")
    assert downloaded.content == body
    assert downloaded.headers["Content-Length"] == str(len(body))
    assert downloaded.headers["Content-Disposition"].startswith("attachment;")
    assert downloaded.headers["X-Content-Type-Options"] == "nosniff"


def test_user_service_refuses_others_and_redirects_strangers(knot, make_user):
    owner, owner_session = make_user("eve")
    _, other_session = make_user("fay")
    assert owner_session.post(
        f"{knot.url}/api/v1/launcher/services", json={"template": "file-server", "values": {"NAME": "box"}}
    ).status_code == 202
    record = knot.wait_for_service(owner_session, "box")
    assert record["status"] == "ready"
    url = record["url"] + "some/path?x=1"

    assert owner_session.get(url).status_code in (200, 404)  # reaches the service itself
    forbidden = other_session.get(url)
    assert forbidden.status_code == 403
    assert "belongs to someone else" in forbidden.text

    stranger = knot.client().get(url, allow_redirects=False)
    assert stranger.status_code == 302
    location = stranger.headers["Location"]
    assert location.startswith(f"{knot.url}/auth/login?next=")
    assert "box-" in location and "some%2Fpath%3Fx%3D1" in location

    # Following the redirect through the login form lands back at the service.
    browser = knot.client()
    login_page = browser.get(location)
    assert login_page.status_code == 200 and 'name="next"' in login_page.text
    signed_in = browser.post(
        f"{knot.url}/auth/login",
        data={"username": owner, "password": "a long enough password", "next": url, "csrf": knot.csrf(browser)},
        allow_redirects=False,
    )
    assert signed_in.status_code == 303
    assert signed_in.headers["Location"] == url


def test_route_appears_and_disappears_through_notify(knot, make_user):
    _, session = make_user("gus")
    assert session.post(
        f"{knot.url}/api/v1/launcher/services", json={"template": "file-server", "values": {"NAME": "tmp"}}
    ).status_code == 202
    record = knot.wait_for_service(session, "tmp")
    assert session.get(record["url"]).status_code == 200

    assert session.delete(f"{knot.url}/api/v1/launcher/services/tmp").status_code == 200
    deadline = time.time() + 1.0
    while session.get(record["url"]).status_code != 404:
        assert time.time() < deadline, "the deleted route was still served after a second"
        time.sleep(0.05)
    assert session.get(f"{knot.url}/api/v1/launcher/services/tmp").status_code == 404


def test_logout_ends_the_session(knot, make_user):
    name, session = make_user("hal")
    assert session.get(f"{knot.url}/api/v1/users/me").status_code == 200
    answer = session.post(f"{knot.url}/auth/logout")
    assert answer.status_code == 200
    assert "Max-Age=0" in answer.headers["Set-Cookie"]
    # The old cookie value is dead server-side, not just forgotten by the client.
    assert session.cookies.get("knot_session") in (None, "")


def test_revoked_cookie_stops_working_within_the_cache_bound(knot, make_user):
    name, session = make_user("ivy")
    token = session.cookies.get("knot_session")
    assert session.post(f"{knot.url}/auth/logout").status_code == 200
    replay = knot.client()
    replay.cookies.set("knot_session", token, domain="knot.localhost")
    deadline = time.time() + 5
    while replay.get(f"{knot.url}/api/v1/users/me").status_code != 401:
        assert time.time() < deadline, "a logged-out session still worked after the cache bound"
        time.sleep(0.2)


def test_dashboard_is_served_over_http2_and_http1(knot):
    page = knot.client().get(f"{knot.url}/")
    assert page.status_code == 200 and "<title>Knot</title>" in page.text
    assert page.headers["Strict-Transport-Security"].startswith("max-age=")
    version = subprocess.run(
        ["curl", "-s", "--http2", "--cacert", knot.ca, "--resolve", f"knot.localhost:{knot.public_port}:127.0.0.1",
         "-o", "/dev/null", "-w", "%{http_version}", f"{knot.url}/"],
        capture_output=True, text=True, check=True).stdout
    assert version == "2"


def test_plain_http_only_redirects_to_https(knot):
    answer = knot.client().get(f"http://knot.localhost:{knot.http_port}/api/v1/users/me?a=b", allow_redirects=False)
    assert answer.status_code == 308
    assert answer.headers["Location"] == f"{knot.url}/api/v1/users/me?a=b"
