"""YouTube (Data API v3): a channel's uploads, their metadata edits, comment threads and
replies, deletions by lookup, with the API key's daily quota counted.

Shapes: developers.google.com/youtube/v3/docs (channels, playlistItems, videos,
commentThreads, comments; errors). What a run reads (docs/collectors.md, "YouTube"):

    channels?part=snippet,contentDetails&id=CHANNEL       profile + uploads playlist
    playlistItems?part=contentDetails&playlistId=UU...    every upload, 50 a page
    videos?part=snippet,status,contentDetails&id=...      metadata, 50 ids a request
    commentThreads?part=snippet,replies&videoId=...       top-level comments, 100 a page
    comments?part=snippet&parentId=...                    replies beyond the 5 inlined
    videos?id= / comments?id= / channels?id=              lookups (empty `items`: gone)

Every one of these costs 1 quota unit (search, 100 units, is never used). The units used
today (Pacific time, when Google resets quotas) are counted in the cursor against the
`daily_quota` option; when it is spent the run stops listing, says so, and presumes
nothing deleted. A 403 `quotaExceeded` is `RateLimited` until the next Pacific midnight.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from archiver.collectors.mastodon import JsonObject  # one JSON shape reader
from archiver.collectors.protocol import AccountConfig, Harvest, KnownItem
from archiver.collectors.transport import Response, Transport
from archiver.errors import ConfigError, CredentialsRejected, MalformedResponse, RateLimited
from archiver.records import Observation
from archiver.times import format_time

PLATFORM = "youtube"
PACIFIC = ZoneInfo("America/Los_Angeles")
EPOCH = "1970-01-01T00:00:00Z"
BATCH = 50                 # ids per videos/comments/channels lookup (the API's maximum)
# Reasons (error.errors[].reason) that say the key itself is refused: pause the account.
KEY_REFUSED = frozenset({"forbidden", "keyInvalid", "keyExpired", "accessNotConfigured",
                         "ipRefererBlocked", "API_KEY_INVALID", "API_KEY_SERVICE_BLOCKED",
                         "accountDelegationForbidden", "insufficientPermissions"})
QUOTA_SPENT = frozenset({"quotaExceeded", "dailyLimitExceeded"})
SHORT_LIMIT = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
THUMBNAIL_SIZES = ("maxres", "standard", "high", "medium", "default")
# Thumbnails are off by default: every run re-lists the whole channel, so keeping them
# downloads one image per video per run (and a regenerated thumbnail is an edit).
_OPTIONS = {"daily_quota": 10_000, "max_pages": 200, "comment_videos": 25,
            "thumbnails": False}


@dataclass(frozen=True)
class Options:
    daily_quota: int
    max_pages: int            # pages per listing (uploads, one video's threads, replies)
    comment_videos: int       # the newest N uploads whose comments are read every run
    thumbnails: bool

    @classmethod
    def of(cls, options: Mapping[str, Any]) -> Options:
        """The account's options; an unknown name or a wrong value is a ConfigError."""
        unknown = sorted(set(options) - set(_OPTIONS))
        if unknown:
            raise ConfigError(f"unknown YouTube option(s): {', '.join(unknown)} "
                              f"(known: {', '.join(sorted(_OPTIONS))})")
        values = {**_OPTIONS, **options}
        for name, default in _OPTIONS.items():
            v = values[name]
            if isinstance(default, bool):
                if not isinstance(v, bool):
                    raise ConfigError(f"YouTube option {name} must be true or false")
            elif isinstance(v, bool) or not isinstance(v, int) or v < (0 if name ==
                                                                          "comment_videos" else 1):
                raise ConfigError(f"YouTube option {name} must be a positive integer, "
                                  f"not {v!r}")
        return cls(**values)


class QuotaSpent(Exception):
    """The daily quota option leaves no unit for the next request."""


def quota_day(now: datetime) -> str:
    """The quota day (YouTube quotas reset at midnight Pacific time)."""
    return now.astimezone(PACIFIC).date().isoformat()


