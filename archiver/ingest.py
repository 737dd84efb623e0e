"""The ingest pipeline, in order: parse -> capture -> append (-> index, once search lands).

Observations are taken in chunks; each chunk is decided and appended in one turn of the
single writer, so two processes can never both decide that an item is new.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import IO, Any

from archiver.capture import CONTENT_EVENTS, content_fingerprint, decide, next_state
from archiver.errors import InvalidObservation
from archiver.log.appender import Appender
from archiver.records import EVENTS, MediaBlob, Observation, PendingRecord, parse_observation
from archiver.times import format_time


@dataclass
class IngestSummary:
    received: int = 0
    archived: int = 0
    events: Counter[str] = field(default_factory=Counter)
    rejected: list[InvalidObservation] = field(default_factory=list)
    seqs: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "received": self.received,
            "archived": self.archived,
            "events": {e: self.events.get(e, 0) for e in EVENTS},
            "rejected": len(self.rejected),
        }
        if self.rejected:
            out["errors"] = [{"line": e.line, "reason": e.reason} for e in self.rejected[:100]]
        return out


def read_jsonl(stream: IO[bytes], *, max_text_bytes: int, max_line_bytes: int
               ) -> Iterator[tuple[int, Observation | InvalidObservation]]:
    """Parse a JSON Lines stream; a bad line yields its error, the good lines go on."""
    for number, raw in enumerate(stream, start=1):
        if not raw.strip():
            continue
        if len(raw) > max_line_bytes:
            yield number, InvalidObservation(f"line is longer than {max_line_bytes} bytes", number)
            continue
        try:
            obj = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            yield number, InvalidObservation(f"not valid JSON: {exc}", number)
            continue
        except RecursionError:  # arrays/objects nested past the interpreter's limit
            yield number, InvalidObservation("not valid JSON: nested too deeply", number)
            continue
        try:
            yield number, parse_observation(obj, max_text_bytes=max_text_bytes, line=number)
        except InvalidObservation as exc:
            yield number, exc


class Ingestor:
    """Turns observations into archived events through one Appender."""

    def __init__(self, appender: Appender, *, backfill_after: timedelta,
                 chunk_size: int = 5000) -> None:
        self.appender = appender
        self.backfill_after = backfill_after
        self.chunk_size = chunk_size

    def ingest(self, observations: Iterable[Observation | InvalidObservation],
               media: Mapping[str, MediaBlob] | None = None, *,
               first_event: str = "created") -> IngestSummary:
        """Capture and append; `media` are downloaded files by sha256 (download_media).

        A file is stored (encrypted, `media/<id>`) with the first record that references it
        by `sha256` and that the archive does not hold yet; records name it as `object`.
        """
        blobs = dict(media or {})
        for sha, blob in blobs.items():
            if blob.sha256 != sha or hashlib.sha256(blob.data).hexdigest() != sha:
                raise InvalidObservation(f"media file {sha[:80]!r} does not hash to its sha256")
        if first_event not in ("created", "observed"):
            raise ValueError(f"first_event must be created or observed, not {first_event!r}")
        summary = IngestSummary()
        chunk: list[Observation] = []
        for obs in observations:
            summary.received += 1
            if isinstance(obs, InvalidObservation):
                summary.rejected.append(obs)
                continue
            chunk.append(obs)
            if len(chunk) >= self.chunk_size:
                self._commit(chunk, summary, blobs, first_event)
                chunk = []
        if chunk:
            self._commit(chunk, summary, blobs, first_event)
        return summary

    def _commit(self, chunk: list[Observation], summary: IngestSummary,
                blobs: Mapping[str, MediaBlob], first_event: str) -> None:
        fp = self.appender.p.fingerprinter
        now = self.appender.clock()
        captured = format_time(now)
        with self.appender.session() as ws:
            states = ws.load_items([(o.platform, o.item_id) for o in chunk])
            ws.load_media([e["sha256"] for o in chunk for e in o.media
                           if isinstance(e.get("sha256"), str)])
            overlay = dict(states)
            pending: list[PendingRecord] = []
            for obs in chunk:
                key = (obs.platform, obs.item_id)
                fingerprint = content_fingerprint(fp, obs.content())
                events = decide(obs, overlay.get(key), fingerprint,
                                backfill_after=self.backfill_after, now=now)
                if first_event != "created" and events == ["created"]:
                    events = [first_event]  # an import: not seen to appear
                if not events:
                    ws.touch(key, captured)
                    continue
                new_media: tuple[tuple[str, MediaBlob], ...] = ()
                if obs.media:
                    entries, new_media = ws.attach_media(obs.media, blobs)
                    obs = replace(obs, media=entries)
                for event in events:
                    payload = obs.payload(event, captured)
                    carries = event in CONTENT_EVENTS
                    pending.append(PendingRecord("capture", payload, key, event,
                                                 fingerprint if carries else None,
                                                 new_media))
                    new_media = ()  # stored with the first record of the observation
                    overlay[key] = next_state(overlay.get(key), seq=-1, payload=payload,
                                              fingerprint=fingerprint if carries else None,
                                              time=captured)
            seqs = ws.append(pending)
        summary.archived += len(seqs)
        summary.seqs.extend(seqs)
        summary.events.update(p.event for p in pending if p.event)
