"""The OpenAPI 3.1 document, written from the app's URL map and each view's `Operation`.

Request and response schemas come from the same pydantic models that validate requests
and serialise responses (pydantic emits JSON Schema 2020-12, which OpenAPI 3.1 uses as
is); roles come from archiver/api/permissions.py. Nothing here is maintained by hand.
"""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from flask import Blueprint, Flask, Response, current_app, json
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.routing import Rule

from archiver.api.context import api
from archiver.api.models import ErrorBody
from archiver.api.permissions import PUBLIC, allowed_roles
from archiver.api.routing import Operation, operation, operation_of

OPENAPI_VERSION = "3.1.0"
_VARIABLE = re.compile(r"<(?:[^<>:]+:)?([^<>:]+)>")
_SCHEMAS = "#/components/schemas/{model}"


def _package_version() -> str:
    try:
        return version("archiver")
    except PackageNotFoundError:
        return "0"


def _openapi_path(rule: Rule) -> str:
    """`/items/<platform>/<path:item_id>` -> `/items/{platform}/{item_id}`."""
    return _VARIABLE.sub(r"{\1}", rule.rule)


def _operations(app: Flask) -> list[tuple[str, str, str, Operation]]:
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        op = operation_of(app.view_functions[rule.endpoint])
        if op is None:
            raise RuntimeError(f"endpoint {rule.endpoint!r} has no @operation: undocumented")
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((_openapi_path(rule), method.lower(), rule.endpoint, op))
    return sorted(found)


def _models_in(schema: Any) -> list[type[BaseModel]]:
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        return [schema]
    if isinstance(schema, dict):
        return [m for v in schema.values() for m in _models_in(v)]
    if isinstance(schema, list):
        return [m for v in schema for m in _models_in(v)]
    return []


class _Schemas:
    """Every model's JSON Schema, generated together so references resolve once."""

    def __init__(self, wanted: list[tuple[type[BaseModel], JsonSchemaMode]]) -> None:
        unique = list(dict.fromkeys(wanted))
        keyed, defs = models_json_schema(unique, ref_template=_SCHEMAS)
        self.refs = keyed
        self.components: dict[str, Any] = defs.get("$defs", {})

    def ref(self, model: type[BaseModel], mode: JsonSchemaMode) -> dict[str, Any]:
        return self.refs[(model, mode)]

    def resolve(self, schema: Any, mode: JsonSchemaMode) -> Any:
        """A hand-written schema with model classes in it, the classes turned into refs."""
        if isinstance(schema, type) and issubclass(schema, BaseModel):
            return self.ref(schema, mode)
        if isinstance(schema, dict):
            return {k: self.resolve(v, mode) for k, v in schema.items()}
        if isinstance(schema, list):
            return [self.resolve(v, mode) for v in schema]
        return schema

    def properties(self, model: type[BaseModel]) -> tuple[dict[str, Any], set[str]]:
        name = self.ref(model, "validation")["$ref"].rsplit("/", 1)[-1]
        schema = self.components[name]
        return schema.get("properties", {}), set(schema.get("required", []))


def _parameter(name: str, where: str, schema: dict[str, Any], required: bool
               ) -> dict[str, Any]:
    schema = dict(schema)
    # An optional query parameter is absent, never "null": keep only the non-null branch.
    branches = [b for b in schema.pop("anyOf", []) if b.get("type") != "null"]
    if len(branches) == 1:
        schema.update(branches[0])
    elif branches:
        schema["anyOf"] = branches
    if schema.get("default", 0) is None:
        del schema["default"]
    schema.pop("title", None)
    param: dict[str, Any] = {"name": name, "in": where, "required": required or where == "path",
                             "schema": schema}
    if "description" in schema:
        param["description"] = schema.pop("description")
    return param


def _response(status: int, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": HTTP_STATUS_CODES.get(status, "Error"),
            "content": {"application/json": {"schema": schema}}}


def build_document(app: Flask) -> dict[str, Any]:
    """The whole OpenAPI 3.1 document of `app`."""
    ops = _operations(app)
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = [(ErrorBody, "serialization")]
    for _, _, _, op in ops:
        wanted += [(m, "validation") for m in (op.path, op.query, op.body) if m is not None]
        wanted += [(m, "validation") for m in _models_in(op.raw_body)]
        wanted += [(m, "serialization") for m in (op.response, *op.extra_responses.values())
                   if m is not None]
    schemas = _Schemas(wanted)
    paths: dict[str, dict[str, Any]] = {}
    for path, method, endpoint, op in ops:
        roles = allowed_roles(endpoint)
        params = []
        for model, where in ((op.path, "path"), (op.query, "query")):
            if model is not None:
                props, required = schemas.properties(model)
                params += [_parameter(n, where, s, n in required) for n, s in props.items()]
        if op.response is not None:
            ok_content = {op.media_type: {"schema": schemas.ref(op.response, "serialization")}}
        else:
            ok_content = {op.media_type: {"schema": op.text_schema}}
        responses: dict[str, Any] = {"200": {"description": "OK", "content": ok_content}}
        statuses = set(op.errors)
        if op.path or op.query or op.body or op.raw_body:
            statuses.add(400)
        if op.body:
            statuses |= {413, 415}
        if roles is not PUBLIC:
            statuses |= {401, 403, 503}
        error = schemas.ref(ErrorBody, "serialization")
        for status in sorted(statuses):
            responses[str(status)] = _response(status, error)
        for status, model in op.extra_responses.items():
            responses[str(status)] = _response(status, schemas.ref(model, "serialization"))
        responses["default"] = {**_response(500, error), "description": "Any other error"}
        entry: dict[str, Any] = {
            "operationId": endpoint,
            "summary": op.summary,
            "tags": [op.tag],
            "parameters": params,
            "responses": responses,
            "security": [] if roles is PUBLIC else [{"bearerAuth": []}],
            "x-roles": [] if roles is PUBLIC else sorted(roles),
        }
        who = "No token needed." if roles is PUBLIC else f"Roles: {', '.join(sorted(roles))}."
        entry["description"] = f"{op.description.strip()}\n\n{who}".strip()
        if op.body is not None:
            entry["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": schemas.ref(op.body, "validation")}}}
        elif op.raw_body is not None:
            entry["requestBody"] = {"required": True, "content": {
                media: {"schema": schemas.resolve(schema, "validation")}
                for media, schema in op.raw_body.items()}}
        paths.setdefault(path, {})[method] = entry
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "archiver", "version": _package_version(),
                 "description": "Social media records archive: capture, read, prove, audit. "
                                "Every error has the shape of ErrorBody."},
        "paths": paths,
        "components": {
            "schemas": schemas.components,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                               "description": "`archiver tokens create`"}},
        },
    }


def blueprint() -> Blueprint:
    bp = Blueprint("openapi", __name__, url_prefix="/api/v1")

    @bp.get("/openapi.json", endpoint="document", provide_automatic_options=False)
    @operation(summary="This API's OpenAPI 3.1 document", tag="service",
               text_schema={"type": "object"})
    def document() -> Response:
        cache = api().cache
        if "openapi" not in cache:
            cache["openapi"] = json.dumps(build_document(current_app._get_current_object()),
                                          ensure_ascii=False)
        return Response(cache["openapi"], mimetype="application/json")

    return bp
