"""A small Graph API for Facebook Pages on the replay server: the Page, its published and
visitor posts, comment streams with `is_hidden`, `debug_token`, and deletions answered
with error 100 / subcode 33, in the documented shapes.

Shapes follow developers.facebook.com/docs/graph-api and the recorded answers in
sns-sdks/python-facebook `testdata/facebook/apidata/` (posts `feed_fields_p1.json`: time-
paged `paging.next` with `until`/`__paging_token`; comments `comments_p1.json`: cursor
paging, `summary`), `testdata/base/token_info.json` (debug_token) and `error_data.json`
(the error object). The content is written here for these tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.replay.server import ReplayServer, Reply, Request

VERSION = "v21.0"
TOKEN = "EAAGreplay-page-token-for-tests"
PAGE_ID = "104612345678901"


def graph_time(moment: datetime) -> str:
    """Graph's time form: `2024-03-14T10:03:55+0000`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def gone(object_id: str) -> dict[str, Any]:
    """What Graph answers (HTTP 400) for an object that was deleted."""
    return {"error": {
        "message": (f"Unsupported get request. Object with ID '{object_id}' does not exist, "
                    f"cannot be loaded due to missing permissions, or does not support this "
                    f"operation. Please read the Graph API documentation at "
                    f"https://developers.facebook.com/docs/graph-api"),
        "type": "GraphMethodException", "code": 100, "error_subcode": 33,
        "fbtrace_id": "AbCdEfGh123"}}


EXPIRED = {"error": {
    "message": "Error validating access token: Session has expired on Tuesday, 12-Mar-24 "
               "10:00:00 PDT. The current time is Thursday, 14-Mar-24 05:00:00 PDT.",
    "type": "OAuthException", "code": 190, "error_subcode": 463,
    "fbtrace_id": "A1b2C3d4E5f"}}


def page_limit(minutes: int) -> Reply:
    """A Page rate limit (code 32) with the business use case usage header."""
    usage = ('{"' + PAGE_ID + '":[{"type":"pages","call_count":100,"total_cputime":20,'
             '"total_time":30,"estimated_time_to_regain_access":' + str(minutes) + '}]}')
    return Reply.json({"error": {"message": "(#32) Page request limit reached",
                                 "type": "OAuthException", "code": 32,
                                 "fbtrace_id": "Aq1w2e3r4t"}}, 400,
                      {"X-Business-Use-Case-Usage": usage})


