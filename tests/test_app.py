"""The explorer driven by Streamlit's AppTest: every page renders, filters change the numbers
and persist across pages, an edit saves a new model version that loads, uploaded PII shows masked.

``AppTest.from_file("app.py")`` runs the entry script, which draws the shared sidebar filters
and calls ``st.navigation``; ``switch_page("app_pages/<page>.py")`` + ``run()`` opens a page.
The tests share one small store (a trained model with topics, 120 classified complaints with
times, provinces and channels, and a survey table); the tests that write to it come last.
"""
import codecs
import io
import json
import shutil
import unicodedata
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from complaint_fixtures import labelled_complaints
from embedders import TEST_EMBEDDER
from streamlit.testing.v1 import AppTest

from tousu.analysis.scores import nps
from tousu.explorer import views
from tousu.explorer.editing import NothingToSave, save_model_version
from tousu.jobs.classify import classify_job
from tousu.jobs.train import train_job
from tousu.models.pipeline import ComplaintModel
from tousu.models.taxonomy import load_taxonomy
from tousu.store import Filters, ResultsStore

APP = Path(__file__).resolve().parent.parent / "app.py"
PAGES = {"overview": "总览", "drivers": "满意度驱动", "change": "变化归因", "topics": "主题", "verbatims": "工单", "model": "模型",
         "upload": "上传分类"}
PHONE = "13812345678"
WIDE_PHONE = "１３８１２３４５６７８"  # full-width digits, as some forms save them

pytestmark = pytest.mark.slow  # trains, classifies into a store and renders every page


def shows_phone(text: str) -> bool:
    """Whether the planted number shows, in half- or full-width digits."""
    return PHONE in unicodedata.normalize("NFKC", text)


@pytest.fixture(scope="module")
def store_path(tmp_path_factory, supervised_model):
    folder = tmp_path_factory.mktemp("explorer")
    table = labelled_complaints(per_category=20)
    rng = np.random.default_rng(0)
    n = len(table)
    created = pd.Timestamp("2026-01-05") + pd.to_timedelta(rng.integers(0, 70 * 24, n), unit="h")
    table["受理时间"] = created.strftime("%Y-%m-%d %H:%M:%S")
    table["首次响应时间"] = (created + pd.to_timedelta(rng.integers(1, 40, n), unit="h")).strftime("%Y-%m-%d %H:%M:%S")
    table["办结时间"] = (created + pd.to_timedelta(rng.integers(10, 90, n), unit="h")).strftime("%Y-%m-%d %H:%M:%S")
    table["省份"] = np.where(np.arange(n) % 3 == 0, "广东", "江苏")
    table["渠道"] = np.where(np.arange(n) % 2 == 0, "10086热线", "营业厅")
    table["客户类型"] = "个人"
    table["重复投诉"] = np.where(np.arange(n) % 5 == 0, "是", "否")
    table.to_csv(folder / "complaints.csv", index=False)
    model_dir = folder / "model" / "v1"  # a copy: saving edits writes a new version beside it
    shutil.copytree(supervised_model, model_dir)
    path = folder / "results.duckdb"
    classify_job(model_dir, folder / "complaints.csv", folder / "classified.csv", store=path, progress=False)
    # Billing and network complainants are less satisfied; 30 respondents without complaint.
    csat = np.where(table["类别"].isin(["BIL", "NET"]), 2, 4) + rng.integers(0, 2, n)
    surveys = pd.DataFrame({"问卷号": [f"S{i}" for i in range(n + 30)], "工单号": [*table["工单号"], *[""] * 30],
                            "CSAT": [*csat, *[5] * 30], "NPS": [*rng.integers(0, 11, n), *[9] * 30]})
    with ResultsStore(path) as store:
        store.upsert_surveys(surveys, key_column="工单号")
    return path


@pytest.fixture(scope="module", autouse=True)
def streamlit_caches_cleared_afterwards():
    """The cached store connection and models must not outlive this module's temporary files."""
    yield
    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.fixture
def app(store_path, monkeypatch):
    monkeypatch.setenv("TOUSU_STORE", str(store_path))
    return AppTest.from_file(APP, default_timeout=120).run()


