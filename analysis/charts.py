"""The charts analysts take to their meeting, as Altair (Vega-Lite) specs.

One chart library for both places they appear: the Streamlit explorer renders
the specs in the browser, and ``tousu link`` saves them as PNG (vl-convert, no
browser needed) and self-contained HTML.  Labels are Chinese; Chinese glyphs
in PNGs need a CJK font on the machine (e.g. Debian ``fonts-noto-cjk``).
"""
from __future__ import annotations

from pathlib import Path

import altair as alt
import numpy as np
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


QUADRANT_HEIGHT = 420
LABEL_FONT_SIZE = 12
POINT_RADIUS = 7  # px: a circle of size 160
# Point areas (px²) of the quadrant chart, sized by impact: none (or no impact) → the smallest.
IMPACT_SIZES = (60.0, 700.0)


def _point_sizes(data: pd.DataFrame) -> np.ndarray:
    """Circle area (px²) of each quadrant point: proportional to its ``impact`` (how much the
    overall score would rise without that category's shortfall), between :data:`IMPACT_SIZES`;
    160 (``POINT_RADIUS``) for every point when the table has no positive impact."""
    impact = (data["impact"] if "impact" in data else pd.Series(np.nan, index=data.index)).to_numpy(dtype=float)
    positive = np.clip(np.nan_to_num(impact, nan=0.0), 0, None)
    if not len(positive) or positive.max() <= 0:
        return np.full(len(data), 160.0)
    low, high = IMPACT_SIZES
    return low + (high - low) * positive / positive.max()


# How a quadrant's performance axis reads for each score.
PERFORMANCE_AXES = {"CSAT": ("满意度（平均 CSAT）", "平均 CSAT", ".2f"), "NPS": ("满意度（NPS，分）", "NPS", ".0f")}


def quadrant_chart(quadrant: pd.DataFrame, label: str = "driver_name", title: str = "重要性 × 满意度矩阵",
                   score: str = "CSAT") -> alt.Chart:
    """Importance (share of explained variance) against performance (the category's mean CSAT,
    or its NPS for ``score="NPS"``), split into four zones at the lines that placed them.

    quadrant: :func:`tousu.analysis.drivers.quadrant`'s table; the categories it placed are drawn,
    each circle's area in proportion to the category's ``impact`` where the table has one.
    Every category is named: each name is placed next to its point where it overlaps no
    other name or point, farther out with a leader line where the points crowd."""
    table = quadrant.dropna(subset=["quadrant"])
    total = quadrant["importance"].sum()
    x_split = float(table["importance_split"].iloc[0] / total) if total and len(table) else 0.0
    y_split = float(table["performance_split"].iloc[0]) if len(table) else 0.0
    data = table.dropna(subset=["importance_share", "performance"]).reset_index(drop=True)
    data["point_size"] = _point_sizes(data)
    if "impact" not in data:
        data["impact"] = np.nan
    x_domain = _padded_domain(pd.concat([data["importance_share"], pd.Series([0.0, x_split])]), zero=True)
    y_domain = _padded_domain(pd.concat([data["performance"], pd.Series([y_split])]))
    # Fixed domains: the label layout is computed in the pixels these scales give.
    x_scale = alt.Scale(domain=list(x_domain), nice=False)
    y_scale = alt.Scale(domain=list(y_domain), nice=False)
    x = alt.X("importance_share:Q", title="重要性（对满意度差异的解释占比）", axis=alt.Axis(format="%"), scale=x_scale)
    axis_title, tooltip_title, tooltip_format = PERFORMANCE_AXES[score]
    y = alt.Y("performance:Q", title=axis_title, scale=y_scale)
    points = alt.Chart(data).mark_circle(opacity=0.85).encode(
        x=x, y=y,
        color=alt.Color("quadrant:N", scale=QUADRANT_COLOURS, title="区域"),
        size=alt.Size("point_size:Q", scale=None, legend=None),
        tooltip=[alt.Tooltip(f"{label}:N", title="类别"), alt.Tooltip("quadrant:N", title="区域"),
                 alt.Tooltip("importance_share:Q", title="重要性", format=".1%"),
                 alt.Tooltip("performance:Q", title=tooltip_title, format=tooltip_format),
                 alt.Tooltip("impact:Q", title=f"整体{score}提升潜力（点大小）", format=".3f")])
    labels = _label_layout(data, label, x_domain, y_domain)
    names = alt.Chart(labels).mark_text(fontSize=LABEL_FONT_SIZE, align="center", baseline="middle").encode(
        x=alt.X("label_x:Q", scale=x_scale), y=alt.Y("label_y:Q", scale=y_scale), text="name:N")
    leaders = alt.Chart(labels[labels["leader"]]).mark_rule(color="#95a5a6", strokeWidth=0.8).encode(
        x=alt.X("start_x:Q", scale=x_scale), y=alt.Y("start_y:Q", scale=y_scale), x2="anchor_x:Q", y2="anchor_y:Q")
    splits = pd.DataFrame({"x": [x_split], "y": [y_split]})
    vertical = alt.Chart(splits).mark_rule(strokeDash=[4, 4], color="#7f8c8d").encode(x=alt.X("x:Q", scale=x_scale))
    horizontal = alt.Chart(splits).mark_rule(strokeDash=[4, 4], color="#7f8c8d").encode(y=alt.Y("y:Q", scale=y_scale))
    return alt.layer(points, leaders, names, vertical, horizontal).properties(
        title=title, width=WIDTH, height=QUADRANT_HEIGHT)


