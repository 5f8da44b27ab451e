"""Multi-label drivers (issue 13, points 1 and 2): every category of a complaint is an indicator,
linked by customer the union over the customer's complaints; impact = share × −effect."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from complaint_fixtures import link_into_store

from tousu.analysis.drivers import category_indicators, driver_table
from tousu.analysis.linking import link
from tousu.analysis.report import build_report
from tousu.analysis.scores import group_scores, respondent_categories
from tousu.cli import main
from tousu.explorer import views
from tousu.models.drivers import DRIVER_COLUMNS, IMPACT_COLUMNS
from tousu.store import ResultsStore

PLANTED = {"SAL": -1.6, "CHD": -1.1, "BIL": -0.7, "HOT": -0.4}


def _whole(mean: float, rng) -> int:
    """A whole-point score whose expectation is ``mean`` (randomised rounding): noise without clipping."""
    return int(np.floor(mean) + (rng.random() < mean - np.floor(mean)))


def planted_tables(effects=PLANTED, n_complaints=1200, n_baseline=600, seed=0, base=4.6):
    """Complaints with 1–3 categories each (the first is the primary), CSAT falling additively by
    ``effects`` per category, and respondents without complaint (empty 工单号) at ``base``."""
    rng = np.random.default_rng(seed)
    codes = list(effects)
    complaints, surveys = [], []
    for i in range(n_complaints):
        chosen = list(rng.choice(codes, size=rng.integers(1, 4), replace=False))
        mean = base + sum(effects[code] for code in chosen)
        complaints.append({"工单号": f"T{i}", "客户号": f"K{i}", "内容": "投诉", "category": chosen[0],
                           "category_name": chosen[0], "categories": "|".join(chosen)})
        surveys.append({"问卷号": f"S{i}", "工单号": f"T{i}", "CSAT": _whole(mean, rng),
                        "NPS": _whole(8.0 + 2 * (mean - base), rng)})
    for j in range(n_baseline):
        surveys.append({"问卷号": f"B{j}", "工单号": "", "CSAT": _whole(base, rng), "NPS": _whole(8.0, rng)})
    return pd.DataFrame(complaints), pd.DataFrame(surveys)


@pytest.fixture(scope="module")
def planted():
    return planted_tables()


@pytest.fixture(scope="module")
def reports(planted):
    complaints, surveys = planted
    return {primary: build_report(complaints, surveys, n_boot=200, primary_only=primary)
            for primary in (False, True)}


def test_planted_multi_label_effects_are_recovered_in_order_inside_their_intervals(reports):
    drivers = reports[False].tables["drivers_csat"]
    assert drivers["driver"].tolist() == list(PLANTED)  # by importance, as planted
    by_code = drivers.set_index("driver")
    for code, effect in PLANTED.items():
        assert by_code.at[code, "coef_low"] <= effect <= by_code.at[code, "coef_high"], code
    # The primary category alone carries its companions' effects too: every effect is overstated.
    primary = reports[True].tables["drivers_csat"].set_index("driver")
    assert (primary.loc[list(PLANTED), "coef"] < by_code.loc[list(PLANTED), "coef"] - 0.2).all()
    assert reports[False].summary["driver_categories"] == "all"
    assert reports[True].summary["driver_categories"] == "primary"


def test_impact_is_share_times_minus_effect_inside_its_interval(reports):
    report = reports[False]
    for score in ("csat", "nps"):
        drivers = report.tables[f"drivers_{score}"]
        assert list(drivers.columns[-3:]) == IMPACT_COLUMNS  # appended after every existing column
        assert list(drivers.columns[:-3]) == ["driver", "driver_name", *DRIVER_COLUMNS[1:-3], "method"]
        respondents = report.summary["joined_rows"]
        share = drivers["n_with"] / respondents
        np.testing.assert_allclose(drivers["impact"], share * -drivers["coef"], rtol=1e-12)
        assert ((drivers["impact_low"] <= drivers["impact"]) & (drivers["impact"] <= drivers["impact_high"])).all()
    csat = report.tables["drivers_csat"].set_index("driver")
    assert csat["impact"].idxmax() == "SAL" and (csat["impact"] > 0).all()
    assert "impact" in report.tables["quadrant"]


def test_single_category_data_give_exactly_the_primary_only_results(planted):
    complaints, surveys = planted
    single = complaints.assign(categories=complaints["category"])
    multi = build_report(single, surveys, n_boot=100)
    primary = build_report(single, surveys, n_boot=100, primary_only=True)
    for table in ("drivers_csat", "drivers_nps", "quadrant", "category_scores"):
        pd.testing.assert_frame_equal(multi.tables[table], primary.tables[table])
    # And without a categories column at all.
    bare = build_report(complaints.drop(columns="categories"), surveys, n_boot=100)
    pd.testing.assert_frame_equal(bare.tables["drivers_csat"], primary.tables["drivers_csat"])


def test_multi_label_category_scores_count_a_response_in_each_of_its_categories(reports, planted):
    complaints, _ = planted
    scores = reports[False].tables["category_scores"].set_index("group")
    listed = complaints["categories"].str.split("|").explode().value_counts()
    assert scores.loc[list(PLANTED), "n_complaints"].tolist() == listed[list(PLANTED)].tolist()
    assert scores.loc[list(PLANTED), "n_surveyed"].tolist() == listed[list(PLANTED)].tolist()
    assert scores.at["SAL", "share"] == pytest.approx(listed["SAL"] / len(complaints))
    drivers = reports[False].tables["drivers_csat"].set_index("driver")
    assert scores.loc[list(PLANTED), "csat_mean"].tolist() == pytest.approx(
        drivers.loc[list(PLANTED), "mean_with"].tolist())


def _customer_tables():
    """K1 files BIL, then NET|PRV; K2 files NET; N1–N3 filed none."""
    complaints = pd.DataFrame({
        "工单号": ["T1", "T2", "T3"], "客户号": ["K1", "K1", "K2"], "内容": ["话费", "信号", "信号"],
        "category": ["BIL", "NET", "NET"], "category_name": ["资费", "网络", "网络"],
        "categories": ["BIL", "NET|PRV", "NET"],
        "受理时间": ["2026-01-05 09:00:00", "2026-01-06 09:00:00", "2026-01-07 09:00:00"]})
    surveys = pd.DataFrame({"问卷号": ["S1", "S2", "S3", "S4", "S5"], "客户号": ["K1", "K2", "N1", "N2", "N3"],
                            "CSAT": ["1", "3", "5", "4", "5"], "NPS": ["2", "6", "9", "10", "8"]})
    return complaints, surveys


def test_linked_by_customer_a_respondent_has_the_union_of_the_customers_categories():
    complaints, surveys = _customer_tables()
    linked = link(complaints, surveys, key="客户号", complaint_id="工单号")
    labels = dict(zip(linked.joined["客户号"], respondent_categories(linked)))
    assert labels == {"K1": ("BIL", "NET", "PRV"), "K2": ("NET",), "N1": (), "N2": (), "N3": ()}
    assert dict(zip(linked.joined["客户号"], respondent_categories(linked, primary_only=True)))["K1"] == ("BIL",)
    indicators = category_indicators(linked)
    assert indicators.columns.tolist() == ["BIL", "NET", "PRV"]
    assert indicators.to_numpy().tolist() == [[1, 1, 1], [0, 1, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0]]
    assert category_indicators(linked, primary_only=True).columns.tolist() == ["BIL", "NET"]
    scores = group_scores(linked, n_boot=0).set_index("group")
    assert scores.at["NET", "n_surveyed"] == 2 and scores.at["NET", "csat_mean"] == 2.0
    assert scores.at["PRV", "n_surveyed"] == 1 and scores.at["NET", "n_complaints"] == 2
    drivers, _ = driver_table(linked, "CSAT", n_boot=0)
    assert drivers.set_index("driver").at["NET", "n_with"] == 2


def test_primary_only_through_the_cli_gives_todays_drivers(tmp_path):
    complaints, surveys = planted_tables(n_complaints=200, n_baseline=100)
    complaints.to_csv(tmp_path / "classified.csv", index=False)
    surveys.to_csv(tmp_path / "surveys.csv", index=False)
    runs = {}
    for name, options in (("multi", []), ("primary", ["--primary-only"])):
        out = tmp_path / name
        assert main(["link", str(tmp_path / "classified.csv"), str(tmp_path / "surveys.csv"), "-o", str(out),
                     "--no-charts", *options]) == 0
        runs[name] = pd.read_csv(out / "drivers_csat.csv")
    # Today's behaviour: the drivers of the primary category alone, as before the categories column counted.
    today = build_report(complaints.drop(columns="categories"), surveys.astype(str), n_boot=0).tables["drivers_csat"]
    primary = runs["primary"].set_index("driver")
    assert primary["n_with"].to_dict() == today.set_index("driver")["n_with"].to_dict()
    np.testing.assert_allclose(primary.loc[today["driver"], "coef"], today["coef"], rtol=1e-9)
    assert (runs["multi"]["n_with"].sum() > primary["n_with"].sum())


def test_the_explorer_computes_the_reports_multi_label_drivers_linked_by_customer(tmp_path):
    complaints, surveys = _customer_tables()
    rng = np.random.default_rng(3)
    extra = pd.DataFrame({"工单号": [f"X{i}" for i in range(30)], "客户号": [f"C{i}" for i in range(30)],
                          "内容": "投诉", "category": rng.choice(["BIL", "NET"], 30), "category_name": "类别",
                          "categories": rng.choice(["BIL|PRV", "NET", "BIL", "NET|PRV|BIL"], 30),
                          "受理时间": "2026-01-08 09:00:00"})
    complaints = pd.concat([complaints, extra], ignore_index=True)
    complaints["category_name"] = complaints["category"].map({"BIL": "资费", "NET": "网络"})
    surveys = pd.concat([surveys, pd.DataFrame({"问卷号": [f"R{i}" for i in range(30)],
                                                "客户号": [f"C{i}" for i in range(30)],
                                                "CSAT": rng.integers(1, 6, 30).astype(str),
                                                "NPS": rng.integers(0, 11, 30).astype(str)})], ignore_index=True)
    surveys["调查时间"] = "2026-02-01 10:00"
    path, out = link_into_store(tmp_path, complaints, surveys, "--key", "客户号")
    report = pd.read_csv(out / "drivers_csat.csv").set_index("driver")
    with ResultsStore(path, read_only=True) as results:
        joined = results.joined_scores(columns=views.SCORE_COLUMNS)
        drivers, quadrant, _ = views.driver_tables(joined, results.category_names(), "CSAT")
        primary, _, _ = views.driver_tables(joined, results.category_names(), "CSAT", primary_only=True)
    shown = drivers.set_index("driver")
    assert set(shown.index) == set(report.index) == {"BIL", "NET", "PRV"}
    columns = ["importance", "coef", "coef_low", "coef_high", "n_with", "mean_with", "impact"]
    pd.testing.assert_frame_equal(shown.loc[report.index, columns], report[columns], check_dtype=False)
    assert "PRV" not in set(primary["driver"])
    assert views.sorted_drivers(drivers, "整体提升潜力")["impact"].is_monotonic_decreasing
    assert "impact" in quadrant


def test_the_quadrant_chart_sizes_each_point_by_its_impact(reports):
    from tousu.analysis.charts import IMPACT_SIZES, quadrant_chart

    quadrant = reports[False].tables["quadrant"]
    spec = quadrant_chart(quadrant).to_dict()
    points = next(layer for layer in spec["layer"] if layer["mark"]["type"] == "circle")
    assert points["encoding"]["size"]["field"] == "point_size"
    rows = [row for data in spec["datasets"].values() for row in data if "point_size" in row]
    sizes = {row["driver"]: row["point_size"] for row in rows}
    assert sizes["SAL"] == pytest.approx(IMPACT_SIZES[1]) and sizes["SAL"] > sizes["CHD"] > sizes["BIL"] > sizes["HOT"]


def test_nps_effects_and_impact_are_in_nps_points():
    """An analyst reads NPS in points (−100..100), not in 0–10 answers: with one category,
    its effect is its NPS minus the baseline's, and its impact how far the overall NPS would rise."""
    complaints = pd.DataFrame({"工单号": ["T1", "T2"], "内容": ["话费", "话费"], "category": "BIL",
                               "category_name": "资费", "categories": "BIL"})
    surveys = pd.DataFrame({"问卷号": [f"S{i}" for i in range(6)], "工单号": ["T1", "T2", "", "", "", ""],
                            "CSAT": ["2", "2", "5", "5", "4", "5"], "NPS": ["6", "8", "9", "10", "7", "10"]})
    linked = link(complaints, surveys, key="工单号")
    bil = driver_table(linked, "NPS", n_boot=0)[0].set_index("driver").loc["BIL"]
    # BIL: one detractor, one passive: NPS −50; the baseline: three promoters of four, NPS 75.
    assert bil["coef"] == pytest.approx(-125) and bil["mean_with"] == pytest.approx(-50)
    overall = (-100 + 0 + 100 + 100 + 0 + 100) / 6
    assert bil["impact"] == pytest.approx((2 * 75 + 4 * 75) / 6 - overall)
