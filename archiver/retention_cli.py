"""`archiver retention ...`, `archiver hold ...`, `archiver disposition ...`.

Every change names who makes it (`--actor NAME`, or ARCHIVER_ACTOR): the log records it,
and a disposition run must be approved by another person than the one who created it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

import click

from archiver.errors import InvalidRequest, StoreError

_ACTOR = click.option("--actor", envvar="ARCHIVER_ACTOR", required=True,
                      help="Who does this (recorded in the log); or ARCHIVER_ACTOR.")


def _emit(obj: Any) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False))


def _read_json(stream: IO[bytes], what: str) -> Any:
    raw = stream.read()
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"{what} is not valid JSON: {exc}") from None
    except RecursionError:
        raise InvalidRequest(f"{what} is not valid JSON: nested too deeply") from None


def _sync_holds(archive: Any) -> dict[str, Any]:
    """Bring S3 object legal holds in line; a store failure is reported, and `archiver hold
    sync` finishes it later (the hold itself is in force in the catalog already)."""
    from archiver.disposal import sync_object_holds

    try:
        return sync_object_holds(archive)
    except StoreError as exc:
        click.echo(f"warning: object legal holds not synchronised ({exc}); run "
                   f"`archiver hold sync`", err=True)
        return {"error": str(exc)}


# -- archiver retention ------------------------------------------------------------------------


@click.group("retention")
def retention_group() -> None:
    """Retention policies (records schedule items) and certificates of destruction."""


@retention_group.command("load-schedule")
@click.argument("file", type=click.File("rb"))
@_ACTOR
@click.pass_obj
def load_schedule_cmd(obj: Any, file: IO[bytes], actor: str) -> None:
    """Load a schedule file's policies (e.g. retention/schedules/seed.json); all or none."""
    from archiver.retention_store import load_schedule

    _emit({"loaded": load_schedule(obj.archive().appender, _read_json(file, "the schedule"),
                                   actor)})


@retention_group.command("policies")
@click.option("--all", "show_all", is_flag=True, help="Retired policies too.")
@click.pass_obj
def policies_cmd(obj: Any, show_all: bool) -> None:
    """List the policies, one JSON object per line."""
    from sqlalchemy import select

    from archiver.catalog import schema as t
    from archiver.retention_store import policy_out

    with obj.archive().catalog.reader() as conn:
        for row in conn.execute(select(t.retention_policies)
                                .order_by(t.retention_policies.c.created_at)):
            if show_all or row.retired_at is None:
                _emit(policy_out(row))


@retention_group.group("policy")
def policy_group() -> None:
    """One policy: create, change, retire, show, history."""


@policy_group.command("create")
@click.argument("file", type=click.File("rb"))
@_ACTOR
@click.pass_obj
def policy_create(obj: Any, file: IO[bytes], actor: str) -> None:
    """Create a policy from a JSON file ('-' for stdin)."""
    from archiver.retention_store import create_policy

    policy, overlaps = create_policy(obj.archive().appender, _read_json(file, "the policy"),
                                     actor)
    _report_overlaps(overlaps)
    _emit({"policy": policy, "overlaps": [list(p) for p in overlaps]})


@policy_group.command("change")
@click.argument("policy_id")
@click.argument("file", type=click.File("rb"))
@_ACTOR
@click.pass_obj
def policy_change(obj: Any, policy_id: str, file: IO[bytes], actor: str) -> None:
    """Replace a policy with the JSON in FILE (a new version; history kept)."""
    from archiver.retention_store import change_policy

    policy, overlaps = change_policy(obj.archive().appender, policy_id,
                                     _read_json(file, "the policy"), actor)
    _report_overlaps(overlaps)
    _emit({"policy": policy, "overlaps": [list(p) for p in overlaps]})


def _report_overlaps(overlaps: list[tuple[str, str]]) -> None:
    for a, b in overlaps:
        click.echo(f"note: policies {a} and {b} can cover the same records and disagree; "
                   f"the longest retention wins", err=True)


@policy_group.command("retire")
@click.argument("policy_id")
@_ACTOR
@click.pass_obj
def policy_retire(obj: Any, policy_id: str, actor: str) -> None:
    """Stop applying a policy."""
    from archiver.retention_store import retire_policy

    _emit(retire_policy(obj.archive().appender, policy_id, actor))


@policy_group.command("history")
@click.argument("policy_id")
@click.pass_obj
def policy_history_cmd(obj: Any, policy_id: str) -> None:
    """Every version of a policy, oldest first."""
    from archiver.retention_store import policy_history

    with obj.archive().catalog.reader() as conn:
        _emit(policy_history(conn, policy_id))


