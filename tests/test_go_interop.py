"""Go's own transparency-log library accepts what the archive publishes.

`tests/interop/go_verifier` is written from ARCHIVE_FORMAT.md against
golang.org/x/mod/sumdb/note and golang.org/x/mod/sumdb/tlog (Debian's golang-go and
golang-golang-x-mod-dev, built offline in GOPATH mode). It must accept every stored
checkpoint, every inclusion proof and every consistency proof of an archive made with the
CLI, and reject each of them after a one-byte change of the note, the record or the proof.

The proofs are produced in-process (the same functions `archiver log prove` and
`archiver log consistency` call; a few CLI calls check that equivalence) so that the test
does not spawn a Python process per proof: the independent side is the Go one.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).parent.parent
GO_SRC = REPO / "tests" / "interop" / "go_verifier"
GOPATH = Path("/usr/share/gocode")
XMOD = GOPATH / "src" / "golang.org" / "x" / "mod" / "sumdb"
DEMO = REPO / "archiver" / "demo" / "observations.jsonl"
ORIGIN = "interop.test/log"
ENV = {"ARCHIVER_LOG_SEGMENT_MAX_RECORDS": "7"}
MISSING_GO = ("the Go interop verifier needs `go` and golang.org/x/mod in {gopath}: "
              "`make test` installs them (Debian packages golang-go and "
              "golang-golang-x-mod-dev); this test never skips")
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


# --- the Go side -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def go_verifier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    go = shutil.which("go")
    if go is None or not XMOD.is_dir():
        pytest.fail(MISSING_GO.format(gopath=GOPATH), pytrace=False)
    out = tmp_path_factory.mktemp("go")
    binary = out / "go_verifier"
    # Offline: GOPATH mode resolves golang.org/x/mod from Debian's source tree; no module
    # proxy, no go.sum, no network.
    env = {**os.environ, "GO111MODULE": "off", "GOPATH": str(GOPATH), "GOFLAGS": "",
           "GOPROXY": "off", "GOCACHE": str(out / "cache"), "CGO_ENABLED": "0"}
    built = subprocess.run([go, "build", "-o", str(binary), "."], cwd=GO_SRC, env=env,
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, f"go build failed:\n{built.stdout}{built.stderr}"
    return binary


def run_go(binary: Path, *args: Path | str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(binary), *map(str, args)], capture_output=True, text=True,
                            timeout=30)
    assert "panic" not in result.stderr and "goroutine" not in result.stderr, result.stderr
    return result


# --- the archive -----------------------------------------------------------------------

def cli(home: Path, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, **ENV, "ARCHIVER_HOME": str(home)}
    result = subprocess.run([sys.executable, "-m", "archiver.cli", *args], env=env,
                            input=stdin, capture_output=True, timeout=120)
    assert result.returncode == 0, (args, result.stdout[-2000:], result.stderr[-2000:])
    return result


@dataclass
class Case:
    """One thing for the Go verifier to check: its argv after the verifier key."""

    kind: str  # checkpoint | inclusion | consistency
    files: list[Path]
    label: str


@dataclass
class Interop:
    home: Path
    vkey: Path
    notes: dict[int, Path]  # tree size -> checkpoint note, as `archiver log checkpoint`
    records: dict[int, Path]  # seq -> C(e), from the segment files
    inclusion: list[Case] = field(default_factory=list)
    consistency: list[Case] = field(default_factory=list)


def dump(obj: object) -> bytes:
    """What `archiver log prove|consistency` prints for obj."""
    return (json.dumps(obj, ensure_ascii=False) + "\n").encode()


def segment_records(objects: Path) -> dict[int, bytes]:
    records: dict[int, bytes] = {}
    for seg in sorted((objects / "log").iterdir()):
        m = re.fullmatch(r"(\d{12})-(\d{12})\.jsonl", seg.name)
        assert m, seg
        first, last = int(m[1]), int(m[2])
        data = seg.read_bytes()
        assert data.endswith(b"\n")
        lines = data[:-1].split(b"\n")
        assert len(lines) == last - first + 1, seg
        for seq, line in enumerate(lines, start=first):
            assert json.loads(line)["seq"] == seq
            records[seq] = line
    return records


@pytest.fixture(scope="module")
def interop(tmp_path_factory: pytest.TempPathFactory) -> Interop:
    base = tmp_path_factory.mktemp("interop")
    home = base / "home"
    cli(home, "init", "--origin", ORIGIN)
    lines = DEMO.read_bytes().splitlines(keepends=True)
    for chunk in (lines[:15], lines[15:30], lines[30:45], lines[45:]):
        cli(home, "ingest", "-", stdin=b"".join(chunk))
    vkey = base / "vkey"
    vkey.write_bytes(cli(home, "log", "vkey").stdout)
    assert vkey.read_text().startswith(ORIGIN + "+")

    objects = home / "objects"
    sizes = sorted(int(p.name) for p in (objects / "checkpoints").iterdir())
    assert len(sizes) >= 4, sizes
    notes: dict[int, Path] = {}
    for size in sizes:
        note = cli(home, "log", "checkpoint", "--size", str(size)).stdout
        assert note == (objects / "checkpoints" / f"{size:012d}").read_bytes()
        notes[size] = base / f"checkpoint.{size}"
        notes[size].write_bytes(note)
    assert (objects / "checkpoint").read_bytes() == notes[sizes[-1]].read_bytes()

    records: dict[int, Path] = {}
    for seq, line in segment_records(objects).items():
        records[seq] = base / f"record.{seq}"
        records[seq].write_bytes(line)
    assert sorted(records) == list(range(sizes[-1])), "every record is under a checkpoint"

    out = Interop(home, vkey, notes, records)
    from archiver.config import load_settings
    from archiver.log.proofs import consistency_proof, inclusion_proof
    from archiver.wiring import open_archive

    archive = open_archive(load_settings(env={**ENV, "ARCHIVER_HOME": str(home)}),
                           recover=False)
    try:
        for seq in records:
            for size in [None, *(s for s in sizes[:-1] if s > seq)]:
                proof = inclusion_proof(archive.appender, seq, size)
                tree = size or sizes[-1]
                assert proof["tree_size"] == tree
                path = base / f"inclusion.{seq}.{tree}.json"
                path.write_bytes(dump(proof))
                out.inclusion.append(Case("inclusion", [notes[tree], records[seq], path],
                                          f"record {seq} in tree {tree}"))
        for i, old in enumerate(sizes):
            for new in sizes[i:]:
                path = base / f"consistency.{old}.{new}.json"
                path.write_bytes(dump(consistency_proof(archive.appender, old, new)))
                out.consistency.append(Case("consistency", [notes[old], notes[new], path],
                                            f"tree {old} -> {new}"))
    finally:
        archive.close()

    # The in-process proofs are byte for byte what the CLI prints.
    mid = sizes[len(sizes) // 2]
    assert cli(home, "log", "prove", "3").stdout == \
        (base / f"inclusion.3.{sizes[-1]}.json").read_bytes()
    assert cli(home, "log", "prove", "3", "--size", str(mid)).stdout == \
        (base / f"inclusion.3.{mid}.json").read_bytes()
    assert cli(home, "log", "consistency", str(sizes[0]), str(sizes[-1])).stdout == \
        (base / f"consistency.{sizes[0]}.{sizes[-1]}.json").read_bytes()
    return out


def failures(go_verifier: Path, vkey: Path, cases: list[Case]) -> list[str]:
    bad = []
    for case in cases:
        result = run_go(go_verifier, case.kind, vkey, *case.files)
        if result.returncode != 0:
            bad.append(f"{case.label}: {result.stderr.strip()}")
    return bad


# --- acceptance ------------------------------------------------------------------------

def test_go_accepts_every_checkpoint(go_verifier: Path, interop: Interop) -> None:
    for size, note in interop.notes.items():
        result = run_go(go_verifier, "checkpoint", interop.vkey, note)
        assert result.returncode == 0, (size, result.stderr)
        text = note.read_text().split("\n\n")[0].split("\n")
        assert json.loads(result.stdout) == {"origin": ORIGIN, "size": size, "root": text[2]}


def test_go_accepts_every_inclusion_proof(go_verifier: Path, interop: Interop) -> None:
    assert len(interop.inclusion) > len(interop.records)  # newest tree and older ones
    assert failures(go_verifier, interop.vkey, interop.inclusion) == []


def test_go_accepts_every_consistency_proof(go_verifier: Path, interop: Interop) -> None:
    sizes = sorted(interop.notes)
    labels = {c.label for c in interop.consistency}
    assert {f"tree {a} -> {b}" for a, b in zip(sizes, sizes[1:], strict=False)} <= labels
    assert f"tree {sizes[0]} -> {sizes[-1]}" in labels
    assert failures(go_verifier, interop.vkey, interop.consistency) == []


def test_go_checks_the_leaf_against_the_record(go_verifier: Path, interop: Interop) -> None:
    """Not vacuous: a valid proof with another record, or against another tree, fails."""
    seq5 = next(c for c in interop.inclusion if c.label.startswith("record 5 in"))
    note, _, proof = seq5.files
    result = run_go(go_verifier, "inclusion", interop.vkey, note, interop.records[6], proof)
    assert result.returncode != 0
    older = [c for c in interop.consistency if c.files[0] != c.files[1]][0]
    old, new, proof = older.files
    result = run_go(go_verifier, "consistency", interop.vkey, new, old, proof)
    assert result.returncode != 0


# --- rejection after a one-byte change ----------------------------------------------------

def flip(data: bytes, pos: int, bit: int) -> bytes:
    out = bytearray(data)
    out[pos] ^= bit
    return bytes(out)


def b64_positions(data: bytes) -> dict[str, int]:
    """For the first and the last 44-character base64 hash (or longer signature) in data:
    a byte in its middle and its last data character (the one holding padding bits)."""
    found = list(re.finditer(rb"[A-Za-z0-9+/]{42,}=", data))
    assert found, data
    out = {}
    for name, m in (("first b64", found[0]), ("last b64", found[-1])):
        out[f"{name} middle"] = (m.start() + m.end()) // 2
        out[f"{name} padding bits"] = m.end() - 2
    return out


def note_positions(note: bytes) -> dict[str, int]:
    text_end = note.index(b"\n\n")
    size_at = note.index(b"\n") + 1
    return {"first byte": 0, "last byte": len(note) - 1, "middle byte": len(note) // 2,
            "origin": len(ORIGIN) // 2, "size digit": size_at, "blank line": text_end + 1,
            "signature dash": text_end + 2, **b64_positions(note)}


def json_positions(proof: bytes, *digits: str) -> dict[str, int]:
    end = proof.rstrip(b"\n")
    out = {"first byte": 0, "last byte": len(proof) - 1, "closing brace": len(end) - 1,
           "middle byte": len(proof) // 2, **b64_positions(proof)}
    for member in digits:
        m = re.search(rb'"%s": (\d+)' % member.encode(), proof)
        assert m, (member, proof)
        out[f"{member} hint"] = m.end() - 1
    return out


def record_positions(line: bytes) -> dict[str, int]:
    seq = re.search(rb'"seq":(\d+)', line)
    prev = re.search(rb'"prev":"([0-9a-f]{64})"', line)
    nonce = re.search(rb'"nonce":"([^"]+)"', line)
    assert seq and prev and nonce
    return {"first byte": 0, "last byte": len(line) - 1, "middle byte": len(line) // 2,
            "seq digit": seq.end(1) - 1, "prev hex": prev.start(1) + 10,
            "nonce b64": nonce.start(1) + 3, "ct b64": line.index(b'"ct":"') + 20}


def with_hints_for(proof: bytes, record: bytes) -> bytes:
    """The proof with its hints rewritten to agree with `record`: only the Merkle check
    (or the envelope's own structure) can then reject the record."""
    obj = json.loads(proof)
    obj["leaf_hash"] = base64.b64encode(hashlib.sha256(b"\x00" + record).digest()).decode()
    with contextlib.suppress(ValueError, KeyError, TypeError):
        obj["seq"] = int(json.loads(record)["seq"])
    return dump(obj)


def rejected(go_verifier: Path, vkey: Path, case: Case, index: int, tmp: Path,
             positions: dict[str, int], *, adjust_hints: bool = False) -> list[str]:
    """Flip one byte (two ways) at each position of case.files[index]; return what passed."""
    original = case.files[index].read_bytes()
    accepted = []
    for where, pos in positions.items():
        for bit in (0x01, 0x80):
            files = list(case.files)
            changed = flip(original, pos, bit)
            files[index] = tmp / f"tampered.{index}"
            files[index].write_bytes(changed)
            if adjust_hints:
                files[-1] = tmp / "proof.with-hints"
                files[-1].write_bytes(with_hints_for(case.files[-1].read_bytes(), changed))
            result = run_go(go_verifier, case.kind, vkey, *files)
            if result.returncode == 0:
                accepted.append(f"{case.label}: {case.files[index].name} byte {pos} ({where}) "
                                f"^0x{bit:02x}: {original[pos:pos + 1]!r}")
            else:
                assert result.stderr.startswith("go_verifier: "), result.stderr
    return accepted


def sample(cases: list[Case]) -> list[Case]:
    picked = [cases[0], cases[len(cases) // 2], cases[-1]]
    return list({id(c): c for c in picked}.values())


def test_go_rejects_a_changed_checkpoint(go_verifier: Path, interop: Interop,
                                         tmp_path: Path) -> None:
    accepted = []
    for size, note in interop.notes.items():
        case = Case("checkpoint", [note], f"checkpoint {size}")
        accepted += rejected(go_verifier, interop.vkey, case, 0, tmp_path,
                             note_positions(note.read_bytes()))
    assert accepted == []


def test_go_rejects_a_changed_verifier_key(go_verifier: Path, interop: Interop,
                                           tmp_path: Path) -> None:
    vkey = interop.vkey.read_bytes().rstrip(b"\n")
    note = interop.notes[max(interop.notes)]
    for pos in (0, len(ORIGIN) + 3, len(vkey) // 2 + 10, len(vkey) - 1):
        changed = tmp_path / "vkey"
        changed.write_bytes(flip(vkey, pos, 0x01))
        result = run_go(go_verifier, "checkpoint", changed, note)
        assert result.returncode != 0, (pos, changed.read_bytes())


def test_go_rejects_a_changed_inclusion_proof(go_verifier: Path, interop: Interop,
                                              tmp_path: Path) -> None:
    accepted = []
    for case in sample(interop.inclusion):
        note, record, proof = case.files
        accepted += rejected(go_verifier, interop.vkey, case, 0, tmp_path,
                             note_positions(note.read_bytes()))
        accepted += rejected(go_verifier, interop.vkey, case, 2, tmp_path,
                             json_positions(proof.read_bytes(), "seq", "tree_size"))
    assert accepted == []


def test_go_rejects_a_changed_record(go_verifier: Path, interop: Interop,
                                     tmp_path: Path) -> None:
    accepted = []
    for case in sample(interop.inclusion):
        positions = record_positions(case.files[1].read_bytes())
        accepted += rejected(go_verifier, interop.vkey, case, 1, tmp_path, positions)
        accepted += rejected(go_verifier, interop.vkey, case, 1, tmp_path, positions,
                             adjust_hints=True)
    assert accepted == []


def test_go_rejects_a_changed_consistency_proof(go_verifier: Path, interop: Interop,
                                                tmp_path: Path) -> None:
    accepted = []
    proper = [c for c in interop.consistency if c.files[0] != c.files[1]]
    for case in sample(proper):
        old, new, proof = case.files
        accepted += rejected(go_verifier, interop.vkey, case, 0, tmp_path,
                             note_positions(old.read_bytes()))
        accepted += rejected(go_verifier, interop.vkey, case, 1, tmp_path,
                             note_positions(new.read_bytes()))
        positions = json_positions(proof.read_bytes(), "old_size", "new_size")
        accepted += rejected(go_verifier, interop.vkey, case, 2, tmp_path, positions)
    assert accepted == []


def test_go_rejects_non_canonical_base64_in_a_signature(go_verifier: Path, interop: Interop,
                                                        tmp_path: Path) -> None:
    """note.Open decodes signatures leniently (the padding bits of the last base64 character
    are ignored), so this one-byte change keeps a valid Ed25519 signature: the verifier
    must insist on canonical base64 itself, as ARCHIVE_FORMAT.md's readers do."""
    note = interop.notes[max(interop.notes)].read_bytes()
    pos = note.rindex(b"=\n") - 1
    value = B64.index(chr(note[pos]))
    assert value & 0b11 == 0, "the archive writes canonical base64"
    for low in (1, 2, 3):
        changed = bytearray(note)
        changed[pos] = ord(B64[value | low])
        path = tmp_path / f"note.{low}"
        path.write_bytes(bytes(changed))
        result = run_go(go_verifier, "checkpoint", interop.vkey, path)
        assert result.returncode != 0, (low, result.stdout)
        assert "not canonical base64" in result.stderr, result.stderr
