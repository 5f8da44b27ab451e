"""The results store: classified complaints, surveys, topics and model versions in one DuckDB file.

Jobs write into it chunk by chunk (``tousu classify --store``, ``tousu link --store``, the
explorer's upload page); the explorer reads from it with SQL, so filtering and counting
happen in DuckDB and only the rows or aggregates a page shows reach pandas.

Columns are canonical English snake_case names; each input column is mapped to its role by
its header (``工单号`` → ``id``, ``受理时间`` → ``created_at`` …, see :data:`COMPLAINT_ROLES`)
and every other input column is kept in the JSON column ``extra``, so nothing is lost.
Values that cannot be parsed (a time that is not a time, a score out of range) become NULL
in their canonical column and keep their raw text in ``extra``.

No personal number is stored as it came: texts, the province/channel/segment/touchpoint
columns and every ``extra`` value are PII-masked (after NFKC normalisation, so full-width
digits are caught too), and customer ids (``客户号``, ``用户号码`` … often the phone number
itself) are replaced by a keyed hash (HMAC-SHA256 with a secret made for each store and kept
in it), which still links a survey to its customer's complaints. The hash keeps numbers out
of sight and out of exports; it is no protection against someone who holds the file and
tries every phone number.

Writes are idempotent: rows are replaced by key (``id``, ``survey_id``) inside one
transaction, so re-running a job duplicates nothing.

DuckDB lets one process write a file or any number of processes read it, never both at
once. So the explorer and ``classify`` jobs hold the file only for the length of one query
or one chunk (``hold=False``), and opening waits a while for another process's lock; every
write changes the file, which is how the explorer knows its cached results are stale
(:meth:`ResultsStore.change_token`).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import unicodedata
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from tousu.analysis.satisfaction import MISSING_GROUP, REPEAT_YES, SCORE_RANGES, TOTAL_LABEL
from tousu.nlp.clean import mask_pii, to_halfwidth
from tousu.nlp.tables import KNOWN_ID_COLUMNS

FORMAT = "tousu-results"
SCHEMA_VERSION = 3
# How long opening waits for another process (a job, another explorer) to let go of the file.
LOCK_WAIT_S = 60.0
REPEAT_NO = {"否", "n", "no", "0", "0.0", "false", "f", "不重复"}
CLASSIFICATION_COLUMNS = ("category", "category_name", "confidence", "categories", "topic_id", "topic_label")

# Role → headers that carry it (compared stripped and case-insensitively); the role's own
# name is always accepted too.
COMPLAINT_ROLES = {
    "customer_id": ("客户号", "客户ID", "客户编号", "用户号码", "customer"),
    "created_at": ("受理时间", "创建时间", "投诉时间", "created"),
    "responded_at": ("首次响应时间", "响应时间", "responded"),
    "resolved_at": ("办结时间", "结案时间", "解决时间", "resolved"),
    "province": ("省份", "省"),
    "channel": ("渠道", "受理渠道"),
    "segment": ("客户类型", "客户群", "用户类型"),
    "repeat": ("重复投诉", "是否重复"),
}
MASKED_ROLES = ("province", "channel", "segment", "touchpoint")
SURVEY_ROLES = {
    "survey_id": ("问卷号", "问卷编号", "问卷ID"),
    "ticket_id": ("工单号", "工单编号"),
    "customer_id": COMPLAINT_ROLES["customer_id"],
    "touchpoint": ("触点", "调查触点"),
    "surveyed_at": ("调查时间", "回访时间", "问卷时间"),
    "csat": ("CSAT", "满意度"),
    "nps": ("NPS", "推荐度"),
}
TIME_COLUMNS = ("created_at", "responded_at", "resolved_at", "surveyed_at")
# Columns the explorer may group, filter or list by; query helpers accept no others.
GROUP_COLUMNS = ("category", "category_name", "topic_label", "topic_id", "province", "channel", "segment",
                 "model_version", "source_file")
LISTABLE_COLUMNS = {"id", "customer_id", "text", "created_at", "responded_at", "resolved_at", "repeat",
                    "confidence", "categories", "loaded_at", "extra", *GROUP_COLUMNS}
# Columns joined_scores can add to each response's scores.
JOINED_COLUMNS = ("survey_id", "touchpoint", "category", "category_name", "topic_label", "province", "channel",
                  "segment")
FREQ_UNITS = {"D": "day", "W": "week", "M": "month", "Q": "quarter"}

# Each survey response resolved to the complaint it rates, by the rule of `tousu link`. By ticket:
# an empty key is the baseline, and a ticket that matches no complaint is an export gap, left
# out. By customer: the customer's earliest complaint, as tousu link keeps the first; a customer
# with no complaint in the store filed none, so an empty or unknown customer is the baseline; and
# only a customer's earliest answer counts, as tousu link keeps the first answer.
# Every score filter reads it, so the earliest complaints are found with a grouped arg_min, and
# only for customers whom a survey names: a window over all complaints cost 70 ms a query.
_SURVEY_LINKS = """
WITH first_complaint AS (
    SELECT customer_id, arg_min(id, (created_at IS NULL, coalesce(created_at, TIMESTAMP '9999-12-31'), id)) AS id
    FROM complaints WHERE customer_id IN (SELECT customer_id FROM surveys WHERE linked_by = 'customer_id')
    GROUP BY customer_id),
first_answer AS (
    SELECT arg_min(survey_id, (surveyed_at IS NULL, coalesce(surveyed_at, TIMESTAMP '9999-12-31'), survey_id))
           AS survey_id
    FROM surveys WHERE linked_by = 'customer_id' AND customer_id IS NOT NULL GROUP BY customer_id)
SELECT s.*,
       CASE WHEN s.linked_by = 'customer_id' THEN f.id ELSE c.id END AS complaint_id,
       CASE WHEN s.linked_by = 'customer_id' THEN f.id IS NULL ELSE s.ticket_id IS NULL END AS is_baseline
FROM surveys s
LEFT JOIN first_complaint f ON s.linked_by = 'customer_id' AND f.customer_id = s.customer_id
LEFT JOIN complaints c ON s.linked_by = 'ticket_id' AND c.id = s.ticket_id
WHERE s.linked_by = 'ticket_id' OR s.customer_id IS NULL OR s.survey_id IN (SELECT survey_id FROM first_answer)"""
_SCHEMA = """
CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE complaints (
    id VARCHAR PRIMARY KEY, customer_id VARCHAR, text VARCHAR,
    created_at TIMESTAMP, responded_at TIMESTAMP, resolved_at TIMESTAMP,
    province VARCHAR, channel VARCHAR, segment VARCHAR, "repeat" BOOLEAN,
    category VARCHAR, category_name VARCHAR, confidence DOUBLE, categories VARCHAR,
    topic_id INTEGER, topic_label VARCHAR,
    model_version VARCHAR, source_file VARCHAR, loaded_at TIMESTAMP, extra JSON);
