"""Complaint volumes: Pareto classes, trends per period, growth alerts.

    pareto(linked.complaints["category"]); trends(...); growth_alerts(...)
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from tousu.analysis.conventions import TOTAL_LABEL, group_labels, parse_timestamps, require_columns

# The growth-alert window per trend period: about four weeks, so ``min_count`` means the same
# whatever the period (a quarter is the shortest window quarters allow).
RECENT_PERIODS = {"D": 28, "W": 4, "M": 1, "Q": 1}


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
        data = group_labels(data).value_counts()
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
    The last period may be incomplete (data exported mid-week): see
    :func:`without_incomplete_last_period` before alerting.
    """
    if freq not in ("D", "W", "M", "Q"):
        raise ValueError(f"freq must be 'D', 'W', 'M' or 'Q', not {freq!r}")
    require_columns(complaints, [date_col] + ([by] if by else []), "complaints")
    times, empty, bad = parse_timestamps(complaints[date_col])
    groups = group_labels(complaints[by]) if by else pd.Series(TOTAL_LABEL, index=complaints.index)
    valid = times.notna().to_numpy()
    frame = pd.DataFrame({"period": times[valid].dt.to_period(freq).dt.start_time, "group": groups[valid]})
    table = period_grid(frame.groupby(["period", "group"]).size().rename("count").reset_index(), freq)
    table.attrs["missing_timestamps"] = int(empty.sum())
    table.attrs["bad_timestamps"] = int(bad.sum())
    return table


def period_grid(counts: pd.DataFrame, freq: str) -> pd.DataFrame:
    """``period``, ``group``, ``count`` with every group in every period from the first to the
    last (0 where none), so that windows can be compared; ``counts`` holds only the
    combinations that occur (``period`` the period's first day), as a SQL ``GROUP BY`` gives them."""
    if counts.empty:
        return pd.DataFrame({"period": pd.DatetimeIndex([]), "group": pd.Series([], dtype=object),
                             "count": pd.Series([], dtype=np.int64)})
    starts = counts["period"].astype("datetime64[ns]")
    periods = pd.period_range(starts.min(), starts.max(), freq=freq).to_timestamp()
    grid = pd.MultiIndex.from_product([periods, sorted(counts["group"].astype(str).unique())],
                                      names=["period", "group"])
    filled = (counts.assign(period=starts, group=counts["group"].astype(str)).set_index(["period", "group"])["count"]
              .reindex(grid, fill_value=0).astype(np.int64))
    table = filled.reset_index()
    table["group"] = table["group"].astype(object)
    return table


def without_incomplete_last_period(trend: pd.DataFrame, latest, freq: str) -> pd.DataFrame:
    """``trend`` without its last period unless the data reach that period's last day: an export
    taken mid-week would show a fall in that week, and hide a rise. ``latest``: the newest
    complaint's date or time (None: keep everything)."""
    if trend.empty or latest is None or pd.isna(latest):
        return trend
    last = trend["period"].max()
    period_end = pd.Period(last, {"D": "D", "W": "W-SUN", "M": "M", "Q": "Q"}[freq]).end_time.normalize()
    return trend if pd.Timestamp(latest) >= period_end else trend[trend["period"] < last]


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
