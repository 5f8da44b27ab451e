"""Classify an uploaded table into the results store, through ``classify_job`` like the CLI."""
from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from tousu.jobs.classify import classify_job
from tousu.nlp.jobs import JobSummary
from tousu.store import ResultsStore

UPLOAD_TYPES = ("csv", "xlsx", "tsv", "txt", "jsonl", "parquet")
UPLOAD_CHUNK_ROWS = 500


def estimate_rows(path: Path) -> int | None:
    """Data rows of a file for a progress bar, without parsing it (None when unknown).
    Quoted line breaks make the CSV count an overestimate; the bar then ends early."""
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv", ".txt", ".jsonl"):
        with path.open("rb") as handle:
            lines = sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))
        return max(lines - (suffix != ".jsonl"), 1)
    if suffix == ".xlsx":
        from openpyxl import load_workbook

        workbook = load_workbook(path, read_only=True)
        try:
            return max((workbook.worksheets[0].max_row or 1) - 1, 1)
        finally:
            workbook.close()
    return None


def classify_upload(store: ResultsStore, model_dir: str, file_name: str, content: bytes,
                    on_progress: Callable[[int, int | None], None] | None = None) -> tuple[JobSummary, pd.DataFrame]:
    """Classify an uploaded file with ``model_dir`` into ``store``.

    The file lives only in a temporary folder (its raw text may hold unmasked PII); the
    store receives the cleaned, masked rows, named ``上传:<file name>``. Returns the job
    summary and the stored rows of this upload.
    """
    safe_name = re.sub(r"[\\/:*?\"<>|]", "_", Path(file_name).name) or "upload.csv"
    source_name = f"上传:{safe_name}"
    with tempfile.TemporaryDirectory(prefix="tousu-upload-") as folder:
        path = Path(folder) / safe_name
        path.write_bytes(content)
        total = estimate_rows(path)
        summary = classify_job(
            model_dir, path, Path(folder) / "classified.csv", chunk_rows=UPLOAD_CHUNK_ROWS, progress=False,
            store=store, source_name=source_name,
            on_chunk=None if on_progress is None else lambda running: on_progress(running.rows_read, total))
    summary.input = file_name
    summary.details.pop("store", None)
    stored = store.query("SELECT * FROM complaints WHERE source_file = ? ORDER BY id", [source_name])
    return summary, stored
