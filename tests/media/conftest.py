"""Media tests: real files built here (no binaries shipped), served over real HTTP, and
archives on the two ends of the backend matrix (filesystem + SQLite, SeaweedFS S3 with
Object Lock + PostgreSQL)."""

from __future__ import annotations

import hashlib
import struct
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from archiver.collectors.transport import Transport, TransportSettings
from archiver.records import MediaBlob, Observation, parse_observation
from tests.api.conftest import app, client, tokens  # noqa: F401 - the API suite's fixtures
from tests.fixtures.backends import backend_env_for
from tests.replay.server import ReplayServer, Reply

MEDIA_BACKENDS = [("filesystem", "sqlite"), ("s3", "postgres")]


def png(rgb: tuple[int, int, int] = (200, 30, 90), width: int = 2, height: int = 2) -> bytes:
    """A real PNG (ISO/IEC 15948): signature, IHDR, one zlib IDAT of RGB rows, IEND."""
    def chunk(tag: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))
    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def jpeg(comment: bytes = b"") -> bytes:
    """A real baseline JPEG of one grey pixel: one-code Huffman tables, one 8x8 block."""
    def seg(marker: int, body: bytes) -> bytes:
        return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body
    one_code = b"\x01" + b"\x00" * 15 + b"\x00"  # one code of length 1, for symbol 0
    return (b"\xff\xd8"
            + seg(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
            + (seg(0xFE, comment) if comment else b"")
            + seg(0xDB, b"\x00" + b"\x01" * 64)
            + seg(0xC0, struct.pack(">BHHB", 8, 1, 1, 1) + b"\x01\x11\x00")
            + seg(0xC4, b"\x00" + one_code) + seg(0xC4, b"\x10" + one_code)
            + seg(0xDA, b"\x01\x01\x00\x00\x3f\x00")
            + b"\x3f"  # DC difference 0 (code 0), EOB (code 0), padded with 1 bits
            + b"\xff\xd9")


def mp4() -> bytes:
    """An ISO base media file: an `ftyp` box (brand isom) and an empty `mdat`."""
    ftyp = b"isom" + struct.pack(">I", 0x200) + b"isomiso2mp41"
    return struct.pack(">I", 8 + len(ftyp)) + b"ftyp" + ftyp + struct.pack(">I", 8) + b"mdat"


def webm() -> bytes:
    """An EBML header whose DocType is webm (the first element of every WebM file)."""
    body = b"\x42\x86\x81\x01" + b"\x42\x82\x84webm" + b"\x42\x87\x81\x04" + b"\x42\x85\x81\x02"
    return b"\x1a\x45\xdf\xa3" + bytes([0x80 | len(body)]) + body


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def blob(data: bytes, mime: str = "image/png") -> MediaBlob:
    return MediaBlob(sha(data), mime, data, "https://media.example/" + sha(data)[:8])


def observation(item: str = "1", media: list[dict[str, Any]] | None = None,
                text: str = "Habari za asubuhi — خبرها\u200cی تازه — dobro jutro",
                **extra: Any) -> Observation:
    return parse_observation({"platform": "mastodon", "account": "42", "item_id": item,
                              "kind": "post", "text": text, "media": media or [],
                              "observed_at": "2026-11-21T10:00:00Z", **extra},
                             max_text_bytes=100_000)


@pytest.fixture(params=MEDIA_BACKENDS, ids=[f"{s}-{c}" for s, c in MEDIA_BACKENDS])
def backend_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    return backend_env_for(request, tmp_path)


@pytest.fixture
def fs_env(tmp_path: Path) -> dict[str, str]:
    """An archive on filesystem + SQLite only: for tampering behind the archive's back."""
    return {"ARCHIVER_HOME": str(tmp_path / "home")}


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with ReplayServer() as s:
        yield s


def serve(server: ReplayServer, path: str, data: bytes, content_type: str,
          status: int = 200) -> str:
    server.route("GET", path, Reply(status, data, {"Content-Type": content_type}))
    return server.url + path


@pytest.fixture
def http() -> Iterator[Transport]:
    with Transport(TransportSettings(retries=0, connect_timeout=2, read_timeout=5),
                   sleep=lambda _s: None) as t:
        yield t


class _UndeclaredLength(BaseHTTPRequestHandler):
    """HTTP/1.0 answers without Content-Length: the body ends when the connection closes,
    so only counting the bytes as they stream in can enforce a limit."""

    protocol_version = "HTTP/1.0"
    body = b""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture
def undeclared_server() -> Iterator[tuple[str, type[_UndeclaredLength]]]:
    handler = type("Handler", (_UndeclaredLength,), {})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    host, port = httpd.server_address[:2]
    yield f"http://{host}:{port}/big.png", handler
    httpd.shutdown()
    httpd.server_close()
