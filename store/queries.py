"""What the explorer asks the results store: filters as SQL, counts, pages of complaints, survey answers.

Filtering and counting happen in DuckDB; only the rows or aggregates a page shows reach
pandas, where :mod:`tousu.analysis` computes the statistics, as for ``tousu link``.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from tousu.analysis.conventions import MISSING_GROUP, TOTAL_LABEL

# Columns the explorer may group, filter or list by; query helpers accept no others.
GROUP_COLUMNS = ("category", "category_name", "topic_label", "topic_id", "province", "channel", "segment",
                 "model_version", "source_file")
LISTABLE_COLUMNS = {"id", "customer_id", "text", "created_at", "responded_at", "resolved_at", "repeat",
                    "confidence", "categories", "subcategory", "subcategory_name", "loaded_at", "extra",
                    *GROUP_COLUMNS}
# Columns joined_scores adds to each response's scores by default; it can also add ``categories``.
JOINED_COLUMNS = ("survey_id", "touchpoint", "category", "category_name", "topic_label", "province", "channel",
                  "segment")
JOINABLE_COLUMNS = (*JOINED_COLUMNS, "categories", "surveyed_at", "created_at")
SURVEY_SIDE_COLUMNS = ("survey_id", "touchpoint", "surveyed_at")
FREQ_UNITS = {"D": "day", "W": "week", "M": "month", "Q": "quarter"}


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



class StoreQueries:
    """The read side of :class:`tousu.store.ResultsStore`: every query runs on a connection of
    the store's ``_connected()`` (the held one, the block's, or one opened for the call)."""

    def query(self, sql: str, params: list | None = None) -> pd.DataFrame:
        """Run a read-only SQL query with bound parameters; the result as a DataFrame."""
        with self._connected() as connection, connection.cursor() as cursor:
            return cursor.execute(sql, params or []).df()

    def _scalar(self, sql: str, params: list | None = None):
        with self._connected() as connection, connection.cursor() as cursor:
            rows = cursor.execute(sql, params or []).fetchall()
        return rows[0][0] if rows else None

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

    def joined_scores(self, filters: Filters = Filters(), columns: tuple[str, ...] = JOINED_COLUMNS) -> pd.DataFrame:
        """Survey responses joined to the filtered complaints they rate, plus the baseline
        (respondents without complaint), with only the columns the statistics need: ``CSAT``,
        ``NPS``, ``has_complaint`` and ``columns`` (of :data:`JOINABLE_COLUMNS`: by default the
        response's ``survey_id``, ``touchpoint`` and the complaint's ``category``,
        ``category_name``, ``topic_label``, ``province``, ``channel``, ``segment``; when asked
        for, the survey's ``surveyed_at``, the complaint's ``created_at`` and ``categories``:
        every category of the linked complaint, ``|``-joined, or for an answer linked by
        customer those of all the customer's filtered complaints, as
        :func:`tousu.analysis.scores.respondent_categories` counts them in ``tousu link``).
        Left out, as in ``tousu link``: responses whose ticket matches no complaint and a
        customer's later answers (a customer with no complaint is in the baseline); and the
        responses outside the filters' score ranges."""
        unknown = set(columns) - set(JOINABLE_COLUMNS)
        if unknown:
            raise ValueError(f"joined_scores: no column {', '.join(sorted(unknown))}")
        where, params = filters.where()
        scores, score_params = filters.score_condition("l")
        survey_side = set(SURVEY_SIDE_COLUMNS)
        listed = "categories" in columns
        # A complaint's categories: its primary one (MISSING_GROUP where empty) and those listed.
        own = f"coalesce(c.category, '{MISSING_GROUP}') || '|' || coalesce(c.categories, '')"
        selected = "".join(
            "" if column == "categories" else f", {'l' if column in survey_side else 'c'}.{column}"
            for column in columns)
        if listed:
            selected += (", CASE WHEN c.id IS NULL THEN NULL WHEN l.linked_by = 'customer_id' "
                         f"THEN coalesce(u.categories, {own}) ELSE {own} END AS categories")
        complaint_columns = "".join(f", c.{column}" for column in
                                    dict.fromkeys([*columns, *(("category", "customer_id") if listed else ())])
                                    if column not in survey_side)
        union = f"""
            , u AS (SELECT c.customer_id, string_agg({own}, '|') AS categories FROM c
                    WHERE c.customer_id IS NOT NULL GROUP BY c.customer_id)""" if listed else ""
        join_union = " LEFT JOIN u ON l.linked_by = 'customer_id' AND u.customer_id = l.customer_id" if listed else ""
        return self.query(f"""
            WITH c AS (SELECT c.id{complaint_columns} FROM complaints c WHERE {where}){union}
            SELECT l.csat AS "CSAT", l.nps AS "NPS", c.id IS NOT NULL AS has_complaint{selected}
            FROM survey_links l LEFT JOIN c ON c.id = l.complaint_id{join_union}
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

    def labelling_pool(self, model_version: str, embedder: str) -> tuple[pd.DataFrame, np.ndarray]:
        """The complaints classified by ``model_version``, by id, as ``id``, ``text``,
        ``corrected`` (an analyst corrected its category: it is labelled) and ``has_vector``,
        with their int8 sentence vectors from ``embedder`` (zeros where ``has_vector`` is false;
        no columns when none has one)."""
        with self._connected() as connection, connection.cursor() as cursor:
            found = cursor.execute(
                "SELECT c.id, c.text, c.id IN (SELECT id FROM category_corrections) AS corrected, e.vector "
                "FROM complaints c LEFT JOIN embeddings e ON e.id = c.id AND e.embedder = ? "
                "WHERE c.model_version = ? ORDER BY c.id", [embedder, model_version]).df()
        stored = found.pop("vector")
        found["has_vector"] = stored.notna().to_numpy()
        width = len(stored[found["has_vector"]].iloc[0]) if found["has_vector"].any() else 0
        vectors = np.zeros((len(found), width), dtype=np.int8)
        for row in np.flatnonzero(found["has_vector"].to_numpy()):
            vectors[row] = np.frombuffer(stored.iloc[row], dtype=np.int8)
        return found, vectors

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

    def incomplete_imports(self) -> pd.DataFrame:
        """The imports that did not finish (a job still running, stopped or killed) and still
        hold complaints: ``import_id``, ``source_file``, ``started_at``, ``complaints``, oldest
        first. One whose complaints a later import wrote again is no longer incomplete."""
        return self.query("""
            SELECT i.import_id, i.source_file, i.started_at, count(*) AS complaints
            FROM imports i JOIN complaints c USING (import_id)
            WHERE NOT i.complete GROUP BY ALL ORDER BY i.started_at""")

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



def _check_column(column: str) -> None:
    if column not in GROUP_COLUMNS:
        raise ValueError(f"cannot group or filter by {column!r}; use one of {', '.join(GROUP_COLUMNS)}")


def _checked_column(column: str) -> str:
    if column not in LISTABLE_COLUMNS:
        raise ValueError(f"no complaint column {column!r}")
    return f'"{column}"'

