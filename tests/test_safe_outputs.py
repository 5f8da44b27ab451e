"""Files safe to share (issue 14, points 3 and 4): personal data planted in every text column and
formula-like cells come out of classify (CSV, XLSX, Parquet, the quarantine, the partial file of
the running job), the link report (CSVs and report.xlsx) and the explorer's exports masked and
as text; key columns stay as they are, or become keyed pseudonyms that still join."""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from tousu.cli import main
from tousu.explorer import views
from tousu.jobs.classify import classify_job
from tousu.nlp.clean import to_halfwidth
from tousu.nlp.personal_data import free_text_columns, mask_free_text, pseudonym, pseudonymise
from tousu.nlp.progress import progress_dir
from tousu.nlp.safe_cells import formula_like
from tousu.nlp.tables import quarantine_path
from tousu.store import Filters, ResultsStore

# Each form the masker catches, as planted; the number in it, digits only, must not come out.
PLANTED = {
    "Tel13812345678": "13812345678",
    "wx15912345678": "15912345678",
    "ID110101199003071234": "110101199003071234",
    "138.1234.5679": "13812345679",
    "138 1234 5670": "13812345670",
    "138-1234-5671": "13812345671",
    "+86 139 8765 4321": "13987654321",
    "身份证11010519900307123X": "11010519900307123X",
    "证件110101 19900307 1235": "110101199003071235",
    "１３８１２３４５６７２": "13812345672",
    "座机010-87654321": "01087654321",
    "卡号6222021234567890123": "6222021234567890123",
    "邮箱zhang.san@example.com": "zhang.san@example.com",
}
FORMULAS = ['=HYPERLINK("http://evil.example/","点击查看")', "+1+1", "@SUM(A1)", "-2+3", "\t=1"]
FORMS = list(PLANTED)
KEY = b"k" * 32


def planted_complaints(rows: int = len(FORMS)) -> pd.DataFrame:
    """Complaints with a planted form in every text column (each column a different one per row),
    formula-like cells in each, and the values that must survive: ids, dates, amounts, an order
    number, a negative number written as text."""
    def form(row, shift):
        return FORMS[(row + shift) % len(FORMS)]

    return pd.DataFrame({
        "工单号": [f"T{i:02d}" for i in range(rows)],
        "客户号": [f"C{i:02d}" for i in range(rows)],
        "内容": [f"{FORMULAS[i % 5] if i < 5 else ''}话费被多扣了58元，请回电{form(i, 0)}" for i in range(rows)],
        "备注": [f"{FORMULAS[(i + 1) % 5]}客户留言{form(i, 1)}" for i in range(rows)],
        "省份": [form(i, 2) for i in range(rows)],
        "渠道": [FORMULAS[(i + 2) % 5] for i in range(rows)],
        "订单号": ["2026030612345678901"] * rows,
        "金额": ["-1.5"] * rows,
        "受理时间": [f"2026-09-{1 + i:02d} 09:30:00" for i in range(rows)],
    })


def leaked(cells) -> list[str]:
    """The cells holding a planted number, read with separators and full width taken out."""
    numbers = set(PLANTED.values())
    return [cell for cell in cells if any(n in re.sub(r"[-. +]", "", to_halfwidth(str(cell))) for n in numbers)]


def csv_cells(path_or_text) -> list[str]:
    text = path_or_text.read_text(encoding="utf-8-sig") if isinstance(path_or_text, Path) else path_or_text
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def xlsx_cells(source) -> list:
    """Every cell of every sheet (openpyxl cells, for their data_type)."""
    workbook = load_workbook(source)
    return [cell for sheet in workbook.worksheets for row in sheet.iter_rows() for cell in row
            if cell.value is not None]


# How the planted formulas begin (a tab before one is stripped where texts are cleaned).
FORMULA_HEADS = ("=HYPERLINK(", "+1+1", "@SUM(A1)", "-2+3")


def assert_safe_csv(cells: list[str]) -> None:
    assert not leaked(cells)
    assert not [cell for cell in cells if formula_like(cell)]
    for head in FORMULA_HEADS:
        assert any(cell.startswith("'" + head) for cell in cells), head


def assert_safe_xlsx(cells: list) -> None:
    assert not leaked(cell.value for cell in cells)
    assert not [cell.coordinate for cell in cells if cell.data_type == "f"]
    texts = [cell.value for cell in cells if cell.data_type == "s"]
    for head in FORMULA_HEADS:
        assert any(text.startswith(head) for text in texts), head


@pytest.fixture(scope="module")
def complaint_file(tmp_path_factory) -> Path:
    table = planted_complaints()
    unusable = table.iloc[[0]].assign(工单号="T99", 内容="", 备注="回访Tel13812345678")  # quarantined
    path = tmp_path_factory.mktemp("planted") / "complaints.csv"
    pd.concat([table, unusable]).to_csv(path, index=False)
    return path


