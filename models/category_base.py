"""What the category and subcategory classifiers share: embeddings checked against their
texts, unit prototypes read from taxonomy categories, and the softmax over their scores."""
from __future__ import annotations

import numpy as np


def softmax(scores: np.ndarray) -> np.ndarray:
    scores = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(scores)
    return exp / exp.sum(axis=1, keepdims=True)


def checked_embeddings(texts: list[str], embeddings: np.ndarray | None, embedder, owner: str) -> np.ndarray:
    """``embeddings`` (one row per text) as float32, or the texts embedded by ``embedder``;
    ``owner`` names the model in the message when neither is there."""
    if embeddings is not None:
        if len(embeddings) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(embeddings)} embeddings")
        return np.asarray(embeddings, dtype=np.float32)
    if embedder is None:
        raise ValueError(f"pass embeddings or construct the {owner} with an embedder")
    return embedder.encode(texts)


def category_prototypes(embedder, categories) -> np.ndarray:
    """One unit vector per category: the mean embedding of its name, its prompt (name and
    description) and each keyword."""
    vectors = np.vstack([embedder.encode([c.name, c.prompt(), *c.keywords]).mean(axis=0) for c in categories])
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
