"""Issue 12's goals in one run: every figure against its anchor, on COCC's untouched 400 rows.

    python bench/categories_goals.py [--from-results] [--out bench/results/categories_goals.json]

Runs, one after the other, the benchmarks that report on the untouched part of
:func:`common.cocc_split` (each tunes on the 1,200 other rows only) and writes their JSON into
``bench/results/categories_goals/`` (so that this run's figures stay together, and each
benchmark's own file, with the parts and corpora only it runs, is left as it was): ``zero_shot.py`` (six taxonomy styles), ``supervised_untouched.py``
(default and ``--accurate`` against jieba TF-IDF + LinearSVC), ``label_issues.py --part untouched``
(flipped labels found, against cross-validated TF-IDF + logistic regression) and
``topics_untouched.py`` (topic NMI and outliers, against BERTopic's default). Then one table:
goal, our figure, the anchor's, whether the goal holds. About 15 minutes on 2 cores with the
embedding cache warm; ``--from-results`` only reads the JSON the last runs wrote.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO_ROOT, RESULTS_DIR, machine_info, markdown_table, write_json

BENCH = Path(__file__).resolve().parent
RUNS = {
    "zero_shot": ["zero_shot.py", "--other-corpora"],
    "supervised_untouched": ["supervised_untouched.py"],
    "label_issues": ["label_issues.py", "--part", "untouched"],
    "topics_untouched": ["topics_untouched.py"],
}


RUN_DIR = RESULTS_DIR / "categories_goals"


def run_all() -> None:
    for name, (script, *options) in RUNS.items():
        print(f"--- {script} {' '.join(options)}", flush=True)
        subprocess.run([sys.executable, str(BENCH / script), *options, "--out", str(RUN_DIR / f"{name}.json")],
                       check=True, cwd=REPO_ROOT)


def goals(results: dict[str, dict]) -> list[dict]:
    """One row per goal of issue 12: what, ours, the anchor's, the goal, whether it holds."""
    rows = []
    zero_shot = results["zero_shot"]["methods"]
    before = zero_shot["landed"]["summary"]
    styles = len(zero_shot["default"]["taxonomies"])
    for method, label in (("default", ""), ("accurate", ", --accurate")):
        ours = zero_shot[method]["summary"]
        for what, key in ((f"mean of {styles} taxonomy styles", "mean_accuracy"), ("worst taxonomy style", "worst_accuracy")):
            rows.append({"goal": f"zero-shot accuracy{label}, {what}", "ours": ours[key], "anchor": before[key],
                         "anchor_is": "the method before", "target": "≥ 0.75", "met": ours[key] >= 0.75})
    supervised = {row["name"]: row for row in results["supervised_untouched"]["untouched"]}
    anchor = supervised["jieba TF-IDF + LinearSVC"]["macro_f1"]
    default = supervised["ours (tousu train --label-col)"]
    rows.append({"goal": "supervised macro-F1, default", "ours": default["macro_f1"], "anchor": anchor,
                 "anchor_is": "jieba TF-IDF + LinearSVC", "target": "≥ 1.01 × anchor",
                 "met": default["macro_f1"] >= 1.01 * anchor})
    accurate = supervised.get("ours, tousu train --accurate")
    if accurate is not None:
        rows.append({"goal": "supervised macro-F1, --accurate", "ours": accurate["macro_f1"], "anchor": anchor,
                     "anchor_is": "jieba TF-IDF + LinearSVC", "target": "≥ 0.90", "met": accurate["macro_f1"] >= 0.90})
    issues = results["label_issues"]["parts"]["untouched"]
    for what, ours_key, anchor_key in (("mean", "mean_precision_at_k", "mean_anchor_precision_at_k"),
                                       ("worst", "worst_precision_at_k", "worst_anchor_precision_at_k")):
        ours_figure, anchor_figure = issues[ours_key], issues[anchor_key]
        rows.append({"goal": f"label issues: flipped among the first k (5 % flipped), {what} of 5 flip seeds",
                     "ours": ours_figure, "anchor": anchor_figure,
                     "anchor_is": "cross-validated TF-IDF + LR, self-confidence", "target": "≥ 0.80 and ≥ anchor",
                     "met": ours_figure >= 0.80 and ours_figure >= anchor_figure})
    topics = results["topics_untouched"]["topics"]
    rows.append({"goal": "topic NMI (fit without labels)", "ours": topics["ours"]["nmi"],
                 "anchor": topics["bertopic_default"]["nmi"], "anchor_is": "BERTopic default",
                 "target": "≥ 0.55", "met": topics["ours"]["nmi"] >= 0.55})
    spread = results["topics_untouched"]["ours_nmi_by_umap_seed"]
    for what in ("mean", "worst"):
        rows.append({"goal": f"topic NMI, {what} of {len(spread['nmi'])} UMAP seeds", "ours": spread[what],
                     "anchor": topics["bertopic_default"]["nmi"], "anchor_is": "BERTopic default",
                     "target": "≥ 0.55", "met": spread[what] >= 0.55})
    rows.append({"goal": "topic outlier share", "ours": topics["ours"]["outlier_share"],
                 "anchor": topics["bertopic_default"]["outlier_share"], "anchor_is": "BERTopic default",
                 "target": "≤ 0.10", "met": topics["ours"]["outlier_share"] <= 0.10})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from-results", action="store_true", help="summarise the JSON already written")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "categories_goals.json")
    args = parser.parse_args()
    if not args.from_results:
        run_all()
    results = {name: json.loads((RUN_DIR / f"{name}.json").read_text(encoding="utf-8")) for name in RUNS}
    rows = goals(results)
    print("\nIssue 12's goals on COCC's 400 untouched work orders\n")
    print(markdown_table(["goal", "ours", "anchor", "anchor is", "target", "met"],
                         [(r["goal"], r["ours"], r["anchor"], r["anchor_is"], r["target"], "yes" if r["met"] else "no")
                          for r in rows]))
    print(f"written: {write_json(args.out, {'benchmark': 'categories_goals', 'goals': rows, 'machine': machine_info()})}")


if __name__ == "__main__":
    main()
