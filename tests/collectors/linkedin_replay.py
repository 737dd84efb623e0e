"""A small LinkedIn Community Management API (api.linkedin.com/rest) for the replay
server: an organization, its posts (`q=author`, start/count paging), comments and
replies through `socialActions`, direct fetches, and LinkedIn's error bodies.

Shapes follow learn.microsoft.com/linkedin/marketing/community-management (Posts API:
`id`, `author`, `commentary`, `visibility`, `lifecycleState`, `createdAt`,
`publishedAt`, `lastModifiedAt` in epoch ms; Comments API: `actor`, `commentUrn`,
`created`/`lastModified` `{actor, time}`, `message.text`, `object`, `parentComment`,
`commentsSummary`; errors `{"status", "serviceErrorCode", "code", "message"}`). The
data is written here for these tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote, unquote

from tests.replay.server import ReplayServer, Reply, Request

TOKEN = "AQXreplay-linkedin-token-for-tests"
ORG_ID = "5515715"
ORG = f"urn:li:organization:{ORG_ID}"
PATH = "/rest"
VERSION = "202502"


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def error(status: int, code: str, message: str, service: int = 0) -> dict[str, Any]:
    return {"status": status, "serviceErrorCode": service, "code": code, "message": message}


EXPIRED = error(401, "EXPIRED_ACCESS_TOKEN", "The token used in the request has expired",
                65601)


@dataclass
class FakeLinkedIn:
    name: str = "City of Wrenfield"
    vanity: str = "city-of-wrenfield"
    token: str = TOKEN
    posts: dict[str, dict[str, Any]] = field(default_factory=dict)      # oldest first
    comments: dict[str, dict[str, Any]] = field(default_factory=dict)
    seq: int = 0
    overrides: dict[str, list[Reply | None]] = field(default_factory=dict)
    _served: dict[str, int] = field(default_factory=dict)
    server: ReplayServer | None = None

    def post(self, text: str, at: datetime) -> str:
        self.seq += 1
        urn = f"urn:li:share:{7100000000000000000 + self.seq}"
        self.posts[urn] = {
            "id": urn, "author": ORG, "commentary": text, "visibility": "PUBLIC",
            "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [],
                             "thirdPartyDistributionChannels": []},
            "lifecycleState": "PUBLISHED", "isReshareDisabledByAuthor": False,
            "createdAt": ms(at), "publishedAt": ms(at), "lastModifiedAt": ms(at),
            "lifecycleStateInfo": {"isEditedByAuthor": False}}
        self._expose(f"posts/{quote(urn, safe='')}",
                     f"socialActions/{quote(urn, safe='')}/comments")
        return urn

    def edit(self, urn: str, text: str, at: datetime) -> None:
        self.posts[urn].update(commentary=text, lastModifiedAt=ms(at),
                               lifecycleStateInfo={"isEditedByAuthor": True})

    def comment(self, target: str, text: str, at: datetime, *,
                actor: str = "urn:li:person:Am1naMw4ng1") -> str:
        self.seq += 1
        cid = str(7200000000000000000 + self.seq)
        parent = self.comments.get(target)
        activity = parent["object"] if parent else \
            f"urn:li:activity:{target.rsplit(':', 1)[1]}"
        urn = f"urn:li:comment:({activity},{cid})"
        c: dict[str, Any] = {
            "actor": actor, "commentUrn": urn, "id": cid, "object": activity,
            "created": {"actor": actor, "time": ms(at)},
            "lastModified": {"actor": actor, "time": ms(at)},
            "message": {"attributes": [], "text": text},
            "likesSummary": {"selectedLikes": [], "aggregatedTotalLikes": 0,
                             "likedByCurrentUser": False, "totalLikes": 0},
            "commentsSummary": {"selectedComments": [], "totalFirstLevelComments": 0,
                                "aggregatedTotalComments": 0}}
        if parent:
            c["parentComment"] = target
            parent["commentsSummary"]["totalFirstLevelComments"] += 1
        c["_target"] = target
        self.comments[urn] = c
        self._expose(f"socialActions/{quote(urn, safe='')}/comments",
                     f"socialActions/{quote(activity, safe='')}/comments/{cid}")
        return urn

    def delete(self, urn: str) -> None:
        self.posts.pop(urn, None)
        c = self.comments.pop(urn, None)
        if c and c.get("parentComment") in self.comments:
            self.comments[c["parentComment"]]["commentsSummary"][
                "totalFirstLevelComments"] -= 1

    @staticmethod
    def _public(c: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in c.items() if k != "_target"}

    def _paged(self, items: list[dict[str, Any]], req: Request) -> Reply:
        start = int(req.arg("start") or 0)
        asked = int(req.arg("count") or 10)   # honoured: a page is short only at the end
        chunk = items[start:start + asked]
        return Reply.json({"paging": {"start": start, "count": asked, "links": [],
                                      "total": len(items)}, "elements": chunk})

    def answer(self, req: Request) -> Reply:
        path = req.path.removeprefix(PATH + "/")
        parts = [unquote(p) for p in path.split("/")]
        if parts == ["organizations", ORG_ID]:
            return Reply.json({"id": int(ORG_ID), "localizedName": self.name,
                               "vanityName": self.vanity,
                               "name": {"localized": {"en_US": self.name}}})
        if parts == ["posts"]:
            if req.arg("author") != ORG or req.arg("q") != "author":
                return Reply.json(error(400, "ILLEGAL_ARGUMENT", "bad finder"), 400)
            return self._paged(list(reversed(self.posts.values())), req)
        if parts[0] == "posts" and len(parts) == 2:
            post = self.posts.get(parts[1])
            return Reply.json(post) if post else Reply.json(
                error(404, "NOT_FOUND", f"Not Found: {parts[1]}"), 404)
        if parts[0] == "socialActions" and len(parts) == 3:
            items = [self._public(c) for c in self.comments.values()
                     if c["_target"] == parts[1]]
            return self._paged(items, req)
        if parts[0] == "socialActions" and len(parts) == 4:
            urn = f"urn:li:comment:({parts[1]},{parts[3]})"
            c = self.comments.get(urn)
            return Reply.json(self._public(c)) if c else Reply.json(
                error(404, "NOT_FOUND", f"Comment {parts[3]} not found"), 404)
        return Reply.json(error(404, "NOT_FOUND", "no such resource"), 404)

    def _route(self, req: Request) -> Reply:
        key = req.path.removeprefix(PATH + "/")
        script = self.overrides.get(key)
        if script:
            n = self._served.get(key, 0)
            self._served[key] = n + 1
            scripted = script[min(n, len(script) - 1)]
            if scripted is not None:
                return scripted
        if req.headers.get("authorization") != f"Bearer {self.token}":
            return Reply.json(EXPIRED, 401)
        if req.headers.get("linkedin-version") != VERSION or \
                req.headers.get("x-restli-protocol-version") != "2.0.0":
            return Reply.json(error(426, "NONEXISTENT_VERSION", "version header"), 426)
        return self.answer(req)

    def _expose(self, *paths: str) -> None:
        if self.server is not None:
            for p in paths:
                self.server.route("GET", f"{PATH}/{p}", self._route)

    def install(self, server: ReplayServer) -> None:
        self.server = server
        self._expose(f"organizations/{ORG_ID}", "posts")
