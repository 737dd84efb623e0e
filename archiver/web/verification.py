""""Verify now" for auditors: `archiver verify` (verify_archive) in a background thread.

One verification at a time per process; each finished run is appended to
`$ARCHIVER_HOME/web/verify-runs.jsonl` (who asked, when, the report), so the result is
kept across restarts and seen by every worker on the host.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archiver.errors import Conflict
from archiver.log.verify import verify_archive
from archiver.times import format_time
from archiver.wiring import Archive

log = logging.getLogger("archiver.web")
KEEP = 50  # runs shown


def _now() -> str:
    return format_time(datetime.now(UTC))


class Verifications:
    """The verification runs of one archive: the one running here and the kept ones."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        self.path: Path = archive.settings.home / "web" / "verify-runs.jsonl"
        self._lock = threading.Lock()
        self._running: dict[str, Any] | None = None
        self._thread: threading.Thread | None = None

    def start(self, actor: str) -> dict[str, Any]:
        """Start a run; Conflict while one is running in this process."""
        with self._lock:
            if self._running is not None:
                raise Conflict(f"verification {self._running['id']} is still running")
            run = {"id": f"ver-{secrets.token_hex(6)}", "state": "running",
                   "started_by": actor, "started_at": _now(), "finished_at": None,
                   "report": None, "error": None}
            self._running = run
            self._thread = threading.Thread(target=self._run, args=(run,), daemon=True,
                                            name=f"verify {run['id']}")
            self._thread.start()
            return dict(run)

    def _run(self, run: dict[str, Any]) -> None:
        try:
            report = verify_archive(self.archive.appender)
            run.update(state="intact" if report.ok else "failed", report=report.as_dict())
        except Exception as exc:  # noqa: BLE001 - kept as the run's outcome, never lost
            log.exception("verification %s could not run", run["id"])
            run.update(state="error", error=f"{type(exc).__name__}: {exc}")
        run["finished_at"] = _now()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(run, ensure_ascii=False) + "\n")
        except OSError:
            log.exception("could not keep verification %s", run["id"])
        with self._lock:
            self._running = None

    def wait(self, timeout: float | None = None) -> None:
        """Until the running verification ends (tests, shutdown)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def runs(self) -> list[dict[str, Any]]:
        """The running one first, then the kept ones, newest first."""
        kept: list[dict[str, Any]] = []
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    kept.append(json.loads(line))
                except ValueError:
                    continue  # a line cut by a crash: the others stand
        with self._lock:
            running = [dict(self._running)] if self._running is not None else []
        return running + kept[::-1][:KEEP]
