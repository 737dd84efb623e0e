"""Facebook Pages (Graph API): the Page's posts, visitor posts, comment threads with their
hidden state, edits, deletions confirmed by direct fetch, and the page token's expiry.

Endpoints (developers.facebook.com/docs/graph-api; the base URL carries the version,
e.g. `https://graph.facebook.com/v21.0`, or option `api_version` adds it):

- `GET /debug_token?input_token=T`: `data.is_valid`, `expires_at`, `data_access_expires_at`
  (epoch seconds, 0 = never). Invalid -> the account is paused (CredentialsRejected);
  expiring within `token_warn_days` -> a `token_expiring` alert (Harvest.alerts).
- `GET /{page-id}?fields=id,name,username,link`: the Page itself, archived as the profile
  item `page:<id>` (text: name and @username), so that a rename is an edit. It also
  proves, each run, that the Page and the token still answer.
- `GET /{page-id}/published_posts` and `/visitor_posts` (option `visitor_posts`), bounded
  by `since` (epoch seconds): the Page's own posts (`post`) and the public's posts on the
  Page (`visitor_post`). Together they are what `/feed` shows; listed apart so that
  each item's kind is certain.
- `GET /{post-id}/comments?filter=stream`: every comment and reply of the post, flat,
  replies naming their `parent`; `is_hidden` is returned only to a Page access token of
  a Page admin, so the credential must be the Page token.

Paging: `paging.cursors.after` is sent back as `after`; a `paging.next` without cursors
(the time-paged post edges) has its query (not its host, and never its access token)
applied to the same endpoint. The token travels in the `Authorization` header, never as
`access_token` in a URL (`debug_token` alone needs it as its `input_token` parameter);
a cursor the listing already gave fails the run (it would loop).

Edits: Graph keeps no edit history. A post's `updated_time` moves on edits but also on
new comments, so it is not an edit signal by itself: capture's fingerprint of the text
and media decides (`updated_time` stays in `raw`). Comments carry no edit time at all;
a changed `message` is an edit.

Deletions: a deleted object answers error code 100 with subcode 33 ("does not exist,
cannot be loaded due to missing permissions, or does not support this operation"), and
so does an object the token may no longer read. Before any item is recorded `deleted`,
the lookup confirms that the token is still valid (`debug_token`) and that the Page
still answers; if not, the run fails and nothing is presumed deleted.

Errors (`error.code`): 190 (expired or revoked token) and 10 / 200-299 (a permission
withdrawn) pause the account; 4, 17, 32, 613, 80001 (rate limits) make the run
`rate_limited`, with `retry_at` from `X-Business-Use-Case-Usage` /
`estimated_time_to_regain_access` when given; anything else fails the run.

Account options (`AccountConfig.options`):
  api_version      Graph version when the base URL has none (default v21.0)
  recheck_days     how far back each run lists again, for edits and deletions (default 7)
  first_run_days   how far back the first run lists (default 30)
  visitor_posts    list the public's posts on the Page (default true)
  comments         fetch comment threads (default true)
  check_token      ask debug_token for validity and expiry (default true)
  token_warn_days  alert this long before the token expires (default 14)
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from archiver import times
from archiver.collectors.protocol import AccountConfig, Harvest, KnownItem
from archiver.collectors.transport import Response, Transport
from archiver.errors import CollectorError, CredentialsRejected, MalformedResponse, RateLimited
from archiver.records import Observation

PLATFORM = "facebook"
PROFILE_PREFIX = "page:"
EXPORT_PREFIX = "dyi:"          # items of archiver/collectors/exports/facebook.py
PAGE_SIZE = 100
_VERSION = re.compile(r"/v[0-9]+\.[0-9]+$")
GRAPH_ID = re.compile(r"[0-9]{1,24}(_[0-9]{1,24})?")
RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, 80001, 80002, 80004})
PERMISSION_CODES = frozenset({10, *range(200, 300)})
POST_FIELDS = ("id,message,story,created_time,updated_time,permalink_url,from,status_type,"
               "is_hidden,attachments{media_type,type,url,title,description,media,target,"
               "subattachments}")
COMMENT_FIELDS = "id,message,created_time,from,parent{id},is_hidden,permalink_url,attachment"
PAGE_FIELDS = "id,name,username,link"
DEFAULTS: Mapping[str, Any] = {
    "api_version": "v21.0",
    "recheck_days": 7,
    "first_run_days": 30,
    "visitor_posts": True,
    "comments": True,
    "check_token": True,
    "token_warn_days": 14,
}


# -- the Graph API, shared with archiver.collectors.instagram ---------------------------


@dataclass(frozen=True)
class GraphError:
    """An `error` object of a Graph answer (status, code, subcode, message, whole)."""

    status: int
    code: int | None
    subcode: int | None
    message: str
    raw: dict[str, Any]

    @property
    def gone(self) -> bool:
        """Code 100 / subcode 33: deleted, or not readable any more (confirm first)."""
        return self.code == 100 and self.subcode == 33


class Graph:
    """GETs against one Graph base URL with one token, errors turned into typed ones."""

    def __init__(self, platform: str, account: AccountConfig, http: Transport,
                 harvest: Harvest, api_version: str) -> None:
        token = account.credentials.get("access_token")
        if not token:
            raise CredentialsRejected(f"{platform} account {account.id}: no access_token in "
                                      f"its credentials")
        self.platform = platform
        self.token = token
        self.http = http
        self.harvest = harvest
        base = account.base_url.rstrip("/")
        self.base = base if _VERSION.search(base) else f"{base}/{api_version}"

    def url(self, path: str) -> str:
        return f"{self.base}/{path.lstrip('/')}"

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """A JSON object that must be there; any Graph error raises."""
        found = self.fetch(path, params)
        if isinstance(found, GraphError):
            raise MalformedResponse(f"{self.platform} {self.url(path)}: error {found.code}"
                                    f"/{found.subcode}: {found.message[:200]}")
        return found

    def fetch(self, path: str, params: Mapping[str, Any] | None = None
              ) -> dict[str, Any] | GraphError:
        """A JSON object, or the GraphError of an object-level failure (e.g. 100/33).
        Token, permission and rate-limit errors raise (they are about the account)."""
        url = self.url(path)
        self.harvest.requests += 1
        response = self.http.get(url, params=params,
                                 headers={"Authorization": f"Bearer {self.token}"},
                                 accept={400, 403, 404})
        body = response.json()
        if not isinstance(body, dict):
            raise MalformedResponse(f"{self.platform} {url}: the answer must be a JSON "
                                    f"object, not {type(body).__name__}")
        if response.status >= 400 or "error" in body:
            error = graph_error(response, body, url, self.platform)
            raise_for_account(error, response, url, self.platform, self.http)
            return error
        check_usage(response, url, self.platform, self.http)
        return body

    def pages(self, path: str, params: Mapping[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """Each page's `data` of a listing, following cursors (or `next`'s query)."""
        query = dict(params)
        seen: set[str] = set()
        while True:
            body = self.get(path, query)
            yield objects(body, "data", self.url(path), self.platform)
            follow = next_query(body, self.url(path), self.platform)
            if follow is None:
                return
            key = json.dumps(follow, sort_keys=True)
            if key in seen:
                raise MalformedResponse(f"{self.platform} {self.url(path)}: paging repeats "
                                        f"a cursor: the listing loops")
            seen.add(key)
            query = {**dict(params), **follow}


def graph_error(response: Response, body: Mapping[str, Any], url: str,
                platform: str) -> GraphError:
    err = body.get("error")
    if not isinstance(err, dict):
        raise MalformedResponse(f"{platform} {url}: answered {response.status} without a "
                                f"Graph error object")
    code, sub = err.get("code"), err.get("error_subcode")
    return GraphError(response.status, code if isinstance(code, int) else None,
                      sub if isinstance(sub, int) else None,
                      str(err.get("message") or "")[:500], dict(body))


def raise_for_account(error: GraphError, response: Response, url: str, platform: str,
                      http: Transport) -> None:
    """Errors about the token or the app, not the object asked for, raise."""
    if error.code == 190 or error.code in PERMISSION_CODES or (
            error.status == 401 and error.code is None):
        raise CredentialsRejected(f"{platform} {url}: the Graph API refused the token "
                                  f"(code {error.code}/{error.subcode}): "
                                  f"{error.message[:200]}")
    if error.code in RATE_LIMIT_CODES:
        wait = regain_seconds(response.headers)
        retry_at = http._clock() + (wait if wait is not None else 3600)  # noqa: SLF001
        raise RateLimited(f"{platform} {url}: Graph rate limit (code {error.code}): "
                          f"{error.message[:200]}", retry_at)


def regain_seconds(headers: Mapping[str, str]) -> float | None:
    """`estimated_time_to_regain_access` (minutes) in `X-Business-Use-Case-Usage` (per
    business object, a list of usages) or `X-App-Usage` / `X-Page-Usage`, as seconds."""
    longest: float | None = None
    for name in ("x-business-use-case-usage", "x-app-usage", "x-page-usage",
                 "x-ad-account-usage"):
        value = headers.get(name)
        if not value:
            continue
        try:
            doc = json.loads(value)
        except ValueError:
            continue
        usages = [u for v in doc.values() if isinstance(v, list) for u in v] \
            if isinstance(doc, dict) and name == "x-business-use-case-usage" else [doc]
        for u in usages:
            if isinstance(u, dict):
                minutes = u.get("estimated_time_to_regain_access")
                if isinstance(minutes, (int, float)) and not isinstance(minutes, bool):
                    longest = max(longest or 0.0, float(minutes) * 60)
    return longest


def check_usage(response: Response, url: str, platform: str, http: Transport) -> None:
    """A successful answer whose usage header says access is already cut off (a regain
    time): stop now, rather than be refused halfway through the next listing."""
    wait = regain_seconds(response.headers)
    if wait:
        raise RateLimited(f"{platform} {url}: Graph usage exhausted; access regained in "
                          f"{wait / 60:.0f} min", http._clock() + wait)  # noqa: SLF001


def next_query(body: Mapping[str, Any], url: str, platform: str) -> dict[str, str] | None:
    """The query of the next page, or None on the last one."""
    paging = body.get("paging")
    if paging is None:
        return None
    if not isinstance(paging, dict):
        raise MalformedResponse(f"{platform} {url}: paging must be an object")
    nxt = paging.get("next")
    if nxt is None:
        return None            # cursors without `next`: this was the last page
    if not isinstance(nxt, str):
        raise MalformedResponse(f"{platform} {url}: paging.next must be a URL")
    cursors = paging.get("cursors")
    if isinstance(cursors, dict) and isinstance(cursors.get("after"), str):
        return {"after": cursors["after"]}
    query = {k: v[0] for k, v in parse_qs(urlsplit(nxt).query).items()
             if k not in ("access_token", "appsecret_proof") and v}
    if not query:
        raise MalformedResponse(f"{platform} {url}: paging.next carries no cursor")
    return query


def objects(body: Mapping[str, Any], key: str, url: str, platform: str
            ) -> list[dict[str, Any]]:
    value = body.get(key)
    if not isinstance(value, list) or not all(isinstance(o, dict) for o in value):
        raise MalformedResponse(f"{platform} {url}: `{key}` must be a list of objects")
    return value


def text_field(obj: Mapping[str, Any], key: str, url: str, platform: str, *,
               required: bool = False) -> str | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise MalformedResponse(f"{platform} {url}: `{key}` is missing")
        return None
    if not isinstance(value, str):
        raise MalformedResponse(f"{platform} {url}: `{key}` must be a string, not "
                                f"{type(value).__name__}")
    return value


def graph_id(obj: Mapping[str, Any], url: str, platform: str) -> str:
    value = text_field(obj, "id", url, platform, required=True)
    assert value is not None
    if not GRAPH_ID.fullmatch(value):
        raise MalformedResponse(f"{platform} {url}: id {value[:40]!r} is not a Graph id")
    return value


def graph_time(value: Any, url: str, platform: str, field: str) -> str:
    """Graph's `2024-03-14T10:03:55+0000` as the archive's RFC 3339 UTC."""
    if not isinstance(value, str):
        raise MalformedResponse(f"{platform} {url}: `{field}` must be a time string")
    try:
        return times.format_time(times.parse_time(value))
    except (times.TimeFormatError, ValueError):
        raise MalformedResponse(f"{platform} {url}: `{field}` {value[:40]!r} is not a "
                                f"time") from None


def options(platform: str, account: AccountConfig,
            defaults: Mapping[str, Any]) -> dict[str, Any]:
    """The account's options over the defaults; unknown names and wrong types fail the run
    naming them (a mistyped option must not silently become the default)."""
    given = dict(account.options)
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise CollectorError(f"{platform}: unknown option(s) {', '.join(unknown)}; known: "
                             f"{', '.join(sorted(defaults))}")
    out = {**defaults, **given}
    for name, default in defaults.items():
        value = out[name]
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, int):
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        else:
            ok = isinstance(value, str) and re.fullmatch(r"v[0-9]+\.[0-9]+", value) is not None
        if not ok:
            raise CollectorError(f"{platform}: option {name} has a bad value {value!r}")
    return out


def check_token(graph: Graph, harvest: Harvest, now: datetime, warn_days: int) -> None:
    """`debug_token`: an invalid token pauses the account; one that expires (or whose data
    access expires) within `warn_days` raises a `token_expiring` alert."""
    body = graph.get("debug_token", {"input_token": graph.token})
    data = body.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("is_valid"), bool):
        raise MalformedResponse(f"{graph.platform} debug_token: `data.is_valid` is missing")
    if not data["is_valid"]:
        raise CredentialsRejected(f"{graph.platform}: debug_token says the token is not "
                                  f"valid")
    for field in ("expires_at", "data_access_expires_at"):
        value = data.get(field)
        if value in (None, 0):
            continue
        if not isinstance(value, int) or isinstance(value, bool):
            raise MalformedResponse(f"{graph.platform} debug_token: `{field}` must be epoch "
                                    f"seconds")
        when = datetime.fromtimestamp(value, UTC)
        if when <= now:
            raise CredentialsRejected(f"{graph.platform}: the token's {field} "
                                      f"{times.format_time(when)} has passed")
        if when - now <= timedelta(days=warn_days):
            what = "token" if field == "expires_at" else "token's data access"
            message = (f"the {what} expires at {times.format_time(when)}; renew it "
                       f"(a new long-lived Page token) before then")
            harvest.alerts.append(("token_expiring", message))
            harvest.notes.append(message)


def confirm_gone(graph: Graph, owner: str, check: bool) -> None:
    """Before a 100/33 is taken for a deletion: the token must still be valid and the
    owner (the Page, the Instagram account) must still answer. Raises otherwise."""
    if check:
        body = graph.get("debug_token", {"input_token": graph.token})
        data = body.get("data")
        if not isinstance(data, dict) or data.get("is_valid") is not True:
            raise CredentialsRejected(f"{graph.platform}: the token is no longer valid; "
                                      f"no deletion can be confirmed")
    found = graph.fetch(owner, {"fields": "id"})
    if isinstance(found, GraphError):
        raise CollectorError(f"{graph.platform}: {owner} itself does not answer (error "
                             f"{found.code}/{found.subcode}); an object that answers 100/33 "
                             f"cannot be told deleted from unreadable, so none is recorded")


class KnownLookup:
    """`GET /{id}` of the known items for a collector's `lookup` (Facebook and Instagram
    share it): the object as found, or - once the token and the owner are confirmed to
    answer (checked once, at the first 100/33) - `deleted` with Graph's error object as
    `raw`. Any other Graph error stops the lookup."""

    def __init__(self, graph: Graph, account: AccountConfig, check_token: bool,
                 observed_at: str, profile_prefix: str,
                 fields: tuple[str, str, str]) -> None:
        self.graph = graph
        self.account = account
        self.check_token = check_token
        self.observed_at = observed_at
        self.profile_prefix = profile_prefix
        self.fields = fields     # of the profile, of a top-level item, of a comment
        self._confirmed = False

    def fetch(self, known: KnownItem) -> tuple[Mapping[str, Any], str] | Observation:
        """(object, its URL), or the `deleted` observation of a confirmed-gone item."""
        graph = self.graph
        item = known.item_id.removeprefix(self.profile_prefix)
        if not GRAPH_ID.fullmatch(item):
            raise MalformedResponse(f"{graph.platform} lookup: {known.item_id!r} is not a "
                                    f"Graph id")
        profile, top, comment = self.fields
        fields = (profile if known.kind == "profile" else
                  top if known.parent_id is None else comment)
        found = graph.fetch(item, {"fields": fields})
        url = graph.url(item)
        if not isinstance(found, GraphError):
            return found, url
        if not found.gone:
            raise CollectorError(f"{graph.platform} {url}: error {found.code}/"
                                 f"{found.subcode}: {found.message[:200]}")
        if not self._confirmed:
            confirm_gone(graph, self.account.platform_id, self.check_token)
            self._confirmed = True
        return Observation(
            platform=graph.platform, account=self.account.platform_id, item_id=known.item_id,
            kind=known.kind, parent_id=known.parent_id, observed_at=self.observed_at,
            raw=found.raw, event="deleted")


def window_start(cursor: Mapping[str, Any], now: datetime, recheck_days: int,
                 first_run_days: int) -> datetime:
    days = recheck_days if cursor.get("last_run") else first_run_days
    return now - timedelta(days=days)


# -- the collector ----------------------------------------------------------------------


class FacebookCollector:
    platform: ClassVar[str] = PLATFORM

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self._clock = clock or (lambda: datetime.now(UTC))

    def harvest(self, account: AccountConfig, http: Transport, cursor: Mapping[str, Any],
                known: Sequence[KnownItem]) -> Harvest:
        opts = options(PLATFORM, account, DEFAULTS)
        harvest = Harvest()
        graph = Graph(PLATFORM, account, http, harvest, opts["api_version"])
        now = self._clock().astimezone(UTC).replace(microsecond=0)
        observed_at = times.format_time(now)
        if opts["check_token"]:
            check_token(graph, harvest, now, opts["token_warn_days"])
        page = graph.get(account.platform_id, {"fields": PAGE_FIELDS})
        if graph_id(page, graph.url(account.platform_id), PLATFORM) != account.platform_id:
            raise MalformedResponse(f"facebook {account.platform_id}: the Page answered "
                                    f"with another id")
        profile = page_observation(account, page, observed_at)
        harvest.observations.append(profile)
        harvest.listed.add(profile.item_id)
        _note_rename(account, page, harvest)

        start = window_start(cursor, now, opts["recheck_days"], opts["first_run_days"])
        edges = ["published_posts"] + (["visitor_posts"] if opts["visitor_posts"] else [])
        posts: list[Observation] = []
        for edge in edges:
            path = f"{account.platform_id}/{edge}"
            params = {"fields": POST_FIELDS, "since": int(start.timestamp()),
                      "limit": PAGE_SIZE}
            for data in graph.pages(path, params):
                for obj in data:
                    obs = post_observation(account, obj, graph.url(path), observed_at)
                    if obs.item_id not in harvest.listed:
                        posts.append(obs)
                        harvest.listed.add(obs.item_id)
        harvest.observations.extend(posts)
        if opts["comments"]:
            for post in posts:
                path = f"{post.item_id}/comments"
                params = {"filter": "stream", "fields": COMMENT_FIELDS, "limit": PAGE_SIZE,
                          "order": "chronological"}
                for data in graph.pages(path, params):
                    for obj in data:
                        obs = comment_observation(account, obj, post.item_id,
                                                  graph.url(path), observed_at)
                        harvest.observations.append(obs)
                        harvest.listed.add(obs.item_id)
                harvest.threads.add(post.item_id)
            threads_below(harvest, known)
        harvest.window_start = times.format_time(start)
        harvest.window_end = observed_at
        harvest.cursor = {"last_run": observed_at}
        return harvest

    def lookup(self, account: AccountConfig, http: Transport,
               items: Sequence[KnownItem]) -> list[Observation]:
        """`GET /{id}` each: the current state, or - once the token and the Page are
        confirmed to answer - `deleted` with Graph's error object as `raw`."""
        opts = options(PLATFORM, account, DEFAULTS)
        scratch = Harvest()
        graph = Graph(PLATFORM, account, http, scratch, opts["api_version"])
        observed_at = times.format_time(self._clock().astimezone(UTC).replace(microsecond=0))
        out: list[Observation] = []
        fetcher = KnownLookup(graph, account, opts["check_token"], observed_at,
                              PROFILE_PREFIX, (PAGE_FIELDS, POST_FIELDS, COMMENT_FIELDS))
        for k in items:
            if k.item_id.startswith(EXPORT_PREFIX):
                continue   # imported from an export: no Graph id, nothing to look up
            got = fetcher.fetch(k)
            if isinstance(got, Observation):
                out.append(got)
                continue
            found, url = got
            if k.kind == "profile":
                out.append(page_observation(account, found, observed_at))
            elif k.parent_id is None:
                out.append(post_observation(account, found, url, observed_at))
            else:
                obs = comment_observation(account, found, k.parent_id, url, observed_at)
                out.append(obs)
        return out


