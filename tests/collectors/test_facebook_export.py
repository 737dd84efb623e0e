"""The Facebook "Download Your Information" JSON import: posts files read whole, Facebook's
Latin-1-escaped UTF-8 repaired byte for byte, items archived as `observed` once.

The shape is that of `posts/your_posts_1.json` in a JSON-format export (a list of posts
with `timestamp`, `data[].post`, `attachments[].data[].media`, `title`), written here
with the escaping Facebook applies (each UTF-8 byte as a `\\u00XX` escape).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from archiver.collectors import accounts as acc
from archiver.collectors.exports.facebook import UNKNOWN_ACCOUNT, read_export, repair
from archiver.collectors.exports_cli import import_export
from archiver.errors import InvalidRequest
from tests.collectors.e2e_support import (  # noqa: F401 - fixture: backend_env
    captures_after,
    cli,
    head,
    last_payload,
    local_backend,
)
from tests.collectors.facebook_replay import PAGE_ID

FA = "اطلاع‌رسانی: مسیر رفت‌وآمد اتوبوس ۱۲ تغییر کرد."
SL = "Obvestilo: čistilna akcija v soboto. Žoge in šotori dobrodošli. 🌧️"
SW = "Taarifa: Barabara ya Kingfisher imefungwa."


def mangle(value: Any) -> Any:
    """What Facebook does to every string: its UTF-8 bytes as Latin-1 characters."""
    if isinstance(value, str):
        return value.encode("utf-8").decode("latin-1")
    if isinstance(value, list):
        return [mangle(v) for v in value]
    if isinstance(value, dict):
        return {mangle(k): mangle(v) for k, v in value.items()}
    return value


def post(text: str | None, stamp: int, title: str = "City of Wrenfield updated their status.",
         photo: str | None = None) -> dict[str, Any]:
    p: dict[str, Any] = {"timestamp": stamp, "data": [], "title": title}
    if text is not None:
        p["data"] = [{"post": text}, {"update_timestamp": stamp + 60}]
    if photo:
        p["attachments"] = [{"data": [{"media": {
            "uri": f"posts/media/Timeline photos/{photo}", "creation_timestamp": stamp,
            "description": "Mafuriko", "title": "Timeline photos"}}]}]
    return p


def export(tmp_path: Path, *files: list[dict[str, Any]], name: str = "dyi.zip") -> Path:
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as zf:
        for n, posts in enumerate(files, start=1):
            zf.writestr(f"your_facebook_activity/posts/your_posts_{n}.json",
                        json.dumps(mangle(posts)))   # ASCII: \u00XX escapes, as Facebook
        zf.writestr("your_facebook_activity/posts/album/0.json", "{}")
    return path


def test_mangled_persian_and_slovenian_text_is_repaired_exactly(tmp_path):
    path = export(tmp_path, [post(FA, 1710410635), post(SL, 1710410000, photo="1.jpg")])
    assert b"\\u00d8" in zipfile.ZipFile(path).read(
        "your_facebook_activity/posts/your_posts_1.json")   # really written mangled

    items = list(read_export(path))

    assert [o.text for o in items] == [FA, SL]
    assert "\u200c" in items[0].text
    assert items[1].media == [{"id": None, "url": "posts/media/Timeline photos/1.jpg",
                               "mime": None, "alt": "Mafuriko"}]
    assert items[0].published_at == "2024-03-14T10:03:55.000000Z"
    assert {o.account for o in items} == {UNKNOWN_ACCOUNT}


def test_a_string_that_is_already_right_is_left_as_it_is():
    assert repair("café") == "café" and repair(FA) == FA
    assert repair(mangle({"t": SL})) == {"t": SL}


def test_posts_at_the_same_second_with_the_same_title_get_distinct_ids(tmp_path):
    items = list(read_export(export(tmp_path, [post(SW, 1710410635), post(SL, 1710410635)])))
    assert len({o.item_id for o in items}) == 2
    assert items[0].item_id.startswith("dyi:1710410635:")


def test_files_are_read_in_number_order_and_a_bare_posts_file_works(tmp_path):
    zipped = export(tmp_path, [post(SW, 3)], [post(SL, 2)], [post(FA, 1)])
    assert [o.text for o in read_export(zipped)] == [SW, SL, FA]
    bare = tmp_path / "your_posts_1.json"
    bare.write_text(json.dumps(mangle([post(FA, 5)])))
    assert [o.text for o in read_export(bare)] == [FA]


@pytest.mark.parametrize("content,message", [
    ({"not": "posts", "n": 1}, "a JSON list of posts"),
    ([{"timestamp": "yesterday", "data": []}], "epoch seconds"),
    ([{"timestamp": 1710410635, "data": [{"post": 7}]}], "must be a string"),
    ([17], "must be an object"),
], ids=["not-a-list", "bad-timestamp", "bad-text", "not-an-object"])
def test_a_bad_posts_file_is_refused_naming_the_post(tmp_path, content, message):
    path = tmp_path / "your_posts_1.json"
    path.write_text(json.dumps(content))
    with pytest.raises(InvalidRequest, match=message):
        list(read_export(path))


def test_a_zip_without_posts_files_is_refused(tmp_path):
    path = tmp_path / "other.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("messages/inbox/a.json", "[]")
    with pytest.raises(InvalidRequest, match="no posts/your_posts_N.json"):
        list(read_export(path))


def test_import_files_the_posts_under_the_page_as_observed_once(archive, tmp_path):
    account_id = acc.add_account(archive.appender, platform="facebook", platform_id=PAGE_ID,
                                 handle="WrenfieldCity",
                                 base_url="https://graph.facebook.com/v21.0").id
    path = export(tmp_path, [post(FA, 1710410635), post(SL, 1710410000)])
    before = head(archive)

    summary = import_export(archive, "facebook", path, account_id=account_id)

    captured = captures_after(archive, before)
    assert summary.archived == 2 and [e for e, _, _ in captured] == ["observed", "observed"]
    payload = last_payload(archive, captured[0][2])
    assert payload["account"] == PAGE_ID and payload["text"] == FA
    before = head(archive)
    assert import_export(archive, "facebook", path, account_id=account_id).archived == 0
    assert captures_after(archive, before) == []


def test_a_later_export_with_an_edited_text_is_an_edit(archive, tmp_path):
    import_export(archive, "facebook", export(tmp_path, [post(SW, 1710410635)], name="a.zip"))
    before = head(archive)

    import_export(archive, "facebook",
                  export(tmp_path, [post(SW + " (imesasishwa)", 1710410635)], name="b.zip"))

    assert [e for e, _, _ in captures_after(archive, before)] == ["edited"]


def test_the_command_line_imports_and_refuses_a_bad_file(archive, backend_env, capsys,
                                                         monkeypatch, tmp_path):
    for k, v in backend_env.items():
        monkeypatch.setenv(k, v)
    code, summary, _ = cli(capsys, "import", "facebook", str(export(tmp_path, [post(FA, 7)])))
    assert code == 0 and summary["events"]["observed"] == 1
    bad = tmp_path / "your_posts_1.json"
    bad.write_text("[{")
    code, _, out = cli(capsys, "import", "facebook", str(bad))
    assert code == 2 and "not valid JSON" in out


def test_imported_posts_inside_the_collectors_window_are_never_looked_up(archive, tmp_path):
    from datetime import UTC, datetime

    from tests.collectors.e2e_support import ago, quiet_transport, run
    from tests.collectors.facebook_replay import TOKEN, VERSION, FakePage
    from tests.replay.server import ReplayServer
    with ReplayServer() as server:
        page = FakePage(server)
        page.post(SW, ago(30))
        account_id = acc.add_account(archive.appender, platform="facebook",
                                     platform_id=PAGE_ID, handle="WrenfieldCity",
                                     base_url=f"{server.url}/{VERSION}",
                                     credentials={"access_token": TOKEN}).id
        recent = int(datetime.now(UTC).timestamp()) - 3600
        import_export(archive, "facebook", export(tmp_path, [post(FA, recent)]),
                      account_id=account_id)
        transports = quiet_transport()
        result, captured = run(archive, account_id, next(transports))
        transports.close()

    assert result.outcome == "ok", result.error
    assert [e for e, _, _ in captured] == ["created", "created"]   # the profile, the post
