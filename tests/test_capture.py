"""Capture rules: which events an observation makes, and how an item's state moves.

archiver/capture.py (`decide`, `next_state`) and archiver/records.py
(`parse_observation`, `record_content`), pure functions over plain values.
"""

from __future__ import annotations

import unicodedata
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from archiver.capture import ItemState, content_fingerprint, decide, next_state
from archiver.errors import InvalidObservation
from archiver.log.crypto import Fingerprinter
from archiver.records import Observation, parse_observation, record_content

FP = Fingerprinter(b"\x42" * 32)
BACKFILL = timedelta(hours=72)
NOW = datetime(2026, 11, 21, 20, 0, 0, tzinfo=UTC)
MAX_TEXT = 1000
PERSIAN = "سلام، این یک پست آزمایشی است"


def obs(**fields: Any) -> Observation:
    doc = {"platform": "mastodon", "account": "acct-1", "item_id": "item-1", "kind": "post",
           "text": "first text", "observed_at": "2026-11-21T19:00:00Z",
           "published_at": "2026-11-21T18:00:00Z"}
    doc.update(fields)
    return parse_observation({k: v for k, v in doc.items() if v is not None},
                             max_text_bytes=MAX_TEXT)


def fp(o: Observation) -> str:
    return content_fingerprint(FP, o.content())


def seen(o: Observation, **changes: Any) -> ItemState:
    """The state of an item whose latest archived version is `o`."""
    state = ItemState(platform=o.platform, item_id=o.item_id, account=o.account, kind=o.kind,
                      parent_id=None, state="live", fingerprint=fp(o), first_seq=0, latest_seq=0,
                      versions=1, first_seen="2026-11-20T00:00:00.000000Z",
                      observed_at="2026-11-21T18:30:00.000000Z",
                      last_seen="2026-11-21T18:30:00.000000Z")
    return replace(state, **changes)


def events(o: Observation, state: ItemState | None) -> list[str]:
    return decide(o, state, fp(o), backfill_after=BACKFILL, now=NOW)


# --- decide ---------------------------------------------------------------------------


def test_unseen_item_is_created() -> None:
    assert events(obs(), None) == ["created"]


def test_unseen_item_without_publication_time_is_created() -> None:
    assert events(obs(published_at=None), None) == ["created"]


def test_unseen_item_published_long_before_it_was_observed_is_observed() -> None:
    o = obs(published_at="2026-11-01T00:00:00Z", observed_at="2026-11-21T19:00:00Z")
    assert events(o, None) == ["observed"]


def test_unseen_item_published_shortly_before_it_was_observed_is_created() -> None:
    o = obs(published_at="2026-11-19T20:00:00Z", observed_at="2026-11-21T19:00:00Z")
    assert events(o, None) == ["created"]


def test_backfill_age_is_measured_from_now_when_the_observation_has_no_time() -> None:
    assert events(obs(observed_at=None, published_at="2026-11-18T19:59:00Z"), None) == \
        ["observed"]
    assert events(obs(observed_at=None, published_at="2026-11-18T20:01:00Z"), None) == \
        ["created"]


def test_backfill_age_compares_instants_not_local_clock_readings() -> None:
    # 2026-11-18T23:00+05:00 is 18:00Z, 73 h before 19:00Z on the 21st
    o = obs(published_at="2026-11-18T23:00:00+05:00", observed_at="2026-11-21T19:00:00Z")
    assert events(o, None) == ["observed"]


def test_unchanged_content_makes_no_event() -> None:
    o = obs()
    assert events(o, seen(o)) == []


def test_changed_text_is_an_edit() -> None:
    assert events(obs(text="second text"), seen(obs())) == ["edited"]


def test_changed_media_is_an_edit() -> None:
    before = obs(media=[{"sha256": "aa"}])
    assert events(obs(media=[{"sha256": "bb"}]), seen(before)) == ["edited"]


def test_changes_only_in_raw_are_not_an_edit() -> None:
    before = obs(raw={"likes": 1})
    assert events(obs(raw={"likes": 99}), seen(before)) == []


