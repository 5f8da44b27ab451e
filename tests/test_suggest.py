"""Which complaints to label next: the rule (models/active.py), `tousu suggest`, and the
explorer's 下一批待标注 on the model page."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from embedders import TEST_EMBEDDER

from tousu.cli import main
from tousu.jobs.classify import classify_job
from tousu.jobs.suggest import SUGGESTION_COLUMNS, suggest_job
from tousu.jobs.train import read_corrections, train_job
from tousu.models.active import margin_uncertainty, suggest_for_labelling
from tousu.store import ResultsStore

PHONE = "13812345678"
APP = Path(__file__).resolve().parent.parent / "app.py"


def proba_with_margins(margins) -> np.ndarray:
    """Three-class probabilities whose top two differ by each of ``margins``."""
    margins = np.asarray(margins, dtype=float)
    second = (1 - margins) / 2 - 0.01
    return np.column_stack([second + margins, second, 1 - 2 * second - margins])


def clustered(sizes, seed=0) -> np.ndarray:
    """Unit vectors in tight groups of ``sizes``, each group around its own axis."""
    rng = np.random.default_rng(seed)
    rows = [np.eye(8)[group] + 0.01 * rng.standard_normal((size, 8)) for group, size in enumerate(sizes)]
    vectors = np.vstack(rows)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


# ----------------------------------------------------------------------------- the rule
def test_margin_uncertainty_is_one_for_a_tie_and_zero_when_sure():
    proba = np.array([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0], [0.2, 0.5, 0.3]])
    assert margin_uncertainty(proba) == pytest.approx([1.0, 0.0, 0.8])


def test_the_most_uncertain_complaints_come_first():
    margins = np.linspace(0.0, 0.9, 20)  # row 0 is a tie, row 19 nearly sure
    picked, uncertainty = suggest_for_labelling(proba_with_margins(margins), clustered([20]), 4,
                                                candidates_per_pick=1)
    assert picked.tolist() == [0, 1, 2, 3]
    assert uncertainty == pytest.approx(1 - margins[:4])
    # With diversity, the 4 picks come from the 4 * 5 most uncertain of 40 rows, most uncertain first.
    margins = np.linspace(0.0, 0.9, 40)
    picked, uncertainty = suggest_for_labelling(proba_with_margins(margins), clustered([10, 10, 10, 10]), 4,
                                                candidates_per_pick=5)
    assert len(set(picked)) == 4 and picked.max() < 20
    assert np.all(np.diff(uncertainty) <= 0)


def test_identical_texts_are_never_picked_twice_nor_one_already_labelled():
    texts = ["话费多扣了", "话费多扣了", "话费多扣了", "信号差", "信号差", "营业厅排队", "营业厅排队", "骚扰电话"]
    proba = proba_with_margins([0.0, 0.0, 0.0, 0.05, 0.05, 0.1, 0.1, 0.9])
    picked, _ = suggest_for_labelling(proba, clustered([8]), 8, texts=texts)
    chosen = [texts[i] for i in picked]
    assert sorted(chosen) == sorted(set(texts)) and len(chosen) == len(set(chosen))
    picked, _ = suggest_for_labelling(proba, clustered([8]), 8, texts=texts, already_labelled=[4])
    assert "信号差" not in [texts[i] for i in picked]  # row 3 has the text of the labelled row 4
    mask = np.zeros(8, dtype=bool)
    mask[[0, 7]] = True
    picked, _ = suggest_for_labelling(proba, clustered([8]), 8, texts=texts, already_labelled=mask)
    assert sorted(texts[i] for i in picked) == ["信号差", "营业厅排队"]


def test_picks_spread_over_clusters_instead_of_near_duplicates():
    vectors = clustered([10, 10, 10])
    # The first cluster is a little more uncertain than the others, all of it.
    margins = np.r_[np.full(10, 0.05), np.full(10, 0.10), np.full(10, 0.15)] + np.linspace(0, 0.01, 30)
    proba = proba_with_margins(margins)
    plain, _ = suggest_for_labelling(proba, vectors, 3, candidates_per_pick=1)
    assert sorted(row // 10 for row in plain) == [0, 0, 0]
    diverse, _ = suggest_for_labelling(proba, vectors, 3, candidates_per_pick=10)
    assert sorted(row // 10 for row in diverse) == [0, 1, 2]
    assert diverse[0] == 0  # the most uncertain complaint of all still comes first


def test_asking_for_more_than_the_pool_gives_every_eligible_complaint():
    texts = ["甲", "乙", "乙", "丙"]
    proba = proba_with_margins([0.3, 0.2, 0.1, 0.0])
    picked, uncertainty = suggest_for_labelling(proba, clustered([4]), 50, texts=texts, already_labelled=[0])
    assert picked.tolist() == [3, 1] and len(uncertainty) == 2
    assert len(suggest_for_labelling(proba, clustered([4]), 0).indices) == 0
    assert len(suggest_for_labelling(np.zeros((0, 3)), np.zeros((0, 8)), 5).indices) == 0


def test_an_uncertainty_score_of_ones_own_replaces_the_margin():
    proba = proba_with_margins(np.linspace(0.0, 0.9, 10))  # by the margin, row 0 first
    score = np.linspace(0.0, 1.0, 10)  # by this score, row 9 first
    picked, uncertainty = suggest_for_labelling(proba, clustered([10]), 3, uncertainty=score, candidates_per_pick=1)
    assert picked.tolist() == [9, 8, 7]
    assert uncertainty == pytest.approx(score[[9, 8, 7]])
    default, _ = suggest_for_labelling(proba, clustered([10]), 3, candidates_per_pick=1)
    given, _ = suggest_for_labelling(proba, clustered([10]), 3, uncertainty=margin_uncertainty(proba),
                                     candidates_per_pick=1)
    assert default.tolist() == given.tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="uncertainty"):
        suggest_for_labelling(proba, clustered([10]), 3, uncertainty=score[:5])


def test_repeated_vectors_still_give_n_picks():
    vectors = np.repeat(clustered([2]), 10, axis=0)  # 20 rows, only 2 distinct vectors
    picked, _ = suggest_for_labelling(proba_with_margins(np.linspace(0, 0.5, 20)), vectors, 5)
    assert len(picked) == 5 and len(set(picked)) == 5


# ----------------------------------------------------------------------------- tousu suggest
@pytest.fixture(scope="module")
def phoned_complaints(complaints, tmp_path_factory):
    """The shared complaints with a phone number in every text (the empty one stays empty)."""
    table = pd.read_csv(complaints, dtype=str, keep_default_na=False)
    table["内容"] = table["内容"].map(lambda text: f"联系电话{PHONE}，{text}" if text else text)
    path = tmp_path_factory.mktemp("suggest") / "pool.csv"
    table.to_csv(path, index=False)
    return path


def test_cli_writes_the_suggestion_sheet_and_the_quarantine(supervised_model, phoned_complaints, tmp_path, capsys):
    output = tmp_path / "next.csv"
    assert main(["suggest", str(supervised_model), str(phoned_complaints), "-n", "12", "-o", str(output),
                 "--text-col", "内容", "--id-col", "工单号"]) == 0
    printed = capsys.readouterr().out
    assert "rows read: 120  kept: 119  quarantined: 1" in printed and "suggested: 12 of 119" in printed
    sheet = pd.read_csv(output, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert list(sheet.columns) == SUGGESTION_COLUMNS
    assert sheet["rank"].tolist() == [str(i) for i in range(1, 13)]
    assert sheet["id"].is_unique and sheet["text"].is_unique and set(sheet["label"]) == {""}
    assert not sheet["text"].str.contains(PHONE).any() and sheet["text"].str.contains("<PHONE>").all()
    source = pd.read_csv(phoned_complaints, dtype=str)
    assert set(sheet["id"]) <= set(source["工单号"])
    assert set(sheet["suggested_category"]) <= set(source["类别"])
    confidence, uncertainty = sheet["confidence"].astype(float), sheet["uncertainty"].astype(float)
    assert confidence.between(0, 1).all() and uncertainty.between(0, 1).all()
    assert uncertainty.is_monotonic_decreasing
    quarantine = pd.read_csv(tmp_path / "next.quarantine.csv", dtype=str)
    assert quarantine["reason"].tolist() == ["empty text"]


def test_the_labelled_sheet_is_a_corrections_file_and_can_be_excluded_next_time(
        supervised_model, phoned_complaints, complaints, tmp_path, capsys):
    sheet_path = tmp_path / "next.csv"
    summary = suggest_job(supervised_model, phoned_complaints, sheet_path, 10, progress=False)
    assert summary.rows_quarantined == 1
    sheet = pd.read_csv(sheet_path, dtype=str, keep_default_na=False)
    gold = dict(pd.read_csv(complaints, dtype=str)[["工单号", "类别"]].values)
    sheet.loc[:5, "label"] = sheet.loc[:5, "id"].map(gold)  # the analyst labels the first six
    sheet.to_csv(sheet_path, index=False)
    corrections = read_corrections(sheet_path)
    assert corrections["reason"].eq("").sum() == 6 and corrections["reason"].eq("empty label").sum() == 4
    assert main(["train", str(complaints), "--label-col", "类别", "--corrections", str(sheet_path), "-o",
                 str(tmp_path / "retrained"), "--no-topics", "--no-label-issues", "--embedder", TEST_EMBEDDER]) == 0
    assert "corrections: 6 relabelled, 0 added" in capsys.readouterr().out
    again = tmp_path / "again.csv"
    summary = suggest_job(supervised_model, phoned_complaints, again, 10, exclude=[sheet_path], progress=False)
    later = pd.read_csv(again, dtype=str)
    assert not set(later["id"]) & set(sheet.loc[:5, "id"])  # the labelled six are not suggested again
    assert summary.details["excluded"] == "6 complaints already labelled"  # the unlabelled four stay open


@pytest.mark.parametrize("suffix", [".xlsx", ".parquet"])
def test_the_sheet_can_be_excel_or_parquet(supervised_model, complaints, tmp_path, suffix):
    output = tmp_path / f"next{suffix}"
    suggest_job(supervised_model, complaints, output, 5, progress=False)
    sheet = pd.read_excel(output, dtype=str) if suffix == ".xlsx" else pd.read_parquet(output)
    assert list(sheet.columns) == SUGGESTION_COLUMNS and len(sheet) == 5
    assert len(read_corrections(output)) == 5


def test_bad_requests_exit_2(supervised_model, complaints, tmp_path, capsys):
    assert main(["suggest", str(supervised_model), str(complaints), "-n", "5", "-o", str(tmp_path / "x.doc")]) == 2
    assert "cannot write .doc" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="2"):
        main(["suggest", str(supervised_model), str(complaints), "-n", "0", "-o", str(tmp_path / "x.csv")])


# ----------------------------------------------------------------------------- the explorer
@pytest.fixture(scope="module")
def small_store(complaints, tmp_path_factory):
    """A model (test embedder, no topics) and the complaints it classified into a store, one of
    them corrected by an analyst."""
    folder = tmp_path_factory.mktemp("suggest-store")
    model_dir, _ = train_job(complaints, folder / "model" / "v1", label_col="类别", topics=False,
                             embedder=TEST_EMBEDDER, label_issues=False)
    path = folder / "results.duckdb"
    classify_job(model_dir, complaints, folder / "classified.csv", store=path, progress=False)
    corrected = pd.read_csv(folder / "classified.csv", dtype=str)["工单号"].iloc[0]
    with ResultsStore(path) as store:
        store.correct_category(corrected, "NET", "网络")
    return path, model_dir, corrected


def test_the_explorer_list_is_the_same_rule_over_the_stores_complaints(small_store):
    from tousu.explorer import views
    from tousu.models.pipeline import ComplaintModel
    from tousu.store import model_version_key

    path, model_dir, corrected = small_store
    model = ComplaintModel.load(model_dir)
    version = model_version_key(model_dir)
    with ResultsStore(path, hold=False) as store:
        table = views.labelling_suggestions(store, model, version, 200)
        assert list(table.columns) == SUGGESTION_COLUMNS
        assert table.attrs == {"embedded": 0, "pool": 118}  # stored vectors; the corrected one is labelled
        assert corrected not in set(table["id"]) and table["text"].is_unique
        assert len(table) == table["text"].nunique() <= 118
        top = views.labelling_suggestions(store, model, version, 5)
        assert len(top) == 5 and top["uncertainty"].is_monotonic_decreasing
        with store._connected(write=True) as connection:
            connection.execute("DELETE FROM embeddings")
        embedded = views.labelling_suggestions(store, model, version, 5)
    assert embedded.attrs["embedded"] == 119
    # Stored int8 vectors and fresh ones give the same probabilities, so the same most uncertain
    # complaint first (k-means may draw the rest a little differently).
    assert embedded["id"].iloc[0] == top["id"].iloc[0]
    assert embedded["uncertainty"].iloc[0] == pytest.approx(top["uncertainty"].iloc[0], abs=0.01)


@pytest.mark.slow
def test_the_model_page_offers_the_next_batch_to_label(small_store, monkeypatch):
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    path, _, corrected = small_store
    monkeypatch.setenv("TOUSU_STORE", str(path))
    try:
        app = AppTest.from_file(APP, default_timeout=120).run()
        app = app.switch_page("app_pages/model.py").run()
        assert not app.exception and not app.error
        assert "下一批待标注" in [header.value for header in app.subheader]
        app.number_input(key="suggest_n").set_value(7).run()
        app.button(key="suggest").click().run()
        assert not app.exception and not app.error
        shown = next(frame.value for frame in app.dataframe if "不确定度" in frame.value.columns)
        assert len(shown) == 7 and corrected not in set(shown["工单号"])
        assert not shown["内容"].str.contains(PHONE).any()
        assert any(button.label.startswith("下载待标注表") for button in app.get("download_button"))
    finally:
        st.cache_resource.clear()
        st.cache_data.clear()
