"""Real-time capture in `archiver worker`: the Mastodon user stream and Bluesky's Jetstream,
one pair of threads per account with the option `stream=true`.

Polling stays the safety net (it runs on the account's interval as before); a stream only
makes new posts, edits and deletions appear within about a second. Per account:

- a reader thread consumes the platform's stream and queues each observation with the
  stream's position after it; it reconnects with jittered exponential backoff after any
  failure (a refused token too: the poller pauses the account and the stream stops);
- the stream's own thread drains the queue into `archive.ingestor` in batches, flushed
  when `batch_size` observations wait or `flush_interval` seconds after the first of
  them. The single writer serialises these batches with the poller's runs, and capture's
  fingerprints make an item both see (or a replay after a reconnect) archived once;
- after a batch is durable the stream's position is stored in the collector cursor
  table under the key `<account id>:stream` (the poller's own cursor is untouched):
  Jetstream's `time_us` (or v2 `seq`), Mastodon's newest own status id, from which the
  next start catches up over REST. The position is never ahead of what is archived.

Stopping (SIGTERM via the worker, an account paused, removed or no longer streaming)
flushes what is queued and ends the thread; a reader blocked on a quiet connection is a
daemon thread and ends with the process.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from archiver.catalog import schema as t
from archiver.collectors import accounts as acc
from archiver.collectors.protocol import AccountConfig, KnownItem
from archiver.collectors.runner import _download_media, observation_input
from archiver.collectors.runs import load_cursor, store_cursor
from archiver.collectors.transport import Transport
from archiver.errors import InvalidObservation
from archiver.records import Observation, parse_observation
from archiver.times import format_time
from archiver.wiring import Archive

log = logging.getLogger("archiver.collectors")

STREAMING_PLATFORMS = ("mastodon", "bluesky")
DEFAULT_JETSTREAM = "wss://jetstream2.us-east.bsky.network/subscribe"
CURSOR_SUFFIX = ":stream"
_TRUE = frozenset({"true", "1", "yes", "on"})


def wants_stream(account: acc.Account) -> bool:
    """An active Mastodon or Bluesky account with the option `stream=true`."""
    value = account.options.get("stream")
    on = value is True or (isinstance(value, str) and value.strip().lower() in _TRUE)
    return on and account.status == "active" and account.platform in STREAMING_PLATFORMS


def stream_cursor_key(account_id: str) -> str:
    return account_id + CURSOR_SUFFIX


def load_stream_cursor(archive: Archive, account_id: str) -> dict[str, Any]:
    with archive.catalog.reader() as conn:
        return load_cursor(conn, stream_cursor_key(account_id))


@dataclass
class StreamSettings:
    batch_size: int = 500            # observations per ingest, at most
    flush_interval: float = 1.0      # seconds an observation may wait for its batch
    backoff: float = 1.0             # first reconnect delay ceiling; doubles per failure
    max_backoff: float = 60.0
    idle_timeout: float = 60.0       # Jetstream: reconnect after this long without a frame


Item = tuple[Observation | None, Any]   # (observation or None, the stream position after)


class AccountStream(threading.Thread):
    """The batching thread of one account's stream (and the reader it starts)."""

    def __init__(self, archive: Archive, account: acc.Account,
                 settings: StreamSettings | None = None, *,
                 on_flush: Callable[[int], None] | None = None,
                 rng: random.Random | None = None) -> None:
        super().__init__(name=f"stream-{account.id}", daemon=True)
        self.archive = archive
        self.account = account
        self.settings = settings or StreamSettings()
        self.on_flush = on_flush
        self.stop_event = threading.Event()
        self.queue: queue.Queue[Item] = queue.Queue(maxsize=10 * self.settings.batch_size)
        self.rng = rng or random.Random()
        self.archived = 0            # records appended by this stream (for tests, logs)
        self.reconnects = 0
        self._reader: threading.Thread | None = None
        self._jetstream_cursor: int | None = None   # the reader's newest, maybe not stored

    def stop(self) -> None:
        self.stop_event.set()

    # -- the batching side ------------------------------------------------------------

    def run(self) -> None:
        self._reader = threading.Thread(target=self._read_forever, daemon=True,
                                        name=f"stream-reader-{self.account.id}")
        self._reader.start()
        batch: list[Observation] = []
        position: Any = None
        deadline: float | None = None
        while True:
            timeout = 0.2 if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                obs, after = self.queue.get(timeout=min(timeout, 0.2))
                position = after if after is not None else position
                if obs is not None:
                    batch.append(obs)
                    deadline = deadline or time.monotonic() + self.settings.flush_interval
            except queue.Empty:
                pass
            due = deadline is not None and time.monotonic() >= deadline
            stopping = self.stop_event.is_set() and self.queue.empty()
            if len(batch) >= self.settings.batch_size or due or (
                    stopping and (batch or position is not None)):
                if self._flush(batch, position):
                    batch, position, deadline = [], None, None
                elif not stopping:
                    deadline = time.monotonic() + self.settings.flush_interval
            elif position is not None and not batch:
                self._flush([], position)
                position = None
            if stopping:
                return

    def _flush(self, batch: list[Observation], position: Any) -> bool:
        """Archive the batch, then store the position; False (kept for a retry) when the
        archive could not take it."""
        try:
            observations = self._checked(batch)
            if observations:
                media: dict[str, Any] = {}
                if any(o.media for o in observations):
                    notes: list[str] = []
                    with Transport() as http:
                        observations, media = _download_media(http, observations, notes)
                    for note in notes:
                        log.info("stream %s: %s", self.account.id, note)
                summary = (self.archive.ingestor.ingest(observations, media=media) if media
                           else self.archive.ingestor.ingest(observations))
                self.archived += summary.archived
                if summary.archived and self.on_flush is not None:
                    self.on_flush(summary.archived)
                seq = summary.seqs[-1] if summary.seqs else 0
            else:
                seq = 0
            if position is not None:
                with self.archive.catalog.writer() as conn:
                    store_cursor(conn, stream_cursor_key(self.account.id), position, seq,
                                 format_time(datetime.now(UTC)))
            return True
        except Exception:  # noqa: BLE001 - the archive down: keep the batch, try again
            log.exception("stream %s: a batch of %d could not be archived; retrying",
                          self.account.id, len(batch))
            return False

    def _checked(self, batch: list[Observation]) -> list[Observation]:
        """Ingest's validation (times normalised to UTC); a bad one is logged, not kept."""
        cap = self.archive.settings.capture.max_text_bytes
        out = []
        for obs in batch:
            try:
                out.append(parse_observation(observation_input(obs), max_text_bytes=cap))
            except InvalidObservation as exc:
                log.warning("stream %s: observation %r refused: %s", self.account.id,
                            obs.item_id, exc.reason)
        return out

    # -- the reading side -------------------------------------------------------------

    def _put(self, item: Item) -> None:
        while not self.stop_event.is_set():
            try:
                self.queue.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def _read_forever(self) -> None:
        failures = 0
        while not self.stop_event.is_set():
            got = False
            try:
                for item in self._read():
                    got = got or item[0] is not None
                    self._put(item)
                    if self.stop_event.is_set():
                        return
                failures = 0
            except Exception as exc:  # noqa: BLE001 - any failure: back off, reconnect
                failures = 0 if got else failures + 1
                log.warning("stream %s: %s: %s (reconnecting)", self.account.id,
                            exc.__class__.__name__, exc)
            self.reconnects += 1
            ceiling = min(self.settings.max_backoff,
                          self.settings.backoff * 2 ** max(failures - 1, 0))
            self.stop_event.wait(self.rng.uniform(ceiling / 2, ceiling) if failures
                                 else min(ceiling, 1.0))

    def _read(self) -> Iterator[Item]:
        if self.account.platform == "mastodon":
            yield from self._mastodon()
        else:
            yield from self._jetstream()

    def _config(self) -> AccountConfig:
        return acc.account_config(self.archive.appender, self.account)

    def _known(self, item_id: str) -> KnownItem | None:
        """The archive's item of this account (a deletion on the stream names only ids)."""
        with self.archive.catalog.reader() as conn:
            row = conn.execute(select(t.items.c.item_id, t.items.c.kind, t.items.c.parent_id,
                                      t.items.c.state)
                               .where(t.items.c.platform == self.account.platform,
                                      t.items.c.account == self.account.platform_id,
                                      t.items.c.item_id == item_id)).first()
        return None if row is None else KnownItem(row.item_id, row.kind, row.parent_id,
                                                  None, row.state)

    def _mastodon(self) -> Iterator[Item]:
        from archiver.collectors.mastodon import id_key
        from archiver.collectors.mastodon_stream import stream_observations

        config = self._config()
        with self.archive.catalog.reader() as conn:
            polled = load_cursor(conn, self.account.id).get("since_id")
        streamed = load_stream_cursor(self.archive, self.account.id).get("since_id")
        ids = [i for i in (polled, streamed) if isinstance(i, str) and i]
        newest = max(ids, key=id_key) if ids else None
        with Transport() as http:
            for obs in stream_observations(config, http, known=self._known, since_id=newest,
                                           stop=self.stop_event.is_set, max_failures=2,
                                           backoff=self.settings.backoff,
                                           max_backoff=self.settings.max_backoff):
                own = obs.kind in ("post", "reply") and obs.event is None
                if own and (newest is None or id_key(obs.item_id) > id_key(newest)):
                    newest = obs.item_id
                yield obs, ({"since_id": newest} if newest else None)

    def _jetstream(self) -> Iterator[Item]:
        from archiver.collectors.bluesky_jetstream import jetstream_observations

        saved = load_stream_cursor(self.archive, self.account.id).get("cursor")
        cursor = saved if isinstance(saved, int) and not isinstance(saved, bool) else None
        if self._jetstream_cursor is not None:
            cursor = max(cursor or 0, self._jetstream_cursor)
        url = self.account.options.get("jetstream_url") or DEFAULT_JETSTREAM
        stream = jetstream_observations(
            {self.account.platform_id: self.account.handle}, str(url), cursor,
            idle_timeout=self.settings.idle_timeout, kind_of=self._kind_of)
        try:
            for obs in stream:
                yield obs, {"cursor": stream.cursor}
        except Exception:
            yield from self._jetstream_end(stream, cursor)
            raise
        yield from self._jetstream_end(stream, cursor)

    def _kind_of(self, item_id: str) -> str | None:
        known = self._known(item_id)
        return known.kind if known is not None else None

    def _jetstream_end(self, stream: Any, cursor: int | None) -> Iterator[Item]:
        """The position after the frames that gave no observation, and what was skipped."""
        for problem in stream.problems:
            log.warning("stream %s: %s", self.account.id, problem)
        self._jetstream_cursor = stream.cursor
        if stream.cursor is not None and stream.cursor != cursor:
            yield None, {"cursor": stream.cursor}


