"""Media download for collectors: fetch each attachment, refuse what is too large or not
what it says it is, and hash what is kept.

A file is kept only when both its declared `Content-Type` and its first bytes (magic
numbers) name the same allowed format: JPEG, PNG, GIF, WebP, MP4/MOV (ISO base media
`ftyp`), WebM (EBML with the `webm` doctype). Size is checked twice: the declared
`Content-Length` before reading, and the bytes actually received while streaming.

Nothing is dropped silently: a medium that cannot be kept stays referenced in its
observation (url, id, alt) without `sha256`, and the run's problems say why. Storage is
not done here (collectors never touch the log): the caller hands the blobs to
`Ingestor.ingest(observations, media=blobs)`, which encrypts and stores them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from archiver.collectors.transport import Transport
from archiver.errors import CollectorError
from archiver.records import MediaBlob, Observation

__all__ = ["DEFAULT_ALLOWED_TYPES", "MediaBlob", "MediaRefused", "download_media", "sniff"]

DEFAULT_ALLOWED_TYPES = frozenset({
    "image/jpeg", "image/png", "image/gif", "image/webp",
    "video/mp4", "video/quicktime", "video/webm",
})
# Names servers use for the same format; and MP4/MOV share one container (ISO/IEC 14496-12),
# so a server's choice between the two is not a mismatch.
_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg",
            "video/quicktime": "video/mp4"}
# `ftyp` major brands that are still images or audio, not video (HEIF, AVIF, M4A).
_FTYP_NOT_VIDEO = {b"heic": "image/heic", b"heix": "image/heic", b"mif1": "image/heif",
                   b"msf1": "image/heif", b"avif": "image/avif", b"avis": "image/avif",
                   b"M4A ": "audio/mp4", b"M4B ": "audio/mp4"}


class MediaRefused(CollectorError):
    """One medium was not kept (status, size, type); the run goes on without it."""

    code = "media_refused"


def sniff(data: bytes) -> str | None:
    """The format named by the file's magic bytes, or None for anything not recognised."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if len(data) >= 12 and data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand in _FTYP_NOT_VIDEO:
            return _FTYP_NOT_VIDEO[brand]
        return "video/quicktime" if brand == b"qt  " else "video/mp4"
    if data.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: WebM or Matroska, by the DocType
        head = data[:64]
        if b"webm" in head:
            return "video/webm"
        if b"matroska" in head:
            return "video/x-matroska"
    return None


def _family(mime: str) -> str:
    return _ALIASES.get(mime, mime)


def fetch_blob(http: Transport, url: str, *, max_bytes: int,
               allowed_types: Collection[str]) -> MediaBlob:
    """Download one medium and check it; raises MediaRefused saying why it is not kept."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise MediaRefused("not an http(s) URL")
    try:
        response = http.get(url, max_bytes=max_bytes)
    except CollectorError as exc:  # 404, too large, unreachable, rate limited, 401
        raise MediaRefused(str(exc)) from None
    body = response.body
    if len(body) > max_bytes:  # the transport checks too; a medium must never exceed it
        raise MediaRefused(f"{len(body)} bytes, larger than the {max_bytes}-byte limit")
    declared = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if not declared:
        raise MediaRefused("no Content-Type")
    allowed = {t.lower() for t in allowed_types}
    if declared not in allowed and _family(declared) not in allowed:
        raise MediaRefused(f"declared type {declared} is not allowed")
    sniffed = sniff(body)
    if sniffed is None:
        raise MediaRefused(f"declared {declared} but the bytes are none of the known formats")
    if _family(sniffed) != _family(declared):
        raise MediaRefused(f"declared {declared} but the bytes are {sniffed}")
    if sniffed not in allowed:
        raise MediaRefused(f"type {sniffed} is not allowed")
    return MediaBlob(sha256=hashlib.sha256(body).hexdigest(), mime=sniffed, data=body,
                     source_url=response.url)


def download_media(http: Transport, observations: Sequence[Observation], *, max_bytes: int,
                   allowed_types: Collection[str]
                   ) -> tuple[list[Observation], dict[str, MediaBlob], list[str]]:
    """Fetch every media `url` of every observation (each URL once per call).

    Returns the observations with `sha256` and `mime` filled in the media entries that
    were kept, the blobs by sha256 (identical files once), and one problem line per
    entry that was not kept: that entry stays in its observation without `sha256`.
    """
    blobs: dict[str, MediaBlob] = {}
    problems: list[str] = []
    fetched: dict[str, MediaBlob | MediaRefused] = {}
    out: list[Observation] = []
    for obs in observations:
        if not obs.media:
            out.append(obs)
            continue
        entries: list[dict[str, Any]] = []
        for i, entry in enumerate(obs.media):
            where = f"{obs.platform} item {obs.item_id} media[{i}]"
            url = entry.get("url")
            kept = {k: v for k, v in entry.items() if k not in ("sha256", "object")}
            if not isinstance(url, str) or not url:
                problems.append(f"{where}: no url to download; kept without sha256")
                entries.append(kept)
                continue
            if url not in fetched:
                try:
                    fetched[url] = fetch_blob(http, url, max_bytes=max_bytes,
                                              allowed_types=allowed_types)
                except MediaRefused as exc:
                    fetched[url] = exc
            got = fetched[url]
            if isinstance(got, MediaRefused):
                problems.append(f"{where} {_safe(url)}: {got}; kept without sha256")
                entries.append(kept)
                continue
            blobs.setdefault(got.sha256, got)
            entries.append({**kept, "sha256": got.sha256, "mime": got.mime})
        out.append(replace(obs, media=entries))
    return out, blobs, problems


def _safe(url: str) -> str:
    """The URL without its query, which may carry a signature or token."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"
