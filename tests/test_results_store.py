"""The results store: idempotent upserts, SQL filters with bound parameters, foreign files refused,
PII hashed or masked, jobs writing while an explorer has it open; retraining with corrections."""
import json
import re
import subprocess
import sys
import time
import unicodedata
from datetime import date

import duckdb
import numpy as np
import pandas as pd
import pytest
from complaint_fixtures import labelled_complaints, link_into_store

from tousu.analysis.conventions import BASELINE_CODE
from tousu.analysis.kpis import kpis
from tousu.analysis.scores import complainant_scores
from tousu.cli import main
from tousu.explorer import views
from tousu.jobs.classify import classify_job
from tousu.jobs.train import train_job
from tousu.store import Filters, ResultsStore, StoreError, pca_2d

N_COMPLAINTS = 60


@pytest.fixture(scope="module")
def complaint_file(tmp_path_factory):
    table = labelled_complaints(per_category=N_COMPLAINTS // 6)
    rows = range(len(table))
    table["受理时间"] = [f"2026-03-{1 + i % 28:02d} 09:00:00" for i in rows]
    table["首次响应时间"] = [f"2026-03-{1 + i % 28:02d} 21:00:00" for i in rows]
    table["省份"] = ["广东" if i % 3 == 0 else "江苏" for i in rows]
    table["渠道"] = "10086热线"
    table["客户号"] = [f"C{i:03d}" for i in rows]
    table["重复投诉"] = ["是" if i % 4 == 0 else "否" for i in rows]
    table["工单备注"] = "已回访"
    table.loc[0, "受理时间"] = "上周三"
    table.loc[1, "内容"] = "客户O'Brien来电13812345678，话费被多扣了"
    path = tmp_path_factory.mktemp("data") / "complaints.csv"
    table.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def model_dir(complaint_file, tmp_path_factory):
    model_dir, _ = train_job(complaint_file, tmp_path_factory.mktemp("models") / "m" / "v1", label_col="类别",
                             topics=False)
    return model_dir


@pytest.fixture(scope="module")
def classified(model_dir, complaint_file, tmp_path_factory):
    output = tmp_path_factory.mktemp("classified") / "classified.csv"
    classify_job(model_dir, complaint_file, output, progress=False)
    return pd.read_csv(output, dtype=str, keep_default_na=False)


@pytest.fixture
def store(tmp_path, classified):
    with ResultsStore(tmp_path / "results.duckdb") as results:
        results.upsert_complaints(classified, text_column="内容", id_column="工单号")
        yield results


def test_classifying_the_same_file_twice_duplicates_nothing(model_dir, complaint_file, tmp_path):
    path = tmp_path / "results.duckdb"
    classify_job(model_dir, complaint_file, tmp_path / "a.csv", store=path, progress=False)
    classify_job(model_dir, complaint_file, tmp_path / "b.csv", store=path, progress=False, chunk_rows=7)
    assert main(["classify", str(model_dir), str(complaint_file), "-o", str(tmp_path / "c.csv"),
                 "--store", str(path)]) == 0
    with ResultsStore(path) as results:
        assert results.count() == N_COMPLAINTS
        assert results.query("SELECT count(DISTINCT id) AS n FROM complaints")["n"][0] == N_COMPLAINTS
        versions = results.model_versions()
        assert len(versions) == 1 and versions["complaints"][0] == N_COMPLAINTS
        assert versions["mode"][0] == "supervised" and versions["model_version"][0] == str(model_dir.resolve())


def test_chunked_upserts_give_the_same_table_as_one(classified, store, tmp_path):
    with ResultsStore(tmp_path / "chunked.duckdb") as chunked:
        for start in range(0, len(classified), 7):
            chunked.upsert_complaints(classified.iloc[start:start + 7], text_column="内容", id_column="工单号")
        chunked.upsert_complaints(classified.iloc[:20], text_column="内容", id_column="工单号")  # a re-run
        # Customer ids are hashed with a key of each store's own: compare which rows share one.
        ordered = "SELECT * EXCLUDE (loaded_at, customer_id) FROM complaints ORDER BY id"
        pd.testing.assert_frame_equal(chunked.query(ordered), store.query(ordered))
        customers = "SELECT id, min(id) OVER (PARTITION BY customer_id) AS customers_first FROM complaints ORDER BY id"
        pd.testing.assert_frame_equal(chunked.query(customers), store.query(customers))


def test_columns_get_their_roles_and_nothing_is_lost(store):
    dated = store.query("SELECT min(id) AS id FROM complaints WHERE created_at IS NOT NULL")["id"][0]
    row = store.complaint(dated)
    assert row["created_at"].hour == 9 and row["responded_at"].hour == 21
    assert row["channel"] == "10086热线" and row["province"] in ("广东", "江苏")
    assert re.fullmatch(r"c_[a-z2-7]{16}", row["customer_id"])  # the customer number, hashed
    assert row["category"] and row["confidence"] > 0 and row["topic_id"] == -1  # a model without topics
    assert set(store.query('SELECT DISTINCT "repeat" FROM complaints')["repeat"]) == {True, False}
    unparsed = store.query("SELECT category, extra FROM complaints WHERE created_at IS NULL")
    assert len(unparsed) == 1
    extra = json.loads(unparsed["extra"][0])
    assert extra == {"类别": extra["类别"], "工单备注": "已回访", "受理时间": "上周三"}
    texts = store.query("SELECT text FROM complaints")["text"]
    assert not texts.str.contains("13812345678").any() and texts.str.contains("<PHONE>").sum() == 1


def test_filters_push_dates_lists_and_keywords_into_sql(store):
    assert store.count() == N_COMPLAINTS
    guangdong = store.count(Filters(provinces=("广东",)))
    assert guangdong == N_COMPLAINTS // 3
    assert store.count(Filters(start=date(2026, 3, 1), end=date(2026, 3, 1))) == 2  # rows 28 and 56; row 0 has no date
    assert store.count(Filters(start=date(2026, 3, 1))) == N_COMPLAINTS - 1
    by_category = store.counts_by("category", Filters(provinces=("广东",)))
    assert by_category["count"].sum() == guangdong and "group_name" in by_category
    keyword = store.complaints(Filters(keyword="话费"), limit=None)
    assert len(keyword) and keyword["text"].str.contains("话费").all()
    assert store.count(Filters(keyword="话费", provinces=("广东",))) < len(keyword)
    assert store.count(Filters(provinces=("(缺失)",))) == 0


def test_a_keyword_with_a_quote_is_bound_not_spliced(store):
    assert store.count(Filters(keyword="O'Brien")) == 1
    assert store.count(Filters(keyword="'; DROP TABLE complaints; --")) == 0
    assert store.count(Filters(provinces=("广东') OR ('1'='1",))) == 0
    assert store.count() == N_COMPLAINTS
    with pytest.raises(ValueError, match="cannot group"):
        store.counts_by("province; DROP TABLE complaints")


def test_surveys_upsert_by_id_and_join_to_complaints(store):
    surveys = pd.DataFrame({"问卷号": ["S1", "S2", "S3", "S4", "S4"], "工单号": ["BIL-000", "NET-001", "", "XX-9", "BIL-001"],
                            "CSAT": ["2", "５", "4", "3", "1"], "NPS": ["3", "10", "9", "11", "0"]})
    assert store.upsert_surveys(surveys, key_column="工单号") == 4  # S4 twice: the first row is kept
    store.upsert_surveys(surveys, key_column="工单号")
    assert len(store.query("SELECT * FROM surveys")) == 4
    joined = store.joined_scores()
    assert list(joined["survey_id"]) == ["S1", "S2", "S3"]  # S4's ticket is no complaint: left out
    assert list(joined["has_complaint"]) == [True, True, False] and list(joined["CSAT"]) == [2.0, 5.0, 4.0]
    out_of_range = store.query("SELECT nps, extra FROM surveys WHERE survey_id = 'S4'").iloc[0]
    assert pd.isna(out_of_range["nps"]) and json.loads(out_of_range["extra"]) == {"NPS": "11"}
    assert store.count(Filters(csat=(1, 2))) == 1
    province = store.complaint("BIL-000")["province"]
    in_province = [survey for survey, ticket in (("S1", "BIL-000"), ("S2", "NET-001"))
                   if store.complaint(ticket)["province"] == province]
    # Complaint filters narrow the complainants; the baseline (S3) stays.
    assert list(store.joined_scores(Filters(provinces=(province,)))["survey_id"]) == [*in_province, "S3"]


def test_surveys_linked_by_customer_rate_the_customers_first_complaint(store, classified):
    first = store.query("SELECT id, customer_id FROM complaints WHERE created_at IS NOT NULL ORDER BY id LIMIT 1")
    customer = classified.set_index("工单号").loc[first["id"][0], "客户号"]
    surveys = pd.DataFrame({"问卷号": ["K1"], "客户号": [customer], "CSAT": ["1"]})
    store.upsert_surveys(surveys, key_column="客户号")
    assert store.query("SELECT complaint_id FROM survey_links WHERE survey_id = 'K1'")["complaint_id"][0] == first["id"][0]


def test_linked_by_customer_the_explorer_shows_the_reports_baseline_and_gaps(classified, tmp_path):
    complaints = classified.copy()
    # The customer of row 1 complains again, later and about something else: the survey rates row 1.
    repeat = next(row for row in range(2, 28) if complaints.at[row, "category"] != complaints.at[1, "category"])
    complaints.loc[repeat, "客户号"] = complaints.at[1, "客户号"]
    complainants = complaints["客户号"].iloc[1:41].drop_duplicates().tolist()
    # One customer answers twice (the first answer counts); N1–N4 filed no complaint; one key is empty.
    customers = [*complainants, complainants[5], "N1", "N2", "N3", "N4", ""]
    rng = np.random.default_rng(1)
    n = len(customers)
    surveys = pd.DataFrame({
        "问卷号": [f"K{i:02d}" for i in range(n)], "客户号": customers,
        "调查时间": (pd.Timestamp("2026-04-01") + pd.to_timedelta(np.arange(n), unit="h")).strftime("%Y-%m-%d %H:%M"),
        "CSAT": [*rng.integers(1, 6, n - 5), 5, 5, 4, 5, 4], "NPS": [*rng.integers(0, 11, n - 5), 9, 10, 8, 10, 9]})
    path, out = link_into_store(tmp_path, complaints, surveys, "--key", "客户号")
    report = pd.read_csv(out / "category_scores.csv").set_index("group")
    with ResultsStore(path, read_only=True) as results:
        shown = views.category_scores(results.joined_scores(columns=views.SCORE_COLUMNS),
                                      results.category_names()).set_index("group")
    assert report.at[BASELINE_CODE, "n_surveyed"] == shown.at[BASELINE_CODE, "n_surveyed"] == 5
    assert set(shown.index) == set(report.index[report["n_surveyed"] > 0])
    columns = ["n_surveyed", "n_csat", "csat_mean", "csat_gap", "n_nps", "nps", "nps_gap"]
    assert report.loc[shown.index, "csat_gap"].notna().sum() == len(shown) - 1  # every category has a gap
    pd.testing.assert_frame_equal(shown[columns], report.loc[shown.index, columns], check_dtype=False)


def test_a_schema_2_store_takes_customers_without_complaint_as_the_baseline_once_upgraded(store, tmp_path):
    store.upsert_surveys(pd.DataFrame({"问卷号": ["K1", "K2"], "客户号": ["N1", ""], "CSAT": ["5", "4"]}),
                         key_column="客户号")
    store.close()
    with duckdb.connect(str(store.path)) as connection:  # back to schema 2's links: only an empty key is the baseline
        connection.execute("CREATE OR REPLACE VIEW survey_links AS SELECT *, NULL AS complaint_id, "
                           "customer_id IS NULL AS is_baseline FROM surveys")
        connection.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="schema 2 predates"):
        ResultsStore(store.path, read_only=True)
    with ResultsStore(store.path) as results:
        assert results.joined_scores()["survey_id"].tolist() == ["K1", "K2"]
        assert results.joined_scores()["has_complaint"].tolist() == [False, False]

