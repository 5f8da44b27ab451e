"""A model-free embedder: jieba TF-IDF reduced by truncated SVD (LSA).

Unlike the neural embedders it must be fitted on a corpus first; the fitted
vocabulary and components are part of its ``name`` so cached vectors from a
different fit are never reused.
"""
from __future__ import annotations

import hashlib

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.utils.validation import check_is_fitted

from tousu.nlp.embed.base import Embedder
from tousu.nlp.segment import get_segmenter


class TfidfSVDEmbedder(Embedder, BaseEstimator):
    batch_size = 4096
    requires_fit = True

    def __init__(self, n_components: int = 256, min_df: int = 2, random_state: int = 0):
        self.n_components = n_components
        self.min_df = min_df
        self.random_state = random_state

    @property
    def name(self) -> str:
        fingerprint = getattr(self, "fingerprint_", "unfitted")
        return f"tfidf-svd{self.n_components}-{fingerprint}"

    @property
    def dim(self) -> int:
        return self.svd_.n_components if hasattr(self, "svd_") else self.n_components

    def fit(self, texts) -> TfidfSVDEmbedder:
        texts = [str(t) for t in texts]
        min_df = self.min_df if len(texts) >= 10 * self.min_df else 1
        self.vectorizer_ = TfidfVectorizer(
            analyzer=get_segmenter(), min_df=min_df, sublinear_tf=True
        ).fit(texts)
        vocabulary_size = len(self.vectorizer_.vocabulary_)
        # SVD needs fewer components than both documents and terms.
        n_components = max(1, min(self.n_components, vocabulary_size - 1, len(texts) - 1))
        self.svd_ = TruncatedSVD(n_components, random_state=self.random_state).fit(
            self.vectorizer_.transform(texts)
        )
        self.fingerprint_ = hashlib.sha1(self.svd_.components_.tobytes()).hexdigest()[:12]
        return self

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        check_is_fitted(self, "svd_", msg="the tfidf embedder must be fitted on a corpus first: call fit(texts)")
        return self.svd_.transform(self.vectorizer_.transform(texts)).astype(np.float32)
