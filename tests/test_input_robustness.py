"""Inputs that never cost a row (issue 14, point 6): malformed CSV lines quarantined, imports
marked complete, one job per output, JSONL keys of the whole file, duplicate CSV headers refused,
merged XLSX cells filled, input columns named like output columns kept, NUL characters, UTF-16
without a BOM, an XLSX whose first sheet is a note, and the store's score rules."""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from complaint_fixtures import labelled_complaints
from embedders import TEST_EMBEDDER

from tousu.analysis.linking import link
from tousu.cli import main
from tousu.explorer import views
from tousu.jobs.classify import classify_job
from tousu.jobs.train import train_job
from tousu.models.pipeline import OUTPUT_COLUMNS
from tousu.nlp.jobs import clean_file, output_lock
from tousu.nlp.tables import InputError, TableReader, TableWriter, detect_encoding, read_table
from tousu.store import ResultsStore


def _assert_invariant(result, rows):
    assert result.summary["rows_read"] == len(result.kept) + len(result.quarantine) == rows


# ----- a malformed CSV line -----
MALFORMED = 'id,text\n1,话费乱扣\n2,"带换行\n的投诉"\n3,宽带断网,多出的一格\n4,信号差\n5,排队,又,多了\n6,网速慢\n'


@pytest.mark.parametrize("chunk_rows", [1, 2, 1000])
def test_a_malformed_csv_line_is_quarantined_with_its_row_and_the_read_goes_on(tmp_path, chunk_rows):
    path = tmp_path / "t.csv"
    path.write_text(MALFORMED, encoding="utf-8")
    result = read_table(path, chunk_rows=chunk_rows)
    assert result.kept["id"].tolist() == ["1", "2", "4", "6"]
    assert result.kept.index.tolist() == [2, 3, 5, 7]  # a record with a quoted line break is one row
    assert result.kept.loc[3, "text"] == "带换行\n的投诉"
    quarantined = result.quarantine
    assert quarantined["source_row"].tolist() == [4, 6]
    assert quarantined["reason"].tolist() == ["expected 2 fields, saw 3", "expected 2 fields, saw 4"]
    assert quarantined["raw_line"].tolist() == ["3,宽带断网,多出的一格", "5,排队,又,多了"]
    _assert_invariant(result, 6)


def test_a_first_row_wider_than_the_header_is_quarantined_not_shifted(tmp_path):
    # pandas would take the extra field for an index column and move every value one column left.
    path = tmp_path / "t.csv"
    path.write_text("id,text\n1,话费乱扣,多出\n2,信号差\n", encoding="utf-8")
    result = read_table(path)
    assert result.kept[["id", "text"]].values.tolist() == [["2", "信号差"]]
    assert result.quarantine[["source_row", "reason"]].values.tolist() == [[2, "expected 2 fields, saw 3"]]
    with pytest.raises(InputError, match=r"t\.csv, row 2: .*expected 2 fields, saw 3"):
        read_table(path, on_bad_line="error")


