"""Does ``categories`` list every problem of a multi-issue work order?

    python bench/multi_label.py [--thresholds 0.3,0.2] [--out bench/results/multi_label.json]

The primary category competes with the others for one slot, so its probability is a softmax;
whether a *second* category applies is a question of its own, which ``CategoryClassifier``
answers with one Platt-calibrated probability per category.  This script compares the two
ways of filling ``categories`` with the same models:

* **demo** (``data/demo``, which the project writes): 5-fold cross-validation over the 3,000 work
  orders, trained on the agents' labels (``人工分类``) as ``tousu train --label-col`` does
  (``ComplaintModel``, topics off); per held-out order, whether every one of its true problems
  (``truth.csv`` ``true_categories``: the planted BIL|ATT orders) is listed, and how often a
  single-issue order gets a category it does not have;
* **COCC untouched** (the 400 rows of ``common.cocc_split``, trained on the other 1,200): every
  order carries one label, so this measures how often a second category is added where the
  annotators saw one (a lower bound on wrong extras: some of them have two problems).

The primary category, and so accuracy and macro-F1, is the same both ways.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS_DIR, cocc_parts, machine_info, markdown_table, write_json

from tousu.models.pipeline import ComplaintModel
from tousu.nlp.clean import clean_texts
from tousu.nlp.paths import data_dir

WAYS = ("per-category (Platt)", "softmax")


def listed_both_ways(model: ComplaintModel, texts: list[str], thresholds) -> dict:
    """{(way, threshold): list of category sets}, for the same fitted model."""
    classifier = model.classifier_
    vectors = model.embed(texts)
    calibration = classifier.class_calibration_
    listed = {}
    for threshold in thresholds:
        classifier.threshold = threshold
        listed["per-category (Platt)", threshold] = classifier.assign(texts, vectors)["categories"]
        del classifier.class_calibration_
        listed["softmax", threshold] = classifier.assign(texts, vectors)["categories"]
        classifier.class_calibration_ = calibration
    return {key: [set(value.split("|")) for value in values] for key, values in listed.items()}


def demo_rows(thresholds) -> list[dict]:
    demo = data_dir() / "demo"
    orders = pd.read_csv(demo / "complaints.csv", dtype=str).merge(pd.read_csv(demo / "truth.csv", dtype=str), on="工单号")
    texts = clean_texts(orders["内容"].tolist())
    labels = orders["人工分类"].to_numpy(dtype=object)
    truth = [set(value.split("|")) for value in orders["true_categories"]]
    listed = {}
    for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(texts, labels):
        model = ComplaintModel(topics=False).fit([texts[i] for i in train], labels[train].tolist(), show_progress=False)
        for key, sets in listed_both_ways(model, [texts[i] for i in test], thresholds).items():
            listed.setdefault(key, {}).update(zip(test, sets))
    multi = [i for i, problems in enumerate(truth) if len(problems) > 1]
    single = [i for i, problems in enumerate(truth) if len(problems) == 1]
    rows = []
    for (way, threshold), by_row in listed.items():
        rows.append({"data": "demo (5-fold)", "way": way, "threshold": threshold, "multi_issue_orders": len(multi),
                     "all_problems_listed": round(float(np.mean([truth[i] <= by_row[i] for i in multi])), 3),
                     "single_issue_with_extra": round(float(np.mean([len(by_row[i] - truth[i]) > 0 for i in single])), 4)})
    return rows


def cocc_rows(thresholds) -> list[dict]:
    tune_texts, tune_labels, test_texts, _ = cocc_parts()
    model = ComplaintModel(topics=False).fit(tune_texts, tune_labels.tolist(), show_progress=False)
    return [{"data": "COCC untouched 400", "way": way, "threshold": threshold, "multi_issue_orders": 0,
             "all_problems_listed": None,
             "single_issue_with_extra": round(float(np.mean([len(s) > 1 for s in sets])), 4)}
            for (way, threshold), sets in listed_both_ways(model, test_texts, thresholds).items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--thresholds", default="0.3,0.2", help="comma-separated listing thresholds (default 0.3: the classifier's)")
    parser.add_argument("--out", default=str(RESULTS_DIR / "multi_label.json"))
    args = parser.parse_args()
    thresholds = [float(value) for value in args.thresholds.split(",")]
    rows = demo_rows(thresholds) + cocc_rows(thresholds)
    columns = ["data", "way", "threshold", "multi_issue_orders", "all_problems_listed", "single_issue_with_extra"]
    print(markdown_table(columns, [[row[c] for c in columns] for row in rows]))
    print(f"wrote {write_json(args.out, {'machine': machine_info(), 'rows': rows})}")


if __name__ == "__main__":
    main()
