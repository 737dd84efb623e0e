"""`archiver import PLATFORM FILE`: an account export into the archive, all or nothing.

The platform's reader (`archiver.collectors.exports.<platform>.read_export`) is run to the
end before anything is ingested, so a file that turns out bad half-way archives nothing.
Items are ingested with `first_event="observed"`: an export is a copy seen long after the
fact, not the item appearing, so an item the archive has never seen is `observed`, and
an item it holds already makes the usual events (nothing, or an edit).
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import zipfile
from pathlib import Path

from archiver.collectors import accounts as acc
from archiver.collectors.runner import observation_input, remember_published, with_account
from archiver.errors import ArchiveError, InvalidObservation, InvalidRequest
from archiver.ingest import IngestSummary
from archiver.records import Observation, parse_observation
from archiver.wiring import Archive


def reader_for(platform: str):  # noqa: ANN201 - a module's function
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", platform):
        raise InvalidRequest(f"no export reader for platform {platform!r}")
    name = f"archiver.collectors.exports.{platform}"
    if importlib.util.find_spec(name) is None:
        raise InvalidRequest(f"no export reader for platform {platform!r}")
    read = getattr(importlib.import_module(name), "read_export", None)
    if not callable(read):
        raise InvalidRequest(f"{name} has no read_export()")
    return read


def read_all(platform: str, path: Path, *, max_text_bytes: int) -> list[Observation]:
    """Every observation of the export, checked like `archiver ingest` checks a line."""
    if not path.is_file():
        raise InvalidRequest(f"{path}: no such file")
    read = reader_for(platform)
    out: list[Observation] = []
    try:
        for n, obs in enumerate(read(path), start=1):
            if not isinstance(obs, Observation):
                raise InvalidRequest(f"{path}: item {n}: the reader gave "
                                     f"{type(obs).__name__}, not an observation")
            if obs.platform != platform:
                raise InvalidRequest(f"{path}: item {n} is a {obs.platform} item, not "
                                     f"{platform}")
            # The same rules as ingest; times come back normalised to UTC.
            out.append(parse_observation(observation_input(obs),
                                         max_text_bytes=max_text_bytes, line=n))
    except InvalidObservation as exc:
        raise InvalidRequest(f"{path}: {exc}") from None
    except ArchiveError as exc:
        raise InvalidRequest(f"{path}: {exc}") from None
    except (OSError, ValueError, KeyError, TypeError, IndexError, zipfile.BadZipFile,
            UnicodeDecodeError, EOFError, RecursionError) as exc:
        raise InvalidRequest(f"{path}: not a readable {platform} export "
                             f"({exc.__class__.__name__}: {str(exc)[:200]})") from None
    if not out:
        raise InvalidRequest(f"{path}: the export holds no items")
    return out


def import_export(archive: Archive, platform: str, path: Path, *,
                  account_id: str | None = None) -> IngestSummary:
    """Read the whole export, then archive it as `observed` records in one ingest."""
    account = None
    if account_id is not None:
        account = acc.get_account(archive.catalog, account_id)
        if account.platform != platform:
            raise InvalidRequest(f"account {account_id} is a {account.platform} account, "
                                 f"not {platform}")
    observations = read_all(platform, path,
                            max_text_bytes=archive.settings.capture.max_text_bytes)
    if account is not None:
        observations = with_account(observations, account.platform_id)
    summary = archive.ingestor.ingest(observations, first_event="observed")
    remember_published(archive.appender, observations)
    return summary
