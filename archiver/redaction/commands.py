"""`archiver responses ...`: response sets, redactions, review and the package, from the
command line (the same functions as /api/v1/responses). Output is JSON."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Any

import click

from archiver.errors import InvalidRequest


def _echo(doc: Any) -> None:
    click.echo(json.dumps(doc, ensure_ascii=False))


def _actor(actor: str | None) -> str:
    return actor or f"cli:{getpass.getuser()}"


def _codes(archive: Any) -> Any:
    from archiver.redaction.exemptions import load_exemptions

    return load_exemptions(archive.settings.alerts.exemptions_file)


@click.group("responses")
def responses_cmd() -> None:
    """Public-records responses: sets, redactions, review, packages."""


_ACTOR = click.option("--actor", envvar="ARCHIVER_ACTOR", default=None,
                      help="Who acts (default cli:<user>).")


@responses_cmd.command("create")
@click.option("--name", required=True)
@click.option("--request-ref", default="")
@click.option("--hold", default=None, help="Every record the legal hold covers.")
@click.option("--query", default=None, help="A search query.")
@click.option("--item", "items", multiple=True, metavar="PLATFORM:ID")
@_ACTOR
@click.pass_obj
def create_cmd(obj: Any, name: str, request_ref: str, hold: str | None, query: str | None,
               items: tuple[str, ...], actor: str | None) -> None:
    """A response set from a hold, a search or items."""
    from archiver.exports.scope import parse_item
    from archiver.redaction.store import create_response

    scope: dict[str, Any] = {"hold": hold, "query": query,
                             "items": [dict(zip(("platform", "item_id"), parse_item(i),
                                                strict=True)) for i in items]}
    _echo(create_response(obj.archive(), {"name": name, "request_ref": request_ref,
                                          "scope": {k: v for k, v in scope.items() if v}},
                          _actor(actor)))


@responses_cmd.command("show")
@click.argument("response_id")
@click.pass_obj
def show_cmd(obj: Any, response_id: str) -> None:
    """A response set with its redactions."""
    from archiver.redaction.store import response_out

    _echo(response_out(obj.archive(), response_id))


@responses_cmd.command("redact")
@click.argument("response_id")
@click.option("--seq", type=int, required=True, help="The capture record.")
@click.option("--target", type=click.Choice(["text", "author", "media"]), required=True)
@click.option("--spec", required=True, help='JSON: {"start": 0, "end": 5}, {"field": '
              '"all"}, {"index": 0, "regions": [[x, y, w, h]]}')
@click.option("--code", required=True, help="An exemption code (archiver responses codes).")
@click.option("--note", default="")
@_ACTOR
@click.pass_obj
def redact_cmd(obj: Any, response_id: str, seq: int, target: str, spec: str, code: str,
               note: str, actor: str | None) -> None:
    """Mark part of a record withheld (pending review by another person)."""
    from archiver.redaction.store import add_redaction

    try:
        spec_doc = json.loads(spec)
    except ValueError:
        raise InvalidRequest("--spec is not JSON") from None
    if not isinstance(spec_doc, dict):
        raise InvalidRequest("--spec is a JSON object")
    archive = obj.archive()
    _echo(add_redaction(archive, response_id, {"seq": seq, "target": target,
                                               "spec": spec_doc, "code": code,
                                               "note": note}, _actor(actor), _codes(archive)))


@responses_cmd.command("review")
@click.argument("response_id")
@click.argument("redaction_id")
@click.argument("decision", type=click.Choice(["approve", "reject"]))
@click.option("--note", default="")
@_ACTOR
@click.pass_obj
def review_cmd(obj: Any, response_id: str, redaction_id: str, decision: str, note: str,
               actor: str | None) -> None:
    """Approve or reject a redaction (not its author)."""
    from archiver.redaction.store import review_redaction

    _echo(review_redaction(obj.archive(), response_id, redaction_id, decision,
                           _actor(actor), note))


@responses_cmd.command("package")
@click.argument("response_id")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def package_cmd(obj: Any, response_id: str, out: Path) -> None:
    """Write the redacted response package (zip) and print its manifest."""
    from archiver.redaction.package import build_response

    if out.exists():
        raise InvalidRequest(f"{out} exists: choose a new file")
    archive = obj.archive()
    _echo(build_response(archive, response_id, out.resolve(), _codes(archive)))


@responses_cmd.command("codes")
@click.pass_obj
def codes_cmd(obj: Any) -> None:
    """The exemption codes a redaction may cite."""
    _echo([e.__dict__ for e in _codes(obj.archive()).values()])


def register(cli: click.Group) -> None:
    """Add `archiver responses` to the archiver command."""
    cli.add_command(responses_cmd)
