"""The report writer of ``tousu link``: one CSV per table (English snake_case columns, for
scripts), one XLSX workbook with a sheet each (Chinese sheet names and headers, for analysts),
PNG/HTML charts, and the summary lines printed at the end. Every table is written with its free
text PII-masked (:mod:`tousu.nlp.personal_data`) and no cell a live formula
(:mod:`tousu.nlp.safe_cells`)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from tousu.analysis.report import HEADERS, TABLES, LinkReport
from tousu.nlp.personal_data import mask_free_text
from tousu.nlp.safe_cells import csv_safe, keep_text_cells

# The problems table's column of key values, beside the link key and the complaint id.
_PROBLEM_KEY_COLUMN = "key"


def write_report(report: LinkReport, out_dir: str | Path, charts: bool = True) -> list[Path]:
    """CSV per table, ``report.xlsx`` (a sheet each, Chinese headers) and PNG/HTML charts."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    keys = [report.summary.get("key"), report.summary.get("complaint_id"), _PROBLEM_KEY_COLUMN]
    tables = {name: mask_free_text(table, keys=keys) for name, table in report.tables.items()}
    for name, table in tables.items():
        path = out_dir / f"{name}.csv"
        csv_safe(table).to_csv(path, index=False, encoding="utf-8-sig")
        written.append(path)
    workbook = out_dir / "report.xlsx"
    with pd.ExcelWriter(workbook, engine="openpyxl") as excel:
        for name, table in tables.items():
            sheet = TABLES.get(name, (name,))[0][:31]
            for_excel = table.rename(columns=HEADERS)
            for column in for_excel.select_dtypes(include=["datetimetz"]).columns:
                for_excel[column] = for_excel[column].dt.tz_localize(None)
            for_excel.to_excel(excel, sheet_name=sheet, index=False)
            keep_text_cells(excel.sheets[sheet])
    written.append(workbook)
    if charts:
        written += write_charts(report, out_dir / "charts")
    return written


def report_charts(report: LinkReport) -> dict:
    """The report's charts by file stem (Altair specs; the explorer shows the same ones)."""
    from tousu.analysis import charts

    tables, found = report.tables, {}
    found["pareto"] = charts.pareto_chart(tables["pareto"], label="group_name")
    scores = tables["category_scores"]
    found["category_csat"] = charts.score_chart(scores[~scores["is_baseline"]], label="group_name")
    if "drivers_csat" in tables:
        found["drivers_csat"] = charts.effect_chart(tables["drivers_csat"].dropna(subset=["coef"]))
    if "quadrant" in tables and tables["quadrant"]["quadrant"].notna().any():
        found["quadrant"] = charts.quadrant_chart(tables["quadrant"])
    if "trends" in tables:
        top = tables["pareto"].loc[tables["pareto"]["pareto_class"] == "A", "group"]
        rising = tables["alerts"].loc[tables["alerts"]["dimension"] == "category", "group"]
        shown = tables["trends"][tables["trends"]["group"].isin(set(top) | set(rising))]
        found["trends"] = charts.trend_chart(shown, title="投诉量趋势（A类与预警类别）")
    if "change_attribution" in tables:
        period_a, period_b = report.summary["change_periods"].split(" → ")
        change = tables["change_attribution"]
        for score in change["score"].unique():
            found[f"change_{score.lower()}"] = charts.waterfall_chart(change, score, period_a, period_b)
    return found


def write_charts(report: LinkReport, out_dir: Path) -> list[Path]:
    from tousu.analysis.charts import save_chart

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for stem, chart in report_charts(report).items():
        written += save_chart(chart, out_dir / stem)
    return written


def summary_lines(report: LinkReport, top: int = 5) -> list[str]:
    """What the meeting needs first, in a few lines."""
    s, tables = report.summary, report.tables
    scores = tables["category_scores"]
    baseline = scores[scores["is_baseline"]]
    baseline_rule = "empty key" if s["baseline_rule"] == "empty-key" else f"empty or unmatched {s['key']}"
    dropped = s["complaint_duplicates_dropped"]
    lines = [
        f"complaints: {s['complaint_rows']:,} rows" + (f" ({dropped:,} dropped: repeated {s['complaint_id']})"
                                                       if dropped else "")
        + f", {s['complaints_linked']:,} linked to a survey, {s['complaints_unmatched']:,} without one",
        f"surveys: {s['survey_rows']:,} rows, {s['complaints_linked']:,} about a complaint, "
        f"{s['joined_baseline']:,} from customers without complaint (baseline: {baseline_rule}), "
        f"{s['surveys_unmatched']:,} unmatched; {len(tables['problems']):,} problem rows/cells reported",
    ]
    if len(baseline) and pd.notna(baseline["csat_mean"].iloc[0]):
        lines.append(f"baseline CSAT {baseline['csat_mean'].iloc[0]:.2f}, NPS {baseline['nps'].iloc[0]:.0f}")
    pareto = tables["pareto"]
    a_class = pareto[pareto["pareto_class"] == "A"]
    lines.append(f"Pareto A ({a_class['share'].sum():.0%} of complaints): " + "、".join(a_class["group_name"]))
    if "drivers_csat" in tables:
        lines.append(f"CSAT drivers (R² {s['r_squared'].get('CSAT', float('nan')):.2f}), most important first:")
        for row in tables["drivers_csat"].head(top).itertuples():
            if row.driver == s["driver_reference"].get("CSAT"):
                effect = "reference of the effects"
            else:
                effect = f"effect {row.coef:+.2f} [{row.coef_low:+.2f}, {row.coef_high:+.2f}]"
            lines.append(f"  {row.driver_name}: importance {row.importance_share:.0%}, {effect} (n={row.n_with:,})")
    if "quadrant" in tables:
        focus = tables["quadrant"].loc[tables["quadrant"]["quadrant"] == "重点改进区", "driver_name"]
        lines.append("重点改进区: " + ("、".join(focus) if len(focus) else "(none)"))
    if "alerts" in tables and len(tables["alerts"]):
        rising = [f"{row.group_name} {row.previous:.0f}→{row.recent:.0f}" for row in tables["alerts"].itertuples()]
        lines.append("growth alerts: " + "; ".join(rising))
    overall = tables["kpis"].iloc[-1]
    kpi_parts = [f"{label} {overall[column]:.0%}" for column, label in (
        ("responded_24h_share", "responded ≤24 h"), ("resolved_48h_share", "resolved ≤48 h"),
        ("repeat_rate", "repeat"), ("escalation_rate", "escalated")) if column in overall and pd.notna(overall[column])]
    if kpi_parts:
        lines.append("KPIs: " + ", ".join(kpi_parts))
    lines += [f"note: {note}" for note in report.notes]
    return lines