def test_two_answers_to_one_ticket_count_once_as_in_tousu_link(store, tmp_path):
    surveys = pd.DataFrame({"问卷号": ["T2", "T1"], "工单号": ["BIL-000", "BIL-000"], "CSAT": ["1", "5"],
                            "调查时间": ["2026-05-02", "2026-05-01"]})
    store.upsert_surveys(surveys, key_column="工单号")
    linked = store.query("SELECT survey_id, complaint_id FROM survey_links WHERE complaint_id = 'BIL-000'")
    assert linked["survey_id"].tolist() == ["T1"]  # the earlier answer; tousu link keeps the first
    store.close()
    with duckdb.connect(str(store.path)) as connection:  # a schema 3 store: its own view, no link table
        connection.execute("DROP VIEW survey_links")
        connection.execute("DROP TABLE survey_link_targets")
        connection.execute("CREATE VIEW survey_links AS SELECT *, ticket_id AS complaint_id, "
                           "ticket_id IS NULL AS is_baseline FROM surveys")
        connection.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    with ResultsStore(store.path) as results:
        linked = results.query("SELECT survey_id FROM survey_links WHERE complaint_id = 'BIL-000'")
        assert linked["survey_id"].tolist() == ["T1"]


def test_a_correction_survives_reclassification(store, classified):
    store.correct_category("BIL-000", "NET", "网络质量", note="看错了")
    store.upsert_complaints(classified, text_column="内容", id_column="工单号")
    assert store.complaint("BIL-000")["category"] == "NET"
    corrections = store.corrections()
    assert list(corrections[["id", "label"]].itertuples(index=False, name=None)) == [("BIL-000", "NET")]
    with pytest.raises(StoreError, match="no complaint"):
        store.correct_category("NOPE", "NET")


