"""Level-2 categories: always a child of the row's level-1 category, empty where it has none;
zero-shot or learnt from a level-2 label column; saved without pickle; reported by evaluate;
kept by the results store and shown by the explorer."""
from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from complaint_fixtures import SUBCATEGORIES, labelled_complaints
from embedders import TEST_EMBEDDER
from sklearn.base import clone

from tousu.cli import main
from tousu.explorer import views
from tousu.jobs.classify import classify_job
from tousu.jobs.evaluate import evaluate_job
from tousu.jobs.train import train_job
from tousu.models.pipeline import OUTPUT_COLUMNS, ComplaintModel
from tousu.models.subcategories import SubcategoryClassifier, subcategory_codes
from tousu.models.taxonomy import load_taxonomy, parse_taxonomy
from tousu.nlp.tables import InputError
from tousu.store import Filters, ResultsStore, StoreError
from tousu.store.schema import SCHEMA_VERSION

LEVEL2 = "子类"
FIXTURES = Path(__file__).parent / "fixtures"
LEGACY_COLUMNS = ["category", "category_name", "confidence", "categories", "topic_id", "topic_label"]


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return labelled_complaints(per_category=20, subcategory_col=LEVEL2)


@pytest.fixture(scope="module")
def labelled_file(table, tmp_path_factory):
    path = tmp_path_factory.mktemp("level2") / "train.csv"
    table.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def supervised_level2(labelled_file, tmp_path_factory):
    """Supervised at both levels (test embedder, no topics)."""
    model_dir, _ = train_job(labelled_file, tmp_path_factory.mktemp("models") / "l2" / "v1", label_col="类别",
                             subcategory_col=LEVEL2, embedder=TEST_EMBEDDER, topics=False, label_issues=False)
    return model_dir


def assert_consistent(predicted: pd.DataFrame, taxonomy) -> None:
    for row in predicted.itertuples():
        children = [c.code for c in taxonomy[row.category].children] if row.category in taxonomy else []
        if children and row.category != taxonomy.other_code:
            assert row.subcategory in children, row
            assert row.subcategory_name == taxonomy.name_of(row.subcategory)
        else:
            assert row.subcategory == "" and row.subcategory_name == "", row


@pytest.mark.parametrize("mode", ["zero-shot", "supervised"])
def test_every_subcategory_is_a_child_of_the_rows_category(table, mode):
    texts = table["内容"].tolist()
    labels = table["类别"].tolist() if mode == "supervised" else None
    model = ComplaintModel(embedder=TEST_EMBEDDER, topics=False).fit(texts, labels, show_progress=False)
    predicted = model.predict(texts)
    assert_consistent(predicted, model.taxonomy_)
    with_children = predicted["category"].isin(["BIL", "MIS", "NET"])
    assert with_children.any() and (predicted.loc[with_children, "subcategory"] != "").all()
    assert (predicted.loc[~with_children, "subcategory"] == "").all()
    assert set(model.subcategory_model_.modes_) == {"BIL", "MIS", "NET"}
    # Whatever level-1 category a row is given, its subcategory is one of that category's children.
    forced = model.subcategory_model_.assign(texts, ["MIS"] * len(texts))["subcategory"]
    assert set(forced) <= set(SUBCATEGORIES["MIS"])


def test_the_catch_all_and_unknown_categories_get_no_subcategory(table):
    texts = table["内容"].tolist()[:10]
    model = ComplaintModel(embedder=TEST_EMBEDDER, topics=False).fit(table["内容"].tolist(), show_progress=False)
    assigned = model.subcategory_model_.assign(texts, ["OTH", "未分类", "HOT", "BIL", "", "NET", "SEC", "X", "MIS", "QUE"])
    assert [bool(s) for s in assigned["subcategory"]] == [False, False, False, True, False, True, False, False, True,
                                                           False]
    assert np.isnan(assigned["confidence"][0]) and 0 < assigned["confidence"][3] <= 1
    model.classifier_.set_params(min_confidence=1.01)  # everything to the catch-all
    predicted = model.predict(texts)
    assert (predicted["category"] == "OTH").all() and (predicted["subcategory"] == "").all()


def test_a_confidence_floor_leaves_the_subcategory_empty_instead_of_guessing(table):
    texts, categories = table["内容"].tolist(), table["类别"].tolist()
    embedder = ComplaintModel(embedder=TEST_EMBEDDER)._embedder()
    sure = SubcategoryClassifier(taxonomy=load_taxonomy(), embedder=embedder).fit(texts, categories)
    never = clone(sure).set_params(min_confidence=1.01).fit(texts, categories)
    assert (sure.predict(texts, categories) != "").sum() == sum(c in SUBCATEGORIES for c in categories)
    assert (never.predict(texts, categories) == "").all()


