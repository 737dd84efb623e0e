"""Bluesky (AT Protocol): an account's posts, their whole reply threads, deletions.

Everything is read from an AppView's public XRPC API (the account's `base_url`, normally
`https://public.api.bsky.app`; docs.bsky.app, "HTTP Reference"):

- `app.bsky.actor.getProfile?actor=DID` gives the current handle (a rename is noted and
  the new handle used in every URL; a handle is not content, so a rename is no edit);
- `app.bsky.feed.getAuthorFeed?actor=DID&filter=posts_with_replies` lists the account's
  posts and its own replies, newest first (`reason` marks reposts, which are skipped:
  they are someone else's posts);
- `app.bsky.feed.getPostThread?uri=...` gives each post's whole reply tree, with the
  thread gate whose `hiddenReplies` lists the replies the account hid;
- `app.bsky.feed.getPosts?uris=...` looks items up directly: a deleted post is simply
  missing from `posts`, and `getPostThread` then answers 400 `NotFound`, which is the
  platform's answer kept in the `deleted` observation.

Bluesky records are immutable in the app, but a repository write can update a record in
place (Jetstream's `update` operation): a new `cid` with a new text or new images is an
edit, found by capture's fingerprint (text + media blob CIDs).

The item id is the post's `at://` URI; `raw` is the PostView (the record with its CID,
author, counts, embeds and facets) exactly as the AppView sent it. When the account has
credentials (`access_jwt`), they are sent as a bearer token, so `base_url` may be the
account's PDS (which proxies app.bsky.* to the AppView); an expired or revoked token
(400 `ExpiredToken` / `InvalidToken`, or 401) raises `CredentialsRejected`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import quote

from archiver import times
from archiver.collectors.protocol import AccountConfig, Harvest, KnownItem
from archiver.collectors.transport import Response, Transport
from archiver.errors import CollectorError, CredentialsRejected, MalformedResponse
from archiver.records import Observation

PLATFORM = "bluesky"
POST_COLLECTION = "app.bsky.feed.post"
POST_TYPE = "app.bsky.feed.post"
THREAD_VIEW = "app.bsky.feed.defs#threadViewPost"
NOT_FOUND_POST = "app.bsky.feed.defs#notFoundPost"
BLOCKED_POST = "app.bsky.feed.defs#blockedPost"
CDN = "https://cdn.bsky.app/img/feed_fullsize/plain"
EARLIEST = "0001-01-01T00:00:00.000000Z"   # window start when the whole feed was listed
FEED_PAGE = 100                            # getAuthorFeed's largest `limit`
POSTS_BATCH = 25                           # getPosts' largest number of `uris`
THREAD_DEPTH = 1000                        # getPostThread's largest `depth`
# The AppView's errors that say why an account went (a plain NotFound does not say).
_ACCOUNT_GONE_REASON = {"AccountDeactivated": "account_deactivated",
                        "AccountTakedown": "removed_by_platform"}
# getProfile's answers for an account that is gone (app.bsky.actor.getProfile errors and
# the AppView's "Profile not found" InvalidRequest).
_GONE_ACCOUNT = frozenset({"AccountTakedown", "AccountDeactivated", "NotFound",
                           "InvalidRequest"})
_TOKEN_ERRORS = frozenset({"ExpiredToken", "InvalidToken", "AuthenticationRequired",
                           "AuthMissing"})


# -- typed values at the edge ----------------------------------------------------------


@dataclass(frozen=True)
class AtUri:
    """`at://<did>/<collection>/<rkey>`, the id of a record (atproto.com/specs/at-uri-scheme)."""

    did: str
    collection: str
    rkey: str

    @classmethod
    def parse(cls, value: Any, where: str) -> AtUri:
        if not isinstance(value, str) or not value.startswith("at://"):
            raise MalformedResponse(f"bluesky: {where}: not an at:// URI: {_short(value)}")
        parts = value[len("at://"):].split("/")
        if len(parts) != 3 or not all(parts) or not parts[0].startswith("did:"):
            raise MalformedResponse(f"bluesky: {where}: not an at://did/collection/rkey "
                                    f"URI: {_short(value)}")
        return cls(*parts)

    def __str__(self) -> str:
        return f"at://{self.did}/{self.collection}/{self.rkey}"


@dataclass(frozen=True)
class PostRecord:
    """The parts of an `app.bsky.feed.post` record an observation needs."""

    text: str
    created_at: str | None          # normalised; None when the record's date is unusable
    parent: str | None              # reply.parent.uri
    root: str | None                # reply.root.uri
    lang: str | None
    media: list[dict[str, Any]]

    @classmethod
    def parse(cls, record: Any, did: str, where: str) -> PostRecord:
        if not isinstance(record, dict):
            raise MalformedResponse(f"bluesky: {where}: record is not an object")
        if record.get("$type") != POST_TYPE:
            raise MalformedResponse(f"bluesky: {where}: record $type is "
                                    f"{_short(record.get('$type'))}, not {POST_TYPE}")
        text = record.get("text", "")
        if not isinstance(text, str):
            raise MalformedResponse(f"bluesky: {where}: record.text is not a string")
        created = record.get("createdAt")
        if not isinstance(created, str):
            raise MalformedResponse(f"bluesky: {where}: record.createdAt is missing or not "
                                    f"a string")
        langs = record.get("langs")
        if langs is not None and not (isinstance(langs, list)
                                      and all(isinstance(x, str) for x in langs)):
            raise MalformedResponse(f"bluesky: {where}: record.langs is not a list of strings")
        parent = root = None
        reply = record.get("reply")
        if reply is not None:
            if not isinstance(reply, dict):
                raise MalformedResponse(f"bluesky: {where}: record.reply is not an object")
            parent = str(AtUri.parse(_ref_uri(reply.get("parent")), f"{where} reply.parent"))
            root = str(AtUri.parse(_ref_uri(reply.get("root")), f"{where} reply.root"))
        return cls(text=text, created_at=_normalised(created), parent=parent, root=root,
                   lang=langs[0] if langs else None,
                   media=record_media(record.get("embed"), did, where))


@dataclass(frozen=True)
class PostView:
    """`app.bsky.feed.defs#postView`, checked: what the AppView says of one post."""

    uri: AtUri
    cid: str
    author_did: str
    author_handle: str | None
    author_name: str | None
    record: PostRecord
    indexed_at: str | None
    raw: dict[str, Any]

    @classmethod
    def parse(cls, obj: Any, where: str) -> PostView:
        if not isinstance(obj, dict):
            raise MalformedResponse(f"bluesky: {where}: post is not an object")
        uri = AtUri.parse(obj.get("uri"), f"{where} uri")
        where = f"{where} {uri}"
        if uri.collection != POST_COLLECTION:
            raise MalformedResponse(f"bluesky: {where}: not an {POST_COLLECTION} record")
        cid = obj.get("cid")
        if not isinstance(cid, str) or not cid:
            raise MalformedResponse(f"bluesky: {where}: cid is missing or not a string")
        author = obj.get("author")
        if not isinstance(author, dict) or not isinstance(author.get("did"), str):
            raise MalformedResponse(f"bluesky: {where}: author.did is missing")
        if author["did"] != uri.did:
            raise MalformedResponse(f"bluesky: {where}: author {author['did']} is not the "
                                    f"repository in the URI")
        handle, name = author.get("handle"), author.get("displayName")
        if handle is not None and not isinstance(handle, str):
            raise MalformedResponse(f"bluesky: {where}: author.handle is not a string")
        if name is not None and not isinstance(name, str):
            raise MalformedResponse(f"bluesky: {where}: author.displayName is not a string")
        indexed = obj.get("indexedAt")
        if indexed is not None and not isinstance(indexed, str):
            raise MalformedResponse(f"bluesky: {where}: indexedAt is not a string")
        record = PostRecord.parse(obj.get("record"), uri.did, where)
        fullsize = _view_image_urls(obj.get("embed"))
        if fullsize and len(fullsize) == len(record.media):
            # The AppView's own CDN addresses (`embed.images[].fullsize`) are the ones to
            # fetch; the record only names the blobs.
            media = [{**m, "url": url} for m, url in zip(record.media, fullsize, strict=True)]
            record = replace(record, media=media)
        return cls(uri=uri, cid=cid, author_did=author["did"], author_handle=handle,
                   author_name=name, record=record,
                   indexed_at=_normalised(indexed) if indexed else None, raw=obj)

    @property
    def published_at(self) -> str | None:
        """`createdAt` (the author's clock); the AppView's `indexedAt` when it is unusable."""
        return self.record.created_at or self.indexed_at


def record_media(embed: Any, did: str, where: str) -> list[dict[str, Any]]:
    """Media entries of a post record's embed: images by blob CID, CDN URL, alt text.

    Ids are the blob CIDs, which the AppView, Jetstream and a CAR export all carry, so the
    same post gives the same fingerprint whichever path saw it. Video is referenced by its
    blob CID without a URL: the AppView serves it as an HLS playlist, not a file.
    """
    if embed is None:
        return []
    if not isinstance(embed, dict):
        raise MalformedResponse(f"bluesky: {where}: record.embed is not an object")
    kind = embed.get("$type")
    if kind == "app.bsky.embed.recordWithMedia":
        return record_media(embed.get("media"), did, where)
    if kind == "app.bsky.embed.images":
        images = embed.get("images")
        if not isinstance(images, list):
            raise MalformedResponse(f"bluesky: {where}: embed.images is not a list")
        media = []
        for n, image in enumerate(images):
            cid, mime = _blob(image.get("image") if isinstance(image, dict) else None,
                              f"{where} embed.images[{n}].image")
            alt = image.get("alt")
            media.append({"id": cid, "url": f"{CDN}/{did}/{cid}@jpeg", "mime": mime,
                          "alt": alt if isinstance(alt, str) else None})
        return media
    if kind == "app.bsky.embed.video":
        cid, mime = _blob(embed.get("video"), f"{where} embed.video")
        alt = embed.get("alt")
        return [{"id": cid, "url": None, "mime": mime,
                 "alt": alt if isinstance(alt, str) else None}]
    return []  # external links and quoted records are kept in raw, not downloaded


def _view_image_urls(embed: Any) -> list[str]:
    """`fullsize` URLs of an `app.bsky.embed.images#view` (also inside recordWithMedia)."""
    if isinstance(embed, dict) and embed.get("$type") == "app.bsky.embed.recordWithMedia#view":
        embed = embed.get("media")
    if not isinstance(embed, dict) or embed.get("$type") != "app.bsky.embed.images#view":
        return []
    images = embed.get("images")
    if not isinstance(images, list):
        return []
    urls = [i.get("fullsize") for i in images if isinstance(i, dict)]
    return urls if all(isinstance(u, str) and u for u in urls) else []


def _blob(blob: Any, where: str) -> tuple[str, str | None]:
    """A blob reference's CID and MIME type: `{"$type": "blob", "ref": {"$link"}, ...}`."""
    if isinstance(blob, dict):
        ref = blob.get("ref")
        link = ref.get("$link") if isinstance(ref, dict) else None
        if link is None and isinstance(blob.get("cid"), str):
            link = blob["cid"]  # the legacy blob form: {"cid", "mimeType"}
        mime = blob.get("mimeType")
        if isinstance(link, str) and link and (mime is None or isinstance(mime, str)):
            return link, mime
    raise MalformedResponse(f"bluesky: {where}: not a blob reference")


def post_url(handle_or_did: str, rkey: str) -> str:
    return f"https://bsky.app/profile/{handle_or_did}/post/{rkey}"


def record_observation(account_did: str, uri: AtUri, record: PostRecord, raw: Any, *,
                       handle: str | None = None, name: str | None = None,
                       observed_at: str | None = None) -> Observation:
    """An observation of the account's own post from its record alone (Jetstream, CAR)."""
    return Observation(
        platform=PLATFORM, account=account_did, item_id=str(uri),
        kind="reply" if record.parent else "post", text=record.text,
        author={"id": uri.did, "handle": handle, "name": name},
        parent_id=record.parent, published_at=record.created_at, observed_at=observed_at,
        url=post_url(handle or uri.did, uri.rkey), lang=record.lang,
        media=record.media, raw=raw)


def profile_observation(account: AccountConfig, profile: dict[str, Any]) -> Observation:
    """The account's profile as an item (id: the DID) whose text is its name and handle,
    so that a rename or a new display name is archived as an edit of it."""
    name = profile.get("displayName")
    name = name if isinstance(name, str) else None
    handle = profile["handle"]
    return Observation(
        platform=PLATFORM, account=account.platform_id, item_id=account.platform_id,
        kind="profile", text=f"{name or ''}\n@{handle}".lstrip("\n"),
        author={"id": account.platform_id, "handle": handle, "name": name},
        url=f"https://bsky.app/profile/{account.platform_id}", raw=profile)


def view_observation(account: AccountConfig, post: PostView, kind: str,
                     event: str | None = None) -> Observation:
    return Observation(
        platform=PLATFORM, account=account.platform_id, item_id=str(post.uri), kind=kind,
        text=post.record.text,
        author={"id": post.author_did, "handle": post.author_handle,
                "name": post.author_name},
        parent_id=post.record.parent, published_at=post.published_at,
        url=post_url(post.author_handle or post.author_did, post.uri.rkey),
        lang=post.record.lang, media=post.record.media, raw=post.raw, event=event)


# -- the collector ---------------------------------------------------------------------


class BlueskyCollector:
    """Polls the AppView for one account. Options (`AccountConfig.options`):

    - `lookback_days` (default 7): how far before the newest post of the last run the
      feed is listed again, for edits, new replies and deletions;
    - `max_pages` (default 50): feed pages per run at most (100 posts a page); a first
      run that stops there archives the newest part and says so;
    - `max_threads` (default 500): reply threads read per run at most, newest first.
      The rest (a first run over a long history) wait in the cursor (`threads_before`)
      for the next runs, so that no run needs more requests than the AppView's rate
      limit allows (3,000 per 5 minutes) and fails for ever.
    """

    platform: ClassVar[str] = PLATFORM

    def harvest(self, account: AccountConfig, http: Transport, cursor: Mapping[str, Any],
                known: Sequence[KnownItem]) -> Harvest:
        started = http.requests
        now = times.format_time(datetime.now(UTC))
        api = _Api(account, http)
        out = Harvest()
        handle = self._profile_handle(api, account, cursor, out)

        lookback = timedelta(days=_option(account, "lookback_days", 7, 0, 3650))
        max_pages = int(_option(account, "max_pages", 50, 1, 100_000))
        max_threads = int(_option(account, "max_threads", 500, 1, 1_000_000))
        since = None
        last_newest = _normalised(cursor["newest"]) if isinstance(cursor.get("newest"), str) \
            else None
        if last_newest is not None:
            since = times.format_time(times.parse_time(last_newest) - lookback)
        # Threads not read yet (all of them on a first run): the whole feed is listed.
        backlog = (_normalised(cursor["threads_before"])
                   if isinstance(cursor.get("threads_before"), str) else None)
        pending = last_newest is None or backlog is not None

        posts, complete, oldest = self._list_feed(api, account, None if pending else since,
                                                  max_pages, out)
        # A client may write a createdAt in the future; it must not push the look-back.
        newest = max([p.published_at for p in posts if p.published_at and p.published_at <= now]
                     + ([last_newest] if last_newest else []), default=None)
        for post in posts:
            out.observations.append(view_observation(
                account, post, "reply" if post.record.parent else "post"))
            out.listed.add(str(post.uri))

        roots_with_comments = _known_roots(known)
        due = [p for p in posts  # newest first: the look-back window, then the backlog
               if (p.raw.get("replyCount") != 0 or str(p.uri) in roots_with_comments)
               and (since is None or last_newest is None or (p.published_at or "") >= since
                    or (backlog is not None and (p.published_at or "") <= backlog))]
        for post in due[:max_threads]:
            if self._thread(api, account, post, out):
                out.threads.add(str(post.uri))
        threads_before = None
        if len(due) > max_threads:
            threads_before = due[max_threads].published_at or EARLIEST
            out.notes.append(f"{len(due) - max_threads} reply threads left for later runs "
                             f"(max_threads {max_threads})")

        out.window_start = EARLIEST if complete else oldest
        out.window_end = now
        if out.window_start is not None:
            # The account's own replies to other people's posts are all in its feed, so
            # one archived from the window and not listed now is gone: naming its parent
            # in `threads` is what makes the framework look it up.
            for post in posts:
                if post.record.parent and post.record.parent not in out.listed:
                    out.threads.add(post.record.parent)
            for item in known:
                if (item.kind == "reply" and item.parent_id and item.published_at
                        and out.window_start <= item.published_at <= now):
                    out.threads.add(item.parent_id)
        out.cursor = {"handle": handle, "newest": newest}
        if threads_before is not None:
            out.cursor["threads_before"] = threads_before
        out.requests = http.requests - started
        return out

    def lookup(self, account: AccountConfig, http: Transport,
               items: Sequence[KnownItem]) -> list[Observation]:
        """Posts by `getPosts` (gone ones confirmed by getPostThread), the profile by
        getProfile. An id that is not a post's at:// URI (an item some other path put in
        the archive) cannot be a Bluesky post: it gets no observation rather than failing
        every run."""
        api = _Api(account, http)
        result = [self._lookup_profile(api, account, item)
                  for item in items if item.kind == "profile"]
        items = [item for item in items if item.kind != "profile" and _is_post_uri(item.item_id)]
        kinds = {item.item_id: item.kind for item in items}
        found = api.get_posts([item.item_id for item in items])
        hidden = self._hidden_under(api, [p for p in found.values() if p.record.root])
        for item in items:
            post = found.get(item.item_id)
            if post is None:
                result.append(self._confirm_gone(api, account, item))
                continue
            event = "hidden" if item.item_id in hidden.get(post.record.root or "", ()) else None
            result.append(view_observation(account, post, kinds[item.item_id], event))
        return result

    # -- steps --------------------------------------------------------------------------

    def _profile_handle(self, api: _Api, account: AccountConfig,
                        cursor: Mapping[str, Any], out: Harvest) -> str:
        """The account's handle now; a change since the last run is noted (a rename)."""
        profile = _checked_profile(
            api.call("app.bsky.actor.getProfile", {"actor": account.platform_id}),
            account.platform_id)
        handle = profile["handle"]
        before = cursor.get("handle") or account.handle
        if before and before != handle:
            out.notes.append(f"handle changed from {before} to {handle}")
        out.observations.append(profile_observation(account, profile))
        out.listed.add(account.platform_id)
        return handle

    def _list_feed(self, api: _Api, account: AccountConfig, since: str | None,
                   max_pages: int, out: Harvest) -> tuple[list[PostView], bool, str | None]:
        """The account's own posts, newest first, back to `since` (all of them when None).

        Returns the posts, whether the feed was listed to its end, and the published time
        of the oldest post listed (where the listing's coverage stops).
        """
        posts: list[PostView] = []
        seen: set[str] = set()
        cursors: set[str] = set()
        page_cursor: str | None = None
        oldest: str | None = None
        for page_no in range(max_pages):
            params: dict[str, Any] = {"actor": account.platform_id, "limit": FEED_PAGE,
                                      "filter": "posts_with_replies"}
            if page_cursor:
                params["cursor"] = page_cursor
            page = api.call("app.bsky.feed.getAuthorFeed", params)
            where = f"getAuthorFeed page {page_no + 1}"
            feed = _field(page, "feed", list, where)
            for n, item in enumerate(feed):
                if not isinstance(item, dict):
                    raise MalformedResponse(f"bluesky: {where}: feed[{n}] is not an object")
                post = PostView.parse(item.get("post"), f"{where} feed[{n}].post")
                if item.get("reason") is not None or post.author_did != account.platform_id:
                    continue  # a repost (reasonRepost) or a pin of someone else's post
                if str(post.uri) in seen:
                    continue  # a pinned post (reasonPin) is listed twice
                seen.add(str(post.uri))
                posts.append(post)
                if post.published_at:
                    oldest = post.published_at
            page_cursor = page.get("cursor") if isinstance(page, dict) else None
            if page_cursor is not None and not isinstance(page_cursor, str):
                raise MalformedResponse(f"bluesky: {where}: cursor is not a string")
            if not page_cursor or not feed:
                return posts, True, oldest
            if page_cursor in cursors:
                raise MalformedResponse(f"bluesky: {where}: the cursor {page_cursor!r} "
                                        f"points back to a page already read")
            cursors.add(page_cursor)
            if since is not None and oldest is not None and oldest < since:
                return posts, False, oldest
        out.notes.append(f"feed listing stopped after {max_pages} pages; older posts are "
                         f"listed by later runs or an account export")
        return posts, False, oldest

    def _thread(self, api: _Api, account: AccountConfig, post: PostView,
                out: Harvest) -> bool:
        """Every reply under `post`, at any depth, the hidden ones marked `hidden`;
        False when the post was gone by the time its thread was asked for."""
        answer = api.call("app.bsky.feed.getPostThread",
                          {"uri": str(post.uri), "depth": THREAD_DEPTH, "parentHeight": 0},
                          not_found=True)
        if answer is None:
            return False  # deleted between the feed and the thread: a later lookup decides
        where = f"getPostThread {post.uri}"
        hidden = _hidden_replies(answer.get("threadgate"), where)
        thread = _field(answer, "thread", dict, where)
        stack = [(thread, where)]
        while stack:
            node, at = stack.pop()
            replies = node.get("replies") or []
            if not isinstance(replies, list):
                raise MalformedResponse(f"bluesky: {at}: replies is not a list")
            for n, child in enumerate(replies):
                child_at = f"{at} replies[{n}]"
                if not isinstance(child, dict):
                    raise MalformedResponse(f"bluesky: {child_at}: not an object")
                kind = child.get("$type")
                if kind == BLOCKED_POST:
                    # Listed but unreadable (a block): it is there, so it is not gone.
                    out.listed.add(str(AtUri.parse(child.get("uri"), child_at)))
                    continue
                if kind == NOT_FOUND_POST:
                    continue  # gone; the lookup of an archived one records the deletion
                if kind != THREAD_VIEW:
                    raise MalformedResponse(f"bluesky: {child_at}: unexpected $type "
                                            f"{_short(kind)}")
                reply = PostView.parse(child.get("post"), f"{child_at}.post")
                mine = reply.author_did == account.platform_id
                uri = str(reply.uri)
                event = "hidden" if uri in hidden else None
                if event:  # the thread gate's word replaces what the feed said of it
                    out.observations = [o for o in out.observations if o.item_id != uri]
                if event or uri not in out.listed:
                    # The account's own replies are in its feed already: one observation
                    # per item and run.
                    out.observations.append(view_observation(
                        account, reply, "reply" if mine else "comment", event))
                out.listed.add(uri)
                if isinstance(child.get("replies"), list):
                    out.threads.add(uri)  # its replies came too, all of them
                stack.append((child, child_at))
        return True

    def _lookup_profile(self, api: _Api, account: AccountConfig,
                        item: KnownItem) -> Observation:
        """The profile item now; an account the AppView no longer serves is gone."""
        response = api.get("app.bsky.actor.getProfile", {"actor": item.item_id})
        answer = response.json()
        if response.status == 200:
            return profile_observation(account, _checked_profile(answer, item.item_id))
        error = answer.get("error") if isinstance(answer, dict) else None
        if error not in _GONE_ACCOUNT:
            raise MalformedResponse(f"bluesky: getProfile {item.item_id} answered 400 "
                                    f"{_short(answer)}")
        return Observation(platform=PLATFORM, account=account.platform_id,
                           item_id=item.item_id, kind=item.kind, raw=answer, event="deleted",
                           url=f"https://bsky.app/profile/{item.item_id}",
                           reason=_ACCOUNT_GONE_REASON.get(str(error)))

    def _hidden_under(self, api: _Api, replies: Iterable[PostView]) -> dict[str, set[str]]:
        """Root post URI -> the replies its thread gate hides, for these replies' roots."""
        roots = sorted({p.record.root for p in replies if p.record.root})
        result: dict[str, set[str]] = {}
        for root_uri, root in api.get_posts(roots).items():
            result[root_uri] = _hidden_replies(root.raw.get("threadgate"), f"post {root_uri}")
        return result

    def _confirm_gone(self, api: _Api, account: AccountConfig, item: KnownItem) -> Observation:
        """Missing from getPosts: getPostThread's answer decides (and is the proof kept)."""
        uri = AtUri.parse(item.item_id, "archived item id")
        response = api.get("app.bsky.feed.getPostThread",
                           {"uri": item.item_id, "depth": 0, "parentHeight": 0})
        answer = response.json()
        gone = (response.status == 400 and isinstance(answer, dict)
                and answer.get("error") == "NotFound")
        if response.status == 200:
            thread = _field(answer, "thread", dict, f"getPostThread {item.item_id}")
            gone = thread.get("$type") == NOT_FOUND_POST
            if thread.get("$type") == THREAD_VIEW:
                post = PostView.parse(thread.get("post"), f"getPostThread {item.item_id}")
                return view_observation(account, post, item.kind)
        if not gone:
            raise MalformedResponse(f"bluesky: {item.item_id} is missing from getPosts but "
                                    f"getPostThread answered {response.status}: "
                                    f"{_short(answer)}")
        return Observation(platform=PLATFORM, account=account.platform_id,
                           item_id=item.item_id, kind=item.kind, parent_id=item.parent_id,
                           url=post_url(uri.did, uri.rkey), raw=answer, event="deleted")


class _Api:
    """XRPC GETs for one account: auth header, 400 error bodies mapped to typed errors."""

    def __init__(self, account: AccountConfig, http: Transport) -> None:
        self.base = account.base_url.rstrip("/")
        self.http = http
        token = account.credentials.get("access_jwt")
        self.headers = {"Authorization": f"Bearer {token}"} if token else None

    def get(self, nsid: str, params: Mapping[str, Any]) -> Response:
        """GET one XRPC query; a 400 is returned only when it is not about the token."""
        response = self.http.get(f"{self.base}/xrpc/{nsid}", params=params,
                                 headers=self.headers, accept={400})
        if response.status == 400:
            body = response.json()
            error = body.get("error") if isinstance(body, dict) else None
            if error in _TOKEN_ERRORS:
                raise CredentialsRejected(f"bluesky: {nsid}: the token was refused "
                                          f"({error})")
        return response

    def call(self, nsid: str, params: Mapping[str, Any], *, not_found: bool = False) -> Any:
        """The JSON answer of a query that must succeed (or be NotFound, when allowed)."""
        response = self.get(nsid, params)
        body = response.json()
        if response.status == 200:
            if not isinstance(body, dict):
                raise MalformedResponse(f"bluesky: {nsid}: the answer is not a JSON object")
            return body
        error = body.get("error") if isinstance(body, dict) else None
        if not_found and error == "NotFound":
            return None
        message = body.get("message") if isinstance(body, dict) else None
        raise CollectorError(f"bluesky: {nsid} answered {response.status} "
                             f"{error or _short(body)}: {message or ''}".rstrip(": "))

    def get_posts(self, uris: Sequence[str]) -> dict[str, PostView]:
        """The posts that still exist among `uris`, by URI (getPosts leaves out the rest)."""
        found: dict[str, PostView] = {}
        for start in range(0, len(uris), POSTS_BATCH):
            batch = list(uris[start:start + POSTS_BATCH])
            answer = self.call("app.bsky.feed.getPosts", {"uris": batch})
            posts = _field(answer, "posts", list, "getPosts")
            for n, obj in enumerate(posts):
                post = PostView.parse(obj, f"getPosts posts[{n}]")
                found[str(post.uri)] = post
        return found


# -- small pieces ----------------------------------------------------------------------


def _known_roots(known: Sequence[KnownItem]) -> set[str]:
    """Top-level items under which the archive holds comments (through parent links)."""
    parents = {k.item_id: k.parent_id for k in known}
    roots = set()
    for item in known:
        if item.kind not in ("comment", "reply"):
            continue
        current, hops = item.parent_id, 0
        while current in parents and parents[current] and hops < 1000:
            current, hops = parents[current], hops + 1
        if current:
            roots.add(current)
    return roots


def _is_post_uri(value: str) -> bool:
    try:
        return AtUri.parse(value, "item id").collection == POST_COLLECTION
    except MalformedResponse:
        return False


def _checked_profile(profile: Any, did: str) -> dict[str, Any]:
    """`app.bsky.actor.defs#profileViewDetailed` of `did`, with a handle."""
    if not isinstance(profile, dict) or profile.get("did") != did:
        raise MalformedResponse(f"bluesky: getProfile did not describe {did}")
    if not isinstance(profile.get("handle"), str) or not profile["handle"]:
        raise MalformedResponse(f"bluesky: getProfile {did}: handle is missing")
    return profile


def _option(account: AccountConfig, name: str, default: float, low: float,
            high: float) -> float:
    value = account.options.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or \
            not low <= value <= high:
        raise CollectorError(f"bluesky: option {name} must be a number from {low:g} to "
                             f"{high:g}, not {value!r}")
    return float(value)


def _hidden_replies(gate: Any, where: str) -> set[str]:
    """`threadgate.record.hiddenReplies` (app.bsky.feed.threadgate), as a set of URIs."""
    if gate is None:
        return set()
    record = gate.get("record") if isinstance(gate, dict) else None
    if not isinstance(record, dict):
        raise MalformedResponse(f"bluesky: {where}: threadgate.record is not an object")
    hidden = record.get("hiddenReplies") or []
    if not isinstance(hidden, list) or not all(isinstance(u, str) for u in hidden):
        raise MalformedResponse(f"bluesky: {where}: threadgate hiddenReplies is not a "
                                f"list of URIs")
    return set(hidden)


def _field(obj: Any, name: str, kind: type, where: str) -> Any:
    value = obj.get(name) if isinstance(obj, dict) else None
    if not isinstance(value, kind):
        raise MalformedResponse(f"bluesky: {where}: '{name}' is missing or not a "
                                f"{'list' if kind is list else 'object'}")
    return value


def _ref_uri(ref: Any) -> Any:
    return ref.get("uri") if isinstance(ref, dict) else None


def _normalised(value: str) -> str | None:
    """RFC 3339 in the archive's fixed form; None for dates a client wrote badly."""
    try:
        return times.format_time(times.parse_time(value))
    except times.TimeFormatError:
        return None


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def at_uri(did: str, rkey: str) -> str:
    return f"at://{did}/{POST_COLLECTION}/{quote(rkey, safe='')}"


COLLECTOR = BlueskyCollector()
