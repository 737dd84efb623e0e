"""`archiver retention`, `archiver hold`, `archiver disposition` as scripts use them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_cli import DEMO, run

SEED = Path(__file__).parents[2] / "retention" / "schedules" / "seed.json"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    assert run(h, "init", "--origin", "cli.test/log").returncode == 0
    assert run(h, "ingest", str(DEMO)).returncode == 0
    return h


def ok(result) -> dict:  # noqa: ANN001
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_seed_schedule_loads_and_lists(home: Path) -> None:
    loaded = ok(run(home, "retention", "load-schedule", str(SEED), "--actor", "alice"))
    assert {p["schedule_code"] for p in loaded["loaded"]} >= {"GRS 6.4 item 020",
                                                             "GS50-01-12 Rev. 3"}
    listed = run(home, "retention", "policies").stdout.strip().splitlines()
    assert len(listed) == len(loaded["loaded"])
    again = run(home, "retention", "load-schedule", "-", "--actor", "alice",
                stdin=json.dumps({"policies": [{"name": "bad", "period": {"amount": -1,
                                                                          "unit": "days"}}]}))
    assert again.returncode == 2 and "policies[0]" in again.stderr
    assert len(run(home, "retention", "policies").stdout.strip().splitlines()) == len(listed)


def test_bad_input_exits_2_with_a_message(home: Path) -> None:
    r = run(home, "hold", "place", "-", "--actor", "counsel",
            stdin=json.dumps({"matter_name": "m", "matter_number": "1", "scope": {}}))
    assert r.returncode == 2 and "empty scope" in r.stderr
    r = run(home, "retention", "policy", "create", "-", "--actor", "alice", stdin="{not json")
    assert r.returncode == 2 and "not valid JSON" in r.stderr
    r = run(home, "disposition", "create")
    assert r.returncode == 2 and "--actor" in r.stderr


def test_a_run_through_the_command_line_and_its_certificate(home: Path, tmp_path: Path) -> None:
    policy = {"name": "now", "schedule_code": "GRS 5.2 item 010",
              "authority": "DAA-GRS-2022-0009-0001", "period": {"amount": 0, "unit": "days"},
              "trigger": "captured", "action": "destroy", "scope": {"platforms": ["bluesky"]}}
    ok(run(home, "retention", "policy", "create", "-", "--actor", "alice",
           stdin=json.dumps(policy)))
    created = ok(run(home, "disposition", "create", "--actor", "alice"))
    same = run(home, "disposition", "approve", created["id"], "--actor", "alice")
    assert same.returncode == 4 and "different person" in same.stderr
    ok(run(home, "disposition", "approve", created["id"], "--actor", "bob"))
    done = ok(run(home, "disposition", "execute", created["id"], "--actor", "bob"))
    seq = done["certificate"]["records"][0]["seq"]
    shown = ok(run(home, "show", str(seq)))
    assert shown["payload"] is None and shown["disposition"]["run_id"] == created["id"]
    cert, page = tmp_path / "cert.json", tmp_path / "cert.html"
    cert.write_text(run(home, "retention", "certificate", "show", created["id"], "--html",
                        str(page)).stdout)
    assert "Certificate of destruction" in page.read_text(encoding="utf-8")
    vkey = run(home, "log", "vkey").stdout.strip()
    assert ok(run(home, "retention", "certificate", "verify", str(cert), "--vkey", vkey))["ok"]
    forged = json.loads(cert.read_text())
    forged["approved_by"] = "mallory"
    cert.write_text(json.dumps(forged))
    bad = run(home, "retention", "certificate", "verify", str(cert), "--vkey", vkey)
    assert bad.returncode == 1 and "does not verify" in bad.stderr
    assert run(home, "verify").returncode == 0
    audit = [json.loads(x)["action"] for x in run(home, "audit-log").stdout.splitlines()]
    assert "key.destroyed" in audit and "disposition.executed" in audit
