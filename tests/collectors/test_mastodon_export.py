"""The Mastodon account export reader: outbox.json (bare, in a zip, in a tar.gz) ->
observations with the activity whole in raw; anything else -> a clear InvalidRequest."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from pathlib import Path

import pytest

from archiver.collectors.exports.mastodon import read_export
from archiver.collectors.mastodon import status_text
from archiver.errors import InvalidRequest
from tests.collectors.mastodon_replay import (
    ACTOR,
    actor,
    announce_activity,
    at,
    note_activity,
    outbox,
)

FA = "اطلاع‌رسانی: مسیر رفت‌وآمد اتوبوس ۱۲ تغییر کرد."
SL = "Obvestilo: čistilna akcija v soboto, žoge in šotori so dobrodošli. 🧹"
POST_HTML = f"<p>{SL}</p><p>Več: <a href=\"https://wrenfield.example\">wrenfield.example</a></p>"
IMAGE = {"type": "Document", "mediaType": "image/jpeg",
         "url": "/media_attachments/files/112/060/182/original/3f9c1d2ab7e04a61.jpg",
         "name": "Volunteers at the river", "blurhash": "UFBWY:8_0Jxv", "width": 1200,
         "height": 800}


def items() -> list[dict]:
    post = note_activity("112060198503477832", at(48), POST_HTML, language="sl",
                         attachment=[IMAGE])
    reply = note_activity("112060473271901337", at(47), f"<p>{FA}</p>", language="fa",
                          in_reply_to=f"{ACTOR}/statuses/112060198503477832",
                          summary="Promet")
    remote = note_activity("112060500000000000", at(46), "<p>Thanks!</p>",
                           in_reply_to="https://mstdn.example/users/dana_p/statuses/42")
    boost = announce_activity("112060600000000000", at(45),
                              "https://mstdn.example/users/dana_p/statuses/43")
    return [post, reply, remote, boost]


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def dumps(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode()


def test_a_bare_outbox_gives_posts_replies_and_boosts_with_raw_kept(tmp_path):
    acts = items()
    path = tmp_path / "outbox.json"
    path.write_bytes(dumps(outbox(acts)))
    got = list(read_export(path))
    assert [(o.item_id, o.kind, o.parent_id) for o in got] == [
        ("112060198503477832", "post", None),
        ("112060473271901337", "reply", "112060198503477832"),
        ("112060500000000000", "reply", "https://mstdn.example/users/dana_p/statuses/42"),
        ("112060600000000000", "boost", None)]
    post, reply, _, boost = got
    assert post.text == f"{SL}\n\nVeč: wrenfield.example" and post.lang == "sl"
    assert post.media == [{"id": None, "url": IMAGE["url"], "mime": "image/jpeg",
                           "alt": "Volunteers at the river"}]
    assert post.published_at == "2024-03-12T12:00:00.000000Z"
    assert post.url == "https://social.wrenfield.example/@city/112060198503477832"
    assert reply.text == f"Promet\n\n{FA}" and "\u200c" in reply.text
    assert (boost.text, boost.url) == (None, "https://mstdn.example/users/dana_p/statuses/43")
    assert [o.raw for o in got] == acts
    assert {o.account for o in got} == {ACTOR} and {o.platform for o in got} == {"mastodon"}


def test_text_is_the_same_as_the_rest_collectors_for_the_same_html(tmp_path):
    path = tmp_path / "outbox.json"
    path.write_bytes(dumps(outbox(items())))
    assert next(read_export(path)).text == status_text("", POST_HTML)


def test_the_export_zip_is_read_with_the_actor_as_author(tmp_path):
    path = write_zip(tmp_path / "archive-20240315.zip", {
        "outbox.json": dumps(outbox(items())), "actor.json": dumps(actor()),
        "likes.json": b"{}", "media_attachments/files/x.jpg": b"\xff\xd8"})
    got = list(read_export(path))
    assert len(got) == 4
    assert got[0].author == {"id": ACTOR, "handle": "city", "name": "City of Wrenfield"}


def test_an_older_tar_gz_export_is_read_too(tmp_path):
    path = tmp_path / "archive.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        for name, data in {"outbox.json": dumps(outbox(items())),
                           "actor.json": dumps(actor())}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    assert [o.kind for o in read_export(path)] == ["post", "reply", "reply", "boost"]


def test_the_account_named_by_the_import_is_used(tmp_path):
    path = tmp_path / "outbox.json"
    path.write_bytes(dumps(outbox(items())))
    assert {o.account for o in read_export(path, account="109341573128883396")} == \
        {"109341573128883396"}


@pytest.mark.parametrize(("content", "says"), [
    (b"<html>not an export</html>", "not JSON"),
    (dumps({"type": "OrderedCollection"}), "'orderedItems'"),
    (dumps(outbox([{**note_activity("1", at(1), "x"), "object": "just a uri"}])),
     r"orderedItems\[0\]\.object: expected a JSON object"),
    (dumps(outbox([{k: v for k, v in note_activity("1", at(1), "<p>x</p>").items()}
                   | {"object": {**note_activity("1", at(1), "x")["object"],
                                 "published": "last tuesday"}}])),
     r"orderedItems\[0\]\.object: 'published'"),
    (dumps(outbox([{"type": 5}])), "'type' must be a non-empty string"),
    (dumps(outbox([{"type": "Create", "object": {}}])), "'actor' is missing"),
])
def test_a_file_that_is_not_an_export_is_refused_with_the_reason(tmp_path, content, says):
    path = tmp_path / "outbox.json"
    path.write_bytes(content)
    with pytest.raises(InvalidRequest, match=says):
        list(read_export(path))


def test_a_zip_without_an_outbox_is_refused(tmp_path):
    path = write_zip(tmp_path / "x.zip", {"data/tweets.js": b"window.YTD = []"})
    with pytest.raises(InvalidRequest, match="no outbox.json"):
        list(read_export(path))


def test_nothing_is_yielded_before_the_whole_outbox_is_checked(tmp_path):
    bad = [*items(), {"type": "Create", "object": {"type": "Note"}}]
    path = tmp_path / "outbox.json"
    path.write_bytes(dumps(outbox(bad)))
    reader = read_export(path)
    with pytest.raises(InvalidRequest, match=r"orderedItems\[4\]"):
        next(reader)


def test_other_activities_are_skipped_and_a_single_attachment_object_is_read(tmp_path):
    note = note_activity("112060198503477832", at(48), "<p>x</p>")
    note["object"]["attachment"] = IMAGE           # JSON-LD: one value, not a list
    follow = {"id": f"{ACTOR}#follows/1", "type": "Follow", "actor": ACTOR,
              "object": "https://mstdn.example/users/dana_p"}
    path = tmp_path / "outbox.json"
    path.write_bytes(dumps(outbox([follow, note])))
    [obs] = list(read_export(path))
    assert obs.media[0]["mime"] == "image/jpeg"


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(InvalidRequest, match="no such file"):
        list(read_export(tmp_path / "nope.zip"))
