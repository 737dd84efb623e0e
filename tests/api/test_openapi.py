"""The OpenAPI document: valid 3.1, complete, and true to the code."""

from __future__ import annotations

import json

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import OpenAPIV31SpecValidator
from pydantic import ValidationError

from archiver.api.models import ObservationIn
from archiver.api.permissions import PERMISSIONS
from archiver.errors import InvalidObservation
from archiver.records import parse_observation
from tests.api.conftest import DEMO


@pytest.fixture
def document(client: FlaskClient) -> dict:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


def test_the_document_is_valid_openapi_3_1(document: dict) -> None:
    assert document["openapi"] == "3.1.0"
    errors = list(OpenAPIV31SpecValidator(document).iter_errors())
    assert errors == []


def test_every_route_is_documented_with_its_roles_and_the_error_shape(
        app: Flask, document: dict) -> None:
    operations = {op["operationId"]: op for path in document["paths"].values()
                  for op in path.values()}
    assert set(operations) == set(app.view_functions)
    for endpoint, op in operations.items():
        roles = PERMISSIONS[endpoint]
        assert op["x-roles"] == ([] if roles is None else sorted(roles))
        assert op["security"] == ([] if roles is None else [{"bearerAuth": []}])
        if roles is not None:
            for status in ("401", "403"):
                assert op["responses"][status]["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/ErrorBody"}
        assert "default" in op["responses"]
    assert set(document["paths"]) >= {"/api/v1/records/{seq}",
                                      "/api/v1/items/{platform}/{item_id}", "/metrics"}


def test_the_document_is_generated_once_per_app(client: FlaskClient) -> None:
    first = client.get("/api/v1/openapi.json").get_data()
    assert client.get("/api/v1/openapi.json").get_data() == first


def test_the_observation_schema_agrees_with_the_ingest_rule() -> None:
    """ObservationIn documents parse_observation: both accept the demo data and both refuse
    the usual mistakes."""
    for line in DEMO.splitlines():
        obj = json.loads(line)
        ObservationIn.model_validate(obj)
        parse_observation(obj, max_text_bytes=100_000)
    good = json.loads(DEMO.splitlines()[0])
    for bad in ({**good, "surprise": 1}, {**good, "platform": 5}, {**good, "kind": ""},
                {k: v for k, v in good.items() if k != "account"}, {**good, "event": "edited"},
                {**good, "author": {"id": "1", "email": "x"}}, {**good, "platform": "p" * 65}):
        with pytest.raises(ValidationError):
            ObservationIn.model_validate(bad)
        with pytest.raises(InvalidObservation):
            parse_observation(bad, max_text_bytes=100_000)
