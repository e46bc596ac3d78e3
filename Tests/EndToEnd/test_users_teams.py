"""The users service at full depth, through the edge against real
PostgreSQL: admin operations and who may do them, deactivation stopping a
person's services and reactivation resuming them, deletion, teams with
owner/editor/viewer roles and profile switching, and messages."""
import time

from conftest import unique, wait_until

PASSWORD = "a long enough password"


def api(knot, path):
    return f"{knot.url}/api/v1/users{path}"


def error_code(answer):
    return answer.json()["error"]["code"]




def launch(knot, session, name):
    answer = session.post(f"{knot.url}/api/v1/launcher/services", json={"template": "file-server", "values": {"NAME": name}})
    assert answer.status_code == 202, answer.text
    return knot.wait_for_service(session, name)


def test_admins_find_people_by_search_status_and_sort(knot, admin, make_user):
    tag = unique("srch")
    first, _ = make_user(tag + "a")
    second, _ = make_user(tag + "b")
    pending = unique(tag + "c")
    knot.signup(pending)
    found = admin.get(api(knot, ""), params={"q": tag, "sort": "username", "order": "desc"}).json()["users"]
    assert [u["username"] for u in found] == sorted([first, second, pending], reverse=True)
    inactive = admin.get(api(knot, ""), params={"q": tag, "status": "inactive"}).json()["users"]
    assert [u["username"] for u in inactive] == [pending]
    assert admin.get(api(knot, ""), params={"status": "admin"}).json()["users"][0]["admin"] is True
    for bad in ({"sort": "password"}, {"status": "deleted"}, {"sort": "username; DROP TABLE users.users"}):
        assert admin.get(api(knot, ""), params=bad).status_code == 400, bad


def test_people_who_are_not_admins_are_refused_every_admin_operation(knot, make_user):
    name, session = make_user("nadm")
    other, _ = make_user("nadn")
    assert session.get(api(knot, "")).status_code == 403
    for action in ("activate", "deactivate", "promote", "demote", "reconcile"):
        assert session.post(api(knot, f"/{other}/{action}")).status_code == 403, action
    assert session.patch(api(knot, f"/{other}"), json={"full_name": "X"}).status_code == 403
    assert session.delete(api(knot, f"/{other}"), params={"confirm": other}).status_code == 403
    assert session.get(api(knot, f"/{other}")).status_code == 403
    assert session.post(f"{knot.url}/auth/impersonate", json={"username": other}).status_code == 403
    assert session.post(f"{knot.url}/api/v1/identity/users/{other}/password").status_code == 403
    # The audit log: only entries about oneself, whatever is asked for.
    entries = session.get(api(knot, "/audit"), params={"user": other}).json()["entries"]
    assert all(name in (e["actor"], e["subject"]) for e in entries), entries


def test_promote_demote_and_edit_are_audited_and_checked(knot, admin, make_user):
    name, session = make_user("prm")
    assert admin.post(api(knot, f"/{name}/promote")).json()["admin"] is True
    time.sleep(int(knot.env.get("KNOT_SESSION_CACHE_SECONDS", "5")) + 1)
    assert session.get(api(knot, "")).status_code == 200, "a promoted person is an admin"
    assert admin.post(api(knot, f"/{name}/demote")).json()["admin"] is False
    assert admin.post(api(knot, "/admin/demote")).status_code == 409, "no one demotes themselves"
    assert admin.post(api(knot, "/admin/deactivate")).status_code == 409
    edited = admin.patch(api(knot, f"/{name}"), json={"full_name": "Ada Lovelace", "email": f"{name}@new.example.org"})
    assert edited.status_code == 200 and edited.json()["full_name"] == "Ada Lovelace", edited.text
    taken, _ = make_user("prn")
    assert admin.patch(api(knot, f"/{name}"), json={"email": f"{taken}@example.org"}).status_code == 409
    assert admin.patch(api(knot, f"/{name}"), json={"email": "not-an-address"}).status_code == 400
    assert admin.patch(api(knot, "/nobody-such"), json={"full_name": "x"}).status_code == 404
    audit = admin.get(api(knot, "/audit"), params={"user": name}).json()["entries"]
    assert {"user.promote", "user.demote", "user.edit"} <= {e["action"] for e in audit}


