"""Threads (Meta's Threads API, graph.threads.net): the account's posts, the whole reply
tree under each, hidden replies, deletions by direct fetch.

Shapes: developers.facebook.com/docs/threads (Threads Media, Reply Management, Error
codes). What a run reads (docs/collectors.md, "Threads"):

    GET /{user-id}?fields=id,username,name,threads_biography     the profile
    GET /{user-id}/threads?fields=...&since=&limit=              posts, newest first,
                                                                 paged by cursors.after
    GET /{media-id}/conversation?fields=...&reverse=false        every reply, flattened
    GET /{media-id}?fields=...                                   lookups

Threads has no edit signal in its API (no `edited_at`, no history): the fingerprint of
the text and media is the only way an edit shows. A reply the owner hid answers
`hide_status: HIDDEN` and is archived as `hidden`. A deleted object answers the Graph
error code 100 / subcode 33, which a permission problem can give too: it is recorded as
deleted only when the same token still reads the account's profile in that lookup.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from archiver.collectors.mastodon import JsonObject  # one JSON shape reader
from archiver.collectors.protocol import AccountConfig, Harvest, KnownItem
from archiver.collectors.transport import Transport
from archiver.collectors.youtube import missing_subthreads
from archiver.errors import ConfigError, CredentialsRejected, MalformedResponse, RateLimited
from archiver.records import Observation
from archiver.times import format_time

PLATFORM = "threads"
EPOCH = "1970-01-01T00:00:00Z"
POST_FIELDS = ("id,media_product_type,media_type,media_url,permalink,username,text,"
               "timestamp,shortcode,thumbnail_url,is_quote_post,children{id,media_type,"
               "media_url,thumbnail_url}")
REPLY_FIELDS = ("id,text,timestamp,username,permalink,media_type,media_url,hide_status,"
                "replied_to,root_post,is_reply,is_reply_owned_by_me")
PROFILE_FIELDS = "id,username,name,threads_biography"
# Graph error codes: 190 = access token invalid or expired; 4/17/32/613 = rate limits.
TOKEN_CODES = frozenset({190, 102, 10, 200})
LIMIT_CODES = frozenset({4, 17, 32, 613})
HIDDEN = "HIDDEN"   # hide_status values: NOT_HUSHED, UNHUSHED, HIDDEN, COVERED, BLOCKED,
#                     RESTRICTED; only HIDDEN is the owner hiding the reply.
_OPTIONS = {"page_size": 25, "max_pages": 100, "recheck_days": 7}


@dataclass(frozen=True)
class Options:
    page_size: int
    max_pages: int
    recheck_days: int

    @classmethod
    def of(cls, options: Mapping[str, Any]) -> Options:
        unknown = sorted(set(options) - set(_OPTIONS))
        if unknown:
            raise ConfigError(f"unknown Threads option(s): {', '.join(unknown)}")
        values = {**_OPTIONS, **options}
        for name, v in values.items():
            if isinstance(v, bool) or not isinstance(v, int) or v < 1 or \
                    (name == "page_size" and v > 100):
                raise ConfigError(f"Threads option {name} must be an integer from 1"
                                  f"{' to 100' if name == 'page_size' else ''}, not {v!r}")
        return cls(**values)


def graph_error(body: Any) -> dict[str, Any]:
    err = body.get("error") if isinstance(body, dict) else None
    return err if isinstance(err, dict) else {}


def is_gone(body: Any) -> bool:
    """Graph's "does not exist, cannot be loaded due to missing permissions": 100 / 33."""
    err = graph_error(body)
    return err.get("code") == 100 and err.get("error_subcode") == 33