def test_the_estimator_follows_the_scikit_learn_contract(table):
    embedder = ComplaintModel(embedder=TEST_EMBEDDER)._embedder()
    estimator = SubcategoryClassifier(taxonomy=load_taxonomy(), embedder=embedder, self_training=False, C=2.0)
    assert clone(estimator).get_params()["C"] == 2.0 and not hasattr(estimator, "modes_")
    assert estimator.fit(table["内容"], table["类别"]) is estimator
    assert estimator.modes_ == {"BIL": "zero-shot", "MIS": "zero-shot", "NET": "zero-shot"}
    assert not estimator.coef_  # nothing learnt: the children's descriptions alone
    with pytest.raises(ValueError, match="no level-1 category has children"):
        flat = parse_taxonomy({"name": "flat", "version": 1, "categories": [{"code": "A", "name": "甲"},
                                                                             {"code": "B", "name": "乙"}]})
        SubcategoryClassifier(taxonomy=flat, embedder=embedder).fit(["x"], ["A"])


def test_level2_labels_are_codes_or_names_and_anything_else_is_refused():
    taxonomy = load_taxonomy()
    codes = subcategory_codes(taxonomy, ["BIL.DATA", "退费返还", "", None, float("nan"), "HOT", "网络质量"])
    assert codes.tolist() == ["BIL.DATA", "BIL.REFUND", "", "", "", "", ""]
    with pytest.raises(ValueError, match="'BIL.TYPO'"):
        subcategory_codes(taxonomy, ["BIL.DATA", "BIL.TYPO"])


def test_classify_appends_the_two_columns_after_the_existing_ones(supervised_level2, labelled_file, tmp_path):
    assert OUTPUT_COLUMNS[:6] == LEGACY_COLUMNS and OUTPUT_COLUMNS[6:] == ["subcategory", "subcategory_name"]
    output = tmp_path / "classified.csv"
    classify_job(supervised_level2, labelled_file, output, progress=False)
    result = pd.read_csv(output, dtype=str, keep_default_na=False)
    assert list(result.columns) == ["工单号", "内容", "类别", LEVEL2, *OUTPUT_COLUMNS]
    assert_consistent(result, load_taxonomy())
    # Learnt from the labels, it gives them back on its own training rows.
    labelled = result[LEVEL2] != ""
    assert (result.loc[labelled, "subcategory"] == result.loc[labelled, LEVEL2]).mean() > 0.95


def test_save_and_load_round_trip_without_pickle(supervised_level2, table):
    manifest = json.loads((supervised_level2 / "manifest.json").read_text(encoding="utf-8"))
    assert {"subcategories/subcategories.json", "subcategories/subcategories.npz"} <= set(manifest["files"])
    assert manifest["subcategories"]["modes"] == {"BIL": "supervised", "MIS": "supervised", "NET": "supervised"}
    assert manifest["data"]["subcategory_column"] == LEVEL2
    assert manifest["data"]["subcategory_labels"] == {"rows": 60, "inconsistent_with_label": 0}
    assert manifest["data"]["subcategory_label_counts"]["MIS.UNAUTH"] == 8
    holdout = manifest["metrics"]["holdout"]["subcategory"]
    assert holdout["n"] > 0 and 0 <= holdout["accuracy"] <= holdout["accuracy_given_category_right"] <= 1
    with np.load(supervised_level2 / "subcategories" / "subcategories.npz", allow_pickle=False) as arrays:
        assert all(arrays[name].dtype != object for name in arrays.files)
    texts = table["内容"].tolist()
    first, second = ComplaintModel.load(supervised_level2), ComplaintModel.load(supervised_level2)
    pd.testing.assert_frame_equal(first.predict(texts), second.predict(texts))
    model = ComplaintModel(embedder=TEST_EMBEDDER, topics=False).fit(texts, show_progress=False)
    model.save(Path(supervised_level2).parent / "zero-shot")
    loaded = ComplaintModel.load(Path(supervised_level2).parent / "zero-shot")
    pd.testing.assert_frame_equal(model.predict(texts), loaded.predict(texts))
    assert set(loaded.subcategory_model_.modes_.values()) <= {"self-trained", "zero-shot"}


