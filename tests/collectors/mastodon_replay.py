"""A small Mastodon instance for the replay server: an account, its statuses, the threads
under them, edit histories and deletions, answered in the REST API's documented shapes.

Shapes follow docs.joinmastodon.org (entities Status, Account, MediaAttachment,
StatusEdit, Context; methods accounts/statuses, statuses/context, statuses/history;
pagination by `Link` with `max_id`/`min_id`, a next link only after a full page, as
Mastodon's `insert_pagination_headers` does; 404 `{"error": "Record not found"}`; 401
`{"error": "The access token is invalid"}`; the `Mastodon-Async-Refresh` header of 4.4).
The statuses are written here for these tests; no recorded response is copied.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.replay.server import ReplayServer, Reply, Request

TOKEN = "replay-mastodon-token-for-tests"
ACCOUNT_ID = "109341573128883396"
HOST = "social.wrenfield.example"
NOW = datetime(2024, 3, 14, 12, 0, 0, tzinfo=UTC)
NOT_FOUND = {"error": "Record not found"}
INVALID_TOKEN = {"error": "The access token is invalid"}


def snowflake(moment: datetime, seq: int = 0) -> str:
    """A Mastodon id: milliseconds since the Unix epoch << 16, plus a sequence."""
    return str((int(moment.timestamp() * 1000) << 16) | (seq & 0xFFFF))


def api_time(moment: datetime) -> str:
    """`created_at` as Mastodon writes it: milliseconds and a Z."""
    m = moment.astimezone(UTC)
    return m.strftime("%Y-%m-%dT%H:%M:%S.") + f"{m.microsecond // 1000:03d}Z"


def account_entity(account_id: str = ACCOUNT_ID, username: str = "city",
                   display_name: str = "City of Wrenfield", domain: str | None = None,
                   created: datetime = datetime(2022, 11, 20, tzinfo=UTC)) -> dict[str, Any]:
    """An Account (entities/Account); `domain` set for an account of another server."""
    host = domain or HOST
    return {
        "id": account_id, "username": username,
        "acct": f"{username}@{domain}" if domain else username,
        "display_name": display_name, "locked": False, "bot": False, "discoverable": True,
        "group": False, "created_at": api_time(created.replace(hour=0, minute=0, second=0)),
        "note": "<p>Official account of the City of Wrenfield.</p>",
        "url": f"https://{host}/@{username}",
        "avatar": f"https://{host}/avatars/original/missing.png",
        "avatar_static": f"https://{host}/avatars/original/missing.png",
        "header": f"https://{host}/headers/original/missing.png",
        "header_static": f"https://{host}/headers/original/missing.png",
        "followers_count": 1520, "following_count": 31, "statuses_count": 412,
        "last_status_at": "2024-03-14", "noindex": False, "emojis": [], "fields": [],
    }


def media_path(media_id: str, ext: str = "png") -> str:
    return (f"/system/media_attachments/files/{media_id[:3]}/{media_id[3:6]}/original/"
            f"{media_id}.{ext}")


def media_entity(media_id: str, kind: str = "image", *, ext: str = "png",
                 description: str | None = None, base: str | None = None) -> dict[str, Any]:
    """A MediaAttachment (entities/MediaAttachment); `base`: where the files are served."""
    path = media_path(media_id, ext)
    base = base or f"https://{HOST}"
    return {
        "id": media_id, "type": kind, "url": f"{base}{path}",
        "preview_url": f"{base}{path.replace('original', 'small')}",
        "remote_url": None, "preview_remote_url": None, "text_url": None,
        "meta": {"original": {"width": 1200, "height": 800, "size": "1200x800",
                              "aspect": 1.5}},
        "description": description, "blurhash": "UFBWY:8_0Jxv%MWBt7of4nofxuRjt7ayofj[",
    }


def status_entity(status_id: str, created: datetime, content: str, *,
                  account: dict[str, Any] | None = None, in_reply_to: str | None = None,
                  in_reply_to_account: str | None = None, edited: datetime | None = None,
                  spoiler_text: str = "", language: str | None = "en",
                  media: list[dict[str, Any]] | None = None,
                  reblog: dict[str, Any] | None = None) -> dict[str, Any]:
    """A Status (entities/Status), every documented member present."""
    account = account or account_entity()
    host = account["url"].split("/")[2]
    uri = f"https://{host}/users/{account['username']}/statuses/{status_id}"
    return {
        "id": status_id, "created_at": api_time(created), "in_reply_to_id": in_reply_to,
        "in_reply_to_account_id": in_reply_to_account if in_reply_to else None,
        "sensitive": bool(spoiler_text), "spoiler_text": spoiler_text,
        "visibility": "public", "language": None if reblog else language,
        "uri": uri + ("/activity" if reblog else ""),
        "url": None if reblog else f"https://{host}/@{account['username']}/{status_id}",
        "replies_count": 0, "reblogs_count": 0, "favourites_count": 0,
        "edited_at": api_time(edited) if edited else None, "favourited": False,
        "reblogged": False, "muted": False, "bookmarked": False, "pinned": False,
        "content": "" if reblog else content, "filtered": [], "reblog": reblog,
        "application": {"name": "Web", "website": None}, "account": account,
        "media_attachments": media or [], "mentions": [], "tags": [], "emojis": [],
        "card": None, "poll": None,
    }


def edit_entity(status: dict[str, Any], content: str, at: datetime) -> dict[str, Any]:
    """One StatusEdit (entities/StatusEdit) of `status` with this content."""
    return {"content": content, "spoiler_text": status["spoiler_text"],
            "sensitive": status["sensitive"], "created_at": api_time(at),
            "account": status["account"], "poll": None,
            "media_attachments": status["media_attachments"], "emojis": []}


@dataclass
class FakeMastodon:
    """The instance's state; `install(server)` answers the collector's endpoints. Change
    the state and call `install` again between runs."""

    account: dict[str, Any] = field(default_factory=account_entity)
    statuses: dict[str, dict[str, Any]] = field(default_factory=dict)   # every status
    histories: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    async_refresh: set[str] = field(default_factory=set)   # contexts still being fetched
    token: str | None = TOKEN
    token_valid: bool = True
    gone: set[str] = field(default_factory=set)

    # -- building the state ----------------------------------------------------------

    def post(self, at: datetime, content: str, seq: int = 0, **kw: Any) -> dict[str, Any]:
        status = status_entity(snowflake(at, seq), at, content, account=self.account, **kw)
        self.statuses[status["id"]] = status
        return status

    def reply(self, parent: dict[str, Any], at: datetime, content: str, *,
              account: dict[str, Any] | None = None, seq: int = 0, **kw: Any
              ) -> dict[str, Any]:
        status = status_entity(snowflake(at, seq), at, content,
                               account=account or self.account, in_reply_to=parent["id"],
                               in_reply_to_account=parent["account"]["id"], **kw)
        self.statuses[status["id"]] = status
        parent["replies_count"] += 1       # as Mastodon counts the replies it knows
        return status

    def boost(self, original: dict[str, Any], at: datetime) -> dict[str, Any]:
        status = status_entity(snowflake(at, 7), at, "", account=self.account,
                               reblog=original)
        self.statuses[status["id"]] = status
        return status

    def edit(self, status: dict[str, Any], content: str, at: datetime) -> None:
        history = self.histories.setdefault(
            status["id"], [edit_entity(status, status["content"],
                                       datetime.fromisoformat(status["created_at"]))])
        status["content"] = content
        status["edited_at"] = api_time(at)
        history.append(edit_entity(status, content, at))

    def delete(self, status: dict[str, Any]) -> None:
        self.statuses.pop(status["id"], None)
        self.gone.add(status["id"])
        parent = self.statuses.get(status["in_reply_to_id"] or "")
        if parent is not None:
            parent["replies_count"] -= 1

    def rename(self, username: str | None = None, display_name: str | None = None) -> None:
        if username:
            self.account["username"] = self.account["acct"] = username
            self.account["url"] = f"https://{HOST}/@{username}"
        if display_name is not None:
            self.account["display_name"] = display_name

    # -- answers ---------------------------------------------------------------------

    def own(self) -> list[dict[str, Any]]:
        """The account's statuses, newest first."""
        mine = [s for s in self.statuses.values() if s["account"]["id"] == ACCOUNT_ID]
        return sorted(mine, key=lambda s: (len(s["id"]), s["id"]), reverse=True)

    def unauthorized(self, req: Request) -> Reply | None:
        if self.token is None:
            return None
        if req.headers.get("authorization") != f"Bearer {self.token}":
            return Reply.json(INVALID_TOKEN, 401)
        if not self.token_valid:
            return Reply.json(INVALID_TOKEN, 401)
        return None

    def account_reply(self, req: Request) -> Reply:
        return self.unauthorized(req) or Reply.json(self.account)

    def statuses_reply(self, req: Request) -> Reply:
        refused = self.unauthorized(req)
        if refused:
            return refused
        limit = min(int(req.arg("limit", "20") or 20), 40)
        rows = self.own()

        def key(i: str) -> tuple[int, str]:
            return (len(i), i)
        max_id, since_id, min_id = req.arg("max_id"), req.arg("since_id"), req.arg("min_id")
        if max_id:
            rows = [s for s in rows if key(s["id"]) < key(max_id)]
        if since_id:
            rows = [s for s in rows if key(s["id"]) > key(since_id)]
        if min_id:
            rows = [s for s in rows if key(s["id"]) > key(min_id)][-limit:]
        page = rows[:limit]
        links = []
        base = f"https://{HOST}/api/v1/accounts/{ACCOUNT_ID}/statuses"
        if len(page) == limit:
            links.append(f'<{base}?limit={limit}&max_id={page[-1]["id"]}>; rel="next"')
        if page:
            links.append(f'<{base}?limit={limit}&min_id={page[0]["id"]}>; rel="prev"')
        return Reply.json(page, headers={"Link": ", ".join(links)} if links else {})

    def descendants(self, root_id: str) -> list[dict[str, Any]]:
        out, frontier = [], {root_id}
        for s in sorted(self.statuses.values(), key=lambda s: (len(s["id"]), s["id"])):
            if s["in_reply_to_id"] in frontier:
                out.append(s)
                frontier.add(s["id"])
        return out

    def install(self, server: ReplayServer) -> None:
        server.route("GET", f"/api/v1/accounts/{ACCOUNT_ID}", self.account_reply)
        server.route("GET", f"/api/v1/accounts/{ACCOUNT_ID}/statuses", self.statuses_reply)
        ids = set(self.statuses) | set(self.histories) | self.gone
        for status_id in ids:
            self.install_status(server, status_id)

    def install_status(self, server: ReplayServer, status_id: str) -> None:
        def one(req: Request) -> Reply:
            if status_id not in self.statuses:
                return Reply.json(NOT_FOUND, 404)
            return self.unauthorized(req) or Reply.json(self.statuses[status_id])

        def context(req: Request) -> Reply:
            if status_id not in self.statuses:
                return Reply.json(NOT_FOUND, 404)
            headers = ({"Mastodon-Async-Refresh": f'id="ImNvbnRleHQ6{status_id}", retry=5, '
                        f'result_count=0'} if status_id in self.async_refresh else {})
            ancestors = []
            parent = self.statuses[status_id]["in_reply_to_id"]
            while parent in self.statuses:
                ancestors.insert(0, self.statuses[parent])
                parent = self.statuses[parent]["in_reply_to_id"]
            return self.unauthorized(req) or Reply.json(
                {"ancestors": ancestors, "descendants": self.descendants(status_id)},
                headers=headers)

        def history(req: Request) -> Reply:
            if status_id not in self.statuses:
                return Reply.json(NOT_FOUND, 404)
            return self.unauthorized(req) or Reply.json(self.histories.get(status_id, []))

        server.route("GET", f"/api/v1/statuses/{status_id}", one)
        server.route("GET", f"/api/v1/statuses/{status_id}/context", context)
        server.route("GET", f"/api/v1/statuses/{status_id}/history", history)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        return copy.deepcopy(self.statuses)


