"""The template catalogue through the edge over TLS: the built-ins; uploading
a template (listed as private, downloaded as YAML, launched on the local
runtime, deleted); templates saved as files in the private, shared and admin
`services/` folders, overriding by id; a broken file listed with its error;
bad input refused without changing anything; and privacy between people."""
import time

import pytest

from conftest import unique, wait_until

REQUIRED = {"jupyter", "filebrowser", "file-server", "postgresql", "redis", "minio", "tensorboard", "hello"}

WEB = """\
apiVersion: v1
kind: Service
metadata:
  name: $NAME
spec:
  ports:
  - port: 80
  selector:
    app: $NAME
---
kind: Template
name: {name}
description: A test web server from an uploaded template.
version: "0.1"
variables:
- name: NAME
  default: web
  title: Service name
  help: The first part of the address
local:
  command: python3
  args: ["-m", "http.server", "$PORT", "--bind", "127.0.0.1", "--directory", "$PRIVATE"]
"""

YAML = {"Content-Type": "application/yaml"}


def templates(knot):
    return f"{knot.url}/api/v1/launcher/templates"


def listing(knot, session):
    answer = session.get(templates(knot))
    assert answer.status_code == 200, answer.text
    return {t["id"]: t for t in answer.json()["templates"]}


def upload(knot, session, text, expect=201, **params):
    answer = session.post(templates(knot), data=text.encode(), headers=YAML, params=params)
    assert answer.status_code == expect, answer.text
    return answer


def put_file(knot, session, path, text):
    answer = session.put(f"{knot.url}/api/v1/files/{path}", data=text.encode(), params={"overwrite": "true"})
    assert answer.status_code == 201, answer.text


def delete_file(knot, session, path):
    session.delete(f"{knot.url}/api/v1/files/{path}")


def services_folder(knot, session):
    answer = session.get(f"{knot.url}/api/v1/files/private/services/")
    assert answer.status_code == 200, answer.text
    return sorted((e["name"], e["size"]) for e in answer.json()["entries"])


def wait_listed(knot, session, id, check=lambda t: True, seconds=15):
    found = {}

    def listed():
        entry = listing(knot, session).get(id)
        if entry is not None and check(entry):
            found["entry"] = entry
            return True
        return False

    wait_until(listed, seconds, f"template {id} listed as expected")
    return found["entry"]


def test_the_built_in_templates_are_listed(knot, make_user):
    _, session = make_user("cat")
    found = listing(knot, session)
    assert REQUIRED <= set(found), sorted(found)
    for id in REQUIRED:
        entry = found[id]
        assert entry["source"] == "built-in" and entry["version"], entry
        assert entry["runtime"] == "local"
        assert entry["available"] == (entry.get("unavailable_reason") is None), entry
        assert entry.get("problem") is None
        assert all("title" in v for v in entry["variables"])
    # What the local runtime runs with python3 is available; a database needs Kubernetes.
    assert found["hello"]["available"] and found["file-server"]["available"]
    assert not found["postgresql"]["available"] and "Kubernetes" in found["postgresql"]["unavailable_reason"]
    for id in ("jupyter", "tensorboard", "filebrowser", "minio", "redis"):
        if not found[id]["available"]:
            assert "not installed" in found[id]["unavailable_reason"], found[id]
    assert found["minio"]["public"] is True and found["jupyter"]["public"] is False
    choices = {v["name"]: v for v in found["jupyter"]["variables"]}
    assert choices["IMAGE"]["choices"] and choices["IMAGE"]["default"] in choices["IMAGE"]["choices"]

    one = session.get(f"{templates(knot)}/hello")
    assert one.status_code == 200 and one.json()["id"] == "hello" and one.json()["source"] == "built-in"
    source = session.get(f"{templates(knot)}/hello", params={"format": "yaml"})
    assert source.status_code == 200 and "kind: Template" in source.text


