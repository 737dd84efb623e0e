"""The contract between the collection framework and one platform's collector.

A collector turns a platform's responses into `Observation`s and nothing else: it never
touches the log, the catalog or the object store (layering, ARCHITECTURE.md). The
framework (`archiver/collectors/runner.py`) gives it an account, an HTTP `Transport`, the
cursor its last good run left and what the archive already holds for the account; the
collector returns a `Harvest`. The framework then:

1. looks up directly every archived item that the harvest's window should have listed but
   did not (`Collector.lookup`): gone -> a `deleted` observation (deletion detection);
2. downloads the media the observations reference;
3. hands everything to capture -> log, records the run, and only then stores the new cursor.

So a run that fails anywhere archives nothing of what it saw after the failure and the
next run starts again from the last good cursor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from archiver.records import Observation

if TYPE_CHECKING:
    from archiver.collectors.transport import Transport


@dataclass(frozen=True)
class AccountConfig:
    """A registered official account, as a collector needs it (credentials decrypted)."""

    id: str                          # the archive's own id for the account
    platform: str                    # mastodon | bluesky | x | ...
    platform_id: str                 # the platform's id: Mastodon/X numeric id, Bluesky DID
    handle: str
    base_url: str                    # API root: the instance, the AppView, api.x.com, a test server
    credentials: Mapping[str, str] = field(default_factory=dict, repr=False)
    options: Mapping[str, Any] = field(default_factory=dict)  # per-platform knobs (read budget...)

    def __repr__(self) -> str:  # never print credentials, even by accident
        return (f"AccountConfig(id={self.id!r}, platform={self.platform!r}, "
                f"platform_id={self.platform_id!r}, handle={self.handle!r})")


@dataclass(frozen=True)
class KnownItem:
    """What the archive holds of one item of the account (from the catalog)."""

    item_id: str
    kind: str
    parent_id: str | None
    published_at: str | None         # normalised RFC 3339 UTC, or None when unknown
    state: str                       # live | deleted | hidden


@dataclass
class Harvest:
    """What one collection run saw.

    `listed` are the ids of every item the listings returned (posts and comments).
    `window_start`/`window_end` bound (by published time, inclusive) the stretch of the
    account's own timeline that the listing covered completely: every archived top-level
    item published in it that is not in `listed` is looked up directly. `threads` are the
    ids of posts whose whole reply thread was fetched: every archived comment under them
    that is not in `listed` is looked up too. Leave the window None when the listing was
    not complete (a read budget ran out, a page failed): then nothing is presumed deleted.
    `cursor` is stored only after everything in the harvest is archived.
    """

    observations: list[Observation] = field(default_factory=list)
    listed: set[str] = field(default_factory=set)
    window_start: str | None = None
    window_end: str | None = None
    threads: set[str] = field(default_factory=set)
    cursor: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)   # said in the run record ("budget spent")
    requests: int = 0                                # platform requests made (reads billed)
    # (kind, message): raised as account alerts once the run is recorded ("token_expiring")
    alerts: list[tuple[str, str]] = field(default_factory=list)


class Collector(Protocol):
    """One platform. Stateless between calls: all state is in the cursor."""

    platform: ClassVar[str]

    def harvest(self, account: AccountConfig, http: Transport, cursor: Mapping[str, Any],
                known: Sequence[KnownItem]) -> Harvest:
        """List the account's recent items, their edits and their whole reply threads."""
        ...

    def lookup(self, account: AccountConfig, http: Transport,
               items: Sequence[KnownItem]) -> list[Observation]:
        """Fetch these items directly; one observation each.

        An item the platform says is gone gives an observation with `event="deleted"` and
        the platform's answer in `raw`; an item still there gives its current state (which
        capture turns into nothing, or an edit). An item that cannot be decided (a network
        failure) raises, so that nothing is presumed deleted.
        """
        ...
