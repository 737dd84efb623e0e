"""A small X API v2 for the replay server: the account's posts, their edits, replies and
deletions, answered in the platform's documented shapes.

Shapes follow the X API v2 reference (docs.x.com) and the official OpenAPI document
(xdevplatform/xdk): posts with `edit_history_tweet_ids`, `includes.users` /
`includes.media`, `meta.next_token`, and deletions as "Not Found Error" problems inside a
200 answer. The posts are written here for these tests; no recorded response is copied.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.replay.server import ReplayServer, Reply, Request

TOKEN = "replay-bearer-token-for-tests"
ACCOUNT_ID = "1589327646410244096"
NOW = datetime(2024, 3, 14, 12, 0, 0, tzinfo=UTC)
_EPOCH_MS = 1288834974657


def snowflake(moment: datetime, seq: int = 0) -> str:
    """An id that carries `moment`, as X's ids do (milliseconds since 2010-11-04, << 22)."""
    ms = int(moment.timestamp() * 1000)
    return str(((ms - _EPOCH_MS) << 22) | (seq & 0xFFF))


def api_time(moment: datetime) -> str:
    """`created_at` as X writes it: milliseconds, always .000, and a Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def not_found(post_id: str) -> dict[str, Any]:
    """The problem X puts in `errors` for a post that is gone (ResourceNotFoundProblem)."""
    return {
        "value": post_id,
        "detail": f"Could not find tweet with ids: [{post_id}].",
        "title": "Not Found Error",
        "resource_type": "tweet",
        "parameter": "ids",
        "resource_id": post_id,
        "type": "https://api.twitter.com/2/problems/resource-not-found",
    }


UNAUTHORIZED = {"title": "Unauthorized", "type": "about:blank", "status": 401,
                "detail": "Unauthorized"}


@dataclass
class FakeX:
    """The platform's state; `install(server)` answers the collector's four endpoints."""

    username: str = "WrenfieldCity"
    name: str = "City of Wrenfield"
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    versions: dict[str, dict[str, Any]] = field(default_factory=dict)   # every post version
    media: dict[str, dict[str, Any]] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)                     # chain first ids
    token: str = TOKEN
    seq: int = 0

    def __post_init__(self) -> None:
        self.users[ACCOUNT_ID] = {"id": ACCOUNT_ID, "name": self.name,
                                  "username": self.username}

    # -- building the state ------------------------------------------------------------

    def user(self, user_id: str, username: str, name: str) -> None:
        self.users[user_id] = {"id": user_id, "name": name, "username": username}

    def rename(self, username: str) -> None:
        self.users[ACCOUNT_ID]["username"] = username

    def post(self, text: str, at: datetime, *, author: str = ACCOUNT_ID,
             reply_to: str | None = None, lang: str = "en",
             media: list[dict[str, Any]] | None = None) -> str:
        """A new post (a reply when `reply_to` names a post id); returns its id."""
        self.seq += 1
        post_id = snowflake(at, self.seq)
        conversation = post_id
        tweet: dict[str, Any] = {
            "id": post_id,
            "text": text,
            "edit_history_tweet_ids": [post_id],
            "author_id": author,
            "created_at": api_time(at),
            "lang": lang,
            "public_metrics": {"retweet_count": 0, "reply_count": 0, "like_count": 3,
                               "quote_count": 0, "bookmark_count": 0, "impression_count": 41},
            "edit_controls": {"edits_remaining": 5, "is_edit_eligible": True,
                              "editable_until": api_time(at + timedelta(hours=1))},
        }
        if reply_to is not None:
            parent = self.versions[reply_to]
            conversation = parent["conversation_id"]
            tweet["referenced_tweets"] = [{"type": "replied_to", "id": reply_to}]
            tweet["in_reply_to_user_id"] = parent["author_id"]
        tweet["conversation_id"] = conversation
        if media:
            keys = []
            for m in media:
                self.media[m["media_key"]] = m
                keys.append(m["media_key"])
            tweet["attachments"] = {"media_keys": keys}
        self.versions[post_id] = tweet
        return post_id

    def edit(self, post_id: str, text: str, at: datetime) -> str:
        """A new version of the chain `post_id` belongs to; every version learns the chain."""
        old = self.versions[post_id]
        self.seq += 1
        new_id = snowflake(at, self.seq)
        chain = [*old["edit_history_tweet_ids"], new_id]
        new = {**old, "id": new_id, "text": text, "created_at": api_time(at),
               "edit_history_tweet_ids": chain,
               "edit_controls": {**old["edit_controls"],
                                 "edits_remaining": old["edit_controls"]["edits_remaining"] - 1}}
        self.versions[new_id] = new
        for version in chain:
            self.versions[version]["edit_history_tweet_ids"] = chain
        return new_id

    def delete(self, post_id: str) -> None:
        """Deleting any version deletes the whole chain."""
        self.deleted.add(self.versions[post_id]["edit_history_tweet_ids"][0])

    # -- reading it back, as X does ----------------------------------------------------

    def _alive(self, tweet: dict[str, Any]) -> bool:
        return tweet["edit_history_tweet_ids"][0] not in self.deleted

    def _current(self) -> list[dict[str, Any]]:
        return sorted((t for t in self.versions.values()
                       if t["id"] == t["edit_history_tweet_ids"][-1] and self._alive(t)),
                      key=lambda t: int(t["id"]), reverse=True)

    def _includes(self, tweets: list[dict[str, Any]]) -> dict[str, Any]:
        includes: dict[str, Any] = {}
        authors = list(dict.fromkeys(t["author_id"] for t in tweets))
        if authors:
            includes["users"] = [self.users[a] for a in authors]
        keys = [k for t in tweets for k in t.get("attachments", {}).get("media_keys", [])]
        if keys:
            includes["media"] = [self.media[k] for k in keys]
        return includes

    def _page(self, tweets: list[dict[str, Any]], req: Request, token_param: str) -> Reply:
        size = int(req.arg("max_results") or 10)
        start = int(_untoken(req.arg(token_param)) or 0)
        chunk = tweets[start:start + size]
        body: dict[str, Any] = {}
        if chunk:
            body["data"] = chunk
            includes = self._includes(chunk)
            if includes:
                body["includes"] = includes
        meta: dict[str, Any] = {"result_count": len(chunk)}
        if chunk:
            meta["newest_id"] = chunk[0]["id"]
            meta["oldest_id"] = chunk[-1]["id"]
        if start + size < len(tweets):
            meta["next_token"] = _token(start + size)
        body["meta"] = meta
        return Reply.json(body, headers=_limits())

    def timeline(self, req: Request) -> Reply:
        user_id = req.path.split("/")[3]
        start = req.arg("start_time")
        tweets = [t for t in self._current() if t["author_id"] == user_id
                  and (start is None or t["created_at"] >= start.replace("Z", ".000Z"))]
        return self._page(tweets, req, "pagination_token")

    def search(self, req: Request) -> Reply:
        query = req.arg("query") or ""
        conversations = set(re.findall(r"conversation_id:([0-9]+)", query))
        tweets = [t for t in self._current() if t["conversation_id"] in conversations]
        return self._page(tweets, req, "next_token")

    def lookup(self, req: Request) -> Reply:
        data, errors = [], []
        for post_id in (req.arg("ids") or "").split(","):
            tweet = self.versions.get(post_id)
            if tweet is None or not self._alive(tweet):
                errors.append(not_found(post_id))
            else:
                data.append(tweet)
        body: dict[str, Any] = {}
        if data:
            body["data"] = data
            body["includes"] = self._includes(data)
            if "edit_history_tweet_ids" in (req.arg("expansions") or "").split(","):
                versions = [self.versions[v] for t in data
                            for v in t["edit_history_tweet_ids"] if v != t["id"]]
                if versions:
                    body["includes"]["tweets"] = versions
        if errors:
            body["errors"] = errors
        return Reply.json(body, headers=_limits())

    def user_lookup(self, req: Request) -> Reply:
        return Reply.json({"data": self.users[req.path.split("/")[3]]}, headers=_limits())

    def install(self, server: ReplayServer) -> None:
        """Route the four endpoints, each behind the bearer-token check."""
        def guarded(handler):  # noqa: ANN001, ANN202 - a route wrapper
            def route(req: Request) -> Reply:
                if req.headers.get("authorization") != f"Bearer {self.token}":
                    return Reply.json(UNAUTHORIZED, 401)
                return handler(req)
            return route

        server.route("GET", f"/2/users/{ACCOUNT_ID}/tweets", guarded(self.timeline))
        server.route("GET", "/2/tweets/search/recent", guarded(self.search))
        server.route("GET", "/2/tweets", guarded(self.lookup))
        server.route("GET", f"/2/users/{ACCOUNT_ID}", guarded(self.user_lookup))


def _limits() -> dict[str, str]:
    return {"x-rate-limit-limit": "1500", "x-rate-limit-remaining": "1497",
            "x-rate-limit-reset": str(int(NOW.timestamp()) + 900)}


def _token(offset: int) -> str:
    """An opaque pagination token (X's are base32hex strings)."""
    digest = hashlib.sha256(str(offset).encode()).digest()[:10]
    return f"{offset}-" + base64.b32hexencode(digest).decode().lower().rstrip("=")


def _untoken(token: str | None) -> str | None:
    return token.split("-", 1)[0] if token else None


def photo(key: str, alt: str | None = None) -> dict[str, Any]:
    m = {"media_key": key, "type": "photo",
         "url": f"https://pbs.twimg.com/media/{key.split('_')[1]}.jpg"}
    if alt is not None:
        m["alt_text"] = alt
    return m


def video(key: str) -> dict[str, Any]:
    return {"media_key": key, "type": "video",
            "preview_image_url": f"https://pbs.twimg.com/ext_tw_video_thumb/{key}/img/p.jpg",
            "variants": [
                {"content_type": "application/x-mpegURL",
                 "url": f"https://video.twimg.com/ext_tw_video/{key}/pl/a.m3u8"},
                {"bit_rate": 256000, "content_type": "video/mp4",
                 "url": f"https://video.twimg.com/ext_tw_video/{key}/vid/480x270/a.mp4"},
                {"bit_rate": 2176000, "content_type": "video/mp4",
                 "url": f"https://video.twimg.com/ext_tw_video/{key}/vid/1280x720/b.mp4"},
            ]}
