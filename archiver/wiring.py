"""Settings -> components. The one place that decides which store, catalog and keys to use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from archiver.catalog.db import Catalog
from archiver.config import Settings
from archiver.errors import ConfigError
from archiver.ingest import Ingestor
from archiver.log.appender import Appender, LogParts
from archiver.log.checkpoint import CheckpointSigner
from archiver.log.crypto import Fingerprinter, KekRing, LocalKek
from archiver.storage import FilesystemStore, ObjectStore, S3Store, ensure_bucket


def build_store(settings: Settings) -> ObjectStore:
    s = settings.store
    if s.kind == "s3":
        return S3Store(s.endpoint_url or None, s.bucket, s.prefix, s.access_key or None,
                       s.secret_key or None, s.region, lock_days=s.lock_days)
    return FilesystemStore(settings.objects_dir)


@dataclass
class Archive:
    """The assembled archive: what the CLI, the API and the worker work through."""

    settings: Settings
    appender: Appender
    ingestor: Ingestor

    @property
    def store(self) -> ObjectStore:
        return self.appender.p.store

    @property
    def catalog(self) -> Catalog:
        return self.appender.p.catalog

    def close(self) -> None:
        self.catalog.dispose()


def open_archive(settings: Settings, *, recover: bool = True) -> Archive:
    """Open an initialised archive; by default adopt what a crash left behind first."""
    if not settings.kek_path.exists():
        raise ConfigError(f"no archive at {settings.home} (run `archiver init`)")
    parts = LogParts(
        store=build_store(settings),
        catalog=Catalog(settings.catalog_url),
        kek=KekRing.load(settings.kek_path),
        signer=CheckpointSigner.load(settings.signing_key_path),
        fingerprinter=Fingerprinter.load(settings.fingerprint_key_path),
        segment_max_records=settings.log.segment_max_records,
        segment_max_bytes=settings.log.segment_max_bytes,
    )
    parts.catalog.migrate()
    appender = Appender(parts)
    if recover:
        appender.recover()
    ingestor = Ingestor(appender,
                        backfill_after=timedelta(hours=settings.capture.backfill_hours))
    return Archive(settings, appender, ingestor)


def init_archive(settings: Settings, origin: str) -> tuple[Archive, bool]:
    """Create keys, catalog and store for a new archive; (archive, created?)."""
    if settings.kek_path.exists():
        archive = open_archive(settings)
        if archive.store.list("log/"):
            return archive, False
        # keys made, record 0 never written (a crash during init): finish it
        signer, kek = archive.appender.p.signer, archive.appender.p.kek
        store = archive.store
        archive.appender.append_system("archive.init", "archiver init", {
            "origin": signer.name, "format": 1, "kek": kek.kek_id, "vkey": signer.vkey(),
            "store": store.description, "worm": store.supports_object_lock,
        })
        return archive, True
    store = build_store(settings)
    if isinstance(store, S3Store):
        ensure_bucket(store, object_lock=True)
    if store.list("log/"):
        raise ConfigError(f"{store.description} already holds a log; refusing to start a new "
                          f"archive over it (use the keys that wrote it)")
    settings.home.mkdir(parents=True, exist_ok=True)
    signer = CheckpointSigner.generate(settings.signing_key_path, origin)
    Fingerprinter.generate(settings.fingerprint_key_path)
    kek = LocalKek.generate(settings.kek_path)  # last: its presence marks the archive as made
    archive = open_archive(settings)
    archive.appender.append_system("archive.init", "archiver init", {
        "origin": origin, "format": 1, "kek": kek.kek_id, "vkey": signer.vkey(),
        "store": store.description, "worm": store.supports_object_lock,
    })
    return archive, True
