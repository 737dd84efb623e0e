"""X (API v2): the account's timeline, its edit chains, reply threads, deletion by lookup.

Endpoints (docs.x.com, X API v2; the official OpenAPI document in xdevplatform/xdk):

- `GET /2/users/:id/tweets`: the account's own posts, newest first, pages of up to 100
  (`pagination_token` <- `meta.next_token`), bounded by `start_time`. It reaches only the
  newest 3,200 posts of an account: older history comes from the account archive import
  (`archiver import x FILE`, `archiver/collectors/exports/x.py`).
- `GET /2/tweets/search/recent?query=conversation_id:ID`: the replies under a post. The
  recent search covers the last 7 days only, so only posts published in the last 7 days
  have their thread fetched (and listed in `Harvest.threads`).
- `GET /2/tweets?ids=...`: deletion detection. A post that is gone is reported as an
  `errors` entry (`"title": "Not Found Error"`, `resource_id`, `detail`) inside a 200
  answer; that error object becomes the `raw` of the `deleted` observation.
- `GET /2/users/:id`: the account's profile, when no listed post carried it; the
  profile is an item (`account:<user id>`, kind `profile`, text name and username), so a
  rename is archived as an edit.

Edits: every edit is a new post id in one chain (`edit_history_tweet_ids`, oldest first,
the newest id is the current version). A chain is ONE archived item: `item_id` is the
chain's first id, the text is the current version's, `raw` keeps the current post whole
(its `id` and the chain). Capture turns a changed text into an `edited` event. Deleting
any post of a chain deletes the whole chain, so looking up the first id decides it
(with the `edit_history_tweet_ids` expansion, which brings the newest version along).

Hidden replies: X lets the conversation's owner hide a reply (`PUT /2/tweets/:id/hidden`)
but offers no way to read that state: posts carry no hidden flag for anyone, and there is
no endpoint that lists hidden replies. A hidden reply is still returned by search, so it
is archived as a plain comment; `hidden` events cannot be produced for X.

Reads are billed per post returned, so every account has a read budget (options below);
when it runs out the listing stops, the harvest notes say so, and the window is left
None so that nothing is presumed deleted.

Account options (`AccountConfig.options`):
  read_budget_per_run    posts a run may read (default 1000; `read_budget` for short)
  read_budget_per_month  posts a calendar month (UTC) may read; None = no limit (default)
  recheck_days           how far back each run lists the timeline again, for edits and
                         deletions (default 7)
  first_run_days         how far back the first run lists (default 30)
  replies                fetch the reply threads (default true)
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from archiver import times
from archiver.collectors.protocol import AccountConfig, Harvest, KnownItem
from archiver.collectors.transport import Transport
from archiver.errors import CollectorError, CredentialsRejected, MalformedResponse
from archiver.records import Observation

PLATFORM = "x"
PROFILE_PREFIX = "account:"
TIMELINE_CAP = 3200            # the user timeline reaches only the newest 3,200 posts
SEARCH_DAYS = 7                # recent search covers the last 7 days
LOOKUP_BATCH = 100             # ids per GET /2/tweets
TWEET_FIELDS = ("created_at,edit_history_tweet_ids,edit_controls,conversation_id,"
                "in_reply_to_user_id,referenced_tweets,lang,entities,attachments,author_id,"
                "public_metrics,note_tweet")
EXPANSIONS = "author_id,attachments.media_keys,referenced_tweets.id"
MEDIA_FIELDS = "url,type,alt_text,preview_image_url,variants"
USER_FIELDS = "username,name"
DEFAULTS: Mapping[str, Any] = {
    "read_budget_per_run": 1000,
    "read_budget_per_month": None,
    "recheck_days": 7,
    "first_run_days": 30,
    "replies": True,
}
# Snowflake ids carry their creation time: milliseconds since the Twitter epoch, shifted.
_SNOWFLAKE_EPOCH_MS = 1288834974657
POST_ID = re.compile(r"[0-9]{1,19}")     # X's ids: decimal, at most 19 digits (int64)
_ENTITY = re.compile(r"&(amp|lt|gt);")
_SURROGATE = re.compile("[\ud800-\udfff]")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">"}
_IMAGE_TYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png",
                "gif": "image/gif", "webp": "image/webp"}


def image_type(url: str | None) -> str | None:
    """The type X's image URLs name by their extension (`.jpg`, `.png`...), or None."""
    return _IMAGE_TYPES.get((url or "").rsplit(".", 1)[-1].lower())


