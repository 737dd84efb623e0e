"""One collection run of one account: harvest -> deletion lookups -> media -> ingest ->
run record -> cursor.

Order matters (protocol.py): everything the run saw is decided before anything is
archived, so a failure in the harvest, a lookup or a media download archives nothing;
the run record is appended after the capture records; the cursor moves in the same
transaction as the run's catalog row, so only after the records are durable. A failed
run is still recorded (with its reason) and leaves the cursor where it was.

    CredentialsRejected -> the account is paused ("credentials rejected") and alerted
    RateLimited         -> outcome `rate_limited` with `retry_at`: the scheduler waits
    any other error     -> outcome `failed`, the error in the record
"""

from __future__ import annotations

import gc
import importlib.util
import inspect
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from archiver.capture import normalized_time
from archiver.catalog import schema as t
from archiver.collectors import accounts as acc
from archiver.collectors.protocol import AccountConfig, Harvest, KnownItem
from archiver.collectors.registry import get_collector
from archiver.collectors.runs import RunResult, load_cursor, record_run, run_details
from archiver.collectors.transport import Transport
from archiver.errors import (
    ArchiveError,
    CredentialsRejected,
    InvalidObservation,
    InvalidRequest,
    MalformedResponse,
    RateLimited,
)
from archiver.log.appender import Appender
from archiver.log.envelope import parse_line, segment_key
from archiver.records import EVENTS, Observation, parse_observation
from archiver.times import TimeFormatError, format_time
from archiver.wiring import Archive

log = logging.getLogger("archiver.collectors")
MEDIA_MAX_BYTES = 100 * 1024 * 1024


def _now() -> datetime:
    return datetime.now(UTC)


def collect_account(archive: Archive, account_id: str, *, transport: Transport | None = None,
                    actor: str = "archiver collect",
                    clock: Callable[[], datetime] = _now) -> RunResult:
    """Collect one account once and record the run; never raises for a platform's fault.

    A paused account is not collected (outcome `paused`, nothing recorded); a removed or
    unknown one is refused (InvalidRequest / NotFound)."""
    account = acc.get_account(archive.catalog, account_id)
    if account.status == "removed":
        raise InvalidRequest(f"account {account_id} was removed; it is not collected")
    if account.status == "paused":
        return RunResult(account.id, "paused", notes=[f"paused: {account.paused_reason}"])
    started = format_time(clock())
    http = transport or Transport()
    before = http.requests
    result = RunResult(account.id, "failed")
    harvest = Harvest()
    looked: list[str] = []
    seqs: list[int] = []
    cursor: tuple[str, dict[str, Any]] | None = None
    gc_enabled = gc.isenabled()
    try:
        collector = get_collector(account.platform)
        config = acc.account_config(archive.appender, account)
        with archive.catalog.reader() as conn:
            stored_cursor = load_cursor(conn, account.id)
        known = known_items(archive.appender, account.platform, account.platform_id)
        # Python's cyclic collector re-walks every object the run holds (the decoded
        # answers, tens of thousands of statuses in a first run) ever more often as they
        # grow: ~20% of the CPU of a 30,000-observation run. Paused until the run is
        # archived; reference counting still frees what the run drops.
        gc.disable()
        harvest = collector.harvest(config, http, dict(stored_cursor), known)
        _check_harvest(harvest)
        cap = archive.settings.capture.max_text_bytes
        observations = _checked(harvest.observations, config, cap)
        candidates = deletion_candidates(known, harvest)
        if candidates:
            looked = [k.item_id for k in candidates]
            observations += _checked(collector.lookup(config, http, candidates), config, cap)
        result.notes.extend(harvest.notes)
        observations, media = _download_media(http, observations, result.notes)
        summary = (archive.ingestor.ingest(observations, media=media) if media
                   else archive.ingestor.ingest(observations))
        if summary.rejected:  # parse_observation's rules, applied by _checked already
            raise MalformedResponse(f"{len(summary.rejected)} observations rejected: "
                                    f"{summary.rejected[0].reason}")
        remember_published(archive.appender, observations)
        result.events = {e: summary.events.get(e, 0) for e in EVENTS}
        result.archived = summary.archived
        seqs = summary.seqs
        result.outcome = "ok"
        cursor = (account.id, dict(harvest.cursor))
    except CredentialsRejected as exc:
        result.error = f"credentials rejected: {exc}"
        result.notes.append("account paused: credentials rejected")
        _pause_and_alert(archive, account.id, str(exc), clock)
    except RateLimited as exc:
        result.outcome = "rate_limited"
        result.error = str(exc)
        if exc.retry_at is not None:
            result.retry_at = format_time(datetime.fromtimestamp(exc.retry_at, UTC))
            result.notes.append(f"retry at {result.retry_at}")
    except Exception as exc:  # noqa: BLE001 - any failure is recorded, never swallowed
        result.error = _reason(exc)
        if not isinstance(exc, ArchiveError):
            log.exception("collection of %s failed unexpectedly", account.id)
    finally:
        if gc_enabled:
            gc.enable()
        result.requests = http.requests - before
        if transport is None:
            http.close()
    result.listed = len(harvest.listed)
    result.looked_up = len(looked)
    window = ((harvest.window_start, harvest.window_end) if result.ok
              else (None, None))
    details = run_details(account=account, started_at=started,
                          finished_at=format_time(clock()), result=result, window=window,
                          listed=sorted(harvest.listed) if result.ok else [],
                          threads=sorted(harvest.threads) if result.ok else [],
                          looked_up=looked if result.ok else [], seqs=seqs)
    result.seq = record_run(archive.appender, actor, details, cursor)
    if result.ok and harvest.alerts:  # the collector's warnings (a token about to expire)
        with archive.catalog.writer() as conn:
            for kind, message in harvest.alerts:
                acc.raise_alert(conn, account.id, kind, message, format_time(clock()))
    if not result.ok:
        log.warning("collection run of %s (%s %s): %s: %s", account.id, account.platform,
                    account.handle, result.outcome, result.error)
    from archiver.alerts.worker import notify  # alert rules: evaluated in their worker
    notify(archive)
    return result


