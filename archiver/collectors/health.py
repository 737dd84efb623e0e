"""Is each account being watched? Gaps, last runs and alerts, for the API and /metrics.

A gap is an account that has gone longer than its interval plus a grace period since
its last successful run (or, never having succeeded, since it was registered): for that
stretch the archive cannot say what happened on the account. A paused account keeps
accruing its gap (that is the point of reporting it); a removed one has none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from archiver.collectors.accounts import Account, get_account, list_accounts, open_alerts
from archiver.collectors.runs import last_run, outcome_counts
from archiver.times import format_time, parse_time
from archiver.wiring import Archive

GRACE_FRACTION = 0.5   # of the interval
MIN_GRACE = 60         # seconds


def _now() -> datetime:
    return datetime.now(UTC)


def grace_seconds(account: Account) -> int:
    return max(MIN_GRACE, int(account.interval_seconds * GRACE_FRACTION))


def _health(conn: Any, account: Account, now: datetime) -> dict[str, Any]:
    last = last_run(conn, account.id)
    success = last_run(conn, account.id, outcome="ok")
    since = parse_time(success.finished_at if success else account.created_at)
    unchecked = max(0.0, (now - since).total_seconds())
    limit = account.interval_seconds + grace_seconds(account)
    gap = account.status != "removed" and unchecked > limit
    return {
        "account": account.id, "platform": account.platform, "handle": account.handle,
        "status": account.status, "paused_reason": account.paused_reason,
        "interval_seconds": account.interval_seconds, "grace_seconds": grace_seconds(account),
        "last_run": last.as_dict() if last else None,
        "last_success": success.finished_at if success else None,
        "outcome": last.outcome if last else None,
        "unchecked_seconds": int(unchecked),
        "gap": gap, "gap_seconds": int(unchecked - account.interval_seconds) if gap else 0,
        "alerts": open_alerts(conn, account.id),
        "checked_at": format_time(now),
    }


def account_health(archive: Archive, account_id: str,
                   clock: Callable[[], datetime] = _now) -> dict[str, Any]:
    account = get_account(archive.catalog, account_id)
    with archive.catalog.reader() as conn:
        return _health(conn, account, clock())


class CollectorMetrics:
    """Prometheus collector: each account's last success and gap, runs by outcome, alerts.

    Read from the catalog at scrape time, like the archive's other figures."""

    def __init__(self, archive: Archive, clock: Callable[[], datetime] = _now) -> None:
        self.archive = archive
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        try:
            accounts = list_accounts(self.archive.catalog)
            with self.archive.catalog.reader() as conn:
                now = self.clock()
                health = [_health(conn, a, now) for a in accounts]
                counts = outcome_counts(conn)
        except Exception:  # noqa: BLE001 - archiver_catalog_up reports the outage
            return
        last = GaugeMetricFamily("archiver_collector_last_success_timestamp",
                                 "When the account's last successful collection finished "
                                 "(Unix seconds; 0: never)", labels=["account"])
        gap = GaugeMetricFamily("archiver_collector_gap",
                                "1 if the account has not been checked for longer than its "
                                "interval plus grace", labels=["account"])
        unchecked = GaugeMetricFamily("archiver_collector_unchecked_seconds",
                                      "Seconds since the account's last successful "
                                      "collection (or its registration)", labels=["account"])
        paused = GaugeMetricFamily("archiver_collector_paused", "1 if the account is paused",
                                   labels=["account"])
        alerts = GaugeMetricFamily("archiver_collector_alerts",
                                   "Open alerts (e.g. credentials rejected)",
                                   labels=["account"])
        for h in health:
            a = h["account"]
            ok = h["last_success"]
            last.add_metric([a], parse_time(ok).timestamp() if ok else 0)
            gap.add_metric([a], 1 if h["gap"] else 0)
            unchecked.add_metric([a], h["unchecked_seconds"])
            paused.add_metric([a], 1 if h["status"] == "paused" else 0)
            alerts.add_metric([a], len(h["alerts"]))
        yield from (last, gap, unchecked, paused, alerts)
        runs = CounterMetricFamily("archiver_collector_runs",
                                   "Collection runs recorded, by outcome", labels=["outcome"])
        for outcome, n in counts.items():
            runs.add_metric([outcome], n)
        yield runs
