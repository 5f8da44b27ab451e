"""Category assignment: one estimator, two modes.

* **zero-shot** (no labels): each complaint is compared with the taxonomy's
  categories — their names, descriptions and keywords — by embedding
  similarity plus the seed words of each category it contains (a category
  near one of a reference taxonomy's, by default the shipped telecom one,
  borrows that category's words as well, so a terse name reads like a full
  description).  Each
  category's prototype is then moved towards the complaints it is surest of
  (pseudo-relevance feedback), and the confident part of the training corpus
  is used as pseudo-labels for a linear model over the same features as the
  supervised mode (self-training); both adapt the taxonomy to the wording of
  the operator's own complaints, so that it matters less how the taxonomy
  itself is worded.
* **supervised** (a label column): a linear SVM over character n-gram TF-IDF,
  jieba word TF-IDF and the sentence embedding, its scores turned into
  probabilities by a temperature fitted on cross-validated scores.

Both give a primary category and its confidence (the softmax over the
categories: they compete for the primary slot), and every category that
applies with probability ``threshold`` or more (multi-label).  Whether a
category *applies* is a question per category, not a share of one unit
among them: a work order billed wrongly and treated rudely is both, so
where the linear model exists each category gets its own probability, a
sigmoid of its score fitted on cross-validated scores (Platt scaling).
Below ``min_confidence`` the primary category is the catch-all (``OTH``)
rather than a wrong guess.
"""
from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC
from sklearn.utils.validation import check_is_fitted

from tousu.models.category_base import category_prototypes, checked_embeddings, lending_categories, softmax
from tousu.models.taxonomy import Taxonomy, load_reference_taxonomy
from tousu.models.text_features import TextFeatures
from tousu.nlp.segment import get_segmenter

UNASSIGNED = "未分类"
_VECTORS = "classifier.npz"
_CONFIG = "classifier.json"
_SCALE_GRID = np.logspace(-2.5, 1, 71)
_LABEL_SMOOTHING = 0.05



