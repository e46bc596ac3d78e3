"""packaging/icu/trim-icu-data and Shared/KnotICUData, as scripts/images uses them.

The release images link ICU data trimmed to what the services use in place of
Foundation's full copy. These tests cut the data from this toolchain's own
archive, check what was kept and dropped byte for byte, then build one probe
program (icu_probe.swift: everything the services ask of ICU) twice, with the
full data and with the trimmed data through the real icu_data.S, and require
the same output.
"""
import importlib.machinery
import importlib.util
import os
import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "packaging" / "icu" / "trim-icu-data"


def load_trimmer():
    loader = importlib.machinery.SourceFileLoader("trim_icu_data", str(SCRIPT))
    spec = importlib.util.spec_from_loader("trim_icu_data", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


trim = load_trimmer()


def toolchain_bin():
    swiftc = shutil.which("swiftc")
    assert swiftc, "swiftc is not on PATH"
    return pathlib.Path(os.path.realpath(swiftc)).parent


@pytest.fixture(scope="module")
def icu(tmp_path_factory):
    folder = tmp_path_factory.mktemp("icu")
    out = folder / "icudata.dat"
    report = subprocess.run([str(SCRIPT), str(out)], capture_output=True, text=True, check=True)
    symbol, full = trim.extract(trim.toolchain_archive())
    assert report.stdout.startswith(f"{symbol}:"), report.stdout
    return {"folder": folder, "symbol": symbol, "full": full, "trimmed": out.read_bytes(), "report": report.stdout}


def items(data):
    return dict(trim.read_package(data)[1])


def test_the_trimmed_package_keeps_what_servers_use_byte_for_byte(icu):
    full, kept = items(icu["full"]), items(icu["trimmed"])
    prefix = next(iter(full)).split("/")[0]
    for name in ["root.res", "en.res", "en_001.res", "en_US_POSIX.res", "pool.res", "res_index.res",
                 "zoneinfo64.res", "metaZones.res", "timezoneTypes.res", "windowsZones.res",
                 "supplementalData.res", "likelySubtags.res", "plurals.res", "uts46.nrm", "nfkc.nrm",
                 "coll/root.res", "coll/ucadata.icu", "brkitr/root.res", "brkitr/word.brk",
                 "zone/root.res", "zone/en.res", "curr/en.res", "unit/en.res"]:
        assert f"{prefix}/{name}" in kept, name
    for name, blob in kept.items():
        assert full[name] == blob, f"{name} changed"
    # Dropped: other locales, converters, dictionaries, transliterators.
    for name in ["de.res", "zh_Hant_TW.res", "coll/zh.res", "brkitr/cjdict.dict", "ibm-1390_P110-2003.cnv",
                 "translit/root.res", "zone/fr.res"]:
        assert f"{prefix}/{name}" in full and f"{prefix}/{name}" not in kept, name
    assert len(icu["trimmed"]) < len(icu["full"]) / 4, icu["report"]


def test_every_item_is_aligned_and_the_table_is_sorted(icu):
    header, listed = trim.read_package(icu["trimmed"])
    assert header == icu["full"][:len(header)]
    names = [name for name, _ in listed]
    assert names == sorted(names)
    count = int.from_bytes(icu["trimmed"][len(header):len(header) + 4], "little")
    for i in range(count):
        start = len(header) + 4 + 8 * i + 4
        offset = int.from_bytes(icu["trimmed"][start:start + 4], "little")
        assert (len(header) + offset) % 16 == 0, names[i]


def test_a_program_behaves_the_same_on_the_trimmed_data(icu):
    folder, bin_ = icu["folder"], toolchain_bin()
    (folder / "icudata.dat").write_bytes(icu["trimmed"])
    obj = folder / "icu_data.o"
    subprocess.run([str(bin_ / "clang"), "-c", f'-DKNOT_ICU_DATA_FILE="{folder / "icudata.dat"}"',
                    f"-DKNOT_ICU_DATA_SYMBOL={icu['symbol']}", str(ROOT / "Shared" / "KnotICUData" / "icu_data.S"),
                    "-o", str(obj)], check=True)
    probe = ROOT / "Tests" / "Packaging" / "icu_probe.swift"
    outputs, sizes = [], []
    for name, extra in [("full", []), ("trimmed", [str(obj)])]:
        exe = folder / f"probe-{name}"
        subprocess.run([str(bin_ / "swiftc"), "-static-stdlib", *extra, str(probe), "-o", str(exe)],
                       check=True, capture_output=True)
        env = {"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8", "TZ": "UTC"}
        run = subprocess.run([str(exe)], capture_output=True, text=True, env=env, timeout=60)
        assert run.returncode == 0, run.stderr
        outputs.append(run.stdout)
        sizes.append(exe.stat().st_size)
    assert outputs[0] == outputs[1]
    assert "Tue, 14 Nov 2023 22:13:20 GMT" in outputs[1]
    # The swap happened: the trimmed program is smaller by about the data cut.
    assert sizes[0] - sizes[1] > (len(icu["full"]) - len(icu["trimmed"])) * 0.9, sizes
