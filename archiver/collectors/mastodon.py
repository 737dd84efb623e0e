"""Mastodon: an account's statuses, their edits and reply threads, over the REST API.

Endpoints (docs.joinmastodon.org/methods/): `GET /api/v1/accounts/:id` (the profile:
handle `acct`, `display_name`), `GET /api/v1/accounts/:id/statuses` (newest first, paged
backwards by the `Link` header's `rel="next"`), `GET /api/v1/statuses/:id/history` (the
edit history, fetched when `edited_at` is new), `GET /api/v1/statuses/:id/context`
(`descendants`: the whole reply thread the server knows) and `GET /api/v1/statuses/:id`
(lookups: a 404 `{"error": "Record not found"}` is a deletion).

Decisions (docs/collectors.md, "Mastodon"):
- kinds: the account's status -> `post`, or `reply` when `in_reply_to_id` is set;
  anybody else's status in a thread -> `comment`; a reblog -> `boost` (no text: the words
  are someone else's; the boosted status is kept whole in `raw.reblog`); the profile ->
  one item `account:<id>` of kind `profile` whose text is the display name and handle, so
  a rename is archived as an edit.
- `spoiler_text` (the content warning) is part of the text, first, then a blank line:
  changing a content warning is an edit on Mastodon too.
- `raw` is the status as the API gave it; when the edit history was fetched it is added
  as the member `history` (a name the Status entity does not use).
- Mastodon has no "hide reply" feature: this collector never reports `hidden`.

Every response is checked against the documented shape before anything is made of it:
a wrong type or a missing member raises `MalformedResponse` naming the response and the
member, and the run archives nothing.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any, ClassVar
from urllib.parse import parse_qsl, quote, urlsplit

from archiver import times
from archiver.collectors.protocol import AccountConfig, Harvest, KnownItem
from archiver.collectors.transport import Response, Transport
from archiver.errors import (
    ArchiveError,
    CollectorError,
    ConfigError,
    CredentialsRejected,
    InvalidObservation,
    MalformedResponse,
)
from archiver.records import Observation, parse_observation

PLATFORM = "mastodon"
PROFILE_PREFIX = "account:"
MAX_TEXT_BYTES = 100_000           # the archive's default `[capture] max_text_bytes`
ASYNC_REFRESH = "mastodon-async-refresh"
_EPOCH = "1970-01-01T00:00:00.000000Z"
_MAX_REVISITS = 200                # threads remembered for an async refresh, at most
_REVISIT_RUNS = 5                  # runs a thread is revisited before giving up on it
_GONE = frozenset({404, 410})


# -- typed values at the edge ---------------------------------------------------------


@dataclass(frozen=True)
class Account:
    id: str
    acct: str
    username: str
    display_name: str
    url: str | None
    created_at: str | None
    raw: dict[str, Any]


@dataclass(frozen=True)
class Media:
    id: str
    type: str
    url: str | None
    description: str | None


@dataclass(frozen=True)
class Status:
    id: str
    created_at: str
    edited_at: str | None
    in_reply_to_id: str | None
    account: Account
    content: str
    spoiler_text: str
    language: str | None
    url: str | None
    uri: str | None
    media: tuple[Media, ...]
    reblog: Status | None
    raw: dict[str, Any]
    replies_count: int | None = None


class JsonObject:
    """One JSON object of a platform document, read member by member; a member missing or
    of the wrong type raises `error` naming the document (`where`) and the member."""

    def __init__(self, obj: Any, where: str,
                 error: type[ArchiveError] = MalformedResponse) -> None:
        if not isinstance(obj, dict):
            raise error(f"{where}: expected a JSON object, got {_json_type(obj)}")
        self.obj = obj
        self.where = where
        self.error = error

    def _bad(self, key: str, what: str) -> ArchiveError:
        return self.error(f"{self.where}: '{key}' {what}")

    def id(self, key: str) -> str:
        value = self.obj.get(key)
        if not isinstance(value, str) or not value.strip():
            raise self._bad(key, "must be a non-empty string" if key in self.obj
                            else "is missing")
        if len(value) > 512 or "\x00" in value:
            raise self._bad(key, "is not an id (longer than 512 characters or NUL)")
        return value

    def opt_id(self, key: str) -> str | None:
        return None if self.obj.get(key) is None else self.id(key)

    def str(self, key: str, *, default: str | None = None) -> str:
        value = self.obj.get(key, default)
        if not isinstance(value, str):
            raise self._bad(key, "is missing" if key not in self.obj
                            else f"must be a string, not {_json_type(value)}")
        return value

    def opt_str(self, key: str) -> str | None:
        value = self.obj.get(key)
        if value is not None and not isinstance(value, str):
            raise self._bad(key, f"must be a string or null, not {_json_type(value)}")
        return value

    def time(self, key: str) -> str:
        value = self.str(key)
        try:
            return times.format_time(times.parse_time(value))
        except times.TimeFormatError as exc:
            raise self._bad(key, str(exc)) from None

    def opt_time(self, key: str) -> str | None:
        return None if self.obj.get(key) is None else self.time(key)

    def list(self, key: str, *, default: list[Any] | None = None) -> list[Any]:
        value = self.obj.get(key, default)
        if not isinstance(value, list):
            raise self._bad(key, "is missing" if key not in self.obj
                            else f"must be a list, not {_json_type(value)}")
        return value


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
             int: "a number", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def parse_account(obj: Any, where: str) -> Account:
    """A Mastodon Account entity (id, username, acct, display_name are required)."""
    d = JsonObject(obj, where)
    return Account(id=d.id("id"), acct=d.str("acct"), username=d.str("username"),
                   display_name=d.str("display_name", default=""), url=d.opt_str("url"),
                   created_at=d.opt_time("created_at"), raw=obj)


def _parse_media(obj: Any, where: str) -> Media:
    d = JsonObject(obj, where)
    url = d.opt_str("url") or d.opt_str("remote_url")
    return Media(id=d.id("id"), type=d.str("type"), url=url,
                 description=d.opt_str("description"))


def parse_status(obj: Any, where: str) -> Status:
    """A Mastodon Status entity, checked member by member (docs: entities/Status)."""
    d = JsonObject(obj, where)
    reblog = None
    if d.obj.get("reblog") is not None:
        reblog = parse_status(d.obj["reblog"], f"{where}.reblog")
    media = tuple(_parse_media(m, f"{where}.media_attachments[{i}]")
                  for i, m in enumerate(d.list("media_attachments", default=[])))
    return Status(
        id=d.id("id"), created_at=d.time("created_at"), edited_at=d.opt_time("edited_at"),
        in_reply_to_id=d.opt_id("in_reply_to_id"),
        account=parse_account(d.obj.get("account"), f"{where}.account"),
        content=d.str("content"), spoiler_text=d.str("spoiler_text", default=""),
        language=d.opt_str("language"), url=d.opt_str("url"), uri=d.opt_str("uri"),
        media=media, reblog=reblog, raw=obj, replies_count=_count(d, "replies_count"))


def _count(d: JsonObject, key: str) -> int | None:
    value = d.obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise d._bad(key, "must be a non-negative integer")
    return value


def parse_statuses(obj: Any, where: str) -> list[Status]:
    if not isinstance(obj, list):
        raise MalformedResponse(f"{where}: expected a list of statuses, got {_json_type(obj)}")
    return [parse_status(item, f"{where}[{i}]") for i, item in enumerate(obj)]


def _parse_history(obj: Any, where: str) -> list[Any]:
    """The StatusEdit list; only checked for shape, kept whole in raw."""
    if not isinstance(obj, list):
        raise MalformedResponse(f"{where}: expected a list of edits, got {_json_type(obj)}")
    for i, item in enumerate(obj):
        d = JsonObject(item, f"{where}[{i}]")
        d.str("content")
        d.time("created_at")
    return obj


# -- HTML content to plain text --------------------------------------------------------


class _PlainText(HTMLParser):
    """Mastodon's sanitised HTML -> text: paragraphs and blocks apart by a blank line,
    `<br>` a newline, list items one a line, links their text (all of it, including the
    `invisible` spans Mastodon uses to shorten long URLs), entities decoded. Text is
    otherwise kept exactly as written (no whitespace folding, no normalisation)."""

    BLOCKS = frozenset({"p", "div", "blockquote", "pre", "ul", "ol", "h1", "h2", "h3",
                        "h4", "h5", "h6"})
    SKIP = frozenset({"script", "style"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.pending = ""            # the separator owed before the next text
        self.skipping = 0

    def _separate(self, sep: str) -> None:
        if self.parts and len(sep) > len(self.pending):
            self.pending = sep

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        elif tag == "br":
            self.parts.append(self.pending + "\n")
            self.pending = ""
        elif tag in self.BLOCKS:
            self._separate("\n\n")
        elif tag == "li":
            self._separate("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BLOCKS:
            self._separate("\n\n")
        elif tag == "li":
            self._separate("\n")

    def handle_data(self, data: str) -> None:
        if self.skipping or not data:
            return
        if self.pending:
            self.parts.append(self.pending)
            self.pending = ""
        self.parts.append(data)


def html_to_text(html: str) -> str:
    """The plain text of a status' HTML `content`."""
    parser = _PlainText()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)


