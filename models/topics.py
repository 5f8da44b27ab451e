"""Topic discovery with BERTopic, tuned for Chinese complaints.

* c-TF-IDF vocabulary from our jieba segmenter and stopwords, not whitespace splitting;
* topics found in the embedding *and* the complaint's jieba words: each complaint is its unit
  embedding beside a unit jieba-word TF-IDF vector reduced to ``lexical_dims`` by truncated
  SVD (the vocabulary, IDF and SVD axes are saved with the model, so new complaints get the
  same vector);
* seeded UMAP so a rerun on the same input gives the same topics; guidance by the assigned
  categories is light (``target_weight=0``: UMAP still keeps complaints of one category a
  little closer), since zero-shot categories from a taxonomy written for another corpus cut
  across that corpus's own themes;
* outliers (topic −1) reassigned to the nearest topic, share reported;
* new complaints assigned by a linear model learnt from the discovered topics, so
  classifying the training complaints gives back the topics they were found in;
* labels that read like an analyst's phrase (``套餐变更·退费``): candidate words and runs of
  two or three adjacent jieba words frequent in the topic and rare elsewhere, ranked by
  embedding similarity to the topic centroid with maximal marginal relevance (KeyBERT/MMR
  style, with the model's own embedder); the c-TF-IDF words stay beside them
  (``topic_words``, ``top_words``);
* saved with BERTopic's safetensors serialization plus JSON and npz (no pickle); loading for
  assignment reads those files directly, without importing BERTopic (and with it torch
  and sentence-transformers: about 20 s before a classify job could start).

Measured (``bench/topics_untouched.py``: fit on COCC's 1,200-row tuning part the way
``tousu train`` does without labels — zero-shot categories from the default telecom taxonomy —
then assign its 400 untouched rows as ``tousu classify`` does): topic NMI 0.518 → see
bench/README.md for the figures of the chosen parameters. Within the tuning part (fit on 800,
assign the other 400, six splits) the parameters chosen here gave NMI 0.560 against 0.514 for
the earlier ones (embedding alone, ``target_weight`` 0.5): the jieba words +0.034,
``target_weight`` 0 instead of 0.5 +0.015; 100, 200 or 300 SVD dimensions, weights 0.7–1.5,
``min_topic_size`` n/70–n/130, ``n_neighbors`` 10–25 and the ``leaf`` selection all within
±0.01 of it; larger ``min_topic_size`` (n/55) drops to 0.52 (fewer, mixed topics), and
merging topics towards 8–12 lowered NMI as well.
"""
from __future__ import annotations

import json
import logging
import math
import shutil
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from tousu.nlp.embed.base import l2_normalize
from tousu.nlp.segment import get_segmenter

OUTLIER = -1
OUTLIER_LABEL = "未归类"


def _quiet_bertopic() -> None:
    """BERTopic warns on every save/load without an embedding model and on reassigned
    outliers, both of which we do on purpose; it resets its logger on construction."""
    logging.getLogger("BERTopic").setLevel(logging.ERROR)


TOPIC_INFO_FILE = "topic_info.json"
ASSIGNER_FILE = "topic_assigner.npz"
LEXICON_FILE = "topic_lexicon.npz"
# What BERTopic's safetensors serialization writes.
BERTOPIC_FILES = ("config.json", "topics.json", "topic_embeddings.safetensors", "ctfidf.safetensors",
                  "ctfidf_config.json")
# Topic-info columns that hold lists (saved as JSON lists).
LIST_COLUMNS = ("top_words", "keyphrases")


def _require_bertopic():
    try:
        from bertopic import BERTopic
    except ImportError:
        raise ImportError("topic discovery needs BERTopic: pip install bertopic") from None
    return BERTopic


