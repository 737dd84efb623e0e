"""A small TikTok Display API v2 (open.tiktokapis.com) for the replay server: user info,
the video list (POST, `max_count`/`cursor`, `data.has_more`), video query by ids, and
the v2 error envelope.

Shapes follow developers.tiktok.com/doc (Display API: "List Videos", "Query Videos",
"Video Object", "User Info"; "Error Handling": every answer carries
`{"error": {"code", "message", "log_id"}}`, `ok` on success). Written for these tests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tests.replay.server import ReplayServer, Reply, Request

TOKEN = "act.replay-tiktok-token-for-tests!6410"
OPEN_ID = "723f24d7-e717-40f8-a2b6-cb8464cd23b4"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64


def envelope(data: Any, code: str = "ok", message: str = "") -> dict[str, Any]:
    return {"data": data, "error": {"code": code, "message": message,
                                    "log_id": "20261202013300C0FFEE0123456789AB"}}


INVALID_TOKEN = envelope({}, "access_token_invalid", "The access token is invalid or not "
                         "found in the request.")


@dataclass
class FakeTikTok:
    display_name: str = "City of Wrenfield"
    token: str = TOKEN
    videos: dict[str, dict[str, Any]] = field(default_factory=dict)   # oldest first
    seq: int = 0
    overrides: dict[str, list[Reply | None]] = field(default_factory=dict)
    _served: dict[str, int] = field(default_factory=dict)
    server: ReplayServer | None = None

    def video(self, description: str, at: datetime, title: str = "") -> str:
        self.seq += 1
        vid = str(7300000000000000000 + self.seq)
        base = self.server.url if self.server else "https://p16-sign.tiktokcdn-us.com"
        cover = f"/obj/tos-useast5-p-0068-tx/{vid}.jpeg"
        if self.server:
            self.server.route("GET", cover, Reply(200, JPEG, {"Content-Type": "image/jpeg"}))
        self.videos[vid] = {
            "id": vid, "create_time": int(at.timestamp()),
            "cover_image_url": f"{base}{cover}?x-expires=1764700000&x-signature=abc",
            "share_url": f"https://www.tiktok.com/@wrenfield/video/{vid}",
            "video_description": description, "title": title, "duration": 31,
            "height": 1024, "width": 576,
            "embed_link": f"https://www.tiktok.com/player/v1/{vid}",
            "like_count": 12, "comment_count": 0, "share_count": 1, "view_count": 342}
        return vid

    def _newest_first(self) -> list[dict[str, Any]]:
        return sorted(self.videos.values(), key=lambda v: v["create_time"], reverse=True)

    def user_info(self, req: Request) -> Reply:
        return Reply.json(envelope({"user": {"open_id": OPEN_ID,
                                             "display_name": self.display_name}}))

    def video_list(self, req: Request) -> Reply:
        body = json.loads(req.body or b"{}")
        size = body.get("max_count", 10)
        cursor = body.get("cursor")   # create_time in ms: videos older than it
        items = [v for v in self._newest_first()
                 if cursor is None or v["create_time"] * 1000 < cursor]
        chunk = items[:size]
        has_more = len(items) > size
        return Reply.json(envelope({"videos": chunk, "has_more": has_more,
                                    "cursor": chunk[-1]["create_time"] * 1000 if chunk
                                    else 0}))

    def video_query(self, req: Request) -> Reply:
        ids = json.loads(req.body or b"{}").get("filters", {}).get("video_ids", [])
        return Reply.json(envelope({"videos": [self.videos[i] for i in ids
                                               if i in self.videos]}))

    def install(self, server: ReplayServer) -> None:
        self.server = server
        routes = {("GET", "user/info"): self.user_info, ("POST", "video/list"):
                  self.video_list, ("POST", "video/query"): self.video_query}
        for (method, name), handler in routes.items():
            server.route(method, f"/v2/{name}/", self._guard(name, handler))

    def _guard(self, name: str, handler):  # noqa: ANN001, ANN202 - a route wrapper
        def route(req: Request) -> Reply:
            script = self.overrides.get(name)
            if script:
                n = self._served.get(name, 0)
                self._served[name] = n + 1
                scripted = script[min(n, len(script) - 1)]
                if scripted is not None:
                    return scripted
            if req.headers.get("authorization") != f"Bearer {self.token}":
                return Reply.json(INVALID_TOKEN, 401)
            return handler(req)
        return route