def test_every_write_moves_the_revision(store, classified):
    before = store.revision()
    store.upsert_complaints(classified.iloc[:3], text_column="内容", id_column="工单号")
    assert store.revision() == before + 1


def test_a_duckdb_file_that_is_not_a_store_is_refused(tmp_path):
    foreign = tmp_path / "foreign.duckdb"
    with duckdb.connect(str(foreign)) as connection:
        connection.execute("CREATE TABLE sales (id INTEGER)")
    with pytest.raises(StoreError, match="foreign.duckdb: a DuckDB database but not a tousu results store"):
        ResultsStore(foreign)
    text = tmp_path / "notes.duckdb"
    text.write_text("hello", encoding="utf-8")
    with pytest.raises(StoreError, match="notes.duckdb: cannot open"):
        ResultsStore(text)


def test_a_store_from_a_newer_tousu_is_refused(tmp_path):
    path = tmp_path / "newer.duckdb"
    ResultsStore(path).close()
    with duckdb.connect(str(path)) as connection:
        connection.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="newer.duckdb: written by a newer tousu"):
        ResultsStore(path)


def test_explore_names_a_missing_store_and_suggests_the_demo(tmp_path, capsys):
    assert main(["explore", "--store", str(tmp_path / "none.duckdb"), "--no-browser"]) == 2
    error = capsys.readouterr().err
    assert "none.duckdb: no results store" in error and "tousu demo" in error


