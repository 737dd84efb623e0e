"""``archiver-verify store s3://BUCKET[/PREFIX]`` against the real SeaweedFS of the session.

The archives are written by the project itself (``init_archive`` + the ingestor, on an
Object-Lock bucket), and the verifier is run as an auditor runs it: the installed
``archiver-verify`` console script in a subprocess, credentials in the environment
only. What must hold: the S3 store verifies exactly like the same objects in a
directory; a listing longer than one ListObjectsV2 page is read completely; an unknown
object is a FAIL naming it; and a store that cannot be read (wrong secret, no such
bucket, nothing listening, nothing under the prefix) is exit status 2 with a message
naming endpoint and bucket, never the secret, never a traceback.
"""

from __future__ import annotations

import base64
import http.server
import io
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from archiver import verify_offline as vo
from archiver.config import load_settings
from archiver.ingest import read_jsonl
from archiver.wiring import init_archive
from tests.fixtures.seaweed import SeaweedServer, free_ports

ORIGIN = "s3verify.test/log"
DEMO = files("archiver.demo").joinpath("observations.jsonl").read_bytes()
CONSOLE_SCRIPT = Path(sys.executable).with_name("archiver-verify")


def _vkey(name: str = "example.test") -> str:
    """A valid verifier key line, for tests that fail before any checkpoint is read."""
    public = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    key = base64.b64encode(bytes([1]) + public).decode()  # 0x01: Ed25519
    return f"{name}+{vo.key_hash(name, public).hex()}+{key}"


VKEY = _vkey()


# --------------------------------------------------------------------------- helpers


@dataclass
class S3Archive:
    bucket: str
    prefix: str
    vkey: Path
    records: int  # what the archive says it wrote: the init record + archived observations

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


@dataclass
class Outcome:
    code: int
    out: str
    err: str

    @property
    def summary(self) -> dict[str, Any]:
        return json.loads(self.out.splitlines()[-1])

    @property
    def findings(self) -> list[str]:
        return self.out.splitlines()[:-1]


def build_archive(
    seaweed: SeaweedServer, bucket: str, home: Path, observations: bytes, **extra: str
) -> S3Archive:
    """An archive written by the project on ``bucket`` under a fresh prefix."""
    prefix = f"verify-{uuid.uuid4().hex[:12]}"
    env = {
        "ARCHIVER_HOME": str(home),
        "ARCHIVER_STORE_KIND": "s3",
        "ARCHIVER_STORE_ENDPOINT_URL": seaweed.endpoint_url,
        "ARCHIVER_STORE_BUCKET": bucket,
        "ARCHIVER_STORE_PREFIX": prefix,
        "ARCHIVER_STORE_ACCESS_KEY": seaweed.access_key,
        "ARCHIVER_STORE_SECRET_KEY": seaweed.secret_key,
        **extra,
    }
    archive, created = init_archive(load_settings(env=env), ORIGIN)
    assert created
    try:
        parsed = read_jsonl(io.BytesIO(observations), max_text_bytes=10_000, max_line_bytes=100_000)
        summary = archive.ingestor.ingest(o for _, o in parsed)
        assert summary.rejected == []
        vkey = home / "archive.vkey"
        vkey.write_text(archive.appender.p.signer.vkey() + "\n")
    finally:
        archive.close()
    return S3Archive(bucket, prefix, vkey, 1 + summary.archived)


def many_observations(copies: int) -> bytes:
    """The demo observations ``copies`` times over, each copy under its own item ids."""
    lines = [json.loads(line) for line in DEMO.splitlines() if line.strip()]
    out = []
    for i in range(copies):
        for obs in lines:
            out.append(json.dumps({**obs, "item_id": f"{obs['item_id']}-{i}"}) + "\n")
    return "".join(out).encode()


