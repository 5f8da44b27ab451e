import json

import pandas as pd
import pytest

from tousu.nlp.tables import IdIndex, InputError, TableReader, TableWriter, detect_encoding, read_table, write_table

ROWS = [
    {"工单号": "A1", "内容": "话费被乱扣了", "省份": "广东"},
    {"工单号": "A2", "内容": "营业厅排队太久", "省份": "北京"},
    {"工单号": "A3", "内容": "宽带经常断网", "省份": "上海"},
]


def _assert_invariant(result):
    assert result.summary["rows_read"] == len(result.kept) + len(result.quarantine)


@pytest.mark.parametrize("encoding, expected", [
    ("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("gb18030", "gb18030"), ("gbk", "gb18030"),
])
def test_csv_encodings_are_detected(tmp_path, encoding, expected):
    path = tmp_path / "t.csv"
    pd.DataFrame(ROWS).to_csv(path, index=False, encoding=encoding)
    result = read_table(path)
    assert result.encoding == expected
    assert result.kept["内容"].tolist() == [r["内容"] for r in ROWS]
    assert result.text_col == "内容" and result.id_col == "工单号"


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".xlsx", ".parquet", ".jsonl"])
def test_every_format_round_trips(tmp_path, suffix):
    path = write_table(pd.DataFrame(ROWS), tmp_path / f"t{suffix}")
    result = read_table(path)
    assert result.kept[["工单号", "内容", "省份"]].to_dict("records") == ROWS
    _assert_invariant(result)


