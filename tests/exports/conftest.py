"""Exports under test: a thread in four scripts (a Persian post with a PNG, edited; a Swahili
comment; a Slovenian comment the account hid; an English reply deleted on the platform),
archived and indexed on the two ends of the backend matrix."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from archiver.exports.bag import ExportOptions
from archiver.exports.jobs import create_export, run_export
from archiver.exports.scope import ExportScope
from archiver.records import parse_observation
from archiver.search.engines import open_index
from archiver.wiring import Archive
from tests.api.conftest import app, client, tokens  # noqa: F401 - the API suite's fixtures
from tests.fixtures.backends import backend_env_for
from tests.media.conftest import blob, png

EXPORT_BACKENDS = [("filesystem", "sqlite"), ("s3", "postgres")]
PERSIAN = "هشدار سیل: آب رودخانه\u200cی رِن امشب بالا می\u200cآید https://wrenfield.example/سیل"
PERSIAN_EDIT = "هشدار سیل: آب رودخانه\u200cی رِن فردا صبح بالا می\u200cآید"
SWAHILI = "Habari za asubuhi! Mafuriko yamefika Mtaa wa Kinu; tunahitaji mifuko ya mchanga."
SLOVENIAN = "Opozorilo pred poplavami: čoln, šola in žerjav so že pripravljeni."
ENGLISH = "Line one of a reply\nline two, deleted later"
IMAGE = png((20, 120, 200), 8, 8)
POST = ("mastodon", "p1")


def _obs(item: str, text: str | None, at: str, **extra: Any) -> Any:
    doc = {"platform": "mastodon", "account": "42", "item_id": item, "kind": "post",
           "text": text, "observed_at": at, "published_at": "2026-11-20T08:00:00Z",
           "author": {"id": "42", "handle": "wrenfield", "name": "شهر رن · City of Wrenfield"},
           "url": f"https://social.example/@wrenfield/{item}", **extra}
    return parse_observation({k: v for k, v in doc.items() if v is not None},
                             max_text_bytes=100_000)


def load_thread(archive: Archive) -> Archive:
    image = blob(IMAGE)
    media = [{"sha256": image.sha256, "mime": "image/png", "url": "https://files.example/flood.png",
              "alt": "نقشه‌ی سیل"}]
    reply = {"kind": "comment", "parent_id": "p1"}
    batches = [
        [_obs("p1", PERSIAN, "2026-11-20T09:00:00Z", media=media, lang="fa"),
         _obs("c1", SWAHILI, "2026-11-20T09:05:00Z", lang="sw", **reply),
         _obs("c2", SLOVENIAN, "2026-11-20T09:06:00Z", lang="sl", **reply),
         _obs("c3", ENGLISH, "2026-11-20T09:07:00Z", lang="en", kind="reply",
              parent_id="p1")],
        [_obs("p1", PERSIAN_EDIT, "2026-11-20T10:00:00Z", media=media, lang="fa"),
         _obs("c2", SLOVENIAN, "2026-11-20T10:00:00Z", lang="sl", event="hidden", **reply),
         _obs("c3", ENGLISH, "2026-11-20T10:00:00Z", lang="en", kind="reply",
              parent_id="p1", event="deleted")],
    ]
    for batch in batches:
        archive.ingestor.ingest(batch, media={image.sha256: image})
    index = open_index(archive.settings)
    try:
        index.catch_up(archive.appender)
    finally:
        index.close()
    return archive


@pytest.fixture(params=EXPORT_BACKENDS, ids=[f"{s}-{c}" for s, c in EXPORT_BACKENDS])
def backend_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    return backend_env_for(request, tmp_path)


@pytest.fixture
def thread(archive: Archive) -> Archive:
    return load_thread(archive)


def export(archive: Archive, out: Path, scope: ExportScope | None = None,
           **options: Any) -> dict[str, Any]:
    """Export (default: the thread's post with its comments) to `out`; the job's summary."""
    job = create_export(archive, scope or ExportScope(items=(POST,)),
                        ExportOptions(**options), "counsel@city")
    return run_export(archive, job.id, out).as_dict()


@pytest.fixture
def package(thread: Archive, tmp_path: Path) -> Path:
    out = tmp_path / "package.zip"
    export(thread, out)
    return out


class Bag:
    """A package opened for reading: members by their path inside the bag."""

    def __init__(self, path: Path) -> None:
        self.zip = zipfile.ZipFile(path)
        names = self.zip.namelist()
        self.top = names[0].split("/", 1)[0]
        self.names = sorted(n.split("/", 1)[1] for n in names)

    def read(self, rel: str) -> bytes:
        return self.zip.read(f"{self.top}/{rel}")

    def json(self, rel: str) -> Any:
        return json.loads(self.read(rel))

    def under(self, prefix: str) -> list[str]:
        return [n for n in self.names if n.startswith(prefix)]

    def records(self) -> list[dict[str, Any]]:
        return [self.json(n) for n in self.under("data/records/")]


def run_cli(home: str, *args: str) -> Any:
    from archiver.cli import cli

    return CliRunner().invoke(cli, ["--home", home, *args], catch_exceptions=False)


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()