class Lexicon:
    """Jieba-word TF-IDF (raw counts × smoothed IDF, unit rows) reduced by truncated SVD to
    unit vectors: what a complaint says in words, beside its embedding.

    Built from the arrays it saves (vocabulary, IDF, SVD axes), so assigning new complaints
    needs neither scikit-learn's vectorizer nor a pickle.
    """

    def __init__(self, vocabulary, idf: np.ndarray, components: np.ndarray):
        self.vocabulary = np.asarray(vocabulary, dtype=str)
        self.idf = np.asarray(idf, dtype=np.float32)
        self.components = np.asarray(components, dtype=np.float32)
        self._index = {word: i for i, word in enumerate(self.vocabulary.tolist())}

    @classmethod
    def fit(cls, tokens: list[list[str]], dims: int, random_state: int, max_words: int = 20000) -> Lexicon | None:
        """From each complaint's content words; ``None`` when there are too few words for it."""
        from sklearn.decomposition import TruncatedSVD

        n_documents = len(tokens)
        document_frequency = Counter(word for words in tokens for word in set(words))
        min_df = 2 if n_documents >= 200 else 1
        kept = sorted((w for w, df in document_frequency.items() if df >= min_df),
                      key=lambda w: (-document_frequency[w], w))[:max_words]
        dims = min(dims, len(kept) - 1, n_documents - 1)
        if dims < 2:
            return None
        vocabulary = sorted(kept)
        df = np.array([document_frequency[w] for w in vocabulary], dtype=np.float64)
        idf = np.log((1 + n_documents) / (1 + df)) + 1
        lexicon = cls(vocabulary, idf, np.zeros((0, len(vocabulary)), dtype=np.float32))
        tfidf = lexicon._tfidf(tokens)
        svd = TruncatedSVD(n_components=dims, random_state=random_state).fit(tfidf)
        lexicon.components = svd.components_.astype(np.float32)
        return lexicon

    def _tfidf(self, tokens: list[list[str]]) -> sparse.csr_matrix:
        rows, columns = [], []
        for row, words in enumerate(tokens):
            for word in words:
                column = self._index.get(word)
                if column is not None:
                    rows.append(row)
                    columns.append(column)
        counts = sparse.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, columns)),
                                   shape=(len(tokens), len(self.vocabulary)))
        counts.sum_duplicates()
        weighted = counts.multiply(self.idf[None, :]).tocsr()
        norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1))).ravel()
        norms[norms == 0] = 1.0
        return sparse.diags(1.0 / norms) @ weighted

    def transform(self, tokens: list[list[str]]) -> np.ndarray:
        return l2_normalize(np.asarray(self._tfidf(tokens) @ self.components.T))

    def arrays(self) -> dict[str, np.ndarray]:
        return {"vocabulary": self.vocabulary, "idf": self.idf, "components": self.components}


