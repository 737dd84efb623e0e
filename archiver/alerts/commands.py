"""`archiver alerts ...`: rules, muting, the alerts raised, and one evaluation turn (the
worker does this after each ingest; `run` is for cron or a first check)."""

from __future__ import annotations

import getpass
import json
from typing import Any

import click

from archiver.errors import InvalidRequest


def _echo(doc: Any) -> None:
    click.echo(json.dumps(doc, ensure_ascii=False))


@click.group("alerts")
def alerts_cmd() -> None:
    """Alert rules and alerts."""


@alerts_cmd.command("add-rule")
@click.option("--name", required=True)
@click.option("--kind", required=True)
@click.option("--config", "config", default="{}", help="JSON: accounts, kinds, terms, "
              "patterns, presets")
@click.option("--email", multiple=True)
@click.option("--webhook", multiple=True)
@click.option("--actor", envvar="ARCHIVER_ACTOR", default=None)
@click.pass_obj
def add_rule_cmd(obj: Any, name: str, kind: str, config: str, email: tuple[str, ...],
                 webhook: tuple[str, ...], actor: str | None) -> None:
    """Create a rule (an invalid pattern is refused, exit 2)."""
    from archiver.alerts.store import create_rule

    try:
        config_doc = json.loads(config)
    except ValueError:
        raise InvalidRequest("--config is not JSON") from None
    _echo(create_rule(obj.archive(), {"name": name, "kind": kind, "config": config_doc,
                                      "channels": {"email": list(email),
                                                   "webhook": list(webhook)}},
                      actor or f"cli:{getpass.getuser()}"))


@alerts_cmd.command("rules")
@click.pass_obj
def rules_cmd(obj: Any) -> None:
    """Every rule."""
    from archiver.alerts.store import list_rules

    _echo(list_rules(obj.archive()))


@alerts_cmd.command("mute")
@click.argument("rule_id")
@click.option("--off", is_flag=True, help="Unmute.")
@click.option("--actor", envvar="ARCHIVER_ACTOR", default=None)
@click.pass_obj
def mute_cmd(obj: Any, rule_id: str, off: bool, actor: str | None) -> None:
    """Mute a rule (or unmute it with --off)."""
    from archiver.alerts.store import set_muted

    _echo(set_muted(obj.archive(), rule_id, not off, actor or f"cli:{getpass.getuser()}"))


@alerts_cmd.command("list")
@click.option("--limit", type=click.IntRange(1, 1000), default=100)
@click.pass_obj
def list_cmd(obj: Any, limit: int) -> None:
    """The alerts raised, newest first."""
    from archiver.alerts.store import list_alerts

    _echo(list_alerts(obj.archive(), limit))


@alerts_cmd.command("run")
@click.pass_obj
def run_cmd(obj: Any) -> None:
    """Evaluate and deliver what is new now."""
    from archiver.alerts.worker import run_once

    raised = run_once(obj.archive())
    _echo({"raised": [{"id": a.id, "kind": a.kind, "subject": a.subject} for a in raised]})


def register(cli: click.Group) -> None:
    """Add `archiver alerts` to the archiver command."""
    cli.add_command(alerts_cmd)