class CategoryClassifier(ClassifierMixin, BaseEstimator):
    """Assign taxonomy categories (zero-shot) or learned labels (supervised).

    Parameters
    ----------
    taxonomy: the category taxonomy; its level-1 categories are the zero-shot classes.
    embedder: embeds texts (and, in zero-shot mode, the category descriptions)
        when ``embeddings`` are not passed in.
    threshold: a category is listed in ``categories`` when its own probability of applying
        is at least this (the primary category always is).  At 0.3, held out on the demo's
        multi-issue orders, both problems are listed for 29 % of them (by the softmax, 14 %)
        while 0.7 % of single-issue orders get an extra one (0.4 %); `bench/multi_label.py`.
    min_confidence: below this the primary category becomes the catch-all;
        ``None`` means 0 for supervised and 0.3 for zero-shot.
    self_training: zero-shot mode refines itself on its confident predictions.
    C: inverse regularisation of the linear model (0.5: on COCC's tuning rows, 0.874 macro-F1
        against 0.870 at 1, 5-fold with three fold seeds; `bench/supervised_untouched.py`).
    embedding_weight: scale of the embedding block next to the TF-IDF blocks.
    keyword_weight: zero-shot score of a category = cosine similarity to its prototype
        + ``keyword_weight * sqrt(evidence)``, the evidence being the summed weights of
        the category's seed words the complaint contains.
    seed_words: the seed words are the words (two characters or more) of the category's
        name, description and keywords that occur in the training texts and belong to at
        most a quarter of the categories, each weighted by its IDF over the training texts
        divided by the number of categories sharing it; ``False``: the taxonomy's keywords
        alone, each weighing 1 (the method before seed words).
    reference_taxonomy: a taxonomy of the same domain that lends its words: where one of its
        categories (level 1 or 2) and a category are each other's nearest by prototype (cosine
        at least ``LENDING_SIMILARITY``, 0.5), the words of its name and keywords join that
        category's seed word candidates, under the same filter and IDF weights as the
        category's own (with ``seed_words`` only). ``"default"``: the shipped telecom
        taxonomy; a path: another taxonomy YAML; ``None``: no lending. On COCC's tuning rows
        (5 taxonomy styles, three splits, balanced and 8:1 class sizes) it lifted the worst
        style's accuracy from 0.530 to 0.628 (balanced) and from 0.484 to 0.595 (8:1), the
        mean from 0.660 to 0.683 and from 0.631 to 0.658 (``bench/zero_shot.py``).
    temperature: softmax temperature of the zero-shot scores.
    pseudo_label_share: share of each guessed category kept as pseudo-labels for self-training.
    feedback_docs: each zero-shot prototype is moved towards the mean of the (at most)
        this many training texts it is surest of; 0 leaves the prototypes where the
        taxonomy puts them.
    feedback_weight: how far: prototype + ``feedback_weight`` * that mean, both unit vectors.

    The zero-shot defaults (``keyword_weight``, ``pseudo_label_share``, ``feedback_*``) were
    chosen on COCC's tuning rows by mean and worst accuracy over five differently worded
    taxonomies (``bench/zero_shot.py``).

    After ``fit``, ``classes_`` are the labels :meth:`predict_proba` gives a column each,
    in both modes (zero-shot: the taxonomy codes it can predict); below ``min_confidence``
    the prediction is ``other_label_`` instead.
    """

    def __init__(
        self,
        taxonomy: Taxonomy | None = None,
        embedder=None,
        threshold: float = 0.3,
        min_confidence: float | None = None,
        self_training: bool = True,
        C: float = 0.5,
        embedding_weight: float = 0.5,
        keyword_weight: float = 0.07,
        seed_words: bool = True,
        temperature: float = 0.05,
        pseudo_label_share: float = 0.8,
        feedback_docs: int = 10,
        feedback_weight: float = 0.5,
        reference_taxonomy: str | None = "default",
    ):
        self.taxonomy = taxonomy
        self.embedder = embedder
        self.threshold = threshold
        self.min_confidence = min_confidence
        self.self_training = self_training
        self.C = C
        self.embedding_weight = embedding_weight
        self.keyword_weight = keyword_weight
        self.seed_words = seed_words
        self.temperature = temperature
        self.pseudo_label_share = pseudo_label_share
        self.feedback_docs = feedback_docs
        self.feedback_weight = feedback_weight
        self.reference_taxonomy = reference_taxonomy

    # ----- fitting -----
    def fit(self, texts, y=None, embeddings: np.ndarray | None = None,
            pseudo_label_proba: np.ndarray | None = None) -> CategoryClassifier:
        """Supervised with ``y``, else zero-shot. ``pseudo_label_proba`` (zero-shot only): the
        probabilities, over the taxonomy's categories in its order, that another zero-shot model
        (another embedder's, see ``ComplaintModel.pseudo_label_embedder``) gives the same texts;
        self-training then picks its pseudo-labels from them instead of from this model's own."""
        texts = [str(t) for t in texts]
        embeddings = checked_embeddings(texts, embeddings, self.embedder, "classifier")
        if pseudo_label_proba is not None and (y is not None or not self.self_training):
            raise ValueError("pseudo_label_proba is for zero-shot self-training: without labels, self_training=True")
        if y is not None:
            self.mode_ = "supervised"
            labels = np.asarray([str(v) for v in y], dtype=object)
            if len(labels) != len(texts):
                raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
            if len(set(labels)) < 2:
                raise ValueError("supervised training needs at least two distinct labels")
            self._fit_linear(texts, embeddings, labels)
            self.other_label_ = self.taxonomy.other_code if (
                self.taxonomy is not None and self.taxonomy.other_code in self.classes_) else UNASSIGNED
        else:
            if self.taxonomy is None:
                raise ValueError("zero-shot classification needs a taxonomy")
            self.mode_ = "zero-shot"
            self._fit_prototypes(texts)
            self.other_label_ = self.taxonomy.other_code or UNASSIGNED
            if self.feedback_docs > 0:
                self._feedback(embeddings, self._zero_shot_proba(texts, embeddings))
            if pseudo_label_proba is not None and np.shape(pseudo_label_proba) != (len(texts), len(self.prototype_codes_)):
                raise ValueError(f"pseudo_label_proba must have one row per text and one column per category "
                                 f"({len(texts)} × {len(self.prototype_codes_)}), not {np.shape(pseudo_label_proba)}")
            if self.self_training:
                self._self_train(texts, embeddings, self._zero_shot_proba(texts, embeddings)
                                 if pseudo_label_proba is None else np.asarray(pseudo_label_proba))
        return self

    def _fit_prototypes(self, texts: list[str]) -> None:
        """One unit vector per category from its name, description and keywords, and its seed words."""
        if self.embedder is None:
            raise ValueError("zero-shot classification needs an embedder to read the taxonomy")
        categories = [c for c in self.taxonomy.categories if c.code != self.taxonomy.other_code]
        if len(categories) < 2:
            raise ValueError(f"taxonomy {self.taxonomy.source}: zero-shot needs at least two categories")
        self.prototypes_ = category_prototypes(self.embedder, categories)
        self.prototype_codes_ = np.array([c.code for c in categories], dtype=object)
        # Self-training, when it runs, narrows these to the codes its pseudo-labels use.
        self.classes_ = self.prototype_codes_
        reference = load_reference_taxonomy(self.reference_taxonomy) if self.seed_words and self.reference_taxonomy is not None else None
        # A taxonomy that is its own reference (the shipped one) has nothing to borrow.
        lenders = (lending_categories(self.embedder, self.prototypes_, reference)
                   if reference is not None and reference.sha256 != self.taxonomy.sha256 else [None] * len(categories))
        self.lent_by_ = {c.code: lender.code for c, lender in zip(categories, lenders) if lender is not None}
        self.seed_weights_ = self._seed_weights(categories, texts, lenders) if self.seed_words else [
            dict(Counter(c.keywords)) for c in categories]

    @staticmethod
    def _seed_weights(categories, texts: list[str], lenders) -> list[dict[str, float]]:
        """Per category, its seed words and their weights (see ``seed_words``); ``lenders``:
        per category, the reference category whose words join its own, or ``None``.

        Names and descriptions hold the words a user actually writes when the keywords are
        few or missing (a terse taxonomy); a word several categories share ("问题", "业务")
        says nothing about which one is meant, and a word common in the corpus little more,
        hence the filter and the IDF.  A word that is no token of any training text is dropped
        rather than given the highest IDF on no evidence at all.
        """
        cut = get_segmenter().cut
        document_frequency = Counter(word for text in texts for word in set(cut(text)))
        candidates = []
        for category, lender in zip(categories, lenders):
            words = {*category.keywords, *cut(category.name), *cut(category.description),
                     *(word for keyword in category.keywords for word in cut(keyword))}
            if lender is not None:
                words |= {*lender.keywords, *cut(lender.name), *(word for keyword in lender.keywords for word in cut(keyword))}
            candidates.append({w for w in words if len(w) >= 2 and document_frequency[w] > 0})
        sharing = Counter(word for words in candidates for word in words)
        most_sharing = max(1, len(categories) // 4)
        return [{w: math.log((len(texts) + 1) / (document_frequency[w] + 1)) / sharing[w]
                 for w in sorted(words) if sharing[w] <= most_sharing} for words in candidates]

    def _zero_shot_proba(self, texts: list[str], embeddings: np.ndarray) -> np.ndarray:
        similarity = embeddings @ self.prototypes_.T
        evidence = np.array([[sum(weight for word, weight in seeds.items() if word in text)
                              for seeds in self.seed_weights_] for text in texts], dtype=float)
        return softmax((similarity + self.keyword_weight * np.sqrt(evidence)) / self.temperature)

    def _feedback(self, embeddings: np.ndarray, proba: np.ndarray) -> None:
        """Move each prototype towards the mean of the ``feedback_docs`` training texts with the
        widest margin for its category (its probability minus the best other one).

        The taxonomy's wording is a user's guess at how complaints read; the complaints the
        category is surest of show how they actually read, so the moved prototype finds their
        neighbours too.  Margins, not probabilities, so that a text two categories share does
        not pull both.  Only texts that category wins count: a category no text goes to keeps
        its prototype.
        """
        moved = self.prototypes_.copy()
        for j in range(proba.shape[1]):
            margin = proba[:, j] - np.delete(proba, j, axis=1).max(axis=1)
            won = np.flatnonzero(margin > 0)
            surest = won[np.argsort(-margin[won], kind="stable")][:self.feedback_docs]
            if not len(surest):
                continue
            centroid = embeddings[surest].mean(axis=0)
            moved[j] = self.prototypes_[j] + self.feedback_weight * centroid / np.linalg.norm(centroid)
        self.prototypes_ = (moved / np.linalg.norm(moved, axis=1, keepdims=True)).astype(self.prototypes_.dtype)

    def _self_train(self, texts: list[str], embeddings: np.ndarray, proba: np.ndarray) -> None:
        guess = proba.argmax(axis=1)
        confidence = proba.max(axis=1)
        # Keep the most confident share of each guessed category so small categories keep examples.
        keep = np.zeros(len(texts), dtype=bool)
        for index in np.unique(guess):
            members = np.flatnonzero(guess == index)
            cutoff = np.quantile(confidence[members], 1 - self.pseudo_label_share)
            keep[members[confidence[members] >= cutoff]] = True
        if len(np.unique(guess[keep])) < 2:
            return
        self._fit_linear([texts[i] for i in np.flatnonzero(keep)], embeddings[keep],
                         self.prototype_codes_[guess[keep]])

    # ----- the linear model shared by both modes -----
    def _fit_linear(self, texts: list[str], embeddings: np.ndarray, labels: np.ndarray) -> None:
        """Linear SVM over char n-grams + jieba words + embedding (chosen on COCC by
        ``bench/categories_topics.py``: 0.885 macro-F1 against 0.873 for logistic regression
        over char n-grams + embedding); a temperature makes its scores probabilities."""
        self.features_ = TextFeatures.fit(texts, self.embedding_weight)
        features = self.features_.transform(texts, embeddings)
        linear = LinearSVC(C=self.C, random_state=0).fit(features, labels)
        self.classes_ = linear.classes_.astype(object)
        self.coef_, self.intercept_ = self._multiclass(linear)
        held_out = self._cross_validated_scores(features, labels)
        if held_out is None:
            self.score_scale_ = 1.0
            return
        self.score_scale_ = self._fit_score_scale(held_out, labels)
        self.class_calibration_ = self._fit_class_calibration(held_out, labels)

    @staticmethod
    def _multiclass(linear) -> tuple[np.ndarray, np.ndarray]:
        """One score row per class; a binary model keeps a single row, split here into two."""
        coef, intercept = linear.coef_, np.atleast_1d(linear.intercept_)
        if len(linear.classes_) == 2:
            coef, intercept = np.vstack([-coef[0], coef[0]]) / 2, np.array([-intercept[0], intercept[0]]) / 2
        return coef.astype(np.float32), intercept.astype(np.float32)

    def _cross_validated_scores(self, features, labels: np.ndarray) -> np.ndarray | None:
        """SVM scores of every row from the 3-fold model that did not see it; ``None`` when a
        class has too few rows to split."""
        if np.unique(labels, return_counts=True)[1].min() < 3:
            return None
        scores = np.zeros((len(labels), len(self.classes_)), dtype=np.float32)
        for train, test in StratifiedKFold(3, shuffle=True, random_state=0).split(features, labels):
            coef, intercept = self._multiclass(LinearSVC(C=self.C, random_state=0).fit(features[train], labels[train]))
            scores[test] = np.asarray(features[test] @ coef.T) + intercept
        return scores

    def _fit_score_scale(self, held_out: np.ndarray, labels: np.ndarray) -> float:
        """The temperature that makes held-out SVM scores the best probabilities.

        "Best" is the least cross-entropy against labels smoothed by ``_LABEL_SMOOTHING``:
        where every held-out row is right (well-separated labels, or zero-shot pseudo-labels,
        which agree with themselves) plain log-loss drives the temperature to zero and every
        confidence to 1, and the ``min_confidence`` floor would never send a doubtful
        complaint to the catch-all.
        """
        targets = np.full(held_out.shape, _LABEL_SMOOTHING / len(self.classes_))
        targets[np.arange(len(labels)), np.searchsorted(self.classes_, labels)] += 1 - _LABEL_SMOOTHING
        losses = [-(targets * np.log(softmax(held_out / scale) + 1e-12)).sum(axis=1).mean() for scale in _SCALE_GRID]
        return float(_SCALE_GRID[int(np.argmin(losses))])

    def _fit_class_calibration(self, held_out: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Per class, the slope and offset of the sigmoid that turns its held-out score into the
        probability that the class applies (Platt scaling, with Platt's smoothed targets
        (n+1)/(n+2) and 1/(n+2) so that separable scores do not make it a step)."""
        calibration = np.zeros((len(self.classes_), 2), dtype=np.float32)
        for j, code in enumerate(self.classes_):
            member = labels == code
            positive, negative = (member.sum() + 1) / (member.sum() + 2), 1 / ((~member).sum() + 2)
            target = np.where(member, positive, negative)
            # A soft target as two weighted rows, one per outcome.
            rows = np.concatenate([held_out[:, j], held_out[:, j]])[:, None]
            outcome = np.concatenate([np.ones(len(labels)), np.zeros(len(labels))])
            sigmoid = LogisticRegression(C=1e4).fit(rows, outcome, sample_weight=np.concatenate([target, 1 - target]))
            calibration[j] = sigmoid.coef_[0, 0], sigmoid.intercept_[0]
        return calibration

    # ----- prediction -----
    def predict_proba(self, texts, embeddings: np.ndarray | None = None) -> np.ndarray:
        """Probabilities over :attr:`classes_`."""
        return self._probabilities(texts, embeddings)[0]

    def _probabilities(self, texts, embeddings) -> tuple[np.ndarray, np.ndarray]:
        """(softmax over the classes, each class's own probability of applying), from one pass
        over the features (their TF-IDF blocks are most of a prediction's time)."""
        check_is_fitted(self, "mode_")
        texts = [str(t) for t in texts]
        embeddings = checked_embeddings(texts, embeddings, self.embedder, "classifier")
        if not hasattr(self, "coef_"):
            proba = self._zero_shot_proba(texts, embeddings)
            return proba, proba
        scores = np.asarray(self.features_.transform(texts, embeddings) @ self.coef_.T) + self.intercept_
        proba = softmax(scores / self.score_scale_)
        # Models saved before per-class calibration list by the softmax, as they did.
        if not hasattr(self, "class_calibration_"):
            return proba, proba
        slope, offset = self.class_calibration_[:, 0], self.class_calibration_[:, 1]
        return proba, 1 / (1 + np.exp(-(scores * slope + offset)))

    def predict(self, texts, embeddings: np.ndarray | None = None) -> np.ndarray:
        return self.assign(texts, embeddings)["category"]

    def assign(self, texts, embeddings: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Primary category, confidence, and the categories (``|``-joined): the primary one,
        then the others that apply with probability ``threshold`` or more, most probable first."""
        proba, applies = self._probabilities(texts, embeddings)
        order = self.classes_
        best = proba.argmax(axis=1)
        confidence = proba[np.arange(len(proba)), best]
        floor = self.min_confidence if self.min_confidence is not None else (
            0.0 if self.mode_ == "supervised" else 0.3)
        category = np.where(confidence >= floor, order[best], self.other_label_).astype(object)
        # The primary category first (a complaint sent to the catch-all has none: it lists what
        # applies, or the catch-all when nothing does).
        ranked = np.argsort(-applies, axis=1)
        assigned = category == order[best]
        categories = np.array([
            "|".join([*([order[best[i]]] if assigned[i] else []),
                      *(order[j] for j in row if (j != best[i] or not assigned[i]) and applies[i, j] >= self.threshold)])
            or category[i]
            for i, row in enumerate(ranked)
        ], dtype=object)
        return {"category": category, "confidence": confidence.astype(np.float32), "categories": categories}

    # ----- persistence (JSON + npz, no pickle) -----
    def save(self, directory: str | Path) -> None:
        check_is_fitted(self, "mode_")
        directory = Path(directory)
        arrays = {}
        config = {
            "params": {k: v for k, v in self.get_params().items() if k not in ("taxonomy", "embedder")},
            "mode": self.mode_,
            "other_label": self.other_label_,
        }
        if hasattr(self, "prototypes_"):
            arrays["prototypes"] = self.prototypes_
            config["prototype_codes"] = self.prototype_codes_.tolist()
            config["seed_weights"] = self.seed_weights_
            config["lent_by"] = self.lent_by_
        if hasattr(self, "coef_"):
            arrays.update(coef=self.coef_, intercept=self.intercept_)
            config["classes"] = self.classes_.tolist()
            config["score_scale"] = self.score_scale_
            if hasattr(self, "class_calibration_"):
                arrays["class_calibration"] = self.class_calibration_
            self.features_.save(arrays, config)
        np.savez(directory / _VECTORS, **arrays)
        (directory / _CONFIG).write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, directory: str | Path, taxonomy: Taxonomy | None = None, embedder=None) -> CategoryClassifier:
        directory = Path(directory)
        config = json.loads((directory / _CONFIG).read_text(encoding="utf-8"))
        arrays = np.load(directory / _VECTORS, allow_pickle=False)
        # Models saved before seed words, feedback and lending lack those parameters: the values that
        # describe how they were fitted, so that refitting with their parameters does the same.
        params = {"seed_words": False, "feedback_docs": 0, "reference_taxonomy": None} | config["params"]
        model = cls(taxonomy=taxonomy, embedder=embedder, **params)
        model.mode_ = config["mode"]
        model.other_label_ = config["other_label"]
        if "prototypes" in arrays:
            model.prototypes_ = arrays["prototypes"]
            model.prototype_codes_ = np.array(config["prototype_codes"], dtype=object)
            model.classes_ = model.prototype_codes_
            # Before seed words, each of a category's keywords counted 1 (a repeated one twice).
            model.seed_weights_ = config["seed_weights"] if "seed_weights" in config else [
                dict(Counter(words)) for words in config["keywords"]]
            model.lent_by_ = config.get("lent_by", {})
        if "coef" in arrays:
            model.coef_, model.intercept_ = arrays["coef"], arrays["intercept"]
            model.classes_ = np.array(config["classes"], dtype=object)
            model.score_scale_ = config["score_scale"]
            if "class_calibration" in arrays:
                model.class_calibration_ = arrays["class_calibration"]
            model.features_ = TextFeatures.load(arrays, config, model.embedding_weight)
        return model

