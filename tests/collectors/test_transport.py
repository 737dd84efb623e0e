"""The one HTTP transport, against the replay server: retries, rate limits, bad answers.

Time is a fake clock that moves only when the transport sleeps, so a test can assert the
exact waits without waiting.
"""

from __future__ import annotations

import random
import time
from email.utils import formatdate

import pytest

from archiver.collectors.transport import Transport, TransportSettings
from archiver.errors import (
    CredentialsRejected,
    MalformedResponse,
    PlatformUnavailable,
    RateLimited,
)
from tests.replay.server import ReplayServer, Reply

OK = Reply.json({"data": [{"id": "1", "text": "Habari za asubuhi"}]})


class FakeTime:
    def __init__(self) -> None:
        self.now = float(int(time.time()))
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


def transport(ft: FakeTime, **settings: float) -> Transport:
    s = TransportSettings(**{"retries": 3, "backoff": 0.5, "max_wait": 60, **settings})
    return Transport(s, sleep=ft.sleep, clock=ft.clock, rng=random.Random(7))


def test_429_with_retry_after_waits_that_long_then_succeeds(
        server: ReplayServer, fake_time: FakeTime) -> None:
    server.route("GET", "/t", [Reply.json({"title": "Too Many Requests"}, 429,
                                          {"Retry-After": "7"}), OK])
    with transport(fake_time) as http:
        assert http.get_json(f"{server.url}/t")["data"][0]["text"] == "Habari za asubuhi"
        assert http.requests == 2
    assert fake_time.slept == [7]


def test_retry_after_as_an_http_date(server: ReplayServer, fake_time: FakeTime) -> None:
    when = formatdate(fake_time.now + 12, usegmt=True)
    server.route("GET", "/t", [Reply(429, b"", {"Retry-After": when}), OK])
    with transport(fake_time) as http:
        http.get_json(f"{server.url}/t")
    assert fake_time.slept == [12]


@pytest.mark.parametrize("headers", [
    # X: epoch seconds, no Retry-After (docs.x.com, "Rate limits")
    lambda now: {"x-rate-limit-limit": "900", "x-rate-limit-remaining": "0",
                 "x-rate-limit-reset": str(int(now) + 20)},
    # Mastodon: an ISO 8601 time (docs.joinmastodon.org, "Rate limits")
    lambda now: {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0",
                 "X-RateLimit-Reset": time.strftime("%Y-%m-%dT%H:%M:%S.000Z",
                                                    time.gmtime(now + 20))},
    # Bluesky: epoch seconds (docs.bsky.app, "Rate limits")
    lambda now: {"RateLimit-Limit": "3000", "RateLimit-Remaining": "0",
                 "RateLimit-Reset": str(int(now) + 20), "RateLimit-Policy": "3000;w=300"},
], ids=["x", "mastodon", "bluesky"])
def test_an_exhausted_limit_makes_the_next_request_wait_for_the_reset(
        server: ReplayServer, fake_time: FakeTime, headers: object) -> None:
    h = headers(fake_time.now)  # type: ignore[operator]
    server.route("GET", "/t", [Reply.json({"page": 1}, 200, h), OK])
    with transport(fake_time) as http:
        assert http.get_json(f"{server.url}/t") == {"page": 1}
        assert fake_time.slept == []               # the answer itself is not delayed
        http.get_json(f"{server.url}/t")
    assert fake_time.slept == [pytest.approx(20, abs=1)]


def test_429_without_retry_after_waits_for_the_x_reset_header(
        server: ReplayServer, fake_time: FakeTime) -> None:
    reset = str(int(fake_time.now) + 30)
    server.route("GET", "/2/users/1/tweets", [
        Reply.json({"title": "Too Many Requests", "status": 429}, 429,
                   {"x-rate-limit-remaining": "0", "x-rate-limit-reset": reset}), OK])
    with transport(fake_time) as http:
        http.get_json(f"{server.url}/2/users/1/tweets")
    assert fake_time.slept == [30]


def test_a_wait_longer_than_a_run_may_raises_rate_limited_with_retry_at(
        server: ReplayServer, fake_time: FakeTime) -> None:
    reset = int(fake_time.now) + 900
    server.route("GET", "/t", Reply(429, b"", {"x-rate-limit-reset": str(reset)}))
    with transport(fake_time) as http, pytest.raises(RateLimited) as info:
        http.get_json(f"{server.url}/t")
    assert info.value.retry_at == reset
    assert fake_time.slept == [] and len(server.calls("/t")) == 1


