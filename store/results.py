"""The results store: classified complaints, surveys, topics and model versions in one DuckDB file.

Jobs write into it chunk by chunk (``tousu classify --store``, ``tousu link --store``, the
explorer's upload page); the explorer reads from it with SQL (:mod:`tousu.store.queries`), so
filtering and counting happen in DuckDB and only the rows or aggregates a page shows reach
pandas. What a row holds, and how personal data is masked on the way in: :mod:`tousu.store.ingest`;
the tables and their upgrades: :mod:`tousu.store.schema`.

Writes are idempotent: rows are replaced by key (``id``, ``survey_id``) inside one
transaction, so re-running a job duplicates nothing.

DuckDB lets one process write a file or any number of processes read it, never both at
once. So the explorer and ``classify`` jobs hold the file only for the length of one query
or one chunk (``hold=False``), and opening waits a while for another process's lock
(:mod:`tousu.store.connection`); every write changes the file, which is how the explorer knows
its cached results are stale (:meth:`ResultsStore.change_token`).
"""
from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from tousu.store.connection import LOCK_WAIT_S, StoreError, connect_waiting, file_lock
from tousu.store.ingest import canonical_complaints, canonical_surveys, quantized, topic_rows
from tousu.store.queries import StoreQueries
from tousu.store.schema import check_or_create, refresh_survey_links, transaction


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



class ResultsStore(StoreQueries):
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
        self._lock = file_lock(self.path)
        self._local = threading.local()
        self._connection = None
        connection = self._open(read_only)
        try:
            check_or_create(connection, self.path, read_only)
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
        return connect_waiting(self.path, read_only, self.wait_s)

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
        with self._connected(write=True) as connection, transaction(connection) as cursor:
            yield cursor

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
                          vectors: np.ndarray | None = None, embedder: str | None = None,
                          import_id: str | None = None) -> int:
        """Insert or replace complaints by id; returns the number of rows written.

        table: one chunk of ``tousu classify`` output (input columns + classification
            columns); ``text_column`` holds the cleaned text (masked again here all the same).
        vectors: the texts' sentence vectors (one row per table row) from ``embedder``, for
            the similar-complaint search; without them a replaced complaint loses its vector.
        import_id: the job's import (:meth:`start_import`) the rows belong to.
        Earlier category corrections of these ids are applied again, so re-classifying
        does not undo an analyst's correction.
        """
        frame = canonical_complaints(table, text_column, id_column, model_version, source_file, self._key())
        if frame.empty:
            return 0
        frame["import_id"] = import_id
        with self._transaction() as cursor:
            cursor.register("incoming", frame)
            cursor.execute("DELETE FROM complaints WHERE id IN (SELECT id FROM incoming)")
            cursor.execute("INSERT INTO complaints BY NAME SELECT * FROM incoming")
            cursor.execute("""
                UPDATE complaints SET category = k.new_category, category_name = k.new_category_name,
                    subcategory = CASE WHEN k.new_category = complaints.category THEN complaints.subcategory END,
                    subcategory_name = CASE WHEN k.new_category = complaints.category
                                       THEN complaints.subcategory_name END
                FROM (SELECT * FROM category_corrections WHERE id IN (SELECT id FROM incoming)
                      QUALIFY row_number() OVER (PARTITION BY id ORDER BY corrected_at DESC) = 1) k
                WHERE complaints.id = k.id""")
            cursor.execute("DELETE FROM embeddings WHERE id IN (SELECT id FROM incoming)")
            # Re-link only when a survey names one of these tickets or customers: a classify job's
            # chunks would otherwise each resolve every answer again.
            by_customer = (" OR (s.linked_by = 'customer_id' AND s.customer_id IN (SELECT customer_id FROM incoming))"
                           if "customer_id" in frame else "")
            rates_incoming = cursor.execute(
                f"SELECT EXISTS (SELECT 1 FROM surveys s WHERE s.ticket_id IN (SELECT id FROM incoming){by_customer})"
            ).fetchall()[0][0]
            cursor.unregister("incoming")
            if vectors is not None:
                kept = np.asarray(vectors)[frame.index.to_numpy()]
                cursor.register("incoming_vectors", pd.DataFrame({
                    "id": frame["id"].to_numpy(), "embedder": embedder, "vector": quantized(kept)}))
                cursor.execute("INSERT INTO embeddings BY NAME SELECT * FROM incoming_vectors")
                cursor.unregister("incoming_vectors")
            # A complaint loaded after the surveys can be a customer's earliest, or a ticket's.
            if rates_incoming:
                refresh_survey_links(cursor)
        return len(frame)

    def start_import(self, source_file: str, model_version: str | None = None) -> str:
        """Record a job's import as started, not complete; returns its id for
        :meth:`upsert_complaints` and :meth:`finish_import`."""
        import_id = uuid.uuid4().hex
        with self._transaction() as cursor:
            cursor.execute("INSERT INTO imports (import_id, source_file, model_version, started_at, complete) "
                           "VALUES (?, ?, ?, ?, FALSE)", [import_id, source_file, model_version, datetime.now()])
        return import_id

    def finish_import(self, import_id: str, rows_read: int) -> None:
        """Mark an import complete: every row of its file was read and written (or quarantined)."""
        with self._transaction() as cursor:
            cursor.execute("UPDATE imports SET complete = TRUE, finished_at = ?, rows_read = ? WHERE import_id = ?",
                           [datetime.now(), rows_read, import_id])

    def upsert_surveys(self, table: pd.DataFrame, key_column: str = "工单号", source_file: str | None = None) -> int:
        """Insert or replace survey responses by survey id; returns the number of rows written.

        key_column: the column that links a response to complaints, as given to
            ``tousu link --key``: a ticket column (``工单号``) or a customer column (``客户号``).
            Respondents without complaint (the baseline) are those with an empty key and, by
            customer, those whose customer has no complaint in the store; by customer only
            each customer's earliest answer counts (see :func:`tousu.store.ingest.survey_link_targets`).
        Without a survey id column (``问卷号``), a stable id is derived from the row's content.
        Repeated survey ids keep their first row, as ``tousu link`` does.
        """
        frame = canonical_surveys(table, key_column, source_file, self._key())
        with self._transaction() as cursor:
            cursor.register("incoming", frame)
            cursor.execute("DELETE FROM surveys WHERE survey_id IN (SELECT survey_id FROM incoming)")
            cursor.execute("INSERT INTO surveys BY NAME SELECT * FROM incoming")
            cursor.unregister("incoming")
            refresh_survey_links(cursor)
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
        topics = topic_rows(key, topic_model) if topic_model is not None else None
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
        """Set a complaint's category and log the correction (kept for retraining); a new
        category clears the subcategory, which was a child of the old one."""
        current = self.query("SELECT category FROM complaints WHERE id = ?", [complaint_id])
        if current.empty:
            raise StoreError(f"{self.path}: no complaint with id {complaint_id!r}")
        old = current["category"].iloc[0]
        name = new_category_name or new_category
        with self._transaction() as cursor:
            cursor.execute("INSERT INTO category_corrections (id, old_category, new_category, new_category_name, "
                           "corrected_at, note) VALUES (?, ?, ?, ?, ?, ?)",
                           [complaint_id, old, new_category, name, datetime.now(), note])
            cursor.execute("UPDATE complaints SET category = ?, category_name = ?, "
                           "subcategory = CASE WHEN category = ? THEN subcategory END, "
                           "subcategory_name = CASE WHEN category = ? THEN subcategory_name END WHERE id = ?",
                           [new_category, name, new_category, new_category, complaint_id])

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
