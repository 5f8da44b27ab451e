"""Opening a results store's DuckDB file: waiting for other processes, taking turns between threads.

DuckDB lets one process write a file or any number of processes read it, never both at
once. So the explorer and ``classify`` jobs hold the file only for the length of one query
or one chunk, and opening waits a while for another process's lock.
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from pathlib import Path

import duckdb

# How long opening waits for another process (a job, another explorer) to let go of the file.
LOCK_WAIT_S = 60.0


class StoreError(ValueError):
    """A results store that cannot be opened or used; the message names the file."""


class _SharedOrExclusive:
    """Many readers or one writer. DuckDB refuses to open a file read-only and read-write at
    the same time in one process, so the explorer's sessions (threads) take turns."""

    def __init__(self):
        self._condition = threading.Condition()
        self._readers = 0
        self._writing = False

    @contextmanager
    def shared(self):
        with self._condition:
            self._condition.wait_for(lambda: not self._writing)
            self._readers += 1
        try:
            yield
        finally:
            with self._condition:
                self._readers -= 1
                self._condition.notify_all()

    @contextmanager
    def exclusive(self):
        with self._condition:
            self._condition.wait_for(lambda: not self._writing and not self._readers)
            self._writing = True
        try:
            yield
        finally:
            with self._condition:
                self._writing = False
                self._condition.notify_all()


_FILE_LOCKS: dict[Path, _SharedOrExclusive] = {}
_FILE_LOCKS_GUARD = threading.Lock()


def file_lock(path: Path) -> _SharedOrExclusive:
    with _FILE_LOCKS_GUARD:
        return _FILE_LOCKS.setdefault(path.resolve(), _SharedOrExclusive())


def is_busy(error: duckdb.Error) -> bool:
    """Another process holds the file, or this one has it open with other settings."""
    message = str(error).lower()
    return "lock" in message or "different configuration" in message


def connect_waiting(path: Path, read_only: bool, wait_s: float = LOCK_WAIT_S) -> duckdb.DuckDBPyConnection:
    """A connection to ``path``, waiting up to ``wait_s`` while another process has the file."""
    deadline = time.monotonic() + wait_s
    pause = 0.05
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.Error as error:
            if not is_busy(error):
                raise StoreError(f"{path}: cannot open as a results store ({error})") from None
            if time.monotonic() >= deadline:
                raise StoreError(
                    f"{path}: another process (a running `--store` job, or an explorer saving an edit) "
                    f"has kept it open for {wait_s:.0f} s; try again when it has finished ({error})"
                ) from None
            time.sleep(pause)
            pause = min(pause * 2, 1.0)
