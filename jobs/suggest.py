"""The job behind ``tousu suggest``: which complaints to label next."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tousu.models.active import suggest_for_labelling
from tousu.models.pipeline import ComplaintModel
from tousu.nlp.clean import CleanOptions
from tousu.nlp.jobs import JobSummary, read_cleaned, write_quarantine
from tousu.nlp.tables import TableReader, TableWriter, write_table

#: The columns ``tousu suggest`` writes; ``id``, ``text`` and ``label`` are those a corrections
#: file for ``tousu train --corrections`` needs, so the sheet goes back in as it is.
SUGGESTION_COLUMNS = ["rank", "id", "text", "suggested_category", "suggested_category_name", "confidence",
                      "uncertainty", "label"]


def suggestion_table(model: ComplaintModel, ids, texts, embeddings: np.ndarray, n: int,
                     already_labelled=None, random_state: int = 0) -> pd.DataFrame:
    """The ``n`` complaints to label next (:func:`tousu.models.active.suggest_for_labelling`)
    as :data:`SUGGESTION_COLUMNS`, most uncertain first.

    ``suggested_category`` is the model's most probable category (even below its
    ``min_confidence``, where ``classify`` would say the catch-all) with its probability
    ``confidence``; ``uncertainty`` is ``1 - (p_first - p_second)``; ``label`` is left empty
    for the analyst, in the vocabulary of the training table's label column.
    """
    ids = np.asarray([str(i) for i in ids], dtype=object)
    texts = [str(t) for t in texts]
    if not texts:
        return pd.DataFrame({column: pd.Series(dtype=object) for column in SUGGESTION_COLUMNS})
    proba = model.classifier_.predict_proba(texts, embeddings=embeddings)
    picked, uncertainty = suggest_for_labelling(proba, embeddings, n, texts=texts, already_labelled=already_labelled,
                                                random_state=random_state)
    classes = np.asarray(model.classifier_.classes_, dtype=object)
    best = proba[picked].argmax(axis=1)
    return pd.DataFrame({
        "rank": np.arange(1, len(picked) + 1),
        "id": ids[picked],
        "text": np.asarray(texts, dtype=object)[picked],
        "suggested_category": classes[best],
        "suggested_category_name": [model.category_name(code) for code in classes[best]],
        "confidence": np.round(proba[picked, best], 4),
        "uncertainty": np.round(uncertainty, 4),
        "label": "",
    }, columns=SUGGESTION_COLUMNS)


def suggest_job(
    model_dir: str | Path,
    input_path: str | Path,
    output_path: str | Path,
    n: int,
    exclude: list[str | Path] | tuple = (),
    cache: bool = True,
    options: CleanOptions | None = None,
    progress: bool = True,
    **reader_options,
) -> JobSummary:
    """Write the ``n`` complaints of ``input_path`` to label next to ``output_path`` (format by
    extension) as :data:`SUGGESTION_COLUMNS`; rows that cannot be read go to the quarantine
    beside it, as for ``classify``. Texts are written cleaned (and PII-masked unless
    ``options``, default :class:`CleanOptions`, say otherwise).

    exclude: tables of complaints labelled already (the training table, a corrections file,
        an earlier suggestion sheet once labelled): a complaint whose id or cleaned text is in
        one of them is not suggested. Each is read with its id and text columns found by
        name; in a table with a ``label`` column only the rows with a label count.
    """
    if n < 1:
        raise ValueError(f"-n must be at least 1, not {n}")
    options = options if options is not None else CleanOptions()
    TableWriter(output_path)  # refuses an extension it cannot write before any work is done
    model = ComplaintModel.load(model_dir, cache=cache)
    reader = TableReader(input_path, **reader_options)
    summary = JobSummary(str(input_path), str(output_path))
    table, quarantined = read_cleaned(reader, options, summary)
    ids = table[reader.id_col].astype(str).tolist()
    texts = table[reader.text_col].astype(str).tolist()
    labelled = _labelled_rows(ids, texts, exclude, options)
    vectors = model.embed(texts, show_progress=progress) if texts else np.zeros((0, 0), dtype=np.float32)
    suggestions = suggestion_table(model, ids, texts, vectors, n, already_labelled=labelled)
    write_table(suggestions, output_path)
    write_quarantine(quarantined, Path(output_path), summary)
    summary.details.update(model=str(model_dir), text_column=reader.text_col, id_column=reader.id_col,
                           suggested=f"{len(suggestions):,} of {len(texts) - int(labelled.sum()):,} unlabelled "
                                     "complaints (fill in the label column; then tousu train … --corrections "
                                     f"{output_path})")
    if exclude:
        summary.details["excluded"] = f"{int(labelled.sum()):,} complaints already labelled"
    return summary


def _labelled_rows(ids: list[str], texts: list[str], exclude, options: CleanOptions) -> np.ndarray:
    """Which rows the ``exclude`` tables hold, by id or by cleaned text."""
    labelled = np.zeros(len(ids), dtype=bool)
    for path in exclude or ():
        reader = TableReader(path)
        table, _ = read_cleaned(reader, options, JobSummary(str(path), ""))
        if "label" in table.columns:  # a suggestion sheet: the rows not labelled yet are still open
            table = table[table["label"].fillna("").astype(str).str.strip().ne("")]
        known_ids = set(table[reader.id_col].astype(str).str.strip())
        known_texts = set(table[reader.text_col].astype(str))
        labelled |= np.array([i in known_ids or t in known_texts for i, t in zip(ids, texts)], dtype=bool)
    return labelled