def test_deactivation_stops_services_and_reactivation_resumes_them(knot, admin, make_user):
    name, session = make_user("stp")
    record = launch(knot, session, "box")
    assert record["status"] == "ready"
    url = record["url"]
    assert session.get(url).status_code in (200, 404)
    assert admin.post(api(knot, f"/{name}/deactivate")).status_code == 200
    # The route is withdrawn (a stranger's view of the host: no such service) and the record kept.
    wait_until(lambda: knot.client().get(url, allow_redirects=False).status_code == 404, 10, "the route went away")
    assert admin.post(api(knot, f"/{name}/activate")).status_code == 200
    fresh = knot.login(name, PASSWORD)
    wait_until(lambda: knot.wait_for_service(fresh, "box")["status"] == "ready", 30, "the service came back")
    assert fresh.get(url).status_code in (200, 404)
    messages = fresh.get(api(knot, "/messages")).json()
    assert any(m["kind"] == "service.ready" for m in messages["messages"])


def test_deletion_needs_confirmation_and_takes_everything(knot, admin, make_user):
    name, session = make_user("del")
    launch(knot, session, "gone")
    refused = admin.delete(api(knot, f"/{name}"))
    assert refused.status_code == 400 and error_code(refused) == "confirmation_required"
    assert admin.delete(api(knot, f"/{name}"), params={"confirm": name + "x"}).status_code == 400
    assert admin.get(api(knot, f"/{name}")).status_code == 200, "nothing happened yet"
    assert admin.delete(api(knot, "/admin"), params={"confirm": "admin"}).status_code == 409
    assert admin.delete(api(knot, f"/{name}"), params={"confirm": name}).status_code == 200
    assert admin.get(api(knot, f"/{name}")).status_code == 404
    assert knot.client().post(f"{knot.url}/auth/login", json={"username": name, "password": PASSWORD}).status_code == 401
    assert admin.get(api(knot, "/audit"), params={"user": name}).json()["entries"][0]["action"] == "user.delete"


def test_messages_are_listed_counted_and_marked_read(knot, admin):
    name = unique("msg")
    knot.signup(name, PASSWORD)
    admin.post(api(knot, f"/{name}/activate"))
    session = knot.login(name, PASSWORD)
    listing = session.get(api(knot, "/messages")).json()
    assert listing["unread"] >= 1 and listing["messages"][0]["kind"] == "account.activated"
    first = listing["messages"][0]["id"]
    assert session.post(api(knot, f"/messages/{first}/read")).status_code == 200
    assert session.get(api(knot, "/messages")).json()["unread"] == listing["unread"] - 1
    assert session.post(api(knot, "/messages/999999999/read")).status_code == 404
    assert session.post(api(knot, "/messages/x/read")).status_code == 400
    assert session.post(api(knot, "/messages/read")).status_code == 200
    assert session.get(api(knot, "/messages")).json()["unread"] == 0


def test_a_profile_reports_its_space(knot, make_user):
    name, session = make_user("spc")
    profile = session.get(api(knot, "/me/profile")).json()
    assert profile["user"]["username"] == name and profile["space"]["state"] == "ready"


# --- teams ------------------------------------------------------------------------------

