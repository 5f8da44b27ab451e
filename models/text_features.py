"""The features the linear category models learn from, in one place.

Character 1–3-grams and jieba words, each TF-IDF with sublinear counts, beside the sentence
embedding scaled by ``embedding_weight``: the character n-grams catch the short forms and
typos of work orders, the words what a complaint is about, the embedding its paraphrases.
Saved as vocabularies and IDF arrays (no pickle); the segmenter is code, so it is attached
again on loading rather than stored.
"""
from __future__ import annotations

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from tousu.nlp.segment import get_segmenter

CHAR_NGRAMS = (1, 3)


def min_document_frequency(rows: int) -> int:
    """Rows a term must appear in to be kept: a term seen once in a small corpus is as likely
    noise as signal, and under 50 rows every term counts."""
    return 2 if rows >= 50 else 1


class TextFeatures:
    """Fitted with :meth:`fit`, restored with :meth:`load`; :meth:`transform` gives the rows."""

    def __init__(self, chars: TfidfVectorizer, words: TfidfVectorizer, embedding_weight: float):
        self.chars, self.words, self.embedding_weight = chars, words, embedding_weight

    @classmethod
    def fit(cls, texts: list[str], embedding_weight: float) -> TextFeatures:
        min_df = min_document_frequency(len(texts))
        chars = TfidfVectorizer(analyzer="char", ngram_range=CHAR_NGRAMS, sublinear_tf=True, min_df=min_df)
        words = TfidfVectorizer(analyzer=get_segmenter().cut, sublinear_tf=True, min_df=min_df)
        chars.fit(texts)
        words.fit(texts)
        return cls(chars, words, embedding_weight)

    def transform(self, texts: list[str], embeddings: np.ndarray) -> sparse.csr_matrix:
        return sparse.hstack([self.chars.transform(texts), self.words.transform(texts),
                              sparse.csr_matrix(embeddings * self.embedding_weight)]).tocsr()

    def save(self, arrays: dict, config: dict) -> None:
        """Into a model's npz ``arrays`` and JSON ``config``."""
        arrays.update(idf=self.chars.idf_.astype(np.float32), word_idf=self.words.idf_.astype(np.float32))
        config["vectorizer"] = {"ngram_range": list(self.chars.ngram_range), "vocabulary": _vocabulary(self.chars)}
        config["word_vocabulary"] = _vocabulary(self.words)

    @classmethod
    def load(cls, arrays, config: dict, embedding_weight: float) -> TextFeatures:
        chars = _restored(TfidfVectorizer(analyzer="char", sublinear_tf=True,
                                          ngram_range=tuple(config["vectorizer"]["ngram_range"])),
                          config["vectorizer"]["vocabulary"], arrays["idf"])
        words = _restored(TfidfVectorizer(analyzer=get_segmenter().cut, sublinear_tf=True),
                          config["word_vocabulary"], arrays["word_idf"])
        return cls(chars, words, embedding_weight)


def _vocabulary(vectorizer: TfidfVectorizer) -> list[str]:
    return sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.get)


def _restored(vectorizer: TfidfVectorizer, vocabulary: list[str], idf: np.ndarray) -> TfidfVectorizer:
    vectorizer.vocabulary_ = {term: i for i, term in enumerate(vocabulary)}
    vectorizer.idf_ = idf.astype(np.float64)
    return vectorizer
