"""What the offline verifier promises an auditor.

The stores here are written by a tiny writer in this file that follows
ARCHIVE_FORMAT.md and nothing else (Ed25519 via ``cryptography``, AES-256-GCM
with the envelope minus ``ct`` as associated data, AES key wrap for data keys),
and the proofs by a direct transcription of RFC 6962 section 2.1.1 (PATH) and
2.1.2 (SUBPROOF). Nothing from the rest of ``archiver`` is used, so these tests
check the verifier against the published format, not against the archive's
own idea of it.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import aes_key_wrap
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archiver import verify_offline as vo

ORIGIN = "archive.example.org/log"
KEY_NAME = "archive.example.org"
SEG0 = "log/000000000000-000000000009.jsonl"
SEG1 = "log/000000000010-000000000019.jsonl"
SEG2 = "log/000000000020-000000000024.jsonl"
KEYS1 = "keys/000000000010-000000000019.json"
CP10, CP20, CP25 = (f"checkpoints/{n:012d}" for n in (10, 20, 25))


# --------------------------------------------------------------------------- a writer from the spec


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def c(obj: object) -> bytes:
    """C(e), exactly as ARCHIVE_FORMAT.md writes it."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def leaf_of(line: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + line).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """Largest power of two smaller than n (RFC 6962 2.1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 2.1 MTH, recursively, as the RFC writes it (over leaf hashes)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return _node(mth(leaves[:k]), mth(leaves[k:]))


def audit_path(m: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 6962 2.1.1 PATH(m, D[n]), nearest sibling first."""
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if m < k:
        return audit_path(m, leaves[:k]) + [mth(leaves[k:])]
    return audit_path(m - k, leaves[k:]) + [mth(leaves[:k])]


def subproof(m: int, leaves: list[bytes], complete: bool) -> list[bytes]:
    """RFC 6962 2.1.2 SUBPROOF(m, D[n], b)."""
    n = len(leaves)
    if m == n:
        return [] if complete else [mth(leaves)]
    k = _split(n)
    if m <= k:
        return subproof(m, leaves[:k], complete) + [mth(leaves[k:])]
    return subproof(m - k, leaves[k:], False) + [mth(leaves[:k])]


def consistency_path(m: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 6962 2.1.2 PROOF(m, D[n]); empty when m is 0 or n."""
    return [] if m in (0, len(leaves)) else subproof(m, leaves, True)


class Signer:
    """A signed-note signer: Ed25519, key hash per C2SP signed-note."""

    def __init__(self, name: str = KEY_NAME, origin: str = ORIGIN) -> None:
        self.name, self.origin = name, origin
        self.key = Ed25519PrivateKey.generate()
        public = self.key.public_key().public_bytes_raw()
        self.key_hash = hashlib.sha256(name.encode() + b"\n\x01" + public).digest()[:4]
        typed_key = b64(bytes([1]) + public)  # 0x01: Ed25519
        self.vkey = f"{name}+{self.key_hash.hex()}+{typed_key}"

    def sign(self, text: bytes) -> bytes:
        blob = self.key_hash + self.key.sign(text)
        return text + b"\n" + f"\u2014 {self.name} {b64(blob)}\n".encode()

    def checkpoint(self, size: int, root: bytes) -> bytes:
        return self.sign(f"{self.origin}\n{size}\n{b64(root)}\n".encode())


@dataclass
class Store:
    root: Path
    vkey: Path
    signer: Signer
    envelopes: list[dict]
    lines: list[bytes]

    @property
    def leaves(self) -> list[bytes]:
        return [leaf_of(line) for line in self.lines]

    def path(self, key: str) -> Path:
        return self.root / key


Mutation = Callable[[dict], None]


def write_store(
    base: Path,
    n: int = 25,
    per_segment: int = 10,
    checkpoints: tuple[int, ...] = (10, 20, 25),
    signer: Signer | None = None,
    mutate: Mutation | None = None,
    encode: Callable[[dict], bytes] = c,
) -> Store:
    """Write a store of ``n`` records the way ARCHIVE_FORMAT.md describes."""
    signer = signer or Signer()
    root = base / "objects"
    for d in ("log", "keys", "checkpoints"):
        (root / d).mkdir(parents=True, exist_ok=True)
    kek = os.urandom(32)
    envelopes, lines, wrapped = [], [], {}
    prev = "0" * 64
    for seq in range(n):
        data_key, nonce = AESGCM.generate_key(256), os.urandom(12)
        env = {
            "v": 1,
            "seq": seq,
            "prev": prev,
            "time": f"2026-11-21T20:{seq // 60 % 60:02d}:{seq % 60:02d}.{seq:06d}Z",
            "type": "system" if seq % 7 == 0 else "capture",
            "kid": "dk-ß-3" if seq == 3 else f"dk-{seq:06d}",  # non-ASCII is written as itself
            "nonce": b64(nonce),
        }
        payload = c({"platform": "example", "text": f"post {seq} ✓"})
        env["ct"] = b64(AESGCM(data_key).encrypt(nonce, payload, c(env)))
        if mutate:
            mutate(env)
        line = encode(env)
        envelopes.append(env)
        lines.append(line)
        if isinstance(env.get("kid"), str) and env["kid"]:
            wrapped[env["kid"]] = b64(aes_key_wrap(kek, data_key))
        prev = leaf_of(line).hex()
    for first in range(0, n, per_segment):
        last = min(first + per_segment, n) - 1
        name = f"{first:012d}-{last:012d}"
        (root / "log" / f"{name}.jsonl").write_bytes(
            b"".join(line + b"\n" for line in lines[first : last + 1])
        )
        kids = [e.get("kid") for e in envelopes[first : last + 1]]
        keys = {
            "v": 1,
            "kek": "kek-2026",
            "alg": "A256KW",
            "keys": {k: wrapped[k] for k in kids if k in wrapped},
        }
        (root / "keys" / f"{name}.json").write_text(json.dumps(keys))
    leaves = [leaf_of(line) for line in lines]
    for size in checkpoints:
        note = signer.checkpoint(size, mth(leaves[:size]))
        (root / "checkpoints" / f"{size:012d}").write_bytes(note)
    if checkpoints:
        shutil.copyfile(root / "checkpoints" / f"{max(checkpoints):012d}", root / "checkpoint")
    vkey = base / "vkey.txt"
    vkey.write_text(signer.vkey + "\n")
    return Store(root, vkey, signer, envelopes, lines)


def at_seq(seq: int, change: Mutation) -> Mutation:
    def mutate(env: dict) -> None:
        if env["seq"] == seq:
            change(env)

    return mutate


@dataclass
class Outcome:
    code: int
    out: str
    err: str

    @property
    def summary(self) -> dict:
        return json.loads(self.out.strip().splitlines()[-1])

    @property
    def failures(self) -> list[str]:
        return [line for line in self.out.splitlines() if line.startswith("FAIL ")]


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> Outcome:
    code = vo.main([str(a) for a in argv])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert "ERROR internal" not in captured.err  # bad input is never an unexpected exception
    return Outcome(code, captured.out, captured.err)


def verify(capsys: pytest.CaptureFixture[str], store: Store) -> Outcome:
    return run(capsys, "store", store.root, "--vkey", store.vkey)


def edit_line(path: Path, index: int, change: Callable[[bytes], bytes]) -> None:
    lines = path.read_bytes().split(b"\n")
    lines[index] = change(lines[index])
    path.write_bytes(b"\n".join(lines))


def replace_once(data: bytes, old: bytes, new: bytes) -> bytes:
    assert data.count(old) >= 1, (old, data)
    return data.replace(old, new, 1)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return write_store(tmp_path)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """One store shared by the property tests, which copy it before changing it."""
    return write_store(tmp_path_factory.mktemp("pristine"))


# --------------------------------------------------------------------------- a good store


def test_a_store_written_to_the_format_verifies(capsys, store):
    result = verify(capsys, store)
    assert result.code == 0, result.out
    assert result.summary == {
        "ok": True,
        "records": 25,
        "segments": 3,
        "checkpoints": 3,
        "destroyed": 0,
        "failures": 0,
        "warnings": 0,
    }
    assert f"OK {SEG1}: 10 records, seq 10..19" in result.out
    assert f"OK {CP25}: signed by {KEY_NAME}+{store.signer.key_hash.hex()}" in result.out
    assert "OK checkpoint: byte-identical to the newest checkpoint" in result.out
    assert "consistent" in result.out  # stated, as each root is recomputed from one log


def test_every_finding_is_one_line_and_the_summary_is_last(capsys, store):
    result = verify(capsys, store)
    lines = result.out.splitlines()
    assert all(line.split(" ", 1)[0] in {"OK", "INFO", "WARN", "FAIL"} for line in lines[:-1])
    assert json.loads(lines[-1])["ok"] is True


def test_temporary_dot_files_are_ignored(capsys, store):
    store.path(".upload-123").write_bytes(b"partial")
    store.path("log/.000000000025-000000000029.jsonl.tmp").write_bytes(b"partial")
    result = verify(capsys, store)
    assert result.code == 0, result.out
    assert "ignored 2" in result.out


def test_media_blobs_are_allowed_and_counted(capsys, store):
    (store.root / "media").mkdir()
    store.path("media/3f2a").write_bytes(os.urandom(64))
    path = store.path(KEYS1)  # a blob's data key is in a keys object, under its id
    keys = json.loads(path.read_text())
    keys["keys"]["3f2a"] = b64(os.urandom(60))
    path.write_text(json.dumps(keys))
    result = verify(capsys, store)
    assert result.code == 0, result.out
    assert "1 media blob" in result.out


# --------------------------------------------------------------------------- altered segments


def test_a_changed_byte_inside_ct_breaks_the_next_prev_and_the_checkpoints(capsys, store):
    def flip_ct(line: bytes) -> bytes:
        at = line.index(b'"ct":"') + 12
        return line[:at] + (b"B" if line[at : at + 1] != b"B" else b"C") + line[at + 1 :]

    edit_line(store.path(SEG1), 3, flip_ct)  # seq 13
    result = verify(capsys, store)
    assert result.code == 1
    assert f"FAIL {SEG1} line 5 (seq 14): prev: expected " in result.out
    assert f"FAIL {CP20}: root:" in result.out and "seq 10..19" in result.out
    assert f"FAIL {CP25}: root:" in result.out
    assert f"OK {CP10}" in result.out  # what was signed before the change still verifies


def test_a_changed_byte_in_the_last_record_is_caught_by_the_checkpoint(capsys, store):
    edit_line(
        store.path(SEG2),
        4,
        lambda line: replace_once(line, b'"type":"capture"', b'"type":"system"'),
    )
    result = verify(capsys, store)
    assert result.code == 1
    assert [f.split(":")[0] for f in result.failures] == [f"FAIL {CP25}"]
    assert "seq 20..24" in result.out


def test_a_changed_seq_digit_names_the_line_and_both_values(capsys, store):
    edit_line(store.path(SEG1), 3, lambda line: replace_once(line, b'"seq":13', b'"seq":18'))
    result = verify(capsys, store)
    assert result.code == 1
    assert f"FAIL {SEG1} line 4 (seq 13): seq: expected 13, found 18" in result.out


def test_a_missing_final_newline_is_a_failure(capsys, store):
    path = store.path(SEG2)
    path.write_bytes(path.read_bytes()[:-1])
    result = verify(capsys, store)
    assert result.code == 1
    assert f'FAIL {SEG2} line 5 (seq 24): no final "\\n"' in result.out


def test_a_final_newline_changed_into_another_byte_is_a_failure(capsys, store):
    path = store.path(SEG0)
    path.write_bytes(path.read_bytes()[:-1] + b" ")
    result = verify(capsys, store)
    assert result.code == 1
    assert f"FAIL {SEG0} line 10 (seq 9): " in result.out
    assert f"FAIL {SEG1} line 1 (seq 10): prev: expected" in result.out


def test_an_extra_empty_line_is_a_failure(capsys, store):
    path = store.path(SEG2)
    path.write_bytes(path.read_bytes() + b"\n")
    result = verify(capsys, store)
    assert result.code == 1
    assert f"FAIL {SEG2} line 6 (seq 25): not JSON" in result.out
    assert f"FAIL {SEG2}: holds 6 lines, its name says 5" in result.out


def test_a_deleted_middle_segment_is_a_gap(capsys, store):
    store.path(SEG1).unlink()
    result = verify(capsys, store)
    assert result.code == 1
    assert f"FAIL {SEG2}: gap: records 10..19 are in no segment" in result.out
    assert f"FAIL {KEYS1}: keys object without a segment" in result.out
    assert f"FAIL {CP25}: signs a tree of 25 records, but the log holds only 15" in result.out


def test_a_deleted_last_segment_leaves_signed_records_missing(capsys, store):
    store.path(SEG2).unlink()
    result = verify(capsys, store)
    assert result.code == 1
    assert f"FAIL {CP25}: signs a tree of 25 records, but the log holds only 20" in result.out


def test_two_swapped_lines_are_out_of_order(capsys, store):
    path = store.path(SEG1)
    lines = path.read_bytes().split(b"\n")
    lines[1], lines[2] = lines[2], lines[1]
    path.write_bytes(b"\n".join(lines))
    result = verify(capsys, store)
    assert result.code == 1
    assert f"FAIL {SEG1} line 2 (seq 11): seq: expected 11, found 12" in result.out
    assert f"FAIL {SEG1} line 3 (seq 12): seq: expected 12, found 11" in result.out


def test_a_segment_truncated_by_a_whole_line(capsys, store):
    path = store.path(SEG2)
    path.write_bytes(b"".join(line + b"\n" for line in store.lines[20:24]))
    result = verify(capsys, store)
    assert result.code == 1
    assert f"FAIL {SEG2}: holds 4 lines, its name says 5 (seq 20..24)" in result.out
    assert f"FAIL {CP25}: signs a tree of 25 records, but the log holds only 24" in result.out


def test_a_segment_truncated_inside_a_line(capsys, store):
    path = store.path(SEG2)
    path.write_bytes(path.read_bytes()[:-40])
    result = verify(capsys, store)
    assert result.code == 1
    assert f'FAIL {SEG2} line 5 (seq 24): no final "\\n"' in result.out
    assert "not JSON" in result.out


def test_an_appended_line_is_more_than_the_name_says(capsys, store):
    path = store.path(SEG2)
    path.write_bytes(path.read_bytes() + store.lines[24] + b"\n")
    result = verify(capsys, store)
    assert result.code == 1
    assert f"FAIL {SEG2} line 6 (seq 25): seq: expected 25, found 24" in result.out
    assert f"FAIL {SEG2}: holds 6 lines, its name says 5" in result.out


def test_a_renamed_segment_must_be_contiguous(capsys, store):
    store.path(SEG2).rename(store.path("log/000000000021-000000000025.jsonl"))
    result = verify(capsys, store)
    assert result.code == 1
    assert "gap: records 20..20 are in no segment" in result.out
    assert "FAIL keys/000000000021-000000000025.json: missing" in result.out


def test_overlapping_segments_are_a_failure(capsys, store):
    data = b"".join(line + b"\n" for line in store.lines[5:10])
    store.path("log/000000000005-000000000009.jsonl").write_bytes(data)
    shutil.copyfile(
        store.path("keys/000000000000-000000000009.json"),
        store.path("keys/000000000005-000000000009.json"),
    )
    result = verify(capsys, store)
    assert result.code == 1
    assert "overlap: records 5..9 are also in the previous segment" in result.out


@given(data=st.data())
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_every_single_byte_change_in_a_signed_object_is_detected(capsys, data, pristine):
    """Whatever byte of a segment or checkpoint changes, and to whatever value, the
    store fails verification (keys objects are not signed, so they are not in scope)."""
    base = pristine
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "objects"
        shutil.copytree(base.root, root)
        key = data.draw(st.sampled_from([SEG0, SEG1, SEG2, CP10, CP20, CP25, "checkpoint"]))
        content = bytearray((root / key).read_bytes())
        at = data.draw(st.integers(0, len(content) - 1))
        content[at] = data.draw(st.integers(0, 255).filter(lambda b: b != content[at]))
        (root / key).write_bytes(bytes(content))
        result = run(capsys, "store", root, "--vkey", base.vkey)
    assert result.code == 1, (key, at, result.out)


# --------------------------------------------------------------------------- envelope rules


ENVELOPE_VIOLATIONS = {
    "v is boolean true": (lambda e: e.update(v=True), "v: expected 1, found true"),
    "v is 2": (lambda e: e.update(v=2), "v: expected 1, found 2"),
    "seq skips": (lambda e: e.update(seq=105), "seq: expected 5, found 105"),
    "seq is a string": (lambda e: e.update(seq="5"), "seq: expected a non-negative integer"),
    "prev in upper case": (
        lambda e: e.update(prev=e["prev"].upper()),
        "prev: expected 64 lowercase",
    ),
    "time with an offset": (lambda e: e.update(time="2026-11-21T20:51:55+00:00"), "time: expected"),
    "time without Z": (lambda e: e.update(time="2026-11-21T20:51:55"), "time: expected"),
    "time not a date": (lambda e: e.update(time="2026-02-30T20:51:55Z"), "time: not a real date"),
    "unknown type": (lambda e: e.update(type="note"), 'type: expected "capture" or "system"'),
    "empty kid": (lambda e: e.update(kid=""), "kid: expected a non-empty string"),
    "short nonce": (lambda e: e.update(nonce=b64(bytes(11))), "nonce: decodes to 11 bytes"),
    "unpadded nonce": (lambda e: e.update(nonce="AAAAAAAAAAAAAAA"), "nonce: not standard"),
    "short ct": (lambda e: e.update(ct=b64(bytes(15))), "ct: decodes to 15 bytes"),
    "ct non-zero pad bits": (
        lambda e: e.update(ct=b64(bytes(17))[:-3] + "B=="),
        "ct: not standard",
    ),
    "urlsafe ct": (
        lambda e: e.update(ct=b64(b"\xfb\xff" * 9).replace("+", "-")),
        "ct: not standard",
    ),
    "extra member": (lambda e: e.update(note="x"), 'members: unexpected "note"'),
    "missing member": (lambda e: e.pop("type"), "members: missing type"),
}


@pytest.mark.parametrize("name", sorted(ENVELOPE_VIOLATIONS))
def test_envelope_rules_are_checked_even_when_chain_and_checkpoints_agree(capsys, tmp_path, name):
    change, expected = ENVELOPE_VIOLATIONS[name]
    store = write_store(tmp_path, mutate=at_seq(5, change))
    result = verify(capsys, store)
    assert result.code == 1, result.out
    assert [f.split(":")[0] for f in result.failures] == [f"FAIL {SEG0} line 6 (seq 5)"]
    assert expected in result.out


@pytest.mark.parametrize(
    "encode",
    [
        lambda e: json.dumps(e, sort_keys=True).encode(),  # insignificant whitespace
        lambda e: json.dumps(e, separators=(",", ":"), ensure_ascii=False).encode(),  # unsorted
        lambda e: json.dumps(e, sort_keys=True, separators=(",", ":")).encode(),  # \u escapes
    ],
    ids=["whitespace", "unsorted", "ascii-escaped"],
)
def test_lines_must_be_the_canonical_bytes(capsys, tmp_path, encode):
    store = write_store(tmp_path, encode=lambda e: encode(e) if e["seq"] == 3 else c(e))
    result = verify(capsys, store)
    assert result.code == 1
    assert f"FAIL {SEG0} line 4 (seq 3): not canonical JSON C(e)" in result.out


def test_a_duplicate_member_is_not_canonical(capsys, tmp_path):
    store = write_store(
        tmp_path, encode=lambda e: c(e)[:-1] + b',"v":1}' if e["seq"] == 2 else c(e)
    )
    result = verify(capsys, store)
    assert result.code == 1
    assert f"FAIL {SEG0} line 3 (seq 2): not canonical JSON" in result.out


def test_a_kid_used_twice_is_a_failure(capsys, tmp_path):
    store = write_store(tmp_path, mutate=at_seq(15, lambda e: e.update(kid="dk-000004")))
    result = verify(capsys, store)
    assert result.code == 1
    assert f"FAIL {SEG1} line 6 (seq 15): kid:" in result.out
    assert "every record has its own data key" in result.out


def test_the_first_record_must_have_a_zero_prev(capsys, tmp_path):
    store = write_store(tmp_path, mutate=at_seq(0, lambda e: e.update(prev="1" * 64)))
    result = verify(capsys, store)
    assert result.code == 1
    assert (
        f"FAIL {SEG0} line 1 (seq 0): prev: expected {'0' * 64} (64 zeros for seq 0)" in result.out
    )


# --------------------------------------------------------------------------- keys objects


def test_a_kid_missing_from_its_keys_object_is_a_destroyed_record_not_a_failure(capsys, store):
    path = store.path(KEYS1)
    keys = json.loads(path.read_text())
    del keys["keys"]["dk-000012"], keys["keys"]["dk-000013"], keys["keys"]["dk-000017"]
    path.write_text(json.dumps(keys))
    result = verify(capsys, store)
    assert result.code == 0, result.out
    assert f"INFO {KEYS1}: 3 record(s) destroyed" in result.out
    assert "seq 12..13, 17" in result.out
    assert result.summary["destroyed"] == 3


def test_extra_keys_in_a_keys_object_are_media_keys(capsys, store):
    path = store.path(KEYS1)
    keys = json.loads(path.read_text())
    keys["keys"]["media-1"] = b64(os.urandom(40))
    path.write_text(json.dumps(keys))
    (store.root / "media").mkdir()
    store.path("media/media-1").write_bytes(os.urandom(64))
    result = verify(capsys, store)
    assert result.code == 0, result.out
    assert "1 other key(s) (media)" in result.out


def test_a_missing_keys_object_is_a_failure(capsys, store):
    store.path(KEYS1).unlink()
    result = verify(capsys, store)
    assert result.code == 1
    assert f"FAIL {KEYS1}: missing" in result.out


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"{not json", "not JSON"),
        (b'{"v":2,"kek":"k","alg":"A256KW","keys":{}}', "v: expected 1"),
        (b'{"v":1,"kek":"k","alg":"A256KW"}', "missing ['keys']"),
        (b'{"v":1,"kek":"k","alg":"A256KW","keys":{},"x":1}', "unexpected ['x']"),
        (b'{"v":1,"kek":"","alg":"A256KW","keys":{}}', "kek: expected a non-empty string"),
        (b'{"v":1,"kek":"k","alg":"A256KW","keys":{"a":"!!"}}', "not a base64 wrapped key"),
        (b'{"v":1,"kek":"k","alg":"A","keys":{"a":"QQ==","a":"QQ=="}}', "duplicate member"),
    ],
)
def test_a_malformed_keys_object_is_a_failure(capsys, store, content, expected):
    store.path(KEYS1).write_bytes(content)
    result = verify(capsys, store)
    assert result.code == 1
    assert f"FAIL {KEYS1}: " in result.out and expected in result.out


