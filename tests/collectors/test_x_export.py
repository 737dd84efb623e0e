"""The X account archive import: the zip's posts, edit chains and deletions as observations.

Archives are written here in the shapes X's archive uses (`window.YTD.<name>.partN = [...]`
files under `data/`, v1.1-shaped posts); nothing recorded is copied.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from archiver.catalog import schema as t
from archiver.collectors.exports import x as xexport
from archiver.collectors.exports.x import read_export
from archiver.collectors.exports_cli import import_export
from archiver.errors import InvalidRequest
from tests.collectors.e2e_support import local_backend  # noqa: F401 - fixture: backend_env

ACCOUNT_ID = "1589327646410244096"
GENERATED = "2024-03-20T08:15:02.000Z"
FA = "@WrenfieldCity ممنون از اطلاع‌رسانی به فارسی. سرویس رفت‌وآمد هم هست؟"
SW = "Taarifa: Barabara ya Kingfisher imefungwa. #MafurikoWrenfield"
SL = "Obvestilo: čistilna akcija v soboto ob 9h 🧹 &amp; piknik"


def ytd(name: str, part: int, items: list[Any]) -> str:
    return f"window.YTD.{name}.part{part} = " + json.dumps(items, ensure_ascii=False,
                                                           indent=2)


def tweet(post_id: str, text: str, created: str, **extra: Any) -> dict[str, Any]:
    """A post as the archive writes it (v1.1 shape, numbers as strings)."""
    return {"tweet": {
        "edit_info": {"initial": {"editTweetIds": [post_id],
                                  "editableUntil": "2024-03-12T08:10:33.000Z",
                                  "editsRemaining": "5", "isEditEligible": True}},
        "retweeted": False,
        "source": '<a href="https://mobile.twitter.com" rel="nofollow">Twitter Web App</a>',
        "entities": {"hashtags": [], "symbols": [], "user_mentions": [], "urls": []},
        "display_text_range": ["0", str(len(text))],
        "favorite_count": "4", "id_str": post_id, "truncated": False, "retweet_count": "1",
        "id": post_id, "created_at": created, "favorited": False, "full_text": text,
        "lang": "en", **extra}}


ACCOUNT = ytd("account", 0, [{"account": {
    "email": "comms@wrenfield.example", "createdVia": "web", "username": "WrenfieldCity",
    "accountId": ACCOUNT_ID, "createdAt": "2022-11-06T19:04:14.000Z",
    "accountDisplayName": "City of Wrenfield"}}])
MANIFEST = "window.__THAR_CONFIG = " + json.dumps({
    "userInfo": {"accountId": ACCOUNT_ID, "userName": "WrenfieldCity",
                 "displayName": "City of Wrenfield"},
    "archiveInfo": {"sizeBytes": "1048576", "generationDate": GENERATED,
                    "isPartialArchive": False, "maxPartSizeBytes": "53687091200"}})


def make_zip(tmp_path: Path, files: dict[str, str | bytes], name: str = "x.zip") -> Path:
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for member, content in files.items():
            zf.writestr(member, content)
    return path


def archive_zip(tmp_path: Path, tweets: list[dict[str, Any]], **more: str) -> Path:
    files = {"data/account.js": ACCOUNT, "data/manifest.js": MANIFEST,
             "data/tweets.js": ytd("tweets", 0, tweets)}
    files.update({f"data/{k.replace('_', '-')}.js": v for k, v in more.items()})
    return make_zip(tmp_path, files)


def test_posts_become_observations_with_the_entry_whole_in_raw(tmp_path: Path) -> None:
    sw = tweet("1766102861576025791", SW, "Sat Mar 09 07:10:33 +0000 2024", lang="sw")
    sl = tweet("1766117371448209876", SL, "Sat Mar 09 08:08:12 +0000 2024", lang="sl")

    [a, b] = list(read_export(archive_zip(tmp_path, [sl, sw])))

    assert (a.item_id, b.item_id) == ("1766102861576025791", "1766117371448209876")
    assert a.platform == "x" and a.account == ACCOUNT_ID and a.kind == "post"
    assert a.text == SW and a.lang == "sw" and a.parent_id is None and a.event is None
    assert b.text == "Obvestilo: čistilna akcija v soboto ob 9h 🧹 & piknik"
    assert a.author == {"id": ACCOUNT_ID, "handle": "WrenfieldCity",
                        "name": "City of Wrenfield"}
    assert a.published_at == "2024-03-09T07:10:33.000000Z"
    assert a.observed_at == "2024-03-20T08:15:02.000000Z"      # when X generated it
    assert a.url == "https://x.com/WrenfieldCity/status/1766102861576025791"
    assert a.raw == sw and b.raw == sl


def test_a_reply_keeps_persian_text_with_its_zwnj_and_its_parent(tmp_path: Path) -> None:
    reply = tweet("1768216481472746083", FA, "Thu Mar 14 10:03:55 +0000 2024", lang="fa",
                  in_reply_to_status_id_str="1768210570030782900",
                  in_reply_to_user_id_str="1220458301937664000")

    [obs] = read_export(archive_zip(tmp_path, [reply]))

    assert obs.kind == "reply" and obs.parent_id == "1768210570030782900"
    assert obs.text == FA and "\u200c" in obs.text


def test_split_parts_are_all_read(tmp_path: Path) -> None:
    path = make_zip(tmp_path, {
        "data/account.js": ACCOUNT,
        "data/tweets.js": ytd("tweets", 0, [tweet("1766102861576025791", SW,
                                                  "Sat Mar 09 07:10:33 +0000 2024")]),
        "data/tweets-part1.js": ytd("tweets", 1, [tweet("1666102861576025791", SL,
                                                        "Wed Jun 07 00:00:00 +0000 2023")]),
    })

    items = [o.item_id for o in read_export(path)]

    assert items == ["1666102861576025791", "1766102861576025791"]


def test_without_a_manifest_a_post_is_observed_when_it_was_written(tmp_path: Path) -> None:
    path = make_zip(tmp_path, {"data/account.js": ACCOUNT, "data/tweets.js": ytd(
        "tweets", 0, [tweet("1766102861576025791", SW, "Sat Mar 09 07:10:33 +0000 2024")])})

    [obs] = read_export(path)

    assert obs.observed_at == "2024-03-09T07:10:33.000000Z"


def test_an_older_archive_with_tweet_js_and_a_top_folder_is_read(tmp_path: Path) -> None:
    path = make_zip(tmp_path, {
        "twitter-2022-11-01-abc/data/account.js": ACCOUNT,
        "twitter-2022-11-01-abc/data/tweet.js": ytd("tweet", 0, [tweet(
            "1587000000000000000", SW, "Mon Oct 31 09:00:00 +0000 2022")]),
    })

    assert [o.item_id for o in read_export(path)] == ["1587000000000000000"]


def test_an_edit_chain_is_one_item_with_its_versions_oldest_first(tmp_path: Path) -> None:
    first = tweet("1766102861576025791", "Road closed until Friday",
                  "Sat Mar 09 07:10:33 +0000 2024")
    first["tweet"]["edit_info"]["initial"]["editTweetIds"] = [
        "1766102861576025791", "1766105000000000000"]
    later = tweet("1766105000000000000", "Road closed until Saturday",
                  "Sat Mar 09 07:19:03 +0000 2024")
    later["tweet"]["edit_info"] = {"edit": {
        "initialTweetId": "1766102861576025791",
        "editControlInitial": {"editTweetIds": ["1766102861576025791",
                                                "1766105000000000000"],
                               "editableUntil": "2024-03-09T08:10:33.000Z",
                               "editsRemaining": "4", "isEditEligible": True}}}

    v1, v2 = read_export(archive_zip(tmp_path, [later, first]))

    assert v1.item_id == v2.item_id == "1766102861576025791"
    assert (v1.text, v2.text) == ("Road closed until Friday", "Road closed until Saturday")
    assert v1.observed_at == "2024-03-09T07:10:33.000000Z"
    assert v2.observed_at == "2024-03-20T08:15:02.000000Z"
    assert v1.published_at == v2.published_at == "2024-03-09T07:10:33.000000Z"
    assert v2.url.endswith("/status/1766105000000000000") and v2.raw == later


def test_media_are_referenced_with_the_apis_media_keys(tmp_path: Path) -> None:
    photo = {"id_str": "1766102855000000000", "type": "photo",
             "media_url_https": "https://pbs.twimg.com/media/GIQeRr8XcAA1.jpg",
             "ext_alt_text": "Ramani ya barabara"}
    video = {"id_str": "1766102856000000000", "type": "video",
             "media_url_https": "https://pbs.twimg.com/ext_tw_video_thumb/1/pu/img/a.jpg",
             "video_info": {"aspect_ratio": ["16", "9"], "variants": [
                 {"bitrate": "256000", "content_type": "video/mp4",
                  "url": "https://video.twimg.com/ext_tw_video/1/pu/vid/480x270/a.mp4"},
                 {"content_type": "application/x-mpegURL",
                  "url": "https://video.twimg.com/ext_tw_video/1/pu/pl/a.m3u8"},
                 {"bitrate": "2176000", "content_type": "video/mp4",
                  "url": "https://video.twimg.com/ext_tw_video/1/pu/vid/1280x720/b.mp4"}]}}
    post = tweet("1766102861576025791", SW + " https://t.co/abc",
                 "Sat Mar 09 07:10:33 +0000 2024",
                 extended_entities={"media": [photo, video]})

    [obs] = read_export(archive_zip(tmp_path, [post]))

    assert obs.media == [
        {"id": "3_1766102855000000000", "url": "https://pbs.twimg.com/media/GIQeRr8XcAA1.jpg",
         "mime": "image/jpeg", "alt": "Ramani ya barabara"},
        {"id": "7_1766102856000000000",
         "url": "https://video.twimg.com/ext_tw_video/1/pu/vid/1280x720/b.mp4",
         "mime": "video/mp4", "alt": None}]


def test_a_deleted_post_gives_its_content_then_its_deletion(tmp_path: Path) -> None:
    gone = tweet("1766117371448209876", SL, "Sat Mar 09 08:08:12 +0000 2024",
                 deleted_at="Sat Mar 09 14:00:00 +0000 2024")
    path = archive_zip(tmp_path, [], deleted_tweets=ytd("deleted_tweets", 0, [gone]))

    content, deletion = read_export(path)

    assert content.item_id == deletion.item_id == "1766117371448209876"
    assert content.event is None and content.observed_at == "2024-03-09T08:08:12.000000Z"
    assert deletion.event == "deleted" and deletion.raw == gone
    assert deletion.observed_at == "2024-03-09T14:00:00.000000Z"


def test_an_unpaired_surrogate_becomes_a_replacement_character(tmp_path: Path) -> None:
    js = ytd("tweets", 0, [tweet("1766102861576025791", "RT @mayor: Mafuriko PLACE",
                                 "Sat Mar 09 07:10:33 +0000 2024")])
    path = make_zip(tmp_path, {"data/account.js": ACCOUNT,
                               "data/tweets.js": js.replace("PLACE", "\\ud83c")})

    [obs] = read_export(path)

    assert obs.text == "RT @mayor: Mafuriko \ufffd"


# -- what is not an X archive -----------------------------------------------------------


@pytest.mark.parametrize(("files", "message"), [
    ({"outbox.json": "{}"}, "it has no data/tweets.js"),
    ({"data/tweets.js": ytd("tweets", 0, [])}, "it has no data/account.js"),
    ({"data/account.js": ACCOUNT, "data/tweets.js": "var tweets = []"},
     "does not start with 'window.YTD"),
    ({"data/account.js": ACCOUNT, "data/tweets.js": ytd("like", 0, [])},
     "holds window.YTD.like"),
    ({"data/account.js": ACCOUNT, "data/tweets.js": "window.YTD.tweets.part0 = [{\"tw"},
     "not JSON after the assignment"),
    ({"data/account.js": ACCOUNT, "data/tweets.js": "window.YTD.tweets.part0 = {}"},
     "the assignment is not a list"),
    ({"data/account.js": ACCOUNT,
      "data/tweets.js": ytd("tweets", 0, [{"tweet": {"id_str": 17, "full_text": "x"}}])},
     r"data/tweets.js\[0\]: id_str is not a numeric id"),
    ({"data/account.js": ACCOUNT, "data/tweets.js": ytd("tweets", 0, [
        tweet("1766102861576025791", "x", "yesterday")])}, "'yesterday' is not a time"),
    ({"data/account.js": ACCOUNT, "data/tweets.js": ytd("tweets", 0, [
        tweet("1766102861576025791", "x", "Sat Mar 09 07:10:33 +0000 2024",
              in_reply_to_status_id_str="@someone")])}, "in_reply_to_status_id_str"),
    ({"data/account.js": ytd("account", 0, [{"account": {"username": "a"}}]),
      "data/tweets.js": ytd("tweets", 0, [])}, "accountId is not a numeric id"),
    ({"data/account.js": ACCOUNT, "data/tweets.js": b"window.YTD.tweets.part0 = [\xff]"},
     "not UTF-8"),
])
def test_a_zip_that_is_not_an_x_archive_is_refused_clearly(tmp_path, files, message) -> None:
    with pytest.raises(InvalidRequest, match=message):
        list(read_export(make_zip(tmp_path, files)))


def test_a_file_that_is_not_a_zip_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "tweets.js"
    path.write_text(ytd("tweets", 0, []))
    with pytest.raises(InvalidRequest, match="not a zip file"):
        list(read_export(path))


def test_a_member_larger_than_the_limit_is_refused_before_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(xexport, "MAX_MEMBER_BYTES", 64 * 1024)
    bomb = "window.YTD.tweets.part0 = [" + " " * (10 * 1024 * 1024) + "]"  # deflates to ~10 KB
    path = make_zip(tmp_path, {"data/account.js": ACCOUNT, "data/tweets.js": bomb})
    assert path.stat().st_size < 64 * 1024

    with pytest.raises(InvalidRequest, match="more than the 65536-byte limit"):
        list(read_export(path))


def test_a_member_whose_header_understates_its_size_is_refused(tmp_path, monkeypatch):
    path = make_zip(tmp_path, {"data/account.js": ACCOUNT,
                               "data/tweets.js": ytd("tweets", 0, []) + " " * 200_000})
    real_getinfo = zipfile.ZipFile.getinfo

    def lying(self, name):  # noqa: ANN001, ANN202 - the directory claims 40 bytes
        info = real_getinfo(self, name)
        if name.endswith("tweets.js"):
            info.file_size = 40
        return info

    monkeypatch.setattr(zipfile.ZipFile, "getinfo", lying)
    with pytest.raises(InvalidRequest, match="data/tweets.js: damaged in the zip"):
        list(read_export(path))


def test_the_archives_files_are_capped_together(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(xexport, "MAX_TOTAL_BYTES", 1000)
    posts = [tweet(str(1766102861576025791 + i), SW, "Sat Mar 09 07:10:33 +0000 2024")
             for i in range(5)]
    with pytest.raises(InvalidRequest, match="add up to more than 1000 bytes"):
        list(read_export(archive_zip(tmp_path, posts)))


# -- through `archiver import` -----------------------------------------------------------


def events(archive: Any) -> list[tuple[str, str, str]]:
    with archive.catalog.reader() as conn:
        rows = conn.execute(select(t.records.c.event, t.records.c.kind, t.records.c.item_id)
                            .where(t.records.c.type == "capture")
                            .order_by(t.records.c.seq)).all()
    return [tuple(r) for r in rows]


def test_an_import_archives_every_item_once_as_observed(archive, tmp_path: Path) -> None:
    first = tweet("1766102861576025791", "Road closed until Friday",
                  "Sat Mar 09 07:10:33 +0000 2024")
    later = tweet("1766105000000000000", "Road closed until Saturday",
                  "Sat Mar 09 07:19:03 +0000 2024")
    later["tweet"]["edit_info"] = {"edit": {"initialTweetId": "1766102861576025791"}}
    reply = tweet("1768216481472746083", FA, "Thu Mar 14 10:03:55 +0000 2024",
                  in_reply_to_status_id_str="1766105000000000000")
    gone = tweet("1766117371448209876", SL, "Sat Mar 09 08:08:12 +0000 2024",
                 deleted_at="2024-03-09T14:00:00.000Z")
    path = archive_zip(tmp_path, [first, later, reply],
                       deleted_tweets=ytd("deleted_tweets", 0, [gone]))

    summary = import_export(archive, "x", path)

    assert events(archive) == [
        ("observed", "post", "1766102861576025791"),
        ("edited", "post", "1766102861576025791"),
        ("observed", "post", "1766117371448209876"),
        ("deleted", "post", "1766117371448209876"),
        ("observed", "reply", "1768216481472746083"),
    ]
    assert summary.archived == 5
    with archive.catalog.reader() as conn:
        parent = conn.execute(select(t.items.c.parent_id).where(
            t.items.c.item_id == "1768216481472746083")).scalar_one()
    assert parent == "1766102861576025791"      # the answered version's chain
    again = import_export(archive, "x", path)
    assert again.archived == 0 and len(events(archive)) == 5


def test_a_bad_archive_imports_nothing(archive, tmp_path: Path) -> None:
    good = tweet("1766102861576025791", SW, "Sat Mar 09 07:10:33 +0000 2024")
    bad = {"tweet": {"id_str": "1766102861576025792"}}
    with pytest.raises(InvalidRequest, match="full_text is missing"):
        import_export(archive, "x", archive_zip(tmp_path, [good, bad]))
    assert events(archive) == []
