"""The object store contract (archiver/storage.py), held by every backend.

The same promises run against the filesystem store and against S3 on a real SeaweedFS
(with and without Object Lock); the WORM tests then prove, on the server actually
used, that a locked object cannot be deleted or destroyed by overwriting
(ARCHITECTURE.md "WORM": some S3 servers accept lock headers and still delete).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import pathlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

from archiver.errors import ObjectLocked, ObjectNotFound, StoreUnavailable
from archiver.storage import FilesystemStore, ObjectStore, S3Store
from tests.fixtures.seaweed import SeaweedServer, free_ports

BINARY = bytes(range(256)) * 33 + b"\x00\r\n\xff"

MakeS3 = Callable[..., S3Store]


@pytest.fixture(
    params=[
        "filesystem",
        pytest.param("s3", marks=pytest.mark.s3),
        pytest.param("s3-object-lock", marks=pytest.mark.s3),
    ]
)
def store(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> ObjectStore:
    """Each backend, empty: a fresh directory, or a fresh prefix in a session bucket."""
    if request.param == "filesystem":
        return FilesystemStore(tmp_path / "objects")
    make: MakeS3 = request.getfixturevalue("s3_store_factory")
    return make(object_lock=request.param == "s3-object-lock")


@pytest.fixture
def plain_s3(s3_store_factory: MakeS3) -> S3Store:
    """S3 on a versioned bucket without Object Lock."""
    return s3_store_factory(object_lock=False)


@pytest.fixture
def locked_s3(s3_store_factory: MakeS3) -> S3Store:
    """S3 on a bucket with Object Lock enabled."""
    store = s3_store_factory(object_lock=True)
    assert store.supports_object_lock, "the session's Object Lock bucket must report it"
    return store


def versions(seaweed: SeaweedServer, store: S3Store, key: str) -> dict[str, list[str]]:
    """Every version id and delete marker the server holds for `key`, bypassing the store."""
    full = store.prefix + key
    answer = seaweed.client().list_object_versions(Bucket=store.bucket, Prefix=full)
    return {
        "versions": [v["VersionId"] for v in answer.get("Versions", []) if v["Key"] == full],
        "markers": [m["VersionId"] for m in answer.get("DeleteMarkers", []) if m["Key"] == full],
    }


def refusal_code(call: Callable[[], Any]) -> str:
    """The S3 error code of a call that must be refused."""
    with pytest.raises(ClientError) as refused:
        call()
    return str(refused.value.response["Error"]["Code"])


# ------------------------------------------------------------------ the contract


def test_put_then_get_returns_the_same_binary_bytes(store: ObjectStore) -> None:
    store.put("log/000000000001-000000000002.jsonl", BINARY)
    assert store.get("log/000000000001-000000000002.jsonl") == BINARY


def test_empty_object_round_trips(store: ObjectStore) -> None:
    store.put("media/empty", b"")
    assert store.get("media/empty") == b""
    assert store.exists("media/empty")


def test_get_of_missing_key_raises_object_not_found_naming_store_and_key(
    store: ObjectStore,
) -> None:
    with pytest.raises(ObjectNotFound) as missing:
        store.get("checkpoints/000000000009")
    assert store.description in str(missing.value)
    assert "checkpoints/000000000009" in str(missing.value)


def test_exists_is_true_only_for_stored_keys(store: ObjectStore) -> None:
    store.put("keys/000000000001-000000000001.json", b"{}")
    assert store.exists("keys/000000000001-000000000001.json")
    assert not store.exists("keys/000000000002-000000000002.json")
    assert not store.exists("keys")  # a "directory" is not an object


def test_put_of_existing_key_replaces_the_current_object(store: ObjectStore) -> None:
    store.put("checkpoint", b"size 1")
    store.put("checkpoint", b"size 2, longer")
    assert store.get("checkpoint") == b"size 2, longer"
    assert store.list() == ["checkpoint"]


def test_list_returns_every_key_with_the_prefix_sorted(store: ObjectStore) -> None:
    keys = [
        "log/000000000003-000000000004.jsonl",
        "checkpoints/000000000002",
        "log/000000000001-000000000002.jsonl",
        "checkpoint",
        "keys/000000000001-000000000002.json",
        "media/b/c",
    ]
    for key in keys:
        store.put(key, b"x")
    assert store.list() == sorted(keys)
    assert store.list("log/") == [
        "log/000000000001-000000000002.jsonl",
        "log/000000000003-000000000004.jsonl",
    ]
    # A prefix is a string prefix, not a directory: it may end mid-segment.
    assert store.list("checkpoint") == ["checkpoint", "checkpoints/000000000002"]
    assert store.list("log/000000000003") == ["log/000000000003-000000000004.jsonl"]
    assert store.list("media/") == ["media/b/c"]
    assert store.list("tile/") == []


def test_delete_removes_the_object(store: ObjectStore) -> None:
    store.put("keys/000000000001-000000000002.json", b"wrapped keys")
    store.delete("keys/000000000001-000000000002.json")
    assert not store.exists("keys/000000000001-000000000002.json")
    assert store.list("keys/") == []
    with pytest.raises(ObjectNotFound):
        store.get("keys/000000000001-000000000002.json")


def test_delete_of_missing_key_is_not_an_error(store: ObjectStore) -> None:
    store.put("media/kept", b"1")
    store.delete("media/never-stored")
    assert store.list() == ["media/kept"]


INVALID_KEYS = [
    "",
    "/etc/passwd",
    "../escape",
    "log/../../x",
    "..",
    "a\\b",
    "a\x00b",
    "a//b",
    "a/",
    "./a",
    ".tmp-x",
]


def test_invalid_keys_are_rejected_and_nothing_is_written(store: ObjectStore) -> None:
    operations: list[Callable[[str], object]] = [
        lambda key: store.put(key, b"x"),
        store.get,
        store.exists,
        store.delete,
    ]
    for key in INVALID_KEYS:
        for operation in operations:
            with pytest.raises(ValueError):
                operation(key)
    assert store.list() == []


def test_lock_is_accepted_where_the_store_cannot_enforce_it(store: ObjectStore) -> None:
    store.put("log/000000000001-000000000001.jsonl", b"segment", lock=True)
    store.set_legal_hold("log/000000000001-000000000001.jsonl", True)
    store.set_legal_hold("log/000000000001-000000000001.jsonl", False)
    assert store.get("log/000000000001-000000000001.jsonl") == b"segment"


# ------------------------------------------------------------------ filesystem


def test_filesystem_list_ignores_temp_files_of_unfinished_writes(tmp_path: pathlib.Path) -> None:
    store = FilesystemStore(tmp_path)
    store.put("log/000000000001-000000000001.jsonl", b"segment")
    (tmp_path / "log" / ".tmp-abc123.tmp").write_bytes(b"half a segm")
    assert store.list() == ["log/000000000001-000000000001.jsonl"]


def test_filesystem_put_leaves_only_the_object(tmp_path: pathlib.Path) -> None:
    store = FilesystemStore(tmp_path)
    store.put("media/a/b", BINARY)
    store.put("media/a/b", b"again")
    assert sorted(os.listdir(tmp_path / "media" / "a")) == ["b"]
    assert (tmp_path / "media" / "a" / "b").read_bytes() == b"again"


def test_filesystem_failure_is_store_unavailable_naming_the_store(tmp_path: pathlib.Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_bytes(b"")
    store = FilesystemStore(blocker)
    with pytest.raises(StoreUnavailable) as failed:
        store.put("log/x", b"x")
    assert f"filesystem {blocker}" in str(failed.value)
    assert store.description == f"filesystem {blocker}"


def test_filesystem_store_reports_no_object_lock(tmp_path: pathlib.Path) -> None:
    assert FilesystemStore(tmp_path).supports_object_lock is False


# ------------------------------------------------------------------ S3


@pytest.mark.s3
def test_s3_list_follows_pagination_past_1000_keys(plain_s3: S3Store) -> None:
    keys = [f"media/{n:06d}" for n in range(1100)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda key: plain_s3.put(key, b"m"), keys))
    assert plain_s3.list("media/") == keys
    assert plain_s3.list("media/0010") == keys[1000:1100]


@pytest.mark.s3
def test_s3_keys_are_relative_to_the_store_prefix(s3_store_factory: MakeS3) -> None:
    first = s3_store_factory("tenant-a/objects", object_lock=False)
    second = s3_store_factory("tenant-a/objects-2", object_lock=False)
    first.put("checkpoint", b"a")
    second.put("checkpoint", b"b")
    assert first.list() == ["checkpoint"]
    assert first.get("checkpoint") == b"a"
    assert second.get("checkpoint") == b"b"
    for store in (first, second):
        store.delete("checkpoint")


@pytest.mark.s3
def test_s3_delete_purges_every_version_of_a_versioned_bucket(
    seaweed: SeaweedServer, plain_s3: S3Store
) -> None:
    plain_s3.put("keys/000000000001-000000000002.json", b"data keys v1")
    plain_s3.put("keys/000000000001-000000000002.json", b"data keys v2 (after disposition)")
    assert len(versions(seaweed, plain_s3, "keys/000000000001-000000000002.json")["versions"]) == 2
    plain_s3.delete("keys/000000000001-000000000002.json")
    assert versions(seaweed, plain_s3, "keys/000000000001-000000000002.json") == {
        "versions": [],
        "markers": [],
    }


@pytest.mark.s3
def test_s3_delete_also_removes_delete_markers(seaweed: SeaweedServer, plain_s3: S3Store) -> None:
    plain_s3.put("media/x", b"blob")
    raw = seaweed.client()
    raw.delete_object(Bucket=plain_s3.bucket, Key=plain_s3.prefix + "media/x")  # a marker
    assert versions(seaweed, plain_s3, "media/x")["markers"]
    plain_s3.delete("media/x")
    assert versions(seaweed, plain_s3, "media/x") == {"versions": [], "markers": []}


@pytest.mark.s3
def test_s3_delete_leaves_keys_sharing_the_prefix(plain_s3: S3Store) -> None:
    plain_s3.put("media/a", b"1")
    plain_s3.put("media/ab", b"2")
    plain_s3.delete("media/a")
    assert plain_s3.list("media/") == ["media/ab"]


@pytest.mark.s3
def test_s3_put_sends_content_md5_so_the_server_verifies_the_bytes(plain_s3: S3Store) -> None:
    sent: list[str] = []

    def capture(request: Any, **_: Any) -> None:
        value = request.headers.get("Content-MD5", b"")
        sent.append(value.decode() if isinstance(value, bytes) else value)

    plain_s3.client().meta.events.register("before-send.s3.PutObject", capture)
    plain_s3.put("media/md5", BINARY)
    assert sent == [base64.b64encode(hashlib.md5(BINARY).digest()).decode()]


@pytest.mark.s3
def test_s3_constructing_a_store_does_no_io_and_description_hides_secrets() -> None:
    (port,) = free_ports(1)
    store = S3Store(
        f"http://user:pw@127.0.0.1:{port}", "bucket", "/archive/", "AKID", "s3cr3t-value"
    )
    assert store.description == f"s3 http://127.0.0.1:{port} bucket/archive"
    assert "s3cr3t-value" not in repr(store)


@pytest.mark.s3
def test_s3_unreachable_endpoint_raises_store_unavailable_naming_the_store() -> None:
    (port,) = free_ports(1)  # closed: nothing listens there
    store = S3Store(
        f"http://127.0.0.1:{port}",
        "archive",
        "objects",
        access_key="AKID",
        secret_key="s3cr3t-value",
        connect_timeout=1,
        max_attempts=1,
    )
    for operation in (
        lambda: store.get("checkpoint"),
        lambda: store.put("checkpoint", b"x"),
        lambda: store.list(),
        lambda: store.exists("checkpoint"),
        lambda: store.supports_object_lock,
    ):
        with pytest.raises(StoreUnavailable) as failed:
            operation()
        message = str(failed.value)
        assert f"s3 http://127.0.0.1:{port} archive/objects" in message
        assert "s3cr3t-value" not in message


@pytest.mark.s3
def test_s3_wrong_secret_raises_store_unavailable_without_the_secret(
    seaweed: SeaweedServer,
) -> None:
    store = S3Store(
        seaweed.endpoint_url,
        "archiver-plain",
        access_key=seaweed.access_key,
        secret_key="wrong-s3cr3t",
        max_attempts=1,
    )
    with pytest.raises(StoreUnavailable) as failed:
        store.get("checkpoint")
    assert store.description in str(failed.value)
    assert "SignatureDoesNotMatch" in str(failed.value)
    assert "wrong-s3cr3t" not in str(failed.value)


@pytest.mark.s3
def test_s3_supports_object_lock_reflects_the_bucket(s3_store_factory: MakeS3) -> None:
    assert s3_store_factory(object_lock=True).supports_object_lock is True
    assert s3_store_factory(object_lock=False).supports_object_lock is False


@pytest.mark.s3
def test_s3_lock_on_a_bucket_without_object_lock_is_a_plain_put(
    seaweed: SeaweedServer, plain_s3: S3Store
) -> None:
    plain_s3.put("log/000000000001-000000000001.jsonl", b"segment", lock=True)
    head = seaweed.client().head_object(
        Bucket=plain_s3.bucket, Key=plain_s3.prefix + "log/000000000001-000000000001.jsonl"
    )
    assert "ObjectLockMode" not in head
    plain_s3.delete("log/000000000001-000000000001.jsonl")
    assert not plain_s3.exists("log/000000000001-000000000001.jsonl")


# ------------------------------------------------------------------ WORM proof


SEGMENT = "log/000000000001-000000000100.jsonl"


@pytest.mark.s3
def test_locked_put_carries_compliance_retention_of_lock_days(
    seaweed: SeaweedServer, locked_s3: S3Store
) -> None:
    before = dt.datetime.now(dt.UTC)
    locked_s3.put(SEGMENT, b"records", lock=True)
    retention = seaweed.client().get_object_retention(
        Bucket=locked_s3.bucket, Key=locked_s3.prefix + SEGMENT
    )["Retention"]
    assert retention["Mode"] == "COMPLIANCE"
    until = retention["RetainUntilDate"]
    assert before + dt.timedelta(days=1) - dt.timedelta(minutes=1) <= until
    assert until <= dt.datetime.now(dt.UTC) + dt.timedelta(days=1, minutes=1)


@pytest.mark.s3
def test_locked_version_cannot_be_deleted_by_version_id(
    seaweed: SeaweedServer, locked_s3: S3Store
) -> None:
    locked_s3.put(SEGMENT, b"records", lock=True)
    raw, full = seaweed.client(), locked_s3.prefix + SEGMENT
    (version,) = versions(seaweed, locked_s3, SEGMENT)["versions"]
    code = refusal_code(
        lambda: raw.delete_object(Bucket=locked_s3.bucket, Key=full, VersionId=version)
    )
    assert code == "AccessDenied"
    # COMPLIANCE, unlike GOVERNANCE, cannot be bypassed by any identity (Admin here).
    code = refusal_code(
        lambda: raw.delete_object(
            Bucket=locked_s3.bucket, Key=full, VersionId=version, BypassGovernanceRetention=True
        )
    )
    assert code == "AccessDenied"
    assert locked_s3.get(SEGMENT) == b"records"
    assert versions(seaweed, locked_s3, SEGMENT)["versions"] == [version]


@pytest.mark.s3
def test_locked_object_is_not_destroyed_by_overwriting(
    seaweed: SeaweedServer, locked_s3: S3Store
) -> None:
    locked_s3.put(SEGMENT, b"original records", lock=True)
    (original,) = versions(seaweed, locked_s3, SEGMENT)["versions"]
    locked_s3.put(SEGMENT, b"forged records")
    assert len(versions(seaweed, locked_s3, SEGMENT)["versions"]) == 2
    old = seaweed.client().get_object(
        Bucket=locked_s3.bucket, Key=locked_s3.prefix + SEGMENT, VersionId=original
    )
    assert old["Body"].read() == b"original records"
    assert old["ObjectLockMode"] == "COMPLIANCE"


@pytest.mark.s3
def test_locked_retention_cannot_be_shortened(seaweed: SeaweedServer, locked_s3: S3Store) -> None:
    locked_s3.put(SEGMENT, b"records", lock=True)
    earlier = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)
    code = refusal_code(
        lambda: seaweed.client().put_object_retention(
            Bucket=locked_s3.bucket,
            Key=locked_s3.prefix + SEGMENT,
            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": earlier},
        )
    )
    assert code == "AccessDenied"


@pytest.mark.s3
def test_store_delete_of_locked_object_raises_object_locked_and_keeps_every_version(
    seaweed: SeaweedServer, locked_s3: S3Store
) -> None:
    locked_s3.put(SEGMENT, b"records", lock=True)
    locked_s3.put(SEGMENT, b"newer, unlocked")
    before = versions(seaweed, locked_s3, SEGMENT)
    with pytest.raises(ObjectLocked) as refused:
        locked_s3.delete(SEGMENT)
    assert locked_s3.description in str(refused.value)
    assert "COMPLIANCE" in str(refused.value)
    # Refused as a whole: not even the unlocked newer version was removed.
    assert versions(seaweed, locked_s3, SEGMENT) == before
    assert locked_s3.get(SEGMENT) == b"newer, unlocked"


@pytest.mark.s3
def test_legal_hold_is_set_and_released_on_the_current_version(
    seaweed: SeaweedServer, locked_s3: S3Store
) -> None:
    raw, full = seaweed.client(), locked_s3.prefix + "media/held"
    locked_s3.put("media/held", b"evidence")
    locked_s3.set_legal_hold("media/held", True)
    hold = raw.get_object_legal_hold(Bucket=locked_s3.bucket, Key=full)["LegalHold"]
    assert hold["Status"] == "ON"
    locked_s3.set_legal_hold("media/held", False)
    hold = raw.get_object_legal_hold(Bucket=locked_s3.bucket, Key=full)["LegalHold"]
    assert hold["Status"] == "OFF"


@pytest.mark.s3
def test_legal_hold_blocks_deletion_until_released(
    seaweed: SeaweedServer, locked_s3: S3Store
) -> None:
    locked_s3.put("media/held", b"evidence")
    locked_s3.set_legal_hold("media/held", True)
    (version,) = versions(seaweed, locked_s3, "media/held")["versions"]
    code = refusal_code(
        lambda: seaweed.client().delete_object(
            Bucket=locked_s3.bucket, Key=locked_s3.prefix + "media/held", VersionId=version
        )
    )
    assert code == "AccessDenied"
    with pytest.raises(ObjectLocked, match="legal hold"):
        locked_s3.delete("media/held")
    assert locked_s3.get("media/held") == b"evidence"
    locked_s3.set_legal_hold("media/held", False)
    locked_s3.delete("media/held")
    assert versions(seaweed, locked_s3, "media/held") == {"versions": [], "markers": []}


@pytest.mark.s3
def test_legal_hold_on_missing_key_raises_object_not_found(locked_s3: S3Store) -> None:
    with pytest.raises(ObjectNotFound):
        locked_s3.set_legal_hold("media/absent", True)
