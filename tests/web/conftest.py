"""The web interface under test: the app `create_app` builds, over a real archive.

Two backend pairs as in the API suite (filesystem + SQLite, SeaweedFS S3 + PostgreSQL); on
the second, a deployment, the session secret comes from settings as it must. `signed_in`
gives a test client signed in through the sign-in form, as a person would be.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from archiver.ingest import read_jsonl
from archiver.wiring import Archive
from tests.api.conftest import API_BACKENDS, app, client, demo, tokens  # noqa: F401
from tests.api.test_search import catch_up
from tests.fixtures.backends import backend_env_for

SECRET = "web-test-session-secret-" + "x" * 24

# The "Done when" scenario's post: Persian with zero-width non-joiners (U+200C), edited
# once, then deleted at the source.
PERSIAN_ITEM = "1801000000000000001"
PERSIAN_V1 = "ما می\u200cخواهیم کتابخانهٔ مرکزی را از شنبه بازگشایی کنیم."
PERSIAN_V2 = "ما می\u200cخواهیم کتابخانهٔ مرکزی را از یکشنبه بازگشایی کنیم."
PERSIAN_QUERY = "میخواهیم بازگشایی"  # typed without the ZWNJ
_AUTHOR = {"id": "1589327646410244096", "handle": "WrenfieldCity", "name": "City of Wrenfield"}
PERSIAN_OBSERVATIONS = [
    {"platform": "x", "account": "1589327646410244096", "item_id": PERSIAN_ITEM,
     "kind": "post", "text": PERSIAN_V1, "author": _AUTHOR, "lang": "fa",
     "published_at": "2024-05-01T08:00:00Z", "observed_at": "2024-05-01T08:05:00Z",
     "url": f"https://x.com/WrenfieldCity/status/{PERSIAN_ITEM}"},
    {"platform": "x", "account": "1589327646410244096", "item_id": PERSIAN_ITEM,
     "kind": "post", "text": PERSIAN_V2, "author": _AUTHOR, "lang": "fa",
     "published_at": "2024-05-01T08:00:00Z", "observed_at": "2024-05-01T09:05:00Z",
     "url": f"https://x.com/WrenfieldCity/status/{PERSIAN_ITEM}"},
    {"platform": "x", "account": "1589327646410244096", "item_id": PERSIAN_ITEM,
     "kind": "post", "event": "deleted", "observed_at": "2024-05-02T10:00:00Z",
     "url": f"https://x.com/WrenfieldCity/status/{PERSIAN_ITEM}"},
]


@pytest.fixture(params=API_BACKENDS, ids=[f"{s}-{c}" for s, c in API_BACKENDS])
def backend_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    env = backend_env_for(request, tmp_path)
    if env.get("ARCHIVER_STORE_KIND") == "s3":
        env["ARCHIVER_WEB_SESSION_SECRET"] = SECRET
    return env


@pytest.fixture
def indexed(demo: Archive) -> Archive:  # noqa: F811
    """The demo data set and the Persian scenario post, archived and indexed."""
    lines = "\n".join(json.dumps(o, ensure_ascii=False) for o in PERSIAN_OBSERVATIONS)
    summary = demo.ingestor.ingest(o for _, o in read_jsonl(
        io.BytesIO(lines.encode()), max_text_bytes=100_000, max_line_bytes=1_000_000))
    assert not summary.rejected
    assert catch_up(demo) > 0
    return demo


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def sign_in(client: FlaskClient, token: str) -> FlaskClient:  # noqa: F811
    page = client.get("/signin")
    response = client.post("/signin", data={"token": token,
                                            "csrf_token": csrf_of(page.get_data(as_text=True))})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


@pytest.fixture
def signed_in(app: Flask, tokens: dict[str, str]  # noqa: F811
              ) -> Callable[[str], FlaskClient]:
    """A new browser-like client signed in with the token of `role`."""
    def make(role: str) -> FlaskClient:
        return sign_in(app.test_client(), tokens[role])

    return make


def post_form(client: FlaskClient, page_url: str, action: str,  # noqa: F811
              data: dict[str, str]) -> object:
    """Submit a form the way a browser does: the CSRF token read from the page."""
    page = client.get(page_url)
    assert page.status_code == 200, page.status_code
    return client.post(action, data={**data, "csrf_token": csrf_of(page.get_data(as_text=True))})