def test_upload_list_download_launch_and_delete(knot, make_user):
    name, session = make_user("cat")
    text = WEB.format(name="My Web Server")
    created = upload(knot, session, text)
    summary = created.json()
    # No ?id=: made from the descriptor's name.
    assert summary["id"] == "my-web-server" and summary["source"] == "private", summary
    assert summary["available"] is True and summary["version"] == "0.1"
    assert created.headers["Location"].endswith("/templates/my-web-server")
    assert listing(knot, session)["my-web-server"]["source"] == "private"
    # Stored as a file in the person's own services/ folder.
    assert session.get(f"{knot.url}/api/v1/files/private/services/my-web-server.template.yaml").text == text

    for params, headers in (({"format": "yaml"}, {}), ({}, {"Accept": "application/yaml"})):
        download = session.get(f"{templates(knot)}/my-web-server", params=params, headers=headers)
        assert download.status_code == 200
        assert download.text == text
        assert download.headers["Content-Type"].startswith("application/yaml")
        assert download.headers["Content-Disposition"] == 'attachment; filename="my-web-server.template.yaml"'
    assert session.get(f"{templates(knot)}/my-web-server").json()["name"] == "My Web Server"

    # Again: 409 unless overwriting.
    conflict = upload(knot, session, text, expect=409)
    assert conflict.json()["error"]["code"] == "exists"
    upload(knot, session, WEB.format(name="My Web Server v2"), id="my-web-server", overwrite="1")
    assert listing(knot, session)["my-web-server"]["name"] == "My Web Server v2"

    # Launched on the local runtime, and reached through the edge.
    put_file(knot, session, "private/site/index.html", "<h1>uploaded template</h1>")
    launched = session.post(f"{knot.url}/api/v1/launcher/services", json={"template": "my-web-server", "values": {"NAME": "mine"}})
    assert launched.status_code == 202, launched.text
    deadline = time.time() + 30
    record = launched.json()
    while time.time() < deadline and record["status"] not in ("ready", "running", "failed"):
        time.sleep(0.2)
        record = session.get(f"{knot.url}/api/v1/launcher/services/mine").json()
    assert record["status"] in ("ready", "running"), record
    page = session.get(f"{record['url']}site/index.html")
    assert page.status_code == 200 and page.text == "<h1>uploaded template</h1>"
    assert session.delete(f"{knot.url}/api/v1/launcher/services/mine").status_code == 200

    deleted = session.delete(f"{templates(knot)}/my-web-server")
    assert deleted.status_code == 200, deleted.text
    assert "my-web-server" not in listing(knot, session)
    assert session.get(f"{templates(knot)}/my-web-server").status_code == 404
    assert session.delete(f"{templates(knot)}/my-web-server").status_code == 404


def test_own_templates_only_are_deleted(knot, make_user, admin):
    _, session = make_user("cat")
    for id in ("hello", "file-server"):
        refused = session.delete(f"{templates(knot)}/{id}")
        assert refused.status_code == 403, refused.text
    assert "hello" in listing(knot, session)
    assert session.delete(f"{templates(knot)}/no-such-template").status_code == 404
    assert admin.delete(f"{templates(knot)}/hello").status_code == 403

    # A private template with a built-in's id replaces it for its owner; deleting it brings the built-in back.
    upload(knot, session, WEB.format(name="My hello"), id="hello")
    mine = listing(knot, session)["hello"]
    assert mine["source"] == "private" and mine["replaces"] == "built-in" and mine["name"] == "My hello"
    assert session.delete(f"{templates(knot)}/hello").status_code == 200
    assert listing(knot, session)["hello"]["source"] == "built-in"


def test_a_file_saved_through_the_files_api_joins_the_catalogue(knot, make_user):
    _, session = make_user("cat")
    id = unique("saved-")
    put_file(knot, session, f"private/services/{id}.template.yaml", WEB.format(name="Saved as a file"))
    entry = wait_listed(knot, session, id)
    assert entry["source"] == "private" and entry["name"] == "Saved as a file" and entry["available"]
    # Deleted through the files API: gone from the catalogue too.
    delete_file(knot, session, f"private/services/{id}.template.yaml")
    wait_until(lambda: id not in listing(knot, session), 15, "the deleted file leaves the catalogue")


def test_admin_shared_and_private_sources_override_by_id(knot, make_user, admin):
    owner, session = make_user("cat")
    other, other_session = make_user("cat")
    id = unique("layered-")
    try:
        put_file(knot, admin, f"admin/services/{id}.template.yaml", WEB.format(name="From the admins"))
        entry = wait_listed(knot, session, id)
        assert entry["source"] == "admin" and entry["name"] == "From the admins"
        refused = session.delete(f"{templates(knot)}/{id}")
        assert refused.status_code == 403
        admin_refused = admin.delete(f"{templates(knot)}/{id}")
        assert admin_refused.status_code == 403 and "admin/services/" in admin_refused.json()["error"]["message"]

        put_file(knot, session, f"shared/services/{id}.template.yaml", WEB.format(name="Shared"))
        entry = wait_listed(knot, session, id, lambda t: t["source"] == "shared")
        assert entry["name"] == "Shared" and entry["replaces"] == "admin"
        assert wait_listed(knot, other_session, id, lambda t: t["source"] == "shared")["name"] == "Shared"
        assert session.delete(f"{templates(knot)}/{id}").status_code == 403

        upload(knot, session, WEB.format(name="Mine"), id=id)
        entry = listing(knot, session)[id]
        assert entry["source"] == "private" and entry["name"] == "Mine" and entry["replaces"] == "shared"
        # The other person still sees the shared one.
        assert listing(knot, other_session)[id]["source"] == "shared"
        launched = session.post(f"{knot.url}/api/v1/launcher/services", json={"template": id, "values": {"NAME": "layered"}})
        assert launched.status_code == 202, launched.text
        assert session.delete(f"{knot.url}/api/v1/launcher/services/layered").status_code == 200

        assert session.delete(f"{templates(knot)}/{id}").status_code == 200
        assert listing(knot, session)[id]["source"] == "shared"
    finally:
        delete_file(knot, admin, f"admin/services/{id}.template.yaml")
        delete_file(knot, admin, f"shared/services/{id}.template.yaml")


