"""`archiver serve` and `archiver tokens ...`, attached to the main CLI by `register`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from archiver.tokens import ROLES, create_token, list_tokens, revoke_token, verify_token


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535),
              help="Port (0: any free port).")
@click.pass_obj
def serve(obj: Any, host: str, port: int) -> None:
    """Run the HTTP API on the development server (production: gunicorn, see docs/deploy.md)."""
    from werkzeug.serving import make_server

    from archiver.api import create_app

    archive = obj.archive()
    app = create_app(archive.settings, archive)
    server = make_server(host, port, app, threaded=True)
    url = _url(host, server.server_port)
    click.echo(f"archive:  {archive.settings.home}")
    click.echo(f"serving:  {url}/api/v1/  (OpenAPI {url}/api/v1/openapi.json, "
               f"metrics {url}/metrics)")
    click.echo("development server: in production run gunicorn -c deploy/gunicorn.conf.py")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopped")
    finally:
        server.server_close()
        archive.close()


@click.group("tokens")
def tokens() -> None:
    """API bearer tokens: create (the value is shown once), list, revoke."""


def _write_secret(path: Path, value: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    os.chmod(path, 0o600)


def _saved_token(catalog: Any, path: Path, name: str) -> str | None:
    """The token in `path`, if it is still an active token of this name."""
    from archiver.errors import Unauthorized

    try:
        value = path.read_text().strip()
    except OSError:
        return None
    try:
        info = verify_token(catalog, value)
    except Unauthorized:
        return None
    return value if info.name == name else None


@tokens.command("create")
@click.option("--name", required=True, help="Who or what holds the token.")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(ROLES),
              help="A role; repeat for several.")
@click.option("--if-missing", is_flag=True,
              help="Create only if no active token of this name exists; with --save, print "
                   "the token saved in FILE while it is still active.")
@click.option("--save", "save", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the token to FILE (mode 0600).")
@click.pass_obj
def tokens_create(obj: Any, name: str, roles: tuple[str, ...], if_missing: bool,
                  save: Path | None) -> None:
    """Create a token and print it once on stdout; it is stored only as a hash."""
    catalog = obj.archive().catalog
    if if_missing:
        if save is not None:
            value = _saved_token(catalog, save, name)
            if value is not None:
                click.echo(f"token {name!r} in {save} is active; not creating another", err=True)
                click.echo(value)
                return
        else:
            active = [t for t in list_tokens(catalog) if t.name == name and t.active]
            if active:
                click.echo(f"an active token named {name!r} exists ({active[0].id}); "
                           f"not creating another", err=True)
                return
    info, value = create_token(catalog, name, roles)
    if save is not None:
        _write_secret(save, value)
    click.echo(f"created {info.id} {info.name!r} ({', '.join(info.roles)}); this is the only "
               f"time the token is shown" + (f" (saved in {save})" if save else ""), err=True)
    click.echo(value)


@tokens.command("list")
@click.pass_obj
def tokens_list(obj: Any) -> None:
    """Every token (never its value), one JSON object per line, revoked ones included."""
    for info in list_tokens(obj.archive().catalog):
        click.echo(json.dumps(info.as_dict(), ensure_ascii=False))


@tokens.command("revoke")
@click.argument("token_id")
@click.pass_obj
def tokens_revoke(obj: Any, token_id: str) -> None:
    """Revoke token TOKEN_ID at once (its id, as `tokens list` shows it)."""
    info = revoke_token(obj.archive().catalog, token_id)
    click.echo(json.dumps(info.as_dict(), ensure_ascii=False))


def register(cli: click.Group) -> None:
    """Add the API's commands to the `archiver` command group."""
    cli.add_command(serve)
    cli.add_command(tokens)
