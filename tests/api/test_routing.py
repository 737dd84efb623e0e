"""The frame later resources hang on: typed JSON bodies, and the layering of the core."""

from __future__ import annotations

import subprocess
import sys

import pytest
from flask import Flask
from pydantic import Field

from archiver.api import errors
from archiver.api.routing import Strict, operation
from tests.api.conftest import assert_error


class Hold(Strict):
    name: str = Field(min_length=1, max_length=20)
    days: int = Field(ge=1)


@pytest.fixture
def bare() -> Flask:
    """A bare app with one JSON-body operation and the error table, nothing else."""
    app = Flask("t", static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = 300_000
    errors.register(app)

    @app.post("/holds")
    @operation(summary="t", tag="t", body=Hold, response=Hold)
    def holds(body: Hold) -> Hold:
        return body

    return app


@pytest.mark.parametrize(("data", "content_type", "status", "field"), [
    (b'{"name": "x", "days": 3', "application/json", 400, None),
    (b'{"name": "x", "days": "three"}', "application/json", 400, "days"),
    (b'{"name": "x", "days": 3, "extra": 1}', "application/json", 400, "extra"),
    (b'{"name": "", "days": 3}', "application/json", 400, "name"),
    (b'["name"]', "application/json", 400, None),
    (b"[" * 100_000 + b"]" * 100_000, "application/json", 400, None),
    (b'{"name": "x", "days": 3}', "text/plain", 415, None),
    (b'{"name": "' + b"x" * 300_000 + b'", "days": 3}', "application/json", 413, None),
])
def test_a_json_body_is_parsed_once_and_refused_with_the_field_named(
        bare: Flask, data: bytes, content_type: str, status: int, field: str | None) -> None:
    response = bare.test_client().post("/holds", data=data, content_type=content_type)
    error = assert_error(response, status)
    if field:
        assert error["details"]["errors"][0]["field"] == field


def test_a_valid_json_body_reaches_the_view_typed(bare: Flask) -> None:
    response = bare.test_client().post("/holds", json={"name": "case 7", "days": "3"})
    assert response.status_code == 200 and response.get_json() == {"name": "case 7", "days": 3}


def test_an_unexpected_exception_is_a_500_without_its_message_or_traceback() -> None:
    app = Flask("t", static_folder=None)
    errors.register(app)

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("password=hunter2")

    response = app.test_client().get("/boom")
    error = assert_error(response, 500, "internal_error")
    assert "hunter2" not in response.get_data(as_text=True) and error["details"]["incident"]


def test_the_core_imports_neither_flask_nor_the_api() -> None:
    code = ("import sys, archiver.tokens, archiver.audit, archiver.items, archiver.ingest, "
            "archiver.wiring, archiver.records, archiver.capture\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'werkzeug') "
            "or m.startswith('archiver.api'))\n"
            "assert not bad, bad")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_importing_the_api_and_the_wsgi_module_does_nothing() -> None:
    code = ("import os, sys\nos.environ['ARCHIVER_HOME'] = '/nonexistent/archiver-home'\n"
            "import archiver.api, archiver.wsgi, archiver.api.commands\n"
            "assert not os.path.exists('/nonexistent/archiver-home')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
