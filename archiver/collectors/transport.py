"""The one HTTP session every collector goes through: timeouts, retries, rate limits.

- Timeouts on connect and read; a response body larger than `max_bytes` is refused.
- Network errors and 5xx answers are retried with exponential backoff and full jitter
  (AWS architecture blog, "Exponential Backoff And Jitter").
- 429 waits for `Retry-After` (seconds or an HTTP date) or the platform's reset header;
  a wait longer than `max_wait` raises `RateLimited` instead, so a run never sleeps for
  a quarter of an hour: the scheduler comes back at `retry_at`.
- Rate-limit headers are read on every answer: when a platform says no requests remain
  (`x-rate-limit-remaining: 0` on X, `X-RateLimit-Remaining` on Mastodon, `RateLimit-Remaining`
  on Bluesky), the next request to that host waits for the reset first.
  Reset headers: X epoch seconds (`x-rate-limit-reset`), Mastodon an ISO 8601 time
  (`X-RateLimit-Reset`), Bluesky epoch seconds (`RateLimit-Reset`).
- 401 (and 403 with an authentication complaint is left to the collector) raises
  `CredentialsRejected`, which pauses the account.

Collectors get parsed JSON or a typed error; they never see httpx.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from archiver.errors import (
    CredentialsRejected,
    MalformedResponse,
    PlatformUnavailable,
    RateLimited,
)

USER_AGENT = "archiver/0.1 (records retention; +https://example.invalid/archiver)"
_RETRYABLE = frozenset({500, 502, 503, 504, 520, 522, 524})


@dataclass(frozen=True)
class Response:
    """A finished answer: status, headers (lower-case names), body bytes."""

    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON; anything else (an HTML error page, truncation) is malformed."""
        ctype = self.headers.get("content-type", "")
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            kind = "an HTML page" if "html" in ctype or self.body.lstrip()[:1] == b"<" else \
                "not JSON"
            raise MalformedResponse(f"{_safe(self.url)}: answered {self.status} with {kind} "
                                    f"({exc.__class__.__name__})") from None


@dataclass(frozen=True)
class TransportSettings:
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    retries: int = 4                 # attempts after the first, for network errors and 5xx
    backoff: float = 0.5             # first backoff ceiling, seconds; doubles each attempt
    max_backoff: float = 30.0
    max_wait: float = 60.0           # longest rate-limit wait a run accepts
    max_bytes: int = 20 * 1024 * 1024


