"""The results store's tables, how a new file is made, and the upgrades of files written by older tousu.

A store records its format and schema version in ``meta``; opening one written by an older
tousu for writing upgrades it step by step (:data:`UPGRADES`), in one transaction.
"""
from __future__ import annotations

import json
import secrets
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pandas as pd

from tousu.nlp.clean import mask_pii, to_halfwidth
from tousu.store.connection import StoreError
from tousu.store.ingest import masked, role_values, survey_link_targets

FORMAT = "tousu-results"
SCHEMA_VERSION = 6
# Each survey answer with the complaint it rates, or as the baseline: written by
# refresh_survey_links after every write that can change them (the rule is tousu link's own,
# run in pandas: see tousu.store.ingest.survey_link_targets). Every score filter reads the
# view, so it is a table, not a query.
_SURVEY_LINKS = """
SELECT s.*, t.complaint_id, t.is_baseline FROM surveys s JOIN survey_link_targets t USING (survey_id)"""
# A job's writes (``classify --store``, an upload), marked complete only when its last chunk is in:
# one that stopped half way (a bad file, a killed job) stays incomplete, and the explorer says so.
_IMPORTS = """
CREATE TABLE IF NOT EXISTS imports (
    import_id VARCHAR PRIMARY KEY, source_file VARCHAR, model_version VARCHAR,
    started_at TIMESTAMP, finished_at TIMESTAMP, complete BOOLEAN, rows_read BIGINT)"""
_SCHEMA = """
CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE complaints (
    id VARCHAR PRIMARY KEY, customer_id VARCHAR, text VARCHAR,
    created_at TIMESTAMP, responded_at TIMESTAMP, resolved_at TIMESTAMP,
    province VARCHAR, channel VARCHAR, segment VARCHAR, "repeat" BOOLEAN,
    category VARCHAR, category_name VARCHAR, confidence DOUBLE, categories VARCHAR,
    topic_id INTEGER, topic_label VARCHAR,
    model_version VARCHAR, source_file VARCHAR, loaded_at TIMESTAMP, extra JSON,
    subcategory VARCHAR, subcategory_name VARCHAR, import_id VARCHAR);
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
CREATE TABLE survey_link_targets (survey_id VARCHAR PRIMARY KEY, complaint_id VARCHAR, is_baseline BOOLEAN);
""" + _IMPORTS + """;
CREATE VIEW survey_links AS """ + _SURVEY_LINKS + ";"



@contextmanager
def transaction(connection: duckdb.DuckDBPyConnection):
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
            role_values(fixed, role, rows[role], bytes.fromhex(key))
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


def refresh_survey_links(cursor) -> None:
    """Resolve every survey answer again: a new complaint can be a customer's earliest, a new
    answer a customer's first."""
    complaints = cursor.execute(
        "SELECT id, customer_id FROM complaints ORDER BY created_at IS NULL, created_at, id").df()
    surveys = cursor.execute(
        "SELECT survey_id, ticket_id, customer_id, linked_by, csat, nps FROM surveys "
        "ORDER BY surveyed_at IS NULL, surveyed_at, survey_id").df()
    targets = survey_link_targets(complaints, surveys)
    cursor.execute("DELETE FROM survey_link_targets")
    cursor.register("targets", targets)
    cursor.execute("INSERT INTO survey_link_targets BY NAME SELECT * FROM targets")
    cursor.unregister("targets")


def _links_by_the_link_rule(cursor) -> None:
    """Schema 2 → 3 and 3 → 4. Schema 2 took only an empty customer id as the baseline and
    counted every answer of a customer; schema 3 resolved the links in a SQL view of its own,
    which counted every answer to one ticket where `tousu link` keeps the first. Schema 4
    stores the links that tousu link's own rule gives."""
    cursor.execute("CREATE TABLE IF NOT EXISTS survey_link_targets "
                   "(survey_id VARCHAR PRIMARY KEY, complaint_id VARCHAR, is_baseline BOOLEAN)")
    cursor.execute(f"CREATE OR REPLACE VIEW survey_links AS {_SURVEY_LINKS}")
    refresh_survey_links(cursor)


def _add_subcategories(cursor) -> None:
    """Schema 4 → 5: complaints get their level-2 category (``subcategory``, ``subcategory_name``),
    NULL for those classified before; at the end of the table, where a new store has them too."""
    for column in ("subcategory", "subcategory_name"):
        cursor.execute(f"ALTER TABLE complaints ADD COLUMN IF NOT EXISTS {column} VARCHAR")


def _add_imports(cursor) -> None:
    """Schema 5 → 6: jobs record their imports (complete or not) and complaints the import that
    wrote them; NULL for those written before, whose imports were not recorded."""
    cursor.execute(_IMPORTS)
    cursor.execute("ALTER TABLE complaints ADD COLUMN IF NOT EXISTS import_id VARCHAR")


# Schema version → the step to the next one.
UPGRADES = {1: _upgrade_from_1, 2: _links_by_the_link_rule, 3: _links_by_the_link_rule, 4: _add_subcategories,
            5: _add_imports}


def check_or_create(connection: duckdb.DuckDBPyConnection, path: Path, read_only: bool) -> None:
    """Make an empty file a store; check a store's format and version, upgrading an older one.
    Raises :class:`StoreError` naming ``path``."""
    tables = {name for (name,) in connection.execute(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_catalog = current_database() AND table_schema = 'main'").fetchall()}
    if not tables:
        if read_only:
            raise StoreError(f"{path}: an empty database, not a tousu results store")
        with transaction(connection) as cursor:
            cursor.execute(_SCHEMA)
            cursor.executemany("INSERT INTO meta VALUES (?, ?)", [
                ("format", FORMAT), ("schema_version", str(SCHEMA_VERSION)), ("revision", "0"),
                ("created", datetime.now(timezone.utc).isoformat(timespec="seconds")),
                ("customer_key", secrets.token_hex(32))])
        return
    meta = dict(connection.execute("SELECT key, value FROM meta").fetchall()) if "meta" in tables else {}
    if meta.get("format") != FORMAT:
        raise StoreError(f"{path}: a DuckDB database but not a tousu results store "
                         f"(its tables: {', '.join(sorted(tables))}); choose another --store file")
    version = int(meta.get("schema_version", 0))
    if version > SCHEMA_VERSION:
        raise StoreError(f"{path}: written by a newer tousu (store schema {version}; this tousu reads "
                         f"up to {SCHEMA_VERSION}); upgrade tousu")
    if version == SCHEMA_VERSION:
        return
    if version not in UPGRADES:
        raise StoreError(f"{path}: store schema {version} is older than this tousu's "
                         f"({SCHEMA_VERSION}); rebuild it with `tousu classify --store`")
    if read_only:
        raise StoreError(f"{path}: store schema {version} predates this tousu's ({SCHEMA_VERSION}); "
                         "`tousu explore --store` or any `--store` job upgrades it")
    with transaction(connection) as cursor:
        for step in range(version, SCHEMA_VERSION):
            UPGRADES[step](cursor)
        cursor.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(SCHEMA_VERSION)])