def status_text(spoiler_text: str, content_html: str) -> str:
    """The content warning (when there is one), a blank line, then the content."""
    body = html_to_text(content_html)
    return f"{spoiler_text}\n\n{body}" if spoiler_text else body


def media_mime(media_type: str, url: str | None) -> str | None:
    """A MIME type for an attachment: Mastodon gives only a category (`image`, `gifv`,
    `video`, `audio`, `unknown`); the file name's extension gives the type when it agrees
    with the category (a `gifv` is an MP4 video), else None."""
    category = {"image": "image/", "gifv": "video/", "video": "video/",
                "audio": "audio/"}.get(media_type)
    if category is None or not url:
        return None
    guessed, _ = mimetypes.guess_type(urlsplit(url).path)
    return guessed if guessed and guessed.startswith(category) else None


# -- observations ---------------------------------------------------------------------


def _observation(obj: dict[str, Any], what: str) -> Observation:
    """Through the archive's own validation, so a collector never emits what ingest
    would refuse."""
    try:
        return parse_observation(obj, max_text_bytes=MAX_TEXT_BYTES)
    except InvalidObservation as exc:
        raise MalformedResponse(f"{what}: {exc.reason}") from None


def status_kind(status: Status, account_id: str) -> str:
    if status.reblog is not None:
        return "boost"
    if status.account.id == account_id:
        return "reply" if status.in_reply_to_id else "post"
    return "comment"


