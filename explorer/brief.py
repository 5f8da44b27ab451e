"""The explorer's 满意度通报 download: the deck of ``tousu brief`` for the current filters.

The report's pieces are computed for the filtered complaints with the explorer's own views
(the same analysis functions ``tousu link`` reports with), its charts drawn by the report
writer (:func:`tousu.report.write_charts`), and the deck built by the same function as
``tousu brief`` (:func:`tousu.report.brief.brief_bytes`). No Streamlit here.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

from tousu.analysis.report import LinkReport
from tousu.analysis.scores import group_scores
from tousu.explorer import views
from tousu.report import write_charts
from tousu.report.brief import TITLE, BriefSource, brief_bytes, find_pictures
from tousu.store import Filters, ResultsStore

BRIEF_FREQ = "W"  # trends and growth alerts, as tousu link's default
CHANGE_FREQ = "M"  # the monthly brief compares the last two months
EXAMPLE_POOL = 5_000  # the newest filtered complaints the examples are taken from
# The views name alert dimensions in Chinese; the report (and its charts) in English.
ALERT_DIMENSIONS = {"类别": "category", "主题": "topic"}


def brief_source(store: ResultsStore, filters: Filters, title: str = TITLE) -> BriefSource:
    """The pieces of the brief for the complaints the filters select (charts drawn as PNG)."""
    with store.reading():
        names = store.category_names()
        joined = store.joined_scores(filters, views.SCORE_COLUMNS)
        tables: dict[str, pd.DataFrame] = {"category_scores": views.category_scores(joined, names)}
        for score in ("CSAT", "NPS"):
            found = views.driver_tables(joined, names, score)
            if found is not None:
                tables[f"drivers_{score.lower()}"] = found[0]
                if score == "CSAT":
                    tables["quadrant"] = found[1]
        tables["pareto"] = views.category_pareto(store, filters)
        tables["trends"] = views.trend_table(store, "category", BRIEF_FREQ, filters)
        alerts = views.growth_alerts(store, BRIEF_FREQ, filters)
        tables["alerts"] = alerts.assign(dimension=alerts["dimension"].map(lambda d: ALERT_DIMENSIONS.get(d, d)))
        tables["kpis"] = views.kpi_table(store, filters)
        if not joined.empty:
            # One group per respondent (primary category, or the baseline): the overall scores.
            tables["breakdown"] = group_scores(joined, by="category", n_boot=0, primary_only=True)
        summary = {"complaint_rows": store.count(filters), "survey_rows": len(joined)}
        change = _change_attribution(store, filters, names)
        if change is not None:
            tables["change_attribution"], summary["change_periods"] = change
        examples = store.complaints(filters, limit=EXAMPLE_POOL, columns=("category", "categories", "text"))
    tables["summary"] = pd.DataFrame({"measure": list(summary), "value": [str(v) for v in summary.values()]})
    return BriefSource(tables=tables, pictures=_chart_pictures(tables, summary), examples=examples,
                       examples_from="当前筛选下最新的工单", period=_period(filters), title=title,
                       origin="explorer")


def brief_file(store: ResultsStore, filters: Filters, title: str = TITLE) -> bytes:
    """The ``.pptx`` bytes of :func:`brief_source`'s deck (the page's download)."""
    return brief_bytes(brief_source(store, filters, title))


def _change_attribution(store: ResultsStore, filters: Filters, names: dict[str, str]):
    """(change attribution table, ``"A → B"``) between the last two months, or None."""
    joined = store.joined_scores(filters, views.CHANGE_COLUMNS)
    _, pair = views.change_periods(joined, names, CHANGE_FREQ)
    if pair is None:
        return None
    found = views.change_attribution(joined, names, CHANGE_FREQ, *pair)
    if isinstance(found, str):  # why there is none
        return None
    return found[0], f"{pair[0]} → {pair[1]}"


def _chart_pictures(tables: dict[str, pd.DataFrame], summary: dict) -> dict[str, bytes]:
    """The report's charts of these tables, as PNG bytes by stem (see :func:`find_pictures`)."""
    with tempfile.TemporaryDirectory(prefix="tousu-brief-") as folder:
        write_charts(LinkReport(tables=tables, summary=summary), Path(folder) / "charts")
        return {key: path.read_bytes() for key, path in find_pictures(folder).items()}


def _period(filters: Filters) -> str | None:
    if filters.start and filters.end:
        return f"{filters.start:%Y-%m-%d} 至 {filters.end:%Y-%m-%d}"
    return None
