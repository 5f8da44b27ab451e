"""``tousu link`` on the demo data (planted effects) and on bad input."""
from __future__ import annotations

import pandas as pd
import pytest
import yaml
from openpyxl import load_workbook

from nlp.paths import data_dir
from tousu.cli import main
from tousu.report import TABLES, build_report

DEMO = data_dir() / "demo"


@pytest.fixture(scope="module")
def demo_report():
    """The report with the true categories as if classified: isolates linkage from classification."""
    complaints = pd.read_csv(DEMO / "complaints.csv", dtype=str).merge(
        pd.read_csv(DEMO / "truth.csv", dtype=str), on="工单号")
    complaints["category"] = complaints["true_category"]
    surveys = pd.read_csv(DEMO / "surveys.csv", dtype=str, keep_default_na=False)
    return build_report(complaints, surveys, n_boot=500)


@pytest.fixture(scope="module")
def planted():
    return yaml.safe_load((DEMO / "planted_effects.yaml").read_text(encoding="utf-8"))


def test_planted_csat_drops_are_recovered_inside_the_intervals(demo_report, planted):
    drivers = demo_report.tables["drivers_csat"].set_index("driver")
    csat = planted["csat"]
    scores = demo_report.tables["category_scores"]
    # Clipping CSAT at 5 pulls the baseline below its latent mean, which shrinks every
    # measured drop by that much; a category's repeat complaints add their penalty.
    clipped = csat["baseline_no_complaint"] - scores.loc[scores["is_baseline"], "csat_mean"].iloc[0]
    for code, drop in csat["drop_by_category"].items():
        expected = -drop - csat["repeat_penalty"] * planted["repeat_rate"][code] + clipped
        low, high = drivers.at[code, "coef_low"], drivers.at[code, "coef_high"]
        assert low - 0.05 <= expected <= high + 0.05, (code, expected, low, high)


def test_planted_order_mis_selling_and_handling_cost_more_than_network(demo_report, planted):
    drivers = demo_report.tables["drivers_csat"].set_index("driver")
    assert drivers.at["MIS", "coef_high"] < drivers.at["NET", "coef_low"]
    assert drivers.at["HDL", "coef_high"] < drivers.at["NET", "coef_low"]
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


@pytest.fixture
def small_tables(tmp_path):
    complaints = pd.DataFrame({
        "工单号": [f"T{i}" for i in range(8)],
        "内容": ["话费乱扣"] * 4 + ["信号差"] * 3 + ["排队太久"],
        "category": ["BIL"] * 4 + ["NET"] * 3 + ["QUE"],
        "category_name": ["资费计费争议"] * 4 + ["网络质量"] * 3 + ["营业厅排队等候"],
        "受理时间": pd.date_range("2026-01-05", periods=8, freq="3D").strftime("%Y-%m-%d %H:%M:%S"),
    })
    surveys = pd.DataFrame({
        "问卷号": [f"S{i}" for i in range(10)],
        "工单号": ["T0", "T1", "T2", "T3", "T4", "T5", "T7", "", "", ""],
        "CSAT": ["1", "2", "1", "2", "4", "3", "2", "5", "4", "5"],
        "NPS": ["0", "3", "2", "5", "8", "7", "4", "10", "9", "10"],
    })
    complaints_path, surveys_path = tmp_path / "classified.csv", tmp_path / "surveys.csv"
    complaints.to_csv(complaints_path, index=False)
    surveys.to_csv(surveys_path, index=False)
    return complaints_path, surveys_path, complaints, surveys


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