def open_page(app: AppTest, page: str) -> AppTest:
    return app.switch_page(f"app_pages/{page}.py").run()


def metrics(app: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}


def shown_text(app: AppTest) -> str:
    """Everything the page shows: element protos (text, labels) and dataframe contents."""
    parts = []

    def walk(node):
        proto = getattr(node, "proto", None)
        if proto is not None:
            parts.append(str(proto))
        value = getattr(node, "value", None) if getattr(node, "type", "") == "dataframe" else None
        if isinstance(value, pd.DataFrame):
            parts.append(value.to_csv())
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(app.main)
    walk(app.sidebar)
    return "\n".join(parts)


def assert_clean(app: AppTest) -> None:
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_renders(app, page):
    if page != "overview":
        open_page(app, page)
    assert_clean(app)
    assert [title.value for title in app.title] == [PAGES[page]]


def test_the_overview_shows_volume_scores_and_kpis(app):
    shown = metrics(app)
    assert shown["投诉量"] == "120"
    assert 1 <= float(shown["投诉客户平均CSAT"]) <= 5
    assert shown["24小时响应率"].endswith("%") and shown["48小时办结率"].endswith("%")
    assert len(app.get("vega_lite_chart")) >= 2  # Pareto and trend


def test_a_filter_changes_the_numbers_and_follows_to_other_pages(app):
    app.multiselect(key="filter_provinces").set_value(["广东"]).run()
    assert_clean(app)
    assert metrics(app)["投诉量"] == "40"
    open_page(app, "verbatims")
    assert metrics(app)["当前筛选工单数"] == "40"
    open_page(app, "drivers")
    assert_clean(app)
    all_provinces = float(metrics(AppTest.from_file(APP, default_timeout=120).run()
                                  .switch_page("app_pages/drivers.py").run())["模型解释度 R²"])
    assert float(metrics(app)["模型解释度 R²"]) != all_provinces


def test_a_date_range_narrows_the_numbers_and_reset_restores_them(app):
    app.date_input(key="filter_dates").set_value((date(2026, 1, 5), date(2026, 1, 31))).run()
    in_january = int(metrics(app)["投诉量"])
    assert 0 < in_january < 120
    app.button(key="filter_reset").click().run()
    assert_clean(app)
    assert metrics(app)["投诉量"] == "120"


def test_verbatims_highlight_the_keyword_and_find_similar_complaints(app):
    app.text_input(key="filter_keyword").set_value("话费").run()
    open_page(app, "verbatims")
    assert_clean(app)
    marked = [block.value for block in app.markdown if "<mark>话费</mark>" in block.value]
    assert marked and len(marked) == min(20, int(metrics(app)["当前筛选工单数"]))
    app.text_area(key="similar_text").set_value("这个月话费又被多扣了30元，要求退还").run()
    app.button(key="similar_search").click().run()
    assert_clean(app)
    similar = app.dataframe[-1].value
    assert list(similar.columns[:2]) == ["相似度", "工单号"] and similar["相似度"].is_monotonic_decreasing
    assert similar["工单号"].str.startswith("BIL").iloc[0]
    assert [button.label for button in app.get("download_button")] == ["导出 CSV", "导出 Excel"]


def test_the_overview_tiles_are_the_scores_of_the_filtered_complainants(app, store_path):
    with ResultsStore(store_path) as store:
        joined = store.joined_scores()
    complainants = joined[joined["has_complaint"]]
    shown = metrics(app)
    assert shown["投诉客户平均CSAT"] == f"{complainants['CSAT'].mean():.2f}"
    assert shown["投诉客户NPS"] == f"{nps(complainants['NPS']):.0f}"


def test_an_nps_range_narrows_the_numbers_and_the_drivers_switch_to_nps(app):
    app.slider(key="filter_nps").set_value((0.0, 6.0)).run()
    assert_clean(app)
    assert 0 < int(metrics(app)["投诉量"]) < 120 and metrics(app)["投诉客户NPS"] == "-100"  # detractors only
    app.slider(key="filter_nps").set_value((0.0, 10.0)).run()
    assert metrics(app)["投诉量"] == "120"
    open_page(app, "drivers")
    app.radio(key="drivers_score").set_value("NPS").run()
    assert_clean(app)
    specs = [json.dumps(json.loads(chart.proto.spec), ensure_ascii=False) for chart in app.get("vega_lite_chart")]
    assert any("满意度（NPS，分）" in spec for spec in specs)  # the quadrant
    assert any(block.value.startswith("**重点改进区：**") for block in app.markdown)


