"""Mastodon in real time: the streaming API's user stream as observations.

`GET /api/v1/streaming/user` answers `text/event-stream` (docs.joinmastodon.org/methods/
streaming/): events separated by a blank line, each an `event:` line and `data:` lines;
lines starting with `:` are heartbeats. The events used, and their data:

- `update`: a Status (JSON) newly in the user's home timeline. Only the account's own
  statuses are kept (the home timeline also carries the accounts it follows).
- `status.update`: a Status that was edited; the account's own -> an observation with
  the edit history fetched from `GET /api/v1/statuses/:id/history`, as polling does.
- `notification` of type `mention` whose status answers the account
  (`in_reply_to_account_id`): a comment, seen the moment it is made.
- `delete`: the bare id of a deleted status. The stream also reports deletions of
  statuses of accounts it follows, so only an id the archive knows for this account (the
  `known` callback) or that this stream saw for it gives a `deleted` observation, whose
  raw is the event itself: `{"event": "delete", "payload": "<id>"}`.

Over the WebSocket transport the same payloads come as a JSON string inside a JSON
message; a `data:` that decodes to a string is decoded once more, so both work.

The stream carries no event ids to resume from (Mastodon's streaming server ignores
`Last-Event-ID`). After a drop this consumer reconnects with backoff and, once the new
connection is up, reads the account's statuses newer than the last one it saw over REST
(`min_id`), so posts made during the gap are not missed; edits and deletions made during
a gap are left to the polling collector's look-back, which runs anyway.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx

from archiver import times
from archiver.collectors.mastodon import (
    MastodonApi,
    Status,
    deleted_observation,
    parse_status,
    status_kind,
    status_observation,
)
from archiver.collectors.protocol import AccountConfig, KnownItem
from archiver.collectors.transport import Transport
from archiver.errors import (
    CollectorError,
    CredentialsRejected,
    MalformedResponse,
    PlatformUnavailable,
)
from archiver.records import Observation

STREAM_PATH = "/api/v1/streaming/user"


def sse_events(lines: Iterable[str], max_chars: int = 20 * 1024 * 1024
               ) -> Iterator[tuple[str, str]]:
    """(event type, data) for each complete event (the WHATWG "server-sent events"
    parsing rules); an event cut off by the end of the stream is dropped, and one
    larger than `max_chars` is refused (a stream is not a way around the size limit)."""
    event, data, size = "", [], 0
    for line in lines:
        if line == "":
            if data:
                yield event or "message", "\n".join(data)
            event, data, size = "", [], 0
            continue
        size += len(line)
        if size > max_chars:
            raise MalformedResponse(f"{STREAM_PATH}: an event longer than {max_chars} "
                                    f"characters")
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)


def _payload(data: str, event: str) -> Any:
    try:
        value = json.loads(data)
        if isinstance(value, str):          # the WebSocket form: a JSON string of JSON
            value = json.loads(value)
    except ValueError:
        raise MalformedResponse(f"{STREAM_PATH}: `{event}` event data is not JSON") from None
    return value


class _Stream:
    """State of one consumer: what it saw of the account, and how to talk to it."""

    def __init__(self, account: AccountConfig, http: Transport,
                 known: Callable[[str], KnownItem | None] | None,
                 clock: Callable[[], datetime]) -> None:
        self.api = MastodonApi(account, http)
        self.account_id = account.platform_id
        self.known = known
        self.clock = clock
        self.seen: dict[str, KnownItem] = {}
        self.last_id: str | None = None

    def now(self) -> str:
        return times.format_time(self.clock())

    def remember(self, status: Status) -> None:
        kind = status_kind(status, self.account_id)
        self.seen[status.id] = KnownItem(status.id, kind, status.in_reply_to_id,
                                         status.created_at, "live")
        if status.account.id == self.account_id and (
                self.last_id is None or (len(status.id), status.id)
                > (len(self.last_id), self.last_id)):
            self.last_id = status.id

    def observe(self, event: str, data: str) -> Observation | None:
        """One event -> its observation, or None for events about other accounts."""
        where = f"{STREAM_PATH} `{event}` event"
        if event in ("update", "status.update"):
            status = parse_status(_payload(data, event), where)
            if status.account.id != self.account_id:
                return None
            self.remember(status)
            history = None
            if event == "status.update" and status.edited_at is not None:
                try:
                    history = self.api.history(status.id)
                except CredentialsRejected:
                    raise
                except CollectorError:
                    history = None          # the edit is still archived, without history
            return status_observation(status, self.account_id, self.now(), history=history)
        if event == "notification":
            note = _payload(data, event)
            if not isinstance(note, dict) or note.get("type") != "mention" \
                    or note.get("status") is None:
                return None
            status = parse_status(note["status"], f"{where}.status")
            if (status.raw.get("in_reply_to_account_id") != self.account_id
                    or status.account.id == self.account_id):
                return None
            self.remember(status)
            return status_observation(status, self.account_id, self.now())
        if event == "delete":
            status_id = data.strip().strip('"')
            if not status_id or len(status_id) > 512:
                raise MalformedResponse(f"{where}: the data is not a status id")
            item = self.seen.get(status_id) or (self.known(status_id) if self.known else None)
            if item is None:
                return None
            return deleted_observation(item, self.account_id, self.now(),
                                       {"event": "delete", "payload": data})
        return None

    def catch_up(self) -> Iterator[Observation]:
        """The account's statuses posted while the stream was down."""
        if self.last_id is None:
            return
        for status in self.api.statuses_since(self.last_id):
            self.remember(status)
            yield status_observation(status, self.account_id, self.now())