def aws_env(seaweed: SeaweedServer, **overrides: str | None) -> dict[str, str]:
    """The process environment without any AWS_* variable of the caller, plus the
    server's credentials (an override of ``None`` removes a variable)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=seaweed.access_key, AWS_SECRET_ACCESS_KEY=seaweed.secret_key)
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def verify(*argv: object, env: dict[str, str]) -> Outcome:
    """Run the installed console script, as an auditor would."""
    assert CONSOLE_SCRIPT.exists(), f"{CONSOLE_SCRIPT} not installed (pip install -e .)"
    result = subprocess.run(
        [str(CONSOLE_SCRIPT), *map(str, argv)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert "Traceback" not in result.stderr, result.stderr
    assert "ERROR internal" not in result.stderr, result.stderr
    return Outcome(result.returncode, result.stdout, result.stderr)


def verify_s3(seaweed: SeaweedServer, archive: S3Archive, **env: str | None) -> Outcome:
    return verify(
        "store",
        archive.url,
        "--endpoint-url",
        seaweed.endpoint_url,
        "--vkey",
        archive.vkey,
        env=aws_env(seaweed, **env),
    )


def mirror(seaweed: SeaweedServer, archive: S3Archive, root: Path) -> Path:
    """Copy every object under the archive's prefix to ``root``/<key> (boto3, not the
    verifier's client): the same store as a directory."""
    client = seaweed.client()
    pages = client.get_paginator("list_objects_v2").paginate(
        Bucket=archive.bucket, Prefix=archive.prefix + "/"
    )
    for page in pages:
        for item in page.get("Contents", []):
            target = root / item["Key"][len(archive.prefix) + 1 :]
            target.parent.mkdir(parents=True, exist_ok=True)
            body = client.get_object(Bucket=archive.bucket, Key=item["Key"])["Body"]
            target.write_bytes(body.read())
    return root


@pytest.fixture(scope="module")
def demo_archive(
    seaweed: SeaweedServer, seaweed_buckets: dict[bool, str], tmp_path_factory
) -> S3Archive:
    """The demo observations archived on the Object-Lock bucket; tests only read it."""
    return build_archive(seaweed, seaweed_buckets[True], tmp_path_factory.mktemp("home"), DEMO)


@pytest.fixture
def fresh_archive(seaweed: SeaweedServer, s3_store_factory, tmp_path: Path) -> S3Archive:
    """A demo archive of this test's own, which it may add objects to."""
    bucket = s3_store_factory().bucket
    return build_archive(seaweed, bucket, tmp_path / "home", DEMO)


# --------------------------------------------------------------------------- a good store


@pytest.mark.s3
def test_an_archive_on_s3_verifies_exactly_like_the_same_objects_in_a_directory(
    seaweed, demo_archive, tmp_path
):
    on_s3 = verify_s3(seaweed, demo_archive)
    assert on_s3.code == 0, on_s3.out + on_s3.err
    assert on_s3.summary["records"] == demo_archive.records
    assert on_s3.summary["failures"] == 0

    root = mirror(seaweed, demo_archive, tmp_path / "objects")
    on_disk = verify("store", root, "--vkey", demo_archive.vkey, env=aws_env(seaweed))
    assert on_disk.code == 0, on_disk.out
    assert on_s3.summary == on_disk.summary
    # Finding for finding the same, but for the line saying what was listed from where.
    listed = [f for f in on_s3.findings if f.startswith("INFO store: s3://")]
    assert len(listed) == 1
    assert (
        f"s3://{demo_archive.bucket}/{demo_archive.prefix} at {seaweed.endpoint_url}" in listed[0]
    )
    assert f"requests signed as access key id {seaweed.access_key}" in listed[0]
    assert [f for f in on_s3.findings if f not in listed] == on_disk.findings


@pytest.mark.s3
def test_endpoint_and_region_may_come_from_the_environment(seaweed, demo_archive):
    env = aws_env(seaweed, AWS_ENDPOINT_URL=seaweed.endpoint_url, AWS_REGION=seaweed.region)
    result = verify("store", demo_archive.url + "/", "--vkey", demo_archive.vkey, env=env)
    assert result.code == 0, result.out + result.err
    assert result.summary["records"] == demo_archive.records