def status_observation(status: Status, account_id: str, observed_at: str, *,
                       history: list[Any] | None = None) -> Observation:
    """One status as an observation of the account `account_id`."""
    kind = status_kind(status, account_id)
    raw = status.raw if history is None else {**status.raw, "history": history}
    author = {"id": status.account.id, "handle": status.account.acct,
              "name": status.account.display_name}
    if kind == "boost":
        assert status.reblog is not None
        return _observation({
            "platform": PLATFORM, "account": account_id, "item_id": status.id,
            "kind": kind, "author": author, "published_at": status.created_at,
            "observed_at": observed_at, "url": status.url or status.reblog.url,
            "raw": raw}, f"status {status.id}")
    return _observation({
        "platform": PLATFORM, "account": account_id, "item_id": status.id, "kind": kind,
        "text": status_text(status.spoiler_text, status.content), "author": author,
        "parent_id": status.in_reply_to_id, "published_at": status.created_at,
        "observed_at": observed_at, "url": status.url or status.uri,
        "lang": status.language,
        "media": [{"id": m.id, "url": m.url, "mime": media_mime(m.type, m.url),
                   "alt": m.description} for m in status.media],
        "raw": raw}, f"status {status.id}")


def profile_item_id(account_id: str) -> str:
    return f"{PROFILE_PREFIX}{account_id}"


def profile_observation(account: Account, observed_at: str) -> Observation:
    """The profile as an item: its text is the display name and the handle, so that a
    rename (either) is archived as an edit; the whole Account entity is in raw."""
    return _observation({
        "platform": PLATFORM, "account": account.id, "item_id": profile_item_id(account.id),
        "kind": "profile", "text": f"{account.display_name}\n@{account.acct}",
        "author": {"id": account.id, "handle": account.acct, "name": account.display_name},
        "published_at": account.created_at, "observed_at": observed_at, "url": account.url,
        "raw": account.raw}, f"account {account.id}")