def next_pacific_midnight(now: datetime) -> float:
    local = now.astimezone(PACIFIC)
    tomorrow = (local + timedelta(days=1)).date()
    return datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=PACIFIC).timestamp()


def error_reasons(body: Any) -> list[str]:
    """`error.errors[].reason` and `error.details[].reason` (google.rpc.ErrorInfo)."""
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        return []
    out = [e.get("reason") for e in err.get("errors") or [] if isinstance(e, dict)]
    out += [d.get("reason") for d in err.get("details") or [] if isinstance(d, dict)]
    return [r for r in out if isinstance(r, str)]


def _error_message(body: Any) -> str:
    err = body.get("error") if isinstance(body, dict) else None
    msg = err.get("message") if isinstance(err, dict) else None
    return msg if isinstance(msg, str) else "no message"


class YouTubeApi:
    """GETs with the key, counting quota units; the platform's errors as typed errors."""

    def __init__(self, account: AccountConfig, http: Transport, *, used: int, quota: int,
                 now: datetime) -> None:
        key = account.credentials.get("api_key")
        if not isinstance(key, str) or not key:
            raise CredentialsRejected("the YouTube account has no api_key credential")
        self.base = account.base_url.rstrip("/")
        self.http = http
        self.key = key
        self.used = used
        self.quota = quota
        self.now = now

    def get(self, resource: str, params: Mapping[str, Any], *,
            tolerate: frozenset[str] = frozenset()) -> tuple[dict[str, Any], str | None]:
        """One list request (1 unit): its JSON object, or ({}, reason) for a tolerated
        error reason (commentsDisabled, videoNotFound)."""
        if self.used + 1 > self.quota:
            raise QuotaSpent
        self.used += 1
        r = self.http.get(f"{self.base}/{resource}", params={**params, "key": self.key},
                          accept=(400, 403, 404))
        body = r.json()
        if 200 <= r.status < 300:
            if not isinstance(body, dict):
                raise MalformedResponse(f"YouTube {resource}: the answer is not a JSON object")
            return body, None
        return {}, self._error(resource, r, body, tolerate)

    def _error(self, resource: str, r: Response, body: Any, tolerate: frozenset[str]) -> str:
        reasons = error_reasons(body)
        message = f"YouTube {resource} answered {r.status} {reasons}: {_error_message(body)}"
        for reason in reasons:
            if reason in tolerate:
                return reason
        if QUOTA_SPENT & set(reasons):
            raise RateLimited(message, next_pacific_midnight(self.now))
        if SHORT_LIMIT & set(reasons):
            raise RateLimited(message, self.now.timestamp() + 60)
        if KEY_REFUSED & set(reasons) or (r.status == 400 and "API key" in message):
            raise CredentialsRejected(message)
        raise MalformedResponse(message)

    def pages(self, resource: str, params: Mapping[str, Any], max_pages: int, *,
              tolerate: frozenset[str] = frozenset()
              ) -> Iterator[tuple[dict[str, Any], str | None, bool]]:
        """Each page (body, tolerated reason, is_last) following `nextPageToken`."""
        token: str | None = None
        for n in range(max_pages):
            page_params = dict(params)
            if token:
                page_params["pageToken"] = token
            body, reason = self.get(resource, page_params, tolerate=tolerate)
            if reason is not None:
                yield body, reason, True
                return
            nxt = body.get("nextPageToken")
            if nxt is not None and not isinstance(nxt, str):
                raise MalformedResponse(f"YouTube {resource} page {n + 1}: nextPageToken is "
                                        f"not a string")
            yield body, None, not nxt
            if not nxt:
                return
            token = nxt
        raise _Incomplete(resource)


class _Incomplete(Exception):
    """A listing hit `max_pages`."""


# -- shapes ---------------------------------------------------------------------------

