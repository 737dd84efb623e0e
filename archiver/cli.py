"""The `archiver` command. Exit codes: 0 ok, 1 verification failed, 2 bad input or usage,
3 a store or catalog unreachable, 4 other archive errors."""

from __future__ import annotations

import json
import secrets
import socket
import sys
from typing import Any

import click

from archiver.config import CONFIG_FILE, load_settings, render_toml
from archiver.errors import (
    ArchiveError,
    ConfigError,
    IntegrityError,
    InvalidRequest,
    NotFound,
    StoreError,
)
from archiver.ingest import read_jsonl
from archiver.wiring import Archive, init_archive, open_archive

EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_ERROR = 1, 2, 3, 4


def _emit(obj: Any) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, indent=None))


class _Ctx:
    def __init__(self, home: str | None) -> None:
        self.home = home
        self._archive: Archive | None = None

    def settings(self):  # noqa: ANN201
        return load_settings(self.home)

    def archive(self) -> Archive:
        if self._archive is None:
            self._archive = open_archive(self.settings())
        return self._archive


@click.group()
@click.option("--home", envvar="ARCHIVER_HOME", default=None,
              help="Archive home directory (default ./var).")
@click.pass_context
def cli(ctx: click.Context, home: str | None) -> None:
    """Social media archive: capture, verify, prove."""
    ctx.obj = _Ctx(home)


@cli.command()
@click.option("--origin", default=None, help="The log's name in checkpoints (no spaces or '+').")
@click.pass_obj
def init(obj: _Ctx, origin: str | None) -> None:
    """Create the archive: config, KEK, signing key, fingerprint key, catalog, store."""
    settings = obj.settings()
    cfg = settings.home / CONFIG_FILE
    if not cfg.exists():
        settings.home.mkdir(parents=True, exist_ok=True)
        cfg.write_text("# archiver settings; ARCHIVER_<SECTION>_<KEY> overrides any of these.\n"
                       + render_toml({"store": {"kind": settings.store.kind},
                                      "log": {"segment_max_records":
                                              settings.log.segment_max_records}}))
    name = origin or f"{socket.gethostname().split('.')[0]}.archiver/{secrets.token_hex(4)}"
    archive, created = init_archive(settings, name)
    obj._archive = archive
    if created:
        click.echo(f"initialised archive at {settings.home}")
        click.echo(f"store:    {archive.store.description}")
        if settings.store.kind == "s3" and not archive.store.supports_object_lock:
            click.echo("WARNING: the bucket has no Object Lock: segments and checkpoints are "
                       "NOT write-once on this store (create the bucket with Object Lock "
                       "enabled for WORM)", err=True)
        click.echo(f"verifier key: {archive.appender.p.signer.vkey()}")
    else:
        click.echo(f"archive at {settings.home} already initialised; nothing changed")


@cli.command()
@click.argument("file", type=click.File("rb"))
@click.pass_obj
def ingest(obj: _Ctx, file: Any) -> None:
    """Archive observations from FILE (JSON Lines; '-' for stdin)."""
    archive = obj.archive()
    cap = archive.settings.capture.max_text_bytes
    summary = archive.ingestor.ingest(
        obs for _, obs in read_jsonl(file, max_text_bytes=cap, max_line_bytes=4 * cap + 1_000_000))
    from archiver.search.commands import index_after_ingest
    index_after_ingest(archive)
    for err in summary.rejected:
        click.echo(f"line {err.line}: {err.reason}", err=True)
    out = summary.as_dict()
    out.pop("errors", None)
    _emit(out)
    if summary.rejected:
        sys.exit(EXIT_USAGE)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON report.")
