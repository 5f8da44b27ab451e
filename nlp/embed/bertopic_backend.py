"""Adapter that lets BERTopic use any of our embedders as its ``embedding_model``."""
from __future__ import annotations

import numpy as np

try:
    from bertopic.backend import BaseEmbedder
except ImportError:  # pragma: no cover - bertopic is a core dependency
    raise ImportError("using an embedder with BERTopic needs bertopic: pip install bertopic") from None

from tousu.nlp.embed.base import Embedder


class BERTopicBackend(BaseEmbedder):
    def __init__(self, embedder: Embedder):
        super().__init__(embedding_model=embedder)
        self.embedder = embedder

    def embed(self, documents: list[str], verbose: bool = False) -> np.ndarray:
        return self.embedder.encode(documents, show_progress=verbose)