class Transport:
    """HTTP GET/POST for collectors, with the platform's manners kept for them."""

    def __init__(self, settings: TransportSettings | None = None, *,
                 client: httpx.Client | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time,
                 rng: random.Random | None = None) -> None:
        self.settings = settings or TransportSettings()
        s = self.settings
        self._client = client or httpx.Client(
            timeout=httpx.Timeout(s.read_timeout, connect=s.connect_timeout),
            headers={"User-Agent": USER_AGENT}, follow_redirects=True)
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._blocked_until: dict[str, float] = {}   # host -> epoch seconds
        self.requests = 0                            # every request sent, retries included
        self.waited = 0.0                            # seconds slept for limits and backoff

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get_json(self, url: str, *, params: Mapping[str, Any] | None = None,
                 headers: Mapping[str, str] | None = None) -> Any:
        """GET a JSON document that must exist (2xx); any other answer raises."""
        return self.get(url, params=params, headers=headers).json()

    def get(self, url: str, *, params: Mapping[str, Any] | None = None,
            headers: Mapping[str, str] | None = None,
            accept: Collection[int] = (), max_bytes: int | None = None) -> Response:
        """GET; 2xx and the statuses in `accept` (e.g. 404 for a lookup) are returned.

        `max_bytes` lowers or raises the body limit for this request (media downloads)."""
        return self.request("GET", url, params=params, headers=headers, accept=accept,
                            max_bytes=max_bytes)

    def request(self, method: str, url: str, *, params: Mapping[str, Any] | None = None,
                headers: Mapping[str, str] | None = None, json_body: Any = None,
                accept: Collection[int] = (), max_bytes: int | None = None) -> Response:
        s = self.settings
        host = urlsplit(url).netloc
        attempt = 0
        while True:
            self._wait_for(host)
            self.requests += 1
            try:
                response = self._send(method, url, params, headers, json_body, max_bytes)
            except (httpx.TransportError, _Truncated) as exc:
                if attempt >= s.retries:
                    raise PlatformUnavailable(
                        f"{method} {_safe(url)}: {exc.__class__.__name__} after "
                        f"{attempt + 1} attempts") from None
                self._backoff(attempt)
                attempt += 1
                continue
            self._note_limits(host, response)
            status = response.status
            if 200 <= status < 300 or status in accept:
                return response
            if status == 429:
                self._block(host, response, default=s.backoff * 2 ** attempt)
                if attempt >= s.retries:
                    raise RateLimited(f"{_safe(url)}: still rate limited after "
                                      f"{attempt + 1} attempts",
                                      self._blocked_until.get(host))
                attempt += 1
                continue
            if status == 401:
                raise CredentialsRejected(f"{_safe(url)}: the platform refused the "
                                          f"credentials (401): {_excerpt(response.body)}")
            if status in _RETRYABLE:
                if attempt >= s.retries:
                    raise PlatformUnavailable(f"{_safe(url)}: answered {status} after "
                                              f"{attempt + 1} attempts")
                retry_after = _retry_after(response.headers, self._clock())
                if retry_after is not None:
                    self._block(host, response, default=0)
                else:
                    self._backoff(attempt)
                attempt += 1
                continue
            raise MalformedResponse(f"{method} {_safe(url)}: unexpected status {status}: "
                                    f"{_excerpt(response.body)}")

    def _send(self, method: str, url: str, params: Mapping[str, Any] | None,
              headers: Mapping[str, str] | None, json_body: Any,
              max_bytes: int | None = None) -> Response:
        limit = self.settings.max_bytes if max_bytes is None else max_bytes
        with self._client.stream(method, url, params=params, headers=headers,
                                 json=json_body) as r:
            declared = r.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > limit:
                raise MalformedResponse(f"{_safe(url)}: response of {declared} bytes is "
                                        f"larger than the {limit}-byte limit")
            chunks, size = [], 0
            try:
                for chunk in r.iter_bytes():
                    size += len(chunk)
                    if size > limit:
                        raise MalformedResponse(f"{_safe(url)}: response larger than the "
                                                f"{limit}-byte limit")
                    chunks.append(chunk)
            except httpx.RemoteProtocolError as exc:  # connection dropped mid-body
                raise _Truncated(str(exc)) from None
            return Response(str(r.url), r.status_code,
                            {k.lower(): v for k, v in r.headers.items()}, b"".join(chunks))

    # -- rate limits ------------------------------------------------------------------

    def _note_limits(self, host: str, response: Response) -> None:
        remaining = _first(response.headers, "x-rate-limit-remaining",
                           "x-ratelimit-remaining", "ratelimit-remaining")
        if remaining is not None and remaining.strip() == "0":
            reset = _reset_time(response.headers, self._clock())
            if reset is not None:
                self._blocked_until[host] = max(self._blocked_until.get(host, 0), reset)

    def _block(self, host: str, response: Response, *, default: float) -> None:
        now = self._clock()
        until = _retry_after(response.headers, now)
        if until is None:
            until = _reset_time(response.headers, now)
        if until is None:
            until = now + default
        self._blocked_until[host] = max(self._blocked_until.get(host, 0), until)

    def _wait_for(self, host: str) -> None:
        until = self._blocked_until.get(host)
        if until is None:
            return
        delay = until - self._clock()
        if delay <= 0:
            del self._blocked_until[host]
            return
        if delay > self.settings.max_wait:
            raise RateLimited(f"{host}: rate limit resets in {delay:.0f} s, longer than a run "
                              f"waits ({self.settings.max_wait:.0f} s)", until)
        self.waited += delay
        self._sleep(delay)
        self._blocked_until.pop(host, None)

    def _backoff(self, attempt: int) -> None:
        s = self.settings
        delay = self._rng.uniform(0, min(s.max_backoff, s.backoff * 2 ** attempt))
        self.waited += delay
        self._sleep(delay)


class _Truncated(Exception):
    """The connection dropped before the body ended: retried like a network error."""


def _first(headers: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        if name in headers:
            return headers[name]
    return None


def _retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """`Retry-After` as an epoch time: delta-seconds or an HTTP date (RFC 9110 10.2.3)."""
    value = headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return now + int(value)
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def _reset_time(headers: Mapping[str, str], now: float) -> float | None:
    """The platform's reset header as an epoch time (epoch seconds, or ISO 8601)."""
    value = _first(headers, "x-rate-limit-reset", "x-ratelimit-reset", "ratelimit-reset")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        n = int(value)
        # Epoch seconds (X, Bluesky); a small number is a delta in seconds (IETF draft).
        return float(n) if n > 1_000_000_000 else now + n
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _safe(url: str) -> str:
    """The URL without its query, which may carry tokens."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _excerpt(body: bytes, limit: int = 200) -> str:
    text = body[:limit].decode("utf-8", "replace").replace("\n", " ")
    return text + ("..." if len(body) > limit else "")
