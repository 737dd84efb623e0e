"""Export jobs: the catalog's `exports` table (migration 0007), runs in the background,
status with progress, and download expiry.

An export is asked for (`export.created`, a `system` record in the log, names who, the
scope and the options), runs (in the API process's export thread, or in the foreground for
`archiver export`), and ends `done` (`export.completed` records the package's SHA-256,
size, counts and checkpoint) or `failed` (`export.failed`). The package can be downloaded
until `expires_at`; after that it is deleted and a download answers 410. A job whose
process died stays `running` in the table; it is shown as `interrupted` once it has not
moved for STALE_AFTER, and its package never existed (bag.py writes it atomically).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import queue
import secrets
import shutil
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, Text, select

from archiver.errors import ArchiveError, Conflict, Gone, InvalidRequest, NotFound
from archiver.exports import bag
from archiver.exports.scope import ExportScope, check, resolve
from archiver.wiring import Archive

log = logging.getLogger("archiver.exports")

# The catalog's own table (never touched by `archiver rebuild`): defined here, beside its
# only user; migration 0007 creates it.
metadata = MetaData()
exports = Table(
    "exports",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("state", String(16), nullable=False),  # queued | running | done | failed
    Column("requested_by", String(256), nullable=False),
    Column("requested_at", String(32), nullable=False),
    Column("scope", Text, nullable=False),  # JSON: ExportScope.as_dict()
    Column("options", Text, nullable=False),  # JSON: ExportOptions.as_dict()
    Column("download_hours", Integer, nullable=False),
    Column("done", BigInteger, nullable=False),
    Column("total", BigInteger, nullable=False),
    Column("updated_at", String(32), nullable=False),
    Column("finished_at", String(32)),
    Column("expires_at", String(32)),
    Column("path", Text),
    Column("sha256", String(64)),
    Column("bytes", BigInteger),
    Column("summary", Text),  # JSON: counts and notes of the chain of custody
    Column("error", Text),
    Column("created_seq", BigInteger, nullable=False),
    Column("completed_seq", BigInteger),
    Column("downloads", Integer, nullable=False),
)

DEFAULT_DOWNLOAD_HOURS = 168
MAX_DOWNLOAD_HOURS = 24 * 366
STALE_AFTER = timedelta(minutes=15)


def _now() -> datetime:
    return datetime.now(UTC)


def _text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def exports_dir(archive: Archive) -> Path:
    return archive.settings.home / "exports"


@dataclass(frozen=True)
class ExportJob:
    """A row of `exports`, as callers see it."""

    id: str
    state: str  # queued | running | done | failed | interrupted | expired
    requested_by: str
    requested_at: str
    scope: dict[str, Any]
    options: dict[str, Any]
    done: int
    total: int
    finished_at: str | None
    expires_at: str | None
    sha256: str | None
    bytes: int | None
    summary: dict[str, Any] | None
    error: str | None
    created_seq: int
    completed_seq: int | None
    downloads: int
    path: str | None

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out.pop("path")
        return out


def _job(row: Any, now: datetime) -> ExportJob:
    state = row.state
    if state in ("queued", "running") and \
            datetime.fromisoformat(row.updated_at) < now - STALE_AFTER:
        state = "interrupted"
    if state == "done" and row.expires_at and datetime.fromisoformat(row.expires_at) <= now:
        state = "expired"
    return ExportJob(row.id, state, row.requested_by, row.requested_at, json.loads(row.scope),
                     json.loads(row.options), row.done, row.total, row.finished_at,
                     row.expires_at, row.sha256, row.bytes,
                     json.loads(row.summary) if row.summary else None, row.error,
                     row.created_seq, row.completed_seq, row.downloads, row.path)


def create_export(archive: Archive, scope: ExportScope, options: bag.ExportOptions,
                  actor: str, *, download_hours: int = DEFAULT_DOWNLOAD_HOURS) -> ExportJob:
    """Record the request (`export.created`) and a queued job; NotFound for an unknown hold,
    InvalidRequest for a search that does not parse. Nothing else runs: `run_export` (or
    an `ExportRunner`) builds the package."""
    if not 1 <= download_hours <= MAX_DOWNLOAD_HOURS:
        raise InvalidRequest(f"download_hours must be from 1 to {MAX_DOWNLOAD_HOURS}")
    check(archive, scope)
    export_id = "exp-" + secrets.token_hex(8)
    now = _text(_now())
    seq = archive.appender.append_system("export.created", actor, {
        "export_id": export_id, "scope": scope.as_dict(), "options": options.as_dict(),
        "download_hours": download_hours})
    with archive.catalog.writer() as conn:
        conn.execute(exports.insert().values(
            id=export_id, state="queued", requested_by=actor, requested_at=now,
            scope=json.dumps(scope.as_dict(), ensure_ascii=False),
            options=json.dumps(options.as_dict(), ensure_ascii=False),
            download_hours=download_hours, done=0, total=0, updated_at=now, created_seq=seq,
            downloads=0))
    return get_export(archive, export_id)


def get_export(archive: Archive, export_id: str) -> ExportJob:
    with archive.catalog.reader() as conn:
        row = conn.execute(select(exports).where(exports.c.id == export_id)).first()
    if row is None:
        raise NotFound(f"no export {export_id!r}")
    return _job(row, _now())


def _update(archive: Archive, export_id: str, **values: Any) -> None:
    values["updated_at"] = _text(_now())
    with archive.catalog.writer() as conn:
        conn.execute(exports.update().where(exports.c.id == export_id).values(**values))


def run_export(archive: Archive, export_id: str, out: Path | None = None,
               timings: bag.Timings | None = None) -> ExportJob:
    """Build the package of a queued export (to `out`, default the exports directory);
    a failure marks the job failed (`export.failed`) and is raised again."""
    job = get_export(archive, export_id)
    if job.state != "queued":
        raise Conflict(f"export {export_id} is {job.state}, not queued")
    _update(archive, export_id, state="running")
    _sweep_interrupted(archive)
    req = bag.ExportRequest(job.id, ExportScope.from_dict(job.scope), job.requested_by,
                            job.requested_at, _options(job.options))
    out = out or exports_dir(archive) / f"{export_id}.zip"

    def progress(done: int, total: int) -> None:
        _update(archive, export_id, done=done, total=total)

    try:
        resolved = resolve(archive, req.scope)
        summary = bag.build(archive, req, resolved, out, progress, timings)
    except BaseException as exc:
        reason = str(exc) if isinstance(exc, ArchiveError) else "internal error"
        if not isinstance(exc, ArchiveError):
            log.exception("export %s failed", export_id)
        try:
            seq = archive.appender.append_system("export.failed", job.requested_by,
                                                 {"export_id": export_id, "error": reason})
            _update(archive, export_id, state="failed", error=reason, completed_seq=seq,
                    finished_at=_text(_now()))
        except Exception:  # noqa: BLE001 - the first failure is the one to report
            log.exception("could not record the failure of export %s", export_id)
        raise
    digest = hashlib.sha256()
    with open(out, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    size = out.stat().st_size
    finished = _now()
    seq = archive.appender.append_system("export.completed", job.requested_by, {
        "export_id": export_id, "sha256": digest.hexdigest(), "bytes": size,
        "counts": summary["counts"], "checkpoint_size": summary["checkpoint"]["size"]})
    _update(archive, export_id, state="done", path=str(out), sha256=digest.hexdigest(),
            bytes=size, completed_seq=seq, finished_at=_text(finished),
            expires_at=_text(finished + timedelta(hours=_hours(archive, export_id))),
            summary=json.dumps({"counts": summary["counts"], "notes": summary["notes"],
                                "checkpoint": summary["checkpoint"]}, ensure_ascii=False))
    return get_export(archive, export_id)


def _sweep_interrupted(archive: Archive) -> None:
    """Remove what killed exports left: their staging directories and half-written zips
    (neither ever looks like a package; this only frees the disk)."""
    cutoff = _text(_now() - STALE_AFTER)
    with archive.catalog.reader() as conn:
        stale = conn.execute(select(exports.c.id).where(
            exports.c.state.in_(("queued", "running")), exports.c.updated_at < cutoff)).all()
    for row in stale:
        shutil.rmtree(exports_dir(archive) / "staging" / row.id, ignore_errors=True)
        (exports_dir(archive) / f"{row.id}.zip.partial").unlink(missing_ok=True)


def _hours(archive: Archive, export_id: str) -> int:
    with archive.catalog.reader() as conn:
        return conn.execute(select(exports.c.download_hours)
                            .where(exports.c.id == export_id)).scalar_one()


def _options(doc: dict[str, Any]) -> bag.ExportOptions:
    from archiver.exports.loadfile import Delimiters

    return bag.ExportOptions(encoding=doc["encoding"], prefix=doc["prefix"], pdf=doc["pdf"],
                             delimiters=Delimiters(**doc["delimiters"]))


class ExportRunner:
    """One background thread per API process that runs queued exports one at a time, so
    exports never take more than one core from the web workers."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        self._queue: queue.Queue[str] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, export_id: str) -> None:
        self._queue.put(export_id)
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="exports",
                                                daemon=True)
                self._thread.start()

    def _work(self) -> None:
        while True:
            export_id = self._queue.get()
            with contextlib.suppress(Exception):  # recorded on the job by run_export
                run_export(self.archive, export_id)
            self._queue.task_done()

    def wait(self) -> None:
        """Until every submitted export has finished (tests, shutdown)."""
        self._queue.join()


def download(archive: Archive, export_id: str) -> tuple[ExportJob, Path]:
    """The package of a finished export; Conflict while it runs or after it failed, Gone
    (410) once its download expired (the file is then deleted)."""
    job = get_export(archive, export_id)
    if job.state == "expired":
        if job.path:
            Path(job.path).unlink(missing_ok=True)
        raise Gone(f"the download of export {export_id} expired at {job.expires_at}")
    if job.state != "done" or not job.path:
        raise Conflict(f"export {export_id} is {job.state}: there is nothing to download")
    path = Path(job.path)
    if not path.is_file():
        raise Gone(f"the package of export {export_id} is no longer on this server")
    with archive.catalog.writer() as conn:
        conn.execute(exports.update().where(exports.c.id == export_id)
                     .values(downloads=exports.c.downloads + 1))
    return job, path
