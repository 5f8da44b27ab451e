"""``tousu brief``: the monthly satisfaction brief (满意度通报) as an editable PowerPoint deck.

The deck is built from the pieces of a ``tousu link`` report (:class:`BriefSource`): its tables
(the CSVs of the report folder, or the same tables the explorer computes for its filters), its
PNG charts, and complaints to quote. Charts go on the slides as pictures; figures go as real
PowerPoint tables and text boxes, so they can be edited before the meeting. Every text put on
a slide passes :func:`tousu.nlp.clean.mask_pii` first, whatever the report's own masking.

Slides: title and period; overall CSAT/NPS and their change; what changed (变化归因: the
waterfall chart and ``change_attribution``, where the report has them); the Pareto (A/B/C);
the importance × satisfaction quadrant; the CSAT (and NPS) drivers with their impact; growth
alerts; the 24 h / 48 h handling KPIs; for each category of the 重点改进区 three example
complaints.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from tousu.analysis.conventions import BASELINE_CODE, TOTAL_LABEL
from tousu.nlp.clean import mask_pii
from tousu.nlp.tables import KNOWN_TEXT_COLUMNS

TITLE = "满意度通报"
FOCUS_QUADRANT = "重点改进区"
EXAMPLES_PER_CATEGORY = 3
EXAMPLE_CHARS = 180
TABLE_ROWS = 12
# Files without which a folder is no tousu link report (the writer always writes them).
REQUIRED_TABLES = ("summary", "category_scores", "pareto", "kpis")
OPTIONAL_TABLES = ("drivers_csat", "drivers_nps", "quadrant", "alerts", "trends", "breakdown",
                   "unmatched_complaints", "change_attribution")
REQUIRED_COLUMNS = {
    "summary": ("measure", "value"),
    "category_scores": ("group", "is_baseline", "csat_mean", "nps"),
    "pareto": ("group", "group_name", "count", "share", "pareto_class"),
    "kpis": ("group", "group_name", "n"),
    "change_attribution": ("score", "segment", "share_a", "share_b", "mean_a", "mean_b", "total_effect"),
}
# Chart stems of tousu link (tousu.report.report_charts) shown on the slides.
CHARTS = ("pareto", "quadrant", "drivers_csat", "category_csat", "trends")
WATERFALL_WORDS = ("waterfall", "change")
WATERFALL = "waterfall"
ALERT_DIMENSIONS = {"category": "类别", "topic": "主题"}
ZONES = ("重点改进区", "机会区", "优势区", "维持区")
FONT = "Microsoft YaHei"


class BriefError(ValueError):
    """The folder is no ``tousu link`` report, or a table of it cannot be used."""


@dataclass
class BriefSource:
    """What the deck is built from.

    tables: report tables by name (``summary``, ``category_scores``, ``pareto``, ``kpis`` and,
        where there are, ``drivers_csat``, ``drivers_nps``, ``quadrant``, ``alerts``, ``trends``,
        ``breakdown``, ``change_attribution``), in the report's CSV columns.
    pictures: PNG files (or their bytes) by chart stem (:data:`CHARTS`); ``waterfall`` or
        ``waterfall:<name>`` for the what-changed charts (one slide each).
    examples: complaints to quote (a text column of :data:`KNOWN_TEXT_COLUMNS`, ``category``,
        optionally ``categories``), or None.
    """

    tables: dict[str, pd.DataFrame]
    pictures: dict[str, Path | bytes] = field(default_factory=dict)
    examples: pd.DataFrame | None = None
    examples_from: str = ""
    examples_missing: str = "没有该类的投诉原文可引用。"
    period: str | None = None
    title: str = TITLE
    origin: str = ""


# ----------------------------------------------------------------------------- reading a report folder
def read_report(report_dir: str | Path, complaints: pd.DataFrame | None = None, complaints_from: str = "",
                title: str | None = None, period: str | None = None) -> BriefSource:
    """The pieces of the ``tousu link`` report in ``report_dir``.

    complaints: the classified complaints to quote (e.g. the table given to ``tousu link``);
        by default the report's ``unmatched_complaints.csv`` (the complaints without a survey).
    Raises :class:`BriefError` naming what is missing when the folder is no report.
    """
    folder = Path(report_dir)
    if not folder.is_dir():
        raise BriefError(f"{folder}: no such folder (give the output folder of `tousu link … -o REPORT_DIR`)")
    missing = [f"{name}.csv" for name in REQUIRED_TABLES if not (folder / f"{name}.csv").is_file()]
    if missing:
        raise BriefError(f"{folder} is not a tousu link report: no {', '.join(missing)} "
                         f"(write one with `tousu link CLASSIFIED SURVEYS -o {folder}`)")
    tables = {}
    for name in (*REQUIRED_TABLES, *OPTIONAL_TABLES):
        path = folder / f"{name}.csv"
        if path.is_file():
            tables[name] = _read_csv(path, name)
    if complaints is None and "unmatched_complaints" in tables:
        complaints, complaints_from = tables["unmatched_complaints"], "未匹配问卷的工单（unmatched_complaints.csv）"
    missing = ("没有该类的投诉原文可引用：报告只保存没有问卷的工单（unmatched_complaints.csv）；"
               "用 tousu brief … --complaints CLASSIFIED 从分类结果表中引用。")
    return BriefSource(tables=tables, pictures=find_pictures(folder), examples=complaints,
                       examples_from=complaints_from, examples_missing=missing, period=period, title=title or TITLE,
                       origin=str(folder))


def _read_csv(path: Path, name: str) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, encoding="utf-8-sig", keep_default_na=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise BriefError(f"{path}: cannot be read as a tousu link table ({error})") from error
    missing = [column for column in REQUIRED_COLUMNS.get(name, ()) if column not in table.columns]
    if missing:
        raise BriefError(f"{path}: no column {', '.join(missing)}; is it a tousu link report? "
                         f"(the columns are: {', '.join(map(str, table.columns))})")
    if "is_baseline" in table:
        table["is_baseline"] = table["is_baseline"].astype(str).str.lower().isin(["true", "1"])
    return table


def find_pictures(folder: str | Path) -> dict[str, Path]:
    """The report's PNG charts by stem (in ``charts/`` or the folder itself); every PNG whose name
    contains ``waterfall`` or ``change`` (the what-changed charts) as ``waterfall:<stem>``."""
    folder = Path(folder)
    found: dict[str, Path] = {}
    for png in sorted([*folder.glob("*.png"), *folder.glob("charts/*.png")]):
        stem = png.stem.lower()
        if any(word in stem for word in WATERFALL_WORDS):
            found.setdefault(f"{WATERFALL}:{png.stem}", png)
        elif stem in CHARTS:
            found.setdefault(stem, png)
    return found


def waterfalls(pictures: dict) -> list[str]:
    """The keys of the what-changed charts among ``pictures``."""
    return [key for key in pictures if key == WATERFALL or key.startswith(f"{WATERFALL}:")]


# ----------------------------------------------------------------------------- figures for the slides
def summary_values(tables: dict[str, pd.DataFrame]) -> dict[str, str]:
    """The report's ``summary`` as {measure: value} (notes left out)."""
    summary = tables.get("summary")
    if summary is None:
        return {}
    rows = summary[summary["measure"] != "note"]
    return dict(zip(rows["measure"].astype(str), rows["value"].astype(str)))


