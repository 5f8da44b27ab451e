"""``tousu link`` on the demo data (planted effects) and on bad input."""
from __future__ import annotations

import duckdb
import pandas as pd
import pytest
import yaml
from openpyxl import load_workbook

from tousu.analysis.report import TABLES, build_report
from tousu.cli import main
from tousu.nlp.paths import data_dir

DEMO = data_dir() / "demo"


def demo_as_classified() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The demo complaints with the true categories as if classified (every problem a text states
    in ``categories``, as ``classify`` lists them), and the surveys."""
    complaints = pd.read_csv(DEMO / "complaints.csv", dtype=str).merge(
        pd.read_csv(DEMO / "truth.csv", dtype=str), on="工单号")
    complaints["category"] = complaints["true_category"]
    complaints["categories"] = complaints["true_categories"]
    surveys = pd.read_csv(DEMO / "surveys.csv", dtype=str, keep_default_na=False)
    return complaints, surveys


@pytest.fixture(scope="module")
def demo_report():
    """The report with the true categories as if classified: isolates linkage from classification."""
    return build_report(*demo_as_classified(), n_boot=500)


@pytest.fixture(scope="module")
def demo_primary_only():
    return build_report(*demo_as_classified(), n_boot=500, primary_only=True)


@pytest.fixture(scope="module")
def planted():
    return yaml.safe_load((DEMO / "planted_effects.yaml").read_text(encoding="utf-8"))


def expected_csat_effects(report, planted) -> dict[str, float]:
    """The driver effect each planted drop should show: the drop and the category's repeat
    penalty, less what clipping CSAT at 5 takes off the baseline (it shrinks every measured drop
    by that much), and, for the category whose October answers were planted lower, that extra
    drop times the share of its answers given in October."""
    csat = planted["csat"]
    scores = report.tables["category_scores"]
    clipped = csat["baseline_no_complaint"] - scores.loc[scores["is_baseline"], "csat_mean"].iloc[0]
    expected = {code: -drop - csat["repeat_penalty"] * planted["repeat_rate"][code] + clipped
                for code, drop in csat["drop_by_category"].items()}
    rate = planted["change"]["rate"]
    complaints, surveys = demo_as_classified()
    answers = surveys.merge(complaints[["工单号", "true_category"]], on="工单号")
    answers = answers[answers["true_category"] == rate["segment"]]
    in_b = (pd.to_datetime(answers["调查时间"]).dt.strftime("%Y-%m") == planted["change"]["periods"][1]).mean()
    expected[rate["segment"]] -= rate["latent_drop"] * in_b
    return expected


def test_planted_csat_drops_are_recovered_inside_the_intervals(demo_report, planted):
    drivers = demo_report.tables["drivers_csat"].set_index("driver")
    for code, expected in expected_csat_effects(demo_report, planted).items():
        low, high = drivers.at[code, "coef_low"], drivers.at[code, "coef_high"]
        assert low <= expected <= high, (code, expected, low, high)


def test_the_multi_issue_orders_separate_when_every_category_counts(demo_report, demo_primary_only, planted):
    """Billing disputes also met with rudeness (BIL|ATT, drops adding up): counted in both
    categories, both planted drops are recovered; the primary category alone charges the
    rudeness to billing and overstates its drop."""
    multi = planted["multi_issue"]
    first, second = multi["category"], multi["second_category"]
    expected = expected_csat_effects(demo_report, planted)
    every = demo_report.tables["drivers_csat"].set_index("driver")
    primary = demo_primary_only.tables["drivers_csat"].set_index("driver")
    for code in (first, second):
        assert every.at[code, "coef_low"] <= expected[code] <= every.at[code, "coef_high"], code
    # Primary only: the first category's effect mixes in the second's drop on its multi-issue share.
    biased = expected[first] - multi["share"] * planted["csat"]["drop_by_category"][second]
    assert primary.at[first, "coef_high"] < expected[first], (primary.at[first, "coef_high"], expected[first])
    assert primary.at[first, "coef_high"] < every.at[first, "coef_low"]
    assert primary.at[first, "coef_low"] <= biased <= primary.at[first, "coef_high"]
    # The second category's own orders are the same either way; all categories only add its multi-issue ones.
    assert primary.at[second, "coef_low"] <= expected[second] <= primary.at[second, "coef_high"]
    scores = demo_report.tables["category_scores"].set_index("group")
    only = demo_primary_only.tables["category_scores"].set_index("group")
    assert scores.at[first, "n_surveyed"] == only.at[first, "n_surveyed"]
    assert scores.at[second, "n_surveyed"] > only.at[second, "n_surveyed"]


def test_the_planted_month_over_month_cause_is_attributed(planted):
    """Between the two planted months the growing category carries the mix effect, and the
    category whose answers got worse the rate effect, for CSAT and NPS alike."""
    change = planted["change"]
    report = build_report(*demo_as_classified(), n_boot=0, freq=change["freq"], compare=tuple(change["periods"]))
    assert report.summary["change_periods"] == " → ".join(change["periods"])
    table = report.tables["change_attribution"]
    # The demo table has no category_name, so segments are named by their codes.
    grows, worsens = change["mix"]["segment"], change["rate"]["segment"]
    for score in ("CSAT", "NPS"):
        rows = table[table["score"] == score].set_index("segment")
        grown = rows.loc[grows]
        assert grown["share_b"] > 1.5 * grown["share_a"], grown
        # The most negative mix effect, by a clear margin, and much more than its rate effect.
        others = rows["mix_effect"].drop(grows)
        assert grown["mix_effect"] < 2 * others.min() and grown["mix_effect"] < 0, (score, rows)
        assert abs(grown["rate_effect"]) < abs(grown["mix_effect"])
        worse = rows.loc[worsens]
        assert worse["rate_effect"] < 2 * rows["rate_effect"].drop(worsens).min() and worse["rate_effect"] < 0
        assert abs(worse["mix_effect"]) < abs(worse["rate_effect"]) / 4
        assert worse["share_b"] == pytest.approx(worse["share_a"], abs=0.02)
    csat = table[table["score"] == "CSAT"].set_index("segment")
    # The latent drop shows almost whole on the 1-5 scale (rounding and clipping take a little).
    drop = csat.at[worsens, "mean_b"] - csat.at[worsens, "mean_a"]
    assert -1.25 * change["rate"]["latent_drop"] < drop < -0.75 * change["rate"]["latent_drop"], drop


def test_planted_order_mis_selling_and_handling_cost_more_than_network(demo_report, planted):
    drivers = demo_report.tables["drivers_csat"].set_index("driver")
    assert len(planted["csat"]["strong_vs_weak_pairs"]) >= 6
    for strong, weak in planted["csat"]["strong_vs_weak_pairs"]:
        assert drivers.at[strong, "coef_high"] < drivers.at[weak, "coef_low"], (strong, weak)
    top_two = list(demo_report.tables["drivers_csat"]["driver"][:2])
    assert set(top_two) == {"MIS", "HDL"} or "MIS" in top_two
    quadrant = demo_report.tables["quadrant"].set_index("driver")["quadrant"]
    assert quadrant["MIS"] == quadrant["HDL"] == "重点改进区"


def test_the_growing_category_raises_an_alert(demo_report, planted):
    alerts = demo_report.tables["alerts"]
    categories = alerts.loc[alerts["dimension"] == "category", "group"].tolist()
    assert categories[:1] == [planted["growth"]["category"]]


def test_kpis_show_slow_complaint_handling(demo_report):
    kpis = demo_report.tables["kpis"].set_index("group")
    assert kpis.at["HDL", "responded_24h_share"] < kpis.at["(全部)", "responded_24h_share"]
    assert kpis.at["HDL", "repeat_rate"] > kpis.at["(全部)", "repeat_rate"]
    assert kpis.at["MIS", "escalation_rate"] > kpis.at["NET", "escalation_rate"]


def test_counts_add_up(demo_report):
    summary = demo_report.summary
    assert summary["complaint_rows"] == 3000 == demo_report.tables["pareto"]["count"].sum()
    assert summary["survey_rows"] == summary["joined_rows"] + summary["survey_duplicates_dropped"] + \
        summary["surveys_unmatched"]
    assert summary["complaints_linked"] + summary["complaints_unmatched"] == summary["complaints_kept"]


# ----------------------------------------------------------------------------- the command


@pytest.mark.slow
def test_link_writes_csv_xlsx_and_charts(small_tables, tmp_path, capsys):
    complaints_path, surveys_path, *_ = small_tables
    out = tmp_path / "report"
    assert main(["link", str(complaints_path), str(surveys_path), "-o", str(out), "--key", "工单号"]) == 0
    printed = capsys.readouterr().out
    assert "CSAT drivers" in printed and "Pareto A" in printed
    sheets = load_workbook(out / "report.xlsx", read_only=True).sheetnames
    assert "类别满意度" in sheets and "排列图" in sheets and "CSAT驱动因素" in sheets
    assert set(sheets) <= {sheet for sheet, _ in TABLES.values()}
    scores = pd.read_csv(out / "category_scores.csv")
    que = scores.set_index("group").loc["QUE"]
    assert que["n_surveyed"] == 1 and "n=1" in que["note"]  # a category with n=1: reported, no crash
    for chart in ("pareto", "quadrant", "drivers_csat", "category_csat"):
        assert (out / "charts" / f"{chart}.png").stat().st_size > 1000
        assert "vega" in (out / "charts" / f"{chart}.html").read_text(encoding="utf-8")


def test_missing_key_column_is_a_clear_error(small_tables, tmp_path, capsys):
    complaints_path, surveys_path, *_ = small_tables
    assert main(["link", str(complaints_path), str(surveys_path), "-o", str(tmp_path / "r"), "--key", "客户号"]) == 2
    error = capsys.readouterr().err
    assert "客户号" in error and "工单号" in error  # names the missing column and lists what exists


def test_duplicate_keys_and_bad_scores_are_reported_not_dropped(small_tables, tmp_path, capsys):
    complaints_path, surveys_path, complaints, surveys = small_tables
    surveys = pd.concat([surveys, pd.DataFrame({"问卷号": ["S10", "S11", "S12"], "工单号": ["T0", "T6", "T99"],
                                                "CSAT": ["3", "abc", "4"], "NPS": ["5", "11", "8"]})])
    surveys.to_csv(surveys_path, index=False)
    out = tmp_path / "report"
    assert main(["link", str(complaints_path), str(surveys_path), "-o", str(out)]) == 0
    problems = pd.read_csv(out / "problems.csv", dtype=str)
    reasons = set(problems["reason"])
    assert {"duplicate key", "score out of range", "score not a number"} <= reasons
    summary = dict(pd.read_csv(out / "summary.csv", dtype=str).values)
    assert int(summary["survey_rows"]) == 13
    assert int(summary["surveys_unmatched"]) == 1  # T99 is not among the complaints
    assert int(summary["joined_rows"]) + int(summary["survey_duplicates_dropped"]) + \
        int(summary["surveys_unmatched"]) == 13


def test_a_table_without_categories_is_refused(small_tables, tmp_path, capsys):
    complaints_path, surveys_path, complaints, _ = small_tables
    complaints.drop(columns=["category"]).to_csv(complaints_path, index=False)
    assert main(["link", str(complaints_path), str(surveys_path), "-o", str(tmp_path / "r")]) == 2
    assert "tousu classify" in capsys.readouterr().err


# ----------------------------------------------------------------------------- customer keys and baselines


def _customer_tables():
    complaints = pd.DataFrame({
        "工单号": [f"T{i}" for i in range(9)],
        "客户号": ["K1", "K1", "K2", "K3", "K4", "K5", "K6", "K7", "K8"],
        "内容": ["话费乱扣"] * 3 + ["信号差"] * 4 + ["排队太久"] * 2,
        "category": ["BIL"] * 3 + ["NET"] * 4 + ["QUE"] * 2,
        "category_name": ["资费计费争议"] * 3 + ["网络质量"] * 4 + ["营业厅排队等候"] * 2,
        "受理时间": pd.date_range("2026-01-05", periods=9, freq="2D").strftime("%Y-%m-%d %H:%M:%S"),
    })
    surveys = pd.DataFrame({
        "问卷号": [f"S{i}" for i in range(10)],
        "客户号": ["K1", "K2", "K3", "K4", "K5", "K7", "N1", "N2", "N3", "N4"],  # N*: filed no complaint
        "CSAT": ["1", "2", "4", "3", "4", "3", "5", "5", "4", "5"],
        "NPS": ["2", "4", "8", "7", "8", "6", "10", "9", "9", "10"],
    })
    return complaints, surveys


def test_customer_key_join_takes_customers_without_complaint_as_the_baseline(tmp_path, capsys):
    complaints, surveys = _customer_tables()
    complaints.to_csv(tmp_path / "classified.csv", index=False)
    surveys.to_csv(tmp_path / "surveys.csv", index=False)
    out = tmp_path / "report"
    assert main(["link", str(tmp_path / "classified.csv"), str(tmp_path / "surveys.csv"), "-o", str(out),
                 "--key", "客户号", "--no-charts"]) == 0
    printed = capsys.readouterr().out
    assert "4 from customers without complaint (baseline: empty or unmatched 客户号)" in printed
    summary = dict(pd.read_csv(out / "summary.csv", dtype=str).values)
    assert (summary["baseline_rule"], summary["joined_baseline"], summary["surveys_unmatched_baseline"]) == \
        ("unmatched", "4", "4")
    assert summary["complaints_kept"] == "9" and summary["complaints_key_repeated"] == "1"
    unmatched = pd.read_csv(out / "unmatched_surveys.csv", dtype=str)
    assert unmatched["客户号"].tolist() == ["N1", "N2", "N3", "N4"] and set(unmatched["as_baseline"]) == {"True"}
    scores = pd.read_csv(out / "category_scores.csv").set_index("group")
    assert scores.at["NONE", "csat_mean"] == 4.75 and scores.at["BIL", "csat_gap"] == pytest.approx(1.5 - 4.75)
    drivers = pd.read_csv(out / "drivers_csat.csv").set_index("driver")
    assert drivers["coef"].notna().all() and (drivers["coef"] < 0).all()
    assert drivers.at["BIL", "coef"] == pytest.approx(1.5 - 4.75)  # the category's mean minus the baseline's
    assert pd.read_csv(out / "pareto.csv")["count"].sum() == 9  # K1's second complaint still counts
    assert main(["link", str(tmp_path / "classified.csv"), str(tmp_path / "surveys.csv"), "-o", str(out),
                 "--key", "客户号", "--baseline", "empty-key", "--no-charts"]) == 0
    strict = dict(pd.read_csv(out / "summary.csv", dtype=str).values)
    assert (strict["joined_baseline"], strict["surveys_unmatched"]) == ("0", "4")


def test_a_store_that_cannot_be_used_fails_before_the_report_is_written(tmp_path, capsys):
    complaints, surveys = _customer_tables()
    complaints.to_csv(tmp_path / "classified.csv", index=False)
    surveys.to_csv(tmp_path / "surveys.csv", index=False)
    (tmp_path / "notes.duckdb").write_text("hello", encoding="utf-8")
    with duckdb.connect(str(tmp_path / "sales.duckdb")) as connection:
        connection.execute("CREATE TABLE sales (id INTEGER)")
    (tmp_path / "folder").write_text("a file, not a folder", encoding="utf-8")
    for store, message in ((tmp_path / "notes.duckdb", "notes.duckdb: cannot open as a results store"),
                           (tmp_path / "sales.duckdb", "sales.duckdb: a DuckDB database but not a tousu results store"),
                           (tmp_path / "folder" / "results.duckdb", "results.duckdb: cannot make its folder")):
        out = tmp_path / "report"
        assert main(["link", str(tmp_path / "classified.csv"), str(tmp_path / "surveys.csv"), "-o", str(out),
                     "--key", "客户号", "--no-charts", "--store", str(store)]) == 2
        assert message in capsys.readouterr().err
        assert not out.exists()

def test_without_a_baseline_the_report_says_so_and_effects_are_relative_to_the_best_category():
    complaints, surveys = _customer_tables()
    surveys = surveys[~surveys["客户号"].str.startswith("N")]
    report = build_report(complaints, surveys, key="客户号", n_boot=50)
    notes = " ".join(report.notes)
    assert "no respondents without complaint (baseline)" in notes
    assert "difference from 网络质量 (NET), the category with the highest mean CSAT" in notes
    drivers = report.tables["drivers_csat"].set_index("driver")
    assert drivers["coef"].notna().all() and drivers.at["NET", "coef"] == 0
    assert drivers.at["BIL", "coef"] == pytest.approx(1.5 - 11 / 3)  # NET's mean is 11/3
    assert drivers.at["NET", "note"].startswith("reference")
    assert report.summary["driver_reference"] == {"CSAT": "NET", "NPS": "NET"}
    assert report.tables["category_scores"]["csat_gap"].isna().all()
    assert "note" in set(report.tables["summary"]["measure"])  # the notes are in the workbook too


def test_every_sheet_counts_the_same_kept_complaints(small_tables):
    _, _, complaints, surveys = small_tables
    complaints = pd.concat([complaints, complaints.iloc[[0]].assign(category="NET"),  # T0 exported twice
                            pd.DataFrame({"工单号": ["T8", "T9"], "内容": ["x", "y"], "category": ["NET", "QUE"],
                                          "受理时间": ["not a time", ""]})], ignore_index=True)
    report = build_report(complaints, surveys, n_boot=50)
    tables, summary = report.tables, report.summary
    kept = summary["complaints_kept"]
    assert kept == 10 and summary["complaint_duplicates_dropped"] == 1
    assert tables["pareto"]["count"].sum() == kept
    assert tables["kpis"].set_index("group").at["(全部)", "n"] == kept
    assert tables["category_scores"]["n_complaints"].sum() == kept
    assert tables["pareto"].set_index("group").at["BIL", "count"] == 4  # the re-export (as NET) is not counted
    dated = tables["trends"]["count"].sum()
    assert dated + summary["trend_missing_timestamps"] + summary["trend_bad_timestamps"] == kept
    assert (summary["trend_missing_timestamps"], summary["trend_bad_timestamps"]) == (1, 1)
    assert any("1 complaints with an empty 受理时间 and 1 with one that cannot be read" in n for n in report.notes)


def test_growth_alert_notes_reach_the_report(small_tables):
    _, _, complaints, surveys = small_tables
    report = build_report(complaints, surveys, n_boot=0, freq="M", recent_periods=2)
    assert report.summary["recent_periods"] == 2
    # January is the only month and the data stop on the 26th: it is incomplete, so nothing is compared.
    assert any("the last period (2026-01-01) is incomplete" in note for note in report.notes)
    assert any("growth alerts (category): 0 periods: growth needs at least 4" in note for note in report.notes)
    assert any("try a smaller --recent-periods" in note for note in report.notes)


def test_monthly_customer_key_report_on_the_demo_data(planted):
    """--key 客户号 --freq M: the baseline is found, every effect is finite, the rise is flagged."""
    complaints = pd.read_csv(DEMO / "complaints.csv", dtype=str).merge(
        pd.read_csv(DEMO / "truth.csv", dtype=str), on="工单号")
    complaints["category"] = complaints["true_category"]
    surveys = pd.read_csv(DEMO / "surveys.csv", dtype=str, keep_default_na=False)
    report = build_report(complaints, surveys, key="客户号", freq="M", n_boot=50)
    summary = report.summary
    assert summary["joined_baseline"] == planted["no_complaint_respondents"] and summary["complaints_kept"] == 3000
    assert summary["recent_periods"] == 1
    drivers = report.tables["drivers_csat"].set_index("driver")
    assert drivers["coef"].notna().all() and drivers.at["MIS", "coef_high"] < drivers.at["NET", "coef_low"]
    alerts = report.tables["alerts"]
    assert alerts.loc[alerts["dimension"] == "category", "group"].tolist()[:1] == [planted["growth"]["category"]]


def test_nps_only_surveys_say_why_there_is_no_quadrant(small_tables):
    _, _, complaints, surveys = small_tables
    report = build_report(complaints, surveys.drop(columns=["CSAT"]), n_boot=0)
    assert "quadrant" not in report.tables and "drivers_nps" in report.tables
    assert any("no CSAT column" in note for note in report.notes)


def test_one_category_far_below_the_baseline_is_not_a_strength(small_tables):
    _, _, complaints, surveys = small_tables
    report = build_report(complaints.assign(category="BIL", category_name="资费计费争议"), surveys, n_boot=0)
    quadrant = report.tables["quadrant"]
    assert quadrant["quadrant"].tolist() == ["重点改进区"]
    assert quadrant["performance_split"].iloc[0] == pytest.approx(14 / 3)  # the baseline's mean CSAT
    assert any("compared with the baseline" in note for note in report.notes)


def test_the_driver_method_is_recorded(small_tables):
    _, _, complaints, surveys = small_tables
    report = build_report(complaints, surveys, n_boot=0)
    assert set(report.tables["drivers_csat"]["method"]) == {"Shapley值分解（精确）"}
    assert report.summary["driver_method"] == {"CSAT": "shapley", "NPS": "shapley"}
    assert any("exact Shapley decomposition" in note for note in report.notes)


def test_the_quadrant_chart_names_every_category_without_overlap(demo_report):
    from tousu.analysis.charts import LABEL_FONT_SIZE, _label_layout, _text_width
    from tousu.report import report_charts

    quadrant = demo_report.tables["quadrant"]
    spec = report_charts(demo_report)["quadrant"].to_dict()
    shown = {row["name"] for data in spec["datasets"].values() for row in data if "name" in row}
    assert shown == set(quadrant["driver_name"])
    # Crowded points (the 维持区 near the axis) still get separate name boxes.
    crowded = pd.DataFrame({"importance_share": [0.004, 0.005, 0.006, 0.02, 0.4],
                            "performance": [3.70, 3.70, 3.71, 3.78, 2.5], "name": list("ABCDE")})
    crowded["name"] = ["营业厅排队等候", "隐私骚扰与诈骗", "终端与增值业务", "网络质量", "营销误导与不知情定制"]
    layout = _label_layout(crowded, "name", (0.0, 0.45), (2.4, 4.1))
    px_x = layout["label_x"] / 0.45 * 640
    px_y = (4.1 - layout["label_y"]) / 1.7 * 420
    half_w = crowded["name"].map(_text_width) / 2
    for i in range(len(layout)):
        for j in range(i + 1, len(layout)):
            apart_x = abs(px_x[i] - px_x[j]) >= half_w[i] + half_w[j]
            apart_y = abs(px_y[i] - px_y[j]) >= LABEL_FONT_SIZE
            assert apart_x or apart_y, (crowded["name"][i], crowded["name"][j])


def test_demo_refuses_the_tfidf_embedder_before_any_work(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--embedder", "tfidf", "--out", str(out), "--no-explore"]) == 2
    assert "fitted on each input" in capsys.readouterr().err
    assert not out.exists()
