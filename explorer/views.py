"""What the explorer pages show, as tables and charts; no Streamlit here.

Functions that take a :class:`~tousu.store.ResultsStore` first are the pages' data:
they query aggregates or narrow columns from the store and compute the statistics with
:mod:`tousu.analysis`, the same functions ``tousu link`` reports with. The pages call
them through :func:`tousu.explorer.resources.view`, which caches their results. Functions that
take the survey responses (``ResultsStore.joined_scores`` with :data:`SCORE_COLUMNS`) and the
category names first are called through :func:`tousu.explorer.resources.scores_view`, which queries
those once for all of them.
"""
from __future__ import annotations

import html
import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from tousu.analysis.change import change_tables, choose_periods, periods_with_answers, respondent_frame
from tousu.analysis.conventions import LinkError
from tousu.analysis.drivers import category_indicators, driver_table, score_quadrant
from tousu.analysis.kpis import kpis
from tousu.analysis.report import HEADERS
from tousu.analysis.scores import GROUP_SCORE_COLUMNS, complainant_scores, group_scores
from tousu.analysis.volumes import growth_alerts as rising_groups
from tousu.analysis.volumes import pareto, period_grid, without_incomplete_last_period
from tousu.nlp.personal_data import mask_free_text
from tousu.nlp.safe_cells import XLSXWRITER_OPTIONS, csv_safe
from tousu.store import Filters, ResultsStore

FREQUENCIES = {"日": "D", "周": "W", "月": "M"}
MODES = {"supervised": "有监督", "zero-shot": "零样本"}
EXPORT_LIMIT = 200_000
# Writing an Excel file costs ~4 s per 10,000 rows; past this many an analyst is pointed to the CSV.
XLSX_LIMIT = 20_000
# Few resamples keep a filter change under 2 s on 100,000 responses; the intervals are rougher
# than the report's (tousu link: 200), and the page says so.
DRIVER_BOOTSTRAP = 30
SCORE_BOOTSTRAP = 500
SCORE_COLUMNS = ("category", "categories")
KPI_COLUMNS = ("category", "created_at", "responded_at", "resolved_at", "repeat", "channel", "text")
COLUMN_LABELS = {
    "id": "工单号", "customer_id": "客户号", "text": "内容", "created_at": "受理时间", "responded_at": "首次响应时间",
    "resolved_at": "办结时间", "province": "省份", "channel": "渠道", "segment": "客户类型", "repeat": "重复投诉",
    "category": "类别代码", "category_name": "类别", "confidence": "置信度", "categories": "多标签类别",
    "subcategory": "子类代码", "subcategory_name": "子类",
    "topic_id": "主题编号", "topic_label": "主题", "model_version": "模型版本", "source_file": "来源文件",
    "loaded_at": "入库时间", "similarity": "相似度", "top_words": "关键词", "size": "训练时规模",
    "filtered_count": "当前筛选投诉量", "x": "x", "y": "y", "merged_into": "并入主题",
    "new_label": "新名称", "edited_at": "修改时间", "label": "标签", "old_category": "原类别",
    "corrected_at": "更正时间", "name": "名称", "version": "版本", "created": "创建时间", "mode": "模式",
    "taxonomy": "分类体系", "embedder": "向量模型", "parent": "来源版本", "recorded_at": "登记时间",
    "complaints": "工单数", "accuracy": "留出准确率", "macro_f1": "留出宏F1", "topic_count": "主题数",
    "metrics_note": "指标说明", "growth_pct": "增长", "given_label": "原标签", "given_label_name": "原标签名称",
    "suggested_label": "建议标签", "suggested_label_name": "建议标签名称", "score": "原标签概率",
    "suggested_score": "建议标签概率", "rank": "序号", "suggested_category": "建议类别代码",
    "suggested_category_name": "建议类别", "uncertainty": "不确定度",
}
LABELS = HEADERS | COLUMN_LABELS
LIST_COLUMNS = ("id", "created_at", "category_name", "subcategory_name", "topic_label", "province", "channel",
                "segment", "confidence", "text")
