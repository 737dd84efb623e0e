"""The alert worker: evaluation and delivery off the writer's path.

`notify(archive)` is what the collectors' runner and the ingest API call after a turn: it
costs one small catalog read when no rule is active, otherwise it wakes a daemon thread
(one per archive object) that evaluates and delivers. `run_once` does the same in the
caller's thread (the CLI, tests)."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from archiver.alerts.deliver import deliver
from archiver.alerts.evaluate import Raised, evaluate, record_deliveries
from archiver.alerts.store import has_active_rules
from archiver.errors import ArchiveError
from archiver.wiring import Archive

log = logging.getLogger(__name__)


def run_once(archive: Archive, sleep: Callable[[float], None] = time.sleep) -> list[Raised]:
    """Evaluate and deliver what is new; the alerts raised."""
    raised = evaluate(archive)
    for a in raised:
        outcome = deliver(archive.settings.alerts, a.id, a.kind, a.subject, a.details,
                          a.channels, sleep=sleep)
        record_deliveries(archive, a.id, outcome)
    return raised


class AlertWorker:
    """One thread evaluating whenever it is woken; wake-ups while it runs fold into one."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        self._wake: queue.Queue[bool] = queue.Queue()
        self._idle = threading.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._loop, name="alerts", daemon=True)
        self._thread.start()

    def kick(self) -> None:
        self._idle.clear()
        self._wake.put(True)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        return self._idle.wait(timeout)

    def stop(self) -> None:
        self._wake.put(False)
        self._thread.join(10)

    def _loop(self) -> None:
        while True:
            go = self._wake.get()
            while not self._wake.empty():  # fold queued wake-ups
                go = self._wake.get() and go
            if not go:
                return
            try:
                run_once(self.archive)
            except ArchiveError as exc:
                log.warning("alert evaluation failed: %s", exc)
            except Exception:  # noqa: BLE001 - the worker outlives one bad turn
                log.exception("alert evaluation failed unexpectedly")
            if self._wake.empty():
                self._idle.set()


_WORKERS: dict[int, tuple[Any, AlertWorker]] = {}
_LOCK = threading.Lock()


def worker_for(archive: Archive) -> AlertWorker:
    with _LOCK:
        entry = _WORKERS.get(id(archive))
        if entry is None or entry[0] is not archive:
            entry = (archive, AlertWorker(archive))
            _WORKERS[id(archive)] = entry
        return entry[1]


def notify(archive: Archive) -> None:
    """After an ingest turn: wake the worker when some rule is active. Never raises: an
    alert problem must not fail the collection or the ingest that called it."""
    try:
        if has_active_rules(archive):
            worker_for(archive).kick()
    except Exception:  # noqa: BLE001
        log.exception("could not start alert evaluation")
