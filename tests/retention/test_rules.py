"""The retention rules, one promise each: periods, cutoffs, triggers, longest wins, holds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from retention.disposition import due, overlapping_policies
from retention.holds import HoldScope, parse_hold, parse_hold_scope
from retention.policies import (
    Period,
    RecordFacts,
    RuleError,
    cutoff_end,
    parse_period,
    parse_policy,
)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def policy(pid: str = "p1", **over: object):  # noqa: ANN201
    doc = {"name": pid, "schedule_code": "GRS 6.4 item 020",
           "authority": "DAA-GRS-2016-0005-0002", "period": {"amount": 90, "unit": "days"},
           "trigger": "captured", "action": "destroy"}
    doc.update(over)
    return parse_policy(doc, policy_id=pid)


def record(seq: int = 1, **over: object) -> RecordFacts:
    base = {"seq": seq, "platform": "mastodon", "account": "a", "kind": "post",
            "event": "created", "captured": at("2024-03-01T12:00:00")}
    base.update(over)
    return RecordFacts(**base)  # type: ignore[arg-type]


def hold(hid: str = "h1", placed: str = "2020-01-01T00:00:00", **scope: object):  # noqa: ANN201
    return parse_hold({"matter_name": "Doe v. City", "matter_number": "1", "scope": scope},
                      hold_id=hid, placed_by="counsel", placed_at=at(placed))


def test_a_months_period_clamps_to_the_end_of_a_shorter_month() -> None:
    assert Period(1, "months").after(at("2024-01-31T10:00:00")) == at("2024-02-29T10:00:00")
    assert Period(1, "years").after(at("2024-02-29T00:00:00")) == at("2025-02-28T00:00:00")


def test_a_permanent_period_never_ends() -> None:
    assert parse_period({"unit": "permanent"}).after(at("2024-01-01T00:00:00")) is None


@pytest.mark.parametrize("bad", [{"amount": -1, "unit": "days"}, {"amount": 201, "unit": "years"},
                                 {"amount": 1.5, "unit": "days"}, {"amount": 3, "unit": "weeks"},
                                 {"amount": 3}, {"unit": "permanent", "amount": 5}])
def test_negative_absurd_or_malformed_periods_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(RuleError, match="period"):
        parse_period(bad)


def test_an_unknown_trigger_or_action_is_refused_with_its_name() -> None:
    with pytest.raises(RuleError, match="trigger: 'uploaded'"):
        policy(trigger="uploaded")
    with pytest.raises(RuleError, match="action"):
        policy(action="shred")


def test_calendar_cutoff_starts_the_period_at_the_next_first_of_january() -> None:
    assert cutoff_end(at("2024-03-01T00:00:00"), "calendar_year") == at("2025-01-01T00:00:00")
    p = policy(period={"amount": 1, "unit": "years"}, cutoff="calendar_year")
    assert p.due_at(record()) == at("2026-01-01T00:00:00")


def test_fiscal_cutoff_uses_the_configured_first_month() -> None:
    # US federal fiscal year (October): FY2024 ends on 30 September 2024.
    assert cutoff_end(at("2024-03-01T00:00:00"), "fiscal_year", 10) == at("2024-10-01T00:00:00")
    assert cutoff_end(at("2024-11-01T00:00:00"), "fiscal_year", 10) == at("2025-10-01T00:00:00")
    # Washington State: 1 July.
    assert cutoff_end(at("2024-07-01T00:00:00"), "fiscal_year", 7) == at("2025-07-01T00:00:00")


def test_published_trigger_falls_back_to_capture_when_no_publication_time() -> None:
    p = policy(trigger="published", period={"amount": 10, "unit": "days"})
    assert p.due_at(record(published=at("2024-01-01T00:00:00"))) == at("2024-01-11T00:00:00")
    assert p.due_at(record()) == at("2024-03-11T12:00:00")


def test_deleted_and_account_triggers_keep_the_record_until_they_happen() -> None:
    gone = policy(trigger="deleted_on_platform", period={"amount": 0, "unit": "days"})
    closed = policy("p2", trigger="account_event", account_event="closed",
                    period={"amount": 0, "unit": "days"})
    now = at("2030-01-01T00:00:00")
    kept = due([record()], [gone], [], now).kept[0]
    assert "deleted_on_platform has not happened" in kept.reason
    assert due([record(deleted_on_platform=at("2025-01-01T00:00:00"))], [gone], [], now).destroy
    assert due([record()], [closed], [], now).kept
    assert due([record(account_events={"closed": at("2025-01-01T00:00:00")})], [closed], [],
               now).destroy


def test_nothing_is_due_under_a_policy_before_its_effective_date() -> None:
    p = policy(period={"amount": 0, "unit": "days"}, effective_from="2027-01-01")
    assert due([record()], [p], [], at("2026-12-31T00:00:00")).kept
    assert due([record()], [p], [], at("2027-01-01T00:00:00")).destroy


def test_the_longest_retention_wins_and_its_action_applies() -> None:
    short = policy("short", period={"amount": 30, "unit": "days"}, action="destroy")
    long = policy("long", period={"amount": 2, "unit": "years"}, action="review")
    result = due([record()], [short, long], [], at("2025-01-01T00:00:00"))
    assert result.kept[0].policy_id == "long"
    result = due([record()], [short, long], [], at("2026-03-01T12:00:00"))
    assert [d.policy_id for d in result.review] == ["long"]


def test_a_permanent_policy_keeps_a_record_whatever_else_covers_it() -> None:
    result = due([record()], [policy(), policy("perm", period={"unit": "permanent"})], [],
                 at("2099-01-01T00:00:00"))
    assert result.kept and "permanent" in result.kept[0].reason


def test_an_uncovered_record_is_kept_and_counted() -> None:
    result = due([record(platform="x")], [policy(scope={"platforms": ["bluesky"]})], [],
                 at("2099-01-01T00:00:00"))
    assert result.kept[0].reason.startswith("uncovered") and result.uncovered == 1


def test_overlapping_policies_that_disagree_are_reported() -> None:
    a = policy("a", scope={"kinds": ["post"]})
    b = policy("b", scope={"platforms": ["mastodon"]}, period={"amount": 1, "unit": "years"})
    c = policy("c", scope={"kinds": ["comment"]}, period={"amount": 1, "unit": "years"})
    assert overlapping_policies([a, b, c]) == [("a", "b")]  # b and c agree
    result = due([record()], [a, b, c], [], at("2099-01-01T00:00:00"))
    assert dict(result.overlaps) == {("a", "b"): 1}


def test_a_held_record_is_not_due_and_names_every_hold_on_it() -> None:
    holds = [hold("h1", platforms=["mastodon"]), hold("h2", accounts=["a"]),
             hold("h3", accounts=["other"])]
    result = due([record()], [policy(period={"amount": 0, "unit": "days"})], holds,
                 at("2099-01-01T00:00:00"))
    assert not result.destroy and result.held[0].hold_ids == ("h1", "h2")


def test_a_hold_covers_records_captured_after_it_was_placed() -> None:
    h = hold(placed="2020-01-01T00:00:00", accounts=["a"])
    later = record(captured=at("2025-06-01T00:00:00"))
    assert due([later], [policy(period={"amount": 0, "unit": "days"})], [h],
               at("2099-01-01T00:00:00")).held


def test_a_released_hold_no_longer_holds() -> None:
    h = hold(accounts=["a"])
    released = type(h)(**{**{f: getattr(h, f) for f in h.__slots__},
                          "released_at": at("2024-06-01T00:00:00"), "released_by": "counsel"})
    p = policy(period={"amount": 0, "unit": "days"})
    assert due([record()], [p], [released], at("2024-05-31T00:00:00")).held
    assert due([record()], [p], [released], at("2024-06-01T00:00:00")).destroy


def test_a_hold_date_range_applies_to_publication_unless_capture_is_asked() -> None:
    r = record(published=at("2023-01-01T00:00:00"), captured=at("2024-03-01T00:00:00"))
    by_published = hold(date_from="2023-01-01", date_to="2023-01-31")
    by_captured = hold(date_from="2023-01-01", date_to="2023-01-31", date_field="captured")
    assert by_published.covers(r, None) and not by_captured.covers(r, None)


def test_a_query_hold_covers_what_the_query_matched_or_everything_if_unevaluated() -> None:
    h = hold(query="flood", platforms=["mastodon"])
    assert h.covers(record(seq=1), frozenset({1}))
    assert not h.covers(record(seq=2), frozenset({1}))
    assert h.covers(record(seq=2), None)  # the caller could not ask the index: keep more


@pytest.mark.parametrize("scope", [{}, {"accounts": []}, {"query": "  "},
                                   {"date_field": "captured"}])
def test_a_hold_with_an_empty_scope_is_refused(scope: dict[str, object]) -> None:
    with pytest.raises(RuleError, match="empty scope"):
        parse_hold_scope(scope)


def test_a_hold_date_range_must_not_be_inverted() -> None:
    with pytest.raises(RuleError, match="after"):
        parse_hold_scope({"date_from": "2024-02-01", "date_to": "2024-01-01"})
    assert parse_hold_scope({"date_to": "2024-01-31"}).date_to == at("2024-01-31T23:59:59.999999")
    assert HoldScope(accounts=frozenset({"a"})).empty is False


def test_text_in_any_language_survives_a_policy_byte_for_byte() -> None:
    name = "Maoni ya umma — نظرات‌عمومی — Javni komentarji"
    assert policy(name=name).as_dict()["name"] == name
