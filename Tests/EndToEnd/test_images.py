"""The images screen's API against a real Registry v2 server (issue 11).

scripts/test starts Debian's docker-registry (distribution) on loopback with
deletes enabled and tells the files service its address (KNOT_REGISTRY_API_URL).
The images pushed here are built by the test itself: an OCI image layout tar
(random gzip layers, a config, a manifest, index.json, oci-layout) and a
`docker save` style tar. Everything goes through the edge over TLS; the
registry is also asked directly, to see what really landed there.
"""
import gzip
import hashlib
import io
import json
import os
import tarfile
import urllib.parse

import pytest
import requests

from conftest import unique

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
CREATED = "2026-01-02T03:04:05Z"


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tar_bytes(members):
    """A tar of (name, bytes) pairs, written by Python's tarfile (pax format)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1700000000
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def layer(size=200_000):
    """An uncompressed layer tar with one random file."""
    return tar_bytes([("data/random.bin", os.urandom(size))])


def oci_image(tag="v1", layers=2, tamper=None, drop_blob=False):
    """An OCI image layout tar; returns (tar bytes, manifest bytes).
    tamper="layer": a layer's bytes changed but still named by the old digest."""
    raw = [layer() for _ in range(layers)]
    compressed = [gzip.compress(r, mtime=0) for r in raw]
    config = json.dumps({
        "created": CREATED, "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [sha(r) for r in raw]},
    }).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": sha(c), "size": len(c)} for c in compressed],
    }).encode()
    index = json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": OCI_MANIFEST, "digest": sha(manifest), "size": len(manifest),
        "annotations": {"org.opencontainers.image.ref.name": tag}}]}).encode()
    blobs = [(sha(config), config), (sha(manifest), manifest)] + [(sha(c), c) for c in compressed]
    members = [("oci-layout", b'{"imageLayoutVersion": "1.0.0"}'), ("index.json", index)]
    for number, (digest, data) in enumerate(blobs):
        if drop_blob and number == 2:
            continue
        if tamper == "layer" and number == 2:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        members.append(("blobs/sha256/" + digest[7:], data))
    return tar_bytes(members), manifest


def docker_save_image():
    """A `docker save` style tar: manifest.json, <hex>.json config, <id>/layer.tar."""
    raw = [layer(), layer()]
    config = json.dumps({
        "created": CREATED, "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [sha(r) for r in raw]},
    }).encode()
    config_name = sha(config)[7:] + ".json"
    members = [(config_name, config)]
    names = []
    for number, data in enumerate(raw):
        name = f"layer{number}/layer.tar"
        names.append(name)
        members.append((name, data))
    members.append(("manifest.json", json.dumps([{"Config": config_name, "RepoTags": ["demo:saved"], "Layers": names}]).encode()))
    return tar_bytes(members), raw, config


def q(repository):
    return urllib.parse.quote(repository, safe="")


@pytest.fixture(scope="module")
def registry(knot):
    url = knot.env.get("KNOT_REGISTRY_API_URL")
    assert url, "scripts/test starts a registry and sets KNOT_REGISTRY_API_URL"
    return url


@pytest.fixture(scope="module")
def person(make_user):
    return make_user("img")


def upload(knot, session, path, data):
    answer = session.put(f"{knot.url}/api/v1/files/private/{path}?overwrite=true", data=data)
    assert answer.status_code == 201, answer.text


def push(knot, session, path, repository, tag="v1", **extra):
    return session.post(f"{knot.url}/api/v1/images/push",
                        json={"domain": "private", "path": path, "repository": repository, "tag": tag, **extra})


def catalog(registry):
    return sorted(requests.get(f"{registry}/v2/_catalog").json().get("repositories") or [])


def registry_tags(registry, repository):
    answer = requests.get(f"{registry}/v2/{repository}/tags/list")
    return sorted(answer.json().get("tags") or []) if answer.status_code == 200 else []


def test_status_and_empty_listing(knot, person):
    name, session = person
    status = session.get(f"{knot.url}/api/v1/images/status")
    assert status.status_code == 200, status.text
    assert status.json()["push_prefix"] == f"{name}/"
    listing = session.get(f"{knot.url}/api/v1/images")
    assert listing.status_code == 200
    assert all(r["name"].startswith((f"{name}/", "library/")) for r in listing.json()["repositories"])


