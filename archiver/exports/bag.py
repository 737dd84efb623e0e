"""The evidence package: a BagIt bag (RFC 8493) in a zip that proves its own integrity.

    <id>/bagit.txt                      BagIt 1.0, UTF-8
    <id>/bag-info.txt                   who, when, scope, counts, software, checkpoint
    <id>/chain-of-custody.json          the same and more, as JSON (a tag file)
    <id>/manifest-sha256.txt            every payload file's SHA-256
    <id>/tagmanifest-sha256.txt         the tag files' SHA-256
    <id>/data/records/<seq>.json        envelope, record hash, decrypted payload (raw JSON)
    <id>/data/media/<sha256><ext>       media files, decrypted
    <id>/data/items/<control>.html|pdf  renderings of each item and its comment thread
    <id>/data/loadfile/export.dat|csv|opt
    <id>/data/proofs/checkpoint         the signed checkpoint every proof is against
    <id>/data/proofs/vkey.txt           its verifier key (check it against one given out of band)
    <id>/data/proofs/inclusion/<seq>.json

The bag is written in a staging directory under `$ARCHIVER_HOME/exports/staging/`, every
file hashed as it is written; the zip is written as `<id>.zip.partial` and renamed to its
final name only when complete, so an interrupted export leaves nothing that looks done.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from sqlalchemy import select

from archiver.catalog import db
from archiver.catalog import schema as t
from archiver.errors import IntegrityError, InvalidRequest, NotFound
from archiver.exports import loadfile, render
from archiver.exports.scope import Disposed, ExportScope, Resolved
from archiver.log import merkle
from archiver.log.appender import Appender
from archiver.log.envelope import parse_line, segment_key
from archiver.log.reader import ReadRecord, read_media
from archiver.wiring import Archive

BAGIT_TXT = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
_PREFIX = re.compile(r"[A-Z0-9_-]{1,16}")
_EXT = {"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp",
        "video/mp4": ".mp4", "video/quicktime": ".mov", "video/webm": ".webm"}
Progress = Callable[[int, int], None]


def software_version() -> str:
    try:
        return f"archiver {version('archiver')}"
    except PackageNotFoundError:
        return "archiver (unknown version)"


@dataclass(frozen=True)
class ExportOptions:
    encoding: str = "utf-8"  # of the DAT and CSV load files
    delimiters: loadfile.Delimiters = field(default_factory=loadfile.Delimiters)
    prefix: str = "ARC"  # of the Bates-style control numbers
    pdf: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "encoding", loadfile.check_encoding(self.encoding))
        if not _PREFIX.fullmatch(self.prefix):
            raise InvalidRequest("the control number prefix must be 1-16 of A-Z, 0-9, _ and -")

    def as_dict(self) -> dict[str, Any]:
        d = self.delimiters
        return {"encoding": self.encoding, "prefix": self.prefix, "pdf": self.pdf,
                "delimiters": {"qualifier": d.qualifier, "separator": d.separator,
                               "newline": d.newline}}


@dataclass(frozen=True)
class ExportRequest:
    id: str
    scope: ExportScope
    requested_by: str
    requested_at: str
    options: ExportOptions = field(default_factory=ExportOptions)


@dataclass
class Timings:
    """Seconds spent per stage (benchmarks/export.py reports them)."""

    read: float = 0.0  # fetch + decrypt records and media, proofs
    render: float = 0.0  # HTML, PDF, load files
    package: float = 0.0  # hashing, manifests, zip

    def as_dict(self) -> dict[str, float]:
        return {"read": round(self.read, 3), "render": round(self.render, 3),
                "package": round(self.package, 3)}


class _Staging:
    """The bag's directory: files written once, hashed as they are written."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.hashes: dict[str, str] = {}
        self.sizes: dict[str, int] = {}

    def write(self, rel: str, data: bytes) -> str:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "xb") as f:
            f.write(data)
        digest = hashlib.sha256(data).hexdigest()
        self.hashes[rel] = digest
        self.sizes[rel] = len(data)
        return digest


