"""`archiver export`: writes the package and prints its summary; bad scopes exit 2 with a
message and write nothing."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from archiver.cli import main
from archiver.wiring import Archive


@pytest.fixture(autouse=True)
def _backend_in_environment(backend_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The command reads its store and catalog from ARCHIVER_* variables, as deployed."""
    for name, value in backend_env.items():
        monkeypatch.setenv(name, value)


def _run(archive: Archive, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str,
                                                                                    str]:
    capsys.readouterr()
    try:
        main(["--home", str(archive.settings.home), "export", "--actor", "counsel", *args])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_export_of_items_writes_the_zip_and_prints_the_summary(
        thread: Archive, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "p.zip"
    code, stdout, _ = _run(thread, capsys, "--item", "mastodon:p1", "--out", str(out),
                           "--encoding", "cp1252", "--prefix", "CITY")
    assert code == 0
    summary = json.loads(stdout)
    assert summary["state"] == "done" and summary["counts"]["records"] == 7
    names = zipfile.ZipFile(out).namelist()
    assert any(n.endswith("data/loadfile/export.dat") for n in names)
    dat = zipfile.ZipFile(out).read(next(n for n in names if n.endswith("export.dat")))
    assert b"\xfeCITY0000001\xfe" in dat  # CP1252: no BOM, þ is one byte


@pytest.mark.parametrize(("args", "message"), [
    ((), "scope is empty"),
    (("--hold", "no-such-hold"), "no legal hold"),
    (("--item", "nocolon"), "PLATFORM:ID"),
    (("--query", "x", "--item", "mastodon:p1"), "one kind of scope"),
    (("--query", "x", "--encoding", "latin-9"), "utf-8 or cp1252"),
    (("--query", "x", "--prefix", "bad prefix"), "prefix"),
])
def test_bad_scopes_exit_2_and_write_nothing(thread: Archive, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str],
                                             args: tuple[str, ...], message: str) -> None:
    out = tmp_path / "never.zip"
    code, _, err = _run(thread, capsys, *args, "--out", str(out))
    assert code == 2 and message in err
    assert not out.exists()


def test_an_existing_output_file_is_never_overwritten(thread: Archive, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    out = tmp_path / "exists.zip"
    out.write_bytes(b"precious")
    code, _, err = _run(thread, capsys, "--item", "mastodon:p1", "--out", str(out))
    assert code == 2 and "exists" in err and out.read_bytes() == b"precious"