def _padded_domain(values: pd.Series, zero: bool = False) -> tuple[float, float]:
    low, high = float(values.min()), float(values.max())
    pad = (high - low) * 0.08 or 0.1
    return (0.0 if zero else low - pad, high + pad)


def _text_width(text: str) -> float:
    """Rendered width in px, roughly: a CJK glyph is a full em, Latin and digits about 0.6 em."""
    return sum(LABEL_FONT_SIZE if ord(char) > 0x2E7F else 0.6 * LABEL_FONT_SIZE for char in text)


def _label_layout(data: pd.DataFrame, label: str, x_domain, y_domain) -> pd.DataFrame:
    """Where each name goes: greedily, most important first, the nearest spot around its point
    (8 directions, widening rings) that stays in the plot and overlaps no placed name or any point.
    A name set off diagonally or farther than touching gets a leader line to its point."""
    to_px = np.array([WIDTH / (x_domain[1] - x_domain[0]), -QUADRANT_HEIGHT / (y_domain[1] - y_domain[0])])
    origin = np.array([x_domain[0], y_domain[1]])
    centres = (data[["importance_share", "performance"]].to_numpy(dtype=float) - origin) * to_px
    radii = (np.sqrt(data["point_size"].to_numpy(dtype=float) / np.pi) if "point_size" in data
             else np.full(len(data), float(POINT_RADIUS)))
    height = LABEL_FONT_SIZE + 2
    boxes = []  # placed names as (left, top, right, bottom)

    def free(box):
        left, top, right, bottom = box
        if left < 0 or top < 0 or right > WIDTH or bottom > QUADRANT_HEIGHT:
            return False
        if any(left < b[2] and b[0] < right and top < b[3] and b[1] < bottom for b in boxes):
            return False
        nearest_x = np.clip(centres[:, 0], left, right)
        nearest_y = np.clip(centres[:, 1], top, bottom)
        return bool((np.hypot(centres[:, 0] - nearest_x, centres[:, 1] - nearest_y) > radii + 1).all())

    directions = [(0, -1), (1, 0), (-1, 0), (0, 1), (1, -1), (-1, -1), (1, 1), (-1, 1)]
    order = data["importance_share"].sort_values(ascending=False, kind="stable").index
    placed = {}
    for i in order:
        px, py = centres[i]
        radius = radii[i]
        width = _text_width(str(data.at[i, label])) + 4
        spot = None
        for gap in (2, 8, 16, 28, 44, 64, 90, 120, 160, 210):
            for dx, dy in directions:
                # The box's near edge sits ``gap`` px beyond the circle in that direction.
                cx = px + dx * (radius + gap + width / 2)
                cy = py + dy * (radius + gap + height / 2)
                box = (cx - width / 2, cy - height / 2, cx + width / 2, cy + height / 2)
                if free(box):
                    spot = (cx, cy, box, gap > 2 or (dx and dy))
                    break
            if spot:
                break
        if spot is None:  # nowhere free: right of the point, as before the layout
            cx, cy = px + radius + 2 + width / 2, py
            spot = (cx, cy, (cx - width / 2, cy - height / 2, cx + width / 2, cy + height / 2), False)
        cx, cy, box, leader = spot
        boxes.append(box)
        # The leader line runs from the circle's edge to the box edge nearest the point.
        anchor = np.array([np.clip(px, box[0], box[2]), np.clip(py, box[1], box[3])])
        towards = anchor - centres[i]
        start = centres[i] + towards / max(np.hypot(*towards), 1e-9) * radius
        placed[i] = (cx, cy, *anchor, *start, bool(leader))
    layout = pd.DataFrame.from_dict(placed, orient="index",
                                    columns=["cx", "cy", "ax", "ay", "sx", "sy", "leader"])
    layout = layout.reindex(data.index)
    result = data[["importance_share", "performance"]].copy()
    result["name"] = data[label].astype(str)
    result["label_x"] = layout["cx"] / to_px[0] + origin[0]
    result["label_y"] = layout["cy"] / to_px[1] + origin[1]
    result["anchor_x"] = layout["ax"] / to_px[0] + origin[0]
    result["anchor_y"] = layout["ay"] / to_px[1] + origin[1]
    result["start_x"] = layout["sx"] / to_px[0] + origin[0]
    result["start_y"] = layout["sy"] / to_px[1] + origin[1]
    result["leader"] = layout["leader"].astype(bool)
    return result


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
    y = alt.Y(f"{label}:N", sort=order, title=None, axis=alt.Axis(labelOverlap=False, labelLimit=240))
    points = alt.Chart(data).mark_point(filled=True, size=80, color="#2c3e50").encode(
        y=y, x=alt.X("csat_mean:Q", title="平均 CSAT", scale=alt.Scale(domain=[1, 5])),
        tooltip=[alt.Tooltip(f"{label}:N", title="类别"), alt.Tooltip("n_surveyed:Q", title="问卷数"),
                 alt.Tooltip("csat_mean:Q", title="平均 CSAT", format=".2f"),
                 alt.Tooltip("nps:Q", title="NPS", format=".0f")])
    # The interval's axis is titled too: untitled, Vega-Lite joins both layers' field names.
    errors = alt.Chart(data).mark_errorbar(ticks=True).encode(
        y=y, x=alt.X("csat_low:Q", title="平均 CSAT"), x2="csat_high:Q")
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


