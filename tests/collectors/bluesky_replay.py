"""A replayed Bluesky AppView: the public XRPC queries the collector uses, in their real shapes.

The shapes follow the lexicons (`app.bsky.feed.defs#postView`, `#feedViewPost`,
`#threadViewPost`, `#notFoundPost`, `app.bsky.feed.threadgate`, `app.bsky.actor.defs
#profileViewDetailed`) and docs.bsky.app's HTTP reference; CIDs are real CIDs of the
records' DAG-CBOR (libipld), so an update changes the cid as it does on the network.
The content is ours. Scenarios change the state (`post`, `update`, `delete`, `hide`,
`rename`) or queue scripted answers (`script`: a 429, an HTML page, a dropped body...).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import libipld

from tests.replay.server import ReplayServer, Reply, Request

DID = "did:plc:wrenfield3xq7city2vk4dm5a"
HANDLE = "cityofwrenfield.bsky.social"
NAME = "City of Wrenfield"
PUBLIC = {  # members of the public who answer the city
    "amani": ("did:plc:amani7kq2swahili5rw3xyz", "amani.bsky.social", "Amani Mwangi"),
    "navid": ("did:plc:navid4persian6ab2cdefgh", "navid.bsky.social", "نوید"),
    "rok": ("did:plc:rok5slo3venian2qwe4rtyu", "rok.bsky.social", "Rok Žagar"),
}
XRPC = "/xrpc/"


def cid_of(data: bytes, codec: int) -> str:
    """A CIDv1 (sha2-256) in base32: codec 0x71 dag-cbor for records, 0x55 raw for blobs."""
    raw = bytes([0x01, codec, 0x12, 0x20]) + hashlib.sha256(data).digest()
    return "b" + base64.b32encode(raw).decode().lower().rstrip("=")


def record_cid(record: dict[str, Any]) -> str:
    return cid_of(libipld.encode_dag_cbor(record), 0x71)


def image_blob(seed: str, mime: str = "image/jpeg") -> dict[str, Any]:
    data = seed.encode() * 10
    return {"$type": "blob", "ref": {"$link": cid_of(data, 0x55)}, "mimeType": mime,
            "size": len(data)}


def jpeg(seed: str) -> bytes:
    """A small body that is a JPEG by its magic bytes (the media step checks them)."""
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + seed.encode() + b"\xff\xd9"


@dataclass
class Post:
    uri: str
    author: tuple[str, str, str]   # did, handle, display name
    record: dict[str, Any]
    indexed_at: str
    reply_count: int = 0

    @property
    def rkey(self) -> str:
        return self.uri.rsplit("/", 1)[1]


@dataclass
class AppView:
    """The state behind the replayed answers: the account's posts and the replies to them."""

    server: ReplayServer
    handle: str = HANDLE
    posts: dict[str, Post] = field(default_factory=dict)   # insertion order = time order
    reposts: list[str] = field(default_factory=list)        # uris of others' posts
    hidden: dict[str, list[str]] = field(default_factory=dict)
    scripts: dict[str, deque[Reply]] = field(default_factory=dict)
    _rkeys: int = 0

    def __post_init__(self) -> None:
        for nsid in ("app.bsky.actor.getProfile", "app.bsky.feed.getAuthorFeed",
                     "app.bsky.feed.getPostThread", "app.bsky.feed.getPosts"):
            self.server.route("GET", XRPC + nsid, self._answer(nsid))

    # -- scenario steps ---------------------------------------------------------------

    def post(self, text: str, created_at: str, *, by: str | None = None,
             parent: str | None = None, langs: list[str] | None = None,
             images: list[tuple[str, str]] | None = None, facets: list | None = None,
             rkey: str | None = None) -> str:
        """A new post by the city (by=None) or by a member of the public; its at:// URI."""
        author = (DID, self.handle, NAME) if by is None else PUBLIC[by]
        self._rkeys += 1
        rkey = rkey or f"3lbq{self._rkeys:04d}abcde2"
        uri = f"at://{author[0]}/app.bsky.feed.post/{rkey}"
        record: dict[str, Any] = {"$type": "app.bsky.feed.post", "text": text,
                                  "createdAt": created_at, "langs": langs or ["en"]}
        if facets:
            record["facets"] = facets
        if images:
            for seed, _alt in images:
                link = image_blob(seed)["ref"]["$link"]
                self.server.route("GET", f"/img/feed_fullsize/plain/{author[0]}/{link}@jpeg",
                                  Reply(200, jpeg(seed), {"Content-Type": "image/jpeg"}))
            record["embed"] = {"$type": "app.bsky.embed.images", "images": [
                {"alt": alt, "image": image_blob(seed),
                 "aspectRatio": {"width": 1200, "height": 800}} for seed, alt in images]}
        if parent:
            root = self._root_of(parent)
            record["reply"] = {"root": {"uri": root, "cid": self.cid(root)},
                               "parent": {"uri": parent, "cid": self.cid(parent)}}
            self.posts[parent].reply_count += 1
        self.posts[uri] = Post(uri, author, record, created_at.replace("Z", ".100Z"))
        return uri

    def update(self, uri: str, text: str) -> None:
        """A repository write that replaces the record in place (a new cid)."""
        self.posts[uri].record = {**self.posts[uri].record, "text": text}

    def delete(self, uri: str) -> None:
        post = self.posts.pop(uri)
        parent = (post.record.get("reply") or {}).get("parent", {}).get("uri")
        if parent in self.posts:
            self.posts[parent].reply_count -= 1

    def hide(self, root: str, reply: str) -> None:
        self.hidden.setdefault(root, []).append(reply)

    def rename(self, handle: str) -> None:
        self.handle = handle
        for post in self.posts.values():
            if post.author[0] == DID:
                post.author = (DID, handle, NAME)

    def script(self, nsid: str, *replies: Reply) -> None:
        """Answer the next calls of `nsid` with these replies, before the state again."""
        self.scripts.setdefault(nsid, deque()).extend(replies)

    def cid(self, uri: str) -> str:
        return record_cid(self.posts[uri].record)

    # -- views --------------------------------------------------------------------------

    def view(self, uri: str) -> dict[str, Any]:
        """`app.bsky.feed.defs#postView` of one post."""
        post = self.posts[uri]
        did, handle, name = post.author
        view: dict[str, Any] = {
            "uri": uri, "cid": self.cid(uri),
            "author": {"did": did, "handle": handle, "displayName": name,
                       "avatar": f"https://cdn.bsky.app/img/avatar/plain/{did}/"
                                 f"bafkreiavatar@jpeg",
                       "labels": [], "createdAt": "2023-05-01T08:00:00.000Z"},
            "record": post.record,
            "replyCount": post.reply_count, "repostCount": 2, "likeCount": 7,
            "quoteCount": 0, "indexedAt": post.indexed_at, "labels": [],
        }
        embed = post.record.get("embed")
        if embed and embed["$type"] == "app.bsky.embed.images":
            view["embed"] = {"$type": "app.bsky.embed.images#view", "images": [
                {"thumb": f"https://cdn.bsky.app/img/feed_thumbnail/plain/{did}/"
                          f"{i['image']['ref']['$link']}@jpeg",
                 "fullsize": f"{self.server.url}/img/feed_fullsize/plain/{did}/"
                             f"{i['image']['ref']['$link']}@jpeg",
                 "alt": i["alt"], "aspectRatio": i["aspectRatio"]}
                for i in embed["images"]]}
        if uri in self.hidden:
            view["threadgate"] = self.threadgate(uri)
        return view

    def threadgate(self, root: str) -> dict[str, Any]:
        """`app.bsky.feed.defs#threadgateView`: the gate record lives beside the root post."""
        rkey = root.rsplit("/", 1)[1]
        record = {"$type": "app.bsky.feed.threadgate", "post": root, "allow": [],
                  "hiddenReplies": list(self.hidden[root]),
                  "createdAt": "2026-11-30T09:00:00.000Z"}
        return {"uri": f"at://{DID}/app.bsky.feed.threadgate/{rkey}",
                "cid": record_cid(record), "record": record, "lists": []}

    def _root_of(self, uri: str) -> str:
        reply = self.posts[uri].record.get("reply")
        return reply["root"]["uri"] if reply else uri

    def _thread(self, uri: str) -> dict[str, Any]:
        children = [u for u, p in self.posts.items()
                    if (p.record.get("reply") or {}).get("parent", {}).get("uri") == uri]
        return {"$type": "app.bsky.feed.defs#threadViewPost", "post": self.view(uri),
                "replies": [self._thread(c) for c in reversed(children)]}

    def _answer(self, nsid: str):
        def answer(req: Request) -> Reply:
            queued = self.scripts.get(nsid)
            if queued:
                return queued.popleft()
            return getattr(self, "_" + nsid.rsplit(".", 1)[1])(req)
        return answer

    def _getProfile(self, req: Request) -> Reply:  # noqa: N802 - the XRPC method's name
        assert req.arg("actor") == DID
        return Reply.json({"did": DID, "handle": self.handle, "displayName": NAME,
                           "description": "Official account of the City of Wrenfield.",
                           "followersCount": 1200, "followsCount": 40, "postsCount":
                           len(self.posts), "indexedAt": "2024-01-01T00:00:00.000Z"})

    def _getAuthorFeed(self, req: Request) -> Reply:  # noqa: N802
        assert req.arg("actor") == DID and req.arg("filter") == "posts_with_replies"
        limit = int(req.arg("limit", "50"))
        start = int(req.arg("cursor", "0"))
        mine = [u for u, p in reversed(self.posts.items()) if p.author[0] == DID]
        items: list[dict[str, Any]] = []
        for uri in mine:
            items.append({"post": self.view(uri)})
        for n, uri in enumerate(self.reposts):  # reposts of others' posts, near the top
            items.insert(n, {"post": self.view(uri), "reason": {
                "$type": "app.bsky.feed.defs#reasonRepost",
                "by": {"did": DID, "handle": self.handle, "displayName": NAME},
                "indexedAt": "2026-11-30T12:00:00.000Z"}})
        page = items[start:start + limit]
        body: dict[str, Any] = {"feed": page}
        if start + limit < len(items):
            body["cursor"] = str(start + limit)
        return Reply.json(body)

    def _getPostThread(self, req: Request) -> Reply:  # noqa: N802
        uri = req.arg("uri") or ""
        if uri not in self.posts:
            return Reply.json({"error": "NotFound", "message": f"Post not found: {uri}"},
                              400)
        body: dict[str, Any] = {"thread": self._thread(uri)}
        if int(req.arg("depth", "6")) == 0:
            body["thread"]["replies"] = []
        root = self._root_of(uri)
        if root in self.hidden:
            body["threadgate"] = self.threadgate(root)
        return Reply.json(body)

    def _getPosts(self, req: Request) -> Reply:  # noqa: N802
        uris = req.args("uris")
        assert 0 < len(uris) <= 25
        return Reply.json({"posts": [self.view(u) for u in uris if u in self.posts]})


