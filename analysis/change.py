"""What changed between two periods: the shift-share (mix / rate) attribution of the change in
CSAT and NPS to disjoint segments of respondents.

    frame = respondent_frame(joined, has_complaint, freq="M", survey_date="调查时间", complaint_date="受理时间")
    period_a, period_b, notes = choose_periods(frame, freq="M", compare=("2026-09", "2026-10"))
    table = change_attribution(frame, period_a, period_b)          # CHANGE_COLUMNS
    by_region = region_change_attribution(frame, period_a, period_b)  # REGION_CHANGE_COLUMNS

Each respondent is in one segment: the primary category of the complaint the survey is linked
to, or the respondents without complaint (``NONE``) as one. With ``w`` a segment's share of the
period's respondents and ``m`` its mean score, the overall mean is ``M = Σ w·m`` and, with bars
for the average over the two periods (midpoint decomposition),

    mix_effect  = Δw · (m̄ − M̄)      rate_effect = Δm · w̄      total_effect = mix + rate

so that ``Σ total_effect = M_b − M_a`` exactly: ``Δw·m̄ + w̄·Δm = w_b·m_b − w_a·m_a`` for each
segment, and ``Σ Δw = 0`` lets ``M̄`` be subtracted. A segment with no respondent in one period
has share 0 there; its mean there is taken to be its mean in the other period (``mean_a`` /
``mean_b`` stay empty in the table), so its ``rate_effect`` is 0 and its whole effect is mix: it
came (or went) at the score it has. Any value would keep the identity (its share is 0); this
one charges no change in performance to a segment that was not there to perform. NPS is the
mean of +100 (9–10), 0 (7–8) and −100 (0–6) per respondent, so the overall mean is the NPS.

Periods are named as ``--freq`` names them: ``2026-09-15`` (D), ``2026-W40`` (W, ISO weeks
Monday–Sunday), ``2026-09`` (M), ``2026-Q3`` (Q). A respondent's period is that of the survey's
own date where it has one, else that of the linked complaint's date.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from tousu.analysis.conventions import BASELINE_LABEL, MISSING_GROUP, LinkError, group_labels, parse_timestamps
from tousu.analysis.scores import score_points

CHANGE_COLUMNS = ["score", "segment", "n_a", "n_b", "share_a", "share_b", "mean_a", "mean_b",
                  "mix_effect", "rate_effect", "total_effect"]
REGION_CHANGE_COLUMNS = ["dimension", "region", "score", "region_mean_a", "region_mean_b", "region_change",
                         *CHANGE_COLUMNS[1:]]
REGION_DIMENSIONS = ("省份", "渠道")
SCORES = ("CSAT", "NPS")
FREQ_NAMES = {"D": "days like 2026-09-15", "W": "ISO weeks like 2026-W40", "M": "months like 2026-09",
              "Q": "quarters like 2026-Q3"}
_PERIOD_FREQ = {"D": "D", "W": "W-SUN", "M": "M", "Q": "Q"}


# ----------------------------------------------------------------------------- period names
def period_name(start: pd.Timestamp, freq: str) -> str:
    """The name of the period that starts on ``start`` (its first day)."""
    start = pd.Timestamp(start)
    if freq == "D":
        return f"{start:%Y-%m-%d}"
    if freq == "W":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    if freq == "M":
        return f"{start:%Y-%m}"
    if freq == "Q":
        return f"{start.year}-Q{start.quarter}"
    raise ValueError(f"freq must be 'D', 'W', 'M' or 'Q', not {freq!r}")


def period_start(name: str, freq: str) -> pd.Timestamp | None:
    """The first day of the period called ``name`` (as :func:`period_name` writes it, also
    ``2026W40``, ``2026-9``, ``2026Q3``), or None when it names no ``freq`` period."""
    text = str(name).strip().upper()
    try:
        if freq == "D":
            found = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", text)
            return pd.Timestamp(int(found[1]), int(found[2]), int(found[3])) if found else None
        if freq == "W":
            found = re.fullmatch(r"(\d{4})-?W(\d{1,2})", text)
            return pd.Timestamp.fromisocalendar(int(found[1]), int(found[2]), 1) if found else None
        if freq == "M":
            found = re.fullmatch(r"(\d{4})-(\d{1,2})", text)
            return pd.Timestamp(int(found[1]), int(found[2]), 1) if found else None
        if freq == "Q":
            found = re.fullmatch(r"(\d{4})-?Q([1-4])", text)
            return pd.Timestamp(int(found[1]), 3 * int(found[2]) - 2, 1) if found else None
    except ValueError:  # month 13, week 54, 31 February
        return None
    raise ValueError(f"freq must be 'D', 'W', 'M' or 'Q', not {freq!r}")


# ----------------------------------------------------------------------------- respondents
def respondent_frame(joined: pd.DataFrame, has_complaint, freq: str = "W", survey_date: str | None = None,
                     complaint_date: str | None = None, names: dict[str, str] | None = None,
                     regions: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per survey response: ``period`` (its name, <NA> where there is no usable date),
    ``period_start``, ``segment`` (the linked complaint's primary ``category``, named from
    ``names`` — ``(缺失)`` where empty —, or ``(无投诉)`` for the respondents without complaint),
    ``CSAT``/``NPS`` (those the table has) and one column per entry of ``regions``
    ({dimension: column of ``joined``}, text, ``(缺失)`` where empty).

    survey_date, complaint_date: columns of ``joined`` (None: not there); a response's date is
    its survey's, else its complaint's. ``attrs`` counts ``undated`` responses and how many
    took their date from the survey (``dated_by_survey``) or the complaint (``dated_by_complaint``).
    """
    if survey_date is None and complaint_date is None:
        raise LinkError("no date column: neither the surveys nor the complaints have one to put each answer "
                        "in a period")
    complainant = np.asarray(has_complaint, dtype=bool)
    index = joined.index
    empty = pd.Series(pd.NaT, index=index, dtype="datetime64[ns]")
    by_survey = parse_timestamps(joined[survey_date])[0] if survey_date is not None else empty
    by_complaint = parse_timestamps(joined[complaint_date])[0] if complaint_date is not None else empty
    by_survey, by_complaint = _naive(by_survey), _naive(by_complaint)
    times = by_survey.where(by_survey.notna(), by_complaint.where(pd.Series(complainant, index=index)))
    starts = times.dt.to_period(_PERIOD_FREQ[freq]).dt.start_time.dt.normalize()
    labels = {start: period_name(start, freq) for start in starts.dropna().unique()}
    codes = (group_labels(joined["category"]) if "category" in joined
             else pd.Series(MISSING_GROUP, index=index, dtype=object))
    names = names or {}
    shown = _unique_names(codes[complainant].unique(), names)
    segment = codes.map(lambda code: shown.get(code, code)).where(complainant, BASELINE_LABEL)
    frame = pd.DataFrame({"period": starts.map(labels).astype("string"), "period_start": starts,
                          "segment": segment.astype(object)}, index=index)
    for score in SCORES:
        if score in joined:
            frame[score] = pd.to_numeric(joined[score], errors="coerce").astype(float)
    for dimension, column in (regions or {}).items():
        frame[dimension] = group_labels(joined[column]) if column in joined else MISSING_GROUP
    frame = frame.reset_index(drop=True)
    frame.attrs.update(undated=int(times.isna().sum()), dated_by_survey=int(by_survey.notna().sum()),
                       dated_by_complaint=int((by_survey.isna() & times.notna()).sum()), latest=times.max())
    return frame


