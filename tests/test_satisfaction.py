"""The satisfaction analysis (tousu.analysis: linking, scores, drivers, volumes, KPIs; tousu.models.drivers)
on small hand-checked tables and simulated data with planted effects."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.base import clone
from sklearn.utils.estimator_checks import check_estimator

from tousu.analysis.conventions import BASELINE_CODE, BASELINE_LABEL, MISSING_GROUP, TOTAL_LABEL, LinkError
from tousu.analysis.drivers import indicator_matrix, quadrant
from tousu.analysis.kpis import kpis, mentions_escalation
from tousu.analysis.linking import PROBLEM_COLUMNS, link
from tousu.analysis.scores import GROUP_SCORE_COLUMNS, bootstrap_ci, breakdown, group_scores, nps
from tousu.analysis.volumes import growth_alerts, pareto, trends
from tousu.models import drivers as driver_model
from tousu.models.drivers import DRIVER_COLUMNS, DriverModel, _distinct_rows


# ----------------------------------------------------------------------------- NPS and bootstrap
def test_nps_counts_promoters_minus_detractors():
    assert nps([10, 9, 8, 7, 6, 0]) == 0.0  # 2 promoters, 2 detractors of 6
    assert nps([10, 10, 5]) == pytest.approx(100 * (2 - 1) / 3)
    assert nps([9, np.nan, 6, 6]) == pytest.approx(100 * (1 - 2) / 3)  # NaN left out
    assert math.isnan(nps([]))
    np.testing.assert_allclose(nps(np.array([[10, 0], [7, 8]]), axis=1), [0.0, 0.0])
    with pytest.raises(ValueError, match="0–10"):
        nps([11])


def test_bootstrap_ci_covers_the_true_mean_about_95_percent_of_the_time():
    rng = np.random.default_rng(42)
    covered = 0
    for repetition in range(200):
        low, high = bootstrap_ci(rng.normal(3.0, 1.0, 50), np.mean, n_boot=500, seed=repetition)
        covered += low <= 3.0 <= high
    assert 0.90 <= covered / 200 <= 0.99


def test_bootstrap_ci_never_crashes_on_tiny_samples():
    assert all(math.isnan(v) for v in bootstrap_ci([], np.mean))
    assert all(math.isnan(v) for v in bootstrap_ci([4.0, np.nan], np.mean))
    assert bootstrap_ci([5, 5, 5], np.mean, n_boot=50) == (5.0, 5.0)
    low, high = bootstrap_ci([10, 9, 0, 3, 8, 10, 6], nps, n_boot=300, seed=1)
    assert -100 <= low <= nps([10, 9, 0, 3, 8, 10, 6]) <= high <= 100
    assert bootstrap_ci([1, 2, 3, 4], n_boot=100, seed=3) == bootstrap_ci([1, 2, 3, 4], n_boot=100, seed=3)


# ----------------------------------------------------------------------------- Pareto
def test_pareto_class_a_includes_the_category_that_crosses_80_percent():
    table = pareto(pd.Series({"NET": 30, "BIL": 50, "QUE": 10, "SEC": 5, "HOT": 5}))
    assert table["group"].tolist() == ["BIL", "NET", "QUE", "HOT", "SEC"]  # tie by name
    assert table["pareto_class"].tolist() == ["A", "A", "B", "C", "C"]
    np.testing.assert_allclose(table["share"], [0.5, 0.3, 0.1, 0.05, 0.05])
    np.testing.assert_allclose(table["cum_share"], [0.5, 0.8, 0.9, 0.95, 1.0])
    assert table["count"].dtype == np.int64


def test_pareto_from_one_label_per_complaint():
    table = pareto(pd.Series(["BIL"] * 7 + ["NET"] * 2 + [None]))
    assert table[["group", "count", "pareto_class"]].values.tolist() == [
        ["BIL", 7, "A"], ["NET", 2, "A"], [MISSING_GROUP, 1, "C"]]


# ----------------------------------------------------------------------------- link
def _complaints():
    return pd.DataFrame({
        "工单号": ["C1", "C2", "C3", "C4", "C5", "C6"],
        "category": ["BIL", "BIL", "BIL", "NET", "NET", "QUE"],
        "category_name": ["资费", "资费", "资费", "网络", "网络", "排队"],
        "省份": ["粤", "粤", "京", "京", "沪", "沪"],
    })


def _surveys():
    return pd.DataFrame({
        "工单号": ["C1", "C2", "C3", "C4", "", "", "", ""],
        "CSAT": [5, 3, 4, 1, 5, 4, 5, 4],
        "NPS": [10, 6, 9, 0, 9, 8, 10, 7],
    })


def test_link_joins_one_row_per_response_and_marks_the_baseline():
    linked = link(_complaints(), _surveys(), "工单号")
    joined = linked.joined
    assert len(joined) == 8 and joined["has_complaint"].tolist() == [True] * 4 + [False] * 4
    assert joined["category"].tolist()[:4] == ["BIL", "BIL", "BIL", "NET"]
    assert joined["category"].iloc[4:].isna().all()
    assert linked.unmatched_complaints["工单号"].tolist() == ["C5", "C6"]
    assert len(linked.problems) == 0 and list(linked.problems.columns) == PROBLEM_COLUMNS
    summary = linked.summary()
    assert summary["joined_baseline"] == 4 and summary["complaints_linked"] == 4


def test_missing_key_column_names_the_table_and_lists_the_columns():
    with pytest.raises(LinkError, match=r"surveys: no column '工单号'.*客户号, CSAT"):
        link(_complaints(), pd.DataFrame({"客户号": ["x"], "CSAT": [5]}), "工单号")
    with pytest.raises(LinkError, match=r"complaints: no column '客户号'.*工单号, category"):
        link(_complaints(), _surveys().rename(columns={"工单号": "客户号"}), "客户号")
    with pytest.raises(LinkError, match=r"surveys: no score column \(CSAT, NPS\).*工单号, 满意度"):
        link(_complaints(), pd.DataFrame({"工单号": ["C1"], "满意度": [5]}), "工单号")


def test_duplicates_and_bad_scores_are_reported_and_the_counts_add_up():
    complaints = pd.concat([_complaints(), pd.DataFrame({"工单号": ["C2", " "], "category": ["NET", "SEC"]})],
                           ignore_index=True)
    surveys = pd.DataFrame({
        "工单号": ["C1", "C2", "C1", "C3", "ZZ", "", "C4"],
        "CSAT": ["5", "六", "2", "9", "4", "", "４"],
        "NPS": [10, 3, 8, 7, 1, 9, None],
    })
    linked = link(complaints, surveys, "工单号")
    problems = linked.problems.set_index(["table", "row"])
    # Spreadsheet rows: header is row 1, so the 3rd survey row (duplicate C1) is row 4.
    assert problems.loc[("surveys", 4), "reason"] == "duplicate key"
    assert problems.loc[("surveys", 4), "detail"] == "first in row 2"
    assert problems.loc[("surveys", 6), "reason"] == "key not found in complaints"
    assert problems.loc[("surveys", 3), ["column", "value", "reason"]].tolist() == ["CSAT", "六", "score not a number"]
    assert problems.loc[("surveys", 5), ["column", "reason"]].tolist() == ["CSAT", "score out of range"]
    assert problems.loc[("surveys", 7), ["column", "reason"]].tolist() == ["CSAT", "score missing"]
    assert problems.loc[("surveys", 8), "column"] == "NPS"
    assert problems.loc[("complaints", 8), ["reason", "dropped"]].tolist() == ["duplicate key", True]
    assert problems.loc[("complaints", 9), ["reason", "dropped"]].tolist() == ["empty key", False]

    dropped = linked.problems[linked.problems["dropped"]]
    assert len(surveys) == len(linked.joined) + (dropped["table"] == "surveys").sum()
    assert len(complaints) == len(linked.complaints) + (dropped["table"] == "complaints").sum()
    assert linked.unmatched_surveys["工单号"].tolist() == ["ZZ"]
    assert " " in linked.unmatched_complaints["工单号"].tolist()  # empty key still counts in volumes

    joined = linked.joined.set_index("工单号")
    assert math.isnan(joined.loc["C2", "CSAT"]) and joined.loc["C2", "NPS"] == 3  # row kept for NPS
    assert math.isnan(joined.loc["C3", "CSAT"]) and joined.loc["C4", "CSAT"] == 4  # full-width digit
    assert joined.loc["C2", "category"] == "BIL"  # the first C2 complaint
    summary = linked.summary()
    assert summary["survey_rows"] == (summary["joined_rows"] + summary["survey_duplicates_dropped"]
                                      + summary["surveys_unmatched"])
    assert summary["CSAT_score_out_of_range"] == 1 and summary["CSAT_score_not_a_number"] == 1


def test_link_matches_numeric_and_text_keys_and_keeps_reader_row_numbers():
    complaints = pd.DataFrame({"客户号": ["1001", "1002"], "category": ["BIL", "NET"], "渠道": ["热线", "APP"]})
    surveys = pd.DataFrame({"客户ID": [1001.0, np.nan, 1001.0], "csat": [4, 5, 2], "渠道": ["短信", "短信", "短信"]},
                           index=pd.Index([10, 11, 12], name="row"))
    linked = link(complaints, surveys, ("客户号", "客户ID"), score_cols=("CSAT",))
    assert linked.joined["has_complaint"].tolist() == [True, False]
    assert linked.joined[["CSAT", "渠道", "渠道_survey"]].iloc[0].tolist() == [4.0, "热线", "短信"]
    assert linked.problems[["row", "reason"]].values.tolist() == [[12, "duplicate key"]]
    assert linked.summary()["scores_missing_column"] == ["NPS"]


# ----------------------------------------------------------------------------- group scores
def test_group_scores_by_category_hand_checked():
    table = group_scores(link(_complaints(), _surveys(), "工单号"), n_boot=300).set_index("group")
    assert list(table.reset_index().columns) == GROUP_SCORE_COLUMNS
    assert table.index.tolist() == ["BIL", "NET", "QUE", BASELINE_CODE]
    bil, net, que, base = (table.loc[g] for g in ["BIL", "NET", "QUE", BASELINE_CODE])
    assert (bil["group_name"], bil["n_complaints"], bil["share"], bil["n_surveyed"]) == ("资费", 3, 0.5, 3)
    assert bil["csat_mean"] == 4.0 and bil["nps"] == pytest.approx(100 / 3)
    assert bil["detractor_share"] == pytest.approx(1 / 3) and bil["note"] == "n<30: interpret with care"
    assert bil["csat_low"] <= 4.0 <= bil["csat_high"]
    assert net["note"] == "n=1: no interval" and net["csat_mean"] == 1.0 and math.isnan(net["csat_low"])
    assert que["n_surveyed"] == 0 and que["note"] == "no survey responses" and math.isnan(que["csat_mean"])
    assert base["group_name"] == BASELINE_LABEL and base["csat_mean"] == 4.5 and base["nps"] == 50.0
    assert math.isnan(base["share"])
    assert bil["csat_gap"] == -0.5 and bil["nps_gap"] == pytest.approx(100 / 3 - 50)


def test_group_scores_intervals_agree_with_bootstrap_ci_and_are_deterministic():
    rng = np.random.default_rng(7)
    scores = rng.integers(1, 6, 400).astype(float)
    joined = pd.DataFrame({"category": "BIL", "CSAT": scores, "NPS": rng.integers(0, 11, 400)})
    first = group_scores(joined, n_boot=2000, seed=5)
    assert first.equals(group_scores(joined, n_boot=2000, seed=5))
    low, high = bootstrap_ci(scores, np.mean, n_boot=2000, seed=5)
    assert first.loc[0, "csat_low"] == pytest.approx(low, abs=0.03)
    assert first.loc[0, "csat_high"] == pytest.approx(high, abs=0.03)
    assert first.loc[0, "n_complaints"] == 400 and first.loc[0, "note"] == ""


def test_group_scores_and_breakdown_by_other_columns():
    linked = link(_complaints(), _surveys(), "工单号")
    table = group_scores(linked, by="省份", n_boot=100).set_index("group")
    assert table.loc["粤", "n_surveyed"] == 2 and table.loc["沪", "n_complaints"] == 2
    assert table.loc["沪", "note"] == "no survey responses"
    stacked = breakdown(linked, by=["省份", "渠道"], n_boot=100)
    assert set(stacked["dimension"]) == {"省份"} and stacked.attrs["notes"] == ["渠道: no such column, skipped"]
    with pytest.raises(ValueError, match="no column '渠道'"):
        group_scores(linked, by="渠道")


def test_group_scores_on_empty_input():
    table = group_scores(pd.DataFrame({"category": pd.Series([], dtype=object), "CSAT": [], "NPS": []}))
    assert len(table) == 0 and list(table.columns) == GROUP_SCORE_COLUMNS


# ----------------------------------------------------------------------------- drivers
def _planted(n=4000, seed=1, rates=(0.3, 0.2, 0.25, 0.15), effects=(-1.5, -0.8, -0.2, 0.0)):
    rng = np.random.default_rng(seed)
    names = ["BIL", "NET", "QUE", "SEC"][:len(rates)]
    X = pd.DataFrame({name: (rng.random(n) < rate).astype(np.uint8) for name, rate in zip(names, rates)})
    y = 4.5 + X.to_numpy() @ np.array(effects) + rng.normal(0, 0.7, n)
    return X, y


def test_driver_model_recovers_planted_effects_and_ranking():
    X, y = _planted()
    model = DriverModel(n_boot=100, level=0.999).fit(X, y)  # 0.999: eight intervals must all cover
    table = model.drivers_table()
    assert list(table.columns) == DRIVER_COLUMNS
    assert table["driver"].tolist() == ["BIL", "NET", "QUE", "SEC"] and model.method_ == "shapley"
    coef = table.set_index("driver")
    for name, effect in zip(["BIL", "NET", "QUE", "SEC"], [-1.5, -0.8, -0.2, 0.0]):
        assert coef.loc[name, "coef_low"] <= effect <= coef.loc[name, "coef_high"]
        assert coef.loc[name, "importance_low"] <= coef.loc[name, "importance"] <= coef.loc[name, "importance_high"]
    assert model.intercept_ == pytest.approx(4.5, abs=0.05)
    assert coef.loc["BIL", "p_value"] < 1e-6 and coef.loc["SEC", "p_value"] > 0.01
    assert model.importance_.sum() == pytest.approx(model.r2_, abs=1e-6)
    assert table["importance_share"].sum() == pytest.approx(1.0)
    assert coef.loc["BIL", "n_with"] == X["BIL"].sum()
    assert coef.loc["BIL", "mean_with"] == pytest.approx(y[X["BIL"] == 1].mean())


def test_relative_weights_match_shapley_on_uncorrelated_predictors():
    X, y = _planted(n=20000, seed=3)
    shapley = DriverModel(method="shapley", n_boot=0).fit(X, y)
    weights = DriverModel(method="relative_weights", n_boot=0).fit(X, y)
    np.testing.assert_allclose(weights.importance_, shapley.importance_, atol=2e-3)
    assert weights.importance_.sum() == pytest.approx(weights.r2_, abs=1e-6)
    assert np.isnan(shapley.importance_low_).all()


def test_driver_model_survives_constant_collinear_and_single_predictors():
    X, y = _planted(n=500)
    X["COPY"] = X["BIL"]
    X["NOBODY"] = 0
    X["ONCE"] = 0
    X.loc[0, "ONCE"] = 1
    y[5] = np.nan  # a respondent without a score is left out
    model = DriverModel(n_boot=20).fit(X, y)
    table = model.drivers_table().set_index("driver")
    assert model.n_ == 499
    assert table.loc["NOBODY", "importance"] == 0 and math.isnan(table.loc["NOBODY", "coef"])
    assert table.loc["NOBODY", "note"].startswith("constant")
    assert math.isnan(table.loc["COPY", "coef"]) and table.loc["COPY", "note"].startswith("collinear")
    assert table.loc["COPY", "importance"] == pytest.approx(table.loc["BIL", "importance"], abs=1e-6)
    assert table.loc["ONCE", "n_with"] == 1 and table.loc["ONCE", "note"].startswith("n=1")
    assert model.importance_.sum() == pytest.approx(model.r2_, abs=1e-6)


def test_driver_model_follows_the_estimator_contract():
    model = DriverModel(method="relative_weights", n_boot=10, level=0.9, seed=4)
    assert clone(model).get_params() == {"method": "relative_weights", "n_boot": 10, "level": 0.9, "seed": 4,
                                         "reference": "auto"}
    with pytest.raises(Exception, match="not fitted"):
        model.drivers_table()
    with pytest.raises(ValueError, match="method"):
        DriverModel(method="lasso").fit(*_planted(n=50))
    rng = np.random.default_rng(0)
    wide = pd.DataFrame((rng.random((300, 16)) < 0.2).astype(int), columns=[f"K{i:02d}" for i in range(16)])
    assert DriverModel(n_boot=0).fit(wide, rng.normal(size=300)).method_ == "relative_weights"


def test_indicator_matrix_from_primary_and_multi_label_columns():
    joined = pd.DataFrame({
        "category": ["BIL", "NET", None, None],
        "categories": ["BIL|MIS", "", None, None],
        "has_complaint": [True, True, True, False],
    }, index=[7, 8, 9, 10])
    single = indicator_matrix(joined)
    assert single.columns.tolist() == [MISSING_GROUP, "BIL", "NET"] and single.index.tolist() == [7, 8, 9, 10]
    assert single.to_numpy().tolist() == [[0, 1, 0], [0, 0, 1], [1, 0, 0], [0, 0, 0]]
    multi = indicator_matrix(joined, multi_label_column="categories")
    assert multi.columns.tolist() == [MISSING_GROUP, "BIL", "MIS", "NET"]
    assert multi.loc[7].tolist() == [0, 1, 1, 0] and multi.loc[10].sum() == 0


# ----------------------------------------------------------------------------- quadrant
def test_quadrant_labels_on_a_hand_table():
    drivers = pd.DataFrame({"driver": ["BIL", "NET", "QUE", "SEC"], "importance": [0.4, 0.3, 0.1, 0.0],
                            "mean_with": [2.0, 4.5, 2.5, 4.0]})
    table = quadrant(drivers)  # splits: importance 0.2, performance 3.25
    assert table["quadrant"].tolist() == ["重点改进区", "优势区", "机会区", "维持区"]
    assert table["importance_split"].iloc[0] == pytest.approx(0.2)
    assert table["performance_split"].iloc[0] == pytest.approx(3.25)
    scores = pd.DataFrame({"group": ["BIL", "NET", "QUE"], "csat_mean": [4.8, 1.0, 4.0]})
    by_median = quadrant(drivers, scores, split="median")  # SEC has no score: no quadrant
    assert by_median["quadrant"].tolist()[:3] == ["优势区", "重点改进区", "维持区"]
    assert pd.isna(by_median["quadrant"].iloc[3])


# ----------------------------------------------------------------------------- trends
def _weekly(counts_per_group):
    rows = []
    for group, counts in counts_per_group.items():
        for week, count in enumerate(counts):
            day = pd.Timestamp("2026-01-05") + pd.Timedelta(weeks=week, days=week % 7)
            rows += [{"category": group, "受理时间": day.strftime("%Y-%m-%d %H:%M")}] * count
    return pd.DataFrame(rows)


def test_trends_fill_empty_weeks_and_report_bad_dates():
    complaints = _weekly({"BIL": [2, 0, 3], "NET": [1, 1, 1]})
    complaints.loc[len(complaints)] = {"category": "BIL", "受理时间": "not a date"}
    complaints.loc[len(complaints)] = {"category": "BIL", "受理时间": "2026/1/6 9:00"}
    table = trends(complaints, "受理时间", freq="W")
    assert table.columns.tolist() == ["period", "group", "count"]
    bil = table[table["group"] == "BIL"]
    assert bil["count"].tolist() == [3, 0, 3] and bil["period"].iloc[0] == pd.Timestamp("2026-01-05")
    assert table.attrs["bad_timestamps"] == 1 and table.attrs["missing_timestamps"] == 0
    monthly = trends(complaints, "受理时间", by=None, freq="M")
    assert monthly[["group", "count"]].values.tolist() == [[TOTAL_LABEL, 9]]


def test_growth_alerts_flag_the_planted_rise_only():
    complaints = _weekly({"BIL": [10] * 4 + [20] * 4, "NET": [10] * 8, "QUE": [1] * 4 + [2] * 4})
    table = trends(complaints, "受理时间")
    alerts = growth_alerts(table, threshold=0.5, recent_periods=4, min_count=10)
    assert alerts[["group", "previous", "recent", "growth", "alert"]].values.tolist() == [["BIL", 40, 80, 1.0, True]]
    every = growth_alerts(table, only_alerts=False)
    assert every["group"].tolist() == ["BIL", "QUE", "NET"] and every["alert"].tolist() == [True, False, False]
    short = growth_alerts(table, recent_periods=5)
    assert len(short) == 0 and "needs at least 10" in short.attrs["note"]


# ----------------------------------------------------------------------------- KPIs
def test_kpis_on_exact_timestamps():
    complaints = pd.DataFrame({
        "category": ["A", "A", "A", "B", "B", "B"],
        "受理时间": ["2026-03-01 08:00"] * 5 + ["2026/03/01 8:00"],
        "首次响应时间": ["2026-03-02 07:59", "2026-03-02 08:01", "", "2026-03-02 08:00", "garbage",
                     "2026-03-01 10:00"],
        "办结时间": ["2026-03-03 08:00", "", "2026-03-03 08:01", "2026-02-28 08:00", "2026-03-01 09:00", ""],
        "重复投诉": ["是", "否", "Y", "", "1", "no"],
        "渠道": ["工信部转办", "热线", "热线", "APP", "APP", "APP"],
        "内容": ["话费", "我要去12300投诉", "多扣了3150元", "要曝光", "正常", "上315晚会"],
    })
    table = kpis(complaints).set_index("group")
    assert table.index.tolist() == ["A", "B", TOTAL_LABEL]
    a, b, total = table.loc["A"], table.loc["B"], table.loc[TOTAL_LABEL]
    # 23h59 within, 24h01 not, never responded not; exactly 24h within; unparseable left out.
    assert a["responded_24h_share"] == pytest.approx(1 / 3) and b["responded_24h_share"] == 1.0
    assert total["responded_24h_share"] == pytest.approx(3 / 5)
    # 48h00 within, open not, 48h01 not; resolution before creation left out.
    assert a["resolved_48h_share"] == pytest.approx(1 / 3) and b["resolved_48h_share"] == 0.5
    assert total["open_share"] == pytest.approx(2 / 6)
    assert a["median_response_h"] == pytest.approx(24.0) and b["median_response_h"] == pytest.approx(13.0)
    assert (a["bad_timestamps"], b["bad_timestamps"], total["bad_timestamps"]) == (0, 2, 2)
    assert a["repeat_rate"] == pytest.approx(2 / 3) and b["repeat_rate"] == 0.5
    assert a["escalation_rate"] == pytest.approx(2 / 3) and b["escalation_rate"] == pytest.approx(2 / 3)
    assert (table["n"].tolist(), table.attrs["notes"]) == ([3, 3, 6], [])


def test_kpis_omit_what_the_table_lacks():
    complaints = pd.DataFrame({"category": ["A", "B", "B"], "受理时间": ["2026-03-01 08:00"] * 3,
                               "内容": ["工信部", "", None]})
    table = kpis(complaints)
    assert table.columns.tolist() == ["group", "n", "escalation_rate", "bad_timestamps"]
    assert table["group"].tolist() == ["B", "A", TOTAL_LABEL]  # most complaints first
    assert table["escalation_rate"].tolist() == [0.0, 1.0, pytest.approx(1 / 3)]
    notes = " ".join(table.attrs["notes"])
    assert "首次响应时间" in notes and "办结时间" in notes and "重复投诉" in notes and "渠道" in notes
    overall = kpis(pd.DataFrame({"x": [1, 2]}), by="category")
    assert overall[["group", "n"]].values.tolist() == [[TOTAL_LABEL, 2]]


# ----------------------------------------------------------------------------- customer keys, scores, contract
def _customer_tables():
    complaints = pd.DataFrame({
        "工单号": ["T1", "T2", "T3", "T4", "T4"],
        "客户号": ["K1", "K1", "K2", "K3", "K3"],  # K1 complained twice; T4 was exported twice
        "category": ["BIL", "NET", "QUE", "NET", "NET"],
        "category_name": ["资费", "网络", "排队", "网络", "网络"],
    })
    surveys = pd.DataFrame({
        "客户号": ["K1", "K2", "K8", "K9", "", "K1"],
        "CSAT": [2, 3, 5, 4, 5, 1],
        "NPS": [3, 6, 10, 9, 9, 0],
    })
    return complaints, surveys


def test_link_by_customer_key_takes_customers_without_complaint_as_the_baseline():
    complaints, surveys = _customer_tables()
    linked = link(complaints, surveys, "客户号", complaint_id="工单号")
    assert linked.baseline_rule == "unmatched"
    joined = linked.joined
    assert joined["has_complaint"].tolist() == [True, True, False, False, False]
    assert joined["category"].tolist()[:2] == ["BIL", "QUE"]  # K1's survey goes to the first complaint
    # K8 and K9 filed no complaint: the baseline, still listed, never dropped silently.
    assert linked.unmatched_surveys[["客户号", "as_baseline"]].values.tolist() == [["K8", True], ["K9", True]]
    problems = linked.problems.set_index(["table", "row"])
    assert problems.loc[("complaints", 3), ["reason", "dropped"]].tolist() == ["key repeated", False]
    assert "row 2" in problems.loc[("complaints", 3), "detail"]
    assert problems.loc[("complaints", 6), ["column", "reason", "dropped"]].tolist() == ["工单号", "duplicate key", True]
    assert problems.loc[("surveys", 7), "reason"] == "duplicate key"
    assert linked.complaints["工单号"].tolist() == ["T1", "T2", "T3", "T4"]  # K1's second complaint counts
    assert linked.unmatched_complaints["工单号"].tolist() == ["T2", "T4"]
    summary = linked.summary()
    assert summary["joined_baseline"] == 3
    assert (summary["surveys_unmatched_baseline"], summary["surveys_unmatched"]) == (2, 0)
    assert summary["complaints_key_repeated"] == 1 and summary["complaint_duplicates_dropped"] == 1
    assert summary["survey_rows"] == summary["joined_rows"] + summary["survey_duplicates_dropped"] + \
        summary["surveys_unmatched"]
    assert summary["complaints_kept"] == summary["complaints_linked"] + summary["complaints_unmatched"]
    scores = group_scores(linked, n_boot=50).set_index("group")
    assert scores.loc[BASELINE_CODE, "n_surveyed"] == 3
    assert scores.loc[BASELINE_CODE, "csat_mean"] == pytest.approx(14 / 3)
    assert scores.loc["NET", "n_complaints"] == 2


def test_link_baseline_rule_can_be_chosen():
    complaints, surveys = _customer_tables()
    strict = link(complaints, surveys, "客户号", complaint_id="工单号", baseline="empty-key")
    assert strict.joined["has_complaint"].tolist() == [True, True, False]
    assert strict.unmatched_surveys[["客户号", "as_baseline"]].values.tolist() == [["K8", False], ["K9", False]]
    assert strict.summary()["surveys_unmatched"] == 2
    assert (strict.problems["reason"] == "key not found in complaints").sum() == 2
    by_ticket = link(_complaints(), _surveys().assign(工单号=["C1", "C2", "C3", "ZZ", "", "", "", ""]), "工单号")
    assert by_ticket.baseline_rule == "empty-key" and by_ticket.unmatched_surveys["工单号"].tolist() == ["ZZ"]
    loose = link(complaints, surveys, "客户号", baseline="unmatched")  # no ticket id: K3 repeats are duplicates
    assert loose.summary()["joined_baseline"] == 3 and loose.summary()["complaint_duplicates_dropped"] == 2
    with pytest.raises(ValueError, match="baseline must be one of"):
        link(complaints, surveys, "客户号", baseline="none")
    with pytest.raises(LinkError, match="complaints: no column '单号'"):
        link(complaints, surveys, "客户号", complaint_id="单号")


def test_fractional_scores_are_blanked_and_reported():
    surveys = pd.DataFrame({"工单号": ["C1", "C2", "C3", ""], "CSAT": ["3.5", "4.0", 4, "2"],
                            "NPS": [7.5, 8, 10.0, 9]})
    linked = link(_complaints(), surveys, "工单号")
    problems = linked.problems[linked.problems["reason"] == "score not a whole number"]
    assert problems[["row", "column", "value", "dropped"]].values.tolist() == [[2, "CSAT", "3.5", False],
                                                                               [2, "NPS", "7.5", False]]
    assert linked.joined["CSAT"].tolist()[:3] == [pytest.approx(math.nan, nan_ok=True), 4.0, 4.0]
    assert math.isnan(linked.joined["NPS"].iloc[0]) and linked.joined["NPS"].iloc[1] == 8
    summary = linked.summary()
    assert summary["CSAT_score_not_a_whole_number"] == 1 and summary["NPS_score_not_a_whole_number"] == 1
    assert summary["CSAT_score_out_of_range"] == 0


def test_group_scores_name_categories_nobody_surveyed():
    table = group_scores(link(_complaints(), _surveys(), "工单号"), n_boot=0).set_index("group")
    assert table.loc["QUE", "n_surveyed"] == 0 and table.loc["QUE", "group_name"] == "排队"


def _exclusive(n=3000, seed=2, means=(4.2, 3.0, 3.8)):
    """Every respondent has exactly one complaint: no baseline."""
    rng = np.random.default_rng(seed)
    codes = rng.choice(["BIL", "NET", "QUE"], size=n, p=[0.4, 0.35, 0.25])
    X = pd.DataFrame({code: (codes == code).astype(np.uint8) for code in ["BIL", "NET", "QUE"]})
    y = np.select([codes == "BIL", codes == "NET"], means[:2], means[2]) + rng.normal(0, 0.6, n)
    return X, y, codes


def test_driver_model_without_baseline_measures_effects_from_the_best_category():
    X, y, codes = _exclusive()
    model = DriverModel(n_boot=50).fit(X, y)
    assert model.reference_ == "BIL"  # the highest mean score
    table = model.drivers_table().set_index("driver")
    assert np.isfinite(table["coef"]).all() and table.loc["BIL", "coef"] == 0.0
    assert math.isnan(table.loc["BIL", "coef_low"]) and table.loc["BIL", "note"].startswith("reference")
    for code in ["NET", "QUE"]:
        gap = y[codes == code].mean() - y[codes == "BIL"].mean()
        assert table.loc[code, "coef"] == pytest.approx(gap)
        assert table.loc[code, "coef_low"] <= gap <= table.loc[code, "coef_high"]
    assert model.intercept_ == pytest.approx(y[codes == "BIL"].mean())
    assert model.importance_.sum() == pytest.approx(model.r2_, abs=1e-6)
    np.testing.assert_allclose(model.predict(X), pd.Series(y).groupby(codes).transform("mean"))
    assert model.score(X, y) == pytest.approx(model.r2_)
    chosen = DriverModel(n_boot=0, reference="NET").fit(X, y).drivers_table().set_index("driver")
    assert chosen.loc["BIL", "coef"] == pytest.approx(y[codes == "BIL"].mean() - y[codes == "NET"].mean())
    unreferenced = DriverModel(n_boot=0, reference=None).fit(X, y).drivers_table()
    assert unreferenced["coef"].isna().all()  # collinear with the intercept: the old behaviour, on request
    with pytest.raises(ValueError, match="reference 'SEC' is not a driver"):
        DriverModel(reference="SEC").fit(X, y)


def test_driver_model_with_a_baseline_has_no_reference_and_predicts():
    X, y = _planted(n=2000)
    model = DriverModel(n_boot=0).fit(X, y)
    assert model.reference_ is None and model.identified_.all()
    np.testing.assert_allclose(model.predict(X), model.intercept_ + X.to_numpy() @ model.coef_)
    assert 0 < model.score(X, y) == pytest.approx(model.r2_)
    plain = DriverModel(n_boot=0).fit(X.to_numpy(), y)  # no column names: drivers are x0, x1 …
    assert not hasattr(plain, "feature_names_in_")
    assert plain.drivers_table()["driver"].tolist() == ["x0", "x1", "x2", "x3"]


def test_distinct_rows_and_the_fit_are_those_of_np_unique(monkeypatch):
    rng = np.random.default_rng(7)
    indicators = rng.integers(0, 2, (5000, 6)).astype(float)  # 64 patterns, each repeated many times
    scores = rng.integers(1, 6, 5000).astype(float)
    signed = np.array([[-1.5, 0.0], [2.0, -0.0], [-1.5, 0.0], [0.5, -3.0], [2.0, 0.0], [-0.25, 7.0]])
    # Byte order is not numeric order for negative numbers; -0.0 and 0.0 are one value.
    for rows in (np.column_stack([indicators, scores]), indicators, signed, np.asfortranarray(signed)):
        found, expected = _distinct_rows(rows), np.unique(rows, axis=0, return_counts=True)
        for part, wanted in zip(found, expected):
            np.testing.assert_array_equal(part, wanted)
    fitted = DriverModel(n_boot=50, seed=3).fit(indicators, scores)
    monkeypatch.setattr(driver_model, "_distinct_rows", lambda rows: np.unique(rows, axis=0, return_counts=True))
    before = DriverModel(n_boot=50, seed=3).fit(indicators, scores)
    for attribute in ("importance_", "importance_low_", "importance_high_", "coef_", "coef_low_", "coef_high_",
                      "p_value_", "r2_", "n_with_", "mean_with_", "mean_without_"):
        np.testing.assert_array_equal(getattr(fitted, attribute), getattr(before, attribute), err_msg=attribute)


def test_driver_model_rejects_unusable_input_clearly():
    X, y = _planted(n=50)
    with pytest.raises(ValueError, match="Expected 2D array"):
        DriverModel().fit(X["BIL"].to_numpy(), y)
    with pytest.raises(ValueError, match="0 sample"):
        DriverModel().fit(np.zeros((0, 3)), [])
    with pytest.raises(ValueError, match="Complex data not supported"):
        DriverModel().fit(X.to_numpy() + 1j, y)
    with pytest.raises(TypeError, match="[Ss]parse"):
        DriverModel().fit(sparse.csr_matrix(X.to_numpy()), y)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        DriverModel().fit(X.to_numpy() * np.where(np.arange(50) == 3, np.nan, 1)[:, None], y)
    with pytest.raises(ValueError, match="target y is None"):
        DriverModel().fit(X, None)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        DriverModel().fit(X, y[:-1])
    with pytest.raises(ValueError, match="at least 2 responses with a score"):
        DriverModel().fit(X, np.full(50, np.nan))
    model = DriverModel(n_boot=0).fit(X.to_numpy(), y)
    with pytest.raises(ValueError, match="X has 3 features, but DriverModel is expecting 4"):
        model.predict(X.to_numpy()[:, :3])


def test_driver_model_passes_the_scikit_learn_estimator_checks():
    # Every check applies. NaN scores are accepted by design (missing answers are left out),
    # but an all-NaN or infinite y still fails, which is what check_supervised_y_no_nan asks;
    # check_array_api_input skips itself unless SCIPY_ARRAY_API is set.
    check_estimator(DriverModel())


def test_quadrant_with_one_driver_compares_it_with_the_baseline():
    drivers = pd.DataFrame({"driver": ["BIL"], "importance": [0.5], "mean_with": [2.0]})
    assert quadrant(drivers, baseline=4.5)["quadrant"].tolist() == ["重点改进区"]
    assert quadrant(drivers, baseline=4.5)["performance_split"].iloc[0] == 4.5
    assert quadrant(drivers, baseline=1.5)["quadrant"].tolist() == ["优势区"]
    assert pd.isna(quadrant(drivers)["quadrant"].iloc[0])  # nothing to compare it with
    # From a drivers table: the respondents without the lone category are the baseline.
    assert quadrant(drivers.assign(mean_without=4.4))["quadrant"].tolist() == ["重点改进区"]
    assert pd.isna(quadrant(drivers.assign(mean_without=np.nan))["quadrant"].iloc[0])
    two = pd.DataFrame({"driver": ["BIL", "NET"], "importance": [0.5, 0.1], "mean_with": [2.0, 4.0]})
    assert quadrant(two, baseline=4.5)["performance_split"].iloc[0] == 3.0  # the baseline only when alone


def test_escalation_mentions_count_315_and_12300_only_as_whole_numbers():
    texts = pd.Series(["打12300投诉", "多扣3150元", None, "要去消协", "315晚会曝光", "", "编号123001"], index=range(5, 12))
    found = mentions_escalation(texts)
    assert found.tolist() == [True, False, False, True, True, False, False]
    assert found.index.tolist() == list(range(5, 12))