class Streams:
    """The worker's streams: `sync()` starts one per account that wants it and stops
    those whose account no longer does; `stop()` ends them all."""

    def __init__(self, archive: Archive, settings: StreamSettings | None = None, *,
                 on_flush: Callable[[int], None] | None = None) -> None:
        self.archive = archive
        self.settings = settings or StreamSettings()
        self.on_flush = on_flush
        self.running: dict[str, AccountStream] = {}

    def sync(self) -> None:
        wanted = {a.id: a for a in acc.list_accounts(self.archive.catalog, status="active")
                  if wants_stream(a)}
        for account_id in [i for i in self.running if i not in wanted]:
            log.info("stream %s: stopped (account no longer streams)", account_id)
            self.running.pop(account_id).stop()
        for account_id, account in wanted.items():
            current = self.running.get(account_id)
            if current is not None and current.is_alive():
                continue
            stream = AccountStream(self.archive, account, self.settings,
                                   on_flush=self.on_flush)
            stream.start()
            self.running[account_id] = stream
            log.info("stream %s: started (%s %s)", account_id, account.platform,
                     account.handle)

    def stop(self, timeout: float = 10.0) -> None:
        for stream in self.running.values():
            stream.stop()
        for stream in self.running.values():
            stream.join(timeout)
        self.running.clear()