def _note_rename(account: AccountConfig, page: Mapping[str, Any], harvest: Harvest) -> None:
    username = page.get("username")
    if isinstance(username, str) and account.handle and username != account.handle:
        harvest.notes.append(f"page renamed: @{account.handle} is now @{username}")


def threads_below(harvest: Harvest, known: Sequence[KnownItem]) -> None:
    """`filter=stream` returns every comment of the post, replies included: archived
    comments below a fetched post (at any depth) belong to a complete thread too."""
    parent = {k.item_id: k.parent_id for k in known}
    parent.update({o.item_id: o.parent_id for o in harvest.observations})
    fetched = set(harvest.threads)
    for item in list(parent):
        seen, node = set(), parent.get(item)
        while node is not None and node not in seen:
            if node in fetched:
                harvest.threads.add(item)
                break
            seen.add(node)
            node = parent.get(node)


def page_item_id(page_id: str) -> str:
    return f"{PROFILE_PREFIX}{page_id}"


def page_observation(account: AccountConfig, page: Mapping[str, Any],
                     observed_at: str) -> Observation:
    """The Page as an item whose text is its name and @username: a rename is an edit."""
    url = "facebook page"
    name = text_field(page, "name", url, PLATFORM)
    username = text_field(page, "username", url, PLATFORM)
    text = "\n".join(s for s in (name, f"@{username}" if username else None) if s)
    return Observation(
        platform=PLATFORM, account=account.platform_id,
        item_id=page_item_id(account.platform_id), kind="profile", text=text,
        author={"id": account.platform_id, "handle": username, "name": name},
        observed_at=observed_at,
        url=text_field(page, "link", url, PLATFORM)
        or f"https://www.facebook.com/{account.platform_id}", raw=dict(page))


