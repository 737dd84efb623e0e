"""eDiscovery load files: Concordance DAT, the same rows as CSV, and an Opticon OPT.

DAT (the Concordance default delimiters, all configurable since review platforms differ):
every field wrapped in the text qualifier þ (U+00FE), fields separated by ASCII 20 (DC4,
U+0014), a newline inside a field written as ® (U+00AE), rows ended by CRLF, a header row
first. A qualifier character inside a value is doubled (as CSV doubles its quote).

Encoding: UTF-8 (with a byte order mark, which Relativity and Concordance read as UTF-8)
by default, or CP1252 on request. CP1252 cannot hold Persian, Arabic and many other
letters: each such character is written as "?" and the row's ENCODING_LOSS field says "Y",
so a reviewer knows the load file's text is not the record's. Nothing is lost from the
package: the records (data/records/*.json, UTF-8) and the renderings keep the exact text.

OPT (Opticon image cross-reference): one line per page of the PDF renderings,
`page key,volume,path,Y(first page of a document),,,page count(first page only)`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from archiver.errors import InvalidRequest

FIELDS = ("CONTROL_NUMBER", "PLATFORM", "ACCOUNT", "ITEM_ID", "KIND", "EVENT", "AUTHOR",
          "PUBLISHED", "CAPTURED", "TEXT", "NATIVE_PATH", "SHA256", "RECORD_HASH", "SEQ",
          "RENDERING", "ENCODING_LOSS")
ENCODINGS = ("utf-8", "cp1252")


@dataclass(frozen=True)
class Delimiters:
    """Concordance's defaults; each a single character."""

    qualifier: str = "\u00fe"
    separator: str = "\x14"
    newline: str = "\u00ae"

    def __post_init__(self) -> None:
        chars = (self.qualifier, self.separator, self.newline)
        if any(len(c) != 1 for c in chars) or len(set(chars)) != 3:
            raise InvalidRequest("the DAT qualifier, separator and newline marker must be "
                                 "three different single characters")
        if any(c in "\r\n" for c in chars):
            raise InvalidRequest("a DAT delimiter cannot be CR or LF")


def check_encoding(encoding: str) -> str:
    name = encoding.lower().replace("_", "-")
    name = {"utf8": "utf-8", "windows-1252": "cp1252"}.get(name, name)
    if name not in ENCODINGS:
        raise InvalidRequest(f"load file encoding must be utf-8 or cp1252, not {encoding!r}")
    return name


def _fits(value: str, encoding: str) -> tuple[str, bool]:
    """`value` as the encoding can hold it, and whether anything was replaced."""
    if encoding == "utf-8":
        return value, False
    data = value.encode(encoding, errors="replace")
    return data.decode(encoding), data.decode(encoding) != value


def fitted_rows(rows: Iterable[Sequence[str]], encoding: str) -> list[list[str]]:
    out = []
    for row in rows:
        cells = [_fits(str(c), encoding) for c in row]
        values = [v for v, _ in cells]
        values[-1] = "Y" if any(lossy for _, lossy in cells) else "N"
        out.append(values)
    return out


def dat_bytes(rows: Iterable[Sequence[str]], encoding: str = "utf-8",
              delimiters: Delimiters | None = None) -> bytes:
    """The DAT file: header, then one line per row (the last cell is ENCODING_LOSS)."""
    d = delimiters or Delimiters()
    encoding = check_encoding(encoding)

    def cell(v: str) -> str:
        v = v.replace("\r\n", "\n").replace("\r", "\n").replace("\n", d.newline)
        return d.qualifier + v.replace(d.qualifier, d.qualifier * 2) + d.qualifier

    lines = [d.separator.join(cell(f) for f in FIELDS)]
    lines += [d.separator.join(cell(v) for v in row) for row in fitted_rows(rows, encoding)]
    text = "\r\n".join(lines) + "\r\n"
    # Delimiters themselves must fit the encoding: Concordance's do in both.
    data = text.encode(encoding, errors="strict")
    return (b"\xef\xbb\xbf" + data) if encoding == "utf-8" else data


def csv_bytes(rows: Iterable[Sequence[str]], encoding: str = "utf-8") -> bytes:
    """The same rows as RFC 4180 CSV (quotes doubled, newlines kept inside quoted cells)."""
    encoding = check_encoding(encoding)
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n", quoting=csv.QUOTE_ALL)
    writer.writerow(FIELDS)
    writer.writerows(fitted_rows(rows, encoding))
    data = buf.getvalue().encode(encoding, errors="strict")
    return (b"\xef\xbb\xbf" + data) if encoding == "utf-8" else data


def opt_bytes(documents: Iterable[tuple[str, str, int]], volume: str = "EXPORT") -> bytes:
    """Opticon lines for (control number, PDF path, pages) of each rendering; the page
    keys are the control number and a 4-digit page number."""
    lines = []
    for control, path, pages in documents:
        for page in range(1, pages + 1):
            lines.append(f"{control}.{page:04d},{volume},{path.replace('/', chr(92))},"
                         f"{'Y' if page == 1 else ''},,,{pages if page == 1 else ''}")
    return ("\r\n".join(lines) + ("\r\n" if lines else "")).encode("ascii", errors="strict")
