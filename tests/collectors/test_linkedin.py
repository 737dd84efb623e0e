"""LinkedIn collector, piece by piece: options, Rest.li headers and URN encoding, comment
URNs, times, kinds (one behaviour each)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from archiver.collectors import linkedin as li
from archiver.collectors.protocol import AccountConfig, KnownItem
from archiver.collectors.registry import get_collector
from archiver.errors import ConfigError, MalformedResponse
from tests.collectors.linkedin_replay import ORG, ORG_ID, PATH, TOKEN, FakeLinkedIn
from tests.replay.server import ReplayServer


def account(server: ReplayServer) -> AccountConfig:
    return AccountConfig(id="acc_1", platform="linkedin", platform_id=ORG_ID,
                         handle="city", base_url=server.url + PATH,
                         credentials={"access_token": TOKEN})


def test_linkedin_is_a_built_in_platform():
    assert get_collector("linkedin") is li.COLLECTOR


def test_a_numeric_version_option_is_taken_as_yyyymm():
    assert li.Options.of({"linkedin_version": 202411}).linkedin_version == "202411"


@pytest.mark.parametrize("options", [{"linkedin_version": "2025-02"},
                                     {"linkedin_version": True}, {"linkedin_version": 5},
                                     {"page_size": 101}, {"lookback_posts": 0},
                                     {"webhooks": True}])
def test_bad_options_are_a_configuration_error(options):
    with pytest.raises(ConfigError):
        li.Options.of(options)


def test_a_comment_urn_names_its_object_and_id():
    assert li.comment_object("urn:li:comment:(urn:li:activity:7100,7200)") == \
        ("urn:li:activity:7100", "7200")
    with pytest.raises(MalformedResponse):
        li.comment_object("urn:li:share:7100")


def test_urns_are_fully_encoded_in_paths():
    assert li.urn_path("urn:li:comment:(urn:li:activity:1,2)") == \
        "urn%3Ali%3Acomment%3A%28urn%3Ali%3Aactivity%3A1%2C2%29"


def test_times_are_epoch_milliseconds():
    assert li.ms_time(1764547200123, "t") == "2025-12-01T00:00:00.123000Z"
    with pytest.raises(MalformedResponse):
        li.ms_time("2025-12-01", "t")


def test_a_comment_by_the_organization_is_a_reply(server):
    comment = {"commentUrn": "urn:li:comment:(urn:li:activity:1,2)", "actor": ORG,
               "message": {"text": "Asante"}, "created": {"time": 1764547200000}}
    assert li.comment_observation(account(server), comment, "urn:li:share:1",
                                  "c").kind == "reply"


def test_every_request_carries_the_version_headers(server, http):
    fake = FakeLinkedIn()
    fake.install(server)
    fake.post("x", datetime.now(UTC))
    li.COLLECTOR.harvest(account(server), http, {}, [])
    for call in server.requests:
        assert call.headers["linkedin-version"] == "202502"
        assert call.headers["x-restli-protocol-version"] == "2.0.0"
    posts = server.calls(f"{PATH}/posts")[0]
    assert posts.arg("author") == ORG and posts.arg("q") == "author"


def test_a_comment_is_looked_up_under_its_object(server, http):
    fake = FakeLinkedIn()
    fake.install(server)
    p = fake.post("x", datetime.now(UTC))
    c = fake.comment(p, "y", datetime.now(UTC))
    out = li.COLLECTOR.lookup(account(server), http,
                              [KnownItem(c, "comment", p, None, "live")])
    assert out[0].event is None and out[0].text == "y" and out[0].parent_id == p
