"""The jobs behind ``tousu evaluate`` and ``tousu topics``."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from tousu.jobs.train import classification_metrics, read_subcategory_labels, subcategory_metrics
from tousu.models.pipeline import ComplaintModel
from tousu.models.store import read_manifest
from tousu.nlp.clean import CleanOptions
from tousu.nlp.jobs import JobSummary, read_cleaned
from tousu.nlp.tables import InputError, TableReader


def evaluate_job(
    model_dir: str | Path, input_path: str | Path, label_col: str, cache: bool = True,
    options: CleanOptions = CleanOptions(), subcategory_col: str | None = None, **reader_options,
) -> dict:
    """Accuracy, macro-F1, per-class F1, confusion matrix, topic NMI/ARI against ``label_col``;
    with ``subcategory_col`` (level-2 labels: child codes or names, empty where none) also
    ``subcategory``: level-2 accuracy on the rows with a level-2 label, overall and on those
    whose level-1 prediction is right (see :func:`tousu.jobs.train.subcategory_metrics`)."""
    model = ComplaintModel.load(model_dir, cache=cache)
    reader = TableReader(input_path, label_col=label_col, **reader_options)
    summary = JobSummary(str(input_path), "")
    table, _ = read_cleaned(reader, options, summary)
    gold = table[label_col].astype(str).str.strip().to_numpy(dtype=object)
    gold_subcategory = (read_subcategory_labels(table, subcategory_col, input_path, model.taxonomy_)
                        if subcategory_col is not None else None)
    if model.mode_ == "zero-shot":  # gold labels may be written as category names
        by_name = {c.name: c.code for c in model.taxonomy_.all_categories}
        gold = np.array([by_name.get(g, g) for g in gold], dtype=object)
    predicted = model.predict(table[reader.text_col].tolist(), show_progress=True)
    report = classification_metrics(gold, predicted["category"])
    if gold_subcategory is not None:
        report["subcategory"] = subcategory_metrics(gold, gold_subcategory, predicted["category"],
                                                    predicted["subcategory"])
        if model.subcategory_model_ is None:
            report["subcategory"]["note"] = ("this model assigns no subcategories (saved before tousu had them, or "
                                             "its taxonomy has no level-1 category with children)")
    if model.topic_model_ is not None:
        report["topic_nmi"] = round(float(normalized_mutual_info_score(gold, predicted["topic_id"])), 4)
        report["topic_ari"] = round(float(adjusted_rand_score(gold, predicted["topic_id"])), 4)
        report["topic_outlier_share_in_training"] = model.topic_model_.outlier_share_
        report["topic_outlier_share_before_reduction"] = model.topic_model_.outlier_share_before_reduction_
    report["rows"] = {"read": summary.rows_read, "evaluated": summary.rows_kept,
                      "quarantined": summary.rows_quarantined}
    report["model"] = {"dir": str(model_dir), "mode": model.mode_,
                       "version": model.manifest_.get("version")}
    return report


def _load_topic_model(model_dir: str | Path):
    from tousu.models.topics import TopicModel

    read_manifest(model_dir)
    topics_dir = Path(model_dir) / "topics"
    if not topics_dir.is_dir():
        raise InputError(model_dir, "this model has no topics (trained with --no-topics or on too few rows)")
    return TopicModel.load(topics_dir)


def topics_table(model_dir: str | Path) -> pd.DataFrame:
    """Topics with size, share, label, top words and mapped category."""
    topic_model = _load_topic_model(model_dir)
    info = topic_model.topic_info_
    info = info.assign(top_words=info["top_words"].map(lambda words: " ".join(words)))
    columns = ["topic_id", "size", "share", "topic_label", "category", "category_name", "category_share", "top_words"]
    info = info[[c for c in columns if c in info]]
    info.attrs["outlier_share"] = topic_model.outlier_share_
    return info


def topic_tree_lines(model_dir: str | Path) -> list[str]:
    """The topic hierarchy as an indented tree, broadest theme first."""
    topic_model = _load_topic_model(model_dir)
    merges = topic_model.hierarchy()
    info = topic_model.topic_info_.set_index("topic_id")
    if merges.empty:
        return [f"{t} {info.at[t, 'topic_label']}" for t in topic_model.topic_ids_]
    children = {row.parent_id: (row.left_id, row.right_id, row.distance, row.label)
                for row in merges.itertuples()}
    lines = []

    def walk(node: int, depth: int) -> None:
        indent = "  " * depth
        if node in children:
            left, right, distance, label = children[node]
            lines.append(f"{indent}├ {label}  (distance {distance:.2f})")
            walk(left, depth + 1)
            walk(right, depth + 1)
        else:
            lines.append(f"{indent}· topic {node}: {info.at[node, 'topic_label']} ({info.at[node, 'size']})")

    walk(int(merges["parent_id"].iloc[-1]), 0)
    return lines


def topics_over_time(classified_path: str | Path, date_col: str = "受理时间", freq: str = "M") -> pd.DataFrame:
    """Complaints per topic and period from a ``tousu classify`` output: topics as rows
    (largest first), periods as columns."""
    from tousu.analysis.volumes import trends

    table = TableReader(classified_path).rows()
    for column in ("topic_label", date_col):
        if column not in table:
            raise InputError(classified_path, f"no column {column!r}; give the output of `tousu classify` "
                                              f"and name the date column with --date-col")
    counts = trends(table, date_col, by="topic_label", freq=freq)
    pivot = counts.pivot(index="group", columns="period", values="count")
    pivot.columns = [period.strftime("%Y-%m-%d" if freq in ("D", "W") else "%Y-%m") for period in pivot.columns]
    pivot = pivot.loc[pivot.sum(axis=1).sort_values(ascending=False).index]
    pivot.index.name = "topic_label"
    pivot.attrs["undated"] = counts.attrs.get("missing_timestamps", 0) + counts.attrs.get("bad_timestamps", 0)
    return pivot