def _obj(v: Any, where: str) -> dict[str, Any]:
    """`v` if it is a JSON object, else MalformedResponse naming `where`."""
    return JsonObject(v, f"YouTube {where}").obj


def _str(d: dict[str, Any], key: str, where: str, *, optional: bool = False) -> str | None:
    """Member `key` of `d`, a string (or None when `optional`), else MalformedResponse."""
    member = JsonObject(d, f"YouTube {where}")
    return member.opt_str(key) if optional else member.str(key)


def _items(body: dict[str, Any], where: str) -> list[dict[str, Any]]:
    items = body.get("items", [])
    if not isinstance(items, list):
        raise MalformedResponse(f"YouTube {where}: items is not a list")
    return [_obj(it, f"{where} items[{i}]") for i, it in enumerate(items)]


def video_text(snippet: dict[str, Any]) -> str:
    """The title, a blank line, the description: both are edits of the video."""
    description = snippet.get("description") or ""
    return f"{snippet['title']}\n\n{description}" if description else snippet["title"]


def video_observation(account: AccountConfig, video: dict[str, Any], where: str,
                      thumbnails: bool) -> Observation:
    vid = _str(video, "id", where)
    snippet = _obj(video.get("snippet"), f"{where}.snippet")
    _str(snippet, "title", f"{where}.snippet")
    _str(snippet, "description", f"{where}.snippet", optional=True)
    published = _str(snippet, "publishedAt", f"{where}.snippet")
    channel = _str(snippet, "channelId", f"{where}.snippet")
    if channel != account.platform_id:
        raise MalformedResponse(f"YouTube {where}: video {vid} is of channel {channel}, "
                                f"not {account.platform_id}")
    media = []
    thumbs = snippet.get("thumbnails")
    if thumbnails and isinstance(thumbs, dict):
        for size in THUMBNAIL_SIZES:
            t = thumbs.get(size)
            if isinstance(t, dict) and isinstance(t.get("url"), str):
                media.append({"id": f"{vid}/thumbnail", "url": t["url"], "mime": "image/jpeg"})
                break
    lang = snippet.get("defaultLanguage") or snippet.get("defaultAudioLanguage")
    return Observation(platform=PLATFORM, account=account.platform_id, item_id=vid,
                       kind="video", text=video_text(snippet), published_at=published,
                       author={"id": channel, "name": str(snippet.get("channelTitle") or "")},
                       url=f"https://www.youtube.com/watch?v={vid}",
                       lang=lang if isinstance(lang, str) else None, media=media, raw=video)


def comment_observation(account: AccountConfig, comment: dict[str, Any], parent: str | None,
                        where: str, *, raw: Any = None) -> Observation:
    """A comment resource: `textOriginal` (plain, as written), else `textDisplay`
    (requested as plainText). An edit shows as `updatedAt` later than `publishedAt`.
    The channel's own comments are `reply`, everybody else's `comment`."""
    cid = _str(comment, "id", where)
    s = _obj(comment.get("snippet"), f"{where}.snippet")
    text = _str(s, "textOriginal", f"{where}.snippet", optional=True)
    if text is None:
        text = _str(s, "textDisplay", f"{where}.snippet")
    published = _str(s, "publishedAt", f"{where}.snippet")
    _str(s, "updatedAt", f"{where}.snippet", optional=True)
    author_channel = s.get("authorChannelId")
    author_id = author_channel.get("value") if isinstance(author_channel, dict) else None
    author = {"name": str(s.get("authorDisplayName") or "")}
    if isinstance(author_id, str):
        author["id"] = author_id
    video = s.get("videoId")
    url = (f"https://www.youtube.com/watch?v={video}&lc={cid}"
           if isinstance(video, str) else None)
    own = author.get("id") == account.platform_id   # the channel answering: its own words
    return Observation(platform=PLATFORM, account=account.platform_id, item_id=cid,
                       kind="reply" if own else "comment", text=text, parent_id=parent,
                       published_at=published,
                       author=author, url=url, raw=comment if raw is None else raw)