def test_a_broken_file_is_listed_with_its_error_and_hides_nothing(knot, make_user):
    _, session = make_user("cat")
    put_file(knot, session, "private/services/broken.template.yaml", "kind: Template\nname: [not closed\n")
    put_file(knot, session, "private/services/no-descriptor.template.yaml", "apiVersion: v1\nkind: Service\n")
    put_file(knot, session, "private/services/Bad Name.template.yaml", WEB.format(name="Bad name"))
    put_file(knot, session, "private/services/fine.template.yaml", WEB.format(name="Fine"))
    wait_listed(knot, session, "fine")
    found = listing(knot, session)
    for id in ("broken", "no-descriptor", "Bad Name"):
        entry = found[id]
        assert entry["available"] is False and entry["problem"], entry
        assert entry["unavailable_reason"].startswith("the template is broken"), entry
    assert "Template" in found["no-descriptor"]["problem"]
    assert "not a valid template id" in found["Bad Name"]["problem"]
    assert found["fine"]["available"] is True
    assert REQUIRED <= set(found)
    # It cannot be launched, and says which template.
    refused = session.post(f"{knot.url}/api/v1/launcher/services", json={"template": "broken", "values": {"NAME": "nope"}})
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["code"] == "template_broken" and "broken" in refused.json()["error"]["message"]
    # It can be downloaded to be fixed, and deleted.
    assert session.get(f"{templates(knot)}/broken", params={"format": "yaml"}).text == "kind: Template\nname: [not closed\n"
    assert session.delete(f"{templates(knot)}/broken").status_code == 200


def test_bad_uploads_are_refused_and_change_nothing(knot, make_user):
    _, session = make_user("cat")
    upload(knot, session, WEB.format(name="Keep"), id="keep")
    before = services_folder(knot, session)
    good = WEB.format(name="Good")
    cases = [
        ("too large", good + "#" * (300 * 1024), YAML, {}, 413),
        ("invalid YAML", "kind: Template\nname: [oops\n", YAML, {}, 400),
        ("no descriptor", "apiVersion: v1\nkind: Service\n", YAML, {}, 400),
        ("empty", "", YAML, {}, 400),
        ("JSON media type", good, {"Content-Type": "application/json"}, {}, 415),
        ("no media type", good, {"Content-Type": ""}, {}, 415),
        ("path in the id", good, YAML, {"id": "../x"}, 400),
        ("slash in the id", good, YAML, {"id": "a/b"}, 400),
        ("upper-case id", good, YAML, {"id": "Bad"}, 400),
        ("hidden id", good, YAML, {"id": ".x"}, 400),
        ("overlong id", good, YAML, {"id": "a" * 64}, 400),
        ("name without letters", WEB.format(name="'***'"), YAML, {}, 400),
        ("exists", WEB.format(name="Keep"), YAML, {"id": "keep"}, 409),
    ]
    for label, body, headers, params, status in cases:
        answer = session.post(templates(knot), data=body.encode(), headers=headers, params=params)
        assert answer.status_code == status, f"{label}: {answer.status_code} {answer.text[:300]}"
        assert answer.json()["error"]["message"], label
    invalid = session.post(templates(knot), data=b"kind: Template\nname: [oops\n", headers=YAML)
    assert "does not parse" in invalid.json()["error"]["message"]
    assert services_folder(knot, session) == before
    assert listing(knot, session)["keep"]["name"] == "Keep"
    for bad in ("..%2Fx", "%2E%2E", "Bad%20Name"):
        assert session.get(f"{templates(knot)}/{bad}").status_code in (400, 404), bad
        assert session.delete(f"{templates(knot)}/{bad}").status_code in (400, 404), bad
    assert session.get(f"{templates(knot)}/keep", params={"format": "xml"}).status_code == 400
    assert services_folder(knot, session) == before


def test_another_person_never_sees_my_private_templates(knot, make_user):
    _, mine = make_user("cat")
    _, theirs = make_user("cat")
    id = unique("private-")
    upload(knot, mine, WEB.format(name="Mine only"), id=id)
    assert id in listing(knot, mine)
    assert id not in listing(knot, theirs)
    assert theirs.get(f"{templates(knot)}/{id}").status_code == 404
    assert theirs.get(f"{templates(knot)}/{id}", params={"format": "yaml"}).status_code == 404
    assert theirs.delete(f"{templates(knot)}/{id}").status_code == 404
    launched = theirs.post(f"{knot.url}/api/v1/launcher/services", json={"template": id, "values": {"NAME": "theirs"}})
    assert launched.status_code == 400 and launched.json()["error"]["code"] == "unknown_template"
    # Their own upload with the same id is theirs alone.
    upload(knot, theirs, WEB.format(name="Theirs"), id=id)
    assert listing(knot, mine)[id]["name"] == "Mine only"
    assert listing(knot, theirs)[id]["name"] == "Theirs"