def deleted_observation(item: KnownItem, account_id: str, observed_at: str,
                        answer: Any) -> Observation:
    return _observation({
        "platform": PLATFORM, "account": account_id, "item_id": item.item_id,
        "kind": item.kind, "parent_id": item.parent_id, "event": "deleted",
        "observed_at": observed_at, "raw": answer}, f"item {item.item_id}")


# -- the API --------------------------------------------------------------------------


def id_key(status_id: str) -> tuple[int, str]:
    """Order of Mastodon ids (numeric strings of varying length; other servers' flake ids
    are fixed-length strings): shorter is older, then by characters."""
    return (len(status_id), status_id)


_LINK = re.compile(r'<([^>]*)>\s*((?:;\s*[^;,]*)*)')


def next_page_params(link_header: str | None) -> dict[str, str] | None:
    """The query of the `Link` header's `rel="next"` URL (RFC 8288), or None at the end."""
    if not link_header:
        return None
    for match in _LINK.finditer(link_header):
        url, params = match.group(1), match.group(2)
        rels = re.findall(r'rel\s*=\s*"?([^";,]+)"?', params)
        if any("next" in r.split() for r in rels):
            return dict(parse_qsl(urlsplit(url).query))
    return None


class MastodonApi:
    """The few REST calls the collector makes, with the account's token and base URL."""

    def __init__(self, account: AccountConfig, http: Transport) -> None:
        base = account.base_url.rstrip("/")
        if urlsplit(base).scheme not in ("http", "https") or not urlsplit(base).netloc:
            raise ConfigError(f"account {account.id}: base URL {account.base_url!r} is not "
                              f"an http(s) URL")
        self.base = base
        self.http = http
        self.account_id = account.platform_id
        token = account.credentials.get("access_token")
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.authenticated = bool(token)

    def url(self, *parts: str) -> str:
        return self.base + "/api/v1/" + "/".join(quote(p, safe="") for p in parts)

    def get(self, url: str, *, params: Mapping[str, Any] | None = None,
            accept: Iterable[int] = ()) -> Response:
        """GET; a 403 whose JSON says the login is disabled or the scope is missing is
        the platform refusing the credentials."""
        response = self.http.get(url, params=params, headers=self.headers,
                                 accept={403, *accept})
        if response.status == 403:
            body = _error_message(response)
            raise CredentialsRejected(f"{urlsplit(url).path}: the platform refused the "
                                      f"credentials (403): {body}")
        return response

    def account(self) -> Account:
        response = self.get(self.url("accounts", self.account_id), accept=_GONE)
        where = f"GET /api/v1/accounts/{self.account_id}"
        if response.status in _GONE:
            raise CollectorError(f"{where}: the account is gone ({response.status}): "
                                 f"{_error_message(response)}")
        account = parse_account(response.json(), where)
        if account.id != self.account_id:
            raise MalformedResponse(f"{where}: answered account {account.id!r}")
        return account

    def statuses_page(self, params: Mapping[str, Any], page: int
                      ) -> tuple[list[Status], dict[str, str] | None]:
        response = self.get(self.url("accounts", self.account_id, "statuses"), params=params)
        where = f"GET /api/v1/accounts/{self.account_id}/statuses (page {page})"
        statuses = parse_statuses(response.json(), where)
        for s in statuses:
            if s.account.id != self.account_id:
                raise MalformedResponse(f"{where}: status {s.id} is by account "
                                        f"{s.account.id}, not {self.account_id}")
        return statuses, next_page_params(response.headers.get("link"))

    def history(self, status_id: str) -> list[Any]:
        response = self.get(self.url("statuses", status_id, "history"))
        return _parse_history(response.json(), f"GET /api/v1/statuses/{status_id}/history")

    def context(self, status_id: str) -> tuple[list[Status] | None, str | None]:
        """The thread's descendants (None when the status is gone) and the
        `Mastodon-Async-Refresh` header when the server is still fetching replies."""
        response = self.get(self.url("statuses", status_id, "context"), accept=_GONE)
        if response.status in _GONE:
            return None, None
        where = f"GET /api/v1/statuses/{status_id}/context"
        d = JsonObject(response.json(), where)
        descendants = parse_statuses(d.list("descendants"), f"{where} descendants")
        d.list("ancestors")
        return descendants, response.headers.get(ASYNC_REFRESH)

    def status(self, status_id: str) -> tuple[Status | None, Any]:
        """The status, or None and the platform's answer when it is gone."""
        response = self.get(self.url("statuses", status_id), accept=_GONE)
        where = f"GET /api/v1/statuses/{status_id}"
        if response.status in _GONE:
            return None, _gone_answer(response, where)
        status = parse_status(response.json(), where)
        if status.id != status_id:
            raise MalformedResponse(f"{where}: answered status {status.id!r}")
        return status, None

    def account_or_gone(self, account_id: str) -> tuple[Account | None, Any]:
        response = self.get(self.url("accounts", account_id), accept=_GONE)
        where = f"GET /api/v1/accounts/{account_id}"
        if response.status in _GONE:
            return None, _gone_answer(response, where)
        return parse_account(response.json(), where), None

    def statuses_since(self, min_id: str, *, limit: int = 40, max_pages: int = 25
                       ) -> list[Status]:
        """The account's statuses newer than `min_id`, oldest first (a catch-up)."""
        out: list[Status] = []
        cursor = min_id
        for page in range(1, max_pages + 1):
            statuses, _ = self.statuses_page({"min_id": cursor, "limit": limit}, page)
            newer = sorted((s for s in statuses if id_key(s.id) > id_key(cursor)),
                           key=lambda s: id_key(s.id))
            if not newer:
                break
            out.extend(newer)
            cursor = newer[-1].id
            if len(statuses) < limit:      # a short page is the last one
                break
        return out


