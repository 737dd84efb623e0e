"""The public portal shows the chosen accounts' posts with their history and hides what the
rules hide: accounts not chosen, held and disposed records, hidden comments, commenters'
names; it is off by default and rate-limited per client address."""

from __future__ import annotations

from archiver.retention_store import place_hold
from tests.exports.conftest import ENGLISH, PERSIAN, PERSIAN_EDIT, SLOVENIAN, SWAHILI
from tests.portal.conftest import OTHER_TEXT

ITEM = "/public/items/mastodon/p1"


def _page(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def test_the_portal_is_off_by_default(portal):
    c = portal(ARCHIVER_PORTAL_ENABLED="0")
    assert c.get("/public/").status_code == 404
    assert c.get(ITEM).status_code == 404


def test_a_timeline_shows_the_accounts_posts_latest_text_exactly(portal):
    page = _page(portal().get("/public/accounts/mastodon/42"))
    assert PERSIAN_EDIT in page  # ZWNJ and kasra byte for byte
    assert SWAHILI not in page  # comments are under their post, not in the timeline


def test_a_permalink_shows_edits_deletions_and_comments_under_the_standing_rules(portal):
    page = _page(portal().get(ITEM))
    assert PERSIAN in page and PERSIAN_EDIT in page and "edited" in page
    assert SWAHILI in page and "Commenter (name withheld)" in page
    assert "deleted on the platform" in page and ENGLISH.split("\n")[0] in page
    assert SLOVENIAN not in page  # the account hid it


def test_comments_off_shows_none(portal):
    page = _page(portal(ARCHIVER_PORTAL_COMMENTS="0").get(ITEM))
    assert PERSIAN_EDIT in page and SWAHILI not in page


def test_an_account_not_chosen_is_a_404_showing_nothing(portal):
    c = portal()
    for url in ("/public/accounts/mastodon/99", "/public/items/mastodon/x1"):
        r = c.get(url)
        assert r.status_code == 404 and OTHER_TEXT not in r.get_data(as_text=True)
    assert OTHER_TEXT not in _page(c.get("/public/search?q=draft"))


def test_a_held_item_is_hidden_unless_its_hold_is_public(portal):
    c = portal()
    hold = place_hold(c.archive.appender, {"matter_name": "Doe v. City", "matter_number": "1",
                                           "reason": "litigation",
                                           "scope": {"accounts": ["42"]}}, "counsel")
    assert c.get(ITEM).status_code == 404
    assert PERSIAN_EDIT not in c.get("/public/accounts/mastodon/42").get_data(as_text=True)
    shown = portal(ARCHIVER_PORTAL_PUBLIC_HOLDS=hold["id"])
    assert PERSIAN_EDIT in _page(shown.get(ITEM))


def test_search_is_limited_to_the_public_set(portal):
    c = portal()
    assert PERSIAN_EDIT in _page(c.get("/public/search?q=هشدار"))
    assert SLOVENIAN not in _page(c.get("/public/search?q=poplavami"))


def test_requests_beyond_the_rate_are_429_with_retry_after(portal):
    c = portal(ARCHIVER_PORTAL_RATE_PER_MINUTE="2")
    assert [c.get("/public/").status_code for _ in range(3)] == [200, 200, 429]
    r = c.get("/public/")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1


def test_a_commenters_name_and_handle_are_withheld_but_the_comment_shown(portal):
    from archiver.records import parse_observation

    c = portal()
    c.archive.ingestor.ingest([parse_observation(
        {"platform": "mastodon", "account": "42", "item_id": "c9", "kind": "comment",
         "parent_id": "p1", "text": "Asante kwa taarifa!", "observed_at":
         "2026-11-20T11:00:00Z", "url": "https://social.example/@amina_m/c9",
         "author": {"id": "777", "handle": "amina_m", "name": "Amina Mwangi"}},
        max_text_bytes=100_000)])

    page = _page(c.get(ITEM))

    assert "Asante kwa taarifa!" in page
    assert "Amina Mwangi" not in page and "amina_m" not in page
    shown = _page(portal(ARCHIVER_PORTAL_HIDE_COMMENTER_NAMES="0").get(ITEM))
    assert "Amina Mwangi" in shown


def test_the_portal_settings_are_shown_to_admins_only(portal):
    from archiver.tokens import create_token

    c = portal()
    admin = create_token(c.archive.catalog, "a", ["admin"])[1]
    officer = create_token(c.archive.catalog, "o", ["records_officer"])[1]
    got = c.get("/api/v1/portal", headers={"Authorization": f"Bearer {admin}"})
    assert got.status_code == 200
    assert got.get_json()["accounts"] == ["mastodon:42"] and got.get_json()["enabled"]
    refused = c.get("/api/v1/portal", headers={"Authorization": f"Bearer {officer}"})
    assert refused.status_code == 403
