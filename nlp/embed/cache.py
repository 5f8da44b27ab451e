"""Embedding cache keyed by text hash, so re-running a job does not re-embed.

One SQLite file per embedder name under ``<cache_dir>/embeddings/``; SQLite
gives atomic commits and safe concurrent readers for free.
"""
from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from tousu.nlp.embed.base import Embedder
from tousu.nlp.paths import cache_dir as default_cache_dir

_LOOKUP_BATCH = 500  # stays under SQLite's limit on bound parameters
#: New vectors are committed whenever this many are waiting, so that a job stopped half-way
#: (a crash, Ctrl-C, a slow e5 pass over a large file) keeps what it embedded and a rerun goes on
#: from there.
COMMIT_EVERY = 2048


def _text_key(text: str) -> bytes:
    return hashlib.sha1(text.encode("utf-8")).digest()


class CachedEmbedder(Embedder):
    """Wraps an embedder; only texts never seen by that embedder are encoded."""

    def __init__(self, embedder: Embedder, cache_dir: str | Path | None = None):
        self.embedder = embedder
        self.cache_dir = cache_dir
        self.hits = 0
        self.misses = 0

    @property
    def name(self) -> str:
        return self.embedder.name

    @property
    def dim(self) -> int:
        return self.embedder.dim

    @property
    def path(self) -> Path:
        root = Path(self.cache_dir) if self.cache_dir is not None else default_cache_dir()
        safe_name = re.sub(r"[^A-Za-z0-9._-]+", "_", self.embedder.name)[:120]
        return root / "embeddings" / f"{safe_name}.sqlite"

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=60)
        connection.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL)")
        return connection

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        return self.embedder._encode_batch(texts)

    def encode(self, texts: Sequence[str], batch_size: int | None = None, show_progress: bool = False) -> np.ndarray:
        texts = [str(t) for t in texts]
        keys = [_text_key(t) for t in texts]
        result = np.zeros((len(texts), self.dim), dtype=np.float32)
        with self._connect() as connection:
            found = {}
            unique_keys = list(dict.fromkeys(keys))
            for start in range(0, len(unique_keys), _LOOKUP_BATCH):
                batch = unique_keys[start : start + _LOOKUP_BATCH]
                placeholders = ",".join("?" * len(batch))
                found.update(connection.execute(
                    f"SELECT key, vector FROM vectors WHERE key IN ({placeholders})", batch
                ))
            missing = {}
            for index, key in enumerate(keys):
                if key in found:
                    result[index] = np.frombuffer(found[key], dtype=np.float32)
                else:
                    missing.setdefault(key, []).append(index)
            self.hits += len(texts) - sum(map(len, missing.values()))
            self.misses += len(missing)
            if missing:
                self._encode_missing(connection, texts, missing, result, batch_size or self.embedder.batch_size,
                                     show_progress)
        return result

    def _encode_missing(self, connection: sqlite3.Connection, texts: list[str], missing: dict[bytes, list[int]],
                        result: np.ndarray, size: int, show_progress: bool) -> None:
        """Embed the texts of ``missing`` (key → their rows) batch by batch into ``result``,
        committing every :data:`COMMIT_EVERY` new vectors."""
        new_keys = list(missing)
        new_texts = [texts[missing[key][0]] for key in new_keys]
        starts = range(0, len(new_texts), size)
        pending = []
        for start in tqdm(starts, total=len(starts), desc=f"embed[{self.name}]", unit="batch",
                          disable=not show_progress):
            vectors = self.embedder.encode(new_texts[start : start + size], batch_size=size)
            for key, vector in zip(new_keys[start : start + size], vectors):
                result[missing[key]] = vector
                pending.append((key, vector.tobytes()))
            if len(pending) >= COMMIT_EVERY or start + size >= len(new_texts):
                connection.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)", pending)
                connection.commit()
                pending = []
