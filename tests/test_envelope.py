"""Record envelopes, segment lines and key objects follow ARCHIVE_FORMAT.md to the byte.

archiver/log/envelope.py (canonical bytes, hashes, line parsing, object names) and
archiver/log/segments.py (segments and key objects). Every refusal is an IntegrityError
that names the object (`where`) and, for records, the seq.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.errors import IntegrityError
from archiver.log.envelope import (
    ZERO_HASH,
    Envelope,
    associated_data_of_line,
    canonical,
    checkpoint_key,
    keys_key,
    parse_line,
    parse_range_key,
    segment_key,
)
from archiver.log.segments import decode_keys, encode_keys, encode_segment, iter_segment

WHERE = "log/000000000000-000000000009.jsonl"
NONCE = base64.b64encode(bytes(range(12))).decode()
CT = base64.b64encode(bytes(range(40))).decode()
PERSIAN = "سلام دنیا، این یک آزمایش است"
SLOVENIAN = "Čez šumeče žito, ćao đak"


def spec_c(obj: Any) -> bytes:
    """C(e) exactly as ARCHIVE_FORMAT.md writes it in Python."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def envelope(seq: int = 7, **changes: Any) -> Envelope:
    fields = {"seq": seq, "prev": "ab" * 32, "time": "2026-11-21T20:51:55.123456Z",
              "type": "capture", "kid": "0f" * 16, "nonce": NONCE, "ct": CT}
    fields.update(changes)
    return Envelope(**fields)


def member_dict(**changes: Any) -> dict[str, Any]:
    d = envelope().as_dict()
    d.update(changes)
    return d


def refused(line: bytes, expected_seq: int | None = 7) -> IntegrityError:
    with pytest.raises(IntegrityError) as info:
        parse_line(line, where=WHERE, expected_seq=expected_seq)
    assert info.value.where == WHERE
    return info.value


def chain(first: int, count: int, prev_hash: bytes | None) -> list[Envelope]:
    out = []
    prev = prev_hash.hex() if prev_hash is not None else ZERO_HASH
    for seq in range(first, first + count):
        e = envelope(seq, prev=prev, kid=f"kid-{seq}")
        out.append(e)
        prev = e.record_hash().hex()
    return out


# --- canonical bytes and hashes -------------------------------------------------------


def test_a_line_is_the_sorted_compact_json_of_the_envelope_byte_for_byte() -> None:
    e = Envelope(seq=3, prev="0" * 64, time="2026-01-02T03:04:05.000006Z", type="system",
                 kid="k", nonce="AAAAAAAAAAAAAAAA", ct="AAAAAAAAAAAAAAAAAAAAAA==")
    assert e.line() == (
        b'{"ct":"AAAAAAAAAAAAAAAAAAAAAA==","kid":"k","nonce":"AAAAAAAAAAAAAAAA",'
        b'"prev":"' + b"0" * 64 + b'","seq":3,"time":"2026-01-02T03:04:05.000006Z",'
        b'"type":"system","v":1}\n')


@pytest.mark.parametrize("text", [PERSIAN, SLOVENIAN])
def test_non_ascii_is_written_as_itself_in_utf8(text: str) -> None:
    line = envelope(kid=text).line()
    assert text.encode("utf-8") in line
    assert b"\\u" not in line


@settings(max_examples=200, deadline=None)
@given(st.text(), st.integers(min_value=0, max_value=2**53),
       st.sampled_from(["capture", "system"]))
def test_canonical_bytes_are_json_dumps_sorted_compact_unescaped(kid: str, seq: int,
                                                               typ: str) -> None:
    e = envelope(seq, kid=kid, type=typ)
    try:
        expected = spec_c(e.as_dict())
    except UnicodeEncodeError:  # a lone surrogate has no UTF-8 form; neither side has bytes
        return
    assert canonical(e.as_dict()) == expected
    assert e.line() == expected + b"\n"


PLAIN = st.text(alphabet="0123456789ABCDEFabcdef+/=:.-", min_size=1)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=-1, max_value=2**63), PLAIN, PLAIN, PLAIN, PLAIN, PLAIN,
       st.sampled_from(["capture", "system"]))
def test_envelopes_of_unescaped_characters_also_have_exactly_the_spec_bytes(
        seq: int, prev: str, time: str, kid: str, nonce: str, ct: str, typ: str) -> None:
    e = Envelope(seq=seq, prev=prev, time=time, type=typ, kid=kid, nonce=nonce, ct=ct)
    without_ct = {k: v for k, v in e.as_dict().items() if k != "ct"}
    assert e.line() == spec_c(e.as_dict()) + b"\n"
    assert e.record_hash() == hashlib.sha256(b"\x00" + spec_c(e.as_dict())).digest()
    assert e.associated_data() == spec_c(without_ct)