WATERFALL_COLOURS = alt.Scale(domain=["期初", "上升", "下降", "期末"],
                              range=["#7f8c8d", "#27ae60", "#c0392b", "#2c3e50"])
SCORE_UNITS = {"CSAT": ("平均 CSAT", ".2f", ".3f"), "NPS": ("NPS（分）", ".1f", ".2f")}


def waterfall_steps(table: pd.DataFrame, score: str, period_a: str, period_b: str, top: int = 8) -> pd.DataFrame:
    """The bars of :func:`waterfall_chart`: the overall score in ``period_a``, one step per segment
    (its ``total_effect``; beyond the ``top`` largest, the rest summed as 其他), the score in ``period_b``.

    table: :func:`tousu.analysis.change.change_attribution`'s rows; the overall means are
    Σ share × mean over them (a segment absent from a period has share 0 there)."""
    rows = table[table["score"] == score]
    start = float((rows["share_a"] * rows["mean_a"].fillna(0)).sum())
    end = float((rows["share_b"] * rows["mean_b"].fillna(0)).sum())
    ranked = rows.reindex(rows["total_effect"].abs().sort_values(ascending=False, kind="stable").index)
    shown, rest = ranked.iloc[:top], ranked.iloc[top:]
    steps = [{"label": str(row.segment), "delta": row.total_effect, "mix": row.mix_effect, "rate": row.rate_effect}
             for row in shown.itertuples()]
    if len(rest):
        steps.append({"label": f"其他（{len(rest)}个）", "delta": rest["total_effect"].sum(),
                      "mix": rest["mix_effect"].sum(), "rate": rest["rate_effect"].sum()})
    bars = [{"label": period_a, "low": start, "high": start, "delta": start, "mix": np.nan, "rate": np.nan,
             "kind": "期初"}]
    level = start
    for step in steps:
        low, high = sorted((level, level + step["delta"]))
        bars.append(step | {"low": low, "high": high, "kind": "上升" if step["delta"] >= 0 else "下降"})
        level += step["delta"]
    bars.append({"label": period_b, "low": end, "high": end, "delta": end, "mix": np.nan, "rate": np.nan,
                 "kind": "期末"})
    frame = pd.DataFrame(bars)
    frame["order"] = np.arange(len(frame))
    return frame


