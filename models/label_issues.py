"""Training labels the model doubts: confident learning over out-of-fold probabilities.

Each training row is scored by models that did not see it: ``folds``-fold cross-validation,
repeated over :data:`REPEATS` draws of the folds and averaged, of a multinomial logistic
regression over the complaint model's own features (character 1–3-gram TF-IDF, jieba word
TF-IDF and the centred sentence embedding scaled by :data:`EMBEDDING_WEIGHT`: the
:class:`~tousu.models.text_features.TextFeatures` the classifier learns from, refitted in every
fold). Confident learning (cleanlab, Northcutt et al., 2021, pruned by class) then flags, in
each given class, as many rows as it estimates that class has wrong labels, those least likely
to have it, and they are ranked by self-confidence: the out-of-fold probability of the given
label, lowest (most doubtful) first.

Why not the classifier itself with cleanlab's defaults: its linear SVM, turned into
probabilities by one fitted temperature, ranks the most doubtful rows worse than log-loss
probabilities do, and the default filter (pruning by noise rate, which picks per pair of given
and suggested label) drops about a fifth of the truly flipped rows before ranking. On the
1,200 tuning rows of COCC with 5 % of the labels flipped (6 noisy copies), the share of flipped
rows among the first k went from 0.68 (classifier, default filter) to 0.78; see
``bench/README.md`` for the rows it was not tuned on.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from tousu.models.text_features import CHAR_NGRAMS, min_document_frequency

LABEL_ISSUE_COLUMNS = ["id", "given_label", "suggested_label", "score", "suggested_score", "text"]
FOLDS = 5
#: Cross-validation runs, each with its own shuffled folds, whose probabilities are averaged: a
#: row's score then depends less on which other rows happened to share its fold.
REPEATS = 3
#: Inverse regularisation of the scoring logistic regression, and the scale of the embedding
#: block next to the two TF-IDF blocks (both chosen on the COCC tuning rows).
C = 10.0
EMBEDDING_WEIGHT = 0.5
FILTER = "prune_by_class"
METHOD = (f"confident learning (cleanlab, {FILTER}) on out-of-fold probabilities ({FOLDS} folds, averaged over "
          f"{REPEATS} fold draws) of a logistic regression over the model's features (char n-grams, jieba words, "
          "embedding), by self-confidence")


def _term_counts(texts: list[str]) -> list[sparse.csr_matrix]:
    """Character n-gram and jieba word counts of every text, counted once for all the folds
    (labels play no part in them; each fold keeps and weighs the terms of its own rows)."""
    from tousu.nlp.segment import get_segmenter

    return [CountVectorizer(analyzer="char", ngram_range=CHAR_NGRAMS).fit_transform(texts),
            CountVectorizer(analyzer=get_segmenter().cut).fit_transform(texts)]


def _fold_features(counts: list[sparse.csr_matrix], vectors: np.ndarray, train: np.ndarray, test: np.ndarray):
    """(train, test) feature matrices, the same as :class:`~tousu.models.text_features.TextFeatures`
    fitted on the ``train`` rows gives (up to the order of the columns): TF-IDF with sublinear
    counts over the terms in enough of those rows (:func:`min_document_frequency`), beside the embedding
    scaled by :data:`EMBEDDING_WEIGHT`. Built from counts made once, the folds do not segment
    every text again."""
    min_df = min_document_frequency(len(train))
    train_blocks, test_blocks = [], []
    for matrix in counts:
        kept = np.flatnonzero(np.asarray((matrix[train] > 0).sum(axis=0)).ravel() >= min_df)
        weights = TfidfTransformer(sublinear_tf=True).fit(matrix[train][:, kept])
        train_blocks.append(weights.transform(matrix[train][:, kept]))
        test_blocks.append(weights.transform(matrix[test][:, kept]))
    return tuple(sparse.hstack([*blocks, sparse.csr_matrix(vectors[rows] * EMBEDDING_WEIGHT)]).tocsr()
                 for blocks, rows in ((train_blocks, train), (test_blocks, test)))


def out_of_fold_proba(model, texts: list[str], labels: list[str], folds: int = FOLDS, repeats: int = REPEATS,
                      seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, classes): row i's probabilities over the sorted ``classes`` from a
    logistic regression over ``model``'s features (its embedder, centred as it centres)
    fitted on the folds that do not hold row i, averaged over ``repeats`` draws of the folds
    (seeds ``seed``, ``seed + 1``, ...). Folds are stratified; with fewer rows of a label
    than ``folds``, as many folds as the rarest label allows (at least 2)."""
    from tousu.nlp.embed import MeanCenterer, get_embedder, storable

    texts = [str(t) for t in texts]
    classes = np.array(sorted(set(labels)), dtype=object)
    labels = np.asarray(labels, dtype=object)
    n_splits = min(folds, int(pd.Series(labels).value_counts().min()))
    if n_splits < 2:
        raise ValueError("label issues need at least 2 training rows of every label")
    embedder = storable(get_embedder(model.embedder, cache=model.cache), model.embedder)
    raw = np.asarray(embedder.encode(texts), dtype=np.float32)
    counts = _term_counts(texts)
    proba = np.zeros((len(texts), len(classes)))
    splits = [split for draw in range(repeats) for split in StratifiedKFold(
        n_splits=n_splits, shuffle=True, random_state=seed + draw).split(np.zeros(len(labels)), labels)]
    for train, test in splits:
        # Centred as ComplaintModel centres: on the mean of the rows it is fitted on.
        vectors = MeanCenterer().fit(raw[train]).transform(raw) if model.center else raw
        train_x, test_x = _fold_features(counts, vectors, train, test)
        fitted = LogisticRegression(C=C, max_iter=3000).fit(train_x, labels[train])
        columns = np.searchsorted(classes, np.asarray(fitted.classes_, dtype=object))
        proba[np.ix_(test, columns)] += fitted.predict_proba(test_x) / repeats
    return proba, classes


def rank_label_issues(ids, texts, labels, proba: np.ndarray, classes: np.ndarray) -> pd.DataFrame:
    """The rows confident learning flags (:data:`LABEL_ISSUE_COLUMNS`), most doubtful first:
    ``score`` the out-of-fold probability of the given label, ``suggested_label`` the most
    probable one with its ``suggested_score``."""
    from cleanlab.filter import find_label_issues

    codes = np.searchsorted(classes, np.asarray(labels, dtype=object))
    ranked = find_label_issues(labels=codes, pred_probs=proba, filter_by=FILTER,
                               return_indices_ranked_by="self_confidence", n_jobs=1)
    best = proba.argmax(axis=1)
    rows = np.arange(len(codes))
    return pd.DataFrame({
        "id": np.asarray(ids, dtype=object)[ranked],
        "given_label": classes[codes[ranked]],
        "suggested_label": classes[best[ranked]],
        "score": np.round(proba[rows, codes][ranked], 4),
        "suggested_score": np.round(proba[rows, best][ranked], 4),
        "text": np.asarray(texts, dtype=object)[ranked],
    }, columns=LABEL_ISSUE_COLUMNS)