@click.option("--no-decrypt", is_flag=True, help="Skip decrypting payloads (structure only).")
@click.pass_obj
def verify(obj: _Ctx, as_json: bool, no_decrypt: bool) -> None:
    """Check every segment, chain link, key, checkpoint and root; exit 1 on any failure."""
    from archiver.log.verify import verify_archive

    settings = obj.settings()
    archive = open_archive(settings, recover=False)
    report = verify_archive(archive.appender, decrypt=not no_decrypt)
    if as_json:
        _emit(report.as_dict())
    else:
        for w in report.warnings:
            click.echo(f"WARN {w}")
        for f in report.failures:
            click.echo(f"FAIL {f}")
        status = "intact" if report.ok else "FAILED"
        click.echo(f"{status}: {report.records} records in {report.segments} segments, "
                   f"{report.checkpoints} checkpoints, {report.decrypted} decrypted, "
                   f"{report.destroyed} destroyed")
        if report.failures:
            first = report.failures[0]
            click.echo(f"first bad record: seq {first.seq}" if first.seq is not None
                       else f"first failure: {first.where}")
    sys.exit(0 if report.ok else EXIT_FAILED)


@cli.command()
@click.argument("seq", type=int)
@click.pass_obj
def show(obj: _Ctx, seq: int) -> None:
    """Print record SEQ decrypted: envelope, record hash, payload."""
    from archiver.log.reader import read_record

    if seq < 0:
        raise InvalidRequest("seq must not be negative")
    out = read_record(obj.archive().appender, seq).as_dict()
    if out["destroyed"]:  # what remains: when, under which run and policy
        from archiver.retention_store import disposition_of

        out["disposition"] = disposition_of(obj.archive().catalog, [seq]).get(seq)
    _emit(out)


@cli.command("audit-log")
@click.option("--since", default=None, help="Only records captured at or after this time.")
@click.pass_obj
def audit_log(obj: _Ctx, since: str | None) -> None:
    """List the log's `system` records (the archive's legal history), decrypted, as JSON lines."""
    from archiver.log.reader import system_records
    from archiver.times import TimeFormatError, format_time, parse_time

    try:
        bound = format_time(parse_time(since)) if since else None
    except TimeFormatError as exc:
        raise InvalidRequest(f"--since {exc}") from None
    for rec in system_records(obj.archive().appender, since=bound):
        payload = rec.payload or {}
        _emit({"seq": rec.envelope.seq, "time": rec.envelope.time,
               "action": payload.get("action"), "actor": payload.get("actor"),
               "details": payload.get("details"), "destroyed": rec.payload is None})


@cli.command()
@click.pass_obj
def rebuild(obj: _Ctx) -> None:
    """Rebuild the catalog from the object store and the keys."""
    from archiver.log.rebuild import rebuild_catalog

    archive = open_archive(obj.settings(), recover=False)
    n = rebuild_catalog(archive.appender)
    _emit({"rebuilt": True, "records": n})


@cli.group("log")
def log_group() -> None:
    """The log's public face: verifier key, checkpoints."""


@log_group.command()
@click.pass_obj
def vkey(obj: _Ctx) -> None:
    """Print the verifier key line (golang.org/x/mod/sumdb/note format)."""
    click.echo(obj.archive().appender.p.signer.vkey())


@log_group.command("checkpoint")
@click.option("--size", type=int, default=None, help="The checkpoint of this tree size.")
@click.pass_obj
def log_checkpoint(obj: _Ctx, size: int | None) -> None:
    """Print the signed checkpoint of SIZE records (default: the newest)."""
    from archiver.log.proofs import checkpoint_note

    click.echo(checkpoint_note(obj.archive().appender, size).decode(), nl=False)


@log_group.command("checkpoints")
@click.pass_obj
def log_checkpoints(obj: _Ctx) -> None:
    """List the tree sizes that have a signed checkpoint."""
    from archiver.log.proofs import checkpoint_sizes

    _emit(checkpoint_sizes(obj.archive().appender))


@log_group.command("prove")
@click.argument("seq", type=int)
@click.option("--size", type=int, default=None, help="Tree size (default: newest checkpoint).")
@click.pass_obj
def log_prove(obj: _Ctx, seq: int, size: int | None) -> None:
    """Print the inclusion proof of record SEQ (ARCHIVE_FORMAT.md JSON)."""
    from archiver.log.proofs import inclusion_proof

    _emit(inclusion_proof(obj.archive().appender, seq, size))


