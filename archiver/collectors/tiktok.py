"""TikTok (Display API v2, open.tiktokapis.com): the account's videos, their edits through
the fingerprint, deletions by query; with Business API credentials also the comments and
replies of those videos (TikTok API for Business v1.3), hidden ones included.

Shapes: developers.tiktok.com/doc (Display API "Get Started", "Video Object", "List
Videos", "Query Videos", "User Info", "Error Handling", "Rate Limits"). Every answer is
`{"data": {...}, "error": {"code": "ok" | ..., "message", "log_id"}}`.

    GET  /v2/user/info/?fields=open_id,display_name               the profile
    POST /v2/video/list/?fields=...  {"max_count": 20, "cursor"}  videos, newest first;
                                     `data.cursor` / `data.has_more` page backwards
    POST /v2/video/query/?fields=... {"filters": {"video_ids"}}   lookups, 20 a request:
                                     an id missing from `data.videos` is gone

Comments: TikTok API for Business v1.3 (business-api.tiktok.com/open_api/v1.3), header
`Access-Token` (no "Bearer"), shapes as in sns-sdks/python-tiktok
(`BusinessComment`, `BusinessCommentsData`, `BusinessBaseResponse`; `get_video_comments`,
`get_comment_replies`) and the TikTok business-api docs they cite (docs?id=1733329505077250).
Every answer is `{"code": 0, "message": "OK", "request_id", "data": {...}}`; HTTP 200
also for errors, so `code` decides.

    GET /business/comment/list/?business_id&video_id&status=ALL&include_replies=false
        &max_count=30&cursor      a video's top-level comments, public AND hidden
    GET /business/comment/reply/list/?business_id&video_id&comment_id&status=ALL&...
                                  one comment's replies
    data: {"comments": [{"comment_id", "video_id", "user_id", "create_time" (epoch s),
           "text", "likes", "replies", "owner", "liked", "pinned", "status"
           ("PUBLIC" | "HIDDEN"), "username", "display_name", "profile_image",
           "parent_comment_id"}], "cursor": int, "has_more": bool}

There is no single-comment read: a comment missing from a complete `status=ALL` listing
of its video (or a reply from its comment's) is recorded deleted; `raw` names the listing.
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
BUSINESS_API = "https://business-api.tiktok.com/open_api/v1.3"
COMMENT_PAGE = 30         # comment/list and reply/list: max_count 1..30
# Business API `code`s: 40100 = QPS/QPM/QPD limit exceeded; 40001 no permission (scope),
# 40101 app id/secret invalid, 40102 access token expired, 40104 token empty/expired,
# 40105 token incorrect or revoked.
BUSINESS_RATE_CODES = frozenset({40100})
BUSINESS_TOKEN_CODES = frozenset({40001, 40101, 40102, 40104, 40105})
_OPTIONS = {"max_count": 20, "max_pages": 200, "recheck_days": 7, "covers": True,
            "business_id": None, "business_base_url": BUSINESS_API}


@dataclass(frozen=True)
class Options:
    max_count: int
    max_pages: int
    recheck_days: int
    covers: bool
    business_id: str | None
    business_base_url: str

    @classmethod
    def of(cls, options: Mapping[str, Any]) -> Options:
        unknown = sorted(set(options) - set(_OPTIONS))
        if unknown:
            raise ConfigError(f"unknown TikTok option(s): {', '.join(unknown)}")
        values = {**_OPTIONS, **options}
        if not isinstance(values["covers"], bool):
            raise ConfigError("TikTok option covers must be true or false")
        bid = values["business_id"]
        if isinstance(bid, int) and not isinstance(bid, bool):   # `--option` typed digits
            values["business_id"] = bid = str(bid)
        if bid is not None and (not isinstance(bid, str) or not bid.strip()):
            raise ConfigError("TikTok option business_id must be a non-empty string")
        base = values["business_base_url"]
        if not isinstance(base, str) or not base.startswith(("https://", "http://")):
            raise ConfigError("TikTok option business_base_url must be an http(s) URL")
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


class BusinessApi:
    """TikTok API for Business v1.3 with the account's Business token (comments only)."""

    def __init__(self, account: AccountConfig, http: Transport, opts: Options) -> None:
        token = account.credentials.get("business_access_token")
        if not isinstance(token, str) or not token or opts.business_id is None:
            raise ConfigError("TikTok comments need both the business_access_token "
                              "credential and the business_id option")
        self.base = opts.business_base_url.rstrip("/")
        self.business_id = opts.business_id
        self.http = http
        self.headers = {"Access-Token": token}

    def get(self, endpoint: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """`data` of an answer with `code` 0; any other `code` raises a typed error."""
        where = f"/business/{endpoint}/"
        r = self.http.request("GET", f"{self.base}{where}",
                              params={"business_id": self.business_id, **params},
                              headers=self.headers, accept=(400, 401, 403))
        answer = _obj(r.json(), f"{where} answer")
        code = answer.get("code")
        if code != 0 or isinstance(code, bool) or r.status >= 300:
            message = f"TikTok Business {where} answered {r.status} code {code}: " \
                      f"{answer.get('message')} (request_id {answer.get('request_id')})"
            if code in BUSINESS_TOKEN_CODES or (r.status == 401 and code is None):
                raise CredentialsRejected(message)
            if code in BUSINESS_RATE_CODES:
                raise RateLimited(message, datetime.now(UTC).timestamp() + 60)
            raise MalformedResponse(message)
        return _obj(answer.get("data"), f"{where} data")

    def listing(self, endpoint: str, params: Mapping[str, Any], max_pages: int
                ) -> tuple[list[dict[str, Any]], bool]:
        """Every comment of a listing, status=ALL, and whether it was read to the end."""
        out: list[dict[str, Any]] = []
        cursor: int | None = None
        for n in range(max_pages):
            query = {**params, "status": "ALL", "max_count": COMMENT_PAGE}
            if cursor is not None:
                query["cursor"] = cursor
            where = f"{endpoint} page {n + 1}"
            data = self.get(endpoint, query)
            comments = data.get("comments", [])
            if not isinstance(comments, list):
                raise MalformedResponse(f"TikTok Business {where}: data.comments is not "
                                        f"a list")
            out += [_obj(c, f"Business {where} comments[{i}]") for i, c in enumerate(comments)]
            has_more, nxt = data.get("has_more"), data.get("cursor")
            if not isinstance(has_more, bool):
                raise MalformedResponse(f"TikTok Business {where}: data.has_more is not a "
                                        f"boolean")
            if not has_more:
                return out, True
            if isinstance(nxt, bool) or not isinstance(nxt, int):
                raise MalformedResponse(f"TikTok Business {where}: data.cursor is not an "
                                        f"integer")
            cursor = nxt
        return out, False


def comment_observation(account: AccountConfig, c: dict[str, Any], parent_id: str,
                        where: str) -> Observation:
    """A comment on a video or a reply to a comment; the account's own (`owner`) are
    `reply`; `status: HIDDEN` is the `hidden` event (PUBLIC again -> capture restores)."""
    d = JsonObject(c, f"TikTok Business {where}")
    cid = d.id("comment_id")
    created = c.get("create_time")
    if isinstance(created, str) and created.isdigit():
        created = int(created)
    if isinstance(created, bool) or not isinstance(created, int):
        raise MalformedResponse(f"TikTok Business {where}.create_time must be epoch seconds")
    status = c.get("status")
    if status not in ("PUBLIC", "HIDDEN"):
        raise MalformedResponse(f"TikTok Business {where}.status must be PUBLIC or HIDDEN, "
                                f"not {status!r}")
    owner = c.get("owner", False)
    if not isinstance(owner, bool):
        raise MalformedResponse(f"TikTok Business {where}.owner must be true or false")
    parent = d.opt_id("parent_comment_id") or parent_id
    return Observation(
        platform=PLATFORM, account=account.platform_id, item_id=cid,
        kind="reply" if owner else "comment", text=d.str("text"),
        author={"id": d.opt_id("user_id"), "handle": d.opt_str("username"),
                "name": d.opt_str("display_name")},
        parent_id=parent, published_at=format_time(datetime.fromtimestamp(created, UTC)),
        raw=dict(c), event="hidden" if status == "HIDDEN" else None)


def harvest_comments(account: AccountConfig, api: BusinessApi, opts: Options,
                     video_ids: Sequence[str], known: Sequence[KnownItem], h: Harvest) -> None:
    """Every comment and reply of these videos into `h`; a listing read to its end puts
    its video (or comment) in `h.threads`, so what it no longer holds is looked up. An
    archived comment gone from its video's complete listing is a thread too: its replies
    went with it (they cannot be listed any more)."""
    cut = 0
    for vid in video_ids:
        comments, complete = api.listing("comment/list", {"video_id": vid,
                                                          "include_replies": "false"},
                                         opts.max_pages)
        cut += not complete
        for i, c in enumerate(comments):
            obs = comment_observation(account, c, vid, f"comment/list {vid} [{i}]")
            h.observations.append(obs)
            h.listed.add(obs.item_id)
            count = c.get("replies")
            if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
                raise MalformedResponse(f"TikTok Business comment/list {vid} [{i}].replies "
                                        f"must be an integer")
            if not count:   # none now: replies archived earlier are looked up
                h.threads.add(obs.item_id)
                continue
            replies, whole = api.listing("comment/reply/list",
                                         {"video_id": vid, "comment_id": obs.item_id},
                                         opts.max_pages)
            cut += not whole
            for j, r in enumerate(replies):
                reply = comment_observation(account, r, obs.item_id,
                                            f"comment/reply/list {obs.item_id} [{j}]")
                h.observations.append(reply)
                h.listed.add(reply.item_id)
            if whole:
                h.threads.add(obs.item_id)
        if complete:
            h.threads.add(vid)
            h.threads.update(k.item_id for k in known if k.parent_id == vid
                             and k.kind in ("comment", "reply")
                             and k.item_id not in h.listed)
    if cut:
        h.notes.append(f"{cut} comment listing(s) stopped after {opts.max_pages} pages: "
                       f"their comments are not presumed deleted")


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
    """Implements archiver.collectors.protocol.Collector: videos through TikTok's Display
    API, their comments through the Business API when the account has its credentials."""

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
        videos = [o.item_id for o in h.observations if o.kind == "video"]
        if opts.business_id is None and "business_access_token" not in account.credentials:
            h.notes.append("comments not collected: they need TikTok's Business API "
                           "(business_access_token credential and business_id option)")
        else:
            harvest_comments(account, BusinessApi(account, http, opts), opts, videos, known,
                             h)
        if h.window_start is not None:   # a cut first listing is tried again whole
            h.cursor["listed_until"] = format_time(now)
        elif isinstance(cursor.get("listed_until"), str):
            h.cursor["listed_until"] = cursor["listed_until"]
        return h

    def lookup(self, account: AccountConfig, http: Transport,
               items: Sequence[KnownItem]) -> list[Observation]:
        """video/query by id; an id missing from `data.videos` is deleted (or made
        private: the Display API does not tell the two apart). Comments and replies are
        decided by the harvest's complete listings (`comment_deleted`)."""
        opts = Options.of(account.options)
        api = TikTokApi(account, http)
        out: list[Observation] = []
        videos = [k for k in items if k.kind == "video"]
        for k in items:
            if k.kind in ("comment", "reply"):
                out.append(comment_deleted(account, k))
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


def comment_deleted(account: AccountConfig, k: KnownItem) -> Observation:
    """The Business API has no single-comment read: the runner hands over only comments
    absent from a complete `status=ALL` listing of their parent made in this run (their
    parent is in `threads`), so that absence is the answer, recorded in `raw`."""
    return Observation(platform=PLATFORM, account=account.platform_id, item_id=k.item_id,
                       kind=k.kind, parent_id=k.parent_id, event="deleted",
                       raw={"absent_from": {"parent_id": k.parent_id, "status": "ALL",
                                            "listing": "complete"}})


COLLECTOR = TikTokCollector()
