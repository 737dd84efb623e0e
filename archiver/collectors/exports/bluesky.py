"""A Bluesky repository export (CAR file) -> one observation per post.

The file is what `com.atproto.sync.getRepo?did=...` returns (Settings -> Account ->
"Export my data" in the app, or `goat repo export DID`): a CAR v1 (ipld.io/specs/transport
/car/carv1) whose first root is the repository's signed commit (atproto.com/specs/
repository). Reading it:

1. `atproto.CAR.from_bytes` (libipld underneath) decodes the header and every block
   (DAG-CBOR; links come back as binary CIDs);
2. every block we use is checked against its CID: its DAG-CBOR re-encoded (canonical, as
   libipld writes it) must hash to the CID's sha2-256 digest, so a corrupted or
   tampered file is refused instead of archived;
3. the commit block gives the DID (`did`), `rev` and the MST root (`data`);
4. the Merkle Search Tree is walked in key order: a node is `{"l": left subtree, "e":
   [{"p": shared prefix length, "k": key suffix, "v": record CID, "t": right subtree}]}`,
   each key is the previous key's first `p` bytes + `k`, and keys are
   `<collection>/<rkey>`;
5. each `app.bsky.feed.post/<rkey>` record becomes an observation of item
   `at://<did>/app.bsky.feed.post/<rkey>`, exactly as the collector and Jetstream would
   name it; `raw` is the record in atproto's JSON form (links as `{"$link": cid}`, bytes
   as `{"$bytes": base64}`) plus its `cid`, under `{"uri", "cid", "record", "rev"}`.

The commit's signature is not checked (that needs the DID document from the network);
the block hashes are. Other collections (likes, follows, the profile) are not archived.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import libipld
from atproto import CAR
from atproto_core.exceptions import InvalidCARFile

from archiver.collectors.bluesky import POST_COLLECTION, AtUri, PostRecord, record_observation
from archiver.errors import InvalidRequest, MalformedResponse
from archiver.records import Observation

MAX_MST_DEPTH = 128   # a real tree of fanout 4 is never near this deep


def read_export(path: Path) -> Iterator[Observation]:
    """Every post of the repository in `path`, in record-key (time) order."""
    repo = _Repo(path)
    for key, cid in repo.walk():
        collection, _, rkey = key.partition("/")
        if collection != POST_COLLECTION:
            continue
        record = as_json(repo.block(cid, f"record {key}"))
        uri = AtUri(repo.did, collection, rkey)
        try:
            parsed = PostRecord.parse(record, repo.did, f"record {key}")
        except MalformedResponse as exc:
            raise InvalidRequest(str(exc).removeprefix("bluesky: ")) from None
        yield record_observation(repo.did, uri, parsed,
                                 {"uri": str(uri), "cid": cid, "rev": repo.rev,
                                  "record": record})


class _Repo:
    """The decoded CAR: blocks by CID string, the commit's DID, rev and MST root."""

    def __init__(self, path: Path) -> None:
        try:
            car = CAR.from_bytes(path.read_bytes())
        except InvalidCARFile as exc:  # a CAR without roots
            raise InvalidRequest(f"not a repository CAR: {exc}") from None
        except (ValueError, TypeError, KeyError, IndexError) as exc:  # libipld's refusals
            raise InvalidRequest(f"not a CAR file "
                                 f"({exc.__class__.__name__}: {str(exc)[:200]})") from None
        self.blocks: dict[str, Any] = {str(cid): block for cid, block in car.blocks.items()}
        commit = self.block(str(car.root), "the commit (the CAR's root)")
        if not isinstance(commit, dict):
            raise InvalidRequest("the root block is not a repository commit")
        did, data, rev = commit.get("did"), commit.get("data"), commit.get("rev")
        if not (isinstance(did, str) and did.startswith("did:") and isinstance(data, bytes)
                and commit.get("version") in (2, 3)):
            raise InvalidRequest("the root block is not a repository commit "
                                 "(did, version 2 or 3, data)")
        self.did = did
        self.rev = rev if isinstance(rev, str) else None
        self.root = _link(data, "commit.data")

    def block(self, cid: str, what: str) -> Any:
        """The decoded block `cid`, after checking that its bytes hash to the CID."""
        if cid not in self.blocks:
            raise InvalidRequest(f"{what}: block {cid} is missing "
                                 f"(an incomplete export)")
        block = self.blocks[cid]
        info = libipld.decode_cid(cid)
        digest = hashlib.sha256(libipld.encode_dag_cbor(block)).digest()
        if info["hash"]["code"] != 0x12 or info["hash"]["digest"] != digest:
            raise InvalidRequest(f"{what}: block {cid} does not match "
                                 f"its CID (a corrupted or altered file)")
        return block

    def walk(self) -> Iterator[tuple[str, str]]:
        """(key, value CID) of every MST entry, in key order (iterative, bounded depth)."""
        # A stack of pending work: ("node", cid, depth) expands; ("key", key, cid) yields.
        stack: list[tuple[str, Any, Any]] = [("node", self.root, 0)]
        while stack:
            kind, a, b = stack.pop()
            if kind == "key":
                yield a, b
                continue
            if b > MAX_MST_DEPTH:
                raise InvalidRequest(f"the record tree is deeper than "
                                     f"{MAX_MST_DEPTH} levels")
            node = self.block(a, "a record tree node")
            entries = node.get("e") if isinstance(node, dict) else None
            if not isinstance(entries, list):
                raise InvalidRequest(f"block {a} is not a record tree node")
            work: list[tuple[str, Any, Any]] = []
            previous_key = b""  # keys are prefix-compressed within one node only
            if node.get("l") is not None:
                work.append(("node", _link(node["l"], "l"), b + 1))
            for entry in entries:
                if not (isinstance(entry, dict) and isinstance(entry.get("p"), int)
                        and isinstance(entry.get("k"), bytes)):
                    raise InvalidRequest(f"a record tree entry in {a} is "
                                         f"malformed")
                key_bytes = previous_key[:entry["p"]] + entry["k"]
                previous_key = key_bytes
                try:
                    key = key_bytes.decode("utf-8")
                except UnicodeDecodeError:
                    raise InvalidRequest(f"a record key in {a} is not "
                                         f"UTF-8") from None
                work.append(("key", key, _link(entry.get("v"), "v")))
                if entry.get("t") is not None:
                    work.append(("node", _link(entry["t"], "t"), b + 1))
            stack.extend(reversed(work))


def _link(value: Any, name: str) -> str:
    """A binary CID (as libipld decodes DAG-CBOR links) as its string form."""
    if not isinstance(value, bytes):
        raise InvalidRequest(f"'{name}' is not a link")
    try:
        return libipld.encode_cid(value)
    except ValueError:
        raise InvalidRequest(f"'{name}' is not a valid CID") from None


def as_json(value: Any) -> Any:
    """A decoded DAG-CBOR value in atproto's JSON form (atproto.com/specs/data-model):
    links `{"$link": cid}`, other bytes `{"$bytes": base64}` (libipld gives both as bytes;
    bytes that decode as a CIDv1 are taken to be links)."""
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_json(v) for v in value]
    if isinstance(value, bytes):
        if value[:1] == b"\x01":
            try:
                return {"$link": libipld.encode_cid(value)}
            except ValueError:
                pass
        return {"$bytes": base64.b64encode(value).decode().rstrip("=")}
    return value