def _naive(times: pd.Series) -> pd.Series:
    times = pd.to_datetime(times, errors="coerce")
    return times.dt.tz_localize(None) if getattr(times.dt, "tz", None) is not None else times


def _unique_names(codes, names: dict[str, str]) -> dict[str, str]:
    """{code: display name}: the category's name, with the code beside it where two share a name."""
    shown = {code: names.get(code) or code for code in codes}
    counts = pd.Series(list(shown.values()), dtype=object).value_counts()
    return {code: (f"{name}（{code}）" if counts[name] > 1 or name == BASELINE_LABEL else name)
            for code, name in shown.items()}


# ----------------------------------------------------------------------------- periods
def periods_with_answers(frame: pd.DataFrame) -> list[str]:
    """The names of the periods with at least one dated answer, oldest first."""
    dated = frame.dropna(subset=["period"])
    return list(dated.sort_values("period_start")["period"].drop_duplicates())


def choose_periods(frame: pd.DataFrame, freq: str, compare=None) -> tuple[str, str, list[str]]:
    """(period A, period B, notes): ``compare``'s two names as the frame names them, or, without
    ``compare``, the last two complete periods with answers (the last period counts as complete
    when the newest answer falls on its last day). Raises :class:`LinkError` naming what is wrong."""
    available = periods_with_answers(frame)
    listed = _listed(available)
    if compare is not None:
        if len(compare) != 2:
            raise LinkError(f"--compare takes two periods (PERIOD_A PERIOD_B), not {len(compare)}")
        chosen = []
        for name in compare:
            start = period_start(name, freq)
            if start is None:
                raise LinkError(f"--compare {name!r} is not a period of --freq {freq} ({FREQ_NAMES[freq]}); "
                                f"the periods with survey answers are: {listed}")
            label = period_name(start, freq)
            if label not in available:
                raise LinkError(f"--compare {label}: no survey answers in that period; "
                                f"the periods with survey answers are: {listed}")
            chosen.append(label)
        if chosen[0] == chosen[1]:
            raise LinkError(f"--compare {chosen[0]} {chosen[1]}: give two different periods")
        return chosen[0], chosen[1], []
    if not available:
        raise LinkError("no survey answer has a usable date: give --survey-date-col or a complaint --date-col")
    notes = []
    latest = frame.attrs.get("latest")
    last_start = frame.loc[frame["period"] == available[-1], "period_start"].iloc[0]
    end = pd.Period(last_start, _PERIOD_FREQ[freq]).end_time.normalize()
    complete = available
    if latest is None or pd.isna(latest) or pd.Timestamp(latest) < end:
        complete = available[:-1]
        notes.append(f"change attribution: the last period ({available[-1]}) is incomplete and not compared")
    if len(complete) < 2:
        raise LinkError(f"change attribution needs two complete periods with survey answers; "
                        f"the periods with survey answers are: {listed}"
                        + ("" if freq == "D" else "; try a shorter --freq"))
    return complete[-2], complete[-1], notes


