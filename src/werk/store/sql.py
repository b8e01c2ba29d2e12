"""Hold the store's queries, one text for both backends where they agree, a pair where not.

Shared queries are written with ``?`` placeholders (DuckDB's style); the PostgreSQL store turns
them into psycopg's ``%s``. No query here contains a literal ``?`` or ``%``: LIKE patterns are
parameters. Where the dialects differ (how a set of ids reaches the query, how buckets are
assigned, how the newest row per group is picked) both texts stand next to each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from werk.store.schema import Dialect


@dataclass(frozen=True, slots=True)
class Sql:
    """One query in both dialects."""

    duckdb: str
    postgres: str

    @classmethod
    def same(cls, text: str) -> Sql:
        """Return a query that reads the same in both dialects (``?`` placeholders)."""
        return cls(text, text.replace("?", "%s"))

    def text(self, dialect: Dialect) -> str:
        """Return the query in ``dialect``."""
        return self.duckdb if dialect == "duckdb" else self.postgres


# -- schema ---------------------------------------------------------------------------------
HAS_VERSION_TABLE: Final = Sql.same(
    "SELECT count(*) FROM information_schema.tables "
    "WHERE table_name = 'schema_version' AND table_schema = current_schema()"
)
VERSION: Final = Sql.same("SELECT coalesce(max(version), 0) FROM schema_version")
ADD_VERSION: Final = Sql.same(
    "INSERT INTO schema_version (version, applied_at, description) VALUES (?, ?, ?)"
)

# -- series ---------------------------------------------------------------------------------
SERIES_SINCE: Final = Sql.same("SELECT id, path, signal FROM series WHERE id > ? ORDER BY id")
SERIES_TOP: Final = Sql.same("SELECT max(id) FROM series")
"""Asked before :data:`SERIES_SINCE`: an index's last entry, whatever the table's statistics say
(PostgreSQL plans ``id > ?`` as a scan of the whole table until it has analysed it)."""
SERIES_LIST: Final = Sql.same(
    "SELECT id, path, signal, unit, value_type FROM series "
    "WHERE ? = '' OR path = ? OR starts_with(path, ?) ORDER BY path, signal"
)

# -- ledger ---------------------------------------------------------------------------------
LEDGER_GET: Final = Sql.same(
    "SELECT batch_key, committed_at, samples, events, new_series FROM ingest_ledger "
    "WHERE batch_key = ?"
)
LEDGER_ADD: Final = Sql.same(
    "INSERT INTO ingest_ledger (batch_key, committed_at, samples, events, new_series, source) "
    "VALUES (?, ?, ?, ?, 0, ?) ON CONFLICT (batch_key) DO NOTHING RETURNING batch_key"
)
LEDGER_HAS: Final = Sql.same("SELECT 1 FROM ingest_ledger WHERE batch_key = ?")
LEDGER_INSERT: Final = Sql.same(
    "INSERT INTO ingest_ledger (batch_key, committed_at, samples, events, new_series, source) "
    "VALUES (?, ?, ?, ?, 0, ?)"
)
"""A claim by a single writer (DuckDB, under its write lock): look up, then insert."""
LEDGER_NEW_SERIES: Final = Sql.same("UPDATE ingest_ledger SET new_series = ? WHERE batch_key = ?")

# -- latest merged behind the writes (werk.store.backend, "latest merged behind") -------------
PENDING_ADD: Final = Sql.same(
    "INSERT INTO latest_pending (batch_key, lo, hi, written_at) VALUES (?, ?, ?, ?)"
)
PENDING_OLD: Final = Sql.same(
    "SELECT batch_key, lo, hi FROM latest_pending WHERE written_at <= ? ORDER BY lo"
)
PENDING_DROP: Final = Sql(
    "DELETE FROM latest_pending WHERE list_contains(?::VARCHAR[], batch_key)",
    "DELETE FROM latest_pending WHERE batch_key = ANY(%s::text[])",
)
NEWEST_IN: Final = Sql.same(
    "SELECT DISTINCT ON (series_id) series_id::BIGINT, ts, value, quality FROM samples"
    " WHERE ts >= ? AND ts <= ? ORDER BY series_id, ts DESC"
)
"""The newest sample per series in a ts range: what recovery merges for a batch never merged."""

# -- dead letters ---------------------------------------------------------------------------
DEAD_LETTER_ADD: Final = Sql.same(
    "INSERT INTO dead_letters (received_at, source, key, reason, batch_key, location, payload) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id"
)
DEAD_LETTERS: Final = Sql.same(
    "SELECT id, received_at, source, key, reason, batch_key, location, payload "
    "FROM dead_letters ORDER BY id DESC LIMIT ?"
)

# -- events ---------------------------------------------------------------------------------
EVENT_COLUMNS: Final = "path, ts, kind, code, reason, product, good, scrap, rework, active"
EVENTS: Final = Sql.same(
    f"SELECT {EVENT_COLUMNS} FROM events "
    "WHERE ts >= ? AND ts < ? AND (? = '' OR path = ? OR starts_with(path, ?)) "
    "{kinds} ORDER BY ts, path"
)
"""``{kinds}`` is replaced by ``AND kind IN (?, ...)`` or nothing."""
EVENT_PATHS: Final = Sql.same("SELECT DISTINCT path FROM events")
# For the KPI engine: count events summed per (path, product, bucket); counts without a product
# per (path, instant), since product events decide their product. Bucket numbers are whole
# divisions (DuckDB ``//``, PostgreSQL ``/`` on bigint): a float would put a count a few ns from an
# edge into the wrong bucket.
_COUNT_SUMS: Final = (
    "SELECT path, max(ts) AS ts, 'count' AS kind, NULL AS code, NULL AS reason, product, "
    "CAST(sum(good) AS BIGINT) AS good, CAST(sum(scrap) AS BIGINT) AS scrap, "
    "CAST(sum(rework) AS BIGINT) AS rework, NULL AS active FROM events "
    "WHERE ts >= ? AND ts < ? AND (? = '' OR path = ? OR starts_with(path, ?)) "
    "AND kind = 'count' "
    "GROUP BY path, product, CASE WHEN product IS NULL THEN ts ELSE (ts - ?) {div} ? END"
)
EVENT_COUNT_SUMS: Final = Sql(
    _COUNT_SUMS.replace("{div}", "//"),
    _COUNT_SUMS.replace("{div}", "/").replace("?", "%s"),
)

# -- retention ------------------------------------------------------------------------------
RETENTION_SET: Final = Sql.same(
    "INSERT INTO retention_rules (prefix, keep_ns) VALUES (?, ?) "
    "ON CONFLICT (prefix) DO UPDATE SET keep_ns = excluded.keep_ns"
)
RETENTION_DROP: Final = Sql.same("DELETE FROM retention_rules WHERE prefix = ?")
RETENTION_RULES: Final = Sql.same("SELECT prefix, keep_ns FROM retention_rules")
# The most specific rule covering an event's path decides: of two rules that both cover a path,
# one prefix is a prefix of the other, so the longer one is the more specific.
RETENTION_EVENTS: Final = Sql.same(
    "DELETE FROM events WHERE ts < ("
    " SELECT ? - r.keep_ns FROM retention_rules r"
    " WHERE r.prefix = '' OR events.path = r.prefix OR starts_with(events.path, r.prefix || '/')"
    " ORDER BY length(r.prefix) DESC LIMIT 1)"
)

# -- api keys -------------------------------------------------------------------------------
KEY_COLUMNS: Final = "id, name, role, edge, prefix, created_at, revoked_at"
KEY_ADD: Final = Sql.same(
    "INSERT INTO api_keys (name, role, edge, secret_hash, prefix, created_at) "
    f"VALUES (?, ?, ?, ?, ?, ?) RETURNING {KEY_COLUMNS}"
)
KEY_CLASH: Final = Sql.same("SELECT name FROM api_keys WHERE name = ? OR secret_hash = ?")
KEYS: Final = Sql.same(f"SELECT {KEY_COLUMNS} FROM api_keys ORDER BY id")
KEY_BY_HASH: Final = Sql.same(f"SELECT {KEY_COLUMNS} FROM api_keys WHERE secret_hash = ?")
KEY_BY_NAME: Final = Sql.same(f"SELECT {KEY_COLUMNS} FROM api_keys WHERE name = ?")
KEY_REVOKE: Final = Sql.same(
    "UPDATE api_keys SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL"
)

# -- documents ------------------------------------------------------------------------------
DOCUMENT_LATEST: Final = Sql.same(
    "SELECT version, body FROM documents WHERE kind = ? AND key = ? ORDER BY version DESC LIMIT 1"
)
DOCUMENT_ADD: Final = Sql.same(
    "INSERT INTO documents (kind, key, version, body, valid_from) VALUES (?, ?, ?, ?, ?)"
)
DOCUMENT_VERSION: Final = Sql.same(
    "SELECT version, body, valid_from FROM documents WHERE kind = ? AND key = ? AND version = ?"
)
DOCUMENT_NEWEST: Final = Sql.same(
    "SELECT version, body, valid_from FROM documents WHERE kind = ? AND key = ? "
    "ORDER BY version DESC LIMIT 1"
)
DOCUMENTS_OF_KIND: Final = Sql.same(
    "SELECT d.key, d.version, d.body, d.valid_from FROM documents d "
    "JOIN (SELECT key, max(version) AS version FROM documents "
    "WHERE kind = ? AND starts_with(key, ?) GROUP BY key) n "
    "ON d.key = n.key AND d.version = n.version WHERE d.kind = ? ORDER BY d.key"
)
DOCUMENT_HISTORY: Final = Sql.same(
    "SELECT version, body, valid_from FROM documents WHERE kind = ? AND key = ? ORDER BY version"
)
DOCUMENT_PRUNE: Final = Sql.same("DELETE FROM documents WHERE kind = ? AND key = ? AND version < ?")
DOCUMENT_DELETE: Final = Sql.same("DELETE FROM documents WHERE kind = ? AND key = ?")
COUNTER_ENSURE: Final = Sql.same(
    "INSERT INTO counters (name, value) VALUES (?, 0) ON CONFLICT (name) DO NOTHING"
)
COUNTER_ADD: Final = Sql.same(
    "UPDATE counters SET value = value + ? WHERE name = ? AND value + ? <= ? RETURNING value"
)
COUNTER_GET: Final = Sql.same("SELECT value FROM counters WHERE name = ?")

# -- audit (werk.sharing) -------------------------------------------------------------------
AUDIT_COLUMNS: Final = "seq, ts, participant, owner, agreement, body, prev_hash, hash"
AuditRow = tuple[int, int, str, str, str | None, str, str, str]
"""One row of :data:`AUDIT_COLUMNS`."""
AUDIT_LOCK: Final = "LOCK TABLE audit_log IN EXCLUSIVE MODE"
"""PostgreSQL only: appends from several processes take turns (DuckDB has one writer)."""
AUDIT_HEAD: Final = Sql.same("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
AUDIT_ADD: Final = Sql.same(
    f"INSERT INTO audit_log ({AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
AUDIT_ALL: Final = Sql.same(
    f"SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?"
)
AUDIT_OF: Final = Sql.same(
    f"SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq > ? AND (participant = ? OR owner = ?) "
    "ORDER BY seq LIMIT ?"
)
AUDIT_LENGTH_SET: Final = Sql.same(
    "INSERT INTO counters (name, value) VALUES ('audit.length', ?) "
    "ON CONFLICT (name) DO UPDATE SET value = excluded.value"
)

# -- info -----------------------------------------------------------------------------------
COUNTS: Final = Sql.same(
    "SELECT (SELECT count(*) FROM series), (SELECT count(*) FROM samples),"
    " (SELECT count(*) FROM events), (SELECT count(*) FROM dead_letters),"
    " (SELECT count(*) FROM ingest_ledger)"
)

# -- samples: dialect pairs -----------------------------------------------------------------
# The selected series reach a query as (id, rank) pairs, rank being the position in (path,
# signal) order: DuckDB reads them from a registered Arrow table ``sel``, PostgreSQL from two
# arrays. Results come back ordered by rank, ts. PostgreSQL packs the rows into one bytea
# (int8send || ...) decoded with numpy: one value over the wire instead of one message per row.
_PG_SEL = "unnest(%s::int4[], %s::int4[]) AS sel(id, rank)"

RAW: Final = Sql(
    duckdb="SELECT sel.rank, s.ts, s.value, s.quality FROM samples s"
    " JOIN sel ON s.series_id = sel.id WHERE s.ts >= ? AND s.ts < ?{good}"
    " ORDER BY sel.rank, s.ts",
    postgres="SELECT string_agg(int4send(sel.rank) || int8send(s.ts) || float8send(s.value)"
    " || int2send(s.quality), ''::bytea ORDER BY sel.rank, s.ts)"
    f" FROM samples s JOIN {_PG_SEL} ON s.series_id = sel.id"
    " WHERE s.ts >= %s AND s.ts < %s{good}",
)
"""``{good}`` is replaced by `` AND s.quality < 2`` or nothing."""

AGG_EXPR: Final[dict[str, tuple[str, str]]] = {
    "avg": ("avg(s.value)", "avg(s.value)"),
    "min": ("min(s.value)", "min(s.value)"),
    "max": ("max(s.value)", "max(s.value)"),
    "count": ("count(*)::DOUBLE", "count(*)::float8"),
    # Of samples with equal ts, first takes the smallest value and last the largest, so that
    # both backends agree.
    "first": (
        "first(s.value ORDER BY s.ts, s.value)",
        "(array_agg(s.value ORDER BY s.ts, s.value))[1]",
    ),
    "last": (
        "first(s.value ORDER BY s.ts DESC, s.value DESC)",
        "(array_agg(s.value ORDER BY s.ts DESC, s.value DESC))[1]",
    ),
}
"""Aggregate expression per :class:`werk.store.base.Agg` (but twa), (duckdb, postgres)."""

# Bucket of a sample: DuckDB as-of joins the edges table (``edges(idx, start)``), PostgreSQL's
# width_bucket bisects the edges array. Both give i for edges[i] <= ts < edges[i + 1].
AGGREGATE: Final = Sql(
    duckdb="SELECT sel.rank, e.idx AS bucket, {expr} AS value, count(*) AS n"
    " FROM samples s JOIN sel ON s.series_id = sel.id ASOF JOIN edges e ON s.ts >= e.start"
    " WHERE s.ts >= ? AND s.ts < ? AND s.quality < 2"
    " GROUP BY sel.rank, e.idx ORDER BY sel.rank, e.idx",
    postgres="SELECT string_agg(int4send(sel.rank) || int4send(q.bucket) || float8send(q.value)"
    " || int8send(q.n), ''::bytea ORDER BY sel.rank, q.bucket) FROM ("
    " SELECT s.series_id, {bucket} AS bucket, {expr} AS value,"
    " count(*) AS n FROM samples s WHERE s.series_id = ANY(%s::int4[])"
    " AND s.ts >= %s AND s.ts < %s AND s.quality < 2 GROUP BY 1, 2) q"
    f" JOIN {_PG_SEL} ON q.series_id = sel.id",
)
"""PostgreSQL filters by ``series_id = ANY(ids)`` and joins the ranks after aggregating: joined
before, the planner guessed 1 % of the rows it got and sorted 4.3M rows on disk for a line's month
(2.2 s) instead of hashing 36k groups (0.9 s). ``{bucket}`` is :data:`PG_BUCKET_EVEN` or
:data:`PG_BUCKET_EDGES`. Parameters: those of the bucket, ids, start, end, ids, ranks."""

PG_BUCKET_EVEN: Final = "((s.ts - %s::int8) / %s::int8)::int4"
"""Bucket of a sample when the edges are evenly spaced (first edge, width): arithmetic, where
width_bucket bisects the edges array with a comparison function call per step (4.3M samples into
720 hourly buckets: 1.4 s against 0.4 s)."""
PG_BUCKET_EDGES: Final = "width_bucket(s.ts, %s::int8[]) - 1"
"""Bucket of a sample for uneven edges (a daylight-saving change, months): bisects the edges."""

LAST_BEFORE: Final = Sql(
    duckdb="SELECT s.series_id, max(s.ts), arg_max(s.value, s.ts), arg_max(s.quality, s.ts)"
    " FROM samples s JOIN sel ON s.series_id = sel.id WHERE s.ts >= ? AND s.ts < ?"
    " GROUP BY s.series_id",
    postgres="SELECT DISTINCT ON (s.series_id) s.series_id, s.ts, s.value, s.quality"
    f" FROM samples s JOIN {_PG_SEL} ON s.series_id = sel.id"
    " WHERE s.ts >= %s AND s.ts < %s ORDER BY s.series_id, s.ts DESC",
)
"""Newest sample per selected series in ``[lo, hi)`` (the value carried into a twa range)."""
