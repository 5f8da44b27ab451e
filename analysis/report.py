"""``tousu link``: the satisfaction report of a classified complaint table and a survey table.

:func:`build_report` computes every table of the monthly satisfaction meeting with the
analysis modules (linking, scores, drivers, volumes, KPIs), the same functions the explorer
calls; :func:`tousu.report.write_report` writes them as CSV (English snake_case columns, for
scripts), one XLSX workbook with a sheet each (Chinese sheet names and headers, for analysts)
and PNG/HTML charts.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tousu.analysis.change import REGION_DIMENSIONS, change_tables
from tousu.analysis.conventions import BASELINE_CODE, BASELINE_LABEL, LinkError, parse_timestamps
from tousu.analysis.drivers import category_indicators, driver_table, score_quadrant
from tousu.analysis.kpis import kpis
from tousu.analysis.linking import link
from tousu.analysis.scores import breakdown, group_scores
from tousu.analysis.volumes import RECENT_PERIODS, growth_alerts, pareto, trends, without_incomplete_last_period
from tousu.models.drivers import MAX_SHAPLEY_PREDICTORS, DriverModel

SCORES = ("CSAT", "NPS")
TICKET_ID = "工单号"
BREAKDOWN_DIMENSIONS = ("省份", "渠道", "客户类型", "触点")
SURVEY_DATE_COL = "调查时间"

# name → (XLSX sheet, what it holds); the order is the workbook's.
TABLES = {
    "summary": ("概要", "counts that add up: rows read, linked, unmatched, problems"),
    "category_scores": ("类别满意度", "CSAT, NPS and detractor share per category, with bootstrap intervals"),
    "topic_scores": ("主题满意度", "the same per topic"),
    "drivers_csat": ("CSAT驱动因素", "importance (share of R²: Shapley, or relative weights beyond 15 categories; "
                                   "see the method column), OLS effect and impact (share × −effect) of each "
                                   "category on CSAT"),
    "drivers_nps": ("NPS驱动因素", "the same for NPS"),
    "quadrant": ("重要性满意度矩阵", "importance × satisfaction quadrant of each category"),
    "pareto": ("排列图", "categories by volume with cumulative share and A/B/C class"),
    "trends": ("趋势", "complaints per period and category"),
    "alerts": ("增长预警", "categories and topics rising faster than the threshold"),
    "breakdown": ("分维度满意度", "scores by province, channel, segment and touchpoint"),
    "change_attribution": ("变化归因", ("the change in CSAT and NPS between two periods, split per segment "
                                     "(primary category, or no complaint) into mix (share) and rate (score) "
                                     "effects")),
    "change_attribution_by_region": ("分地区变化归因", "each province's and channel's own change, split the same way"),
    "kpis": ("处理时效KPI", "24 h response, 48 h resolution, repeat and escalation rates per category"),
    "unmatched_complaints": ("未匹配工单", "complaints without a survey response"),
    "unmatched_surveys": ("未匹配问卷", "survey responses whose key is not among the complaints, and whether "
                                     "they were taken as the baseline"),
    "problems": ("问题行", "rows or cells left out, with the reason"),
}

HEADERS = {
    "group": "代码", "group_name": "名称", "is_baseline": "无投诉基线", "n_complaints": "投诉量", "share": "占比",
    "n_surveyed": "问卷数", "n_csat": "CSAT样本", "csat_mean": "平均CSAT", "csat_low": "CSAT下限",
    "csat_high": "CSAT上限", "csat_gap": "CSAT差值(对基线)", "n_nps": "NPS样本", "nps": "NPS", "nps_low": "NPS下限",
    "nps_high": "NPS上限", "nps_gap": "NPS差值(对基线)", "detractor_share": "贬损者占比",
    "detractor_low": "贬损者下限", "detractor_high": "贬损者上限", "note": "备注",
    "driver": "代码", "driver_name": "名称", "importance": "重要性(R²贡献)", "importance_share": "重要性占比",
    "importance_low": "重要性下限", "importance_high": "重要性上限", "coef": "影响(分)", "coef_low": "影响下限",
    "coef_high": "影响上限", "p_value": "p值", "n_with": "样本量", "mean_with": "有该投诉均值",
    "mean_without": "无该投诉均值", "performance": "满意度", "quadrant": "区域",
    "importance_split": "重要性分界", "performance_split": "满意度分界",
    "count": "投诉量", "cum_share": "累计占比", "pareto_class": "ABC分类", "period": "时间",
    "dimension": "维度", "previous": "前期", "recent": "近期", "growth": "增长率", "alert": "预警",
    "recent_start": "近期起", "previous_start": "前期起", "n": "工单数",
    "responded_24h_share": "24小时响应率", "resolved_48h_share": "48小时办结率", "open_share": "未办结占比",
    "median_response_h": "响应时长中位数(小时)", "median_resolution_h": "办结时长中位数(小时)",
    "repeat_rate": "重复投诉率", "escalation_rate": "越级投诉率", "bad_timestamps": "时间异常",
    "table": "表", "row": "行号", "key": "键", "column": "列", "value": "值", "reason": "原因",
    "detail": "说明", "dropped": "是否剔除", "measure": "指标", "method": "重要性算法", "as_baseline": "计入基线",
    "impact": "整体提升潜力(分)", "impact_low": "提升潜力下限", "impact_high": "提升潜力上限",
    "score": "满意度指标", "segment": "细分群体", "n_a": "A期样本", "n_b": "B期样本", "share_a": "A期占比",
    "share_b": "B期占比", "mean_a": "A期均值", "mean_b": "B期均值", "mix_effect": "结构效应(占比变化)",
    "rate_effect": "表现效应(得分变化)", "total_effect": "合计影响", "region": "地区/渠道",
    "region_mean_a": "该地区A期均值", "region_mean_b": "该地区B期均值", "region_change": "该地区变化",
}


@dataclass
class LinkReport:
    tables: dict[str, pd.DataFrame]
    summary: dict
    notes: list[str] = field(default_factory=list)


def build_report(
    complaints: pd.DataFrame,
    surveys: pd.DataFrame,
    key: str = "工单号",
    date_col: str = "受理时间",
    freq: str = "W",
    growth_threshold: float = 0.5,
    n_boot: int = 2000,
    seed: int = 0,
    complaint_id: str | None = None,
    baseline: str = "auto",
    recent_periods: int | None = None,
    primary_only: bool = False,
    compare: tuple[str, str] | None = None,
    survey_date_col: str | None = None,
) -> LinkReport:
    """Every table of the report.  Raises :class:`tousu.analysis.conventions.LinkError` on unusable input.

    complaint_id: the complaints' own id column (default: ``工单号`` when the table has it,
        else the key); with ``key="客户号"`` it keeps a customer's several complaints apart.
    baseline: :func:`tousu.analysis.linking.link`'s rule for respondents without complaint.
    recent_periods: growth-alert window in periods (default: about four weeks,
        :data:`tousu.analysis.volumes.RECENT_PERIODS`).
    primary_only: category scores, drivers and quadrant from each complaint's primary
        ``category`` alone; by default a response counts in every category of its complaint
        (``categories``), linked by customer in every category of the customer's complaints.

    compare: the two periods of the change attribution (named as ``freq`` names them:
        ``2026-09``, ``2026-W40``); None: the last two complete periods, and no change
        attribution (a note says why) when there are not two. Bad names raise LinkError.
    survey_date_col: the surveys' own date column, which puts each answer in a period
        (default ``调查时间`` when the survey table has it); an answer without one takes its
        complaint's ``date_col``.

    Every sheet counts the same complaints, ``linked.complaints``: repeated ticket ids are
    dropped (and listed in ``problems``), everything else is kept.
    """
    if survey_date_col is not None and survey_date_col not in surveys:
        raise LinkError(f"surveys: no column {survey_date_col!r} (--survey-date-col); "
                        f"the columns are: {', '.join(map(str, surveys.columns))}")
    if "category" not in complaints:
        raise LinkError(
            "the complaint table has no 'category' column: give the output of `tousu classify`")
    if complaint_id is None:
        complaint_id = TICKET_ID if TICKET_ID in complaints else key
    linked = link(complaints, surveys, key=key, score_cols=SCORES, complaint_id=complaint_id, baseline=baseline)
    kept = linked.complaints
    names = _category_names(kept)
    tables: dict[str, pd.DataFrame] = {}
    notes: list[str] = []
    extra: dict = {"complaint_id": complaint_id}

    tables["category_scores"] = group_scores(linked, by="category", n_boot=n_boot, seed=seed,
                                             primary_only=primary_only)
    if "topic_label" in kept:
        tables["topic_scores"] = group_scores(linked, by="topic_label", n_boot=n_boot, seed=seed)
    link_summary = linked.summary()
    notes += _linkage_notes(link_summary, linked.baseline_rule, key)

    indicators = category_indicators(linked, primary_only)
    extra["driver_categories"] = "primary" if primary_only else "all"
    if not primary_only and "categories" in kept:
        notes.append("category scores and drivers count every category of a complaint (the categories column"
                     + (", over all of a customer's complaints" if linked.complaint_id != linked.complaint_key
                        else "") + "); --primary-only takes the primary category alone")
    r_squared, methods, references = {}, {}, {}
    for score in linked.score_cols:
        found = driver_table(linked, score, names, seed=seed, indicators=indicators)
        if found is None:
            notes.append(f"{score}: too few responses for a driver analysis")
            continue
        drivers, model = found
        tables[f"drivers_{score.lower()}"] = drivers
        r_squared[score] = round(float(model.r2_), 4)
        methods[score] = model.method_
        references[score] = model.reference_
        notes.append(f"{score} drivers: importance by {_method_text(model)}")
        if model.reference_ is not None:
            notes.append(f"{score} drivers: no respondent without complaint has a {score} score, so each effect "
                         f"is the difference from {names.get(model.reference_, model.reference_)} "
                         f"({model.reference_}), the category with the highest mean {score}")
    extra |= {"driver_method": methods, "driver_reference": references}
    if "drivers_csat" in tables:
        tables["quadrant"] = score_quadrant(tables["drivers_csat"], linked, "CSAT", indicators=indicators)
        notes += _quadrant_notes(tables["quadrant"])
    elif "CSAT" not in linked.score_cols:
        notes.append("no importance × satisfaction quadrant: the survey table has no CSAT column and the "
                     "quadrant plots mean CSAT; see drivers_nps for what drives NPS")
    else:
        notes.append("no importance × satisfaction quadrant: too few CSAT responses for a driver analysis")

    tables["pareto"] = pareto(kept["category"])
    tables["pareto"].insert(1, "group_name", tables["pareto"]["group"].map(lambda code: names.get(code, code)))

    if date_col in kept:
        window = recent_periods or RECENT_PERIODS[freq]
        tables["trends"], tables["alerts"], trend_notes, counts = _trends_and_alerts(
            kept, date_col, freq, growth_threshold, names, window)
        notes += trend_notes
        extra |= {"recent_periods": window} | counts
    else:
        notes.append(f"no {date_col!r} column: no trends or growth alerts")

    dimensions = [d for d in BREAKDOWN_DIMENSIONS if d in linked.joined]
    if dimensions:
        tables["breakdown"] = breakdown(linked, by=dimensions, n_boot=n_boot, seed=seed)

    found = _change_attribution(linked, surveys, names, freq, compare, date_col, survey_date_col)
    if isinstance(found, str):
        notes.append(found)
    else:
        tables["change_attribution"], tables["change_attribution_by_region"], change_notes, periods = found
        notes += change_notes
        extra["change_periods"] = periods

    kpi_table = kpis(kept, created=date_col)
    kpi_table.insert(1, "group_name", kpi_table["group"].map(lambda code: names.get(code, code)))
    tables["kpis"] = kpi_table
    notes += kpi_table.attrs.get("notes", [])

    tables["unmatched_complaints"] = linked.unmatched_complaints
    tables["unmatched_surveys"] = linked.unmatched_surveys
    tables["problems"] = linked.problems
    summary = link_summary | {"r_squared": r_squared, "key": key} | extra
    measures = list(summary) + ["note"] * len(notes)
    values = [str(v) for v in summary.values()] + notes
    tables = {"summary": pd.DataFrame({"measure": measures, "value": values}), **tables}
    return LinkReport(tables=tables, summary=summary, notes=notes)


def _change_attribution(linked, surveys, names, freq, compare, date_col, survey_date_col):
    """The change attribution's two tables, notes and the periods compared; or, without
    ``compare``, the note that says why there is none. With ``compare``, unusable input raises."""
    joined = linked.joined

    def survey_side(column):  # where a survey column sits in the joined table
        if column is None or column not in surveys:
            return None
        return f"{column}_survey" if f"{column}_survey" in joined else column

    survey_date = survey_side(survey_date_col or (SURVEY_DATE_COL if SURVEY_DATE_COL in surveys else None))
    complaint_date = date_col if date_col in linked.complaints and date_col in joined else None
    regions = {}
    view = joined[[c for c in ("category", *linked.score_cols) if c in joined]].copy()
    for dimension in REGION_DIMENSIONS:
        # The complaint's region, else the survey's own (respondents without complaint have only that).
        own, theirs = (dimension if dimension in linked.complaints else None), survey_side(dimension)
        if own is None and theirs is None:
            continue
        values = joined[own] if own is not None else pd.Series(pd.NA, index=joined.index, dtype=object)
        if theirs is not None and theirs != own:
            values = values.where(values.notna() & (values.astype("string").str.strip() != ""), joined[theirs])
        view[dimension] = values
        regions[dimension] = dimension
    for column in dict.fromkeys(c for c in (survey_date, complaint_date) if c is not None):
        view[column] = joined[column]
    if survey_date is None and complaint_date is None:
        error = (f"no date column: the surveys have no {survey_date_col or SURVEY_DATE_COL!r} "
                 f"(--survey-date-col) and the complaints no {date_col!r} (--date-col), so no answer can be put "
                 f"in a period")
        if compare is not None:
            raise LinkError(error)
        return f"no change attribution: {error}"
    try:
        table, by_region, notes = change_tables(
            view, joined["has_complaint"], freq=freq, compare=compare, survey_date=survey_date,
            complaint_date=complaint_date, names=names, regions=regions)
    except LinkError as error:
        if compare is not None:
            raise
        return f"no change attribution: {error}"
    return table, by_region, notes, f"{table.attrs['period_a']} → {table.attrs['period_b']}"


def _method_text(model: DriverModel) -> str:
    p = model.n_features_in_
    categories = f"{p} {'category' if p == 1 else 'categories'}"
    if model.method_ == "shapley":
        return f"the exact Shapley decomposition of R² ({categories})"
    return (f"Johnson's relative weights ({categories}: the exact Shapley decomposition "
            f"takes up to {MAX_SHAPLEY_PREDICTORS})")


def _linkage_notes(s: dict, baseline_rule: str, key: str) -> list[str]:
    """Notes on how the tables were joined, from :meth:`tousu.analysis.linking.Linked.summary`."""
    notes = []
    if s["complaints_key_repeated"]:
        notes.append(f"{s['complaints_key_repeated']:,} complaints share their {key} with an earlier complaint: "
                     f"they count in every volume, and the customer's survey is linked to the first (see problems)")
    if s["surveys_unmatched_baseline"]:
        notes.append(f"baseline: {s['surveys_unmatched_baseline']:,} respondents whose {key} is not among the "
                     f"complaints count as respondents without complaint (--baseline unmatched; they are listed "
                     f"in unmatched_surveys)")
    if s["joined_baseline"] == 0:
        hint = (f"; if {key} identifies customers, --baseline unmatched counts those not among the complaints as "
                f"the baseline" if baseline_rule == "empty-key" and s["surveys_unmatched"] else "")
        notes.append("no respondents without complaint (baseline): the gaps to the baseline are empty" + hint)
    fractional = sum(s.get(f"{score}_score_not_a_whole_number", 0) for score in s["score_columns"])
    if fractional:
        notes.append(f"{fractional:,} scores are not whole numbers (e.g. 3.5): they are left blank (see problems)")
    return notes


def _quadrant_notes(quadrant: pd.DataFrame) -> list[str]:
    placed = quadrant.dropna(subset=["quadrant"])
    if quadrant[["importance", "performance"]].notna().all(axis=1).sum() >= 2:
        return []
    if len(placed):
        return [f"quadrant: only one category, so its satisfaction is compared with the baseline's CSAT "
                f"{placed['performance_split'].iloc[0]:.2f} rather than with other categories"]
    return ["quadrant: only one category and no baseline to compare it with: no quadrant is assigned"]


def _category_names(complaints: pd.DataFrame) -> dict[str, str]:
    if "category_name" not in complaints:
        return {}
    pairs = complaints[["category", "category_name"]].dropna().astype(str).drop_duplicates("category")
    return dict(zip(pairs["category"], pairs["category_name"])) | {BASELINE_CODE: BASELINE_LABEL}


def _trends_and_alerts(complaints, date_col, freq, threshold, names, recent_periods):
    """(trends by category, alerts, notes, counts of complaints left out of the trends)."""
    by_category = trends(complaints, date_col, by="category", freq=freq)
    by_category.insert(2, "group_name", by_category["group"].map(lambda code: names.get(code, code)))
    counts = {"trend_missing_timestamps": by_category.attrs["missing_timestamps"],
              "trend_bad_timestamps": by_category.attrs["bad_timestamps"]}
    notes = []
    if counts["trend_missing_timestamps"] or counts["trend_bad_timestamps"]:
        notes.append(f"trends: {counts['trend_missing_timestamps']:,} complaints with an empty {date_col} and "
                     f"{counts['trend_bad_timestamps']:,} with one that cannot be read as a time are not counted")
    alerts = []
    latest = parse_timestamps(complaints[date_col])[0].max()
    for dimension, column in (("category", "category"), ("topic", "topic_label")):
        if column not in complaints:
            continue
        full = trends(complaints, date_col, by=column, freq=freq)
        table = without_incomplete_last_period(full, latest, freq)
        if dimension == "category" and len(table) < len(full):
            notes.append(f"growth alerts: the last period ({full['period'].max():%Y-%m-%d}) is incomplete "
                         f"and not compared")
        found = growth_alerts(table, threshold=threshold, recent_periods=recent_periods)
        if "note" in found.attrs:
            notes.append(f"growth alerts ({dimension}): {found.attrs['note']}; "
                         f"try a smaller --recent-periods or a shorter --freq")
        found.insert(0, "dimension", dimension)
        alerts.append(found)
    alerts = pd.concat(alerts, ignore_index=True)
    alerts.insert(2, "group_name", np.where(alerts["dimension"] == "category",
                                            alerts["group"].map(lambda code: names.get(code, code)), alerts["group"]))
    return by_category, alerts, notes, counts