def _reason(exc: BaseException) -> str:
    text = str(exc) or exc.__class__.__name__
    return f"{exc.__class__.__name__}: {text}"[:2000]


def _check_harvest(h: Any) -> None:
    if not isinstance(h, Harvest):
        raise MalformedResponse(f"the collector returned {type(h).__name__}, not a Harvest")
    if not isinstance(h.cursor, dict):
        raise MalformedResponse("the collector's cursor is not a JSON object")
    for name in ("window_start", "window_end"):
        value = getattr(h, name)
        if value is not None:
            try:
                setattr(h, name, normalized_time(value))
            except (InvalidObservation, TimeFormatError):
                raise MalformedResponse(f"the harvest's {name} {value!r} is not an RFC 3339 "
                                        f"time") from None
    if (h.window_start is None) != (h.window_end is None):
        raise MalformedResponse("a harvest window needs both its start and its end")


def _checked(observations: Sequence[Any], account: AccountConfig, max_text_bytes: int
             ) -> list[Observation]:
    """Each observation through `archiver ingest`'s validation (times normalised to UTC,
    sizes, types), and of this account and platform: a collector bug otherwise."""
    out = []
    for obs in observations:
        if not isinstance(obs, Observation):
            raise MalformedResponse(f"the collector returned {type(obs).__name__}, "
                                    f"not an Observation")
        if obs.platform != account.platform or obs.account != account.platform_id:
            raise MalformedResponse(f"observation {obs.item_id!r} is of {obs.platform} "
                                    f"account {obs.account!r}, not of this account")
        try:
            out.append(parse_observation(observation_input(obs),
                                         max_text_bytes=max_text_bytes))
        except InvalidObservation as exc:
            raise MalformedResponse(f"observation {obs.item_id!r}: {exc.reason}") from None
    return out


def observation_input(obs: Observation) -> dict[str, Any]:
    """The observation as ingest's input JSON, so that the one validator checks it."""
    fields = ("platform", "account", "item_id", "kind", "text", "author", "parent_id",
              "published_at", "observed_at", "url", "lang", "media", "raw", "event")
    return {f: getattr(obs, f) for f in fields
            if getattr(obs, f) is not None and not (f == "media" and not obs.media)}


def deletion_candidates(known: Sequence[KnownItem], harvest: Harvest) -> list[KnownItem]:
    """Archived live items the harvest should have listed but did not (protocol.py)."""
    out = []
    start, end = harvest.window_start, harvest.window_end
    for k in known:
        if k.state != "live" or k.item_id in harvest.listed:
            continue
        if k.parent_id is None:
            if (start is not None and end is not None and k.published_at is not None
                    and start <= k.published_at <= end):
                out.append(k)
        elif k.parent_id in harvest.threads:
            out.append(k)
    return out


def _download_media(http: Transport, observations: list[Observation], notes: list[str]
                    ) -> tuple[list[Observation], dict[str, Any]]:
    """Media through archiver.collectors.media when it is installed, else none."""
    if not any(o.media for o in observations) or \
            importlib.util.find_spec("archiver.collectors.media") is None:
        return observations, {}
    from archiver.collectors import media as media_module
    from archiver.ingest import Ingestor
    if "media" not in inspect.signature(Ingestor.ingest).parameters:
        return observations, {}
    allowed = getattr(media_module, "DEFAULT_ALLOWED_TYPES", None)
    observations, blobs, problems = media_module.download_media(
        http, observations, max_bytes=MEDIA_MAX_BYTES, allowed_types=allowed)
    notes.extend(f"media: {p}" for p in problems)
    return observations, blobs