@log_group.command("consistency")
@click.argument("old", type=int)
@click.argument("new", type=int)
@click.pass_obj
def log_consistency(obj: _Ctx, old: int, new: int) -> None:
    """Print the consistency proof between tree sizes OLD and NEW."""
    from archiver.log.proofs import consistency_proof

    _emit(consistency_proof(obj.archive().appender, old, new))


@cli.group("keys")
def keys_group() -> None:
    """Key custody: KEK rotation."""


@keys_group.command("rotate-kek")
@click.option("--actor", default="archiver keys rotate-kek", help="Who rotates (for the log).")
@click.option("--destroy-old", is_flag=True,
              help="Delete the retired KEK file once every key is re-wrapped and verified.")
@click.pass_obj
def rotate_kek_cmd(obj: _Ctx, actor: str, destroy_old: bool) -> None:
    """Re-wrap every data key under a new KEK (segments are not rewritten)."""
    from archiver.log.rotation import rotate_kek
    from archiver.log.verify import verify_archive

    archive = obj.archive()
    result = rotate_kek(archive.appender, archive.settings.kek_path, actor)
    report = verify_archive(archive.appender)
    out = {"rotated": True, "from": result.old_kek, "to": result.new_kek,
           "key_objects": result.key_objects, "keys": result.keys, "system_record": result.seq,
           "verified": report.ok}
    retired = archive.settings.kek_path.parent / "retired" / f"{result.old_kek}.json"
    if destroy_old and report.ok:
        retired.unlink()
        out["retired_kek"] = "destroyed"
    else:
        out["retired_kek"] = str(retired)
    _emit(out)
    if not report.ok:
        sys.exit(EXIT_FAILED)


@cli.group("config")
def config_group() -> None:
    """Effective settings."""


@config_group.command("show")
@click.pass_obj
def config_show(obj: _Ctx) -> None:
    """Print the effective settings, secrets masked."""
    _emit(obj.settings().masked())


@cli.command()
@click.option("--reset", is_flag=True, help="Start from an empty archive home.")
@click.pass_obj
def demo(obj: _Ctx, reset: bool) -> None:
    """Load the multilingual demo data set (idempotent: the second load archives nothing)."""
    import shutil
    from importlib.resources import files

    settings = obj.settings()
    if reset and settings.home.exists():
        shutil.rmtree(settings.home)
    if not settings.kek_path.exists():
        obj._archive, _ = init_archive(settings, "demo.archiver/wrenfield")
    archive = obj.archive()
    data = files("archiver.demo").joinpath("observations.jsonl").read_bytes()
    import io

    summary = archive.ingestor.ingest(
        o for _, o in read_jsonl(io.BytesIO(data), max_text_bytes=100_000,
                                 max_line_bytes=1_000_000))
    from archiver.search.commands import index_after_ingest
    index_after_ingest(archive)
    _emit(summary.as_dict())


from archiver.api.commands import register as _register_api_commands  # noqa: E402, I001
_register_api_commands(cli)

from archiver.search.commands import register as _register_search_commands  # noqa: E402, I001
_register_search_commands(cli)

from archiver.collectors.commands import register as _register_collector_commands  # noqa: E402, I001
_register_collector_commands(cli)

from archiver.retention_cli import register as _register_retention_commands  # noqa: E402, I001
_register_retention_commands(cli)

from archiver.exports.commands import register as _register_export_commands  # noqa: E402, I001
_register_export_commands(cli)

from archiver.redaction.commands import register as _register_response_commands  # noqa: E402, I001
_register_response_commands(cli)

from archiver.alerts.commands import register as _register_alert_commands  # noqa: E402, I001
_register_alert_commands(cli)


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="archiver", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(EXIT_ERROR)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE)
    except (ConfigError, InvalidRequest) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    except NotFound as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    except IntegrityError as exc:
        click.echo(f"integrity failure: {exc}", err=True)
        sys.exit(EXIT_FAILED)
    except StoreError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_UNREACHABLE)
    except ArchiveError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_ERROR)


if __name__ == "__main__":
    main(sys.argv[1:])


