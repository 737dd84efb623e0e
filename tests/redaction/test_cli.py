"""`archiver responses`: a set, a redaction, a review by another person and the package
from the command line; bad input exits 2 saying why."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from archiver.errors import Forbidden
from tests.exports.conftest import SWAHILI, run_cli
from tests.fixtures.backends import backend_env_for
from tests.redaction.conftest import seq_of, span

SECRET = "Mtaa wa Kinu"


@pytest.fixture(params=[("filesystem", "sqlite")], ids=["filesystem-sqlite"])
def backend_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """The command line reads its backend from --home: the embedded pair only (the
    functions it calls are tested on S3 + PostgreSQL by the other modules)."""
    return backend_env_for(request, tmp_path)


def test_a_response_from_the_command_line_holds_no_redacted_text(thread, tmp_path):
    home = str(thread.settings.home)
    made = run_cli(home, "responses", "create", "--name", "PRR-5", "--item", "mastodon:p1",
                   "--actor", "clerk")
    assert made.exit_code == 0, made.output
    rid = json.loads(made.output)["id"]
    spec = json.dumps(span(SWAHILI, SECRET))
    seq = str(seq_of(thread, "c1", "created"))
    marked = run_cli(home, "responses", "redact", rid, "--seq", seq, "--target", "text",
                     "--spec", spec, "--code", "(b)(6)", "--actor", "clerk")
    assert marked.exit_code == 0, marked.output
    red = json.loads(marked.output)["id"]
    with pytest.raises(Forbidden):
        run_cli(home, "responses", "review", rid, red, "approve", "--actor", "clerk")
    other = run_cli(home, "responses", "review", rid, red, "approve", "--actor", "deputy")
    out = tmp_path / "r.zip"
    package = run_cli(home, "responses", "package", rid, "--out", str(out))

    assert other.exit_code == 0, other.output
    assert package.exit_code == 0, package.output
    with zipfile.ZipFile(out) as z:
        assert not any(SECRET.encode() in z.read(n) for n in z.namelist())


def test_an_unknown_exemption_code_exits_2(thread, response):
    from archiver.cli import main

    seq = str(seq_of(thread, "c1", "created"))
    try:
        main(["--home", str(thread.settings.home), "responses", "redact", response["id"],
              "--seq", seq, "--target", "text", "--spec", '{"start": 0, "end": 3}',
              "--code", "(b)(42)"])
    except SystemExit as exc:
        assert exc.code == 2
    else:
        raise AssertionError("no exit")