def missing_subthreads(known: Sequence[KnownItem], h: Harvest) -> None:
    """Name as threads the archived comments missing from a thread read whole.

    A thread's listing includes every comment below it, so a comment missing from it
    took its replies with it (deleted or held together): naming it lets deletion
    detection look its archived replies up too, not only the comment itself.
    """
    children: dict[str, list[str]] = {}
    for k in known:
        if k.parent_id is not None and k.state == "live":
            children.setdefault(k.parent_id, []).append(k.item_id)
    todo = [t for t in h.threads if t in children]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in h.listed and child not in h.threads:
                h.threads.add(child)
                todo.append(child)


def lookup_units(items: Sequence[KnownItem]) -> int:
    """Quota units `lookup` spends on these items (one request per 50 of a resource)."""
    kinds: dict[str, int] = {}
    for k in items:
        resource = "channels" if k.kind == "profile" else "videos" if k.kind == "video" \
            else "comments"
        kinds[resource] = kinds.get(resource, 0) + 1
    return sum(math.ceil(n / BATCH) for n in kinds.values())


def profile_id(channel_id: str) -> str:
    return f"channel:{channel_id}"


def profile_observation(account: AccountConfig, channel: dict[str, Any]) -> Observation:
    s = _obj(channel.get("snippet"), "channels items[0].snippet")
    title = _str(s, "title", "channels items[0].snippet")
    handle = _str(s, "customUrl", "channels items[0].snippet", optional=True)
    text = f"{title}\n{handle}" if handle else title
    return Observation(platform=PLATFORM, account=account.platform_id,
                       item_id=profile_id(account.platform_id), kind="profile", text=text,
                       published_at=_str(s, "publishedAt", "channels items[0].snippet",
                                         optional=True),
                       url=f"https://www.youtube.com/channel/{account.platform_id}",
                       raw=channel)


def deleted(account: AccountConfig, item: KnownItem, answer: Any) -> Observation:
    return Observation(platform=PLATFORM, account=account.platform_id, item_id=item.item_id,
                       kind=item.kind, parent_id=item.parent_id, event="deleted", raw=answer)


# -- the collector --------------------------------------------------------------------

