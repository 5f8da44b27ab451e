"""Text cells stay text in the files tousu writes: no formula runs from a complaint.

A spreadsheet takes a cell that begins with ``=``, ``+``, ``-`` or ``@`` (or with a tab or a
carriage return before one) as a formula, so a complaint reading ``=HYPERLINK("http://…","退款")``
would become a live link once an analyst opens the export (CSV or formula injection). Every
writer passes its cells through here: in CSV and TSV such a cell gets a leading ``'`` (the OWASP
rule), in XLSX it is a string cell. A text that is just a signed number (``-1.5``, ``+86``)
computes nothing and stays as written; numeric columns hold numbers, not text, and are never
touched.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: Options for :class:`xlsxwriter.Workbook` that write every text as a string cell (xlsxwriter
#: turns ``=…`` into a formula and ``http://…`` into a live link by default).
XLSXWRITER_OPTIONS = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
_PLAIN_NUMBER = r"[+-]?(?:\d[\d,]*(?:\.\d*)?|\.\d+)$"
_FORMULA_LIKE = re.compile(f"(?!{_PLAIN_NUMBER})[{re.escape(''.join(FORMULA_STARTS))}]")


def formula_like(value) -> bool:
    """Whether ``value`` is a text a spreadsheet would read as a formula."""
    return isinstance(value, str) and _FORMULA_LIKE.match(value) is not None


def csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with a ``'`` before every formula-like text cell and header (a copy when any is)."""
    safe = frame
    if any(map(formula_like, frame.columns)):
        safe = frame.copy()
        safe.columns = [f"'{column}" if formula_like(column) else column for column in frame.columns]
    for position in range(frame.shape[1]):
        values = frame.iloc[:, position]
        if not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
            continue
        flagged = _formula_like_cells(values)
        if flagged.any():
            safe = frame.copy() if safe is frame else safe
            safe.iloc[:, position] = values.where(~flagged, "'" + values[flagged].astype(str))
    return safe


def _formula_like_cells(values: pd.Series) -> np.ndarray:
    """Which cells of a text column are :func:`formula_like`; the first character, looked at for
    the whole column at once, leaves few to check one by one."""
    try:
        flagged = values.str.startswith(FORMULA_STARTS, na=False).to_numpy(dtype=bool, copy=True)
    except AttributeError:  # an object column without a single text
        return np.zeros(len(values), dtype=bool)
    flagged[flagged] = [formula_like(value) for value in values[flagged]]
    return flagged


def xlsx_row(sheet, values) -> list:
    """``values`` for openpyxl's ``sheet.append`` on a write-only sheet, every text a string
    cell: openpyxl itself makes a formula of ``=…`` and an error cell of ``#N/A``."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ERROR_CODES

    row = []
    for value in values:
        if isinstance(value, str) and (value.startswith("=") or value in ERROR_CODES):
            value = WriteOnlyCell(sheet, value=value)
            value.data_type = "s"
        row.append(value)
    return row


def keep_text_cells(worksheet) -> None:
    """Make every text cell of an openpyxl ``worksheet`` a string cell again, after a writer
    (pandas' ``to_excel``) let openpyxl read ``=…`` as a formula."""
    for row in worksheet.iter_rows():
        for cell in row:
            if isinstance(cell.value, str) and cell.data_type != "s":
                cell.data_type = "s"