def test_a_model_saved_before_subcategories_loads_and_gives_empty_columns():
    from tousu import load

    expected = pd.read_csv(FIXTURES / "model-0.1.0.predictions.csv", dtype={"categories": str}, keep_default_na=False)
    model = load(FIXTURES / "model-0.1.0")
    assert model.subcategory_model_ is None
    predicted = model.predict(expected["text"].tolist())
    assert list(predicted.columns) == OUTPUT_COLUMNS
    pd.testing.assert_frame_equal(predicted[LEGACY_COLUMNS[:2] + ["categories"]],
                                  expected[LEGACY_COLUMNS[:2] + ["categories"]])
    assert (predicted["subcategory"] == "").all() and (predicted["subcategory_name"] == "").all()


def test_evaluate_reports_level2_accuracy(supervised_level2, labelled_file, table, tmp_path, capsys):
    report = evaluate_job(supervised_level2, labelled_file, "类别", subcategory_col=LEVEL2)
    level2 = report["subcategory"]
    assert level2["n"] == (table[LEVEL2] != "").sum() == 60
    assert level2["n_category_right"] <= level2["n"] and level2["accuracy"] > 0.95
    assert level2["accuracy_given_category_right"] >= level2["accuracy"]
    assert set(level2["per_class_f1"]) <= {code for codes in SUBCATEGORIES.values() for code in codes}
    assert "subcategory" not in evaluate_job(supervised_level2, labelled_file, "类别")
    # Gold labels may be child names; a column that is not there is named.
    named = table.assign(**{LEVEL2: table[LEVEL2].map(lambda c: load_taxonomy().name_of(c) if c else "")})
    named.to_csv(tmp_path / "named.csv", index=False)
    assert evaluate_job(supervised_level2, tmp_path / "named.csv", "类别", subcategory_col=LEVEL2)[
        "subcategory"]["accuracy"] == level2["accuracy"]
    with pytest.raises(InputError, match="level-2 label column not found"):
        evaluate_job(supervised_level2, labelled_file, "类别", subcategory_col="二级")
    # An old model: the report says why every subcategory is empty.
    old = evaluate_job(FIXTURES / "model-0.1.0", labelled_file, "类别", subcategory_col=LEVEL2)["subcategory"]
    assert old["accuracy"] == 0 and old["empty_share"] == 1 and "no subcategories" in old["note"]


def test_unknown_level2_labels_are_refused_naming_the_file_rows_and_column(table, tmp_path, capsys):
    bad = table.head(18).copy()
    bad.loc[0, "内容"] = ""  # file row 2, quarantined: the rows named are still the file's
    bad.loc[[4, 10], LEVEL2] = ["BIL.TYPO", "网路"]  # file rows 6 and 12
    path = tmp_path / "bad.csv"
    bad.to_csv(path, index=False)
    where = rf"bad\.csv, rows 6, 12, column '{LEVEL2}': level-2 labels that are no subcategory .*'BIL\.TYPO', '网路'"
    with pytest.raises(InputError, match=where) as refused:
        train_job(path, tmp_path / "m" / "v1", label_col="类别", subcategory_col=LEVEL2, embedder=TEST_EMBEDDER,
                  topics=False, label_issues=False)
    assert refused.value.row == [6, 12] and refused.value.column == LEVEL2
    with pytest.raises(InputError, match=where):
        evaluate_job(FIXTURES / "model-0.1.0", path, "类别", subcategory_col=LEVEL2)
    assert main(["evaluate", str(FIXTURES / "model-0.1.0"), str(path), "--label-col", "类别",
                 "--subcategory-col", LEVEL2]) == 2
    assert f"rows 6, 12, column '{LEVEL2}'" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_complaints_a_corrections_file_adds_have_no_level2_label(labelled_file, table, tmp_path):
    corrections = pd.DataFrame({"id": [table["工单号"].iloc[0], "NEW-1"], "text": ["", "营业厅排队等候了半小时"],
                                "label": ["SEC", "QUE"]})
    corrections.to_csv(tmp_path / "labels.csv", index=False)
    _, manifest = train_job(labelled_file, tmp_path / "m" / "v1", label_col="类别", subcategory_col=LEVEL2,
                            corrections=tmp_path / "labels.csv", embedder=TEST_EMBEDDER, topics=False,
                            label_issues=False)
    assert manifest["data"]["corrections"] == {"file": str(tmp_path / "labels.csv"), "relabelled": 1, "appended": 1}
    assert manifest["data"]["subcategory_labels"]["rows"] == (table[LEVEL2] != "").sum()


