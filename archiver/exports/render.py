"""Renderings of an item for people: a standalone HTML page and a PDF of the same content.

The page looks like a post on the platform: the author, the time, the text with its links,
the media, then every version the archive captured (edits, deletions, hidden and restored
marked) and the comment thread. It needs nothing outside the package: styles inline, media
linked relatively (`../media/<sha256>.<ext>`), no scripts. Text keeps its own direction:
each block is `dir="auto"` with `unicode-bidi: plaintext`, so a Persian paragraph is
right-to-left inside an English page and the other way round.

The PDF is drawn with fpdf2, shaping text with HarfBuzz (uharfbuzz) and ordering it with
the Unicode bidirectional algorithm, in a font that covers Latin, Arabic script and the
rest (DejaVu Sans, Debian `fonts-dejavu-core`), as PDF/A-2u (fpdf2's compliance mode:
embedded fonts, sRGB output intent, XMP conformance claim, Unicode text).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archiver.errors import ConfigError

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
)
_URL = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")
EVENT_LABELS = {
    "created": "original", "observed": "first seen", "edited": "edited",
    "deleted": "deleted on the platform", "hidden": "hidden by the account",
    "restored": "restored",
}


@dataclass(frozen=True)
class MediaView:
    path: str  # relative to the page: ../media/<sha256>.<ext>; "" when not exported
    mime: str
    sha256: str
    alt: str
    note: str = ""  # why the file is not in the package


@dataclass(frozen=True)
class VersionView:
    """One capture record of the item, as exported."""

    seq: int
    control: str  # the record's control number (load file)
    event: str
    captured: str
    payload: dict[str, Any]
    media: list[MediaView]


@dataclass
class ItemView:
    platform: str
    item_id: str
    kind: str
    account: str
    versions: list[VersionView]  # seq order
    replies: list[ItemView] = field(default_factory=list)
    disposed: list[dict[str, Any]] = field(default_factory=list)  # records listed, not shown

    @property
    def latest(self) -> VersionView | None:
        shown = [v for v in self.versions if v.payload.get("text") is not None or v.media]
        return shown[-1] if shown else (self.versions[-1] if self.versions else None)

    @property
    def state(self) -> str:
        events = [v.event for v in self.versions if v.event in ("deleted", "hidden",
                                                                  "restored", "created",
                                                                  "edited")]
        last = events[-1] if events else ""
        return last if last in ("deleted", "hidden") else "live"


def _author(payload: dict[str, Any]) -> tuple[str, str]:
    a = payload.get("author") or {}
    name = a.get("name") or a.get("handle") or a.get("id") or payload.get("account") or "?"
    handle = a.get("handle") or ""
    return str(name), str(handle)


def linked_text(text: str) -> str:
    """Escaped text with its URLs as links and its line breaks kept."""
    out, last = [], 0
    for m in _URL.finditer(text):
        out.append(html.escape(text[last:m.start()]))
        url = html.escape(m.group(0))
        out.append(f'<a href="{url}" rel="noreferrer noopener">{url}</a>')
        last = m.end()
    out.append(html.escape(text[last:]))
    return "".join(out).replace("\n", "<br>")


_CSS = """
body{margin:0;background:#f3f4f6;font-family:"DejaVu Sans","Noto Sans","Vazirmatn",
"Noto Sans Arabic",sans-serif;color:#0f1419;font-size:15px}
main{max-width:640px;margin:24px auto;padding:0 12px}
.post{background:#fff;border:1px solid #dfe3e8;border-radius:14px;padding:16px;margin:0 0 12px}
.head{display:flex;align-items:center;gap:10px}
.avatar{width:44px;height:44px;border-radius:50%;background:#6366f1;color:#fff;display:flex;
align-items:center;justify-content:center;font-weight:bold;font-size:20px;flex:none}
.name{font-weight:bold}.handle,.time,.meta{color:#536471;font-size:13px}
.text{margin:12px 0;white-space:normal;unicode-bidi:plaintext;line-height:1.5;font-size:17px}
.media img,.media video{display:block;width:100%;max-height:480px;object-fit:cover;
border-radius:10px;border:1px solid #dfe3e8;margin:6px 0}
.badge{display:inline-block;border-radius:6px;padding:1px 8px;font-size:12px;
font-weight:bold;margin-inline-end:6px}
.b-created,.b-observed{background:#e0f2fe;color:#075985}.b-edited{background:#fef3c7;
color:#92400e}.b-deleted{background:#fee2e2;color:#991b1b}.b-hidden{background:#ede9fe;
color:#5b21b6}.b-restored{background:#dcfce7;color:#166534}.b-disposed{background:#e5e7eb;
color:#374151}
h2{font-size:15px;color:#536471;margin:20px 4px 8px}
.version{border-top:1px dashed #dfe3e8;padding:10px 0}
.version .media img,.version .media video{width:160px;max-height:120px}
.reply{margin-inline-start:28px}
.gone .text{text-decoration:line-through;color:#6b7280}
footer{color:#536471;font-size:12px;margin:16px 4px}
"""


def _media_html(media: list[MediaView]) -> str:
    parts = []
    for m in media:
        alt = html.escape(m.alt or "")
        if m.path and m.mime.startswith("image/"):
            parts.append(f'<img src="{html.escape(m.path)}" alt="{alt}">')
        elif m.path and m.mime.startswith("video/"):
            parts.append(f'<video controls src="{html.escape(m.path)}"></video>')
        elif m.path:
            parts.append(f'<a href="{html.escape(m.path)}">{html.escape(m.path)}</a>')
        else:
            parts.append(f'<span class="meta">[media {html.escape(m.sha256 or m.alt or "")}: '
                         f'{html.escape(m.note)}]</span>')
    return f'<div class="media">{"".join(parts)}</div>' if parts else ""


def _reason(payload: dict[str, Any], *, escape: bool = True) -> str:
    """ · why the item vanished, when the platform said (a deleted record's `reason`)."""
    reason = payload.get("reason")
    if not isinstance(reason, str):
        return ""
    text = f" · {reason.replace('_', ' ')}"
    return html.escape(text) if escape else text


def _badge(event: str) -> str:
    return (f'<span class="badge b-{html.escape(event)}">'
            f'{html.escape(EVENT_LABELS.get(event, event))}</span>')


def _card(item: ItemView, *, reply: bool) -> str:
    latest = item.latest
    payload = latest.payload if latest else {}
    name, handle = _author(payload)
    initial = html.escape(name[:1].upper() or "?")
    state = item.state
    classes = "post reply" if reply else "post"
    if state != "live":
        classes += " gone"
    marks = "".join(_badge(e) for e in sorted({v.event for v in item.versions
                                               if v.event in ("edited", "deleted", "hidden",
                                                              "restored")}))
    lang = html.escape(str(payload.get("lang") or ""))
    published = html.escape(str(payload.get("published_at") or ""))
    url = payload.get("url")
    where = html.escape(item.platform)
    link = (f' · <a href="{html.escape(url)}" rel="noreferrer noopener">on {where}</a>'
            if url else f" · {where}")
    text = linked_text(str(payload.get("text") or ""))
    body = [f'<article class="{classes}" id="item-{html.escape(item.item_id)}">',
            f'<div class="head"><div class="avatar">{initial}</div><div>',
            f'<div class="name" dir="auto">{html.escape(name)}</div>',
            f'<div class="handle" dir="auto">{"@" + html.escape(handle) if handle else ""}</div>'
            f'</div></div>',
            f'<div class="text" dir="auto" lang="{lang}">{text}</div>',
            _media_html(latest.media if latest else []),
            f'<div class="time">{published}{link} {marks}</div>']
    if not reply or len(item.versions) > 1:
        body.append(f"<h2>Every captured version ({len(item.versions)})</h2>")
        for v in item.versions:
            vtext = v.payload.get("text")
            body.append(
                f'<div class="version" id="seq-{v.seq}">{_badge(v.event)}'
                f'<span class="meta">captured {html.escape(v.captured)} · seq {v.seq} · '
                f'{html.escape(v.control)}{_reason(v.payload)}</span>'
                + (f'<div class="text" dir="auto" lang="{lang}">{linked_text(str(vtext))}</div>'
                   if vtext is not None else "")
                + _media_html(v.media) + "</div>")
    for d in item.disposed:
        body.append(f'<div class="version">{_badge("disposed")}<span class="meta">seq '
                    f'{d["seq"]} disposed of at {html.escape(d["destroyed_at"])} (run '
                    f'{html.escape(d["run_id"])}, {html.escape(d["schedule_code"])}): not '
                    f"exported</span></div>")
    body.append("</article>")
    return "".join(body)


def item_html(item: ItemView, *, package: str) -> str:
    """A standalone HTML page of `item`, its versions and its comment thread."""
    parts = ["<!DOCTYPE html>", '<html lang="und" dir="ltr"><head><meta charset="utf-8">',
             f"<title>{html.escape(item.platform)} {html.escape(item.item_id)}</title>",
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<style>{_CSS}</style></head><body><main>", _card(item, reply=False)]
    if item.replies:
        parts.append(f"<h2>Comments ({len(item.replies)})</h2>")
        parts += [_card(r, reply=True) for r in item.replies]
    parts.append(f"<footer>{html.escape(item.platform)} {html.escape(item.kind)} "
                 f"{html.escape(item.item_id)} of account {html.escape(item.account)} · "
                 f"export {html.escape(package)}</footer></main></body></html>\n")
    return "".join(parts)


def font_path() -> Path:
    """A TrueType font covering Latin, Arabic script and Swahili's and Slovenian's letters."""
    for candidate in FONT_CANDIDATES:
        if Path(candidate).is_file():
            return Path(candidate)
    raise ConfigError("no font for PDF renderings: install Debian's fonts-dejavu-core "
                      "(`make test-deps` does)")


def subset_font(text: str, dest: Path) -> Path:
    """The PDF font cut down to the characters of `text` (and ASCII), with its shaping
    tables: parsing and embedding the whole font in every PDF costs six times as much."""
    from fontTools import subset

    options = subset.Options()
    options.layout_features = ["*"]  # Arabic joining forms, ligatures, marks
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.drop_tables += ["FFTM"]  # FontForge's timestamps: not needed, not subsettable
    font = subset.load_font(str(font_path()), options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes={ord(c) for c in text} | set(range(0x20, 0x7F)))
    subsetter.subset(font)
    subset.save_font(font, str(dest), options)
    return dest


def item_pdf(item: ItemView, *, package: str, font: Path | None = None) -> tuple[bytes, int]:
    """The PDF of the same content as `item_html`; (bytes, number of pages)."""
    from fpdf import FPDF

    # PDF/A-2u: fonts embedded, an sRGB output intent, XMP metadata with the conformance
    # claim, and text mapped to Unicode (what fpdf2 enforces for this level).
    pdf = FPDF(format="A4", enforce_compliance="PDFA_2U")
    pdf.set_lang("und")
    pdf.set_creator(f"archiver export {package}")
    pdf.set_title(f"{item.platform} {item.item_id}")
    pdf.add_font("body", "", str(font or font_path()))
    pdf.set_text_shaping(True)
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()

    def line(text: str, size: float = 11, color: tuple[int, int, int] = (15, 20, 25)) -> None:
        pdf.set_font("body", size=size)
        pdf.set_text_color(*color)
        for paragraph in text.split("\n"):
            pdf.multi_cell(0, size * 0.55, paragraph or " ", new_x="LMARGIN", new_y="NEXT")

    def card(it: ItemView, depth: int) -> None:
        pdf.set_left_margin(10 + 10 * depth)
        pdf.set_x(10 + 10 * depth)
        latest = it.latest
        payload = latest.payload if latest else {}
        name, handle = _author(payload)
        line(f"{name}" + (f"  @{handle}" if handle else ""), 12)
        line(f"{payload.get('published_at') or ''} · {it.platform} · {it.state}", 9,
             (83, 100, 113))
        text = payload.get("text")
        if text:
            line(str(text), 12)
        if payload.get("url"):
            line(str(payload["url"]), 9, (29, 78, 216))
        if depth == 0 or len(it.versions) > 1:
            for v in it.versions:
                pdf.ln(2)
                line(f"[{EVENT_LABELS.get(v.event, v.event)}] captured {v.captured} · seq "
                     f"{v.seq} · {v.control}{_reason(v.payload, escape=False)}", 9,
                     (83, 100, 113))
                if v.payload.get("text") is not None:
                    line(str(v.payload["text"]), 11)
                for m in v.media:
                    line(f"media: {m.path or m.note} sha256 {m.sha256}", 8, (83, 100, 113))
        for d in it.disposed:
            line(f"[disposed] seq {d['seq']} at {d['destroyed_at']} ({d['schedule_code']}): "
                 f"not exported", 9, (55, 65, 81))
        pdf.ln(4)

    card(item, 0)
    if item.replies:
        pdf.set_left_margin(10)
        line(f"Comments ({len(item.replies)})", 11, (83, 100, 113))
        for r in item.replies:
            card(r, 1)
    return bytes(pdf.output()), pdf.pages_count
