"""Complaints linked to satisfaction surveys, and the numbers of the monthly satisfaction meeting.

The flow::

    linked = link(classified, surveys, key="工单号")        # validate + join; problems reported
    scores = group_scores(linked, by="category")           # CSAT / NPS per category, with CIs
    X = indicator_matrix(linked.joined)                     # one 0/1 column per category
    drivers = DriverModel().fit(X, linked.joined["CSAT"]).drivers_table()
    ipa = quadrant(drivers)                                 # importance-performance quadrants
    pareto(linked.complaints["category"]); trends(...); growth_alerts(...); kpis(...)

Conventions shared by every table here:

* output columns are snake_case English; group values (category codes, province names …)
  are passed through as text, so the report layer can add Chinese headers;
* respondents who filed no complaint are the *baseline*: group ``NONE`` named ``(无投诉)``
  (which survey rows they are: :func:`link`'s ``baseline`` rule); a complaint whose group
  value is empty is grouped as ``(缺失)``;
* nothing is dropped silently: rows left out are listed in ``Linked.problems`` with a reason;
* confidence intervals are percentile bootstraps, deterministic given ``seed``;
  a group with fewer than two responses has no interval (NaN), never an error.
"""
from __future__ import annotations

import itertools
import math
import warnings
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_array, check_consistent_length, check_is_fitted, column_or_1d, validate_data

SCORE_RANGES = {"CSAT": (1, 5), "NPS": (0, 10)}
BASELINE_CODE = "NONE"
BASELINE_LABEL = "(无投诉)"
MISSING_GROUP = "(缺失)"
TOTAL_LABEL = "(全部)"
SMALL_N = 30
MAX_SHAPLEY_PREDICTORS = 15
BASELINE_RULES = ("auto", "empty-key", "unmatched")
# The growth-alert window per trend period: about four weeks, so ``min_count`` means the same
# whatever the period (a quarter is the shortest window quarters allow).
RECENT_PERIODS = {"D": 28, "W": 4, "M": 1, "Q": 1}
SCORE_REASONS = ("score missing", "score not a number", "score out of range", "score not a whole number")

PROBLEM_COLUMNS = ["table", "row", "key", "column", "value", "reason", "detail", "dropped"]
GROUP_SCORE_COLUMNS = [
    "group", "group_name", "is_baseline", "n_complaints", "share", "n_surveyed",
    "n_csat", "csat_mean", "csat_low", "csat_high", "csat_gap",
    "n_nps", "nps", "nps_low", "nps_high", "nps_gap",
    "detractor_share", "detractor_low", "detractor_high", "note",
]
DRIVER_COLUMNS = [
    "driver", "importance", "importance_share", "importance_low", "importance_high",
    "coef", "coef_low", "coef_high", "p_value", "n_with", "mean_with", "mean_without", "note",
]
# (high importance, high satisfaction) → quadrant
QUADRANTS = {(True, False): "重点改进区", (True, True): "优势区", (False, False): "机会区", (False, True): "维持区"}
ESCALATION_CHANNEL = "工信部转办"
# 315 and 12300 only as whole numbers, so amounts such as 3150元 do not count as escalation.
ESCALATION_PATTERN = r"工信部|(?<!\d)12300(?!\d)|(?<!\d)315(?!\d)|媒体|曝光|法院|消协"
REPEAT_YES = {"是", "y", "yes", "1", "1.0", "true", "t", "重复"}


class LinkError(ValueError):
    """The complaint or survey table cannot be linked at all (a whole column is missing)."""


# ----------------------------------------------------------------------------- shared helpers
def _as_text(values: pd.Series) -> pd.Series:
    """Values as stripped text, <NA> where empty.

    A float column whose values are all whole numbers (ids or codes read from Excel) becomes
    ``"1001"`` rather than ``"1001.0"``, so it matches the same id read as text elsewhere.
    """
    if pd.api.types.is_float_dtype(values):
        finite = values[np.isfinite(values)]
        if len(finite) == values.notna().sum() and (finite == np.floor(finite)).all():
            values = values.astype("Int64")
    text = values.astype("string").str.strip()
    return text.mask(text == "")


def _as_labels(values: pd.Series) -> pd.Series:
    """Group labels as text (so tables stay Arrow/Excel friendly), ``(缺失)`` where empty."""
    return _as_text(values).fillna(MISSING_GROUP).astype(object)


def _spreadsheet_rows(frame: pd.DataFrame) -> np.ndarray:
    """Row numbers as a spreadsheet shows them.

    Tables from ``nlp.tables.TableReader`` are indexed by the file's row number (index name
    ``row``) and keep it; otherwise the header is row 1 and the first data row is row 2.
    """
    if frame.index.name == "row" and pd.api.types.is_integer_dtype(frame.index):
        return frame.index.to_numpy(dtype=np.int64)
    return np.arange(2, len(frame) + 2, dtype=np.int64)


def _require_columns(frame: pd.DataFrame, columns, table: str) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise LinkError(f"{table}: no column {', '.join(repr(c) for c in missing)}; "
                        f"the columns are: {', '.join(map(str, frame.columns))}")


def _group_rng(seed: int, group: str, stream: int = 0) -> np.random.Generator:
    # One generator per group (seeded by its name), so a group's interval does not change
    # when other groups are added, removed or reordered.
    return np.random.default_rng([seed, zlib.crc32(str(group).encode("utf-8")), stream])


def _note(n_surveyed: int, n: int) -> str:
    """Caution for a group whose smallest score count is ``n``."""
    if n_surveyed == 0:
        return "no survey responses"
    if n == 0:
        return "no valid score"
    if n == 1:
        return "n=1: no interval"
    if n < SMALL_N:
        return f"n<{SMALL_N}: interpret with care"
    return ""


