"""The service as an operator starts it: `archiver serve` and gunicorn with deploy/'s config."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.seaweed import free_ports

ROOT = Path(__file__).resolve().parent.parent.parent


def _run(home: Path, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "archiver.cli", *args],
                          env={**os.environ, "ARCHIVER_HOME": str(home)},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    _run(h, "demo")
    return h


def _get(url: str, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _wait(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited"
        try:
            if _get(url)[0] == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer")


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[str]]]:
    processes: list[subprocess.Popen[str]] = []
    yield processes
    for p in processes:
        p.terminate()
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()


def test_archiver_serve_prints_its_url_and_answers_there(
        home: Path, started: list[subprocess.Popen[str]]) -> None:
    token = _run(home, "tokens", "create", "--name", "t", "--role", "records_officer").strip()
    process = subprocess.Popen([sys.executable, "-m", "archiver.cli", "serve", "--port", "0"],
                               env={**os.environ, "ARCHIVER_HOME": str(home)},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started.append(process)
    assert process.stdout is not None
    lines = [process.stdout.readline() for _ in range(2)]
    url = lines[1].split()[1].rstrip("/")
    assert url.startswith("http://127.0.0.1:") and url.endswith("/api/v1")
    _wait(f"{url}/health", process)
    status, body = _get(f"{url}/records/1", token)
    assert status == 200 and json.loads(body)["seq"] == 1
    assert _get(f"{url}/records/1")[0] == 401


def test_gunicorn_serves_the_app_with_the_deploy_config_and_logs_no_token(
        home: Path, tmp_path: Path, started: list[subprocess.Popen[str]]) -> None:
    token = _run(home, "tokens", "create", "--name", "g", "--role", "admin").strip()
    (port,) = free_ports(1)
    log = tmp_path / "gunicorn.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("gunicorn")), "-c",
             str(ROOT / "deploy" / "gunicorn.conf.py")],
            env={**os.environ, "ARCHIVER_HOME": str(home), "ARCHIVER_BIND": f"127.0.0.1:{port}",
                 "ARCHIVER_WORKERS": "2"},
            stdout=out, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    started.append(process)
    base = f"http://127.0.0.1:{port}"
    _wait(f"{base}/api/v1/health", process)
    for _ in range(4):  # reach both workers
        assert _get(f"{base}/api/v1/records/2", token)[0] == 200
    assert _get(f"{base}/api/v1/audit?limit=1", token)[0] == 200
    assert _get(f"{base}/metrics")[0] == 200
    process.terminate()
    process.wait(timeout=30)
    text = log.read_text()
    assert '"GET /api/v1/records/2 HTTP/1.1" 200' in text
    assert token not in text and "Bearer" not in text and "Traceback" not in text