@pytest.mark.s3
def test_the_verifier_reads_s3_as_a_standalone_script(seaweed, demo_archive, tmp_path):
    copy = tmp_path / "verify.py"
    shutil.copyfile(vo.__file__, copy)  # outside the package: no boto3, nothing of archiver
    result = subprocess.run(
        [sys.executable, "-I", str(copy), "store", demo_archive.url]
        + ["--endpoint-url", seaweed.endpoint_url, "--vkey", str(demo_archive.vkey)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=aws_env(seaweed),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout.splitlines()[-1])["records"] == demo_archive.records


@pytest.mark.s3
@pytest.mark.slow
def test_a_listing_of_more_than_one_page_is_read_completely(seaweed, s3_store_factory, tmp_path):
    # One record per segment: every record is a segment and a keys object, so 11
    # copies of the demo (~600 records) make ~1200 objects, more than the 1000 keys
    # of one ListObjectsV2 page. Keys sort checkpoint* < keys/ < log/, so a verifier
    # that stopped after the first page would miss most segments.
    started = time.monotonic()
    archive = build_archive(
        seaweed,
        s3_store_factory().bucket,
        tmp_path / "home",
        many_observations(11),
        ARCHIVER_LOG_SEGMENT_MAX_RECORDS="1",
    )
    result = verify_s3(seaweed, archive)
    assert result.code == 0, result.out[-3000:] + result.err
    assert result.summary["records"] == result.summary["segments"] == archive.records
    assert archive.records > 500
    listed = next(f for f in result.findings if f.startswith("INFO store: s3://"))
    objects = int(listed.split(": ")[2].split(" object")[0])
    assert objects == 2 * archive.records + result.summary["checkpoints"] + 1  # + checkpoint
    assert objects > 1000
    assert "listed in 2 page(s)" in listed
    assert time.monotonic() - started < 60  # about 10 s; the bound only catches a hang


# --------------------------------------------------------------------------- what is found


@pytest.mark.s3
def test_an_unknown_object_under_the_prefix_is_a_failure_naming_it(seaweed, fresh_archive):
    seaweed.client().put_object(
        Bucket=fresh_archive.bucket, Key=f"{fresh_archive.prefix}/notes/readme.txt", Body=b"hi"
    )
    result = verify_s3(seaweed, fresh_archive)
    assert result.code == 1, result.out
    assert (
        "FAIL notes/readme.txt: unexpected object: not described by ARCHIVE_FORMAT.md"
        in result.findings
    )
    assert result.summary["failures"] == 1
    assert result.summary["records"] == fresh_archive.records


@pytest.mark.s3
def test_a_deleted_keys_object_is_found_missing(seaweed, fresh_archive):
    # keys/ objects are deliberately not locked (disposition deletes them), so they can go.
    client = seaweed.client()
    listing = client.list_objects_v2(
        Bucket=fresh_archive.bucket, Prefix=f"{fresh_archive.prefix}/keys/"
    )
    key = listing["Contents"][0]["Key"]
    client.delete_object(Bucket=fresh_archive.bucket, Key=key)
    result = verify_s3(seaweed, fresh_archive)
    assert result.code == 1, result.out
    relative = key[len(fresh_archive.prefix) + 1 :]
    assert f"FAIL {relative}: missing: every segment has its keys object" in result.out


# --------------------------------------------------------------------------- unreadable stores


@pytest.mark.s3
def test_a_wrong_secret_is_exit_2_and_no_secret_is_ever_printed(seaweed, demo_archive):
    wrong = "wrong-" + uuid.uuid4().hex
    result = verify_s3(seaweed, demo_archive, AWS_SECRET_ACCESS_KEY=wrong)
    assert result.code == 2, result.out + result.err
    assert result.err.startswith(f"ERROR {demo_archive.url} at {seaweed.endpoint_url}: ")
    assert "cannot list objects: HTTP 403" in result.err
    assert f"signed as access key id {seaweed.access_key}" in result.err
    for secret in (wrong, seaweed.secret_key):
        assert secret not in result.out + result.err
    assert result.summary["ok"] is False and "error" in result.summary


@pytest.mark.s3
def test_a_session_token_is_sent_and_never_printed(seaweed, demo_archive):
    # Sent as x-amz-security-token and signed; SeaweedFS has no such session and says so.
    token = "token-" + uuid.uuid4().hex
    result = verify_s3(seaweed, demo_archive, AWS_SESSION_TOKEN=token)
    assert result.code == 2, result.out + result.err
    assert "cannot list objects: HTTP 403" in result.err
    assert token not in result.out + result.err
    assert seaweed.secret_key not in result.out + result.err


@pytest.mark.s3
def test_a_bucket_that_does_not_exist_is_exit_2(seaweed, demo_archive):
    result = verify(
        "store",
        "s3://no-such-bucket-here/some/prefix",
        "--endpoint-url",
        seaweed.endpoint_url,
        "--vkey",
        demo_archive.vkey,
        env=aws_env(seaweed),
    )
    assert result.code == 2, result.out + result.err
    assert result.err.startswith(
        f"ERROR s3://no-such-bucket-here/some/prefix at {seaweed.endpoint_url}: "
        "cannot list objects: HTTP 404 NoSuchBucket"
    ), result.err
    assert seaweed.secret_key not in result.out + result.err


@pytest.mark.s3
def test_a_prefix_with_nothing_under_it_is_exit_2_not_an_empty_archive(seaweed, demo_archive):
    misspelt = f"s3://{demo_archive.bucket}/{demo_archive.prefix}-typo"
    result = verify(
        "store",
        misspelt,
        "--endpoint-url",
        seaweed.endpoint_url,
        "--vkey",
        demo_archive.vkey,
        env=aws_env(seaweed),
    )
    assert result.code == 2, result.out + result.err
    assert f"ERROR {misspelt} at {seaweed.endpoint_url}: no objects under this prefix" in (
        result.err
    )


def test_an_endpoint_that_does_not_answer_is_exit_2(tmp_path):
    (port,) = free_ports(1)  # nothing listens there
    vkey = tmp_path / "vkey"
    vkey.write_text(VKEY)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID="id", AWS_SECRET_ACCESS_KEY="not-to-be-printed")
    endpoint = f"http://127.0.0.1:{port}"
    result = verify("store", "s3://bucket/p", "--endpoint-url", endpoint, "--vkey", vkey, env=env)
    assert result.code == 2
    assert result.err == (
        f"ERROR s3://bucket/p at {endpoint}: no answer from {endpoint}: "
        "[Errno 111] Connection refused\n"
    )
    assert "not-to-be-printed" not in result.out + result.err


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        (["s3://"], {}, "expected s3://BUCKET[/PREFIX]"),
        (["s3://a/b", "--endpoint-url", "ftp://host"], {}, "expected http(s)://HOST[:PORT]"),
        (["s3://a/b", "--endpoint-url", "http://u:pw@host"], {}, "no user or password"),
        (["s3://a/b", "--endpoint-url", "http://[::1"], {}, "expected http(s)://HOST[:PORT]"),
        (["s3://a/b"], {"AWS_ACCESS_KEY_ID": "id"}, "AWS_SECRET_ACCESS_KEY is not"),
        (["s3://a/b"], {"AWS_SECRET_ACCESS_KEY": "pw"}, "AWS_ACCESS_KEY_ID is not"),
        (["some/dir", "--endpoint-url", "http://h"], {}, "apply to s3:// stores only"),
    ],
)
def test_bad_s3_arguments_are_usage_errors(tmp_path, monkeypatch, capsys, argv, env, expected):
    for name in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    vkey = tmp_path / "vkey"
    vkey.write_text(VKEY)
    assert vo.main(["store", *argv, "--vkey", str(vkey)]) == 2
    captured = capsys.readouterr()
    assert expected in captured.err
    assert "pw" not in captured.err.replace("pw@", "")  # only as the user typed it, if at all


