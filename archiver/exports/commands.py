"""`archiver export`: an evidence package of a hold, a search or a list of items."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Any

import click

from archiver.errors import InvalidRequest


@click.command("export")
@click.option("--hold", "hold", default=None, help="Every record the legal hold covers.")
@click.option("--query", default=None, help="A search query (Whoosh syntax).")
@click.option("--platform", multiple=True, help="Search filter (repeatable).")
@click.option("--account", multiple=True, help="Search filter (repeatable).")
@click.option("--kind", multiple=True, help="Search filter (repeatable).")
@click.option("--event", multiple=True, help="Search filter (repeatable).")
@click.option("--from", "date_from", default=None, help="Search filter: from this date.")
@click.option("--to", "date_to", default=None, help="Search filter: to this date.")
@click.option("--item", "items", multiple=True, metavar="PLATFORM:ID",
              help="An item with its comment thread (repeatable).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The zip to write (written whole, or not at all).")
@click.option("--encoding", default="utf-8", show_default=True,
              help="Of the DAT and CSV load files: utf-8 or cp1252.")
@click.option("--prefix", default="ARC", show_default=True, help="Control number prefix.")
@click.option("--no-pdf", is_flag=True, help="HTML renderings only.")
@click.option("--actor", envvar="ARCHIVER_ACTOR", default=None,
              help="Who asks (default: the login name).")
@click.pass_obj
def export_cmd(obj: Any, hold: str | None, query: str | None, platform: tuple[str, ...],
               account: tuple[str, ...], kind: tuple[str, ...], event: tuple[str, ...],
               date_from: str | None, date_to: str | None, items: tuple[str, ...], out: Path,
               encoding: str, prefix: str, no_pdf: bool, actor: str | None) -> None:
    """Write an evidence package (BagIt zip) and print its summary as JSON."""
    from archiver.exports.bag import ExportOptions
    from archiver.exports.jobs import create_export, run_export
    from archiver.exports.scope import ExportScope, parse_item

    filters = {k: list(v) for k, v in (("platform", platform), ("account", account),
                                       ("kind", kind), ("event", event)) if v}
    filters.update({k: v for k, v in (("from", date_from), ("to", date_to)) if v})
    if out.exists():
        raise InvalidRequest(f"{out} exists: choose a new file")
    scope = ExportScope(hold=hold, query=query, filters=filters,
                        items=tuple(parse_item(i) for i in items))
    options = ExportOptions(encoding=encoding, prefix=prefix, pdf=not no_pdf)
    archive = obj.archive()
    job = create_export(archive, scope, options, actor or f"cli:{getpass.getuser()}")
    done = run_export(archive, job.id, out.resolve())
    click.echo(json.dumps({"id": done.id, "state": done.state, "out": str(out),
                           "sha256": done.sha256, "bytes": done.bytes,
                           **(done.summary or {})}, ensure_ascii=False))


def register(cli: click.Group) -> None:
    """Add `archiver export` to the archiver command."""
    cli.add_command(export_cmd)
