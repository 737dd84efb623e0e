"""The response package: HTML, PDF and CSV of a response set with its redactions applied,
the media (regions burned in), and a manifest, zipped.

Everything is drawn from the redacted content (`layer.apply_marks`): a withheld span is
never written and then covered, it is a black box holding the exemption code. Images are
decoded and written again by Pillow (boxes burned into the pixels, no EXIF or text chunks
carried over), the PDF's font is subset to the characters shown, and its metadata holds
the response's own name and nothing of the records.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from archiver.errors import NotFound
from archiver.exports import render
from archiver.log.reader import read_media, read_record
from archiver.redaction.exemptions import Exemption
from archiver.redaction.layer import MediaOut, Piece, RedactedVersion, apply_marks
from archiver.redaction.store import live_marks, response_out, response_row
from archiver.retention_store import utcnow
from archiver.times import format_time
from archiver.wiring import Archive

CSV_COLUMNS = ["control", "seq", "platform", "account", "item_id", "kind", "event",
               "reason", "captured_at", "published_at", "author_name", "author_handle",
               "author_id", "text", "media", "exemptions"]
_BOX_CSS = (".redacted{background:#000;color:#fff;padding:0 4px;border-radius:2px;"
            "font-size:12px;font-weight:bold}.redacted-media{background:#000;color:#fff;"
            "padding:40px;text-align:center;font-weight:bold;border-radius:10px}")


def burn_regions(data: bytes, regions: list[tuple[int, int, int, int, str]]) -> bytes:
    """The image re-encoded as PNG with each region filled black: the pixels are gone,
    not hidden under a layer; nothing of the original file's metadata is kept."""
    from PIL import Image, ImageDraw

    with Image.open(io.BytesIO(data)) as img:
        img.load()
        out = img.convert("RGB")
    draw = ImageDraw.Draw(out)
    for x, y, w, h, code in regions:
        draw.rectangle([x, y, x + w - 1, y + h - 1], fill=(0, 0, 0))
        if w >= 8 * len(code) and h >= 14:
            draw.text((x + 2, y + 2), code, fill=(255, 255, 255))
    buf = io.BytesIO()
    out.save(buf, format="PNG")
    return buf.getvalue()


