"""Instagram (Graph API, through the Page linked to the Instagram professional account):
media with captions and carousel children, comments and replies with `hidden`,
deletions confirmed by direct fetch. The Graph plumbing is Facebook's
(`archiver.collectors.facebook.Graph`): same errors, rate limits, paging, token check.

Endpoints (developers.facebook.com/docs/instagram-platform/instagram-graph-api):

- `GET /{ig-user-id}?fields=id,username,name`: the account, archived as the profile item
  `account:<id>` (text: name and @username), so that a rename is an edit.
- `GET /{ig-user-id}/media`: the account's media, newest first, cursor paged; `caption`,
  `media_type` (IMAGE, VIDEO, CAROUSEL_ALBUM), `media_url`, `permalink`, `timestamp`, and
  for albums `children{id,media_type,media_url}`. The edge has no time filter: pages are
  read until a medium older than the window.
- `GET /{ig-media-id}/comments?fields=...,hidden,replies{...}`: top-level comments with
  their replies; more replies than the first page of a comment are read from
  `GET /{ig-comment-id}/replies`.

What Instagram does not expose: comments cannot be edited on Instagram at all; a caption
can be, but the API gives no edit time or history (capture's fingerprint decides: a
changed caption is an `edited` event). Hidden comments are returned with `hidden: true`
to the account's token, so they are archived with the `hidden` event. Instagram sends no
webhook for edits or deletions (its `comments` and `mentions` webhooks are for new
comments only): deletions are found by polling, by looking up each archived item that a
complete listing missed (code 100 / subcode 33, confirmed as for Facebook).

Account options: `api_version`, `recheck_days` (7), `first_run_days` (30), `comments`
(true), `check_token` (true), `token_warn_days` (14); as for Facebook.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from archiver import times
from archiver.collectors import facebook as fb
from archiver.collectors.protocol import AccountConfig, Harvest, KnownItem
from archiver.collectors.transport import Transport
from archiver.errors import MalformedResponse
from archiver.records import Observation

PLATFORM = "instagram"
PROFILE_PREFIX = "account:"
MENTION_PREFIX = "mention:"     # items made by the `mentions` webhook (meta_webhooks.py)
PAGE_SIZE = 50
USER_FIELDS = "id,username,name"
CHILD_FIELDS = "id,media_type,media_url,thumbnail_url"
MEDIA_FIELDS = (f"id,caption,media_type,media_product_type,media_url,thumbnail_url,"
                f"permalink,shortcode,timestamp,username,comments_count,"
                f"children{{{CHILD_FIELDS}}}")
REPLY_FIELDS = "id,text,timestamp,username,from,hidden,like_count,parent_id"
COMMENT_FIELDS = f"{REPLY_FIELDS},replies{{{REPLY_FIELDS}}}"
MIME = {"IMAGE": "image/jpeg", "VIDEO": "video/mp4"}
DEFAULTS: Mapping[str, Any] = {
    "api_version": "v21.0",
    "recheck_days": 7,
    "first_run_days": 30,
    "comments": True,
    "check_token": True,
    "token_warn_days": 14,
}


class InstagramCollector:
    platform: ClassVar[str] = PLATFORM

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self._clock = clock or (lambda: datetime.now(UTC))

    def harvest(self, account: AccountConfig, http: Transport, cursor: Mapping[str, Any],
                known: Sequence[KnownItem]) -> Harvest:
        opts = fb.options(PLATFORM, account, DEFAULTS)
        harvest = Harvest()
        graph = fb.Graph(PLATFORM, account, http, harvest, opts["api_version"])
        now = self._clock().astimezone(UTC).replace(microsecond=0)
        observed_at = times.format_time(now)
        if opts["check_token"]:
            fb.check_token(graph, harvest, now, opts["token_warn_days"])
        user = graph.get(account.platform_id, {"fields": USER_FIELDS})
        if fb.graph_id(user, graph.url(account.platform_id), PLATFORM) != account.platform_id:
            raise MalformedResponse(f"instagram {account.platform_id}: the account answered "
                                    f"with another id")
        profile = profile_observation(account, user, observed_at)
        harvest.observations.append(profile)
        harvest.listed.add(profile.item_id)
        username = user.get("username")
        if isinstance(username, str) and account.handle and username != account.handle:
            harvest.notes.append(f"account renamed: @{account.handle} is now @{username}")

        start = times.format_time(fb.window_start(cursor, now, opts["recheck_days"],
                                                  opts["first_run_days"]))
        path = f"{account.platform_id}/media"
        media: list[Observation] = []
        for data in graph.pages(path, {"fields": MEDIA_FIELDS, "limit": PAGE_SIZE}):
            older = False
            for obj in data:
                obs = media_observation(account, obj, graph.url(path), observed_at)
                if obs.published_at is not None and obs.published_at < start:
                    older = True
                    continue
                if obs.item_id not in harvest.listed:
                    media.append(obs)
                    harvest.listed.add(obs.item_id)
            if older:
                break
        harvest.observations.extend(media)
        if opts["comments"]:
            for medium in media:
                self._thread(graph, account, medium.item_id, harvest, observed_at)
                harvest.threads.add(medium.item_id)
            fb.threads_below(harvest, known)   # the same rule as Facebook's
        harvest.window_start = start
        harvest.window_end = observed_at
        harvest.cursor = {"last_run": observed_at}
        return harvest

    def _thread(self, graph: fb.Graph, account: AccountConfig, media_id: str,
                harvest: Harvest, observed_at: str) -> None:
        path = f"{media_id}/comments"
        for data in graph.pages(path, {"fields": COMMENT_FIELDS, "limit": PAGE_SIZE}):
            for obj in data:
                obs = comment_observation(account, obj, media_id, graph.url(path),
                                          observed_at)
                harvest.observations.append(obs)
                harvest.listed.add(obs.item_id)
                replies = obj.get("replies")
                if replies is None:
                    continue
                if not isinstance(replies, dict):
                    raise MalformedResponse(f"instagram {graph.url(path)}: `replies` must be "
                                            f"an object")
                batches = [fb.objects(replies, "data", graph.url(path), PLATFORM)]
                follow = fb.next_query(replies, graph.url(path), PLATFORM)
                if follow is not None:   # more replies than the first page: read them all
                    rpath = f"{obs.item_id}/replies"
                    batches = list(graph.pages(rpath, {"fields": REPLY_FIELDS,
                                                       "limit": PAGE_SIZE}))
                for batch in batches:
                    for reply in batch:
                        robs = comment_observation(account, reply, obs.item_id,
                                                   graph.url(path), observed_at)
                        harvest.observations.append(robs)
                        harvest.listed.add(robs.item_id)

    def lookup(self, account: AccountConfig, http: Transport,
               items: Sequence[KnownItem]) -> list[Observation]:
        """`GET /{id}`: the current state, or `deleted` once the token and the account are
        confirmed to answer (code 100 / subcode 33 can also mean "no permission")."""
        opts = fb.options(PLATFORM, account, DEFAULTS)
        graph = fb.Graph(PLATFORM, account, http, Harvest(), opts["api_version"])
        observed_at = times.format_time(self._clock().astimezone(UTC).replace(microsecond=0))
        out: list[Observation] = []
        fetcher = fb.KnownLookup(graph, account, opts["check_token"], observed_at,
                                 PROFILE_PREFIX, (USER_FIELDS, MEDIA_FIELDS, REPLY_FIELDS))
        for k in items:
            if k.item_id.startswith(MENTION_PREFIX):
                continue        # a webhook's mention: ids only, nothing to look up
            got = fetcher.fetch(k)
            if isinstance(got, Observation):
                out.append(got)
                continue
            found, url = got
            if k.kind == "profile":
                out.append(profile_observation(account, found, observed_at))
            elif k.parent_id is None:
                out.append(media_observation(account, found, url, observed_at))
            else:
                out.append(comment_observation(account, found, k.parent_id, url,
                                               observed_at))
        return out


def profile_observation(account: AccountConfig, user: Mapping[str, Any],
                        observed_at: str) -> Observation:
    url = "instagram account"
    name = fb.text_field(user, "name", url, PLATFORM)
    username = fb.text_field(user, "username", url, PLATFORM)
    text = "\n".join(s for s in (name, f"@{username}" if username else None) if s)
    return Observation(
        platform=PLATFORM, account=account.platform_id,
        item_id=f"{PROFILE_PREFIX}{account.platform_id}", kind="profile", text=text,
        author={"id": account.platform_id, "handle": username, "name": name},
        observed_at=observed_at,
        url=f"https://www.instagram.com/{username}/" if username else None, raw=dict(user))


def _medium(obj: Mapping[str, Any], url: str) -> dict[str, Any] | None:
    kind = obj.get("media_type")
    media_url = fb.text_field(obj, "media_url", url, PLATFORM)
    if media_url is None:       # e.g. a video flagged for copyright: no media_url returned
        return None
    return {"id": fb.graph_id(obj, url, PLATFORM), "url": media_url,
            "mime": MIME.get(kind) if isinstance(kind, str) else None, "alt": None}


def media_observation(account: AccountConfig, obj: Mapping[str, Any], url: str,
                      observed_at: str) -> Observation:
    """One medium (a post): its caption, its file(s); an album's files are its children."""
    media_id = fb.graph_id(obj, url, PLATFORM)
    kind = fb.text_field(obj, "media_type", url, PLATFORM, required=True)
    files: list[dict[str, Any]] = []
    if kind == "CAROUSEL_ALBUM":
        children = obj.get("children")
        if children is not None:
            if not isinstance(children, dict):
                raise MalformedResponse(f"instagram {url}: `children` must be an object")
            for child in fb.objects(children, "data", url, PLATFORM):
                medium = _medium(child, url)
                if medium is not None:
                    files.append(medium)
    else:
        medium = _medium(obj, url)
        if medium is not None:
            files.append(medium)
    username = fb.text_field(obj, "username", url, PLATFORM)
    return Observation(
        platform=PLATFORM, account=account.platform_id, item_id=media_id, kind="post",
        text=fb.text_field(obj, "caption", url, PLATFORM),
        author={"id": account.platform_id, "handle": username or account.handle,
                "name": None},
        published_at=fb.graph_time(obj.get("timestamp"), url, PLATFORM, "timestamp"),
        observed_at=observed_at, url=fb.text_field(obj, "permalink", url, PLATFORM),
        media=files, raw=dict(obj))


