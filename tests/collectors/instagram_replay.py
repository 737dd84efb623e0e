"""A small Instagram Graph API on the replay server: the professional account, its media
(carousels with children), comments with nested `replies` and `hidden`, and deletions
answered with error 100 / subcode 33.

Shapes follow developers.facebook.com/docs/instagram-platform and the recorded answers in
sns-sdks/python-facebook `testdata/instagram/apidata/` (`users/medias_p1.json`: media with
`media_type`, `media_url`, `permalink`, `timestamp`, cursor paging; `comments/
comment_fields.json`: `text`, `timestamp`, `username`). The content is written here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tests.collectors.facebook_replay import EXPIRED, VERSION, gone, graph_time
from tests.replay.server import ReplayServer, Reply, Request

TOKEN = "EAAGreplay-page-token-for-instagram"
IG_ID = "17841405822304914"


@dataclass
class FakeInstagram:
    server: ReplayServer
    username: str = "wrenfieldcity"
    name: str = "City of Wrenfield"
    token: str = TOKEN
    media: dict[str, dict[str, Any]] = field(default_factory=dict)
    comments: dict[str, dict[str, Any]] = field(default_factory=dict)
    media_of: dict[str, str] = field(default_factory=dict)     # comment id -> media id
    deleted: set[str] = field(default_factory=set)
    page_size: int = 25
    seq: int = 0

    def __post_init__(self) -> None:
        self._route(IG_ID, self._user)
        self._route(f"{IG_ID}/media", self._media)
        self._route("debug_token", lambda r: Reply.json({"data": {
            "app_id": "1234567890", "type": "PAGE", "is_valid": True, "expires_at": 0,
            "data_access_expires_at": 0, "scopes": ["instagram_basic",
                                                    "instagram_manage_comments"]}}))

    def _route(self, tail: str, handler: Any) -> None:
        def guarded(req: Request) -> Reply:
            if req.headers.get("authorization") != f"Bearer {self.token}":
                return Reply.json(EXPIRED, 400)
            return handler(req)
        self.server.route("GET", f"/{VERSION}/{tail}", guarded)

    def _id(self) -> str:
        self.seq += 1
        return str(17900000000000000 + self.seq)

    def post(self, caption: str, at: datetime, *, urls: list[str] | None = None) -> str:
        """An IMAGE with one URL, a CAROUSEL_ALBUM with several."""
        media_id = self._id()
        urls = urls or [f"https://scontent.cdninstagram.com/v/{media_id}.jpg"]
        obj: dict[str, Any] = {
            "id": media_id, "caption": caption, "comments_count": 0, "like_count": 4,
            "media_product_type": "FEED", "permalink": f"https://www.instagram.com/p/C{media_id[-6:]}/",
            "shortcode": f"C{media_id[-6:]}", "timestamp": graph_time(at),
            "username": self.username}
        if len(urls) == 1:
            obj.update(media_type="IMAGE", media_url=urls[0])
        else:
            obj["media_type"] = "CAROUSEL_ALBUM"
            obj["media_url"] = urls[0]
            obj["children"] = {"data": [{"id": self._id(), "media_type": "IMAGE",
                                         "media_url": u} for u in urls]}
        self.media[media_id] = obj
        self._route(media_id, self._object)
        self._route(f"{media_id}/comments", self._comments)
        return media_id

    def comment(self, on: str, text: str, at: datetime, *, by: str,
                hidden: bool = False) -> str:
        media_id = self.media_of.get(on, on)
        comment_id = self._id()
        obj: dict[str, Any] = {"id": comment_id, "text": text, "timestamp": graph_time(at),
                               "username": by, "hidden": hidden, "like_count": 0,
                               "from": {"id": IG_ID if by == self.username else
                                        str(10**15 + sum(map(ord, by))), "username": by}}
        if on in self.comments:
            obj["parent_id"] = on
        self.comments[comment_id] = obj
        self.media_of[comment_id] = media_id
        self._route(comment_id, self._object)
        self._route(f"{comment_id}/replies", self._replies)
        self.media[media_id]["comments_count"] += 1
        return comment_id

    def edit_caption(self, media_id: str, caption: str) -> None:
        self.media[media_id]["caption"] = caption

    def _user(self, req: Request) -> Reply:
        return Reply.json({"id": IG_ID, "username": self.username, "name": self.name})

    def _object(self, req: Request) -> Reply:
        object_id = req.path.rsplit("/", 1)[1]
        if object_id in self.deleted or self.media_of.get(object_id) in self.deleted:
            return Reply.json(gone(object_id), 400)
        return Reply.json(self.media.get(object_id) or self.comments[object_id])

    def _page(self, items: list[dict[str, Any]], req: Request) -> dict[str, Any]:
        start = int(req.arg("after") or 0)
        chunk = items[start:start + self.page_size]
        body: dict[str, Any] = {"data": chunk}
        if items:
            body["paging"] = {"cursors": {"before": f"b{start}",
                                          "after": str(start + len(chunk))}}
            if start + len(chunk) < len(items):
                body["paging"]["next"] = (f"https://graph.facebook.com/{VERSION}{req.path}?"
                                          f"access_token=leaked&after={start + len(chunk)}")
        return body

    def _media(self, req: Request) -> Reply:
        alive = sorted((m for mid, m in self.media.items() if mid not in self.deleted),
                       key=lambda m: m["timestamp"], reverse=True)
        return Reply.json(self._page(alive, req))

    def _alive_comments(self, media_id: str, parent: str | None) -> list[dict[str, Any]]:
        return [c for cid, c in self.comments.items()
                if self.media_of[cid] == media_id and c.get("parent_id") == parent
                and cid not in self.deleted]

    def _comments(self, req: Request) -> Reply:
        media_id = req.path.split("/")[2]
        out = []
        for c in self._alive_comments(media_id, None):
            replies = self._alive_comments(media_id, c["id"])
            shown = {**c}
            if replies:   # the nested edge answers its first page inline
                first = replies[:self.page_size]
                shown["replies"] = {"data": first}
                if len(replies) > len(first):
                    shown["replies"]["paging"] = {
                        "cursors": {"after": str(len(first))},
                        "next": f"https://graph.facebook.com/{VERSION}/{c['id']}/replies?"
                                f"after={len(first)}"}
            out.append(shown)
        return Reply.json(self._page(out, req))

    def _replies(self, req: Request) -> Reply:
        comment_id = req.path.split("/")[2]
        media_id = self.media_of[comment_id]
        return Reply.json(self._page(self._alive_comments(media_id, comment_id), req))