@pytest.mark.s3
def test_unsigned_requests_are_refused_by_a_private_bucket_with_a_hint(seaweed, demo_archive):
    env = {"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None}
    result = verify_s3(seaweed, demo_archive, **env)
    assert result.code == 2, result.out + result.err
    assert "HTTP 403" in result.err
    assert "requests unsigned: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set" in (
        result.err
    )


# --------------------------------------------------------------------------- answers on demand

SEGMENT = "log/000000000000-000000000000.jsonl"
TOKEN = "1Xy+ab/Cd9=="  # what an AWS continuation token looks like


class _FakeS3(http.server.BaseHTTPRequestHandler):
    """Answers SeaweedFS gives only by accident: under prefix "gone/" a listed segment
    is 404 NoSuchKey, under "cut/" its transfer stops after 19 of 1000 bytes, and under
    "paged/" the listing takes two pages, with a continuation token as AWS makes them
    (base64: "+", "/", "=") and URL-encoded keys."""

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        if url.path == "/bucket" and query["prefix"] == ["paged/"]:
            page = {None: ("true", "a%2Bb"), TOKEN: ("false", "c%20d")}.get(
                query.get("continuation-token", [None])[0]
            )
            if page is None:
                self._answer(400, "<Error><Code>InvalidArgument</Code></Error>")
                return
            self._answer(
                200,
                "<ListBucketResult><EncodingType>url</EncodingType>"
                f"<IsTruncated>{page[0]}</IsTruncated>"
                f"<NextContinuationToken>{TOKEN}</NextContinuationToken>"
                f"<Contents><Key>paged/notes/{page[1]}</Key><Size>2</Size></Contents>"
                "</ListBucketResult>",
            )
        elif url.path == "/bucket":
            prefix = query["prefix"][0]
            self._answer(
                200,
                '<?xml version="1.0" encoding="UTF-8"?>'
                '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                f"<IsTruncated>false</IsTruncated><Contents><Key>{prefix}{SEGMENT}</Key>"
                "<Size>1000</Size></Contents></ListBucketResult>",
            )
        elif url.path == f"/bucket/gone/{SEGMENT}":
            self._answer(404, "<Error><Code>NoSuchKey</Code><Message>No.</Message></Error>")
        else:
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b'{"v":1,"seq":0,"pre')  # and the connection closes (HTTP/1.0)

    def _answer(self, status: int, xml: str) -> None:
        body = xml.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fake_s3() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FakeS3)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def run_in_process(capsys, monkeypatch, tmp_path, *argv: str) -> Outcome:
    for name in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "id")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-of-the-fake")
    vkey = tmp_path / "vkey"
    vkey.write_text(VKEY)
    code = vo.main(["store", *argv, "--vkey", str(vkey)])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "ERROR internal" not in captured.err
    assert "secret-of-the-fake" not in captured.out + captured.err
    return Outcome(code, captured.out, captured.err)


