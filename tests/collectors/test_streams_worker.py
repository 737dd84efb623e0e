"""Real-time capture in `archiver worker`: accounts with `stream=true` are followed on the
Mastodon user stream (replayed SSE) and Bluesky's Jetstream (a local WebSocket server),
their observations archived in batches next to the poller, the stream position kept in
the cursor table, streams stopped with the worker (SIGTERM) or their account."""

from __future__ import annotations

import json
import os
import select as io_select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest

from archiver.collectors import accounts as acc
from archiver.collectors.scheduler import worker
from archiver.collectors.streams import Streams, StreamSettings, load_stream_cursor
from archiver.wiring import Archive
from tests.collectors.bluesky_replay import DID, HANDLE, AppView, Jetstream
from tests.collectors.e2e_support import (  # noqa: F401 - fixtures: backend_env, server, http
    ago,
    captures_after,
    head,
    local_backend,
    replay_server,
    run,
    transport,
)
from tests.collectors.mastodon_replay import (
    ACCOUNT_ID,
    TOKEN,
    FakeMastodon,
    snowflake,
    status_entity,
)
from tests.replay.server import ReplayServer, Reply

FA = "اطلاع‌رسانی: مسیر رفت‌وآمد اتوبوس ۱۲ تغییر کرد."
SW = "Taarifa: Barabara ya Kingfisher imefungwa kutokana na mafuriko. 🌧️"
SL = "Obvestilo: čistilna akcija v soboto. Žoge in šotori dobrodošli."
FAST = StreamSettings(batch_size=50, flush_interval=0.2, backoff=0.05, max_backoff=0.2,
                      idle_timeout=0.5)


def wait_for(check: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@contextmanager
def running_worker(archive: Archive, **kw: object) -> Iterator[threading.Event]:
    """`worker` on a thread of this process (no signal handlers); stopped on exit."""
    stop = threading.Event()
    thread = threading.Thread(target=worker, args=(archive,), daemon=True, kwargs={
        "stop": stop, "install_signals": False, "max_sleep": 0.2,
        "stream_settings": FAST, **kw})
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(30)
        assert not thread.is_alive()


def sse(*events: tuple[str, object]) -> bytes:
    """Mastodon's streaming server's writing: a `:)` greeting, `event:`/`data:` lines."""
    out = [":)\n\n"]
    for name, data in events:
        text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
        out.append(f"event: {name}\ndata: {text}\n\n")
    return "".join(out).encode()


def bluesky_account(archive: Archive, server: ReplayServer, js: Jetstream,
                    **options: object) -> str:
    """A streaming Bluesky account polled hourly, on a replayed AppView with no posts."""
    AppView(server)
    account_id = acc.add_account(archive.appender, platform="bluesky", platform_id=DID,
                                 handle=HANDLE, base_url=server.url, interval="1h",
                                 options={"stream": True, "jetstream_url": js.url,
                                          **options}).id
    return account_id


def record(text: str) -> dict:
    return {"$type": "app.bsky.feed.post", "text": text, "langs": ["fa"],
            "createdAt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")}


def test_mastodon_stream_events_are_archived_by_the_worker_once(archive, server, http):
    instance = FakeMastodon()
    kept = instance.post(ago(30), "<p>Cesta je zaprta do 12. ure.</p>", language="sl")
    gone = instance.post(ago(20), f"<p>{SW}</p>", language="sw")
    instance.install(server)
    account_id = acc.add_account(archive.appender, platform="mastodon",
                                 platform_id=ACCOUNT_ID, handle="city", base_url=server.url,
                                 credentials={"access_token": TOKEN}, interval="1h",
                                 options={"stream": "true"}).id
    assert run(archive, account_id, http)[0].outcome == "ok"
    before = head(archive)
    instance.edit(kept, "<p>Cesta je zaprta do 15. ure.</p>", ago(1))
    instance.delete(gone)
    new = status_entity(snowflake(ago(0.5)), ago(0.5), f"<p>{FA}</p>",
                        account=instance.account, language="fa")
    instance.statuses[new["id"]] = new
    instance.install(server)
    server.route("GET", "/api/v1/streaming/user", [
        Reply(200, sse(("update", new), ("status.update", kept), ("delete", gone["id"])),
              {"Content-Type": "text/event-stream"}),
        Reply(200, b":)\n\n", {"Content-Type": "text/event-stream"})])

    with running_worker(archive):
        wait_for(lambda: len(captures_after(archive, before)) >= 3)
        wait_for(lambda: len(server.calls("/api/v1/streaming/user")) >= 3)  # reconnected

    assert sorted(captures_after(archive, before)) == sorted([
        ("created", "post", new["id"]), ("edited", "post", kept["id"]),
        ("deleted", "post", gone["id"])])
    assert load_stream_cursor(archive, account_id) == {"since_id": new["id"]}