# -- typed values, parsed once at the edge --------------------------------------------


@dataclass(frozen=True)
class XUser:
    id: str
    username: str
    name: str | None
    raw: dict[str, Any]


@dataclass(frozen=True)
class XMedia:
    key: str
    type: str
    url: str | None
    mime: str | None
    alt: str | None
    raw: dict[str, Any]


@dataclass(frozen=True)
class XPost:
    """One post version as the API returned it; `raw` is the platform's object, whole."""

    id: str
    chain: tuple[str, ...]       # edit_history_tweet_ids, oldest first
    text: str                    # plain text: note_tweet's full text, entities decoded
    created_at: str
    author_id: str
    conversation_id: str | None
    replied_to: str | None
    media_keys: tuple[str, ...]
    lang: str | None
    raw: dict[str, Any]

    @property
    def item_id(self) -> str:
        return self.chain[0]

    @property
    def is_current(self) -> bool:
        return self.id == self.chain[-1]


@dataclass
class XPage:
    posts: list[XPost]
    users: dict[str, XUser]
    media: dict[str, XMedia]
    errors: list[dict[str, Any]]
    next_token: str | None
    reads: int                   # posts returned (data + includes.tweets): what X bills
    referenced: dict[str, dict[str, Any]] = field(default_factory=dict)  # includes.tweets
    repaired: str | None = None  # the URL, when unpaired surrogates were replaced


def _bad(url: str, where: str, problem: str) -> MalformedResponse:
    return MalformedResponse(f"X {url}: {where} {problem}")


def _str(obj: Mapping[str, Any], key: str, url: str, where: str, *,
         required: bool = True, digits: bool = False) -> str | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise _bad(url, f"{where}.{key}", "is missing")
        return None
    if not isinstance(value, str):
        raise _bad(url, f"{where}.{key}", f"must be a string, not {type(value).__name__}")
    if digits and not POST_ID.fullmatch(value):
        raise _bad(url, f"{where}.{key}", f"must be a numeric id, not {value[:40]!r}")
    return value


def _list(obj: Mapping[str, Any], key: str, url: str, where: str) -> list[Any]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _bad(url, f"{where}.{key}", f"must be a list, not {type(value).__name__}")
    return value


