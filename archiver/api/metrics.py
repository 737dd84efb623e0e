"""Prometheus metrics of one app, in a registry of its own (no process-global state).

Request counts and latencies are kept per process: under gunicorn each worker answers a
scrape with its own counters (sum them over `instance` in queries). The archive's own
figures (records, checkpoint size, newest record time) are read from the catalog at
scrape time, so every worker reports the same ones; so are the search index's (its
documents, and its lag: committed capture records not yet searchable).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from sqlalchemy import select

from archiver.api.routing import operation
from archiver.catalog import db
from archiver.catalog import schema as t
from archiver.times import parse_time
from archiver.wiring import Archive

if TYPE_CHECKING:
    from archiver.search.whoosh_engine import SearchIndex

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class _CatalogCollector:
    """The archive's figures, read from the catalog on each scrape."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("archiver_catalog_up", "1 if the catalog answered this scrape")
        try:
            with self.archive.catalog.reader() as conn:
                size, _ = db.head(conn)
                latest = db.latest_checkpoint(conn)
                newest = conn.execute(select(t.records.c.time)
                                      .order_by(t.records.c.seq.desc()).limit(1)).scalar()
        except Exception:  # noqa: BLE001 - a scrape reports the outage, it does not fail
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily("archiver_records", "Records in the log (archived, all types)",
                                value=size)
        yield GaugeMetricFamily("archiver_checkpoint_size",
                                "Tree size of the newest signed checkpoint",
                                value=latest[0] if latest else 0)
        if newest:
            yield GaugeMetricFamily(
                "archiver_last_record_timestamp_seconds",
                "When the newest record was appended (ingest lag = now - this)",
                value=parse_time(newest).timestamp())


class _IndexCollector:
    """The search index's figures, read on each scrape: whether it opens, its documents
    (from the open searcher, no disk scan) and its lag (one count in the catalog)."""

    def __init__(self, archive: Archive, index: SearchIndex) -> None:
        self.archive = archive
        self.index = index

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("archiver_index_up",
                               "1 if the search index could be read this scrape (an index "
                               "not built yet reads as empty)")
        try:
            state = self.index.state()
        except Exception:  # noqa: BLE001 - a scrape reports the outage, it does not fail
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily("archiver_index_documents", "Documents in the search index",
                                value=state.documents)
        try:
            lag = self.index.lag(self.archive.appender)
        except Exception:  # noqa: BLE001 - the catalog is down: archiver_catalog_up says so
            return
        yield GaugeMetricFamily("archiver_index_lag_records",
                                "Committed capture records not yet searchable",
                                value=lag)


class ApiMetrics:
    """The app's registry and the instruments the request hooks and views update."""

    def __init__(self, archive: Archive, index: SearchIndex) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.requests = Counter("archiver_http_requests", "HTTP requests answered",
                                ["endpoint", "method", "status"], registry=self.registry)
        self.latency = Histogram("archiver_http_request_duration_seconds",
                                 "Time to answer a request", ["endpoint"],
                                 buckets=_LATENCY_BUCKETS, registry=self.registry)
        self.ingest_batches = Counter("archiver_ingest_batches", "Ingest requests processed",
                                      ["outcome"], registry=self.registry)
        self.ingest_observations = Counter("archiver_ingest_observations",
                                           "Observations received by ingest", ["result"],
                                           registry=self.registry)
        self.registry.register(_CatalogCollector(archive))
        self.registry.register(_IndexCollector(archive, index))
        from archiver.collectors.health import CollectorMetrics  # per-account gaps, runs
        self.registry.register(CollectorMetrics(archive))

    def observe_request(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(endpoint, method, str(status)).inc()
        self.latency.labels(endpoint).observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def blueprint() -> Blueprint:
    bp = Blueprint("metrics", __name__)

    @bp.get("/metrics", provide_automatic_options=False)
    @operation(summary="Prometheus metrics (text exposition format)", tag="service",
               media_type="text/plain")
    def metrics() -> Any:
        from archiver.api.context import api

        return Response(api().metrics.exposition(), content_type=CONTENT_TYPE_PLAIN_0_0_4)

    return bp
