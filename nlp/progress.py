"""What a long job has finished, kept beside its output so a killed job can resume.

A job that uses :class:`ChunkProgress` keeps each finished chunk in ``OUTPUT.progress/`` (its
rows as Parquet, its quarantine as JSON lines, then a ``state.json`` that counts it as done:
a chunk whose state was not written is done again) and writes OUTPUT from them only when every
chunk is done (a job of a few steps, such as ``tousu link``, counts its steps as chunks and
stages its files in :attr:`ChunkProgress.dir`). So OUTPUT is either absent, the earlier complete one, or the new complete one,
and ``--resume`` continues after the last finished chunk. The state records what the job was
started with (input file, model, options): resuming with anything changed is refused, since
the output would mix two jobs.
"""
from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from tousu.nlp.tables import InputError

_STATE = "state.json"
_FORMAT = 1


def progress_dir(output: str | Path) -> Path:
    """Where a job writing ``output`` keeps its finished chunks until it completes."""
    output = Path(output)
    return output.with_name(f"{output.name}.progress")


def file_fingerprint(path: str | Path) -> dict:
    """Enough of a file to tell that it was changed or replaced since a job started on it."""
    path = Path(path)
    stat = path.stat()
    return {"path": str(path.resolve()), "bytes": stat.st_size, "modified_ns": stat.st_mtime_ns}


class ChunkProgress:
    """The finished chunks of one job on ``output``.

    started_with: what must be the same for a resumed job to continue this one (JSON values).
    resume: continue an unfinished job's chunks; without it, an unfinished job's progress is
        discarded (and a note says so) and the job starts from the first chunk.
    unit: what the notes call a chunk (``"step"`` for a job of a few steps).
    Use it while holding the output's lock (:func:`tousu.nlp.jobs.output_lock`).
    """

    def __init__(self, output: str | Path, started_with: dict, resume: bool = False, unit: str = "chunk"):
        self.output = Path(output)
        self.unit = unit
        self.dir = progress_dir(output)
        self.started_with = json.loads(json.dumps(started_with, default=str))
        self.resume = resume
        self.chunks_done = 0
        self.saved: dict = {}
        self.notes: list[str] = []

    def __enter__(self) -> ChunkProgress:
        state = self._read_state()
        if state is not None and self.resume:
            self._check_same_job(state)
            self.chunks_done, self.saved = state["chunks_done"], state["saved"]
            self.notes.append(f"resumed after {self.unit} {self.chunks_done:,} of an unfinished job ({self.dir})")
        else:
            if state is not None:
                self.notes.append(f"an unfinished job's progress ({state['chunks_done']:,} {self.unit}s) was discarded; "
                                  "--resume continues one")
            elif self.resume:
                self.notes.append(f"--resume: no unfinished job on this output; started from the first {self.unit}")
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir.mkdir(parents=True)
            self._write_state()
        return self

    def __exit__(self, error_type, *_) -> None:
        # A failed job keeps its progress for --resume; a finished one has no use for it.
        if error_type is None:
            shutil.rmtree(self.dir, ignore_errors=True)

    def save_chunk(self, saved: dict, rows: pd.DataFrame | None = None, quarantine: pd.DataFrame | None = None) -> None:
        """Count the next chunk (or step) as done, keeping its output rows and quarantine;
        ``saved``: the job's running state to restore on resume (its counts, say)."""
        index = self.chunks_done
        if rows is not None and len(rows):
            partial = self.dir / f".rows-{index:06d}.parquet"
            rows.to_parquet(partial, index=False)
            _durable_replace(partial, self._rows_file(index))
        if quarantine is not None and len(quarantine):
            partial = self.dir / f".quarantine-{index:06d}.jsonl"
            with partial.open("w", encoding="utf-8") as handle:
                for record in quarantine.to_dict("records"):
                    handle.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
            _durable_replace(partial, self._quarantine_file(index))
        self.chunks_done, self.saved = index + 1, json.loads(json.dumps(saved, default=str))
        self._write_state()

    def rows(self) -> Iterator[pd.DataFrame]:
        """The finished chunks' output rows, in order."""
        for index in range(self.chunks_done):
            path = self._rows_file(index)
            if path.exists():
                yield pd.read_parquet(path)

    def quarantine(self) -> Iterator[pd.DataFrame]:
        """The finished chunks' quarantined rows, in order."""
        for index in range(self.chunks_done):
            path = self._quarantine_file(index)
            if path.exists():
                with path.open(encoding="utf-8") as handle:
                    yield pd.DataFrame.from_records([json.loads(line) for line in handle])

    def _rows_file(self, index: int) -> Path:
        return self.dir / f"rows-{index:06d}.parquet"

    def _quarantine_file(self, index: int) -> Path:
        return self.dir / f"quarantine-{index:06d}.jsonl"

    def _read_state(self) -> dict | None:
        path = self.dir / _STATE
        if not path.exists():
            return None
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            state = None
        if not isinstance(state, dict) or state.get("format") != _FORMAT:
            if self.resume:
                raise InputError(self.output, f"--resume: {path} is not a tousu job's progress file; "
                                              "rerun without --resume to start over")
            return None
        return state

    def _check_same_job(self, state: dict) -> None:
        before = state.get("started_with", {})
        changed = sorted(key for key in before.keys() | self.started_with.keys()
                         if before.get(key) != self.started_with.get(key))
        if changed:
            raise InputError(self.output, f"--resume: the unfinished job in {self.dir} was started with another "
                                          f"{', '.join(changed)}; resuming would mix two jobs in one output. "
                                          "Rerun it as it was started, or without --resume to start over")

    def _write_state(self) -> None:
        partial = self.dir / f".{_STATE}"
        partial.write_text(json.dumps({"format": _FORMAT, "started_with": self.started_with,
                                       "chunks_done": self.chunks_done, "saved": self.saved},
                                      ensure_ascii=False, indent=1), encoding="utf-8")
        _durable_replace(partial, self.dir / _STATE)


def _durable_replace(partial: Path, path: Path) -> None:
    """Rename ``partial`` to ``path`` once its bytes are on disk, so that a crash of the
    machine, not only of the job, never leaves a chunk counted whose file is incomplete."""
    with partial.open("rb") as handle:
        os.fsync(handle.fileno())
    partial.replace(path)