def _listed(periods: list[str], most: int = 24) -> str:
    if not periods:
        return "(none)"
    if len(periods) <= most:
        return ", ".join(periods)
    return ", ".join(periods[:3]) + f", … ({len(periods) - 6} more) …, " + ", ".join(periods[-3:])


# ----------------------------------------------------------------------------- the decomposition
def shift_share(values, segments, period, period_a: str, period_b: str) -> pd.DataFrame:
    """The midpoint shift-share decomposition of ``mean(values | B) − mean(values | A)`` over
    ``segments``: one row per segment with an answer in A or B (``CHANGE_COLUMNS`` less
    ``score``), largest ``|total_effect|`` first. NaN values are left out. ``attrs``:
    ``overall_a``, ``overall_b`` (the means), ``n_a``, ``n_b``."""
    frame = pd.DataFrame({"value": np.asarray(values, dtype=float),
                          "segment": np.asarray(segments, dtype=object),
                          "period": np.asarray(period, dtype=object)})
    frame = frame[frame["value"].notna() & frame["period"].isin([period_a, period_b])]
    columns = CHANGE_COLUMNS[1:]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    stats = frame.groupby(["segment", "period"])["value"].agg(["count", "sum"]).unstack("period", fill_value=0)
    n_a = stats["count"].get(period_a, pd.Series(0, index=stats.index)).astype(np.int64)
    n_b = stats["count"].get(period_b, pd.Series(0, index=stats.index)).astype(np.int64)
    sum_a = stats["sum"].get(period_a, pd.Series(0.0, index=stats.index)).astype(float)
    sum_b = stats["sum"].get(period_b, pd.Series(0.0, index=stats.index)).astype(float)
    total_a, total_b = int(n_a.sum()), int(n_b.sum())
    table = pd.DataFrame({"segment": stats.index.to_numpy(dtype=object), "n_a": n_a.to_numpy(),
                          "n_b": n_b.to_numpy()})
    table["share_a"] = n_a.to_numpy() / total_a if total_a else np.nan
    table["share_b"] = n_b.to_numpy() / total_b if total_b else np.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_a = np.where(n_a > 0, sum_a / n_a.where(n_a > 0, 1), np.nan)
        mean_b = np.where(n_b > 0, sum_b / n_b.where(n_b > 0, 1), np.nan)
    table["mean_a"], table["mean_b"] = mean_a, mean_b
    overall_a = sum_a.sum() / total_a if total_a else np.nan
    overall_b = sum_b.sum() / total_b if total_b else np.nan
    # A segment absent from one period: its mean there is its mean in the other (see the module).
    filled_a = np.where(n_a > 0, mean_a, mean_b)
    filled_b = np.where(n_b > 0, mean_b, mean_a)
    d_share = table["share_b"].to_numpy() - table["share_a"].to_numpy()
    mean_share = (table["share_a"].to_numpy() + table["share_b"].to_numpy()) / 2
    table["mix_effect"] = d_share * ((filled_a + filled_b) / 2 - (overall_a + overall_b) / 2)
    table["rate_effect"] = (filled_b - filled_a) * mean_share
    table["total_effect"] = table["mix_effect"] + table["rate_effect"]
    table = table.assign(_order=-table["total_effect"].abs()).sort_values(
        ["_order", "segment"], kind="stable", ignore_index=True).drop(columns="_order")
    table.attrs.update(overall_a=float(overall_a), overall_b=float(overall_b), n_a=total_a, n_b=total_b)
    return table[columns]


