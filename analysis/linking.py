"""Complaints linked to the satisfaction surveys that rate them, every row left out reported.

    linked = link(classified, surveys, key="工单号")        # validate + join; problems reported
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tousu.analysis.conventions import SCORE_RANGES, LinkError, require_columns, spreadsheet_rows, stripped_text

BASELINE_RULES = ("auto", "empty-key", "unmatched")
SCORE_REASONS = ("score missing", "score not a number", "score out of range", "score not a whole number")
PROBLEM_COLUMNS = ["table", "row", "key", "column", "value", "reason", "detail", "dropped"]


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


def clean_scores(values: pd.Series, bounds) -> tuple[pd.Series, dict[str, pd.Series]]:
    """(scores as floats, {reason: mask}) with the reasons of ``SCORE_REASONS``; bad cells become NaN.
    The results store keeps the scores by this rule too.

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
    require_columns(complaints, list(dict.fromkeys([complaint_key, id_column])), "complaints")
    require_columns(surveys, [survey_key], "surveys")
    scores = _find_score_columns(surveys, score_cols)
    if not scores:
        raise LinkError(f"surveys: no score column ({', '.join(score_cols)}); "
                        f"the columns are: {', '.join(map(str, surveys.columns))}")
    problems = []

    # Complaints: drop repeated ids, keep empty-key complaints for volumes, link each key once.
    c_rows = spreadsheet_rows(complaints)
    c_keys = stripped_text(complaints[complaint_key]).astype(object).reset_index(drop=True)
    c_ids = (c_keys if id_column == complaint_key
             else stripped_text(complaints[id_column]).astype(object).reset_index(drop=True))
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
    s_rows = spreadsheet_rows(surveys)
    s_keys = stripped_text(surveys[survey_key]).astype(object).reset_index(drop=True)
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
        cleaned, masks = clean_scores(kept_surveys[column], bounds)
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