def test_a_listed_object_that_is_gone_is_a_failure_naming_it(
    capsys, monkeypatch, tmp_path, fake_s3
):
    result = run_in_process(
        capsys, monkeypatch, tmp_path, "s3://bucket/gone", "--endpoint-url", fake_s3
    )
    assert result.code == 1, result.out + result.err
    assert (
        f"FAIL {SEGMENT}: cannot read: listed but not readable: HTTP 404 NoSuchKey: No."
        in result.findings
    )


def test_a_transfer_cut_short_is_exit_2_not_a_failure_of_the_object(
    capsys, monkeypatch, tmp_path, fake_s3
):
    result = run_in_process(
        capsys, monkeypatch, tmp_path, "s3://bucket/cut", "--endpoint-url", fake_s3
    )
    assert result.code == 2, result.out + result.err
    assert result.err == (
        f"ERROR s3://bucket/cut at {fake_s3}: reading {SEGMENT}: "
        "the transfer ended after 19 of 1000 bytes\n"
    )
    assert not any(f.startswith(f"FAIL {SEGMENT}") for f in result.findings), result.out


def test_pages_are_followed_with_the_token_as_given_and_keys_are_url_decoded(
    capsys, monkeypatch, tmp_path, fake_s3
):
    result = run_in_process(
        capsys, monkeypatch, tmp_path, "s3://bucket/paged", "--endpoint-url", fake_s3
    )
    assert result.code == 1, result.out + result.err
    assert "listed in 2 page(s)" in result.out
    for key in ("notes/a+b", "notes/c d"):
        assert f"FAIL {key}: unexpected object" in result.out