CREATE TABLE surveys (
    survey_id VARCHAR PRIMARY KEY, ticket_id VARCHAR, customer_id VARCHAR, linked_by VARCHAR,
    touchpoint VARCHAR, surveyed_at TIMESTAMP, csat DOUBLE, nps DOUBLE,
    source_file VARCHAR, loaded_at TIMESTAMP, extra JSON);
CREATE TABLE topics (
    model_version VARCHAR, topic_id INTEGER, topic_label VARCHAR, size BIGINT, share DOUBLE,
    top_words VARCHAR, category VARCHAR, category_name VARCHAR, x DOUBLE, y DOUBLE, merged_into INTEGER,
    PRIMARY KEY (model_version, topic_id));
CREATE TABLE model_versions (
    model_version VARCHAR PRIMARY KEY, name VARCHAR, version VARCHAR, created TIMESTAMP, mode VARCHAR,
    taxonomy VARCHAR, embedder VARCHAR, metrics JSON, parent VARCHAR, recorded_at TIMESTAMP);
CREATE TABLE category_corrections (
    id VARCHAR, old_category VARCHAR, new_category VARCHAR, new_category_name VARCHAR,
    corrected_at TIMESTAMP, note VARCHAR, saved_in VARCHAR);
CREATE TABLE topic_edits (
    model_version VARCHAR, topic_id INTEGER, new_label VARCHAR, merged_into INTEGER, edited_at TIMESTAMP,
    PRIMARY KEY (model_version, topic_id));
