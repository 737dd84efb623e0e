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
