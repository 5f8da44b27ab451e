"""The one interface every embedder implements.

An embedder turns a list of texts into a float32 matrix with one L2-normalised
row per text.  Subclasses implement :meth:`_encode_batch`; batching, progress
bars and normalisation live here so every backend behaves the same.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm


def l2_normalize(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    # An all-zero row (e.g. an empty text under TF-IDF) stays zero instead of NaN.
    norms[norms == 0] = 1.0
    return matrix / norms


class Embedder(ABC):
    """Base class: ``encode(texts) -> (n, dim) float32``, rows L2-normalised.

    ``name`` identifies the backend and its weights; it is part of the
    embedding-cache key, so two embedders that can give different vectors for
    the same text must have different names.
    """

    name: str = "embedder"
    batch_size: int = 64
    #: Fitted on each corpus (``fit(texts)`` before ``encode``), so its vectors mean nothing
    #: outside that corpus: it is not cached and no saved model can keep it.
    requires_fit: bool = False
    #: What follows ``name:`` in a :func:`~tousu.nlp.embed.get_embedder` spec, as help shows
    #: it (``"<name-or-path>"``); ``None`` when the spec is the bare name.
    spec_argument: str | None = None

    @classmethod
    def from_spec(cls, argument: str | None = None, cache_dir: str | Path | None = None) -> Embedder:
        """The embedder a spec names: ``argument`` is what follows ``name:`` (``None`` when
        :attr:`spec_argument` is), ``cache_dir`` the root for files the embedder keeps.
        Override when the constructor needs either."""
        return cls()

    @property
    @abstractmethod
    def dim(self) -> int:
        """Length of one embedding vector."""

    @abstractmethod
    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        """Embed one batch; rows need not be normalised."""

    def encode(
        self,
        texts: Sequence[str],
        batch_size: int | None = None,
        show_progress: bool = False,
    ) -> np.ndarray:
        texts = [str(t) for t in texts]
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        size = batch_size or self.batch_size
        starts = range(0, len(texts), size)
        if show_progress:
            starts = tqdm(starts, total=len(starts), desc=f"embed[{self.name}]", unit="batch")
        parts = [self._encode_batch(texts[start : start + size]) for start in starts]
        return l2_normalize(np.vstack(parts))

    def to_bertopic(self):
        """This embedder as a BERTopic ``embedding_model``."""
        from tousu.nlp.embed.bertopic_backend import BERTopicBackend

        return BERTopicBackend(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
