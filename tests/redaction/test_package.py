"""A response package holds none of the redacted content: not in the PDF's text layer or
metadata, not in the HTML, the CSV or any other member, not in the image pixels; and it
keeps everything else exactly."""

from __future__ import annotations

import io
import unicodedata
import zipfile
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from pypdf import PdfReader

from archiver.redaction.package import build_response
from archiver.redaction.store import add_redaction, review_redaction
from archiver.wiring import Archive
from tests.exports.conftest import IMAGE, PERSIAN, SLOVENIAN, SWAHILI
from tests.redaction.conftest import OFFICER, REVIEWER, seq_of, span, text_of

PERSIAN_SECRET = "رودخانه\u200cی رِن"
SWAHILI_SECRET = "Mtaa wa Kinu"
AUTHOR_NAME = "شهر رن · City of Wrenfield"


def _redact(archive: Archive, response: dict[str, Any], codes: Any, **doc: Any) -> dict:
    return add_redaction(archive, response["id"], {"note": "resident", **doc}, OFFICER, codes)


@pytest.fixture
def redacted(thread: Archive, response: dict[str, Any], codes: Any, tmp_path: Path
             ) -> tuple[zipfile.ZipFile, dict[str, Any]]:
    created, edited = seq_of(thread, "p1", "created"), seq_of(thread, "p1", "edited")
    comment = seq_of(thread, "c1", "created")
    for seq in (created, edited):
        _redact(thread, response, codes, seq=seq, target="text", code="(b)(6)",
                spec=span(text_of(thread, seq), PERSIAN_SECRET))
        _redact(thread, response, codes, seq=seq, target="media", code="(b)(7)(C)",
                spec={"index": 0, "regions": [[0, 0, 4, 4]]})
    mark = _redact(thread, response, codes, seq=comment, target="text", code="(b)(6)",
                   spec=span(SWAHILI, SWAHILI_SECRET))
    review_redaction(thread, response["id"], mark["id"], "approve", REVIEWER)
    for seq in response["records"]:
        _redact(thread, response, codes, seq=seq, target="author", code="(b)(6)",
                spec={"field": "all"})
    out = tmp_path / "response.zip"
    manifest = build_response(thread, response["id"], out, codes)
    return zipfile.ZipFile(out), manifest


def _member(z: zipfile.ZipFile, name: str) -> bytes:
    return z.read(next(n for n in z.namelist() if n.endswith("/" + name)))


def _pdf_text(z: zipfile.ZipFile) -> str:
    reader = PdfReader(io.BytesIO(_member(z, "response.pdf")))
    text = "\n".join(page.extract_text() for page in reader.pages)
    meta = " ".join(str(v) for v in (reader.metadata or {}).values())
    return unicodedata.normalize("NFKC", text + "\n" + meta)


@pytest.mark.parametrize("secret", [PERSIAN_SECRET, SWAHILI_SECRET, AUTHOR_NAME,
                                    "City of Wrenfield", "@wrenfield"])
def test_no_member_of_the_package_holds_redacted_text(redacted, secret):
    z, _ = redacted
    for name in z.namelist():
        data = z.read(name)
        assert secret.encode() not in data, name
        assert unicodedata.normalize("NFKC", secret).encode() not in data, name


@pytest.mark.parametrize("secret", [SWAHILI_SECRET, "City of Wrenfield", "Wrenfield"])
def test_the_pdf_text_layer_and_metadata_hold_no_redacted_text(redacted, secret):
    assert secret not in _pdf_text(redacted[0])


def test_the_pdf_shows_the_kept_text_and_the_exemption_codes(redacted):
    text = _pdf_text(redacted[0])
    assert "Habari za asubuhi! Mafuriko yamefika" in text
    assert "(b)(6)" in text and "(b)(7)(C)" in text


def test_html_and_csv_show_boxes_with_codes_and_keep_other_text_exactly(redacted):
    z, _ = redacted
    page = _member(z, "response.html").decode()
    table = _member(z, "response.csv").decode("utf-8-sig")
    assert '<span class="redacted" title="withheld: (b)(6)">(b)(6)</span>' in page
    assert SLOVENIAN in page and SLOVENIAN in table
    assert SWAHILI.replace(SWAHILI_SECRET, "[REDACTED (b)(6)]") in table
    persian_kept = PERSIAN.split(PERSIAN_SECRET)[1]
    assert persian_kept in table  # ZWNJ and kasra kept byte for byte


def test_image_regions_are_burned_black_and_the_rest_kept(redacted):
    z, _ = redacted
    images = [n for n in z.namelist() if "/media/" in n]
    assert images
    original = Image.open(io.BytesIO(IMAGE)).convert("RGB")
    for name in images:
        img = Image.open(io.BytesIO(z.read(name))).convert("RGB")
        assert img.size == original.size
        assert all(img.getpixel((x, y)) == (0, 0, 0) for x in range(4) for y in range(4))
        assert img.getpixel((6, 6)) == original.getpixel((6, 6)) == (20, 120, 200)


def test_manifest_lists_every_redaction_with_its_code_and_review(redacted):
    _, manifest = redacted
    states = sorted(r["state"] for r in manifest["redactions"])
    assert states.count("approved") == 1 and manifest["unreviewed"] == len(states) - 1
    labels = {r["code"]: r["label"] for r in manifest["redactions"]}
    assert "personal privacy" in labels["(b)(6)"]


def test_a_rejected_redaction_shows_the_content_again(thread, response, codes, tmp_path):
    seq = seq_of(thread, "c1", "created")
    mark = _redact(thread, response, codes, seq=seq, target="text", code="(b)(6)",
                   spec=span(SWAHILI, SWAHILI_SECRET))
    review_redaction(thread, response["id"], mark["id"], "reject", REVIEWER, "public info")
    out = tmp_path / "r.zip"
    build_response(thread, response["id"], out, codes)
    assert SWAHILI.encode() in _member(zipfile.ZipFile(out), "response.csv")