def test_the_change_page_attributes_the_change_between_the_periods_picked_in_the_sidebar(app):
    open_page(app, "change")
    assert_clean(app)
    # The surveys have no date of their own: each answer takes its complaint's (January to mid-March).
    period_a, period_b = app.selectbox(key="change_a_M"), app.selectbox(key="change_b_M")
    assert period_a.options == ["2026-01", "2026-02", "2026-03"]
    assert (period_a.value, period_b.value) == ("2026-01", "2026-02")  # March is incomplete
    table = app.dataframe[0].value
    assert list(table.columns[:3]) == ["满意度指标", "细分群体", "A期样本"]
    csat = table[table["满意度指标"] == "CSAT"]
    start = (csat["A期占比"] * csat["A期均值"].fillna(0)).sum()
    end = (csat["B期占比"] * csat["B期均值"].fillna(0)).sum()
    assert csat["合计影响"].sum() == pytest.approx(end - start, abs=1e-3)  # shown rounded to 4 decimals
    shown = metrics(app)
    assert shown[next(label for label in shown if label.startswith("CSAT：2026-01 → 2026-02"))] == f"{end:.2f}"
    period_b.set_value("2026-03").run()
    assert_clean(app)
    assert any(label.startswith("CSAT：2026-01 → 2026-03") for label in metrics(app))
    assert "分地区 / 渠道" in shown_text(app)


def test_verbatims_mark_the_taxonomy_keywords_of_each_complaints_category(app):
    app.multiselect(key="filter_categories").set_value(["NET"]).run()
    open_page(app, "verbatims")
    assert_clean(app)
    cards = [block.value for block in app.markdown if "<br>" in block.value]
    assert len(cards) == 20  # no keyword in the sidebar: the marks are the network category's words
    assert sum("<mark>" in card for card in cards) >= 16


def test_growth_alerts_show_growth_as_a_percentage():
    alerts = pd.DataFrame({"dimension": ["类别", "主题"], "group": ["SEC", "7"], "group_name": ["隐私骚扰与诈骗", "诈骗"],
                           "previous": [10, 0], "recent": [25, 12], "growth": [1.5, np.inf], "alert": [True, True],
                           "recent_start": pd.Timestamp("2026-03-02"), "previous_start": pd.Timestamp("2026-02-02")})
    table = views.labelled(views.alerts_table(alerts))
    assert list(table["增长"]) == ["+150%", "新出现"] and "alert" not in table


def test_a_category_is_corrected_to_a_level1_category_never_a_subcategory():
    taxonomy = load_taxonomy()
    carried = {"BIL": "资费计费争议", "BIL.DATA": "流量计费", "未分类": "未分类", "自定义": "自定义"}
    choices = views.correction_categories(carried, taxonomy)
    assert set(choices) == {c.code for c in taxonomy.categories} | {"未分类", "自定义"}
    assert taxonomy.other_code in choices and not any("." in code for code in choices)
    assert views.correction_categories(carried) == carried  # without the taxonomy: what the complaints carry


def test_the_export_holds_the_current_selection(store_path):
    with ResultsStore(store_path) as store:
        table = views.export_table(store, Filters(provinces=("广东",)))
    assert len(table) == 40 and set(table["省份"]) == {"广东"} and {"工单号", "类别", "主题", "内容"} <= set(table.columns)
    csv = views.csv_bytes(table)
    assert csv.startswith(codecs.BOM_UTF8) and len(pd.read_csv(io.BytesIO(csv))) == 40
    pd.testing.assert_frame_equal(pd.read_excel(io.BytesIO(views.xlsx_bytes(table))).iloc[:, :1],
                                  table.iloc[:, :1].reset_index(drop=True))