def _author(obj: Mapping[str, Any], url: str) -> dict[str, str | None] | None:
    who = obj.get("from")
    if who is None:
        return None           # not returned without Page Public Content Access
    if not isinstance(who, dict):
        raise MalformedResponse(f"facebook {url}: `from` must be an object")
    return {"id": text_field(who, "id", url, PLATFORM), "handle": None,
            "name": text_field(who, "name", url, PLATFORM)}


def attachment_media(attachment: Mapping[str, Any], url: str) -> list[dict[str, Any]]:
    """Photos and videos of one attachment (and its `subattachments`: albums)."""
    out: list[dict[str, Any]] = []
    subs = attachment.get("subattachments")
    if isinstance(subs, dict) and isinstance(subs.get("data"), list):
        for sub in subs["data"]:
            if isinstance(sub, dict):
                out.extend(attachment_media(sub, url))
    media = attachment.get("media")
    if isinstance(media, dict):
        kind = str(attachment.get("media_type") or attachment.get("type") or "")
        target = attachment.get("target")
        target_id = target.get("id") if isinstance(target, dict) else None
        source = media.get("source")
        image = media.get("image")
        if "video" in kind and isinstance(source, str):
            out.append({"id": target_id, "url": source, "mime": "video/mp4", "alt": None})
        elif isinstance(image, dict) and isinstance(image.get("src"), str):
            out.append({"id": target_id, "url": image["src"], "mime": None,
                        "alt": attachment.get("description")
                        if isinstance(attachment.get("description"), str) else None})
    return out