def _json(doc: Any) -> bytes:
    return (json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _author(payload: dict[str, Any]) -> str:
    a = payload.get("author") or {}
    return str(a.get("name") or a.get("handle") or a.get("id") or "")


def build(archive: Archive, req: ExportRequest, resolved: Resolved, out: Path,
          progress: Progress | None = None, timings: Timings | None = None) -> dict[str, Any]:
    """Write the package of `resolved` to `out` (a zip, renamed into place when complete);
    returns the custody summary. Staging is removed whether it succeeds or not."""
    import time

    timings = timings or Timings()
    staging_root = archive.settings.home / "exports" / "staging" / req.id
    if staging_root.exists():
        shutil.rmtree(staging_root)
    bag_dir = staging_root / req.id
    stage = _Staging(bag_dir)
    try:
        started = time.perf_counter()
        summary = _write_payload(archive, req, resolved, stage, progress, timings)
        t0 = time.perf_counter()
        _write_tags(stage, req, summary)
        _zip(bag_dir, req.id, out)
        timings.package += time.perf_counter() - t0
        summary["seconds"] = round(time.perf_counter() - started, 3)
        return summary
    finally:
        shutil.rmtree(staging_root, ignore_errors=True)


def _write_payload(archive: Archive, req: ExportRequest, resolved: Resolved, stage: _Staging,
                   progress: Progress | None, timings: Timings) -> dict[str, Any]:
    import time

    opts = req.options
    appender = archive.appender
    with appender.p.catalog.reader() as conn:
        latest = db.latest_checkpoint(conn)
    if latest is None:
        raise NotFound("the log has no checkpoint yet: nothing can be proved")
    size, _, note = latest
    notes = list(resolved.notes)
    seqs = [s for s in resolved.seqs if s < size]
    if len(seqs) < len(resolved.seqs):
        notes.append(f"{len(resolved.seqs) - len(seqs)} records appended after checkpoint "
                     f"{size} are not included")
    disposed = list(resolved.disposed)
    total = len(seqs)
    t0 = time.perf_counter()
    stage.write("data/proofs/checkpoint", note)
    stage.write("data/proofs/vkey.txt", (appender.p.signer.vkey() + "\n").encode())
    records: list[tuple[str, ReadRecord, str]] = []  # control, record, native sha256
    media: dict[str, render.MediaView] = {}
    media_notes: list[str] = []
    n = 0
    for i, (seq, rec, proof) in enumerate(_read_with_proofs(appender, seqs, size)):
        if rec.payload is None:  # destroyed since the scope was resolved
            disposed.append(Disposed(seq, None, None, rec.envelope.type, "", "", "", ""))
            continue
        n += 1
        control = f"{opts.prefix}{n:07d}"
        doc = {"control_number": control, "seq": seq, "record_hash": rec.record_hash,
               "envelope": rec.envelope.as_dict(), "payload": rec.payload}
        native = stage.write(f"data/records/{seq:012d}.json", _json(doc))
        stage.write(f"data/proofs/inclusion/{seq:012d}.json", _json(proof))
        for m in rec.payload.get("media") or []:
            _export_media(appender, stage, m, media, media_notes)
        records.append((control, rec, native))
        if progress is not None and (i % 100 == 0 or i + 1 == total):
            progress(i + 1, total + 1)
    timings.read += time.perf_counter() - t0

    t0 = time.perf_counter()
    items = _item_views(records, media, disposed)
    font = None
    if opts.pdf:
        chars = {c for _, rec, _ in records for c in json.dumps(rec.payload, ensure_ascii=False)}
        labels = "".join(render.EVENT_LABELS.values()) + "·—[]@ disposed"
        font = render.subset_font("".join(chars) + labels, stage.root.parent / "font.ttf")
    rows, opt_docs = [], []
    rendering: dict[int, str] = {}  # seq -> the rendering showing it
    for k, view in enumerate(items.values(), start=1):
        control = f"{opts.prefix}I{k:06d}"
        view_path = f"data/items/{control}"
        stage.write(view_path + ".html", render.item_html(view, package=req.id).encode())
        if opts.pdf:
            data, pages = render.item_pdf(view, package=req.id, font=font)
            stage.write(view_path + ".pdf", data)
            opt_docs.append((control, view_path + ".pdf", pages))
        for v in view.versions:
            rendering[v.seq] = view_path + (".pdf" if opts.pdf else ".html")
    for control, rec, native in records:
        p = rec.payload or {}
        rows.append([control, str(p.get("platform") or ""), str(p.get("account") or ""),
                     str(p.get("item_id") or ""), str(p.get("kind") or ""),
                     str(p.get("event") or ""), _author(p), str(p.get("published_at") or ""),
                     rec.envelope.time, str(p.get("text") or ""),
                     f"data/records/{rec.envelope.seq:012d}.json", native, rec.record_hash,
                     str(rec.envelope.seq), rendering.get(rec.envelope.seq, ""), "N"])
    stage.write("data/loadfile/export.dat",
                loadfile.dat_bytes(rows, opts.encoding, opts.delimiters))
    stage.write("data/loadfile/export.csv", loadfile.csv_bytes(rows, opts.encoding))
    stage.write("data/loadfile/export.opt", loadfile.opt_bytes(opt_docs))
    lossy = sum(1 for r in loadfile.fitted_rows(rows, opts.encoding) if r[-1] == "Y")
    timings.render += time.perf_counter() - t0
    if not records:
        notes.append("the scope matched no exportable records: this package is empty")
    if lossy:
        notes.append(f"{lossy} load file rows hold characters {opts.encoding} cannot encode, "
                     f"written as '?' (ENCODING_LOSS=Y); the records keep the exact text")
    if progress is not None:
        progress(total, total + 1)
    return {
        "export_id": req.id, "requested_by": req.requested_by,
        "requested_at": req.requested_at, "scope": req.scope.as_dict(),
        "options": opts.as_dict(), "software": software_version(),
        "checkpoint": {"size": size, "origin": note.split(b"\n", 1)[0].decode(),
                       "path": "data/proofs/checkpoint", "vkey": appender.p.signer.vkey()},
        "counts": {"records": len(records), "items": len(items), "media": len(media),
                   "disposed": len(disposed), "pdf_pages": sum(p for _, _, p in opt_docs),
                   "loadfile_lossy_rows": lossy},
        "records": [{"control_number": c, "seq": r.envelope.seq, "record_hash": r.record_hash}
                    for c, r, _ in records],
        "disposed": [d.as_dict() for d in disposed],
        "media_notes": media_notes, "notes": notes,
    }


def _read_with_proofs(appender: Appender, seqs: list[int], size: int
                      ) -> Iterator[tuple[int, ReadRecord, dict[str, Any]]]:
    """Each record of `seqs`, decrypted, with its inclusion proof in the tree of `size`:
    the checks of `reader.read_record` and the proof of `proofs.inclusion_proof`, done in
    one catalog transaction per 500 records instead of several per record."""
    r, k, sg = t.records.c, t.data_keys.c, t.segments.c
    segment: dict[str, list[bytes]] = {}
    for i in range(0, len(seqs), 500):
        chunk = seqs[i:i + 500]
        with appender.p.catalog.reader() as conn:
            rows = {row.seq: row for row in conn.execute(
                select(r.seq, r.segment_first, r.record_hash, sg.last, k.wrapped, k.kek)
                .select_from(t.records.join(t.segments, sg.first == r.segment_first)
                             .outerjoin(t.data_keys, k.kid == r.kid))
                .where(r.seq.in_(chunk)))}
            read = lambda ix: db.read_tree_hashes(conn, ix)  # noqa: E731
            proofs = {}
            for seq in chunk:
                path = merkle.prove_inclusion(size, seq, read)
                leaf = read([merkle.stored_hash_index(0, seq)])[0]
                proofs[seq] = {"seq": seq, "tree_size": size,
                               "leaf_hash": base64.b64encode(leaf).decode(),
                               "hashes": [base64.b64encode(h).decode() for h in path]}
        for seq in chunk:
            row = rows.get(seq)
            if row is None:
                raise NotFound(f"no record with seq {seq}")
            key = segment_key(row.segment_first, row.last)
            if key not in segment:  # records come in seq order: one segment at a time
                segment.clear()
                segment[key] = appender.p.store.get(key).split(b"\n")
            lines = segment[key]
            index = seq - row.segment_first
            if index >= len(lines) - 1:
                raise IntegrityError("record missing from its segment", seq, key)
            env = parse_line(lines[index], where=key, expected_seq=seq)
            if env.record_hash() != row.record_hash:
                raise IntegrityError("record hash differs from the catalog's", seq, key)
            payload = None if row.wrapped is None else appender.decrypt(env, row.wrapped,
                                                                         row.kek)
            yield seq, ReadRecord(env, row.record_hash.hex(), payload), proofs[seq]


def _export_media(appender: Appender, stage: _Staging, entry: dict[str, Any],
                  media: dict[str, render.MediaView], notes: list[str]) -> None:
    obj = entry.get("object")
    sha = str(entry.get("sha256") or "")
    key = str(obj or sha or entry.get("url") or "")
    if key in media:
        return
    mime = str(entry.get("mime") or "")
    alt = str(entry.get("alt") or "")
    if not (isinstance(obj, str) and obj.startswith("media/")):
        media[key] = render.MediaView("", mime, sha, alt, "not held by the archive")
        return
    try:
        f = read_media(appender, obj.removeprefix("media/"))
    except NotFound as exc:
        media[key] = render.MediaView("", mime, sha, alt, "not exported: destroyed")
        notes.append(f"{obj}: {exc}")
        return
    if sha and f.sha256 != sha:
        notes.append(f"{obj}: decrypted file hashes to {f.sha256}, the record says {sha}")
    rel = f"data/media/{f.sha256}{_EXT.get(f.mime, '.bin')}"
    if rel not in stage.hashes:
        stage.write(rel, f.data)
    media[key] = render.MediaView("../media/" + rel.rsplit("/", 1)[1], f.mime, f.sha256, alt)


def _item_views(records: list[tuple[str, ReadRecord, str]],
                media: dict[str, render.MediaView], disposed: list[Disposed]
                ) -> dict[tuple[str, str], render.ItemView]:
    views: dict[tuple[str, str], render.ItemView] = {}
    parents: dict[tuple[str, str], str | None] = {}
    for control, rec, _ in records:
        p = rec.payload or {}
        key = (str(p.get("platform")), str(p.get("item_id")))
        view = views.get(key)
        if view is None:
            view = views[key] = render.ItemView(key[0], key[1], str(p.get("kind") or ""),
                                                str(p.get("account") or ""), [])
        parents[key] = p.get("parent_id")
        refs = [media.get(str(m.get("object") or m.get("sha256") or m.get("url") or ""))
                for m in p.get("media") or []]
        view.versions.append(render.VersionView(rec.envelope.seq, control,
                                                str(p.get("event") or ""), rec.envelope.time,
                                                p, [r for r in refs if r is not None]))
    for d in disposed:
        if d.platform is not None and (d.platform, d.item_id) in views:
            views[(d.platform, str(d.item_id))].disposed.append(d.as_dict())
    for key, parent in parents.items():
        if parent and (key[0], parent) in views:
            views[(key[0], parent)].replies.append(views[key])
    return views


def _write_tags(stage: _Staging, req: ExportRequest, summary: dict[str, Any]) -> None:
    root = stage.root
    (root / "bagit.txt").write_bytes(BAGIT_TXT)
    payload = sorted(stage.hashes)
    manifest = "".join(f"{stage.hashes[p]}  {p}\n" for p in payload)
    (root / "manifest-sha256.txt").write_text(manifest, encoding="utf-8")
    octets = sum(stage.sizes[p] for p in payload)
    summary["payload_oxum"] = f"{octets}.{len(payload)}"
    (root / "chain-of-custody.json").write_bytes(_json(summary))
    c = summary["counts"]
    info = [("Source-Organization", summary["checkpoint"]["origin"]),
            ("Bagging-Date", datetime.now(UTC).strftime("%Y-%m-%d")),
            ("Bag-Software-Agent", software_version()),
            ("Payload-Oxum", summary["payload_oxum"]),
            ("External-Identifier", req.id),
            ("Export-Requested-By", req.requested_by),
            ("Export-Requested-At", req.requested_at),
            ("Export-Completed-At", _now()),
            ("Export-Scope", json.dumps(req.scope.as_dict(), ensure_ascii=False,
                                        sort_keys=True)),
            ("Export-Records", str(c["records"])), ("Export-Items", str(c["items"])),
            ("Export-Media", str(c["media"])), ("Export-Disposed", str(c["disposed"])),
            ("Checkpoint-Size", str(summary["checkpoint"]["size"])),
            ("Checkpoint-Origin", summary["checkpoint"]["origin"])]
    info += [("Internal-Sender-Description", n) for n in summary["notes"]]
    lines = "".join(f"{k}: {' '.join(str(v).split())}\n" for k, v in info)
    (root / "bag-info.txt").write_text(lines, encoding="utf-8")
    tags = ["bagit.txt", "bag-info.txt", "chain-of-custody.json", "manifest-sha256.txt"]
    (root / "tagmanifest-sha256.txt").write_text(
        "".join(f"{hashlib.sha256((root / n).read_bytes()).hexdigest()}  {n}\n" for n in tags),
        encoding="utf-8")


def _zip(bag_dir: Path, name: str, out: Path) -> None:
    """Zip the bag as `<out>.partial`, then rename: a reader never sees half a zip."""
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    files = sorted(p for p in bag_dir.rglob("*") if p.is_file())
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as z:
        for path in files:
            rel = path.relative_to(bag_dir).as_posix()
            kind = (zipfile.ZIP_STORED if rel.startswith("data/media/") or rel.endswith(".pdf")
                    else zipfile.ZIP_DEFLATED)
            z.write(path, f"{name}/{rel}", compress_type=kind)
    with open(partial, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(partial, out)