def test_the_commands_take_a_subcategory_column(labelled_file, tmp_path, capsys):
    model_dir = tmp_path / "m" / "v1"
    assert main(["train", str(labelled_file), "--label-col", "类别", "--subcategory-col", LEVEL2, "--embedder",
                 TEST_EMBEDDER, "--no-topics", "--no-label-issues", "-o", str(model_dir)]) == 0
    assert "holdout level 2" in capsys.readouterr().out
    assert main(["evaluate", str(model_dir), str(labelled_file), "--label-col", "类别",
                 "--subcategory-col", LEVEL2]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["subcategory"]["n"] == 60
    # Zero-shot level 1 with supervised level 2.
    assert main(["train", str(labelled_file), "--subcategory-col", LEVEL2, "--embedder", TEST_EMBEDDER,
                 "--no-topics", "-o", str(tmp_path / "z" / "v1")]) == 0
    manifest = json.loads((tmp_path / "z" / "v1" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["mode"] == "zero-shot" and set(manifest["subcategories"]["modes"].values()) == {"supervised"}
    bad = pd.read_csv(labelled_file).assign(**{LEVEL2: "BIL.NOPE"})
    bad.to_csv(tmp_path / "bad.csv", index=False)
    assert main(["train", str(tmp_path / "bad.csv"), "--subcategory-col", LEVEL2, "--embedder", TEST_EMBEDDER,
                 "--no-topics", "-o", str(tmp_path / "b" / "v1")]) == 2
    assert "'BIL.NOPE'" in capsys.readouterr().err


@pytest.fixture
def classified_level2(supervised_level2, labelled_file, tmp_path):
    output = tmp_path / "classified.csv"
    classify_job(supervised_level2, labelled_file, output, progress=False)
    return pd.read_csv(output, dtype=str, keep_default_na=False)


def test_the_store_keeps_subcategories_and_a_correction_clears_them(classified_level2, tmp_path):
    with ResultsStore(tmp_path / "results.duckdb") as store:
        store.upsert_complaints(classified_level2, text_column="内容", id_column="工单号")
        stored = store.query("SELECT id, category, subcategory, subcategory_name FROM complaints ORDER BY id")
        expected = classified_level2.sort_values("工单号")
        assert stored["subcategory"].fillna("").tolist() == expected["subcategory"].tolist()
        assert stored.loc[stored["category"] == "HOT", "subcategory"].isna().all()  # none, not ""
        bil = stored[stored["category"] == "BIL"]["id"].iloc[0]
        kept = store.complaint(bil)["subcategory"]
        store.correct_category(bil, "BIL", "资费计费争议")  # the same category keeps its child
        assert store.complaint(bil)["subcategory"] == kept
        store.correct_category(bil, "NET", "网络质量")
        assert store.complaint(bil)["subcategory"] is None and store.complaint(bil)["subcategory_name"] is None
        store.upsert_complaints(classified_level2, text_column="内容", id_column="工单号")
        assert store.complaint(bil)["category"] == "NET" and store.complaint(bil)["subcategory"] is None
        shown = views.complaint_table(store.complaints(limit=None))
        assert "子类" in shown.columns and list(shown.columns).index("子类") == list(shown.columns).index("类别") + 1
        assert {"子类代码", "子类"} <= set(views.export_table(store, Filters()).columns)


def test_a_schema_4_store_is_upgraded_with_empty_subcategories(classified_level2, tmp_path):
    path = tmp_path / "old.duckdb"
    old = classified_level2.drop(columns=["subcategory", "subcategory_name"])
    with ResultsStore(path) as store:
        store.upsert_complaints(old, text_column="内容", id_column="工单号")
    with duckdb.connect(str(path)) as connection:  # back to what schema 4 stored
        connection.execute("ALTER TABLE complaints DROP COLUMN subcategory")
        connection.execute("ALTER TABLE complaints DROP COLUMN subcategory_name")
        connection.execute("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="schema 4 predates"):
        ResultsStore(path, read_only=True)
    with ResultsStore(path) as store:
        assert store.count() == len(classified_level2)
        assert store.query("SELECT count(*) AS n FROM complaints WHERE subcategory IS NOT NULL")["n"][0] == 0
        assert store.query("SELECT value FROM meta WHERE key = 'schema_version'")["value"][0] == str(SCHEMA_VERSION)
        store.upsert_complaints(classified_level2, text_column="内容", id_column="工单号")
        assert store.query("SELECT count(*) AS n FROM complaints WHERE subcategory IS NOT NULL")["n"][0] == 60
    ResultsStore(path, read_only=True).close()
