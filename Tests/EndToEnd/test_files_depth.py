"""Files beyond the basics, through the edge with real files on disk: byte
ranges and validators, stat and paged listings, move and copy within and
across domains (never replacing silently, never into itself), and folders
streamed as tar archives. Links planted on disk are never followed."""
import io
import os
import tarfile

import pytest

from conftest import unique


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