def waterfall_chart(table: pd.DataFrame, score: str, period_a: str, period_b: str, top: int = 8,
                    title: str | None = None) -> alt.Chart:
    """What changed: the overall ``score`` in ``period_a``, each segment's contribution to the change
    (green up, red down; the tooltip splits it into 结构效应 mix and 表现效应 rate), the score in ``period_b``."""
    data = waterfall_steps(table, score, period_a, period_b, top)
    axis_title, value_format, effect_format = SCORE_UNITS.get(score, (score, ".2f", ".3f"))
    # The axis starts below the lowest step, not at 0: a change of 0.1 CSAT on a 0–5 axis is invisible.
    low, high = float(data["low"].min()), float(data["high"].max())
    span = (high - low) or 1.0
    floor = low - 0.6 * span
    data.loc[data["kind"].isin(["期初", "期末"]), "low"] = floor
    domain = [floor, high + 0.12 * span]
    data["text"] = [f"{v:{value_format}}" if kind in ("期初", "期末") else f"{v:+{effect_format}}"
                    for v, kind in zip(data["delta"], data["kind"])]
    order = list(data["label"])
    x = alt.X("label:N", sort=order, title=None, axis=alt.Axis(labelAngle=-35, labelOverlap=False, labelLimit=180))
    y_scale = alt.Scale(domain=domain, nice=False, zero=False)
    bars = alt.Chart(data).mark_bar(size=28).encode(
        x=x, y=alt.Y("low:Q", title=axis_title, scale=y_scale), y2="high:Q",
        color=alt.Color("kind:N", scale=WATERFALL_COLOURS, title=None),
        tooltip=[alt.Tooltip("label:N", title="细分群体"),
                 alt.Tooltip("delta:Q", title="影响（期初/期末为得分）", format=effect_format),
                 alt.Tooltip("mix:Q", title="结构效应（占比变化）", format=effect_format),
                 alt.Tooltip("rate:Q", title="表现效应（得分变化）", format=effect_format)])
    labels = alt.Chart(data).mark_text(dy=-8, fontSize=11).encode(
        x=x, y=alt.Y("high:Q", scale=y_scale), text="text:N")
    return alt.layer(bars, labels).properties(
        title=title or f"{score} 变化归因：{period_a} → {period_b}（各细分群体的贡献）", width=WIDTH, height=340)
