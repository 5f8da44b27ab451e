"""Label issues: does `tousu train --label-col` put the wrong labels first?

    python bench/label_issues.py [--part untouched all] [--flip 0.05] [--seeds 0 1 2 3 4]
                                 [--out bench/results/label_issues.json]

On COCC dev (1,600 work orders, 8 classes, ../shared), ``--flip`` of the labels are changed at
random to another class (fixed seeds: each seed is one noisy copy). ``tousu train`` (default
embedder, no topics) writes ``label_issues.csv``; with k labels flipped, the measure is the
share of flipped rows among its first k rows (precision@k), and the share of flipped rows it
lists at all (recall). The anchor, in the same run on the same copies: jieba TF-IDF +
logistic regression, 5-fold cross-validated probabilities, rows ranked by self-confidence
(the probability of the given label). COCC's own labels are noisy too (annotators agree on
about 91 %), so an unflipped row near the top may be a real error: both methods pay for it alike.

``--part`` picks the rows (``bench/common.py`` ``cocc_split``): ``tuning`` (the 1,200 rows the
method was chosen on), ``untouched`` (the other 400: report only, 5 % = 20 flips per seed) and
``all`` (1,600, 80 flips, the figures this bench gave before the split); several parts run one
after the other, each with every seed. Goal (issue 12): precision@k ≥ 0.80 and no lower than the
anchor. About 5 minutes on 2 cores for the default untouched + all, 5 seeds.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS_DIR, cocc_split, load_cocc, machine_info, markdown_table, write_json  # noqa: E402

PARTS = ("tuning", "untouched", "all")


def flipped_copy(labels: list[str], share: float, seed: int) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    classes = sorted(set(labels))
    rows = rng.choice(len(labels), size=round(share * len(labels)), replace=False)
    noisy = list(labels)
    for row in rows:
        others = [c for c in classes if c != labels[row]]
        noisy[row] = others[rng.integers(len(others))]
    return noisy, np.sort(rows)


def part_rows(part: str) -> tuple[list[str], list[str]]:
    """(texts, labels) of one part of COCC dev."""
    texts, labels = load_cocc()
    if part == "all":
        return texts, labels
    tuning, untouched = cocc_split()
    rows = tuning if part == "tuning" else untouched
    return [texts[i] for i in rows], [labels[i] for i in rows]


def tousu_ranking(texts, labels, folder: Path) -> tuple[list[int], float]:
    from tousu.jobs.train import train_job

    table = pd.DataFrame({"id": [str(i) for i in range(len(texts))], "text": texts, "label": labels})
    table.to_csv(folder / "train.tsv", sep="\t", index=False)
    start = time.perf_counter()
    model_dir, _ = train_job(folder / "train.tsv", folder / "model", label_col="label", topics=False,
                             id_col="id", overwrite=True)
    seconds = time.perf_counter() - start
    issues = pd.read_csv(model_dir / "label_issues.csv", dtype={"id": str})
    return [int(i) for i in issues["id"]], seconds


def anchor_ranking(texts, labels) -> list[int]:
    """jieba TF-IDF + logistic regression, 5-fold out-of-fold probabilities, by self-confidence."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    from tousu.nlp.segment import segment

    features = TfidfVectorizer(analyzer=segment, sublinear_tf=True, min_df=2).fit_transform(texts)
    classes = np.array(sorted(set(labels)))
    proba = cross_val_predict(LogisticRegression(max_iter=2000, C=10), features, labels, method="predict_proba",
                              cv=StratifiedKFold(5, shuffle=True, random_state=0))
    given = proba[np.arange(len(labels)), np.searchsorted(classes, labels)]
    return np.argsort(given, kind="stable").tolist()


def measure_part(part: str, share: float, seeds: list[int], scratch: Path) -> dict:
    texts, labels = part_rows(part)
    runs = []
    for seed in seeds:
        noisy, flipped = flipped_copy(labels, share, seed)
        k, wrong = len(flipped), set(flipped.tolist())
        ours, seconds = tousu_ranking(texts, noisy, scratch)
        anchor = anchor_ranking(texts, noisy)
        runs.append({"seed": seed, "flipped": k, "listed": len(ours),
                     "precision_at_k": round(len(set(ours[:k]) & wrong) / k, 4),
                     "recall": round(len(set(ours) & wrong) / k, 4),
                     "anchor_precision_at_k": round(len(set(anchor[:k]) & wrong) / k, 4),
                     "train_seconds": round(seconds, 1)})
        print(part, runs[-1], flush=True)

    def mean(key: str) -> float:
        return round(float(np.mean([run[key] for run in runs])), 4)

    return {"rows": len(texts), "runs": runs,
            "mean_precision_at_k": mean("precision_at_k"),
            "worst_precision_at_k": min(run["precision_at_k"] for run in runs),
            "mean_recall": mean("recall"),
            "worst_recall": min(run["recall"] for run in runs),
            "mean_anchor_precision_at_k": mean("anchor_precision_at_k"),
            "worst_anchor_precision_at_k": min(run["anchor_precision_at_k"] for run in runs),
            "ratio_of_means_to_anchor": round(mean("precision_at_k") / mean("anchor_precision_at_k"), 3),
            "worst_ratio_to_anchor": round(min(run["precision_at_k"] / run["anchor_precision_at_k"]
                                               for run in runs), 3),
            "mean_train_seconds": round(mean("train_seconds"), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", nargs="+", choices=PARTS, default=["untouched", "all"],
                        help="which rows of COCC dev (default: untouched, then all)")
    parser.add_argument("--flip", type=float, default=0.05)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "label_issues.json")
    args = parser.parse_args()
    parts = {}
    with tempfile.TemporaryDirectory(prefix="tousu-label-issues-") as scratch:
        for part in dict.fromkeys(args.part):
            parts[part] = measure_part(part, args.flip, args.seeds, Path(scratch))
    for part, result in parts.items():
        runs = result["runs"]
        print(f"\n{part} ({result['rows']} rows)")
        print(markdown_table(["seed", "flipped k", "listed", "tousu precision@k", "tousu recall",
                              "anchor precision@k", "train s"],
                             [[r["seed"], r["flipped"], r["listed"], r["precision_at_k"], r["recall"],
                               r["anchor_precision_at_k"], r["train_seconds"]] for r in runs]))
        print(f"precision@k mean/worst: tousu {result['mean_precision_at_k']}/{result['worst_precision_at_k']}, "
              f"anchor {result['mean_anchor_precision_at_k']}/{result['worst_anchor_precision_at_k']} "
              f"(ratio of means {result['ratio_of_means_to_anchor']}, worst ratio {result['worst_ratio_to_anchor']}); "
              f"recall mean {result['mean_recall']}; goal ≥ 0.80 and ≥ the anchor")
    write_json(args.out, {"flip": args.flip, "seeds": args.seeds, "parts": parts,
                          "machine": machine_info(["cleanlab", "scikit-learn"])})
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
