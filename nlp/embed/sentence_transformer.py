"""Any sentence-transformers model, from a local folder or a hub name."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from tousu.nlp.embed.base import Embedder


class SentenceTransformerEmbedder(Embedder):
    """``model`` is a folder written by ``SentenceTransformer.save`` or a hub name.

    A hub name is looked up in the local Hugging Face cache first, and only
    then downloaded, so it works offline once the model has been fetched.
    ``prefix`` is prepended to every text (``"query: "`` for E5-style models).
    """

    batch_size = 32
    spec_argument = "<name-or-path>"

    def __init__(self, model: str, prefix: str = "", device: str = "cpu"):
        self.model = model
        self.prefix = prefix
        self.device = device
        self._model = None

    @classmethod
    def from_spec(cls, argument: str | None = None, cache_dir: str | Path | None = None) -> SentenceTransformerEmbedder:
        return cls(argument)

    @property
    def name(self) -> str:
        return f"st:{self.model}"

    @property
    def dim(self) -> int:
        return self._load().get_embedding_dimension()

    def _load(self):
        if self._model is None:
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError:
                raise ImportError(
                    "st: embedders need sentence-transformers: pip install sentence-transformers torch==2.13.0"
                ) from None
            if Path(self.model).exists():
                self._model = SentenceTransformer(str(self.model), device=self.device)
            else:
                self._model = self._load_by_name(SentenceTransformer)
        return self._model

    def _load_by_name(self, SentenceTransformer):
        try:
            return SentenceTransformer(self.model, device=self.device, local_files_only=True)
        except Exception:
            pass
        try:
            return SentenceTransformer(self.model, device=self.device)
        except Exception as error:
            raise ValueError(
                f"cannot load sentence-transformers model {self.model!r}: it is not a local folder, not in the "
                f"Hugging Face cache, and downloading it failed ({type(error).__name__}: {error}). "
                "On a machine without internet, save the model with SentenceTransformer.save(PATH) elsewhere, "
                "copy the folder here and use --embedder st:PATH"
            ) from None

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        model = self._load()
        return model.encode(
            [self.prefix + t for t in texts], batch_size=len(texts), convert_to_numpy=True,
            normalize_embeddings=False, show_progress_bar=False,
        ).astype(np.float32)