# -- a repository export (CAR v1), as com.atproto.sync.getRepo returns it --------------


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _cid_bytes(data: bytes) -> bytes:
    """Binary CIDv1, dag-cbor, sha2-256: what CAR sections and DAG-CBOR links carry."""
    return bytes([0x01, 0x71, 0x12, 0x20]) + hashlib.sha256(data).digest()


def _layer(key: str) -> int:
    """The MST layer of a key: leading zero bits of sha256(key), counted in pairs
    (atproto.com/specs/repository, "Merkle Search Tree": fanout 4)."""
    digest, zeros = hashlib.sha256(key.encode()).digest(), 0
    for byte in digest:
        if byte == 0:
            zeros += 8
            continue
        zeros += 8 - byte.bit_length()
        break
    return zeros // 2


def build_repo_car(did: str, records: dict[str, dict[str, Any]], *, rev: str = "3lbqrev2222aa",
                   extra_blocks: list[dict[str, Any]] = ()) -> bytes:
    """A complete repository CAR: header (roots = [commit]), signed-commit-shaped block
    (`did`, `version` 3, `data`, `rev`, `prev`, `sig`), MST nodes, record blocks.

    `records` maps `collection/rkey` to the record. The signature is 64 filler bytes: the
    reader checks block hashes, not signatures (those need the DID document).
    """
    blocks: dict[bytes, bytes] = {}

    def put(obj: Any) -> bytes:
        data = libipld.encode_dag_cbor(obj)
        cid = _cid_bytes(data)
        blocks[cid] = data
        return cid

    leaves = sorted((key, put(record), _layer(key)) for key, record in records.items())
    for block in extra_blocks:
        put(block)

    def node(items: list[tuple[str, bytes, int]], height: int) -> bytes:
        entries: list[dict[str, Any]] = []
        left: bytes | None = None
        below: list[tuple[str, bytes, int]] = []
        previous = ""
        for key, value, layer in items:
            if layer < height:
                below.append((key, value, layer))
                continue
            subtree = node(below, height - 1) if below else None
            if entries:
                entries[-1]["t"] = subtree
            else:
                left = subtree
            below = []
            shared = 0
            while shared < min(len(key), len(previous)) and key[shared] == previous[shared]:
                shared += 1
            entries.append({"p": shared, "k": key[shared:].encode(), "v": value, "t": None})
            previous = key
        tail = node(below, height - 1) if below else None
        if entries:
            entries[-1]["t"] = tail
        else:
            left = tail
        return put({"l": left, "e": entries})

    top = max((layer for _, _, layer in leaves), default=0)
    commit = put({"did": did, "version": 3, "data": node(leaves, top), "rev": rev,
                  "prev": None, "sig": bytes(range(64))})
    header = libipld.encode_dag_cbor({"version": 1, "roots": [commit]})
    out = bytearray(_varint(len(header)) + header)
    for cid, data in blocks.items():
        out += _varint(len(cid) + len(data)) + cid + data
    return bytes(out)