class YouTubeCollector:
    """Implements archiver.collectors.protocol.Collector for YouTube Data API v3."""

    platform: ClassVar[str] = PLATFORM

    def __init__(self, clock: Any = None) -> None:
        self._clock = clock or (lambda: datetime.now(UTC))

    def _api(self, account: AccountConfig, http: Transport, cursor: Mapping[str, Any],
             opts: Options) -> YouTubeApi:
        now = self._clock()
        quota = cursor.get("quota") if isinstance(cursor.get("quota"), dict) else {}
        used = quota.get("used", 0) if quota.get("day") == quota_day(now) else 0
        return YouTubeApi(account, http, used=used if isinstance(used, int) else 0,
                          quota=opts.daily_quota, now=now)

    def harvest(self, account: AccountConfig, http: Transport, cursor: Mapping[str, Any],
                known: Sequence[KnownItem]) -> Harvest:
        from archiver.collectors.runner import deletion_candidates  # pure; no import cycle

        opts = Options.of(account.options)
        api = self._api(account, http, cursor, opts)
        h = Harvest()
        started = format_time(api.now)
        try:
            self._harvest(account, api, opts, cursor, known, h, started)
        except QuotaSpent:
            h.window_start = h.window_end = None
            h.notes.append(f"daily quota of {opts.daily_quota} units spent after "
                           f"{len(h.listed)} items: the channel not listed completely; "
                           f"nothing is presumed deleted this run")
        missing_subthreads(known, h)
        api.used += lookup_units(deletion_candidates(known, h))
        h.cursor = {**{k: v for k, v in cursor.items() if k != "quota"}, **h.cursor,
                    "quota": {"day": quota_day(api.now), "used": api.used}}
        return h

    def _harvest(self, account: AccountConfig, api: YouTubeApi, opts: Options,
                 cursor: Mapping[str, Any], known: Sequence[KnownItem], h: Harvest,
                 started: str) -> None:
        body, _ = api.get("channels", {"part": "snippet,contentDetails",
                                       "id": account.platform_id})
        channels = _items(body, "channels")
        if not channels:
            raise MalformedResponse(f"YouTube channels: no channel {account.platform_id} "
                                    f"(deleted, or the id is wrong)")
        channel = channels[0]
        profile = profile_observation(account, channel)
        h.observations.append(profile)
        h.listed.add(profile.item_id)
        old = cursor.get("profile")
        if isinstance(old, str) and old != profile.text:
            h.notes.append(f"channel renamed: {old!r} is now {profile.text!r}")
        h.cursor["profile"] = profile.text
        details = _obj(channel.get("contentDetails"), "channels items[0].contentDetails")
        related = _obj(details.get("relatedPlaylists"),
                       "channels items[0].contentDetails.relatedPlaylists")
        uploads = _str(related, "uploads", "channels items[0].contentDetails.relatedPlaylists")

        video_ids: list[str] = []
        complete = True
        try:
            for n, (page, _, _) in enumerate(api.pages(
                    "playlistItems", {"part": "contentDetails", "playlistId": uploads,
                                      "maxResults": BATCH}, opts.max_pages)):
                for i, item in enumerate(_items(page, f"playlistItems page {n + 1}")):
                    cd = _obj(item.get("contentDetails"),
                              f"playlistItems page {n + 1} items[{i}].contentDetails")
                    video_ids.append(_str(cd, "videoId", f"playlistItems page {n + 1} "
                                                         f"items[{i}].contentDetails"))
        except _Incomplete:
            complete = False
            h.notes.append(f"uploads listing stopped after {opts.max_pages} pages "
                           f"(max_pages): nothing is presumed deleted this run")
        video_ids = list(dict.fromkeys(video_ids))

        videos: list[Observation] = []
        for start in range(0, len(video_ids), BATCH):
            ids = video_ids[start:start + BATCH]
            page, _ = api.get("videos", {"part": "snippet,status,contentDetails",
                                         "id": ",".join(ids), "maxResults": BATCH})
            for i, v in enumerate(_items(page, "videos")):
                obs = video_observation(account, v, f"videos items[{i}]", opts.thumbnails)
                videos.append(obs)
                h.observations.append(obs)
                h.listed.add(obs.item_id)
        # A video in the playlist but not served by videos.list (private, just removed)
        # is not listed: if archived, deletion detection looks it up.
        if complete:
            h.window_start, h.window_end = EPOCH, started

        newest = sorted(videos, key=lambda o: o.published_at or "", reverse=True)
        chosen = [o.item_id for o in newest[:opts.comment_videos]]
        for vid in chosen:
            self._threads(account, api, opts, vid, h)

    def _threads(self, account: AccountConfig, api: YouTubeApi, opts: Options, video: str,
                 h: Harvest) -> None:
        where = f"commentThreads of {video}"
        tops: list[tuple[str, int, int]] = []   # (comment id, replies given, total)
        try:
            for n, (page, reason, _) in enumerate(api.pages(
                    "commentThreads", {"part": "snippet,replies", "videoId": video,
                                       "maxResults": 100, "textFormat": "plainText"},
                    opts.max_pages, tolerate=frozenset({"commentsDisabled",
                                                        "videoNotFound"}))):
                if reason is not None:
                    h.notes.append(f"{where}: {reason}; no comments read")
                    return
                for i, thread in enumerate(_items(page, f"{where} page {n + 1}")):
                    w = f"{where} page {n + 1} items[{i}]"
                    s = _obj(thread.get("snippet"), f"{w}.snippet")
                    top = _obj(s.get("topLevelComment"), f"{w}.snippet.topLevelComment")
                    obs = comment_observation(account, top, video, f"{w}.topLevelComment")
                    h.observations.append(obs)
                    h.listed.add(obs.item_id)
                    total = s.get("totalReplyCount", 0)
                    if not isinstance(total, int):
                        raise MalformedResponse(f"YouTube {w}.snippet.totalReplyCount is "
                                                f"not an integer")
                    replies = thread.get("replies") or {}
                    inlined = _obj(replies, f"{w}.replies").get("comments") or []
                    if not isinstance(inlined, list):
                        raise MalformedResponse(f"YouTube {w}.replies.comments is not a list")
                    for j, c in enumerate(inlined):
                        r = comment_observation(account, _obj(c, f"{w}.replies[{j}]"),
                                                obs.item_id, f"{w}.replies.comments[{j}]")
                        h.observations.append(r)
                        h.listed.add(r.item_id)
                    tops.append((obs.item_id, len(inlined), total))
        except _Incomplete:
            h.notes.append(f"{where}: stopped after {opts.max_pages} pages")
            return
        h.threads.add(video)
        for top, given, total in tops:
            # The inlined replies are all of them when there are as many as the total
            # (a deleted reply lowers the total too); otherwise ask comments?parentId=.
            if given >= total or self._replies(account, api, opts, top, h):
                h.threads.add(top)

    def _replies(self, account: AccountConfig, api: YouTubeApi, opts: Options, top: str,
                 h: Harvest) -> bool:
        """Every reply of a top-level comment (comments?parentId=); False if incomplete."""
        try:
            for n, (page, _, _) in enumerate(api.pages(
                    "comments", {"part": "snippet", "parentId": top, "maxResults": 100,
                                 "textFormat": "plainText"}, opts.max_pages)):
                for i, c in enumerate(_items(page, f"replies of {top} page {n + 1}")):
                    r = comment_observation(account, c, top,
                                            f"replies of {top} page {n + 1} items[{i}]")
                    if r.item_id not in h.listed:
                        h.observations.append(r)
                        h.listed.add(r.item_id)
        except _Incomplete:
            return False
        return True

    def lookup(self, account: AccountConfig, http: Transport,
               items: Sequence[KnownItem]) -> list[Observation]:
        """videos?id= / comments?id= / channels?id=, 50 ids a request: an id missing from
        `items` is gone; the answer (with `items: []`) is the deleted observation's raw."""
        opts = Options.of(account.options)
        api = YouTubeApi(account, http, used=0, quota=10**9, now=self._clock())
        out: list[Observation] = []
        groups: dict[str, list[KnownItem]] = {"videos": [], "comments": [], "channels": []}
        for k in items:
            kind = ("channels" if k.kind == "profile" else
                    "videos" if k.kind == "video" else "comments")
            groups[kind].append(k)
        for resource, group in groups.items():
            for start in range(0, len(group), BATCH):
                batch = group[start:start + BATCH]
                ids = [k.item_id.removeprefix("channel:") for k in batch]
                part = "snippet,contentDetails" if resource == "channels" else \
                    "snippet,status,contentDetails" if resource == "videos" else "snippet"
                params: dict[str, Any] = {"part": part, "id": ",".join(ids)}
                if resource == "comments":
                    params["textFormat"] = "plainText"
                body, _ = api.get(resource, params)
                found = {it.get("id"): it for it in _items(body, f"{resource} lookup")}
                for k, pid in zip(batch, ids, strict=True):
                    item = found.get(pid)
                    if item is None:
                        answer = {"request": f"{resource}?id={pid}", "status": 200,
                                  "items": [], "pageInfo": body.get("pageInfo")}
                        out.append(deleted(account, k, answer))
                    elif resource == "channels":
                        out.append(profile_observation(account, item))
                    elif resource == "videos":
                        out.append(video_observation(account, item, f"videos lookup {pid}",
                                                     opts.thumbnails))
                    else:
                        out.append(comment_observation(account, item, k.parent_id,
                                                       f"comments lookup {pid}"))
        return out


COLLECTOR = YouTubeCollector()