def test_oci_push_list_pull_delete(knot, admin, person, registry, make_user):
    name, session = person
    repository = f"{name}/app"
    data, manifest = oci_image()
    upload(knot, session, "images/app.tar", data)

    answer = push(knot, session, "images/app.tar", repository, "v1")
    assert answer.status_code == 201, answer.text
    result = answer.json()
    assert result["digest"] == sha(manifest)
    assert result["format"] == "oci" and result["blobs_uploaded"] == 3

    # Listed, with size (config + layers), digest and the config's date.
    repositories = [r["name"] for r in session.get(f"{knot.url}/api/v1/images").json()["repositories"]]
    assert repository in repositories
    tags = session.get(f"{knot.url}/api/v1/images/{q(repository)}/tags")
    assert tags.status_code == 200, tags.text
    [tag] = tags.json()["tags"]
    parsed = json.loads(manifest)
    assert tag["tag"] == "v1" and tag["digest"] == sha(manifest)
    assert tag["size"] == parsed["config"]["size"] + sum(l["size"] for l in parsed["layers"])
    assert tag["created"] == CREATED and tag["platform"] == "linux/amd64"
    # The repository with its slashes unencoded works too.
    assert session.get(f"{knot.url}/api/v1/images/{repository}/tags").status_code == 200

    # Pulled back byte for byte, through Knot and straight from the registry.
    pulled = session.get(f"{knot.url}/api/v1/images/{q(repository)}/manifests/v1")
    assert pulled.status_code == 200
    assert pulled.content == manifest and pulled.headers["Docker-Content-Digest"] == sha(manifest)
    direct = requests.get(f"{registry}/v2/{repository}/manifests/v1", headers={"Accept": OCI_MANIFEST})
    assert direct.status_code == 200 and direct.headers["Docker-Content-Digest"] == sha(manifest)
    for blob in [parsed["config"]] + parsed["layers"]:
        head = requests.head(f"{registry}/v2/{repository}/blobs/{blob['digest']}")
        assert head.status_code == 200 and int(head.headers["Content-Length"]) == blob["size"]

    # A second push of the same image uploads nothing again.
    again = push(knot, session, "images/app.tar", repository, "v2")
    assert again.status_code == 201 and again.json()["blobs_present"] == 3 and again.json()["blobs_uploaded"] == 0

    # Someone else neither sees it nor pushes there.
    other_name, other = make_user("imgo")
    assert repository not in [r["name"] for r in other.get(f"{knot.url}/api/v1/images").json()["repositories"]]
    assert other.get(f"{knot.url}/api/v1/images/{q(repository)}/tags").status_code == 404
    upload(knot, other, "app.tar", data)
    refused = push(knot, other, "app.tar", repository, "stolen")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert registry_tags(registry, repository) == ["v1", "v2"]

    # Only admins delete; a tag is resolved to its digest (both tags share it).
    denied = session.delete(f"{knot.url}/api/v1/images/{q(repository)}/manifests/v1")
    assert denied.status_code == 403
    assert admin.get(f"{knot.url}/api/v1/images/{q(repository)}/tags").status_code == 200
    deleted = admin.delete(f"{knot.url}/api/v1/images/{q(repository)}/manifests/v1")
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["digest"] == sha(manifest)
    assert registry_tags(registry, repository) == []
    gone = session.get(f"{knot.url}/api/v1/images/{q(repository)}/manifests/v1")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"


def test_direct_upload_with_progress(knot, person, registry):
    name, session = person
    repository = f"{name}/direct"
    data, manifest = oci_image(tag="up")
    answer = session.post(f"{knot.url}/api/v1/images/push", params={"repository": repository},
                          data=data, headers={"Content-Type": "application/x-tar", "Accept": "application/x-ndjson"})
    assert answer.status_code == 200, answer.text
    events = [json.loads(line) for line in answer.text.splitlines() if line]
    assert events[0]["event"] == "verified" and events[0]["digest"] == sha(manifest)
    assert any(e["event"] == "progress" for e in events)
    assert events[-1]["event"] == "done", events[-1]
    # No tag given: the archive's own ref name.
    assert events[-1]["result"]["tag"] == "up"
    assert registry_tags(registry, repository) == ["up"]
    # Nothing of the upload stays on disk.
    spool = os.path.join(knot.env["KNOT_FILES_ROOT"], ".knot-images")
    assert not os.path.isdir(spool) or os.listdir(spool) == []