def test_the_topic_map_keeps_the_distances_of_a_plane():
    vectors = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])  # three points span a plane
    coordinates = pca_2d(vectors)
    def distances(points):
        return np.linalg.norm(points[:, None] - points[None], axis=-1)
    np.testing.assert_allclose(distances(coordinates), distances(vectors), atol=1e-9)
    np.testing.assert_array_equal(pca_2d(vectors), coordinates)
    assert pca_2d(vectors[:1]).tolist() == [[0.0, 0.0]]


def test_the_explorers_kpis_are_those_of_the_report_on_the_filtered_complaints(store):
    for filters in (Filters(), Filters(provinces=("广东",)), Filters(keyword="话费")):
        rows = store.complaints(filters, limit=None, columns=views.KPI_COLUMNS)
        expected = kpis(rows, created="created_at", responded="responded_at", resolved="resolved_at",
                        repeat="repeat", channel="channel", text="text", by="category")
        shown = views.kpi_table(store, filters)
        assert len(shown) == len(rows["category"].unique()) + 1 and shown["group"].iloc[-1] == "(全部)"
        assert {"responded_24h_share", "resolved_48h_share", "repeat_rate", "escalation_rate"} <= set(shown.columns)
        pd.testing.assert_frame_equal(shown.drop(columns="group_name"), expected, check_dtype=False)


