"""The charts analysts take to their meeting, as Altair (Vega-Lite) specs.

One chart library for both places they appear: the Streamlit explorer renders
the specs in the browser, and ``tousu link`` saves them as PNG (vl-convert, no
browser needed) and self-contained HTML.  Labels are Chinese; Chinese glyphs
in PNGs need a CJK font on the machine (e.g. Debian ``fonts-noto-cjk``).
"""
from __future__ import annotations

from pathlib import Path

import altair as alt
import pandas as pd

CLASS_COLOURS = alt.Scale(domain=["A", "B", "C"], range=["#c0392b", "#e67e22", "#95a5a6"])
QUADRANT_COLOURS = alt.Scale(domain=["重点改进区", "优势区", "机会区", "维持区"],
                             range=["#c0392b", "#27ae60", "#e67e22", "#7f8c8d"])
WIDTH = 640


def pareto_chart(table: pd.DataFrame, label: str = "category_name", title: str = "投诉排列图（帕累托）") -> alt.Chart:
    """Bars: count per category, coloured by A/B/C class; line: cumulative share, with 80 %/90 % rules."""
    data = table.assign(cum_pct=table["cum_share"] * 100)
    order = list(data[label])
    # Every category named, however many: an analyst reads the Pareto bar by bar.
    x = alt.X(f"{label}:N", sort=order, title="类别",
              axis=alt.Axis(labelAngle=-40, labelOverlap=False, labelLimit=160))
    bars = alt.Chart(data).mark_bar().encode(
        x=x, y=alt.Y("count:Q", title="投诉量"),
        color=alt.Color("pareto_class:N", scale=CLASS_COLOURS, title="分类"),
        tooltip=[alt.Tooltip(f"{label}:N", title="类别"), alt.Tooltip("count:Q", title="投诉量"),
                 alt.Tooltip("share:Q", title="占比", format=".1%"),
                 alt.Tooltip("cum_share:Q", title="累计占比", format=".1%"),
                 alt.Tooltip("pareto_class:N", title="分类")])
    line = alt.Chart(data).mark_line(point=True, color="#2c3e50").encode(
        x=x, y=alt.Y("cum_pct:Q", title="累计占比 (%)", scale=alt.Scale(domain=[0, 100])))
    rules = alt.Chart(pd.DataFrame({"cut": [80, 90]})).mark_rule(strokeDash=[4, 4], color="#7f8c8d").encode(
        y=alt.Y("cut:Q", scale=alt.Scale(domain=[0, 100])))
    return alt.layer(bars, alt.layer(line, rules)).resolve_scale(y="independent").properties(
        title=title, width=WIDTH, height=320)


def quadrant_chart(table: pd.DataFrame, label: str = "driver_name", x_split: float | None = None,
                   y_split: float | None = None, title: str = "重要性 × 满意度矩阵") -> alt.Chart:
    """Importance (share of explained variance) against performance (mean CSAT), split into four zones."""
    x_split = table["importance_share"].mean() if x_split is None else x_split
    y_split = table["performance"].mean() if y_split is None else y_split
    base = alt.Chart(table)
    points = base.mark_circle(size=160, opacity=0.85).encode(
        x=alt.X("importance_share:Q", title="重要性（对满意度差异的解释占比）", axis=alt.Axis(format="%")),
        y=alt.Y("performance:Q", title="满意度（平均 CSAT）", scale=alt.Scale(zero=False)),
        color=alt.Color("quadrant:N", scale=QUADRANT_COLOURS, title="区域"),
        tooltip=[alt.Tooltip(f"{label}:N", title="类别"), alt.Tooltip("quadrant:N", title="区域"),
                 alt.Tooltip("importance_share:Q", title="重要性", format=".1%"),
                 alt.Tooltip("performance:Q", title="平均 CSAT", format=".2f")])
    # Low-importance, satisfied categories (维持区) crowd together near the y axis; their names
    # would overprint each other, so they are named on hover only.
    important = table[(table["importance_share"] >= x_split) | (table["performance"] < y_split)]
    names = alt.Chart(important).mark_text(dy=-12, fontSize=12).encode(
        x="importance_share:Q", y="performance:Q", text=f"{label}:N")
    splits = pd.DataFrame({"x": [x_split], "y": [y_split]})
    vertical = alt.Chart(splits).mark_rule(strokeDash=[4, 4], color="#7f8c8d").encode(x="x:Q")
    horizontal = alt.Chart(splits).mark_rule(strokeDash=[4, 4], color="#7f8c8d").encode(y="y:Q")
    return alt.layer(points, names, vertical, horizontal).properties(title=title, width=WIDTH, height=420)


