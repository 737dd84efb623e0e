"""Tokens: shown once, stored only as a hash, revoked at once; the `archiver tokens` CLI."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from archiver.catalog import schema as t
from archiver.errors import InvalidRequest, NotFound, Unauthorized
from archiver.tokens import create_token, list_tokens, revoke_token, verify_token
from archiver.wiring import Archive
from tests.api.conftest import bearer


def test_a_token_is_stored_only_as_its_sha256(archive: Archive) -> None:
    info, value = create_token(archive.catalog, "ops", ["admin", "auditor", "admin"])
    assert value.startswith("arch_") and len(value) == 48
    assert info.roles == ("admin", "auditor")
    with archive.catalog.reader() as conn:
        row = conn.execute(select(t.tokens)).one()
    assert value not in repr(tuple(row))
    assert row.token_hash == hashlib.sha256(value.encode()).hexdigest()
    assert verify_token(archive.catalog, value) == info


def test_revocation_takes_effect_on_the_next_request(client: FlaskClient,
                                                     archive: Archive) -> None:
    info, value = create_token(archive.catalog, "temp", ["auditor"])
    assert client.get("/api/v1/log/vkey", headers=bearer(value)).status_code == 200
    revoked = revoke_token(archive.catalog, info.id)
    assert revoked.revoked_at is not None and not revoked.active
    assert client.get("/api/v1/log/vkey", headers=bearer(value)).status_code == 401
    with pytest.raises(Unauthorized):
        verify_token(archive.catalog, value)
    assert revoke_token(archive.catalog, info.id).revoked_at == revoked.revoked_at
    assert [x.active for x in list_tokens(archive.catalog)] == [False]


@pytest.mark.parametrize(("name", "roles"), [("", ["admin"]), ("x" * 129, ["admin"]),
                                             ("bell\a", ["admin"]), ("ok", []),
                                             ("ok", ["root"])])
def test_bad_names_and_roles_are_refused(archive: Archive, name: str, roles: list[str]) -> None:
    with pytest.raises(InvalidRequest):
        create_token(archive.catalog, name, roles)
    assert list_tokens(archive.catalog) == []


def test_revoking_an_unknown_token_is_not_found(archive: Archive) -> None:
    with pytest.raises(NotFound):
        revoke_token(archive.catalog, "tok_nope")


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "archiver.cli", *args],
                          env={**os.environ, "ARCHIVER_HOME": str(home)},
                          capture_output=True, text=True, timeout=120)


def test_the_tokens_commands_create_list_and_revoke(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert _cli(home, "init", "--origin", "tokens.test/log").returncode == 0
    created = _cli(home, "tokens", "create", "--name", "ops", "--role", "admin",
                   "--role", "legal")
    assert created.returncode == 0, created.stderr
    value = created.stdout.strip()
    assert value.startswith("arch_") and "shown" in created.stderr
    listed = _cli(home, "tokens", "list")
    assert value not in listed.stdout and '"name": "ops"' in listed.stdout
    assert '"roles": ["admin", "legal"]' in listed.stdout
    token_id = listed.stdout.split('"id": "')[1].split('"')[0]
    again = _cli(home, "tokens", "create", "--name", "ops", "--role", "admin", "--if-missing")
    assert again.returncode == 0 and again.stdout == "" and token_id in again.stderr
    revoked = _cli(home, "tokens", "revoke", token_id)
    assert revoked.returncode == 0 and '"revoked_at": "' in revoked.stdout
    assert _cli(home, "tokens", "revoke", "tok_unknown").returncode == 2
    assert _cli(home, "tokens", "create", "--name", "x", "--role", "root").returncode == 2


def test_if_missing_with_save_reuses_the_saved_token_while_it_is_active(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert _cli(home, "init", "--origin", "tokens.test/log").returncode == 0
    saved = home / "dev.token"
    args = ("tokens", "create", "--name", "dev", "--role", "admin", "--if-missing",
            "--save", str(saved))
    first = _cli(home, *args)
    assert first.returncode == 0, first.stderr
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert saved.read_text().strip() == first.stdout.strip()
    second = _cli(home, *args)
    assert second.stdout == first.stdout
    token_id = _cli(home, "tokens", "list").stdout.split('"id": "')[1].split('"')[0]
    _cli(home, "tokens", "revoke", token_id)
    third = _cli(home, *args)
    assert third.stdout != first.stdout and saved.read_text() == third.stdout