def test_unseen_item_the_source_reports_deleted_is_deleted() -> None:
    assert events(obs(event="deleted"), None) == ["deleted"]


def test_source_deletion_of_a_live_item_is_deleted() -> None:
    assert events(obs(event="deleted"), seen(obs())) == ["deleted"]


def test_source_deletion_of_a_deleted_item_makes_no_event() -> None:
    assert events(obs(event="deleted"), seen(obs(), state="deleted")) == []


def test_source_hiding_of_a_live_item_is_hidden() -> None:
    assert events(obs(event="hidden"), seen(obs())) == ["hidden"]


def test_source_hiding_of_a_hidden_item_makes_no_event() -> None:
    assert events(obs(event="hidden"), seen(obs(), state="hidden")) == []


def test_source_deletion_of_a_hidden_item_is_deleted() -> None:
    assert events(obs(event="deleted"), seen(obs(), state="hidden")) == ["deleted"]


@pytest.mark.parametrize("gone", ["deleted", "hidden"])
def test_a_gone_item_seen_again_unchanged_is_restored(gone: str) -> None:
    o = obs()
    assert events(o, seen(o, state=gone)) == ["restored"]


@pytest.mark.parametrize("gone", ["deleted", "hidden"])
def test_a_gone_item_seen_again_changed_is_restored_then_edited(gone: str) -> None:
    assert events(obs(text="changed while gone"), seen(obs(), state=gone)) == \
        ["restored", "edited"]


def test_an_item_first_known_from_a_deletion_notice_seen_again_is_restored() -> None:
    assert events(obs(), seen(obs(), state="deleted", fingerprint=None, versions=0)) == \
        ["restored"]


def test_an_observation_older_than_the_archived_state_is_a_replay() -> None:
    state = seen(obs(), observed_at="2026-11-21T19:00:00.000000Z")
    assert events(obs(text="old text", observed_at="2026-11-21T18:59:59Z"), state) == []


def test_an_old_deletion_notice_is_a_replay() -> None:
    state = seen(obs(), observed_at="2026-11-21T19:00:00.000000Z")
    assert events(obs(event="deleted", observed_at="2026-11-21T18:00:00Z"), state) == []


def test_replay_detection_compares_instants_across_offsets() -> None:
    state = seen(obs(), observed_at="2026-11-21T19:00:00.000000Z")
    newer = obs(text="new text", observed_at="2026-11-21T20:30:00+01:00")  # 19:30Z
    older = obs(text="new text", observed_at="2026-11-21T21:30:00+03:00")  # 18:30Z
    assert events(newer, state) == ["edited"]
    assert events(older, state) == []


def test_an_observation_at_the_same_instant_is_not_a_replay() -> None:
    state = seen(obs(), observed_at="2026-11-21T19:00:00.000000Z")
    assert events(obs(text="new text", observed_at="2026-11-21T19:00:00Z"), state) == ["edited"]


def test_an_accepted_early_timestamp_orders_before_later_observations() -> None:
    try:
        first = obs(observed_at="0001-01-01T00:00:00Z", published_at=None)
    except InvalidObservation:
        return  # refusing it at the edge keeps the promise too
    state = next_state(None, seq=0, payload=first.payload("created", "2026-11-21T00:00:00Z"),
                       fingerprint=fp(first), time="2026-11-21T00:00:00.000000Z")
    assert events(obs(text="edited later", observed_at="2026-11-21T19:00:00Z"), state) == \
        ["edited"]


# --- record_content: what counts as an edit -------------------------------------------


def test_composed_and_decomposed_characters_are_the_same_content() -> None:
    composed, decomposed = "Čeč", unicodedata.normalize("NFD", "Čeč")
    assert composed != decomposed
    assert record_content(composed, []) == record_content(decomposed, [])
    assert events(obs(text=decomposed), seen(obs(text=composed))) == []


def test_runs_of_whitespace_and_surrounding_whitespace_are_not_edits() -> None:
    assert record_content("  a \t b\n\nc  ", []) == record_content("a b c", [])
    assert events(obs(text="first   text \n"), seen(obs(text="first text"))) == []