EXPORT_COLUMNS = ("id", "customer_id", "created_at", "responded_at", "resolved_at", "province", "channel",
                  "segment", "repeat", "category", "category_name", "confidence", "categories", "subcategory",
                  "subcategory_name", "topic_id", "topic_label", "text", "model_version", "source_file")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


def labelled(table: pd.DataFrame) -> pd.DataFrame:
    """The table for display: Chinese column headers, floats to 4 decimals (p-values of 1e-40
    otherwise overflow their column)."""
    floats = table.select_dtypes(include="float").columns
    return table.round({column: 4 for column in floats}).rename(columns=LABELS)


# ----------------------------------------------------------------------------- volumes and trends
def category_pareto(store: ResultsStore, filters: Filters) -> pd.DataFrame:
    """Categories by volume with share, cumulative share and A/B/C class (``group_name`` = name)."""
    counts = store.counts_by("category", filters)
    if counts.empty:
        return pd.DataFrame(columns=["group", "group_name", "count", "share", "cum_share", "pareto_class"])
    table = pareto(pd.Series(counts["count"].to_numpy(), index=counts["group"]))
    names = dict(zip(counts["group"], counts["group_name"].fillna(counts["group"])))
    table.insert(1, "group_name", table["group"].map(names))
    return table


def trend_table(store: ResultsStore, column: str, freq: str, filters: Filters) -> pd.DataFrame:
    """Complaints per period and group of ``column``: ``period``, ``group``, ``group_name``, ``count``."""
    table = period_grid(store.period_counts(column, freq, filters), freq)
    names = store.category_names() if column == "category" else {}
    table.insert(2, "group_name", table["group"].map(lambda group: names.get(group, group)))
    return table


def growth_alerts(store: ResultsStore, freq: str, filters: Filters, threshold: float = 0.5) -> pd.DataFrame:
    """Categories and topics whose recent periods exceed the periods before by more than ``threshold``."""
    latest = store.date_bounds()[1]
    found = []
    for dimension, column in (("类别", "category"), ("主题", "topic_label")):
        trend = without_incomplete_last_period(trend_table(store, column, freq, filters), latest, freq)
        if trend.empty:
            continue
        alerts = rising_groups(trend[["period", "group", "count"]], threshold=threshold)
        names = dict(zip(trend["group"], trend["group_name"]))
        alerts.insert(0, "dimension", dimension)
        alerts.insert(2, "group_name", alerts["group"].map(names))
        found.append(alerts)
    columns = ["dimension", "group", "group_name", "previous", "recent", "growth", "alert", "recent_start",
               "previous_start"]
    return pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=columns)


def top_groups(trend: pd.DataFrame, n: int = 8, also=()) -> pd.DataFrame:
    """The trend rows of the ``n`` largest groups and of the groups in ``also`` (rising ones):
    a chart with 30 lines shows nothing."""
    largest = trend.groupby("group")["count"].sum().nlargest(n).index
    return trend[trend["group"].isin(set(largest) | set(also))]


# ----------------------------------------------------------------------------- satisfaction and KPIs
def kpi_table(store: ResultsStore, filters: Filters) -> pd.DataFrame:
    """Handling KPIs per category and overall (last row): :func:`tousu.analysis.kpis.kpis` over the
    filtered complaints. A time the store could not parse is empty there (its raw text is
    kept in ``extra``), so it counts as not responded or still open."""
    rows = store.complaints(filters, limit=None, columns=KPI_COLUMNS)
    table = kpis(rows, created="created_at", responded="responded_at", resolved="resolved_at", repeat="repeat",
                 channel="channel", text="text", by="category")
    names = store.category_names()
    table.insert(1, "group_name", table["group"].map(lambda group: names.get(group, group)))
    return table


def complainant_summary(joined: pd.DataFrame, names: dict[str, str]) -> dict:
    """The overview's score tiles: :func:`tousu.analysis.scores.complainant_scores`."""
    return complainant_scores(joined)


def incomplete_import_warnings(imports: pd.DataFrame) -> list[str]:
    """One warning per import that did not finish (``ResultsStore.incomplete_imports``): its
    complaints are only part of its file."""
    return [f"导入未完成：{row.source_file}（开始于 {row.started_at:%Y-%m-%d %H:%M}）目前只有 {row.complaints:,} 条工单入库，"
            "文件的其余部分缺失——任务可能仍在运行，或已中断；中断的任务请重新运行 `tousu classify … --store`。"
            for row in imports.itertuples(index=False)]


