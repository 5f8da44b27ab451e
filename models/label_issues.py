"""Training labels the model doubts: confident learning over out-of-fold probabilities.

Each training row is scored by a model that did not see it (``folds``-fold cross-validation
of the same :class:`~tousu.models.pipeline.ComplaintModel`, without topics); cleanlab's
confident learning (Northcutt et al., 2021) then flags the rows whose given label is unlikely
under those probabilities, ranked by self-confidence: the out-of-fold probability of the
given label, lowest (most doubtful) first.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold

LABEL_ISSUE_COLUMNS = ["id", "given_label", "suggested_label", "score", "suggested_score", "text"]
FOLDS = 5


def out_of_fold_proba(model, texts: list[str], labels: list[str], folds: int = FOLDS,
                      seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, classes): row i's probabilities over the sorted ``classes`` from a copy of
    ``model`` fitted on the folds that do not hold row i. Folds are stratified; with fewer rows
    of a label than ``folds``, as many folds as the rarest label allows (at least 2)."""
    classes = np.array(sorted(set(labels)), dtype=object)
    labels = np.asarray(labels, dtype=object)
    n_splits = min(folds, int(pd.Series(labels).value_counts().min()))
    if n_splits < 2:
        raise ValueError("label issues need at least 2 training rows of every label")
    scorer = clone(model).set_params(topics=False)
    proba = np.zeros((len(texts), len(classes)))
    splits = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed).split(np.zeros(len(labels)), labels)
    for train, test in splits:
        fitted = clone(scorer).fit([texts[i] for i in train], labels[train].tolist(), show_progress=False)
        held_out = [texts[i] for i in test]
        fold_proba = fitted.classifier_.predict_proba(held_out, embeddings=fitted.embed(held_out))
        columns = np.searchsorted(classes, np.asarray(fitted.classifier_.classes_, dtype=object))
        proba[np.ix_(test, columns)] = fold_proba
    return proba, classes


def rank_label_issues(ids, texts, labels, proba: np.ndarray, classes: np.ndarray) -> pd.DataFrame:
    """The rows confident learning flags (:data:`LABEL_ISSUE_COLUMNS`), most doubtful first:
    ``score`` the out-of-fold probability of the given label, ``suggested_label`` the most
    probable one with its ``suggested_score``."""
    from cleanlab.filter import find_label_issues

    codes = np.searchsorted(classes, np.asarray(labels, dtype=object))
    ranked = find_label_issues(labels=codes, pred_probs=proba, return_indices_ranked_by="self_confidence")
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