class _Media:
    """The package's media files: name -> bytes, and per record+index its file or note."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        self.files: dict[str, bytes] = {}

    def add(self, control: str, m: MediaOut) -> tuple[str, str]:
        """(package path or "", note) for one media entry of a version."""
        if m.code is not None:
            return "", f"withheld {m.code}"
        obj = m.entry.get("object")
        if not (isinstance(obj, str) and obj.startswith("media/")):
            return "", "not held by the archive"
        try:
            f = read_media(self.archive.appender, obj.removeprefix("media/"))
        except NotFound:
            return "", "destroyed"
        if f.mime.startswith("image/"):
            try:
                data, ext = burn_regions(f.data, m.regions), ".png"
            except OSError:
                return "", "an image that could not be decoded: not included"
        elif m.regions:
            return "", "not included: regions withheld in a file that is not an image"
        else:
            data, ext = f.data, ".bin"
        name = f"media/{control}-{m.index}{ext}"
        self.files[name] = data
        return name, ("regions withheld " + " ".join(sorted({r[4] for r in m.regions}))
                      if m.regions else "")


def _pieces_html(pieces: list[Piece]) -> str:
    return "".join(html.escape(p.text).replace("\n", "<br>") if p.code is None else
                   f'<span class="redacted" title="withheld: {html.escape(p.code)}">'
                   f"{html.escape(p.code)}</span>" for p in pieces)


def _author_text(v: RedactedVersion, key: str) -> str:
    p = v.author.get(key)
    return "" if p is None else p.text if p.code is None else f"[REDACTED {p.code}]"


def build_response(archive: Archive, response_id: str, out: Path,
                   exemptions: Mapping[str, Exemption]) -> dict[str, Any]:
    """Write the package of response `response_id` to `out` (a zip); its manifest."""
    with archive.catalog.reader() as conn:
        response_row(conn, response_id)
        marks = live_marks(conn, response_id)
    meta = response_out(archive, response_id)
    seq_of = {r["id"]: r["seq"] for r in meta["redactions"]}
    by_seq: dict[int, list[Any]] = {}
    for m in marks:
        by_seq.setdefault(seq_of[m.id], []).append(m)
    versions: list[RedactedVersion] = []
    disposed: list[int] = []
    for seq in meta["records"]:
        rec = read_record(archive.appender, seq)
        if rec.payload is None:
            disposed.append(seq)
            continue
        versions.append(apply_marks(seq, rec.envelope.time, rec.payload, by_seq.get(seq, [])))
    media = _Media(archive)
    rows, cards, pdf_versions = [], [], []
    for n, v in enumerate(versions, start=1):
        control = f"R{n:06d}"
        refs = [(m, *media.add(control, m)) for m in v.media]
        rows.append([control, str(v.seq), v.platform, v.account, v.item_id, v.kind, v.event,
                     v.reason or "", v.captured, v.published_at, _author_text(v, "name"),
                     _author_text(v, "handle"), _author_text(v, "id"), v.plain_text(),
                     " ".join(path or f"[{note}]" for _, path, note in refs),
                     " ".join(v.codes)])
        cards.append(_card_html(control, v, refs))
        pdf_versions.append((control, v, refs))
    manifest = {
        "response": {k: meta[k] for k in ("id", "name", "request_ref", "created_by",
                                          "created_at")},
        "generated_at": format_time(utcnow()),
        "records": len(versions), "disposed": disposed,
        "redactions": [{k: r[k] for k in ("id", "seq", "target", "code", "state",
                                          "created_by", "reviewed_by")}
                       | {"label": exemptions[r["code"]].label if r["code"] in exemptions
                          else r["code"]}
                       for r in meta["redactions"] if r["state"] in ("pending", "approved")],
        "unreviewed": sum(1 for r in meta["redactions"] if r["state"] == "pending"),
    }
    members: dict[str, bytes] = {
        "response.html": _page_html(meta, cards).encode(),
        "response.csv": _csv_bytes(rows),
        "response.pdf": _pdf_bytes(meta, pdf_versions, media.files, out.parent),
        **media.files,
    }
    manifest["files"] = {name: hashlib.sha256(data).hexdigest()
                         for name, data in sorted(members.items())}
    members["manifest.json"] = json.dumps(manifest, ensure_ascii=False, indent=1).encode()
    tmp = out.with_name(out.name + ".part")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(f"{response_id}/{name}", data)
    tmp.replace(out)
    return manifest


def _card_html(control: str, v: RedactedVersion, refs: list[tuple[MediaOut, str, str]]
               ) -> str:
    author = " ".join(
        (html.escape(p.text) if p.code is None else
         f'<span class="redacted">{html.escape(p.code)}</span>')
        for key in ("name", "handle") if (p := v.author.get(key)) is not None)
    media = []
    for m, path, note in refs:
        if m.code is not None:
            media.append(f'<div class="redacted-media">{html.escape(m.code)}</div>')
        elif path and path.endswith(".png"):
            media.append(f'<img src="{html.escape(path)}" alt="">'
                         + (f'<div class="meta">{html.escape(note)}</div>' if note else ""))
        elif path:
            media.append(f'<a href="{html.escape(path)}">{html.escape(path)}</a>')
        else:
            media.append(f'<div class="meta">[media: {html.escape(note)}]</div>')
    reason = f" · {html.escape(v.reason)}" if v.reason else ""
    url = (f' · <a href="{html.escape(v.url)}">{html.escape(v.url)}</a>' if v.url else "")
    return (f'<article class="post" id="{control}"><div class="name" dir="auto">{author}'
            f'</div><div class="time">{html.escape(v.platform)} {html.escape(v.kind)} '
            f'{html.escape(v.item_id)} · {render._badge(v.event)}{reason} · captured '
            f'{html.escape(v.captured)}{url}</div><div class="text" dir="auto">'
            f'{_pieces_html(v.pieces)}</div><div class="media">{"".join(media)}</div>'
            f'<div class="meta">{control} · seq {v.seq}</div></article>')


def _page_html(meta: Mapping[str, Any], cards: list[str]) -> str:
    title = html.escape(f"{meta['name']} {meta['request_ref']}".strip())
    return ("<!DOCTYPE html>\n<html lang=\"und\"><head><meta charset=\"utf-8\">"
            f"<title>{title}</title><style>{render._CSS}{_BOX_CSS}</style></head><body><main>"
            f"<h1 dir=\"auto\">{title}</h1>{''.join(cards)}<footer>response "
            f"{html.escape(meta['id'])}</footer></main></body></html>\n")


def _csv_bytes(rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(rows)
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def _pdf_bytes(meta: Mapping[str, Any], versions: list[tuple[str, RedactedVersion, Any]],
               files: Mapping[str, bytes], workdir: Path) -> bytes:
    from fpdf import FPDF

    shown = [meta["name"], meta["request_ref"]]
    for _, v, refs in versions:
        shown += [v.plain_text("{code}"), *(p.text or p.code or "" for p in v.author.values()),
                  v.url, v.reason or "", *(note for _, _, note in refs)]
    font = render.subset_font("".join(shown) + "·[]", workdir / f"{meta['id']}-font.ttf")
    try:
        pdf = FPDF(format="A4")
        pdf.set_creator("archiver response")
        pdf.set_title(str(meta["name"]))
        pdf.add_font("body", "", str(font))
        pdf.set_text_shaping(True)
        pdf.set_auto_page_break(True, margin=15)
        pdf.add_page()
        pdf.set_font("body", size=14)
        pdf.multi_cell(0, 8, f"{meta['name']} {meta['request_ref']}".strip(),
                       new_x="LMARGIN", new_y="NEXT")
        for control, v, refs in versions:
            pdf.ln(3)
            _pdf_run(pdf, [p for key in ("name", "handle")
                           if (p := v.author.get(key)) is not None], 11, sep=" ")
            pdf.set_font("body", size=8)
            pdf.set_text_color(83, 100, 113)
            line = (f"{control} · seq {v.seq} · {v.platform} {v.kind} {v.item_id} · {v.event}"
                    + (f" ({v.reason})" if v.reason else "") + f" · captured {v.captured}")
            pdf.multi_cell(0, 4.5, line, new_x="LMARGIN", new_y="NEXT")
            if v.url:
                pdf.multi_cell(0, 4.5, v.url, new_x="LMARGIN", new_y="NEXT")
            _pdf_run(pdf, v.pieces, 11)
            for m, path, note in refs:
                if m.code is not None:
                    _pdf_box(pdf, f"media withheld {m.code}", 11)
                    pdf.ln(7)
                elif path.endswith(".png"):
                    pdf.image(io.BytesIO(files[path]), w=min(120, pdf.epw))
                    if note:
                        pdf.multi_cell(0, 4.5, note, new_x="LMARGIN", new_y="NEXT")
                else:
                    pdf.set_font("body", size=8)
                    pdf.multi_cell(0, 4.5, f"media: {path or note}", new_x="LMARGIN",
                                   new_y="NEXT")
        return bytes(pdf.output())
    finally:
        font.unlink(missing_ok=True)


def _pdf_box(pdf: Any, label: str, size: float) -> None:
    pdf.set_font("body", size=size * 0.8)
    width = pdf.get_string_width(label) + 3
    if pdf.get_x() + width > pdf.w - pdf.r_margin:
        pdf.ln(size * 0.55)
    pdf.set_fill_color(0, 0, 0)
    pdf.set_text_color(255, 255, 255)
    pdf.cell(width, size * 0.5, label, fill=True, new_x="RIGHT", new_y="TOP")
    pdf.set_text_color(15, 20, 25)
    pdf.set_font("body", size=size)


def _pdf_run(pdf: Any, pieces: list[Piece], size: float, sep: str = "") -> None:
    """Text and boxes on one flowing line: boxes are cells filled black, the withheld text
    never reaches the page."""
    if not pieces:
        return
    pdf.set_font("body", size=size)
    pdf.set_text_color(15, 20, 25)
    for i, p in enumerate(pieces):
        if i and sep:
            pdf.write(size * 0.55, sep)
        if p.code is None:
            pdf.write(size * 0.55, p.text)
        else:
            _pdf_box(pdf, p.code, size)
    pdf.ln(size * 0.6)