class ThreadsApi:
    def __init__(self, account: AccountConfig, http: Transport, now: datetime) -> None:
        token = account.credentials.get("access_token")
        if not isinstance(token, str) or not token:
            raise CredentialsRejected("the Threads account has no access_token credential")
        self.base = account.base_url.rstrip("/")
        self.http = http
        self.token = token
        self.now = now

    def get(self, path: str, params: Mapping[str, Any], *, gone_ok: bool = False
            ) -> tuple[int, Any]:
        """(status, JSON); a 100/33 answer is returned when `gone_ok`, other errors raise."""
        r = self.http.get(f"{self.base}/{path}",
                          params={**params, "access_token": self.token},
                          accept=(400, 403, 404))
        body = r.json()
        if 200 <= r.status < 300:
            if not isinstance(body, dict):
                raise MalformedResponse(f"Threads /{path}: the answer is not a JSON object")
            return r.status, body
        err = graph_error(body)
        message = (f"Threads /{path} answered {r.status}: {err.get('type')} code "
                   f"{err.get('code')}/{err.get('error_subcode')}: {err.get('message')}")
        if gone_ok and is_gone(body):
            return r.status, body
        if err.get("code") in LIMIT_CODES:   # before the type: limits are OAuthException too
            raise RateLimited(message, self.now.timestamp() + 900)
        if err.get("code") in TOKEN_CODES or r.status == 401:
            raise CredentialsRejected(message)
        raise MalformedResponse(message)

    def pages(self, path: str, params: Mapping[str, Any], max_pages: int
              ) -> tuple[list[dict[str, Any]], bool]:
        """Every `data` entry following `paging.cursors.after` while `paging.next` is
        given; and whether the listing ended (not cut by max_pages)."""
        out: list[dict[str, Any]] = []
        after: str | None = None
        for n in range(max_pages):
            p = dict(params)
            if after:
                p["after"] = after
            _, body = self.get(path, p)
            data = body.get("data")
            if not isinstance(data, list):
                raise MalformedResponse(f"Threads /{path} page {n + 1}: data is not a list")
            out += [_obj(d, f"/{path} page {n + 1} data[{i}]") for i, d in enumerate(data)]
            paging = body.get("paging") if isinstance(body.get("paging"), dict) else {}
            cursors = paging.get("cursors") if isinstance(paging.get("cursors"), dict) else {}
            after = cursors.get("after")
            if not paging.get("next") or not isinstance(after, str) or not data:
                return out, True
        return out, False


def _obj(v: Any, where: str) -> dict[str, Any]:
    """`v` if it is a JSON object, else MalformedResponse naming `where`."""
    return JsonObject(v, f"Threads {where}").obj


def _str(d: dict[str, Any], key: str, where: str, *, optional: bool = False) -> str | None:
    """Member `key` of `d`, a string (or None when `optional`), else MalformedResponse."""
    member = JsonObject(d, f"Threads {where}")
    return member.opt_str(key) if optional else member.str(key)


def media_of(item: dict[str, Any]) -> list[dict[str, Any]]:
    """The post's image or video, or each child of a carousel (id = the media id)."""
    children = item.get("children")
    if isinstance(children, dict) and isinstance(children.get("data"), list):
        entries = [c for c in children["data"] if isinstance(c, dict)]
    else:
        entries = [item]
    out = []
    for e in entries:
        url = e.get("media_url")
        if isinstance(url, str) and isinstance(e.get("id"), str):
            mime = "video/mp4" if e.get("media_type") == "VIDEO" else "image/jpeg"
            out.append({"id": e["id"], "url": url, "mime": mime})
    return out


def observation(account: AccountConfig, item: dict[str, Any], where: str, *,
                kind: str, parent: str | None) -> Observation:
    iid = _str(item, "id", where)
    text = _str(item, "text", where, optional=True) or ""
    username = _str(item, "username", where, optional=True)
    hide = item.get("hide_status")
    return Observation(platform=PLATFORM, account=account.platform_id, item_id=iid, kind=kind,
                       text=text, parent_id=parent,
                       published_at=_str(item, "timestamp", where),
                       author={"handle": username} if username else None,
                       url=_str(item, "permalink", where, optional=True),
                       media=media_of(item), raw=item,
                       event="hidden" if hide == HIDDEN else None)


def profile_id(user_id: str) -> str:
    return f"account:{user_id}"


def profile_observation(account: AccountConfig, body: dict[str, Any]) -> Observation:
    username = _str(body, "username", "profile")
    name = _str(body, "name", "profile", optional=True)
    text = f"{name}\n@{username}" if name else f"@{username}"
    return Observation(platform=PLATFORM, account=account.platform_id,
                       item_id=profile_id(account.platform_id), kind="profile", text=text,
                       url=f"https://www.threads.net/@{username}", raw=body)


