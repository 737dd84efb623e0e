"""A small YouTube Data API v3 for the replay server: a channel, its uploads playlist,
videos, comment threads with inlined replies, replies by parent, lookups by id, and the
API's error bodies.

Shapes follow developers.google.com/youtube/v3/docs (resources `youtube#channel`,
`youtube#playlistItem`, `youtube#video`, `youtube#commentThread`, `youtube#comment`, the
list responses with `nextPageToken` / `pageInfo`, and the error object
`{"error": {"code", "message", "errors": [{"message", "domain", "reason"}]}}`), checked
against the recorded answers in sns-sdks/python-youtube `testdata/apidata/`. The data
is written here for these tests; nothing recorded is copied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.replay.server import ReplayServer, Reply, Request

API_KEY = "AIzaSyReplay-key-for-tests-0000000000"
CHANNEL_ID = "UCw3nF1eLd_CityOfWrenfield"
UPLOADS = "UU" + CHANNEL_ID[2:]
BASE_PATH = "/youtube/v3"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64


def api_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def error(code: int, reason: str, message: str, domain: str = "youtube.api") -> dict:
    """The Data API's error body (errors[].reason is what callers branch on)."""
    return {"error": {"code": code, "message": message,
                      "errors": [{"message": message, "domain": domain, "reason": reason}]}}


QUOTA_EXCEEDED = error(403, "quotaExceeded", "The request cannot be completed because you "
                       "have exceeded your <a href=\"/youtube/v3/getting-started#quota\">"
                       "quota</a>.", "youtube.quota")
KEY_INVALID = {"error": {"code": 400, "message": "API key not valid. Please pass a valid "
                         "API key.", "errors": [{"message": "API key not valid. Please pass "
                                                 "a valid API key.", "domain": "global",
                                                 "reason": "badRequest"}],
                         "status": "INVALID_ARGUMENT",
                         "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                      "reason": "API_KEY_INVALID",
                                      "domain": "googleapis.com"}]}}
COMMENTS_DISABLED = error(403, "commentsDisabled", "The video identified by the "
                          "<code><a href=\"/youtube/v3/docs/commentThreads/list#videoId\">"
                          "videoId</a></code> parameter has disabled comments.")


