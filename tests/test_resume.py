"""Jobs that die part-way: no partial OUTPUT, and --resume continues after the last finished
chunk with nothing classified twice, lost or doubled (in OUTPUT or in the store)."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from tousu.cli import main
from tousu.jobs import link as link_module
from tousu.jobs.classify import classify_job
from tousu.jobs.link import link_job
from tousu.models.pipeline import ComplaintModel
from tousu.nlp.progress import progress_dir
from tousu.nlp.tables import InputError, quarantine_path
from tousu.store import ResultsStore

CHUNK = 25  # the 120 complaints in 5 chunks; one is quarantined


class Stop(Exception):
    pass


def stop_after(chunks: int):
    def on_chunk(_summary):
        on_chunk.calls += 1
        if on_chunk.calls == chunks:
            raise Stop
    on_chunk.calls = 0
    return on_chunk


@pytest.fixture
def predicted_texts(monkeypatch):
    """Every text the model classifies, in order, across jobs."""
    texts, predict = [], ComplaintModel.predict

    def counting(self, batch, *args, **kwargs):
        texts.extend(batch)
        return predict(self, batch, *args, **kwargs)

    monkeypatch.setattr(ComplaintModel, "predict", counting)
    return texts


@pytest.fixture(scope="module")
def uninterrupted(supervised_model, complaints, tmp_path_factory):
    """The output and quarantine of the job run in one go, per output format."""
    out = {}
    for suffix in (".csv", ".parquet"):
        path = tmp_path_factory.mktemp("whole") / f"classified{suffix}"
        classify_job(supervised_model, complaints, path, chunk_rows=CHUNK, progress=False)
        out[suffix] = (path.read_bytes() if suffix == ".csv" else pd.read_parquet(path),
                       quarantine_path(path).read_bytes())
    return out


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_job_stopped_after_a_chunk_resumes_with_nothing_lost_or_done_twice(
        supervised_model, complaints, uninterrupted, predicted_texts, tmp_path, suffix):
    output = tmp_path / f"classified{suffix}"
    with pytest.raises(Stop):
        classify_job(supervised_model, complaints, output, chunk_rows=CHUNK, progress=False, on_chunk=stop_after(2))
    assert not output.exists() and not quarantine_path(output).exists()
    assert (progress_dir(output) / "state.json").exists()
    summary = classify_job(supervised_model, complaints, output, chunk_rows=CHUNK, progress=False, resume=True)

    expected, expected_quarantine = uninterrupted[suffix]
    if suffix == ".csv":
        assert output.read_bytes() == expected
    else:
        pd.testing.assert_frame_equal(pd.read_parquet(output), expected)
    assert quarantine_path(output).read_bytes() == expected_quarantine
    assert (summary.rows_read, summary.rows_kept, summary.rows_quarantined) == (120, 119, 1)
    assert any("resumed after chunk 2" in note for note in summary.notes)
    kept_texts = pd.read_csv(output, dtype=str)["内容"] if suffix == ".csv" else pd.read_parquet(output)["内容"]
    assert sorted(predicted_texts) == sorted(kept_texts)  # each row classified once
    assert not progress_dir(output).exists()


def test_a_chunk_that_fails_half_way_is_done_again_and_only_it(supervised_model, complaints, uninterrupted,
                                                               tmp_path, monkeypatch):
    output, predict, calls = tmp_path / "classified.csv", ComplaintModel.predict, []

    def predict_failing_once(self, batch, *args, **kwargs):
        calls.append(len(batch))
        if len(calls) == 3:
            raise MemoryError("planted")
        return predict(self, batch, *args, **kwargs)

    monkeypatch.setattr(ComplaintModel, "predict", predict_failing_once)
    with pytest.raises(MemoryError):
        classify_job(supervised_model, complaints, output, chunk_rows=CHUNK, progress=False)
    assert main(["classify", str(supervised_model), str(complaints), "-o", str(output),
                 "--chunk-rows", str(CHUNK), "--resume"]) == 0
    assert output.read_bytes() == uninterrupted[".csv"][0]
    assert sum(calls) == 119 + calls[2]  # the chunk that failed, and no other, was classified twice


@pytest.mark.slow
def test_a_killed_job_resumes_into_the_same_output_and_store(supervised_model, complaints, uninterrupted, tmp_path):
    output, store = tmp_path / "classified.csv", tmp_path / "results.duckdb"
    killed = textwrap.dedent(f"""
        import os, signal
        from tousu.jobs.classify import classify_job

        def on_chunk(summary):
            if summary.rows_read >= {3 * CHUNK}:
                os.kill(os.getpid(), signal.SIGKILL)

        classify_job({str(supervised_model)!r}, {str(complaints)!r}, {str(output)!r}, chunk_rows={CHUNK},
                     store={str(store)!r}, progress=False, on_chunk=on_chunk)
    """)
    run = subprocess.run([sys.executable, "-c", killed], env=os.environ | {"PYTHONWARNINGS": "ignore"})
    assert run.returncode == -9
    assert not output.exists()
    with ResultsStore(store, read_only=True) as results:
        assert results.count() == 3 * CHUNK - 1 and len(results.incomplete_imports()) == 1  # one row quarantined

    assert main(["classify", str(supervised_model), str(complaints), "-o", str(output), "--chunk-rows", str(CHUNK),
                 "--store", str(store), "--resume"]) == 0
    assert output.read_bytes() == uninterrupted[".csv"][0]
    with ResultsStore(store, read_only=True) as results:
        assert results.count() == 119
        assert results.query("SELECT count(DISTINCT id) AS n FROM complaints")["n"][0] == 119
        imports = results.query("SELECT import_id, complete, rows_read FROM imports")
        assert imports.to_dict("records") == [{"import_id": imports["import_id"][0], "complete": True,
                                               "rows_read": 120}]
        assert results.incomplete_imports().empty


def test_resuming_with_another_input_or_options_is_refused(supervised_model, complaints, tmp_path):
    output = tmp_path / "classified.csv"
    with pytest.raises(Stop):
        classify_job(supervised_model, complaints, output, chunk_rows=CHUNK, progress=False, on_chunk=stop_after(1))
    with pytest.raises(InputError, match="another chunk_rows; resuming would mix two jobs"):
        classify_job(supervised_model, complaints, output, chunk_rows=CHUNK + 1, progress=False, resume=True)
    changed = tmp_path / "complaints.csv"
    changed.write_bytes(complaints.read_bytes().replace("宽带".encode(), "网络".encode()))
    with pytest.raises(InputError, match="another input"):
        classify_job(supervised_model, changed, output, chunk_rows=CHUNK, progress=False, resume=True)
    assert (progress_dir(output) / "state.json").exists()  # a refused resume keeps what was done


def test_without_resume_an_unfinished_job_starts_over_and_says_so(supervised_model, complaints, uninterrupted,
                                                                  predicted_texts, tmp_path):
    output = tmp_path / "classified.csv"
    with pytest.raises(Stop):
        classify_job(supervised_model, complaints, output, chunk_rows=CHUNK, progress=False, on_chunk=stop_after(2))
    summary = classify_job(supervised_model, complaints, output, chunk_rows=CHUNK, progress=False)
    assert output.read_bytes() == uninterrupted[".csv"][0]
    assert any("progress (2 chunks) was discarded" in note for note in summary.notes)
    assert len(predicted_texts) == (2 * CHUNK - 1) + 119  # the two chunks again (one row of them quarantined)

    fresh = classify_job(supervised_model, complaints, tmp_path / "fresh.csv", chunk_rows=CHUNK, progress=False,
                         resume=True)
    assert any("no unfinished job on this output" in note for note in fresh.notes)
    assert (tmp_path / "fresh.csv").read_bytes() == uninterrupted[".csv"][0]


def test_the_spark_engine_refuses_resume(supervised_model, complaints, tmp_path, capsys):
    assert main(["classify", str(supervised_model), str(complaints), "-o", str(tmp_path / "out.parquet"),
                 "--engine", "spark", "--resume"]) == 2
    assert "--resume needs --engine local" in capsys.readouterr().err


# ----------------------------------------------------------------------------- link


def test_a_link_job_that_dies_leaves_no_half_written_report(small_tables, tmp_path, monkeypatch):
    complaints_path, surveys_path, *_ = small_tables
    out = tmp_path / "report"

    def dies_half_way(report, out_dir, charts=True):
        out_dir.mkdir(parents=True)
        (out_dir / "pareto.csv").write_text("group\n", encoding="utf-8")
        raise Stop

    monkeypatch.setattr(link_module, "write_report", dies_half_way)
    with pytest.raises(Stop):
        link_job(complaints_path, surveys_path, out)
    assert not out.exists()


def test_a_resumed_link_job_does_not_store_the_surveys_twice(small_tables, tmp_path, monkeypatch, capsys):
    complaints_path, surveys_path, *_ = small_tables
    out, store = tmp_path / "report", tmp_path / "results.duckdb"
    stored, upsert, move_into = [], ResultsStore.upsert_surveys, link_module._move_into

    def counting(self, table, *args, **kwargs):
        stored.append(len(table))
        return upsert(self, table, *args, **kwargs)

    def dies(*_args):
        raise Stop

    monkeypatch.setattr(ResultsStore, "upsert_surveys", counting)
    monkeypatch.setattr(link_module, "_move_into", dies)  # killed after the store write
    with pytest.raises(Stop):
        link_job(complaints_path, surveys_path, out, charts=False, store=store)
    assert not out.exists() and stored == [10]
    monkeypatch.setattr(link_module, "_move_into", move_into)
    assert main(["link", str(complaints_path), str(surveys_path), "-o", str(out), "--store", str(store),
                 "--no-charts", "--resume"]) == 0
    assert stored == [10] and "resumed after step 1" in capsys.readouterr().out
    assert {path.name for path in out.iterdir()} >= {"report.xlsx", "pareto.csv", "category_scores.csv"}
    assert not progress_dir(out).exists()
    with ResultsStore(store, read_only=True) as results:
        assert results.query("SELECT count(*) AS n FROM surveys")["n"][0] == 10
