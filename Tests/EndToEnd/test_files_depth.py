"""Files beyond the basics, through the edge with real files on disk: byte
ranges and validators, stat and paged listings, move and copy within and
across domains (never replacing silently, never into itself), and folders
streamed as tar archives. Links planted on disk are never followed."""
import io
import os
import tarfile

import pytest

from conftest import unique, wait_until



def notebook_folder(knot):
    """What a new private folder holds: `notebooks/` when JupyterHub is configured (made on activation)."""
    return ["notebooks"] if knot.env.get("KNOT_JUPYTERHUB_URL") else []


def files(knot, path):
    return f"{knot.url}/api/v1/files/{path}"


def put(knot, session, path, data, **params):
    answer = session.put(files(knot, path), data=data, params=params)
    assert answer.status_code == 201, answer.text
    return answer


@pytest.fixture
def person(make_user):
    return make_user("fil")


def private_dir(knot, name):
    return os.path.join(knot.env["KNOT_FILES_ROOT"], "private", name)


def test_ranges_and_validators(knot, person):
    _, session = person
    data = bytes(range(256)) * 40  # 10,240 bytes
    put(knot, session, "private/data.bin", data)
    whole = session.get(files(knot, "private/data.bin"))
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["Accept-Ranges"] == "bytes"
    etag = whole.headers["ETag"]
    assert etag.startswith('"') and "Last-Modified" in whole.headers

    part = session.get(files(knot, "private/data.bin"), headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == data[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(data)}"
    assert session.get(files(knot, "private/data.bin"), headers={"Range": "bytes=10000-"}).content == data[10000:]
    assert session.get(files(knot, "private/data.bin"), headers={"Range": "bytes=-16"}).content == data[-16:]
    assert session.get(files(knot, "private/data.bin"), headers={"Range": "bytes=10200-99999"}).content == data[10200:]
    unsatisfiable = session.get(files(knot, "private/data.bin"), headers={"Range": "bytes=20000-"})
    assert unsatisfiable.status_code == 416 and unsatisfiable.headers["Content-Range"] == f"bytes */{len(data)}"
    # Forms this does not serve get the whole file, never an error.
    for header in ("bytes=5-1", "bytes=1-2,5-6", "items=0-5", "bytes=abc-"):
        answer = session.get(files(knot, "private/data.bin"), headers={"Range": header})
        assert answer.status_code == 200 and answer.content == data, header

    cached = session.get(files(knot, "private/data.bin"), headers={"If-None-Match": etag})
    assert cached.status_code == 304 and cached.content == b""
    assert session.get(files(knot, "private/data.bin"), headers={"If-None-Match": '"other"'}).status_code == 200
    # If-Range: the range only while the file is the version the client has.
    assert session.get(files(knot, "private/data.bin"), headers={"Range": "bytes=0-9", "If-Range": etag}).status_code == 206
    put(knot, session, "private/data.bin", data[::-1], overwrite="true")
    changed = session.get(files(knot, "private/data.bin"), headers={"Range": "bytes=0-9", "If-Range": etag})
    assert changed.status_code == 200 and changed.content == data[::-1]
    assert session.get(files(knot, "private/data.bin"), headers={"If-None-Match": etag}).status_code == 200


def test_user_html_is_never_rendered_inline(knot, person):
    _, session = person
    put(knot, session, "private/page.html", b"<script>alert(1)</script>")
    answer = session.get(files(knot, "private/page.html"))
    assert answer.headers["Content-Type"].startswith("text/html")
    assert answer.headers["Content-Disposition"].startswith("attachment")
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in answer.headers["Content-Security-Policy"]
    assert session.get(files(knot, "private/page.html")).headers["Content-Type"] != ""
    put(knot, session, "private/table.csv", b"a,b\n1,2\n")
    assert session.get(files(knot, "private/table.csv")).headers["Content-Type"].startswith("text/csv")


def test_stat_and_paged_listings(knot, person):
    _, session = person
    for index in range(25):
        put(knot, session, f"private/many/f{index:02d}.txt", b"x" * index)
    session.post(files(knot, "folders"), json={"domain": "private", "path": "many/sub"})
    stat = session.get(files(knot, "private/many/f07.txt"), params={"stat": ""}).json()
    assert stat["name"] == "f07.txt" and stat["kind"] == "file" and stat["size"] == 7 and stat["etag"].startswith('"')
    assert session.get(files(knot, "private/many"), params={"stat": ""}).json()["kind"] == "folder"

    seen, after = [], None
    while True:
        params = {"limit": 10} | ({"after": after} if after else {})
        page = session.get(files(knot, "private/many"), params=params).json()
        assert page["total"] == 26 and len(page["entries"]) <= 10
        seen += [e["name"] for e in page["entries"]]
        after = page.get("next")
        if not after:
            break
    assert seen == ["sub"] + [f"f{index:02d}.txt" for index in range(25)], "folders first, then by name, each once"
    for bad in ("0", "10001", "x"):
        assert session.get(files(knot, "private/many"), params={"limit": bad}).status_code == 400


def test_move_and_copy_within_and_across_domains(knot, person):
    name, session = person
    put(knot, session, "private/a/report.txt", b"v1")
    put(knot, session, "private/a/deep/x.txt", b"deep")

    def move(src, dst, **extra):
        return session.post(files(knot, "move"), json={"from": src, "to": dst} | extra)

    def copy(src, dst, **extra):
        return session.post(files(knot, "copy"), json={"from": src, "to": dst} | extra)

    p = lambda path: {"domain": "private", "path": path}  # noqa: E731
    s = lambda path: {"domain": "shared", "path": path}  # noqa: E731

    assert move(p("a/report.txt"), p("b/renamed.txt")).status_code == 201
    assert session.get(files(knot, "private/b/renamed.txt")).content == b"v1"
    assert session.get(files(knot, "private/a/report.txt")).status_code == 404

    # Never replaced silently; replaced when asked.
    put(knot, session, "private/b/other.txt", b"other")
    refused = move(p("b/other.txt"), p("b/renamed.txt"))
    assert refused.status_code == 409 and session.get(files(knot, "private/b/renamed.txt")).content == b"v1"
    assert session.get(files(knot, "private/b/other.txt")).content == b"other", "a refused move changes nothing"
    assert move(p("b/other.txt"), p("b/renamed.txt"), overwrite=True).status_code == 201
    assert session.get(files(knot, "private/b/renamed.txt")).content == b"other"

    # Folders: copied whole, across domains; a folder cannot go inside itself.
    shared_name = unique("cp")
    assert copy(p("a"), s(shared_name)).status_code == 201
    assert session.get(files(knot, f"shared/{shared_name}/deep/x.txt")).content == b"deep"
    assert session.get(files(knot, "private/a/deep/x.txt")).content == b"deep", "the original stays"
    assert copy(p("a"), s(shared_name)).status_code == 409
    inside = move(p("a"), p("a/deep/a"))
    assert inside.status_code == 409 and inside.json()["error"]["code"] == "into_itself"
    assert move(p("a"), p("moved-a")).status_code == 201
    assert session.get(files(knot, "private/moved-a/deep/x.txt")).content == b"deep"
    existing = move(p("moved-a"), p("b"))
    assert existing.status_code == 409, "a folder never lands on an existing name"
    assert session.get(files(knot, "private/moved-a/deep/x.txt")).status_code == 200

    # Bad requests change nothing.
    assert move(p(""), p("x")).status_code == 400
    assert move(p("../etc"), p("x")).status_code == 400
    assert move(p("missing"), p("x")).status_code == 404
    assert move({"domain": "admin", "path": "x"}, p("x")).status_code == 403
    assert move({"domain": "elsewhere", "path": "x"}, p("x")).status_code == 400


def test_folders_download_as_tar_without_links(knot, person):
    name, session = person
    big = os.urandom(300_000)
    put(knot, session, "private/proj/data/big.bin", big)
    put(knot, session, "private/proj/notes.md", b"# notes")
    long_name = "n" * 120 + ".txt"
    put(knot, session, f"private/proj/{long_name}", b"long")
    # A link planted on disk (as a container could) is left out, not followed.
    os.symlink("/etc/passwd", os.path.join(private_dir(knot, name), "proj", "passwd-link"))
    answer = session.get(files(knot, "private/proj"), params={"archive": "tar"})
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/x-tar"
    assert answer.headers["Content-Disposition"].startswith('attachment; filename="proj.tar"')
    archive = tarfile.open(fileobj=io.BytesIO(answer.content))
    names = sorted(archive.getnames())
    assert names == sorted(["proj", "proj/data", "proj/data/big.bin", "proj/notes.md", f"proj/{long_name}"]), names
    assert archive.extractfile("proj/data/big.bin").read() == big
    assert archive.extractfile(f"proj/{long_name}").read() == b"long"
    assert session.get(files(knot, "private/proj"), params={"archive": "rar"}).status_code == 400
    assert session.get(files(knot, "private/proj/passwd-link")).status_code == 403


def uploads(knot, suffix=""):
    return f"{knot.url}/api/v1/files/uploads{suffix}"


def patch(session, location, offset, data):
    return session.patch(location, data=data, headers={
        "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream", "Tus-Resumable": "1.0.0"})


def test_a_resumable_upload_survives_a_dropped_connection(knot, person, make_user):
    name, session = person
    data = os.urandom(3 * 1024 * 1024 + 17)
    opened = session.post(uploads(knot), json={"domain": "private", "path": "big/resumed.bin", "length": len(data)})
    assert opened.status_code == 201, opened.text
    location = knot.url + opened.headers["Location"]
    assert opened.headers["Upload-Offset"] == "0" and opened.headers["Tus-Resumable"] == "1.0.0"

    first = patch(session, location, 0, data[:1_000_000])
    assert first.status_code == 204 and first.headers["Upload-Offset"] == "1000000"
    # Not visible until complete, and the hidden bytes are never listed.
    assert session.get(files(knot, "private/big/resumed.bin")).status_code == 404
    assert session.get(files(knot, "private/big")).json()["entries"] == []

    # The connection drops halfway through the next part.
    def dropping():
        yield data[1_000_000:1_500_000]
        raise ConnectionAbortedError("the network went away")
    try:
        session.patch(location, data=dropping(), headers={
            "Upload-Offset": "1000000", "Content-Type": "application/offset+octet-stream"})
    except Exception:  # noqa: BLE001 - the client sees its own failure
        pass
    # Until the server notices the drop, the old request may still hold the upload
    # (409 upload_busy); an empty append at the offset succeeds once it is free.
    def settled():
        offset = int(session.head(location).headers["Upload-Offset"])
        return offset if patch(session, location, offset, b"").status_code == 204 else None
    wait_until(lambda: settled() is not None, 15, "the dropped request let go of the upload")
    resumed_at = int(session.head(location).headers["Upload-Offset"])
    assert 1_000_000 <= resumed_at <= 1_500_000
    wrong = patch(session, location, 0, data[:10])
    assert wrong.status_code == 409 and wrong.headers["Upload-Offset"] == str(resumed_at)
    assert patch(session, location, resumed_at, b"").status_code == 204
    # Others cannot see or touch it.
    _, other = make_user("fio")
    assert other.head(location).status_code == 404
    assert patch(other, location, resumed_at, b"x").status_code == 404

    done = patch(session, location, resumed_at, data[resumed_at:])
    assert done.status_code == 204 and done.headers["Knot-Upload-Complete"] == "true"
    assert session.get(files(knot, "private/big/resumed.bin")).content == data
    assert session.head(location).status_code == 404, "a finished upload is gone"


def test_resumable_uploads_refuse_what_they_should(knot, person):
    _, session = person
    put(knot, session, "private/taken.txt", b"keep me")
    refused = session.post(uploads(knot), json={"domain": "private", "path": "taken.txt", "length": 5})
    assert refused.status_code == 409
    replace = session.post(uploads(knot), json={"domain": "private", "path": "taken.txt", "length": 5, "overwrite": True})
    location = knot.url + replace.headers["Location"]
    assert patch(session, location, 0, b"too many bytes").status_code == 413
    assert session.head(location).headers["Upload-Offset"] == "0"
    wrong_type = session.patch(location, data=b"x", headers={"Upload-Offset": "0", "Content-Type": "text/plain"})
    assert wrong_type.status_code == 415
    assert session.patch(location, data=b"x", headers={"Content-Type": "application/offset+octet-stream"}).status_code == 400
    assert session.get(files(knot, "private/taken.txt")).content == b"keep me"
    assert session.delete(location).status_code == 204
    assert session.head(location).status_code == 404
    for bad in ({"domain": "private", "path": "x", "length": -1}, {"domain": "private", "path": "", "length": 1},
                {"domain": "private", "path": "../x", "length": 1}, {"domain": "admin", "path": "x", "length": 1}):
        assert session.post(uploads(knot), json=bad).status_code in (400, 403), bad
    assert session.head(uploads(knot, "/not-a-uuid")).status_code == 404
    empty = session.post(uploads(knot), json={"domain": "private", "path": "empty.txt", "length": 0})
    assert empty.status_code == 201 and session.get(files(knot, "private/empty.txt")).content == b""


def test_quotas_refuse_before_and_stop_during_an_upload(knot, make_user):
    name, session = make_user("quo")
    quota = int(knot.env["KNOT_QUOTA_BYTES"])
    usage = session.get(files(knot, "usage")).json()
    assert usage == {"bytes": 0, "files": 0, "quota_bytes": quota, "quota_files": int(knot.env["KNOT_QUOTA_FILES"])}
    chunk = os.urandom(1024 * 1024)
    block = chunk * 30  # 30 MiB: under the per-upload limit
    put(knot, session, "private/one.bin", block)
    put(knot, session, "private/two.bin", block)
    assert session.get(files(knot, "usage")).json()["bytes"] == 2 * len(block)
    near = [m for m in session.get(f"{knot.url}/api/v1/users/messages").json()["messages"] if m["kind"] == "quota.near"]
    assert len(near) == 1 and "%" in near[0]["text"], near

    # Known size: refused before a byte is written.
    left = quota - 2 * len(block)
    refused = session.put(files(knot, "private/three.bin"), data=chunk * 5)
    assert refused.status_code == 413 and refused.json()["error"]["code"] == "quota_exceeded", refused.text
    # Unknown size (chunked): stopped once over, nothing kept.
    streamed = session.put(files(knot, "private/four.bin"), data=(chunk for _ in range(5)))
    assert streamed.status_code == 413 and streamed.json()["error"]["code"] == "quota_exceeded"
    listing = [e["name"] for e in session.get(files(knot, "private")).json()["entries"]]
    assert listing == notebook_folder(knot) + ["one.bin", "two.bin"], listing
    # What fits still goes in; resumable uploads are checked when opened; shared files do not count.
    put(knot, session, "private/small.bin", b"x" * min(left, 1024))
    assert session.post(f"{knot.url}/api/v1/files/uploads",
                        json={"domain": "private", "path": "r.bin", "length": quota}).status_code == 413
    put(knot, session, f"shared/{name}-big.bin", chunk * 8)
    assert session.delete(files(knot, f"shared/{name}-big.bin")).status_code == 200
    # Deleting frees the space at once.
    assert session.delete(files(knot, "private/one.bin")).status_code == 200
    assert session.get(files(knot, "usage")).json()["bytes"] == len(block) + min(left, 1024)
    put(knot, session, "private/three.bin", chunk * 5)


def test_the_public_folder_is_served_without_login_and_nothing_else(knot, admin, make_user):
    name, session = make_user("pub")
    put(knot, session, "private/public/report.txt", b"results")
    put(knot, session, "private/public/plots/fig.png", b"\x89PNG fake")
    put(knot, session, "private/public/page.html", b"<script>alert(1)</script>")
    put(knot, session, "private/secret.txt", b"not for you")
    os.symlink("../secret.txt", os.path.join(private_dir(knot, name), "public", "leak.txt"))
    stranger = knot.client()
    base = f"{knot.url}/~{name}"
    assert stranger.get(f"{base}/report.txt").content == b"results"
    index = stranger.get(f"{base}/")
    assert index.status_code == 200 and "report.txt" in index.text and "plots/" in index.text
    assert "leak.txt" not in index.text and "<script" not in index.text
    assert stranger.get(f"{base}/plots/fig.png").headers["Content-Disposition"].startswith("inline")
    html = stranger.get(f"{base}/page.html")
    assert html.headers["Content-Disposition"].startswith("attachment") and "sandbox" in html.headers["Content-Security-Policy"]
    # Nothing outside `public`, whatever the spelling.
    for path in ("/leak.txt", "/../secret.txt", "/%2e%2e/secret.txt", "/..%2fsecret.txt", "/plots/../../secret.txt"):
        answer = stranger.get(base + path)
        assert answer.status_code in (400, 403, 404) and b"not for you" not in answer.content, path
    assert stranger.get(f"{knot.url}/~nobody-such/report.txt").status_code == 404
    assert stranger.get(f"{knot.url}/~{name}x/").status_code == 404
    assert stranger.put(f"{base}/new.txt", data=b"x").status_code == 405
    # A deactivated person's folder is no longer public.
    admin.post(f"{knot.url}/api/v1/users/{name}/deactivate")
    assert stranger.get(f"{base}/report.txt").status_code == 404


def test_share_links_expire_by_request_and_reach_only_what_they_share(knot, make_user):
    name, session = make_user("shr")
    put(knot, session, "private/results/summary.csv", b"a,b\n")
    put(knot, session, "private/results/raw/data.bin", b"raw")
    put(knot, session, "private/other.txt", b"other")
    one = session.post(files(knot, "shares"), json={"domain": "private", "path": "results/summary.csv", "expires_in_hours": 2})
    assert one.status_code == 201, one.text
    folder = session.post(files(knot, "shares"), json={"domain": "private", "path": "results"}).json()
    stranger = knot.client()
    assert stranger.get(one.json()["url"]).content == b"a,b\n"
    assert stranger.get(one.json()["url"] + "/x").status_code == 404, "a file link has no inside"
    assert stranger.get(folder["url"] + "raw/data.bin").content == b"raw"
    assert "summary.csv" in stranger.get(folder["url"]).text
    for path in ("../other.txt", "%2e%2e/other.txt", "raw/../../other.txt"):
        answer = stranger.get(folder["url"] + path)
        assert answer.status_code in (400, 404) and b"other" not in answer.content, path
    listed = session.get(files(knot, "shares")).json()["shares"]
    assert {s["path"] for s in listed} == {"/results/summary.csv", "/results"} and all("url" not in s for s in listed)
    _, other = make_user("shs")
    assert other.delete(files(knot, f"shares/{folder['id']}")).status_code == 404
    assert session.delete(files(knot, f"shares/{folder['id']}")).status_code == 200
    assert stranger.get(folder["url"] + "raw/data.bin").status_code == 404
    assert stranger.get(f"{knot.url}/s/" + "A" * 43).status_code == 404
    for bad in ({"domain": "private", "path": "", "expires_in_hours": 1}, {"domain": "private", "path": "results", "expires_in_hours": 0},
                {"domain": "private", "path": "missing.txt"}, {"domain": "admin", "path": "x"}):
        assert session.post(files(knot, "shares"), json=bad).status_code in (400, 403, 404), bad


def test_created_files_and_folders_belong_to_the_configured_user(knot, person):
    name, session = person
    put(knot, session, "private/owned/deep/file.txt", b"mine")
    session.post(files(knot, "copy"), json={"from": {"domain": "private", "path": "owned"},
                                           "to": {"domain": "private", "path": "owned-copy"}})
    uid, gid = int(knot.env["KNOT_FILES_UID"]), int(knot.env["KNOT_FILES_GID"])
    base = private_dir(knot, name)
    for relative in ("owned", "owned/deep", "owned/deep/file.txt", "owned-copy/deep/file.txt"):
        info = os.stat(os.path.join(base, relative))
        assert (info.st_uid, info.st_gid) == (uid, gid), relative


def test_folders_download_as_zip_with_correct_checksums(knot, person):
    import zipfile
    name, session = person
    big = os.urandom(700_000)
    put(knot, session, "private/zipme/data/big.bin", big)
    put(knot, session, "private/zipme/ünïcode name.txt", "héllo".encode())
    session.post(files(knot, "folders"), json={"domain": "private", "path": "zipme/empty"})
    os.symlink("/etc", os.path.join(private_dir(knot, name), "zipme", "etc-link"))
    answer = session.get(files(knot, "private/zipme"), params={"archive": "zip"})
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(answer.content))
    assert archive.testzip() is None, "every CRC matches"
    assert sorted(archive.namelist()) == sorted(
        ["zipme/", "zipme/data/", "zipme/data/big.bin", "zipme/empty/", "zipme/ünïcode name.txt"]), archive.namelist()
    assert archive.read("zipme/data/big.bin") == big
    assert archive.read("zipme/ünïcode name.txt") == "héllo".encode()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def service_pid(knot, name):
    with open(os.path.join(knot.run, "pids", f"{name}.pid")) as f:
        return int(f.read().strip())