def comment_observation(account: AccountConfig, obj: Mapping[str, Any], parent_id: str,
                        url: str, observed_at: str) -> Observation:
    """A comment on a medium or a reply to a comment; the account's own are `reply`."""
    comment_id = fb.graph_id(obj, url, PLATFORM)
    who = obj.get("from")
    author_id = None
    if who is not None:
        if not isinstance(who, dict):
            raise MalformedResponse(f"instagram {url}: `from` must be an object")
        author_id = fb.text_field(who, "id", url, PLATFORM)
    username = fb.text_field(obj, "username", url, PLATFORM)
    hidden = obj.get("hidden")
    if hidden is not None and not isinstance(hidden, bool):
        raise MalformedResponse(f"instagram {url}: `hidden` must be true or false")
    parent = fb.text_field(obj, "parent_id", url, PLATFORM) or parent_id
    own = author_id == account.platform_id or (username is not None
                                               and username == account.handle)
    return Observation(
        platform=PLATFORM, account=account.platform_id, item_id=comment_id,
        kind="reply" if own else "comment", text=fb.text_field(obj, "text", url, PLATFORM),
        author={"id": author_id, "handle": username, "name": None}, parent_id=parent,
        published_at=fb.graph_time(obj.get("timestamp"), url, PLATFORM, "timestamp"),
        observed_at=observed_at, url=None, raw=dict(obj),
        event="hidden" if hidden else None)


COLLECTOR = InstagramCollector()
