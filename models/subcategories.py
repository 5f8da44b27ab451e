"""Level-2 categories: one child of the level-1 category already chosen.

For every level-1 category with children (in the bundled taxonomy: 资费计费争议, 营销误导…,
网络质量) :class:`SubcategoryClassifier` picks one of *its* children, so a complaint's
subcategory is always consistent with its category; a complaint whose category has no
children, or is the catch-all, gets none (``""``).

* **zero-shot** (no level-2 labels, the default): each child is a prototype embedded from its
  name, description and keywords (as :class:`~tousu.models.classifier.CategoryClassifier` does
  for level 1), compared with the complaint by embedding similarity plus keyword hits, among
  the parent's children only. Self-training then fits, per parent, a linear model on the
  confident part of the complaints assigned to that parent (pseudo-labels), over character
  n-gram and jieba word TF-IDF and the sentence embedding.
* **supervised** (a level-2 label column: child codes or names): per parent, a logistic
  regression over the same features, learnt from the rows labelled with that parent's
  children. A parent whose labels name fewer than two of its children falls back to zero-shot.

``min_confidence`` (default 0: always one child) leaves the subcategory empty below a
probability instead of guessing; the per-parent mode is in ``modes_``.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from tousu.models.category_base import category_prototypes, checked_embeddings, softmax
from tousu.models.taxonomy import Taxonomy
from tousu.models.text_features import TextFeatures

NO_SUBCATEGORY = ""
_VECTORS = "subcategories.npz"
_CONFIG = "subcategories.json"



def parents_with_children(taxonomy: Taxonomy) -> list:
    """The level-1 categories that have children (the catch-all never counts)."""
    return [c for c in taxonomy.categories if c.children and c.code != taxonomy.other_code]


class UnknownSubcategoryError(ValueError):
    """Level-2 labels that are no subcategory; ``positions``: where they are in the labels (0-based)."""

    def __init__(self, message: str, positions: list[int]):
        super().__init__(message)
        self.positions = positions


def subcategory_codes(taxonomy: Taxonomy, labels) -> np.ndarray:
    """Level-2 labels as child codes: a child's code or name gives its code; an empty or
    missing value, or a level-1 code or name (a complaint labelled only at level 1), gives
    ``""``. Anything else is refused with :class:`UnknownSubcategoryError`, naming the values
    (a typo would otherwise train on nothing)."""
    by_name = {c.name: c.code for c in taxonomy.all_categories if c.parent is not None}
    children = {c.code for c in taxonomy.all_categories if c.parent is not None}
    level1 = {c.code for c in taxonomy.categories} | {c.name for c in taxonomy.categories}
    codes, unknown, positions = [], [], []
    for position, label in enumerate(labels):
        text = "" if label is None or (isinstance(label, float) and np.isnan(label)) else str(label).strip()
        if text in children:
            codes.append(text)
        elif text in by_name:
            codes.append(by_name[text])
        elif text in ("", "nan", "<NA>", "None") or text in level1:
            codes.append(NO_SUBCATEGORY)
        else:
            codes.append(NO_SUBCATEGORY)
            unknown.append(text)
            positions.append(position)
    if unknown:
        shown = ", ".join(repr(u) for u in dict.fromkeys(unknown))
        raise UnknownSubcategoryError(
            f"level-2 labels that are no subcategory of taxonomy {taxonomy.name} v{taxonomy.version} "
            f"({len(unknown)} rows): {shown[:300]}; give a child's code (e.g. "
            f"{next(iter(sorted(children)), 'BIL.DATA')}) or name, or leave it empty", positions)
    return np.asarray(codes, dtype=object)


class SubcategoryClassifier(BaseEstimator):
    """Assign each complaint one child of its level-1 category.

    Parameters
    ----------
    taxonomy: the taxonomy whose level-1 categories' children are the classes.
    embedder: embeds the children's descriptions (zero-shot) and, when ``embeddings`` are not
        passed in, the texts.
    min_confidence: below this probability the subcategory is left empty (``""``) rather than
        guessed; 0 (default) always gives one of the parent's children.
    self_training: zero-shot parents refine themselves on their confident predictions.
    C: inverse regularisation of the linear models.
    embedding_weight: scale of the embedding block next to the TF-IDF blocks.
    keyword_weight, temperature: the zero-shot score, as in ``CategoryClassifier``.
    pseudo_label_share: the most confident share of each guessed child kept as pseudo-labels.

    After ``fit``: ``children_`` ({parent code: its child codes}), ``modes_`` ({parent:
    ``"supervised"``, ``"self-trained"`` or ``"zero-shot"``}), ``classes_`` ({parent: the
    classes of its linear model}, for the parents that have one).
    """

    def __init__(
        self,
        taxonomy: Taxonomy | None = None,
        embedder=None,
        min_confidence: float = 0.0,
        self_training: bool = True,
        C: float = 4.0,
        embedding_weight: float = 0.5,
        keyword_weight: float = 0.2,
        temperature: float = 0.05,
        pseudo_label_share: float = 0.8,
    ):
        self.taxonomy = taxonomy
        self.embedder = embedder
        self.min_confidence = min_confidence
        self.self_training = self_training
        self.C = C
        self.embedding_weight = embedding_weight
        self.keyword_weight = keyword_weight
        self.temperature = temperature
        self.pseudo_label_share = pseudo_label_share

    # ----- fitting -----
    def fit(self, texts, categories, y=None, embeddings: np.ndarray | None = None) -> SubcategoryClassifier:
        """texts: the training complaints; categories: their level-1 category (assigned, or
        gold); y: optional level-2 labels (child codes or names, empty where unknown), see
        :func:`subcategory_codes`. A labelled row trains its label's parent, whatever its
        ``categories`` entry says."""
        if self.taxonomy is None:
            raise ValueError("subcategories need a taxonomy")
        texts = [str(t) for t in texts]
        categories = np.asarray([str(c) for c in categories], dtype=object)
        if len(categories) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(categories)} level-1 categories")
        parents = parents_with_children(self.taxonomy)
        if not parents:
            raise ValueError(f"taxonomy {self.taxonomy.source or self.taxonomy.name}: no level-1 category has children")
        labels = subcategory_codes(self.taxonomy, y) if y is not None else np.full(len(texts), NO_SUBCATEGORY, object)
        if len(labels) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(labels)} level-2 labels")
        embeddings = checked_embeddings(texts, embeddings, self.embedder, "subcategory classifier")
        self.children_ = {p.code: [c.code for c in p.children] for p in parents}
        self._fit_prototypes(parents)
        label_parent = np.array([self.taxonomy[label].parent if label else "" for label in labels], dtype=object)

        training: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.modes_ = {}
        for parent in self.children_:
            labelled = np.flatnonzero(label_parent == parent)
            if len(set(labels[labelled])) >= 2:
                training[parent] = (labelled, labels[labelled])
                self.modes_[parent] = "supervised"
                continue
            self.modes_[parent] = "zero-shot"
            if self.self_training:
                pseudo = self._pseudo_labels(parent, texts, categories, embeddings)
                if pseudo is not None:
                    training[parent] = pseudo
                    self.modes_[parent] = "self-trained"
        self.classes_, self.coef_, self.intercept_ = {}, {}, {}
        if training:
            self._fit_linear(texts, embeddings, training)
        return self

    def _fit_prototypes(self, parents) -> None:
        """One unit vector per child from its name, description and keywords."""
        if self.embedder is None:
            raise ValueError("subcategories need an embedder to read the taxonomy's level-2 categories")
        children = [child for parent in parents for child in parent.children]
        self.prototypes_ = category_prototypes(self.embedder, children).astype(np.float32)
        self.prototype_codes_ = np.array([c.code for c in children], dtype=object)
        self.keywords_ = [list(c.keywords) for c in children]

    def _zero_shot_proba(self, parent: str, texts: list[str], embeddings: np.ndarray) -> np.ndarray:
        """Probabilities over ``children_[parent]``."""
        codes = self.prototype_codes_.tolist()
        rows = [codes.index(child) for child in self.children_[parent]]
        similarity = embeddings @ self.prototypes_[rows].T
        keywords = [self.keywords_[r] for r in rows]
        hits = np.array([[sum(k in text for k in words) for words in keywords] for text in texts], dtype=float)
        return softmax((similarity + self.keyword_weight * np.sqrt(hits.reshape(len(texts), len(rows))))
                        / self.temperature)

    def _pseudo_labels(self, parent: str, texts: list[str], categories: np.ndarray, embeddings: np.ndarray):
        """(rows, children) of the confident zero-shot guesses among the complaints assigned to
        ``parent``: the most confident ``pseudo_label_share`` of each guessed child; ``None``
        when fewer than two children are guessed."""
        members = np.flatnonzero(categories == parent)
        if len(members) < 2:
            return None
        proba = self._zero_shot_proba(parent, [texts[i] for i in members], embeddings[members])
        guess, confidence = proba.argmax(axis=1), proba.max(axis=1)
        keep = np.zeros(len(members), dtype=bool)
        for index in np.unique(guess):
            chosen = np.flatnonzero(guess == index)
            cutoff = np.quantile(confidence[chosen], 1 - self.pseudo_label_share)
            keep[chosen[confidence[chosen] >= cutoff]] = True
        codes = np.asarray(self.children_[parent], dtype=object)[guess[keep]]
        if len(set(codes)) < 2:
            return None
        return members[keep], codes

    def _fit_linear(self, texts: list[str], embeddings: np.ndarray,
                    training: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
        """One vocabulary over every row any parent learns from; a logistic regression per parent."""
        used = np.unique(np.concatenate([rows for rows, _ in training.values()]))
        self.features_ = TextFeatures.fit([texts[i] for i in used], self.embedding_weight)
        features = self.features_.transform([texts[i] for i in used], embeddings[used])
        position = {row: i for i, row in enumerate(used)}
        for parent, (rows, labels) in training.items():
            # L-BFGS makes many tiny BLAS calls: threaded BLAS only adds overhead, and on a busy
            # machine it made this fit 10x slower (7 s instead of 0.5 s on the demo's 3,000 rows).
            with threadpool_limits(limits=1, user_api="blas"):
                model = LogisticRegression(C=self.C, max_iter=2000).fit(features[[position[r] for r in rows]], labels)
            coef, intercept = model.coef_, np.atleast_1d(model.intercept_)
            if len(model.classes_) == 2:  # a binary model keeps one row: split it into two
                coef, intercept = np.vstack([-coef[0], coef[0]]) / 2, np.array([-intercept[0], intercept[0]]) / 2
            self.classes_[parent] = model.classes_.astype(object)
            self.coef_[parent] = coef.astype(np.float32)
            self.intercept_[parent] = intercept.astype(np.float32)

    # ----- prediction -----
    def predict_proba(self, parent: str, texts, embeddings: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities, the child codes they are over) for complaints of category ``parent``."""
        check_is_fitted(self, "modes_")
        texts = [str(t) for t in texts]
        embeddings = checked_embeddings(texts, embeddings, self.embedder, "subcategory classifier")
        if parent in self.coef_:
            scores = np.asarray(self.features_.transform(texts, embeddings) @ self.coef_[parent].T) + self.intercept_[parent]
            return softmax(scores), self.classes_[parent]
        return self._zero_shot_proba(parent, texts, embeddings), np.asarray(self.children_[parent], dtype=object)

    def assign(self, texts, categories, embeddings: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """``subcategory`` (a child of each row's category, ``""`` where it has none or the
        probability is below ``min_confidence``) and its ``confidence`` (NaN where none)."""
        check_is_fitted(self, "modes_")
        texts = [str(t) for t in texts]
        categories = np.asarray([str(c) for c in categories], dtype=object)
        subcategory = np.full(len(texts), NO_SUBCATEGORY, dtype=object)
        confidence = np.full(len(texts), np.nan, dtype=np.float32)
        groups = {parent: np.flatnonzero(categories == parent) for parent in self.children_}
        groups = {parent: rows for parent, rows in groups.items() if len(rows)}
        if not groups:
            return {"subcategory": subcategory, "confidence": confidence}
        if embeddings is None:  # embed only the complaints that get a subcategory
            needed = np.concatenate(list(groups.values()))
            vectors = checked_embeddings([texts[i] for i in needed], None, self.embedder, "subcategory classifier")
            embeddings = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
            embeddings[needed] = vectors
        elif len(embeddings) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(embeddings)} embeddings")
        for parent, rows in groups.items():
            proba, classes = self.predict_proba(parent, [texts[i] for i in rows], embeddings[rows])
            best = proba.argmax(axis=1)
            best_p = proba[np.arange(len(rows)), best]
            subcategory[rows] = np.where(best_p >= self.min_confidence, classes[best], NO_SUBCATEGORY)
            confidence[rows] = best_p
        return {"subcategory": subcategory, "confidence": confidence}

    def predict(self, texts, categories, embeddings: np.ndarray | None = None) -> np.ndarray:
        return self.assign(texts, categories, embeddings)["subcategory"]

    # ----- persistence (JSON + npz, no pickle) -----
    def save(self, directory: str | Path) -> None:
        check_is_fitted(self, "modes_")
        directory = Path(directory)
        arrays = {"prototypes": self.prototypes_}
        config = {
            "params": {k: v for k, v in self.get_params().items() if k not in ("taxonomy", "embedder")},
            "children": self.children_,
            "modes": self.modes_,
            "prototype_codes": self.prototype_codes_.tolist(),
            "keywords": self.keywords_,
            "linear": [],
        }
        if self.coef_:
            self.features_.save(arrays, config)
            for index, parent in enumerate(self.coef_):
                arrays[f"coef_{index}"] = self.coef_[parent]
                arrays[f"intercept_{index}"] = self.intercept_[parent]
                config["linear"].append({"parent": parent, "classes": self.classes_[parent].tolist()})
        np.savez(directory / _VECTORS, **arrays)
        (directory / _CONFIG).write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, directory: str | Path, taxonomy: Taxonomy | None = None, embedder=None) -> SubcategoryClassifier:
        directory = Path(directory)
        config = json.loads((directory / _CONFIG).read_text(encoding="utf-8"))
        arrays = np.load(directory / _VECTORS, allow_pickle=False)
        model = cls(taxonomy=taxonomy, embedder=embedder, **config["params"])
        model.children_ = {parent: list(children) for parent, children in config["children"].items()}
        model.modes_ = dict(config["modes"])
        model.prototypes_ = arrays["prototypes"]
        model.prototype_codes_ = np.array(config["prototype_codes"], dtype=object)
        model.keywords_ = config["keywords"]
        model.classes_, model.coef_, model.intercept_ = {}, {}, {}
        for index, entry in enumerate(config["linear"]):
            parent = entry["parent"]
            model.classes_[parent] = np.array(entry["classes"], dtype=object)
            model.coef_[parent], model.intercept_[parent] = arrays[f"coef_{index}"], arrays[f"intercept_{index}"]
        if config["linear"]:
            model.features_ = TextFeatures.load(arrays, config, model.embedding_weight)
        return model