def test_missing_and_empty_text_are_the_same_content() -> None:
    assert record_content(None, []) == record_content("", [])


def test_a_zero_width_non_joiner_is_content_not_whitespace() -> None:
    with_zwnj, with_space = "می\u200cخواهم", "می خواهم"
    assert record_content(with_zwnj, []) != record_content(with_space, [])
    assert events(obs(text=with_space), seen(obs(text=with_zwnj))) == ["edited"]


def test_the_order_of_media_is_not_an_edit() -> None:
    a = [{"sha256": "aa"}, {"sha256": "bb"}]
    assert record_content("t", a) == record_content("t", list(reversed(a)))


def test_media_are_identified_by_id_then_sha256_then_url() -> None:
    assert record_content("t", [{"sha256": "h", "id": "i", "url": "u"}])["media"] == ["i"]
    assert record_content("t", [{"sha256": "h", "url": "u"}])["media"] == ["h"]
    assert record_content("t", [{"url": "u"}])["media"] == ["u"]


def test_an_attachment_seen_with_and_without_its_download_is_not_an_edit() -> None:
    polled = obs(media=[{"id": "m1", "url": "https://cdn/a?sig=1", "sha256": "aa"}])
    exported = obs(media=[{"id": "m1", "url": "https://cdn/a?sig=2"}])
    assert events(exported, seen(polled)) == []
    assert events(polled, seen(exported)) == []


def test_a_new_attachment_id_is_an_edit() -> None:
    before = obs(media=[{"id": "m1", "sha256": "aa"}])
    assert events(obs(media=[{"id": "m2", "sha256": "aa"}]), seen(before)) == ["edited"]


def test_fingerprints_are_keyed() -> None:
    content = obs().content()
    assert content_fingerprint(FP, content) != \
        content_fingerprint(Fingerprinter(b"\x43" * 32), content)


# --- next_state -----------------------------------------------------------------------


def apply(state: ItemState | None, o: Observation, event: str, seq: int,
          time: str = "2026-11-21T20:00:00.000000Z") -> ItemState:
    carries = event in ("created", "observed", "edited", "restored")
    return next_state(state, seq=seq, payload=o.payload(event, time),
                      fingerprint=fp(o) if carries else None, time=time)


def test_a_created_item_is_live_with_one_version() -> None:
    o = obs()
    s = apply(None, o, "created", 5)
    assert (s.state, s.fingerprint, s.versions) == ("live", fp(o), 1)
    assert (s.first_seq, s.latest_seq) == (5, 5)
    assert (s.platform, s.item_id, s.account, s.kind) == ("mastodon", "item-1", "acct-1", "post")
    assert s.first_seen == s.last_seen == "2026-11-21T20:00:00.000000Z"


def test_state_observed_at_is_the_observation_time_normalised_to_utc() -> None:
    s = apply(None, obs(observed_at="2026-11-21T22:00:00+02:00"), "created", 0)
    assert s.observed_at == "2026-11-21T20:00:00.000000Z"


def test_an_item_first_known_from_a_deletion_has_no_version_and_no_fingerprint() -> None:
    s = apply(None, obs(event="deleted"), "deleted", 3)
    assert (s.state, s.fingerprint, s.versions) == ("deleted", None, 0)


def test_an_edit_adds_a_version_and_moves_the_fingerprint() -> None:
    s = apply(None, obs(), "created", 0)
    edited = obs(text="second", observed_at="2026-11-21T19:30:00Z")
    s2 = apply(s, edited, "edited", 9, "2026-11-21T21:00:00.000000Z")
    assert (s2.versions, s2.fingerprint, s2.latest_seq, s2.first_seq) == (2, fp(edited), 9, 0)
    assert s2.first_seen == "2026-11-21T20:00:00.000000Z"
    assert s2.last_seen == "2026-11-21T21:00:00.000000Z"


def test_a_deletion_keeps_the_fingerprint_and_the_versions() -> None:
    s = apply(None, obs(), "created", 0)
    s2 = apply(s, obs(event="deleted", observed_at="2026-11-21T19:30:00Z"), "deleted", 1)
    assert (s2.state, s2.fingerprint, s2.versions) == ("deleted", s.fingerprint, 1)