# --------------------------------------------------------------------------- unknown objects


@pytest.mark.parametrize(
    "key",
    [
        "notes.txt",
        "log/README",
        "log/0-9.jsonl",
        "checkpoints/latest",
        "keys/extra.json",
        "media/a/b",
        "export/bag.zip",
    ],
)
def test_an_object_the_format_does_not_describe_is_a_failure(capsys, store, key):
    store.path(key).parent.mkdir(parents=True, exist_ok=True)
    store.path(key).write_bytes(b"x")
    result = verify(capsys, store)
    assert result.code == 1
    assert f"FAIL {key}: unexpected object" in result.out


def test_a_symbolic_link_is_not_an_object(capsys, store, tmp_path):
    (store.root / "media").mkdir()
    (tmp_path / "outside").write_bytes(b"x")
    (store.root / "media" / "blob").symlink_to(tmp_path / "outside")
    result = verify(capsys, store)
    assert result.code == 1
    assert "FAIL media/blob: unexpected object: a symbolic link" in result.out


def test_pointing_at_the_parent_of_the_objects_directory_says_so(capsys, store):
    result = run(capsys, "store", store.root.parent, "--vkey", store.vkey)
    assert result.code == 1
    assert "is the store root DIR/objects?" in result.out


# --------------------------------------------------------------------------- checkpoints


