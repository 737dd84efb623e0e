"""GET /api/v1/media/{media_id}: a stored media file, decrypted, with its type and ETag."""

from __future__ import annotations

from flask import Blueprint, Response, request
from pydantic import Field

from archiver.api.context import api
from archiver.api.routing import Strict, operation
from archiver.log.reader import read_media

# Served as stored only when the type is one the collectors keep; anything else (a file
# stored through another path) goes out as bytes a browser will not render.
_INLINE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp",
                           "video/mp4", "video/quicktime", "video/webm"})


class MediaPath(Strict):
    media_id: str = Field(pattern=r"^[0-9a-f]{32}$",
                          description="The id in the record's media entry "
                                      "(\"object\": \"media/<id>\")")


def blueprint() -> Blueprint:
    bp = Blueprint("media", __name__, url_prefix="/api/v1/media")

    @bp.get("/<media_id>", provide_automatic_options=False)
    @operation(summary="A media file, decrypted (ETag: its SHA-256)", tag="items",
               path=MediaPath, media_type="application/octet-stream",
               text_schema={"type": "string", "format": "binary"}, errors=(404,))
    def get_media(path: MediaPath) -> Response:
        media = read_media(api().archive.appender, path.media_id)
        mime = media.mime if media.mime in _INLINE_TYPES else "application/octet-stream"
        response = Response(media.data, mimetype=mime)
        response.set_etag(media.sha256)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Content-Security-Policy"] = "sandbox"
        response.headers["Cache-Control"] = "private, no-store"
        # If-None-Match -> 304; Range -> 206, so a player can seek in a video.
        return response.make_conditional(request, accept_ranges=True,
                                         complete_length=len(media.data))

    return bp
