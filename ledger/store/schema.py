"""Tables. Append-only by design: rows are inserted, and only heads and state move.

Integrity never rests on these tables being honest: every column that matters
is re-derived and checked by :mod:`ledger.verify` against signed data. The
constraints below make the database the authority on duplicates and races:
``event.event_hash`` and ``event_item (item_code, seq)`` are unique, and log
indices are the primary key of ``log_entry``.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Hash = LargeBinary(32)

log_state = Table(
    "log_state",
    metadata,
    Column("id", SmallInteger, primary_key=True, autoincrement=False),
    Column("origin", String(200), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("last_log_time", String(32), nullable=False),
    Column("checkpoint_size", BigInteger, nullable=False),
)

log_entry = Table(
    "log_entry",
    metadata,
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("kind", String(16), nullable=False),
    Column("entry_hash", Hash, nullable=False, unique=True),
    Column("log_time", String(32), nullable=False),
    Column("leaf_input", LargeBinary, nullable=False),
)

log_node = Table(
    "log_node",
    metadata,
    Column("level", SmallInteger, primary_key=True, autoincrement=False),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", Hash, nullable=False),
)

event = Table(
    "event",
    metadata,
    Column("event_hash", Hash, primary_key=True),
    Column("log_index", BigInteger, ForeignKey("log_entry.idx"), nullable=False, unique=True),
    Column("envelope", LargeBinary, nullable=False),
    Column("type", String(20), nullable=False),
    Column("org", String(64), nullable=False),
    Column("site", String(64)),
    Column("event_time", String(32), nullable=False),
    Column("log_time", String(32), nullable=False),
    Column("receipt_signature", LargeBinary, nullable=False),
)
Index("ix_event_org_time", event.c.org, event.c.event_time)
Index("ix_event_site_time", event.c.site, event.c.event_time)
Index("ix_event_type_time", event.c.type, event.c.event_time)  # shipments and fixes (0014)

event_item = Table(
    "event_item",
    metadata,
    Column("item_code", String(64), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("event_hash", Hash, ForeignKey("event.event_hash"), nullable=False),
    Column("log_index", BigInteger, nullable=False),
    Column("role", String(8), nullable=False),
)
Index("ix_event_item_log_index", event_item.c.log_index)

item = Table(
    "item",
    metadata,
    Column("code", String(64), primary_key=True),
    Column("head_seq", BigInteger, nullable=False),
    Column("head_hash", Hash, nullable=False),
    Column("head_index", BigInteger, nullable=False),
    # ledger.custody.Custody as JSON; NULL on rows from before it was kept (folded on use)
    Column("custody", Text, nullable=True),
)

certificate = Table(
    "certificate",
    metadata,
    Column("cert_hash", Hash, primary_key=True),
    Column("log_index", BigInteger, ForeignKey("log_entry.idx"), nullable=False, unique=True),
    Column("key_id", String(32), nullable=False, index=True),
    Column("role", String(8), nullable=False),
    Column("org", String(64), nullable=False),
    Column("body", LargeBinary, nullable=False),
)

revocation = Table(
    "revocation",
    metadata,
    Column("revocation_hash", Hash, primary_key=True),
    Column("log_index", BigInteger, ForeignKey("log_entry.idx"), nullable=False, unique=True),
    Column("key_id", String(32), nullable=False, index=True),
    Column("org", String(64), nullable=False),
    Column("body", LargeBinary, nullable=False),
)

issued_code = Table(
    "issued_code",
    metadata,
    Column("code", String(64), primary_key=True),
    Column("batch_index", BigInteger, ForeignKey("log_entry.idx"), nullable=False, index=True),
    Column("org", String(64), nullable=False),
    Column("form", String(8), nullable=False),
    Column("record", LargeBinary, nullable=False),
)

licence = Table(
    "licence",
    metadata,
    Column("licence_hash", Hash, primary_key=True),
    Column("log_index", BigInteger, ForeignKey("log_entry.idx"), nullable=False, unique=True),
    Column("licence_no", String(64), nullable=False, index=True),
    Column("org", String(64), nullable=False, index=True),
    Column("body", LargeBinary, nullable=False),
)

registry_record = Table(
    "registry_record",
    metadata,
    Column("record_hash", Hash, primary_key=True),
    Column("log_index", BigInteger, ForeignKey("log_entry.idx"), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("record_id", String(64), nullable=False),
    Column("body", LargeBinary, nullable=False),
)
Index("ix_registry_record_kind_id", registry_record.c.kind, registry_record.c.record_id)

external_id = Table(
    "external_id",
    metadata,
    Column("scheme", String(32), primary_key=True),
    Column("external_id", String(128), primary_key=True),
    Column("code", String(64), nullable=False, index=True),
    Column("linked_at", String(32), nullable=False),
)

checkpoint = Table(
    "checkpoint",
    metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("root_hash", Hash, nullable=False),
    Column("note", Text, nullable=False),
    Column("created_at", String(32), nullable=False),
)

checkpoint_cosignature = Table(
    "checkpoint_cosignature",
    metadata,
    Column("size", BigInteger, ForeignKey("checkpoint.size"), primary_key=True),
    Column("witness", String(200), primary_key=True),
    Column("key_id", String(8), nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("line", Text, nullable=False),
    Column("received_at", String(32), nullable=False),
)

witness_status = Table(
    "witness_status",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("url", String(2000), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("failures", Integer, nullable=False),
    Column("last_error", String(300)),
    Column("last_attempt_at", String(32)),
    Column("last_success_at", String(32)),
    Column("next_attempt_at", String(32), nullable=False),
)

item_head_statement = Table(
    "item_head_statement",
    metadata,
    Column("item_code", String(64), primary_key=True),
    Column("checkpoint_size", BigInteger, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("head_hash", Hash, nullable=False),
    Column("signature", LargeBinary, nullable=False),
)
Index("ix_item_head_statement_size", item_head_statement.c.checkpoint_size)

outbox = Table(
    "outbox",
    metadata,
    Column("log_index", BigInteger, primary_key=True, autoincrement=False),
    Column("kind", String(16), nullable=False),
    Column("entry_hash", Hash, nullable=False),
    Column("published_at", String(32)),
)
Index("ix_outbox_unpublished", outbox.c.published_at, outbox.c.log_index)

personal_data = Table(
    "personal_data",
    metadata,
    Column("commitment", String(71), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("value", Text),
    Column("salt", LargeBinary),
    Column("created_at", String(32), nullable=False),
    Column("retain_until", String(32), nullable=False),
    Column("erased_at", String(32)),
)

# Who read whose personal data, when and why (PIPL art. 51, 55): kept beside the erasable
# table, never in the log; a row names the commitment, never the data.
personal_data_read = Table(
    "personal_data_read",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("at", String(32), nullable=False, index=True),
    Column("user_id", String(64), nullable=False, index=True),
    Column("commitment", String(71), nullable=False, index=True),
    Column("record_kind", String(16), nullable=False),
    Column("record_id", String(64), nullable=False),
    Column("reason", Text),
)

# Where each site is (its newest registry record), written in the transaction that logs the
# record. The spatial index over it is not declared here, because SQLAlchemy cannot: an
# R*Tree virtual table ``site_location_rtree`` keyed by ``rid`` on SQLite, a GiST index on
# ``point(lon, lat)`` on PostgreSQL (ledger/store/sites.py; revision 0014 creates both).
site_location = Table(
    "site_location",
    metadata,
    Column("site", String(64), primary_key=True),
    Column("rid", BigInteger, nullable=False, unique=True),
    Column("org", String(64), nullable=False),
    Column("district", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("lat", Float(53), nullable=False),
    Column("lon", Float(53), nullable=False),
    Column("log_index", BigInteger, nullable=False),
)

# -- service tables: access control and the security journal (not part of the log) ------------

api_token = Table(
    "api_token",
    metadata,
    Column("token_hash", Hash, primary_key=True),
    Column("user_id", String(64), nullable=False, index=True),
    Column("created_at", String(32), nullable=False),
    Column("revoked_at", String(32)),
)

security_journal = Table(
    "security_journal",
    metadata,
    Column("id", String(32), primary_key=True),
    # Repeated attempts from one client (or device) in one window are one row: ``at`` is
    # when it was first seen, ``count`` how often, ``window_start`` None for a lone attempt.
    Column("at", String(32), nullable=False, index=True),
    Column("last_at", String(32), nullable=False, index=True),
    Column("count", Integer, nullable=False),
    Column("window_start", String(32)),
    Column("code", String(40), nullable=False),
    Column("user_id", String(64)),
    Column("org", String(64), index=True),
    Column("device_key", String(32)),
    Column("item_code", String(64)),
    Column("site", String(64)),
    Column("district", String(32)),
    Column("client", String(64)),
    Column("detail", Text, nullable=False),
)

# -- anomaly findings (derived from the log; a rescan can rebuild them) --------------------------

finding = Table(
    "finding",
    metadata,
    Column("id", String(34), primary_key=True),
    Column("rule", String(48), nullable=False, index=True),
    Column("key", String(300), nullable=False),
    Column("severity", String(8), nullable=False),
    Column("status", String(16), nullable=False),
    Column("at", String(32), nullable=False, index=True),
    Column("org", String(64), index=True),
    Column("site", String(64)),
    Column("district", String(32), index=True),
    Column("chemical", String(8)),
    Column("item", String(64)),
    Column("message", Text, nullable=False),
    Column("evidence", Text, nullable=False),
    Column("log_position", BigInteger, nullable=False),
    Column("found_at", String(32), nullable=False),
    # a row is a group of occurrences (ledger.rules.grouping): ``key`` its subject, ``at``
    # when first seen, ``severity`` the worst, message and evidence the first occurrence's
    Column("last_seen", String(32), nullable=False, index=True, server_default=""),
    Column("occurrences", Integer, nullable=False, server_default="1"),
)

finding_occurrence = Table(
    "finding_occurrence",
    metadata,
    Column("id", String(34), primary_key=True),
    Column("group_id", String(34), ForeignKey("finding.id"), nullable=False, index=True),
    Column("rule", String(48), nullable=False),
    Column("key", String(300), nullable=False),
    Column("severity", String(8), nullable=False),
    Column("at", String(32), nullable=False),
    Column("org", String(64)),
    Column("site", String(64)),
    Column("district", String(32)),
    Column("chemical", String(8)),
    Column("item", String(64), index=True),
    Column("message", Text, nullable=False),
    Column("evidence", Text, nullable=False),
    Column("supersedes", Text),
    Column("superseded_by", String(34)),
    Column("log_position", BigInteger, nullable=False),
    Column("found_at", String(32), nullable=False),
)

finding_transition = Table(
    "finding_transition",
    metadata,
    Column("finding_id", String(34), ForeignKey("finding.id"), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("from_status", String(16), nullable=False),
    Column("to_status", String(16), nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("at", String(32), nullable=False),
    Column("comment", Text, nullable=False),
    # the occurrence that made the engine reopen or supersede the group, or (migrated from
    # before grouping, revision 0012) the finding whose review this transition was
    Column("occurrence", String(34)),
)

rule_cursor = Table(
    "rule_cursor",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("log_position", BigInteger, nullable=False),
    Column("journal_at", String(32), nullable=False),
    Column("clock", String(32), nullable=False),
    Column("rules_version", String(40), nullable=False),
)

webhook = Table(
    "webhook",
    metadata,
    Column("id", String(34), primary_key=True),
    Column("user_id", String(64), nullable=False, index=True),
    Column("url", String(2000), nullable=False),
    Column("min_severity", String(8), nullable=False),
    Column("districts", Text),
    Column("org", String(64)),
    Column("created_at", String(32), nullable=False),
    Column("disabled_at", String(32)),
)

webhook_delivery = Table(
    "webhook_delivery",
    metadata,
    Column("webhook_id", String(34), ForeignKey("webhook.id"), primary_key=True),
    Column("finding_id", String(34), ForeignKey("finding.id"), primary_key=True),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", String(32), nullable=False, index=True),
    Column("delivered_at", String(32)),
    Column("last_error", String(300)),
)

fence = Table(
    "fence",
    metadata,
    Column("id", SmallInteger, primary_key=True, autoincrement=False),
    # raised by every promotion (``chemtrace failover promote``): a node whose generation is
    # below another primary's is a former primary and must not take writes
    Column("generation", BigInteger, nullable=False),
    Column("since", String(32), nullable=False),
)

console_session = Table(
    # The web console's server-side sessions (api/console/sessions.py): the cookie's value
    # is never stored, only its SHA-256; the bearer token it was opened with, by its hash.
    "console_session",
    metadata,
    Column("id_hash", LargeBinary(32), primary_key=True),
    Column("user_id", String(64), nullable=False, index=True),
    Column("token_hash", LargeBinary(32), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("last_seen_at", BigInteger, nullable=False),
    Column("ended_at", BigInteger),
    Column("ended_why", String(16)),
)

# -- RFC 9421-signed captures: the log entry (the document sits in personal_data) and the
# nonces a key has used, which are never accepted twice --

signed_capture = Table(
    "signed_capture",
    metadata,
    Column("capture_hash", Hash, primary_key=True),
    Column("log_index", BigInteger, ForeignKey("log_entry.idx"), nullable=False, unique=True),
    Column("key_id", String(64), nullable=False),
    Column("org", String(64), nullable=False, index=True),
    Column("nonce", String(128), nullable=False),
    Column("body", LargeBinary, nullable=False),
    UniqueConstraint("key_id", "nonce", name="uq_signed_capture_nonce"),
)

# -- EPCIS capture jobs (the REST binding's /capture/{id}) and the CBV hash IDs they captured --

epcis_capture_job = Table(
    "epcis_capture_job",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("org", String(64), nullable=False, index=True),
    Column("user_id", String(64), nullable=False),
    Column("behaviour", String(8), nullable=False),
    Column("state", String(8), nullable=False),
    Column("events", Integer, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("finished_at", String(32)),
    Column("result", Text),
)

# One row per captured event: the CBV 2.0 hash ID is unique, so a second capture is a 409.
epcis_captured_event = Table(
    "epcis_captured_event",
    metadata,
    Column("hash_id", String(120), primary_key=True),
    Column("event_hash", Hash, nullable=False, index=True),
    Column("job_id", String(32), ForeignKey("epcis_capture_job.id"), nullable=False, index=True),
)

# -- EPCIS named queries (the REST binding's /queries): a stored SimpleEventQuery, per owner --

# ``owner`` is the caller's organisation, or ``user:<id>`` for a caller without one (org ids
# hold no ``:``); ``definition`` the query object as RFC 8785 JSON. A view, not evidence.
epcis_named_query = Table(
    "epcis_named_query",
    metadata,
    Column("owner", String(80), primary_key=True),
    Column("name", String(128), primary_key=True),
    Column("definition", Text, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("created_at", String(32), nullable=False),
)

# -- the item-state read model (ledger/store/readmodel.py): derived from the log, never evidence --

# One row per state of an item: the state just after the event at ``from_index`` until the
# item's next event (``to_index``; NULL while it is the current state). ``*_time`` are the
# events' signed times as written, ``*_moment`` the same times as fixed-width UTC.
item_state = Table(
    "item_state",
    metadata,
    Column("code", String(64), primary_key=True),
    Column("from_index", BigInteger, primary_key=True, autoincrement=False),
    Column("to_index", BigInteger),
    Column("from_time", String(32), nullable=False),
    Column("to_time", String(32)),
    Column("from_moment", String(32), nullable=False),
    Column("to_moment", String(32)),
    Column("chemical", String),
    Column("packaging", String),
    Column("holder", String(64)),
    Column("site", String(64)),
    Column("status", String(12), nullable=False),
    Column("quantity", String),
    Column("unit", String),
    Column("destination", String(64)),
    Column("last_event", String(20)),
    Column("last_time", String(32)),
    Column("seq", BigInteger, nullable=False),
    Column("version", String(32), nullable=False),
    Column("last_ship", BigInteger),
)
# with ``code``: the current states of some items are a seek each, not a walk of every
# current row (SQLite, with no statistics, would pick this index for ``to_index IS NULL``)
Index("ix_item_state_current", item_state.c.to_index, item_state.c.code)
ITEM_STATE_HELD: Final = (
    "status", "code", "chemical", "packaging", "holder", "quantity", "unit", "destination",
    "last_event", "last_time", "seq", "version", "last_ship",
)  # fmt: skip
"""The columns besides ``site`` that a read turns into a state. The two site indexes carry
them, so the states at some sites, now or at a time, are read from the index alone: the
rows of one site are scattered over the table in log order, one page read each."""
Index("ix_item_state_site_current", item_state.c.site, item_state.c.to_index,
      *(item_state.c[name] for name in ITEM_STATE_HELD))  # fmt: skip
Index("ix_item_state_holder_current", item_state.c.holder, item_state.c.to_index)
Index("ix_item_state_from_time", item_state.c.from_time)
Index("ix_item_state_site_time", item_state.c.site, item_state.c.from_time)
Index("ix_item_state_site_moment", item_state.c.site, item_state.c.from_moment,
      item_state.c.to_moment, *(item_state.c[name] for name in ITEM_STATE_HELD))  # fmt: skip

# Items whose states at a past time the intervals cannot give (their events' times go back,
# or a transform made them from an item whose did): those are replayed.
item_state_irregular = Table(
    "item_state_irregular",
    metadata,
    Column("code", String(64), primary_key=True),
)

# A transform output whose chemical came from its first input (the fold reads the input).
item_state_source = Table(
    "item_state_source",
    metadata,
    Column("code", String(64), primary_key=True),
    Column("source", String(64), primary_key=True),
)

# The projector's durable cursor: every event with a log index below ``upto`` is applied.
readmodel_cursor = Table(
    "readmodel_cursor",
    metadata,
    Column("name", String(16), primary_key=True),
    Column("upto", BigInteger, nullable=False),
)

# -- the search terms (ledger/store/search_terms.py): derived from the log, never evidence --

# Each item an event names, under each value people search it by (``ledger.search.terms_of``,
# already folded by ``ledger.search.term``), with the earliest signed time among those
# events, so that "at time T" is ``first_time <= T``: the events with ``time <= T``.
search_term = Table(
    "search_term",
    metadata,
    Column("kind", String(8), primary_key=True),
    Column("term", Text, primary_key=True),
    Column("code", String(64), primary_key=True),
    Column("first_time", String(32), nullable=False),
)
