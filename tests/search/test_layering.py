"""Whoosh stays swappable: only the Whoosh engine and its analyzer wrapper import it, and
the search domain imports neither Flask nor click."""

from __future__ import annotations

import ast
from pathlib import Path

ARCHIVER = Path(__file__).resolve().parents[2] / "archiver"
WHOOSH_MODULES = {"search/whoosh_engine.py", "search/whoosh_analysis.py"}
PURE = {"search/analyzer.py", "search/documents.py", "search/snippets.py", "search/engine.py",
        "search/query.py"}


def imported(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def test_only_the_whoosh_engine_imports_whoosh() -> None:
    importers = {str(p.relative_to(ARCHIVER)) for p in ARCHIVER.rglob("*.py")
                 if "whoosh" in imported(p)}
    assert importers == WHOOSH_MODULES


def test_the_search_domain_imports_no_web_or_cli_framework_nor_whoosh() -> None:
    for name in PURE:
        assert not imported(ARCHIVER / name) & {"whoosh", "flask", "click"}, name
