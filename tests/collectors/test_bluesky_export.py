"""A Bluesky repository export (CAR) -> observations, and `archiver import bluesky FILE`.

The CARs are built here with libipld (DAG-CBOR blocks, real CIDs, a real Merkle Search
Tree), in the shape `com.atproto.sync.getRepo` returns; nothing binary is checked in.
"""

from __future__ import annotations

from pathlib import Path

import libipld
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.collectors.exports.bluesky import read_export
from archiver.collectors.exports_cli import import_export
from archiver.errors import InvalidRequest
from archiver.records import Observation
from tests.collectors.bluesky_replay import (
    DID,
    build_repo_car,
    image_blob,
    record_cid,
)
from tests.collectors.e2e_support import (  # noqa: F401 - fixture: backend_env
    captures_after,
    local_backend,
)

SW = "Taarifa: Barabara ya Kingfisher imefungwa kutokana na mafuriko. 🌧️"
FA = "اطلاع‌رسانی: مسیر رفت‌وآمد اتوبوس ۱۲ تغییر کرد."
SL = "Obvestilo: čistilna akcija v soboto. Žoge in šotori dobrodošli. 🧹"
OTHER = "did:plc:amani7kq2swahili5rw3xyz"


def post(text: str, created: str, **extra) -> dict:
    return {"$type": "app.bsky.feed.post", "text": text, "createdAt": created, **extra}


def repo_records() -> dict[str, dict]:
    photo = image_blob("flood-map")
    # Blob refs are DAG-CBOR links in the repository: bytes, not {"$link": ...}.
    photo_cbor = {**photo, "ref": _cid_bytes(photo["ref"]["$link"])}
    return {
        "app.bsky.feed.post/3kni7hedytu3a": post(SW, "2024-03-12T07:10:33.000Z",
                                                 langs=["sw"]),
        "app.bsky.feed.post/3kni7xfa2bc2b": post(FA, "2024-03-12T08:00:00.000Z",
                                                 langs=["fa"]),
        "app.bsky.feed.post/3knj2abcde22c": post(SL, "2024-03-13T09:30:00+01:00",
                                                 langs=["sl"], embed={
            "$type": "app.bsky.embed.images",
            "images": [{"alt": "Zemljevid", "image": photo_cbor}]}),
        "app.bsky.feed.post/3knj3reply222": post(
            "Asante, Amani!", "2024-03-13T10:00:00.000Z", reply={
                "root": {"uri": f"at://{OTHER}/app.bsky.feed.post/3knabc",
                         "cid": "bafyreib2rxk3rybk3aobmv5cjuql3bm2twh4jo5uxgf5hwd5rxuqrz3gdq"},
                "parent": {"uri": f"at://{OTHER}/app.bsky.feed.post/3knabd",
                           "cid": "bafyreib2rxk3rybk3aobmv5cjuql3bm2twh4jo5uxgf5hwd5rxuqrz3gdq"}}),
        "app.bsky.feed.like/3knj4like2222": {
            "$type": "app.bsky.feed.like", "createdAt": "2024-03-13T11:00:00.000Z",
            "subject": {"uri": f"at://{OTHER}/app.bsky.feed.post/3knabc",
                        "cid": "bafyreib2rxk3rybk3aobmv5cjuql3bm2twh4jo5uxgf5hwd5rxuqrz3gdq"}},
        "app.bsky.actor.profile/self": {"$type": "app.bsky.actor.profile",
                                        "displayName": "City of Wrenfield"},
    }


def _cid_bytes(cid: str) -> bytes:
    info = libipld.decode_cid(cid)
    return bytes([0x01, info["codec"], 0x12, 0x20]) + info["hash"]["digest"]


@pytest.fixture
def car(tmp_path: Path) -> Path:
    path = tmp_path / "repo.car"
    path.write_bytes(build_repo_car(DID, repo_records()))
    return path


def test_every_post_of_the_repository_is_read_in_key_order(car):
    got = list(read_export(car))

    assert [o.item_id for o in got] == [
        f"at://{DID}/app.bsky.feed.post/{rkey}" for rkey in
        ("3kni7hedytu3a", "3kni7xfa2bc2b", "3knj2abcde22c", "3knj3reply222")]
    assert [o.text for o in got[:3]] == [SW, FA, SL]
    assert "\u200c" in got[1].text


def test_a_post_observation_carries_the_record_and_its_cid(car):
    sw = next(iter(read_export(car)))
    record = repo_records()["app.bsky.feed.post/3kni7hedytu3a"]

    assert sw == Observation(
        platform="bluesky", account=DID, item_id=f"at://{DID}/app.bsky.feed.post/3kni7hedytu3a",
        kind="post", text=SW, author={"id": DID, "handle": None, "name": None},
        published_at="2024-03-12T07:10:33.000000Z",
        url=f"https://bsky.app/profile/{DID}/post/3kni7hedytu3a", lang="sw",
        raw={"uri": f"at://{DID}/app.bsky.feed.post/3kni7hedytu3a",
             "cid": record_cid(record), "rev": "3lbqrev2222aa", "record": record})