@retention_group.command("due")
@click.option("--at", "at", default=None, help="Evaluate at this RFC 3339 time (default now).")
@click.pass_obj
def due_cmd(obj: Any, at: str | None) -> None:
    """What a run created now would do: counts per outcome and overlapping policies."""
    from archiver.disposal import load_facts, query_matches, refresh_facts
    from archiver.retention_store import load_holds, load_policies
    from retention.disposition import due
    from retention.policies import RuleError, parse_instant

    archive = obj.archive()
    try:
        now = parse_instant(at, "--at") if at else None
    except RuleError as exc:
        raise InvalidRequest(str(exc)) from None
    from archiver.retention_store import utcnow

    refresh_facts(archive.appender)
    with archive.catalog.reader() as conn:
        facts = list(load_facts(conn))
        policies = load_policies(conn)
        holds = load_holds(conn)
    result = due(facts, policies, holds, now or utcnow(), query_matches(archive, holds, facts))
    _emit({"counts": {**result.counts(), "uncovered": result.uncovered},
           "overlaps": [{"policies": list(k), "records": v}
                        for k, v in sorted(result.overlaps.items())]})


@retention_group.command("account")
@click.argument("platform")
@click.argument("account")
@click.option("--tag", "tags", multiple=True, help="An account tag policies match (repeat).")
@click.option("--event", "events", multiple=True, metavar="NAME=TIME",
              help="An account event, e.g. closed=2026-01-31 (repeat).")
@_ACTOR
@click.pass_obj
def account_cmd(obj: Any, platform: str, account: str, tags: tuple[str, ...],
                events: tuple[str, ...], actor: str) -> None:
    """Set an account's tags and events (replacing the previous ones)."""
    from archiver.retention_store import set_account

    parsed: dict[str, str] = {}
    for e in events:
        name, sep, when = e.partition("=")
        if not sep:
            raise InvalidRequest(f"--event {e!r}: expected NAME=TIME")
        parsed[name] = when
    _emit(set_account(obj.archive().appender, platform, account, tags, parsed, actor))


@retention_group.group("certificate")
def certificate_group() -> None:
    """Certificates of destruction: show, verify."""


@certificate_group.command("verify")
@click.argument("file", type=click.File("rb"))
@click.option("--vkey", default=None, help="The archive's verifier key (text or @FILE); "
              "without it only the certificate's own key is checked.")
def certificate_verify(file: IO[bytes], vkey: str | None) -> None:
    """Check a certificate's Ed25519 signature offline (no archive needed)."""
    from archiver.disposal import verify_certificate

    if vkey and vkey.startswith("@"):
        vkey = Path(vkey[1:]).read_text()
    result = verify_certificate(_read_json(file, "the certificate"), vkey)
    if not result["key_given"]:
        click.echo("note: checked against the key inside the certificate; pass --vkey with "
                   "the archive's published verifier key to check who signed it", err=True)
    _emit(result)