def test_record_hash_is_sha256_of_zero_byte_and_canonical_bytes() -> None:
    e = envelope(kid=PERSIAN)
    assert e.record_hash() == hashlib.sha256(b"\x00" + spec_c(e.as_dict())).digest()


def test_associated_data_is_the_canonical_envelope_without_ct() -> None:
    e = envelope(kid=SLOVENIAN)
    d = e.as_dict()
    del d["ct"]
    assert e.associated_data() == spec_c(d)
    assert b'"ct"' not in e.associated_data()


def test_associated_data_does_not_change_with_ct_but_with_every_other_member() -> None:
    base = envelope()
    assert envelope(ct=base64.b64encode(b"x" * 20).decode()).associated_data() == \
        base.associated_data()
    others = [envelope(seq=8), envelope(prev="cd" * 32), envelope(time="2026-11-21T20:51:56Z"),
              envelope(type="system"), envelope(kid="other"),
              envelope(nonce=base64.b64encode(b"\x01" * 12).decode())]
    for other in others:
        assert other.associated_data() != base.associated_data()


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"])))
def test_a_segment_line_ends_in_exactly_one_newline(kid: str) -> None:
    line = envelope(kid=kid).line()
    assert line.endswith(b"\n")
    assert b"\n" not in line[:-1]


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), min_size=1),
       st.integers(min_value=0, max_value=2**53))
def test_parse_line_reads_back_what_line_wrote(kid: str, seq: int) -> None:
    e = envelope(seq, kid=kid)
    assert parse_line(e.line()[:-1], where=WHERE, expected_seq=seq) == e


# --- parse_line refusals --------------------------------------------------------------


def test_parse_line_refuses_non_canonical_whitespace() -> None:
    d = member_dict()
    for line in [json.dumps(d, sort_keys=True, ensure_ascii=False).encode(),
                 b" " + spec_c(d), spec_c(d) + b" ", spec_c(d) + b"\r"]:
        assert refused(line).seq == 7


def test_parse_line_refuses_reordered_members() -> None:
    d = member_dict()
    line = json.dumps(dict(reversed(list(d.items()))), separators=(",", ":")).encode()
    assert json.loads(line) == d
    assert refused(line).seq == 7


def test_parse_line_refuses_non_ascii_written_as_an_escape() -> None:
    line = json.dumps(member_dict(kid="č"), sort_keys=True, separators=(",", ":")).encode()
    assert b"\\u010d" in line
    assert refused(line).seq == 7


def test_parse_line_refuses_a_duplicated_member() -> None:
    line = spec_c(member_dict()).replace(b'"v":1}', b'"v":1,"v":1}')
    assert refused(line).seq == 7


def test_parse_line_refuses_an_extra_member() -> None:
    assert refused(spec_c(member_dict(extra="x"))).seq == 7


@pytest.mark.parametrize("member", ["v", "seq", "prev", "time", "type", "kid", "nonce", "ct"])
def test_parse_line_refuses_a_missing_member(member: str) -> None:
    d = member_dict()
    del d[member]
    assert refused(spec_c(d)).seq == 7


@pytest.mark.parametrize(("member", "value"), [
    ("seq", "7"), ("seq", 7.0), ("seq", None), ("v", 2), ("v", "1"), ("v", 1.0), ("v", 0),
    ("prev", 0), ("time", 1), ("type", None), ("kid", ["k"]), ("nonce", 12), ("ct", {}),
])
def test_parse_line_refuses_a_member_of_the_wrong_type_or_value(member: str, value: Any) -> None:
    assert refused(spec_c(member_dict(**{member: value}))).seq == 7


def test_parse_line_refuses_a_boolean_seq() -> None:
    refused(spec_c(member_dict(seq=True)))


def test_parse_line_names_the_expected_seq_when_seq_is_a_boolean() -> None:
    assert refused(spec_c(member_dict(seq=True))).seq == 7


def test_parse_line_refuses_a_seq_other_than_expected_and_names_the_expected_one() -> None:
    err = refused(spec_c(member_dict(seq=8)), expected_seq=7)
    assert err.seq == 7


@pytest.mark.parametrize("prev", ["AB" * 32, "ab" * 31, "ab" * 33, "g" * 64, "ab" * 31 + "a "])
def test_parse_line_refuses_a_prev_that_is_not_64_lowercase_hex(prev: str) -> None:
    assert refused(spec_c(member_dict(prev=prev))).seq == 7


