"""What changed (issue 13 point 3): the shift-share attribution of the change in CSAT and NPS
between two periods, on small synthetic tables with planted mix and rate shifts."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from complaint_fixtures import link_into_store
from openpyxl import load_workbook

from tousu.analysis import charts
from tousu.analysis.change import (
    CHANGE_COLUMNS,
    REGION_CHANGE_COLUMNS,
    change_attribution,
    choose_periods,
    period_name,
    period_start,
    region_change_attribution,
    respondent_frame,
    shift_share,
)
from tousu.analysis.conventions import BASELINE_LABEL, LinkError
from tousu.analysis.report import build_report
from tousu.analysis.scores import nps
from tousu.cli import main

SEGMENTS = ["BIL", "NET", "SAL", "HOT", "ONLY_A", "ONLY_B"]


def random_frame(seed: int) -> pd.DataFrame:
    """Answers in two months, segments of random size and mean; ONLY_A and ONLY_B each answered in one month."""
    rng = np.random.default_rng(seed)
    rows = []
    for period in ("2026-09", "2026-10"):
        for segment in SEGMENTS + [BASELINE_LABEL]:
            if (segment, period) in (("ONLY_A", "2026-10"), ("ONLY_B", "2026-09")):
                continue
            n = int(rng.integers(1, 60))
            rows.append(pd.DataFrame({
                "period": period, "segment": segment,
                "CSAT": rng.integers(1, 6, n).astype(float), "NPS": rng.integers(0, 11, n).astype(float)}))
    frame = pd.concat(rows, ignore_index=True)
    # Some answers lack one score: they count for the other.
    frame.loc[rng.random(len(frame)) < 0.1, "CSAT"] = np.nan
    frame.loc[rng.random(len(frame)) < 0.1, "NPS"] = np.nan
    return frame


@pytest.mark.parametrize("seed", range(6))
def test_the_effects_add_up_exactly_to_the_overall_change(seed):
    frame = random_frame(seed)
    table = change_attribution(frame, "2026-09", "2026-10")
    assert list(table.columns) == CHANGE_COLUMNS
    a, b = frame["period"] == "2026-09", frame["period"] == "2026-10"
    overall = {"CSAT": frame.loc[b, "CSAT"].mean() - frame.loc[a, "CSAT"].mean(),
               "NPS": nps(frame.loc[b, "NPS"]) - nps(frame.loc[a, "NPS"])}
    for score, change in overall.items():
        rows = table[table["score"] == score]
        assert rows["total_effect"].sum() == pytest.approx(change, abs=1e-9)
        assert (rows["mix_effect"] + rows["rate_effect"]).to_numpy() == pytest.approx(rows["total_effect"].to_numpy(),
                                                                                        abs=1e-12)
        assert rows["share_a"].sum() == pytest.approx(1) and rows["share_b"].sum() == pytest.approx(1)
        assert rows["segment"].is_unique and len(rows) == len(SEGMENTS) + 1
        # A segment answered in one period only: no mean there, no rate effect, all mix.
        only_a = rows.set_index("segment").loc["ONLY_A"]
        assert only_a["n_b"] == 0 and only_a["share_b"] == 0 and np.isnan(only_a["mean_b"])
        assert only_a["rate_effect"] == 0 and only_a["total_effect"] == only_a["mix_effect"]
        only_b = rows.set_index("segment").loc["ONLY_B"]
        assert only_b["n_a"] == 0 and np.isnan(only_b["mean_a"]) and only_b["rate_effect"] == 0


def planted(counts_a: dict, counts_b: dict, means_a: dict, means_b: dict) -> pd.DataFrame:
    """Answers whose CSAT is exactly each segment's mean (a mix of two whole scores)."""
    rows = []
    for period, counts, means in (("A", counts_a, means_a), ("B", counts_b, means_b)):
        for segment, n in counts.items():
            low = int(np.floor(means[segment]))
            high_share = means[segment] - low
            k = round(high_share * n)
            rows.append(pd.DataFrame({"period": period, "segment": segment,
                                      "CSAT": [float(low + 1)] * k + [float(low)] * (n - k)}))
    return pd.concat(rows, ignore_index=True)


def test_a_planted_mix_shift_is_mix_in_the_segment_that_grew():
    means = {"SAL": 2.0, "NET": 4.0, BASELINE_LABEL: 4.5}
    frame = planted({"SAL": 100, "NET": 400, BASELINE_LABEL: 500}, {"SAL": 300, "NET": 400, BASELINE_LABEL: 500},
                    means, means)
    table = change_attribution(frame, "A", "B").set_index("segment")
    assert table["rate_effect"].abs().max() < 1e-12  # no segment's mean moved
    assert table["total_effect"].abs().idxmax() == "SAL"
    assert table.loc["SAL", "mix_effect"] < -0.2  # more of the least satisfied: the score falls
    assert table.loc["SAL", "share_b"] > table.loc["SAL", "share_a"]
    overall_a, overall_b = (100 * 2 + 400 * 4 + 500 * 4.5) / 1000, (300 * 2 + 400 * 4 + 500 * 4.5) / 1200
    assert table["total_effect"].sum() == pytest.approx(overall_b - overall_a, abs=1e-12)