def effect_chart(table: pd.DataFrame, label: str = "driver_name", title: str = "各类投诉对 CSAT 的影响（OLS 系数，95% 置信区间）",
                 score: str = "CSAT") -> alt.Chart:
    """Each driver's coefficient (a dot) with its confidence interval, and the no-effect line at 0.

    A dot-and-whisker plot rather than bars: both marks sit at the band centre whatever
    theme renders them, so the interval always lines up with its estimate."""
    order = list(table.sort_values("coef")[label])
    y = alt.Y(f"{label}:N", sort=order, title=None, axis=alt.Axis(labelLimit=240))
    x_title = f"{score} 变化（分）"
    points = alt.Chart(table).mark_point(filled=True, size=90, color="#c0392b").encode(
        y=y, x=alt.X("coef:Q", title=x_title),
        tooltip=[alt.Tooltip(f"{label}:N", title="类别"), alt.Tooltip("coef:Q", title="系数", format=".2f"),
                 alt.Tooltip("coef_low:Q", title="下限", format=".2f"),
                 alt.Tooltip("coef_high:Q", title="上限", format=".2f"), alt.Tooltip("n_with:Q", title="样本量")])
    errors = alt.Chart(table).mark_errorbar(ticks=True, color="#c0392b").encode(
        y=y, x=alt.X("coef_low:Q", title=x_title), x2="coef_high:Q")
    zero = alt.Chart(pd.DataFrame({"x": [0.0]})).mark_rule(color="#7f8c8d").encode(x="x:Q")
    return alt.layer(errors, points, zero).properties(title=title, width=WIDTH, height=max(160, 26 * len(table)))


def score_chart(table: pd.DataFrame, label: str = "group_name", title: str = "各类别平均 CSAT（95% 置信区间）",
                ) -> alt.Chart:
    """Mean CSAT per group with its bootstrap interval, worst first."""
    data = table.dropna(subset=["csat_mean"])
    order = list(data.sort_values("csat_mean")[label])
    y = alt.Y(f"{label}:N", sort=order, title=None)
    points = alt.Chart(data).mark_point(filled=True, size=80, color="#2c3e50").encode(
        y=y, x=alt.X("csat_mean:Q", title="平均 CSAT", scale=alt.Scale(domain=[1, 5])),
        tooltip=[alt.Tooltip(f"{label}:N", title="类别"), alt.Tooltip("n_surveyed:Q", title="问卷数"),
                 alt.Tooltip("csat_mean:Q", title="平均 CSAT", format=".2f"),
                 alt.Tooltip("nps:Q", title="NPS", format=".0f")])
    errors = alt.Chart(data).mark_errorbar(ticks=True).encode(y=y, x="csat_low:Q", x2="csat_high:Q")
    return alt.layer(errors, points).properties(title=title, width=WIDTH, height=max(160, 24 * len(data)))


def trend_chart(table: pd.DataFrame, group: str = "group_name", title: str = "投诉量趋势",
                group_title: str = "类别") -> alt.Chart:
    """Complaint count per period, one line per group."""
    return alt.Chart(table).mark_line(point=True).encode(
        x=alt.X("period:T", title="时间"), y=alt.Y("count:Q", title="投诉量"),
        color=alt.Color(f"{group}:N", title=group_title),
        tooltip=[alt.Tooltip(f"{group}:N", title=group_title), alt.Tooltip("period:T", title="时间"),
                 alt.Tooltip("count:Q", title="投诉量")],
    ).properties(title=title, width=WIDTH, height=320)


def topic_map_chart(topics: pd.DataFrame, title: str = "主题地图（主题向量的二维投影，圆越大投诉越多）") -> alt.Chart:
    """Topics as circles at their 2-D position (``x``, ``y``), sized by ``size``, coloured by
    the mapped category; near circles are topics with similar wording."""
    base = alt.Chart(topics)
    circles = base.mark_circle(opacity=0.7).encode(
        x=alt.X("x:Q", title=None, axis=None), y=alt.Y("y:Q", title=None, axis=None),
        size=alt.Size("size:Q", title="投诉量", scale=alt.Scale(range=[60, 2400])),
        color=alt.Color("category_name:N", title="映射类别"),
        tooltip=[alt.Tooltip("topic_id:Q", title="主题编号"), alt.Tooltip("topic_label:N", title="主题"),
                 alt.Tooltip("size:Q", title="投诉量"), alt.Tooltip("category_name:N", title="映射类别"),
                 alt.Tooltip("top_words:N", title="关键词")])
    labels = base.mark_text(dy=-14, fontSize=11).encode(x="x:Q", y="y:Q", text="topic_label:N")
    return alt.layer(circles, labels).properties(title=title, width=WIDTH, height=460)


def save_chart(chart: alt.Chart, path_without_suffix: Path) -> list[Path]:
    """Write ``.png`` and a self-contained ``.html`` (works offline: the JS is inlined)."""
    png, html = path_without_suffix.with_suffix(".png"), path_without_suffix.with_suffix(".html")
    chart.save(png, scale_factor=2)
    chart.save(html, inline=True)
    return [png, html]
