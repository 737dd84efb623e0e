"""Bluesky in real time: the registered accounts' post commits from Jetstream.

Jetstream (github.com/bluesky-social/jetstream) turns the relay's CBOR firehose into JSON
over a WebSocket. Two wires exist, and both are read here, chosen by the URL's path:

- `.../xrpc/network.bsky.jetstream.subscribeEvents` (v2, the one the `atproto` package
  supports; its models in `atproto_jetstream` parse every frame): subprotocol
  `xrpc.v1.json`, frames `{"$type": "message", "payload": {...#commit | #identity |
  #account | #sync | #info}}` or `{"$type": "error", ...}`; filters `collections=`,
  `dids=`; `cursor=` is the numeric `seq` (inclusive: the last event comes again and is
  dropped here);
- `.../subscribe` (v1, frozen for compatibility): events `{"did", "time_us", "kind":
  "commit" | "identity" | "account", "commit": {"rev", "operation", "collection",
  "rkey", "record", "cid"}}`; filters `wantedCollections=`, `wantedDids=`; `cursor=` is
  unix microseconds (`time_us`).

Only `app.bsky.feed.post` commits of the registered DIDs become observations: `create`
and `update` give the post (an update is a new cid; capture's fingerprint decides whether
it is an edit), `delete` gives a `deleted` observation whose `raw` is the event. Every
observation's `raw` is the event as it came and `observed_at` the event's time, so a
replay after a poll is recognised as old news. `identity` events change the handle used
in URLs; `account` events and anything else are noted, not archived (polling records the
profile). A frame that is not in the documented shape is noted in `problems` and skipped
(polling catches what a stream misses); the cursor moves past it.

    stream = jetstream_observations({"did:plc:...": "handle"}, url, cursor=saved)
    for obs in stream: ...            # stream.cursor: resume point after `obs`

The iteration ends when the server closes the connection cleanly, after `idle_timeout`
seconds without a frame, or after `max_frames`; a dropped connection raises
`PlatformUnavailable` with `stream.cursor` still the last event handled, so reconnecting
with it loses nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from atproto_jetstream.models import (
    ErrorFrame,
    parse_frame,
    parse_subscribe_events_message,
)
from websockets.exceptions import (
    ConnectionClosedError,
    ConnectionClosedOK,
    InvalidHandshake,
    InvalidStatus,
    InvalidURI,
)
from websockets.sync.client import connect

from archiver import times
from archiver.collectors.bluesky import (
    PLATFORM,
    POST_COLLECTION,
    AtUri,
    PostRecord,
    post_url,
    record_observation,
)
from archiver.errors import (
    CollectorError,
    MalformedResponse,
    PlatformUnavailable,
)
from archiver.records import Observation

V2_METHOD = "network.bsky.jetstream.subscribeEvents"
V2_SUBPROTOCOL = "xrpc.v1.json"
V2_PREFIX = f"{V2_METHOD}#"
MAX_FRAME_BYTES = 4 * 1024 * 1024   # post records are a few KB; a larger frame is refused


def jetstream_observations(account_dids: Mapping[str, str | None] | Iterable[str], url: str,
                           cursor: int | None = None, *, idle_timeout: float | None = 60.0,
                           max_frames: int | None = None, open_timeout: float = 10.0,
                           max_frame_bytes: int = MAX_FRAME_BYTES,
                           kind_of: Callable[[str], str | None] | None = None
                           ) -> JetstreamStream:
    """Observations of the accounts' post commits; `.cursor` is where to resume.

    A delete event carries no record, so it cannot say whether the post was a reply:
    `kind_of(item_id)` (the archive's kind of the item, e.g. from the catalog) is used
    when given, else `post`.
    """
    return JetstreamStream(account_dids, url, cursor, idle_timeout=idle_timeout,
                           max_frames=max_frames, open_timeout=open_timeout,
                           max_frame_bytes=max_frame_bytes, kind_of=kind_of)


class JetstreamStream:
    """One subscription: an iterator of observations that remembers its cursor."""

    def __init__(self, account_dids: Mapping[str, str | None] | Iterable[str], url: str,
                 cursor: int | None, *, idle_timeout: float | None, max_frames: int | None,
                 open_timeout: float, max_frame_bytes: int,
                 kind_of: Callable[[str], str | None] | None = None) -> None:
        handles = (dict(account_dids) if isinstance(account_dids, Mapping)
                   else dict.fromkeys(account_dids))
        if not handles or not all(isinstance(d, str) and d.startswith("did:")
                                  for d in handles):
            raise CollectorError("jetstream: at least one account DID (did:...) is needed")
        if cursor is not None and (not isinstance(cursor, int) or cursor < 0):
            raise CollectorError(f"jetstream: cursor must be a non-negative integer, "
                                 f"not {cursor!r}")
        self.handles: dict[str, str | None] = handles
        self.url = url
        self.v2 = not urlsplit(url).path.rstrip("/").endswith("/subscribe")
        self.cursor = cursor
        self.problems: list[str] = []    # frames skipped, with why
        self.notes: list[str] = []       # identity/account changes, info frames
        self._idle = idle_timeout
        self._max_frames = max_frames
        self._open_timeout = open_timeout
        self._max_bytes = max_frame_bytes
        self._kind_of = kind_of
        self._at_cursor: set[str] = set()  # v1 frames handled at the cursor's microsecond

    # -- the connection -------------------------------------------------------------------

    def subscribe_url(self) -> str:
        """The URL with the filters and the cursor in the wire's own parameter names."""
        dids = sorted(self.handles)
        if self.v2:
            base = self.url.rstrip("/")
            if not base.endswith(V2_METHOD):
                base = f"{base}/{V2_METHOD}"
            params = [("collections", POST_COLLECTION)] + [("dids", d) for d in dids]
        else:
            base = self.url
            params = [("wantedCollections", POST_COLLECTION)] + \
                [("wantedDids", d) for d in dids]
        if self.cursor is not None:
            params.append(("cursor", str(self.cursor)))
        return f"{base}?{urlencode(params)}"

    def __iter__(self) -> Iterator[Observation]:
        address = self.subscribe_url()
        try:
            ws = connect(address, open_timeout=self._open_timeout, max_size=self._max_bytes,
                         subprotocols=[V2_SUBPROTOCOL] if self.v2 else None,
                         compression=None)
        except InvalidStatus as exc:
            raise CollectorError(f"jetstream: the server refused the subscription: HTTP "
                                 f"{exc.response.status_code} "
                                 f"{_excerpt(exc.response.body)}") from None
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            raise PlatformUnavailable(f"jetstream: cannot connect to {_safe(self.url)}: "
                                      f"{exc.__class__.__name__}: {exc}") from None
        frames = 0
        with ws:
            while self._max_frames is None or frames < self._max_frames:
                try:
                    data = ws.recv(timeout=self._idle)
                except TimeoutError:
                    return  # quiet for idle_timeout: the caller decides to come back
                except ConnectionClosedOK:
                    return
                except ConnectionClosedError as exc:
                    if exc.rcvd is None and exc.sent is not None and exc.sent.code == 1009:
                        raise MalformedResponse(f"jetstream: a frame larger than "
                                                f"{self._max_bytes} bytes") from None
                    raise PlatformUnavailable(f"jetstream: the connection dropped after "
                                              f"{frames} frames (resume from cursor "
                                              f"{self.cursor})") from None
                frames += 1
                if isinstance(data, bytes):
                    self.problems.append("a binary (compressed) frame, not requested: skipped")
                    continue
                yield from (self._v2_frame(data) if self.v2 else self._v1_frame(data))

    # -- v2: network.bsky.jetstream.subscribeEvents ---------------------------------------

    def _v2_frame(self, data: str) -> Iterator[Observation]:
        try:
            frame = parse_frame(data)
        except Exception as exc:  # noqa: BLE001 - atproto's JetstreamDecodingError and kin
            self.problems.append(f"an undecodable frame: {exc}: {_excerpt(data)}")
            return
        if isinstance(frame, ErrorFrame):
            raise PlatformUnavailable(f"jetstream: the server ended the stream: "
                                      f"{frame.error}: {frame.message or ''}")
        payload = frame.payload
        try:
            message = parse_subscribe_events_message(frame)
        except Exception as exc:  # noqa: BLE001 - pydantic's or atproto's refusal
            self.problems.append(f"a {payload.get('$type')} message not in the documented "
                                 f"shape: {str(exc)[:300]}")
            self._advance(payload.get("seq"))
            return
        kind = (message.py_type or "").removeprefix(V2_PREFIX)
        seq = getattr(message, "seq", None)
        if kind == "info":
            self.notes.append(f"jetstream info {message.name}: {message.message or ''}")
            return
        if seq is not None and self.cursor is not None and seq <= self.cursor:
            return  # the cursor is inclusive: the last event handled comes again
        if kind == "commit":
            obs = self._commit(payload.get("did"), payload.get("operation"),
                               payload.get("collection"), payload.get("rkey"),
                               payload.get("record"), payload.get("time"), payload)
            self.cursor = seq
            if obs is not None:
                yield obs
            return
        if kind == "identity":
            self._identity(message.did, message.identity.handle)
        elif kind == "account":
            self._account(message.did, message.account.active, message.account.status)
        else:
            self.notes.append(f"jetstream {kind} event for {message.did}: "
                              f"{'a resync may be needed' if kind == 'sync' else 'ignored'}")
        self.cursor = seq

    # -- v1: /subscribe ------------------------------------------------------------------

    def _v1_frame(self, data: str) -> Iterator[Observation]:
        try:
            event = json.loads(data)
        except ValueError:
            self.problems.append(f"a frame that is not JSON: {_excerpt(data)}")
            return
        time_us = event.get("time_us") if isinstance(event, dict) else None
        if not isinstance(time_us, int) or isinstance(time_us, bool) or \
                not isinstance(event.get("did"), str) or not isinstance(event.get("kind"), str):
            self.problems.append(f"an event without did, time_us and kind: {_excerpt(data)}")
            return
        if self.cursor is not None and (time_us < self.cursor or (
                time_us == self.cursor and data in self._at_cursor)):
            return  # replayed from the cursor (inclusive): handled already
        self._at_cursor = self._at_cursor | {data} if time_us == self.cursor else {data}
        kind, did = event["kind"], event["did"]
        if kind == "commit":
            commit = event.get("commit")
            if not isinstance(commit, dict):
                self.problems.append(f"a commit event without commit: {_excerpt(data)}")
                self.cursor = time_us
                return
            stamp = times.format_time(datetime.fromtimestamp(time_us / 1_000_000, UTC))
            obs = self._commit(did, commit.get("operation"), commit.get("collection"),
                               commit.get("rkey"), commit.get("record"), stamp, event)
            self.cursor = time_us
            if obs is not None:
                yield obs
            return
        if kind == "identity":
            identity = event.get("identity")
            handle = identity.get("handle") if isinstance(identity, dict) else None
            self._identity(did, handle if isinstance(handle, str) else None)
        elif kind == "account":
            account = event.get("account")
            if isinstance(account, dict):
                self._account(did, account.get("active"), account.get("status"))
        else:
            self.notes.append(f"jetstream {kind} event for {did}: ignored")
        self.cursor = time_us

    # -- shared ---------------------------------------------------------------------------

    def _commit(self, did: Any, operation: Any, collection: Any, rkey: Any, record: Any,
                time: Any, raw: dict[str, Any]) -> Observation | None:
        """One record operation -> an observation of a registered account's post, or None."""
        if did not in self.handles or collection != POST_COLLECTION:
            return None  # another account or collection: the server's filter let it by
        if not isinstance(rkey, str) or not rkey or "/" in rkey:
            self.problems.append(f"a commit of {did} with a bad rkey {rkey!r}: skipped")
            return None
        uri = AtUri(did, collection, rkey)
        observed = _time(time)
        if operation == "delete":
            kind = (self._kind_of(str(uri)) if self._kind_of else None) or "post"
            return Observation(platform=PLATFORM, account=did, item_id=str(uri), kind=kind,
                               url=post_url(self.handles[did] or did, rkey), raw=raw,
                               observed_at=observed, event="deleted")
        if operation not in ("create", "update"):
            self.problems.append(f"a commit of {uri} with operation {operation!r}: skipped")
            return None
        try:
            parsed = PostRecord.parse(record, did, f"jetstream {operation} {uri}")
        except MalformedResponse as exc:
            self.problems.append(f"{exc}: skipped")
            return None
        return record_observation(did, uri, parsed, raw, handle=self.handles[did],
                                  observed_at=observed)

    def _identity(self, did: str, handle: str | None) -> None:
        if did in self.handles and handle and handle != "handle.invalid" \
                and handle != self.handles[did]:
            self.notes.append(f"{did}: handle changed from {self.handles[did]} to {handle}")
            self.handles[did] = handle

    def _account(self, did: str, active: Any, status: Any) -> None:
        if did in self.handles:
            state = "active" if active else f"inactive ({status or 'no reason given'})"
            self.notes.append(f"{did}: account is {state}")

    def _advance(self, seq: Any) -> None:
        if isinstance(seq, int) and not isinstance(seq, bool) and \
                (self.cursor is None or seq > self.cursor):
            self.cursor = seq


def _time(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return times.format_time(times.parse_time(value))
    except times.TimeFormatError:
        return None


def _safe(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _excerpt(data: Any, limit: int = 160) -> str:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
    return text[:limit] + ("..." if len(text) > limit else "")