@pytest.mark.parametrize("time", [
    "2026-11-21T20:51:55.123456", "2026-11-21T20:51:55+00:00", "2026-11-21T20:51:55.123z",
    "2026-11-21 20:51:55Z", "2026-11-21T20:51Z", "2026-11-21", "2026-11-21T20:51:55.Z",
    "2026-11-21T20:51:55.1234567890Z",
])
def test_parse_line_refuses_a_time_that_is_not_rfc3339_utc_with_z(time: str) -> None:
    assert refused(spec_c(member_dict(time=time))).seq == 7


@pytest.mark.parametrize("time", ["2026-11-21T20:51:55Z", "2026-11-21T20:51:55.1Z",
                                  "2026-11-21T20:51:55.123456789Z"])
def test_parse_line_accepts_rfc3339_utc_times_with_any_fraction(time: str) -> None:
    line = spec_c(member_dict(time=time))
    assert parse_line(line, where=WHERE, expected_seq=7).time == time


def test_parse_line_refuses_a_time_in_non_ascii_digits() -> None:
    assert refused(spec_c(member_dict(time="۲۰۲۶-۱۱-۲۱T۲۰:۵۱:۵۵Z"))).seq == 7


def test_parse_line_refuses_a_time_that_is_not_a_real_date() -> None:
    assert refused(spec_c(member_dict(time="2026-13-45T99:99:99Z"))).seq == 7


@pytest.mark.parametrize("typ", ["note", "Capture", ""])
def test_parse_line_refuses_an_unknown_record_type(typ: str) -> None:
    assert refused(spec_c(member_dict(type=typ))).seq == 7


def test_parse_line_refuses_an_empty_kid() -> None:
    assert refused(spec_c(member_dict(kid=""))).seq == 7


@pytest.mark.parametrize("size", [0, 11, 13, 16])
def test_parse_line_refuses_a_nonce_that_is_not_12_bytes(size: int) -> None:
    nonce = base64.b64encode(b"\x07" * size).decode()
    assert refused(spec_c(member_dict(nonce=nonce))).seq == 7


@pytest.mark.parametrize("size", [0, 1, 15])
def test_parse_line_refuses_a_ct_shorter_than_its_16_byte_tag(size: int) -> None:
    ct = base64.b64encode(b"\x07" * size).decode()
    assert refused(spec_c(member_dict(ct=ct))).seq == 7


def test_parse_line_accepts_a_ct_of_exactly_the_tag() -> None:
    ct = base64.b64encode(b"\x07" * 16).decode()
    assert parse_line(spec_c(member_dict(ct=ct)), where=WHERE, expected_seq=7).ct == ct


@pytest.mark.parametrize(("member", "value"), [
    ("nonce", "AAAAAAAAAAAAAAA!"), ("nonce", "AAAAAAAA-_AAAAAA"), ("nonce", "AAAA AAAAAAAAAAA"),
    ("ct", base64.b64encode(b"\x07" * 17).decode().rstrip("=")), ("ct", "%%%%" * 6),
    ("ct", base64.urlsafe_b64encode(b"\xfb\xff" * 12).decode()),
])
def test_parse_line_refuses_nonce_or_ct_that_is_not_standard_padded_base64(
        member: str, value: str) -> None:
    assert refused(spec_c(member_dict(**{member: value}))).seq == 7


@pytest.mark.parametrize("line", [b"", b"not json", b"{", b"[1,2]", b'"x"', b"\xff\xfe"])
def test_parse_line_refuses_what_is_not_a_json_object_and_names_the_expected_seq(
        line: bytes) -> None:
    assert refused(line).seq == 7


def test_parse_line_refuses_an_escaped_lone_surrogate_as_an_integrity_error() -> None:
    line = spec_c(member_dict(kid="KID")).replace(b'"KID"', b'"\\ud800"')
    assert refused(line).seq == 7


# --- segments -------------------------------------------------------------------------


def test_iter_segment_yields_each_record_with_its_line_and_hash() -> None:
    envs = chain(0, 5, None)
    records = list(iter_segment(encode_segment(envs), 0, 4, None, where=WHERE))
    assert [r.envelope for r in records] == envs
    assert [r.line + b"\n" for r in records] == [e.line() for e in envs]
    assert [r.hash for r in records] == [e.record_hash() for e in envs]


def test_segment_is_the_concatenation_of_its_lines() -> None:
    envs = chain(0, 3, None)
    assert encode_segment(envs) == b"".join(spec_c(e.as_dict()) + b"\n" for e in envs)


