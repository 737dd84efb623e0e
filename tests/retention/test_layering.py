"""retention/ is rules over plain data: it imports nothing that does I/O (STYLE.md habit 1)."""

from __future__ import annotations

import ast
from pathlib import Path

import retention

ROOT = Path(retention.__file__).parent
ALLOWED_TOP = {"__future__", "calendar", "collections", "dataclasses", "datetime", "typing",
               "retention"}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    out: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            out.append(("." * node.level) + (node.module or ""))
    return out


def test_retention_imports_only_the_standard_library_and_itself() -> None:
    files = sorted(ROOT.rglob("*.py"))
    assert len(files) >= 4
    bad = {f"{p.relative_to(ROOT)}: {name}" for p in files for name in _imports(p)
           if name.split(".")[0] not in ALLOWED_TOP}
    assert not bad, f"retention/ must not import I/O layers: {sorted(bad)}"


def test_the_check_catches_a_forbidden_import(tmp_path: Path) -> None:
    f = tmp_path / "x.py"
    f.write_text("from archiver.catalog import db\nimport sqlalchemy\nimport flask as f\n")
    names = _imports(f)
    assert [n for n in names if n.split(".")[0] not in ALLOWED_TOP] == [
        "archiver.catalog", "sqlalchemy", "flask"]


def test_the_seed_schedule_is_data_the_rules_accept() -> None:
    import json

    from retention.policies import parse_policy

    doc = json.loads((ROOT / "schedules" / "seed.json").read_text())
    policies = [parse_policy(p, policy_id=f"p{i}") for i, p in enumerate(doc["policies"])]
    codes = {p.schedule_code for p in policies}
    assert {"GRS 6.4 item 020", "GRS 5.2 item 010", "GS50-01-12 Rev. 3"} <= codes
    assert {p.authority for p in policies} >= {"DAA-GRS-2016-0005-0002"}
