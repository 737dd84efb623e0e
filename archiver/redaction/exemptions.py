"""Exemption codes: the shipped list (exemptions.json) or an agency's own file of the same
shape, `{"codes": [{"code": ..., "label": ..., "authority": ...}]}`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from archiver.errors import ConfigError

MAX_CODE = 64


@dataclass(frozen=True)
class Exemption:
    code: str
    label: str
    authority: str


def parse_exemptions(text: str, where: str) -> dict[str, Exemption]:
    """The codes of a file's text, keyed by code; ConfigError naming the file and entry."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{where}: not JSON ({exc})") from None
    entries = doc.get("codes") if isinstance(doc, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{where}: expected {{\"codes\": [...]}} with at least one code")
    out: dict[str, Exemption] = {}
    for i, e in enumerate(entries):
        if not isinstance(e, dict) or not all(isinstance(e.get(k), str) and e[k].strip()
                                              for k in ("code", "label")):
            raise ConfigError(f"{where}: codes[{i}] needs a non-empty code and label")
        code = e["code"].strip()
        if len(code) > MAX_CODE or code in out:
            raise ConfigError(f"{where}: codes[{i}] {code!r} is too long or repeated")
        out[code] = Exemption(code, e["label"].strip(), str(e.get("authority") or ""))
    return out


def load_exemptions(path: str = "") -> dict[str, Exemption]:
    """The configured list (`[alerts] exemptions_file`), else the shipped one."""
    if path:
        try:
            return parse_exemptions(Path(path).read_text(encoding="utf-8"), path)
        except OSError as exc:
            raise ConfigError(f"exemptions file {path}: {exc.strerror}") from None
    shipped = files("archiver.redaction").joinpath("exemptions.json")
    return parse_exemptions(shipped.read_text(encoding="utf-8"), "exemptions.json")