def test_topics_show_a_map_and_the_topic_table(app):
    open_page(app, "topics")
    table = app.dataframe[0].value
    assert {"主题", "当前筛选投诉量", "关键词"} <= set(table.columns) and table["当前筛选投诉量"].sum() == 120


def test_model_edits_are_saved_as_a_new_version_that_loads(app, store_path):
    open_page(app, "model")
    topics = app.selectbox(key="rename_topic").options
    app.selectbox(key="rename_topic").set_value(app.selectbox(key="rename_topic").options[0])
    app.text_input(key="rename_label").set_value("分析师命名的主题").run()
    app.button(key="rename").click().run()
    app.selectbox(key="merge_source").set_value(app.selectbox(key="merge_source").options[1]).run()
    app.button(key="merge").click().run()
    app.text_input(key="correct_id").set_value("BIL-001").run()
    offered, taxonomy = set(app.selectbox(key="correct_category").options), load_taxonomy()
    assert {f"{c.name}（{c.code}）" for c in taxonomy.categories} <= offered  # level 1, the catch-all OTH among them
    assert not {f"{c.name}（{c.code}）" for c in taxonomy.all_categories if c.parent is not None} & offered
    app.selectbox(key="correct_category").set_value("SEC").run()
    app.button(key="correct").click().run()
    app.button(key="save_version").click().run()
    assert_clean(app)
    assert any("已保存新版本" in message.value for message in app.success)

    with ResultsStore(store_path) as store:
        versions = store.model_versions()
        assert len(versions) == 2 and versions["parent"].iloc[0] == versions["model_version"].iloc[1]
        new_version = versions["model_version"].iloc[0]
        assert versions["complaints"].iloc[0] == 120  # moved to the edited version
        assert store.complaint("BIL-001")["category"] == "SEC"
        live = store.topics(new_version).query("merged_into.isna()")
        assert len(live) == len(topics) - 1 and "分析师命名的主题" in set(live["topic_label"])
        assert "分析师命名的主题" in set(store.counts_by("topic_label")["group"])
    model = ComplaintModel.load(new_version)
    assert model.manifest_["parent"] == versions["model_version"].iloc[1]
    assert set(model.predict(["营业厅排队等候了很久", "打10086人工一直占线"])["topic_label"]) <= set(live["topic_label"])
    labels_file = Path(new_version).with_name(f"{Path(new_version).name}.labels.csv")
    labels = pd.read_csv(labels_file)
    assert list(labels.columns) == ["id", "text", "label"] and labels.iloc[0]["label"] == "SEC"
    # The classifier is the parent's: so are its metrics, said to be inherited, not evaluated.
    assert model.manifest_["metrics"]["note"] == "继承自 v1，未重新评估"
    assert model.manifest_["metrics"]["holdout"] == ComplaintModel.load(versions["model_version"].iloc[1]).manifest_[
        "metrics"]["holdout"]
    shown = views.version_table(versions)
    assert list(shown["metrics_note"]) == ["继承自 v1，未重新评估", "留出集评估"]
    assert any("--corrections" in block.value for block in app.code)

    # The labels file retrains the model's own training table, the correction applied.
    training = Path(model.manifest_["data"]["input"])
    _, retrained = train_job(training, store_path.parent / "model" / "retrained", label_col="类别", topics=False,
                             corrections=labels_file)
    assert retrained["data"]["corrections"]["relabelled"] == 1
    assert retrained["data"]["label_counts"]["SEC"] == 21 and retrained["data"]["label_counts"]["BIL"] == 19


def test_saving_again_without_new_edits_makes_no_version(app, store_path):
    open_page(app, "model")
    app.button(key="save_version").click().run()
    assert_clean(app)
    assert any("没有新的" in message.value for message in app.warning)
    with ResultsStore(store_path) as store:
        assert len(store.model_versions()) == 2
        current = store.current_model_version()
        with pytest.raises(NothingToSave):
            save_model_version(store, current)
        store.correct_category("NET-001", "BIL", "资费计费争议")  # one new correction: saving is allowed again
        new_dir, manifest = save_model_version(store, current)
        assert manifest["edits"]["category_corrections"] == 1 and manifest["edits"]["category_corrections_total"] == 2
        assert manifest["metrics"]["note"] == "继承自 v1，未重新评估"  # still the version that was evaluated
        assert len(pd.read_csv(manifest["edits"]["labels_file"])) == 2


