"""A small deterministic embedder for tests about the pipeline rather than the embedding."""
from __future__ import annotations

import zlib

import numpy as np

from tousu.nlp.embed.base import Embedder

TEST_EMBEDDER = "test-bigrams"


class HashedBigramEmbedder(Embedder):
    """Character bigrams hashed (CRC-32, the same in every process) into 64 counts: texts that
    share words share components, and nothing is loaded or downloaded."""

    name = "test-bigrams-64"
    batch_size = 256

    @property
    def dim(self) -> int:
        return 64

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        matrix = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for bigram in zip(text, text[1:]):
                matrix[row, zlib.crc32("".join(bigram).encode("utf-8")) % self.dim] += 1.0
        return matrix
