"""What one app instance works with, attached to the app (never a module global)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import current_app

if TYPE_CHECKING:
    from archiver.api.metrics import ApiMetrics
    from archiver.config import Settings
    from archiver.search.whoosh_engine import SearchIndex
    from archiver.wiring import Archive

EXTENSION = "archiver"


@dataclass
class ApiContext:
    settings: Settings
    archive: Archive
    metrics: ApiMetrics
    index: SearchIndex  # read only: web workers never write the search index
    cache: dict[str, Any] = field(default_factory=dict)  # per-app memo (the OpenAPI document)


def api() -> ApiContext:
    """The context of the app handling the current request."""
    return current_app.extensions[EXTENSION]
