"""LinkedIn (Community Management API, api.linkedin.com/rest): an organization's posts,
their comments and replies, edits, deletions by fetch.

Shapes: learn.microsoft.com/linkedin/marketing/community-management (Posts API,
Comments API, Organization Lookup API; Rest.li protocol 2.0). Every request carries
`LinkedIn-Version: YYYYMM` and `X-Restli-Protocol-Version: 2.0.0`; URNs in paths and
query values are URL-encoded. What a run reads (docs/collectors.md, "LinkedIn"):

    GET /organizations/{id}                                    the page (renames)
    GET /posts?author={org urn}&q=author&sortBy=CREATED        posts, newest first,
                                                               paged with start/count
    GET /socialActions/{post urn}/comments                     top-level comments
    GET /socialActions/{comment urn}/comments                  replies to a comment
    GET /posts/{urn}, /socialActions/{object}/comments/{id}    lookups: 404 = gone

Edits: a post's `lastModifiedAt` and a comment's `lastModified.time` move when it is
edited; the fingerprint of the text decides whether it is archived as `edited`.
LinkedIn exposes no hidden state for comments. Webhooks and the 60-day notifications
pull endpoint are not used here (docs).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import quote

from archiver.collectors.mastodon import JsonObject  # one JSON shape reader
from archiver.collectors.protocol import AccountConfig, Harvest, KnownItem
from archiver.collectors.transport import Transport
from archiver.collectors.youtube import missing_subthreads
from archiver.errors import ConfigError, CredentialsRejected, MalformedResponse
from archiver.records import Observation
from archiver.times import format_time

PLATFORM = "linkedin"
EPOCH = "1970-01-01T00:00:00Z"
GONE = (404, 410)
_OPTIONS: dict[str, Any] = {"linkedin_version": "202502", "page_size": 50,
                            "max_pages": 100, "lookback_posts": 100}


@dataclass(frozen=True)
class Options:
    linkedin_version: str
    page_size: int
    max_pages: int
    lookback_posts: int     # posts re-read every run (comments, edits, deletions)

    @classmethod
    def of(cls, options: Mapping[str, Any]) -> Options:
        unknown = sorted(set(options) - set(_OPTIONS))
        if unknown:
            raise ConfigError(f"unknown LinkedIn option(s): {', '.join(unknown)}")
        values = {**_OPTIONS, **options}
        version = values["linkedin_version"]   # `--option` types 202502 as a number
        text = str(version) if isinstance(version, int | str) and \
            not isinstance(version, bool) else ""
        if not (text.isdigit() and len(text) == 6):
            raise ConfigError(f"LinkedIn option linkedin_version must be YYYYMM, not "
                              f"{version!r}")
        values["linkedin_version"] = text
        for name in ("page_size", "max_pages", "lookback_posts"):
            v = values[name]
            if isinstance(v, bool) or not isinstance(v, int) or v < 1 or \
                    (name == "page_size" and v > 100):
                raise ConfigError(f"LinkedIn option {name} must be a positive integer"
                                  f"{' up to 100' if name == 'page_size' else ''}")
        return cls(**values)


def urn_path(urn: str) -> str:
    """A URN as one path segment or query value (Rest.li 2.0: fully URL-encoded)."""
    return quote(urn, safe="")


def ms_time(value: Any, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedResponse(f"LinkedIn {where} must be epoch milliseconds")
    return format_time(datetime.fromtimestamp(value / 1000, UTC))


def _obj(v: Any, where: str) -> dict[str, Any]:
    """`v` if it is a JSON object, else MalformedResponse naming `where`."""
    return JsonObject(v, f"LinkedIn {where}").obj


def _str(d: dict[str, Any], key: str, where: str, *, optional: bool = False) -> str | None:
    """Member `key` of `d`, a string (or None when `optional`), else MalformedResponse."""
    member = JsonObject(d, f"LinkedIn {where}")
    return member.opt_str(key) if optional else member.str(key)


def comment_object(comment_urn: str) -> tuple[str, str]:
    """`urn:li:comment:(urn:li:activity:A,B)` -> (`urn:li:activity:A`, `B`)."""
    inner = comment_urn.removeprefix("urn:li:comment:(").removesuffix(")")
    obj, _, cid = inner.rpartition(",")
    if not comment_urn.startswith("urn:li:comment:(") or not obj or not cid:
        raise MalformedResponse(f"LinkedIn comment URN {comment_urn!r} is not "
                                f"urn:li:comment:(OBJECT,ID)")
    return obj, cid


class LinkedInApi:
    def __init__(self, account: AccountConfig, http: Transport, opts: Options) -> None:
        token = account.credentials.get("access_token")
        if not isinstance(token, str) or not token:
            raise CredentialsRejected("the LinkedIn account has no access_token credential")
        self.base = account.base_url.rstrip("/")
        self.http = http
        self.headers = {"Authorization": f"Bearer {token}",
                        "LinkedIn-Version": opts.linkedin_version,
                        "X-Restli-Protocol-Version": "2.0.0"}

    def get(self, path: str, params: Mapping[str, Any] | None = None, *,
            gone_ok: bool = False) -> tuple[int, dict[str, Any]]:
        r = self.http.get(f"{self.base}/{path}", params=params, headers=self.headers,
                          accept=(403, *GONE))
        body = r.json()
        if not isinstance(body, dict):
            raise MalformedResponse(f"LinkedIn /{path}: the answer is not a "
                                    f"JSON object")
        if r.status == 403:   # ACCESS_DENIED: the token lacks r_organization_social
            raise CredentialsRejected(f"LinkedIn /{path} answered 403 "
                                      f"{body.get('code')}: {body.get('message')}")
        if r.status in GONE and not gone_ok:
            raise MalformedResponse(f"LinkedIn /{path} answered {r.status}: "
                                    f"{body.get('message')}")
        return r.status, body

    def pages(self, path: str, params: Mapping[str, Any], count: int, max_items: int,
              max_pages: int) -> tuple[list[dict[str, Any]], bool]:
        """`elements` of successive pages (start/count) until a short page (the end:
        True), `max_items` or `max_pages` (False)."""
        out: list[dict[str, Any]] = []
        for n in range(max_pages):
            _, body = self.get(path, {**params, "start": n * count, "count": count})
            elements = body.get("elements")
            if not isinstance(elements, list):
                raise MalformedResponse(f"LinkedIn /{path} page {n + 1}: "
                                        f"elements is not a list")
            out += [_obj(e, f"/{path} page {n + 1} elements[{i}]")
                    for i, e in enumerate(elements)]
            if len(elements) < count:
                return out, True
            if len(out) >= max_items:
                return out, False
        return out, False


def post_observation(account: AccountConfig, post: dict[str, Any], where: str
                     ) -> Observation:
    urn = _str(post, "id", where)
    author = _str(post, "author", where)
    if author != org_urn(account):
        raise MalformedResponse(f"LinkedIn {where}: post {urn} is by {author}, not "
                                f"{org_urn(account)}")
    published = post.get("publishedAt", post.get("createdAt"))
    media = []
    content = post.get("content")
    if isinstance(content, dict) and isinstance(content.get("media"), dict):
        mid = content["media"].get("id")
        if isinstance(mid, str):   # an image/video URN: its file needs the Images API
            media.append({"id": mid})
    return Observation(platform=PLATFORM, account=account.platform_id, item_id=urn,
                       kind="post", text=_str(post, "commentary", where, optional=True) or "",
                       published_at=ms_time(published, f"{where}.publishedAt"),
                       author={"id": author}, url=f"https://www.linkedin.com/feed/update/{urn}",
                       media=media, raw=post)


def comment_observation(account: AccountConfig, comment: dict[str, Any], parent: str,
                        where: str) -> Observation:
    urn = _str(comment, "commentUrn", where)
    comment_object(urn)
    actor = _str(comment, "actor", where)
    message = _obj(comment.get("message"), f"{where}.message")
    created = _obj(comment.get("created"), f"{where}.created")
    own = actor == org_urn(account)
    return Observation(platform=PLATFORM, account=account.platform_id, item_id=urn,
                       kind="reply" if own else "comment",
                       text=_str(message, "text", f"{where}.message"), parent_id=parent,
                       published_at=ms_time(created.get("time"), f"{where}.created.time"),
                       author={"id": actor}, raw=comment)


def org_urn(account: AccountConfig) -> str:
    return f"urn:li:organization:{account.platform_id}"


def profile_id(account: AccountConfig) -> str:
    return org_urn(account)


def profile_observation(account: AccountConfig, org: dict[str, Any]) -> Observation:
    name = _str(org, "localizedName", "organization")
    vanity = _str(org, "vanityName", "organization", optional=True)
    return Observation(platform=PLATFORM, account=account.platform_id,
                       item_id=profile_id(account), kind="profile",
                       text=f"{name}\n{vanity}" if vanity else name,
                       url=f"https://www.linkedin.com/company/{vanity or account.platform_id}",
                       raw=org)


def deleted(account: AccountConfig, k: KnownItem, status: int, body: Any) -> Observation:
    return Observation(platform=PLATFORM, account=account.platform_id, item_id=k.item_id,
                       kind=k.kind, parent_id=k.parent_id, event="deleted",
                       raw={"status": status, "body": body})


class LinkedInCollector:
    """Implements archiver.collectors.protocol.Collector for LinkedIn organizations."""

    platform: ClassVar[str] = PLATFORM

    def harvest(self, account: AccountConfig, http: Transport, cursor: Mapping[str, Any],
                known: Sequence[KnownItem]) -> Harvest:
        opts = Options.of(account.options)
        api = LinkedInApi(account, http, opts)
        now = format_time(datetime.now(UTC))
        h = Harvest()
        _, org = api.get(f"organizations/{account.platform_id}")
        profile = profile_observation(account, org)
        h.observations.append(profile)
        h.listed.add(profile.item_id)
        old = cursor.get("profile")
        if isinstance(old, str) and old != profile.text:
            h.notes.append(f"organization renamed: {old!r} is now {profile.text!r}")
        h.cursor["profile"] = profile.text

        first_run = not cursor.get("listed")
        limit = opts.page_size * opts.max_pages if first_run else opts.lookback_posts
        posts, complete = api.pages("posts", {"author": org_urn(account), "q": "author",
                                              "sortBy": "CREATED"}, opts.page_size,
                                    limit, opts.max_pages)
        posts = posts[:limit]
        observations = [post_observation(account, p, f"posts elements[{i}]")
                        for i, p in enumerate(posts)]
        for obs in observations:
            h.observations.append(obs)
            h.listed.add(obs.item_id)
            self._comments(account, api, opts, obs.item_id, obs.item_id, h)
        if complete:
            h.window_start, h.window_end = EPOCH, now
        elif observations:   # sorted by creation, newest first: all newer ones are listed
            created = [ms_time(p.get("createdAt", p.get("publishedAt")), "createdAt")
                       for p in posts]
            h.window_start, h.window_end = min(created), now
        h.cursor["listed"] = True
        missing_subthreads(known, h)   # a gone comment's replies are looked up too
        return h

    def _comments(self, account: AccountConfig, api: LinkedInApi, opts: Options,
                  target: str, parent: str, h: Harvest, depth: int = 0) -> None:
        comments, complete = api.pages(f"socialActions/{urn_path(target)}/comments", {},
                                       opts.page_size, 10**9, opts.max_pages)
        for i, c in enumerate(comments):
            obs = comment_observation(account, c, parent,
                                      f"comments of {target} elements[{i}]")
            h.observations.append(obs)
            h.listed.add(obs.item_id)
            summary = c.get("commentsSummary")
            replies = summary.get("totalFirstLevelComments", 0) \
                if isinstance(summary, dict) else 0
            if depth == 0 and isinstance(replies, int) and replies > 0:
                self._comments(account, api, opts, obs.item_id, obs.item_id, h, depth + 1)
            elif depth == 0:
                h.threads.add(obs.item_id)    # no replies: its (empty) thread is complete
        if complete:
            h.threads.add(target)

    def lookup(self, account: AccountConfig, http: Transport,
               items: Sequence[KnownItem]) -> list[Observation]:
        """Fetch each: 404 (or 410) is gone, with LinkedIn's answer as the raw."""
        opts = Options.of(account.options)
        api = LinkedInApi(account, http, opts)
        out: list[Observation] = []
        for k in items:
            if k.kind == "profile":
                status, body = api.get(f"organizations/{account.platform_id}", gone_ok=True)
                out.append(deleted(account, k, status, body) if status in GONE
                           else profile_observation(account, body))
            elif k.item_id.startswith("urn:li:comment:"):
                obj, cid = comment_object(k.item_id)
                status, body = api.get(f"socialActions/{urn_path(obj)}/comments/{cid}",
                                       gone_ok=True)
                out.append(deleted(account, k, status, body) if status in GONE else
                           comment_observation(account, body, k.parent_id or obj,
                                               f"comment {k.item_id}"))
            else:
                status, body = api.get(f"posts/{urn_path(k.item_id)}", gone_ok=True)
                out.append(deleted(account, k, status, body) if status in GONE else
                           post_observation(account, body, f"post {k.item_id}"))
        return out


COLLECTOR = LinkedInCollector()