def test_a_hiding_marks_the_item_hidden() -> None:
    s = apply(None, obs(), "created", 0)
    assert apply(s, obs(event="hidden"), "hidden", 1).state == "hidden"


def test_restoring_unchanged_content_adds_no_version() -> None:
    s = apply(apply(None, obs(), "created", 0), obs(event="deleted"), "deleted", 1)
    s2 = apply(s, obs(), "restored", 2)
    assert (s2.state, s2.versions) == ("live", 1)


def test_restoring_an_item_known_only_from_a_deletion_adds_its_first_version() -> None:
    s = apply(None, obs(event="deleted"), "deleted", 0)
    s2 = apply(s, obs(), "restored", 1)
    assert (s2.state, s2.versions, s2.fingerprint) == ("live", 1, fp(obs()))


def test_a_content_record_without_fingerprint_keeps_the_known_one() -> None:
    s = apply(None, obs(), "created", 0)
    s2 = next_state(s, seq=1, payload=obs(text="x").payload("edited", "2026-11-21T20:00:00Z"),
                    fingerprint=None, time="2026-11-21T20:00:00.000000Z")
    assert s2.fingerprint == s.fingerprint


def test_state_observed_at_never_moves_back() -> None:
    s = apply(None, obs(observed_at="2026-11-21T19:00:00Z"), "created", 0)
    s2 = apply(s, obs(text="x", observed_at="2026-11-21T10:00:00Z"), "edited", 1)
    assert s2.observed_at == "2026-11-21T19:00:00.000000Z"


def test_a_state_built_by_next_state_makes_decide_see_no_change() -> None:
    o = obs()
    assert events(o, apply(None, o, "created", 0)) == []


# --- parse_observation ----------------------------------------------------------------

VALID = {"platform": "mastodon", "account": "acct-1", "item_id": "item-1", "kind": "post"}


def refused(doc: Any, *, max_text_bytes: int = MAX_TEXT) -> InvalidObservation:
    with pytest.raises(InvalidObservation) as info:
        parse_observation(doc, max_text_bytes=max_text_bytes, line=42)
    assert info.value.line == 42
    assert str(info.value).startswith("line 42: ")
    return info.value


def instant(value: str | None) -> datetime:
    assert value is not None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_a_full_observation_is_read_into_its_fields() -> None:
    doc = {**VALID, "text": PERSIAN, "author": {"id": "1", "handle": "h", "name": "Žiga"},
           "parent_id": "p", "published_at": "2026-11-21T18:00:00+03:30",
           "observed_at": "2026-11-21T19:00:00Z", "url": "https://x.example/1", "lang": "fa",
           "media": [{"id": "m1"}], "raw": {"any": ["thing"]}, "event": "hidden"}
    o = parse_observation(doc, max_text_bytes=MAX_TEXT)
    assert (o.platform, o.account, o.item_id, o.kind) == ("mastodon", "acct-1", "item-1", "post")
    assert (o.text, o.author, o.parent_id) == (PERSIAN, doc["author"], "p")
    assert instant(o.published_at) == datetime(2026, 11, 21, 14, 30, tzinfo=UTC)
    assert instant(o.observed_at) == datetime(2026, 11, 21, 19, 0, tzinfo=UTC)
    assert (o.url, o.lang, o.media, o.raw, o.event) == (
        "https://x.example/1", "fa", [{"id": "m1"}], {"any": ["thing"]}, "hidden")


def test_an_observation_without_optional_fields_has_no_media_and_no_event() -> None:
    o = parse_observation(VALID, max_text_bytes=MAX_TEXT)
    assert (o.text, o.media, o.event, o.author) == (None, [], None, None)


@pytest.mark.parametrize("doc", [None, [], "text", 1, [VALID]])
def test_parse_observation_refuses_what_is_not_an_object(doc: Any) -> None:
    assert "object" in refused(doc).reason


@pytest.mark.parametrize("name", ["platform", "account", "item_id", "kind"])
def test_parse_observation_refuses_a_missing_required_field(name: str) -> None:
    doc = {k: v for k, v in VALID.items() if k != name}
    assert name in refused(doc).reason


