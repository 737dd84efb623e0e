"""`archiver alerts`: an invalid pattern exits 2 and creates nothing; a rule is listed and
muted."""

from __future__ import annotations

import json

import pytest

from archiver.cli import main


def _run(capsys, home, *args) -> tuple[int, str]:
    code = 0
    try:
        main(["--home", home, *args])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out + err


def test_an_invalid_pattern_exits_2_and_creates_nothing(archive, mailbox, capsys):
    home = str(archive.settings.home)
    code, out = _run(capsys, home, "alerts", "add-rule", "--name", "x", "--kind",
                     "comment_match", "--config", '{"patterns": ["(a"]}',
                     "--email", "clerk@city.example")
    assert code == 2 and "invalid pattern" in out
    assert _run(capsys, home, "alerts", "rules") == (0, "[]\n")


@pytest.mark.parametrize("kind", ["item_deleted", "credential_expiring"])
def test_a_rule_is_created_listed_and_muted(archive, mailbox, capsys, kind):
    home = str(archive.settings.home)
    code, out = _run(capsys, home, "alerts", "add-rule", "--name", "Gone", "--kind", kind,
                     "--webhook", "https://hooks.example/a")
    assert code == 0, out
    rule = json.loads(out)
    code, out = _run(capsys, home, "alerts", "mute", rule["id"])
    assert code == 0 and json.loads(out)["muted"] is True
    assert json.loads(_run(capsys, home, "alerts", "rules")[1])[0]["kind"] == kind
