"""Typed operations: one decorator says what a view takes and returns, as pydantic models.

The same `Operation` validates the request (path, query, JSON body), serialises the
response, and is read back by archiver/api/openapi.py to write the OpenAPI document, so
the document cannot drift from what the code accepts. Nothing is registered globally:
the metadata rides on the view function, and the app's URL map is the route registry.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Response, g, request
from pydantic import BaseModel, ConfigDict, ValidationError
from werkzeug.exceptions import UnsupportedMediaType

from archiver.api.errors import RequestInvalid, from_validation

MAX_INT = 2**63 - 1  # the catalog's BIGINT: larger numbers are refused as input, not crashed on


class Strict(BaseModel):
    """Base of every request model: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Operation:
    """What one endpoint takes and returns; read by the router and by the OpenAPI writer."""

    summary: str
    tag: str
    path: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None  # a JSON object validated by this model
    # A body the view parses itself: media type -> JSON schema (or a model) for the document.
    raw_body: dict[str, type[BaseModel] | dict[str, Any]] | None = None
    response: type[BaseModel] | None = None
    media_type: str = "application/json"  # of the success response
    text_schema: dict[str, Any] = field(default_factory=lambda: {"type": "string"})
    errors: tuple[int, ...] = ()  # error statuses beyond the ones every operation may return
    extra_responses: dict[int, type[BaseModel]] = field(default_factory=dict)
    description: str = ""


def _parse(model: type[BaseModel], data: Any, where: str) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise from_validation(where, exc) from None


def _query_args() -> dict[str, str]:
    args = request.args.to_dict(flat=False)
    repeated = sorted(k for k, v in args.items() if len(v) > 1)
    if repeated:
        raise RequestInvalid(f"query parameter {repeated[0]!r} is given more than once",
                             {"errors": [{"in": "query", "field": k,
                                          "reason": "given more than once"} for k in repeated]})
    return {k: v[0] for k, v in args.items()}


def _refuse_nul(path_args: dict[str, Any]) -> None:
    """NUL cannot be stored or compared in PostgreSQL text: refuse it in every parameter."""
    texts = [*path_args.values(), *request.args.keys()]
    texts += [v for _, v in request.args.items(multi=True)]
    if any("\x00" in str(t) for t in texts):
        raise RequestInvalid("parameters must not contain NUL characters",
                             {"errors": [{"in": "path or query", "field": None,
                                          "reason": "contains NUL"}]})


def json_body(model: type[BaseModel]) -> BaseModel:
    """The request body as `model`: 415 unless JSON, 400 unless it parses and validates."""
    if request.mimetype != "application/json":
        raise UnsupportedMediaType("send the body as application/json")
    raw = request.get_data(cache=False)  # 413 here when it is over MAX_CONTENT_LENGTH
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestInvalid(f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        raise RequestInvalid("the body is not valid JSON: nested too deeply") from None
    return _parse(model, data, "body")


def note_resource(**ids: Any) -> None:
    """Add ids to what the audit trail records this request touched."""
    g.setdefault("audit_resource", {}).update(ids)


def _render(result: Any, op: Operation) -> Response:
    status = 200
    if isinstance(result, tuple):
        result, status = result
    if isinstance(result, Response):
        return result
    if isinstance(result, BaseModel):
        text = json.dumps(result.model_dump(mode="json"), ensure_ascii=False)
        return Response(text, status=status, mimetype="application/json")
    if isinstance(result, (str, bytes)):
        return Response(result, status=status, mimetype=op.media_type)
    raise TypeError(f"a view returned {type(result).__name__}")


def operation(**spec: Any) -> Callable[[Callable[..., Any]], Callable[..., Response]]:
    """Declare a view's models; the view receives `path=`, `query=`, `body=` parsed."""
    op = Operation(**spec)

    def wrap(fn: Callable[..., Any]) -> Callable[..., Response]:
        @functools.wraps(fn)
        def view(**path_args: Any) -> Response:
            _refuse_nul(path_args)
            kwargs: dict[str, Any] = {}
            if op.path is not None:
                kwargs["path"] = _parse(op.path, path_args, "path")
                note_resource(**kwargs["path"].model_dump(exclude_none=True))
            if op.query is not None:
                kwargs["query"] = _parse(op.query, _query_args(), "query")
                note_resource(**kwargs["query"].model_dump(mode="json", exclude_none=True))
            elif request.args:
                raise RequestInvalid("this operation takes no query parameters")
            if op.body is not None:
                kwargs["body"] = json_body(op.body)
            return _render(fn(**kwargs), op)

        view.operation = op  # type: ignore[attr-defined]
        return view

    return wrap


def operation_of(view: Callable[..., Any]) -> Operation | None:
    return getattr(view, "operation", None)
