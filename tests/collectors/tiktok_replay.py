"""A small TikTok Display API v2 (open.tiktokapis.com) for the replay server: user info,
the video list (POST, `max_count`/`cursor`, `data.has_more`), video query by ids, and
the v2 error envelope.

With `business=True` it also serves TikTok API for Business v1.3 comments
(`/open_api/v1.3/business/comment/list/` and `.../comment/reply/list/`, header
`Access-Token`, envelope `{"code": 0, "message": "OK", "request_id", "data"}`, HTTP 200
also for errors), shaped as sns-sdks/python-tiktok's `BusinessComment`/`BusinessCommentsData`.

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
BUSINESS_TOKEN = "act.replay-business-token-for-tests!0711"
BUSINESS_ID = "-000KuxgJQdwA0sNfpP1Dtp6mv84ZHvAtfOJ"
BUSINESS_PATH = "/open_api/v1.3"
OPEN_ID = "723f24d7-e717-40f8-a2b6-cb8464cd23b4"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64


def envelope(data: Any, code: str = "ok", message: str = "") -> dict[str, Any]:
    return {"data": data, "error": {"code": code, "message": message,
                                    "log_id": "20261202013300C0FFEE0123456789AB"}}


def business(data: Any, code: int = 0, message: str = "OK") -> dict[str, Any]:
    return {"code": code, "message": message, "request_id": "2026120202500000C0FFEE",
            "data": data}


BUSINESS_REVOKED = business({}, 40105, "Access token is incorrect or has been revoked.")

INVALID_TOKEN = envelope({}, "access_token_invalid", "The access token is invalid or not "
                         "found in the request.")


@dataclass
class FakeTikTok:
    display_name: str = "City of Wrenfield"
    token: str = TOKEN
    videos: dict[str, dict[str, Any]] = field(default_factory=dict)   # oldest first
    seq: int = 0
    overrides: dict[str, list[Reply | None]] = field(default_factory=dict)
    business_token: str = BUSINESS_TOKEN
    comments: dict[str, dict[str, Any]] = field(default_factory=dict)  # oldest first
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

    def comment(self, video_id: str, text: str, at: datetime, *, parent: str | None = None,
                owner: bool = False, user: str = "amani.k") -> str:
        """A comment on `video_id` (a reply when `parent` is a comment id)."""
        self.seq += 1
        cid = str(7400000000000000000 + self.seq)
        self.comments[cid] = {
            "comment_id": cid, "video_id": video_id,
            "user_id": "owner-open-id" if owner else f"uid-{user}",
            "create_time": int(at.timestamp()), "text": text, "likes": 0, "replies": 0,
            "owner": owner, "liked": False, "pinned": False, "status": "PUBLIC",
            "username": "wrenfield" if owner else user,
            "display_name": "City of Wrenfield" if owner else user.title(),
            "profile_image": "https://p16-sign.tiktokcdn-us.com/avatar.jpeg",
            "parent_comment_id": parent}
        if parent is not None:
            self.comments[parent]["replies"] += 1
        return cid

    def _comment_page(self, req: Request, items: list[dict[str, Any]]) -> Reply:
        if req.arg("business_id") != BUSINESS_ID:
            return Reply.json(business({}, 40002, "business_id is invalid"))
        if req.arg("status") != "ALL":
            items = [c for c in items if c["status"] == "PUBLIC"]
        start = int(req.arg("cursor") or 0)
        size = int(req.arg("max_count") or 20)
        chunk = items[start:start + size]
        return Reply.json(business({"comments": chunk, "cursor": start + len(chunk),
                                    "has_more": start + size < len(items)}))

    def comment_list(self, req: Request) -> Reply:
        vid = req.arg("video_id")
        return self._comment_page(req, [c for c in self.comments.values()
                                        if c["video_id"] == vid
                                        and c["parent_comment_id"] is None])

    def reply_list(self, req: Request) -> Reply:
        parent = req.arg("comment_id")
        return self._comment_page(req, [c for c in self.comments.values()
                                        if c["parent_comment_id"] == parent
                                        and c["video_id"] == req.arg("video_id")])

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
        for name, handler in (("comment/list", self.comment_list),
                              ("comment/reply/list", self.reply_list)):
            server.route("GET", f"{BUSINESS_PATH}/business/{name}/",
                         self._guard(name, handler, business=True))

    def _guard(self, name: str, handler, business: bool = False):  # noqa: ANN001, ANN202
        def route(req: Request) -> Reply:
            script = self.overrides.get(name)
            if script:
                n = self._served.get(name, 0)
                self._served[name] = n + 1
                scripted = script[min(n, len(script) - 1)]
                if scripted is not None:
                    return scripted
            if business:
                if req.headers.get("access-token") != self.business_token:
                    return Reply.json(BUSINESS_REVOKED)
                return handler(req)
            if req.headers.get("authorization") != f"Bearer {self.token}":
                return Reply.json(INVALID_TOKEN, 401)
            return handler(req)
        return route