# -- a replayed Jetstream --------------------------------------------------------------


class Jetstream:
    """A local Jetstream on 127.0.0.1 replaying an event log in the real wire shapes.

    `v2=True` speaks `network.bsky.jetstream.subscribeEvents` (subprotocol xrpc.v1.json,
    `{"$type": "message", "payload": ...}` frames, `seq` cursors); otherwise the v1
    `/subscribe` JSON with `time_us` cursors. Each connection gets the events at or after
    its cursor that pass its DID and collection filters, then a clean close, unless
    `drop_after` frames are set for the next connection (then the TCP connection is cut).
    `extra_frames` are sent raw before the events (malformed input, info, error frames).
    """

    def __init__(self, *, v2: bool) -> None:
        import threading

        from websockets.sync.server import serve
        self.v2 = v2
        self.events: list[dict[str, Any]] = []
        self.requests: list[str] = []
        self.drop_after: list[int] = []          # per connection, consumed in order
        self.extra_frames: list[str | bytes] = []
        self.hold_open = 0.0                     # seconds to stay quiet before closing
        self._seq = 1000
        self._time_us = 1_764_600_000_000_000
        self._server = serve(self._handle, "127.0.0.1", 0, compression=None,
                             subprotocols=["xrpc.v1.json"] if v2 else None)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.socket.getsockname()[:2]
        path = "/xrpc/network.bsky.jetstream.subscribeEvents" if self.v2 else "/subscribe"
        return f"ws://{host}:{port}{path}"

    def __enter__(self) -> Jetstream:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()

    # -- the log ------------------------------------------------------------------------

    def commit(self, did: str, operation: str, rkey: str, record: dict[str, Any] | None = None,
               collection: str = "app.bsky.feed.post") -> dict[str, Any]:
        self._seq += 1
        self._time_us += 1_234_567
        commit: dict[str, Any] = {"rev": f"3lbq{self._seq:09d}", "operation": operation,
                                  "collection": collection, "rkey": rkey}
        if record is not None:
            commit.update(record=record, cid=record_cid(record))
        if self.v2:
            event = {"$type": "network.bsky.jetstream.subscribeEvents#commit", "did": did,
                     **commit, "seq": self._seq, "time": self._iso()}
        else:
            event = {"did": did, "time_us": self._time_us, "kind": "commit", "commit": commit}
        self.events.append(event)
        return event

    def identity(self, did: str, handle: str) -> dict[str, Any]:
        self._seq += 1
        self._time_us += 1_000
        upstream = {"did": did, "handle": handle, "seq": 9_000_000 + self._seq,
                    "time": self._iso()}
        if self.v2:
            event = {"$type": "network.bsky.jetstream.subscribeEvents#identity", "did": did,
                     "identity": {"$type": "com.atproto.sync.subscribeRepos#identity",
                                  **upstream}, "seq": self._seq, "time": self._iso()}
        else:
            event = {"did": did, "time_us": self._time_us, "kind": "identity",
                     "identity": upstream}
        self.events.append(event)
        return event

    def account(self, did: str, active: bool, status: str | None = None) -> dict[str, Any]:
        self._seq += 1
        self._time_us += 1_000
        upstream = {"active": active, "did": did, "seq": 9_000_000 + self._seq,
                    "time": self._iso(), **({"status": status} if status else {})}
        if self.v2:
            event = {"$type": "network.bsky.jetstream.subscribeEvents#account", "did": did,
                     "account": {"$type": "com.atproto.sync.subscribeRepos#account",
                                 **upstream}, "seq": self._seq, "time": self._iso()}
        else:
            event = {"did": did, "time_us": self._time_us, "kind": "account",
                     "account": upstream}
        self.events.append(event)
        return event

    def _iso(self) -> str:
        from datetime import UTC, datetime
        moment = datetime.fromtimestamp(self._time_us / 1_000_000, UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    # -- serving --------------------------------------------------------------------------

    def _handle(self, ws: Any) -> None:
        from urllib.parse import parse_qs, urlsplit
        path = ws.request.path
        self.requests.append(path)
        query = parse_qs(urlsplit(path).query)
        dids = set(query.get("dids" if self.v2 else "wantedDids", []))
        collections = set(query.get("collections" if self.v2 else "wantedCollections", []))
        cursor = int(query["cursor"][0]) if "cursor" in query else None
        drop = self.drop_after.pop(0) if self.drop_after else None
        frames: list[str | bytes] = list(self.extra_frames)
        for event in self.events:
            position = event["seq"] if self.v2 else event["time_us"]
            if cursor is not None and position < cursor:
                continue
            if dids and event["did"] not in dids:
                continue
            collection = event.get("collection") or (event.get("commit") or {}).get(
                "collection")
            if collection is not None and collections and collection not in collections:
                continue
            body = {"$type": "message", "payload": event} if self.v2 else event
            frames.append(json.dumps(body, ensure_ascii=False))
        for n, frame in enumerate(frames):
            if drop is not None and n == drop:
                ws.socket.shutdown(2)   # the network drops: no close frame
                ws.socket.close()
                return
            ws.send(frame)
        if self.hold_open:
            import time
            time.sleep(self.hold_open)
        ws.close()
