# ruff: noqa: F811 - pytest fixtures imported from tests/api/conftest.py are parameters
"""Accounts: the CLI and /api/v1/accounts contract, on SQLite and PostgreSQL.

Credentials go in and never come out: not in CLI output, API answers, the server's log,
the audit trail or the archive's log; in the catalog they are AES-GCM ciphertext under a
data key wrapped by the KEK (and re-wrapped by KEK rotation).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from archiver.catalog import schema as t
from archiver.cli import main
from archiver.collectors import accounts as acc
from archiver.collectors import registry
from archiver.log.reader import system_records
from archiver.log.rotation import rotate_kek
from archiver.tokens import ROLES
from archiver.wiring import Archive
from tests.api.conftest import app, client, tokens  # noqa: F401 - the API's fixtures
from tests.collectors.fake_platform import PLATFORM, FakeCollector
from tests.fixtures.backends import backend_env_for

SECRET = "xoxo-very-secret-token-8c1f"
ACCOUNT_BACKENDS = [("filesystem", "sqlite"), ("filesystem", "postgres")]


@pytest.fixture(params=ACCOUNT_BACKENDS, ids=[f"{s}-{c}" for s, c in ACCOUNT_BACKENDS])
def backend_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    return backend_env_for(request, tmp_path)


@pytest.fixture(autouse=True)
def fake_registered() -> Iterator[None]:
    registry.register(FakeCollector())
    yield
    registry.unregister(PLATFORM)


@pytest.fixture
def cli_env(archive: Archive, backend_env: dict[str, str],
            monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for k, v in backend_env.items():
        monkeypatch.setenv(k, v)
    return backend_env


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run `archiver ARGS` in this process: (exit status, stdout, stderr)."""
    code = 0
    try:
        main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def raw_account_row(archive: Archive, account_id: str) -> Any:
    with archive.catalog.reader() as conn:
        return conn.execute(select(t.accounts).where(t.accounts.c.id == account_id)).one()


def log_text(archive: Archive) -> str:
    """Every system record of the log, decrypted, as one text."""
    return json.dumps([r.payload for r in system_records(archive.appender)],
                      ensure_ascii=False)


# -- CLI -----------------------------------------------------------------------------------

def test_accounts_add_prints_one_json_line_without_the_credential(
        archive: Archive, cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "accounts", "add", "bluesky", "--platform-id",
                         "did:plc:wrenfield3xq7city2vk4dm5a", "--handle", "wrenfield.bsky.social",
                         "--credential", f"app_password={SECRET}", "--interval", "1h",
                         "--department", "Ofisi ya Mawasiliano", "--tag", "بلدیه", "--tag",
                         "občina", "--option", "max_pages=3")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 1
    a = json.loads(lines[0])
    assert a["id"].startswith("acc_") and a["platform"] == "bluesky"
    assert a["base_url"] == "https://public.api.bsky.app"
    assert a["credentials"] == ["app_password"] and a["interval_seconds"] == 3600
    assert a["tags"] == ["بلدیه", "občina"] and a["department"] == "Ofisi ya Mawasiliano"
    assert a["options"] == {"max_pages": 3}
    assert SECRET not in out + err
    code, out, err = cli(capsys, "accounts", "list")
    assert code == 0 and json.loads(out)["id"] == a["id"] and SECRET not in out + err


def test_credentials_are_ciphertext_in_the_catalog_and_absent_from_the_log(
        archive: Archive, cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "accounts", "add", "x", "--platform-id", "1589327646410244096",
                       "--handle", "wrenfield", "--credential", f"bearer_token={SECRET}")
    assert code == 0
    account_id = json.loads(out)["id"]
    row = raw_account_row(archive, account_id)
    stored = " ".join(str(v) for v in row)
    assert SECRET not in stored and SECRET.encode().hex() not in stored
    assert row.credentials_kek == archive.appender.p.kek.kek_id
    config = acc.account_config(archive.appender, acc.get_account(archive.catalog, account_id))
    assert config.credentials == {"bearer_token": SECRET}
    assert SECRET not in repr(config)
    assert SECRET not in log_text(archive)
    assert '"account.added"' in log_text(archive)


