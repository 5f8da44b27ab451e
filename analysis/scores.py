"""CSAT and NPS per group of complainants and for the baseline, with bootstrap intervals.

    scores = group_scores(linked, by="category")
    by_region = breakdown(linked, by=("省份", "渠道"))
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from tousu.analysis.conventions import (
    BASELINE_CODE,
    BASELINE_LABEL,
    group_labels,
    group_rng,
    sample_note,
    stripped_text,
)
from tousu.analysis.linking import Linked

GROUP_SCORE_COLUMNS = [
    "group", "group_name", "is_baseline", "n_complaints", "share", "n_surveyed",
    "n_csat", "csat_mean", "csat_low", "csat_high", "csat_gap",
    "n_nps", "nps", "nps_low", "nps_high", "nps_gap",
    "detractor_share", "detractor_low", "detractor_high", "note",
]


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


def score_points(values: pd.Series, score: str) -> pd.Series:
    """Each answer in the unit its score is reported in: CSAT as it is; NPS as +100 (9–10),
    0 (7–8), −100 (0–6), whose mean is the NPS, so that a mean difference is in NPS points."""
    values = values.astype(float)
    if score == "NPS":
        return pd.Series(np.where(values >= 9, 100.0, np.where(values <= 6, -100.0, 0.0)),
                         index=values.index).where(values.notna())
    return values


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


def joined_frame(linked_or_df) -> tuple[pd.DataFrame, pd.DataFrame | None, pd.Series]:
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


# The column of a classified table that lists every category of a complaint (``|``-joined
# codes; the primary one is ``category``).
MULTI_LABEL_COLUMN = "categories"


def category_pairs(complaints: pd.DataFrame, primary_only: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Every category of each complaint row as (row positions, codes), one pair per distinct
    (row, code): the primary ``category`` (``(缺失)`` where empty) and, unless ``primary_only``,
    each code listed in ``categories`` (``|``-joined), when the table has that column."""
    primary = group_labels(complaints["category"]).to_numpy(dtype=object)
    rows = np.arange(len(complaints), dtype=np.intp)
    if primary_only or MULTI_LABEL_COLUMN not in complaints.columns:
        return rows, primary
    listed = stripped_text(complaints[MULTI_LABEL_COLUMN].reset_index(drop=True))
    parts = stripped_text(listed.str.split("|").explode().astype("string")).dropna()
    pairs = pd.DataFrame({"row": np.concatenate([rows, parts.index.to_numpy(dtype=np.intp)]),
                          "code": np.concatenate([primary, parts.to_numpy(dtype=object)])}).drop_duplicates()
    return pairs["row"].to_numpy(dtype=np.intp), pairs["code"].to_numpy(dtype=object)


