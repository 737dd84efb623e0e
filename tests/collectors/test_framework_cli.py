"""The collectors' command line: `collect --once`, `import`, `worker` (SIGTERM)."""

from __future__ import annotations

import importlib.machinery
import json
import os
import select as io_select
import signal
import subprocess
import sys
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from archiver.catalog import schema as t
from archiver.cli import main
from archiver.collectors import accounts as acc
from archiver.collectors import registry
from archiver.errors import InvalidRequest
from archiver.records import Observation
from archiver.wiring import Archive
from tests.collectors.e2e_support import local_backend  # noqa: F401 - fixture: backend_env
from tests.collectors.fake_platform import ACCOUNT, PLATFORM, TOKEN, FakeCollector, FakeSocial
from tests.replay.server import ReplayServer, Reply

EXPORT_MODULE = f"archiver.collectors.exports.{PLATFORM}"


@pytest.fixture(autouse=True)
def fake_registered(archive: Archive, backend_env: dict[str, str],
                    monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for k, v in backend_env.items():
        monkeypatch.setenv(k, v)
    registry.register(FakeCollector())
    yield
    registry.unregister(PLATFORM)


@pytest.fixture
def account(archive: Archive, server: ReplayServer) -> acc.Account:
    p = FakeSocial(window=("2020-01-01T00:00:00Z", "2030-01-01T00:00:00Z"))
    p.post("100", "Habari", "2026-11-30T09:00:00Z")
    p.serve(server)
    return acc.add_account(archive.appender, platform=PLATFORM, platform_id=ACCOUNT,
                           handle="wrenfield", base_url=server.url,
                           credentials={"token": TOKEN})


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = 0
    try:
        main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def records(archive: Archive) -> int:
    with archive.catalog.reader() as conn:
        return conn.execute(select(func.count()).select_from(t.records)).scalar_one()


def test_collect_once_prints_one_json_line_per_run(
        archive: Archive, account: acc.Account, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "collect", "--once", "--account", account.id, "--json")
    assert code == 0, err
    (line,) = out.strip().splitlines()
    run = json.loads(line)
    assert set(run) == {"account", "outcome", "events", "listed", "looked_up", "requests",
                        "error", "notes"}
    assert run["account"] == account.id and run["outcome"] == "ok"
    assert run["events"] == {"created": 1, "edited": 0, "deleted": 0, "hidden": 0,
                             "restored": 0, "observed": 0}
    assert run["listed"] == 1 and run["requests"] == 2 and run["error"] is None
    assert TOKEN not in out + err


def test_collect_once_runs_only_due_accounts(
        archive: Archive, account: acc.Account, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "collect", "--once", "--json")
    assert code == 0 and len(out.strip().splitlines()) == 1
    code, out, _ = cli(capsys, "collect", "--once", "--json")   # not due again yet
    assert code == 0 and out == ""


def test_collect_once_exits_1_when_a_run_failed(
        archive: Archive, account: acc.Account, server: ReplayServer,
        capsys: pytest.CaptureFixture[str]) -> None:
    server.route("GET", "/api/timeline", Reply(200, b"<html>Maintenance</html>",
                                               {"Content-Type": "text/html"}))
    code, out, err = cli(capsys, "collect", "--once", "--account", account.id, "--json")
    run = json.loads(out)
    assert code == 1 and run["outcome"] == "failed" and "HTML" in run["error"]
    assert "failed" in err                                    # the warning on stderr
    code, _, err = cli(capsys, "collect", "--once", "--account", "acc_ffffffffffffffff")
    assert code == 2 and "no account" in err


# -- import ----------------------------------------------------------------------------------

def _read_export(path: Path) -> Iterator[Observation]:
    """A fake platform's export: a JSON array of posts (a bad item raises half-way)."""
    for item in json.loads(path.read_text(encoding="utf-8")):
        if "id" not in item:
            raise InvalidRequest("an item without an id")
        yield Observation(platform=PLATFORM, account=item.get("account", "unknown"),
                          item_id=item["id"], kind="post", text=item["text"],
                          published_at=item["published"], raw=item)


@pytest.fixture
def export_reader() -> Iterator[None]:
    module = types.ModuleType(EXPORT_MODULE)
    module.__spec__ = importlib.machinery.ModuleSpec(EXPORT_MODULE, None)
    module.read_export = _read_export  # type: ignore[attr-defined]
    sys.modules[EXPORT_MODULE] = module
    yield
    del sys.modules[EXPORT_MODULE]


def write_export(tmp_path: Path, items: list[dict[str, Any]]) -> Path:
    path = tmp_path / "export.json"
    path.write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
    return path


ITEMS = [{"id": "9001", "text": "شهرداری: جلسه‌ی شورا", "published": "2019-05-01T08:00:00Z"},
         {"id": "9002", "text": "Seja občinskega sveta", "published": "2019-05-02T08:00:00Z"}]


def test_import_archives_every_item_as_observed_under_the_account(
        archive: Archive, account: acc.Account, export_reader: None, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    path = write_export(tmp_path, ITEMS)
    code, out, err = cli(capsys, "import", PLATFORM, str(path), "--account", account.id)
    assert code == 0, err
    summary = json.loads(out)
    assert summary["received"] == 2 and summary["archived"] == 2
    assert summary["events"]["observed"] == 2 and summary["events"]["created"] == 0
    with archive.catalog.reader() as conn:
        rows = conn.execute(select(t.items.c.item_id, t.items.c.account)
                            .where(t.items.c.platform == PLATFORM)).all()
    assert sorted(rows) == [("9001", ACCOUNT), ("9002", ACCOUNT)]
    code, out, _ = cli(capsys, "import", PLATFORM, str(path), "--account", account.id)
    assert code == 0 and json.loads(out)["archived"] == 0


def test_recent_items_of_an_import_are_observed_too(
        archive: Archive, export_reader: None, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    path = write_export(tmp_path, [{"id": "1", "text": "x", "published": now}])
    code, out, _ = cli(capsys, "import", PLATFORM, str(path))
    assert code == 0 and json.loads(out)["events"]["observed"] == 1


GOOD = json.dumps(ITEMS, ensure_ascii=False)[:-1]   # the good items, array left open


@pytest.mark.parametrize("content", [GOOD + ", not json]", GOOD + ', {"text": "no id"}]',
                                     "[]"], ids=["truncated", "bad-item-last", "empty"])
def test_a_bad_export_archives_nothing_and_exits_2(
        archive: Archive, export_reader: None, tmp_path: Path, content: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    before = records(archive)
    code, out, err = cli(capsys, "import", PLATFORM, str(path))
    assert code == 2 and out == "" and str(path) in err
    assert records(archive) == before


def test_import_refuses_unknown_platforms_missing_files_and_wrong_accounts(
        archive: Archive, account: acc.Account, export_reader: None, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    path = write_export(tmp_path, ITEMS)
    code, _, err = cli(capsys, "import", "myspace", str(path))
    assert code == 2 and "no export reader" in err
    code, _, err = cli(capsys, "import", PLATFORM, str(tmp_path / "missing.json"))
    assert code == 2
    other = acc.add_account(archive.appender, platform="x", platform_id="1", handle="h")
    code, _, err = cli(capsys, "import", PLATFORM, str(path), "--account", other.id)
    assert code == 2 and "x account" in err


# -- worker -----------------------------------------------------------------------------------

def test_worker_stops_gracefully_on_sigterm(archive: Archive,
                                            backend_env: dict[str, str]) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "archiver.cli", "worker",
                             "--max-sleep", "0.5"], env={**os.environ, **backend_env},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        ready, _, _ = io_select.select([proc.stderr], [], [], 120)
        started = proc.stderr.readline() if ready else ""
        assert "worker: started" in started, started
        time.sleep(1)                               # into its sleep between passes
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "worker stopped after 0 runs" in err
