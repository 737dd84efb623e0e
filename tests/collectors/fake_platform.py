"""A small platform for the framework's tests: a real `Collector` over a replay server.

`FakeSocial` is the platform's state (posts, comments, what is deleted); `serve` puts it
behind a `ReplayServer` with three endpoints in a minimal shape of our own:

    GET /api/timeline?since=N      {"posts": [...], "window": {"start", "end"}, "next": N}
    GET /api/thread/<post id>      {"comments": [...]}
    GET /api/items/<id>            the item, or 404 {"error": "Record not found"}

`FakeCollector` lists the timeline, fetches the thread of every post in the window, and
looks items up one by one; authentication is a bearer token compared by the server, so
expired tokens are a state change (`platform.token = "new"`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from archiver.collectors.protocol import AccountConfig, Harvest, KnownItem
from archiver.collectors.transport import Transport, TransportSettings
from archiver.errors import MalformedResponse
from archiver.records import Observation
from tests.replay.server import ReplayServer, Reply, Request

PLATFORM = "fakesocial"
ACCOUNT = "4242"
TOKEN = "tok-7f3a9c-SECRET-e1d2"   # any echo of it in output, logs or the log is a leak


@dataclass
class FakeSocial:
    token: str = TOKEN
    posts: dict[str, dict[str, Any]] = field(default_factory=dict)
    comments: dict[str, dict[str, Any]] = field(default_factory=dict)
    window: tuple[str, str] = ("2026-01-01T00:00:00Z", "2026-12-31T23:59:59Z")
    # scripted answers instead of the state's (429, an HTML page...)
    timeline_override: list[Reply] | None = None
    lookup_override: list[Reply] | None = None

    server: ReplayServer | None = None

    def post(self, pid: str, text: str, published: str) -> None:
        self.posts[pid] = {"id": pid, "text": text, "published": published}
        self._route(pid)

    def comment(self, cid: str, parent: str, text: str, published: str) -> None:
        self.comments[cid] = {"id": cid, "parent": parent, "text": text,
                              "published": published, "author": "public-1"}
        self._route(cid)

    def _route(self, item_id: str) -> None:
        if self.server is not None:
            self.server.route("GET", f"/api/thread/{item_id}", self._thread_or_item)
            self.server.route("GET", f"/api/items/{item_id}", self._thread_or_item)

    def delete(self, item_id: str) -> None:
        self.posts.pop(item_id, None)
        self.comments.pop(item_id, None)

    def _authorised(self, req: Request) -> bool:
        return req.headers.get("authorization") == f"Bearer {self.token}"

    def serve(self, server: ReplayServer) -> None:
        def timeline(req: Request) -> Reply | list[Reply]:
            if self.timeline_override is not None:
                return self.timeline_override
            if not self._authorised(req):
                return Reply.json({"error": "The access token expired"}, 401)
            return Reply.json({"posts": sorted(self.posts.values(), key=lambda p: p["id"]),
                               "window": {"start": self.window[0], "end": self.window[1]},
                               "next": len(self.posts)})

        self.server = server
        server.route("GET", "/api/timeline", timeline)
        for item_id in [*self.posts, *self.comments]:
            self._route(item_id)

    def _thread_or_item(self, req: Request) -> Reply | list[Reply]:
        if not self._authorised(req):
            return Reply.json({"error": "The access token expired"}, 401)
        kind, _, item_id = req.path.removeprefix("/api/").partition("/")
        if kind == "thread":
            return Reply.json({"comments": [c for c in self.comments.values()
                                            if c["parent"] == item_id]})
        if self.lookup_override is not None:
            return self.lookup_override
        item = self.posts.get(item_id) or self.comments.get(item_id)
        if item is None:
            return Reply.json({"error": "Record not found", "id": item_id}, 404)
        return Reply.json(item)


def _obs(account: AccountConfig, item: dict[str, Any], *, kind: str,
         event: str | None = None, raw: Any = None) -> Observation:
    media = [{"id": m["id"], "url": m["url"]} for m in item.get("media", [])]
    return Observation(platform=PLATFORM, account=account.platform_id, item_id=item["id"],
                       kind=kind, text=item.get("text"), parent_id=item.get("parent"),
                       published_at=item.get("published"), raw=raw if raw is not None else item,
                       event=event, media=media)


class FakeCollector:
    """Implements archiver.collectors.protocol.Collector for `FakeSocial`."""

    platform: ClassVar[str] = PLATFORM

    def _headers(self, account: AccountConfig) -> dict[str, str]:
        return {"Authorization": f"Bearer {account.credentials.get('token', '')}"}

    def harvest(self, account: AccountConfig, http: Transport, cursor: Mapping[str, Any],
                known: Sequence[KnownItem]) -> Harvest:
        page = http.get_json(f"{account.base_url}/api/timeline",
                             params={"since": cursor.get("since", 0)},
                             headers=self._headers(account))
        if not isinstance(page, dict) or not isinstance(page.get("posts"), list):
            raise MalformedResponse("timeline: no posts array")
        h = Harvest(window_start=page["window"]["start"], window_end=page["window"]["end"],
                    cursor={"since": page["next"]})
        for post in page["posts"]:
            h.observations.append(_obs(account, post, kind="post"))
            h.listed.add(post["id"])
            thread = http.get_json(f"{account.base_url}/api/thread/{post['id']}",
                                   headers=self._headers(account))
            for c in thread["comments"]:
                h.observations.append(_obs(account, c, kind="comment"))
                h.listed.add(c["id"])
            h.threads.add(post["id"])
        h.notes.append(f"{len(page['posts'])} posts listed")
        return h

    def lookup(self, account: AccountConfig, http: Transport,
               items: Sequence[KnownItem]) -> list[Observation]:
        out = []
        for k in items:
            r = http.get(f"{account.base_url}/api/items/{k.item_id}",
                         headers=self._headers(account), accept=(404,))
            body = r.json()
            if r.status == 404:
                out.append(Observation(platform=PLATFORM, account=account.platform_id,
                                       item_id=k.item_id, kind=k.kind, parent_id=k.parent_id,
                                       event="deleted", raw={"status": 404, "body": body}))
            else:
                out.append(_obs(account, body, kind=k.kind))
        return out


def quick_transport() -> Transport:
    """No real sleeping: retries and rate-limit waits are recorded, not slept."""
    slept: list[float] = []
    t = Transport(TransportSettings(retries=1, backoff=0.01, max_wait=5),
                  sleep=slept.append)
    t.slept = slept  # type: ignore[attr-defined]
    return t
