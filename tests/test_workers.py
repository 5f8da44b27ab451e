"""tousu classify with worker processes: the same rows and columns as in one process."""
from __future__ import annotations

import pandas as pd
import pytest

from tousu.jobs.classify import classify_job
from tousu.jobs.workers import WORKERS_FROM_BYTES, default_workers
from tousu.nlp.cpus import threads_per_process, usable_cpus
from tousu.nlp.tables import quarantine_path


@pytest.mark.slow
def test_workers_give_the_output_of_one_process(supervised_model, complaints, tmp_path):
    one, two = tmp_path / "one.csv", tmp_path / "two.csv"
    classify_job(supervised_model, complaints, one, chunk_rows=25, progress=False, workers=1)
    summary = classify_job(supervised_model, complaints, two, chunk_rows=25, progress=False, workers=2)
    assert summary.details["workers"] == 2 and (summary.rows_read, summary.rows_kept) == (120, 119)
    expected, got = pd.read_csv(one, dtype=str), pd.read_csv(two, dtype=str)
    pd.testing.assert_frame_equal(got.drop(columns="confidence"), expected.drop(columns="confidence"))
    assert (got["confidence"].astype(float) - expected["confidence"].astype(float)).abs().max() <= 1e-4
    assert quarantine_path(two).read_bytes() == quarantine_path(one).read_bytes()


def test_small_inputs_are_classified_in_process_large_ones_by_a_worker_per_cpu(tmp_path):
    small, large = tmp_path / "small.csv", tmp_path / "large.csv"
    small.write_bytes(b"x" * 100)
    large.write_bytes(b"x" * WORKERS_FROM_BYTES)
    assert default_workers(small) == 1 and default_workers(large) == usable_cpus()


def test_a_process_computes_on_the_threads_omp_num_threads_gives(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert threads_per_process() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "")
    assert threads_per_process() == usable_cpus()


def test_an_old_model_without_a_checksum_is_warned_about_once_per_job(complaints, tmp_path):
    import warnings
    from pathlib import Path

    from tousu.models.store import ModelStoreWarning

    old_model = Path(__file__).parent / "fixtures" / "model-0.1.0"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        classify_job(old_model, complaints, tmp_path / "out.csv", progress=False)
    assert [str(w.message)[:60] for w in caught if issubclass(w.category, ModelStoreWarning)] == [
        f"{old_model}: no manifest.sha256 beside manifest.json"[:60]]