def overview_tiles(total: int, scores: dict, kpis: pd.DataFrame) -> list[tuple[str, str]]:
    """(label, value) of the overview's KPI tiles; ``scores`` from :func:`complainant_summary`."""
    overall = kpis.iloc[-1] if len(kpis) else pd.Series(dtype=float)

    def share(column):
        value = overall.get(column, np.nan)
        return "—" if pd.isna(value) else f"{value:.1%}"

    def number(value, digits):
        return "—" if value is None or pd.isna(value) else f"{value:.{digits}f}"

    return [
        ("投诉量", f"{total:,}"),
        ("投诉客户平均CSAT", number(scores["csat"], 2)),
        ("投诉客户NPS", number(scores["nps"], 0)),
        ("24小时响应率", share("responded_24h_share")),
        ("48小时办结率", share("resolved_48h_share")),
        ("重复投诉率", share("repeat_rate")),
    ]


def category_scores(joined: pd.DataFrame, names: dict[str, str], primary_only: bool = False) -> pd.DataFrame:
    """CSAT/NPS per category (named from ``names``) and for the baseline, with bootstrap intervals;
    a response counts in every category of its complaint(s) unless ``primary_only``, as in
    ``tousu link`` (:func:`tousu.analysis.scores.group_scores`)."""
    if joined.empty:
        return pd.DataFrame(columns=GROUP_SCORE_COLUMNS)
    table = group_scores(joined, by="category", n_boot=SCORE_BOOTSTRAP, seed=0, primary_only=primary_only)
    named = table["group"].map(names)
    table["group_name"] = table["group_name"].where(table["is_baseline"] | named.isna(), named)
    return table


# The driver view's sort orders: column, ascending.
DRIVER_SORTS = {"重要性": ("importance", False), "整体提升潜力": ("impact", False), "影响(分)": ("coef", True)}


def driver_tables(joined: pd.DataFrame, names: dict[str, str], score: str, primary_only: bool = False):
    """(drivers table with names, importance × satisfaction quadrant, R²), or None when there
    are too few responses with a complaint: :func:`tousu.analysis.drivers.driver_table` as
    ``tousu link`` computes it, every category of a response's complaint(s) an indicator
    unless ``primary_only``. The quadrant's satisfaction is the category's mean CSAT, or its
    NPS (points) for ``score="NPS"``."""
    if joined.empty:
        return None
    indicators = category_indicators(joined, primary_only)
    found = driver_table(joined, score, names, n_boot=DRIVER_BOOTSTRAP, seed=0, indicators=indicators)
    if found is None:
        return None
    drivers, model = found
    return drivers, score_quadrant(drivers, joined, score, indicators=indicators), float(model.r2_)


def sorted_drivers(drivers: pd.DataFrame, by: str) -> pd.DataFrame:
    """The driver table in the order of :data:`DRIVER_SORTS` ``[by]`` (empty values last)."""
    column, ascending = DRIVER_SORTS[by]
    return drivers.sort_values([column, "driver"], ascending=[ascending, True], kind="stable",
                               na_position="last", ignore_index=True)


def alerts_table(alerts: pd.DataFrame) -> pd.DataFrame:
    """Growth alerts for display: growth as a percentage (``新出现`` when there were none before)."""
    table = alerts.drop(columns="alert")
    growth = table.pop("growth")
    table.insert(list(table.columns).index("recent") + 1, "growth_pct",
                 growth.map(lambda g: "新出现" if np.isinf(g) else f"{g:+.0%}"))
    return table


# ----------------------------------------------------------------------------- what changed
# The change attribution's periods, and the columns of the survey answers it reads
# (ResultsStore.joined_scores): the survey's date, else the complaint's, as in ``tousu link``.
CHANGE_FREQUENCIES = {"周": "W", "月": "M", "季": "Q"}
CHANGE_COLUMNS = ("category", "category_name", "province", "channel", "surveyed_at", "created_at")
CHANGE_REGIONS = {"省份": "province", "渠道": "channel"}


