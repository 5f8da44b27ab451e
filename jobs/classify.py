"""The job behind ``tousu classify``."""
from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from tousu.jobs.train import _confidence_params
from tousu.jobs.workers import ChunkClassifier, default_workers
from tousu.models.pipeline import OUTPUT_COLUMNS
from tousu.models.store import MANIFEST, file_sha256, read_manifest
from tousu.nlp.clean import CleanOptions
from tousu.nlp.jobs import JobSummary, QuarantineWriter, clean_kept, clean_quarantine, output_lock
from tousu.nlp.personal_data import pseudonymise, read_pseudonym_key
from tousu.nlp.progress import ChunkProgress, file_fingerprint
from tousu.nlp.tables import TableChunk, TableReader, TableWriter


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
    pseudonymise_ids: str | Path | None = None,
    resume: bool = False,
    workers: int | None = None,
    **reader_options,
) -> JobSummary:
    """Classify a table chunk by chunk; output = input columns + :data:`OUTPUT_COLUMNS` (an input
    column named like one of these is kept as ``<name>_input``). A second job on the same output
    is refused while this one runs.

    Each finished chunk is kept in ``OUTPUT.progress/`` (:mod:`tousu.nlp.progress`) and OUTPUT
    written from them at the end, so a job that dies leaves no partial OUTPUT. resume: continue
    such a job after its last finished chunk (refused if the input, model or options changed);
    without it an unfinished job's progress is discarded.

    store: a results store (a DuckDB path, or an open :class:`tousu.store.ResultsStore`)
        that also receives the model version with its topics, and every classified chunk,
        upserted by id (so re-running the job duplicates nothing), with the texts' sentence
        vectors for the explorer's similar-complaint search. A path is opened for each chunk
        only, so an explorer on the same store keeps working during the job. The rows are
        written under an import that is marked complete after the last chunk (a resumed job
        continues its import).
    source_name: how the store names the input (default: ``input_path``).
    on_chunk: called with the running summary after each chunk, e.g. to move a progress bar.
    min_confidence, threshold: override the model's (see :class:`tousu.models.classifier.CategoryClassifier`).
    pseudonymise_ids: a key file: the id and customer-id columns (:func:`tousu.nlp.personal_data.key_columns`)
        are written, and stored, as keyed hashes (:func:`tousu.nlp.personal_data.pseudonymise`).
    workers: worker processes that classify the chunks (:mod:`tousu.jobs.workers`); default: one
        per usable CPU for an input of 4 MB or more, else none (1: in this process).
    """
    key = read_pseudonym_key(pseudonymise_ids) if pseudonymise_ids is not None else None
    manifest = read_manifest(model_dir)
    confidence = _confidence_params(min_confidence, threshold)
    reader = TableReader(input_path, chunk_rows=chunk_rows, reserved_columns=OUTPUT_COLUMNS, **reader_options)
    summary = JobSummary(str(input_path), str(output_path))
    source = source_name or str(input_path)
    started_with = {
        "input": file_fingerprint(input_path), "model": file_sha256(Path(model_dir) / MANIFEST),
        **reader.options(), "clean_options": asdict(options), "min_confidence": min_confidence,
        "threshold": threshold, "source_name": source,
        "pseudonym_key": hashlib.sha256(key).hexdigest() if key is not None else None,
        "store": str(Path(getattr(store, "path", store)).resolve()) if store is not None else None,
    }
    workers = workers or default_workers(input_path)
    with output_lock(output_path), _results_store(store) as results, \
            ChunkProgress(output_path, started_with, resume) as done, \
            ChunkClassifier(model_dir, cache, confidence, workers, vectors=results is not None) as classifier, \
            tqdm(desc="classify", unit="rows", disable=not progress) as bar:
        _restore(summary, done.saved)
        version = space = None
        import_id = done.saved.get("import_id")
        if results is not None:
            from tousu.store import vector_space

            version = results.record_model(model_dir, manifest)
            space = vector_space(manifest)
            import_id = import_id or results.start_import(source, version)

        def finish(chunk: TableChunk, classified: Future | None) -> None:
            """Store and keep a chunk whose rows were classified (oldest first)."""
            rows = chunk.kept
            if classified is not None:
                predicted, vectors = classifier.result(classified)
                rows = pd.concat([chunk.kept.reset_index(drop=True), predicted], axis=1)
                if results is not None:
                    results.upsert_complaints(rows, reader.text_col, reader.id_col, model_version=version,
                                              source_file=source, vectors=vectors, embedder=space,
                                              import_id=import_id)
            summary.add(chunk)
            done.save_chunk(_saved(summary, import_id), rows, chunk.quarantine)
            bar.update(chunk.rows_read)
            if on_chunk is not None:
                on_chunk(summary)

        # With workers, one chunk each is classified while the next is read and cleaned; in this
        # process each is finished at once (a job that dies has lost no classified chunk).
        in_flight: deque[tuple[TableChunk, Future | None]] = deque()
        queue_depth = workers if workers > 1 else 0
        for index, chunk in enumerate(reader.chunks()):
            if index < done.chunks_done:
                bar.update(chunk.rows_read)
                continue
            chunk.kept = clean_kept(chunk.kept, reader.text_col, reader.id_col, options)
            chunk.quarantine = clean_quarantine(chunk.quarantine, reader.id_col, options)
            if key is not None:
                chunk.kept = pseudonymise(chunk.kept, key, named=[reader.id_col])
                chunk.quarantine = pseudonymise(chunk.quarantine, key, named=[reader.id_col])
            texts = chunk.kept[reader.text_col].tolist()
            in_flight.append((chunk, classifier.submit(index, texts) if texts else None))
            while len(in_flight) > queue_depth or (in_flight and in_flight[0][1] is None):
                finish(*in_flight.popleft())
        while in_flight:
            finish(*in_flight.popleft())
        classifier.close()
        with TableWriter(output_path) as writer:
            for rows in done.rows():
                writer.write(rows)
        with QuarantineWriter(output_path, summary) as quarantine:
            for rows in done.quarantine():
                quarantine.write(rows)
    summary.notes += done.notes
    summary.details.update(model=str(model_dir), text_column=reader.text_col, id_column=reader.id_col)
    if workers > 1:
        summary.details["workers"] = workers
    if results is not None:
        results.finish_import(import_id, summary.rows_read)
        summary.details["store"] = str(results.path)
    return summary


def _saved(summary: JobSummary, import_id: str | None) -> dict:
    """What a resumed job takes over from the chunks before."""
    return {"rows_read": summary.rows_read, "rows_kept": summary.rows_kept,
            "rows_quarantined": summary.rows_quarantined, "notes": summary.notes, "import_id": import_id}


def _restore(summary: JobSummary, saved: dict) -> None:
    summary.rows_read = saved.get("rows_read", 0)
    summary.rows_kept = saved.get("rows_kept", 0)
    summary.rows_quarantined = saved.get("rows_quarantined", 0)
    summary.notes = list(saved.get("notes", []))


@contextmanager
def _results_store(store):
    """The results store to write to: none, the caller's, or one that opens the file for each
    write only."""
    if store is None:
        yield None
        return
    from tousu.store import ResultsStore

    yield store if isinstance(store, ResultsStore) else ResultsStore(store, hold=False)