# ----------------------------------------------------------------------------- classify


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".parquet"])
def test_classify_outputs_hold_no_personal_data_and_no_formulas(supervised_model, complaint_file, tmp_path,
                                                                 suffix):
    output = tmp_path / f"classified{suffix}"
    assert main(["classify", str(supervised_model), str(complaint_file), "-o", str(output)]) == 0
    quarantine = quarantine_path(output)
    if suffix == ".csv":
        assert_safe_csv(csv_cells(output))
        cells = csv_cells(output)
        assert "-1.5" in cells and "2026030612345678901" in cells  # a number as text, an order number
        assert not leaked(csv_cells(quarantine)) and "回访Tel<PHONE>" in csv_cells(quarantine)
    elif suffix == ".xlsx":
        assert_safe_xlsx(xlsx_cells(output))
        assert not leaked(cell.value for cell in xlsx_cells(quarantine))
    table = pd.read_csv(output, dtype=str, keep_default_na=False) if suffix == ".csv" else \
        pd.read_excel(output, dtype=str, keep_default_na=False) if suffix == ".xlsx" else \
        pd.read_parquet(output)
    assert not leaked(table.to_numpy().ravel())
    assert table["工单号"].tolist() == [f"T{i:02d}" for i in range(len(FORMS))]  # keys as they were
    assert table["客户号"].tolist() == [f"C{i:02d}" for i in range(len(FORMS))]
    assert table["受理时间"].tolist() == planted_complaints()["受理时间"].tolist()
    assert table["省份"].str.contains("<PHONE>").any() and table["省份"].str.contains("<ID>").any()


def test_what_a_running_job_keeps_on_disk_is_masked_too(supervised_model, complaint_file, tmp_path):
    output, seen = tmp_path / "classified.csv", []

    def look(_summary):  # what a reader of the job's files sees after each chunk
        assert not output.exists()
        cells = []
        for part in sorted(progress_dir(output).glob("*-*")):
            table = pd.read_parquet(part) if part.suffix == ".parquet" else pd.read_json(part, lines=True, dtype=str)
            cells += [str(cell) for cell in table.to_numpy().ravel()]
        seen.append(cells)

    classify_job(supervised_model, complaint_file, output, chunk_rows=4, progress=False, on_chunk=look)
    assert len(seen) >= 3 and len(seen[-1]) > len(seen[0]) > 0
    assert not any(leaked(cells) for cells in seen)

# ----------------------------------------------------------------------------- link


def planted_link_tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    """A classified table and surveys with planted forms and formulas in every text column (the
    report shows 省份 and 触点 in its breakdown, the others in the unmatched rows); a phone number
    typed as a score; survey keys not among the complaints."""
    complaints = planted_complaints(8).assign(
        category=["BIL"] * 4 + ["NET"] * 3 + ["QUE"], category_name=["资费计费争议"] * 4 + ["网络质量"] * 3 + ["排队"],
        topic_label=["话费·多扣"] * 8)
    surveys = pd.DataFrame({
        "问卷号": [f"S{i}" for i in range(10)],
        "工单号": ["T00", "T01", "T02", "T03", "T04", "T05", "", "", "T98", "T99"],
        "CSAT": ["1", "2", "1", "13812345678", "4", "3", "5", "4", "5", "4"],
        "NPS": ["0", "3", "2", "5", "8", "7", "10", "9", "9", "10"],
        "触点": [f"{FORMULAS[i % 5]}热线{FORMS[(i + 3) % len(FORMS)]}" for i in range(10)],
        "回访备注": [f"{FORMULAS[i % 5]}回访{FORMS[(i + 5) % len(FORMS)]}" for i in range(10)],
    })
    return complaints, surveys


def run_link(tmp_path, complaints, surveys, *options) -> Path:
    tmp_path.mkdir(exist_ok=True)
    complaints.to_csv(tmp_path / "classified.csv", index=False)
    surveys.to_csv(tmp_path / "surveys.csv", index=False)
    out = tmp_path / "report"
    assert main(["link", str(tmp_path / "classified.csv"), str(tmp_path / "surveys.csv"), "-o", str(out),
                 "--no-charts", *options]) == 0
    return out


def test_the_link_report_holds_no_personal_data_and_no_formulas(tmp_path):
    out = run_link(tmp_path, *planted_link_tables())
    report_cells = [cell for path in sorted(out.glob("*.csv")) for cell in csv_cells(path)]
    assert_safe_csv(report_cells)
    assert_safe_xlsx(xlsx_cells(out / "report.xlsx"))
    problems = pd.read_csv(out / "problems.csv", dtype=str)
    assert "<PHONE>" in problems["value"].tolist()  # the phone typed as a score
    unmatched = pd.read_csv(out / "unmatched_surveys.csv", dtype=str, keep_default_na=False)
    assert set(unmatched["工单号"]) == {"T98", "T99"}  # the link key as it was


