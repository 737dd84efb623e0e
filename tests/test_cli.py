"""The `archiver` command line: a contract other tools script against."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from archiver.log.checkpoint import CheckpointVerifier

DEMO = Path(__file__).parent.parent / "archiver" / "demo" / "observations.jsonl"


def run(home: Path, *args: str, stdin: str | None = None, **env: str
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "archiver.cli", *args], input=stdin,
                          env={**os.environ, "ARCHIVER_HOME": str(home), **env},
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    result = run(h, "init", "--origin", "cli.test/log")
    assert result.returncode == 0, result.stderr
    return h


def test_init_creates_owner_only_key_files_and_prints_the_verifier_key(home: Path) -> None:
    for name in ("kek.json", "signing.json", "fingerprint.key"):
        mode = stat.S_IMODE((home / "keys" / name).stat().st_mode)
        assert mode == 0o600, (name, oct(mode))
    assert (home / "archiver.toml").exists() and (home / "catalog.sqlite").exists()
    assert (home / "objects" / "log" / "000000000000-000000000000.jsonl").exists()


def test_init_twice_changes_nothing(home: Path) -> None:
    kek = (home / "keys" / "kek.json").read_bytes()
    result = run(home, "init")
    assert result.returncode == 0 and "already initialised" in result.stdout
    assert (home / "keys" / "kek.json").read_bytes() == kek


def test_ingest_prints_one_json_summary_line(home: Path) -> None:
    result = run(home, "ingest", str(DEMO))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    summary = json.loads(lines[0])
    assert summary["received"] == 59 and summary["archived"] == 55
    assert summary["events"] == {"created": 41, "edited": 6, "deleted": 3, "hidden": 2,
                                 "restored": 1, "observed": 2}


def test_ingest_reads_stdin_with_a_dash(home: Path) -> None:
    line = json.dumps({"platform": "x", "account": "1", "item_id": "9", "kind": "post"})
    result = run(home, "ingest", "-", stdin=line + "\n")
    assert result.returncode == 0 and json.loads(result.stdout)["archived"] == 1


def test_ingest_names_bad_lines_on_stderr_exits_2_and_keeps_the_good_ones(home: Path) -> None:
    good = json.dumps({"platform": "x", "account": "1", "item_id": "9", "kind": "post"})
    bad = json.dumps({"platform": "x", "account": "1", "item_id": 9, "kind": "post"})
    result = run(home, "ingest", "-", stdin=f"{good}\n{bad}\nnot json\n")
    assert result.returncode == 2
    assert "line 2: 'item_id' must be a string" in result.stderr
    assert "line 3: not valid JSON" in result.stderr
    assert json.loads(result.stdout)["archived"] == 1
    assert run(home, "verify").returncode == 0


def test_show_prints_the_decrypted_record(home: Path) -> None:
    run(home, "ingest", str(DEMO))
    record = json.loads(run(home, "show", "1").stdout)
    assert record["seq"] == 1 and record["envelope"]["seq"] == 1
    assert record["payload"]["platform"] == "mastodon" and record["payload"]["event"] == "created"
    assert len(record["record_hash"]) == 64


def test_show_of_an_unknown_seq_is_a_clear_error(home: Path) -> None:
    result = run(home, "show", "999")
    assert result.returncode == 2 and "no record with seq 999" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_checkpoint_verifies_with_the_printed_vkey(home: Path) -> None:
    run(home, "ingest", str(DEMO))
    vkey = run(home, "log", "vkey").stdout.strip()
    assert vkey.startswith("cli.test/log+")
    note = run(home, "log", "checkpoint").stdout.encode()
    cp = CheckpointVerifier.from_vkey(vkey).verify(note)
    assert (cp.origin, cp.size) == ("cli.test/log", 56)


def test_rebuild_after_losing_the_catalog_gives_a_verifying_archive(home: Path) -> None:
    run(home, "ingest", str(DEMO))
    before = run(home, "show", "17").stdout
    (home / "catalog.sqlite").unlink()
    for extra in ("catalog.sqlite-wal", "catalog.sqlite-shm"):
        (home / extra).unlink(missing_ok=True)
    result = run(home, "rebuild")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"rebuilt": True, "records": 56}
    assert run(home, "verify").returncode == 0
    assert run(home, "show", "17").stdout == before
    again = run(home, "ingest", str(DEMO))
    assert json.loads(again.stdout)["archived"] == 0


def test_commands_on_a_missing_archive_say_so(tmp_path: Path) -> None:
    result = run(tmp_path / "nowhere", "verify")
    assert result.returncode == 2 and "archiver init" in result.stderr


def test_config_show_masks_secrets(home: Path) -> None:
    result = run(home, "config", "show", ARCHIVER_STORE_SECRET_KEY="hunter2-secret",
                 ARCHIVER_CATALOG_URL="postgresql://u:pw-secret@127.0.0.1/test")
    assert result.returncode == 0
    assert "hunter2-secret" not in result.stdout and "pw-secret" not in result.stdout
    shown = json.loads(result.stdout)
    assert shown["store"]["secret_key"] == "********"


def test_a_malformed_setting_is_a_clear_error(home: Path) -> None:
    result = run(home, "verify", ARCHIVER_LOG_SEGMENT_MAX_RECORDS="many")
    assert result.returncode == 2 and "segment_max_records must be an integer" in result.stderr