def test_a_checkpoint_signed_by_another_key_of_the_same_name_is_a_failure(capsys, store):
    impostor = Signer()
    store.path(CP20).write_bytes(impostor.checkpoint(20, mth(store.leaves[:20])))
    result = verify(capsys, store)
    assert result.code == 1
    assert (
        f"FAIL {CP20}: no signature by {KEY_NAME}+{store.signer.key_hash.hex()}; "
        f"signed by {KEY_NAME}+{impostor.key_hash.hex()}"
    ) in result.out


def test_an_altered_root_breaks_the_signature(capsys, store):
    note = store.path(CP20).read_bytes()
    root_line = note.split(b"\n")[2]
    altered = root_line[:5] + (b"A" if root_line[5:6] != b"A" else b"B") + root_line[6:]
    store.path(CP20).write_bytes(note.replace(root_line, altered))
    result = verify(capsys, store)
    assert result.code == 1
    assert f"FAIL {CP20}: signature by {KEY_NAME}+" in result.out
    assert "does not verify" in result.out


def test_a_validly_signed_wrong_root_is_a_failure(capsys, store):
    store.path(CP20).write_bytes(store.signer.checkpoint(20, mth(store.leaves[:19] * 2)[:32]))
    result = verify(capsys, store)
    assert result.code == 1
    assert f"FAIL {CP20}: root: signed " in result.out