def respondent_category_pairs(linked_or_df, primary_only: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The categories each survey response counts in, as (positions in the joined table, codes),
    one pair per distinct (response, code); respondents without complaint have none.

    By default every category of the linked complaint (:func:`category_pairs`); linked by
    customer (a :class:`Linked` whose key is not the complaint id) also every category of the
    customer's other complaints, since the survey rates the customer's experience.
    ``primary_only``: the linked complaint's primary ``category`` alone. A joined table that is
    no :class:`Linked` (the explorer's, from the store) is taken as it is: there ``categories``
    already holds the customer's union."""
    joined, _, has_complaint = joined_frame(linked_or_df)
    if "category" not in joined.columns:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=object)
    rows, codes = category_pairs(joined, primary_only)
    complainant = has_complaint.to_numpy(dtype=bool)
    rows, codes = rows[complainant[rows]], codes[complainant[rows]]
    if primary_only or not isinstance(linked_or_df, Linked) or linked_or_df.complaint_id == linked_or_df.complaint_key:
        return rows, codes
    complaints = linked_or_df.complaints
    their_rows, their_codes = category_pairs(complaints)
    keys = stripped_text(complaints[linked_or_df.complaint_key]).to_numpy(dtype=object)[their_rows]
    union = pd.DataFrame({"key": keys, "code": their_codes}).dropna().drop_duplicates()
    survey_keys = stripped_text(joined[linked_or_df.survey_key]).to_numpy(dtype=object)
    respondents = pd.DataFrame({"row": np.flatnonzero(complainant), "key": survey_keys[complainant]}).dropna()
    found = respondents.merge(union, on="key")
    pairs = pd.DataFrame({"row": np.concatenate([rows, found["row"].to_numpy(dtype=np.intp)]),
                          "code": np.concatenate([codes, found["code"].to_numpy(dtype=object)])}).drop_duplicates()
    return pairs["row"].to_numpy(dtype=np.intp), pairs["code"].to_numpy(dtype=object)


def respondent_categories(linked_or_df, primary_only: bool = False) -> pd.Series:
    """:func:`respondent_category_pairs` as one sorted tuple of codes per row of the joined
    table (``()`` for respondents without complaint)."""
    joined = joined_frame(linked_or_df)[0]
    rows, codes = respondent_category_pairs(linked_or_df, primary_only)
    found = [[] for _ in range(len(joined))]
    for row, code in zip(rows, codes):
        found[row].append(code)
    return pd.Series([tuple(sorted(codes)) for codes in found], index=joined.index, dtype=object)


def group_scores(linked_or_df, by: str = "category", n_boot: int = 2000, level: float = 0.95,
                 seed: int = 0, primary_only: bool = False) -> pd.DataFrame:
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

    With ``by="category"`` a response counts in every category of its complaint (or, linked
    by customer, of its customer's complaints: :func:`respondent_categories`) and a complaint
    in each of its categories, so ``share`` is the share of complaints that carry the
    category; ``primary_only`` counts the primary ``category`` alone. Other columns are
    single-valued.

    Intervals are deterministic given ``seed`` and the group's name.
    """
    joined, complaints, has_complaint = joined_frame(linked_or_df)
    if by not in joined.columns:
        raise ValueError(f"group_scores: no column {by!r} to group by; "
                         f"the columns are: {', '.join(map(str, joined.columns))}")
    complainant = has_complaint.to_numpy()
    multi_label = by == "category" and not primary_only
    if multi_label:
        # One row per (response, category): a response counts in each of its categories.
        rows, codes = respondent_category_pairs(linked_or_df)
        baseline = np.flatnonzero(~complainant)
        positions = np.concatenate([rows, baseline])
        joined = joined.iloc[positions].reset_index(drop=True)
        complainant = complainant[positions]
        groups = pd.Series(np.concatenate([codes, np.full(len(baseline), BASELINE_CODE, dtype=object)]), dtype=object)
    else:
        groups = group_labels(joined[by]).where(complainant, BASELINE_CODE)
    total = int(has_complaint.sum())  # complaints (or surveyed complaints), each counted once
    if complaints is None:
        volume = groups[complainant].value_counts()
    elif by in complaints.columns:
        volume = (pd.Series(category_pairs(complaints)[1], dtype=object).value_counts() if multi_label
                  else group_labels(complaints[by]).value_counts())
        total = len(complaints)
    else:
        volume, total = None, 0
    names = {}
    if by == "category":
        # Names come from every complaint, so a category nobody surveyed is named too.
        named = [frame for frame in (complaints, joined.loc[complainant])
                 if frame is not None and "category_name" in frame.columns]
        if named:
            pairs = pd.concat([frame[["category", "category_name"]] for frame in named], ignore_index=True)
            codes = group_labels(pairs["category"]).to_numpy()
            names = pairs["category_name"].groupby(codes).first().dropna().to_dict()
    surveyed = groups.value_counts()
    labels = set(surveyed.index) | (set(volume.index) if volume is not None else set())

    score_counts = {}
    for column in ("CSAT", "NPS"):
        if column in joined.columns:
            valid = joined[column].notna().to_numpy()
            score_counts[column] = joined.loc[valid, column].groupby(groups[valid].to_numpy()).value_counts()

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
                                                  group_rng(seed, group, 0))
        row.update(n_csat=int(weights.sum()), csat_mean=estimate[0], csat_low=low[0], csat_high=high[0])
        levels, weights = _levels(score_counts.get("NPS"), group)
        detractor = (levels <= 6).astype(float)
        transforms = np.column_stack([100.0 * ((levels >= 9) - detractor), detractor])
        estimate, low, high = _discrete_bootstrap(weights, transforms, n_boot, level, group_rng(seed, group, 1))
        row.update(n_nps=int(weights.sum()), nps=estimate[0], nps_low=low[0], nps_high=high[0],
                   detractor_share=estimate[1], detractor_low=low[1], detractor_high=high[1])
        present = [row[f"n_{c.lower()}"] for c in score_counts]
        row["note"] = sample_note(row["n_surveyed"], min(present) if present else 0)
        rows.append(row)

    table = pd.DataFrame(rows, columns=[c for c in GROUP_SCORE_COLUMNS if c not in ("csat_gap", "nps_gap")])
    baseline = table.loc[table["is_baseline"]]
    for score, gap in (("csat_mean", "csat_gap"), ("nps", "nps_gap")):
        reference = baseline[score].iloc[0] if len(baseline) else math.nan
        table[gap] = np.where(table["is_baseline"], math.nan, table[score] - reference)
    table = table.sort_values(["is_baseline", "n_complaints", "n_surveyed", "group"],
                              ascending=[True, False, False, True], kind="stable", ignore_index=True)
    return table[GROUP_SCORE_COLUMNS]


def complainant_scores(joined: pd.DataFrame) -> dict:
    """``responses`` (survey answers of respondents with a complaint), their mean ``csat`` and
    their ``nps`` (points); None where no answer has that score. ``joined`` as for :func:`group_scores`."""
    frame, _, has_complaint = joined_frame(joined)
    rated = frame[has_complaint.to_numpy()]
    csat = rated["CSAT"].dropna() if "CSAT" in rated else pd.Series(dtype=float)
    promoters = rated["NPS"].dropna() if "NPS" in rated else pd.Series(dtype=float)
    return {"responses": len(rated), "csat": float(csat.mean()) if len(csat) else None,
            "nps": float(nps(promoters)) if len(promoters) else None}


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
