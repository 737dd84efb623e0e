"""The HTML rendering opened in a real browser (headless Chromium, Debian's `chromium`,
installed by `make test-deps`): it loads from the package alone and draws the post, its
image and its thread. The screenshot stays in the test's tmp dir for a person to look at."""

from __future__ import annotations

import shutil
import struct
import subprocess
import zipfile
from pathlib import Path

import pytest

from archiver.wiring import Archive

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--allow-file-access-from-files"]


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "Chromium is missing: run `make test-deps` (Debian package chromium)"
    return found


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.mark.slow
def test_the_page_renders_in_chromium_from_the_package_alone(
        thread: Archive, package: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(package) as z:
        z.extractall(tmp_path / "bag")
    (top,) = list((tmp_path / "bag").iterdir())
    page = top / "data" / "items" / "ARCI000001.html"
    shot = tmp_path / "post.png"
    dom = subprocess.run([_chromium(), *FLAGS, "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "می\u200cآید" in dom.stdout and "Mafuriko" in dom.stdout
    done = subprocess.run([_chromium(), *FLAGS, f"--screenshot={shot}",
                           "--window-size=720,2000", page.as_uri()],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    data = shot.read_bytes()
    assert _png_size(data) == (720, 2000)
    assert len(data) > 20_000  # text, an image and badges, not a blank page
    print(f"screenshot: {shot}")
