"""TikTok (Display API v2, open.tiktokapis.com): the account's videos, their edits through
the fingerprint, deletions by query. Comments are not collected (docs/collectors.md).

Shapes: developers.tiktok.com/doc (Display API "Get Started", "Video Object", "List
Videos", "Query Videos", "User Info", "Error Handling", "Rate Limits"). Every answer is
`{"data": {...}, "error": {"code": "ok" | ..., "message", "log_id"}}`.

    GET  /v2/user/info/?fields=open_id,display_name               the profile
    POST /v2/video/list/?fields=...  {"max_count": 20, "cursor"}  videos, newest first;
                                     `data.cursor` / `data.has_more` page backwards
    POST /v2/video/query/?fields=... {"filters": {"video_ids"}}   lookups, 20 a request:
                                     an id missing from `data.videos` is gone
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from archiver.collectors.mastodon import JsonObject  # one JSON shape reader
from archiver.collectors.protocol import AccountConfig, Harvest, KnownItem
from archiver.collectors.transport import Transport
from archiver.errors import ConfigError, CredentialsRejected, MalformedResponse, RateLimited
from archiver.records import Observation
from archiver.times import format_time

PLATFORM = "tiktok"
EPOCH = "1970-01-01T00:00:00Z"
VIDEO_FIELDS = ("id,create_time,cover_image_url,share_url,video_description,duration,"
                "height,width,title,embed_link,like_count,comment_count,share_count,"
                "view_count")
QUERY_BATCH = 20          # video/query accepts at most 20 ids
# error.code values that say the token cannot be used (some come with 401, some 403).
TOKEN_CODES = frozenset({"access_token_invalid", "scope_not_authorized",
                         "scope_permission_missed"})
_OPTIONS = {"max_count": 20, "max_pages": 200, "recheck_days": 7, "covers": True}


@dataclass(frozen=True)
class Options:
    max_count: int
    max_pages: int
    recheck_days: int
    covers: bool

    @classmethod
    def of(cls, options: Mapping[str, Any]) -> Options:
        unknown = sorted(set(options) - set(_OPTIONS))
        if unknown:
            raise ConfigError(f"unknown TikTok option(s): {', '.join(unknown)}")
        values = {**_OPTIONS, **options}
        if not isinstance(values["covers"], bool):
            raise ConfigError("TikTok option covers must be true or false")
        for name in ("max_count", "max_pages", "recheck_days"):
            v = values[name]
            if isinstance(v, bool) or not isinstance(v, int) or v < 1 or \
                    (name == "max_count" and v > 20):
                raise ConfigError(f"TikTok option {name} must be a positive integer"
                                  f"{' up to 20' if name == 'max_count' else ''}")
        return cls(**values)


def _obj(v: Any, where: str) -> dict[str, Any]:
    """`v` if it is a JSON object, else MalformedResponse naming `where`."""
    return JsonObject(v, f"TikTok {where}").obj


class TikTokApi:
    def __init__(self, account: AccountConfig, http: Transport) -> None:
        token = account.credentials.get("access_token")
        if not isinstance(token, str) or not token:
            raise CredentialsRejected("the TikTok account has no access_token credential")
        self.base = account.base_url.rstrip("/")
        self.http = http
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(self, method: str, endpoint: str, fields: str, body: Any = None
             ) -> dict[str, Any]:
        """`data` of a successful answer; `error.code` other than "ok" raises."""
        r = self.http.request(method, f"{self.base}/v2/{endpoint}/", params={"fields": fields},
                              headers=self.headers, json_body=body, accept=(400, 403))
        answer = _obj(r.json(), f"/v2/{endpoint}/ answer")
        error = _obj(answer.get("error"), f"/v2/{endpoint}/ error")
        code = error.get("code")
        if code != "ok" or r.status >= 300:
            message = f"TikTok /v2/{endpoint}/ answered {r.status} {code}: " \
                      f"{error.get('message')} (log_id {error.get('log_id')})"
            if code in TOKEN_CODES:
                raise CredentialsRejected(message)
            if code == "rate_limit_exceeded":
                raise RateLimited(message, datetime.now(UTC).timestamp() + 60)
            raise MalformedResponse(message)
        return _obj(answer.get("data"), f"/v2/{endpoint}/ data")


def video_text(video: dict[str, Any]) -> str:
    """The caption (`video_description`); a `title` that differs comes first."""
    description = video.get("video_description") or ""
    title = video.get("title") or ""
    return f"{title}\n\n{description}" if title and title != description else description


def video_observation(account: AccountConfig, video: dict[str, Any], where: str,
                      covers: bool) -> Observation:
    vid = video.get("id")
    created = video.get("create_time")
    if not isinstance(vid, str) or not vid.isdigit():
        raise MalformedResponse(f"TikTok {where}.id must be a string of digits")
    if isinstance(created, bool) or not isinstance(created, int):
        raise MalformedResponse(f"TikTok {where}.create_time must be epoch seconds")
    for name in ("video_description", "title", "share_url", "cover_image_url"):
        if video.get(name) is not None and not isinstance(video[name], str):
            raise MalformedResponse(f"TikTok {where}.{name} must be a string")
    media = []
    if covers and video.get("cover_image_url"):
        media.append({"id": f"{vid}/cover", "url": video["cover_image_url"]})
    return Observation(platform=PLATFORM, account=account.platform_id, item_id=vid,
                       kind="video", text=video_text(video),
                       published_at=format_time(datetime.fromtimestamp(created, UTC)),
                       url=video.get("share_url"), media=media, raw=video)


def profile_id(account: AccountConfig) -> str:
    return f"account:{account.platform_id}"


def profile_observation(account: AccountConfig, data: dict[str, Any]) -> Observation:
    user = _obj(data.get("user"), "user/info data.user")
    if user.get("open_id") != account.platform_id:
        raise MalformedResponse(f"TikTok user/info: the token is of open_id "
                                f"{user.get('open_id')!r}, not {account.platform_id!r}")
    name = user.get("display_name")
    if not isinstance(name, str):
        raise MalformedResponse("TikTok user/info data.user.display_name must be a string")
    return Observation(platform=PLATFORM, account=account.platform_id,
                       item_id=profile_id(account), kind="profile", text=name, raw=user)


class TikTokCollector:
    """Implements archiver.collectors.protocol.Collector for TikTok's Display API."""

    platform: ClassVar[str] = PLATFORM

    def harvest(self, account: AccountConfig, http: Transport, cursor: Mapping[str, Any],
                known: Sequence[KnownItem]) -> Harvest:
        opts = Options.of(account.options)
        api = TikTokApi(account, http)
        now = datetime.now(UTC)
        h = Harvest()
        profile = profile_observation(account, api.call("GET", "user/info",
                                                        "open_id,display_name"))
        h.observations.append(profile)
        h.listed.add(profile.item_id)
        old = cursor.get("profile")
        if isinstance(old, str) and old != profile.text:
            h.notes.append(f"account renamed: {old!r} is now {profile.text!r}")
        h.cursor["profile"] = profile.text

        first_run = not isinstance(cursor.get("listed_until"), str)
        stop_before = None if first_run else now - timedelta(days=opts.recheck_days)
        page_cursor: int | None = None
        oldest: str | None = None
        complete = False
        for n in range(opts.max_pages):
            body: dict[str, Any] = {"max_count": opts.max_count}
            if page_cursor is not None:
                body["cursor"] = page_cursor
            data = api.call("POST", "video/list", VIDEO_FIELDS, body)
            videos = data.get("videos", [])
            if not isinstance(videos, list):
                raise MalformedResponse(f"TikTok video/list page {n + 1}: data.videos is "
                                        f"not a list")
            for i, v in enumerate(videos):
                obs = video_observation(account, _obj(v, f"video/list page {n + 1} "
                                                         f"videos[{i}]"),
                                        f"video/list page {n + 1} videos[{i}]", opts.covers)
                h.observations.append(obs)
                h.listed.add(obs.item_id)
                oldest = obs.published_at
            has_more, nxt = data.get("has_more"), data.get("cursor")
            if not isinstance(has_more, bool):
                raise MalformedResponse(f"TikTok video/list page {n + 1}: data.has_more is "
                                        f"not a boolean")
            if not has_more:
                complete = True
                break
            if isinstance(nxt, bool) or not isinstance(nxt, int):
                raise MalformedResponse(f"TikTok video/list page {n + 1}: data.cursor is "
                                        f"not an integer")
            page_cursor = nxt
            if stop_before is not None and oldest is not None and \
                    oldest < format_time(stop_before):
                break   # the look-back is covered: everything newer than `oldest` listed
        else:
            h.notes.append(f"video listing stopped after {opts.max_pages} pages")
        if complete:
            h.window_start, h.window_end = EPOCH, format_time(now)
        elif oldest is not None and (stop_before is not None
                                     and oldest < format_time(stop_before)):
            h.window_start, h.window_end = oldest, format_time(now)
        if h.window_start is not None:   # a cut first listing is tried again whole
            h.cursor["listed_until"] = format_time(now)
        elif isinstance(cursor.get("listed_until"), str):
            h.cursor["listed_until"] = cursor["listed_until"]
        return h

    def lookup(self, account: AccountConfig, http: Transport,
               items: Sequence[KnownItem]) -> list[Observation]:
        """video/query by id; an id missing from `data.videos` is deleted (or made
        private: the Display API does not tell the two apart)."""
        opts = Options.of(account.options)
        api = TikTokApi(account, http)
        out: list[Observation] = []
        videos = [k for k in items if k.kind != "profile"]
        for k in items:
            if k.kind == "profile":
                out.append(profile_observation(account, api.call("GET", "user/info",
                                                                 "open_id,display_name")))
        for start in range(0, len(videos), QUERY_BATCH):
            batch = videos[start:start + QUERY_BATCH]
            ids = [k.item_id for k in batch]
            data = api.call("POST", "video/query", VIDEO_FIELDS,
                            {"filters": {"video_ids": ids}})
            found = data.get("videos", [])
            if not isinstance(found, list):
                raise MalformedResponse("TikTok video/query: data.videos is not a list")
            by_id = {v.get("id"): v for v in found if isinstance(v, dict)}
            for k in batch:
                v = by_id.get(k.item_id)
                if v is None:
                    out.append(Observation(
                        platform=PLATFORM, account=account.platform_id, item_id=k.item_id,
                        kind=k.kind, event="deleted",
                        raw={"request": {"filters": {"video_ids": ids}}, "data": data}))
                else:
                    out.append(video_observation(account, v, f"video/query {k.item_id}",
                                                 opts.covers))
        return out


COLLECTOR = TikTokCollector()
