"""Whoosh stays swappable: only the Whoosh engine and its analyzer wrapper import it, and
the search domain imports neither Flask nor click."""

from __future__ import annotations

import ast
from pathlib import Path

ARCHIVER = Path(__file__).resolve().parents[2] / "archiver"
WHOOSH_MODULES = {"search/whoosh_engine.py", "search/whoosh_analysis.py"}
PURE = {"search/analyzer.py", "search/documents.py", "search/snippets.py", "search/engine.py",
        "search/query.py", "search/query_language.py", "search/log_source.py",
        "search/postgres_engine.py", "search/engines.py"}


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


def test_the_postgres_engine_works_without_whoosh_installed() -> None:
    """The second engine must not need the first: with `whoosh` unimportable, the
    PostgreSQL engine, its query language and the search domain still load and parse."""
    import subprocess
    import sys

    code = ("import sys; sys.modules['whoosh'] = None\n"
            "from archiver.search import engines, postgres_engine, query, query_language\n"
            "q = query_language.parse('flood OR \"mill street\" kind:reply')\n"
            "print(postgres_engine.rank_query(q))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ARCHIVER.parent, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "'flood'" in done.stdout
