"""The Files screen's uploads in headless Chromium, over the real edge and
files service: many files and folders by drag-and-drop, per-file progress,
pause and resume on a throttled network (the bytes on disk equal the source),
retry after a failure, the overwrite choice on a conflict, and the quota in
words. Selenium cannot drag files from the OS, so the drops are synthetic
`drop` events dispatched in the page: one with a real DataTransfer holding
File objects made in JS, and one whose items hand out File and Directory
Entries (the shape a dropped folder has), which is the same code path a real
folder drop takes. The folder picker (`webkitdirectory`) gets a real folder."""
import os
import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready

from dashboard_browser import console_problems, screen, shot, sign_in, start_browser, stop_browser, wait, PASSWORD

# In the page: File objects with a known pattern, and drops of them.
HELPERS = """
window.knotTest = {
  file(name, size, seed) {
    const bytes = new Uint8Array(size);
    for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed) & 255;
    return new File([bytes], name, {type: 'application/octet-stream'});
  },
  dropFiles(specs) {
    const transfer = new DataTransfer();
    for (const [name, size, seed] of specs) transfer.items.add(this.file(name, size, seed));
    const event = new DragEvent('drop', {bubbles: true, cancelable: true, dataTransfer: transfer});
    document.getElementById('dropzone').dispatchEvent(event);
  },
  // A tree {name: [size, seed] | {…}} as File and Directory Entries, read back in two batches as Chromium does.
  dropTree(tree) {
    const entry = (name, node) => Array.isArray(node)
      ? {isFile: true, isDirectory: false, name, file: (ok) => ok(this.file(name, node[0], node[1]))}
      : {isFile: false, isDirectory: true, name, createReader() {
          const children = Object.entries(node).map(([n, v]) => entry(n, v));
          const batches = [children.slice(0, 1), children.slice(1), []];
          return {readEntries: (ok) => setTimeout(() => ok(batches.shift() ?? []), 0)};
        }};
    const items = Object.entries(tree).map(([name, node]) => ({kind: 'file', webkitGetAsEntry: () => entry(name, node)}));
    const event = new Event('drop', {bubbles: true, cancelable: true});
    Object.defineProperty(event, 'dataTransfer', {value: {items, files: []}});
    document.getElementById('dropzone').dispatchEvent(event);
  },
};
"""


def pattern(size, seed):
    return bytes(((i * 31 + seed) & 255) for i in range(size))


@pytest.fixture(scope="module")
def browser(knot):
    driver = start_browser(knot)
    yield driver
    stop_browser(driver)


@pytest.fixture
def person(knot, browser, make_user):
    """A new person on their Files screen, with the test helpers loaded in the page."""
    name, session = make_user("drop")
    sign_in(browser, knot, name, PASSWORD)
    screen(browser, knot, "files/private", "Files")
    wait(browser).until(lambda b: not b.find_elements(By.CSS_SELECTOR, "#file-list .state.loading"))
    browser.execute_script(HELPERS)
    return name, session


def content(knot, session, path):
    answer = session.get(f"{knot.url}/api/v1/files/private/{path}")
    assert answer.status_code == 200, (path, answer.text)
    return answer.content


def upload_row(path):
    return f".upload[data-path='{path}']"


def state_of(browser, path):
    return browser.find_element(By.CSS_SELECTOR, f"{upload_row(path)} .upload-state").text


def wait_state(browser, path, words, seconds=30):
    wait(browser, seconds).until(ready.text_to_be_present_in_element((By.CSS_SELECTOR, f"{upload_row(path)} .upload-state"), words))