def test_score_filters_and_the_score_summary(store):
    surveys = pd.DataFrame({"问卷号": ["S1", "S2", "S3", "S4"], "工单号": ["BIL-000", "NET-001", "BIL-001", ""],
                            "CSAT": ["2", "5", "4", "5"], "NPS": ["3", "10", "9", "10"]})
    store.upsert_surveys(surveys, key_column="工单号")
    assert store.count(Filters(nps=(0, 6))) == 1  # S1
    assert store.count(Filters(csat=(4, 5), nps=(9, 9))) == 1  # S3: both scores from one survey
    assert store.count(Filters(csat=(1, 2), nps=(9, 10))) == 0
    summary = complainant_scores(store.joined_scores())
    assert summary == {"responses": 3, "csat": pytest.approx(11 / 3), "nps": pytest.approx(100 * (2 - 1) / 3)}
    assert complainant_scores(store.joined_scores(Filters(nps=(9, 10))))["responses"] == 2
    assert list(store.joined_scores(Filters(nps=(9, 10)), columns=("category",)).columns) == [
        "CSAT", "NPS", "has_complaint", "category"]


def test_customer_ids_role_columns_and_extras_are_stored_masked(tmp_path):
    phone, wide = "13812345678", "１３８１２３４５６７８"
    table = pd.DataFrame({"工单号": ["A1", "A2"], "内容": [f"来电{phone}反映话费", "宽带断网"],
                          "用户号码": [phone, wide], "渠道": [f"回拨{wide}", "热线"], "联系电话": [wide, phone]})
    with ResultsStore(tmp_path / "results.duckdb") as results:
        results.upsert_complaints(table, text_column="内容", id_column="工单号")
        results.upsert_surveys(pd.DataFrame({"问卷号": ["K1"], "用户号码": [wide], "CSAT": ["2"], "触点": [phone]}),
                               key_column="用户号码")
        stored = results.query("SELECT * FROM complaints ORDER BY id")
        everything = pd.concat([stored, results.query("SELECT * FROM surveys")]).astype(str).to_csv()
        linked = results.query("SELECT complaint_id FROM survey_links")["complaint_id"][0]
    assert phone not in unicodedata.normalize("NFKC", everything)
    # Full- and half-width numbers of one customer hash alike, so the survey still finds A1.
    assert stored["customer_id"].nunique() == 1 and linked == "A1"
    assert stored["channel"][0] == "回拨<PHONE>" and json.loads(stored["extra"][0]) == {"联系电话": "<PHONE>"}