@certificate_group.command("show")
@click.argument("run_id")
@click.option("--html", "html_out", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Also write the human-readable rendering here.")
@click.pass_obj
def certificate_show(obj: Any, run_id: str, html_out: Path | None) -> None:
    """Print a finished run's signed certificate (JSON)."""
    from archiver.disposal import get_run, render_certificate_html
    from archiver.errors import Conflict

    cert = get_run(obj.archive(), run_id)["certificate"]
    if cert is None:
        raise Conflict(f"run {run_id} has no certificate (it has not finished)")
    if html_out is not None:
        html_out.write_text(render_certificate_html(cert), encoding="utf-8")
    _emit(cert)


# -- archiver hold -------------------------------------------------------------------------------


@click.group("hold")
def hold_group() -> None:
    """Legal holds: place, change the scope, release, list."""


@hold_group.command("place")
@click.argument("file", type=click.File("rb"))
@_ACTOR
@click.pass_obj
def hold_place(obj: Any, file: IO[bytes], actor: str) -> None:
    """Place a hold described by a JSON file ('-' for stdin)."""
    from archiver.retention_store import place_hold

    archive = obj.archive()
    hold = place_hold(archive.appender, _read_json(file, "the hold"), actor)
    _emit({"hold": hold, "object_holds": _sync_holds(archive)})


@hold_group.command("change")
@click.argument("hold_id")
@click.argument("file", type=click.File("rb"))
@_ACTOR
@click.pass_obj
def hold_change(obj: Any, hold_id: str, file: IO[bytes], actor: str) -> None:
    """Give a hold the scope in FILE (JSON; a new version, history kept)."""
    from archiver.retention_store import change_hold_scope

    archive = obj.archive()
    hold = change_hold_scope(archive.appender, hold_id, _read_json(file, "the scope"), actor)
    _emit({"hold": hold, "object_holds": _sync_holds(archive)})


@hold_group.command("release")
@click.argument("hold_id")
@click.option("--reason", required=True, help="Why the hold ends (recorded).")
@_ACTOR
@click.pass_obj
def hold_release(obj: Any, hold_id: str, reason: str, actor: str) -> None:
    """Release a hold."""
    from archiver.retention_store import release_hold

    archive = obj.archive()
    hold = release_hold(archive.appender, hold_id, actor, reason)
    _emit({"hold": hold, "object_holds": _sync_holds(archive)})


@hold_group.command("list")
@click.pass_obj
def hold_list(obj: Any) -> None:
    """Every hold, active and released."""
    from sqlalchemy import select

    from archiver.catalog import schema as t
    from archiver.retention_store import hold_out

    with obj.archive().catalog.reader() as conn:
        for row in conn.execute(select(t.legal_holds).order_by(t.legal_holds.c.placed_at)):
            _emit(hold_out(row))


@hold_group.command("history")
@click.argument("hold_id")
@click.pass_obj
def hold_history_cmd(obj: Any, hold_id: str) -> None:
    """A hold's history: placed, scope changed, released."""
    from archiver.retention_store import hold_history

    with obj.archive().catalog.reader() as conn:
        _emit(hold_history(conn, hold_id))


@hold_group.command("sync")
@click.pass_obj
def hold_sync(obj: Any) -> None:
    """Bring S3 object legal holds in line with the active holds."""
    from archiver.disposal import sync_object_holds

    _emit(sync_object_holds(obj.archive()))


# -- archiver disposition ------------------------------------------------------------------------


@click.group("disposition")
def disposition_group() -> None:
    """Disposition runs: create (preview) -> approve (another person) -> execute."""


@disposition_group.command("create")
@click.option("--tombstone", type=click.Choice(["metadata", "bare"]), default="metadata",
              show_default=True, help="What stays of a destroyed record besides its "
              "envelope: platform, account, item id, dates, hash; or nothing.")
@_ACTOR
@click.pass_obj
def disposition_create(obj: Any, tombstone: str, actor: str) -> None:
    """Compute what is due now and store it as a run awaiting approval."""
    from archiver.disposal import Actor, create_run

    _emit(create_run(obj.archive(), Actor.cli(actor), tombstone=tombstone))


@disposition_group.command("approve")
@click.argument("run_id")
@_ACTOR
@click.pass_obj
def disposition_approve(obj: Any, run_id: str, actor: str) -> None:
    """Approve a run (not by its creator)."""
    from archiver.disposal import Actor, approve_run

    _emit(approve_run(obj.archive(), run_id, Actor.cli(actor)))


@disposition_group.command("decide")
@click.argument("run_id")
@click.option("--seq", "seqs", type=int, multiple=True, required=True,
              help="A record due for review (repeat).")
@click.option("--destroy/--keep", "destroy", required=True, default=None)
@click.option("--export", "export_id", default=None,
              help="For records due for transfer: the finished export that held them.")
@_ACTOR
@click.pass_obj
def disposition_decide(obj: Any, run_id: str, seqs: tuple[int, ...], destroy: bool,
                       export_id: str | None, actor: str) -> None:
    """Decide records due for review or transfer: destroy them with the run, or keep them."""
    from archiver.disposal import Actor, decide_review

    _emit(decide_review(obj.archive(), run_id, list(seqs), "destroy" if destroy else "keep",
                        Actor.cli(actor), export_id))


@disposition_group.command("execute")
@click.argument("run_id")
@_ACTOR
@click.pass_obj
def disposition_execute(obj: Any, run_id: str, actor: str) -> None:
    """Carry out an approved run (or finish an interrupted one)."""
    from archiver.disposal import Actor, execute_run

    _emit(execute_run(obj.archive(), run_id, Actor.cli(actor)))


@disposition_group.command("cancel")
@click.argument("run_id")
@_ACTOR
@click.pass_obj
def disposition_cancel(obj: Any, run_id: str, actor: str) -> None:
    """Cancel a run that has not started."""
    from archiver.disposal import Actor, cancel_run

    _emit(cancel_run(obj.archive(), run_id, Actor.cli(actor)))


@disposition_group.command("show")
@click.argument("run_id")
@click.option("--items", is_flag=True, help="Every record of the run and its outcome.")
@click.pass_obj
def disposition_show(obj: Any, run_id: str, items: bool) -> None:
    """A run: state, preview, outcomes, certificate."""
    from archiver.disposal import get_run

    _emit(get_run(obj.archive(), run_id, items=items))


@disposition_group.command("list")
@click.pass_obj
def disposition_list(obj: Any) -> None:
    """Every run, oldest first."""
    from archiver.disposal import list_runs

    for run in list_runs(obj.archive()):
        run.pop("certificate", None)
        _emit(run)


def register(cli: click.Group) -> None:
    """Add `archiver retention`, `archiver hold` and `archiver disposition`."""
    cli.add_command(retention_group)
    cli.add_command(hold_group)
    cli.add_command(disposition_group)