def test_the_explorer_exports_hold_no_personal_data_and_no_formulas(tmp_path):
    complaints, _ = planted_link_tables()
    with ResultsStore(tmp_path / "results.duckdb") as store:
        store.upsert_complaints(complaints, text_column="内容", id_column="工单号")
        export = views.export_table(store, Filters())
    # An export of the store, and of a table holding what a store filled by an older masker may.
    for table in (export, complaints):
        assert_safe_csv(csv_cells(views.csv_bytes(table).decode("utf-8-sig")))
        assert_safe_xlsx(xlsx_cells(io.BytesIO(views.xlsx_bytes(table))))
    assert sorted(export["工单号"]) == sorted(complaints["工单号"])


# ----------------------------------------------------------------------------- the rule


def test_free_text_is_every_text_column_but_the_keys_and_our_own():
    table = planted_complaints(3).assign(confidence=0.5, category="BIL")
    assert free_text_columns(table, keys=["订单号"], own=["category"]) == ["内容", "备注", "省份", "渠道", "金额",
                                                                          "受理时间"]
    masked = mask_free_text(table)
    assert masked["工单号"].equals(table["工单号"]) and masked["受理时间"].equals(table["受理时间"])
    assert masked["订单号"].equals(table["订单号"]) and masked["金额"].equals(table["金额"])
    fullwidth = pd.DataFrame({"备注": ["ＡＰＰ充值１００元", "电话１３８１２３４５６７８"]})
    assert mask_free_text(fullwidth)["备注"].tolist() == ["ＡＰＰ充值１００元", "电话<PHONE>"]  # width kept unless masked


# ----------------------------------------------------------------------------- pseudonyms


def test_a_missing_key_file_is_explained_not_made(supervised_model, complaint_file, tmp_path, capsys):
    key_file = tmp_path / "key"
    for command in (["classify", str(supervised_model), str(complaint_file), "-o", str(tmp_path / "c.csv")],
                    ["link", str(complaint_file), str(complaint_file), "-o", str(tmp_path / "report")]):
        assert main([*command, "--pseudonymise-ids", str(key_file)]) == 2
        assert f"head -c 32 /dev/urandom > {key_file}" in capsys.readouterr().err
    assert not key_file.exists() and not (tmp_path / "c.csv").exists() and not (tmp_path / "report").exists()
    key_file.write_bytes(b"short")
    assert main(["classify", str(supervised_model), str(complaint_file), "-o", str(tmp_path / "c.csv"),
                 "--pseudonymise-ids", str(key_file)]) == 2
    assert "at least 16 random bytes" in capsys.readouterr().err


def test_classify_writes_the_keys_as_pseudonyms(supervised_model, complaint_file, tmp_path):
    key_file = tmp_path / "key"
    key_file.write_bytes(KEY)
    output = tmp_path / "classified.csv"
    assert main(["classify", str(supervised_model), str(complaint_file), "-o", str(output),
                 "--pseudonymise-ids", str(key_file)]) == 0
    table = pd.read_csv(output, dtype=str, keep_default_na=False)
    assert table["工单号"].tolist() == [pseudonym(f"T{i:02d}", KEY) for i in range(len(FORMS))]
    assert table["客户号"].tolist() == [pseudonym(f"C{i:02d}", KEY) for i in range(len(FORMS))]
    assert table["工单号"].str.fullmatch(r"pid_[0-9a-f]{16}").all()
    assert pd.read_csv(quarantine_path(output), dtype=str)["工单号"].tolist() == [pseudonym("T99", KEY)]


def test_link_pseudonymises_both_sides_alike_so_the_join_holds(tmp_path):
    key_file = tmp_path / "key"
    key_file.write_bytes(KEY)
    complaints, surveys = planted_link_tables()
    plain = pd.read_csv(run_link(tmp_path / "plain", complaints, surveys) / "summary.csv", dtype=str)
    out = run_link(tmp_path / "hashed", complaints, surveys, "--pseudonymise-ids", str(key_file))
    # The complaints as `classify --pseudonymise-ids` writes them: not hashed a second time.
    again = run_link(tmp_path / "again", pseudonymise(complaints, KEY), surveys, "--pseudonymise-ids", str(key_file))
    for report in (out, again):
        summary = pd.read_csv(report / "summary.csv", dtype=str)
        assert summary.equals(plain)
        unmatched = pd.read_csv(report / "unmatched_surveys.csv", dtype=str, keep_default_na=False)
        assert set(unmatched["工单号"]) == {pseudonym("T98", KEY), pseudonym("T99", KEY)}
        assert set(unmatched["问卷号"]) == {pseudonym("S8", KEY), pseudonym("S9", KEY)}
