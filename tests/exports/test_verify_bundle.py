"""`archiver-verify bundle`: accepts a package as written, rejects it after any one-byte
change inside any member, a member removed or added, or a checkpoint of another key; never
a traceback."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from archiver.log.checkpoint import Checkpoint, CheckpointSigner
from archiver.verify_offline import main
from archiver.wiring import Archive
from tests.exports.conftest import zip_bytes


def _members(package: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(package) as z:
        return {n: z.read(n) for n in z.namelist()}


def _verify(path: Path, *extra: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["bundle", str(path), *extra])
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    return code, out.out


@pytest.fixture
def vkey(thread: Archive, tmp_path: Path) -> Path:
    path = tmp_path / "vkey.txt"
    path.write_text(thread.appender.p.signer.vkey() + "\n")
    return path


def test_accepts_the_package_with_the_archive_key(package: Path, vkey: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _verify(package, "--vkey", str(vkey), capsys=capsys)
    summary = json.loads(out.splitlines()[-1])
    assert code == 0 and summary["ok"] and summary["records"] == 7
    assert summary["warnings"] == 0 and summary["checkpoints"] == 1
    assert "FAIL" not in out


def test_without_a_key_it_uses_the_bundled_one_and_warns(package: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    code, out = _verify(package, capsys=capsys)
    assert code == 0
    assert "WARN" in out and "agrees with itself" in out


def test_the_command_line_runs_with_the_standard_library_and_cryptography(
        package: Path, vkey: Path) -> None:
    script = Path(sys.executable).parent / "archiver-verify"
    done = subprocess.run([str(script), "bundle", str(package), "--vkey", str(vkey)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def _positions(size: int) -> list[int]:
    return sorted({0, 1, size // 3, size // 2, size - 2, size - 1} & set(range(size)))


def test_any_one_byte_change_inside_any_member_is_rejected(
        package: Path, vkey: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    members = _members(package)
    tried = 0
    for name, data in members.items():
        for pos in _positions(len(data)):
            changed = bytearray(data)
            changed[pos] ^= 0x01 if changed[pos] != 0x0A else 0x2A  # a newline becomes '*'
            tampered = tmp_path / "t.zip"
            tampered.write_bytes(zip_bytes({**members, name: bytes(changed)}))
            code, out = _verify(tampered, "--vkey", str(vkey), capsys=capsys)
            assert code == 1, f"{name} byte {pos}: accepted\n{out}"
            assert "FAIL" in out
            tried += 1
    assert tried > 100


def test_a_missing_member_is_rejected(package: Path, vkey: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    members = _members(package)
    for name in members:
        tampered = tmp_path / "t.zip"
        tampered.write_bytes(zip_bytes({k: v for k, v in members.items() if k != name}))
        code, out = _verify(tampered, "--vkey", str(vkey), capsys=capsys)
        assert code == 1, f"without {name}: accepted"
        assert "FAIL" in out


@pytest.mark.parametrize("extra", ["data/records/extra.json", "data/notes.txt", "readme.txt",
                                   "data/proofs/inclusion/999999999999.json"])
def test_an_added_member_is_rejected(package: Path, vkey: Path, tmp_path: Path, extra: str,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    members = _members(package)
    top = next(iter(members)).split("/", 1)[0]
    tampered = tmp_path / "t.zip"
    tampered.write_bytes(zip_bytes({**members, f"{top}/{extra}": b"{}"}))
    code, out = _verify(tampered, "--vkey", str(vkey), capsys=capsys)
    assert code == 1 and f"{top}/{extra}" in out


def test_a_checkpoint_signed_by_another_key_is_rejected_with_the_archive_key(
        package: Path, vkey: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A forger re-signs the checkpoint, swaps the bundled key and rewrites the manifests:
    the package agrees with itself, and only the key given out of band catches it."""
    members = _members(package)
    top = next(iter(members)).split("/", 1)[0]
    note = members[f"{top}/data/proofs/checkpoint"]
    origin = note.split(b"\n")[0].decode()
    forger = CheckpointSigner(origin, Ed25519PrivateKey.generate())
    text = note.split(b"\n\n")[0] + b"\n"
    members[f"{top}/data/proofs/checkpoint"] = _resign(forger, text)
    members[f"{top}/data/proofs/vkey.txt"] = (forger.vkey() + "\n").encode()
    members = _remanifest(members, top)
    forged = tmp_path / "forged.zip"
    forged.write_bytes(zip_bytes(members))
    code, out = _verify(forged, capsys=capsys)
    assert code == 0 and "WARN" in out  # self-consistent: why the warning says so
    code, out = _verify(forged, "--vkey", str(vkey), capsys=capsys)
    assert code == 1 and "no signature by" in out


def _resign(signer: CheckpointSigner, text: bytes) -> bytes:
    origin, size, root = text.decode().split("\n")[:3]
    return signer.sign(Checkpoint(origin, int(size), base64.b64decode(root)))


def _remanifest(members: dict[str, bytes], top: str) -> dict[str, bytes]:
    def lines(names: list[str]) -> bytes:
        return "".join(f"{hashlib.sha256(members[f'{top}/{n}']).hexdigest()}  {n}\n"
                       for n in names).encode()

    payload = sorted(n.split("/", 1)[1] for n in members if n.split("/", 1)[1]
                     .startswith("data/"))
    members[f"{top}/manifest-sha256.txt"] = lines(payload)
    tags = ["bagit.txt", "bag-info.txt", "chain-of-custody.json", "manifest-sha256.txt"]
    members[f"{top}/tagmanifest-sha256.txt"] = lines(tags)
    return members


def test_a_file_that_is_not_a_zip_is_a_usage_error(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip at all")
    code, out = _verify(bad, capsys=capsys)
    assert code == 2 and json.loads(out.splitlines()[-1])["error"].startswith(str(bad))
    code, _ = _verify(tmp_path / "missing.zip", capsys=capsys)
    assert code == 2


def test_a_zip_that_is_not_a_bag_is_rejected(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "other.zip"
    path.write_bytes(zip_bytes({"a.txt": b"a", "b/c.txt": b"c"}))
    code, out = _verify(path, capsys=capsys)
    assert code == 1 and "one top directory" in out


def test_a_damaged_zip_member_is_a_failure_not_a_crash(package: Path, vkey: Path,
                                                       tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    raw = bytearray(package.read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(raw))) as z:
        info = next(i for i in z.infolist() if i.filename.endswith(".png"))
    # the stored PNG's bytes sit after its local header: flip one, CRC now wrong
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    raw[start + 10] ^= 0xFF
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(bytes(raw))
    code, out = _verify(damaged, "--vkey", str(vkey), capsys=capsys)
    assert code == 1 and ".png" in out and "FAIL" in out


def test_an_unreadable_verifier_key_is_a_usage_error(package: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _verify(package, "--vkey", str(tmp_path / "absent.txt"), capsys=capsys)
    assert code == 2 and "absent.txt" in json.loads(out.splitlines()[-1])["error"]
    garbled = tmp_path / "garbled.txt"
    garbled.write_text("not+a+key\n")
    code, out = _verify(package, "--vkey", str(garbled), capsys=capsys)
    assert code == 2 and "garbled.txt" in json.loads(out.splitlines()[-1])["error"]