def at(hours_ago: float) -> datetime:
    """A moment this many hours before NOW."""
    return NOW - timedelta(hours=hours_ago)


def public_account(n: int, username: str, display_name: str, domain: str) -> dict[str, Any]:
    return account_entity(str(109376018904867481 + n), username, display_name, domain)


# -- the account export (ActivityPub JSON, as Mastodon's BackupService writes it) -------

ACTOR = f"https://{HOST}/users/city"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


def note_activity(status_id: str, published: datetime, content: str, *,
                  in_reply_to: str | None = None, summary: str | None = None,
                  language: str = "en", attachment: list[dict[str, Any]] | None = None
                  ) -> dict[str, Any]:
    """A `Create` activity with its `Note` (ActivityPub::NoteSerializer's members)."""
    uri = f"{ACTOR}/statuses/{status_id}"
    return {
        "id": f"{uri}/activity", "type": "Create", "actor": ACTOR,
        "published": api_time(published).replace(".000", ""), "to": [PUBLIC],
        "cc": [f"{ACTOR}/followers"],
        "object": {
            "id": uri, "type": "Note", "summary": summary, "inReplyTo": in_reply_to,
            "published": api_time(published).replace(".000", ""),
            "url": f"https://{HOST}/@city/{status_id}", "attributedTo": ACTOR,
            "to": [PUBLIC], "cc": [f"{ACTOR}/followers"], "sensitive": bool(summary),
            "atomUri": uri, "inReplyToAtomUri": in_reply_to,
            "conversation": f"tag:{HOST},2024-03-14:objectId={status_id}:objectType="
                            f"Conversation",
            "content": content, "contentMap": {language: content},
            "attachment": attachment or [], "tag": [],
            "replies": {"id": f"{uri}/replies", "type": "Collection",
                        "first": {"type": "CollectionPage", "next": f"{uri}/replies?only_"
                                  f"other_accounts=true&page=true", "partOf":
                                  f"{uri}/replies", "items": []}},
        },
        "signature": {"type": "RsaSignature2017", "creator": f"{ACTOR}#main-key",
                      "created": "2024-03-15T10:00:00Z", "signatureValue": "c2lnbmF0dXJl"},
    }