def test_iter_segment_checks_the_first_prev_against_the_previous_segment() -> None:
    before = chain(0, 3, None)
    envs = chain(3, 4, before[-1].record_hash())
    data = encode_segment(envs)
    assert len(list(iter_segment(data, 3, 6, before[-1].record_hash(), where=WHERE))) == 4
    with pytest.raises(IntegrityError) as info:
        list(iter_segment(data, 3, 6, before[-2].record_hash(), where=WHERE))
    assert (info.value.seq, info.value.where) == (3, WHERE)


def test_iter_segment_needs_the_zero_hash_before_record_zero() -> None:
    envs = chain(0, 2, b"\x01" * 32)
    with pytest.raises(IntegrityError) as info:
        list(iter_segment(encode_segment(envs), 0, 1, None, where=WHERE))
    assert info.value.seq == 0


def test_iter_segment_refuses_a_broken_prev_link_and_names_its_seq() -> None:
    envs = chain(10, 6, b"\x02" * 32)
    envs[3] = envelope(13, prev="cd" * 32, kid="kid-13")
    with pytest.raises(IntegrityError) as info:
        list(iter_segment(encode_segment(envs), 10, 15, b"\x02" * 32, where=WHERE))
    assert (info.value.seq, info.value.where) == (13, WHERE)


def test_iter_segment_names_the_first_of_several_bad_records() -> None:
    envs = chain(0, 8, None)
    data = encode_segment(envs).split(b"\n")
    data[2] = data[2].replace(b'"kid":"kid-2"', b'"kid":"kid-X"')  # still canonical
    data[5] = data[5] + b" "  # not canonical
    with pytest.raises(IntegrityError) as info:
        list(iter_segment(b"\n".join(data), 0, 7, None, where=WHERE))
    assert info.value.seq == 3  # record 2 parses; record 3's prev no longer matches it


def test_iter_segment_refuses_a_record_with_the_wrong_seq() -> None:
    envs = chain(0, 5, None)
    envs[2] = envelope(4, prev=envs[1].record_hash().hex(), kid="kid-2")
    with pytest.raises(IntegrityError) as info:
        list(iter_segment(encode_segment(envs), 0, 4, None, where=WHERE))
    assert info.value.seq == 2


def test_iter_segment_refuses_swapped_records() -> None:
    envs = chain(0, 4, None)
    envs[1], envs[2] = envs[2], envs[1]
    with pytest.raises(IntegrityError) as info:
        list(iter_segment(encode_segment(envs), 0, 3, None, where=WHERE))
    assert info.value.seq == 1


def test_iter_segment_refuses_a_missing_final_newline() -> None:
    data = encode_segment(chain(0, 3, None))[:-1]
    with pytest.raises(IntegrityError) as info:
        list(iter_segment(data, 0, 2, None, where=WHERE))
    assert (info.value.seq, info.value.where) == (2, WHERE)


def test_iter_segment_refuses_a_blank_line() -> None:
    envs = chain(0, 3, None)
    data = envs[0].line() + b"\n" + envs[1].line() + envs[2].line()
    with pytest.raises(IntegrityError) as info:
        list(iter_segment(data, 0, 3, None, where=WHERE))
    assert info.value.seq == 1


def test_iter_segment_refuses_fewer_lines_than_its_name_and_names_the_first_missing_seq() -> None:
    data = encode_segment(chain(20, 4, b"\x03" * 32))
    with pytest.raises(IntegrityError) as info:
        list(iter_segment(data, 20, 25, b"\x03" * 32, where=WHERE))
    assert (info.value.seq, info.value.where) == (24, WHERE)


def test_iter_segment_refuses_more_lines_than_its_name() -> None:
    data = encode_segment(chain(20, 7, b"\x03" * 32))
    with pytest.raises(IntegrityError) as info:
        list(iter_segment(data, 20, 25, b"\x03" * 32, where=WHERE))
    assert (info.value.seq, info.value.where) == (26, WHERE)


def test_iter_segment_refuses_an_empty_segment() -> None:
    with pytest.raises(IntegrityError) as info:
        list(iter_segment(b"", 5, 5, b"\x03" * 32, where=WHERE))
    assert info.value.seq == 5


# --- key objects ----------------------------------------------------------------------


def test_key_object_round_trips() -> None:
    keys = {"0f" * 16: "d3JhcHBlZA==", "کلید": "AAAA", "ključ": "BBBB"}
    data = encode_keys("local-1234", "A256GCM", keys)
    doc = decode_keys(data, where="keys/000000000000-000000000002.json")
    assert (doc.kek, doc.alg, doc.keys) == ("local-1234", "A256GCM", keys)


