"""Catalog tables (SQLAlchemy Core). Derived data: `archiver rebuild` recreates all of it
from the object store and the keys, except what is marked as the catalog's own.

The schema itself is created and changed only by the Alembic migrations beside this file;
these definitions are what the code queries, and a test checks both agree.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import TSVECTOR

metadata = MetaData()

# An integer key that is SQLite's rowid (INTEGER PRIMARY KEY): one B-tree lookup per read
# and no second copy of the key; BIGINT everywhere else.
SEQ_KEY = BigInteger().with_variant(Integer(), "sqlite")

records = Table(
    "records",
    metadata,
    Column("seq", SEQ_KEY, primary_key=True, autoincrement=False),
    Column("time", String(32), nullable=False),
    Column("type", String(16), nullable=False),
    Column("kid", String(64), nullable=False),
    Column("record_hash", LargeBinary(32), nullable=False),
    Column("segment_first", BigInteger, nullable=False),
    Column("platform", String(64)),
    Column("account", String(512)),
    Column("item_id", String(512)),
    Column("kind", String(64)),
    Column("event", String(32)),
    Column("action", String(64)),  # system records: what happened
    Column("destroyed_at", String(32)),
)
Index("ix_records_item", records.c.platform, records.c.item_id, records.c.seq)

segments = Table(
    "segments",
    metadata,
    Column("first", SEQ_KEY, primary_key=True, autoincrement=False),
    Column("last", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("bytes", BigInteger, nullable=False),
)

data_keys = Table(
    "data_keys",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("segment_first", BigInteger, nullable=False),
    Column("kek", String(128), nullable=False),
    Column("wrapped", Text, nullable=False),
)
Index("ix_data_keys_seq", data_keys.c.seq)

items = Table(
    "items",
    metadata,
    Column("platform", String(64), primary_key=True),
    Column("item_id", String(512), primary_key=True),
    Column("account", String(512), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("parent_id", String(512)),
    Column("state", String(16), nullable=False),  # live | deleted | hidden
    Column("fingerprint", String(64)),  # keyed HMAC; cleared at disposition
    Column("first_seq", BigInteger, nullable=False),
    Column("latest_seq", BigInteger, nullable=False),
    Column("versions", Integer, nullable=False),
    Column("first_seen", String(32), nullable=False),
    Column("observed_at", String(32), nullable=False),  # newest observation applied
    Column("last_seen", String(32), nullable=False),  # the catalog's own: not in the log
)
Index("ix_items_account", items.c.platform, items.c.account)
Index("ix_items_parent", items.c.platform, items.c.parent_id)

tree_hashes = Table(
    "tree_hashes",
    metadata,
    Column("idx", SEQ_KEY, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("size", SEQ_KEY, primary_key=True, autoincrement=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("note", LargeBinary, nullable=False),
)

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# -- the catalog's own tables: not derived from the log, never touched by `rebuild` -------

tokens = Table(
    "tokens",
    metadata,
    Column("id", String(32), primary_key=True),  # public: names the token in lists and audit
    Column("name", String(128), nullable=False),
    Column("roles", String(256), nullable=False),  # space-separated, sorted
    Column("token_hash", String(64), nullable=False, unique=True),  # SHA-256 hex (tokens.py)
    Column("created_at", String(32), nullable=False),
    Column("revoked_at", String(32)),
)

audit_events = Table(
    "audit_events",
    metadata,
    # INTEGER on SQLite so that the column is the rowid and autoincrements.
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("time", String(32), nullable=False),
    Column("actor_id", String(32)),  # the token id; NULL when no valid token was presented
    Column("actor_name", String(128)),
    Column("method", String(16), nullable=False),
    Column("path", String(2048), nullable=False),
    Column("action", String(64)),  # the endpoint, e.g. records.get_record
    Column("resource", Text),  # JSON: the ids the request named (seq, item, sizes, filters)
    Column("remote_addr", String(64)),
    Column("status", Integer, nullable=False),
)
Index("ix_audit_events_time", audit_events.c.time)
Index("ix_audit_events_actor", audit_events.c.actor_id, audit_events.c.id)

# -- the PostgreSQL search engine's index (archiver/search/postgres_engine.py) ------------
# PostgreSQL only: migration 0003 creates these tables only there. Derived from the log
# like the Whoosh index (`archiver search reindex` rebuilds them); `rebuild` leaves them.
# Times are microseconds since the Unix epoch (`documents.time_us`), `tokens` holds the
# analyzer's terms of the text and the prefixed terms of the other searchable fields.

search_documents = Table(
    "search_documents",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("platform", Text, nullable=False),
    Column("account", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("event", Text, nullable=False),
    Column("item_id", Text, nullable=False),
    Column("item_key", Text, nullable=False),  # documents.item_key(platform, item_id)
    Column("parent_id", Text),
    Column("author_id", Text),
    Column("author_handle", Text),
    Column("author_name", Text),
    Column("lang", Text),
    Column("url", Text),
    Column("published", BigInteger),  # NULL: no publication time (deletion notices)
    Column("published_at", String(32)),
    Column("published_day", String(10)),
    Column("captured", BigInteger, nullable=False),
    Column("captured_at", String(32), nullable=False),
    Column("captured_day", String(10), nullable=False),
    Column("time", BigInteger, nullable=False),  # published, else captured: the sort time
    Column("hashtags", Text),  # normalized, space-separated
    Column("mentions", Text),
    Column("urls", Text),
    Column("text", Text, nullable=False),
    Column("tokens", TSVECTOR, nullable=False),
)
Index("ix_search_documents_tokens", search_documents.c.tokens, postgresql_using="gin")
Index("ix_search_documents_time", search_documents.c.time, search_documents.c.seq)
Index("ix_search_documents_published", search_documents.c.published, search_documents.c.seq)
Index("ix_search_documents_captured", search_documents.c.captured, search_documents.c.seq)
Index("ix_search_documents_account", search_documents.c.account, search_documents.c.time,
      search_documents.c.seq)
Index("ix_search_documents_item", search_documents.c.item_key)
Index("ix_search_documents_author", search_documents.c.author_id)

search_state = Table(
    "search_state",
    metadata,
    Column("name", String(64), primary_key=True),  # indexed_through | documents
    Column("value", BigInteger, nullable=False),
)

# -- collectors (archiver/collectors/) -----------------------------------------------------
# Accounts, cursors, alerts and the published-time cache are the catalog's own; the
# collection runs are derived from the log's `collection.run` system records (rebuilt).

accounts = Table(
    "accounts",
    metadata,
    Column("id", String(32), primary_key=True),  # the archive's own id, e.g. acc_3f9a...
    Column("platform", String(64), nullable=False),
    Column("platform_id", String(512), nullable=False),
    Column("handle", String(512), nullable=False),
    Column("base_url", String(2048), nullable=False),
    Column("department", String(256)),
    Column("tags", Text, nullable=False),  # JSON array
    Column("interval_seconds", Integer, nullable=False),
    Column("options", Text, nullable=False),  # JSON object
    Column("credential_names", Text, nullable=False),  # JSON array: shown; values never
    Column("credentials_kek", String(128)),  # the KEK that wraps the data key
    Column("credentials_key", Text),  # the account's data key, wrapped (AD = account id)
    Column("credentials_ct", Text),  # base64(nonce || AES-GCM(JSON credentials))
    Column("status", String(16), nullable=False),  # active | paused | removed
    Column("paused_reason", Text),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    Column("removed_at", String(32)),
)
Index("ix_accounts_platform", accounts.c.platform, accounts.c.platform_id)

collector_cursors = Table(
    "collector_cursors",
    metadata,
    Column("account_id", String(32), primary_key=True),
    Column("cursor", Text, nullable=False),  # JSON object, the collector's own
    Column("run_seq", BigInteger, nullable=False),  # the run record it was stored with
    Column("updated_at", String(32), nullable=False),
)

collection_runs = Table(
    "collection_runs",
    metadata,
    Column("seq", SEQ_KEY, primary_key=True, autoincrement=False),  # its system record
    Column("account_id", String(32), nullable=False),
    Column("platform", String(64), nullable=False),
    Column("started_at", String(32), nullable=False),
    Column("finished_at", String(32), nullable=False),
    Column("outcome", String(16), nullable=False),  # ok | failed | rate_limited | paused
    Column("window_start", String(32)),
    Column("window_end", String(32)),
    Column("listed", Integer, nullable=False),
    Column("looked_up", Integer, nullable=False),
    Column("requests", Integer, nullable=False),
    Column("archived", Integer, nullable=False),
    Column("events", Text, nullable=False),  # JSON {event: n}
    Column("error", Text),
    Column("retry_at", String(32)),
)
Index("ix_collection_runs_account", collection_runs.c.account_id, collection_runs.c.seq)

collector_alerts = Table(
    "collector_alerts",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("account_id", String(32), nullable=False),
    Column("time", String(32), nullable=False),
    Column("kind", String(64), nullable=False),  # credentials_rejected | ...
    Column("message", Text, nullable=False),
    Column("cleared_at", String(32)),
)
Index("ix_collector_alerts_account", collector_alerts.c.account_id, collector_alerts.c.id)

item_published = Table(
    "item_published",
    metadata,
    # When each item was published: the window test of deletion detection needs it and
    # the items table does not hold it. Never changes, so a cache that survives rebuilds.
    Column("platform", String(64), primary_key=True),
    Column("item_id", String(512), primary_key=True),
    Column("published_at", String(32)),  # NULL: the item has none (or it is unknown)
)

# -- media (archiver/collectors/media.py, the appender) ------------------------------------
# Derived from the log (`rebuild` refills it): one row per stored `media/<id>` object. The
# blob's wrapped data key is in `data_keys` under the same id (seq: the record that first
# stored it). `fingerprint` is the keyed dedupe key of the file's SHA-256, never the plain
# hash (Fingerprinter.media).

media = Table(
    "media",
    metadata,
    Column("id", String(64), primary_key=True),  # the data key id; the object is media/<id>
    Column("fingerprint", String(64), nullable=False),
    Column("mime", String(128), nullable=False),
    Column("seq", BigInteger, nullable=False),  # the record whose segment's keys hold its key
)
Index("ix_media_fingerprint", media.c.fingerprint)

# -- retention (archiver/retention_store.py, archiver/disposal.py) -------------------------
# Policies, holds, disposition runs and tombstones are rebuilt from the log's `system`
# records (policy.*, hold.*, disposition.*, key.destroyed); `retention_facts` is derived
# from the capture records like the search index; `retention_accounts` is the catalog's own.

retention_policies = Table(
    "retention_policies",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("name", String(2000), nullable=False),
    Column("schedule_code", String(2000), nullable=False),
    Column("authority", String(2000), nullable=False),
    Column("doc", Text, nullable=False),  # JSON: retention.policies.Policy.as_dict()
    Column("created_at", String(32), nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("updated_at", String(32), nullable=False),
    Column("retired_at", String(32)),
)

retention_policy_versions = Table(
    "retention_policy_versions",
    metadata,
    Column("policy_id", String(40), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("change", String(16), nullable=False),  # created | changed | retired
    Column("doc", Text, nullable=False),
    Column("time", String(32), nullable=False),
    Column("actor", String(256), nullable=False),
    Column("log_seq", BigInteger, nullable=False),
)

legal_holds = Table(
    "legal_holds",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("matter_name", String(2000), nullable=False),
    Column("matter_number", String(2000), nullable=False),
    Column("doc", Text, nullable=False),  # JSON: retention.holds.Hold.as_dict()
    Column("placed_at", String(32), nullable=False),
    Column("placed_by", String(256), nullable=False),
    Column("released_at", String(32)),
    Column("released_by", String(256)),
)

legal_hold_events = Table(
    "legal_hold_events",
    metadata,
    Column("hold_id", String(40), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("change", String(16), nullable=False),  # placed | changed | released
    Column("doc", Text, nullable=False),
    Column("time", String(32), nullable=False),
    Column("actor", String(256), nullable=False),
    Column("log_seq", BigInteger, nullable=False),
)

disposition_runs = Table(
    "disposition_runs",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("state", String(16), nullable=False),  # created|approved|executing|done|cancelled
    Column("as_of", String(32), nullable=False),  # the `now` of the preview
    Column("tombstone", String(16), nullable=False),  # metadata | bare
    Column("created_at", String(32), nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("creator_id", String(256), nullable=False),
    Column("approved_at", String(32)),
    Column("approved_by", String(256)),
    Column("approver_id", String(256)),
    Column("executed_at", String(32)),
    Column("executed_by", String(256)),
    Column("finished_at", String(32)),
    Column("cancelled_at", String(32)),
    Column("cancelled_by", String(256)),
    Column("preview", Text, nullable=False),  # JSON: counts per policy and account, sample
    Column("certificate", Text),  # JSON: the signed certificate of destruction
)

disposition_items = Table(
    "disposition_items",
    metadata,
    Column("run_id", String(40), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("action", String(16), nullable=False),  # destroy | review | transfer
    Column("policy_id", String(40), nullable=False),
    Column("policy_version", Integer, nullable=False),
    # pending | destroyed | held | awaiting_review | export_required | kept
    Column("outcome", String(24), nullable=False),
    Column("decision", String(16)),  # review items: destroy | keep
    Column("hold_ids", Text),  # JSON array, when held at execution
    Column("done_at", String(32)),
)
Index("ix_disposition_items_outcome", disposition_items.c.run_id, disposition_items.c.outcome)

destroyed_records = Table(
    "destroyed_records",
    metadata,
    Column("seq", SEQ_KEY, primary_key=True, autoincrement=False),
    Column("run_id", String(40), nullable=False),
    Column("destroyed_at", String(32), nullable=False),
    Column("record_hash", LargeBinary(32), nullable=False),
    Column("tombstone", String(16), nullable=False),  # metadata | bare
    Column("platform", String(64)),  # NULL when the tombstone is bare
    Column("account", String(512)),
    Column("item_id", String(512)),
    Column("kind", String(64)),
    Column("event", String(32)),
    Column("captured_at", String(32)),
    Column("published_at", String(32)),
    Column("policy_id", String(40), nullable=False),
    Column("schedule_code", String(2000), nullable=False),
    Column("authority", String(2000), nullable=False),
    Column("log_seq", BigInteger, nullable=False),  # the key.destroyed record
)

retention_facts = Table(
    "retention_facts",
    metadata,
    Column("seq", SEQ_KEY, primary_key=True, autoincrement=False),
    Column("published_at", String(32)),
)

retention_media_refs = Table(
    "retention_media_refs",
    metadata,
    Column("media_id", String(64), primary_key=True),  # media/<id>, its data key id
    Column("seq", BigInteger, primary_key=True, autoincrement=False),  # a record naming it
)
Index("ix_retention_media_refs_seq", retention_media_refs.c.seq)

retention_accounts = Table(
    "retention_accounts",
    metadata,
    Column("platform", String(64), primary_key=True),
    Column("account", String(512), primary_key=True),
    Column("tags", Text, nullable=False),  # JSON array
    Column("events", Text, nullable=False),  # JSON {event: time}, e.g. {"closed": "..."}
)

object_legal_holds = Table(
    "object_legal_holds",
    metadata,
    Column("key", String(512), primary_key=True),  # an object under S3 legal hold
    Column("since", String(32), nullable=False),
)

# -- public records (archiver/redaction, archiver/alerts; migration 0008) -------------------
# The catalog's own: a redaction layer over records that never change, and alert rules with
# the alerts they raised. Redaction changes are also `system` records (response.*,
# redaction.*), so the log alone tells who redacted what, under which exemption.

response_sets = Table(
    "response_sets",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(2000), nullable=False),
    Column("request_ref", String(2000), nullable=False),  # the request's own number
    Column("scope", Text, nullable=False),  # JSON: an export scope (hold, search, items)
    Column("seqs", Text, nullable=False),  # JSON array: the capture records of the set
    Column("created_by", String(256), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("log_seq", BigInteger, nullable=False),
)

redactions = Table(
    "redactions",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("response_id", String(40), nullable=False),
    Column("seq", BigInteger, nullable=False),  # the capture record redacted
    Column("target", String(16), nullable=False),  # text | author | media
    Column("spec", Text, nullable=False),  # JSON: offsets, field, media and regions
    Column("code", String(64), nullable=False),  # an exemption code (exemptions.json)
    Column("note", Text, nullable=False),
    Column("state", String(16), nullable=False),  # pending | approved | rejected | withdrawn
    Column("created_by", String(256), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("reviewed_by", String(256)),
    Column("reviewed_at", String(32)),
    Column("review_note", Text),
    Column("log_seq", BigInteger, nullable=False),
)
Index("ix_redactions_response", redactions.c.response_id, redactions.c.seq)

alert_rules = Table(
    "alert_rules",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(2000), nullable=False),
    Column("kind", String(32), nullable=False),  # archiver/alerts/rules.py KINDS
    Column("config", Text, nullable=False),  # JSON: accounts, terms, patterns, days
    Column("channels", Text, nullable=False),  # JSON: {"email": [...], "webhook": [...]}
    Column("muted", Integer, nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("rule_id", String(40), nullable=False),
    Column("time", String(32), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("subject", Text, nullable=False),
    Column("details", Text, nullable=False),  # JSON: what matched (platform, item, seq)
    Column("deliveries", Text, nullable=False),  # JSON: per channel, outcome and attempts
)
Index("ix_alerts_rule", alerts.c.rule_id, alerts.c.id)