def _error_message(response: Response) -> str:
    try:
        body = response.json()
    except MalformedResponse:
        return response.body[:200].decode("utf-8", "replace")
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return body["error"]
    return str(body)[:200]


def _gone_answer(response: Response, where: str) -> Any:
    """A 404/410 is a deletion only when it is the API's own JSON error; an HTML page
    from a proxy in front of the instance decides nothing."""
    body = response.json()
    if not isinstance(body, dict) or not isinstance(body.get("error"), str):
        raise MalformedResponse(f"{where}: answered {response.status} without the API's "
                                f"error object")
    return body


# -- the collector --------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    """Per-account knobs (`archiver accounts add ... --option NAME=VALUE`)."""

    lookback_days: int = 7           # statuses this recent are re-read every run
    lookback_statuses: int = 40      # and at least this many of the newest
    page_size: int = 40              # the API's maximum
    max_pages: int = 1000            # a first run reads at most this many pages

    @classmethod
    def of(cls, account: AccountConfig) -> Options:
        values: dict[str, int] = {}
        for name in ("lookback_days", "lookback_statuses", "page_size", "max_pages"):
            if name not in account.options:
                continue
            raw = account.options[name]
            try:
                value = int(raw)
            except (TypeError, ValueError):
                raise ConfigError(f"account {account.id}: option {name} must be an "
                                  f"integer, not {raw!r}") from None
            if value < (0 if name.startswith("lookback") else 1):
                raise ConfigError(f"account {account.id}: option {name} is out of range")
            values[name] = value
        opts = cls(**values)
        if opts.page_size > 40:
            raise ConfigError(f"account {account.id}: page_size is at most 40")
        return opts


def _cursor_values(cursor: Mapping[str, Any]) -> tuple[str | None, dict[str, str],
                                                        dict[str, int], dict[str, str]]:
    """The cursor's parts, each ignored (as on a first run) when not of the shape this
    module writes."""
    since = cursor.get("since_id")
    since = since if isinstance(since, str) and since else None
    edited = cursor.get("edited")
    edited = {k: v for k, v in edited.items() if isinstance(v, str)} \
        if isinstance(edited, dict) else {}
    revisit = cursor.get("revisit")
    revisit = {k: v for k, v in revisit.items() if isinstance(v, int)} \
        if isinstance(revisit, dict) else {}
    profile = cursor.get("profile")
    profile = {k: v for k, v in profile.items() if isinstance(v, str)} \
        if isinstance(profile, dict) else {}
    return since, edited, revisit, profile