class TopicModel(BaseEstimator):
    """BERTopic over precomputed embeddings (and the complaints' jieba words).

    Parameters
    ----------
    min_topic_size: smallest cluster HDBSCAN keeps; ``None`` scales it with the corpus (1 %).
    n_neighbors, n_components: UMAP settings.
    reduce_outliers: reassign topic −1 documents to their nearest topic.
    label_words: how many c-TF-IDF words make ``topic_words`` (and the label when
        ``phrase_labels`` is off, as in models before it).
    random_state: UMAP and SVD seed; fixed so reruns are reproducible.
    assigner_C: inverse regularisation of the model that assigns new complaints to topics.
    seed_words: one word list per expected topic (a taxonomy's keywords, say): BERTopic's
        guided topic modelling pulls the complaints nearest each list together and
        weights those words up in the topic words. An alternative to guiding by categories;
        topics are then found from the embeddings alone (BERTopic mixes the seed words'
        embeddings into the complaints' own).
    target_weight: UMAP's weight of the categories when topics are guided by them: 0 keeps
        them a light pull (complaints of one category a little closer), 1 keeps categories
        apart.
    lexical_dims: dimensions of the jieba-word vector set beside each embedding (0: the
        embedding alone, as in models before it).
    lexical_weight: its length beside the unit embedding.
    phrase_labels: label topics with key phrases (see :meth:`phrase_labels`) rather than
        the c-TF-IDF words joined.
    """

    def __init__(
        self,
        min_topic_size: int | None = None,
        n_neighbors: int = 15,
        n_components: int = 5,
        reduce_outliers: bool = True,
        label_words: int = 4,
        top_n_words: int = 10,
        random_state: int = 42,
        assigner_C: float = 10.0,
        seed_words: list[list[str]] | None = None,
        target_weight: float = 0.0,
        lexical_dims: int = 200,
        lexical_weight: float = 1.0,
        phrase_labels: bool = True,
    ):
        self.min_topic_size = min_topic_size
        self.n_neighbors = n_neighbors
        self.n_components = n_components
        self.reduce_outliers = reduce_outliers
        self.label_words = label_words
        self.top_n_words = top_n_words
        self.random_state = random_state
        self.assigner_C = assigner_C
        self.seed_words = seed_words
        self.target_weight = target_weight
        self.lexical_dims = lexical_dims
        self.lexical_weight = lexical_weight
        self.phrase_labels = phrase_labels

    def _min_topic_size(self, n_documents: int) -> int:
        if self.min_topic_size is not None:
            return self.min_topic_size
        return int(np.clip(n_documents // 100, 5, 50))

    def fit(self, texts: list[str], embeddings: np.ndarray, categories=None, seed_embedder=None,
            embedder=None) -> TopicModel:
        """Fit on cleaned texts and their embeddings.

        ``categories`` (one per text, e.g. the classifier's assignments) guide UMAP
        (semi-supervised, weighted by ``target_weight``) and the assignment of new complaints.
        ``embedder`` is the embedder of ``embeddings``: it embeds the candidate label phrases
        (without it they are ranked by their words' counts alone) and ``seed_words``
        (``seed_embedder``, its older name, still does that).
        """
        from bertopic.vectorizers import ClassTfidfTransformer
        from hdbscan import HDBSCAN
        from sklearn.feature_extraction.text import CountVectorizer
        from umap import UMAP

        BERTopic = _require_bertopic()
        from tousu.nlp.embed.bertopic_backend import BERTopicBackend

        texts = list(texts)
        embeddings = np.asarray(embeddings, dtype=np.float32)
        seed_embedder = seed_embedder if seed_embedder is not None else embedder
        if len(texts) != len(embeddings):
            raise ValueError(f"{len(texts)} texts but {len(embeddings)} embeddings")
        if self.seed_words and (categories is not None or seed_embedder is None):
            raise ValueError("seed_words guide the topics instead of categories and need the seed_embedder "
                             "that made the embeddings")
        min_size = self._min_topic_size(len(texts))
        if len(texts) < 2 * min_size + self.n_neighbors:
            raise ValueError(
                f"too few complaints ({len(texts)}) to discover topics; need at least {2 * min_size + self.n_neighbors}"
            )
        segmenter = get_segmenter()
        self.lexicon_ = None
        if self.lexical_dims and not self.seed_words:
            self.lexicon_ = Lexicon.fit([segmenter.tokens(t) for t in texts], self.lexical_dims, self.random_state)
        features = self._features(embeddings, texts)
        model = BERTopic(
            umap_model=UMAP(n_neighbors=self.n_neighbors, n_components=self.n_components, min_dist=0.0,
                            metric="cosine", random_state=self.random_state, target_weight=self.target_weight),
            hdbscan_model=HDBSCAN(min_cluster_size=min_size, metric="euclidean",
                                  cluster_selection_method="eom", prediction_data=True),
            vectorizer_model=CountVectorizer(analyzer=segmenter.terms, min_df=2 if len(texts) >= 200 else 1),
            ctfidf_model=ClassTfidfTransformer(reduce_frequent_words=True),
            top_n_words=self.top_n_words,
            seed_topic_list=self.seed_words or None,
            embedding_model=BERTopicBackend(seed_embedder) if self.seed_words else None,
            # With "english" BERTopic strips every non-ASCII character before c-TF-IDF.
            language="multilingual",
            calculate_probabilities=False,
            verbose=False,
        )
        _quiet_bertopic()
        with warnings.catch_warnings():
            # Seeding UMAP makes it single-threaded on purpose: reproducible topics matter more.
            warnings.filterwarnings("ignore", message="n_jobs value", category=UserWarning)
            targets = None
            if categories is not None:
                targets = pd.factorize(pd.Series(categories, dtype=object), sort=True)[0]
            # Seeding moves the seeded complaints' vectors in place: give it a copy.
            topics, _ = model.fit_transform(texts, features.copy() if self.seed_words else features, y=targets)
        topics = np.asarray(topics)
        self.outlier_share_before_reduction_ = float(np.mean(topics == OUTLIER))
        if self.reduce_outliers and (topics == OUTLIER).any() and (topics != OUTLIER).any():
            # BERTopic's topic vectors are still those of `features` here.
            topics = np.asarray(model.reduce_outliers(texts, topics, strategy="embeddings", embeddings=features))
            model.update_topics(texts, topics=topics.tolist(), vectorizer_model=model.vectorizer_model,
                                ctfidf_model=model.ctfidf_model, top_n_words=self.top_n_words)
        # Topic vectors in embedding space (the hierarchy, the explorer's map, the labels).
        model.topic_embeddings_ = self._topic_centroids(topics, embeddings, model)
        self.model_ = model
        self._set_topic_vectors(sorted(model.topic_representations_), model.topic_embeddings_)
        self.labels_ = topics
        self.outlier_share_ = float(np.mean(topics == OUTLIER))
        self._fit_assigner(features, categories, topics)
        self.topic_info_ = self._describe(texts, topics, embeddings, embedder)
        return self

    def _features(self, embeddings: np.ndarray, texts) -> np.ndarray:
        """What topics are found in and assigned by: the embedding, and beside it the jieba
        words when the model has a lexicon (older models: the embedding as it came)."""
        embeddings = np.asarray(embeddings, dtype=np.float32)
        if getattr(self, "lexicon_", None) is None:
            return embeddings
        if texts is None:
            raise ValueError("these topics were found in the complaints' words too: pass the texts to transform")
        texts = list(texts)
        if len(texts) != len(embeddings):
            raise ValueError(f"{len(texts)} texts but {len(embeddings)} embeddings")
        segmenter = get_segmenter()
        words = self.lexicon_.transform([segmenter.tokens(t) for t in texts])
        return np.hstack([l2_normalize(embeddings), self.lexical_weight * words]).astype(np.float32)

    @staticmethod
    def _topic_centroids(topics: np.ndarray, embeddings: np.ndarray, model) -> np.ndarray:
        """Mean embedding per topic, in BERTopic's row order (−1 first when present)."""
        order = sorted(set(model.topic_representations_))
        dim = embeddings.shape[1]
        return l2_normalize(np.vstack([
            embeddings[topics == t].mean(axis=0) if (topics == t).any() else np.zeros(dim) for t in order
        ]))

    def _describe(self, texts: list[str], topics: np.ndarray, embeddings: np.ndarray, embedder) -> pd.DataFrame:
        words = {}
        for topic, representation in self.model_.topic_representations_.items():
            words[topic] = [w for w, score in representation if w and score > 0][: self.top_n_words]
        phrases = (phrase_labels(texts, topics, embeddings, embedder=embedder, anchors=words)
                   if self.phrase_labels else {})
        rows = []
        sizes = pd.Series(topics).value_counts()
        # Largest topics name themselves first; a phrase already in a label is not reused, so
        # two topics never read alike in a chart (work-order templates repeat across topics).
        used_phrases, used_labels = set(), set()
        for topic in sorted(words, key=lambda t: (-int(sizes.get(t, 0)), t)):
            top = words[topic]
            topic_words = "·".join(top[: self.label_words]) or f"主题{topic}"
            keyphrases = phrases.get(topic, [])
            fresh = [p for p in keyphrases if p not in used_phrases][:2]
            if topic == OUTLIER:
                label = OUTLIER_LABEL
            elif fresh:
                label = "·".join(fresh)
            else:  # a topic too small for phrases, or phrase labels off: the c-TF-IDF words
                label = topic_words
            if label in used_labels:
                label = f"{label}（主题{topic}）"
            used_phrases.update(fresh)
            used_labels.add(label)
            rows.append({"topic_id": int(topic), "topic_label": label, "size": int(sizes.get(topic, 0)),
                         "top_words": top, "topic_words": topic_words, "keyphrases": keyphrases})
        info = pd.DataFrame(rows).sort_values(["size", "topic_id"], ascending=[False, True])
        info["share"] = info["size"] / max(len(texts), 1)
        return info.reset_index(drop=True)

    def _fit_assigner(self, embeddings: np.ndarray, categories, topics: np.ndarray) -> None:
        """Learn to place new complaints in the discovered topics.

        The topics are HDBSCAN clusters in a UMAP space (bent by the categories when
        guided) that a pickle-free model cannot carry, and the nearest topic centroid
        in embedding space is a poor stand-in: on COCC it gave back only 80 % of the
        training complaints' own topics (topic NMI 0.48 instead of 0.55). A multinomial
        logistic regression over the features topics were found in, plus the category when
        topics were guided, gives back all of them and 97 % on held-out complaints.
        """
        from sklearn.linear_model import LogisticRegression

        self.assigner_categories_ = (None if categories is None
                                     else np.array(sorted(set(map(str, categories))), dtype=object))
        classes = np.unique(topics)
        if len(classes) < 2:
            self.assigner_classes_ = classes.astype(int)
            self.assigner_coef_ = np.zeros((1, embeddings.shape[1] + self._category_width()), dtype=np.float32)
            self.assigner_intercept_ = np.zeros(1, dtype=np.float32)
            return
        linear = LogisticRegression(C=self.assigner_C, max_iter=3000)
        linear.fit(self._assigner_features(embeddings, categories), topics)
        coef, intercept = linear.coef_, linear.intercept_
        if len(classes) == 2:  # binary LogisticRegression keeps one row; make it two-class
            coef, intercept = np.vstack([-coef[0], coef[0]]) / 2, np.array([-intercept[0], intercept[0]]) / 2
        self.assigner_classes_ = linear.classes_.astype(int)
        self.assigner_coef_, self.assigner_intercept_ = coef.astype(np.float32), intercept.astype(np.float32)

    def _category_width(self) -> int:
        return 0 if self.assigner_categories_ is None else len(self.assigner_categories_)

    def _assigner_features(self, features: np.ndarray, categories) -> np.ndarray:
        features = np.asarray(features, dtype=np.float32)
        if self.assigner_categories_ is None:
            return features
        if categories is None:
            raise ValueError("these topics were guided by categories: pass each complaint's category to transform")
        if len(categories) != len(features):
            raise ValueError(f"{len(features)} embeddings but {len(categories)} categories")
        index = {code: i for i, code in enumerate(self.assigner_categories_)}
        one_hot = np.zeros((len(features), len(index)), dtype=np.float32)
        rows = [(row, index[str(c)]) for row, c in enumerate(categories) if str(c) in index]
        if rows:  # a category unseen in training (the catch-all, say) adds nothing
            one_hot[tuple(np.array(rows).T)] = 1.0
        return np.hstack([features, one_hot])

    def transform(self, embeddings: np.ndarray, categories=None, texts=None) -> np.ndarray:
        """Topic of each new complaint; ``categories`` (the classifier's, one per complaint)
        are needed when the topics were guided by categories, ``texts`` (cleaned, as for
        ``fit``) when they were found in the words too (models with a lexicon)."""
        check_is_fitted(self, "assigner_coef_")
        features = self._features(embeddings, texts)
        scores = self._assigner_features(features, categories) @ self.assigner_coef_.T + self.assigner_intercept_
        return self._follow_merges(self.assigner_classes_[scores.argmax(axis=1)])

    def _follow_merges(self, topic_ids: np.ndarray) -> np.ndarray:
        """A topic an analyst merged into another (``merged_into`` in ``topic_info_``, set by
        the explorer's model editing) answers as the topic it joined."""
        if "merged_into" not in self.topic_info_:
            return topic_ids
        merged = self.topic_info_.dropna(subset=["merged_into"])
        mapping = dict(zip(merged["topic_id"].astype(int), merged["merged_into"].astype(int)))
        return pd.Series(topic_ids).replace(mapping).to_numpy(dtype=topic_ids.dtype)

    def _set_topic_vectors(self, order: list[int], embeddings) -> None:
        """Topic ids and their unit embedding rows, from BERTopic's rows (−1 first when present)."""
        keep = [i for i, t in enumerate(order) if t != OUTLIER]
        self.topic_ids_ = np.array([order[i] for i in keep], dtype=int)
        self.topic_embeddings_ = l2_normalize(np.asarray(embeddings)[keep])

    def label_of(self, topic_ids) -> list[str]:
        labels = dict(zip(self.topic_info_["topic_id"], self.topic_info_["topic_label"]))
        return [labels.get(int(t), f"主题{t}") for t in topic_ids]

    def hierarchy(self) -> pd.DataFrame:
        """How topics merge into broader themes: average-linkage clustering of the
        topic embeddings (cosine distance), one row per merge, closest first.

        Columns: ``parent_id`` (new node ids start after the largest topic id),
        ``left_id``, ``right_id``, ``distance``, ``topic_ids`` (every topic under
        the parent) and ``label`` (the labels of its two largest topics).
        Works from the saved model alone; no training texts needed.
        """
        from scipy.cluster.hierarchy import linkage

        check_is_fitted(self, "topic_ids_")
        ids = self.topic_ids_
        if len(ids) < 2:
            return pd.DataFrame(columns=["parent_id", "left_id", "right_id", "distance", "topic_ids", "label"])
        merges = linkage(self.topic_embeddings_, method="average", metric="cosine")
        sizes = dict(zip(self.topic_info_["topic_id"], self.topic_info_["size"]))
        labels = dict(zip(self.topic_info_["topic_id"], self.topic_info_["topic_label"]))
        node_ids = list(ids)
        members = [[int(t)] for t in ids]
        first_parent = int(ids.max()) + 1
        rows = []
        for step, (left, right, distance, _) in enumerate(merges):
            left, right = int(left), int(right)
            under = members[left] + members[right]
            biggest = sorted(under, key=lambda t: -sizes.get(t, 0))[:2]
            rows.append({"parent_id": first_parent + step, "left_id": int(node_ids[left]),
                         "right_id": int(node_ids[right]), "distance": round(float(distance), 4),
                         "topic_ids": sorted(under), "label": " / ".join(labels.get(t, str(t)) for t in biggest)})
            node_ids.append(first_parent + step)
            members.append(under)
        return pd.DataFrame(rows)

    # ----- persistence -----
    def save(self, directory: str | Path) -> None:
        check_is_fitted(self, "assigner_coef_")
        directory = Path(directory)
        if hasattr(self, "model_"):
            _quiet_bertopic()
            self.model_.save(directory, serialization="safetensors", save_ctfidf=True, save_embedding_model=False)
        else:  # loaded, then edited (names, merges): BERTopic's part is unchanged
            for name in BERTOPIC_FILES:
                shutil.copyfile(self.source_dir_ / name, directory / name)
        info = self.topic_info_.assign(**{
            column: self.topic_info_[column].map(lambda v: list(v) if isinstance(v, (list, tuple, np.ndarray)) else [])
            for column in LIST_COLUMNS if column in self.topic_info_})
        payload = {
            "params": self.get_params(),
            "outlier_share": self.outlier_share_,
            "outlier_share_before_reduction": self.outlier_share_before_reduction_,
            "topics": info.to_dict("records"),
        }
        (directory / TOPIC_INFO_FILE).write_text(json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8")
        arrays = {"coef": self.assigner_coef_, "intercept": self.assigner_intercept_, "classes": self.assigner_classes_}
        if self.assigner_categories_ is not None:
            arrays["categories"] = self.assigner_categories_.astype(str)
        np.savez(directory / ASSIGNER_FILE, **arrays)
        if getattr(self, "lexicon_", None) is not None:
            np.savez(directory / LEXICON_FILE, **self.lexicon_.arrays())

    @classmethod
    def load(cls, directory: str | Path) -> TopicModel:
        """Everything needed to assign, describe and re-save topics, read without BERTopic.

        Models saved before the lexicon and phrase labels load as they were: their topics are
        assigned from the embeddings alone and keep their labels."""
        from safetensors.numpy import load_file

        directory = Path(directory)
        payload = json.loads((directory / TOPIC_INFO_FILE).read_text(encoding="utf-8"))
        params = dict(payload["params"])
        # What a model saved before these parameters existed was fitted with.
        params.setdefault("lexical_dims", 0)
        params.setdefault("phrase_labels", False)
        params.setdefault("target_weight", 0.5)
        topic_model = cls(**params)
        topic_model.source_dir_ = directory
        representations = json.loads((directory / "topics.json").read_text(encoding="utf-8"))["topic_representations"]
        topic_model._set_topic_vectors(sorted(int(t) for t in representations),
                                       load_file(directory / "topic_embeddings.safetensors")["topic_embeddings"])
        topic_model.outlier_share_ = payload["outlier_share"]
        topic_model.outlier_share_before_reduction_ = payload["outlier_share_before_reduction"]
        topic_model.topic_info_ = pd.DataFrame(payload["topics"])
        with np.load(directory / ASSIGNER_FILE, allow_pickle=False) as arrays:
            topic_model.assigner_coef_ = arrays["coef"]
            topic_model.assigner_intercept_ = arrays["intercept"]
            topic_model.assigner_classes_ = arrays["classes"]
            topic_model.assigner_categories_ = (arrays["categories"].astype(object) if "categories" in arrays
                                                else None)
        topic_model.lexicon_ = None
        if (directory / LEXICON_FILE).is_file():
            with np.load(directory / LEXICON_FILE, allow_pickle=False) as arrays:
                topic_model.lexicon_ = Lexicon(arrays["vocabulary"], arrays["idf"], arrays["components"])
        return topic_model


# ------------------------------------------------------------------ labels

#: Longest key phrase, in characters.
MAX_PHRASE_CHARS = 8
#: Words that leave a phrase hanging when it ends with them (``宽带无法``, ``状态是否``) …
DANGLING_WORDS = ("无法", "不能", "是否", "可以", "需要", "要求", "没有", "已经", "不是", "进行", "有关")
#: … or starts with them (``通过支付宝``).
LEADING_WORDS = ("通过", "进行", "对于", "关于", "由于", "因为", "经过", "根据")


def _hanging(phrase: str) -> bool:
    return any(phrase != w and phrase.endswith(w) for w in DANGLING_WORDS) or any(
        phrase != w and phrase.startswith(w) for w in LEADING_WORDS)


def _runs(segmenter, text: str) -> set[str]:
    """The candidate phrases of one complaint: its descriptive words (:meth:`Segmenter.terms`)
    and every run of two or three of them that stand next to each other in the text
    (``套餐`` ``变更`` → ``套餐变更``)."""
    terms = segmenter.terms(text)
    found = set(terms)
    # `terms` is a subsequence of the (lower-cased) tokens; walk them to see which terms touch.
    run: list[str] = []
    position = 0
    for token in segmenter.cut(text):
        token = token.lower() if token.isascii() and token.isalpha() else token
        if position < len(terms) and token == terms[position]:
            position += 1
            run = (run + [token])[-3:]
            for length in (2, 3):
                if len(run) >= length:
                    phrase = "".join(run[-length:])
                    if len(phrase) <= MAX_PHRASE_CHARS:
                        found.add(phrase)
        else:
            run = []
    return found


def phrase_labels(texts, topics, embeddings=None, embedder=None, n_phrases: int = 5, candidates: int = 20,
                  diversity: float = 0.3, min_share: float = 0.05, anchors: dict | None = None,
                  word_weight: float = 0.25, phrase_bonus: float = 0.05) -> dict[int, list[str]]:
    """Key phrases of each topic, best first: what an analyst would call it.

    Candidates are the topic's descriptive words and runs of two or three jieba words that
    stand next to each other in its complaints, used by at least ``min_share`` of them (and
    two), not ending or starting with a word that leaves them hanging (:data:`DANGLING_WORDS`,
    :data:`LEADING_WORDS`), and, where
    ``anchors`` (topic → its c-TF-IDF words) give any such, containing one of those words.
    Each is scored by how much more often the topic's complaints use it than the others do:
    ``p(phrase | topic) · log(p(phrase | topic) / p(phrase))``; a word nearly always said as
    part of a longer candidate gives way to it. With an ``embedder`` (the one that made
    ``embeddings``) the best ``candidates`` are ranked KeyBERT-style by the cosine similarity of
    their embedding to the topic's mean embedding, plus ``word_weight`` times their score over
    the best one's, plus ``phrase_bonus`` for a phrase of four characters or more (two words,
    mostly: what reads as a phrase rather than a loose word), and picked with maximal marginal relevance (``diversity``: the weight of a
    phrase's similarity to those already picked); without one, by the score alone. A phrase
    that contains, is contained in or shares two characters with one already picked is
    skipped. Deterministic: ties go by the phrase itself. A topic without candidates (too
    small, or only words every topic uses) gets an empty list; the outlier topic none.
    """
    segmenter = get_segmenter()
    topics = np.asarray(topics)
    phrase_sets = [_runs(segmenter, str(text)) for text in texts]
    total = Counter(p for phrases in phrase_sets for p in phrases)
    n_documents = len(phrase_sets)
    chosen: dict[int, list[str]] = {}
    scored: dict[int, list[tuple[str, float]]] = {}
    for topic in sorted(set(topics.tolist()) - {OUTLIER}):
        members = np.flatnonzero(topics == topic)
        in_topic = Counter(p for i in members for p in phrase_sets[i])
        floor = max(2, math.ceil(min_share * len(members)))
        kept = {p: n for p, n in in_topic.items() if n >= floor}
        # A word nearly always said as part of a longer candidate gives way to it.
        kept = {p: n for p, n in kept.items()
                if not any(p != q and p in q and m >= 0.7 * n for q, m in kept.items())}
        if anchors is not None:  # phrases of the topic's c-TF-IDF words, when it has any
            words = anchors.get(topic, [])
            kept = {p: n for p, n in kept.items() if any(w in p for w in words)} or kept
        scores = []
        for phrase, n in kept.items():
            inside, overall = n / len(members), total[phrase] / n_documents
            if inside > overall and not _hanging(phrase):
                scores.append((phrase, inside * math.log(inside / overall)))
        scores.sort(key=lambda item: (-item[1], item[0]))
        scored[topic] = scores[:candidates]
    if embedder is not None and embeddings is not None:
        vocabulary = sorted({p for scores in scored.values() for p, _ in scores})
        vectors = dict(zip(vocabulary, l2_normalize(embedder.encode(vocabulary)))) if vocabulary else {}
        embeddings = np.asarray(embeddings, dtype=np.float32)
    for topic, scores in scored.items():
        if not scores:
            chosen[topic] = []
            continue
        if embedder is None or embeddings is None:
            chosen[topic] = _without_overlaps([p for p, _ in scores], n_phrases)
            continue
        centroid = l2_normalize(embeddings[topics == topic].mean(axis=0, keepdims=True))[0]
        phrases = [p for p, _ in scores]
        matrix = np.vstack([vectors[p] for p in phrases])
        relevance = matrix @ centroid
        lexical = np.array([s for _, s in scores])
        # Embedding relevance, nudged by how distinctive the phrase is in words.
        relevance = relevance + word_weight * lexical / lexical.max()
        relevance = relevance + phrase_bonus * np.array([len(p) >= 4 for p in phrases])
        chosen[topic] = _mmr(phrases, matrix, relevance, n_phrases, diversity)
    return chosen


def _overlaps(phrase: str, picked: list[str]) -> bool:
    return any(phrase in other or other in phrase or len(set(phrase) & set(other)) >= 2 for other in picked)


def _without_overlaps(phrases: list[str], n: int) -> list[str]:
    picked: list[str] = []
    for phrase in phrases:
        if len(picked) < n and not _overlaps(phrase, picked):
            picked.append(phrase)
    return picked


def _mmr(phrases: list[str], vectors: np.ndarray, relevance: np.ndarray, n: int, diversity: float) -> list[str]:
    """Maximal marginal relevance: each next phrase maximises ``(1 − diversity) · relevance −
    diversity · (its greatest similarity to a phrase already picked)``."""
    picked: list[int] = []
    order = sorted(range(len(phrases)), key=lambda i: (-relevance[i], phrases[i]))
    while len(picked) < n:
        best, best_score = None, -np.inf
        for i in order:
            if i in picked or _overlaps(phrases[i], [phrases[j] for j in picked]):
                continue
            redundancy = max((float(vectors[i] @ vectors[j]) for j in picked), default=0.0)
            score = (1 - diversity) * relevance[i] - diversity * redundancy
            if score > best_score + 1e-9:
                best, best_score = i, score
        if best is None:
            break
        picked.append(best)
    return [phrases[i] for i in picked]
