"""A small Threads API (graph.threads.net/v1.0) for the replay server: the profile, the
user's threads with cursor paging, flattened conversations with `hide_status` and
`replied_to`, direct fetches, and the Graph error bodies.

Shapes follow developers.facebook.com/docs/threads (Threads Media `{"data": [...],
"paging": {"cursors": {"before", "after"}, "next"}}`, Reply Management's
`/conversation` fields, and Graph errors `{"error": {"message", "type", "code",
"error_subcode", "fbtrace_id"}}`). The data is written here for these tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.replay.server import ReplayServer, Reply, Request

TOKEN = "THAAreplay-threads-token-for-tests"
USER_ID = "17841401234567890"
PATH = "/v1.0"


def api_time(moment: datetime) -> str:
    """Threads writes `timestamp` as ISO 8601 with a +0000 offset."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def gone(object_id: str) -> dict[str, Any]:
    return {"error": {"message": f"Unsupported get request. Object with ID '{object_id}' "
                      "does not exist, cannot be loaded due to missing permissions, or "
                      "does not support this operation.", "type": "THApiException",
                      "code": 100, "error_subcode": 33, "fbtrace_id": "AReplayTrace01"}}


EXPIRED = {"error": {"message": "Error validating access token: Session has expired on "
                     "Tuesday, 01-Dec-26 10:00:00 PST.", "type": "OAuthException",
                     "code": 190, "error_subcode": 463, "fbtrace_id": "AReplayTrace02"}}


@dataclass
class FakeThreads:
    username: str = "wrenfield.city"
    name: str = "City of Wrenfield"
    token: str = TOKEN
    posts: dict[str, dict[str, Any]] = field(default_factory=dict)     # oldest first
    replies: dict[str, dict[str, Any]] = field(default_factory=dict)
    root: dict[str, str] = field(default_factory=dict)                 # reply -> post
    page_size: int = 2
    seq: int = 0
    overrides: dict[str, list[Reply | None]] = field(default_factory=dict)
    _served: dict[str, int] = field(default_factory=dict)
    server: ReplayServer | None = None

    def _id(self) -> str:
        self.seq += 1
        return f"1800{self.seq:014d}"

    def post(self, text: str, at: datetime) -> str:
        pid = self._id()
        self.posts[pid] = {"id": pid, "media_product_type": "THREADS", "media_type":
                           "TEXT_POST", "permalink": f"https://www.threads.net/@"
                           f"{self.username}/post/C{pid[-6:]}", "username": self.username,
                           "text": text, "timestamp": api_time(at), "shortcode":
                           f"C{pid[-6:]}", "is_quote_post": False}
        self._expose(pid, f"{pid}/conversation")
        return pid

    def reply(self, parent: str, text: str, at: datetime, *,
              username: str = "amina.mwangi") -> str:
        rid = self._id()
        post = parent if parent in self.posts else self.root[parent]
        self.root[rid] = post
        self.replies[rid] = {"id": rid, "text": text, "timestamp": api_time(at),
                             "username": username, "permalink":
                             f"https://www.threads.net/@{username}/post/R{rid[-6:]}",
                             "media_type": "TEXT_POST", "hide_status": "NOT_HUSHED",
                             "replied_to": {"id": parent}, "root_post": {"id": post},
                             "is_reply": True,
                             "is_reply_owned_by_me": username == self.username}
        self._expose(rid)
        return rid

    def delete(self, item_id: str) -> None:
        """A deleted post or reply takes the replies below it with it."""
        self.posts.pop(item_id, None)
        self.replies.pop(item_id, None)
        for rid, r in list(self.replies.items()):
            if r["replied_to"]["id"] == item_id:
                self.delete(rid)

    def _paged(self, items: list[dict[str, Any]], req: Request, path: str) -> Reply:
        start = int(req.arg("after") or 0)
        size = min(int(req.arg("limit") or 25), self.page_size)
        chunk = items[start:start + size]
        body: dict[str, Any] = {"data": chunk}
        if chunk:
            body["paging"] = {"cursors": {"before": str(start), "after": str(start + size)}}
            if start + size < len(items):
                body["paging"]["next"] = f"https://graph.threads.net/v1.0{path}?after=" \
                                         f"{start + size}"
        return Reply.json(body)

    def answer(self, req: Request) -> Reply:
        path = req.path.removeprefix(PATH)
        parts = path.strip("/").split("/")
        if parts == [USER_ID]:
            return Reply.json({"id": USER_ID, "username": self.username, "name": self.name,
                               "threads_biography": "Habari rasmi"})
        if parts == [USER_ID, "threads"]:
            since = req.arg("since")
            items = [p for p in reversed(self.posts.values())
                     if since is None or datetime.strptime(p["timestamp"],
                                                           "%Y-%m-%dT%H:%M:%S%z")
                     .timestamp() >= int(since)]
            return self._paged(items, req, path)
        if len(parts) == 2 and parts[1] == "conversation":
            if parts[0] not in self.posts:
                return Reply.json(gone(parts[0]), 400)
            items = [r for rid, r in self.replies.items() if self.root[rid] == parts[0]]
            return self._paged(items, req, path)
        if len(parts) == 1:
            item = self.posts.get(parts[0]) or self.replies.get(parts[0])
            return Reply.json(item) if item else Reply.json(gone(parts[0]), 400)
        return Reply.json(gone(parts[-1]), 400)

    def _route(self, req: Request) -> Reply:
        script = self.overrides.get(req.path.removeprefix(PATH))
        if script:
            n = self._served.get(req.path, 0)
            self._served[req.path] = n + 1
            scripted = script[min(n, len(script) - 1)]
            if scripted is not None:
                return scripted
        if req.arg("access_token") != self.token:
            return Reply.json(EXPIRED, 400)
        return self.answer(req)

    def _expose(self, *paths: str) -> None:
        """Route these paths (the replay server matches exact paths)."""
        if self.server is not None:
            for p in paths:
                self.server.route("GET", f"{PATH}/{p}", self._route)

    def install(self, server: ReplayServer) -> None:
        self.server = server
        self._expose(USER_ID, f"{USER_ID}/threads")
