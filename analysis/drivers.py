"""Drivers of satisfaction: complaint indicators, the driver table, importance × satisfaction quadrants.

    X = indicator_matrix(linked.joined)                          # one 0/1 column per category
    drivers, model = driver_table(linked.joined, "CSAT", names)  # importance and effect of each
    ipa = score_quadrant(drivers, linked.joined, "CSAT")         # importance × satisfaction zones
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from tousu.analysis.conventions import group_labels, stripped_text
from tousu.analysis.scores import joined_frame, nps
from tousu.models.drivers import DriverModel

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


def driver_table(joined: pd.DataFrame, score: str, names: dict[str, str] | None = None, n_boot: int = 200,
                 seed: int = 0, indicators: pd.DataFrame | None = None) -> tuple[pd.DataFrame, DriverModel] | None:
    """(drivers table, fitted :class:`DriverModel`) of ``score`` (``CSAT``/``NPS``) over the
    category indicators of ``joined``, or None when fewer than 3 responses have the score or
    nobody surveyed has a complaint. The table is :meth:`DriverModel.drivers_table` with
    ``driver_name`` (from ``names``, else the code) and the importance ``method`` in Chinese.

    indicators: :func:`indicator_matrix` of ``joined``, when already computed for another score.
    """
    if score not in joined.columns or joined[score].notna().sum() < 3:
        return None
    indicators = indicator_matrix(joined, column="category") if indicators is None else indicators
    if indicators.shape[1] == 0:
        return None
    model = DriverModel(n_boot=n_boot, seed=seed).fit(indicators, joined[score])
    drivers = model.drivers_table()
    names = names or {}
    drivers.insert(1, "driver_name", drivers["driver"].map(lambda code: names.get(code, code)))
    drivers["method"] = DRIVER_METHODS[model.method_]
    return drivers, model


def score_quadrant(drivers: pd.DataFrame, joined: pd.DataFrame, score: str = "CSAT") -> pd.DataFrame:
    """:func:`quadrant` of a driver table, satisfaction read in the score's own unit: a
    category's mean CSAT, or its NPS in points; with a single category it is compared with
    the baseline's (respondents without complaint)."""
    complainant = joined["has_complaint"].astype(bool)
    rated = joined[score].notna()
    if score == "NPS":
        with_complaint = joined[complainant & rated]
        performance = with_complaint.groupby(group_labels(with_complaint["category"]).to_numpy())["NPS"].agg(nps)
        baseline = nps(joined.loc[~complainant & rated, "NPS"]) if (~complainant & rated).any() else None
    else:
        performance = None
        baseline = joined.loc[~complainant & rated, score].mean() if (~complainant & rated).any() else None
    return quadrant(drivers, performance=performance, baseline=baseline)
