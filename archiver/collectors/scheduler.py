"""When each account is collected: `archiver collect --once` and `archiver worker`.

An active account is due when it has never run, or its last run finished at least its
interval ago; a rate-limited run sets `retry_at`, and the account is not due before it.
Paused and removed accounts are skipped. The worker loops over due accounts, runs the
search catch-up after each collection (as `archiver ingest` does), sleeps until the next
account is due (at most `max_sleep`), and stops between runs on SIGTERM or SIGINT.
Accounts with the option `stream=true` are also followed in real time (streams.py):
their streams are started, and stopped for accounts paused or removed, on every pass.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from archiver.collectors.accounts import Account, list_accounts
from archiver.collectors.runner import collect_account
from archiver.collectors.runs import RunResult, RunRow, adopt_missing_runs, last_run
from archiver.collectors.streams import Streams, StreamSettings
from archiver.times import parse_time
from archiver.wiring import Archive

log = logging.getLogger("archiver.collectors")


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Due:
    account: Account
    at: datetime  # when it is (or was) due


def next_due(account: Account, last: RunRow | None) -> datetime:
    """When `account` should next be collected, from its last recorded run."""
    if last is None:
        return parse_time(account.created_at)
    if last.outcome == "rate_limited" and last.retry_at:
        return parse_time(last.retry_at)  # the platform said when; not before, not later
    return parse_time(last.finished_at) + timedelta(seconds=account.interval_seconds)


def schedule(archive: Archive) -> list[Due]:
    """Every active account with the time it is due, soonest first."""
    out = []
    accounts = list_accounts(archive.catalog, status="active")
    with archive.catalog.reader() as conn:
        for a in accounts:
            out.append(Due(a, next_due(a, last_run(conn, a.id))))
    return sorted(out, key=lambda d: (d.at, d.account.id))


def due_accounts(archive: Archive, now: datetime | None = None) -> list[Account]:
    moment = now or _now()
    return [d.account for d in schedule(archive) if d.at <= moment]


def run_due(archive: Archive, *, actor: str, after_each: Callable[[RunResult], None]
            | None = None, stop: threading.Event | None = None,
            clock: Callable[[], datetime] = _now) -> Iterator[RunResult]:
    """Collect every account due now, one after the other (stopping early on `stop`)."""
    for account in due_accounts(archive, clock()):
        if stop is not None and stop.is_set():
            return
        result = collect_account(archive, account.id, actor=actor, clock=clock)
        if after_each is not None:
            after_each(result)
        yield result


def worker(archive: Archive, *, after_each: Callable[[RunResult], None] | None = None,
           max_sleep: float = 30.0, stop: threading.Event | None = None,
           install_signals: bool = True, clock: Callable[[], datetime] = _now,
           streams: bool = True, stream_settings: StreamSettings | None = None,
           after_streamed: Callable[[], None] | None = None) -> int:
    """Loop until stopped; returns the number of runs made. SIGTERM ends it gracefully:
    the run under way finishes and is recorded, the streams flush what they hold, then
    the loop exits. `after_streamed` runs on the worker's thread after a pass in which
    streams archived something (the search catch-up)."""
    stop = stop or threading.Event()
    streamed = threading.Event()
    followed = (Streams(archive, stream_settings, on_flush=lambda n: streamed.set())
                if streams else None)
    if install_signals:
        def _handler(signum: int, _frame: Any) -> None:
            log.info("worker: signal %d, stopping after the current run", signum)
            stop.set()
        signal.signal(signal.SIGTERM, _handler)
        signal.signal(signal.SIGINT, _handler)
    try:
        adopted = adopt_missing_runs(archive.appender)
        if adopted:
            log.warning("worker: %d run records were in the log but not the catalog "
                        "(a crash); their rows are restored", adopted)
    except Exception:  # noqa: BLE001 - a catalog outage shows in the loop below
        log.exception("worker: could not check the run records")
    log.info("worker: started (SIGTERM stops it after the run under way)")
    runs = 0
    try:
        while not stop.is_set():
            try:
                if followed is not None:
                    followed.sync()
                for _ in run_due(archive, actor="archiver worker", after_each=after_each,
                                 stop=stop, clock=clock):
                    runs += 1
                plan = schedule(archive)
            except Exception:  # noqa: BLE001 - the catalog/store down: log, wait, retry
                log.exception("worker: a scheduling pass failed; retrying")
                plan = []
            if streamed.is_set() and after_streamed is not None:
                streamed.clear()
                after_streamed()
            wait = max_sleep
            if plan:
                wait = min(max_sleep, max(0.5, (plan[0].at - clock()).total_seconds()))
            stop.wait(wait)
    finally:
        if followed is not None:
            followed.stop()
    return runs