def test_the_wrong_verifier_key_fails_every_checkpoint(capsys, store, tmp_path):
    other = tmp_path / "other.vkey"
    other.write_text(Signer().vkey)
    result = run(capsys, "store", store.root, "--vkey", other)
    assert result.code == 1
    assert {f.split(":")[0] for f in result.failures} == {
        f"FAIL {CP10}",
        f"FAIL {CP20}",
        f"FAIL {CP25}",
    }


def test_a_checkpoint_whose_name_is_not_its_size_is_a_failure(capsys, store):
    shutil.copyfile(store.path(CP20), store.path("checkpoints/000000000021"))
    result = verify(capsys, store)
    assert result.code == 1
    assert (
        "FAIL checkpoints/000000000021: signed tree size is 20, the object name says 21"
        in result.out
    )


def test_the_latest_checkpoint_must_be_a_copy_of_the_newest(capsys, store):
    shutil.copyfile(store.path(CP20), store.path("checkpoint"))
    result = verify(capsys, store)
    assert result.code == 1
    assert (
        f"FAIL checkpoint: not byte-identical to the newest checkpoint {CP25} (it has tree size 20)"
        in result.out
    )


def test_a_missing_latest_checkpoint_is_a_failure(capsys, store):
    store.path("checkpoint").unlink()
    result = verify(capsys, store)
    assert result.code == 1
    assert f"FAIL checkpoint: missing: must be a copy of {CP25}" in result.out


def test_records_after_the_newest_checkpoint_are_a_warning(capsys, tmp_path):
    store = write_store(tmp_path, checkpoints=(10, 20))
    result = verify(capsys, store)
    assert result.code == 0, result.out
    assert "WARN log/: records 20..24 (5) are not yet checkpointed" in result.out
    assert result.summary["warnings"] == 1


def test_records_without_any_checkpoint_are_a_failure(capsys, tmp_path):
    store = write_store(tmp_path, checkpoints=())
    result = verify(capsys, store)
    assert result.code == 1
    assert "FAIL checkpoints/: no checkpoint: none of the 25 records" in result.out


def test_a_checkpoint_of_the_empty_tree_verifies(capsys, tmp_path):
    store = write_store(tmp_path, checkpoints=(0, 25))
    result = verify(capsys, store)
    assert result.code == 0, result.out
    assert "root matches the empty tree" in result.out