@dataclass
class FakePage:
    """The Page's state; every object gets its route when it is made."""

    server: ReplayServer
    name: str = "City of Wrenfield"
    username: str = "WrenfieldCity"
    token: str = TOKEN
    token_valid: bool = True
    expires_at: int = 0                      # 0: a long-lived Page token that never expires
    data_access_expires_at: int = 0
    posts: dict[str, dict[str, Any]] = field(default_factory=dict)
    edge: dict[str, str] = field(default_factory=dict)          # post id -> its edge
    comments: dict[str, dict[str, Any]] = field(default_factory=dict)
    post_of: dict[str, str] = field(default_factory=dict)       # comment id -> post id
    deleted: set[str] = field(default_factory=set)
    page_size: int = 25
    seq: int = 0

    def __post_init__(self) -> None:
        self._route(PAGE_ID, self._page)
        self._route("debug_token", self._debug_token)
        self._route(f"{PAGE_ID}/published_posts", lambda r: self._posts(r, "published_posts"))
        self._route(f"{PAGE_ID}/visitor_posts", lambda r: self._posts(r, "visitor_posts"))

    def path(self, tail: str) -> str:
        return f"/{VERSION}/{tail}"

    def _route(self, tail: str, handler: Any) -> None:
        def guarded(req: Request) -> Reply:
            if req.headers.get("authorization") != f"Bearer {self.token}":
                return Reply.json(EXPIRED, 400)
            if "access_token" in req.query:
                return Reply.json({"error": {"message": "token in the URL", "code": 1}}, 400)
            return handler(req)
        self.server.route("GET", self.path(tail), guarded)

    def _id(self) -> str:
        self.seq += 1
        return f"{1000000000000 + self.seq}"

    # -- building the state ------------------------------------------------------------

    def post(self, message: str, at: datetime, *, visitor: tuple[str, str] | None = None,
             photo: str | None = None) -> str:
        post_id = f"{PAGE_ID}_{self._id()}"
        who = {"id": visitor[0], "name": visitor[1]} if visitor else \
            {"id": PAGE_ID, "name": self.name}
        obj: dict[str, Any] = {
            "id": post_id, "message": message, "created_time": graph_time(at),
            "updated_time": graph_time(at), "from": who,
            "permalink_url": f"https://www.facebook.com/{PAGE_ID}/posts/{post_id.split('_')[1]}",
            "status_type": "added_photos" if photo else "mobile_status_update",
            "is_hidden": False}
        if photo:
            obj["attachments"] = {"data": [{
                "media_type": "photo", "type": "photo", "description": "Mafuriko",
                "media": {"image": {"height": 720, "width": 960, "src": photo}},
                "target": {"id": self._id(), "url": "https://www.facebook.com/photo"},
                "url": "https://www.facebook.com/photo"}]}
        self.posts[post_id] = obj
        self.edge[post_id] = "visitor_posts" if visitor else "published_posts"
        self._route(post_id, self._object)
        self._route(f"{post_id}/comments", self._comments)
        return post_id

    def comment(self, on: str, message: str, at: datetime, *, by: tuple[str, str],
                hidden: bool = False) -> str:
        """A comment on a post, or a reply when `on` is a comment id."""
        post_id = self.post_of.get(on, on)
        comment_id = f"{post_id.split('_')[1]}_{self._id()}"
        obj: dict[str, Any] = {
            "id": comment_id, "message": message, "created_time": graph_time(at),
            "from": {"id": by[0], "name": by[1]}, "is_hidden": hidden,
            "permalink_url": f"https://www.facebook.com/{PAGE_ID}/posts/"
                             f"{post_id.split('_')[1]}/?comment_id={comment_id}"}
        if on in self.comments:
            obj["parent"] = {"id": on, "created_time": self.comments[on]["created_time"],
                             "message": self.comments[on]["message"]}
        self.comments[comment_id] = obj
        self.post_of[comment_id] = post_id
        self._route(comment_id, self._object)
        return comment_id

    def edit(self, object_id: str, message: str, at: datetime) -> None:
        target = self.posts.get(object_id) or self.comments[object_id]
        target["message"] = message
        if object_id in self.posts:
            target["updated_time"] = graph_time(at)

    def hide(self, object_id: str, hidden: bool = True) -> None:
        (self.posts.get(object_id) or self.comments[object_id])["is_hidden"] = hidden

    def delete(self, object_id: str) -> None:
        self.deleted.add(object_id)

    # -- answering, as Graph does --------------------------------------------------------

    def _page(self, req: Request) -> Reply:
        return Reply.json({"id": PAGE_ID, "name": self.name, "username": self.username,
                           "link": f"https://www.facebook.com/{self.username}"})

    def _debug_token(self, req: Request) -> Reply:
        data: dict[str, Any] = {
            "app_id": "1234567890", "type": "PAGE", "application": "Wrenfield Archive",
            "data_access_expires_at": self.data_access_expires_at,
            "expires_at": self.expires_at, "is_valid": self.token_valid,
            "profile_id": PAGE_ID,
            "scopes": ["pages_show_list", "pages_read_engagement",
                       "pages_read_user_content", "pages_manage_engagement"],
            "user_id": "10224876543210987"}
        return Reply.json({"data": data})

    def _object(self, req: Request) -> Reply:
        object_id = req.path.rsplit("/", 1)[1]
        if object_id in self.deleted:
            return Reply.json(gone(object_id), 400)
        return Reply.json(self.posts.get(object_id) or self.comments[object_id])

    def _posts(self, req: Request, edge: str) -> Reply:
        since = int(req.arg("since") or 0)
        until = int(req.arg("until")) if req.arg("until") else None
        alive = sorted((p for pid, p in self.posts.items()
                        if self.edge[pid] == edge and pid not in self.deleted),
                       key=lambda p: (p["created_time"], p["id"]), reverse=True)
        stamps = [int(datetime.strptime(p["created_time"], "%Y-%m-%dT%H:%M:%S%z").timestamp())
                  for p in alive]
        chosen = [p for p, s in zip(alive, stamps, strict=True)
                  if s >= since and (until is None or s < until)]
        chunk = chosen[:self.page_size]
        body: dict[str, Any] = {"data": chunk}
        if len(chosen) > len(chunk):   # time paging, as the post edges answer
            last = int(datetime.strptime(chunk[-1]["created_time"],
                                         "%Y-%m-%dT%H:%M:%S%z").timestamp())
            body["paging"] = {
                "previous": f"https://graph.facebook.com/{VERSION}/{PAGE_ID}/{edge}?"
                            f"access_token=leaked&since={since}&__previous=1",
                "next": f"https://graph.facebook.com/{VERSION}/{PAGE_ID}/{edge}?"
                        f"access_token=leaked&limit={self.page_size}&until={last}"
                        f"&__paging_token=enc_{last}"}
        return Reply.json(body)

    def _comments(self, req: Request) -> Reply:
        post_id = req.path.split("/")[2]
        if post_id in self.deleted:
            return Reply.json(gone(post_id), 400)
        every = [c for cid, c in self.comments.items()
                 if self.post_of[cid] == post_id and cid not in self.deleted]
        start = int(req.arg("after", "0") or 0)
        chunk = every[start:start + self.page_size]
        body: dict[str, Any] = {"data": chunk, "summary": {
            "order": "chronological", "total_count": len(every), "can_comment": True}}
        if every:
            body["paging"] = {"cursors": {"before": str(start), "after": str(start + len(chunk))}}
            if start + len(chunk) < len(every):
                body["paging"]["next"] = (f"https://graph.facebook.com/{VERSION}/{post_id}/"
                                          f"comments?access_token=leaked&filter=stream"
                                          f"&after={start + len(chunk)}")
        return Reply.json(body)
