"""What each endpoint serves, driven through HTTP as a client would."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient

from archiver.errors import StoreUnavailable
from archiver.log import merkle
from archiver.log.checkpoint import CheckpointVerifier
from archiver.log.reader import read_record
from archiver.wiring import Archive
from tests.api.conftest import DEMO, assert_error, bearer, record_count

THREAD = ("mastodon", "112060198503477832")  # a post edited three times, with replies


def _obs(item: str, text: str, **extra: object) -> dict[str, object]:
    return {"platform": "mastodon", "account": "42", "item_id": item, "kind": "post",
            "text": text, "observed_at": "2026-01-01T00:00:00Z", **extra}


@pytest.fixture
def admin(tokens: dict[str, str]) -> dict[str, str]:
    return bearer(tokens["admin"])


def test_health_is_ok_without_a_token(client: FlaskClient) -> None:
    response = client.get("/api/v1/health")
    assert (response.status_code, response.get_json()) == (200, {"status": "ok"})


def test_ready_reports_each_component(client: FlaskClient) -> None:
    body = client.get("/api/v1/ready").get_json()
    assert body["status"] == "ready"
    assert {k: v["ok"] for k, v in body["components"].items()} == {
        "catalog": True, "store": True, "index": True}


def test_ready_is_503_naming_the_store_when_it_is_unreachable(
        client: FlaskClient, archive: Archive, monkeypatch: pytest.MonkeyPatch) -> None:
    def down(key: str) -> bool:
        raise StoreUnavailable("s3 http://10.0.0.9 bucket: connection refused")

    monkeypatch.setattr(archive.store, "exists", down)
    response = client.get("/api/v1/ready")
    error = assert_error(response, 503, "not_ready")
    components = error["details"]["components"]
    assert components["store"] == {"ok": False, "detail": "StoreUnavailable"}
    assert components["catalog"]["ok"] is True
    assert "10.0.0.9" not in response.get_data(as_text=True)


def test_ingest_accepts_json_lines_and_json_arrays_alike(
        client: FlaskClient, archive: Archive, admin: dict[str, str]) -> None:
    lines = b"".join(json.dumps(_obs(str(i), f"post {i}")).encode() + b"\n" for i in range(3))
    first = client.post("/api/v1/ingest", data=lines, content_type="application/x-ndjson",
                        headers=admin)
    assert first.status_code == 200
    assert first.get_json() | {"seqs": None} == {
        "received": 3, "archived": 3, "rejected": 0, "errors": [], "seqs": None,
        "events": {"created": 3, "edited": 0, "deleted": 0, "hidden": 0, "restored": 0,
                   "observed": 0}}
    second = client.post("/api/v1/ingest", headers=admin, json=[
        _obs("0", "post 0"), _obs("1", "post 1, edited", observed_at="2026-01-02T00:00:00Z")])
    out = second.get_json()
    assert (out["received"], out["archived"], out["events"]["edited"]) == (2, 1, 1)
    record = client.get(f"/api/v1/records/{out['seqs'][0]}", headers=admin).get_json()
    assert record["payload"]["text"] == "post 1, edited"


def test_ingest_of_the_demo_file_matches_the_command_line_summary(
        client: FlaskClient, archive: Archive, admin: dict[str, str]) -> None:
    response = client.post("/api/v1/ingest", data=DEMO, content_type="application/x-ndjson",
                           headers=admin)
    out = response.get_json()
    assert out["events"] == {"created": 41, "edited": 6, "deleted": 3, "hidden": 2,
                             "restored": 1, "observed": 2}
    assert out["archived"] == len(out["seqs"]) == 55
    again = client.post("/api/v1/ingest", data=DEMO, content_type="application/x-ndjson",
                        headers=admin).get_json()
    assert again["archived"] == 0 and again["received"] == out["received"]


def test_a_record_is_served_decrypted_and_matches_the_reader(
        client: FlaskClient, demo: Archive, admin: dict[str, str]) -> None:
    body = client.get("/api/v1/records/5", headers=admin).get_json()
    expected = read_record(demo.appender, 5).as_dict()
    assert body.pop("disposition") is None  # never disposed of (tests/retention covers it)
    assert body == expected
    assert body["payload"]["schema"] == "observation/1" and body["destroyed"] is False


def test_an_item_has_every_version_its_events_in_order_and_its_replies(
        client: FlaskClient, demo: Archive, admin: dict[str, str]) -> None:
    response = client.get(f"/api/v1/items/{THREAD[0]}/{THREAD[1]}", headers=admin)
    assert response.status_code == 200
    body = response.get_json()
    assert body["item"]["item_id"] == THREAD[1] and body["item"]["state"] == "live"
    texts = [v["payload"]["text"] for v in body["versions"]]
    assert len(texts) == body["item"]["versions"] == 3
    assert texts[0].startswith("⚠️ Flood warning: the River Wren is expected")
    assert all("UPDATED" in t for t in texts[1:])
    seqs = [e["seq"] for e in body["events"]]
    assert seqs == sorted(seqs) and [e["event"] for e in body["events"]][0] == "created"
    assert {v["seq"] for v in body["versions"]} <= set(seqs)
    replies = body["replies"]
    assert len(replies) == 3 and body["replies_truncated"] is False
    for reply in replies:
        assert reply["item"]["parent_id"] == THREAD[1]
        assert reply["latest"]["payload"]["parent_id"] == THREAD[1]
    states = {r["item"]["state"] for r in replies}
    assert states <= {"live", "hidden", "deleted"}


def test_an_item_id_with_slashes_resolves_encoded_or_not(
        client: FlaskClient, demo: Archive, admin: dict[str, str]) -> None:
    item = "at://did:plc:v4qbef46emnxjhq4aylx5mdm/app.bsky.feed.post/3kn73djgjcrrs"
    for path in (item, quote(item, safe="")):
        body = client.get(f"/api/v1/items/bluesky/{path}", headers=admin).get_json()
        assert body["item"]["item_id"] == item, body


def test_hidden_and_deleted_items_keep_their_content_for_readers(
        client: FlaskClient, archive: Archive, admin: dict[str, str]) -> None:
    client.post("/api/v1/ingest", headers=admin, json=[
        _obs("p", "parent"), _obs("c", "a reply", parent_id="p", kind="comment")])
    client.post("/api/v1/ingest", headers=admin, json=[
        _obs("c", "a reply", parent_id="p", kind="comment", event="hidden",
             observed_at="2026-01-02T00:00:00Z")])
    body = client.get("/api/v1/items/mastodon/p", headers=admin).get_json()
    (reply,) = body["replies"]
    assert reply["item"]["state"] == "hidden"
    assert reply["latest"]["payload"]["text"] == "a reply"
    child = client.get("/api/v1/items/mastodon/c", headers=admin).get_json()
    assert [e["event"] for e in child["events"]] == ["created", "hidden"]
    assert len(child["versions"]) == 1


def test_checkpoint_vkey_and_proofs_verify_against_each_other(
        client: FlaskClient, demo: Archive, tokens: dict[str, str]) -> None:
    auditor = bearer(tokens["auditor"])
    vkey = client.get("/api/v1/log/vkey", headers=auditor)
    assert vkey.mimetype == "text/plain"
    verifier = CheckpointVerifier.from_vkey(vkey.get_data(as_text=True).strip())
    note = client.get("/api/v1/log/checkpoint", headers=auditor)
    assert note.mimetype == "text/plain"
    checkpoint = verifier.verify(note.get_data())
    size = checkpoint.size
    assert size == record_count(demo)
    old = verifier.verify(client.get("/api/v1/log/checkpoint?size=1", headers=auditor).get_data())
    proof = client.get(f"/api/v1/log/proof/inclusion?seq=7&size={size}", headers=auditor
                       ).get_json()
    assert (proof["seq"], proof["tree_size"]) == (7, size)
    assert merkle.verify_inclusion(base64.b64decode(proof["leaf_hash"]), 7, size,
                                   [base64.b64decode(h) for h in proof["hashes"]],
                                   checkpoint.root)
    consistency = client.get(f"/api/v1/log/proof/consistency?old=1&new={size}",
                             headers=auditor).get_json()
    assert (consistency["old_size"], consistency["new_size"]) == (1, size)
    assert merkle.verify_consistency(1, size, old.root, checkpoint.root,
                                     [base64.b64decode(h) for h in consistency["hashes"]])


def test_metrics_expose_records_checkpoint_ingest_and_request_latency(
        client: FlaskClient, demo: Archive, admin: dict[str, str]) -> None:
    client.post("/api/v1/ingest", headers=admin, json=[_obs("m1", "for metrics")])
    client.get("/api/v1/records/1", headers=admin)
    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    count = record_count(demo)
    assert f"archiver_records {count}.0" in text
    assert f"archiver_checkpoint_size {count}.0" in text
    assert 'archiver_ingest_batches_total{outcome="accepted"} 1.0' in text
    assert 'archiver_http_requests_total{endpoint="records.get_record",method="GET",' \
           'status="200"} 1.0' in text
    assert 'archiver_http_request_duration_seconds_bucket{endpoint="records.get_record"' in text
    assert "archiver_last_record_timestamp_seconds" in text