def test_an_uploaded_phone_number_shows_masked_everywhere(app, store_path):
    # Planted in the text, a contact column, the customer-number column and a role column,
    # in half- and full-width digits.
    upload = pd.DataFrame({"工单号": ["UP-1", "UP-2"], "省份": ["浙江", "浙江"], "联系电话": [PHONE, WIDE_PHONE],
                           "用户号码": [WIDE_PHONE, PHONE], "渠道": [f"回拨{WIDE_PHONE}", f"热线{PHONE}"],
                           "内容": [f"客户来电{PHONE}反映本月话费被多扣了20元", f"家里宽带每天晚上断网，回电{WIDE_PHONE}"]})
    open_page(app, "upload")
    app.file_uploader(key="upload_file").set_value(("新工单.csv", upload.to_csv(index=False).encode("utf-8"),
                                                    "text/csv")).run()
    app.button(key="upload_start").click().run()
    assert_clean(app)
    assert metrics(app)["已分类入库"] == "2"
    assert not shows_phone(shown_text(app)) and "<PHONE>" in shown_text(app)

    app.multiselect(key="filter_provinces").set_value(["浙江"]).run()
    for page in PAGES:
        open_page(app, page)
        assert_clean(app)
        assert not shows_phone(shown_text(app)), page
    open_page(app, "model")
    app.text_input(key="correct_id").set_value("UP-1").run()
    assert "&lt;PHONE&gt;" in shown_text(app) and not shows_phone(shown_text(app))
    with ResultsStore(store_path) as store:
        stored = {table: store.query(f"SELECT * FROM {table}").astype(str)
                  for table in ("complaints", "surveys", "category_corrections", "topics", "model_versions")}
        export = views.export_table(store, Filters(provinces=("浙江",)))
    assert len(stored["complaints"].query("id.str.startswith('UP-')")) == 2
    for table, rows in stored.items():
        assert not shows_phone(rows.to_csv()), table
    assert len(export) == 2 and not shows_phone(views.csv_bytes(export).decode("utf-8-sig"))
    workbook = pd.read_excel(io.BytesIO(views.xlsx_bytes(export)), dtype=str)
    assert len(workbook) == 2 and not shows_phone(workbook.to_csv())
    assert export["客户号"].str.fullmatch(r"c_[a-z2-7]{16}").all()


def test_the_model_page_lists_doubted_training_labels_for_correction(complaints, tmp_path, monkeypatch):
    table = pd.read_csv(complaints)
    codes = sorted(table["类别"].unique())
    flipped = [10, 50, 90]
    for row in flipped:
        table.loc[row, "类别"] = codes[(codes.index(table.loc[row, "类别"]) + 1) % len(codes)]
    table.to_csv(tmp_path / "noisy.csv", index=False)
    model_dir, _ = train_job(tmp_path / "noisy.csv", tmp_path / "model" / "v1", label_col="类别", topics=False,
                             embedder=TEST_EMBEDDER)
    path = tmp_path / "results.duckdb"
    classify_job(model_dir, tmp_path / "noisy.csv", tmp_path / "classified.csv", store=path, progress=False)
    issues = pd.read_csv(model_dir / "label_issues.csv", dtype=str)
    assert len(issues) >= 1
    monkeypatch.setenv("TOUSU_STORE", str(path))
    app = open_page(AppTest.from_file(APP, default_timeout=120).run(), "model")
    assert_clean(app)
    shown = next(frame.value for frame in app.dataframe if "建议标签" in frame.value.columns)
    assert shown["工单号"].tolist() == issues["id"].tolist()
    first = issues.iloc[0]
    app.selectbox(key="issue_id").set_value(first["id"]).run()
    app.button(key="load_issue").click().run()
    assert app.text_input(key="correct_id").value == first["id"]
    assert app.selectbox(key="correct_category").value == first["suggested_label"]
    assert any(button.label.startswith("下载校对表") for button in app.get("download_button"))