def change_attribution(frame: pd.DataFrame, period_a: str, period_b: str, scores=SCORES) -> pd.DataFrame:
    """:func:`shift_share` of each score of ``frame`` (:func:`respondent_frame`) by segment, stacked:
    ``CHANGE_COLUMNS``. ``attrs["overall"]``: {score: (mean A, mean B, n A, n B)} for the scores
    answered in both periods; ``attrs["notes"]`` says which were not."""
    tables, overall, notes = [], {}, []
    for score in scores:
        if score not in frame:
            continue
        found = shift_share(score_points(frame[score], score), frame["segment"], frame["period"], period_a, period_b)
        if found.empty or not found["n_a"].sum() or not found["n_b"].sum():
            missing = period_a if found.empty or not found["n_a"].sum() else period_b
            notes.append(f"change attribution: no {score} answer in {missing}, so no {score} rows")
            continue
        overall[score] = (found.attrs["overall_a"], found.attrs["overall_b"], found.attrs["n_a"], found.attrs["n_b"])
        tables.append(found.assign(score=score))
    table = pd.concat(tables, ignore_index=True)[CHANGE_COLUMNS] if tables else pd.DataFrame(columns=CHANGE_COLUMNS)
    table.attrs.update(overall=overall, notes=notes, period_a=period_a, period_b=period_b)
    return table