def test_5xx_is_retried_with_backoff_then_succeeds(
        server: ReplayServer, fake_time: FakeTime) -> None:
    server.route("GET", "/t", [Reply(503, b"busy"), Reply(502, b""), OK])
    with transport(fake_time) as http:
        http.get_json(f"{server.url}/t")
    assert len(fake_time.slept) == 2
    assert 0 <= fake_time.slept[0] <= 0.5 and 0 <= fake_time.slept[1] <= 1.0


def test_5xx_on_every_attempt_raises_platform_unavailable(
        server: ReplayServer, fake_time: FakeTime) -> None:
    server.route("GET", "/t", Reply(500, b"<html>oops</html>"))
    with transport(fake_time, retries=2) as http, pytest.raises(PlatformUnavailable,
                                                                match="500 after 3"):
        http.get_json(f"{server.url}/t")
    assert len(server.calls("/t")) == 3


def test_a_connection_dropped_mid_body_is_retried(
        server: ReplayServer, fake_time: FakeTime) -> None:
    body = {"data": [{"id": str(i), "text": "Dobro jutro, občina"} for i in range(50)]}
    server.route("GET", "/t", [Reply.json(body, drop_after=100), Reply.json(body)])
    with transport(fake_time) as http:
        assert http.get_json(f"{server.url}/t") == body
    assert len(server.calls("/t")) == 2


def test_a_connection_dropped_every_time_raises_platform_unavailable(
        server: ReplayServer, fake_time: FakeTime) -> None:
    server.route("GET", "/t", Reply.json({"data": "x" * 500}, drop_after=10))
    with transport(fake_time, retries=1) as http, pytest.raises(PlatformUnavailable):
        http.get_json(f"{server.url}/t")


def test_an_unreachable_host_raises_platform_unavailable(fake_time: FakeTime) -> None:
    with transport(fake_time, retries=1) as http, pytest.raises(PlatformUnavailable):
        http.get_json("http://127.0.0.1:9/nothing-listens-here")


@pytest.mark.parametrize("reply, kind", [
    (Reply(200, b"<!DOCTYPE html><html><body>Maintenance</body></html>",
           {"Content-Type": "text/html"}), "an HTML page"),
    (Reply(200, b'{"data": [1, 2', {"Content-Type": "application/json"}), "not JSON"),
    (Reply(200, b"\xff\xfe\x00garbage", {"Content-Type": "application/json"}), "not JSON"),
], ids=["html", "truncated-json", "binary"])
def test_a_body_that_is_not_json_is_malformed(server: ReplayServer, fake_time: FakeTime,
                                              reply: Reply, kind: str) -> None:
    server.route("GET", "/t", reply)
    with transport(fake_time) as http, pytest.raises(MalformedResponse, match=kind):
        http.get_json(f"{server.url}/t")


def test_a_body_over_the_limit_is_refused_without_retrying(
        server: ReplayServer, fake_time: FakeTime) -> None:
    server.route("GET", "/t", Reply.json({"data": "ž" * 5000}))
    with transport(fake_time, max_bytes=1000) as http, \
            pytest.raises(MalformedResponse, match="1000-byte limit"):
        http.get_json(f"{server.url}/t")
    assert len(server.calls("/t")) == 1


def test_401_raises_credentials_rejected_without_retrying(
        server: ReplayServer, fake_time: FakeTime) -> None:
    server.route("GET", "/api/v1/accounts/1/statuses",
                 Reply.json({"error": "The access token is invalid"}, 401))
    with transport(fake_time) as http, pytest.raises(CredentialsRejected,
                                                     match="access token is invalid"):
        http.get_json(f"{server.url}/api/v1/accounts/1/statuses",
                      headers={"Authorization": "Bearer secret-token-123"})
    assert len(server.calls("/api/v1/accounts/1/statuses")) == 1


def test_errors_never_repeat_the_query_string(server: ReplayServer,
                                              fake_time: FakeTime) -> None:
    server.route("GET", "/t", Reply(404, b"nope"))
    with transport(fake_time) as http, pytest.raises(MalformedResponse) as info:
        http.get_json(f"{server.url}/t", params={"access_token": "secret-token-123"})
    assert "secret-token-123" not in str(info.value) and "404" in str(info.value)


def test_accepted_statuses_are_returned_not_raised(server: ReplayServer,
                                                   fake_time: FakeTime) -> None:
    server.route("GET", "/api/v1/statuses/9", Reply.json({"error": "Record not found"}, 404))
    with transport(fake_time) as http:
        r = http.get(f"{server.url}/api/v1/statuses/9", accept=(404,))
    assert r.status == 404 and r.json() == {"error": "Record not found"}
