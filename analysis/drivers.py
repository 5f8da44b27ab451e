"""Drivers of satisfaction: complaint indicators, the driver table, importance × satisfaction quadrants.

    X = category_indicators(linked)                   # one 0/1 column per category, every category counts
    drivers, model = driver_table(linked, "CSAT", names)  # importance, effect and impact of each
    ipa = score_quadrant(drivers, linked, "CSAT")         # importance × satisfaction zones

A response has a 1 for every category of its complaint (``categories``), linked by customer
for every category of any of the customer's complaints; ``primary_only=True`` takes the
primary ``category`` alone.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from tousu.analysis.conventions import group_labels, stripped_text
from tousu.analysis.scores import joined_frame, nps, respondent_category_pairs, score_points
from tousu.models.drivers import IMPACT_COLUMNS, DriverModel

# (high importance, high satisfaction) → quadrant
QUADRANTS = {(True, False): "重点改进区", (True, True): "优势区", (False, False): "机会区", (False, True): "维持区"}
DRIVER_METHODS = {"shapley": "Shapley值分解（精确）", "relative_weights": "相对权重法（Johnson）"}


def indicator_matrix(joined: pd.DataFrame, column: str = "category",
                     multi_label_column: str | None = None) -> pd.DataFrame:
    """0/1 matrix for :class:`DriverModel`: one column per group value, one row per ``joined`` row.

    Respondents without complaint (``has_complaint`` False, or an empty ``column`` when the
    table has no ``has_complaint``) are all zeros. A complainant with an empty ``column`` gets
    the column ``(缺失)``, so it is not mistaken for the baseline. With
    ``multi_label_column`` (e.g. ``categories``, ``|``-joined codes) a row has a 1 for each
    listed code as well as for its primary ``column`` value. Columns are sorted.
    """
    _, _, has_complaint = joined_frame(joined)
    mask = has_complaint.to_numpy()
    row_ids = [np.flatnonzero(mask)]
    labels = [group_labels(joined[column])[mask].to_numpy()]
    if multi_label_column is not None:
        listed = stripped_text(joined[multi_label_column].reset_index(drop=True)).where(mask)
        parts = stripped_text(listed.str.split("|").explode().astype("string")).dropna()
        row_ids.append(parts.index.to_numpy(dtype=np.intp))
        labels.append(parts.to_numpy(dtype=object))
    labels_all = np.concatenate(labels).astype(str)
    codes, names = pd.factorize(labels_all, sort=True)
    matrix = np.zeros((len(joined), len(names)), dtype=np.uint8)
    matrix[np.concatenate(row_ids), codes] = 1
    return pd.DataFrame(matrix, index=joined.index, columns=list(names))


def category_indicators(linked_or_df, primary_only: bool = False) -> pd.DataFrame:
    """0/1 matrix for :class:`DriverModel` of the categories each response counts in
    (:func:`tousu.analysis.scores.respondent_category_pairs`): by default every category of its
    complaint, or of its customer's complaints when linked by customer; ``primary_only``: the
    linked complaint's ``category`` alone (:func:`indicator_matrix`). Respondents without
    complaint are all zeros; columns are sorted. ``linked_or_df``: a :class:`Linked` or a
    joined table."""
    joined = joined_frame(linked_or_df)[0]
    if primary_only or "category" not in joined.columns:
        return indicator_matrix(joined, column="category")
    rows, codes = respondent_category_pairs(linked_or_df)
    columns, names = pd.factorize(codes.astype(str), sort=True)
    matrix = np.zeros((len(joined), len(names)), dtype=np.uint8)
    matrix[rows, columns] = 1
    return pd.DataFrame(matrix, index=joined.index, columns=list(names))


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


def driver_table(joined, score: str, names: dict[str, str] | None = None, n_boot: int = 200,
                 seed: int = 0, indicators: pd.DataFrame | None = None, primary_only: bool = False,
                 ) -> tuple[pd.DataFrame, DriverModel] | None:
    """(drivers table, fitted :class:`DriverModel`) of ``score`` (``CSAT``/``NPS``) over the
    category indicators of ``joined`` (a joined table or a :class:`Linked`), or None when fewer
    than 3 responses have the score or nobody surveyed has a complaint. The table is
    :meth:`DriverModel.drivers_table` with ``driver_name`` (from ``names``, else the code) and
    the importance ``method`` in Chinese, then ``impact``/``impact_low``/``impact_high`` (how
    much the mean score of all responses would rise if those with the category scored like
    the baseline: share × −effect). Effects and impact are in the score's reported unit: CSAT
    points, or NPS points (each answer +100, 0 or −100, whose mean is the NPS), so that an NPS
    impact of 3 means the NPS would rise by 3.

    indicators: :func:`category_indicators` of ``joined``, when already computed for another
    score; else computed with ``primary_only``.
    """
    frame = joined_frame(joined)[0]
    if score not in frame.columns or frame[score].notna().sum() < 3:
        return None
    indicators = category_indicators(joined, primary_only) if indicators is None else indicators
    if indicators.shape[1] == 0:
        return None
    model = DriverModel(n_boot=n_boot, seed=seed).fit(indicators, score_points(frame[score], score))
    drivers = model.drivers_table()
    names = names or {}
    drivers.insert(1, "driver_name", drivers["driver"].map(lambda code: names.get(code, code)))
    drivers["method"] = DRIVER_METHODS[model.method_]
    drivers = drivers[[c for c in drivers.columns if c not in IMPACT_COLUMNS] + IMPACT_COLUMNS]
    return drivers, model


def score_quadrant(drivers: pd.DataFrame, joined, score: str = "CSAT", indicators: pd.DataFrame | None = None,
                   primary_only: bool = False) -> pd.DataFrame:
    """:func:`quadrant` of a driver table, satisfaction read in the score's own unit: a
    category's mean CSAT, or its NPS in points, over the responses that count in it (those of
    the driver table: ``indicators``, else :func:`category_indicators` with ``primary_only``);
    with a single category it is compared with the baseline's (respondents without complaint)."""
    frame = joined_frame(joined)[0]
    complainant = frame["has_complaint"].astype(bool)
    rated = frame[score].notna()
    if score == "NPS":
        if indicators is None:
            indicators = category_indicators(joined, primary_only)
        present = indicators.to_numpy(dtype=bool) & (complainant & rated).to_numpy()[:, None]
        values = frame["NPS"].to_numpy(dtype=float)
        performance = pd.Series({code: nps(values[present[:, j]]) for j, code in enumerate(indicators.columns)
                                 if present[:, j].any()}, dtype=float)
        joined = frame
        baseline = nps(joined.loc[~complainant & rated, "NPS"]) if (~complainant & rated).any() else None
    else:
        performance = None
        joined = frame
        baseline = joined.loc[~complainant & rated, score].mean() if (~complainant & rated).any() else None
    return quadrant(drivers, performance=performance, baseline=baseline)
