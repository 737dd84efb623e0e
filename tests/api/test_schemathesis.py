"""Schemathesis against /api/v1/openapi.json, in process: no 5xx, every response as documented.

Generated requests carry an admin token (every operation is allowed) and run against an
archive holding the demo data, indexed, so reads find records as well as missing ones and
searches run the engine. Examples are
bounded per operation to keep the run short. (Each operation is driven through
`as_strategy` rather than `schemathesis.pytest.from_fixture`, whose fixture loader does not
run under pytest 9.)
"""

from __future__ import annotations

import os

import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from archiver.search.whoosh_engine import SearchIndex
from archiver.wiring import Archive
from tests.api.conftest import bearer

# ARCHIVER_TEST_FUZZ_EXAMPLES=300 for a longer hunt (about a minute per backend).
EXAMPLES_PER_OPERATION = int(os.environ.get("ARCHIVER_TEST_FUZZ_EXAMPLES", "25"))


def test_no_server_error_and_every_response_matches_the_document(
        app: Flask, demo: Archive, tokens: dict[str, str]) -> None:
    index = SearchIndex.for_settings(demo.settings)
    index.catch_up(demo.appender)
    index.close()
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    headers = bearer(tokens["admin"])
    failures: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    # Every operation but the document itself, which schemathesis leaves out.
    assert len(operations) == len(app.view_functions) - 1
    assert "GET /api/v1/search" in {operation.label for operation in operations}
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True,
                  database=None, phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck))
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers,
                                   checks=[not_a_server_error, response_schema_conformance])

        try:
            check()
        except Exception as exc:  # noqa: BLE001 - collect every operation's failure, then report
            failures[operation.label] = f"{type(exc).__name__}: {exc}"[:3000]
    assert not failures, "\n\n".join(f"{k}\n{v}" for k, v in failures.items())