def _change_frame(joined: pd.DataFrame, names: dict[str, str], freq: str) -> pd.DataFrame:
    return respondent_frame(joined, joined["has_complaint"], freq, survey_date="surveyed_at",
                            complaint_date="created_at", names=names, regions=CHANGE_REGIONS)


def change_periods(joined: pd.DataFrame, names: dict[str, str], freq: str) -> tuple[list[str], tuple | None]:
    """(the periods with dated survey answers, oldest first; the pair compared by default: the
    last two complete periods, as ``tousu link`` without ``--compare``, else the last two; None
    with fewer than two periods)."""
    if joined.empty:
        return [], None
    frame = _change_frame(joined, names, freq)
    periods = periods_with_answers(frame)
    if len(periods) < 2:
        return periods, None
    try:
        period_a, period_b, _ = choose_periods(frame, freq)
    except LinkError:
        period_a, period_b = periods[-2:]
    return periods, (period_a, period_b)


def change_attribution(joined: pd.DataFrame, names: dict[str, str], freq: str, period_a: str, period_b: str):
    """(change attribution by segment, by province and channel, notes, {score: (mean A, mean B,
    n A, n B)}) between two periods: :func:`tousu.analysis.change.change_tables`, as ``tousu link
    --compare`` computes it; or the message saying why there is none."""
    try:
        table, by_region, notes = change_tables(
            joined, joined["has_complaint"], freq=freq, compare=(period_a, period_b), survey_date="surveyed_at",
            complaint_date="created_at", names=names, regions=CHANGE_REGIONS)
    except LinkError as error:
        return str(error).replace("--compare ", "")
    return table, by_region, notes, dict(table.attrs["overall"])


def change_labelled(table: pd.DataFrame) -> pd.DataFrame:
    """A change attribution table for display, with the report's Chinese headers."""
    floats = table.select_dtypes(include="float").columns
    return table.round({column: 4 for column in floats}).rename(columns=HEADERS)


# ----------------------------------------------------------------------------- topics
def topic_table(store: ResultsStore, model_version: str, filters: Filters) -> pd.DataFrame:
    """The version's topics (merged ones left out) with their complaint count in the filter."""
    topics = store.topics(model_version)
    topics = topics[topics["merged_into"].isna()].copy()
    counts = store.cross_counts("topic_id", "model_version", filters)
    counts = counts[counts["model_version"] == model_version]
    by_topic = dict(zip(counts["topic_id"].astype(str), counts["count"]))
    topics["filtered_count"] = topics["topic_id"].astype(str).map(by_topic).fillna(0).astype(int)
    return topics.sort_values(["filtered_count", "size"], ascending=False, ignore_index=True)


def topic_category_table(store: ResultsStore, filters: Filters) -> pd.DataFrame:
    """Complaints by topic (rows) and category (columns) in the filter."""
    counts = store.cross_counts("topic_label", "category_name", filters)
    if counts.empty:
        return pd.DataFrame()
    table = counts.pivot_table(index="topic_label", columns="category_name", values="count", fill_value=0,
                               aggfunc="sum")
    table = table.loc[table.sum(axis=1).sort_values(ascending=False).index]
    return table.rename_axis(index="主题", columns="类别")


# ----------------------------------------------------------------------------- verbatims
def complaint_table(rows: pd.DataFrame, columns=LIST_COLUMNS) -> pd.DataFrame:
    """Complaint rows for display or export: chosen columns, Chinese headers. The store holds
    masked texts and hashed customer ids only."""
    return labelled(rows[[c for c in columns if c in rows.columns]])


def category_keywords(model_dir: str | Path) -> dict[str, tuple[str, ...]]:
    """{category code: its taxonomy keywords and its subcategories'} from the model's
    taxonomy; empty when the model directory is gone."""
    from tousu.models.taxonomy import TaxonomyError, load_taxonomy

    path = Path(model_dir) / "taxonomy.yaml"
    try:
        taxonomy = load_taxonomy(path) if path.is_file() else None
    except TaxonomyError:
        taxonomy = None
    if taxonomy is None:
        return {}
    return {category.code: tuple(dict.fromkeys([*category.keywords,
                                                *(k for child in category.children for k in child.keywords)]))
            for category in taxonomy.all_categories}