def test_an_empty_store_verifies_with_a_warning(capsys, tmp_path):
    (tmp_path / "empty").mkdir()
    vkey = tmp_path / "vkey"
    vkey.write_text(Signer().vkey)
    result = run(capsys, "store", tmp_path / "empty", "--vkey", vkey)
    assert result.code == 0
    assert "WARN store: no segments" in result.out


def test_many_failures_in_one_segment_are_counted_but_not_all_shown(capsys, tmp_path):
    store = write_store(
        tmp_path, n=60, per_segment=60, checkpoints=(60,), mutate=lambda e: e.update(v=2)
    )
    result = verify(capsys, store)
    assert result.code == 1
    assert result.summary["failures"] == 60
    assert f"FAIL {'log/000000000000-000000000059.jsonl'}: 40 more failures" in result.out


# --------------------------------------------------------------------------- usage and bad input


def test_a_missing_store_directory_is_a_usage_error(capsys, store, tmp_path):
    result = run(capsys, "store", tmp_path / "nowhere", "--vkey", store.vkey)
    assert result.code == 2
    assert "not a directory" in result.err


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "expected <name>+<8 hex digits>+<base64 key>"),
        (b"name+1234abcd", "expected <name>+"),
        (b"na me+1234abcd+AQ==", "invalid key name"),
        (b"name+12g4abcd+AQ==", "8 hex digits"),
        (b"name+1234abcd+not base64", "not standard base64"),
        (b"name+1234abcd+AgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "0x01 (Ed25519)"),
        (b"name+00000000+AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "does not match the key"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_a_malformed_verifier_key_file_is_a_usage_error(capsys, store, tmp_path, content, expected):
    bad = tmp_path / "bad.vkey"
    bad.write_bytes(content)
    result = run(capsys, "store", store.root, "--vkey", bad)
    assert result.code == 2
    assert str(bad) in result.err and expected in result.err
    assert result.summary["ok"] is False


def test_a_missing_verifier_key_file_is_a_usage_error(capsys, store, tmp_path):
    result = run(capsys, "store", store.root, "--vkey", tmp_path / "absent")
    assert result.code == 2
    assert "cannot read" in result.err


def test_bad_arguments_are_a_usage_error(capsys):
    assert vo.main(["store"]) == 2
    assert vo.main(["frobnicate"]) == 2
    assert vo.main([]) == 2
    assert "usage:" in capsys.readouterr().err


# --------------------------------------------------------------------------- one record


@dataclass
class RecordFiles:
    record: Path
    proof: Path
    checkpoint: Path
    vkey: Path
    proof_doc: dict


def record_files(store: Store, base: Path, seq: int = 13, size: int = 25) -> RecordFiles:
    leaves = store.leaves[:size]
    record = base / "record.json"
    record.write_text(json.dumps({"envelope": store.envelopes[seq]}, indent=2))
    proof_doc = {
        "seq": seq,
        "tree_size": size,
        "leaf_hash": b64(leaves[seq]),
        "hashes": [b64(h) for h in audit_path(seq, leaves)],
    }
    proof = base / "proof.json"
    proof.write_text(json.dumps(proof_doc))
    return RecordFiles(record, proof, store.path(f"checkpoints/{size:012d}"), store.vkey, proof_doc)


def run_record(capsys, f: RecordFiles) -> Outcome:
    return run(capsys, "record", f.record, f.proof, f.checkpoint, "--vkey", f.vkey)


@pytest.mark.parametrize("seq", [0, 9, 13, 24])
def test_a_record_with_a_good_proof_verifies(capsys, store, tmp_path, seq):
    files = record_files(store, tmp_path, seq)
    result = run_record(capsys, files)
    assert result.code == 0, result.out
    assert f"is leaf {seq} of the signed tree of size 25" in result.out
    assert result.summary["records"] == 1 and result.summary["checkpoints"] == 1


def test_a_bare_envelope_is_accepted_as_the_record(capsys, store, tmp_path):
    files = record_files(store, tmp_path)
    files.record.write_bytes(store.lines[13])
    assert run_record(capsys, files).code == 0


def test_a_record_with_one_changed_byte_is_not_included(capsys, store, tmp_path):
    files = record_files(store, tmp_path)
    env = dict(store.envelopes[13])
    env["ct"] = ("B" if env["ct"][8] != "B" else "C").join((env["ct"][:8], env["ct"][9:]))
    files.record.write_text(json.dumps(env))
    result = run_record(capsys, files)
    assert result.code == 1
    assert "(seq 13): not included: the audit path leads to root" in result.out
    assert "leaf_hash: the proof says" in result.out


def test_a_record_claiming_another_seq_is_not_included(capsys, store, tmp_path):
    files = record_files(store, tmp_path)
    files.record.write_text(json.dumps({**store.envelopes[13], "seq": 12}))
    result = run_record(capsys, files)
    assert result.code == 1
    assert "seq: the proof says 13, the record is seq 12" in result.out


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d.update(seq=12), "seq: the proof says 12, the record is seq 13"),
        (lambda d: d.update(tree_size=24), "tree_size: the proof says 24, the checkpoint signs 25"),
        (lambda d: d.update(leaf_hash=b64(bytes(32))), "leaf_hash: the proof says"),
        (lambda d: d["hashes"].pop(), "audit path has 4 hashes, leaf 13 of a tree of 25 needs 5"),
        (lambda d: d["hashes"].append(b64(bytes(32))), "audit path has 6 hashes"),
        (lambda d: d["hashes"].reverse(), "not included: the audit path leads to root"),
        (lambda d: d["hashes"].__setitem__(2, b64(bytes(32))), "not included"),
    ],
)
def test_a_changed_proof_is_rejected(capsys, store, tmp_path, change, expected):
    files = record_files(store, tmp_path)
    change(files.proof_doc)
    files.proof.write_text(json.dumps(files.proof_doc))
    result = run_record(capsys, files)
    assert result.code == 1
    assert expected in result.out


def test_a_one_character_change_in_a_proof_hash_is_rejected(capsys, store, tmp_path):
    files = record_files(store, tmp_path)
    text = files.proof.read_text()
    first = files.proof_doc["hashes"][0]
    changed = first[:3] + ("A" if first[3] != "A" else "B") + first[4:]
    files.proof.write_text(text.replace(first, changed))
    result = run_record(capsys, files)
    assert result.code == 1
    assert "not included" in result.out


def test_a_proof_for_an_older_tree_does_not_verify_against_a_newer_checkpoint(
    capsys, store, tmp_path
):
    files = record_files(store, tmp_path, size=20)
    files.checkpoint = store.path(CP25)
    result = run_record(capsys, files)
    assert result.code == 1
    assert "tree_size: the proof says 20, the checkpoint signs 25" in result.out


def test_a_record_against_a_checkpoint_by_another_key_fails(capsys, store, tmp_path):
    files = record_files(store, tmp_path)
    forged = tmp_path / "forged"
    forged.write_bytes(Signer().checkpoint(25, mth(store.leaves)))
    files.checkpoint = forged
    result = run_record(capsys, files)
    assert result.code == 1
    assert f"FAIL {forged}: no signature by" in result.out


