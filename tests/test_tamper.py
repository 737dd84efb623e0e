"""`archiver verify` fails on any altered, missing, reordered or extra byte, and names the place.

Tampering is done behind the archive's back on the filesystem store (on S3 with Object
Lock the store itself refuses; see tests/test_storage.py).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from archiver.log.checkpoint import Checkpoint, CheckpointSigner

DEMO = Path(__file__).parent.parent / "archiver" / "demo" / "observations.jsonl"


def archiver(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ARCHIVER_HOME": str(home), "ARCHIVER_LOG_SEGMENT_MAX_RECORDS": "20"}
    return subprocess.run([sys.executable, "-m", "archiver.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("pristine") / "home"
    assert archiver(home, "init", "--origin", "tamper.test/log").returncode == 0
    assert archiver(home, "ingest", str(DEMO)).returncode == 0
    return home


@pytest.fixture
def home(pristine: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "home"
    shutil.copytree(pristine, copy)
    return copy


def objects(home: Path) -> Path:
    return home / "objects"


def segment(home: Path, n: int = 1) -> Path:
    return sorted((objects(home) / "log").iterdir())[n]


def verify_fails(home: Path, *expected: str) -> str:
    result = archiver(home, "verify")
    assert result.returncode == 1, result.stdout + result.stderr
    for text in expected:
        assert text in result.stdout, result.stdout
    assert "Traceback" not in result.stderr
    return result.stdout


def test_the_untouched_archive_verifies(home: Path) -> None:
    result = archiver(home, "verify", "--json")
    assert result.returncode == 0, result.stdout
    report = json.loads(result.stdout)
    assert report["ok"] and report["records"] == 56 and report["decrypted"] == 56


@pytest.mark.parametrize("offset", [0, 10, 100, 400, -2, -1])
def test_one_changed_byte_in_a_segment_fails_and_names_it(home: Path, offset: int) -> None:
    seg = segment(home)
    data = bytearray(seg.read_bytes())
    data[offset] ^= 0x01
    seg.write_bytes(bytes(data))
    verify_fails(home, seg.name, "first bad record: seq")


def test_a_deleted_segment_fails(home: Path) -> None:
    seg = segment(home, 1)
    seg.unlink()
    verify_fails(home, "missing or extra segment", "first bad record: seq 1")


def test_two_swapped_lines_fail_at_the_first(home: Path) -> None:
    seg = segment(home, 1)
    lines = seg.read_bytes().split(b"\n")
    lines[3], lines[4] = lines[4], lines[3]
    seg.write_bytes(b"\n".join(lines))
    verify_fails(home, seg.name, "first bad record: seq 4")


def test_a_truncated_last_segment_fails(home: Path) -> None:
    seg = sorted((objects(home) / "log").iterdir())[-1]
    seg.write_bytes(seg.read_bytes()[:-50])
    verify_fails(home, seg.name, "truncated")


def test_an_extra_line_fails(home: Path) -> None:
    seg = segment(home, 1)
    data = seg.read_bytes()
    seg.write_bytes(data + data.split(b"\n")[0] + b"\n")
    verify_fails(home, seg.name)


def test_a_checkpoint_signed_by_another_key_fails(home: Path, tmp_path: Path) -> None:
    impostor = CheckpointSigner.generate(tmp_path / "other.json", "tamper.test/log")
    cps = sorted((objects(home) / "checkpoints").iterdir())
    cp = cps[-1]
    size = int(cp.name)
    root_line = cp.read_bytes().split(b"\n")[2]
    forged = impostor.sign(Checkpoint("tamper.test/log", size, base64.b64decode(root_line)))
    cp.write_bytes(forged)
    verify_fails(home, cp.name, "signature")


def test_a_checkpoint_replaced_by_an_older_one_fails(home: Path) -> None:
    cps = sorted((objects(home) / "checkpoints").iterdir())
    cps[-1].write_bytes(cps[0].read_bytes())
    verify_fails(home, cps[-1].name)


def test_a_stale_newest_checkpoint_copy_fails(home: Path) -> None:
    cps = sorted((objects(home) / "checkpoints").iterdir())
    (objects(home) / "checkpoint").write_bytes(cps[0].read_bytes())
    verify_fails(home, "checkpoint", "not the newest")


def test_an_extra_object_fails(home: Path) -> None:
    (objects(home) / "log" / "notes.txt").write_text("hello")
    verify_fails(home, "log/notes.txt", "not described by the archive format")


def test_a_missing_key_object_fails(home: Path) -> None:
    sorted((objects(home) / "keys").iterdir())[1].unlink()
    verify_fails(home, "no key object")


def test_a_wrapped_key_swapped_between_records_fails_to_decrypt(home: Path) -> None:
    kobj = sorted((objects(home) / "keys").iterdir())[1]
    doc = json.loads(kobj.read_bytes())
    kids = sorted(doc["keys"])
    doc["keys"][kids[0]], doc["keys"][kids[1]] = doc["keys"][kids[1]], doc["keys"][kids[0]]
    kobj.write_text(json.dumps(doc))
    verify_fails(home, "does not unwrap")


def test_verify_json_names_the_first_bad_seq(home: Path) -> None:
    seg = segment(home, 2)
    data = bytearray(seg.read_bytes())
    data[5] ^= 0x20
    seg.write_bytes(bytes(data))
    result = archiver(home, "verify", "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False and report["first_bad_seq"] == 21