@pytest.mark.slow
def test_a_job_writes_while_the_explorer_has_the_store_open(model_dir, complaint_file, tmp_path):
    path = tmp_path / "results.duckdb"
    explorer = ResultsStore(path, hold=False)
    before = explorer.change_token()
    with explorer.reading():  # a page is querying as the job starts: the job waits for it
        job = subprocess.Popen([sys.executable, "-m", "tousu.cli", "classify", str(model_dir), str(complaint_file),
                                "-o", str(tmp_path / "out.csv"), "--store", str(path), "--chunk-rows", "10"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(1)
    counts = []
    while job.poll() is None:  # and pages go on querying while it writes chunk by chunk
        counts.append(explorer.count())
        time.sleep(0.1)
    assert job.returncode == 0, job.stderr.read()
    assert counts == sorted(counts) and explorer.count() == N_COMPLAINTS
    assert explorer.change_token() != before
    ids, vectors = explorer.vectors(explorer.query("SELECT DISTINCT embedder FROM embeddings")["embedder"][0])
    assert len(ids) == N_COMPLAINTS and vectors.dtype == np.int8


def test_a_schema_1_store_is_upgraded_in_place(tmp_path, classified):
    path = tmp_path / "old.duckdb"
    with ResultsStore(path) as results:
        results.upsert_complaints(classified, text_column="内容", id_column="工单号")
        results.correct_category("BIL-000", "NET")
    with duckdb.connect(str(path)) as connection:  # back to what schema 1 stored
        connection.execute("DROP TABLE embeddings")
        connection.execute("ALTER TABLE category_corrections DROP COLUMN saved_in")
        connection.execute("DELETE FROM meta WHERE key = 'customer_key'")
        connection.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
        connection.execute("UPDATE complaints SET customer_id = '13812345678', channel = '回拨13812345678'")
    with pytest.raises(StoreError, match="schema 1 predates"):
        ResultsStore(path, read_only=True)
    with ResultsStore(path) as results:
        row = results.complaint("BIL-000")
        assert row["customer_id"].startswith("c_") and row["channel"] == "回拨<PHONE>"
        assert results.corrections(pending=True)["id"].tolist() == ["BIL-000"] and results.count() == N_COMPLAINTS
    ResultsStore(path, read_only=True).close()


def test_train_with_corrections_overrides_labels_by_id_and_adds_new_complaints(complaint_file, tmp_path, capsys):
    corrections = tmp_path / "v2.labels.csv"
    pd.DataFrame({"id": ["BIL-000", "BIL-001", "NEW-1"],
                  "text": ["话费被多扣", "话费被多扣", "接到诈骗电话，对方知道我的姓名"],
                  "label": ["NET", "NET", "SEC"]}).to_csv(corrections, index=False, encoding="utf-8-sig")
    assert main(["train", str(complaint_file), "--label-col", "类别", "--corrections", str(corrections),
                 "-o", str(tmp_path / "m" / "v3"), "--no-topics"]) == 0
    assert "corrections: 2 relabelled, 1 added" in capsys.readouterr().out
    data = json.loads((tmp_path / "m" / "v3" / "manifest.json").read_text(encoding="utf-8"))["data"]
    per_label = N_COMPLAINTS // 6
    assert data["label_counts"]["BIL"] == per_label - 2 and data["label_counts"]["NET"] == per_label + 2
    assert data["label_counts"]["SEC"] == per_label + 1 and data["rows"] == N_COMPLAINTS + 1
    assert data["corrections"] == {"file": str(corrections), "relabelled": 2, "appended": 1}
    # Corrections change labels: without a label column there are none to change.
    assert main(["train", str(complaint_file), "--corrections", str(corrections), "-o", str(tmp_path / "x")]) == 2
    assert "name the label column" in capsys.readouterr().err


def test_correction_rows_that_cannot_be_used_are_reported_with_their_row(complaint_file, tmp_path, capsys):
    corrections = tmp_path / "v2.labels.csv"
    pd.DataFrame({"id": ["BIL-000", "", "BIL-001", "BIL-000", "NEW-2"],
                  "text": ["话费被多扣", "话费被多扣", "话费被多扣", "话费被多扣", ""],
                  "label": ["NET", "NET", "", "SEC", "SEC"]}).to_csv(corrections, index=False, encoding="utf-8-sig")
    assert main(["train", str(complaint_file), "--label-col", "类别", "--corrections", str(corrections),
                 "-o", str(tmp_path / "m" / "v2"), "--no-topics"]) == 0
    out = capsys.readouterr().out
    assert "corrections: 1 relabelled, 0 added" in out
    for row, reason in ((2, "id corrected again in a later row"), (3, "empty id"), (4, "empty label"),
                        (6, "id not in the training table, and no text to add it with")):
        assert f"{corrections}, row {row} " in out and reason in out
    data = json.loads((tmp_path / "m" / "v2" / "manifest.json").read_text(encoding="utf-8"))["data"]
    assert [(s["row"], s["reason"]) for s in data["corrections"]["skipped"]] == [
        (2, "id corrected again in a later row"), (3, "empty id"), (4, "empty label"),
        (6, "id not in the training table, and no text to add it with")]
    per_label = N_COMPLAINTS // 6
    assert data["label_counts"]["SEC"] == per_label + 1  # BIL-000's later correction wins


def test_demo_and_explore_exit_with_the_explorers_code(monkeypatch, tmp_path):
    import tousu.demo
    import tousu.explorer.launch

    monkeypatch.setattr(tousu.demo, "run_demo", lambda *args, **kwargs: {"store": tmp_path / "tousu.duckdb"})
    for code, expected in ((3, 3), (130, None)):  # 130: stopped with Ctrl-C, which is no failure
        monkeypatch.setattr(tousu.explorer.launch, "run_explorer", lambda *args, code=code, **kwargs: code)
        for command in (["demo", "--no-browser"], ["explore", "--no-browser"]):
            if expected is None:
                assert main(command) == 0
            else:
                with pytest.raises(SystemExit) as stopped:
                    main(command)
                assert stopped.value.code == expected
