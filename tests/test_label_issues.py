"""The ranking behind ``label_issues.csv`` (:mod:`tousu.models.label_issues`), on tiny data."""
from __future__ import annotations

import numpy as np
import pytest
from complaint_fixtures import labelled_complaints
from embedders import TEST_EMBEDDER

from tousu.models.label_issues import (
    EMBEDDING_WEIGHT,
    LABEL_ISSUE_COLUMNS,
    _fold_features,
    _term_counts,
    out_of_fold_proba,
    rank_label_issues,
)
from tousu.models.pipeline import ComplaintModel
from tousu.models.text_features import TextFeatures


def flipped_complaints(every: int = 15):
    """labelled_complaints with every ``every``-th label moved to the next category:
    (ids, texts, noisy labels, flipped row numbers, original labels)."""
    table = labelled_complaints(per_category=20)
    ids, texts, original = table["工单号"].tolist(), table["内容"].tolist(), table["类别"].tolist()
    codes = sorted(set(original))
    flipped = list(range(0, len(texts), every))
    noisy = list(original)
    for row in flipped:
        noisy[row] = codes[(codes.index(original[row]) + 1) % len(codes)]
    return ids, texts, noisy, flipped, original


def test_each_fold_scores_with_the_features_the_classifier_learns_from():
    """Counted once for all folds, the features are those TextFeatures gives when fitted on
    the fold's rows (the columns in another order: the same inner products)."""
    _, texts, _, _, _ = flipped_complaints()
    vectors = np.random.default_rng(0).normal(size=(len(texts), 8)).astype(np.float32)
    train, test = np.arange(0, len(texts), 3), np.setdiff1d(np.arange(len(texts)), np.arange(0, len(texts), 3))
    train_x, test_x = _fold_features(_term_counts(texts), vectors, train, test)
    features = TextFeatures.fit([texts[i] for i in train], EMBEDDING_WEIGHT)
    expected_train = features.transform([texts[i] for i in train], vectors[train])
    expected_test = features.transform([texts[i] for i in test], vectors[test])
    assert train_x.shape == expected_train.shape and test_x.shape == expected_test.shape
    np.testing.assert_allclose((train_x @ train_x.T).toarray(), (expected_train @ expected_train.T).toarray(),
                               atol=1e-6)
    np.testing.assert_allclose((test_x @ train_x.T).toarray(), (expected_test @ expected_train.T).toarray(),
                               atol=1e-6)


def test_out_of_fold_probabilities_are_distributions_that_doubt_the_flipped_labels():
    _, texts, noisy, flipped, _ = flipped_complaints()
    proba, classes = out_of_fold_proba(ComplaintModel(embedder=TEST_EMBEDDER), texts, noisy)
    assert proba.shape == (len(texts), len(classes)) and list(classes) == sorted(set(noisy))
    assert np.allclose(proba.sum(axis=1), 1)
    given = proba[np.arange(len(texts)), np.searchsorted(classes, noisy)]
    clean = np.setdiff1d(np.arange(len(texts)), flipped)
    # Each flipped row is scored by models that never saw its wrong label.
    assert given[flipped].max() < np.median(given[clean])
    assert len(set(np.argsort(given)[:len(flipped)]) & set(flipped)) >= len(flipped) - 1


def test_the_folds_do_not_depend_on_a_fitted_model_and_are_repeatable():
    _, texts, noisy, _, _ = flipped_complaints()
    model = ComplaintModel(embedder=TEST_EMBEDDER)
    first, _ = out_of_fold_proba(model, texts, noisy)
    again, _ = out_of_fold_proba(model, texts, noisy)
    np.testing.assert_allclose(first, again)
    other_folds, _ = out_of_fold_proba(model, texts, noisy, seed=1)
    assert not np.allclose(first, other_folds)


def test_a_label_with_one_row_cannot_be_cross_validated():
    _, texts, noisy, _, _ = flipped_complaints()
    with pytest.raises(ValueError, match="at least 2"):
        out_of_fold_proba(ComplaintModel(embedder=TEST_EMBEDDER), texts, noisy[:-1] + ["独一无二"])


def test_the_ranking_lists_the_flipped_rows_first_with_their_original_label():
    ids, texts, noisy, flipped, original = flipped_complaints()
    proba, classes = out_of_fold_proba(ComplaintModel(embedder=TEST_EMBEDDER), texts, noisy)
    issues = rank_label_issues(ids, texts, noisy, proba, classes)
    assert list(issues.columns) == LABEL_ISSUE_COLUMNS
    assert issues["score"].is_monotonic_increasing and (issues["given_label"] != issues["suggested_label"]).all()
    flipped_ids = {ids[row] for row in flipped}
    # On 120 rows confident learning estimates fewer wrong labels than there are: recall is
    # bounded by that count, but what it lists first is the flipped rows.
    assert len(set(issues["id"]) & flipped_ids) >= len(flipped) // 2
    top = issues.head(len(flipped))
    assert len(set(top["id"]) & flipped_ids) >= len(top) - 1
    original_of = dict(zip(ids, original))
    assert all(row.suggested_label == original_of[row.id] for row in top.itertuples() if row.id in flipped_ids)


def test_each_class_lists_the_rows_least_likely_to_have_its_label():
    """Confident learning pruned by class: in each given class, the rows listed are the ones
    with the lowest probability of that class (less those the model still predicts as it),
    however the other classes share the rest. cleanlab's default (pruning by noise rate) picks
    per (given, suggested) pair by margin instead, and on this data lists some rows that are
    less doubtful than others of their class it leaves out."""
    rng = np.random.default_rng(0)
    classes = np.array(["A", "B", "C", "D"], dtype=object)
    truth = rng.integers(4, size=400)
    proba = rng.dirichlet(np.ones(4) * 0.6, size=400)
    proba[np.arange(400), truth] += 1.5
    proba /= proba.sum(axis=1, keepdims=True)
    given = np.where(rng.random(400) < 0.15, rng.integers(4, size=400), truth)
    ids = [f"r{i}" for i in range(400)]
    issues = rank_label_issues(ids, ["文本"] * 400, classes[given].tolist(), proba, classes)
    assert issues["score"].is_monotonic_increasing and len(issues) > 20
    listed = np.isin(ids, issues["id"])
    score = proba[np.arange(400), given]
    for k in range(4):
        unlisted = (given == k) & ~listed & (proba.argmax(axis=1) != k)
        if listed[given == k].any() and unlisted.any():
            assert score[listed & (given == k)].max() <= score[unlisted].min()