def _parse_times(values: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(timestamps, empty, unparseable) for a column of times.

    The format is inferred from the first value (fast); values in another format are parsed
    again one by one, and what still fails is reported as unparseable, never dropped silently.
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        empty = values.isna()
        return values, empty, pd.Series(False, index=values.index)
    text = _as_text(values)
    empty = text.isna()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "could not infer format": the retry handles it
        parsed = pd.to_datetime(text, errors="coerce")
        retry = parsed.isna() & ~empty
        if retry.any():
            parsed[retry] = pd.to_datetime(text[retry], errors="coerce", format="mixed")
    return parsed, empty, parsed.isna() & ~empty


# ----------------------------------------------------------------------------- linking
@dataclass
class Linked:
    """Complaints and survey responses joined one to one.

    joined: one row per kept survey response: the survey columns (scores cleaned to floats,
        NaN where missing or invalid), the complaint columns (NaN for respondents without a
        complaint; a survey column whose name clashes gets the suffix ``_survey``) and
        ``has_complaint``. Respondents without complaint (``baseline_rule``) have
        ``has_complaint`` False: they are the baseline.
    complaints: every kept complaint (repeated complaint ids removed), linked or not;
        volumes, Pareto, trends and KPIs are computed on it.
    unmatched_complaints: the kept complaints without a survey response of their own.
    unmatched_surveys: survey rows whose key is not among the complaints, with a column
        ``as_baseline``: True where they were taken as respondents without complaint
        (``baseline_rule`` "unmatched"), False where they were left out of ``joined``.
    problems: one row per problem (``PROBLEM_COLUMNS``): ``table`` (complaints/surveys),
        ``row`` (as a spreadsheet shows it: header row 1), ``key``, ``column``, ``value``,
        ``reason``, ``detail``, ``dropped`` (whether the row was left out of ``joined`` /
        ``complaints``; score problems blank the cell and keep the row).
    """

    joined: pd.DataFrame
    complaints: pd.DataFrame
    unmatched_complaints: pd.DataFrame
    unmatched_surveys: pd.DataFrame
    problems: pd.DataFrame
    complaint_key: str
    survey_key: str
    score_cols: tuple[str, ...]
    n_complaint_rows: int
    n_survey_rows: int
    complaint_id: str = ""
    baseline_rule: str = "empty-key"

    def summary(self) -> dict:
        """Counts that add up.

        ``complaint_rows = complaints_kept + complaint_duplicates_dropped``,
        ``complaints_kept = complaints_linked + complaints_unmatched`` and
        ``survey_rows = joined_rows + survey_duplicates_dropped + surveys_unmatched``;
        ``joined_baseline`` includes the ``surveys_unmatched_baseline`` rows.
        """
        problems = self.problems

        def count(table, reason):
            return int(((problems["table"] == table) & (problems["reason"] == reason)).sum())
        joined = self.joined
        summary = {
            "complaint_rows": self.n_complaint_rows,
            "complaints_kept": len(self.complaints),
            "complaint_duplicates_dropped": count("complaints", "duplicate key"),
            "complaints_empty_key": count("complaints", "empty key"),
            "complaints_key_repeated": count("complaints", "key repeated"),
            "complaints_linked": int(joined["has_complaint"].sum()),
            "complaints_unmatched": len(self.unmatched_complaints),
            "survey_rows": self.n_survey_rows,
            "joined_rows": len(joined),
            "joined_baseline": int((~joined["has_complaint"]).sum()),
            "baseline_rule": self.baseline_rule,
            "survey_duplicates_dropped": count("surveys", "duplicate key"),
            "surveys_unmatched": int((~self.unmatched_surveys["as_baseline"]).sum()),
            "surveys_unmatched_baseline": int(self.unmatched_surveys["as_baseline"].sum()),
            "score_columns": list(self.score_cols),
            "scores_missing_column": [c for c in SCORE_RANGES if c not in self.score_cols],
        }
        for column in self.score_cols:
            for reason in SCORE_REASONS:
                summary[f"{column}_{reason.replace(' ', '_')}"] = int(
                    ((problems["column"] == column) & (problems["reason"] == reason)).sum())
        return summary


def _problems(table, rows, keys, column, values, reason, detail, dropped) -> pd.DataFrame:
    rows = np.asarray(rows)

    def column_of(value):
        return value if np.ndim(value) else np.repeat(value, len(rows))
    return pd.DataFrame({
        "table": table, "row": rows.astype(np.int64), "key": np.asarray(keys, dtype=object),
        "column": column, "value": pd.Series(np.asarray(values, dtype=object)).astype("string").to_numpy(),
        "reason": reason, "detail": column_of(detail), "dropped": dropped,
    }, columns=PROBLEM_COLUMNS)


def _duplicates(keys: pd.Series, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mask of repeated non-empty keys (every occurrence after the first), and the row of that first."""
    codes, _ = pd.factorize(keys)  # empty keys get code -1
    codes = np.asarray(codes)
    seen = codes >= 0
    _, first = np.unique(codes[seen], return_index=True)
    first_position = np.flatnonzero(seen)[first]
    duplicate = np.zeros(len(codes), dtype=bool)
    duplicate[seen] = np.flatnonzero(seen) != first_position[codes[seen]]
    return duplicate, rows[first_position[codes[duplicate]]]


def _find_score_columns(surveys: pd.DataFrame, score_cols) -> dict[str, str]:
    """{canonical name: column in the survey table}; names match ignoring case (``csat``)."""
    found = {}
    for wanted in score_cols:
        if wanted in surveys.columns:
            found[wanted] = wanted
            continue
        same = [c for c in surveys.columns if str(c).strip().lower() == wanted.lower()]
        if len(same) == 1:
            found[wanted] = same[0]
    return found


def _clean_scores(values: pd.Series, bounds) -> tuple[pd.Series, dict[str, pd.Series]]:
    """(scores as floats, {reason: mask}) with the reasons of ``SCORE_REASONS``; bad cells become NaN.

    With ``bounds`` (CSAT, NPS) a score must also be a whole number: the scales have no half
    points, so 3.5 is a typing error or an average pasted in, not an answer.
    """
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numeric = values.astype(float)
        missing = numeric.isna()
        non_numeric = pd.Series(False, index=values.index)
    else:
        # NFKC turns full-width digits (５) into ASCII ones.
        text = values.astype("string").str.normalize("NFKC").str.strip()
        missing = (text.isna() | (text == "")).fillna(True).astype(bool)
        numeric = pd.to_numeric(text.mask(missing), errors="coerce").astype(float)
        non_numeric = numeric.isna() & ~missing
    out_of_range = pd.Series(False, index=values.index)
    fractional = pd.Series(False, index=values.index)
    if bounds is not None:
        out_of_range = numeric.notna() & ~numeric.between(*bounds)
        fractional = numeric.notna() & ~out_of_range & (numeric != np.floor(numeric))
    masks = dict(zip(SCORE_REASONS, (missing, non_numeric, out_of_range, fractional)))
    return numeric.mask(out_of_range | fractional), masks


def link(complaints: pd.DataFrame, surveys: pd.DataFrame, key, score_cols=("CSAT", "NPS"),
         complaint_id: str | None = None, baseline: str = "auto") -> Linked:
    """Join survey responses to the complaints they rate, reporting every row left out.

    key: the key column, the same name in both tables (``"工单号"`` or ``"客户号"``), or a pair
        ``(complaint column, survey column)``. Keys are compared as stripped text.
    score_cols: score columns to take from the survey table (matched ignoring case). CSAT
        must be a whole number in 1–5 and NPS in 0–10; other names are only checked to be
        numbers.
    complaint_id: the complaint's own id (the ticket, ``"工单号"``); default: the key. Rows
        repeating an id are one complaint exported twice. When it is another column than the
        key, the key identifies customers: a customer's several complaints are all kept.
    baseline: which survey rows are respondents without complaint, the baseline:
        ``"empty-key"``: those with an empty key; ``"unmatched"``: also those whose key is
        not among the complaints (with a customer key: a customer who filed none);
        ``"auto"`` (default): ``"unmatched"`` when ``complaint_id`` is another column than
        the key (the key identifies customers), else ``"empty-key"`` (a ticket number that
        matches no complaint is an export gap, not a customer without complaint).

    Rules, each reported in ``problems``:

    * repeated complaint id, or duplicate key in surveys: the first row is kept, later ones
      are dropped (a re-exported ticket or a second answer to the same survey). With a
      customer key a customer's later survey answers are therefore left out;
    * a customer key repeated by different complaints (``complaint_id`` set): every
      complaint is kept and counts in volumes; the customer's survey is linked to the
      first of them (reason ``key repeated``);
    * empty key in complaints: kept as a complaint (it counts in volumes), cannot be linked;
    * survey key not found among the complaints: with the ``"empty-key"`` rule dropped from
      ``joined``; listed in ``unmatched_surveys`` under either rule;
    * score missing, not a number, out of range or not a whole number: the cell becomes NaN
      and the row is kept for its other scores (reported only for rows kept in ``joined``).

    Raises LinkError naming the table when the key column or every score column is missing.
    """
    complaint_key, survey_key = (key, key) if isinstance(key, str) else key
    id_column = complaint_id or complaint_key
    if baseline not in BASELINE_RULES:
        raise ValueError(f"baseline must be one of {', '.join(BASELINE_RULES)}, not {baseline!r}")
    rule = baseline if baseline != "auto" else "unmatched" if id_column != complaint_key else "empty-key"
    _require_columns(complaints, list(dict.fromkeys([complaint_key, id_column])), "complaints")
    _require_columns(surveys, [survey_key], "surveys")
    scores = _find_score_columns(surveys, score_cols)
    if not scores:
        raise LinkError(f"surveys: no score column ({', '.join(score_cols)}); "
                        f"the columns are: {', '.join(map(str, surveys.columns))}")
    problems = []

    # Complaints: drop repeated ids, keep empty-key complaints for volumes, link each key once.
    c_rows = _spreadsheet_rows(complaints)
    c_keys = _as_text(complaints[complaint_key]).astype(object).reset_index(drop=True)
    c_ids = (c_keys if id_column == complaint_key
             else _as_text(complaints[id_column]).astype(object).reset_index(drop=True))
    c_duplicate, c_first = _duplicates(c_ids, c_rows)
    c_empty = c_keys.isna().to_numpy() & ~c_duplicate
    c_repeated, c_repeated_first = _duplicates(c_keys.where(~c_duplicate), c_rows)
    problems.append(_problems("complaints", c_rows[c_duplicate], c_keys[c_duplicate], id_column,
                              c_ids[c_duplicate], "duplicate key",
                              [f"first in row {r}" for r in c_first], True))
    problems.append(_problems("complaints", c_rows[c_empty], c_keys[c_empty], complaint_key,
                              complaints[complaint_key].to_numpy()[c_empty], "empty key",
                              "kept for volumes, cannot be linked", False))
    problems.append(_problems("complaints", c_rows[c_repeated], c_keys[c_repeated], complaint_key,
                              c_keys[c_repeated], "key repeated",
                              [f"kept for volumes; the survey is linked to the complaint in row {r}"
                               for r in c_repeated_first], False))
    linkable_positions = np.flatnonzero(~c_duplicate & ~c_empty & ~c_repeated)
    linkable = complaints.iloc[linkable_positions]
    linkable_keys = pd.Index(c_keys.iloc[linkable_positions].to_numpy(dtype=object))

    # Surveys: drop repeated keys; a key that matches no complaint is the baseline or left out.
    s_rows = _spreadsheet_rows(surveys)
    s_keys = _as_text(surveys[survey_key]).astype(object).reset_index(drop=True)
    s_duplicate, s_first = _duplicates(s_keys, s_rows)
    position = linkable_keys.get_indexer(pd.Index(s_keys.to_numpy(dtype=object)))
    s_unknown = (position < 0) & s_keys.notna().to_numpy() & ~s_duplicate
    s_unmatched = s_unknown if rule == "empty-key" else np.zeros(len(s_keys), dtype=bool)
    problems.append(_problems("surveys", s_rows[s_duplicate], s_keys[s_duplicate], survey_key,
                              s_keys[s_duplicate], "duplicate key",
                              [f"first in row {r}" for r in s_first], True))
    problems.append(_problems("surveys", s_rows[s_unmatched], s_keys[s_unmatched], survey_key,
                              s_keys[s_unmatched], "key not found in complaints",
                              "not the baseline: see unmatched_surveys", True))
    keep = ~s_duplicate & ~s_unmatched
    kept_surveys = surveys.iloc[np.flatnonzero(keep)].reset_index(drop=True)
    kept_rows, kept_skeys = s_rows[keep], s_keys[keep].reset_index(drop=True)

    survey_part = kept_surveys.drop(columns=[scores[c] for c in scores])
    for canonical, column in scores.items():
        bounds = SCORE_RANGES.get(canonical.upper())
        cleaned, masks = _clean_scores(kept_surveys[column], bounds)
        survey_part[canonical] = cleaned.to_numpy()
        raw = kept_surveys[column].to_numpy()
        details = {
            "score missing": "row kept for the other scores",
            "score not a number": "cell ignored",
            "score out of range": f"{canonical} must lie in {bounds[0]}–{bounds[1]}" if bounds else "",
            "score not a whole number": f"{canonical} is answered in whole points; cell ignored",
        }
        for reason, mask in masks.items():
            mask = mask.to_numpy()
            problems.append(_problems("surveys", kept_rows[mask], kept_skeys[mask], canonical, raw[mask],
                                      reason, details[reason], False))
    complaint_part = linkable.reset_index(drop=True).reindex(position[keep])
    complaint_part = complaint_part.reset_index(drop=True)
    clashes = {c: f"{c}_survey" for c in survey_part.columns
               if c in complaint_part.columns and not (c == survey_key == complaint_key)}
    complaint_part = complaint_part.drop(columns=[complaint_key] if complaint_key == survey_key else [])
    joined = pd.concat([survey_part.rename(columns=clashes), complaint_part], axis=1)
    joined["has_complaint"] = position[keep] >= 0

    linked_rows = np.zeros(len(complaints), dtype=bool)
    linked_rows[linkable_positions[position[keep & (position >= 0)]]] = True
    unmatched_surveys = surveys.iloc[np.flatnonzero(s_unknown)].copy()
    unmatched_surveys["as_baseline"] = rule == "unmatched"
    problem_table = pd.concat(problems, ignore_index=True)
    problem_table = problem_table.sort_values(["table", "row"], kind="stable", ignore_index=True)
    return Linked(
        joined=joined, complaints=complaints.iloc[np.flatnonzero(~c_duplicate)],
        unmatched_complaints=complaints.iloc[np.flatnonzero(~c_duplicate & ~linked_rows)],
        unmatched_surveys=unmatched_surveys,
        problems=problem_table, complaint_key=complaint_key, survey_key=survey_key,
        score_cols=tuple(scores), n_complaint_rows=len(complaints), n_survey_rows=len(surveys),
        complaint_id=id_column, baseline_rule=rule,
    )


# ----------------------------------------------------------------------------- score statistics
def nps(scores, axis=None):
    """Net Promoter Score in points (−100..100): % promoters (9–10) − % detractors (0–6).

    NaN scores are ignored; no valid score gives NaN. A score outside 0–10 raises ValueError.
    ``axis`` works as in ``np.mean`` (so ``nps`` can be a ``bootstrap_ci`` statistic).
    """
    values = np.asarray(scores, dtype=float)
    valid = ~np.isnan(values)
    if ((values[valid] < 0) | (values[valid] > 10)).any():
        raise ValueError("NPS scores must lie in 0–10")
    net = (values >= 9).astype(float) - (values <= 6)
    with np.errstate(invalid="ignore", divide="ignore"):
        return 100.0 * net.sum(axis=axis) / valid.sum(axis=axis)


def bootstrap_ci(values, statistic=np.mean, n_boot: int = 2000, level: float = 0.95, seed: int = 0,
                 max_cells: int = 4_000_000) -> tuple[float, float]:
    """Percentile bootstrap interval ``(low, high)`` of ``statistic`` over ``values``.

    statistic: reduces a 2-D array of resamples along ``axis=1``, like ``np.mean`` or ``nps``.
    NaN values are left out first. Fewer than two values give ``(nan, nan)``.
    Resamples are drawn as an index matrix, ``max_cells`` entries at a time to bound memory.
    """
    sample = np.asarray(values, dtype=float)
    sample = sample[~np.isnan(sample)]
    n = len(sample)
    if n < 2 or n_boot < 1:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    per_chunk = max(1, max_cells // n)
    estimates = np.concatenate([
        np.asarray(statistic(sample[rng.integers(0, n, size=(min(per_chunk, n_boot - start), n))], axis=1),
                   dtype=float)
        for start in range(0, n_boot, per_chunk)
    ])
    low, high = np.nanquantile(estimates, [(1 - level) / 2, (1 + level) / 2])
    return (float(low), float(high))


def _levels(counts: pd.Series | None, group: str) -> tuple[np.ndarray, np.ndarray]:
    """(distinct scores, how many of each) of one group, from a (group, score) count Series."""
    if counts is None or group not in counts.index.get_level_values(0):
        return np.zeros(0), np.zeros(0)
    levels = counts.loc[group]
    return levels.index.to_numpy(dtype=float), levels.to_numpy(dtype=float)


def _discrete_bootstrap(counts: np.ndarray, transforms: np.ndarray, n_boot: int, level: float,
                        rng: np.random.Generator):
    """Means of ``transforms`` (one row per distinct score, one column per statistic) and their CIs,
    weighted by ``counts``.

    Resampling n responses with replacement is the same as drawing the level counts from a
    multinomial, which costs O(levels) instead of O(n) per resample, so 1M responses take
    no longer than 100.
    """
    n = int(counts.sum())
    k = transforms.shape[1]
    if n == 0:
        return np.full(k, np.nan), np.full(k, np.nan), np.full(k, np.nan)
    estimate = counts @ transforms / n
    if n < 2 or n_boot < 1:
        return estimate, np.full(k, np.nan), np.full(k, np.nan)
    draws = rng.multinomial(n, counts / n, size=n_boot)
    low, high = np.quantile(draws @ transforms / n, [(1 - level) / 2, (1 + level) / 2], axis=0)
    return estimate, low, high


def _joined_frame(linked_or_df) -> tuple[pd.DataFrame, pd.DataFrame | None, pd.Series]:
    """(joined table, all complaints or None, has-complaint mask) from a Linked or a joined table."""
    if isinstance(linked_or_df, Linked):
        joined = linked_or_df.joined
        return joined, linked_or_df.complaints, joined["has_complaint"].astype(bool)
    joined = linked_or_df
    if "has_complaint" in joined.columns:
        return joined, None, joined["has_complaint"].astype(bool)
    if "category" in joined.columns:
        return joined, None, joined["category"].notna()
    return joined, None, pd.Series(True, index=joined.index)


def group_scores(linked_or_df, by: str = "category", n_boot: int = 2000, level: float = 0.95,
                 seed: int = 0) -> pd.DataFrame:
    """CSAT and NPS per group of complainants, and for the baseline (respondents without complaint).

    linked_or_df: a :class:`Linked`, or a joined table (then ``has_complaint``, or else a
        non-empty ``category``, marks complainants, and ``n_complaints`` counts only the
        surveyed complaints).
    by: any column of the joined table: ``category``, ``topic_label``, ``省份``, ``渠道`` …

    One row per group (``GROUP_SCORE_COLUMNS``), groups by ``n_complaints`` descending, the
    baseline last:

    * ``group`` the value of ``by`` as text (``(缺失)`` where empty; ``NONE`` for the
      baseline), ``group_name`` its display name (``category_name`` when ``by="category"``,
      ``(无投诉)`` for the baseline), ``is_baseline``;
    * ``n_complaints`` complaints in the group, linked or not (0 for the baseline), and
      ``share`` of all complaints (NaN for the baseline); both NaN when ``by`` is a survey
      column, which complaints do not have;
    * ``n_surveyed`` respondents; ``n_csat``/``n_nps`` those with a valid score;
    * ``csat_mean`` mean CSAT (1–5), ``nps`` NPS points, ``detractor_share`` share of NPS
      0–6, each with a percentile-bootstrap interval ``*_low``/``*_high`` at ``level``;
    * ``csat_gap``/``nps_gap``: the group minus the baseline (negative = less satisfied);
    * ``note``: ``no survey responses``, ``no valid score``, ``n=1: no interval``,
      ``n<30: interpret with care`` (from the smaller of ``n_csat``/``n_nps``), else empty.

    Intervals are deterministic given ``seed`` and the group's name.
    """
    joined, complaints, has_complaint = _joined_frame(linked_or_df)
    if by not in joined.columns:
        raise ValueError(f"group_scores: no column {by!r} to group by; "
                         f"the columns are: {', '.join(map(str, joined.columns))}")
    groups = _as_labels(joined[by]).where(has_complaint.to_numpy(), BASELINE_CODE)
    if complaints is None:
        volume = groups[has_complaint.to_numpy()].value_counts()
    elif by in complaints.columns:
        volume = _as_labels(complaints[by]).value_counts()
    else:
        volume = None
    names = {}
    if by == "category":
        # Names come from every complaint, so a category nobody surveyed is named too.
        named = [frame for frame in (complaints, joined.loc[has_complaint.to_numpy()])
                 if frame is not None and "category_name" in frame.columns]
        if named:
            pairs = pd.concat([frame[["category", "category_name"]] for frame in named], ignore_index=True)
            names = pairs["category_name"].groupby(_as_labels(pairs["category"]).to_numpy()).first().dropna().to_dict()
    surveyed = groups.value_counts()
    labels = set(surveyed.index) | (set(volume.index) if volume is not None else set())

    score_counts = {}
    for column in ("CSAT", "NPS"):
        if column in joined.columns:
            valid = joined[column].notna().to_numpy()
            score_counts[column] = joined.loc[valid, column].groupby(groups[valid].to_numpy()).value_counts()
    total = int(volume.sum()) if volume is not None else 0

    rows = []
    for group in labels:
        is_baseline = group == BASELINE_CODE
        n_complaints = math.nan if volume is None else 0 if is_baseline else int(volume.get(group, 0))
        row = {"group": group, "is_baseline": is_baseline,
               "group_name": BASELINE_LABEL if is_baseline else names.get(group, group),
               "n_complaints": n_complaints, "n_surveyed": int(surveyed.get(group, 0)),
               "share": n_complaints / total if total and not is_baseline else math.nan}
        levels, weights = _levels(score_counts.get("CSAT"), group)
        estimate, low, high = _discrete_bootstrap(weights, levels[:, None], n_boot, level,
                                                  _group_rng(seed, group, 0))
        row.update(n_csat=int(weights.sum()), csat_mean=estimate[0], csat_low=low[0], csat_high=high[0])
        levels, weights = _levels(score_counts.get("NPS"), group)
        detractor = (levels <= 6).astype(float)
        transforms = np.column_stack([100.0 * ((levels >= 9) - detractor), detractor])
        estimate, low, high = _discrete_bootstrap(weights, transforms, n_boot, level, _group_rng(seed, group, 1))
        row.update(n_nps=int(weights.sum()), nps=estimate[0], nps_low=low[0], nps_high=high[0],
                   detractor_share=estimate[1], detractor_low=low[1], detractor_high=high[1])
        present = [row[f"n_{c.lower()}"] for c in score_counts]
        row["note"] = _note(row["n_surveyed"], min(present) if present else 0)
        rows.append(row)

    table = pd.DataFrame(rows, columns=[c for c in GROUP_SCORE_COLUMNS if c not in ("csat_gap", "nps_gap")])
    baseline = table.loc[table["is_baseline"]]
    for score, gap in (("csat_mean", "csat_gap"), ("nps", "nps_gap")):
        reference = baseline[score].iloc[0] if len(baseline) else math.nan
        table[gap] = np.where(table["is_baseline"], math.nan, table[score] - reference)
    table = table.sort_values(["is_baseline", "n_complaints", "n_surveyed", "group"],
                              ascending=[True, False, False, True], kind="stable", ignore_index=True)
    return table[GROUP_SCORE_COLUMNS]


def breakdown(linked_or_df, by=("省份", "渠道", "客户类型"), **options) -> pd.DataFrame:
    """:func:`group_scores` for several dimensions, stacked: a ``dimension`` column first.

    A dimension absent from the joined table is skipped; ``attrs["notes"]`` says which.
    ``options`` go to :func:`group_scores`.
    """
    joined = linked_or_df.joined if isinstance(linked_or_df, Linked) else linked_or_df
    tables, notes = [], []
    for dimension in by:
        if dimension not in joined.columns:
            notes.append(f"{dimension}: no such column, skipped")
            continue
        tables.append(group_scores(linked_or_df, by=dimension, **options).assign(dimension=dimension))
    columns = ["dimension", *GROUP_SCORE_COLUMNS]
    result = pd.concat(tables, ignore_index=True)[columns] if tables else pd.DataFrame(columns=columns)
    result.attrs["notes"] = notes
    return result


# ----------------------------------------------------------------------------- key drivers
def indicator_matrix(joined: pd.DataFrame, column: str = "category",
                     multi_label_column: str | None = None) -> pd.DataFrame:
    """0/1 matrix for :class:`DriverModel`: one column per group value, one row per ``joined`` row.

    Respondents without complaint (``has_complaint`` False, or an empty ``column`` when the
    table has no ``has_complaint``) are all zeros. A complainant with an empty ``column`` gets
    the column ``(缺失)``, so it is not mistaken for the baseline. With
    ``multi_label_column`` (e.g. ``categories``, ``|``-joined codes) a row has a 1 for each
    listed code as well as for its primary ``column`` value. Columns are sorted.
    """
    _, _, has_complaint = _joined_frame(joined)
    mask = has_complaint.to_numpy()
    row_ids = [np.flatnonzero(mask)]
    labels = [_as_labels(joined[column])[mask].to_numpy()]
    if multi_label_column is not None:
        listed = _as_text(joined[multi_label_column].reset_index(drop=True)).where(mask)
        parts = _as_text(listed.str.split("|").explode().astype("string")).dropna()
        row_ids.append(parts.index.to_numpy(dtype=np.intp))
        labels.append(parts.to_numpy(dtype=object))
    labels_all = np.concatenate(labels).astype(str)
    codes, names = pd.factorize(labels_all, sort=True)
    matrix = np.zeros((len(joined), len(names)), dtype=np.uint8)
    matrix[np.concatenate(row_ids), codes] = 1
    return pd.DataFrame(matrix, index=joined.index, columns=list(names))


def _distinct_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of a finite float matrix and how often each occurs, in the order of
    ``np.unique(rows, axis=0, return_counts=True)`` (lexicographic), with the same values.

    np.unique(axis=0) compares rows as records, field by field: 0.4–0.6 s on 100,000 rows of 12
    indicators. Each row compared as one string of bytes takes a tenth of that. Byte order is not numeric order
    (negative numbers), and the bootstrap's draws follow the order of the rows, so the few
    distinct rows are sorted again."""
    rows = np.ascontiguousarray(rows + 0.0)  # -0.0 becomes 0.0: equal numbers, equal bytes
    values, counts = np.unique(rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel(),
                               return_counts=True)
    distinct = values.view(rows.dtype).reshape(len(values), rows.shape[1])
    order = np.lexsort(distinct.T[::-1])
    return distinct[order], counts[order]


class _Subsets:
    """Every subset of p predictors, grouped by size, with the Shapley weight of each."""

    def __init__(self, p: int):
        self.p = p
        self.blocks = []
        for size in range(1, p + 1):
            members = np.array(list(itertools.combinations(range(p), size)), dtype=np.intp)
            self.blocks.append((members, (1 << members).sum(axis=1)))
        masks = np.arange(1 << p)
        sizes = np.array([bin(m).count("1") for m in masks])
        factorial = np.array([math.factorial(k) for k in range(p + 1)], dtype=float)
        self.without = [masks[(masks >> j) & 1 == 0] for j in range(p)]
        weight = factorial[sizes] * factorial[np.clip(p - sizes - 1, 0, None)] / factorial[p]
        self.weights = [weight[w] for w in self.without]


# A ridge far below any real signal: keeps subsets with constant or collinear predictors
# solvable in one batched call, and changes R² by ~1e-9 at most.
_RIDGE = 1e-9


def _correlations(cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(predictor correlation matrix, correlations with y) from a covariance with y last;
    zero-variance columns get zero correlations."""
    sd = np.sqrt(np.clip(np.diag(cov), 0, None))
    scale = np.where(sd > 1e-12, sd, np.inf)
    corr = cov / np.outer(scale, scale)
    return corr[:-1, :-1], corr[:-1, -1]


def _shapley(cov: np.ndarray, subsets: _Subsets) -> np.ndarray:
    """Exact Shapley (LMG) decomposition of R²: each predictor's R² gain averaged over orders."""
    R, r = _correlations(cov)
    r2 = np.zeros(1 << subsets.p)
    for members, masks in subsets.blocks:
        block = R[members[:, :, None], members[:, None, :]] + _RIDGE * np.eye(members.shape[1])
        rs = r[members]
        r2[masks] = (rs * np.linalg.solve(block, rs[..., None])[..., 0]).sum(axis=1)
    shares = np.array([(weights * (r2[without | (1 << j)] - r2[without])).sum()
                       for j, (without, weights) in enumerate(zip(subsets.without, subsets.weights))])
    # R² never falls when a predictor is added, so a negative share is rounding error.
    return np.clip(shares, 0, None)


def _relative_weights(cov: np.ndarray) -> np.ndarray:
    """Johnson's (2000) relative weights: R² of y on the orthogonal counterparts of the
    predictors, handed back to the predictors by their squared loadings."""
    R, r = _correlations(cov)
    eigenvalues, eigenvectors = np.linalg.eigh(R)
    loadings = eigenvectors @ np.diag(np.sqrt(np.clip(eigenvalues, 0, None))) @ eigenvectors.T
    beta = np.linalg.pinv(loadings, hermitian=True, rtol=1e-10) @ r
    return (loadings ** 2) @ (beta ** 2)


class DriverModel(RegressorMixin, BaseEstimator):
    """Which complaint categories drive satisfaction: importance and effect of each indicator.

    Fit on a 0/1 indicator matrix (:func:`indicator_matrix`; respondents without complaint
    are all zeros) and a score (CSAT or NPS). Two views:

    * importance: each predictor's share of R², by the exact Shapley (LMG) decomposition or
      Johnson's relative weights; they sum to R² and do not depend on which other
      indicators are in the model first;
    * effect: OLS coefficients with an intercept. With mutually exclusive categories the
      intercept is the baseline's mean score and a coefficient is the category's mean score
      minus the baseline's (e.g. −1.2 CSAT points).

    Without respondents without complaint (every row has an indicator) the baseline's mean
    is not observed: with ``reference="auto"`` the category with the highest mean score
    becomes the reference, its coefficient is 0 and the others are differences from it.

    Parameters
    ----------
    method: ``"shapley"``, ``"relative_weights"`` or ``"auto"`` (Shapley when there are at
        most 15 predictors: its cost doubles with each one, relative weights beyond).
    n_boot: bootstrap resamples for the importance intervals (0: none). Shapley with 15
        predictors costs about 0.05 s per resample.
    level: confidence level of every interval.
    seed: seed of the bootstrap.
    reference: predictor the effects are measured from, left out of the OLS design:
        ``"auto"`` (default): the highest-scoring predictor (among those with at least 30
        responses, when any has) if X is 0/1 with no all-zero row, else none; a predictor
        name; or None (never: without an all-zero row the intercept and coefficients are
        then not identified).

    Attributes
    ----------
    n_features_in_, feature_names_in_ (only when X has string column names; the drivers
    are otherwise named ``x0``, ``x1`` …), n_ (responses used: rows with a score), method_,
    reference_ (driver name or None), r2_, importance_ (R² share, sums to ``r2_``),
    importance_share_ (sums to 1), importance_low_/importance_high_, intercept_, coef_,
    coef_low_/coef_high_ (t intervals from OLS standard errors), p_value_, identified_
    (per predictor: its coefficient is identified), fitted_params_ (intercept then
    coefficients that :meth:`predict` uses: the minimum-norm least-squares solution, so
    collinear predictors share their effect), n_with_, mean_with_, mean_without_, notes_
    (per predictor, "" when none).

    Zero-variance predictors (nobody, or everyone, in the category) get importance 0 and a
    NaN coefficient; perfectly collinear ones share importance and get NaN coefficients
    (not identified). A predictor present once is kept, with a note. Scores that are NaN
    are missing answers: those rows are left out (X must be finite).
    """

    def __init__(self, method: str = "auto", n_boot: int = 200, level: float = 0.95, seed: int = 0,
                 reference: str | None = "auto"):
        self.method = method
        self.n_boot = n_boot
        self.level = level
        self.seed = seed
        self.reference = reference

    def fit(self, X, y):
        """Fit on X (n responses × p indicators) and y (n scores, NaN where unanswered); returns self."""
        if self.method not in ("auto", "shapley", "relative_weights"):
            raise ValueError(f"method must be 'auto', 'shapley' or 'relative_weights', not {self.method!r}")
        features = validate_data(self, X, dtype=np.float64, ensure_min_samples=2)
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        target = column_or_1d(check_array(y, ensure_2d=False, dtype=np.float64, ensure_all_finite="allow-nan",
                                          input_name="y"), warn=True)
        check_consistent_length(features, target)
        keep = ~np.isnan(target)
        if keep.sum() < 2:
            raise ValueError(f"need at least 2 responses with a score, got {int(keep.sum())}")
        p = features.shape[1]
        names = self._driver_names()
        self.method_ = (self.method if self.method != "auto"
                        else "shapley" if p <= MAX_SHAPLEY_PREDICTORS else "relative_weights")

        # Indicator data repeat a handful of distinct rows: fit on (distinct row, count), which
        # gives the same numbers as the full data and makes the bootstrap independent of n.
        distinct, counts = _distinct_rows(np.column_stack([features[keep], target[keep]]))
        counts = counts.astype(float)
        n = counts.sum()
        self.n_ = int(n)
        self._describe_groups(distinct[:, :-1], distinct[:, -1], counts)
        reference = self._reference_index(distinct[:, :-1], names)
        self.reference_ = None if reference is None else names[reference]
        subsets = _Subsets(p) if self.method_ == "shapley" else None
        importance_of = (lambda cov: _shapley(cov, subsets)) if subsets else _relative_weights
        center = counts @ distinct / n
        centered = distinct - center
        cov = (centered * counts[:, None]).T @ centered / n
        self.importance_ = importance_of(cov)
        self._fit_ols(distinct[:, :-1], distinct[:, -1], counts, reference)
        total = self.importance_.sum()
        self.importance_share_ = self.importance_ / total if total > 0 else np.full(p, np.nan)
        self.importance_low_, self.importance_high_ = self._bootstrap(centered, counts, importance_of)
        self._write_notes(distinct[:, :-1], reference)
        return self

    def predict(self, X):
        """Predicted score of each row of X, from the OLS fit."""
        check_is_fitted(self, "fitted_params_")
        features = validate_data(self, X, dtype=np.float64, reset=False)
        return self.fitted_params_[0] + features @ self.fitted_params_[1:]

    def _driver_names(self) -> list[str]:
        if hasattr(self, "feature_names_in_"):
            return [str(name) for name in self.feature_names_in_]
        return [f"x{j}" for j in range(self.n_features_in_)]

    def _reference_index(self, features, names) -> int | None:
        if self.reference is None:
            return None
        if self.reference != "auto":
            if self.reference not in names:
                raise ValueError(f"reference {self.reference!r} is not a driver; the drivers are: {', '.join(names)}")
            return names.index(self.reference)
        indicators = np.isin(features, (0.0, 1.0)).all()
        if not indicators or not features.any(axis=1).all():
            return None
        # The best category as reference: every effect then reads as "costs so many points
        # against the best", and a large one keeps the intervals narrow.
        present = self.n_with_ > 0
        eligible = self.n_with_ >= SMALL_N if (self.n_with_ >= SMALL_N).any() else present
        means = np.where(eligible, self.mean_with_, -np.inf)
        return int(np.argmax(means)) if eligible.any() else None

    def _fit_ols(self, features, target, counts, reference):
        p = features.shape[1]
        used = np.array([j for j in range(p) if j != reference], dtype=np.intp)
        design = np.column_stack([np.ones(len(features)), features[:, used]])
        gram = design.T @ (design * counts[:, None])
        gram_inverse = np.linalg.pinv(gram, hermitian=True, rtol=1e-10)
        beta = gram_inverse @ (design.T @ (counts * target))
        projection = np.diag(gram_inverse @ gram)
        identified = np.abs(projection - 1) < 1e-6
        rank = int(round(projection.sum()))
        residual = target - design @ beta
        rss = counts @ residual ** 2
        tss = counts @ (target - counts @ target / counts.sum()) ** 2
        self.r2_ = float(1 - rss / tss) if tss > 0 else 0.0
        dof = counts.sum() - rank
        with np.errstate(invalid="ignore", divide="ignore"):
            se = np.sqrt(rss / dof * np.diag(gram_inverse)) if dof > 0 else np.full(len(beta), np.nan)
            t_value = beta / se
        margin = stats.t.ppf((1 + self.level) / 2, dof) * se if dof > 0 else np.full(len(beta), np.nan)
        p_value = 2 * stats.t.sf(np.abs(t_value), dof) if dof > 0 else np.full(len(beta), np.nan)
        # Slot 0 is the intercept; the reference's coefficient is 0 by construction, with no interval.
        slots = np.concatenate([[0], used + 1])

        def per_predictor(values, reference_value):
            full = np.full(p + 1, reference_value, dtype=float)
            full[slots] = values
            return full

        self.fitted_params_ = per_predictor(beta, 0.0)
        estimate = per_predictor(np.where(identified, beta, np.nan), 0.0)
        low = per_predictor(np.where(identified, beta - margin, np.nan), np.nan)
        high = per_predictor(np.where(identified, beta + margin, np.nan), np.nan)
        self.intercept_ = float(estimate[0])
        self.coef_, self.coef_low_, self.coef_high_ = estimate[1:], low[1:], high[1:]
        self.p_value_ = per_predictor(np.where(identified, p_value, np.nan), np.nan)[1:]
        self.identified_ = per_predictor(identified, 1.0)[1:].astype(bool)

    def _bootstrap(self, centered, counts, importance_of):
        p = centered.shape[1] - 1
        if self.n_boot < 1 or counts.sum() < 2 or p == 0:
            return np.full(p, np.nan), np.full(p, np.nan)
        rng = np.random.default_rng(self.seed)
        n = int(counts.sum())
        # Continuous X or y leave many distinct rows: draw the resamples a bounded block at a time.
        per_block = max(1, 2_000_000 // len(counts))
        estimates = []
        for start in range(0, self.n_boot, per_block):
            draws = rng.multinomial(n, counts / n, size=min(per_block, self.n_boot - start)).astype(float)
            means = draws @ centered / n
            second = np.einsum("bk,ki,kj->bij", draws, centered, centered, optimize=True) / n
            estimates += [importance_of(cov) for cov in second - means[:, :, None] * means[:, None, :]]
        low, high = np.quantile(estimates, [(1 - self.level) / 2, (1 + self.level) / 2], axis=0)
        return low, high

    def _describe_groups(self, features, target, counts):
        present = features != 0
        self.n_with_ = (counts[:, None] * present).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            self.mean_with_ = ((counts * target)[:, None] * present).sum(axis=0) / self.n_with_
            self.mean_without_ = ((counts * target)[:, None] * ~present).sum(axis=0) / (counts.sum() - self.n_with_)

    def _write_notes(self, features, reference):
        constant = np.ptp(features, axis=0) == 0
        notes = []
        for j in range(self.n_features_in_):
            if constant[j]:
                notes.append("constant: no effect can be estimated")
            elif j == reference:
                notes.append("reference: no respondents without complaint, so the effects are "
                             "differences from this category")
            elif not self.identified_[j]:
                notes.append("collinear with other drivers: coefficient not identified")
            elif self.n_with_[j] == 1:
                notes.append("n=1: coefficient rests on one response")
            elif self.n_with_[j] < SMALL_N:
                notes.append(f"n<{SMALL_N}: interpret with care")
            else:
                notes.append("")
        self.notes_ = np.array(notes, dtype=object)

    def drivers_table(self) -> pd.DataFrame:
        """One row per predictor (``DRIVER_COLUMNS``), most important first.

        ``importance`` R² share (sums to ``r2_``), ``importance_share`` (sums to 1),
        ``importance_low``/``high`` bootstrap interval, ``coef`` OLS effect on the score with
        ``coef_low``/``high`` and ``p_value`` (0 and no interval for the reference),
        ``n_with`` responses with the indicator, ``mean_with``/``mean_without`` mean score of
        those with and without it, ``note``.
        """
        check_is_fitted(self, "importance_")
        table = pd.DataFrame({
            "driver": np.array(self._driver_names(), dtype=object), "importance": self.importance_,
            "importance_share": self.importance_share_, "importance_low": self.importance_low_,
            "importance_high": self.importance_high_, "coef": self.coef_, "coef_low": self.coef_low_,
            "coef_high": self.coef_high_, "p_value": self.p_value_, "n_with": self.n_with_.astype(np.int64),
            "mean_with": self.mean_with_, "mean_without": self.mean_without_, "note": self.notes_,
        }, columns=DRIVER_COLUMNS)
        return table.sort_values(["importance", "driver"], ascending=[False, True], kind="stable",
                                 na_position="last", ignore_index=True)


def quadrant(drivers_table: pd.DataFrame, performance=None, split: str = "mean", baseline: float | None = None,
             ) -> pd.DataFrame:
    """Importance–performance analysis of the drivers.

    x = ``importance`` (R² share), y = performance, the category's mean score: by default
    ``mean_with`` of the drivers table (the mean score of respondents with that complaint);
    or a Series/dict {driver: value}; or a :func:`group_scores` table (its ``csat_mean``).
    Each axis is split at the ``mean`` (default) or ``median`` over the drivers having both
    values; a value equal to the split counts as high. With fewer than two such drivers
    there is nothing to compare a category with but ``baseline`` (the score of respondents
    without complaint): it is then the performance split. By default (``performance`` None)
    that is the lone driver's ``mean_without``, since everyone without its complaint is
    without complaint; without either no driver is placed. Quadrants:
    ``重点改进区`` high importance, low satisfaction (fix first); ``优势区`` high, high
    (keep); ``机会区`` low, low; ``维持区`` low, high.

    Returns the drivers table with ``performance``, ``quadrant`` (NaN where a value or a
    split is missing), ``importance_split`` and ``performance_split``.
    """
    if split not in ("mean", "median"):
        raise ValueError(f"split must be 'mean' or 'median', not {split!r}")
    table = drivers_table.copy()
    if performance is None:
        table["performance"] = table["mean_with"]
    else:
        if isinstance(performance, pd.DataFrame):
            performance = performance.set_index("group")["csat_mean"]
        table["performance"] = table["driver"].map(pd.Series(performance))
    both = table["importance"].notna() & table["performance"].notna()
    importance_split = getattr(table.loc[both, "importance"], split)()
    if both.sum() >= 2:
        performance_split = getattr(table.loc[both, "performance"], split)()
    else:
        if baseline is None and performance is None and "mean_without" in table and both.any():
            baseline = table.loc[both, "mean_without"].iloc[0]
        performance_split = math.nan if baseline is None or pd.isna(baseline) else float(baseline)
    placed = both & pd.notna(importance_split) & pd.notna(performance_split)
    labels = [QUADRANTS[(bool(i >= importance_split), bool(s >= performance_split))] if ok else np.nan
              for i, s, ok in zip(table["importance"], table["performance"], placed)]
    table["quadrant"] = pd.Series(labels, index=table.index, dtype=object)
    table["importance_split"] = importance_split
    table["performance_split"] = performance_split
    return table


# ----------------------------------------------------------------------------- volumes
def pareto(counts_or_series) -> pd.DataFrame:
    """Groups by count, descending, with ``group``, ``count``, ``share``, ``cum_share``, ``pareto_class``.

    Input: counts per group (a numeric Series indexed by group, or a dict), or one label per
    complaint (a non-numeric Series; empty labels count as ``(缺失)``). Ties are ordered by
    group name.

    Rule: a group is class A while the cumulative share *before* it is below 80%, so the
    group that crosses 80% is still A; B while the share before it is below 90%; else C.
    Counts 50, 30, 10, 5, 5: shares before are 0, 50, 80, 90, 95% → A, A, B, C, C.
    """
    data = pd.Series(counts_or_series) if isinstance(counts_or_series, dict) else counts_or_series
    if not pd.api.types.is_numeric_dtype(data):
        data = _as_labels(data).value_counts()
    data = pd.Series(data.to_numpy(), index=pd.Index(data.index).astype(str), dtype=float)
    table = pd.DataFrame({"group": data.index.to_numpy(dtype=object), "count": data.to_numpy()})
    table = table.sort_values(["count", "group"], ascending=[False, True], kind="stable", ignore_index=True)
    total = table["count"].sum()
    cumulative = table["count"].cumsum()
    before = cumulative - table["count"]
    with np.errstate(invalid="ignore", divide="ignore"):
        table["share"] = table["count"] / total
        table["cum_share"] = cumulative / total
    # Compare counts, not float shares, so that exactly 80% is not A.
    table["pareto_class"] = np.select([before * 10 < 8 * total, before * 10 < 9 * total], ["A", "B"], "C")
    if (table["count"] == table["count"].round()).all():
        table["count"] = table["count"].astype(np.int64)
    return table


def trends(complaints: pd.DataFrame, date_col: str, by: str | None = "category", freq: str = "W") -> pd.DataFrame:
    """Complaint counts per period and group: a long table ``period``, ``group``, ``count``.

    freq: ``"D"``, ``"W"`` (weeks Monday–Sunday), ``"M"`` or ``"Q"``; ``period`` is the
    period's first day. Every group has a row for every period from the first to the last
    (0 where none), so windows can be compared. ``by=None`` counts all complaints (group
    ``(全部)``). Complaints whose date is empty or unparseable are not counted;
    ``attrs["missing_timestamps"]`` and ``attrs["bad_timestamps"]`` say how many.
    The last period may be incomplete (data exported mid-week): drop it before alerting.
    """
    if freq not in ("D", "W", "M", "Q"):
        raise ValueError(f"freq must be 'D', 'W', 'M' or 'Q', not {freq!r}")
    _require_columns(complaints, [date_col] + ([by] if by else []), "complaints")
    times, empty, bad = _parse_times(complaints[date_col])
    groups = _as_labels(complaints[by]) if by else pd.Series(TOTAL_LABEL, index=complaints.index)
    valid = times.notna().to_numpy()
    frame = pd.DataFrame({"period": times[valid].dt.to_period(freq), "group": groups[valid]})
    counts = frame.groupby(["period", "group"], observed=True).size()
    if len(counts):
        grid = pd.MultiIndex.from_product([
            pd.period_range(frame["period"].min(), frame["period"].max(), freq=freq),
            sorted(counts.index.get_level_values(1).unique())])
        counts = counts.reindex(grid, fill_value=0)
    table = pd.DataFrame({
        "period": counts.index.get_level_values(0).to_timestamp() if len(counts) else pd.DatetimeIndex([]),
        "group": counts.index.get_level_values(1).to_numpy(dtype=object) if len(counts) else [],
        "count": counts.to_numpy(dtype=np.int64),
    })
    table.attrs["missing_timestamps"] = int(empty.sum())
    table.attrs["bad_timestamps"] = int(bad.sum())
    return table


def growth_alerts(trend_table: pd.DataFrame, threshold: float = 0.5, recent_periods: int = 4,
                  min_count: int = 10, only_alerts: bool = True) -> pd.DataFrame:
    """Groups whose complaints rose: the last ``recent_periods`` periods against the same number before.

    Columns: ``group``, ``previous`` and ``recent`` (counts in the two windows), ``growth``
    = (recent − previous) / previous (inf when previous is 0 and recent is not), ``alert``
    = growth > ``threshold`` and recent ≥ ``min_count`` (so a jump from 1 to 3 is no alert),
    ``recent_start`` and ``previous_start`` (first period of each window). Sorted by growth,
    highest first. ``only_alerts=False`` keeps every group. With fewer than
    2 × ``recent_periods`` periods the table is empty and ``attrs["note"]`` says why.
    """
    columns = ["group", "previous", "recent", "growth", "alert", "recent_start", "previous_start"]
    wide = trend_table.pivot_table(index="period", columns="group", values="count", aggfunc="sum",
                                   fill_value=0).sort_index()
    if len(wide) < 2 * recent_periods:
        result = pd.DataFrame(columns=columns)
        result.attrs["note"] = (f"{len(wide)} periods: growth needs at least {2 * recent_periods} "
                                f"({recent_periods} recent and {recent_periods} before)")
        return result
    recent = wide.iloc[-recent_periods:].sum()
    previous = wide.iloc[-2 * recent_periods:-recent_periods].sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        growth = np.where(previous > 0, (recent - previous) / previous, np.where(recent > 0, np.inf, 0.0))
    result = pd.DataFrame({
        "group": wide.columns.to_numpy(dtype=object), "previous": previous.to_numpy(dtype=np.int64),
        "recent": recent.to_numpy(dtype=np.int64), "growth": growth,
        "recent_start": wide.index[-recent_periods], "previous_start": wide.index[-2 * recent_periods],
    })
    result["alert"] = (result["growth"] > threshold) & (result["recent"] >= min_count)
    if only_alerts:
        result = result[result["alert"]]
    return result.sort_values(["growth", "group"], ascending=[False, True], kind="stable",
                              ignore_index=True)[columns]


# ----------------------------------------------------------------------------- service KPIs
def kpis(complaints: pd.DataFrame, created: str = "受理时间", responded: str = "首次响应时间",
         resolved: str = "办结时间", repeat: str = "重复投诉", channel: str = "渠道", text: str = "内容",
         by: str | None = "category") -> pd.DataFrame:
    """Handling KPIs per group and overall (last row, group ``(全部)``).

    * ``n`` complaints;
    * ``responded_24h_share``: first response at most 24 h after creation (exactly 24 h
      counts as within); never responded counts as not within; complaints whose creation or
      response time is unusable are left out of the share;
    * ``resolved_48h_share``: the same for resolution within 48 h (open = not within);
    * ``open_share``: share with no resolution time;
    * ``median_response_h``/``median_resolution_h``: median hours, over responded/resolved;
    * ``repeat_rate``: share flagged as repeat (是/Y/yes/1/true) among complaints with a flag;
    * ``escalation_rate``: channel ``工信部转办``, or the text mentions 工信部, 12300, 315,
      媒体, 曝光, 法院 or 消协;
    * ``bad_timestamps``: complaints with an unparseable time, an empty creation time, or a
      response/resolution before creation.

    A KPI whose column is absent is omitted; ``attrs["notes"]`` says which and why.
    """
    notes = []
    has = {name: column is not None and column in complaints.columns
           for name, column in (("created", created), ("responded", responded), ("resolved", resolved),
                                ("repeat", repeat), ("channel", channel), ("text", text))}
    metrics = pd.DataFrame(index=complaints.index)
    if has["created"]:
        start, start_empty, start_bad = _parse_times(complaints[created])
        bad = start_bad | start_empty
        for name, column, limit, label in (("responded", responded, 24, "response"),
                                           ("resolved", resolved, 48, "resolution")):
            if not has[name]:
                notes.append(f"{column}: no such column; {name}_{limit}h_share and median_{label}_h omitted")
                continue
            end, end_empty, end_bad = _parse_times(complaints[column])
            hours = (end - start) / pd.Timedelta(hours=1)
            negative = hours < 0
            bad |= end_bad | negative
            usable = start.notna() & ~end_bad & ~negative
            metrics[f"{name}_{limit}h_share"] = ((hours <= limit) & ~end_empty).astype(float).where(usable)
            metrics[f"median_{label}_h"] = hours.where(usable & ~end_empty)
            if name == "resolved":
                metrics["open_share"] = end_empty.astype(float)
        metrics["bad_timestamps"] = bad.astype(np.int64)
    else:
        notes.append(f"{created}: no such column; time KPIs omitted")
    if has["repeat"]:
        flag = complaints[repeat]
        if pd.api.types.is_bool_dtype(flag):
            metrics["repeat_rate"] = flag.astype(float)
        else:
            flag = _as_text(flag).str.lower()
            metrics["repeat_rate"] = flag.isin(REPEAT_YES).astype(float).where(flag.notna())
    else:
        notes.append(f"{repeat}: no such column; repeat_rate omitted")
    if has["channel"] or has["text"]:
        escalated = pd.Series(False, index=complaints.index)
        if has["channel"]:
            escalated |= (_as_text(complaints[channel]) == ESCALATION_CHANNEL).fillna(False).astype(bool)
        if has["text"]:
            mentions = complaints[text].astype("string").str.contains(ESCALATION_PATTERN, regex=True)
            escalated |= mentions.fillna(False).astype(bool)
        metrics["escalation_rate"] = escalated.astype(float)
        for name, column in (("channel", channel), ("text", text)):
            if not has[name]:
                notes.append(f"{column}: no such column; escalation_rate from the other column only")
    else:
        notes.append(f"{channel}, {text}: no such columns; escalation_rate omitted")

    if by is not None and by not in complaints.columns:
        notes.append(f"{by}: no such column; overall row only")
        by = None
    groups = _as_labels(complaints[by]) if by else pd.Series(TOTAL_LABEL, index=complaints.index)
    total = pd.Series(TOTAL_LABEL, index=complaints.index)
    tables = [_kpi_rows(metrics, groups).sort_values(["n", "group"], ascending=[False, True], kind="stable")]
    if by:
        tables.append(_kpi_rows(metrics, total))
    order = ["group", "n", "responded_24h_share", "resolved_48h_share", "open_share", "median_response_h",
             "median_resolution_h", "repeat_rate", "escalation_rate", "bad_timestamps"]
    result = pd.concat(tables, ignore_index=True)
    result = result[[c for c in order if c in result.columns]]
    result.attrs["notes"] = notes
    return result


def _kpi_rows(metrics: pd.DataFrame, groups: pd.Series) -> pd.DataFrame:
    keys = groups.to_numpy()
    table = groups.groupby(keys).size().rename("n").to_frame()
    if len(metrics.columns):
        grouped = metrics.groupby(keys)
        aggregated = grouped.mean()
        medians = [c for c in metrics.columns if c.startswith("median_")]
        aggregated[medians] = grouped[medians].median()
        if "bad_timestamps" in metrics.columns:
            aggregated["bad_timestamps"] = grouped["bad_timestamps"].sum()
        table = table.join(aggregated)
    return table.rename_axis("group").reset_index()