def test_row_numbers_are_the_ones_a_spreadsheet_shows(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("id,text\n1,a\n2,\n3,c\n", encoding="utf-8")
    result = read_table(path)
    assert result.kept.index.tolist() == [2, 4]
    assert result.quarantine[["source_row", "problem_column", "reason"]].values.tolist() == [[3, "text", "empty text"]]


def test_known_text_column_names_are_found(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("编号,投诉内容\n1,信号差\n", encoding="utf-8")
    assert read_table(path).text_col == "投诉内容"


def test_missing_text_column_names_file_and_lists_columns(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"t\.csv.*no text column.*--text-col.*'a', 'b'"):
        read_table(path)
    with pytest.raises(InputError, match=r"t\.csv, column 'body2': text column not found"):
        read_table(path, text_col="body2")
    with pytest.raises(InputError, match=r"column 'ticket': id column not found"):
        read_table(path, text_col="a", id_col="ticket")


def test_empty_and_nan_text_go_to_quarantine(tmp_path):
    path = tmp_path / "t.parquet"
    pd.DataFrame({"text": ["好", None, "  ", "坏"]}).to_parquet(path)
    result = read_table(path)
    assert result.kept["text"].tolist() == ["好", "坏"]
    assert result.quarantine["reason"].tolist() == ["empty text", "empty text"]
    assert result.quarantine["source_row"].tolist() == [2, 3]
    _assert_invariant(result)


def test_undecodable_bytes_go_to_quarantine(tmp_path):
    path = tmp_path / "t.csv"
    good = "text\n话费乱扣\n网速慢\n".encode("utf-8")
    path.write_bytes(good + b"\xff\xfe broken \xc3\n" + "信号差\n".encode("utf-8"))
    result = read_table(path)
    assert result.kept["text"].tolist() == ["话费乱扣", "网速慢", "信号差"]
    assert len(result.quarantine) == 1
    assert result.quarantine.loc[0, "source_row"] == 4
    assert "undecodable" in result.quarantine.loc[0, "reason"]


def test_malformed_csv_names_file_and_row(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("id,text\n1,a\n2,b,extra\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"t\.csv, row 3: cannot parse"):
        read_table(path, on_bad_line="error")  # by default the line is quarantined: test_input_robustness.py


@pytest.mark.parametrize("name, content, message", [
    ("empty.csv", b"", "the file is empty"),
    ("old.xls", b"x", "save the sheet as .xlsx"),
    ("data.docx", b"x", "unsupported file type .docx"),
    ("broken.xlsx", b"not a zip", "not a readable XLSX"),
    ("broken.parquet", b"not parquet", "not a readable Parquet"),
    ("header_only.csv", b"id,text\n", "no rows"),
])
def test_unreadable_files_raise_input_error_naming_the_file(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError, match=message) as error:
        read_table(path)
    assert str(path) in str(error.value)


def test_an_input_error_names_its_row_or_rows():
    assert str(InputError("t.csv", "bad", row=3, column="c")) == "t.csv, row 3, column 'c': bad"
    assert str(InputError("t.csv", "bad", row=[3])) == "t.csv, row 3: bad"
    assert str(InputError("t.csv", "bad", row=[3, 7])) == "t.csv, rows 3, 7: bad"
    many = str(InputError("t.csv", "bad", row=range(2, 14)))
    assert many == "t.csv, rows 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 and 2 more: bad"


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        read_table(tmp_path / "nope.csv")
    with pytest.raises(InputError, match="is a directory"):
        read_table(tmp_path)


def test_jsonl_bad_lines_are_quarantined_with_line_numbers(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"text": "a"}\n{broken\n[1, 2]\n\n{"other": 1}\n{"text": "b"}\n', encoding="utf-8")
    result = read_table(path)
    assert result.kept["text"].tolist() == ["a", "b"]
    reasons = dict(zip(result.quarantine["source_row"], result.quarantine["reason"]))
    assert reasons[2].startswith("invalid JSON") and reasons[3].startswith("expected a JSON object")
    assert reasons[4] == "blank line" and reasons[5] == "empty text"
    assert "raw_line" in result.quarantine and "raw_line" not in result.kept
    _assert_invariant(result)


def test_duplicate_and_empty_ids_are_quarantined(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("id,text\n1,a\n1,b\n,c\n2,d\n", encoding="utf-8")
    result = read_table(path)
    assert result.kept["id"].tolist() == ["1", "2"]
    assert result.quarantine["reason"].tolist() == ["duplicate id (first seen in row 2)", "empty id"]
    assert result.quarantine["problem_column"].tolist() == ["id", "id"]


def test_generated_ids_are_stable_and_unique(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("text\n信号差\n网速慢\n信号差\n", encoding="utf-8")
    first, second = read_table(path), read_table(path)
    assert first.kept["id"].tolist() == second.kept["id"].tolist()
    assert first.kept["id"].is_unique
    assert first.kept["id"].iloc[2] == first.kept["id"].iloc[0] + "-2"


def test_headerless_file_and_xlsx_sheet(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("话费乱扣\t费用问题\n信号差\t网络问题\n", encoding="utf-8")
    result = read_table(path, header=False, text_col="column_1")
    assert result.kept["column_2"].tolist() == ["费用问题", "网络问题"]
    assert result.kept.index.tolist() == [1, 2]

    xlsx = tmp_path / "t.xlsx"
    with pd.ExcelWriter(xlsx) as writer:
        pd.DataFrame({"x": [1]}).to_excel(writer, sheet_name="封面", index=False)
        pd.DataFrame(ROWS).to_excel(writer, sheet_name="工单", index=False)
    assert read_table(xlsx, sheet="工单").kept["内容"].tolist() == [r["内容"] for r in ROWS]
    with pytest.raises(InputError, match="no sheet '明细'"):
        read_table(xlsx, sheet="明细")


def test_xlsx_cells_beyond_the_header_are_not_dropped_silently(tmp_path):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["id", "text"])
    sheet.append([1, "正常"])
    sheet.append([2, "多了一格", "溢出"])
    path = tmp_path / "t.xlsx"
    workbook.save(path)
    result = read_table(path)
    assert result.kept["text"].tolist() == ["正常"]
    assert result.quarantine["reason"].tolist() == ["more cells than header columns"]


@pytest.mark.parametrize("chunk_rows", [1, 3, 1000])
@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet", ".xlsx"])
def test_rows_read_equal_rows_kept_plus_quarantined(tmp_path, chunk_rows, suffix):
    texts = ["好", "", "坏", None, "   ", "中", "", "end"] * 3
    frame = pd.DataFrame({"id": [str(i) for i in range(len(texts))], "text": texts})
    frame.loc[5, "id"] = "0"  # a duplicate id
    path = write_table(frame, tmp_path / f"t{suffix}")
    reader = TableReader(path, chunk_rows=chunk_rows)
    kept = quarantined = 0
    for chunk in reader.chunks():
        kept += len(chunk.kept)
        quarantined += len(chunk.quarantine)
    assert kept + quarantined == len(frame)
    assert kept == sum(1 for t in texts if t and t.strip()) - 1


def test_detect_encoding_survives_a_sample_cut_mid_character():
    sample = "投诉内容".encode("utf-8")[:-1]
    assert detect_encoding(sample) == "utf-8"


def test_writer_is_atomic_and_appends_chunks(tmp_path):
    path = tmp_path / "out.csv"
    with TableWriter(path) as writer:
        writer.write(pd.DataFrame(ROWS[:1]))
        writer.write(pd.DataFrame(ROWS[1:]))
    assert pd.read_csv(path, encoding="utf-8-sig")["内容"].tolist() == [r["内容"] for r in ROWS]

    failing = tmp_path / "fail.csv"
    with pytest.raises(RuntimeError):
        with TableWriter(failing) as writer:
            writer.write(pd.DataFrame(ROWS))
            raise RuntimeError("crash in the middle of a job")
    assert not failing.exists() and not list(tmp_path.glob(".fail*"))


def test_jsonl_written_keeps_chinese_readable(tmp_path):
    path = write_table(pd.DataFrame(ROWS), tmp_path / "t.jsonl")
    assert json.loads(path.read_text(encoding="utf-8").splitlines()[0])["内容"] == "话费被乱扣了"
    assert "话费" in path.read_text(encoding="utf-8")


def test_id_index_finds_duplicates_within_and_across_batches():
    index = IdIndex()
    assert index.first_rows(["a", "b", "a"], [2, 3, 4]).tolist() == [-1, -1, 2]
    assert index.first_rows(["c", "b", "c", "a"], [5, 6, 7, 8]).tolist() == [-1, 3, 5, 2]


def test_id_index_counts_occurrences_in_order():
    index = IdIndex()
    assert index.occurrences(["x", "y", "x"]).tolist() == [1, 1, 2]
    assert index.occurrences(["y", "x", "z", "x"]).tolist() == [2, 3, 1, 4]