def test_a_planted_rate_shift_is_rate_in_the_segment_whose_score_fell():
    counts = {"SAL": 200, "NET": 300, BASELINE_LABEL: 500}
    frame = planted(counts, counts, {"SAL": 3.0, "NET": 4.0, BASELINE_LABEL: 4.5},
                    {"SAL": 3.0, "NET": 2.5, BASELINE_LABEL: 4.5})
    table = change_attribution(frame, "A", "B").set_index("segment")
    assert table["mix_effect"].abs().max() < 1e-12  # no share moved
    assert table.loc["NET", "rate_effect"] == pytest.approx(-1.5 * 0.3)
    assert table.drop(index="NET")["total_effect"].abs().max() < 1e-12
    assert table.index[0] == "NET"  # largest effect first


def test_shift_share_ignores_other_periods_and_missing_values():
    found = shift_share([1, 2, np.nan, 5, 4], ["x", "x", "x", "y", "x"], ["A", "B", "B", "C", "B"], "A", "B")
    assert found.set_index("segment").loc["x", ["n_a", "n_b"]].tolist() == [1, 2]
    assert "y" not in set(found["segment"])
    assert found.attrs["overall_b"] - found.attrs["overall_a"] == pytest.approx(found["total_effect"].sum())


@pytest.mark.parametrize("freq, start, name", [
    ("M", "2026-09-01", "2026-09"), ("W", "2026-09-28", "2026-W40"), ("W", "2026-12-28", "2026-W53"),
    ("Q", "2026-07-01", "2026-Q3"), ("D", "2026-09-15", "2026-09-15")])
def test_periods_are_named_as_freq_names_them(freq, start, name):
    assert period_name(pd.Timestamp(start), freq) == name
    assert period_start(name, freq) == pd.Timestamp(start)
    assert period_start("2026-13", "M") is None and period_start("Sept", "W") is None


# ----------------------------------------------------------------------------- through the report
def tables(survey_dates=True, last_day="2026-10-31"):
    """September and October: in October billing complainants are twice as many and score 1 point lower."""
    rng = np.random.default_rng(0)
    rows, answers = [], []
    days = {"2026-09": pd.date_range("2026-09-01", "2026-09-30"), "2026-10": pd.date_range("2026-10-01", last_day)}
    for month, counts in (("2026-09", {"BIL": 40, "NET": 60, None: 100}), ("2026-10", {"BIL": 80, "NET": 60, None: 100})):
        for category, n in counts.items():
            for _ in range(n):
                day = days[month][int(rng.integers(0, len(days[month])))]
                ticket = f"T{len(rows)}" if category else ""
                csat = {"BIL": 3 if month == "2026-09" else 2, "NET": 4, None: 5}[category]
                if category:
                    rows.append({"工单号": ticket, "category": category,
                                 "category_name": {"BIL": "资费计费争议", "NET": "网络质量"}[category],
                                 "受理时间": f"{day:%Y-%m-%d} 09:00",
                                 "省份": "广东" if len(rows) % 2 else "江苏", "渠道": "10086热线"})
                answers.append({"问卷号": f"S{len(answers)}", "工单号": ticket, "CSAT": str(csat),
                                "NPS": str(int(rng.integers(0, 11))), "调查时间": f"{day:%Y-%m-%d} 18:00"})
    complaints, surveys = pd.DataFrame(rows), pd.DataFrame(answers)
    if not survey_dates:
        surveys = surveys.drop(columns="调查时间")
    return complaints, surveys


