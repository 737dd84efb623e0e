"""Models shared by several resources: the error body and the observation."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from archiver.api.routing import Strict
from archiver.records import MAX_ID_CHARS


class ErrorDetail(BaseModel):
    code: str = Field(description="A stable, machine-readable name of the error")
    message: str = Field(description="What went wrong, for people")
    details: dict[str, Any] = Field(description="Structured specifics (fields, line numbers)")


class ErrorBody(BaseModel):
    """The one shape of every error response."""

    error: ErrorDetail


class Author(Strict):
    id: str | None = None
    handle: str | None = None
    name: str | None = None


_Id = Field(min_length=1, max_length=MAX_ID_CHARS)
_Short = Field(min_length=1, max_length=64)


class ObservationIn(Strict):
    """What a collector saw of one item at one moment (docs/observation.md).

    Ingest checks each observation with `archiver.records.parse_observation`, the rule
    `archiver ingest` applies; this model describes that rule for the OpenAPI document,
    and a test holds the two to agreement.
    """

    platform: str = _Short
    account: str = _Id
    item_id: str = _Id
    kind: str = _Short
    text: str | None = None
    author: Author | None = None
    parent_id: str | None = None
    published_at: str | None = Field(None, description="RFC 3339 with an offset",
                                     json_schema_extra={"format": "date-time"})
    observed_at: str | None = Field(None, description="RFC 3339 with an offset",
                                    json_schema_extra={"format": "date-time"})
    url: str | None = None
    lang: str | None = None
    media: list[dict[str, Any]] | None = None
    raw: Any = None
    event: Literal["deleted", "hidden"] | None = None
    reason: Literal["removed_by_account", "removed_by_platform", "account_suspended",
                    "account_deactivated", "made_private"] | None = Field(
        None, description="Why the item vanished, where the platform says (deleted only)")