def post_observation(account: AccountConfig, obj: Mapping[str, Any], url: str,
                     observed_at: str) -> Observation:
    """A post of the Page (`post`) or of the public on it (`visitor_post`)."""
    post_id = graph_id(obj, url, PLATFORM)
    text = text_field(obj, "message", url, PLATFORM)
    story = text_field(obj, "story", url, PLATFORM)
    author = _author(obj, url)
    own = author is None or author["id"] == account.platform_id
    media: list[dict[str, Any]] = []
    attachments = obj.get("attachments")
    if attachments is not None:
        if not isinstance(attachments, dict):
            raise MalformedResponse(f"facebook {url}: `attachments` must be an object")
        for a in objects(attachments, "data", url, PLATFORM):
            media.extend(attachment_media(a, url))
    hidden = obj.get("is_hidden") is True
    return Observation(
        platform=PLATFORM, account=account.platform_id, item_id=post_id,
        kind="post" if own else "visitor_post", text=text if text is not None else story,
        author=author, published_at=graph_time(obj.get("created_time"), url, PLATFORM,
                                               "created_time"),
        observed_at=observed_at, url=text_field(obj, "permalink_url", url, PLATFORM),
        media=media, raw=dict(obj), event="hidden" if hidden else None)


def comment_observation(account: AccountConfig, obj: Mapping[str, Any], post_id: str,
                        url: str, observed_at: str) -> Observation:
    """A comment (or a reply: `parent` names the comment it answers); the Page's own
    answers are `reply`, the public's `comment`; `is_hidden` -> the `hidden` event."""
    comment_id = graph_id(obj, url, PLATFORM)
    parent = obj.get("parent")
    parent_id = post_id
    if parent is not None:
        if not isinstance(parent, dict):
            raise MalformedResponse(f"facebook {url}: `parent` must be an object")
        parent_id = graph_id(parent, url, PLATFORM)
    author = _author(obj, url)
    own = author is not None and author["id"] == account.platform_id
    hidden = obj.get("is_hidden")
    if hidden is not None and not isinstance(hidden, bool):
        raise MalformedResponse(f"facebook {url}: `is_hidden` must be true or false")
    media: list[dict[str, Any]] = []
    attachment = obj.get("attachment")
    if isinstance(attachment, dict):
        media = attachment_media(attachment, url)
    return Observation(
        platform=PLATFORM, account=account.platform_id, item_id=comment_id,
        kind="reply" if own else "comment",
        text=text_field(obj, "message", url, PLATFORM), author=author, parent_id=parent_id,
        published_at=graph_time(obj.get("created_time"), url, PLATFORM, "created_time"),
        observed_at=observed_at, url=text_field(obj, "permalink_url", url, PLATFORM),
        media=media, raw=dict(obj), event="hidden" if hidden else None)


COLLECTOR = FacebookCollector()