def test_credentials_of_one_account_do_not_decrypt_as_another(
        archive: Archive, cli_env: dict[str, str]) -> None:
    a = acc.add_account(archive.appender, platform="x", platform_id="1", handle="a",
                        credentials={"bearer_token": SECRET})
    b = acc.add_account(archive.appender, platform="x", platform_id="2", handle="b",
                        credentials={"bearer_token": "other"})
    row_a = raw_account_row(archive, a.id)
    with archive.catalog.writer() as conn:  # move a's ciphertext onto b
        conn.execute(t.accounts.update().where(t.accounts.c.id == b.id).values(
            credentials_key=row_a.credentials_key, credentials_ct=row_a.credentials_ct))
    from archiver.errors import KeyUnavailable
    with pytest.raises(KeyUnavailable):
        acc.account_config(archive.appender, acc.get_account(archive.catalog, b.id))


def test_kek_rotation_rewraps_account_credentials(archive: Archive,
                                                  cli_env: dict[str, str]) -> None:
    a = acc.add_account(archive.appender, platform="x", platform_id="7", handle="h",
                        credentials={"bearer_token": SECRET})
    old = raw_account_row(archive, a.id)
    result = rotate_kek(archive.appender, archive.settings.kek_path, "test")
    new = raw_account_row(archive, a.id)
    assert (old.credentials_kek, new.credentials_kek) == (result.old_kek, result.new_kek)
    assert new.credentials_ct == old.credentials_ct          # data re-wrapped, not re-sealed
    # with the old KEK gone, the credentials still open
    archive.appender.p.kek.by_id.pop(result.old_kek)
    config = acc.account_config(archive.appender, acc.get_account(archive.catalog, a.id))
    assert config.credentials == {"bearer_token": SECRET}


@pytest.mark.parametrize("args, message", [
    (["mastodon", "--platform-id", "1", "--handle", "h"], "need a base URL"),
    (["myspace", "--platform-id", "1", "--handle", "h"], "no collector"),
    (["x", "--platform-id", "1", "--handle", "h", "--interval", "soon"], "not a duration"),
    (["x", "--platform-id", "1", "--handle", "h", "--interval", "1s"], "between"),
    (["x", "--platform-id", "1", "--handle", "h", "--credential", "novalue"], "NAME=VALUE"),
    (["x", "--platform-id", "1", "--handle", "h", "--base-url", "ftp://x"], "http(s)"),
    (["x", "--platform-id", "1", "--handle", "h", "--base-url",
      "https://user:pw@api.x.com"], "must not carry credentials"),
    (["x", "--platform-id", " ", "--handle", "h"], "platform id"),
])
def test_accounts_add_refuses_bad_input_with_exit_2_and_writes_nothing(
        archive: Archive, cli_env: dict[str, str], capsys: pytest.CaptureFixture[str],
        args: list[str], message: str) -> None:
    before = log_text(archive)
    code, out, err = cli(capsys, "accounts", "add", *args)
    assert code == 2 and message in err and out == ""
    assert acc.list_accounts(archive.catalog, include_removed=True) == []
    assert log_text(archive) == before


def test_the_same_platform_account_cannot_be_added_twice(
        archive: Archive, cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "accounts", "add", "x", "--platform-id", "5", "--handle", "a")[0] == 0
    before = log_text(archive)
    code, _, err = cli(capsys, "accounts", "add", "x", "--platform-id", "5", "--handle", "b")
    assert code == 2 and "registered already" in err
    assert log_text(archive) == before