def _dict(value: Any, url: str, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(url, where, f"must be an object, not {type(value).__name__}")
    return value


def plain_text(text: str) -> str:
    """X escapes `&`, `<` and `>` in post text as HTML entities; undo exactly those three."""
    return _ENTITY.sub(lambda m: _ENTITIES[m.group(1)], text)


def parse_post(obj: Any, url: str, where: str) -> XPost:
    """One Tweet object (OpenAPI `Tweet`), or MalformedResponse naming the bad field."""
    t = _dict(obj, url, where)
    post_id = _str(t, "id", url, where, digits=True)
    assert post_id is not None
    text = _str(t, "text", url, where)
    assert text is not None
    note = t.get("note_tweet")
    if note is not None:   # posts longer than 280 characters: `text` is cut, this is whole
        note_text = _str(_dict(note, url, f"{where}.note_tweet"), "text", url,
                         f"{where}.note_tweet")
        text = note_text or text
    chain_raw = _list(t, "edit_history_tweet_ids", url, where) or [post_id]
    if not all(isinstance(i, str) and POST_ID.fullmatch(i) for i in chain_raw):
        raise _bad(url, f"{where}.edit_history_tweet_ids", "must be a list of numeric ids")
    if post_id not in chain_raw:
        raise _bad(url, f"{where}.edit_history_tweet_ids", f"does not hold the post's own "
                   f"id {post_id}")
    created = _str(t, "created_at", url, where)
    assert created is not None
    try:
        created_at = times.format_time(times.parse_time(created))
    except times.TimeFormatError as exc:
        raise _bad(url, f"{where}.created_at", str(exc)) from None
    author_id = _str(t, "author_id", url, where, digits=True)
    assert author_id is not None
    replied_to = None
    for i, ref in enumerate(_list(t, "referenced_tweets", url, where)):
        ref = _dict(ref, url, f"{where}.referenced_tweets[{i}]")
        kind = _str(ref, "type", url, f"{where}.referenced_tweets[{i}]")
        ref_id = _str(ref, "id", url, f"{where}.referenced_tweets[{i}]", digits=True)
        if kind == "replied_to":
            replied_to = ref_id
    keys: list[str] = []
    attachments = t.get("attachments")
    if attachments is not None:
        attachments = _dict(attachments, url, f"{where}.attachments")
        for key in _list(attachments, "media_keys", url, f"{where}.attachments"):
            if not isinstance(key, str):
                raise _bad(url, f"{where}.attachments.media_keys", "must hold strings")
            keys.append(key)
    return XPost(
        id=post_id, chain=tuple(chain_raw), text=plain_text(text), created_at=created_at,
        author_id=author_id,
        conversation_id=_str(t, "conversation_id", url, where, required=False, digits=True),
        replied_to=replied_to, media_keys=tuple(keys),
        lang=_str(t, "lang", url, where, required=False), raw=t)


def _parse_user(obj: Any, url: str, where: str) -> XUser:
    u = _dict(obj, url, where)
    user_id = _str(u, "id", url, where, digits=True)
    username = _str(u, "username", url, where)
    assert user_id is not None and username is not None
    return XUser(user_id, username, _str(u, "name", url, where, required=False), u)


def _parse_media(obj: Any, url: str, where: str) -> XMedia:
    m = _dict(obj, url, where)
    key = _str(m, "media_key", url, where)
    kind = _str(m, "type", url, where)
    assert key is not None and kind is not None
    alt = _str(m, "alt_text", url, where, required=False)
    if kind == "photo":
        media_url = _str(m, "url", url, where, required=False)
        return XMedia(key, kind, media_url, image_type(media_url), alt, m)
    # video and animated_gif: the best MP4 variant; the HLS playlist is not a file
    best: tuple[int, str, str] | None = None
    for i, v in enumerate(_list(m, "variants", url, where)):
        v = _dict(v, url, f"{where}.variants[{i}]")
        v_url = _str(v, "url", url, f"{where}.variants[{i}]")
        ctype = _str(v, "content_type", url, f"{where}.variants[{i}]")
        rate = v.get("bit_rate", 0)
        if not isinstance(rate, int) or isinstance(rate, bool):
            raise _bad(url, f"{where}.variants[{i}].bit_rate", "must be an integer")
        assert v_url is not None and ctype is not None
        if ctype == "video/mp4" and (best is None or rate > best[0]):
            best = (rate, v_url, ctype)
    if best is not None:
        return XMedia(key, kind, best[1], best[2], alt, m)
    preview = _str(m, "preview_image_url", url, where, required=False)
    return XMedia(key, kind, preview, image_type(preview), alt, m)


def repair_surrogates(body: Any) -> tuple[Any, bool]:
    """X's JSON may escape half of a UTF-16 pair (a post cut inside an emoji): such a
    string is not Unicode and can be neither stored nor served. Each unpaired half
    becomes U+FFFD; (body, whether anything was replaced)."""
    text = json.dumps(body, ensure_ascii=False)
    if not _SURROGATE.search(text):
        return body, False
    return json.loads(_SURROGATE.sub("\ufffd", text)), True


def parse_page(body: Any, url: str) -> XPage:
    """A v2 list answer: `data` (a list, or one object), `includes`, `errors`, `meta`."""
    body, repaired = repair_surrogates(body)
    doc = _dict(body, url, "the answer")
    data = doc.get("data")
    if data is None:
        items: list[Any] = []
    elif isinstance(data, dict):
        items = [data]
    elif isinstance(data, list):
        items = data
    else:
        raise _bad(url, "data", f"must be a list, not {type(data).__name__}")
    posts = [parse_post(t, url, f"data[{i}]") for i, t in enumerate(items)]
    includes = _dict(doc["includes"] if doc.get("includes") is not None else {}, url,
                     "includes")
    users = {}
    for i, u in enumerate(_list(includes, "users", url, "includes")):
        user = _parse_user(u, url, f"includes.users[{i}]")
        users[user.id] = user
    media = {}
    for i, m in enumerate(_list(includes, "media", url, "includes")):
        medium = _parse_media(m, url, f"includes.media[{i}]")
        media[medium.key] = medium
    included_posts = _list(includes, "tweets", url, "includes")
    referenced = {}
    for i, ref in enumerate(included_posts):
        ref = _dict(ref, url, f"includes.tweets[{i}]")
        ref_id = _str(ref, "id", url, f"includes.tweets[{i}]", digits=True)
        referenced[ref_id] = ref
    errors = _list(doc, "errors", url, "the answer")
    for i, e in enumerate(errors):
        _dict(e, url, f"errors[{i}]")
    meta = _dict(doc["meta"] if doc.get("meta") is not None else {}, url, "meta")
    next_token = _str(meta, "next_token", url, "meta", required=False)
    count = meta.get("result_count")
    if count is not None and (not isinstance(count, int) or isinstance(count, bool)):
        raise _bad(url, "meta.result_count", "must be an integer")
    if "data" not in doc and "meta" not in doc and not errors:
        raise _bad(url, "the answer", "has neither data, meta nor errors")
    return XPage(posts, users, media, errors, next_token, len(posts) + len(included_posts),
                 referenced, url if repaired else None)


def _later_versions(page: XPage, url: str) -> XPage:
    """The newer versions of the page's posts among its `includes.tweets`, as posts."""
    chains = {v: p for p in page.posts for v in p.chain}
    later = [parse_post(ref, url, f"includes.tweets[id={ref_id}]")
             for ref_id, ref in page.referenced.items()
             if ref_id in chains and int(ref_id) > int(chains[ref_id].id)]
    return XPage(later, {}, {}, [], None, 0)


def _listing(body: Any, url: str) -> XPage:
    """A page of a listing. Errors with no data are about the request itself (the user
    is suspended or gone, a parameter refused): the run fails saying so, rather than
    taking an empty page for an empty timeline and presuming every post deleted."""
    page = parse_page(body, url)
    if not page.posts and page.errors:
        said = "; ".join(str(e.get("detail") or e.get("title") or e)[:200]
                         for e in page.errors[:3])
        raise CollectorError(f"X {url}: answered with errors and no posts: {said}")
    return page


# -- the collector ---------------------------------------------------------------------


def snowflake_time(post_id: str) -> str:
    """The creation time a snowflake id carries, to the second (as `created_at` gives it)."""
    ms = (int(post_id) >> 22) + _SNOWFLAKE_EPOCH_MS
    return times.format_time(datetime.fromtimestamp(ms // 1000, UTC))


class _Budget:
    """Posts this run may still read: the smaller of the per-run and per-month allowances."""

    def __init__(self, per_run: int, month_left: int | None) -> None:
        self.left = per_run if month_left is None else min(per_run, month_left)
        self.used = 0
        self.exhausted = False

    def page_size(self, floor: int) -> int | None:
        """`max_results` for the next page, or None when the budget cannot pay for one."""
        if self.left < floor:
            self.exhausted = True
            return None
        return min(100, self.left)

    def spend(self, reads: int) -> None:
        self.used += reads
        self.left -= reads


@dataclass
class _Run:
    """What one harvest accumulates."""

    account: AccountConfig
    posts: dict[str, XPost] = field(default_factory=dict)        # item_id -> newest version
    kinds: dict[str, str] = field(default_factory=dict)          # item_id -> listing source
    users: dict[str, XUser] = field(default_factory=dict)
    media: dict[str, XMedia] = field(default_factory=dict)
    referenced: dict[str, dict[str, Any]] = field(default_factory=dict)
    chain_of: dict[str, str] = field(default_factory=dict)       # any version id -> item_id
    repaired: set[str] = field(default_factory=set)              # endpoints, for the notes

    def add(self, page: XPage, source: str) -> None:
        self.users.update(page.users)
        self.media.update(page.media)
        self.referenced.update(page.referenced)
        if page.repaired:
            self.repaired.add(page.repaired.split("?")[0])
        for post in page.posts:
            for version in post.chain:
                self.chain_of[version] = post.item_id
            held = self.posts.get(post.item_id)
            if held is None or int(post.id) > int(held.id):
                self.posts[post.item_id] = post
            self.kinds.setdefault(post.item_id, source)


class XCollector:
    """The X API v2 collector: stateless; the cursor carries the run-to-run state."""

    platform: ClassVar[str] = PLATFORM

    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._clock = clock

    # -- harvest ---------------------------------------------------------------------

    def harvest(self, account: AccountConfig, http: Transport, cursor: Mapping[str, Any],
                known: Sequence[KnownItem]) -> Harvest:
        """List the timeline since `start_time`, then the recent threads of listed posts."""
        options = _options(account)
        now = self._clock().astimezone(UTC)
        month = now.strftime("%Y-%m")
        spent = cursor.get("budget") if isinstance(cursor.get("budget"), dict) else {}
        used = spent.get("used")
        used_this_month = used if spent.get("month") == month and isinstance(used, int) \
            and not isinstance(used, bool) and used >= 0 else 0
        month_cap = options["read_budget_per_month"]
        budget = _Budget(options["read_budget_per_run"],
                         None if month_cap is None else max(0, month_cap - used_this_month))
        harvest = Harvest()
        run = _Run(account)
        headers = _auth(account)
        base = account.base_url.rstrip("/")

        start = self._start_time(cursor, now, options)
        timeline_complete, listed_count = self._list_timeline(
            run, http, base, headers, start, budget, harvest)
        if timeline_complete:
            harvest.window_start = times.format_time(start)
            harvest.window_end = times.format_time(now)
            if listed_count >= TIMELINE_CAP:
                # the timeline stopped at its cap, not at start_time: trust only what it showed
                oldest = min((p.created_at for p in run.posts.values()), default=None)
                harvest.window_start = oldest
                harvest.notes.append(
                    f"the timeline reached X's cap of {TIMELINE_CAP} posts; older posts come "
                    f"from the account archive import")
        else:
            harvest.notes.append(_budget_note(budget, "the timeline"))

        searched: set[str] = set()
        if options["replies"] and timeline_complete:
            recent = now - timedelta(days=SEARCH_DAYS)
            for post in sorted(run.posts.values(), key=lambda p: int(p.id), reverse=True):
                if post.replied_to is not None:
                    continue   # the account's replies elsewhere: not a thread of its own
                if times.parse_time(post.created_at) < recent:
                    continue   # recent search cannot see this thread whole
                if self._list_thread(run, http, base, headers, post, budget, harvest):
                    searched.add(post.item_id)
                else:
                    harvest.notes.append(_budget_note(budget, "the reply threads"))
                    break

        self._follow_old_versions(run, http, base, headers, budget, harvest)
        if timeline_complete:
            harvest.threads = _threads(run, known, searched)
        me = self._profile(run, http, base, headers, harvest)
        before = str(cursor.get("username") or account.handle or "").lstrip("@")
        if before and me.username.lower() != before.lower():
            harvest.notes.append(f"account renamed: @{before} is now @{me.username}")

        harvest.notes.extend(
            f"{url}: X sent unpaired UTF-16 surrogates (not Unicode); each was archived as "
            f"U+FFFD" for url in sorted(run.repaired))
        observed_at = times.format_time(now)
        profile = profile_observation(account, me, observed_at)
        harvest.observations.append(profile)
        harvest.listed.add(profile.item_id)
        for item_id, post in sorted(run.posts.items(), key=lambda kv: int(kv[0])):
            harvest.observations.append(_observation(run, post, observed_at))
            harvest.listed.add(item_id)

        harvest.cursor = {
            "listed_until": harvest.window_end or cursor.get("listed_until"),
            "username": me.username,
            "budget": {"month": month, "used": used_this_month + budget.used},
        }
        return harvest

    def _start_time(self, cursor: Mapping[str, Any], now: datetime,
                    options: Mapping[str, Any]) -> datetime:
        """Recheck `recheck_days`, and never leave a gap since the last complete listing."""
        until = cursor.get("listed_until")
        if not isinstance(until, str):
            return now - timedelta(days=options["first_run_days"])
        start = now - timedelta(days=options["recheck_days"])
        try:
            last = times.parse_time(until)
        except times.TimeFormatError:
            return now - timedelta(days=options["first_run_days"])
        return min(start, last)

    def _list_timeline(self, run: _Run, http: Transport, base: str,
                       headers: Mapping[str, str], start: datetime, budget: _Budget,
                       harvest: Harvest) -> tuple[bool, int]:
        url = f"{base}/2/users/{run.account.platform_id}/tweets"
        token: str | None = None
        seen: set[str] = set()
        count = 0
        while True:
            size = budget.page_size(5)       # the endpoint's max_results minimum is 5
            if size is None:
                return False, count
            params = {**_fields(), "max_results": size,
                      "start_time": _api_time(start)}
            if token:
                params["pagination_token"] = token
            page = _listing(_get(http, url, params, headers, harvest), url)
            budget.spend(page.reads)
            for i, post in enumerate(page.posts):
                if post.author_id != run.account.platform_id:
                    raise _bad(url, f"data[{i}].author_id", f"is {post.author_id}, not the "
                               f"account's id {run.account.platform_id}")
            count += len(page.posts)
            run.add(page, "timeline")
            if not page.next_token or count >= TIMELINE_CAP:
                return True, count
            token = _next(page, url, seen)

    def _list_thread(self, run: _Run, http: Transport, base: str,
                     headers: Mapping[str, str], post: XPost, budget: _Budget,
                     harvest: Harvest) -> bool:
        """Every reply in the conversation of `post`; False when the budget ran out."""
        url = f"{base}/2/tweets/search/recent"
        # A reply's conversation_id names the version it answered: ask for the whole chain.
        query = " OR ".join(f"conversation_id:{i}" for i in post.chain)
        token: str | None = None
        seen: set[str] = set()
        while True:
            size = budget.page_size(10)      # recent search's max_results minimum is 10
            if size is None:
                return False
            params = {**_fields(), "query": query, "max_results": size}
            if token:
                params["next_token"] = token
            page = _listing(_get(http, url, params, headers, harvest), url)
            budget.spend(page.reads)
            run.add(page, "thread")
            if not page.next_token:
                return True
            token = _next(page, url, seen)

    def _follow_old_versions(self, run: _Run, http: Transport, base: str,
                             headers: Mapping[str, str], budget: _Budget,
                             harvest: Harvest) -> None:
        """A listing that showed only an older version of a chain: fetch the current one."""
        stale = [p.chain[-1] for p in run.posts.values() if not p.is_current]
        for batch in _batches(stale, LOOKUP_BATCH):
            url = f"{base}/2/tweets"
            page = parse_page(_get(http, url, {**_fields(), "ids": ",".join(batch)}, headers,
                                   harvest), url)
            budget.spend(page.reads)
            run.add(page, "thread")

    def _profile(self, run: _Run, http: Transport, base: str,
                 headers: Mapping[str, str], harvest: Harvest) -> XUser:
        """The account's user object: from the listing's includes, else `GET /2/users/:id`."""
        me = run.users.get(run.account.platform_id)
        if me is None:
            url = f"{base}/2/users/{run.account.platform_id}"
            doc = _dict(_get(http, url, {"user.fields": USER_FIELDS}, headers, harvest),
                        url, "the answer")
            if doc.get("data") is None:
                raise _bad(url, "data", f"is missing: {_errors_text(doc)}")
            me = _parse_user(doc["data"], url, "data")
            if me.id != run.account.platform_id:
                raise _bad(url, "data.id", f"is {me.id}, not {run.account.platform_id}")
            run.users[me.id] = me
        return me

    # -- lookup ----------------------------------------------------------------------

    def lookup(self, account: AccountConfig, http: Transport,
               items: Sequence[KnownItem]) -> list[Observation]:
        """`GET /2/tweets?ids=`: "Not Found Error" entries -> `deleted`; others, as they are."""
        headers = _auth(account)
        base = account.base_url.rstrip("/")
        observed_at = times.format_time(self._clock().astimezone(UTC))
        run = _Run(account)
        scratch = Harvest()
        found: dict[str, Observation] = {}
        for k in items:
            if k.kind == "profile":
                obs = self._lookup_profile(account, http, base, headers, k, observed_at)
                if obs is not None:
                    found[k.item_id] = obs
        known = {k.item_id: k for k in items if k.kind != "profile"}
        for k in known.values():
            if not POST_ID.fullmatch(k.item_id):
                raise MalformedResponse(f"X lookup: item id {k.item_id!r} is not a post id")
        url = f"{base}/2/tweets"
        # Asked by its first id, X answers that past version; the `edit_history_tweet_ids`
        # expansion brings every version of the chain in `includes.tweets` at once.
        params = {**_fields(), "expansions": f"{EXPANSIONS},edit_history_tweet_ids"}
        for batch in _batches(list(known), LOOKUP_BATCH):
            body = _get(http, url, {**params, "ids": ",".join(batch)}, headers, scratch)
            page = parse_page(body, url)
            run.add(page, "lookup")
            run.add(_later_versions(page, url), "lookup")
            answered = {p.id for p in page.posts} | {p.item_id for p in page.posts}
            for error in page.errors:
                rid = error.get("resource_id")
                if rid not in batch or rid in answered:
                    continue
                answered.add(rid)
                if _is_not_found(error):
                    k = known[rid]
                    found[rid] = Observation(
                        platform=PLATFORM, account=account.platform_id, item_id=k.item_id,
                        kind=k.kind, parent_id=k.parent_id, observed_at=observed_at,
                        url=None, raw=error, event="deleted")
                # Other errors (an author who went protected or was suspended: "Authorization
                # Error") say the post cannot be seen, not that it is gone: no observation.
            missing = [i for i in batch if i not in answered]
            if missing:
                raise _bad(url, "the answer", f"says nothing about {', '.join(missing)}")
        self._follow_old_versions(run, http, base, headers, _Budget(10**9, None), scratch)
        for item_id, post in run.posts.items():
            if item_id in known and item_id not in found:
                k = known[item_id]
                obs = _observation(run, post, observed_at)
                found[item_id] = _with_kind(obs, k)
        return [found[k.item_id] for k in items if k.item_id in found]

    def _lookup_profile(self, account: AccountConfig, http: Transport, base: str,
                        headers: Mapping[str, str], k: KnownItem,
                        observed_at: str) -> Observation | None:
        """`GET /2/users/:id`: the profile now, `deleted` on "Not Found Error", else None
        (a suspended account is "Forbidden": not gone, not visible)."""
        user_id = k.item_id.removeprefix(PROFILE_PREFIX)
        if not POST_ID.fullmatch(user_id):
            raise MalformedResponse(f"X lookup: {k.item_id!r} is not a profile item id")
        url = f"{base}/2/users/{user_id}"
        doc = _dict(_get(http, url, {"user.fields": USER_FIELDS}, headers, Harvest()), url,
                    "the answer")
        if doc.get("data") is not None:
            user = _parse_user(doc["data"], url, "data")
            if user.id != user_id:
                raise _bad(url, "data.id", f"is {user.id}, not {user_id}")
            return profile_observation(account, user, observed_at)
        for i, error in enumerate(_list(doc, "errors", url, "the answer")):
            error = _dict(error, url, f"errors[{i}]")
            if error.get("resource_id") == user_id and _is_not_found(error):
                return Observation(platform=PLATFORM, account=account.platform_id,
                                   item_id=k.item_id, kind="profile", observed_at=observed_at,
                                   raw=error, event="deleted")
            if error.get("resource_id") == user_id:
                return None
        raise _bad(url, "the answer", f"says nothing about user {user_id}")


# -- helpers ---------------------------------------------------------------------------


def _options(account: AccountConfig) -> dict[str, Any]:
    """The account's options over the defaults; a name or value X does not know fails the
    run naming it (a mistyped budget must not silently become the default)."""
    given = dict(account.options)
    if "read_budget" in given:       # the short name docs/collectors.md uses
        given.setdefault("read_budget_per_run", given.pop("read_budget"))
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise CollectorError(f"x: unknown option(s) {', '.join(unknown)}; known: "
                             f"{', '.join(sorted(DEFAULTS))}")
    options = {**DEFAULTS, **given}
    for name in ("read_budget_per_run", "recheck_days", "first_run_days",
                 "read_budget_per_month"):
        value = options[name]
        if value is None and name == "read_budget_per_month":
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise CollectorError(f"x: option {name} must be a whole number >= 0, "
                                 f"not {value!r}")
    if not isinstance(options["replies"], bool):
        raise CollectorError(f"x: option replies must be true or false, not "
                             f"{options['replies']!r}")
    return options


def _auth(account: AccountConfig) -> dict[str, str]:
    token = account.credentials.get("bearer_token")
    if not token:
        raise CredentialsRejected(f"X account {account.id}: no bearer_token in its "
                                  f"credentials")
    return {"Authorization": f"Bearer {token}"}


def _fields() -> dict[str, Any]:
    return {"tweet.fields": TWEET_FIELDS, "expansions": EXPANSIONS,
            "media.fields": MEDIA_FIELDS, "user.fields": USER_FIELDS}


def _api_time(moment: datetime) -> str:
    """`start_time` in the form X documents: YYYY-MM-DDTHH:mm:ssZ."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _get(http: Transport, url: str, params: Mapping[str, Any], headers: Mapping[str, str],
         harvest: Harvest) -> Any:
    """GET through the Transport; a 403 (app not allowed this endpoint) is a credentials
    problem: the account is paused and an operator alerted."""
    harvest.requests += 1
    response = http.get(url, params=params, headers=headers, accept={403})
    if response.status == 403:
        try:
            problem = response.json()
        except MalformedResponse:
            problem = None
        if isinstance(problem, dict):
            said = "; ".join(str(problem[k])[:200] for k in ("title", "reason", "detail")
                             if problem.get(k))
        else:
            said = response.body[:200].decode("utf-8", "replace")
        raise CredentialsRejected(f"X {url}: the credentials are not allowed this endpoint "
                                  f"(403): {said}")
    return response.json()


def _next(page: XPage, url: str, seen: set[str]) -> str:
    """The next page's token; one X already gave in this listing would loop forever."""
    token = page.next_token
    assert token is not None
    if token in seen:
        raise _bad(url, "meta.next_token", f"repeats {token[:40]!r}: the listing loops")
    seen.add(token)
    return token


def _is_not_found(error: Mapping[str, Any]) -> bool:
    """X's word for "gone". A suspended user's error shares the resource-not-found type
    but is titled "Forbidden": only the title decides."""
    return error.get("title") == "Not Found Error"


def profile_item_id(user_id: str) -> str:
    return f"{PROFILE_PREFIX}{user_id}"


def profile_observation(account: AccountConfig, user: XUser, observed_at: str) -> Observation:
    """The account's profile as an item whose text is its name and username, so that a
    rename is archived as an edit (`item_id` "account:<user id>", apart from post ids)."""
    return Observation(
        platform=PLATFORM, account=account.platform_id, item_id=profile_item_id(user.id),
        kind="profile", text=f"{user.name or ''}\n@{user.username}".lstrip("\n"),
        author={"id": user.id, "handle": user.username, "name": user.name},
        observed_at=observed_at, url=f"https://x.com/{user.username}", raw=user.raw)


def _threads(run: _Run, known: Sequence[KnownItem], searched: set[str]) -> set[str]:
    """Items whose every reply this run listed: the searched posts and, since a
    conversation search returns the whole tree, every item below them (listed or
    archived); and the posts the account's own listed replies answer elsewhere."""
    parent: dict[str, str | None] = {k.item_id: k.parent_id for k in known}
    for item_id, post in run.posts.items():
        parent[item_id] = (run.chain_of.get(post.replied_to, post.replied_to)
                           if post.replied_to else None)
    out = set(searched)
    for item_id in parent:
        seen, node = set(), item_id
        while node is not None and node not in seen and node not in searched:
            seen.add(node)
            node = parent.get(node)
        if node in searched:
            out.add(item_id)
    for item_id, post in run.posts.items():
        own_reply = post.author_id == run.account.platform_id and post.replied_to
        if own_reply and run.kinds.get(item_id) == "timeline" and parent[item_id] not in out:
            out.add(parent[item_id])  # type: ignore[arg-type]
    return out


def _errors_text(doc: Mapping[str, Any]) -> str:
    errors = doc.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return str(errors[0].get("detail") or errors[0].get("title"))[:200]
    return "no data and no error"


def _batches(ids: Iterable[str], size: int) -> Iterable[list[str]]:
    batch: list[str] = []
    for i in ids:
        batch.append(i)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _budget_note(budget: _Budget, what: str) -> str:
    return (f"read budget spent after {budget.used} posts: {what} not listed completely; "
            f"nothing is presumed deleted this run")


def _observation(run: _Run, post: XPost, observed_at: str) -> Observation:
    """One chain, at its newest version seen, as an observation."""
    account = run.account
    author = run.users.get(post.author_id)
    own = post.author_id == account.platform_id
    parent = run.chain_of.get(post.replied_to, post.replied_to) if post.replied_to else None
    kind = ("post" if parent is None else "reply") if own else "comment"
    media = []
    for key in post.media_keys:
        m = run.media.get(key)
        media.append({"id": key, "url": m.url if m else None, "mime": m.mime if m else None,
                      "alt": m.alt if m else None})
    includes: dict[str, Any] = {}
    if author is not None:
        includes["users"] = [author.raw]
    raw_media = [run.media[k].raw for k in post.media_keys if k in run.media]
    if raw_media:
        includes["media"] = raw_media
    refs = [r.get("id") for r in post.raw.get("referenced_tweets") or []]
    raw_refs = [run.referenced[r] for r in refs if r in run.referenced]
    if raw_refs:   # the reposted, quoted or answered post, as X expanded it
        includes["tweets"] = raw_refs
    raw: dict[str, Any] = {"data": post.raw}
    if includes:
        raw["includes"] = includes
    published = post.created_at if post.id == post.item_id else snowflake_time(post.item_id)
    handle = author.username if author else (account.handle if own else None)
    return Observation(
        platform=PLATFORM, account=account.platform_id, item_id=post.item_id, kind=kind,
        text=post.text,
        author={"id": post.author_id, "handle": handle,
                "name": author.name if author else None},
        parent_id=parent, published_at=published, observed_at=observed_at,
        url=f"https://x.com/{handle or 'i'}/status/{post.id}" if handle
        else f"https://x.com/i/web/status/{post.id}",
        lang=post.lang, media=media, raw=raw)


def _with_kind(obs: Observation, k: KnownItem) -> Observation:
    """A lookup keeps the archived kind and parent: one item, one identity."""
    return replace(obs, kind=k.kind, parent_id=k.parent_id or obs.parent_id)


COLLECTOR = XCollector()