def test_many_files_and_a_folder_dropped_at_once(knot, browser, person):
    _, session = person
    specs = [[f"many-{i:02}.bin", 1000 + i * 977, i] for i in range(12)]
    browser.execute_script("knotTest.dropFiles(arguments[0])", specs)
    # Each file has its own row and progress bar; three run at a time until all are done.
    wait(browser).until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#uploads .upload progress")) == 12)
    wait(browser, 60).until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#uploads .upload.done")) == 12)
    wait(browser).until(ready.text_to_be_present_in_element((By.ID, "upload-summary"), "12 of 12 uploaded"))
    for name, size, seed in specs:
        bar = browser.find_element(By.CSS_SELECTOR, f"{upload_row(name)} progress")
        assert bar.get_attribute("value") == bar.get_attribute("max") == str(size)
        assert content(knot, session, name) == pattern(size, seed)
    wait(browser).until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#file-list tr[data-name^='many-']")) == 12)

    # A folder with sub-folders, an empty one among them.
    tree = {"project": {"readme.md": [300, 1], "data": {"a.csv": [5000, 2], "b.csv": [7000, 3]}, "empty": {}}}
    browser.execute_script("knotTest.dropTree(arguments[0])", tree)
    for path in ("project/readme.md", "project/data/a.csv", "project/data/b.csv"):
        wait_state(browser, path, "Uploaded")
    assert content(knot, session, "project/data/a.csv") == pattern(5000, 2)
    assert content(knot, session, "project/data/b.csv") == pattern(7000, 3)
    assert content(knot, session, "project/readme.md") == pattern(300, 1)
    listing = session.get(f"{knot.url}/api/v1/files/private/project").json()
    assert {(e["name"], e["kind"]) for e in listing["entries"]} == {("readme.md", "file"), ("data", "folder"), ("empty", "folder")}
    wait(browser).until(ready.presence_of_element_located((By.CSS_SELECTOR, "#file-list tr[data-name='project']")))
    shot(browser, "files-dropped")

    # Finished rows can be cleared away.
    browser.find_element(By.ID, "clear-finished").click()
    wait(browser).until(lambda b: not b.find_elements(By.CSS_SELECTOR, "#uploads .upload"))
    assert console_problems(browser) == []


def test_a_folder_through_the_folder_picker(knot, browser, person, tmp_path):
    _, session = person
    top = tmp_path / "picked"
    (top / "inner").mkdir(parents=True)
    (top / "one.txt").write_bytes(b"one\n")
    (top / "inner" / "two.txt").write_bytes(b"two\n" * 1000)
    browser.find_element(By.ID, "upload-folder-input").send_keys(str(top))
    wait_state(browser, "picked/inner/two.txt", "Uploaded")
    wait_state(browser, "picked/one.txt", "Uploaded")
    assert content(knot, session, "picked/inner/two.txt") == b"two\n" * 1000
    assert content(knot, session, "picked/one.txt") == b"one\n"