def test_key_object_is_canonical_json_with_one_final_newline() -> None:
    data = encode_keys("k", "A256GCM", {"b": "2", "a": "1"})
    assert data == b'{"alg":"A256GCM","kek":"k","keys":{"a":"1","b":"2"},"v":1}\n'


@pytest.mark.parametrize("data", [
    b"", b"not json", b"[]", b'"v"', b"\xff",
    b'{"v":2,"kek":"k","alg":"a","keys":{}}',
    b'{"v":"1","kek":"k","alg":"a","keys":{}}',
    b'{"kek":"k","alg":"a","keys":{}}',
    b'{"v":1,"alg":"a","keys":{}}',
    b'{"v":1,"kek":"k","keys":{}}',
    b'{"v":1,"kek":"k","alg":"a"}',
    b'{"v":1,"kek":"k","alg":"a","keys":{},"extra":1}',
    b'{"v":1,"kek":1,"alg":"a","keys":{}}',
    b'{"v":1,"kek":"k","alg":null,"keys":{}}',
    b'{"v":1,"kek":"k","alg":"a","keys":[]}',
    b'{"v":1,"kek":"k","alg":"a","keys":{"kid":1}}',
    b'{"v":1,"kek":"k","alg":"a","keys":{"kid":null}}',
])
def test_decode_keys_refuses_a_malformed_key_object_and_names_it(data: bytes) -> None:
    with pytest.raises(IntegrityError) as info:
        decode_keys(data, where="keys/000000000000-000000000002.json")
    assert info.value.where == "keys/000000000000-000000000002.json"


@pytest.mark.parametrize("v", [b"true", b"1.0"])
def test_decode_keys_refuses_a_version_that_is_not_the_integer_one(v: bytes) -> None:
    with pytest.raises(IntegrityError):
        decode_keys(b'{"v":' + v + b',"kek":"k","alg":"a","keys":{}}', where="keys/x")


# --- object names ---------------------------------------------------------------------


def test_object_names_are_zero_padded_to_twelve_digits() -> None:
    assert segment_key(1, 23) == "log/000000000001-000000000023.jsonl"
    assert keys_key(1, 23) == "keys/000000000001-000000000023.json"
    assert checkpoint_key(1000) == "checkpoints/000000001000"


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 10**12 - 1), st.integers(0, 10**12 - 1))
def test_parse_range_key_reads_back_segment_and_key_names(first: int, last: int) -> None:
    assert parse_range_key(segment_key(first, last)) == ("log", first, last)
    assert parse_range_key(keys_key(first, last)) == ("keys", first, last)


@pytest.mark.parametrize("key", [
    "log/000000000001-000000000023.json",
    "keys/000000000001-000000000023.jsonl",
    "log/1-23.jsonl",
    "log/00000000001-000000000023.jsonl",
    "log/000000000001-0000000000023.jsonl",
    "log/000000000001-000000000023.jsonl.tmp",
    "x/log/000000000001-000000000023.jsonl",
    "log/000000000001_000000000023.jsonl",
    "log/-00000000001-000000000023.jsonl",
    "media/000000000001-000000000023.jsonl",
    "checkpoints/000000000023",
])
def test_parse_range_key_rejects_names_outside_the_format(key: str) -> None:
    assert parse_range_key(key) is None


def test_parse_range_key_rejects_non_ascii_digits() -> None:
    assert parse_range_key("log/۰۰۰۰۰۰۰۰۰۰۰۱-۰۰۰۰۰۰۰۰۰۰۲۳.jsonl") is None


@given(seq=st.integers(min_value=0, max_value=2**53), ct=st.binary(min_size=16, max_size=200),
       nonce=st.binary(min_size=12, max_size=12), kind=st.sampled_from(["capture", "system"]))
def test_associated_data_cut_from_a_line_equals_the_envelope_without_ct(
        seq: int, ct: bytes, nonce: bytes, kind: str) -> None:
    env = Envelope(seq=seq, prev="0" * 64, time="2026-11-21T20:51:55.123456Z", type=kind,
                   kid="ab" * 16, nonce=base64.b64encode(nonce).decode(),
                   ct=base64.b64encode(ct).decode())
    line = env.canonical()
    assert line == canonical(env.as_dict())
    assert associated_data_of_line(line, env.ct) == env.associated_data()
    without_ct = env.as_dict()
    del without_ct["ct"]
    assert env.associated_data() == canonical(without_ct)