def test_an_unclosed_quote_still_stops_the_read_naming_its_row(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('id,text\n1,a\n2,b,多\n3,"没有结束的引号\n4,d\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"t\.csv, row 4: .*never closed"):
        read_table(path)


def test_clean_quarantines_a_bad_line_and_on_bad_line_error_keeps_the_stop(tmp_path, capsys):
    source, output = tmp_path / "in.csv", tmp_path / "out.csv"
    source.write_text(MALFORMED, encoding="utf-8")
    assert main(["clean", str(source), "-o", str(output)]) == 0
    assert "rows read: 6  kept: 4  quarantined: 2" in capsys.readouterr().out
    quarantine = pd.read_csv(tmp_path / "out.quarantine.csv", dtype=str)
    assert quarantine[["source_row", "reason"]].values.tolist() == [["4", "expected 2 fields, saw 3"],
                                                                     ["6", "expected 2 fields, saw 4"]]
    output.unlink()
    assert main(["clean", str(source), "-o", str(output), "--on-bad-line", "error"]) == 2
    assert f"tousu: error: {source}, row 4: cannot parse" in capsys.readouterr().err
    assert not output.exists()


def test_a_side_table_has_no_quarantine_so_a_bad_line_stops_it(tmp_path):
    path = tmp_path / "surveys.csv"
    path.write_text("工单号,CSAT\nA1,5\nA2,4,多\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"surveys\.csv, row 3: cannot parse"):
        TableReader(path).rows()


# ----- imports marked complete -----
@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    table = labelled_complaints(per_category=6)
    path = tmp_path_factory.mktemp("train") / "train.csv"
    table.to_csv(path, index=False)
    model_dir, _ = train_job(path, tmp_path_factory.mktemp("models") / "m" / "v1", label_col="类别",
                             embedder=TEST_EMBEDDER, topics=False, label_issues=False)
    return model_dir


@pytest.fixture(scope="module")
def complaint_file(tmp_path_factory):
    table = labelled_complaints(per_category=5, seed=1).drop(columns=["类别"])
    table["category"] = "录入时的类别"  # named like an output column
    path = tmp_path_factory.mktemp("data") / "complaints.csv"
    table.to_csv(path, index=False)
    return path


def test_an_import_is_marked_complete_only_at_its_end(model_dir, complaint_file, tmp_path):
    store_path = tmp_path / "results.duckdb"

    def stop_after_the_first_chunk(summary):
        raise KeyboardInterrupt  # as a killed job: its chunks so far are in the store

    with pytest.raises(KeyboardInterrupt):
        classify_job(model_dir, complaint_file, tmp_path / "a.csv", chunk_rows=10, progress=False,
                     store=store_path, on_chunk=stop_after_the_first_chunk)
    with ResultsStore(store_path) as store:
        incomplete = store.incomplete_imports()
        assert incomplete["source_file"].tolist() == [str(complaint_file)] and incomplete["complaints"].tolist() == [10]
        warning, = views.incomplete_import_warnings(incomplete)
        assert "导入未完成" in warning and str(complaint_file) in warning and "10 条" in warning
    classify_job(model_dir, complaint_file, tmp_path / "b.csv", chunk_rows=10, progress=False, store=store_path)
    with ResultsStore(store_path) as store:
        assert store.incomplete_imports().empty  # the re-run wrote the same complaints again, completely
        imports = store.query("SELECT complete, rows_read FROM imports ORDER BY started_at")
        assert imports["complete"].tolist() == [False, True] and imports["rows_read"].tolist()[1] == 30
        assert store.query("SELECT count(DISTINCT import_id) AS n FROM complaints")["n"][0] == 1


def test_classify_goes_on_past_a_bad_line_and_a_stop_leaves_the_import_incomplete(model_dir, complaint_file, tmp_path,
                                                                                    capsys):
    lines = complaint_file.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[15] = lines[15].rstrip("\n") + ",多出的一格\n"  # row 16, in the second chunk of 10
    source, store_path = tmp_path / "in.csv", tmp_path / "results.duckdb"
    source.write_text("".join(lines), encoding="utf-8")
    command = ["classify", str(model_dir), str(source), "-o", str(tmp_path / "out.csv"), "--store", str(store_path),
               "--chunk-rows", "10"]
    assert main([*command, "--on-bad-line", "error"]) == 2
    assert f"{source}, row 16: cannot parse" in capsys.readouterr().err
    with ResultsStore(store_path) as store:  # the first chunk was stored: the import says it is partial
        assert store.incomplete_imports()["complaints"].tolist() == [10]
    assert main(command) == 0
    assert "rows read: 30  kept: 29  quarantined: 1" in capsys.readouterr().out
    quarantine = pd.read_csv(tmp_path / "out.quarantine.csv", dtype=str)
    assert quarantine[["source_row", "reason"]].values.tolist() == [["16", "expected 3 fields, saw 4"]]
    with ResultsStore(store_path) as store:
        assert store.count() == 29 and store.incomplete_imports().empty


def test_the_overview_page_warns_of_an_incomplete_import(tmp_path, monkeypatch):
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    store_path = tmp_path / "results.duckdb"
    table = labelled_complaints(per_category=2)
    table["受理时间"] = "2026-03-02 09:00:00"
    with ResultsStore(store_path) as store:
        store.upsert_complaints(table, text_column="内容", id_column="工单号",
                                import_id=store.start_import("导出_3月.csv"))
    monkeypatch.setenv("TOUSU_STORE", str(store_path))
    try:
        app = AppTest.from_file(Path(__file__).resolve().parent.parent / "app.py", default_timeout=120).run()
        assert not app.exception, [e.value for e in app.exception]
        warning, = [w.value for w in app.warning if "导入未完成" in w.value]
        assert "导出_3月.csv" in warning and "12 条" in warning
    finally:
        st.cache_resource.clear()
        st.cache_data.clear()


def test_a_schema_5_store_gets_imports_and_its_complaints_none(model_dir, complaint_file, tmp_path):
    store_path = tmp_path / "old.duckdb"
    classify_job(model_dir, complaint_file, tmp_path / "a.csv", progress=False, store=store_path)
    with duckdb.connect(str(store_path)) as connection:  # back to what schema 5 stored
        connection.execute("DROP TABLE imports")
        connection.execute("ALTER TABLE complaints DROP COLUMN import_id")
        connection.execute("UPDATE meta SET value = '5' WHERE key = 'schema_version'")
    with ResultsStore(store_path) as store:
        assert store.count() == 30 and store.incomplete_imports().empty
        assert store.query("SELECT count(*) AS n FROM complaints WHERE import_id IS NULL")["n"][0] == 30
        assert store.query("SELECT value FROM meta WHERE key = 'schema_version'")["value"][0] == "6"


# ----- an input column named like an output column -----
def test_an_input_column_named_like_an_output_column_is_kept_under_a_new_name(model_dir, complaint_file, tmp_path,
                                                                                capsys):
    output = tmp_path / "classified.csv"
    assert main(["classify", str(model_dir), str(complaint_file), "-o", str(output)]) == 0
    assert "note: " in capsys.readouterr().out
    classified = pd.read_csv(output, dtype=str, keep_default_na=False)
    assert (classified["category_input"] == "录入时的类别").all()
    assert classified["category"].isin(["BIL", "MIS", "NET", "QUE", "HOT", "SEC", "OTH"]).all()

    path = tmp_path / "t.csv"
    path.write_text("text,confidence,confidence_input\n话费乱扣,high,x\n", encoding="utf-8")
    reader = TableReader(path, reserved_columns=OUTPUT_COLUMNS)
    chunk, = reader.chunks()
    assert chunk.kept.columns.tolist()[:3] == ["text", "confidence_input_", "confidence_input"]
    assert chunk.notes == reader.notes and "'confidence' → 'confidence_input_'" in reader.notes[0]


# ----- two jobs, one output -----
def test_a_second_job_on_the_same_output_is_refused_while_the_first_runs(tmp_path, capsys):
    output = tmp_path / "out.csv"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\nfrom tousu.nlp.jobs import output_lock\n"
        f"with output_lock({str(output)!r}):\n    print('held', flush=True)\n    time.sleep(120)\n")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        refused = rf"out\.csv: another tousu job \(pid {holder.pid}\).*out\.csv\.lock"
        with pytest.raises(InputError, match=refused), output_lock(output):
            pass
        source = tmp_path / "in.csv"
        source.write_text("text\n话费乱扣\n", encoding="utf-8")
        assert main(["clean", str(source), "-o", str(output)]) == 2
        assert f"pid {holder.pid}" in capsys.readouterr().err and not output.exists()
    finally:
        os.kill(holder.pid, signal.SIGKILL)  # a killed job's lock goes with it
        holder.wait()
    with output_lock(output):
        assert (tmp_path / "out.csv.lock").read_text() == str(os.getpid())
    assert not (tmp_path / "out.csv.lock").exists()


def test_two_writers_of_one_output_never_share_a_temporary_file(tmp_path):
    path = tmp_path / "out.csv"
    with TableWriter(path) as first:
        with TableWriter(path) as second:
            first.write(pd.DataFrame({"text": ["甲"]}))
            second.write(pd.DataFrame({"text": ["乙"]}))
            assert first._partial != second._partial
        assert pd.read_csv(path)["text"].tolist() == ["乙"]
    assert pd.read_csv(path)["text"].tolist() == ["甲"]  # the last to finish holds its own rows only
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


# ----- JSONL keys -----
def test_jsonl_columns_are_the_keys_of_the_whole_file_whatever_the_chunk_size(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"text": "话费乱扣"}\n{"text": "信号差"}\n{"text": "排队", "省份": "广东"}\n'
                    '{"text": "断网", "渠道": "热线"}\n', encoding="utf-8")
    written = []
    for chunk_rows in (1, 2, 1000):
        output = tmp_path / f"out{chunk_rows}.csv"
        clean_file(path, output, progress=False, chunk_rows=chunk_rows)
        written.append(pd.read_csv(output, dtype=str, keep_default_na=False))
    for table in written:
        pd.testing.assert_frame_equal(table, written[0])
    assert written[0].columns.tolist() == ["text", "省份", "渠道", "id"]
    assert written[0]["省份"].tolist() == ["", "", "广东", ""] and written[0]["渠道"].tolist() == ["", "", "", "热线"]


# ----- duplicate CSV headers -----
@pytest.mark.parametrize("name, content", [("t.csv", "id,内容,备注,内容,备注\n1,a,b,c,d\n"),
                                           ("t.tsv", "id\t内容\t内容\n1\ta\tb\n")])
def test_duplicate_csv_headers_are_refused_naming_the_file_and_the_names(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=rf"{name}, row 1: duplicate column names \[.*'内容'.*\]"):
        read_table(path)
    with pytest.raises(InputError, match="duplicate column names"):
        TableReader(path).rows()


def test_empty_header_cells_are_named_as_in_a_sheet_not_refused(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("id,text,,\n1,a,,\n", encoding="utf-8")
    assert read_table(path).kept.columns.tolist() == ["id", "text", "column_3", "column_4"]


# ----- merged XLSX cells -----
def test_merged_xlsx_cells_are_filled_into_every_row_they_cover_and_reported(tmp_path):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "工单"
    sheet.append(["工单号", "地区", None, "内容"])
    sheet.merge_cells("B1:C1")  # a merged header is a name, not a value to fill into the rows
    for row in (["A1", "广东", "广州", "话费乱扣"], ["A2", None, "深圳", "信号差"], ["A3", None, "佛山", "排队"],
                ["A4", "北京", "北京", "断网"], ["A5", "上海", "上海", None]):
        sheet.append(row)
    sheet.merge_cells("B2:B4")
    sheet.merge_cells("D5:D6")
    path = tmp_path / "merged.xlsx"
    workbook.save(path)
    for chunk_rows in (1, 1000):
        result = read_table(path, chunk_rows=chunk_rows)
        assert result.kept["地区"].tolist() == ["广东", "广东", "广东", "北京", "上海"]
        assert result.kept["column_3"].tolist() == ["广州", "深圳", "佛山", "北京", "上海"]
        assert result.kept["内容"].tolist() == ["话费乱扣", "信号差", "排队", "断网", "断网"]
        note, = result.notes
        assert "'工单'" in note and "B2:B4" in note and "D5:D6" in note and "B1:C1" not in note
    summary = clean_file(path, tmp_path / "out.csv", progress=False)
    assert any("merged cell" in line and "B2:B4" in line for line in summary.lines())


# ----- NUL characters -----
@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_nul_characters_are_stripped_and_a_text_of_nuls_alone_is_quarantined(tmp_path, suffix):
    rows = [{"id": "1", "text": "话费\x00乱扣", "备注": "已\x00回访"}, {"id": "2", "text": "\x00\x00", "备注": ""},
            {"id": "3", "text": "信号差", "备注": ""}]
    path = tmp_path / f"t{suffix}"
    if suffix == ".csv":
        pd.DataFrame(rows).to_csv(path, index=False)
    else:
        path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    result = read_table(path)
    assert result.kept["text"].tolist() == ["话费乱扣", "信号差"] and result.kept["备注"].tolist() == ["已回访", ""]
    assert result.quarantine[["source_row", "reason"]].values.tolist()[0][1] == \
        "empty text once its NUL characters are removed"
    _assert_invariant(result, 3)


# ----- UTF-16 without a BOM -----
@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_utf16_without_a_bom_is_detected(tmp_path, encoding, suffix):
    path = tmp_path / f"t{suffix}"
    if suffix == ".csv":
        text = "工单号,内容\nA1,话费被乱扣了，要求退费\nA2,营业厅排队太久\n"
    else:
        text = '{"工单号": "A1", "内容": "话费被乱扣了，要求退费"}\n{"工单号": "A2", "内容": "营业厅排队太久"}\n'
    path.write_bytes(text.encode(encoding))
    result = read_table(path)
    assert result.encoding == encoding
    assert result.kept["内容"].tolist() == ["话费被乱扣了，要求退费", "营业厅排队太久"]


def test_encoding_can_be_given_when_detection_would_guess_wrong(tmp_path):
    # Latin-1 bytes decode as GB18030 without an error, so only the user knows.
    path = tmp_path / "latin1.csv"
    path.write_bytes("id,text\n1,café très cher\n".encode("latin-1"))
    assert read_table(path).kept["text"].tolist() != ["café très cher"]
    given = read_table(path, encoding="latin-1")
    assert given.encoding == "latin-1" and given.kept["text"].tolist() == ["café très cher"]
    out = tmp_path / "clean.csv"
    assert main(["clean", str(path), "-o", str(out), "--encoding", "latin-1", "--no-mask"]) == 0
    assert "café très cher" in out.read_text(encoding="utf-8-sig")
    with pytest.raises(InputError, match=r"latin1.csv: unknown encoding 'klingon'"):
        read_table(path, encoding="klingon")


def test_nul_bytes_of_another_kind_do_not_make_a_file_utf16():
    assert detect_encoding("id,text\n1,话费\n".encode() + b"\x00" * 40 + b"\n") == "utf-8"
    assert detect_encoding("id,text\n1,话费\x00乱扣\n2,\x00\x00\n".encode()) == "utf-8"  # NULs in cells


# ----- an XLSX whose first sheet is a note -----
def test_an_xlsx_whose_first_sheet_has_no_table_names_the_sheets_and_suggests_sheet(tmp_path):
    from openpyxl import Workbook

    for first_sheet in ([["本表由系统导出，请勿修改"]], [["说明"], ["本表由系统导出"]], []):
        workbook = Workbook()
        workbook.active.title = "说明"
        for row in first_sheet:
            workbook.active.append(row)
        table = workbook.create_sheet("工单")
        table.append(["工单号", "内容"])
        table.append(["A1", "话费乱扣"])
        path = tmp_path / "t.xlsx"
        workbook.save(path)
        with pytest.raises(InputError, match=r"t\.xlsx: .*first sheet '说明'; the sheets are \['说明', '工单'\]: "
                                             r".*--sheet"):
            read_table(path)
        assert read_table(path, sheet="工单").kept["内容"].tolist() == ["话费乱扣"]


# ----- the store's score rules -----
def test_the_store_keeps_scores_by_the_rule_of_tousu_link(tmp_path):
    answers = ["1", "3.5", "5", "6", "很好", "", "５", "4.0"]
    surveys = pd.DataFrame({"问卷号": [f"S{i}" for i in range(len(answers))], "工单号": "", "CSAT": answers})
    with ResultsStore(tmp_path / "results.duckdb") as store:
        store.upsert_surveys(surveys, key_column="工单号")
        stored = store.query("SELECT survey_id, csat, extra FROM surveys ORDER BY survey_id")
    linked = link(pd.DataFrame({"工单号": ["X"]}), surveys, key="工单号", score_cols=("CSAT",))
    by_link = linked.joined.set_index("问卷号")["CSAT"]
    np.testing.assert_array_equal(stored.set_index("survey_id")["csat"].reindex(by_link.index), by_link)
    assert np.isnan(stored.set_index("survey_id").loc["S1", "csat"])  # 3.5: blanked, as the report does
    assert json.loads(stored.set_index("survey_id").loc["S1", "extra"]) == {"CSAT": "3.5"}  # and its text kept
    assert "score not a whole number" in linked.problems["reason"].tolist()
