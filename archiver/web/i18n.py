"""Interface languages: gettext catalogs under translations/ (docs/web.md: how to add one).

English is the source language, complete by construction; a language is offered once its
catalog is compiled into translations/<lang>/LC_MESSAGES/messages.mo.
"""

from __future__ import annotations

from pathlib import Path

from flask import request

TRANSLATIONS = Path(__file__).parent / "translations"


def available() -> list[str]:
    """English plus every language with a compiled catalog."""
    found = {p.parent.parent.name for p in TRANSLATIONS.glob("*/LC_MESSAGES/messages.mo")}
    return sorted(found | {"en"})


def select_locale() -> str | None:
    """`?lang=` when given and known, else the browser's preference."""
    languages = available()
    asked = request.args.get("lang")
    if asked in languages:
        return asked
    return request.accept_languages.best_match(languages) or "en"


def write_english() -> int:
    """English from the template: every message translated to itself, then compiled, so
    the catalog is complete by construction (`python -m archiver.web.i18n`)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po, write_po

    with (TRANSLATIONS / "messages.pot").open("rb") as fh:
        catalog = read_po(fh, locale="en")
    for message in catalog:
        if message.id:
            message.string = message.id
    catalog.fuzzy = False
    out = TRANSLATIONS / "en" / "LC_MESSAGES"
    out.mkdir(parents=True, exist_ok=True)
    with (out / "messages.po").open("wb") as fh:
        write_po(fh, catalog, width=100)
    with (out / "messages.mo").open("wb") as fh:
        write_mo(fh, catalog)
    return len(catalog)


if __name__ == "__main__":
    print(f"English catalog: {write_english()} messages")
