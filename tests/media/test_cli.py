"""The command line over an archive with media: `archiver show` prints the media
references, `archiver rebuild` (catalog deleted) gives back the media table and files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from archiver.catalog import schema as t
from archiver.config import load_settings
from archiver.log.reader import read_media
from archiver.wiring import init_archive, open_archive
from tests.media.conftest import blob, jpeg, observation, png, sha


def archiver(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "archiver.cli", *args],
                          env={**os.environ, "ARCHIVER_HOME": str(home)},
                          capture_output=True, text=True, timeout=120)


def test_show_prints_the_media_references_and_rebuild_gives_the_media_table_back(
        fs_env: dict[str, str]) -> None:
    home = Path(fs_env["ARCHIVER_HOME"])
    archive, _ = init_archive(load_settings(env=fs_env), "media.test/log")
    a, b = png(), jpeg()
    seq = archive.ingestor.ingest(
        [observation("1", media=[{"id": "1", "url": "a", "sha256": sha(a)},
                                 {"id": "2", "url": "b", "sha256": sha(b)}])],
        media={sha(a): blob(a), sha(b): blob(b, "image/jpeg")}).seqs[0]
    with archive.catalog.reader() as conn:
        before = sorted(conn.execute(select(t.media)).all())
    archive.close()

    shown = archiver(home, "show", str(seq))
    assert shown.returncode == 0, shown.stderr
    media = json.loads(shown.stdout)["payload"]["media"]
    ids = {row.mime: row.id for row in before}
    assert [(m["sha256"], m["mime"], m["object"]) for m in media] == [
        (sha(a), "image/png", f"media/{ids['image/png']}"),
        (sha(b), "image/jpeg", f"media/{ids['image/jpeg']}")]

    (home / "catalog.sqlite").unlink()
    rebuilt = archiver(home, "rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr
    reopened = open_archive(load_settings(env=fs_env), recover=False)
    try:
        with reopened.catalog.reader() as conn:
            assert sorted(conn.execute(select(t.media)).all()) == before
        assert {read_media(reopened.appender, row.id).data for row in before} == {a, b}
    finally:
        reopened.close()
    assert archiver(home, "verify").returncode == 0