def test_pause_resume_remove_from_the_cli(archive: Archive, cli_env: dict[str, str],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = cli(capsys, "accounts", "add", "x", "--platform-id", "9", "--handle", "h",
                    "--credential", f"bearer_token={SECRET}")
    account_id = json.loads(out)["id"]
    code, out, _ = cli(capsys, "accounts", "pause", account_id, "--reason", "likizo")
    assert code == 0 and json.loads(out)["status"] == "paused"
    assert json.loads(out)["paused_reason"] == "likizo"
    code, out, _ = cli(capsys, "collect", "--once", "--account", account_id, "--json")
    assert code == 0 and json.loads(out)["outcome"] == "paused"
    code, out, _ = cli(capsys, "accounts", "resume", account_id)
    assert code == 0 and json.loads(out)["status"] == "active"
    code, out, _ = cli(capsys, "accounts", "remove", account_id)
    removed = json.loads(out)
    assert code == 0 and removed["status"] == "removed" and removed["credentials"] == []
    assert raw_account_row(archive, account_id).credentials_ct is None
    code, _, err = cli(capsys, "collect", "--once", "--account", account_id, "--json")
    assert code == 2 and "removed" in err
    assert '"account.removed"' in log_text(archive)
    code, _, err = cli(capsys, "accounts", "pause", "acc_0000000000000000")
    assert code == 2 and "no account" in err


# -- API -----------------------------------------------------------------------------------

def auth(tokens: dict[str, str], role: str = "admin") -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[role]}"}


NEW = {"platform": "mastodon", "platform_id": "109341573128883396",
       "handle": "wrenfield@social.example", "base_url": "https://social.example",
       "credentials": {"access_token": SECRET}, "interval": "30m",
       "tags": ["Persian ‌ZWNJ", "baraza"], "department": "Comms"}