def test_jetstream_commits_are_archived_and_the_time_us_cursor_kept(archive, server, http):
    with Jetstream(v2=False) as js:
        account_id = bluesky_account(archive, server, js)
        assert run(archive, account_id, http)[0].outcome == "ok"
        before = head(archive)
        js.commit(DID, "create", "3lbqh222222", record(FA))
        js.commit(DID, "update", "3lbqh222222", record(FA + " (به‌روز)"))
        last = js.commit(DID, "delete", "3lbqh222222")
        uri = f"at://{DID}/app.bsky.feed.post/3lbqh222222"

        caught_up: list[int] = []
        with running_worker(archive, after_streamed=lambda: caught_up.append(1)):
            wait_for(lambda: len(captures_after(archive, before)) >= 3)
            wait_for(lambda: len(js.requests) >= 3)       # reconnected from its cursor
            wait_for(lambda: bool(caught_up))              # the search catch-up ran

        assert captures_after(archive, before) == [
            ("created", "post", uri), ("edited", "post", uri), ("deleted", "post", uri)]
        assert load_stream_cursor(archive, account_id) == {"cursor": last["time_us"]}


def test_a_restarted_worker_resumes_from_the_stored_cursor(archive, server, http):
    with Jetstream(v2=False) as js:
        account_id = bluesky_account(archive, server, js)
        assert run(archive, account_id, http)[0].outcome == "ok"
        before = head(archive)
        js.commit(DID, "create", "3lbqh333333", record(SL))
        with running_worker(archive):
            wait_for(lambda: len(captures_after(archive, before)) == 1)
        stored = load_stream_cursor(archive, account_id)["cursor"]
        newer = js.commit(DID, "create", "3lbqh444444", record(SW))
        asked = len(js.requests)

        with running_worker(archive):
            wait_for(lambda: len(captures_after(archive, before)) >= 2)

        assert f"cursor={stored}" in js.requests[asked]
        assert [c[2] for c in captures_after(archive, before)] == [
            f"at://{DID}/app.bsky.feed.post/3lbqh333333",
            f"at://{DID}/app.bsky.feed.post/3lbqh444444"]
        assert load_stream_cursor(archive, account_id) == {"cursor": newer["time_us"]}


def test_a_paused_account_stream_is_stopped_and_a_resumed_one_restarted(archive, server):
    with Jetstream(v2=False) as js:
        account_id = bluesky_account(archive, server, js)
        streams = Streams(archive, FAST)
        try:
            streams.sync()
            first = streams.running[account_id]
            acc.pause_account(archive.appender, account_id, "holiday")
            streams.sync()
            first.join(10)
            assert not first.is_alive() and account_id not in streams.running
            acc.resume_account(archive.appender, account_id)
            streams.sync()
            assert streams.running[account_id].is_alive()
        finally:
            streams.stop()


@pytest.mark.parametrize("value", [False, "no", 1.5])
def test_only_stream_true_starts_a_stream(archive, server, value):
    with Jetstream(v2=False) as js:
        bluesky_account(archive, server, js, stream=value)
        streams = Streams(archive, FAST)
        streams.sync()
        assert streams.running == {}


def test_sigterm_stops_a_streaming_worker_after_it_archived(archive, server, http,
                                                           backend_env):
    with Jetstream(v2=False) as js:
        account_id = bluesky_account(archive, server, js)
        assert run(archive, account_id, http)[0].outcome == "ok"
        before = head(archive)
        js.commit(DID, "create", "3lbqh555555", record(FA))
        proc = subprocess.Popen([sys.executable, "-m", "archiver.cli", "worker",
                                 "--max-sleep", "0.5"], env={**os.environ, **backend_env},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert proc.stderr is not None
            ready, _, _ = io_select.select([proc.stderr], [], [], 120)
            assert ready and "worker: started" in proc.stderr.readline()
            wait_for(lambda: len(captures_after(archive, before)) == 1)
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 0, err
        assert "worker stopped after 0 runs" in err
        assert captures_after(archive, before) == [
            ("created", "post", f"at://{DID}/app.bsky.feed.post/3lbqh555555")]
