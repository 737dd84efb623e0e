"""The interface is translatable: the catalog template is current, English is complete,
and a compiled catalog for another language is picked up without code changes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask

from archiver.api import create_app
from archiver.web import i18n
from archiver.wiring import Archive

WEB = Path(i18n.__file__).parent
PYBABEL = Path(sys.executable).parent / "pybabel"


def _ids(path: Path) -> set[object]:
    with path.open("rb") as fh:
        return {m.id for m in read_po(fh) if m.id}


def test_the_committed_template_holds_every_message_in_the_code(tmp_path: Path) -> None:
    fresh = tmp_path / "messages.pot"
    subprocess.run([str(PYBABEL), "-q", "extract", "-F", "babel.cfg", "--no-location",
                    "-o", str(fresh), "."], cwd=WEB, check=True)
    assert _ids(fresh) == _ids(WEB / "translations" / "messages.pot"), \
        "run pybabel extract (docs/web.md, 'Translations')"


def test_english_is_complete() -> None:
    wanted = _ids(WEB / "translations" / "messages.pot")
    with (WEB / "translations" / "en" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        english = {m.id: m.string for m in read_po(fh) if m.id}
    assert set(english) >= wanted
    assert all(english[i] for i in wanted), [i for i in wanted if not english[i]][:5]
    assert (WEB / "translations" / "en" / "LC_MESSAGES" / "messages.mo").is_file()


@pytest.mark.parametrize("backend_env", [("filesystem", "sqlite")], ids=["filesystem-sqlite"],
                         indirect=True)
def test_a_compiled_catalog_is_used_when_the_browser_asks(
        archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    translations = tmp_path / "translations"
    shutil.copytree(WEB / "translations", translations)
    with (WEB / "translations" / "messages.pot").open("rb") as fh:
        catalog = read_po(fh, locale="sw")
    catalog.get("Sign in").string = "Ingia"
    (translations / "sw" / "LC_MESSAGES").mkdir(parents=True)
    with (translations / "sw" / "LC_MESSAGES" / "messages.mo").open("wb") as fh:
        write_mo(fh, catalog)
    monkeypatch.setattr(i18n, "TRANSLATIONS", translations)
    app: Flask = create_app(archive.settings, archive)
    client = app.test_client()
    swahili = client.get("/signin", headers={"Accept-Language": "sw,en;q=0.5"})
    assert "<h1>Ingia</h1>" in swahili.get_data(as_text=True)
    assert 'lang="sw"' in swahili.get_data(as_text=True)
    english = client.get("/signin?lang=en", headers={"Accept-Language": "sw"})
    assert "<h1>Sign in</h1>" in english.get_data(as_text=True)