def test_api_add_get_list_patch_delete(client: FlaskClient, tokens: dict[str, str],
                                       archive: Archive,
                                       caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        r = client.post("/api/v1/accounts", json=NEW, headers=auth(tokens))
        assert r.status_code == 200, r.get_json()
        a = r.get_json()
        assert a["credentials"] == ["access_token"] and a["interval_seconds"] == 1800
        assert a["tags"] == NEW["tags"]
        got = client.get(f"/api/v1/accounts/{a['id']}", headers=auth(tokens)).get_json()
        assert got == a
        listed = client.get("/api/v1/accounts", headers=auth(tokens)).get_json()
        assert [x["id"] for x in listed["accounts"]] == [a["id"]]
        r = client.patch(f"/api/v1/accounts/{a['id']}", headers=auth(tokens),
                         json={"status": "paused", "paused_reason": "review", "tags": ["x"]})
        assert r.status_code == 200 and r.get_json()["status"] == "paused"
        assert r.get_json()["tags"] == ["x"] and r.get_json()["paused_reason"] == "review"
        r = client.patch(f"/api/v1/accounts/{a['id']}", headers=auth(tokens),
                         json={"status": "active", "interval": 600,
                               "credentials": {"access_token": SECRET + "2"}})
        assert r.get_json()["status"] == "active" and r.get_json()["interval_seconds"] == 600
        r = client.delete(f"/api/v1/accounts/{a['id']}", headers=auth(tokens))
        assert r.status_code == 200 and r.get_json()["status"] == "removed"
        assert client.get("/api/v1/accounts", headers=auth(tokens)).get_json() == \
            {"accounts": []}
        texts = [client.get(f"/api/v1/accounts/{a['id']}", headers=auth(tokens))
                 .get_data(as_text=True)]
    assert SECRET not in caplog.text + "".join(texts) + json.dumps(a)
    with archive.catalog.reader() as conn:
        audit = " ".join(str(tuple(r)) for r in conn.execute(select(t.audit_events)))
    assert a["id"] in audit and SECRET not in audit
    assert SECRET not in log_text(archive)
    assert "api:test-admin" in log_text(archive)


@pytest.mark.parametrize("body, field", [
    ({**NEW, "platform": "myspace"}, "no collector"),
    ({k: v for k, v in NEW.items() if k != "base_url"}, "base URL"),
    ({k: v for k, v in NEW.items() if k != "handle"}, "handle"),
    ({**NEW, "interval": "whenever"}, "duration"),
    ({**NEW, "interval": 0}, "between"),
    ({**NEW, "credentials": {"access_token": 5}}, "credentials"),
    ({**NEW, "credentials": {"bad name!": "x"}}, "credential name"),
    ({**NEW, "tags": ["ok", "\x07bell"]}, "tag"),
    ({**NEW, "surprise": 1}, "surprise"),
    ({**NEW, "base_url": "javascript:alert(1)"}, "http(s)"),
    ({**NEW, "options": {"read_budget": [1]}}, "options"),
    ({**NEW, "options": {"read_budget": float("inf")}}, "option read_budget"),
])
def test_api_bad_input_is_a_400_and_nothing_is_written(
        client: FlaskClient, tokens: dict[str, str], archive: Archive,
        body: dict[str, Any], field: str) -> None:
    before = log_text(archive)
    r = client.post("/api/v1/accounts", json=body, headers=auth(tokens))
    assert r.status_code == 400, r.get_json()
    err = r.get_json()["error"]
    assert field in err["message"] or field in json.dumps(err["details"])
    assert SECRET not in r.get_data(as_text=True)
    assert acc.list_accounts(archive.catalog, include_removed=True) == []
    assert log_text(archive) == before


def test_api_bad_patches_and_unknown_ids(client: FlaskClient, tokens: dict[str, str]) -> None:
    a = client.post("/api/v1/accounts", json=NEW, headers=auth(tokens)).get_json()
    url = f"/api/v1/accounts/{a['id']}"
    assert client.patch(url, json={"status": "removed"}, headers=auth(tokens)).status_code \
        == 400
    assert client.patch(url, json={"interval": "1y"}, headers=auth(tokens)).status_code == 400
    assert client.patch(url, data="not json", headers={**auth(tokens),
                        "Content-Type": "application/json"}).status_code == 400
    assert client.patch(url, data="x", headers=auth(tokens)).status_code == 415
    for method in ("get", "patch", "delete"):
        r = getattr(client, method)("/api/v1/accounts/acc_0123456789abcdef",
                                    headers=auth(tokens), json={})
        assert r.status_code == 404, method
    assert client.get("/api/v1/accounts/acc_0123456789abcdef/health",
                      headers=auth(tokens)).status_code == 404
    assert client.get("/api/v1/accounts?status=zombie",
                      headers=auth(tokens)).status_code == 400


@pytest.mark.parametrize("role", [r for r in ROLES if r != "admin"])
def test_only_admins_may_use_the_accounts_api(client: FlaskClient, tokens: dict[str, str],
                                              role: str) -> None:
    a = client.post("/api/v1/accounts", json=NEW, headers=auth(tokens)).get_json()
    url = f"/api/v1/accounts/{a['id']}"
    calls = [("get", "/api/v1/accounts", None), ("post", "/api/v1/accounts", NEW),
             ("get", url, None), ("patch", url, {"status": "paused"}),
             ("delete", url, None), ("get", url + "/health", None)]
    for method, path, body in calls:
        r = getattr(client, method)(path, json=body, headers=auth(tokens, role))
        assert r.status_code == 403, (method, path)
        assert getattr(client, method)(path, json=body).status_code == 401


def test_health_and_metrics_report_gaps_and_alerts(client: FlaskClient,
                                                   tokens: dict[str, str],
                                                   archive: Archive) -> None:
    a = client.post("/api/v1/accounts", json=NEW, headers=auth(tokens)).get_json()
    with archive.catalog.writer() as conn:  # registered two days ago, never collected
        conn.execute(t.accounts.update().where(t.accounts.c.id == a["id"]).values(
            created_at="2020-01-01T00:00:00.000000Z"))
        acc.raise_alert(conn, a["id"], "credentials_rejected", "401 from the instance",
                        "2020-01-02T00:00:00.000000Z")
    h = client.get(f"/api/v1/accounts/{a['id']}/health", headers=auth(tokens)).get_json()
    assert h["gap"] is True and h["last_run"] is None and h["last_success"] is None
    assert [x["kind"] for x in h["alerts"]] == ["credentials_rejected"]
    text = client.get("/metrics").get_data(as_text=True)
    assert f'archiver_collector_gap{{account="{a["id"]}"}} 1.0' in text
    assert f'archiver_collector_last_success_timestamp{{account="{a["id"]}"}} 0.0' in text
    assert f'archiver_collector_alerts{{account="{a["id"]}"}} 1.0' in text
    assert 'archiver_collector_runs_total{outcome="failed"} 0.0' in text
