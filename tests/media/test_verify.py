"""Tampering with media objects behind the archive's back (filesystem store): `archiver
verify` fails naming the object, and `archiver-verify store` (no keys: names only) fails
on a missing or extra blob. A flipped byte, a blob moved to another id, a blob replaced by
another file under its own key: each is caught by decryption and the record's sha256."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from archiver import verify_offline
from archiver.config import load_settings
from archiver.log.crypto import seal_blob
from archiver.wiring import init_archive, open_archive
from tests.media.conftest import blob, jpeg, observation, png, sha


@pytest.fixture
def home(fs_env: dict[str, str]) -> Iterator[Path]:
    archive, _ = init_archive(load_settings(env=fs_env), "media.test/log")
    a, b = png(), jpeg()
    archive.ingestor.ingest(
        [observation("1", media=[{"url": "a", "sha256": sha(a)}]),
         observation("2", media=[{"url": "a", "sha256": sha(a)}, {"url": "b",
                                                                  "sha256": sha(b)}])],
        media={sha(a): blob(a), sha(b): blob(b, "image/jpeg")})
    archive.close()
    yield Path(fs_env["ARCHIVER_HOME"])


def media_names(home: Path) -> list[str]:
    return sorted(f"media/{p.name}" for p in (home / "objects" / "media").iterdir())


def archiver_verify(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "archiver.cli", "verify", *args],
                          env={**os.environ, "ARCHIVER_HOME": str(home)},
                          capture_output=True, text=True, timeout=120)


def offline(home: Path, *, kek: bool = False) -> tuple[int, str]:
    """archiver-verify store, in process; with the archive's KEK file when `kek`."""
    archive = open_archive(load_settings(env={"ARCHIVER_HOME": str(home)}), recover=False)
    vkey = archive.appender.p.signer.vkey()
    kek_path = archive.settings.kek_path
    archive.close()
    keks = dict([verify_offline.parse_kek(kek_path.read_bytes(), str(kek_path))]) if kek else None
    out = io.StringIO()
    report = verify_offline.Report(out)
    verify_offline.verify_store(home / "objects", verify_offline.parse_vkey(vkey), report, keks)
    summary = report.summary()
    return (0 if summary["ok"] else 1), out.getvalue()


def fails(home: Path, name: str, reason: str, *args: str) -> None:
    result = archiver_verify(home, *args)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("FAIL ")]
    assert any(f"{name}: {reason}" in line for line in lines), result.stdout
    assert "Traceback" not in result.stderr


def test_the_untouched_archive_verifies_both_ways(home: Path) -> None:
    result = archiver_verify(home, "--json")
    assert result.returncode == 0, result.stdout
    assert json.loads(result.stdout)["media"] == 2
    code, out = offline(home)
    assert code == 0, out
    assert "OK media/: 2 media blob(s)" in out


def test_a_flipped_byte_in_a_media_object_fails_naming_it(home: Path) -> None:
    name = media_names(home)[0]
    path = home / "objects" / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    fails(home, name, "media object does not decrypt with its data key")


def test_a_deleted_media_object_fails_both_verifiers(home: Path) -> None:
    name = media_names(home)[0]
    (home / "objects" / name).unlink()
    fails(home, name, "media object missing; its key is in keys/", "--no-decrypt")
    code, out = offline(home)
    assert code == 1 and f"FAIL {name}: missing: keys/" in out


def test_an_extra_media_object_fails_both_verifiers(home: Path) -> None:
    name = media_names(home)[0]
    extra = "media/" + "0f" * 16
    (home / "objects" / extra).write_bytes((home / "objects" / name).read_bytes())
    fails(home, extra, "media object whose key is in no key object")
    code, out = offline(home)
    assert code == 1 and f"FAIL {extra}: no keys object holds a key for it" in out


def test_blobs_swapped_between_ids_do_not_decrypt(home: Path) -> None:
    a, b = (home / "objects" / n for n in media_names(home))
    data_a, data_b = a.read_bytes(), b.read_bytes()
    a.write_bytes(data_b)
    b.write_bytes(data_a)
    result = archiver_verify(home)
    assert result.returncode == 1
    assert "does not decrypt with its data key" in result.stdout


def test_another_file_sealed_under_the_right_key_fails_on_its_sha256(home: Path) -> None:
    # An insider with the KEK re-encrypts a different picture under the blob's own key:
    # it decrypts, but no longer hashes to what the records say.
    archive = open_archive(load_settings(env={"ARCHIVER_HOME": str(home)}), recover=False)
    name = media_names(home)[0]
    media_id = name.removeprefix("media/")
    keys = {}
    for key_object in archive.store.list("keys/"):
        keys.update(json.loads(archive.store.get(key_object))["keys"])
    data_key = archive.appender.p.kek.unwrap(media_id, keys[media_id])
    archive.close()
    (home / "objects" / name).write_bytes(seal_blob(data_key, media_id, png((1, 2, 3))))
    fails(home, name, "SHA-256 of the decrypted blob is " + sha(png((1, 2, 3))))