def test_docker_save_archive(knot, person, registry):
    name, session = person
    repository = f"{name}/saved"
    data, raw, config = docker_save_image()
    upload(knot, session, "saved.tar", data)
    answer = push(knot, session, "saved.tar", repository, "s1")
    assert answer.status_code == 201, answer.text
    assert answer.json()["format"] == "docker-save"
    pulled = session.get(f"{knot.url}/api/v1/images/{q(repository)}/manifests/s1")
    assert pulled.status_code == 200
    manifest = pulled.json()
    assert manifest["mediaType"] == DOCKER_MANIFEST
    assert manifest["config"]["digest"] == sha(config)
    assert [l["digest"] for l in manifest["layers"]] == [sha(r) for r in raw]
    direct = requests.get(f"{registry}/v2/{repository}/blobs/{sha(raw[1])}")
    assert direct.status_code == 200 and direct.content == raw[1]
    [tag] = session.get(f"{knot.url}/api/v1/images/{q(repository)}/tags").json()["tags"]
    assert tag["created"] == CREATED and tag["digest"] == answer.json()["digest"]


BAD = {
    "corrupt": (lambda good: good[:600] + bytes(b ^ 0x5A for b in good[600:1200]) + good[1200:], 400, "corrupt_archive"),
    "truncated": (lambda good: good[: len(good) // 2], 400, "truncated_archive"),
    "digest": (lambda good: oci_image(tamper="layer")[0], 400, "digest_mismatch"),
    "missing": (lambda good: oci_image(drop_blob=True)[0], 400, "missing_blob"),
    "gzip": (lambda good: gzip.compress(good), 415, "unsupported_media_type"),
    "not-an-image": (lambda good: tar_bytes([("hello.txt", b"hi")]), 400, "not_an_image"),
    "empty": (lambda good: b"", 400, "truncated_archive"),
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_bad_archives_are_refused_and_leave_nothing(knot, person, registry, kind):
    name, session = person
    repository = f"{name}/bad-{kind}"
    good, _ = oci_image()
    make, status, code = BAD[kind]
    before = catalog(registry)
    upload(knot, session, f"bad/{kind}.tar", make(good))
    answer = push(knot, session, f"bad/{kind}.tar", repository)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["code"] == code and len(error["message"]) > 20, error
    # The same through a direct upload.
    direct = session.post(f"{knot.url}/api/v1/images/push", params={"repository": repository, "tag": "x"},
                          data=make(good), headers={"Content-Type": "application/x-tar"})
    assert direct.status_code == status and direct.json()["error"]["code"] == code
    assert catalog(registry) == before
    assert registry_tags(registry, repository) == []


def test_bad_requests(knot, person):
    name, session = person
    cases = [
        ({"domain": "private", "path": "../etc/passwd", "repository": f"{name}/x", "tag": "v"}, 400, "invalid_path"),
        ({"domain": "private", "path": "/abs.tar", "repository": f"{name}/x", "tag": "v"}, 400, "invalid_path"),
        ({"domain": "admin", "path": "a.tar", "repository": f"{name}/x", "tag": "v"}, 403, "forbidden"),
        ({"domain": "nowhere", "path": "a.tar", "repository": f"{name}/x", "tag": "v"}, 400, "invalid_domain"),
        ({"domain": "private", "path": "missing.tar", "repository": f"{name}/x", "tag": "v"}, 404, "not_found"),
        ({"domain": "private", "path": "a.tar", "repository": f"{name}/Upper", "tag": "v"}, 400, "invalid_repository"),
        ({"domain": "private", "path": "a.tar", "repository": f"{name}//x", "tag": "v"}, 400, "invalid_repository"),
        ({"domain": "private", "path": "a.tar", "repository": f"{name}/x", "tag": "-bad"}, 400, "invalid_tag"),
        ({"domain": "private", "path": "a.tar", "repository": "library/x", "tag": "v"}, 403, "forbidden"),
        ({"domain": "private", "path": "a.tar", "repository": f"{name}x/x", "tag": "v"}, 403, "forbidden"),
    ]
    for body, status, code in cases:
        answer = session.post(f"{knot.url}/api/v1/images/push", json=body)
        assert answer.status_code == status, (body, answer.text)
        assert answer.json()["error"]["code"] == code, (body, answer.text)
    wrong_type = session.post(f"{knot.url}/api/v1/images/push", data=b"x", headers={"Content-Type": "text/plain"})
    assert wrong_type.status_code == 415
    no_repo = session.post(f"{knot.url}/api/v1/images/push", data=b"x", headers={"Content-Type": "application/x-tar"})
    assert no_repo.status_code == 400
    assert session.get(f"{knot.url}/api/v1/images/{name}%2FX/tags").status_code == 400
    assert session.get(f"{knot.url}/api/v1/images/{name}%2Fx/manifests/sha256:zz").status_code == 400
    assert session.get(f"{knot.url}/api/v1/images/{name}%2Fx/elsewhere").status_code == 404
    assert knot.client().get(f"{knot.url}/api/v1/images").status_code == 401


# MARK: the Images screen in a real browser (headless Chromium, as test_dashboard_files.py)

@pytest.fixture(scope="module")
def browser(knot):
    from dashboard_browser import start_browser, stop_browser
    driver = start_browser(knot)
    yield driver
    stop_browser(driver)


def test_images_screen_push_list_and_admin_delete(knot, browser, make_user, registry, tmp_path):
    from dashboard_browser import PASSWORD, console_problems, screen, shot, sign_in, wait
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import Select

    name, session = make_user("imgui")
    data, manifest = oci_image(tag="ui")
    upload(knot, session, "images/ui.tar", data)
    sign_in(browser, knot, name, PASSWORD)
    # The menu offers Images because a registry is configured.
    wait(browser).until(ready.presence_of_element_located((By.ID, "menu-images")))
    try:
        screen(browser, knot, "images", "Images")
    except Exception:
        raise AssertionError(f"the Images screen did not open: {browser.get_log('browser')} {browser.find_element(By.TAG_NAME, 'main').text}")
    wait(browser).until(ready.text_to_be_present_in_element((By.ID, "image-list"), "No repositories yet"))

    # From the person's files.
    browser.find_element(By.ID, "push-path").send_keys("images/ui.tar")
    browser.find_element(By.ID, "push-repository").send_keys("ui")  # prefilled with "<name>/"
    browser.find_element(By.ID, "push-tag").send_keys("v1")
    browser.find_element(By.ID, "push-button").click()
    wait(browser, 30).until(ready.text_to_be_present_in_element((By.ID, "push-state"), f"Pushed {name}/ui:v1"))
    row = f"details[data-repository='{name}/ui'] tr[data-tag='v1']"
    # The pushed repository opens with its tags: digest, size and date.
    wait(browser).until(ready.presence_of_element_located((By.CSS_SELECTOR, row)))
    text = browser.find_element(By.CSS_SELECTOR, row).text
    assert sha(manifest)[:19] in text and "linux/amd64" in text and "KB" in text, text
    shot(browser, "images-pushed")

    # Uploaded from the computer; a truncated tar is refused in words.
    Select(browser.find_element(By.ID, "push-source")).select_by_value("upload")
    good = tmp_path / "up.tar"
    good.write_bytes(oci_image(tag="up")[0])
    browser.find_element(By.ID, "push-file").send_keys(str(good))
    tag = browser.find_element(By.ID, "push-tag")
    tag.clear()
    tag.send_keys("up")
    browser.find_element(By.ID, "push-button").click()
    wait(browser, 30).until(ready.text_to_be_present_in_element((By.ID, "push-state"), f"Pushed {name}/ui:up"))
    assert registry_tags(registry, f"{name}/ui") == ["up", "v1"]
    bad = tmp_path / "bad.tar"
    bad.write_bytes(data[: len(data) // 3])
    browser.find_element(By.ID, "push-file").send_keys(str(bad))
    browser.find_element(By.ID, "push-button").click()
    wait(browser, 30).until(ready.text_to_be_present_in_element((By.ID, "toasts"), "truncated"))
    assert registry_tags(registry, f"{name}/ui") == ["up", "v1"]
    # People do not get a Delete button.
    assert not browser.find_elements(By.CSS_SELECTOR, f"{row} button.danger")
    assert console_problems(browser) == []

    # An admin deletes, after confirming.
    sign_in(browser, knot, "admin", knot.admin_password)
    screen(browser, knot, "images", "Images")
    summary = wait(browser).until(ready.element_to_be_clickable((By.CSS_SELECTOR, f"details[data-repository='{name}/ui'] summary")))
    summary.click()
    wait(browser).until(ready.element_to_be_clickable((By.CSS_SELECTOR, f"{row} button.danger"))).click()
    wait(browser).until(ready.element_to_be_clickable((By.CSS_SELECTOR, "dialog button[value=ok]"))).click()
    wait(browser).until(ready.invisibility_of_element_located((By.CSS_SELECTOR, row)))
    assert registry_tags(registry, f"{name}/ui") == ["up"]
    shot(browser, "images-admin")