def test_a_gigabyte_folder_zips_through_the_edge_in_flat_memory(knot, person):
    """1 GiB on disk (written directly, as a notebook would), downloaded as a
    ZIP through the edge: the files service and the edge stay small."""
    import threading
    import zipfile
    name, session = person
    folder = os.path.join(private_dir(knot, name), "gig")
    os.makedirs(folder)
    block = os.urandom(1024 * 1024)
    for index in range(8):
        with open(os.path.join(folder, f"part{index}.bin"), "wb") as out:
            for _ in range(128):
                out.write(block)
    pids = {service: service_pid(knot, service) for service in ("files", "edge")}
    before = {service: rss_kib(pid) for service, pid in pids.items()}
    peak = dict(before)
    done = threading.Event()

    def sample():
        while not done.is_set():
            for service, pid in pids.items():
                peak[service] = max(peak[service], rss_kib(pid))
            done.wait(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    received = 0
    tail = b""
    try:
        with session.get(files(knot, "private/gig"), params={"archive": "zip"}, stream=True) as answer:
            assert answer.status_code == 200
            for piece in answer.iter_content(1024 * 1024):
                received += len(piece)
                tail = (tail + piece)[-65536:]
    finally:
        done.set()
        sampler.join()
    assert received > 1024 ** 3
    assert tail[-22:-18] == b"PK\x05\x06", "the archive ends with its directory"
    for service in pids:
        grown = (peak[service] - before[service]) / 1024
        assert grown < 64, f"{service} grew by {grown:.0f} MiB while streaming 1 GiB"


def test_many_uploads_at_once(knot, person):
    import concurrent.futures
    _, session = person
    payloads = {f"private/many-at-once/f{index}.bin": os.urandom(200_000 + index) for index in range(24)}

    def upload(item):
        path, data = item
        return session.put(files(knot, path), data=data).status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        assert set(pool.map(upload, payloads.items())) == {201}
    for path, data in payloads.items():
        assert session.get(files(knot, path)).content == data