@dataclass
class MastodonCollector:
    """The Mastodon `Collector`; stateless between calls (all state is in the cursor)."""

    platform: ClassVar[str] = PLATFORM
    clock: Any = None                # () -> datetime (UTC); tests pin it

    def _now(self) -> datetime:
        return self.clock() if self.clock is not None else datetime.now(UTC)

    def harvest(self, account: AccountConfig, http: Transport, cursor: Mapping[str, Any],
                known: Sequence[KnownItem]) -> Harvest:
        """Profile, statuses since the cursor plus the look-back, edit histories where
        `edited_at` is new, and the reply thread of every status in that stretch."""
        now = self._now()
        observed_at = times.format_time(now)
        opts = Options.of(account)
        api = MastodonApi(account, http)
        since_id, edited_seen, revisit, last_profile = _cursor_values(cursor)
        harvest = Harvest()
        if not api.authenticated:
            harvest.notes.append("no access_token: only public statuses are visible")
        requests_before = http.requests

        profile = api.account()
        harvest.observations.append(profile_observation(profile, observed_at))
        harvest.listed.add(profile_item_id(profile.id))
        new_profile = {"acct": profile.acct, "display_name": profile.display_name}
        if last_profile and last_profile != new_profile:
            harvest.notes.append(
                f"account renamed: @{last_profile.get('acct')} "
                f"({last_profile.get('display_name')!r}) -> @{profile.acct} "
                f"({profile.display_name!r})")
        if profile.raw.get("moved"):
            harvest.notes.append("the account says it has moved to another account")

        cutoff = times.format_time(now - timedelta(days=opts.lookback_days))
        statuses, reached_end = self._list(api, opts, since_id, cutoff, harvest)

        in_scope = [s for i, s in enumerate(statuses)
                    if since_id is None or id_key(s.id) > id_key(since_id)
                    or s.created_at >= cutoff or i < opts.lookback_statuses]
        by_id: dict[str, Observation] = {}
        edited_now: dict[str, str] = {}
        for status in statuses:
            by_id[status.id] = self._observe(api, status, observed_at, edited_seen,
                                             edited_now)
            harvest.listed.add(status.id)

        # Threads: top-level posts first, so that a reply inside a fetched thread needs
        # no second request (its descendants are a part of its root's).
        # A status of the queried server itself with no reply (`replies_count` 0) costs
        # no request: replies from anywhere are delivered to a status' own server, so its
        # count is complete there. Statuses seen through another server (whose count
        # is only what that server knows, and whose context read starts the fetching of
        # more, 4.4's async refresh) and statuses the archive holds comments under
        # (their deletion must be seen) are always read.
        parents = {k.parent_id for k in known if k.parent_id}
        here = urlsplit(api.base).netloc
        roots = sorted((s for s in in_scope if s.reblog is None and not (
                            s.replies_count == 0 and s.id not in parents
                            and urlsplit(s.uri or "").netloc == here)),
                       key=lambda s: (s.in_reply_to_id is not None, id_key(s.id)))
        next_revisit: dict[str, int] = {}
        order = [s.id for s in roots]
        in_order = set(order)
        order += [r for r in revisit if r not in in_order]
        for root_id in order:
            if root_id in harvest.threads:
                continue
            descendants, refresh = api.context(root_id)
            if descendants is None:        # the root is gone; lookups will say so
                continue
            harvest.threads.add(root_id)
            for d in descendants:
                harvest.threads.add(d.id)
                harvest.listed.add(d.id)
                if d.id not in by_id:
                    by_id[d.id] = self._observe(api, d, observed_at, edited_seen,
                                                edited_now)
            if refresh is not None:
                runs = revisit.get(root_id, 0) + 1
                if runs <= _REVISIT_RUNS:
                    next_revisit[root_id] = runs
                harvest.notes.append(f"thread {root_id}: the server is still fetching "
                                     f"replies ({ASYNC_REFRESH}: {refresh}); revisited "
                                     f"next run")
        if len(next_revisit) > _MAX_REVISITS:
            keep = sorted(next_revisit, key=id_key)[-_MAX_REVISITS:]
            next_revisit = {k: next_revisit[k] for k in keep}

        harvest.observations.extend(by_id.values())
        if statuses:
            harvest.window_start = _EPOCH if reached_end else statuses[-1].created_at
            harvest.window_end = observed_at
        elif reached_end:
            harvest.window_start, harvest.window_end = _EPOCH, observed_at
        # The account's own replies are in its timeline listing, but the framework checks
        # items with a parent only under `threads`: naming the status each archived reply
        # of the window answers makes a reply to somebody else's post (no thread of ours)
        # be looked up when it is missing, like any post of the window.
        if harvest.window_start is not None and harvest.window_end is not None:
            harvest.threads.update(
                k.parent_id for k in known
                if k.kind == "reply" and k.parent_id and k.published_at is not None
                and harvest.window_start <= k.published_at <= harvest.window_end)
        newest = max((s.id for s in statuses), key=id_key, default=since_id)
        if since_id is not None and newest is not None:
            newest = max(newest, since_id, key=id_key)
        harvest.cursor = {"since_id": newest, "edited": edited_now,
                          "revisit": next_revisit, "profile": new_profile}
        harvest.requests = http.requests - requests_before
        return harvest

    def _list(self, api: MastodonApi, opts: Options, since_id: str | None, cutoff: str,
              harvest: Harvest) -> tuple[list[Status], bool]:
        """Pages of the account's statuses, newest first, until the look-back and the
        cursor are both passed (or, on a first run, to the end). True when the listing
        reached the account's first status."""
        statuses: list[Status] = []
        params: dict[str, Any] = {"limit": opts.page_size}
        seen_params: set[str] = set()
        for page in range(1, opts.max_pages + 1):
            batch, next_params = api.statuses_page(params, page)
            statuses.extend(batch)
            if not batch or next_params is None:
                return statuses, True
            oldest = batch[-1]
            wanted = (since_id is None or id_key(oldest.id) > id_key(since_id)
                      or oldest.created_at >= cutoff
                      or len(statuses) < opts.lookback_statuses)
            if not wanted:
                return statuses, False
            key = repr(sorted(next_params.items()))
            if key in seen_params:
                raise MalformedResponse(f"GET /api/v1/accounts/{api.account_id}/statuses: "
                                        f"the Link header points back to page {page}")
            seen_params.add(key)
            params = {**next_params, "limit": opts.page_size}
        harvest.notes.append(f"stopped after {opts.max_pages} pages (option max_pages); "
                             f"older statuses are not listed")
        return statuses, False

    def _observe(self, api: MastodonApi, status: Status, observed_at: str,
                 edited_seen: Mapping[str, str], edited_now: dict[str, str]) -> Observation:
        """The status' observation; its edit history is fetched when `edited_at` is one
        the previous run did not see."""
        history = None
        if status.edited_at is not None:
            edited_now[status.id] = status.edited_at
            if edited_seen.get(status.id) != status.edited_at:
                history = api.history(status.id)
        return status_observation(status, api.account_id, observed_at, history=history)

    def lookup(self, account: AccountConfig, http: Transport,
               items: Sequence[KnownItem]) -> list[Observation]:
        """Each item fetched by id: gone (404/410 with the API's error object) -> a
        `deleted` observation whose raw is that answer; there -> its current state."""
        api = MastodonApi(account, http)
        observed_at = times.format_time(self._now())
        out: list[Observation] = []
        for item in items:
            if item.item_id.startswith(PROFILE_PREFIX):
                found, answer = api.account_or_gone(item.item_id[len(PROFILE_PREFIX):])
                out.append(profile_observation(found, observed_at) if found is not None
                           else deleted_observation(item, api.account_id, observed_at,
                                                    answer))
                continue
            status, answer = api.status(item.item_id)
            if status is None:
                out.append(deleted_observation(item, api.account_id, observed_at, answer))
            else:
                out.append(status_observation(status, api.account_id, observed_at))
        return out


COLLECTOR = MastodonCollector()
