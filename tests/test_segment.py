import jieba
import pytest

from tousu.nlp.segment import get_segmenter, segment

TELECOM_TERMS = [
    "携号转网", "视频彩铃", "流量包", "靓号", "合约机", "光猫", "宽带", "10086", "12300", "工信部",
    "销户", "保底消费", "副卡", "亲情网", "5G套餐",
]


@pytest.mark.parametrize("term", TELECOM_TERMS)
def test_telecom_terms_stay_whole(term):
    assert term in get_segmenter().cut(f"我要投诉{term}的问题怎么处理")


def test_segmentation_is_deterministic():
    text = "客户反映办理携号转网时被要求交违约金，营业厅排队两个小时，10086也打不通"
    assert segment(text) == segment(text)


def test_dictionary_loads_once_per_process():
    assert get_segmenter() is get_segmenter()


def test_global_jieba_is_left_alone():
    get_segmenter()
    jieba.dt.initialize()
    assert jieba.dt.FREQ.get("携号转网") is None


def test_tokens_drop_stopwords_punctuation_and_masks_but_cut_keeps_masks_whole():
    segmenter = get_segmenter()
    text = "客户的电话<PHONE>被停机了，号码******。"
    assert "<PHONE>" in segmenter.cut(text)
    assert "******" in segmenter.cut(text)
    tokens = segmenter.tokens(text)
    assert tokens == ["电话", "停机"]


def test_resources_carry_versions():
    lexicon = get_segmenter().lexicon
    assert lexicon.dictionary_version == "2" and lexicon.stopwords_version == "2"
    assert set(TELECOM_TERMS) <= set(lexicon.user_words)


def test_a_remembered_cut_is_the_same_and_cannot_be_changed_by_its_caller():
    segmenter = get_segmenter()
    first = segmenter.cut("话费被乱扣了，要求退费")
    first.append("改动")
    assert segmenter.cut("话费被乱扣了，要求退费") == first[:-1]
