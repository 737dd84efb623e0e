"""`archiver accounts ...`, `archiver collect --once`, `archiver worker`, `archiver import`.

    archiver accounts add PLATFORM --platform-id ID --handle H [--base-url URL]
        [--credential NAME=VALUE ...] [--interval 15m] [--department D] [--tag T ...]
        [--option NAME=VALUE ...]                  one JSON line: the account
    archiver accounts list | show ID | pause ID [--reason R] | resume ID | remove ID
    archiver accounts health ID                    last runs, gap, alerts
    archiver collect --once [--account ID] [--json]
    archiver worker [--max-sleep SECONDS]
    archiver import PLATFORM FILE [--account ID]   an account export, as `observed` records

Credential values are taken from the command line (or `--credential NAME=@FILE`, or
`NAME=-` for one line of stdin) and are never printed back.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import click

from archiver.collectors import accounts as acc
from archiver.errors import InvalidRequest


def _emit(obj: Any) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False))


def _credential_values(pairs: tuple[str, ...]) -> dict[str, str]:
    creds = acc.parse_pairs(pairs, "--credential", typed=False)
    for name, value in list(creds.items()):
        if value == "-":
            creds[name] = sys.stdin.readline().rstrip("\r\n")
        elif value.startswith("@"):
            try:
                creds[name] = Path(value[1:]).read_text().strip()
            except OSError as exc:
                raise InvalidRequest(f"--credential {name}: cannot read {value[1:]}: "
                                     f"{exc.strerror}") from None
    return creds


@click.group("accounts")
def accounts_group() -> None:
    """The official accounts the archive collects."""


@accounts_group.command("add")
@click.argument("platform")
@click.option("--platform-id", required=True, help="The platform's id of the account "
              "(Mastodon/X numeric id, Bluesky DID).")
@click.option("--handle", required=True, help="The account's handle (for people).")
@click.option("--base-url", default=None, help="API root (Mastodon: the instance; "
              "default Bluesky https://public.api.bsky.app, X https://api.x.com).")
@click.option("--credential", multiple=True, metavar="NAME=VALUE",
              help="A credential (NAME=@FILE reads a file, NAME=- a line of stdin).")
@click.option("--interval", default="15m", show_default=True, help="How often to collect.")
@click.option("--department", default=None, help="The owning department.")
@click.option("--tag", multiple=True, help="A tag (repeatable).")
@click.option("--option", multiple=True, metavar="NAME=VALUE",
              help="A collector option, e.g. read_budget=500 for X (repeatable).")
@click.option("--actor", default="archiver accounts add", help="Who adds it (for the log).")
@click.pass_obj
def accounts_add(obj: Any, platform: str, platform_id: str, handle: str,
                 base_url: str | None, credential: tuple[str, ...], interval: str,
                 department: str | None, tag: tuple[str, ...], option: tuple[str, ...],
                 actor: str) -> None:
    """Register an account for collection."""
    creds = _credential_values(credential)
    options = acc.parse_pairs(option, "--option", typed=True)
    account = acc.add_account(obj.archive().appender, platform=platform,
                              platform_id=platform_id, handle=handle, base_url=base_url,
                              credentials=creds, interval=interval, department=department,
                              tags=tag, options=options, actor=actor)
    _emit(account.as_dict())


@accounts_group.command("list")
@click.option("--platform", default=None)
@click.option("--all", "show_all", is_flag=True, help="Include removed accounts.")
@click.pass_obj
def accounts_list(obj: Any, platform: str | None, show_all: bool) -> None:
    """One JSON line per account (credential names only, never values)."""
    for a in acc.list_accounts(obj.archive().catalog, platform=platform,
                               include_removed=show_all):
        _emit(a.as_dict())


@accounts_group.command("show")
@click.argument("account_id")
@click.pass_obj
def accounts_show(obj: Any, account_id: str) -> None:
    _emit(acc.get_account(obj.archive().catalog, account_id).as_dict())


@accounts_group.command("pause")
@click.argument("account_id")
@click.option("--reason", default=None, help="Why (shown by list and health).")
@click.pass_obj
def accounts_pause(obj: Any, account_id: str, reason: str | None) -> None:
    """Stop collecting until resumed."""
    _emit(acc.pause_account(obj.archive().appender, account_id,
                            reason or "paused by an administrator").as_dict())


@accounts_group.command("resume")
@click.argument("account_id")
@click.pass_obj
def accounts_resume(obj: Any, account_id: str) -> None:
    """Collect again (and clear the account's alerts)."""
    _emit(acc.resume_account(obj.archive().appender, account_id).as_dict())


@accounts_group.command("remove")
@click.argument("account_id")
@click.option("--actor", default="archiver accounts remove", help="Who (for the log).")
@click.pass_obj
def accounts_remove(obj: Any, account_id: str, actor: str) -> None:
    """Stop collecting for good; credentials are erased, records stay."""
    _emit(acc.remove_account(obj.archive().appender, account_id, actor=actor).as_dict())


@accounts_group.command("health")
@click.argument("account_id")
@click.pass_obj
def accounts_health(obj: Any, account_id: str) -> None:
    """Last run, last success, gap, pause reason and open alerts, as JSON."""
    from archiver.collectors.health import account_health
    _emit(account_health(obj.archive(), account_id))


def _index(archive: Any) -> None:
    from archiver.search.commands import index_after_ingest
    index_after_ingest(archive)


def _print_run(result: Any, as_json: bool) -> None:
    if as_json:
        _emit(result.as_dict())
        return
    ev = ", ".join(f"{n} {e}" for e, n in result.events.items() if n) or "nothing new"
    line = f"{result.account}: {result.outcome}: {ev}; {result.listed} listed, " \
           f"{result.looked_up} looked up, {result.requests} requests"
    if result.error:
        line += f"; error: {result.error}"
    click.echo(line)
    for note in result.notes:
        click.echo(f"  note: {note}")


@click.command("collect")
@click.option("--once", is_flag=True, required=True,
              help="Run the due accounts (or --account) once and exit; `archiver worker` "
                   "loops.")
@click.option("--account", "account_id", default=None, help="This account, due or not.")
@click.option("--json", "as_json", is_flag=True, help="One JSON line per run.")
@click.pass_obj
def collect(obj: Any, once: bool, account_id: str | None, as_json: bool) -> None:
    """Collect accounts once; exit 1 when a run failed."""
    from archiver.collectors.runner import collect_account
    from archiver.collectors.scheduler import run_due

    _log_to_stderr()
    archive = obj.archive()
    if account_id is not None:
        results = [collect_account(archive, account_id, actor="archiver collect")]
    else:
        results = []
        for r in run_due(archive, actor="archiver collect"):
            results.append(r)
    for r in results:
        _print_run(r, as_json)
    if any(r.events.get(e) for r in results for e in r.events):
        _index(archive)
    if any(r.outcome == "failed" for r in results):
        sys.exit(1)


@click.command("worker")
@click.option("--max-sleep", type=click.FloatRange(0.1, 3600), default=30.0,
              show_default=True, help="Longest sleep between scheduling passes (seconds).")
@click.pass_obj
def worker_cmd(obj: Any, max_sleep: float) -> None:
    """Collect every account on its schedule until SIGTERM; accounts with the option
    stream=true (Mastodon, Bluesky) are also followed in real time."""
    from archiver.collectors.scheduler import worker

    _log_to_stderr()
    archive = obj.archive()

    def after_each(result: Any) -> None:
        _print_run(result, True)
        if any(result.events.values()):
            _index(archive)

    runs = worker(archive, after_each=after_each, max_sleep=max_sleep,
                  after_streamed=lambda: _index(archive))
    click.echo(f"worker stopped after {runs} runs", err=True)


@click.command("import")
@click.argument("platform")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--account", "account_id", default=None,
              help="File the items under this registered account.")
@click.pass_obj
def import_cmd(obj: Any, platform: str, file: Path, account_id: str | None) -> None:
    """Archive an account export (X archive zip, Mastodon outbox.json, Bluesky CAR) as
    `observed` records; a bad file archives nothing (exit 2)."""
    from archiver.collectors.exports_cli import import_export

    archive = obj.archive()
    summary = import_export(archive, platform, file, account_id=account_id)
    if summary.archived:
        _index(archive)
    out = summary.as_dict()
    out.pop("errors", None)
    _emit(out)


def _log_to_stderr() -> None:
    logger = logging.getLogger("archiver.collectors")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def register(cli: click.Group) -> None:
    """Add the collectors' commands to the `archiver` command."""
    cli.add_command(accounts_group)
    cli.add_command(collect)
    cli.add_command(worker_cmd)
    cli.add_command(import_cmd)
