"""The evidence package: a valid BagIt bag whose records, media, renderings and load files
carry every script byte for byte, with proofs, custody and the export in the log."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from pathlib import Path

import bagit
import pypdf
import pytest
from sqlalchemy import select

from archiver.catalog import schema as t
from archiver.disposal import approve_run, create_run, execute_run
from archiver.errors import InvalidRequest, NotFound
from archiver.exports.jobs import create_export
from archiver.exports.loadfile import FIELDS
from archiver.exports.scope import ExportScope
from archiver.log.reader import read_record
from archiver.wiring import Archive
from tests.exports.conftest import (
    ENGLISH,
    IMAGE,
    PERSIAN,
    PERSIAN_EDIT,
    SLOVENIAN,
    SWAHILI,
    Bag,
    export,
)
from tests.retention.conftest import ALICE, BOB, add_hold, add_policy

TEXTS = [PERSIAN, PERSIAN_EDIT, SWAHILI, SLOVENIAN, ENGLISH]


def _extract(package: Path, where: Path) -> Path:
    with zipfile.ZipFile(package) as z:
        z.extractall(where)
    (top,) = list(where.iterdir())
    return top


def test_bagit_python_validates_the_package(package: Path, tmp_path: Path) -> None:
    bag = bagit.Bag(str(_extract(package, tmp_path / "x")))
    bag.validate()  # raises BagValidationError naming the file otherwise
    assert bag.is_valid()
    assert "sha256" in bag.algorithms
    assert bag.info["Payload-Oxum"].split(".")[1] == str(len(list(bag.payload_files())))


def test_bagit_python_rejects_a_changed_payload_file(package: Path, tmp_path: Path) -> None:
    top = _extract(package, tmp_path / "x")
    record = sorted((top / "data" / "records").iterdir())[0]
    record.write_bytes(record.read_bytes().replace(b'"seq"', b'"SEQ"', 1))
    with pytest.raises(bagit.BagValidationError):
        bagit.Bag(str(top)).validate()


def test_records_hold_envelope_hash_and_the_exact_payload(thread: Archive,
                                                          package: Path) -> None:
    records = Bag(package).records()
    assert [r["payload"]["text"] for r in records] == [
        PERSIAN, SWAHILI, SLOVENIAN, ENGLISH, PERSIAN_EDIT, SLOVENIAN, ENGLISH]
    for r in records:
        stored = read_record(thread.appender, r["seq"])
        assert r["envelope"] == stored.envelope.as_dict()
        assert r["record_hash"] == stored.record_hash
        assert r["payload"] == stored.payload  # raw JSON and all


def test_media_are_decrypted_and_named_by_their_sha256(package: Path) -> None:
    bag = Bag(package)
    digest = hashlib.sha256(IMAGE).hexdigest()
    assert bag.under("data/media/") == [f"data/media/{digest}.png"]
    assert bag.read(f"data/media/{digest}.png") == IMAGE
    manifest = bag.read("manifest-sha256.txt").decode()
    assert f"{digest}  data/media/{digest}.png\n" in manifest


def test_html_page_shows_author_text_links_media_every_version_and_the_thread(
        package: Path) -> None:
    bag = Bag(package)
    page = bag.read("data/items/ARCI000001.html").decode()
    for text in (PERSIAN_EDIT, SWAHILI, SLOVENIAN, "Line one of a reply<br>line two"):
        assert text in page
    assert 'href="https://wrenfield.example/سیل"' in page
    assert "شهر رن · City of Wrenfield" in page and "@wrenfield" in page
    assert f'src="../media/{hashlib.sha256(IMAGE).hexdigest()}.png"' in page
    assert page.count('dir="auto"') >= 8
    for mark in ("b-edited", "b-hidden", "b-deleted", "b-created"):
        assert mark in page
    assert "Comments (3)" in page
    assert "<script" not in page


def test_pdf_text_is_exact_in_every_script(package: Path) -> None:
    bag = Bag(package)
    pdf = pypdf.PdfReader(io.BytesIO(bag.read("data/items/ARCI000001.pdf")))
    text = "\n".join(p.extract_text() for p in pdf.pages)
    for expected in (PERSIAN_EDIT, SWAHILI, SLOVENIAN):
        assert expected in text
    assert "Line one of a reply" in text


def test_pdf_claims_pdf_a_2u_with_an_output_intent(package: Path) -> None:
    pdf = pypdf.PdfReader(io.BytesIO(Bag(package).read("data/items/ARCI000001.pdf")))
    root = pdf.trailer["/Root"]
    assert "/OutputIntents" in root
    xmp = root["/Metadata"].get_object().get_data()
    assert b"pdfaid:part>2<" in xmp and b"pdfaid:conformance>U<" in xmp


def _dat_rows(data: bytes, encoding: str = "utf-8") -> list[list[str]]:
    text = data.decode("utf-8-sig" if encoding == "utf-8" else encoding)
    assert text.endswith("\r\n")
    rows = []
    for line in text[:-2].split("\r\n"):
        cells = line.split("\x14")
        assert all(c.startswith("\u00fe") and c.endswith("\u00fe") for c in cells)
        rows.append([c[1:-1].replace("\u00ae", "\n") for c in cells])
    return rows


def test_dat_has_concordance_delimiters_fields_and_exact_text(package: Path) -> None:
    bag = Bag(package)
    data = bag.read("data/loadfile/export.dat")
    assert data.startswith(b"\xef\xbb\xbf")
    header, *rows = _dat_rows(data)
    assert tuple(header) == FIELDS
    assert [r[0] for r in rows] == [f"ARC{n:07d}" for n in range(1, 8)]
    by = {r[13]: dict(zip(FIELDS, r, strict=True)) for r in rows}
    texts = [by[s]["TEXT"] for s in sorted(by, key=int)]
    assert texts == [PERSIAN, SWAHILI, SLOVENIAN, ENGLISH, PERSIAN_EDIT, SLOVENIAN, ENGLISH]
    for row in by.values():
        native = bag.read(row["NATIVE_PATH"])
        assert hashlib.sha256(native).hexdigest() == row["SHA256"]
        assert json.loads(native)["record_hash"] == row["RECORD_HASH"]
        assert row["RENDERING"].startswith("data/items/") and row["ENCODING_LOSS"] == "N"
    assert b"\xc2\xae" in data  # ENGLISH's newline


def test_csv_holds_the_same_rows_as_the_dat(package: Path) -> None:
    bag = Bag(package)
    rows = list(csv.reader(io.StringIO(bag.read("data/loadfile/export.csv")
                                       .decode("utf-8-sig"), newline="")))
    assert rows == _dat_rows(bag.read("data/loadfile/export.dat"))


def test_cp1252_writes_unmappable_letters_as_question_marks_and_flags_the_row(
        thread: Archive, tmp_path: Path) -> None:
    out = tmp_path / "cp.zip"
    job = export(thread, out, encoding="cp1252")
    bag = Bag(out)
    header, *rows = _dat_rows(bag.read("data/loadfile/export.dat"), "cp1252")
    by = {r[13]: dict(zip(FIELDS, r, strict=True)) for r in rows}
    first = by[min(by, key=int)]
    assert set(first["TEXT"]) <= set("?: /.") | set("https://wrenfield.example/")
    assert first["ENCODING_LOSS"] == "Y"
    swahili = next(r for r in by.values() if r["ITEM_ID"] == "c1")
    assert swahili["TEXT"] == SWAHILI  # ASCII: exact
    assert swahili["AUTHOR"] == "??? ?? · City of Wrenfield"  # the Persian name is not
    assert swahili["ENCODING_LOSS"] == "Y"
    slovenian = next(r for r in by.values() if r["ITEM_ID"] == "c2")
    assert slovenian["TEXT"] == SLOVENIAN.replace("č", "?")  # š and ž are in CP1252
    assert slovenian["ENCODING_LOSS"] == "Y"
    assert job["summary"]["counts"]["loadfile_lossy_rows"] == 7
    assert any("cp1252" in n for n in job["summary"]["notes"])
    # the records keep the exact text whatever the load file's encoding
    assert [r["payload"]["text"] for r in bag.records()][0] == PERSIAN


def test_custom_delimiters_are_used(thread: Archive, tmp_path: Path) -> None:
    from archiver.exports.loadfile import Delimiters

    out = tmp_path / "d.zip"
    export(thread, out, delimiters=Delimiters("|", ",", "~"))
    first = Bag(out).read("data/loadfile/export.dat").decode("utf-8-sig").split("\r\n")[0]
    assert first.startswith("|CONTROL_NUMBER|,|PLATFORM|,")


def test_opt_lists_every_page_of_every_pdf(package: Path) -> None:
    bag = Bag(package)
    lines = bag.read("data/loadfile/export.opt").decode("ascii").split("\r\n")[:-1]
    pdfs = [n for n in bag.under("data/items/") if n.endswith(".pdf")]
    pages = {n: len(pypdf.PdfReader(io.BytesIO(bag.read(n))).pages) for n in pdfs}
    assert len(lines) == sum(pages.values())
    for line in lines:
        key, volume, path, first, _, _, count = line.split(",")
        name = path.replace("\\", "/")
        assert name in pages and volume == "EXPORT"
        if first == "Y":
            assert key.endswith(".0001") and int(count) == pages[name]


def test_proofs_checkpoint_and_custody_name_who_when_scope_counts_and_software(
        thread: Archive, package: Path) -> None:
    bag = Bag(package)
    custody = bag.json("chain-of-custody.json")
    assert custody["requested_by"] == "counsel@city"
    assert custody["scope"] == {"items": [{"platform": "mastodon", "item_id": "p1"}]}
    assert custody["counts"]["records"] == 7 and custody["counts"]["items"] == 4
    assert custody["counts"]["media"] == 1 and custody["counts"]["disposed"] == 0
    assert custody["software"].startswith("archiver ")
    note = bag.read("data/proofs/checkpoint")
    size = int(note.split(b"\n")[1])
    assert custody["checkpoint"]["size"] == size
    assert bag.read("data/proofs/vkey.txt").decode().strip() == thread.appender.p.signer.vkey()
    seqs = sorted(r["seq"] for r in bag.records())
    assert [json.loads(bag.read(n))["seq"] for n in bag.under("data/proofs/inclusion/")] == seqs
    info = bag.read("bag-info.txt").decode()
    for line in ("External-Identifier: ", "Export-Requested-By: counsel@city",
                 f"Checkpoint-Size: {size}", "Export-Records: 7", "Bag-Software-Agent: archiver"):
        assert line in info


def test_the_export_is_a_pair_of_system_records(thread: Archive, package: Path) -> None:
    with thread.catalog.reader() as conn:
        seqs = {r.action: r.seq for r in conn.execute(
            select(t.records.c.action, t.records.c.seq).where(t.records.c.type == "system"))}
    created = read_record(thread.appender, seqs["export.created"]).payload
    completed = read_record(thread.appender, seqs["export.completed"]).payload
    assert created["actor"] == "counsel@city"
    assert created["details"]["scope"] == {"items": [{"platform": "mastodon", "item_id": "p1"}]}
    assert completed["details"]["sha256"] == hashlib.sha256(package.read_bytes()).hexdigest()
    assert completed["details"]["counts"]["records"] == 7


def test_disposed_records_are_listed_and_their_content_is_absent(thread: Archive,
                                                                 tmp_path: Path) -> None:
    add_policy(thread, scope={"kinds": ["reply"]})
    run = create_run(thread, ALICE)
    approve_run(thread, run["id"], BOB)
    execute_run(thread, run["id"], BOB)
    out = tmp_path / "after.zip"
    job = export(thread, out)
    bag = Bag(out)
    assert job["summary"]["counts"]["disposed"] == 2
    disposed = bag.json("chain-of-custody.json")["disposed"]
    assert [(d["item_id"], d["event"]) for d in disposed] == [("c3", "created"),
                                                              ("c3", "deleted")]
    assert all(d["run_id"] == run["id"] for d in disposed)
    everything = b"".join(bag.zip.read(n) for n in bag.zip.namelist())
    assert b"line two, deleted later" not in everything
    assert {r["payload"]["item_id"] for r in bag.records()} == {"p1", "c1", "c2"}
    page = bag.read("data/items/ARCI000001.html").decode()
    assert "Comments (2)" in page and ENGLISH.split("\n")[0] not in page


def test_a_hold_exports_what_it_covers(thread: Archive, tmp_path: Path) -> None:
    hold = add_hold(thread, kinds=["comment"])
    out = tmp_path / "hold.zip"
    export(thread, out, ExportScope(hold=hold["id"]))
    assert {r["payload"]["item_id"] for r in Bag(out).records()} == {"c1", "c2"}


def test_a_search_exports_what_it_finds(thread: Archive, tmp_path: Path) -> None:
    out = tmp_path / "search.zip"
    export(thread, out, ExportScope(query="mafuriko"))
    assert [r["payload"]["text"] for r in Bag(out).records()] == [SWAHILI]


def test_a_scope_matching_nothing_gives_an_empty_valid_package_with_a_note(
        thread: Archive, tmp_path: Path) -> None:
    out = tmp_path / "none.zip"
    job = export(thread, out, ExportScope(query="zzzznothing"))
    assert job["state"] == "done" and job["summary"]["counts"]["records"] == 0
    assert any("no exportable records" in n for n in job["summary"]["notes"])
    bagit.Bag(str(_extract(out, tmp_path / "x"))).validate()
    info = Bag(out).read("bag-info.txt").decode()
    assert "Internal-Sender-Description: the scope matched no exportable records" in info


def test_an_empty_scope_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="scope is empty"):
        ExportScope()
    with pytest.raises(InvalidRequest, match="one kind of scope"):
        ExportScope(hold="h", query="q")


def test_an_unknown_hold_is_not_found_and_logs_nothing(thread: Archive) -> None:
    from archiver.exports.bag import ExportOptions

    with thread.catalog.reader() as conn:
        before = conn.execute(select(t.records.c.seq).order_by(t.records.c.seq.desc())).first()
    with pytest.raises(NotFound, match="no legal hold"):
        create_export(thread, ExportScope(hold="no-such-hold"), ExportOptions(), "x")
    with thread.catalog.reader() as conn:
        after = conn.execute(select(t.records.c.seq).order_by(t.records.c.seq.desc())).first()
    assert before == after


def test_staging_is_removed_after_a_package_is_written(thread: Archive, package: Path) -> None:
    staging = thread.settings.home / "exports" / "staging"
    assert not staging.exists() or not any(staging.iterdir())
    assert not list(package.parent.glob("*.partial"))