def _pause_and_alert(archive: Archive, account_id: str, message: str,
                     clock: Callable[[], datetime]) -> None:
    now = format_time(clock())
    with archive.catalog.writer() as conn:
        conn.execute(t.accounts.update().where(t.accounts.c.id == account_id).values(
            status="paused", paused_reason="credentials rejected", updated_at=now))
        acc.raise_alert(conn, account_id, "credentials_rejected",
                        f"the platform refused the credentials: {message}", now)
    log.warning("account %s paused: the platform refused its credentials (%s)",
                account_id, message)


# -- what the archive holds of an account ------------------------------------------------

def known_items(appender: Appender, platform: str, account: str) -> list[KnownItem]:
    """The account's items from the catalog, with their publication times."""
    with appender.p.catalog.reader() as conn:
        rows = conn.execute(select(t.items.c.item_id, t.items.c.kind, t.items.c.parent_id,
                                   t.items.c.state, t.items.c.first_seq)
                            .where(t.items.c.platform == platform,
                                   t.items.c.account == account)).all()
        published: dict[str, str | None] = {}
        ids = [r.item_id for r in rows]
        for i in range(0, len(ids), 500):
            q = select(t.item_published.c.item_id, t.item_published.c.published_at).where(
                t.item_published.c.platform == platform,
                t.item_published.c.item_id.in_(ids[i:i + 500]))
            published.update((r.item_id, r.published_at) for r in conn.execute(q))
    missing = {r.item_id: r.first_seq for r in rows if r.item_id not in published}
    if missing:
        published.update(_published_from_log(appender, platform, missing))
    return [KnownItem(r.item_id, r.kind, r.parent_id, published.get(r.item_id), r.state)
            for r in rows]


def _published_from_log(appender: Appender, platform: str, first_seqs: dict[str, int]
                        ) -> dict[str, str | None]:
    """Items archived by other paths (ingest, imports): read their first record once,
    one segment GET per segment, and cache the time in `item_published`."""
    found: dict[str, str | None] = {}
    by_seq = {seq: item for item, seq in first_seqs.items()}
    with appender.p.catalog.reader() as conn:
        seqs = sorted(by_seq)
        rows = []
        for i in range(0, len(seqs), 500):
            q = (select(t.records.c.seq, t.records.c.segment_first, t.segments.c.last,
                        t.data_keys.c.wrapped, t.data_keys.c.kek)
                 .join(t.segments, t.segments.c.first == t.records.c.segment_first)
                 .outerjoin(t.data_keys, t.data_keys.c.kid == t.records.c.kid)
                 .where(t.records.c.seq.in_(seqs[i:i + 500])))
            rows.extend(conn.execute(q).all())
    segments: dict[int, list[bytes]] = {}
    for r in rows:
        if r.segment_first not in segments:
            key = segment_key(r.segment_first, r.last)
            segments[r.segment_first] = appender.p.store.get(key).split(b"\n")
        line = segments[r.segment_first][r.seq - r.segment_first]
        env = parse_line(line, where=segment_key(r.segment_first, r.last), expected_seq=r.seq)
        payload = appender.decrypt(env, r.wrapped, r.kek) if r.wrapped else None
        when = (payload or {}).get("published_at")
        found[by_seq[r.seq]] = normalized_time(when) if isinstance(when, str) else None
    _cache_published(appender, platform, found)
    return found


def remember_published(appender: Appender, observations: Sequence[Observation]) -> None:
    """Cache the publication times the run just saw (no log read needed next time)."""
    by_platform: dict[str, dict[str, str | None]] = {}
    for o in observations:
        if o.published_at is not None:
            by_platform.setdefault(o.platform, {})[o.item_id] = o.published_at
    for platform, times in by_platform.items():
        _cache_published(appender, platform, times)


def _cache_published(appender: Appender, platform: str, times: dict[str, str | None]) -> None:
    """Best effort: a cache miss costs one log read later, never a failed run."""
    if not times:
        return
    try:
        _insert_published(appender, platform, times)
    except SQLAlchemyError as exc:  # e.g. two workers caching the same item at once
        log.warning("publication times not cached (%s): %s", platform,
                    exc.__class__.__name__)


def _insert_published(appender: Appender, platform: str,
                      times: dict[str, str | None]) -> None:
    with appender.p.catalog.writer() as conn:
        ids = list(times)
        have: set[str] = set()
        for i in range(0, len(ids), 500):
            have.update(conn.execute(select(t.item_published.c.item_id).where(
                t.item_published.c.platform == platform,
                t.item_published.c.item_id.in_(ids[i:i + 500]))).scalars())
        rows = [{"platform": platform, "item_id": i, "published_at": times[i]}
                for i in ids if i not in have]
        if rows:
            conn.execute(t.item_published.insert(), rows)


def with_account(observations: Sequence[Observation], platform_id: str) -> list[Observation]:
    """Imports with `--account`: the observations as belonging to that account."""
    return [replace(o, account=platform_id) for o in observations]
