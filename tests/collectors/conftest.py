"""Fixtures every collector test module asked for under the same name and with the same
body: a replay server (`server`) and the quiet transport (`http`), both defined in
`e2e_support` and registered here for the whole folder, a list of the waits a transport
would have slept, and the platforms' fakes that unit and end-to-end modules both build.

A module that needs something else under one of these names (a transport with other
settings, a fake installed differently) defines its own fixture, which wins over these.
`backend_env` is NOT here: some modules in this folder run on every backend (the root
fixture), others only on the filesystem and SQLite; the latter import
`tests.collectors.e2e_support.local_backend`.
"""

from __future__ import annotations

import pytest

from tests.collectors.e2e_support import (  # noqa: F401 - fixtures: server, http
    replay_server,
    transport,
)
from tests.collectors.facebook_replay import FakePage
from tests.collectors.instagram_replay import FakeInstagram
from tests.collectors.linkedin_replay import FakeLinkedIn
from tests.collectors.mastodon_replay import FakeMastodon
from tests.collectors.threads_replay import FakeThreads
from tests.collectors.tiktok_replay import FakeTikTok
from tests.collectors.youtube_replay import FakeYouTube
from tests.replay.server import ReplayServer


@pytest.fixture
def sleeps() -> list[float]:
    """The waits a transport asked for, in order (its `sleep` appends here)."""
    return []


@pytest.fixture
def page(server: ReplayServer) -> FakePage:
    """The replayed Facebook Page (Graph API) on this test's server."""
    return FakePage(server)


@pytest.fixture
def ig(server: ReplayServer) -> FakeInstagram:
    """The replayed Instagram professional account (Graph API) on this test's server."""
    return FakeInstagram(server)


@pytest.fixture
def instance() -> FakeMastodon:
    """A Mastodon instance, not yet installed on a server (the test installs it)."""
    return FakeMastodon()


@pytest.fixture
def li(server: ReplayServer) -> FakeLinkedIn:
    """The replayed LinkedIn organization, installed on this test's server."""
    fake = FakeLinkedIn()
    fake.install(server)
    return fake


@pytest.fixture
def th(server: ReplayServer) -> FakeThreads:
    """The replayed Threads account, installed on this test's server."""
    fake = FakeThreads()
    fake.install(server)
    return fake


@pytest.fixture
def tt(server: ReplayServer) -> FakeTikTok:
    """The replayed TikTok account, installed on this test's server."""
    fake = FakeTikTok()
    fake.install(server)
    return fake


@pytest.fixture
def yt(server: ReplayServer) -> FakeYouTube:
    """The replayed YouTube channel, installed on this test's server."""
    fake = FakeYouTube()
    fake.install(server)
    return fake