def region_change_attribution(frame: pd.DataFrame, period_a: str, period_b: str,
                              dimensions=REGION_DIMENSIONS, scores=SCORES) -> pd.DataFrame:
    """Which regions moved, and why: for each dimension of ``frame`` (province, channel) and each
    of its values, that region's own change in each score, ``region_mean_a`` → ``region_mean_b``
    (``region_change``), attributed to the same segments within the region (shares of the
    region's respondents): ``REGION_CHANGE_COLUMNS``; per (dimension, region, score) the
    ``total_effect``s add up to ``region_change``. Regions answered in only one of the periods
    have no change and no rows. Sorted by dimension, score, ``|region_change|`` (largest first)."""
    tables = []
    for dimension in dimensions:
        if dimension not in frame:
            continue
        for region, part in frame.groupby(dimension, sort=True):
            found = change_attribution(part, period_a, period_b, scores)
            for score, (mean_a, mean_b, _, _) in found.attrs["overall"].items():
                rows = found[found["score"] == score]
                tables.append(rows.assign(dimension=dimension, region=region, region_mean_a=mean_a,
                                          region_mean_b=mean_b, region_change=mean_b - mean_a))
    if not tables:
        return pd.DataFrame(columns=REGION_CHANGE_COLUMNS)
    table = pd.concat(tables, ignore_index=True)[REGION_CHANGE_COLUMNS]
    order = {dimension: i for i, dimension in enumerate(dimensions)}
    ranked = table.assign(_dim=table["dimension"].map(order), _score=table["score"].map(list(scores).index),
                          _region=-table["region_change"].abs(), _total=-table["total_effect"].abs())
    ranked = ranked.sort_values(["_dim", "_score", "_region", "region", "_total", "segment"], kind="stable",
                                ignore_index=True)
    return ranked[REGION_CHANGE_COLUMNS]


def change_notes(table: pd.DataFrame) -> list[str]:
    """One line per score: the overall change, split into mix and rate, and the segment that moved it most."""
    lines = []
    a, b = table.attrs.get("period_a"), table.attrs.get("period_b")
    for score, (mean_a, mean_b, n_a, n_b) in table.attrs.get("overall", {}).items():
        rows = table[table["score"] == score]
        digits = 2 if score == "CSAT" else 1
        top = rows.iloc[0]
        kind = "mix" if abs(top["mix_effect"]) >= abs(top["rate_effect"]) else "rate"
        lines.append(f"change {score} {a} → {b}: {mean_a:.{digits}f} → {mean_b:.{digits}f} "
                     f"({mean_b - mean_a:+.{digits + 1}f}; n {n_a:,} → {n_b:,}): mix {rows['mix_effect'].sum():+.{digits + 1}f}, "
                     f"rate {rows['rate_effect'].sum():+.{digits + 1}f}; most from {top['segment']} "
                     f"({top['total_effect']:+.{digits + 1}f}, mostly {kind})")
    return lines


def change_tables(joined: pd.DataFrame, has_complaint, freq: str = "W", compare=None,
                  survey_date: str | None = None, complaint_date: str | None = None,
                  names: dict[str, str] | None = None, regions: dict[str, str] | None = None):
    """(change attribution by segment, the same by region, notes): what ``tousu link`` reports
    and the explorer's 变化归因 page shows. Arguments as for :func:`respondent_frame` and
    :func:`choose_periods`; raises :class:`LinkError` on unusable input."""
    frame = respondent_frame(joined, has_complaint, freq, survey_date, complaint_date, names, regions)
    period_a, period_b, notes = choose_periods(frame, freq, compare)
    table = change_attribution(frame, period_a, period_b)
    if table.empty:
        raise LinkError(f"change attribution {period_a} → {period_b}: no score answered in both periods")
    by_region = region_change_attribution(frame, period_a, period_b, dimensions=tuple(regions or ()))
    if frame.attrs["undated"]:
        notes.append(f"change attribution: {frame.attrs['undated']:,} survey answers have no usable date "
                     f"(survey or complaint) and are in no period")
    notes += table.attrs["notes"] + change_notes(table)
    return table, by_region, notes