def test_pause_and_resume_on_a_slow_network(knot, browser, person):
    name, session = person
    size = 6 * 1024 * 1024
    browser.execute_cdp_cmd("Network.enable", {})
    # About 1 MB/s up: the upload takes seconds, long enough to pause in the middle of a chunk.
    browser.execute_cdp_cmd("Network.emulateNetworkConditions", {
        "offline": False, "latency": 20, "downloadThroughput": 50_000_000, "uploadThroughput": 1_000_000})
    try:
        browser.execute_script("knotTest.dropFiles(arguments[0])", [["slow.bin", size, 7]])
        bar = f"{upload_row('slow.bin')} progress"
        wait(browser, 20).until(lambda b: 0 < int(b.find_element(By.CSS_SELECTOR, bar).get_attribute("value") or 0))
        pause = browser.find_element(By.CSS_SELECTOR, f"{upload_row('slow.bin')} button.pause")
        assert pause.get_attribute("aria-label") == "Pause slow.bin"
        pause.click()
        wait_state(browser, "slow.bin", "Paused at")
        assert pause.text == "Resume"
        # Paused means nothing moves, in the page or on the server.
        time.sleep(1.5)
        at = browser.find_element(By.CSS_SELECTOR, bar).get_attribute("value")
        root = os.path.join(knot.env["KNOT_FILES_ROOT"], "private", name)
        partial = [f for f in os.listdir(root) if f.startswith(".knot-upload-")]
        assert len(partial) == 1
        kept = os.path.getsize(os.path.join(root, partial[0]))
        assert 0 <= kept < size
        # The bar shows what the server kept, not what was in flight.
        assert at == str(kept)
        time.sleep(1)
        assert browser.find_element(By.CSS_SELECTOR, bar).get_attribute("value") == at
        assert os.path.getsize(os.path.join(root, partial[0])) == kept
        shot(browser, "files-paused")
        # Resume asks the server's offset and goes on from there.
        pause.click()
        wait_state(browser, "slow.bin", "Uploaded", seconds=90)
    finally:
        browser.execute_cdp_cmd("Network.emulateNetworkConditions", {
            "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    assert content(knot, session, "slow.bin") == pattern(size, 7)
    with open(os.path.join(knot.env["KNOT_FILES_ROOT"], "private", name, "slow.bin"), "rb") as f:
        assert f.read() == pattern(size, 7)
    assert not [f for f in os.listdir(root) if f.startswith(".knot-upload-")]


def test_retry_after_a_failure(knot, browser, person):
    _, session = person
    # A file where the upload needs a folder: the server refuses, and no retry can help until it is moved.
    assert session.put(f"{knot.url}/api/v1/files/private/blocker", data=b"in the way").status_code == 201
    browser.execute_script("knotTest.dropTree(arguments[0])", {"blocker": {"inside.txt": [2000, 5]}})
    path = "blocker/inside.txt"
    wait(browser).until(ready.presence_of_element_located((By.CSS_SELECTOR, f"{upload_row(path)}.failed")))
    assert "blocker is not a folder" in state_of(browser, path)
    retry = browser.find_element(By.CSS_SELECTOR, f"{upload_row(path)} button.retry")
    assert retry.is_displayed()
    assert session.delete(f"{knot.url}/api/v1/files/private/blocker").status_code == 200
    retry.click()
    wait_state(browser, path, "Uploaded")
    assert content(knot, session, path) == pattern(2000, 5)


def test_a_conflict_asks_before_overwriting(knot, browser, person):
    _, session = person
    assert session.put(f"{knot.url}/api/v1/files/private/same.bin", data=b"the old content").status_code == 201
    browser.execute_script("knotTest.dropFiles(arguments[0])", [["same.bin", 4096, 9]])
    wait(browser).until(ready.presence_of_element_located((By.CSS_SELECTOR, f"{upload_row('same.bin')}.conflict")))
    assert "A file named same.bin already exists here" in state_of(browser, "same.bin")
    # Nothing was replaced without asking.
    assert content(knot, session, "same.bin") == b"the old content"
    shot(browser, "files-conflict")
    browser.find_element(By.CSS_SELECTOR, f"{upload_row('same.bin')} button.overwrite").click()
    wait_state(browser, "same.bin", "Uploaded")
    assert content(knot, session, "same.bin") == pattern(4096, 9)


def test_too_large_and_over_the_quota_are_said_in_words(knot, browser, person):
    _, session = person
    drop = """
      const transfer = new DataTransfer();
      for (const [name, size] of arguments[0]) transfer.items.add(new File([new Uint8Array(size)], name));
      document.getElementById('dropzone').dispatchEvent(new DragEvent('drop', {bubbles: true, cancelable: true, dataTransfer: transfer}));
    """
    # The test system takes at most 32 MiB per upload and 64 MiB per person (scripts/test).
    browser.execute_script(drop, [["huge.bin", 40_000_000]])
    wait(browser).until(ready.presence_of_element_located((By.CSS_SELECTOR, f"{upload_row('huge.bin')}.failed")))
    assert state_of(browser, "huge.bin") == "This file (40 MB) is larger than Knot accepts (at most 34 MB per file)."
    # Cancelling takes it off the list's work.
    browser.find_element(By.CSS_SELECTOR, f"{upload_row('huge.bin')} button.cancel").click()
    wait_state(browser, "huge.bin", "Cancelled")

    browser.execute_script(drop, [["fill-1.bin", 25_000_000], ["fill-2.bin", 25_000_000]])
    wait_state(browser, "fill-1.bin", "Uploaded", seconds=60)
    wait_state(browser, "fill-2.bin", "Uploaded", seconds=60)
    browser.execute_script(drop, [["fill-3.bin", 25_000_000]])
    wait(browser).until(ready.presence_of_element_located((By.CSS_SELECTOR, f"{upload_row('fill-3.bin')}.failed")))
    assert state_of(browser, "fill-3.bin").startswith("This file (25 MB) does not fit in your quota.")
    assert session.get(f"{knot.url}/api/v1/files/private/fill-3.bin").status_code == 404
    assert console_problems(browser) == []