-- Sentence vectors of the complaint texts for the similar-complaint search, int8 per component
-- (scaled by the vector's largest component: cosine similarity is unchanged to ~1e-3).
CREATE TABLE embeddings (id VARCHAR PRIMARY KEY, embedder VARCHAR, vector BLOB);
CREATE VIEW survey_links AS """ + _SURVEY_LINKS + ";"


class StoreError(ValueError):
    """A results store that cannot be opened or used; the message names the file."""


@dataclass(frozen=True)
class Filters:
    """What the explorer's sidebar selects; empty fields do not filter.

    Dates are inclusive calendar days of ``created_at``. ``csat`` and ``nps`` keep complaints
    with a linked survey whose scores lie in the (inclusive) ranges, both in the same survey.
    ``keyword`` is a plain substring of the masked text (no wildcards).
    """

    start: date | None = None
    end: date | None = None
    categories: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    provinces: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    csat: tuple[float, float] | None = None
    keyword: str = ""
    nps: tuple[float, float] | None = None

    def score_condition(self, alias: str = "l") -> tuple[str, list]:
        """The score ranges as a SQL condition on survey responses (as ``alias``); "" when none."""
        clauses, params = [], []
        for column, bounds in (("csat", self.csat), ("nps", self.nps)):
            if bounds is not None:
                clauses.append(f"{alias}.{column} BETWEEN ? AND ?")
                params.extend([float(bounds[0]), float(bounds[1])])
        return " AND ".join(clauses), params

    def where(self, alias: str = "c") -> tuple[str, list]:
        """A SQL condition on the complaints table (as ``alias``) and its bound parameters."""
        clauses, params = [], []
        if self.start is not None:
            clauses.append(f"{alias}.created_at >= ?")
            params.append(datetime.combine(self.start, datetime.min.time()))
        if self.end is not None:
            clauses.append(f"{alias}.created_at < ?")
            params.append(datetime.combine(self.end + timedelta(days=1), datetime.min.time()))
        for column, values in (("category", self.categories), ("topic_label", self.topics),
                               ("province", self.provinces), ("channel", self.channels),
                               ("segment", self.segments)):
            if values:
                named = [v for v in values if v != MISSING_GROUP]
                condition = f"{alias}.{column} IN ({', '.join('?' * len(named))})" if named else "FALSE"
                if MISSING_GROUP in values:
                    condition = f"({condition} OR {alias}.{column} IS NULL)"
                clauses.append(condition)
                params.extend(named)
        scores, score_params = self.score_condition("l")
        if scores:
            clauses.append(f"{alias}.id IN (SELECT l.complaint_id FROM survey_links l WHERE {scores})")
            params.extend(score_params)
        if self.keyword:
            clauses.append(f"contains({alias}.text, ?)")
            params.append(self.keyword)
        return (" AND ".join(clauses) or "TRUE"), params


def model_version_key(model_dir: str | Path) -> str:
    """How a model version is named in the store: its directory, made absolute."""
    return str(Path(model_dir).resolve())


def vector_space(manifest: dict) -> str:
    """The name of the space a model's sentence vectors (``ComplaintModel.embed``) live in:
    the embedder, and when the model centres its vectors, the training data it centred on.
    Vectors are comparable only within one space."""
    embedder = manifest.get("embedder", {})
    name = embedder.get("name") or embedder.get("spec") or "?"
    if not embedder.get("center"):
        return name
    return f"{name}, centred on data {manifest.get('data', {}).get('data_sha256', '?')[:16]}"


def detect_roles(columns, roles: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """{role: input column} for the columns whose header names a role."""
    by_name = {str(c).strip().lower(): c for c in columns}
    found: dict[str, str] = {}
    for role, names in roles.items():
        for name in (role, *names):
            column = by_name.get(name.lower())
            if column is not None and column not in found.values():
                found[role] = column
                break
    return found


def pca_2d(vectors: np.ndarray) -> np.ndarray:
    """The first two principal components of ``vectors`` (rows), signs fixed for stable maps."""
    vectors = np.asarray(vectors, dtype=float)
    coordinates = np.zeros((len(vectors), 2))
    if len(vectors) < 2:
        return coordinates
    centered = vectors - vectors.mean(axis=0)
    _, _, components = np.linalg.svd(centered, full_matrices=False)
    projected = centered @ components[:2].T
    for k in range(projected.shape[1]):
        if projected[np.abs(projected[:, k]).argmax(), k] < 0:
            projected[:, k] *= -1
        coordinates[:, k] = projected[:, k]
    return coordinates


class _SharedOrExclusive:
    """Many readers or one writer. DuckDB refuses to open a file read-only and read-write at
    the same time in one process, so the explorer's sessions (threads) take turns."""

    def __init__(self):
        self._condition = threading.Condition()
        self._readers = 0
        self._writing = False

    @contextmanager
    def shared(self):
        with self._condition:
            self._condition.wait_for(lambda: not self._writing)
            self._readers += 1
        try:
            yield
        finally:
            with self._condition:
                self._readers -= 1
                self._condition.notify_all()

    @contextmanager
    def exclusive(self):
        with self._condition:
            self._condition.wait_for(lambda: not self._writing and not self._readers)
            self._writing = True
        try:
            yield
        finally:
            with self._condition:
                self._writing = False
                self._condition.notify_all()


_FILE_LOCKS: dict[Path, _SharedOrExclusive] = {}
_FILE_LOCKS_GUARD = threading.Lock()


def _file_lock(path: Path) -> _SharedOrExclusive:
    with _FILE_LOCKS_GUARD:
        return _FILE_LOCKS.setdefault(path.resolve(), _SharedOrExclusive())


def _is_busy(error: duckdb.Error) -> bool:
    """Another process holds the file, or this one has it open with other settings."""
    message = str(error).lower()
    return "lock" in message or "different configuration" in message


class ResultsStore:
    """A tousu results store in a DuckDB file (created when missing).

    hold: keep one connection open until :meth:`close` (use as a context manager): for a
        job that writes and is done, or a script. With ``hold=False`` every call opens the
        file, does its work and closes it again, reading read-only, so that other processes
        can write between two calls: the explorer, and ``classify`` jobs (between chunks).
        :meth:`reading` keeps one read-only connection for a block of queries.
    wait_s: how long opening waits while another process has the file.

    One store object may be shared by threads (the explorer's sessions): every operation
    runs on its own cursor or connection.

    Raises :class:`StoreError` when the file is not a DuckDB database, is a DuckDB database
    that tousu did not write, was written by a newer tousu, or stays locked by another process.
    A store written by an older tousu is upgraded when it is opened for writing.
    """

    def __init__(self, path: str | Path, read_only: bool = False, hold: bool = True, wait_s: float = LOCK_WAIT_S):
        self.path = Path(path)
        self.read_only = read_only
        self.wait_s = wait_s
        if read_only and not self.path.is_file():
            raise StoreError(f"{self.path}: no such results store; create one with `tousu classify --store` "
                             "or `tousu demo`")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:  # e.g. a file where a folder should be
            raise StoreError(f"{self.path}: cannot make its folder ({error})") from None
        self._lock = _file_lock(self.path)
        self._local = threading.local()
        self._connection = None
        connection = self._open(read_only)
        try:
            self._check_or_create(connection, read_only)
        except BaseException:
            connection.close()
            raise
        if hold:
            self._connection = connection
        else:
            connection.close()

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _open(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + self.wait_s
        pause = 0.05
        while True:
            try:
                return duckdb.connect(str(self.path), read_only=read_only)
            except duckdb.Error as error:
                if not _is_busy(error):
                    raise StoreError(f"{self.path}: cannot open as a results store ({error})") from None
                if time.monotonic() >= deadline:
                    raise StoreError(
                        f"{self.path}: another process (a running `--store` job, or an explorer saving an edit) "
                        f"has kept it open for {self.wait_s:.0f} s; try again when it has finished ({error})"
                    ) from None
                time.sleep(pause)
                pause = min(pause * 2, 1.0)

    def _check_or_create(self, connection, read_only: bool) -> None:
        tables = {name for (name,) in connection.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_catalog = current_database() AND table_schema = 'main'").fetchall()}
        if not tables:
            if read_only:
                raise StoreError(f"{self.path}: an empty database, not a tousu results store")
            with _transaction(connection) as cursor:
                cursor.execute(_SCHEMA)
                cursor.executemany("INSERT INTO meta VALUES (?, ?)", [
                    ("format", FORMAT), ("schema_version", str(SCHEMA_VERSION)), ("revision", "0"),
                    ("created", datetime.now(timezone.utc).isoformat(timespec="seconds")),
                    ("customer_key", secrets.token_hex(32))])
            return
        meta = dict(connection.execute("SELECT key, value FROM meta").fetchall()) if "meta" in tables else {}
        if meta.get("format") != FORMAT:
            raise StoreError(f"{self.path}: a DuckDB database but not a tousu results store "
                             f"(its tables: {', '.join(sorted(tables))}); choose another --store file")
        version = int(meta.get("schema_version", 0))
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.path}: written by a newer tousu (store schema {version}; this tousu reads "
                             f"up to {SCHEMA_VERSION}); upgrade tousu")
        if version == SCHEMA_VERSION:
            return
        if version not in _UPGRADES:
            raise StoreError(f"{self.path}: store schema {version} is older than this tousu's "
                             f"({SCHEMA_VERSION}); rebuild it with `tousu classify --store`")
        if read_only:
            raise StoreError(f"{self.path}: store schema {version} predates this tousu's ({SCHEMA_VERSION}); "
                             "`tousu explore --store` or any `--store` job upgrades it")
        with _transaction(connection) as cursor:
            for step in range(version, SCHEMA_VERSION):
                _UPGRADES[step](cursor)
            cursor.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(SCHEMA_VERSION)])

    # ----- plumbing -----
    @contextmanager
    def _connected(self, write: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """The held connection, this thread's :meth:`reading` one, or one opened for this call."""
        if self._connection is not None:
            yield self._connection
            return
        reading = getattr(self._local, "connection", None)
        if reading is not None:
            if write:  # waiting for the write lock would wait for ourselves
                raise RuntimeError("a write inside ResultsStore.reading()")
            yield reading
            return
        if write and self.read_only:
            raise StoreError(f"{self.path}: opened read-only")
        with self._lock.exclusive() if write else self._lock.shared():
            connection = self._open(read_only=not write)
            try:
                yield connection
            finally:
                connection.close()

    @contextmanager
    def reading(self) -> Iterator[ResultsStore]:
        """Run the block's queries on one read-only connection (opening costs ~30 ms)."""
        if self._connection is not None or getattr(self._local, "connection", None) is not None:
            yield self
            return
        with self._connected() as connection:
            self._local.connection = connection
            try:
                yield self
            finally:
                self._local.connection = None

    @contextmanager
    def _transaction(self):
        with self._connected(write=True) as connection, _transaction(connection) as cursor:
            yield cursor

    def query(self, sql: str, params: list | None = None) -> pd.DataFrame:
        """Run a read-only SQL query with bound parameters; the result as a DataFrame."""
        with self._connected() as connection, connection.cursor() as cursor:
            return cursor.execute(sql, params or []).df()

    def _scalar(self, sql: str, params: list | None = None):
        with self._connected() as connection, connection.cursor() as cursor:
            rows = cursor.execute(sql, params or []).fetchall()
        return rows[0][0] if rows else None

    def revision(self) -> int:
        """A number that grows with every write."""
        return int(self._scalar("SELECT value FROM meta WHERE key = 'revision'"))

    def change_token(self) -> tuple:
        """Changes whenever the store's content may have changed, from any process; costs a
        ``stat``, not an open (the explorer's cache key). DuckDB appends each commit to the
        file's write-ahead log and folds the log into the file when the writer closes."""
        token = []
        for path in (self.path, self.path.with_name(self.path.name + ".wal")):
            try:
                info = path.stat()
                token += [info.st_mtime_ns, info.st_size]
            except FileNotFoundError:
                token += [0, 0]
        return tuple(token)

    # ----- writing -----
    def upsert_complaints(self, table: pd.DataFrame, text_column: str, id_column: str | None = None,
                          model_version: str | None = None, source_file: str | None = None,
                          vectors: np.ndarray | None = None, embedder: str | None = None) -> int:
        """Insert or replace complaints by id; returns the number of rows written.

        table: one chunk of ``tousu classify`` output (input columns + classification
            columns); ``text_column`` holds the cleaned text (masked again here all the same).
        vectors: the texts' sentence vectors (one row per table row) from ``embedder``, for
            the similar-complaint search; without them a replaced complaint loses its vector.
        Earlier category corrections of these ids are applied again, so re-classifying
        does not undo an analyst's correction.
        """
        frame = _canonical_complaints(table, text_column, id_column, model_version, source_file, self._key())
        if frame.empty:
            return 0
        with self._transaction() as cursor:
            cursor.register("incoming", frame)
            cursor.execute("DELETE FROM complaints WHERE id IN (SELECT id FROM incoming)")
            cursor.execute("INSERT INTO complaints BY NAME SELECT * FROM incoming")
            cursor.execute("""
                UPDATE complaints SET category = k.new_category, category_name = k.new_category_name
                FROM (SELECT * FROM category_corrections WHERE id IN (SELECT id FROM incoming)
                      QUALIFY row_number() OVER (PARTITION BY id ORDER BY corrected_at DESC) = 1) k
                WHERE complaints.id = k.id""")
            cursor.execute("DELETE FROM embeddings WHERE id IN (SELECT id FROM incoming)")
            cursor.unregister("incoming")
            if vectors is not None:
                kept = np.asarray(vectors)[frame.index.to_numpy()]
                cursor.register("incoming_vectors", pd.DataFrame({
                    "id": frame["id"].to_numpy(), "embedder": embedder, "vector": quantized(kept)}))
                cursor.execute("INSERT INTO embeddings BY NAME SELECT * FROM incoming_vectors")
                cursor.unregister("incoming_vectors")
        return len(frame)

    def upsert_surveys(self, table: pd.DataFrame, key_column: str = "工单号", source_file: str | None = None) -> int:
        """Insert or replace survey responses by survey id; returns the number of rows written.

        key_column: the column that links a response to complaints, as given to
            ``tousu link --key``: a ticket column (``工单号``) or a customer column (``客户号``).
            Respondents without complaint (the baseline) are those with an empty key and, by
            customer, those whose customer has no complaint in the store; by customer only
            each customer's earliest answer counts (see :data:`_SURVEY_LINKS`).
        Without a survey id column (``问卷号``), a stable id is derived from the row's content.
        Repeated survey ids keep their first row, as ``tousu link`` does.
        """
        frame = _canonical_surveys(table, key_column, source_file, self._key())
        with self._transaction() as cursor:
            cursor.register("incoming", frame)
            cursor.execute("DELETE FROM surveys WHERE survey_id IN (SELECT survey_id FROM incoming)")
            cursor.execute("INSERT INTO surveys BY NAME SELECT * FROM incoming")
            cursor.unregister("incoming")
        return len(frame)

    def _key(self) -> bytes:
        """The store's secret for hashing customer ids (made with the store, never changed)."""
        if getattr(self, "_customer_key", None) is None:
            self._customer_key = bytes.fromhex(self._scalar("SELECT value FROM meta WHERE key = 'customer_key'"))
        return self._customer_key

    def record_model(self, model_dir: str | Path, manifest: dict | None = None, topic_model=None) -> str:
        """Record a model version and its topics (with a 2-D map); returns the version key.

        topic_model: the model's :class:`tousu.models.topics.TopicModel` if already loaded; else it
            is loaded from ``model_dir/topics`` when the model has topics.
        """
        from tousu.models.store import read_manifest

        key = model_version_key(model_dir)
        manifest = manifest if manifest is not None else read_manifest(model_dir, verify=False)
        if topic_model is None and (Path(model_dir) / "topics").is_dir():
            from tousu.models.topics import TopicModel

            topic_model = TopicModel.load(Path(model_dir) / "topics")
        taxonomy = manifest.get("taxonomy", {})
        created = pd.Timestamp(manifest["created"]) if manifest.get("created") else None
        row = pd.DataFrame([{
            "model_version": key, "name": manifest.get("name"), "version": manifest.get("version"),
            "created": created.tz_convert(None) if created is not None and created.tzinfo else created,
            "mode": manifest.get("mode"), "taxonomy": f"{taxonomy.get('name', '')} v{taxonomy.get('version', '')}",
            "embedder": manifest.get("embedder", {}).get("name"),
            "metrics": json.dumps(manifest.get("metrics", {}), ensure_ascii=False),
            "parent": manifest.get("parent"), "recorded_at": pd.Timestamp.now(),
        }])
        topics = _topic_rows(key, topic_model) if topic_model is not None else None
        with self._transaction() as cursor:
            cursor.register("incoming", row)
            cursor.execute("INSERT OR REPLACE INTO model_versions BY NAME SELECT * FROM incoming")
            cursor.unregister("incoming")
            cursor.execute("DELETE FROM topics WHERE model_version = ?", [key])
            if topics is not None and len(topics):
                cursor.register("incoming_topics", topics)
                cursor.execute("INSERT INTO topics BY NAME SELECT * FROM incoming_topics")
                cursor.unregister("incoming_topics")
        return key

    def correct_category(self, complaint_id: str, new_category: str, new_category_name: str | None = None,
                         note: str = "") -> None:
        """Set a complaint's category and log the correction (kept for retraining)."""
        current = self.query("SELECT category FROM complaints WHERE id = ?", [complaint_id])
        if current.empty:
            raise StoreError(f"{self.path}: no complaint with id {complaint_id!r}")
        old = current["category"].iloc[0]
        name = new_category_name or new_category
        with self._transaction() as cursor:
            cursor.execute("INSERT INTO category_corrections (id, old_category, new_category, new_category_name, "
                           "corrected_at, note) VALUES (?, ?, ?, ?, ?, ?)",
                           [complaint_id, old, new_category, name, datetime.now(), note])
            cursor.execute("UPDATE complaints SET category = ?, category_name = ? WHERE id = ?",
                           [new_category, name, complaint_id])

    def edit_topic(self, model_version: str, topic_id: int, new_label: str | None = None,
                   merged_into: int | None = None) -> None:
        """Record a pending rename or merge of a topic; applied by saving a new model version."""
        with self._transaction() as cursor:
            cursor.execute("INSERT OR REPLACE INTO topic_edits VALUES (?, ?, ?, ?, ?)",
                           [model_version, int(topic_id), new_label or None,
                            None if merged_into is None else int(merged_into), datetime.now()])

    def discard_topic_edits(self, model_version: str) -> None:
        with self._transaction() as cursor:
            cursor.execute("DELETE FROM topic_edits WHERE model_version = ?", [model_version])

    def move_to_version(self, old_version: str, new_version: str, topic_ids: dict[int, int],
                        labels: dict[int, str]) -> int:
        """Point the complaints classified by ``old_version`` at ``new_version``, whose topics
        differ only by renames and merges (``topic_ids`` old → new id, ``labels`` new id →
        label); clears the applied topic edits and marks the pending category corrections as
        saved in ``new_version``. Returns the number of complaints moved."""
        mapping = pd.DataFrame({"old_id": pd.Series(list(topic_ids), dtype="int64"),
                                "new_id": pd.Series(list(topic_ids.values()), dtype="int64")})
        mapping["label"] = mapping["new_id"].map(labels).astype(object)
        with self._transaction() as cursor:
            # fetchall: DuckDB refuses other work on a cursor while a result is unfinished.
            (moved,), = cursor.execute("SELECT count(*) FROM complaints WHERE model_version = ?",
                                       [old_version]).fetchall()
            if len(mapping):
                cursor.register("mapping", mapping)
                cursor.execute("""
                    UPDATE complaints SET topic_id = m.new_id, topic_label = m.label
                    FROM mapping m WHERE complaints.model_version = ? AND complaints.topic_id = m.old_id""",
                               [old_version])
                cursor.unregister("mapping")
            cursor.execute("UPDATE complaints SET model_version = ? WHERE model_version = ?",
                           [new_version, old_version])
            cursor.execute("DELETE FROM topic_edits WHERE model_version = ?", [old_version])
            cursor.execute("UPDATE category_corrections SET saved_in = ? WHERE saved_in IS NULL", [new_version])
        return int(moved)

    # ----- reading: for the explorer -----
    def count(self, filters: Filters = Filters()) -> int:
        where, params = filters.where()
        return int(self._scalar(f"SELECT count(*) FROM complaints c WHERE {where}", params))

    def counts_by(self, column: str, filters: Filters = Filters()) -> pd.DataFrame:
        """``group``, ``count`` (and ``group_name`` for categories) of the filtered complaints,
        largest first; empty values are the group ``(缺失)``."""
        _check_column(column)
        where, params = filters.where()
        name = ", any_value(c.category_name) AS group_name" if column == "category" else ""
        return self.query(
            f"SELECT coalesce(CAST(c.{column} AS VARCHAR), ?) AS \"group\", count(*) AS count{name} "
            f"FROM complaints c WHERE {where} GROUP BY 1 ORDER BY count DESC, \"group\"",
            [MISSING_GROUP, *params])

    def cross_counts(self, row: str, column: str, filters: Filters = Filters()) -> pd.DataFrame:
        """Filtered complaints counted by two columns: ``row``, ``column``, ``count``."""
        _check_column(row)
        _check_column(column)
        where, params = filters.where()
        return self.query(
            f"SELECT coalesce(CAST(c.{row} AS VARCHAR), ?) AS {row}, coalesce(CAST(c.{column} AS VARCHAR), ?) "
            f"AS {column}, count(*) AS count FROM complaints c WHERE {where} GROUP BY 1, 2 ORDER BY count DESC",
            [MISSING_GROUP, MISSING_GROUP, *params])

    def period_counts(self, column: str | None, freq: str = "W", filters: Filters = Filters()) -> pd.DataFrame:
        """Complaints per period (its first day) and group of ``column``: ``period``, ``group``,
        ``count``, only the combinations that occur (complete the grid before comparing)."""
        if freq not in FREQ_UNITS:
            raise ValueError(f"freq must be one of {', '.join(FREQ_UNITS)}, not {freq!r}")
        if column is not None:
            _check_column(column)
        group = f"coalesce(CAST(c.{column} AS VARCHAR), ?)" if column else "?"
        where, params = filters.where()
        return self.query(
            f"SELECT date_trunc(?, c.created_at) AS period, {group} AS \"group\", count(*) AS count "
            f"FROM complaints c WHERE c.created_at IS NOT NULL AND {where} GROUP BY 1, 2 ORDER BY 1, 2",
            [FREQ_UNITS[freq], MISSING_GROUP if column else TOTAL_LABEL, *params])

    def complaints(self, filters: Filters = Filters(), limit: int | None = 100, offset: int = 0,
                   columns: tuple[str, ...] | None = None) -> pd.DataFrame:
        """The filtered complaints, newest first."""
        selected = "c.*" if columns is None else ", ".join(f"c.{_checked_column(c)}" for c in columns)
        where, params = filters.where()
        page = "" if limit is None else f" LIMIT {int(limit)} OFFSET {int(offset)}"
        return self.query(f"SELECT {selected} FROM complaints c WHERE {where} "
                          f"ORDER BY c.created_at DESC NULLS LAST, c.id{page}", params)

    def kpis(self, filters: Filters = Filters()) -> pd.DataFrame:
        """Handling KPIs per category and overall (last row, ``(全部)``), computed in DuckDB with
        the definitions of :func:`tousu.analysis.satisfaction.kpis` (no escalation rate): ``group``,
        ``n``, ``responded_24h_share``, ``resolved_48h_share``, ``open_share``,
        ``median_response_h``, ``median_resolution_h``, ``repeat_rate``, ``bad_timestamps``.

        A time the store could not parse is NULL here, so it counts as not responded or still
        open, as an empty one does."""
        where, params = filters.where()
        return self.query(f"""
            WITH k AS (
                SELECT coalesce(c.category, ?) AS "group", c.created_at IS NOT NULL AS dated,
                       c.responded_at IS NULL AS unresponded, c.resolved_at IS NULL AS unresolved,
                       (epoch_us(c.responded_at) - epoch_us(c.created_at)) / 3.6e9 AS response_h,
                       (epoch_us(c.resolved_at) - epoch_us(c.created_at)) / 3.6e9 AS resolution_h,
                       CAST(c."repeat" AS DOUBLE) AS repeat_flag
                FROM complaints c WHERE {where})
            SELECT CASE WHEN grouping("group") = 1 THEN ? ELSE "group" END AS "group", count(*) AS n,
                   avg(CASE WHEN NOT dated OR response_h < 0 THEN NULL WHEN unresponded THEN 0.0
                            ELSE CAST(response_h <= 24 AS DOUBLE) END) AS responded_24h_share,
                   avg(CASE WHEN NOT dated OR resolution_h < 0 THEN NULL WHEN unresolved THEN 0.0
                            ELSE CAST(resolution_h <= 48 AS DOUBLE) END) AS resolved_48h_share,
                   avg(CAST(unresolved AS DOUBLE)) AS open_share,
                   median(response_h) FILTER (WHERE response_h >= 0) AS median_response_h,
                   median(resolution_h) FILTER (WHERE resolution_h >= 0) AS median_resolution_h,
                   avg(repeat_flag) AS repeat_rate,
                   sum(CAST(NOT dated OR coalesce(response_h < 0, FALSE) OR coalesce(resolution_h < 0, FALSE)
                            AS BIGINT)) AS bad_timestamps
            FROM k GROUP BY GROUPING SETS (("group"), ())
            ORDER BY grouping("group"), n DESC, "group"
            """, [MISSING_GROUP, *params, TOTAL_LABEL])

    def score_summary(self, filters: Filters = Filters()) -> dict:
        """``responses``, mean ``csat`` and ``nps`` (points) of the survey responses that rate
        the filtered complaints (the baseline left out), computed in DuckDB."""
        where, params = filters.where()
        scores, score_params = filters.score_condition("l")
        with self._connected() as connection, connection.cursor() as cursor:
            (responses, csat, nps), = cursor.execute(f"""
                SELECT count(*), avg(l.csat),
                       100.0 * (count(*) FILTER (WHERE l.nps >= 9) - count(*) FILTER (WHERE l.nps <= 6))
                       / nullif(count(l.nps), 0)
                FROM survey_links l JOIN complaints c ON c.id = l.complaint_id
                WHERE {where}{f" AND {scores}" if scores else ""}""", params + score_params).fetchall()
        return {"responses": int(responses), "csat": csat, "nps": nps}

    def joined_scores(self, filters: Filters = Filters(), columns: tuple[str, ...] = JOINED_COLUMNS) -> pd.DataFrame:
        """Survey responses joined to the filtered complaints they rate, plus the baseline
        (respondents without complaint), with only the columns the statistics need: ``CSAT``,
        ``NPS``, ``has_complaint`` and ``columns`` (of :data:`JOINED_COLUMNS`: by default the
        response's ``survey_id``, ``touchpoint`` and the complaint's ``category``,
        ``category_name``, ``topic_label``, ``province``, ``channel``, ``segment``).
        Left out, as in ``tousu link``: responses whose ticket matches no complaint and a
        customer's later answers (a customer with no complaint is in the baseline); and the
        responses outside the filters' score ranges."""
        unknown = set(columns) - set(JOINED_COLUMNS)
        if unknown:
            raise ValueError(f"joined_scores: no column {', '.join(sorted(unknown))}")
        where, params = filters.where()
        scores, score_params = filters.score_condition("l")
        survey_side = {"survey_id", "touchpoint"}
        selected = "".join(f", {'l' if column in survey_side else 'c'}.{column}" for column in columns)
        complaint_columns = "".join(f", c.{column}" for column in columns if column not in survey_side)
        return self.query(f"""
            WITH c AS (SELECT c.id{complaint_columns} FROM complaints c WHERE {where})
            SELECT l.csat AS "CSAT", l.nps AS "NPS", c.id IS NOT NULL AS has_complaint{selected}
            FROM survey_links l LEFT JOIN c ON c.id = l.complaint_id
            WHERE (l.is_baseline OR c.id IS NOT NULL){f" AND {scores}" if scores else ""}
            ORDER BY l.survey_id""", params + score_params)

    def vectors(self, embedder: str, filters: Filters = Filters()) -> tuple[np.ndarray, np.ndarray]:
        """(ids, int8 sentence vectors, one row each) of the filtered complaints that have a
        vector from ``embedder``; cosine similarity on them is that of the original vectors."""
        where, params = filters.where()
        with self._connected() as connection, connection.cursor() as cursor:
            found = cursor.execute(
                f"SELECT e.id, e.vector FROM embeddings e JOIN complaints c USING (id) "
                f"WHERE e.embedder = ? AND {where} ORDER BY e.id", [embedder, *params]).fetchnumpy()
        ids = np.asarray(found["id"], dtype=object)
        if not len(ids):
            return ids, np.zeros((0, 0), dtype=np.int8)
        return ids, np.frombuffer(b"".join(found["vector"]), dtype=np.int8).reshape(len(ids), -1)

    def date_bounds(self) -> tuple[date | None, date | None]:
        with self._connected() as connection, connection.cursor() as cursor:
            (low, high), = cursor.execute("SELECT min(created_at), max(created_at) FROM complaints").fetchall()
        return (low.date() if low else None, high.date() if high else None)

    def distinct(self, column: str) -> list[str]:
        """The distinct non-empty values of a complaint column, as text, sorted."""
        _check_column(column)
        return self.query(f"SELECT DISTINCT CAST({column} AS VARCHAR) AS v FROM complaints "
                          f"WHERE {column} IS NOT NULL ORDER BY v")["v"].tolist()

    def category_names(self) -> dict[str, str]:
        """{category code: name} as the complaints carry them."""
        table = self.query("SELECT category, any_value(category_name) AS name FROM complaints "
                           "WHERE category IS NOT NULL GROUP BY 1 ORDER BY 1")
        return dict(zip(table["category"], table["name"].fillna(table["category"])))

    def complaints_by_id(self, ids: tuple[str, ...], columns: tuple[str, ...] | None = None) -> pd.DataFrame:
        """The complaints with these ids, in the order given (unknown ids left out)."""
        selected = "c.*" if columns is None else ", ".join(f"c.{_checked_column(c)}" for c in columns)
        wanted = pd.DataFrame({"id": list(ids), "position": range(len(ids))})
        with self._connected() as connection, connection.cursor() as cursor:
            cursor.register("wanted", wanted)
            return cursor.execute(f"SELECT {selected} FROM complaints c JOIN wanted w USING (id) "
                                  "ORDER BY w.position").df()

    def complaint(self, complaint_id: str) -> dict | None:
        table = self.query("SELECT * FROM complaints WHERE id = ?", [complaint_id])
        return None if table.empty else table.iloc[0].to_dict()

    def has_surveys(self) -> bool:
        return bool(self._scalar("SELECT count(*) > 0 FROM surveys"))

    # ----- reading: models and edits -----
    def model_versions(self) -> pd.DataFrame:
        """Recorded model versions, most recently recorded first, with complaint counts."""
        return self.query("""
            SELECT m.*, (SELECT count(*) FROM complaints c WHERE c.model_version = m.model_version) AS complaints
            FROM model_versions m ORDER BY m.recorded_at DESC""")

    def current_model_version(self) -> str | None:
        """The model version recorded last (by a classify run or an edit)."""
        return self._scalar("SELECT model_version FROM model_versions ORDER BY recorded_at DESC LIMIT 1")

    def topics(self, model_version: str) -> pd.DataFrame:
        return self.query("SELECT * FROM topics WHERE model_version = ? ORDER BY size DESC, topic_id",
                          [model_version])

    def topic_edits(self, model_version: str) -> pd.DataFrame:
        return self.query("SELECT * FROM topic_edits WHERE model_version = ? ORDER BY topic_id", [model_version])

    def corrections(self, pending: bool = False) -> pd.DataFrame:
        """The latest category correction of each complaint, with its text: labels for retraining.

        pending: only complaints corrected since the last model version was saved (those a
            new version would add)."""
        condition = "WHERE id IN (SELECT id FROM category_corrections WHERE saved_in IS NULL)" if pending else ""
        return self.query(f"""
            SELECT k.id, c.text, k.new_category AS label, k.old_category, k.corrected_at, k.note
            FROM (SELECT * FROM category_corrections {condition}) k JOIN complaints c USING (id)
            QUALIFY row_number() OVER (PARTITION BY k.id ORDER BY k.corrected_at DESC) = 1
            ORDER BY k.corrected_at""")


@contextmanager
def _transaction(connection: duckdb.DuckDBPyConnection):
    """A transaction on its own cursor; moves ``meta.revision`` with the change."""
    cursor = connection.cursor()
    try:
        cursor.begin()
        yield cursor
        cursor.execute("UPDATE meta SET value = CAST(CAST(value AS BIGINT) + 1 AS VARCHAR) WHERE key = 'revision'")
        cursor.commit()
    except BaseException:
        cursor.rollback()
        raise
    finally:
        cursor.close()


def _upgrade_from_1(cursor) -> None:
    """Schema 1 → 2. Schema 1 kept customer ids and the province/channel/segment/touchpoint
    values as given, masked ``extra`` without normalising full-width digits, had no sentence
    vectors and did not record which saved version took up a category correction."""
    key = secrets.token_hex(32)
    cursor.execute("INSERT INTO meta VALUES ('customer_key', ?)", [key])
    cursor.execute("CREATE TABLE embeddings (id VARCHAR PRIMARY KEY, embedder VARCHAR, vector BLOB)")
    cursor.execute("ALTER TABLE category_corrections ADD COLUMN saved_in VARCHAR")
    # Saving a version took up every correction made before it.
    cursor.execute("""
        UPDATE category_corrections SET saved_in = (
            SELECT m.model_version FROM model_versions m
            WHERE m.parent IS NOT NULL AND m.recorded_at >= category_corrections.corrected_at
            ORDER BY m.recorded_at LIMIT 1)""")
    for table, id_column, roles in (("complaints", "id", ("customer_id", "province", "channel", "segment")),
                                    ("surveys", "survey_id", ("customer_id", "touchpoint"))):
        text = ", text" if table == "complaints" else ""
        rows = cursor.execute(f"SELECT {id_column}, {', '.join(roles)}, extra{text} FROM {table}").df()
        if rows.empty:
            continue
        fixed = pd.DataFrame({id_column: rows[id_column]})
        for role in roles:
            _role_values(fixed, role, rows[role], bytes.fromhex(key))
        fixed["extra"] = rows["extra"].map(lambda extra: json.dumps(
            {column: masked(value) if isinstance(value, str) else value
             for column, value in json.loads(extra).items()}, ensure_ascii=False)
            if isinstance(extra, str) else None)
        if text:  # `classify --no-mask` wrote texts unmasked into a schema 1 store
            fixed["text"] = rows["text"].map(lambda value: mask_pii(to_halfwidth(value))
                                             if isinstance(value, str) else value)
        cursor.register("fixed", fixed)
        assignments = ", ".join(f"{column} = f.{column}" for column in fixed.columns if column != id_column)
        cursor.execute(f"UPDATE {table} SET {assignments} FROM fixed f WHERE {table}.{id_column} = f.{id_column}")
        cursor.unregister("fixed")


def _upgrade_from_2(cursor) -> None:
    """Schema 2 → 3. Schema 2's survey links took only an empty customer id as the baseline and
    counted every answer of a customer, where `tousu link --key 客户号` also takes customers
    without complaint as the baseline and keeps each customer's first answer."""
    cursor.execute(f"CREATE OR REPLACE VIEW survey_links AS {_SURVEY_LINKS}")


# Schema version → the step to the next one.
_UPGRADES = {1: _upgrade_from_1, 2: _upgrade_from_2}


# ----------------------------------------------------------------------------- input → canonical rows
def _check_column(column: str) -> None:
    if column not in GROUP_COLUMNS:
        raise ValueError(f"cannot group or filter by {column!r}; use one of {', '.join(GROUP_COLUMNS)}")


def _checked_column(column: str) -> str:
    if column not in LISTABLE_COLUMNS:
        raise ValueError(f"no complaint column {column!r}")
    return f'"{column}"'


def _as_text(values: pd.Series) -> pd.Series:
    """Stripped text, None where empty (DuckDB reads None as NULL)."""
    text = values.astype("string").str.strip()
    keep = (text.notna() & (text != "")).fillna(False).astype(bool)
    return text.astype(object).where(keep, None)


def _unparsed(text: pd.Series, parsed: pd.Series) -> pd.Series:
    return text.where(parsed.isna() & text.notna(), None)


def _parse_times(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(naive timestamps, the raw text of values that are not times).

    The format is inferred from the first value (fast); the rest is parsed again one by one.
    Zone offsets are dropped, keeping the wall-clock time as written.
    """
    text = _as_text(values)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "could not infer format": the retry handles it
        parsed = pd.to_datetime(text, errors="coerce")
        retry = parsed.isna() & text.notna()
        if retry.any():
            parsed[retry] = pd.to_datetime(text[retry], errors="coerce", format="mixed")
    if parsed.dt.tz is not None:
        parsed = parsed.dt.tz_localize(None)
    return parsed, _unparsed(text, parsed)


def _parse_flags(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(True/False/<NA> repeat flags, the raw text of values that are neither)."""
    text = _as_text(values)
    lower = text.str.lower()
    flags = pd.Series(pd.NA, index=values.index, dtype="boolean")
    flags[lower.isin(REPEAT_YES).to_numpy()] = True
    flags[lower.isin(REPEAT_NO).to_numpy()] = False
    return flags, _unparsed(text, flags)


def _parse_scores(values: pd.Series, bounds: tuple[int, int]) -> tuple[pd.Series, pd.Series]:
    """(scores as floats, the raw text of values that are not numbers within ``bounds``)."""
    text = _as_text(values.astype("string").str.normalize("NFKC"))  # full-width digits too
    scores = pd.to_numeric(text, errors="coerce").astype(float)
    scores = scores.where(scores.between(*bounds))
    return scores, _unparsed(text, scores)


def masked(value: str) -> str:
    """``value`` PII-masked, full-width digits and letters normalised first (NFKC), as
    ``tousu clean`` does before masking."""
    return mask_pii(unicodedata.normalize("NFKC", value))


def pseudonym(value: str, key: bytes) -> str:
    """A customer id as stored: a keyed hash (HMAC-SHA256, 80 bits, base32: letters and the
    digits 2–7 only, so it never reads as a phone or card number). The same customer written
    in full- or half-width digits gets the same pseudonym."""
    digest = hmac.new(key, unicodedata.normalize("NFKC", value).strip().encode("utf-8"), hashlib.sha256).digest()
    return "c_" + base64.b32encode(digest[:10]).decode("ascii").lower()


def quantized(vectors: np.ndarray) -> list[bytes]:
    """Each vector as int8 bytes, scaled so its largest component is ±127."""
    vectors = np.asarray(vectors, dtype=np.float32)
    scale = np.abs(vectors).max(axis=1, keepdims=True)
    scale[scale == 0] = 1.0
    return [row.tobytes() for row in np.round(vectors / scale * 127).astype(np.int8)]


def _each_distinct(values: pd.Series, function) -> pd.Series:
    """``function`` of each non-empty text, computed once per distinct value."""
    text = _as_text(values)
    distinct = text.dropna().unique()
    return text.map(dict(zip(distinct, map(function, distinct)))).astype(object).where(text.notna(), None)


def _extra_json(table: pd.DataFrame, columns: list[str], unparsed: dict[str, pd.Series]) -> list[str | None]:
    """Per row, the other input columns (PII-masked) and unparseable values, as JSON."""
    parts = {column: _as_text(table[column]) for column in columns}
    parts |= {column: raw.astype(object).where(raw.notna(), None) for column, raw in unparsed.items()}
    if not parts:
        return [None] * len(table)
    frame = pd.DataFrame(parts, index=table.index)
    records = []
    for values in frame.itertuples(index=False, name=None):
        record = {column: masked(value) for column, value in zip(frame.columns, values) if value is not None}
        records.append(json.dumps(record, ensure_ascii=False) if record else None)
    return records


def _role_values(frame: pd.DataFrame, role: str, values: pd.Series, key: bytes) -> None:
    """A text role's column: customer ids hashed, the free-text roles masked."""
    if role == "customer_id":
        frame[role] = _each_distinct(values, lambda value: pseudonym(value, key))
    elif role in MASKED_ROLES:
        frame[role] = _each_distinct(values, masked)
    else:
        frame[role] = _as_text(values)


def _canonical_complaints(table: pd.DataFrame, text_column: str, id_column: str | None,
                          model_version: str | None, source_file: str | None, key: bytes) -> pd.DataFrame:
    if id_column is None:
        id_column = next((c for c in KNOWN_ID_COLUMNS if c in table.columns and c != text_column), None)
        if id_column is None:
            raise StoreError(f"no id column among {', '.join(map(str, table.columns))}; name it")
    for column in (text_column, id_column):
        if column not in table.columns:
            raise StoreError(f"no column {column!r} among {', '.join(map(str, table.columns))}")
    table = table.reset_index(drop=True)
    used = {text_column, id_column, *CLASSIFICATION_COLUMNS}
    roles = detect_roles([c for c in table.columns if c not in used], COMPLAINT_ROLES)
    # Cleaned texts come masked (unless `classify --no-mask`); masking again changes nothing else.
    texts = table[text_column].astype(object)
    frame = pd.DataFrame({"id": _as_text(table[id_column]),
                          "text": texts.map(lambda text: mask_pii(to_halfwidth(text)) if isinstance(text, str) else text)})
    unparsed = {}
    for role, column in roles.items():
        if role in TIME_COLUMNS:
            frame[role], unparsed[column] = _parse_times(table[column])
        elif role == "repeat":
            frame[role], unparsed[column] = _parse_flags(table[column])
        else:
            _role_values(frame, role, table[column], key)
    for column in CLASSIFICATION_COLUMNS:
        if column in table.columns:
            frame[column] = table[column]
    if "confidence" in frame:
        frame["confidence"] = pd.to_numeric(frame["confidence"], errors="coerce").astype(float)
    if "topic_id" in frame:
        frame["topic_id"] = pd.to_numeric(frame["topic_id"], errors="coerce").astype("Int64")
    for column in ("category", "category_name", "categories", "topic_label"):
        if column in frame:
            frame[column] = _as_text(frame[column])
    frame["model_version"] = model_version
    frame["source_file"] = source_file
    frame["loaded_at"] = pd.Timestamp.now()
    frame["extra"] = _extra_json(table, [c for c in table.columns if c not in used and c not in roles.values()],
                                 unparsed)
    frame = frame[frame["id"].notna()]
    return frame.drop_duplicates("id", keep="first")


def _row_ids(table: pd.DataFrame, prefix: str) -> list[str]:
    """Stable ids from a row's content; repeated identical rows get ``-2``, ``-3`` …"""
    seen: dict[str, int] = {}
    ids = []
    for values in table.astype(str).itertuples(index=False):
        digest = prefix + hashlib.sha1("\x1f".join(values).encode("utf-8")).hexdigest()[:16]
        seen[digest] = seen.get(digest, 0) + 1
        ids.append(digest if seen[digest] == 1 else f"{digest}-{seen[digest]}")
    return ids


def _canonical_surveys(table: pd.DataFrame, key_column: str, source_file: str | None, key: bytes) -> pd.DataFrame:
    if key_column not in table.columns:
        raise StoreError(f"surveys: no key column {key_column!r}; the columns are: "
                         f"{', '.join(map(str, table.columns))}")
    table = table.reset_index(drop=True)
    key_role = next((role for role, column in detect_roles([key_column], SURVEY_ROLES).items()), "ticket_id")
    linked_by = "customer_id" if key_role == "customer_id" else "ticket_id"
    roles = detect_roles([c for c in table.columns if c != key_column], SURVEY_ROLES)
    roles[linked_by] = key_column
    frame = pd.DataFrame(index=table.index)
    frame["survey_id"] = _as_text(table[roles["survey_id"]]) if "survey_id" in roles else _row_ids(table, "s")
    unparsed = {}
    for role, column in roles.items():
        if role == "survey_id":
            continue
        if role in TIME_COLUMNS:
            frame[role], unparsed[column] = _parse_times(table[column])
        elif role in ("csat", "nps"):
            frame[role], unparsed[column] = _parse_scores(table[column], SCORE_RANGES[role.upper()])
        else:
            _role_values(frame, role, table[column], key)
    frame["linked_by"] = linked_by
    frame["source_file"] = source_file
    frame["loaded_at"] = pd.Timestamp.now()
    frame["extra"] = _extra_json(table, [c for c in table.columns if c not in roles.values()], unparsed)
    frame = frame[frame["survey_id"].notna()]
    return frame.drop_duplicates("survey_id", keep="first")


def _topic_rows(model_version: str, topic_model) -> pd.DataFrame:
    info = topic_model.topic_info_.copy()
    coordinates = pd.DataFrame(pca_2d(topic_model.topic_embeddings_), columns=["x", "y"],
                               index=pd.Index(topic_model.topic_ids_, name="topic_id"))
    info = info.join(coordinates, on="topic_id")
    frame = pd.DataFrame({
        "model_version": model_version,
        "topic_id": info["topic_id"].astype(int),
        "topic_label": info["topic_label"].astype(str),
        "size": info["size"].astype("int64"),
        "share": info["share"].astype(float) if "share" in info else np.nan,
        "top_words": info["top_words"].map(lambda words: " ".join(words) if isinstance(words, (list, tuple, np.ndarray))
                                           else str(words)),
        "x": info["x"], "y": info["y"],
    })
    for column in ("category", "category_name"):
        frame[column] = _as_text(info[column]) if column in info else None
    merged = info["merged_into"] if "merged_into" in info else pd.Series(np.nan, index=info.index)
    frame["merged_into"] = pd.to_numeric(merged, errors="coerce").astype("Int64")
    return frame