def test_image_blobs_become_media_and_links_are_json_links(car):
    sl = list(read_export(car))[2]
    link = image_blob("flood-map")["ref"]["$link"]

    assert sl.media == [{"id": link, "mime": "image/jpeg", "alt": "Zemljevid",
                         "url": f"https://cdn.bsky.app/img/feed_fullsize/plain/{DID}/"
                                f"{link}@jpeg"}]
    assert sl.raw["record"]["embed"]["images"][0]["image"]["ref"] == {"$link": link}
    assert sl.published_at == "2024-03-13T08:30:00.000000Z"


def test_the_accounts_own_reply_keeps_its_parent(car):
    reply = list(read_export(car))[3]
    assert reply.kind == "reply"
    assert reply.parent_id == f"at://{OTHER}/app.bsky.feed.post/3knabd"


def test_a_deep_tree_of_many_posts_yields_each_exactly_once(tmp_path):
    records = {f"app.bsky.feed.post/3l{n:011d}": post(f"Chapisho {n} 🌊",
                                                       "2024-05-01T00:00:00Z")
               for n in range(600)}
    path = tmp_path / "big.car"
    path.write_bytes(build_repo_car(DID, records))

    got = [o.item_id.rsplit("/", 1)[1] for o in read_export(path)]

    assert got == sorted(k.split("/")[1] for k in records)


@pytest.mark.parametrize(("damage", "reason"), [
    (lambda b: b[: len(b) // 2], "not a CAR file"),
    (lambda b: b"<html><body>Export failed</body></html>", "not a CAR file"),
    (lambda b: b"", "not a CAR file"),
], ids=["truncated", "html", "empty"])
def test_a_file_that_is_not_a_whole_car_is_refused(car, damage, reason):
    car.write_bytes(damage(car.read_bytes()))
    with pytest.raises(InvalidRequest, match=reason):
        list(read_export(car))


def test_a_block_altered_in_the_file_is_refused(car):
    data = bytearray(car.read_bytes())
    at = data.find(b"Kingfisher")
    data[at] ^= 0x20  # "kingfisher": still valid DAG-CBOR, no longer its CID
    car.write_bytes(bytes(data))

    with pytest.raises(InvalidRequest, match="does not match its CID"):
        list(read_export(car))


def test_a_car_whose_root_is_not_a_commit_is_refused(tmp_path):
    block = libipld.encode_dag_cbor({"hello": "world"})
    cid = _cid_bytes_of(block)
    header = libipld.encode_dag_cbor({"version": 1, "roots": [cid]})
    path = tmp_path / "x.car"
    path.write_bytes(bytes([len(header)]) + header + bytes([len(cid) + len(block)]) + cid
                     + block)

    with pytest.raises(InvalidRequest, match="not a repository commit"):
        list(read_export(path))


def test_a_record_of_the_wrong_shape_is_refused_naming_it(tmp_path):
    path = tmp_path / "bad.car"
    path.write_bytes(build_repo_car(DID, {"app.bsky.feed.post/3kbad222222aa": {
        "$type": "app.bsky.feed.post", "text": 42, "createdAt": "2024-01-01T00:00:00Z"}}))

    with pytest.raises(InvalidRequest, match="3kbad222222aa.*text is not a string"):
        list(read_export(path))


def _cid_bytes_of(data: bytes) -> bytes:
    import hashlib
    return bytes([0x01, 0x71, 0x12, 0x20]) + hashlib.sha256(data).digest()


# -- through `archiver import` -----------------------------------------------------------


def test_import_archives_every_post_as_observed_once(archive, car):
    summary = import_export(archive, "bluesky", car)

    assert summary.archived == 4
    expected = [("observed", o.kind, o.item_id) for o in read_export(car)]
    assert captures_after(archive, -1) == expected
    again = import_export(archive, "bluesky", car)
    assert again.archived == 0 and len(captures_after(archive, -1)) == 4


def test_a_bad_export_archives_nothing(archive, car):
    data = bytearray(car.read_bytes())
    data[data.find(b"Kingfisher")] ^= 0x20
    car.write_bytes(bytes(data))

    with pytest.raises(InvalidRequest):
        import_export(archive, "bluesky", car)
    assert captures_after(archive, -1) == []


RKEY = st.text(alphabet="abcdefghijklmnopqrstuvwxyz234567ABCXYZ.-_:~", min_size=1,
               max_size=40).filter(lambda k: k not in (".", ".."))
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=300)


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(RKEY, TEXT, min_size=1, max_size=60))
def test_any_repository_reads_back_every_post_in_key_order_with_its_text(tmp_path_factory,
                                                                          posts):
    records = {f"app.bsky.feed.post/{rkey}": post(text, "2024-05-01T00:00:00Z")
               for rkey, text in posts.items()}
    path = tmp_path_factory.mktemp("car") / "repo.car"
    path.write_bytes(build_repo_car(DID, records))

    got = [(o.item_id.rsplit("/", 1)[1], o.text) for o in read_export(path)]

    assert got == sorted(posts.items(), key=lambda kv: kv[0].encode())