def test_a_record_breaking_the_envelope_rules_is_a_failure(capsys, store, tmp_path):
    files = record_files(store, tmp_path)
    files.record.write_text(json.dumps({**store.envelopes[13], "time": "yesterday"}))
    result = run_record(capsys, files)
    assert result.code == 1
    assert "time: expected RFC 3339" in result.out


@pytest.mark.parametrize(
    ("slot", "content", "expected"),
    [
        ("proof", b"{", "not JSON"),
        ("proof", b"[]", "expected a JSON object"),
        ("proof", b'{"seq":13,"tree_size":25,"hashes":[]}', "missing member(s): leaf_hash"),
        (
            "proof",
            b'{"seq":-1,"tree_size":25,"leaf_hash":"","hashes":[]}',
            "seq: expected a non-negative",
        ),
        (
            "proof",
            b'{"seq":13,"tree_size":25,"leaf_hash":"QQ==","hashes":[]}',
            "leaf_hash: 1 bytes",
        ),
        (
            "proof",
            b'{"seq":13,"tree_size":25,"leaf_hash":"QQ==","hashes":"x"}',
            "hashes: expected a list",
        ),
        ("record", b"not json", "not JSON"),
        ("record", b"[1, 2]", "expected an envelope object"),
        ("checkpoint", b"garbage", "no empty line"),
        ("checkpoint", b"a\n1\nroot\n\n- name c2ln\n", "em dash"),
        ("checkpoint", b"a\n1\n\n\xe2\x80\x94 name AAAAAAAA\n", "no signature by"),
    ],
)
def test_malformed_record_inputs_are_usage_errors_naming_the_file(
    capsys, store, tmp_path, slot, content, expected
):
    files = record_files(store, tmp_path)
    target = tmp_path / f"bad-{slot}"
    target.write_bytes(content)
    setattr(files, slot, target)
    result = run_record(capsys, files)
    if expected == "no signature by":  # well-formed note by an unknown key: verification
        assert result.code == 1 and expected in result.out
        return
    assert result.code == 2, result.out
    assert f"ERROR {target}:" in result.err and expected in result.err


def test_a_proof_with_members_outside_the_format_warns(capsys, store, tmp_path):
    files = record_files(store, tmp_path)
    files.proof.write_text(json.dumps({**files.proof_doc, "root": "x"}))
    result = run_record(capsys, files)
    assert result.code == 0
    assert "WARN" in result.out and "root" in result.out


@given(
    content=st.binary(max_size=300), slot=st.sampled_from(["record", "proof", "checkpoint", "vkey"])
)
@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_arbitrary_bytes_in_any_input_never_crash_the_verifier(capsys, pristine, content, slot):
    store = pristine
    with tempfile.TemporaryDirectory() as scratch:
        files = record_files(store, Path(scratch))
        target = Path(scratch) / "fuzzed"
        target.write_bytes(content)
        setattr(files, slot, target)
        result = run_record(capsys, files)
    assert result.code in (1, 2)
    assert result.summary["ok"] is False


# --------------------------------------------------------------------------- consistency


def consistency_files(store: Store, base: Path, old: int, new: int) -> tuple[Path, Path, Path]:
    leaves = store.leaves[:new]
    proof = base / f"consistency-{old}-{new}.json"
    doc = {
        "old_size": old,
        "new_size": new,
        "hashes": [b64(h) for h in consistency_path(old, leaves)],
    }
    proof.write_text(json.dumps(doc))
    return store.path(f"checkpoints/{old:012d}"), store.path(f"checkpoints/{new:012d}"), proof


@pytest.mark.parametrize(("old", "new"), [(10, 20), (20, 25), (10, 25), (25, 25)])
def test_consistent_checkpoints_verify(capsys, store, tmp_path, old, new):
    old_cp, new_cp, proof = consistency_files(store, tmp_path, old, new)
    result = run(capsys, "consistency", old_cp, new_cp, proof, "--vkey", store.vkey)
    assert result.code == 0, result.out
    assert f"extends the tree of {old}" in result.out or "trivially" in result.out


def test_checkpoints_given_in_the_wrong_order_fail(capsys, store, tmp_path):
    old_cp, new_cp, proof = consistency_files(store, tmp_path, 10, 25)
    result = run(capsys, "consistency", new_cp, old_cp, proof, "--vkey", store.vkey)
    assert result.code == 1
    assert "is larger than the new" in result.out


def test_a_one_character_change_in_a_consistency_proof_is_rejected(capsys, store, tmp_path):
    old_cp, new_cp, proof = consistency_files(store, tmp_path, 10, 25)
    doc = json.loads(proof.read_text())
    h = doc["hashes"][1]
    doc["hashes"][1] = h[:10] + ("A" if h[10] != "A" else "B") + h[11:]
    proof.write_text(json.dumps(doc))
    result = run(capsys, "consistency", old_cp, new_cp, proof, "--vkey", store.vkey)
    assert result.code == 1
    assert "not consistent: the proof leads to roots" in result.out


def test_a_consistency_proof_for_other_sizes_is_rejected(capsys, store, tmp_path):
    old_cp, new_cp, _ = consistency_files(store, tmp_path, 10, 25)
    _, _, other = consistency_files(store, tmp_path, 20, 25)
    result = run(capsys, "consistency", old_cp, new_cp, other, "--vkey", store.vkey)
    assert result.code == 1
    assert "sizes: the proof says 20 -> 25, the checkpoints sign 10 -> 25" in result.out


def test_a_fork_is_not_consistent(capsys, store, tmp_path):
    """A log that rewrote history after the old checkpoint cannot prove consistency."""
    fork = write_store(tmp_path / "fork", signer=store.signer)
    old_cp, _, _ = consistency_files(store, tmp_path, 10, 25)
    _, new_cp, proof = consistency_files(fork, tmp_path / "fork", 10, 25)
    result = run(capsys, "consistency", old_cp, new_cp, proof, "--vkey", store.vkey)
    assert result.code == 1
    assert "not consistent" in result.out


def test_checkpoints_of_different_origins_are_not_one_log(capsys, store, tmp_path):
    other = Signer(origin="elsewhere.example/log")
    other.key, other.key_hash, other.vkey = (
        store.signer.key,
        store.signer.key_hash,
        store.signer.vkey,
    )
    foreign = tmp_path / "foreign"
    foreign.write_bytes(other.checkpoint(25, mth(store.leaves)))
    old_cp, _, proof = consistency_files(store, tmp_path, 10, 25)
    result = run(capsys, "consistency", old_cp, foreign, proof, "--vkey", store.vkey)
    assert result.code == 1
    assert "origin 'elsewhere.example/log' differs" in result.out


def test_a_malformed_consistency_proof_is_a_usage_error(capsys, store, tmp_path):
    old_cp, new_cp, proof = consistency_files(store, tmp_path, 10, 25)
    proof.write_text('{"old_size": 10, "new_size": 25, "hashes": ["short"]}')
    result = run(capsys, "consistency", old_cp, new_cp, proof, "--vkey", store.vkey)
    assert result.code == 2
    assert f"ERROR {proof}: hashes[0]: not a base64 hash" in result.err