@pytest.mark.parametrize("name", ["platform", "account", "item_id", "kind"])
def test_parse_observation_refuses_a_required_field_that_is_not_a_string(name: str) -> None:
    assert name in refused({**VALID, name: 7}).reason


@pytest.mark.parametrize("name", ["text", "parent_id", "url", "lang", "published_at",
                                  "observed_at"])
def test_parse_observation_refuses_an_optional_field_that_is_not_a_string(name: str) -> None:
    assert name in refused({**VALID, name: 7}).reason


@pytest.mark.parametrize("value", ["", "   ", "\n"])
def test_parse_observation_refuses_an_empty_id(value: str) -> None:
    assert "item_id" in refused({**VALID, "item_id": value}).reason


def test_parse_observation_refuses_an_unknown_field() -> None:
    assert "colour" in refused({**VALID, "colour": "red"}).reason


def test_parse_observation_counts_text_length_in_utf8_bytes() -> None:
    text = "س" * 30  # 30 characters, 60 bytes
    assert len(text.encode()) == 60
    assert parse_observation({**VALID, "text": text}, max_text_bytes=60).text == text
    assert "text" in refused({**VALID, "text": text}, max_text_bytes=59).reason
    assert "text" in refused({**VALID, "text": text}, max_text_bytes=40).reason


def test_parse_observation_refuses_text_with_an_unpaired_surrogate() -> None:
    assert "text" in refused({**VALID, "text": "a\ud800b"}).reason


@pytest.mark.parametrize("name", ["published_at", "observed_at"])
@pytest.mark.parametrize("value", ["yesterday", "2026-13-01T00:00:00Z", "2026-11-21T25:00:00Z",
                                   "", "2026-11-21T20:00:00+25:00"])
def test_parse_observation_refuses_a_bad_timestamp(name: str, value: str) -> None:
    assert name in refused({**VALID, name: value}).reason


@pytest.mark.parametrize("name", ["published_at", "observed_at"])
@pytest.mark.parametrize("value", ["2026-11-21T20:51:55", "2026-11-21T20:51:55.123", "2026-11-21"])
def test_parse_observation_refuses_a_timestamp_without_offset(name: str, value: str) -> None:
    assert name in refused({**VALID, name: value}).reason


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_parse_observation_refuses_a_timestamp_outside_the_representable_range(
        value: str) -> None:
    assert "observed_at" in refused({**VALID, "observed_at": value}).reason


@pytest.mark.parametrize("author", ["someone", ["a"], 3])
def test_parse_observation_refuses_an_author_that_is_not_an_object(author: Any) -> None:
    assert "author" in refused({**VALID, "author": author}).reason


def test_parse_observation_refuses_an_author_with_unknown_fields_or_non_strings() -> None:
    assert "author" in refused({**VALID, "author": {"email": "x"}}).reason
    assert "author" in refused({**VALID, "author": {"id": 5}}).reason


@pytest.mark.parametrize("media", ["a.jpg", [1], [{"id": "m"}, "b.jpg"], {"id": "m"}, 7])
def test_parse_observation_refuses_media_that_is_not_a_list_of_objects(media: Any) -> None:
    assert "media" in refused({**VALID, "media": media}).reason


@pytest.mark.parametrize("media", [{}, "", 0, False])
def test_parse_observation_refuses_empty_media_that_is_not_a_list(media: Any) -> None:
    assert "media" in refused({**VALID, "media": media}).reason


@pytest.mark.parametrize("event", ["created", "edited", "restored", "observed", "DELETED", 1])
def test_parse_observation_refuses_an_event_other_than_deleted_or_hidden(event: Any) -> None:
    assert "event" in refused({**VALID, "event": event}).reason


def test_parse_observation_without_a_line_number_says_no_line() -> None:
    with pytest.raises(InvalidObservation) as info:
        parse_observation({**VALID, "kind": 1}, max_text_bytes=MAX_TEXT)
    assert info.value.line is None
    assert not str(info.value).startswith("line")
