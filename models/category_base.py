"""What the category and subcategory classifiers share: embeddings checked against their
texts, unit prototypes read from taxonomy categories, the reference categories that lend
them words, and the softmax over their scores."""
from __future__ import annotations

import numpy as np

#: The least cosine between a category's prototype and a reference category's for the
#: reference to lend its words (both must also be each other's nearest).
LENDING_SIMILARITY = 0.5


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


def lending_categories(embedder, prototypes: np.ndarray, reference) -> list:
    """Per row of ``prototypes`` (one category each), the category of the ``reference``
    taxonomy (level 1 or 2, the catch-all left out) that lends it its words, or ``None``.

    A category lends to the one category it is nearest to, and only if that category is
    nearest to it in turn and their prototypes' cosine is at least :data:`LENDING_SIMILARITY`:
    a terse "网络问题" and the reference's "网络质量" pair up, a shopping category and
    a telecom one rarely do, and two categories never share one lender.
    """
    candidates = [node for category in reference.categories if category.code != reference.other_code
                  for node in (category, *category.children)]
    if not candidates:
        return [None] * len(prototypes)
    similarity = prototypes @ category_prototypes(embedder, candidates).T
    nearest_candidate, nearest_category = similarity.argmax(axis=1), similarity.argmax(axis=0)
    return [candidates[k] if nearest_category[k] == j and similarity[j, k] >= LENDING_SIMILARITY else None
            for j, k in enumerate(nearest_candidate)]
