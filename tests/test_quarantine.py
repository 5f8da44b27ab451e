import pandas as pd

from tousu.nlp.jobs import JobSummary, QuarantineWriter


def test_parts_with_different_columns_keep_every_column(tmp_path):
    summary = JobSummary("in.jsonl", "out.csv")
    with QuarantineWriter(tmp_path / "out.csv", summary, rows_per_write=2) as quarantine:
        quarantine.write(pd.DataFrame({"source_row": [2], "reason": ["empty text"], "内容": [""]}))
        quarantine.write(pd.DataFrame(columns=["source_row", "reason"]))
        quarantine.write(pd.DataFrame({"source_row": [5, 7], "reason": ["invalid JSON", "invalid JSON"],
                                       "raw_line": ["{bad", "{也坏"]}))
    written = pd.read_csv(tmp_path / "out.quarantine.csv", dtype=str, keep_default_na=False)
    assert written.columns.tolist() == ["source_row", "reason", "内容", "raw_line"]
    assert written["source_row"].tolist() == ["2", "5", "7"]
    assert written["raw_line"].tolist() == ["", "{bad", "{也坏"]
    assert summary.quarantine_file == str(tmp_path / "out.quarantine.csv")


def test_nothing_quarantined_removes_a_stale_file(tmp_path):
    stale = tmp_path / "out.quarantine.xlsx"
    stale.write_text("from an earlier run")
    summary = JobSummary("in.csv", "out.xlsx")
    with QuarantineWriter(tmp_path / "out.xlsx", summary) as quarantine:
        quarantine.write(pd.DataFrame(columns=["source_row", "reason"]))
    assert not stale.exists() and summary.quarantine_file is None
