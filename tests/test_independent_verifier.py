"""The store `archiver ingest` writes passes `archiver-verify`, a verifier written only from
ARCHIVE_FORMAT.md (stdlib + cryptography), and fails it after any single-byte change."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DEMO = Path(__file__).parent.parent / "archiver" / "demo" / "observations.jsonl"


def cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ARCHIVER_HOME": str(home), "ARCHIVER_LOG_SEGMENT_MAX_RECORDS": "16"}
    return subprocess.run([sys.executable, "-m", "archiver.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def offline(objects: Path, vkey: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "archiver.verify_offline", "store", str(objects),
                           "--vkey", str(vkey)], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    home = tmp_path_factory.mktemp("indep") / "home"
    assert cli(home, "init", "--origin", "independent.test/log").returncode == 0
    assert cli(home, "ingest", str(DEMO)).returncode == 0
    vkey = home.parent / "vkey"
    vkey.write_text(cli(home, "log", "vkey").stdout)
    return home / "objects", vkey


def test_the_independent_verifier_accepts_what_ingest_wrote(archive: tuple[Path, Path]) -> None:
    objects, vkey = archive
    result = offline(objects, vkey)
    assert result.returncode == 0, result.stdout[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["ok"] and summary["records"] == 56 and summary["failures"] == 0


def every_byte_position_sample(objects: Path, per_file: int) -> list[tuple[str, int]]:
    rng = random.Random(20261121)
    picks = []
    for f in sorted(p for p in objects.rglob("*") if p.is_file()):
        if f.parent.name == "keys":
            continue  # wrapped keys are opaque to an outsider; `archiver verify` checks them
        size = f.stat().st_size
        positions = {0, size - 1} | {rng.randrange(size) for _ in range(per_file)}
        picks += [(str(f.relative_to(objects)), pos) for pos in sorted(positions)]
    return picks


@pytest.mark.parametrize("bit", [0x01, 0x80])
def test_any_single_byte_change_is_rejected(archive: tuple[Path, Path], tmp_path: Path,
                                            bit: int) -> None:
    objects, vkey = archive
    accepted = []
    for rel, pos in every_byte_position_sample(objects, per_file=3):
        copy = tmp_path / "copy"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(objects, copy)
        target = copy / rel
        data = bytearray(target.read_bytes())
        data[pos] ^= bit
        target.write_bytes(bytes(data))
        result = offline(copy, vkey)
        if result.returncode == 0:
            accepted.append((rel, pos))
        assert "Traceback" not in result.stderr, (rel, pos, result.stderr[-2000:])
    assert accepted == []