def stream_observations(account: AccountConfig, http: Transport, *,
                        client: httpx.Client | None = None,
                        known: Callable[[str], KnownItem | None] | None = None,
                        since_id: str | None = None,
                        stop: Callable[[], bool] | None = None,
                        clock: Callable[[], datetime] | None = None,
                        sleep: Callable[[float], None] = time.sleep,
                        max_failures: int = 8, backoff: float = 1.0,
                        max_backoff: float = 60.0, read_timeout: float = 90.0,
                        rng: random.Random | None = None) -> Iterator[Observation]:
    """Observations of `account` from its user stream, for as long as the caller reads
    (or until `stop()` is true), reconnecting after drops.

    `http` is the account's Transport, used for edit histories and the catch-up after a
    drop (from `since_id`, or the newest own status this stream saw). The SSE connection
    itself is held by `client` (an httpx client; by default one with the transport's
    connect timeout and `read_timeout`, longer than Mastodon's 15-second heartbeat).
    More than `max_failures` connection failures in a row without an event raise
    `PlatformUnavailable`; a 401/403 raises `CredentialsRejected`.
    """
    state = _Stream(account, http, known, clock or (lambda: datetime.now(UTC)))
    state.last_id = since_id
    base = (account.options.get("streaming_url") or account.base_url).rstrip("/")
    own_client = client is None
    if client is None:
        client = httpx.Client(timeout=httpx.Timeout(
            read_timeout, connect=http.settings.connect_timeout))
    rng = rng or random.Random()
    stopped = stop or (lambda: False)
    failures = 0
    try:
        while not stopped():
            reason = "the stream ended"
            retry_after = 0.0
            try:
                with client.stream("GET", base + STREAM_PATH, headers={
                        **state.api.headers, "Accept": "text/event-stream"}) as response:
                    status = response.status_code
                    if status in (401, 403):
                        response.read()
                        raise CredentialsRejected(
                            f"{STREAM_PATH}: the platform refused the credentials "
                            f"({status}): {response.text[:200]}")
                    if status != 200:
                        reason = f"answered {status}"
                        value = response.headers.get("retry-after", "")
                        retry_after = float(value) if value.strip().isdigit() else 0.0
                    else:
                        yield from state.catch_up()
                        for event, data in sse_events(response.iter_lines(),
                                                      http.settings.max_bytes):
                            observation = state.observe(event, data)
                            failures = 0
                            if observation is not None:
                                yield observation
                            if stopped():
                                return
            except httpx.TransportError as exc:
                reason = exc.__class__.__name__
            failures += 1
            if failures > max_failures:
                raise PlatformUnavailable(f"{STREAM_PATH}: {reason}, {failures} times in "
                                          f"a row")
            if stopped():
                return
            delay = rng.uniform(0, min(max_backoff, backoff * 2 ** (failures - 1)))
            sleep(max(delay, min(retry_after, max_backoff)))
    finally:
        if own_client:
            client.close()
