"""The synthetic demo data: reproducible, well-formed, and carrying the effects it says it plants."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import yaml

from tousu.demo.data import (
    CHANNELS,
    COMPLAINT_COLUMNS,
    MULTI_ISSUE_CLAUSES,
    PROVINCES,
    SEGMENTS,
    SURVEY_COLUMNS,
    TOUCHPOINTS,
    TRUTH_COLUMNS,
    generate_demo_data,
    main,
)
from tousu.models.taxonomy import load_taxonomy
from tousu.nlp.paths import PACKAGE_ROOT

FILES = ("complaints.csv", "surveys.csv", "truth.csv", "planted_effects.yaml", "README.md")
SMALL = dict(seed=7, n_complaints=400)


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    """A generation with the default seed and size, as committed under data/demo."""
    return generate_demo_data(tmp_path_factory.mktemp("demo-default"))


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    return generate_demo_data(tmp_path_factory.mktemp("demo-small"), **SMALL)


def read(path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def labelled(paths) -> pd.DataFrame:
    return read(paths["complaints"]).merge(read(paths["truth"]), on="工单号", validate="one_to_one")


def first_keyword_category(text: str, rules: list[tuple[str, str]]) -> str:
    for code, keyword in rules:
        if keyword in text:
            return code
    return "OTH"


def test_the_same_seed_gives_identical_bytes(small_run, tmp_path):
    again = generate_demo_data(tmp_path / "again", **SMALL)
    assert {name: again[name].read_bytes() for name in again} == {name: small_run[name].read_bytes()
                                                                   for name in small_run}
    other = generate_demo_data(tmp_path / "other", seed=8, n_complaints=SMALL["n_complaints"])
    assert other["complaints"].read_bytes() != small_run["complaints"].read_bytes()


def test_the_committed_demo_files_equal_a_fresh_generation(default_run):
    committed = PACKAGE_ROOT / "data" / "demo"
    for name in FILES:
        assert (committed / name).read_bytes() == (default_run["complaints"].parent / name).read_bytes(), (
            f"data/demo/{name} differs from the generator's output; rerun python -m tousu.demo.data")


def test_tables_have_the_documented_columns_types_and_ranges(small_run):
    codes = set(load_taxonomy().codes)
    for key in ("complaints", "surveys", "truth"):
        assert small_run[key].read_bytes().startswith(b"\xef\xbb\xbf"), "UTF-8 with BOM so Excel shows Chinese"
    complaints, surveys, truth = read(small_run["complaints"]), read(small_run["surveys"]), read(small_run["truth"])
    assert tuple(complaints.columns) == COMPLAINT_COLUMNS
    assert tuple(surveys.columns) == SURVEY_COLUMNS
    assert tuple(truth.columns) == TRUTH_COLUMNS
    assert len(complaints) == SMALL["n_complaints"] and complaints["工单号"].is_unique
    assert complaints["工单号"].str.fullmatch(r"GD2026\d{7}").all()
    assert complaints["客户号"].str.fullmatch(r"C\d{7}").all()
    assert (complaints["内容"].str.len() > 0).all()

    created = pd.to_datetime(complaints["受理时间"], format="%Y-%m-%d %H:%M:%S")
    responded = pd.to_datetime(complaints["首次响应时间"].replace("", None), format="%Y-%m-%d %H:%M:%S")
    resolved = pd.to_datetime(complaints["办结时间"].replace("", None), format="%Y-%m-%d %H:%M:%S")
    assert created.min() >= pd.Timestamp("2026-05-01") and created.max() < pd.Timestamp("2026-11-01")
    assert (responded.dropna() > created[responded.notna()]).all()
    assert (resolved.dropna() > responded[resolved.notna()]).all()
    assert resolved[responded.isna()].isna().all(), "a ticket nobody responded to is not resolved"
    assert 0 < responded.isna().sum() and 0 < resolved.isna().sum() < 0.2 * len(complaints)

    assert set(complaints["省份"]) <= set(PROVINCES) and set(complaints["渠道"]) == set(CHANNELS)
    assert set(complaints["客户类型"]) <= set(SEGMENTS) and set(complaints["重复投诉"]) == {"是", "否"}
    assert set(complaints["人工分类"]) <= codes and set(truth["true_category"]) <= codes
    assert list(truth["工单号"]) == list(complaints["工单号"])
    listed = truth["true_categories"].str.split("|")
    assert (listed.str[0] == truth["true_category"]).all() and set(listed.explode()) <= codes

    assert surveys["问卷号"].is_unique and set(surveys["触点"]) <= set(TOUCHPOINTS)
    assert pd.to_datetime(surveys["调查时间"], format="%Y-%m-%d %H:%M:%S").max() < pd.Timestamp("2026-11-01")
    assert set(surveys["CSAT"].astype(int)) <= set(range(1, 6))
    assert set(surveys["NPS"].astype(int)) <= set(range(0, 11))


def test_every_taxonomy_category_is_present(small_run):
    assert set(read(small_run["truth"])["true_category"]) == set(load_taxonomy().codes)


def test_the_true_subcategory_is_a_child_of_the_true_category(default_run):
    taxonomy = load_taxonomy()
    truth = read(default_run["truth"])
    children = {c.code: {child.code for child in c.children} for c in taxonomy.categories}
    for category, subcategory in zip(truth["true_category"], truth["true_subcategory"]):
        assert subcategory in children[category] or (subcategory == "" and category), (category, subcategory)
    with_children = truth["true_category"].map(lambda code: bool(children[code]))
    assert (truth.loc[~with_children, "true_subcategory"] == "").all()
    # Only the very short orders (about 4 %) name no sub-case; every child is written for.
    assert 0.9 < (truth.loc[with_children, "true_subcategory"] != "").mean() < 1
    assert set(truth["true_subcategory"]) - {""} == {code for codes in children.values() for code in codes}


def test_surveys_refer_to_existing_complaints_and_cover_both_groups(default_run):
    complaints, surveys = read(default_run["complaints"]), read(default_run["surveys"])
    after_complaint = surveys[surveys["工单号"] != ""]
    without_complaint = surveys[surveys["工单号"] == ""]
    customer_of = dict(zip(complaints["工单号"], complaints["客户号"]))
    assert after_complaint["工单号"].isin(complaints["工单号"]).all()
    assert (after_complaint["工单号"].map(customer_of) == after_complaint["客户号"]).all()
    assert after_complaint["工单号"].is_unique
    assert 0.6 < len(after_complaint) / len(complaints) < 0.75, "about 70% of complaints get a survey"
    assert len(without_complaint) == 1500
    assert not without_complaint["客户号"].isin(complaints["客户号"]).any()


def test_satisfaction_follows_the_planted_order(default_run):
    effects = yaml.safe_load(default_run["planted_effects"].read_text(encoding="utf-8"))
    surveys = read(default_run["surveys"]).astype({"CSAT": int, "NPS": int})
    truth = read(default_run["truth"])
    scored = surveys.merge(truth, on="工单号", how="left").fillna({"true_category": "none"})
    rng = np.random.default_rng(0)

    def ci(values: np.ndarray) -> tuple[float, float]:
        means = rng.choice(values, size=(1000, len(values))).mean(axis=1)
        return tuple(np.percentile(means, [2.5, 97.5]))

    csat = {code: group["CSAT"].to_numpy() for code, group in scored.groupby("true_category")}
    nps = {code: group["NPS"].to_numpy() for code, group in scored.groupby("true_category")}
    for strong, weak in effects["csat"]["strong_vs_weak_pairs"]:
        assert ci(csat[strong])[1] < ci(csat[weak])[0], f"CSAT of {strong} should be clearly below {weak}"
        assert nps[strong].mean() < nps[weak].mean()
    assert all(csat["none"].mean() > values.mean() for code, values in csat.items() if code != "none")
    assert abs(csat["none"].mean() - effects["csat"]["baseline_no_complaint"]) < 0.3
    order = effects["csat"]["order_by_drop"]
    assert order[:2] == ["MIS", "HDL"] and order.index("NET") > order.index("ATT")


def test_the_growing_category_grows_in_its_window_and_the_rest_stay_flat(default_run):
    growth = yaml.safe_load(default_run["planted_effects"].read_text(encoding="utf-8"))["growth"]
    complaints = labelled(default_run)
    created = pd.to_datetime(complaints["受理时间"])
    before = created < pd.Timestamp(growth["window_start"])
    last_four_weeks = created >= pd.Timestamp(growth["window_end"]) - pd.Timedelta(days=27)
    weeks_before = (pd.Timestamp(growth["window_start"]) - pd.Timestamp("2026-05-01")).days / 7

    def weekly_ratio(code: str) -> float:
        is_code = complaints["true_category"] == code
        return ((is_code & last_four_weeks).sum() / 4) / ((is_code & before).sum() / weeks_before)

    assert weekly_ratio(growth["category"]) > 2
    for code in ("BIL", "NET", "MIS"):
        assert 0.6 < weekly_ratio(code) < 1.5


def test_the_multi_issue_orders_state_both_problems_and_both_drops(default_run):
    effects = yaml.safe_load(default_run["planted_effects"].read_text(encoding="utf-8"))
    multi = effects["multi_issue"]
    first, second = multi["category"], multi["second_category"]
    complaints = labelled(default_run)
    both = complaints["true_categories"] == f"{first}|{second}"
    assert (complaints.loc[~both, "true_categories"] == complaints.loc[~both, "true_category"]).all()
    assert (complaints.loc[both, "true_category"] == first).all()
    # An agent files such an order under either problem.
    filed_second = (complaints.loc[both, "人工分类"] == second).mean()
    assert abs(filed_second - multi["agent_label_second_share"]) < 0.15, filed_second
    share = both.sum() / (complaints["true_category"] == first).sum()
    assert abs(share - multi["share"]) < 0.05, share
    # The text tells the billing problem as before and the rudeness after it.
    texts = complaints.loc[both, "内容"]
    assert texts.map(lambda text: any(clause in text for clause in MULTI_ISSUE_CLAUSES)).all()
    assert texts.str.len().max() <= 400
    surveys = read(default_run["surveys"]).astype({"CSAT": int})
    scored = surveys.merge(complaints[["工单号", "true_category", "true_categories"]], on="工单号")
    alone = scored.loc[scored["true_categories"] == first, "CSAT"]
    together = scored.loc[scored["true_categories"] == f"{first}|{second}", "CSAT"]
    assert len(together) > 60
    # The second problem's drop comes on top of the first's (a little less: CSAT is clipped at 1).
    drop = effects["csat"]["drop_by_category"][second]
    assert multi["csat_drop"] == pytest.approx(effects["csat"]["drop_by_category"][first] + drop)
    assert -drop - 0.35 < together.mean() - alone.mean() < -drop + 0.35, (together.mean(), alone.mean())


def test_the_planted_october_change_is_in_the_tables(default_run):
    change = yaml.safe_load(default_run["planted_effects"].read_text(encoding="utf-8"))["change"]
    month_a, month_b = change["periods"]
    complaints = labelled(default_run)
    created = pd.to_datetime(complaints["受理时间"]).dt.strftime("%Y-%m")
    per_month = pd.crosstab(complaints["true_category"], created)
    grows = change["mix"]["segment"]
    before = per_month.loc[grows].drop(month_b).mean()
    assert 0.75 * change["mix"]["volume_factor"] < per_month.at[grows, month_b] / before < \
        1.25 * change["mix"]["volume_factor"]
    assert per_month[month_b].sum() == pytest.approx(per_month.drop(columns=month_b).sum().mean(), rel=0.15)
    surveys = read(default_run["surveys"]).astype({"CSAT": int}).merge(complaints, on="工单号")
    answered = pd.to_datetime(surveys["调查时间"]).dt.strftime("%Y-%m")
    worse = surveys["true_category"] == change["rate"]["segment"]
    mean_a, mean_b = (surveys.loc[worse & (answered == month), "CSAT"].mean() for month in (month_a, month_b))
    assert mean_b - mean_a < -0.7 * change["rate"]["latent_drop"], (mean_a, mean_b)


def test_service_effects_differ_by_category_as_planted(default_run):
    complaints = labelled(default_run)
    by_category = complaints.groupby("true_category")
    created = pd.to_datetime(complaints["受理时间"])
    response_h = (pd.to_datetime(complaints["首次响应时间"].replace("", None)) - created).dt.total_seconds() / 3600
    slow_share = (response_h > 24).groupby(complaints["true_category"]).mean()
    repeat_share = by_category["重复投诉"].apply(lambda s: (s == "是").mean())
    miit_share = by_category["渠道"].apply(lambda s: (s == "工信部转办").mean())
    # Whole numbers only: phone numbers contain 315 too.
    escalation = by_category["内容"].apply(
        lambda s: s.str.contains(r"工信部|(?<!\d)12300(?!\d)|(?<!\d)315(?!\d)|媒体|曝光|消协").mean())
    assert slow_share["HDL"] > 0.2 and slow_share.drop("HDL").max() < slow_share["HDL"] / 2
    assert min(repeat_share["HDL"], repeat_share["NET"]) > repeat_share.drop(["HDL", "NET", "INS"]).max()
    assert min(miit_share["MIS"], miit_share["HDL"]) > 2 * miit_share.drop(["MIS", "HDL"]).max()
    assert min(escalation["MIS"], escalation["HDL"]) > escalation.drop(["MIS", "HDL"]).max()
    agent_agreement = (complaints["人工分类"] == complaints["true_category"]).mean()
    assert 0.92 < agent_agreement < 0.98


def test_texts_vary_in_length_and_carry_phone_numbers_to_mask(default_run):
    texts = read(default_run["complaints"])["内容"]
    lengths = texts.str.len()
    assert 0.03 < (lengths < 15).mean() < 0.09
    assert 0.10 < ((lengths >= 150) & (lengths <= 400)).mean() < 0.20
    assert lengths.max() <= 400
    assert texts.str.contains(r"1[3-9]\d{9}").mean() > 0.03
    assert not texts.str.contains(r"[{}]").any(), "every template slot is filled"
    assert texts.nunique() > 0.85 * len(texts)


def test_a_first_keyword_rule_cannot_solve_the_texts(default_run):
    rules = [(top.code, keyword) for top in load_taxonomy().categories
             for category in (top, *top.children) for keyword in category.keywords]
    complaints = labelled(default_run)
    predicted = complaints["内容"].map(lambda text: first_keyword_category(text, rules))
    accuracy = (predicted == complaints["true_category"]).mean()
    # Below 70%: wording varies; above 35%: the texts still read like the categories they belong to.
    assert 0.35 < accuracy <= 0.70, accuracy


def test_readme_says_the_data_is_synthetic_and_how_it_was_made(default_run):
    readme = default_run["readme"].read_text(encoding="utf-8")
    assert "SYNTHETIC" in readme and "合成数据" in readme
    assert "python -m tousu.demo.data" in readme and "20261122" in readme
    assert re.search(r"\| MIS \| 营销误导与不知情定制 \| 14% \| −1\.9 \|", readme)


def test_the_module_runs_as_a_command(tmp_path, capsys):
    main(["--out", str(tmp_path), "--seed", "3", "--complaints", "60"])
    assert {path.name for path in tmp_path.iterdir()} == set(FILES)
    assert str(tmp_path / "complaints.csv") in capsys.readouterr().out
    assert len(read(tmp_path / "complaints.csv")) == 60
