"""The log holds the archive's legal history: system records, KEK rotation, checkpoint chain."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable

import pytest
from sqlalchemy import select, update

from archiver.catalog import schema as t
from archiver.config import load_settings
from archiver.errors import KeyUnavailable
from archiver.log.crypto import LocalKek
from archiver.log.reader import read_record, system_records
from archiver.log.rotation import rotate_kek
from archiver.log.segments import decode_keys
from archiver.log.verify import verify_archive
from archiver.wiring import Archive, open_archive
from tests.test_log_contract import ingest, obs


def key_objects(archive: Archive) -> list[str]:
    return archive.store.list("keys/")


def test_every_archive_begins_with_an_init_system_record(archive: Archive) -> None:
    first = read_record(archive.appender, 0)
    assert first.envelope.type == "system"
    assert first.payload["action"] == "archive.init"
    assert first.payload["details"]["vkey"] == archive.appender.p.signer.vkey()


def test_rotation_rewraps_every_key_and_records_it(archive: Archive) -> None:
    ingest(archive, [obs(str(i)) for i in range(30)])
    old_id = archive.appender.p.kek.kek_id
    result = rotate_kek(archive.appender, archive.settings.kek_path, "test")
    assert result.old_kek == old_id and result.keys == 31
    for name in key_objects(archive):
        assert decode_keys(archive.store.get(name), where=name).kek == result.new_kek
    with archive.catalog.reader() as conn:
        assert {r.kek for r in conn.execute(select(t.data_keys.c.kek))} == {result.new_kek}
    report = verify_archive(archive.appender)
    assert report.ok and report.decrypted == report.records
    record = read_record(archive.appender, result.seq)
    assert record.payload["action"] == "kek.rotated"
    assert record.payload["details"]["from"] == old_id
    assert record.payload["details"]["to"] == result.new_kek


def test_after_rotation_the_old_kek_unwraps_nothing_on_the_store(archive: Archive) -> None:
    ingest(archive, [obs("1")])
    result = rotate_kek(archive.appender, archive.settings.kek_path, "test")
    old = LocalKek.load(archive.settings.kek_path.parent / "retired" / f"{result.old_kek}.json")
    for name in key_objects(archive):
        doc = decode_keys(archive.store.get(name), where=name)
        for kid, wrapped in doc.keys.items():
            with pytest.raises(KeyUnavailable):
                old.unwrap(kid, wrapped)


@pytest.mark.parametrize("backend_env", [("s3", "sqlite")], indirect=True, ids=["s3-sqlite"])
def test_rotation_purges_the_superseded_versions_of_key_objects(
        archive: Archive, backend_env: dict[str, str], seaweed) -> None:
    ingest(archive, [obs("1")])
    rotate_kek(archive.appender, archive.settings.kek_path, "test")
    client = seaweed.client()
    bucket, prefix = backend_env["ARCHIVER_STORE_BUCKET"], backend_env["ARCHIVER_STORE_PREFIX"]
    versions = client.list_object_versions(Bucket=bucket, Prefix=f"{prefix}/keys/")
    per_key: dict[str, int] = {}
    for v in versions.get("Versions", []):
        per_key[v["Key"]] = per_key.get(v["Key"], 0) + 1
    assert per_key and set(per_key.values()) == {1}, per_key


CRASH_MID_ROTATION = textwrap.dedent("""
    import os
    from archiver.config import load_settings
    from archiver.log.rotation import rotate_kek
    from archiver.wiring import open_archive
    archive = open_archive(load_settings())
    real = archive.store.replace
    calls = []
    def replace(key, data):
        real(key, data)
        calls.append(key)
        if len(calls) == 2:
            os._exit(137)
    archive.store.replace = replace
    rotate_kek(archive.appender, archive.settings.kek_path, "crash test")