def announce_activity(status_id: str, published: datetime, boosted_uri: str
                      ) -> dict[str, Any]:
    """A boost: `Announce` whose object is only the boosted status' URI."""
    return {"id": f"{ACTOR}/statuses/{status_id}/activity", "type": "Announce",
            "actor": ACTOR, "published": api_time(published).replace(".000", ""),
            "to": [PUBLIC], "cc": [f"{ACTOR}/followers"], "object": boosted_uri}


def outbox(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"@context": ["https://www.w3.org/ns/activitystreams",
                         {"ostatus": "http://ostatus.org#", "sensitive": "as:sensitive",
                          "toot": "http://joinmastodon.org/ns#"}],
            "id": "outbox.json", "type": "OrderedCollection", "totalItems": len(items),
            "orderedItems": items}


def actor() -> dict[str, Any]:
    return {"@context": ["https://www.w3.org/ns/activitystreams",
                         "https://w3id.org/security/v1"],
            "id": ACTOR, "type": "Person", "following": f"{ACTOR}/following",
            "followers": f"{ACTOR}/followers", "inbox": f"{ACTOR}/inbox",
            "outbox": "outbox.json", "preferredUsername": "city",
            "name": "City of Wrenfield", "summary": "<p>Official account.</p>",
            "url": f"https://{HOST}/@city", "manuallyApprovesFollowers": False,
            "published": "2022-11-20T00:00:00Z",
            "publicKey": {"id": f"{ACTOR}#main-key", "owner": ACTOR,
                          "publicKeyPem": "-----BEGIN PUBLIC KEY-----\n..."},
            "icon": {"type": "Image", "mediaType": "image/png", "url": "avatar.png"}}