def report_period(source: BriefSource) -> str:
    """The period the report covers: ``source.period``, else from the trend table's periods."""
    if source.period:
        return source.period
    trends = source.tables.get("trends")
    if trends is None or trends.empty:
        return "未知（报告没有受理时间）"
    periods = pd.to_datetime(trends["period"], errors="coerce").dropna().drop_duplicates().sort_values()
    if periods.empty:
        return "未知（报告没有受理时间）"
    first, last = periods.iloc[0], periods.iloc[-1]
    steps = periods.diff().dropna().dt.days
    step = int(steps.min()) if len(steps) else 0
    freq = {1: "D", 7: "W"}.get(step, "M" if 28 <= step <= 31 else "Q" if 89 <= step <= 92 else None)
    end = last.to_period(freq).end_time if freq else last
    return f"{first:%Y-%m-%d} 至 {end:%Y-%m-%d}"


def overall_scores(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Overall CSAT and NPS: all respondents, those with a complaint, the baseline (no complaint),
    and, where the report has a change attribution, the two periods compared and the change.

    All respondents and complainants come from a table that puts each respondent in one group
    (:func:`_one_group_each`): means weighted by ``n_csat`` / ``n_nps``; the baseline
    from ``category_scores``. The periods' means are Σ share × mean of ``change_attribution``
    (its segments are disjoint), as its waterfall draws them."""
    rows = []
    scores = tables["category_scores"]
    baseline = scores[scores["is_baseline"]]
    partition = _one_group_each(tables)
    change = tables.get("change_attribution")
    for score, mean, n in (("CSAT", "csat_mean", "n_csat"), ("NPS", "nps", "n_nps")):
        row = {"score": score, "all": np.nan, "complainants": np.nan, "baseline": np.nan,
               "period_a": np.nan, "period_b": np.nan, "change": np.nan}
        if len(baseline) and mean in baseline:
            row["baseline"] = float(baseline[mean].iloc[0])
        if partition is not None and len(partition) and mean in partition:
            row["all"] = _weighted(partition, mean, n)
            row["complainants"] = _weighted(partition[~partition["is_baseline"].astype(bool)], mean, n)
        if change is not None and len(change):
            part = change[change["score"] == score]
            if len(part):
                row["period_a"] = float((part["share_a"] * part["mean_a"].fillna(0)).sum())
                row["period_b"] = float((part["share_b"] * part["mean_b"].fillna(0)).sum())
                row["change"] = row["period_b"] - row["period_a"]
        rows.append(row)
    return pd.DataFrame(rows)


def _one_group_each(tables: dict[str, pd.DataFrame]) -> pd.DataFrame | None:
    """Group scores in which each respondent counts once: the first dimension of ``breakdown``
    (provinces, channels … are single-valued), else ``category_scores`` when its groups' respondents
    add up to the summary's respondents with a complaint (no complaint with several categories)."""
    breakdown = tables.get("breakdown")
    if breakdown is not None and len(breakdown):
        if "dimension" in breakdown:
            breakdown = breakdown[breakdown["dimension"] == breakdown["dimension"].iloc[0]]
        return breakdown
    scores, summary = tables["category_scores"], summary_values(tables)
    try:
        complainants = int(float(summary["joined_rows"])) - int(float(summary["joined_baseline"]))
    except (KeyError, ValueError):
        return None
    counted = pd.to_numeric(scores.loc[~scores["is_baseline"], "n_surveyed"], errors="coerce").sum()
    return scores if counted == complainants else None


def _weighted(table: pd.DataFrame, mean: str, n: str) -> float:
    values = pd.to_numeric(table[mean], errors="coerce")
    weights = pd.to_numeric(table[n], errors="coerce").where(values.notna(), 0).fillna(0)
    return float((values.fillna(0) * weights).sum() / weights.sum()) if weights.sum() else np.nan


def change_periods(tables: dict[str, pd.DataFrame]) -> tuple[str, str]:
    """The names of the two periods compared (the summary's ``change_periods``, ``A → B``)."""
    named = summary_values(tables).get("change_periods", "")
    if " → " in named:
        period_a, period_b = named.split(" → ", 1)
        return period_a.strip(), period_b.strip()
    return "对比期", "本期"


def focus_categories(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The quadrant's rows in the 重点改进区 (empty when there is no quadrant)."""
    quadrant = tables.get("quadrant")
    if quadrant is None or "quadrant" not in quadrant:
        return pd.DataFrame(columns=["driver", "driver_name"])
    return quadrant[quadrant["quadrant"] == FOCUS_QUADRANT].reset_index(drop=True)


def example_texts(examples: pd.DataFrame | None, category: str, n: int = EXAMPLES_PER_CATEGORY) -> list[str]:
    """Up to ``n`` distinct complaints of ``category`` (its primary category or one of its
    ``categories``), masked, each cut to :data:`EXAMPLE_CHARS` characters."""
    if examples is None or examples.empty or "category" not in examples:
        return []
    column = text_column(examples)
    if column is None:
        return []
    carries = examples["category"].astype(str) == str(category)
    if "categories" in examples:
        carries |= examples["categories"].fillna("").astype(str).str.split("|").map(lambda codes: category in codes)
    found = []
    for text in examples.loc[carries, column].dropna().astype(str):
        text = mask_pii(" ".join(text.split()))
        if text and text not in found:
            found.append(text)
        if len(found) == n:
            break
    return [text if len(text) <= EXAMPLE_CHARS else text[:EXAMPLE_CHARS] + "…" for text in found]


def text_column(table: pd.DataFrame) -> str | None:
    by_lower = {str(column).lower(): column for column in table.columns}
    return next((by_lower[name] for name in KNOWN_TEXT_COLUMNS if name in by_lower), None)


# ----------------------------------------------------------------------------- formatting
def _number(value, digits: int = 2, signed: bool = False) -> str:
    if value is None or pd.isna(value):
        return "—"
    if np.isinf(value):
        return "新出现"
    value = float(value) if round(float(value), digits) else 0.0  # no "-0.00"
    return f"{value:+.{digits}f}" if signed else f"{value:,.{digits}f}"


def _share(value, signed: bool = False) -> str:
    if value is None or pd.isna(value):
        return "—"
    if np.isinf(value):
        return "新出现"
    return f"{value:+.0%}" if signed else f"{value:.1%}"


def _count(value) -> str:
    return "—" if value is None or pd.isna(value) else f"{int(value):,}"


def _interval(low, high, digits: int = 2) -> str:
    if pd.isna(low) or pd.isna(high):
        return ""
    return f" [{low:+.{digits}f}, {high:+.{digits}f}]"


# ----------------------------------------------------------------------------- the deck
def brief_deck(source: BriefSource):
    """The deck as a :class:`pptx.presentation.Presentation` (16:9)."""
    return _Deck(source).build()


def brief_bytes(source: BriefSource) -> bytes:
    """The deck as the bytes of a ``.pptx`` file (for a download)."""
    buffer = io.BytesIO()
    brief_deck(source).save(buffer)
    return buffer.getvalue()


def write_brief(source: BriefSource, path: str | Path) -> list[str]:
    """Write the deck to ``path`` (``.pptx``); returns the slide titles."""
    path = Path(path)
    if path.suffix.lower() != ".pptx":
        raise BriefError(f"{path}: the brief is a PowerPoint file; give a name ending in .pptx")
    deck = brief_deck(source)
    path.parent.mkdir(parents=True, exist_ok=True)
    deck.save(path)
    return slide_titles(deck)


def slide_titles(deck) -> list[str]:
    return [slide.shapes.title.text_frame.text if slide.shapes.title is not None else "" for slide in deck.slides]


class _Deck:
    """One deck: every text passes :func:`_masked` on its way to a slide."""

    def __init__(self, source: BriefSource):
        from pptx import Presentation
        from pptx.util import Inches

        self.source, self.tables = source, source.tables
        self.deck = Presentation()
        self.deck.slide_width, self.deck.slide_height = Inches(13.333), Inches(7.5)
        self.inches = Inches

    # ------------------------------------------------------------------ primitives
    def _slide(self, title: str):
        slide = self.deck.slides.add_slide(self.deck.slide_layouts[5])  # title only
        shape = slide.shapes.title
        shape.left, shape.top = self.inches(0.5), self.inches(0.3)
        shape.width, shape.height = self.inches(12.3), self.inches(0.9)
        self._write(shape.text_frame, [title], size=28, bold=True)
        return slide

    def _write(self, frame, lines: list[str], size: int = 16, bold: bool = False) -> None:
        from pptx.util import Pt

        frame.word_wrap = True
        for i, line in enumerate(lines):
            paragraph = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
            if i == 0:
                for run in list(paragraph.runs):
                    run._r.getparent().remove(run._r)
            run = paragraph.add_run()
            run.text = _masked(line)
            run.font.size, run.font.bold = Pt(size), bold
            _east_asian_font(run)

    def _text(self, slide, lines: list[str], left: float, top: float, width: float, height: float,
              size: int = 16, bold: bool = False):
        box = slide.shapes.add_textbox(self.inches(left), self.inches(top), self.inches(width), self.inches(height))
        self._write(box.text_frame, lines, size=size, bold=bold)
        return box

    def _table(self, slide, header: list[str], rows: list[list[str]], left: float, top: float, width: float,
               size: int = 12, widths: list[float] | None = None):
        from pptx.util import Pt

        height = 0.4 * (len(rows) + 1)
        shape = slide.shapes.add_table(len(rows) + 1, len(header), self.inches(left), self.inches(top),
                                       self.inches(width), self.inches(height))
        table = shape.table
        if widths:
            for column, share in zip(table.columns, widths):
                column.width = self.inches(width * share / sum(widths))
        for r, values in enumerate([header, *rows]):
            for c, value in enumerate(values):
                cell = table.cell(r, c)
                cell.text_frame.text = ""
                self._write(cell.text_frame, [str(value)], size=size, bold=r == 0)
                cell.margin_top = cell.margin_bottom = Pt(2)
        return shape

    def _picture(self, slide, stem: str, left: float, top: float, width: float, height: float) -> bool:
        """The chart ``stem`` fitted into the box, centred; False when the report has none."""
        from PIL import Image

        found = self.source.pictures.get(stem)
        if found is None:
            return False
        data = found if isinstance(found, bytes) else Path(found).read_bytes()
        with Image.open(io.BytesIO(data)) as image:
            w, h = image.size
        scale = min(width / w, height / h)
        shown_w, shown_h = w * scale, h * scale
        slide.shapes.add_picture(io.BytesIO(data), self.inches(left + (width - shown_w) / 2),
                                 self.inches(top + (height - shown_h) / 2), self.inches(shown_w), self.inches(shown_h))
        return True

    # ------------------------------------------------------------------ slides
    def build(self):
        self._title_slide()
        self._overall_slide()
        self._change_slides()
        self._pareto_slide()
        self._quadrant_slide()
        for score in ("CSAT", "NPS"):
            self._driver_slide(score)
        self._alerts_slide()
        self._kpi_slide()
        self._example_slides()
        return self.deck

    def _title_slide(self) -> None:
        slide = self.deck.slides.add_slide(self.deck.slide_layouts[0])
        slide.shapes.title.left, slide.shapes.title.width = self.inches(0.8), self.inches(11.7)
        self._write(slide.shapes.title.text_frame, [self.source.title], size=40, bold=True)
        subtitle = slide.placeholders[1]
        subtitle.left, subtitle.width = self.inches(0.8), self.inches(11.7)
        summary = summary_values(self.tables)
        lines = [f"统计周期：{report_period(self.source)}"]
        counts = []
        if summary.get("complaint_rows"):
            counts.append(f"投诉 {_count(float(summary['complaint_rows']))} 件")
        if summary.get("survey_rows"):
            counts.append(f"问卷 {_count(float(summary['survey_rows']))} 份")
        if counts:
            lines.append("，".join(counts))
        lines.append(f"生成日期：{date.today():%Y-%m-%d}")
        self._write(subtitle.text_frame, lines, size=20)

    def _overall_slide(self) -> None:
        slide = self._slide("整体满意度（CSAT / NPS）")
        period_a, period_b = change_periods(self.tables)
        rows = []
        for row in overall_scores(self.tables).itertuples():
            digits = 2 if row.score == "CSAT" else 1
            rows.append([row.score, _number(row.all, digits), _number(row.complainants, digits),
                         _number(row.baseline, digits), _number(row.period_a, digits), _number(row.period_b, digits),
                         _number(row.change, digits, signed=True)])
        self._table(slide, ["指标", "全部受访客户", "投诉客户", "无投诉客户（基线）", f"{period_a}", f"{period_b}", "变化"],
                    rows, 0.6, 1.5, 12.1, size=16)
        notes = ["CSAT 为 1–5 分平均值；NPS 为推荐者占比减贬损者占比（分）。"]
        if "change_attribution" in self.tables:
            notes.append(f"变化：{period_b} 相对 {period_a}（见下页变化归因）。")
        else:
            notes.append("本报告没有变化归因（较早版本的 tousu link 生成），无法给出两期变化。")
        self._text(slide, notes, 0.6, 3.4, 12.1, 1.2, size=14)

    def _change_slides(self) -> None:
        change = self.tables.get("change_attribution")
        pictures = waterfalls(self.source.pictures)
        if change is None and not pictures:
            slide = self._slide("变化归因")
            self._text(slide, ["本报告没有变化归因（较早版本的 tousu link 生成）。",
                               "用新版 tousu link 重新生成报告，即可看到各类别对满意度变化的贡献（瀑布图）。"],
                       0.6, 1.6, 12.1, 1.5, size=18)
            return
        for key in pictures:
            score = next((s for s in ("CSAT", "NPS") if s.lower() in key.lower()), None)
            slide = self._slide("变化归因（瀑布图）" + (f"：{score}" if score else ""))
            self._picture(slide, key, 0.6, 1.3, 12.1, 5.9)
        if change is not None:
            slide = self._slide("变化归因明细（各细分群体对变化的贡献）")
            ranked = change.assign(size=change["total_effect"].abs()).sort_values(
                ["score", "size"], ascending=[True, False], kind="stable")
            shown = ranked.groupby("score", sort=False).head(TABLE_ROWS // 2)
            rows = [[row.score, str(row.segment), _count(getattr(row, "n_a", np.nan)),
                     _count(getattr(row, "n_b", np.nan)), _share(row.share_a), _share(row.share_b),
                     _number(row.mean_a), _number(row.mean_b), _number(getattr(row, "mix_effect", np.nan), 3, True),
                     _number(getattr(row, "rate_effect", np.nan), 3, True), _number(row.total_effect, 3, True)]
                    for row in shown.itertuples()]
            a, b = change_periods(self.tables)
            self._table(slide, ["指标", "细分群体", f"{a}样本", f"{b}样本", f"{a}占比", f"{b}占比", f"{a}均值",
                                f"{b}均值", "结构效应", "表现效应", "合计影响"], rows, 0.4, 1.3, 12.5, size=11,
                        widths=[0.8, 1.8, 1, 1, 1, 1, 1, 1, 1.1, 1.1, 1.1])
            if len(change) > len(shown):
                rest = len(change) - len(shown)
                self._text(slide, [f"每个指标列出影响最大的 {TABLE_ROWS // 2} 个群体；另有 {rest} 行见 change_attribution.csv。"],
                           0.4, 6.8, 12.5, 0.5, size=11)

    def _pareto_slide(self) -> None:
        slide = self._slide("投诉排列图（A/B/C 分类）")
        pareto = self.tables["pareto"]
        pictured = self._picture(slide, "pareto", 0.3, 1.3, 8.2, 5.9)
        rows = []
        for cls in ("A", "B", "C"):
            part = pareto[pareto["pareto_class"] == cls]
            if len(part):
                rows.append([f"{cls}类", _count(len(part)), _count(part["count"].sum()), _share(part["share"].sum())])
        left, width = (8.7, 4.3) if pictured else (0.6, 12.1)
        self._table(slide, ["分类", "类别数", "投诉量", "占比"], rows, left, 1.5, width, size=14)
        a_class = pareto.loc[pareto["pareto_class"] == "A", "group_name"].astype(str)
        self._text(slide, ["A类（约 80% 的投诉）：" + ("、".join(a_class) if len(a_class) else "（无）")],
                   left, 1.7 + 0.4 * (len(rows) + 1), width, 2.0, size=14)

    def _quadrant_slide(self) -> None:
        slide = self._slide("重要性 × 满意度矩阵（重点改进区）")
        quadrant = self.tables.get("quadrant")
        if quadrant is None or "quadrant" not in quadrant or quadrant["quadrant"].isna().all():
            self._text(slide, ["本报告没有重要性 × 满意度矩阵（问卷没有 CSAT，或有效问卷太少）。"], 0.6, 1.6, 12.1, 1.0)
            return
        pictured = self._picture(slide, "quadrant", 0.3, 1.3, 8.2, 5.9)
        lines = []
        for zone in ZONES:
            names = quadrant.loc[quadrant["quadrant"] == zone, "driver_name"].astype(str)
            lines.append(f"{zone}：" + ("、".join(names) if len(names) else "（无）"))
        lines.append("重点改进区：对满意度影响大、且满意度低于分界的类别，优先改进。")
        left, width = (8.7, 4.3) if pictured else (0.6, 12.1)
        self._text(slide, lines, left, 1.5, width, 5.5, size=15)

    def _driver_slide(self, score: str) -> None:
        drivers = self.tables.get(f"drivers_{score.lower()}")
        if drivers is None:
            if score == "CSAT":
                self._text(self._slide("CSAT 驱动因素与提升潜力"),
                           ["本报告没有 CSAT 驱动分析（有效问卷太少，或问卷没有 CSAT）。"], 0.6, 1.6, 12.1, 1.0)
            return
        slide = self._slide(f"{score} 驱动因素与提升潜力")
        digits = 2 if score == "CSAT" else 1
        rows = []
        for row in drivers.head(TABLE_ROWS - 2).itertuples():
            get = row._asdict().get
            rows.append([str(row.driver_name), _share(get("importance_share")),
                         _number(get("coef"), digits, True) + _interval(get("coef_low"), get("coef_high"), digits),
                         _number(get("impact"), digits + 1, True) + _interval(get("impact_low"), get("impact_high"),
                                                                            digits + 1),
                         _count(get("n_with"))])
        self._table(slide, ["类别", "重要性占比", "影响(分) [95%区间]", "整体提升潜力(分) [95%区间]", "样本量"], rows,
                    0.6, 1.3, 12.1, size=13, widths=[2.2, 1.4, 3, 3.4, 1.2])
        self._text(slide, [(f"影响：该类投诉客户的 {score} 比无投诉客户低多少分；整体提升潜力：若该类投诉客户与无投诉客户"
                            f"一样满意，整体 {score} 可提高的分数（占比 × −影响）。")],
                   0.6, 1.5 + 0.4 * (len(rows) + 1), 12.1, 1.0, size=12)

    def _alerts_slide(self) -> None:
        slide = self._slide("增长预警")
        alerts = self.tables.get("alerts")
        if alerts is None:
            self._text(slide, ["本报告没有增长预警（投诉表没有受理时间）。"], 0.6, 1.6, 12.1, 1.0)
            return
        if "alert" in alerts:
            alerts = alerts[alerts["alert"].astype(str).str.lower().isin(["true", "1"])]
        if alerts.empty:
            self._text(slide, ["近期没有快速上升的类别或主题。"], 0.6, 1.6, 12.1, 1.0, size=18)
            return
        rows = [[ALERT_DIMENSIONS.get(str(row.dimension), str(row.dimension)), str(row.group_name),
                 _count(row.previous), _count(row.recent), _share(row.growth, signed=True),
                 str(row._asdict().get("recent_start", ""))[:10]]
                for row in alerts.head(TABLE_ROWS).itertuples()]
        self._table(slide, ["维度", "名称", "前期投诉量", "近期投诉量", "增长", "近期起"], rows, 0.6, 1.3, 12.1, size=14)
        if len(alerts) > TABLE_ROWS:
            self._text(slide, [f"另有 {len(alerts) - TABLE_ROWS} 条预警见 alerts.csv。"], 0.6, 6.8, 12.1, 0.5, size=12)

    def _kpi_slide(self) -> None:
        slide = self._slide("处理时效 KPI（24 小时响应 / 48 小时办结）")
        kpis = self.tables["kpis"]
        total = kpis[kpis["group"].astype(str) == TOTAL_LABEL]
        others = kpis[kpis["group"].astype(str) != TOTAL_LABEL].sort_values("n", ascending=False, kind="stable")
        shown = pd.concat([total, others.head(TABLE_ROWS - 1 - len(total))])
        rows = []
        for row in shown.itertuples():
            get = row._asdict().get
            name = "全部" if str(row.group) == TOTAL_LABEL else str(row.group_name)
            rows.append([name, _count(row.n), _share(get("responded_24h_share")), _share(get("resolved_48h_share")),
                         _share(get("repeat_rate")), _share(get("escalation_rate"))])
        self._table(slide, ["类别", "工单数", "24小时响应率", "48小时办结率", "重复投诉率", "越级投诉率"], rows,
                    0.6, 1.3, 12.1, size=13)

    def _example_slides(self) -> None:
        focus = focus_categories(self.tables)
        if focus.empty:
            self._text(self._slide("重点改进区典型投诉"), ["没有类别落在重点改进区。"], 0.6, 1.6, 12.1, 1.0, size=18)
            return
        scores = self.tables["category_scores"].set_index(self.tables["category_scores"]["group"].astype(str))
        for row in focus.itertuples():
            code = str(row.driver)
            slide = self._slide(f"重点改进区：{row.driver_name}（典型投诉）")
            get = row._asdict().get
            facts = [f"平均CSAT {_number(get('performance'))}",
                     f"影响 {_number(get('coef'), 2, True)} 分",
                     f"整体提升潜力 {_number(get('impact'), 3, True)} 分"]
            if code in scores.index and code != BASELINE_CODE:
                facts.insert(0, f"投诉 {_count(scores.at[code, 'n_complaints'])} 件")
            self._text(slide, ["，".join(facts)], 0.6, 1.2, 12.1, 0.6, size=15, bold=True)
            texts = example_texts(self.source.examples, code)
            lines = [f"{i}. {text}" for i, text in enumerate(texts, 1)] or [self.source.examples_missing]
            box = self._text(slide, lines, 0.6, 1.9, 12.1, 4.6, size=14)
            for paragraph in box.text_frame.paragraphs[1:]:
                paragraph.space_before = self.inches(0.12)
            if texts and self.source.examples_from:
                self._text(slide, [f"示例来自：{self.source.examples_from}；已脱敏。"], 0.6, 6.8, 12.1, 0.4, size=11)


def _masked(text) -> str:
    return mask_pii(str(text))


def _east_asian_font(run) -> None:
    """Set the run's Latin and East Asian typeface (python-pptx sets only the Latin one)."""
    from pptx.oxml.ns import qn

    run.font.name = FONT
    properties = run._r.get_or_add_rPr()
    for tag in ("a:ea", "a:cs"):
        element = properties.find(qn(tag))
        if element is None:
            element = properties.makeelement(qn(tag), {})
            properties.append(element)
        element.set("typeface", FONT)