# --------------------------------------------------------------------------- RFC 6962 vectors

CT_LEAF_DATA = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    bytes(range(0x60, 0x70)),
]
CT_ROOTS = [  # transparency-dev/merkle testonly: roots of sizes 0..8
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_LEAVES = [vo.record_hash(d) for d in CT_LEAF_DATA]
H = bytes.fromhex


def test_roots_match_the_rfc_6962_reference_vectors():
    for size, expected in enumerate(CT_ROOTS):
        assert vo.merkle_root(CT_LEAVES[:size]).hex() == expected
        tree = vo.CompactRange()
        for leaf in CT_LEAVES[:size]:
            tree.append(leaf)
        assert tree.root().hex() == expected


CT_INCLUSION = {  # (index, size): audit path, from the same test vectors
    (0, 8): "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7 "
    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e "
    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    (5, 8): "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b "
    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0 "
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
}
CT_CONSISTENCY = {  # (old, new): proof
    (2, 8): "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e "
    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    (6, 8): "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a "
    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0 "
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
}


def test_the_reference_inclusion_and_consistency_proofs_verify():
    for (index, size), hashes in CT_INCLUSION.items():
        path = [H(x) for x in hashes.split()]
        assert path == audit_path(index, CT_LEAVES[:size])  # the test's own RFC transcription
        assert vo.verify_inclusion(CT_LEAVES[index], index, size, path, H(CT_ROOTS[size]))
    for (old, new), hashes in CT_CONSISTENCY.items():
        path = [H(x) for x in hashes.split()]
        assert path == consistency_path(old, CT_LEAVES[:new])
        assert vo.verify_consistency(old, new, H(CT_ROOTS[old]), H(CT_ROOTS[new]), path)


LEAVES_64 = [hashlib.sha256(b"\x00" + i.to_bytes(2, "big")).digest() for i in range(64)]
ROOTS_64 = [mth(LEAVES_64[:n]) for n in range(65)]


def test_every_inclusion_proof_verifies_for_every_index_of_trees_of_1_to_64_leaves():
    for size in range(1, 65):
        for index in range(size):
            path = audit_path(index, LEAVES_64[:size])
            assert vo.verify_inclusion(LEAVES_64[index], index, size, path, ROOTS_64[size])


def test_every_consistency_proof_verifies_for_all_pairs_up_to_32():
    for new in range(0, 33):
        for old in range(0, new + 1):
            path = consistency_path(old, LEAVES_64[:new])
            assert vo.verify_consistency(old, new, ROOTS_64[old], ROOTS_64[new], path), (old, new)


@given(st.data())
@settings(max_examples=300, deadline=None)
def test_any_change_to_an_inclusion_proof_is_rejected(data):
    size = data.draw(st.integers(1, 64))
    index = data.draw(st.integers(0, size - 1))
    path = audit_path(index, LEAVES_64[:size])
    leaf, root = LEAVES_64[index], ROOTS_64[size]
    # Not "another tree size": the audit path does not bind the size by itself (leaf 0 of
    # 3 and of 4 can share a path and root); the signed checkpoint binds size to root.
    kind = data.draw(st.sampled_from(["flip", "index", "drop", "add", "leaf", "root"]))
    if kind == "flip" and path:
        i, bit = data.draw(st.integers(0, len(path) - 1)), data.draw(st.integers(0, 255))
        path[i] = (
            bytes([path[i][0] ^ (1 << (bit % 8))]) + path[i][1:]
            if bit < 8
            else (path[i][: bit // 8] + bytes([path[i][bit // 8] ^ 1]) + path[i][bit // 8 + 1 :])
        )
    elif kind == "index":
        index = data.draw(st.integers(0, 70).filter(lambda j: j != index))
    elif kind == "drop" and path:
        path.pop(data.draw(st.integers(0, len(path) - 1)))
    elif kind == "add":
        path.insert(data.draw(st.integers(0, len(path))), bytes(32))
    elif kind == "leaf":
        leaf = LEAVES_64[(index + 1) % 64] if size > 1 else bytes(32)
    elif kind == "root":
        root = ROOTS_64[size - 1] if size > 1 else bytes(32)
    else:
        return  # nothing to change in an empty path
    assert not vo.verify_inclusion(leaf, index, size, path, root)


@given(st.data())
@settings(max_examples=300, deadline=None)
def test_any_change_to_a_consistency_proof_is_rejected(data):
    new = data.draw(st.integers(2, 32))
    old = data.draw(st.integers(1, new - 1))
    path = consistency_path(old, LEAVES_64[:new])
    old_root, new_root = ROOTS_64[old], ROOTS_64[new]
    # Not "other sizes" with the same roots: as for inclusion, only the signed checkpoint
    # binds a size to a root, and the verifier takes both from it.
    kind = data.draw(st.sampled_from(["flip", "drop", "add", "old_root", "new_root"]))
    if kind == "flip":
        i, byte = data.draw(st.integers(0, len(path) - 1)), data.draw(st.integers(0, 31))
        path[i] = path[i][:byte] + bytes([path[i][byte] ^ 0x40]) + path[i][byte + 1 :]
    elif kind == "drop":
        path.pop(data.draw(st.integers(0, len(path) - 1)))
    elif kind == "add":
        path.insert(data.draw(st.integers(0, len(path))), bytes(32))
    elif kind == "old_root":
        old_root = ROOTS_64[old + 1]
    else:
        new_root = ROOTS_64[new - 1]
    assert not vo.verify_consistency(old, new, old_root, new_root, path)


@given(st.lists(st.binary(min_size=32, max_size=32), max_size=70))
@settings(max_examples=60, deadline=None)
def test_merkle_root_and_the_streaming_tree_agree_with_the_rfc_recursion(leaves):
    assert vo.merkle_root(leaves) == mth(leaves)
    tree = vo.CompactRange()
    for n, leaf in enumerate(leaves, start=1):
        tree.append(leaf)
        if n % 7 == 0:
            assert tree.root() == mth(leaves[:n])
    assert tree.root() == mth(leaves)


def test_degenerate_proofs_and_arguments_are_rejected_not_raised():
    root8 = H(CT_ROOTS[8])
    assert not vo.verify_inclusion(CT_LEAVES[0], 8, 8, [], root8)
    assert not vo.verify_inclusion(CT_LEAVES[0], -1, 8, [], root8)
    assert not vo.verify_inclusion(CT_LEAVES[0][:31], 0, 1, [], CT_LEAVES[0][:31])
    assert not vo.verify_inclusion(CT_LEAVES[0], 0, 2, None, root8)  # type: ignore[arg-type]
    assert vo.verify_consistency(0, 8, vo.EMPTY_ROOT, root8, [])
    assert vo.verify_consistency(0, 0, vo.EMPTY_ROOT, vo.EMPTY_ROOT, [])
    assert not vo.verify_consistency(0, 0, vo.EMPTY_ROOT, root8, [])
    assert not vo.verify_consistency(0, 8, root8, root8, [])
    assert not vo.verify_consistency(4, 4, H(CT_ROOTS[4]), H(CT_ROOTS[5]), [])
    assert not vo.verify_consistency(4, 4, H(CT_ROOTS[4]), H(CT_ROOTS[4]), [bytes(32)])
    assert not vo.verify_consistency(6, 8, H(CT_ROOTS[6]), root8, [])
    assert not vo.verify_consistency(8, 6, root8, H(CT_ROOTS[6]), [])


# --------------------------------------------------------------------------- signed notes

GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    b"If you think cryptography is the answer to your problem,\n"
    b"then you don't know what your problem is.\n"
)
GO_SIGNATURE = (
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
)
GO_NOTE = GO_TEXT + f"\n\u2014 PeterNeumann {GO_SIGNATURE}\n".encode()


def test_the_sumdb_note_reference_note_opens_with_its_verifier_key():
    """The example of golang.org/x/mod/sumdb/note: interoperable with Go's reader."""
    vkey = vo.parse_vkey(GO_VKEY)
    assert (vkey.name, vkey.key_hash.hex()) == ("PeterNeumann", "c74f20a3")
    assert vo.open_note(GO_NOTE, vkey).text == GO_TEXT
    with pytest.raises(vo.VerificationError, match="does not verify"):
        vo.open_note(GO_NOTE.replace(b"cryptography", b"cryptographY"), vkey)
    with pytest.raises(vo.MalformedInput, match="checkpoint text has 2 lines"):
        vo.verify_note(GO_NOTE, vkey)  # a valid note, but not a tlog-checkpoint


def test_every_single_byte_change_to_a_verifier_key_is_refused():
    raw = GO_VKEY.encode()
    for i in range(len(raw)):
        mangled = raw[:i] + bytes([(raw[i] + 1) % 256]) + raw[i + 1 :]
        with pytest.raises(vo.MalformedInput):
            vo.parse_vkey(mangled)
    for end in range(len(raw) - 1):
        with pytest.raises(vo.MalformedInput):
            vo.parse_vkey(raw[: end + 1])


def test_a_verifier_key_line_may_end_in_a_newline():
    assert vo.parse_vkey(GO_VKEY + "\n") == vo.parse_vkey(GO_VKEY)


@pytest.mark.parametrize(
    ("note", "expected"),
    [
        (GO_TEXT + "\u2014 PeterNeumann AAAAAAA=\n".encode(), "no empty line"),
        (GO_NOTE[:-1], "no signature lines ending in a newline"),
        (GO_NOTE.replace("\u2014".encode(), b"--"), "em dash"),
        (GO_NOTE.replace(b"problem,", b"problem,\x07"), "control character"),
        (GO_NOTE.replace(b"x08go", b"x08g\xff"), "not UTF-8"),
        (GO_NOTE.replace(b"PeterNeumann x08", b"PeterNeumann  x08"), "not base64"),
        (GO_TEXT + b"\n", "no signature lines"),
    ],
)
def test_malformed_notes_are_refused_with_a_reason(note, expected):
    with pytest.raises(vo.MalformedInput, match=expected):
        vo.parse_note(note)


def test_signatures_by_other_keys_are_ignored_as_cosignatures():
    signer, witness = Signer(), Signer(name="witness.example")
    note = signer.checkpoint(3, bytes(32))
    cosigned = note + witness.sign(note.split(b"\n\n")[0] + b"\n").split(b"\n\n")[1]
    assert vo.verify_note(cosigned, vo.parse_vkey(signer.vkey)) == (ORIGIN, 3, bytes(32))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b"origin\n1\n" + b64(bytes(32)).encode() + b"\nextension\n", "has 4 lines"),
        (b"origin\n01\n" + b64(bytes(32)).encode() + b"\n", "without leading zeros"),
        (b"origin\n-1\n" + b64(bytes(32)).encode() + b"\n", "without leading zeros"),
        (b"\n1\n" + b64(bytes(32)).encode() + b"\n", "empty origin"),
        (b"origin\n1\n" + b64(bytes(31)).encode() + b"\n", "31 bytes"),
        (b"origin\n1\nnot-base64\n", "root hash is not standard base64"),
    ],
)
def test_malformed_checkpoint_bodies_are_refused(text, expected):
    signer = Signer()
    with pytest.raises(vo.MalformedInput, match=expected):
        vo.verify_note(signer.sign(text), vo.parse_vkey(signer.vkey))