def _parse_time(value: Any) -> datetime | None:
    """The cursor's `listed_until`, or None (a first run) when absent or unreadable."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


class ThreadsCollector:
    """Implements archiver.collectors.protocol.Collector for Threads."""

    platform: ClassVar[str] = PLATFORM

    def harvest(self, account: AccountConfig, http: Transport, cursor: Mapping[str, Any],
                known: Sequence[KnownItem]) -> Harvest:
        opts = Options.of(account.options)
        now = datetime.now(UTC)
        api = ThreadsApi(account, http, now)
        h = Harvest()
        _, body = api.get(account.platform_id, {"fields": PROFILE_FIELDS})
        profile = profile_observation(account, body)
        h.observations.append(profile)
        h.listed.add(profile.item_id)
        old = cursor.get("profile")
        if isinstance(old, str) and old != profile.text:
            h.notes.append(f"account renamed: {old!r} is now {profile.text!r}")
        username = body["username"]

        listed_until = cursor.get("listed_until")
        params: dict[str, Any] = {"fields": POST_FIELDS, "limit": opts.page_size}
        start = EPOCH
        last = _parse_time(listed_until)
        if last is not None:
            since = min(now - timedelta(days=opts.recheck_days), last)
            params["since"] = _epoch(since)
            start = format_time(since)
        posts, complete = api.pages(f"{account.platform_id}/threads", params,
                                    opts.max_pages)
        for i, post in enumerate(posts):
            obs = observation(account, post, f"threads data[{i}]", kind="post", parent=None)
            h.observations.append(obs)
            h.listed.add(obs.item_id)
            self._conversation(account, api, opts, obs.item_id, username, h)
        if complete:
            h.window_start, h.window_end = start, format_time(now)
            h.cursor["listed_until"] = format_time(now)
        else:
            h.notes.append(f"listing stopped after {opts.max_pages} pages: nothing is "
                           f"presumed deleted this run")
            if isinstance(listed_until, str):
                h.cursor["listed_until"] = listed_until
        h.cursor["profile"] = profile.text
        missing_subthreads(known, h)   # a gone comment's replies are looked up too
        return h

    def _conversation(self, account: AccountConfig, api: ThreadsApi, opts: Options,
                      post: str, username: str, h: Harvest) -> None:
        replies, complete = api.pages(f"{post}/conversation",
                                      {"fields": REPLY_FIELDS, "reverse": "false",
                                       "limit": opts.page_size}, opts.max_pages)
        ids = []
        for i, reply in enumerate(replies):
            where = f"/{post}/conversation data[{i}]"
            replied_to = reply.get("replied_to")
            parent = replied_to.get("id") if isinstance(replied_to, dict) else None
            if not isinstance(parent, str):
                parent = post
            own = reply.get("is_reply_owned_by_me") is True or reply.get("username") == \
                username
            obs = observation(account, reply, where, kind="reply" if own else "comment",
                              parent=parent)
            h.observations.append(obs)
            h.listed.add(obs.item_id)
            ids.append(obs.item_id)
        if complete:   # the flattened conversation is the whole tree under the post
            h.threads.update([post, *ids])

    def lookup(self, account: AccountConfig, http: Transport,
               items: Sequence[KnownItem]) -> list[Observation]:
        """GET /{id}; 100/33 is a deletion only if the token still reads the profile."""
        api = ThreadsApi(account, http, datetime.now(UTC))
        out: list[Observation] = []
        confirmed = False
        for k in items:
            if k.item_id == profile_id(account.platform_id):
                _, body = api.get(account.platform_id, {"fields": PROFILE_FIELDS})
                out.append(profile_observation(account, body))
                continue
            fields = POST_FIELDS if k.parent_id is None else REPLY_FIELDS
            status, body = api.get(k.item_id, {"fields": fields}, gone_ok=True)
            if not is_gone(body):
                out.append(observation(account, body, f"/{k.item_id}", kind=k.kind,
                                       parent=k.parent_id))
                continue
            if not confirmed:   # the token can still read the account: not a permission
                api.get(account.platform_id, {"fields": "id"})
                confirmed = True
            out.append(Observation(platform=PLATFORM, account=account.platform_id,
                                   item_id=k.item_id, kind=k.kind, parent_id=k.parent_id,
                                   event="deleted", raw={"status": status, **body}))
        return out


COLLECTOR = ThreadsCollector()