# --------------------------------------------------------------------------- the signer

EXAMPLE = vo.S3Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")


@pytest.mark.parametrize(
    ("path", "query", "extra", "signature"),
    [
        # Amazon S3 API Reference, "Signature Calculations for the Authorization Header:
        # Transferring Payload in a Single Chunk", examples "GET Object" and "GET Bucket".
        (
            "/test.txt",
            "",
            {"Range": "bytes=0-9"},
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
        ),
        (
            "/",
            "max-keys=2&prefix=J",
            {},
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
        ),
    ],
)
def test_sigv4_matches_the_aws_documentation_examples(path, query, extra, signature):
    headers = {
        "Host": "examplebucket.s3.amazonaws.com",
        "x-amz-date": "20130524T000000Z",
        "x-amz-content-sha256": vo.EMPTY_SHA256,
        **extra,
    }
    authorization = vo.sigv4_authorization("GET", path, query, headers, "us-east-1", EXAMPLE)
    assert authorization.startswith(
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
    )
    assert authorization.endswith(f",Signature={signature}")


def test_sigv4_agrees_with_botocore_on_a_paged_listing_with_a_session_token(monkeypatch):
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    credentials = vo.S3Credentials("AKID", "secret/with+chars", "token==")
    source = vo.S3Source("http://127.0.0.1:9000/", "bucket", "a b/+c", "eu-west-3", credentials)
    query = [
        ("list-type", "2"),
        ("prefix", source.prefix),
        ("encoding-type", "url"),
        ("continuation-token", "1/ab+c=="),
    ]
    encoded = "&".join(
        f"{k}={v}" for k, v in sorted((vo._uri_encode(k), vo._uri_encode(v)) for k, v in query)
    )
    request = AWSRequest(method="GET", url=f"http://127.0.0.1:9000/bucket?{encoded}")
    signer = S3SigV4Auth(Credentials("AKID", "secret/with+chars", "token=="), "s3", "eu-west-3")
    signer.add_auth(request)
    # Sign at botocore's instant: pin the clock the verifier reads.
    instant = time.strptime(request.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
    monkeypatch.setattr(vo.time, "gmtime", lambda: instant)
    ours = source._headers("/bucket", encoded)
    assert ours["Authorization"] == request.headers["Authorization"].replace(", ", ",")
    assert ours["x-amz-security-token"] == "token=="


def test_credentials_never_show_their_secret():
    credentials = vo.S3Credentials("AKID", "s3cr3t-value", "t0ken-value")
    assert "s3cr3t" not in repr(credentials) and "t0ken" not in repr(credentials)
    assert credentials.scrub("x s3cr3t-value y t0ken-value") == "x ******** y ********"
    assert vo.S3Credentials.from_env({}) is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("s3://bucket", ("bucket", "")),
        ("s3://bucket/", ("bucket", "")),
        ("s3://bucket/a/b/", ("bucket", "a/b")),
        ("s3://my.bucket-1/p", ("my.bucket-1", "p")),
    ],
)
def test_s3_urls(url, expected):
    assert vo.parse_s3_url(url) == expected