def test_the_report_attributes_the_change_to_the_billing_segment():
    complaints, surveys = tables()
    report = build_report(complaints, surveys, freq="M", n_boot=20, compare=("2026-09", "2026-10"))
    table = report.tables["change_attribution"]
    assert list(table.columns) == CHANGE_COLUMNS
    csat = table[table["score"] == "CSAT"].set_index("segment")
    assert set(csat.index) == {"资费计费争议", "网络质量", BASELINE_LABEL}
    assert csat.index[0] == "资费计费争议"
    bil = csat.loc["资费计费争议"]
    assert bil["n_a"] == 40 and bil["n_b"] == 80 and bil["mean_a"] == 3 and bil["mean_b"] == 2
    assert bil["mix_effect"] < 0 and bil["rate_effect"] < 0  # more of them, and lower
    joined = surveys.assign(CSAT=surveys["CSAT"].astype(float), month=surveys["调查时间"].str[:7])
    change = joined.groupby("month")["CSAT"].mean().diff().iloc[-1]
    assert csat["total_effect"].sum() == pytest.approx(change, abs=1e-9)
    assert report.summary["change_periods"] == "2026-09 → 2026-10"
    assert any(note.startswith("change CSAT 2026-09 → 2026-10") for note in report.notes)
    by_region = report.tables["change_attribution_by_region"]
    assert list(by_region.columns) == REGION_CHANGE_COLUMNS
    assert set(by_region["dimension"]) == {"省份", "渠道"}
    for _, part in by_region.groupby(["dimension", "region", "score"]):
        assert part["total_effect"].sum() == pytest.approx(part["region_change"].iloc[0], abs=1e-9)


def test_without_compare_the_last_two_complete_periods_are_used():
    complaints, surveys = tables()
    report = build_report(complaints, surveys, freq="M", n_boot=20)
    assert report.summary["change_periods"] == "2026-09 → 2026-10"  # October reaches its last day
    complaints, surveys = tables(last_day="2026-10-20")
    extra = surveys.iloc[:5].assign(问卷号=lambda t: t["问卷号"] + "x", 工单号="", 调查时间="2026-08-15 10:00")
    report = build_report(complaints, pd.concat([surveys, extra], ignore_index=True), freq="M", n_boot=20)
    assert report.summary["change_periods"] == "2026-08 → 2026-09"  # October is incomplete
    assert any("2026-10" in note and "incomplete" in note for note in report.notes)


def test_the_survey_date_comes_first_then_the_complaint_date():
    complaints, surveys = tables(survey_dates=False)
    report = build_report(complaints, surveys, freq="M", n_boot=20)
    # Without survey dates only complainants have a period; the baseline has none.
    csat = report.tables["change_attribution"].query("score == 'CSAT'")
    assert BASELINE_LABEL not in set(csat["segment"])
    assert any("no usable date" in note for note in report.notes)
    joined = pd.DataFrame({"has": [True, True, False], "d": ["2026-09-03", None, "2026-10-05"],
                           "c": ["2026-10-01", "2026-10-02", None], "category": ["X", "Y", None], "CSAT": [1, 2, 3]})
    frame = respondent_frame(joined, joined["has"], "M", survey_date="d", complaint_date="c")
    assert frame["period"].tolist() == ["2026-09", "2026-10", "2026-10"]
    assert frame.attrs["dated_by_survey"] == 2 and frame.attrs["dated_by_complaint"] == 1


@pytest.mark.parametrize("compare, message", [
    (("2026-09", "2026-12"), ("2026-12: no survey answers in that period; the periods with survey answers are: "
                              "2026-09, 2026-10")),
    (("2026-09", "2026-13"), ("'2026-13' is not a period of --freq M (months like 2026-09); the periods with "
                              "survey answers are: 2026-09, 2026-10")),
    (("2026-W40", "2026-10"), "'2026-W40' is not a period of --freq M"),
    (("2026-10", "2026-10"), "give two different periods"),
])
def test_bad_compare_periods_say_what_is_wrong(compare, message):
    complaints, surveys = tables()
    with pytest.raises(LinkError) as error:
        build_report(complaints, surveys, freq="M", n_boot=20, compare=compare)
    assert message in str(error.value)


def test_no_date_column_is_a_clear_error_with_compare_and_a_note_without():
    complaints, surveys = tables(survey_dates=False)
    complaints = complaints.drop(columns="受理时间")
    with pytest.raises(LinkError, match="no date column: the surveys have no '调查时间'.*the complaints no '受理时间'"):
        build_report(complaints, surveys, freq="M", n_boot=20, compare=("2026-09", "2026-10"))
    report = build_report(complaints, surveys, freq="M", n_boot=20)
    assert "change_attribution" not in report.tables
    assert any(note.startswith("no change attribution: no date column") for note in report.notes)
    with pytest.raises(LinkError, match="no column '回访日期' \\(--survey-date-col\\)"):
        build_report(complaints, surveys, freq="M", n_boot=20, survey_date_col="回访日期")


def test_one_period_only_gives_a_note_or_lists_the_periods():
    frame = pd.DataFrame({"period": ["2026-09"] * 3, "period_start": pd.Timestamp("2026-09-01"), "segment": "x",
                          "CSAT": [1.0, 2.0, 3.0]})
    frame.attrs["latest"] = pd.Timestamp("2026-09-30")
    with pytest.raises(LinkError, match="two complete periods.*are: 2026-09"):
        choose_periods(frame, "M")


