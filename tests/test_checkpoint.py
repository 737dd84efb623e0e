"""Checkpoints are C2SP tlog-checkpoints in C2SP signed notes, byte for byte.

archiver/log/checkpoint.py. The notes here are also built by hand from the spec (an
Ed25519 key read from the signer's key file), so the layout is checked independently.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from archiver.errors import ConfigError, IntegrityError
from archiver.log.checkpoint import Checkpoint, CheckpointSigner, CheckpointVerifier

ORIGIN = "archive.example/log"
ROOT = hashlib.sha256(b"root").digest()
CP = Checkpoint(ORIGIN, 1234, ROOT)


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    return tmp_path / "keys" / "checkpoint.key"


@pytest.fixture
def signer(key_file: Path) -> CheckpointSigner:
    return CheckpointSigner.generate(key_file, ORIGIN)


def private_key(key_file: Path) -> Ed25519PrivateKey:
    doc = json.loads(key_file.read_text())
    return Ed25519PrivateKey.from_private_bytes(base64.b64decode(doc["key"]))


def public_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw,
                                         serialization.PublicFormat.Raw)


def spec_key_hash(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + b"\x01" + public).digest()[:4]


def spec_note(key: Ed25519PrivateKey, name: str, text: bytes) -> bytes:
    """A C2SP signed note over `text`, written from the spec."""
    sig = spec_key_hash(name, public_bytes(key)) + key.sign(text)
    return text + b"\n" + "\u2014 ".encode() + name.encode() + b" " + \
        base64.b64encode(sig) + b"\n"


def refused(signer: CheckpointSigner, note: bytes) -> IntegrityError:
    with pytest.raises(IntegrityError) as info:
        signer.verifier().verify(note, where="checkpoints/000000001234")
    assert info.value.where == "checkpoints/000000001234"
    return info.value


# --- layout ---------------------------------------------------------------------------


def test_checkpoint_text_is_origin_size_and_base64_root_lines() -> None:
    assert CP.text() == (ORIGIN + "\n1234\n" + base64.b64encode(ROOT).decode() + "\n").encode()


def test_signed_note_is_text_blank_line_and_one_signature_line(signer: CheckpointSigner) -> None:
    note = signer.sign(CP)
    lines = note.decode().split("\n")
    assert lines[:3] == [ORIGIN, "1234", base64.b64encode(ROOT).decode()]
    assert lines[3] == ""
    assert lines[5:] == [""]  # the signature line ends the note with "\n"
    prefix = "\u2014 " + ORIGIN + " "
    assert lines[4].startswith(prefix)
    sig = base64.b64decode(lines[4][len(prefix):], validate=True)
    assert len(sig) == 4 + 64
    assert base64.b64encode(sig).decode() == lines[4][len(prefix):]


def test_signature_is_key_hash_then_ed25519_over_the_text(signer: CheckpointSigner,
                                                         key_file: Path) -> None:
    key = private_key(key_file)
    assert signer.sign(CP) == spec_note(key, ORIGIN, CP.text())


def test_key_hash_is_first_four_bytes_of_sha256_of_name_newline_alg_and_key(
        signer: CheckpointSigner, key_file: Path) -> None:
    public = public_bytes(private_key(key_file))
    assert signer.public == public
    assert signer.key_hash == hashlib.sha256(ORIGIN.encode() + b"\n\x01" + public).digest()[:4]


def test_vkey_is_name_plus_hex_key_hash_plus_base64_of_alg_and_key(
        signer: CheckpointSigner) -> None:
    name, hash_hex, key_b64 = signer.vkey().split("+", 2)
    assert name == ORIGIN
    assert hash_hex == signer.key_hash.hex()
    assert len(hash_hex) == 8
    assert base64.b64decode(key_b64, validate=True) == b"\x01" + signer.public


def test_signing_is_deterministic(signer: CheckpointSigner) -> None:
    assert signer.sign(CP) == signer.sign(Checkpoint(ORIGIN, 1234, ROOT))


def test_signer_loaded_from_its_file_signs_the_same_bytes(signer: CheckpointSigner,
                                                          key_file: Path) -> None:
    assert CheckpointSigner.load(key_file).sign(CP) == signer.sign(CP)


@pytest.mark.parametrize("name", ["has space", "has+plus", ""])
def test_a_key_name_with_space_or_plus_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError):
        CheckpointSigner.generate(tmp_path / "k", name)


# --- verifier keys --------------------------------------------------------------------


def test_vkey_round_trips_through_from_vkey(signer: CheckpointSigner) -> None:
    verifier = CheckpointVerifier.from_vkey(signer.vkey())
    assert (verifier.name, verifier.key_hash) == (ORIGIN, signer.key_hash)
    assert verifier.verify(signer.sign(CP)) == CP


def test_vkey_whose_base64_contains_plus_round_trips(tmp_path: Path) -> None:
    for i in range(200):
        signer = CheckpointSigner.generate(tmp_path / f"k{i}", "plus.example/log")
        if "+" in signer.vkey().split("+", 2)[2]:
            break
    else:
        pytest.fail("no key with '+' in its base64 in 200 tries")
    verifier = CheckpointVerifier.from_vkey(signer.vkey())
    assert verifier.key_hash == signer.key_hash
    cp = Checkpoint("plus.example/log", 5, ROOT)
    assert verifier.verify(signer.sign(cp)) == cp


def test_from_vkey_ignores_surrounding_whitespace(signer: CheckpointSigner) -> None:
    assert CheckpointVerifier.from_vkey(f"  {signer.vkey()}\n").key_hash == signer.key_hash


def _bad_vkeys(signer: CheckpointSigner) -> list[str]:
    name, hash_hex, key_b64 = signer.vkey().split("+", 2)
    raw = base64.b64decode(key_b64)
    wrong_hash = (bytes([signer.key_hash[0] ^ 1]) + signer.key_hash[1:]).hex()
    wrong_alg = base64.b64encode(b"\x02" + raw[1:]).decode()
    short_key = base64.b64encode(raw[:-1]).decode()
    return [
        "", name, f"{name}+{hash_hex}", f"other+{hash_hex}+{key_b64}",
        f"{name}+{wrong_hash}+{key_b64}", f"{name}+{hash_hex[:6]}+{key_b64}",
        f"{name}+zzzzzzzz+{key_b64}",
        f"{name}+{hash_hex}+{wrong_alg}", f"{name}+{hash_hex}+{short_key}",
        f"{name}+{hash_hex}+{key_b64}!",
    ]


def test_from_vkey_refuses_malformed_or_inconsistent_keys(signer: CheckpointSigner) -> None:
    for vkey in _bad_vkeys(signer):
        with pytest.raises(ConfigError):
            CheckpointVerifier.from_vkey(vkey)


# --- verification ---------------------------------------------------------------------


def test_verify_returns_the_signed_checkpoint(signer: CheckpointSigner) -> None:
    assert signer.verifier().verify(signer.sign(CP)) == CP


def test_verify_accepts_size_zero(signer: CheckpointSigner) -> None:
    cp = Checkpoint(ORIGIN, 0, hashlib.sha256(b"").digest())
    assert signer.verifier().verify(signer.sign(cp)) == cp


def test_verify_rejects_any_changed_byte_in_the_text(signer: CheckpointSigner) -> None:
    note = signer.sign(CP)
    for i in range(len(CP.text())):
        for delta in (1, 0x20, 0x80):
            bad = bytearray(note)
            bad[i] = (bad[i] + delta) % 256
            refused(signer, bytes(bad))


def test_verify_rejects_any_flipped_bit_in_the_signature(signer: CheckpointSigner) -> None:
    note = signer.sign(CP)
    text, sig_line = note[:len(CP.text())], note[len(CP.text()) + 1:]
    prefix = "\u2014 ".encode() + ORIGIN.encode() + b" "
    sig = base64.b64decode(sig_line[len(prefix):-1])
    for bit in range(len(sig) * 8):
        bad = bytearray(sig)
        bad[bit // 8] ^= 1 << (bit % 8)
        refused(signer, text + b"\n" + prefix + base64.b64encode(bytes(bad)) + b"\n")


def test_verify_rejects_any_changed_byte_in_the_signature_line(signer: CheckpointSigner) -> None:
    note = signer.sign(CP)
    accepted = []
    for i in range(len(CP.text()), len(note)):
        for value in range(256):
            if value == note[i]:
                continue
            bad = note[:i] + bytes([value]) + note[i + 1:]
            try:
                signer.verifier().verify(bad)
                accepted.append((i, value))
            except IntegrityError:
                pass
    assert accepted == []


def test_verify_rejects_a_note_signed_by_another_key(signer: CheckpointSigner,
                                                     tmp_path: Path) -> None:
    other = CheckpointSigner.generate(tmp_path / "other.key", ORIGIN)
    err = refused(signer, other.sign(CP))
    assert ORIGIN in err.reason


def test_verify_rejects_a_note_signed_under_another_name(signer: CheckpointSigner,
                                                         key_file: Path) -> None:
    refused(signer, spec_note(private_key(key_file), "someone.else/log", CP.text()))


def test_verify_rejects_a_note_without_signature(signer: CheckpointSigner) -> None:
    refused(signer, CP.text() + b"\n")


def test_verify_rejects_text_without_blank_line(signer: CheckpointSigner) -> None:
    refused(signer, CP.text())


def test_verify_rejects_a_note_without_final_newline(signer: CheckpointSigner) -> None:
    refused(signer, signer.sign(CP)[:-1])


def test_verify_ignores_a_well_formed_signature_by_another_key(signer: CheckpointSigner,
                                                              tmp_path: Path) -> None:
    other = CheckpointSigner.generate(tmp_path / "witness.key", "witness.example")
    both = signer.sign(CP) + other.sign(CP).split(b"\n\n", 1)[1]
    assert signer.verifier().verify(both) == CP


@pytest.mark.parametrize("size", ["012", "-1", "x", "", "1 ", "+5", "1.0", "0x10"])
def test_verify_rejects_a_malformed_size_even_when_signed(signer: CheckpointSigner,
                                                          key_file: Path, size: str) -> None:
    text = f"{ORIGIN}\n{size}\n{base64.b64encode(ROOT).decode()}\n".encode()
    refused(signer, spec_note(private_key(key_file), ORIGIN, text))


def test_verify_rejects_a_size_in_non_ascii_digits(signer: CheckpointSigner,
                                                   key_file: Path) -> None:
    text = f"{ORIGIN}\n۱۲\n{base64.b64encode(ROOT).decode()}\n".encode()
    refused(signer, spec_note(private_key(key_file), ORIGIN, text))


@pytest.mark.parametrize("root", [ROOT[:31], ROOT + b"\x00", b""])
def test_verify_rejects_a_root_that_is_not_32_bytes_even_when_signed(
        signer: CheckpointSigner, key_file: Path, root: bytes) -> None:
    text = f"{ORIGIN}\n1234\n{base64.b64encode(root).decode()}\n".encode()
    refused(signer, spec_note(private_key(key_file), ORIGIN, text))


def test_verify_rejects_a_root_that_is_not_base64_even_when_signed(
        signer: CheckpointSigner, key_file: Path) -> None:
    text = f"{ORIGIN}\n1234\n{base64.b64encode(ROOT).decode()[:-2]}!=\n".encode()
    refused(signer, spec_note(private_key(key_file), ORIGIN, text))


def test_verify_rejects_extra_text_lines_even_when_signed(signer: CheckpointSigner,
                                                          key_file: Path) -> None:
    refused(signer, spec_note(private_key(key_file), ORIGIN, CP.text() + b"extension\n"))