def _markdown_escaped(text: str) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(text))


def highlight(text: str, keywords=()) -> str:
    """``text`` safe for ``st.markdown(..., unsafe_allow_html=True)``, each of ``keywords`` (a
    word or several) in ``<mark>``; where two overlap, the longer wins."""
    text = text or ""
    words = [keywords] if isinstance(keywords, str) else list(keywords)
    words = sorted({word for word in words if word}, key=len, reverse=True)
    if not words:
        return _markdown_escaped(text)
    pattern = re.compile("|".join(map(re.escape, words)))
    parts, end = [], 0
    for match in pattern.finditer(text):
        parts += [_markdown_escaped(text[end:match.start()]), f"<mark>{_markdown_escaped(match.group())}</mark>"]
        end = match.end()
    return "".join(parts) + _markdown_escaped(text[end:])


def export_table(store: ResultsStore, filters: Filters, limit: int = EXPORT_LIMIT) -> pd.DataFrame:
    """The current selection as exported (at most ``limit`` rows, newest first)."""
    return complaint_table(store.complaints(filters, limit=limit, columns=EXPORT_COLUMNS), columns=EXPORT_COLUMNS)


def csv_bytes(table: pd.DataFrame) -> bytes:
    """CSV as UTF-8 with BOM, so Excel shows Chinese correctly; free text PII-masked (again:
    a store filled before the masker caught a form still holds it) and no cell a formula."""
    return csv_safe(mask_free_text(table)).to_csv(index=False).encode("utf-8-sig")


def xlsx_bytes(table: pd.DataFrame, sheet: str = "工单") -> bytes:
    """An Excel workbook of ``table``, written row by row in xlsxwriter's constant-memory mode
    (pandas' writer goes column by column, which that mode cannot take, and is 4× slower); free
    text PII-masked and every text a string cell, as in :func:`csv_bytes`."""
    import xlsxwriter

    table = mask_free_text(table)
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"constant_memory": True, "remove_timezone": True,
                                            "default_date_format": "yyyy-mm-dd hh:mm:ss", **XLSXWRITER_OPTIONS})
    worksheet = workbook.add_worksheet(sheet)
    worksheet.write_row(0, 0, [str(column) for column in table.columns], workbook.add_format({"bold": True}))
    values = table.astype(object).where(table.notna(), None)
    for row, record in enumerate(values.itertuples(index=False, name=None), start=1):
        worksheet.write_row(row, 0, record)
    workbook.close()
    return buffer.getvalue()


def most_similar(query: np.ndarray, ids: np.ndarray, vectors: np.ndarray, top: int = 10) -> pd.DataFrame:
    """``id`` and ``similarity`` (cosine) of the ``top`` vectors closest to ``query``, closest first."""
    if len(ids) == 0:
        return pd.DataFrame({"id": pd.Series(dtype=object), "similarity": pd.Series(dtype=float)})
    unit = vectors.astype(np.float32)
    unit /= np.clip(np.linalg.norm(unit, axis=1, keepdims=True), 1e-12, None)
    similarity = unit @ (query / max(float(np.linalg.norm(query)), 1e-12)).astype(np.float32)
    best = np.argsort(-similarity, kind="stable")[:top]
    return pd.DataFrame({"id": ids[best], "similarity": np.round(similarity[best].astype(float), 3)})


# ----------------------------------------------------------------------------- models
def version_table(versions: pd.DataFrame) -> pd.DataFrame:
    """Model versions with their headline metrics pulled out of the metrics JSON, and where the
    metrics come from (an edited version inherits its parent's, not evaluated again)."""
    table = versions.copy()
    metrics = table["metrics"].map(lambda text: json.loads(text) if isinstance(text, str) else {})
    holdout = metrics.map(lambda m: m.get("holdout", {}))
    table["accuracy"] = holdout.map(lambda h: h.get("accuracy"))
    table["macro_f1"] = holdout.map(lambda h: h.get("macro_f1"))
    table["metrics_note"] = [m.get("note") or ("留出集评估" if h.get("accuracy") is not None else "")
                             for m, h in zip(metrics, holdout)]
    table["mode"] = table["mode"].map(lambda mode: MODES.get(mode, mode))
    columns = ["name", "version", "mode", "accuracy", "macro_f1", "metrics_note", "complaints", "taxonomy",
               "embedder", "parent", "created", "model_version"]
    return table[columns]