def test_link_writes_the_csv_the_sheet_and_the_waterfall(tmp_path, capsys):
    complaints, surveys = tables()
    complaints.to_csv(tmp_path / "classified.csv", index=False)
    surveys.to_csv(tmp_path / "surveys.csv", index=False)
    out = tmp_path / "report"
    assert main(["link", str(tmp_path / "classified.csv"), str(tmp_path / "surveys.csv"), "-o", str(out),
                 "--freq", "M", "--compare", "2026-09", "2026-10", "--no-charts"]) == 0
    assert "change CSAT 2026-09 → 2026-10" in capsys.readouterr().out
    written = pd.read_csv(out / "change_attribution.csv")
    assert list(written.columns) == CHANGE_COLUMNS
    assert list(pd.read_csv(out / "change_attribution_by_region.csv").columns) == REGION_CHANGE_COLUMNS
    sheets = load_workbook(out / "report.xlsx", read_only=True).sheetnames
    assert "变化归因" in sheets and "分地区变化归因" in sheets
    assert main(["link", str(tmp_path / "classified.csv"), str(tmp_path / "surveys.csv"), "-o", str(out),
                 "--freq", "M", "--compare", "2026-08", "2026-10", "--no-charts"]) == 2
    assert "2026-08: no survey answers in that period" in capsys.readouterr().err
    assert main(["link", str(tmp_path / "classified.csv"), str(tmp_path / "surveys.csv"), "-o", str(out),
                 "--freq", "W", "--compare", "2026-09", "2026-10", "--no-charts"]) == 2
    error = capsys.readouterr().err
    assert "'2026-09' is not a period of --freq W (ISO weeks like 2026-W40)" in error and "2026-W40" in error


def test_the_waterfall_steps_run_from_one_period_to_the_other():
    complaints, surveys = tables()
    table = build_report(complaints, surveys, freq="M", n_boot=20).tables["change_attribution"]
    steps = charts.waterfall_steps(table, "CSAT", "2026-09", "2026-10")
    assert steps["label"].tolist()[0] == "2026-09" and steps["label"].tolist()[-1] == "2026-10"
    start, end = steps["delta"].iloc[0], steps["delta"].iloc[-1]
    assert start + steps["delta"].iloc[1:-1].sum() == pytest.approx(end, abs=1e-9)
    chart = charts.waterfall_chart(table, "CSAT", "2026-09", "2026-10").to_dict()
    assert "变化归因" in chart["title"]


@pytest.mark.slow
def test_the_waterfall_is_saved_as_png(tmp_path):
    complaints, surveys = tables()
    table = build_report(complaints, surveys, freq="M", n_boot=20).tables["change_attribution"]
    png, _ = charts.save_chart(charts.waterfall_chart(table, "NPS", "2026-09", "2026-10"), tmp_path / "change_nps")
    assert png.stat().st_size > 1000


def test_region_attribution_skips_regions_answered_in_one_period():
    frame = pd.DataFrame({"period": ["A", "B", "A"], "segment": ["x", "x", "x"], "CSAT": [1.0, 2.0, 3.0],
                          "省份": ["广东", "广东", "江苏"]})
    table = region_change_attribution(frame, "A", "B", dimensions=("省份",), scores=("CSAT",))
    assert table["region"].tolist() == ["广东"] and table["region_change"].iloc[0] == 1.0


def test_the_explorer_computes_the_reports_change_attribution_from_the_store(tmp_path):
    from tousu.explorer import views
    from tousu.store import ResultsStore

    complaints, surveys = tables()
    complaints["内容"] = "话费乱扣"
    path, out = link_into_store(tmp_path, complaints, surveys, "--freq", "M")
    with ResultsStore(path, read_only=True) as results:
        joined = results.joined_scores(columns=views.CHANGE_COLUMNS)
        names = results.category_names()
    assert views.change_periods(joined, names, "M") == (["2026-09", "2026-10"], ("2026-09", "2026-10"))
    shown, by_region, _, overall = views.change_attribution(joined, names, "M", "2026-09", "2026-10")
    report = pd.read_csv(out / "change_attribution.csv")
    pd.testing.assert_frame_equal(shown.reset_index(drop=True), report, check_dtype=False)
    regions = pd.read_csv(out / "change_attribution_by_region.csv")
    pd.testing.assert_frame_equal(by_region.reset_index(drop=True), regions, check_dtype=False)
    mean_a, mean_b, _, _ = overall["CSAT"]
    assert mean_b - mean_a == pytest.approx(report.query("score == 'CSAT'")["total_effect"].sum(), abs=1e-9)
    assert views.change_attribution(joined, names, "M", "2026-09", "2026-12").startswith("2026-12: no survey answers")