def switch(knot, session, team):
    answer = session.post(f"{knot.url}/auth/profile", json={"team": team})
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_teams_roles_and_profiles(knot, admin, make_user):
    owner_name, owner = make_user("town")
    editor_name, editor = make_user("tedi")
    viewer_name, viewer = make_user("tvie")
    outsider_name, outsider = make_user("tout")
    team = unique("team")

    created = owner.post(api(knot, "/teams"), json={"name": team, "full_name": "Lab"})
    assert created.status_code == 201, created.text
    assert created.json()["members"] == [{"username": owner_name, "full_name": owner_name.title(), "role": "owner"}]
    assert owner.post(api(knot, "/teams"), json={"name": team}).status_code == 409
    assert owner.post(api(knot, "/teams"), json={"name": owner_name}).status_code == 409, "teams and people share names"
    assert owner.post(api(knot, "/teams"), json={"name": "Bad_Name"}).status_code == 400

    for name, role in ((editor_name, "editor"), (viewer_name, "viewer")):
        assert owner.post(api(knot, f"/teams/{team}/members"), json={"username": name, "role": role}).status_code == 200
    assert owner.post(api(knot, f"/teams/{team}/members"), json={"username": viewer_name, "role": "boss"}).status_code == 400
    # Editors launch, but do not manage members; outsiders do not even see the team.
    refused = editor.post(api(knot, f"/teams/{team}/members"), json={"username": outsider_name, "role": "viewer"})
    assert refused.status_code == 403
    assert outsider.get(api(knot, f"/teams/{team}")).status_code == 404
    assert [t["team"] for t in viewer.get(api(knot, "/teams")).json()["teams"]] == [team]
    assert any(m["kind"] == "team.added" for m in viewer.get(api(knot, "/messages")).json()["messages"])

    # The editor acts as the team and launches a service for it.
    assert switch(knot, editor, team) == {"profile": team, "role": "editor", "member": editor_name}
    assert editor.get(f"{knot.url}/api/v1/identity/session").json() == {
        "username": team, "admin": False, "actor": editor_name, "role": "editor"}
    record = launch(knot, editor, "lab")
    assert record["status"] == "ready" and f"lab-{team}." in record["url"]

    # The viewer acts as the team: sees the service, cannot launch or delete.
    switch(knot, viewer, team)
    assert [s["name"] for s in viewer.get(f"{knot.url}/api/v1/launcher/services").json()["services"]] == ["lab"]
    no = viewer.post(f"{knot.url}/api/v1/launcher/services", json={"template": "file-server", "values": {"NAME": "x"}})
    assert no.status_code == 403, no.text
    assert viewer.delete(f"{knot.url}/api/v1/launcher/services/lab").status_code == 403

    # Members open the team's service, as themselves too (once their verdict,
    # cached for a few seconds, knows the team); others may not.
    _, plain_viewer = make_user("tpla")
    wait_until(lambda: owner.get(record["url"]).status_code in (200, 404), 15, "the owner opens the team's service")
    assert outsider.get(record["url"]).status_code == 403
    assert plain_viewer.get(record["url"]).status_code == 403

    # Back to oneself.
    assert viewer.delete(f"{knot.url}/auth/profile").status_code == 200
    assert viewer.get(f"{knot.url}/api/v1/identity/session").json()["username"] == viewer_name

    # A team never loses its last owner; members may leave.
    last = owner.delete(api(knot, f"/teams/{team}/members/{owner_name}"))
    assert last.status_code == 409 and error_code(last) == "last_owner"
    assert viewer.delete(api(knot, f"/teams/{team}/members/{viewer_name}")).status_code == 200
    assert outsider.post(f"{knot.url}/auth/profile", json={"team": team}).status_code == 404

    # Only an owner deletes, with confirmation.
    assert editor.delete(api(knot, f"/teams/{team}"), params={"confirm": team}).status_code in (403, 404)
    assert owner.delete(api(knot, f"/teams/{team}")).status_code == 400
    assert owner.delete(api(knot, f"/teams/{team}"), params={"confirm": team}).status_code == 200
    assert owner.get(api(knot, f"/teams/{team}")).status_code == 404
    actions = {e["action"] for e in admin.get(api(knot, "/audit"), params={"user": team}).json()["entries"]}
    assert {"team.create", "team.member.add", "team.member.remove", "team.delete", "profile.switch"} <= actions