@dataclass
class FakeYouTube:
    title: str = "City of Wrenfield"
    handle: str = "@cityofwrenfield"
    key: str = API_KEY
    videos: dict[str, dict[str, Any]] = field(default_factory=dict)     # newest last
    comments: dict[str, dict[str, Any]] = field(default_factory=dict)   # every comment
    disabled: set[str] = field(default_factory=set)                     # comments off
    held: set[str] = field(default_factory=set)       # held for review: not served to a key
    page_size: int = 2
    seq: int = 0
    # resource -> scripted replies served in turn (the last repeating); None = the real one
    overrides: dict[str, list[Reply | None]] = field(default_factory=dict)
    _served: dict[str, int] = field(default_factory=dict)
    server: ReplayServer | None = None   # thumbnails are served from it once installed

    # -- state ---------------------------------------------------------------------------

    def video(self, vid: str, title: str, description: str, at: datetime,
              lang: str | None = None) -> str:
        thumbs = self.server.url if self.server else "https://i.ytimg.com"
        if self.server:
            self.server.route("GET", f"/vi/{vid}/hqdefault.jpg",
                              Reply(200, JPEG, {"Content-Type": "image/jpeg"}))
        snippet: dict[str, Any] = {
            "publishedAt": api_time(at), "channelId": CHANNEL_ID, "title": title,
            "description": description,
            "thumbnails": {
                "default": {"url": f"{thumbs}/vi/{vid}/default.jpg",
                            "width": 120, "height": 90},
                "high": {"url": f"{thumbs}/vi/{vid}/hqdefault.jpg",
                         "width": 480, "height": 360}},
            "channelTitle": self.title, "categoryId": "25",
            "liveBroadcastContent": "none",
            "localized": {"title": title, "description": description}}
        if lang:
            snippet["defaultLanguage"] = lang
            snippet["defaultAudioLanguage"] = lang
        self.videos[vid] = {
            "kind": "youtube#video", "etag": f"etag-{vid}", "id": vid, "snippet": snippet,
            "contentDetails": {"duration": "PT2M41S", "dimension": "2d",
                               "definition": "hd", "caption": "false",
                               "licensedContent": False, "contentRating": {},
                               "projection": "rectangular"},
            "status": {"uploadStatus": "processed", "privacyStatus": "public",
                       "license": "youtube", "embeddable": True,
                       "publicStatsViewable": True, "madeForKids": False}}
        return vid

    def edit_video(self, vid: str, *, title: str | None = None,
                   description: str | None = None) -> None:
        s = self.videos[vid]["snippet"]
        if title is not None:
            s["title"] = s["localized"]["title"] = title
        if description is not None:
            s["description"] = s["localized"]["description"] = description

    def comment(self, video: str, text: str, at: datetime, *, parent: str | None = None,
                author: str = "Amina Mwangi", author_id: str = "UCamina0000000000000000a"
                ) -> str:
        self.seq += 1
        cid = f"Ugz{self.seq:04d}replay{video}" if parent is None else f"{parent}.{self.seq:04d}"
        snippet: dict[str, Any] = {
            "channelId": CHANNEL_ID, "videoId": video, "textDisplay": text,
            "textOriginal": text, "authorDisplayName": author,
            "authorProfileImageUrl": "https://yt3.ggpht.com/a/replay=s48",
            "authorChannelUrl": f"http://www.youtube.com/channel/{author_id}",
            "authorChannelId": {"value": author_id}, "canRate": True,
            "viewerRating": "none", "likeCount": 0, "publishedAt": api_time(at),
            "updatedAt": api_time(at)}
        if parent is not None:
            snippet["parentId"] = parent
        self.comments[cid] = {"kind": "youtube#comment", "etag": f"etag-{cid}", "id": cid,
                              "snippet": snippet}
        return cid

    def edit_comment(self, cid: str, text: str, at: datetime) -> None:
        s = self.comments[cid]["snippet"]
        s["textDisplay"] = s["textOriginal"] = text
        s["updatedAt"] = api_time(at)

    def delete(self, item_id: str) -> None:
        """A deleted video or comment takes its comments or replies with it."""
        self.videos.pop(item_id, None)
        self.comments.pop(item_id, None)
        for cid, c in list(self.comments.items()):
            if item_id in (c["snippet"].get("parentId"), c["snippet"]["videoId"]):
                self.comments.pop(cid, None)

    # -- answers -------------------------------------------------------------------------

    def _visible(self, cid: str) -> bool:
        return cid in self.comments and cid not in self.held

    def _page(self, kind: str, items: list[dict[str, Any]], req: Request) -> Reply:
        size = min(int(req.arg("maxResults") or 5), self.page_size)
        token = req.arg("pageToken")
        start = int(token.removeprefix("CA").split("Q")[0]) if token else 0
        chunk = items[start:start + size]
        body: dict[str, Any] = {"kind": f"youtube#{kind}ListResponse", "etag": "e",
                                "pageInfo": {"totalResults": len(items),
                                             "resultsPerPage": size},
                                "items": chunk}
        if start + size < len(items):
            body["nextPageToken"] = f"CA{start + size}QAA"
        return Reply.json(body)

    def channels(self, req: Request) -> Reply:
        items = []
        if CHANNEL_ID in (req.arg("id") or "").split(","):
            items.append({
                "kind": "youtube#channel", "etag": "etag-ch", "id": CHANNEL_ID,
                "snippet": {"title": self.title, "description": "Official channel",
                            "customUrl": self.handle, "publishedAt": "2014-05-02T09:00:00Z",
                            "thumbnails": {}, "localized": {"title": self.title}},
                "contentDetails": {"relatedPlaylists": {"likes": "", "uploads": UPLOADS}}})
        return Reply.json({"kind": "youtube#channelListResponse", "etag": "e",
                           "pageInfo": {"totalResults": len(items), "resultsPerPage": 5},
                           "items": items})

    def playlist_items(self, req: Request) -> Reply:
        if req.arg("playlistId") != UPLOADS:
            return Reply.json(error(404, "playlistNotFound", "Playlist not found"), 404)
        newest_first = list(reversed(self.videos))
        items = [{"kind": "youtube#playlistItem", "etag": f"pi-{v}", "id": f"UExpi{v}",
                  "contentDetails": {"videoId": v,
                                     "videoPublishedAt":
                                         self.videos[v]["snippet"]["publishedAt"]}}
                 for v in newest_first]
        return self._page("playlistItem", items, req)

    def videos_list(self, req: Request) -> Reply:
        ids = (req.arg("id") or "").split(",")
        items = [self.videos[v] for v in ids if v in self.videos]
        return Reply.json({"kind": "youtube#videoListResponse", "etag": "e", "items": items,
                           "pageInfo": {"totalResults": len(items),
                                        "resultsPerPage": len(items)}})

    def comment_threads(self, req: Request) -> Reply:
        video = req.arg("videoId") or ""
        if video not in self.videos:
            return Reply.json(error(404, "videoNotFound", "The video identified by the "
                                    "videoId parameter could not be found."), 404)
        if video in self.disabled:
            return Reply.json(COMMENTS_DISABLED, 403)
        threads = []
        for cid, c in reversed(list(self.comments.items())):
            s = c["snippet"]
            if s["videoId"] != video or "parentId" in s or not self._visible(cid):
                continue
            replies = [r for rid, r in self.comments.items()
                       if r["snippet"].get("parentId") == cid and self._visible(rid)]
            thread: dict[str, Any] = {
                "kind": "youtube#commentThread", "etag": f"t-{cid}", "id": cid,
                "snippet": {"channelId": CHANNEL_ID, "videoId": video, "topLevelComment": c,
                            "canReply": True, "totalReplyCount": len(replies),
                            "isPublic": True}}
            if replies:   # the API inlines at most a few replies (here: 2)
                thread["replies"] = {"comments": replies[:2]}
            threads.append(thread)
        return self._page("commentThread", threads, req)

    def comments_list(self, req: Request) -> Reply:
        parent = req.arg("parentId")
        if parent is not None:
            items = [r for rid, r in self.comments.items()
                     if r["snippet"].get("parentId") == parent and self._visible(rid)]
            return self._page("comment", items, req)
        ids = (req.arg("id") or "").split(",")
        items = [self.comments[c] for c in ids if self._visible(c)]
        return Reply.json({"kind": "youtube#commentListResponse", "etag": "e",
                           "items": items, "pageInfo": {"totalResults": len(items),
                                                        "resultsPerPage": 20}})

    def install(self, server: ReplayServer) -> None:
        self.server = server
        routes = {"channels": self.channels, "playlistItems": self.playlist_items,
                  "videos": self.videos_list, "commentThreads": self.comment_threads,
                  "comments": self.comments_list}
        for name, handler in routes.items():
            server.route("GET", f"{BASE_PATH}/{name}", self._guard(name, handler))

    def _guard(self, name: str, handler):  # noqa: ANN001, ANN202 - a route wrapper
        def route(req: Request) -> Reply | list[Reply]:
            script = self.overrides.get(name)
            if script:
                n = self._served.get(name, 0)
                self._served[name] = n + 1
                scripted = script[min(n, len(script) - 1)]
                if scripted is not None:
                    return scripted
            if req.arg("key") != self.key:
                return Reply.json(KEY_INVALID, 400)
            return handler(req)
        return route