def test_a_record_naming_a_missing_object_is_reported_with_its_seq(home: Path) -> None:
    name = media_names(home)[0]
    (home / "objects" / name).unlink()
    result = archiver_verify(home, "--json")
    failures = json.loads(result.stdout)["failures"]
    named = [f for f in failures if f["where"] == name and f["seq"] is not None]
    assert named and "named by a record" in named[0]["reason"]


def test_a_blob_shredded_by_disposition_is_a_warning_an_unknown_keyless_one_a_failure(
        fs_env: dict[str, str]) -> None:
    from archiver.disposal import refresh_facts
    from archiver.log.shred import Destruction, destroy_in_catalog, purge_store_keys
    from archiver.log.verify import verify_archive

    archive, _ = init_archive(load_settings(env=fs_env), "media.test/log")
    try:
        data = png()
        seq = archive.ingestor.ingest([observation("1", media=[{"url": "a",
                                                                 "sha256": sha(data)}])],
                                      media={sha(data): blob(data)}).seqs[0]
        [name] = archive.store.list("media/")
        refresh_facts(archive.appender)
        with archive.appender.session() as ws:
            destroy_in_catalog(ws, [Destruction(seq, "p1", "S1", "test")], run_id="r1",
                               tombstone="bare", actor="test",
                               now="2026-12-02T00:00:00.000000Z")
        purge_store_keys(archive.appender, [seq])
        report = verify_archive(archive.appender)
        assert report.ok, report.failures
        assert any(w.startswith(f"{name}: data key destroyed") for w in report.warnings)
        extra = "media/" + "ab" * 16
        archive.store.put(extra, archive.store.get(name))
        report = verify_archive(archive.appender)
        assert [f.where for f in report.failures] == [extra]
    finally:
        archive.close()


def test_with_the_kek_the_offline_verifier_decrypts_every_record_and_blob(home: Path) -> None:
    code, out = offline(home, kek=True)
    assert code == 0, out
    assert "OK media/: 2 media blob(s) decrypted; each hashes to the sha256" in out
    assert "INFO store: 3 record(s) decrypted" in out


def test_with_the_kek_the_offline_verifier_fails_a_flipped_byte_in_a_blob(home: Path) -> None:
    name = media_names(home)[0]
    path = home / "objects" / name
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x80
    path.write_bytes(bytes(data))
    assert offline(home)[0] == 0  # without the KEK a blob's bytes cannot be checked
    code, out = offline(home, kek=True)
    assert code == 1 and f"FAIL {name}: does not decrypt under its data key" in out


def test_with_the_kek_the_offline_verifier_fails_another_file_under_the_right_key(
        home: Path) -> None:
    archive = open_archive(load_settings(env={"ARCHIVER_HOME": str(home)}), recover=False)
    name = media_names(home)[0]
    media_id = name.removeprefix("media/")
    keys = {}
    for key_object in archive.store.list("keys/"):
        keys.update(json.loads(archive.store.get(key_object))["keys"])
    data_key = archive.appender.p.kek.unwrap(media_id, keys[media_id])
    archive.close()
    (home / "objects" / name).write_bytes(seal_blob(data_key, media_id, png((1, 2, 3))))
    code, out = offline(home, kek=True)
    assert code == 1
    assert f"FAIL {name}: SHA-256 of the decrypted blob is {sha(png((1, 2, 3)))}" in out


def test_a_kek_of_the_right_id_but_the_wrong_key_fails_every_unwrap(
        home: Path, tmp_path: Path) -> None:
    kek_path = home / "keys" / "kek.json"
    doc = json.loads(kek_path.read_text())
    doc["key"] = base64.b64encode(bytes(32)).decode()
    wrong = tmp_path / "wrong-kek.json"
    wrong.write_text(json.dumps(doc))
    vkey = tmp_path / "vkey.txt"
    archive = open_archive(load_settings(env={"ARCHIVER_HOME": str(home)}), recover=False)
    vkey.write_text(archive.appender.p.signer.vkey() + "\n")
    archive.close()
    result = subprocess.run([sys.executable, "-m", "archiver.verify_offline", "store",
                             str(home / "objects"), "--vkey", str(vkey), "--kek", str(wrong)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "does not unwrap under KEK" in result.stdout