# --------------------------------------------------------------------------- canonical bytes

JSON_TEXT = st.text(st.characters(blacklist_categories=["Cs"]), max_size=20)
ENVELOPE_LIKE = st.dictionaries(
    JSON_TEXT,
    st.one_of(st.integers(-(2**63), 2**63), JSON_TEXT, st.booleans(), st.none()),
    max_size=10,
)


@given(ENVELOPE_LIKE)
@settings(max_examples=100, deadline=None)
def test_canonical_is_the_formats_expression_and_a_fixed_point(obj):
    expected = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert vo.canonical(obj) == expected
    assert vo.canonical(json.loads(expected)) == expected
    assert vo.line_problems(expected)[0][:1] != ["not canonical"]


def test_a_good_envelope_has_no_problems_and_each_member_is_named_when_wrong(store):
    env = store.envelopes[7]
    assert vo.envelope_problems(env) == []
    assert vo.line_problems(store.lines[7], 7, store.leaves[6].hex()) == ([], env)
    assert vo.envelope_problems({**env, "seq": 0}) == [
        "prev: must be 64 zeros exactly when seq is 0, found " + json.dumps(env["prev"])
    ]
    assert vo.envelope_problems([]) == ["envelope: expected a JSON object, found []"]


def test_base64_must_be_canonical():
    assert vo.b64decode_strict("QQ==") == b"A"
    for bad in ("QR==", "QQ", "QQ=", " QQ==", "QQ==\n", "Q-==", "é"):
        with pytest.raises(ValueError):
            vo.b64decode_strict(bad)


def test_record_hash_is_the_rfc_6962_leaf_hash_of_the_canonical_bytes(store):
    assert (
        vo.record_hash(store.lines[4]) == hashlib.sha256(b"\x00" + c(store.envelopes[4])).digest()
    )
    assert (
        vo.node_hash(b"a" * 32, b"b" * 32)
        == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()
    )


# --------------------------------------------------------------------------- independence

MODULE = Path(vo.__file__)


def test_the_verifier_imports_only_the_standard_library_and_cryptography():
    tree = ast.parse(MODULE.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "no relative imports"
            imported.add(node.module.split(".")[0])
    assert imported - set(sys.stdlib_module_names) - {"__future__"} == {"cryptography"}


def test_the_verifier_runs_as_a_standalone_script(store, tmp_path):
    copy = tmp_path / "verify.py"
    shutil.copyfile(MODULE, copy)  # outside the package: nothing of archiver to lean on
    result = subprocess.run(
        [sys.executable, "-I", str(copy), "store", str(store.root), "--vkey", str(store.vkey)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout.splitlines()[-1])["records"] == 25