""")


def test_an_interrupted_rotation_loses_nothing_and_finishes_when_run_again(
        make_archive: Callable[..., Archive], backend_env: dict[str, str]) -> None:
    archive = make_archive(ARCHIVER_LOG_SEGMENT_MAX_RECORDS="5")
    ingest(archive, [obs(str(i)) for i in range(20)])
    archive.close()
    child = subprocess.run([sys.executable, "-c", CRASH_MID_ROTATION],
                           env={**os.environ, **backend_env}, capture_output=True, text=True,
                           timeout=120)
    assert child.returncode == 137, child.stderr
    reopened = open_archive(load_settings(env=backend_env))
    try:
        kinds = {decode_keys(reopened.store.get(n), where=n).kek for n in key_objects(reopened)}
        assert len(kinds) == 2  # half-rotated
        assert verify_archive(reopened.appender).ok  # yet every record decrypts
        result = rotate_kek(reopened.appender, reopened.settings.kek_path, "finish")
        kinds = {decode_keys(reopened.store.get(n), where=n).kek for n in key_objects(reopened)}
        assert kinds == {result.new_kek}
        assert verify_archive(reopened.appender).ok
    finally:
        reopened.close()


def test_system_records_are_listed_in_order_and_filtered_by_time(archive: Archive) -> None:
    archive.appender.append_system("policy.created", "alice", {"name": "GRS 6.4"})
    ingest(archive, [obs("1")])
    archive.appender.append_system("hold.placed", "bob", {"matter": "Flood 2024"})
    actions = [r.payload["action"] for r in system_records(archive.appender)]
    assert actions == ["archive.init", "policy.created", "hold.placed"]
    last_time = list(system_records(archive.appender))[-1].envelope.time
    assert [r.payload["action"] for r in system_records(archive.appender, since=last_time)] == [
        "hold.placed"]


def test_audit_log_cli_prints_decrypted_system_records(tmp_path) -> None:
    env = {**os.environ, "ARCHIVER_HOME": str(tmp_path / "h")}
    run = lambda *a: subprocess.run([sys.executable, "-m", "archiver.cli", *a], env=env,  # noqa: E731
                                    capture_output=True, text=True, timeout=60)
    assert run("init").returncode == 0
    lines = [json.loads(x) for x in run("audit-log").stdout.splitlines()]
    assert [x["action"] for x in lines] == ["archive.init"]
    bad = run("audit-log", "--since", "last tuesday")
    assert bad.returncode == 2 and "--since" in bad.stderr


def test_verify_fails_when_consecutive_checkpoints_cannot_be_proved_consistent(
        archive: Archive) -> None:
    ingest(archive, [obs("1")])
    ingest(archive, [obs("2")])
    with archive.catalog.writer() as conn:
        conn.execute(update(t.tree_hashes).where(t.tree_hashes.c.idx == 1)  # leaf 1: in 1->2
                     .values(hash=b"\x00" * 32))
    report = verify_archive(archive.appender)
    assert not report.ok
    assert any("not consistent" in f.reason for f in report.failures)


CRASH_BEFORE_SWAP = textwrap.dedent("""
    import os
    from archiver.config import load_settings
    from archiver.log import rotation
    from archiver.wiring import open_archive
    archive = open_archive(load_settings())
    real = archive.appender.append_system

    def logged_then_die(*a, **k):  # die after kek.rotated, before the KEK files swap
        real(*a, **k)
        os._exit(137)

    archive.appender.append_system = logged_then_die
    rotation.rotate_kek(archive.appender, archive.settings.kek_path, "crash test")
""")


def test_a_crash_before_the_kek_files_swap_leaves_a_working_archive(
        make_archive: Callable[..., Archive], backend_env: dict[str, str]) -> None:
    archive = make_archive()
    ingest(archive, [obs(str(i)) for i in range(5)])
    kek_path = archive.settings.kek_path
    archive.close()
    child = subprocess.run([sys.executable, "-c", CRASH_BEFORE_SWAP],
                           env={**os.environ, **backend_env}, capture_output=True, text=True,
                           timeout=120)
    assert child.returncode == 137, child.stderr
    assert kek_path.exists() and kek_path.with_name("kek.next.json").exists()
    reopened = open_archive(load_settings(env=backend_env))
    try:
        assert verify_archive(reopened.appender).ok
        ingest(reopened, [obs("after")])
        result = rotate_kek(reopened.appender, kek_path, "finish")
        assert not kek_path.with_name("kek.next.json").exists()
        assert verify_archive(reopened.appender).ok
        actions = [r.payload["action"] for r in system_records(reopened.appender)]
        assert actions.count("kek.rotated") == 2  # the interrupted one was logged too
        assert result.new_kek == reopened.appender.p.kek.kek_id
    finally:
        reopened.close()


CRASH_IN_INIT = textwrap.dedent("""
    import os
    from archiver.config import load_settings
    from archiver.log.appender import Appender
    from archiver.wiring import init_archive
    Appender.append_system = lambda *a, **k: os._exit(137)  # keys exist, record 0 not yet
    init_archive(load_settings(), "crash.test/log")
""")


def test_init_interrupted_before_its_first_record_is_finished_by_running_it_again(
        tmp_path) -> None:
    env = {**os.environ, "ARCHIVER_HOME": str(tmp_path / "h")}
    child = subprocess.run([sys.executable, "-c", CRASH_IN_INIT], env=env, capture_output=True,
                           text=True, timeout=60)
    assert child.returncode == 137, child.stderr
    again = subprocess.run([sys.executable, "-m", "archiver.cli", "init"], env=env,
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "initialised archive" in again.stdout, again.stderr
    reopened = open_archive(load_settings(env=env))
    try:
        assert read_record(reopened.appender, 0).payload["action"] == "archive.init"
        assert verify_archive(reopened.appender).ok
    finally:
        reopened.close()