def label_issue_table(model_dir: str | Path, names: dict[str, str]) -> pd.DataFrame | None:
    """The training labels the version's cross-validated model doubts (``label_issues.csv``,
    most doubtful first) with category names, or None when the version has no such file."""
    path = Path(model_dir) / "label_issues.csv"
    if not path.is_file():
        return None
    table = pd.read_csv(path, dtype={"id": str, "given_label": str, "suggested_label": str}, keep_default_na=False)
    for column in ("given_label", "suggested_label"):
        table.insert(table.columns.get_loc(column) + 1, f"{column}_name",
                     table[column].map(lambda code: names.get(code, code)))
    return table


def correction_categories(carried: dict[str, str], taxonomy=None) -> dict[str, str]:
    """{code: name} of the categories a complaint's category can be corrected to: the level-1
    categories of the model's ``taxonomy`` (its catch-all ``OTH`` among them, where it has one)
    and those the stored complaints already carry (``carried``: a supervised model's own labels,
    the catch-all 未分类), never a subcategory (level 2 is the ``subcategory`` column's)."""
    level2 = {c.code for c in taxonomy.all_categories if c.parent is not None} if taxonomy is not None else set()
    choices = {code: name for code, name in carried.items() if code not in level2}
    if taxonomy is not None:
        choices |= {c.code: c.name for c in taxonomy.categories}
    return choices


def corrections_sheet(issues: pd.DataFrame) -> pd.DataFrame:
    """The label issues as a corrections file for ``tousu train --corrections`` (``id``, ``text``,
    ``label``): ``label`` starts as the given label, so only the rows an analyst edits change;
    the suggestion stands beside it."""
    return pd.DataFrame({"id": issues["id"], "text": issues["text"], "label": issues["given_label"],
                         "suggested_label": issues["suggested_label"], "score": issues["score"]})


def labelling_suggestions(store: ResultsStore, model, model_version: str, n: int) -> pd.DataFrame:
    """The ``n`` complaints of ``model_version`` in the store to label next, as ``tousu suggest``
    picks and writes them (:func:`tousu.jobs.suggest.suggestion_table`): the complaints whose
    category was corrected count as labelled. ``model`` is the version's loaded
    :class:`~tousu.models.pipeline.ComplaintModel`; the stored sentence vectors are used, and the
    texts without one are embedded (``attrs["embedded"]`` says how many)."""
    from tousu.jobs.suggest import suggestion_table
    from tousu.store import vector_space

    pool, stored = store.labelling_pool(model_version, vector_space(model.manifest_))
    texts = pool["text"].fillna("").astype(str).tolist()
    has_vector = pool["has_vector"].to_numpy(dtype=bool)
    missing = np.flatnonzero(~has_vector)
    fresh = model.embed([texts[i] for i in missing]) if len(missing) else None
    width = stored.shape[1] if has_vector.any() else (fresh.shape[1] if fresh is not None else 0)
    vectors = np.zeros((len(pool), width), dtype=np.float32)
    if has_vector.any():
        unit = stored[has_vector].astype(np.float32)
        vectors[has_vector] = unit / np.clip(np.linalg.norm(unit, axis=1, keepdims=True), 1e-12, None)
    if fresh is not None:
        vectors[missing] = fresh
    table = suggestion_table(model, pool["id"], texts, vectors, n,
                             already_labelled=pool["corrected"].to_numpy(dtype=bool))
    table.attrs.update(embedded=len(missing), pool=int((~pool["corrected"]).sum()))
    return table


def version_name(model_version: str, versions: pd.DataFrame) -> str:
    row = versions[versions["model_version"] == model_version]
    if row.empty:
        return model_version
    name, version = row["name"].iloc[0], row["version"].iloc[0]
    return name if name == version else f"{name}/{version}"
