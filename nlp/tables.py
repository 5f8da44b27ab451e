"""Reading and writing complaint tables without losing a row.

Every row read ends up either *kept* or in the *quarantine* table with a
reason, so ``rows_read == rows_kept + rows_quarantined`` always holds.  Files
that cannot be read at all raise :class:`InputError` naming the file, and the
row and column where that is known.

Row numbers are the ones a person sees when opening the file: for CSV, TSV
and XLSX the header is row 1 and the first record row 2; for JSONL it is the
line number; for Parquet the 1-based record number.  The kept table is indexed
by that number (index name ``row``).
"""
from __future__ import annotations

import codecs
import csv
import hashlib
import io
import itertools
import json
import os
import re
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from tousu.nlp.safe_cells import csv_safe, xlsx_row

READ_FORMATS = {".csv": "csv", ".tsv": "tsv", ".txt": "csv", ".xlsx": "xlsx", ".parquet": "parquet", ".jsonl": "jsonl"}
WRITE_FORMATS = {".csv": "csv", ".tsv": "tsv", ".xlsx": "xlsx", ".parquet": "parquet", ".jsonl": "jsonl"}
KNOWN_TEXT_COLUMNS = (
    "text", "content", "内容", "投诉内容", "工单内容", "问题描述", "投诉描述", "诉求内容", "反映内容",
    "描述", "comment", "review", "body",
)
KNOWN_ID_COLUMNS = ("id", "工单号", "工单编号", "ticket_id", "流水号")
QUARANTINE_COLUMNS = ["source_file", "source_row", "problem_column", "reason"]
#: How many row numbers an :class:`InputError` about several rows names.
ROWS_NAMED = 10
GENERATED_ID_COLUMN = "id"
#: What a CSV/TSV line with more fields than the header does (``--on-bad-line``).
BAD_LINE_CHOICES = ("quarantine", "error")
_SAMPLE_BYTES = 1 << 20
# A merged range in a sheet's XML (<mergeCell ref="A2:A4"/>, any namespace prefix); a match may
# straddle two blocks read, so the next block is searched with this much of the last one.
_MERGE_CELL = re.compile(rb'<(?:[\w.-]+:)?mergeCell\b[^>]*?\bref="([A-Za-z]{1,3}[0-9]+(?::[A-Za-z]{1,3}[0-9]+)?)"')
_MERGE_CELL_TAIL = 256
# How pandas' C parser names a line with more fields than the header.
_TOO_MANY_FIELDS = re.compile(r"Expected \d+ fields in line \d+, saw \d+")
# UTF-16 without a BOM is told by its NUL bytes in the first KB: on one side of each byte pair
# for at least this share of the pairs (a CSV row of forty Chinese characters still has a few
# commas and a line end), and on the other side at most this many times as often (a CJK
# character such as 一, U+4E00, has a NUL byte of its own); and read so, the KB has a line
# break, or is ASCII for this share at least (a long first line of JSON). A UTF-8 file with a
# few NUL characters in a cell has none of that.
_UTF16_PROBE_BYTES = 1024
_UTF16_MIN_NUL_SHARE = 0.05
_UTF16_MAX_NUL_IMBALANCE = 0.25
_UTF16_ONE_LINE_NUL_SHARE = 0.25
_XLSX_MAX_ROWS = 1_048_576


class InputError(ValueError):
    """A file that cannot be used as input; the message says where and why.

    ``row`` is a row number as the module's docstring counts them, or several (the first
    :data:`ROWS_NAMED` are named)."""

    def __init__(self, file: str | Path, message: str, row: int | Sequence[int] | None = None,
                 column: str | None = None):
        self.file, self.row, self.column = str(file), row, column
        where = [self.file]
        rows = [] if row is None else [int(row)] if isinstance(row, (int, np.integer)) else [int(r) for r in row]
        if rows:
            named = ", ".join(str(r) for r in rows[:ROWS_NAMED])
            more = f" and {len(rows) - ROWS_NAMED} more" if len(rows) > ROWS_NAMED else ""
            where.append(f"{'row' if len(rows) == 1 else 'rows'} {named}{more}")
        if column is not None:
            where.append(f"column {column!r}")
        super().__init__(f"{', '.join(where)}: {message}")


@dataclass
class TableChunk:
    """One slice of a table: rows kept and rows quarantined, and notes on what the reader
    changed to keep every row (a column renamed, merged cells filled) that are new in it."""

    kept: pd.DataFrame
    quarantine: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        return len(self.kept) + len(self.quarantine)


@dataclass
class ReadResult(TableChunk):
    """A whole table read by :meth:`TableReader.read`."""

    text_col: str = ""
    id_col: str = ""
    encoding: str | None = None
    summary: dict = field(default_factory=dict)


def _utf16_without_bom(sample: bytes) -> str | None:
    """``utf-16-le`` or ``utf-16-be`` when the sample's NUL bytes fall on one side of each
    byte pair, as every ASCII character (digits, commas, line ends) of UTF-16 puts them; None
    otherwise. Text in UTF-8 or GB18030 has no NUL bytes but the odd one in a cell."""
    head = sample[:_UTF16_PROBE_BYTES - _UTF16_PROBE_BYTES % 2]
    if len(head) < 2:
        return None
    pairs = len(head) // 2
    even, odd = head[0::2].count(0), head[1::2].count(0)
    for encoding, ascii_side, other_side in (("utf-16-le", odd, even), ("utf-16-be", even, odd)):
        if ascii_side >= pairs * _UTF16_MIN_NUL_SHARE and other_side <= ascii_side * _UTF16_MAX_NUL_IMBALANCE:
            try:
                text = codecs.getincrementaldecoder(encoding)().decode(head, final=False)
            except UnicodeDecodeError:
                return None
            if "\n" in text or "\r" in text or ascii_side >= pairs * _UTF16_ONE_LINE_NUL_SHARE:
                return encoding
    return None


def detect_encoding(sample: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 by BOM or by its NUL bytes, else GB18030 (a superset
    of GBK and GB2312)."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    utf16 = _utf16_without_bom(sample)
    if utf16 is not None:
        return utf16
    for encoding in ("utf-8", "gb18030"):
        try:
            # final=False: the sample may end inside a multi-byte character.
            codecs.getincrementaldecoder(encoding)().decode(sample, final=False)
            return encoding
        except UnicodeDecodeError:
            continue
    # Mostly-valid files still decode; the rows with bad bytes are quarantined.
    return min(("utf-8", "gb18030"), key=lambda enc: sample.decode(enc, errors="replace").count("\ufffd"))


def _records_with_lines(text, delimiter: str) -> Iterator[tuple[list[str], str]]:
    """The csv records of ``text``, each with the text of the lines it was read from."""
    consumed: list[str] = []

    def lines():
        for line in text:
            consumed.append(line)
            yield line
    for fields in csv.reader(lines(), delimiter=delimiter):
        yield fields, "".join(consumed)
        consumed.clear()


def _header_names(cells: list[str]) -> list[str]:
    """Column names from the header's cells; an empty cell (or no header) gives ``column_<n>``."""
    return [cell or f"column_{i}" for i, cell in enumerate(cells, start=1)]


def _sniff_delimiter(header_line: str) -> str:
    return max((",", "\t", ";", "|"), key=header_line.count)


def _cell_to_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if value != value:  # NaN
            return ""
        if value.is_integer():
            return str(int(value))
    if hasattr(value, "isoformat"):
        return value.isoformat(sep=" ") if hasattr(value, "hour") else value.isoformat()
    return str(value)


def cells_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Every cell of a typed frame (a Parquet batch) as the text the reader keeps: an empty cell
    ``""``, a whole float without ``.0``, a date or time in ISO form."""
    return frame.map(_cell_to_text).astype(object)


class IdIndex:
    """The ids seen so far in a streamed table, in 16 bytes each whatever their length.

    A dict of id strings costs about 200 bytes an id, which on tens of millions of rows is
    the one part of a streaming job whose memory grows. Here an id is kept as a 64-bit
    hash in a sorted array, with a number beside it (the first row it was seen in, or how
    often it has been seen). Two different ids share a hash with probability about
    n² / 2⁶⁵: 3 in 100 million for a million ids.
    """

    def __init__(self):
        self._hashes = np.zeros(0, dtype=np.uint64)
        self._values = np.zeros(0, dtype=np.int64)

    @staticmethod
    def _hash(keys) -> np.ndarray:
        return np.fromiter((int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "little")
                            for key in keys), dtype=np.uint64, count=len(keys))

    def _find(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        positions = np.searchsorted(self._hashes, hashes)
        found = positions < len(self._hashes)
        found[found] = self._hashes[positions[found]] == hashes[found]
        return positions, found

    def _add(self, hashes: np.ndarray, values: np.ndarray) -> None:
        order = np.argsort(hashes, kind="stable")
        hashes, values = hashes[order], values[order]
        positions = np.searchsorted(self._hashes, hashes)
        self._hashes = np.insert(self._hashes, positions, hashes)
        self._values = np.insert(self._values, positions, values)

    def first_rows(self, keys: list[str], rows) -> np.ndarray:
        """For each key, the row it was first seen in (earlier in this batch included), or -1
        when this is its first appearance; records the new ones."""
        hashes, rows = self._hash(keys), np.asarray(rows, dtype=np.int64)
        positions, found = self._find(hashes)
        first = np.full(len(keys), -1, dtype=np.int64)
        first[found] = self._values[positions[found]]
        new = ~found
        batch = pd.Series(rows[new]).groupby(hashes[new]).transform("first").to_numpy()
        repeated = np.flatnonzero(new)[batch != rows[new]]
        first[repeated] = batch[batch != rows[new]]
        unique_new = np.flatnonzero(new)[batch == rows[new]]
        self._add(hashes[unique_new], rows[unique_new])
        return first

    def occurrences(self, keys: list[str]) -> np.ndarray:
        """For each key, how often it has now been seen (1 the first time), counting this batch in order."""
        hashes = self._hash(keys)
        positions, found = self._find(hashes)
        before = np.zeros(len(keys), dtype=np.int64)
        before[found] = self._values[positions[found]]
        in_batch = pd.Series(hashes).groupby(hashes).cumcount().to_numpy() + 1
        counts = before + in_batch
        last = pd.Series(np.arange(len(keys))).groupby(hashes).transform("last").to_numpy() == np.arange(len(keys))
        self._values[positions[found & last]] = counts[found & last]
        new_last = ~found & last
        self._add(hashes[new_last], counts[new_last])
        return counts


def _strip_nul(raw: pd.DataFrame, text_col: str) -> pd.Series:
    """Remove NUL characters from every cell, in place (openpyxl refuses them in an XLSX cell, and
    a text of NULs alone is no complaint); returns which texts had any."""
    had_nul = pd.Series(False, index=raw.index)
    for column in raw.columns:
        found = raw[column].str.contains("\x00", regex=False)
        if found.any():
            raw[column] = raw[column].str.replace("\x00", "", regex=False)
            if column == text_col:
                had_nul = found
    return had_nul


def _listed(items: Sequence[str]) -> str:
    """The first :data:`ROWS_NAMED` items, and how many more."""
    more = f" and {len(items) - ROWS_NAMED} more" if len(items) > ROWS_NAMED else ""
    return ", ".join(items[:ROWS_NAMED]) + more


def _merged_ranges(sheet) -> list[str]:
    """The merged ranges of a worksheet (``A2:A4`` …). A read-only sheet does not parse them, so
    they are found in the sheet's XML, block by block (they follow the cells)."""
    found, tail = [], b""
    with sheet._get_source() as source:  # openpyxl's read-only sheet XML
        for block in iter(lambda: source.read(_SAMPLE_BYTES), b""):
            data = tail + block
            found += [match.group(1).decode() for match in _MERGE_CELL.finditer(data) if match.end() > len(tail)]
            tail = data[-_MERGE_CELL_TAIL:]
    return found


class _MergedCells:
    """The merged ranges of a sheet's data rows, filled as the rows stream by: the value of a
    range's first cell (the one Excel shows) is copied into every cell the range covers."""

    def __init__(self, refs: list[str], first_row: int):
        from openpyxl.utils.cell import range_boundaries

        bounds = {ref: range_boundaries(ref) for ref in refs}  # (min_col, min_row, max_col, max_row)
        self.refs = [ref for ref in refs if bounds[ref][1] >= first_row]  # a header merged into the rows is no value
        self._starting: dict[int, list[tuple]] = {}
        for ref in self.refs:
            self._starting.setdefault(bounds[ref][1], []).append(bounds[ref])
        self._open: list[tuple[tuple, str]] = []

    def fill(self, row: int, cells: list[str]) -> None:
        self._open += [(bounds, cells[bounds[0] - 1]) for bounds in self._starting.get(row, ())
                       if bounds[0] <= len(cells)]
        for (min_col, _, max_col, _), value in self._open:
            for column in range(min_col - 1, min(max_col, len(cells))):
                cells[column] = value
        self._open = [(bounds, value) for bounds, value in self._open if bounds[3] > row]


class TableReader:
    """Stream a complaint table in chunks.

    Parameters
    ----------
    path: CSV, TSV, TXT (delimited), XLSX, Parquet or JSONL file.
    text_col: the text column; if omitted, the first of :data:`KNOWN_TEXT_COLUMNS` present.
    id_col: an id column; if omitted, one of :data:`KNOWN_ID_COLUMNS` if present, else a
        stable id is derived from the row's content (column ``id``).
    header: whether the first row holds column names; without one, columns are
        named ``column_1``, ``column_2`` …
    sheet: XLSX sheet name (default: the first sheet).
    chunk_rows: rows per chunk.
    require_text: quarantine rows whose text is empty (on by default).
    label_col: a label column that must exist; rows with an empty label are quarantined.
    on_bad_line: what a CSV/TSV line with more fields than the header does: ``"quarantine"``
        (default) quarantines it with the number of fields expected and seen, ``"error"``
        stops the read with an :class:`InputError` naming the row.
    reserved_columns: columns the job adds to every row (``classify``'s categories); an input
        column of the same name is kept as ``<name>_input``, with a note.
    encoding: the text encoding of a CSV/TSV/TXT/JSONL file; None (default) detects it: UTF-8
        with or without BOM, UTF-16 by BOM or by its NUL bytes, else GB18030.

    ``notes`` lists what the reader changed to keep every row (also on the chunk where each
    first applies).
    """

    def __init__(
        self,
        path: str | Path,
        text_col: str | None = None,
        id_col: str | None = None,
        header: bool = True,
        sheet: str | None = None,
        chunk_rows: int = 50_000,
        require_text: bool = True,
        label_col: str | None = None,
        on_bad_line: str = "quarantine",
        reserved_columns: Sequence[str] = (),
        encoding: str | None = None,
    ):
        if on_bad_line not in BAD_LINE_CHOICES:
            raise ValueError(f"on_bad_line must be one of {', '.join(BAD_LINE_CHOICES)}, not {on_bad_line!r}")
        if encoding is not None:
            try:
                codecs.lookup(encoding)
            except LookupError:
                raise InputError(path, f"unknown encoding {encoding!r} (--encoding takes a Python codec name "
                                       "such as utf-8, gb18030, utf-16-le)") from None
        self.given_encoding = encoding
        self.path = Path(path)
        self.text_col = text_col
        self.id_col = id_col
        self.header = header
        self.sheet = sheet
        self.chunk_rows = chunk_rows
        self.require_text = require_text
        self.label_col = label_col
        self.on_bad_line = on_bad_line
        self.reserved_columns = tuple(reserved_columns)
        self.encoding: str | None = None
        self.notes: list[str] = []
        self._sheet_hint = ""  # where an XLSX table was looked for, for the errors that find none
        self.format = self._check_file()

    # ----- public API -----
    def options(self) -> dict:
        """What decides how the file is read into chunks, as given (read this before
        :meth:`chunks`, which resolves the columns): a resumed job must read it the same way."""
        return {"text_col": self.text_col, "id_col": self.id_col, "header": self.header, "sheet": self.sheet,
                "chunk_rows": self.chunk_rows, "on_bad_line": self.on_bad_line, "encoding": self.given_encoding,
                "require_text": self.require_text, "label_col": self.label_col}

    def chunks(self) -> Iterator[TableChunk]:
        """Yield kept/quarantined rows chunk by chunk; resolves the text and id columns first."""
        seen_ids = IdIndex()
        rows_seen = notes_given = 0
        renamed: dict[str, str] = {}
        for raw in self._raw_chunks(self.on_bad_line):
            if rows_seen == 0:
                renamed = self._rename_reserved(list(raw.columns))
                self._resolve_columns([renamed.get(column, column) for column in raw.columns])
            raw = raw.rename(columns=renamed) if renamed else raw
            rows_seen += len(raw)
            if len(raw):
                chunk = self._split(raw, seen_ids)
                chunk.notes, notes_given = self.notes[notes_given:], len(self.notes)
                yield chunk
        if rows_seen == 0:
            raise self._no_rows_error()

    def rows(self) -> pd.DataFrame:
        """Every row as text, without the complaint rules (no text column needed, ids not
        checked): for side tables such as surveys.  The index is the spreadsheet row number.
        A side table has no quarantine, so a row the reader cannot use (a malformed CSV line,
        invalid JSON, cells beyond an XLSX header) stops the read."""
        frames = list(self._raw_chunks("error"))
        if not frames or not sum(map(len, frames)):
            raise self._no_rows_error()
        table = pd.concat(frames)
        problems = table.pop("_reason").fillna("") if "_reason" in table else pd.Series("", index=table.index)
        if (problems != "").any():
            bad = problems[problems != ""]
            raise InputError(self.path, f"cannot use {'this row' if len(bad) == 1 else 'these rows'} "
                                        f"({bad.iloc[0]}{' …' if len(bad) > 1 else ''}); mend the file", row=bad.index)
        return table.drop(columns="_line", errors="ignore")

    def read(self) -> ReadResult:
        kept_parts, quarantine_parts = [], []
        for chunk in self.chunks():
            kept_parts.append(chunk.kept)
            quarantine_parts.append(chunk.quarantine)
        kept = pd.concat(kept_parts)
        quarantine = pd.concat(quarantine_parts, ignore_index=True)
        return ReadResult(
            kept=kept,
            quarantine=quarantine,
            notes=list(self.notes),
            text_col=self.text_col,
            id_col=self.id_col,
            encoding=self.encoding,
            summary={"rows_read": len(kept) + len(quarantine), "rows_kept": len(kept),
                     "rows_quarantined": len(quarantine)},
        )

    # ----- checks -----
    def _check_file(self) -> str:
        if not self.path.exists():
            raise InputError(self.path, "file not found")
        if self.path.is_dir():
            raise InputError(self.path, "is a directory, expected a file")
        suffix = self.path.suffix.lower()
        if suffix == ".xls":
            raise InputError(self.path, "old Excel .xls is not supported; save the sheet as .xlsx or .csv")
        if suffix not in READ_FORMATS:
            raise InputError(
                self.path, f"unsupported file type {suffix or '(none)'}; use one of {', '.join(READ_FORMATS)}"
            )
        if self.path.stat().st_size == 0:
            raise InputError(self.path, "the file is empty")
        return READ_FORMATS[suffix]

    def _no_rows_error(self) -> InputError:
        return InputError(self.path, f"the file has no rows under the header{self._sheet_hint}")

    def _refuse_duplicate_columns(self, columns: list[str]) -> None:
        duplicates = sorted({c for c in columns if columns.count(c) > 1})
        if duplicates:
            raise InputError(self.path, f"duplicate column names {duplicates} in the header", row=1)

    def _rename_reserved(self, columns: list[str]) -> dict[str, str]:
        """{input column: new name} for the input columns named like a column the job adds,
        which would otherwise be overwritten; the columns named in the options follow."""
        renamed, note = reserved_renames(columns, self.reserved_columns)
        if renamed:
            self.notes.append(note)
            self.text_col, self.id_col, self.label_col = (
                renamed.get(name, name) for name in (self.text_col, self.id_col, self.label_col))
        return renamed

    def _resolve_columns(self, columns: list[str]) -> None:
        self.text_col, self.id_col, self._generate_ids = resolve_columns(
            self.path, columns, self.text_col, self.id_col, self.label_col, hint=self._sheet_hint)

    # ----- splitting kept / quarantined -----
    def _split(self, raw: pd.DataFrame, seen_ids: IdIndex) -> TableChunk:
        # Set by the raw readers for records they could not parse; kept only in the quarantine.
        parse_problems = raw.pop("_reason") if "_reason" in raw else None
        raw_lines = raw.pop("_line") if "_line" in raw else None
        reasons, columns = row_reasons(raw, self.text_col, id_col=None if self._generate_ids else self.id_col,
                                       label_col=self.label_col, require_text=self.require_text,
                                       encoding=self.encoding, problems=parse_problems)
        if self._generate_ids:
            raw[self.id_col] = self._content_ids(raw, seen_ids)
        else:
            candidates = raw[self.id_col].astype(str).str.strip()[reasons == ""]
            first = seen_ids.first_rows(candidates.tolist(), candidates.index.to_numpy())
            for row, first_row in zip(candidates.index[first >= 0], first[first >= 0]):
                reasons[row] = duplicate_id_reason(first_row)
                columns[row] = self.id_col

        bad = reasons != ""
        quarantine = quarantine_rows(raw, bad, reasons, columns, self.path, raw_lines=raw_lines)
        return TableChunk(kept=raw[~bad], quarantine=quarantine)

    def _content_ids(self, raw: pd.DataFrame, seen_ids: IdIndex) -> list[str]:
        """Stable ids from the row's content; repeated identical rows get ``-2``, ``-3`` …"""
        digests = row_digests(raw)
        counts = seen_ids.occurrences(digests)
        return [content_id(digest, count) for digest, count in zip(digests, counts)]


    # ----- format readers: yield DataFrames of strings indexed by row number -----
    def _raw_chunks(self, on_bad_line: str) -> Iterator[pd.DataFrame]:
        reader = {"csv": lambda: self._delimited(on_bad_line), "tsv": lambda: self._delimited(on_bad_line),
                  "xlsx": self._xlsx, "parquet": self._parquet, "jsonl": self._jsonl}[self.format]
        first_row = 2 if self.header and self.format in ("csv", "tsv", "xlsx") else 1
        for frame in reader():
            frame.index = pd.RangeIndex(first_row, first_row + len(frame), name="row")
            first_row += len(frame)
            yield frame

    def _open_text(self):
        with self.path.open("rb") as handle:
            sample = handle.read(_SAMPLE_BYTES)
        self.encoding = self.given_encoding or detect_encoding(sample)
        return io.TextIOWrapper(self.path.open("rb"), encoding=self.encoding, errors="replace", newline="")

    def _delimited(self, on_bad_line: str) -> Iterator[pd.DataFrame]:
        """pandas' C parser, fast, for as long as every line has the header's number of fields at
        most; past the first line with more, :meth:`_checked_records` (up to twice as slow) reads
        the rest and quarantines such lines, unless ``on_bad_line`` is ``"error"``."""
        with self._open_text() as text:
            first_line = text.readline()
            if not first_line.strip():
                raise InputError(self.path, "the first line is empty; expected a header row", row=1)
            delimiter = "\t" if self.format == "tsv" else _sniff_delimiter(first_line)
            leading = list(itertools.islice(csv.reader(itertools.chain([first_line], text), delimiter=delimiter), 2))
        # Named here, not by pandas, which renames a repeated name (内容.1) and an empty one (Unnamed: 2).
        names = _header_names(leading[0] if self.header else [""] * len(leading[0]))
        self._refuse_duplicate_columns(names)
        # pandas takes a first record with a field more than the header for an index column
        # and shifts every column; such a file is read record by record from the start.
        first_data = leading[1] if self.header and len(leading) > 1 else []
        rows_done = 0
        if len(first_data) > len(names):
            if on_bad_line == "error":
                raise self._bad_line_error(delimiter, f"expected {len(names)} fields, saw {len(first_data)}", row=2)
        else:
            # pandas decodes a binary file itself; handed a text stream, it re-encodes every
            # chunk through a Python wrapper (reading took 2.4x as long).
            with self.path.open("rb") as handle:
                options = dict(sep=delimiter, dtype=str, keep_default_na=False, chunksize=self.chunk_rows,
                               quoting=csv.QUOTE_MINIMAL, skip_blank_lines=False, encoding=self.encoding,
                               encoding_errors="replace", header=0 if self.header else None, names=names)
                try:
                    for frame in pd.read_csv(handle, **options):
                        # Short records leave NaN in the missing fields even with keep_default_na=False.
                        yield frame.fillna("")
                        rows_done += len(frame)
                    return
                except pd.errors.ParserError as error:
                    detail = str(error).strip()
                    if on_bad_line == "error" or not _TOO_MANY_FIELDS.search(detail):
                        line = re.search(r"line (\d+)", detail)
                        raise self._bad_line_error(delimiter, detail, int(line.group(1)) if line else None) from None
        yield from self._checked_records(delimiter, names, skip=rows_done + int(self.header))

    def _checked_records(self, delimiter: str, names: list[str], skip: int) -> Iterator[pd.DataFrame]:
        """The records after the first ``skip`` one by one (Python's csv module): a record with
        more fields than ``names`` has its cells left empty and goes to the quarantine with its
        line, as read, and the number of fields expected and seen."""
        width, batch = len(names), []
        columns = [*names, "_reason", "_line"]
        raw, row = None, skip
        with self._open_text() as text:
            try:
                for row, (fields, raw) in enumerate(
                        itertools.islice(_records_with_lines(text, delimiter), skip, None), start=skip + 1):
                    if len(fields) > width:
                        batch.append([""] * width + [f"expected {width} fields, saw {len(fields)}",
                                                     raw.rstrip("\r\n")])
                    else:
                        batch.append(fields + [""] * (width - len(fields)) + ["", None])
                    if len(batch) == self.chunk_rows:
                        yield pd.DataFrame(batch, columns=columns, dtype=object)
                        batch = []
            except csv.Error as error:
                raise self._bad_line_error(delimiter, str(error), row + 1) from None
        # The csv module takes a quote that is never closed to run to the end of the file.
        if raw is not None and raw.count('"') % 2 and raw.rstrip("\r\n").count("\n"):
            raise self._bad_line_error(delimiter, "a quoted field that starts here is never closed", row)
        if batch:
            yield pd.DataFrame(batch, columns=columns, dtype=object)

    def _bad_line_error(self, delimiter: str, detail: str, row: int | None) -> InputError:
        return InputError(self.path, f"cannot parse as {delimiter!r}-separated text ({detail}); check the quoting "
                                     "and the number of fields on that line", row=row)

    def _xlsx(self) -> Iterator[pd.DataFrame]:
        import zipfile

        from openpyxl import load_workbook

        try:
            workbook = load_workbook(self.path, read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
            raise InputError(self.path, f"not a readable XLSX workbook ({error})") from None
        try:
            if self.sheet is not None and self.sheet not in workbook.sheetnames:
                raise InputError(self.path, f"no sheet {self.sheet!r}; the sheets are {workbook.sheetnames}")
            sheet = workbook[self.sheet] if self.sheet else workbook.worksheets[0]
            choose = (f"; the sheets are {workbook.sheetnames}: name the one with the table with --sheet"
                      if self.sheet is None and len(workbook.sheetnames) > 1 else "")
            self._sheet_hint = f" (in {'the first ' if self.sheet is None else ''}sheet {sheet.title!r}{choose})"
            merged = _MergedCells(_merged_ranges(sheet), first_row=2 if self.header else 1)
            if merged.refs:
                self.notes.append(f"sheet {sheet.title!r}: the value of each merged cell was filled into every row "
                                  f"it covers: {_listed(merged.refs)}")
            rows = sheet.iter_rows(values_only=True)
            if self.header:
                header_row = next(rows, None)
                if header_row is None:
                    raise InputError(self.path, f"the sheet is empty{self._sheet_hint}")
                header_cells = [_cell_to_text(v) for v in header_row]
                while header_cells and not header_cells[-1]:  # formatting alone widens a sheet's dimension
                    header_cells.pop()
                names = _header_names(header_cells)
            else:
                names = None
            batch = []
            for sheet_row, values in enumerate(rows, start=2 if self.header else 1):
                if names is None:
                    names = _header_names([""] * len(values))
                cells = [_cell_to_text(v) for v in values]
                overflow = any(cells[len(names):])
                cells = cells[: len(names)] + [""] * (len(names) - len(cells))
                merged.fill(sheet_row, cells)
                batch.append(cells + ["more cells than header columns" if overflow else ""])
                if len(batch) == self.chunk_rows:
                    yield pd.DataFrame(batch, columns=names + ["_reason"], dtype=object)
                    batch = []
            if batch:
                yield pd.DataFrame(batch, columns=names + ["_reason"], dtype=object)
        finally:
            workbook.close()

    def _parquet(self) -> Iterator[pd.DataFrame]:
        import pyarrow.parquet as pq

        try:
            parquet = pq.ParquetFile(self.path)
        except Exception as error:  # pyarrow raises several unrelated types for a damaged file
            raise InputError(self.path, f"not a readable Parquet file ({error})") from None
        for batch in parquet.iter_batches(batch_size=self.chunk_rows):
            yield cells_as_text(batch.to_pandas())

    def _jsonl(self) -> Iterator[pd.DataFrame]:
        # Every chunk has every key of the file, so the columns do not depend on the chunk size.
        columns = [*self._jsonl_keys(), "_reason", "_line"]
        with self._open_text() as handle:
            records = []
            for line in handle:
                records.append(self._parse_json_line(line))
                if len(records) == self.chunk_rows:
                    yield pd.DataFrame.from_records(records, columns=columns).map(_cell_to_text).astype(object)
                    records = []
            if records:
                yield pd.DataFrame.from_records(records, columns=columns).map(_cell_to_text).astype(object)

    def _jsonl_keys(self) -> list[str]:
        """The keys of the file's records, in the order they first appear (a pass of its own)."""
        keys: dict[str, None] = {}
        with self._open_text() as handle:
            for line in handle:
                record = self._parse_json_line(line)
                if "_reason" not in record:
                    keys.update(dict.fromkeys(record))
        return list(keys)

    @staticmethod
    def _parse_json_line(line: str) -> dict:
        if not line.strip():
            return {"_reason": "blank line"}
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            return {"_reason": f"invalid JSON ({error.msg} at character {error.pos + 1})", "_line": line.rstrip()}
        if not isinstance(record, dict):
            return {"_reason": f"expected a JSON object, got {type(record).__name__}", "_line": line.rstrip()}
        return record

# ----- the per-row rules, shared by TableReader and the Spark engine (tousu.spark) -----
def reserved_renames(columns: Sequence[str], reserved: Sequence[str]) -> tuple[dict[str, str], str | None]:
    """``({input column: new name}, note)`` for the input columns named like a column the job adds
    (``<name>_input``, underscores added until the name is free), and the note that says so."""
    renamed: dict[str, str] = {}
    for column in reserved:
        if column in columns:
            new = f"{column}_input"
            while new in columns or new in renamed.values():
                new += "_"
            renamed[column] = new
    if not renamed:
        return renamed, None
    return renamed, ("input columns named like output columns were kept under new names: "
                     + ", ".join(f"{old!r} → {new!r}" for old, new in renamed.items()))


def resolve_columns(file: str | Path, columns: Sequence[str], text_col: str | None = None, id_col: str | None = None,
                    label_col: str | None = None, hint: str = "") -> tuple[str, str, bool]:
    """``(text column, id column, whether ids are generated)`` for a table with ``columns``, by the
    options' names or the known ones; an :class:`InputError` naming ``file`` and the columns when
    one named, or a text column, is missing, or a name is repeated."""
    columns = list(columns)
    available = ", ".join(map(repr, columns))
    duplicates = sorted({c for c in columns if columns.count(c) > 1})
    if duplicates:
        raise InputError(file, f"duplicate column names {duplicates} in the header", row=1)
    if text_col is None:
        by_lower = {str(c).strip().lower(): c for c in columns}
        text_col = next((by_lower[name] for name in KNOWN_TEXT_COLUMNS if name in by_lower), None)
        if text_col is None:
            raise InputError(
                file,
                f"no text column found (looked for {', '.join(KNOWN_TEXT_COLUMNS)}); "
                f"name it with --text-col; the columns are: {available}{hint}",
            )
    elif text_col not in columns:
        raise InputError(file, f"text column not found; the columns are: {available}", column=text_col)
    if label_col is not None and label_col not in columns:
        raise InputError(file, f"label column not found; the columns are: {available}", column=label_col)
    if id_col is None:
        id_col = next((c for c in KNOWN_ID_COLUMNS if c in columns and c != text_col), None)
        if id_col is None:
            return text_col, GENERATED_ID_COLUMN if GENERATED_ID_COLUMN not in columns else "tousu_id", True
    elif id_col not in columns:
        raise InputError(file, f"id column not found; the columns are: {available}", column=id_col)
    return text_col, id_col, False


def row_reasons(raw: pd.DataFrame, text_col: str, *, id_col: str | None = None, label_col: str | None = None,
                require_text: bool = True, encoding: str | None = None,
                problems: pd.Series | None = None) -> tuple[pd.Series, pd.Series]:
    """``(reason, problem column)`` for each row of ``raw`` (a frame of text cells) by the rules that
    need the row alone: a parse problem the raw reader found (``problems``), undecodable bytes
    (U+FFFD in the text), an empty text (also once its NUL characters are removed), an empty label
    (``label_col``), an empty id (``id_col``; ``None`` where ids are generated). The reason is ``""``
    for a row kept. NUL characters are removed from every cell of ``raw``, in place. Duplicate ids
    are a property of the whole table: the caller finds them among the rows still kept, and names
    them with :func:`duplicate_id_reason`."""
    had_nul = _strip_nul(raw, text_col)
    text = raw[text_col].astype(str)
    reasons = (pd.Series("", index=raw.index, dtype=object) if problems is None
               else problems.fillna("").astype(object))
    columns = pd.Series(text_col, index=raw.index, dtype=object)
    columns[reasons != ""] = None
    undecodable = text.str.contains("\ufffd", regex=False) & (reasons == "")
    # A Parquet or XLSX file has no text encoding to blame: the replacement character was in the cell.
    reasons[undecodable] = (f"undecodable bytes (file read as {encoding})" if encoding
                            else "undecodable bytes (a U+FFFD replacement character in the text)")
    if require_text:
        empty = (text.str.strip() == "") & (reasons == "")
        reasons[empty & had_nul] = "empty text once its NUL characters are removed"
        reasons[empty & ~had_nul] = "empty text"
    if label_col is not None:
        empty_label = (raw[label_col].astype(str).str.strip() == "") & (reasons == "")
        reasons[empty_label] = "empty label"
        columns[empty_label] = label_col
    if id_col is not None:
        empty_id = (raw[id_col].astype(str).str.strip() == "") & (reasons == "")
        reasons[empty_id] = "empty id"
        columns[empty_id] = id_col
    return reasons, columns


def duplicate_id_reason(first_row: int) -> str:
    return f"duplicate id (first seen in row {first_row})"


def row_digests(raw: pd.DataFrame) -> list[str]:
    """The content digest of each row (every cell, in column order), the stem of a generated id."""
    return ["r" + hashlib.sha1("\x1f".join(values).encode("utf-8")).hexdigest()[:16]
            for values in raw.astype(str).itertuples(index=False)]


def content_id(digest: str, occurrence: int) -> str:
    """The generated id of the ``occurrence``-th row (1 for the first) with this content digest."""
    return digest if occurrence == 1 else f"{digest}-{occurrence}"


def quarantine_rows(raw: pd.DataFrame, bad: pd.Series, reasons: pd.Series, columns: pd.Series, file: str | Path,
                    raw_lines: pd.Series | None = None) -> pd.DataFrame:
    """The quarantine part of ``raw`` (indexed by row number): :data:`QUARANTINE_COLUMNS`, then the
    row's cells, then ``raw_line`` where the reader kept the lines as read."""
    quarantine = raw[bad].copy()
    for name, values in zip(QUARANTINE_COLUMNS[::-1], (reasons[bad], columns[bad], quarantine.index, str(file))):
        quarantine.insert(0, name, values, allow_duplicates=True)
    if raw_lines is not None:
        quarantine["raw_line"] = raw_lines[bad].fillna("").to_numpy()
    return quarantine.reset_index(drop=True)


def read_table(path: str | Path, **options) -> ReadResult:
    """Read a whole table; see :class:`TableReader` for the options."""
    return TableReader(path, **options).read()


def quarantine_path(output: str | Path) -> Path:
    """Where the quarantine table of a job writing ``output`` goes (same folder and format)."""
    output = Path(output)
    return output.with_name(f"{output.stem}.quarantine{output.suffix}")


def partial_path(output: Path, suffix: str = ".partial") -> Path:
    """Where a file is written until it is complete and replaces ``output``: a name of this
    writer's own (process id and a random part), so two jobs writing one output never share it."""
    return output.with_name(f".{output.name}.{os.getpid()}-{secrets.token_hex(4)}{suffix}")


class TableWriter:
    """Append DataFrame chunks to a CSV/TSV/XLSX/Parquet/JSONL file; finishes atomically on close.

    CSV is written as UTF-8 with BOM so Excel shows Chinese correctly.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in WRITE_FORMATS:
            raise InputError(self.path, f"cannot write {suffix or 'files without extension'}; "
                             f"use one of {', '.join(WRITE_FORMATS)}")
        self.format = WRITE_FORMATS[suffix]
        self.rows_written = 0
        self._partial = partial_path(self.path)
        self._state = None
        self._columns: list[str] | None = None

    def __enter__(self) -> TableWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self

    def write(self, frame: pd.DataFrame) -> None:
        if self._columns is None:
            self._columns = list(frame.columns)
            self._state = self._open(frame)
        frame = frame.reindex(columns=self._columns)
        if self.format in ("csv", "tsv"):
            csv_safe(frame).to_csv(self._state, sep="," if self.format == "csv" else "\t", index=False,
                         header=self.rows_written == 0, lineterminator="\n")
        elif self.format == "jsonl":
            frame.to_json(self._state, orient="records", lines=True, force_ascii=False)
        elif self.format == "parquet":
            import pyarrow as pa

            self._state.write_table(pa.Table.from_pandas(frame, schema=self._state.schema, preserve_index=False))
        else:
            if self.rows_written + len(frame) >= _XLSX_MAX_ROWS:
                raise InputError(self.path, f"more than {_XLSX_MAX_ROWS - 1:,} rows do not fit in one XLSX sheet; "
                                 "write CSV or Parquet instead")
            sheet = self._state.worksheets[0]
            for values in frame.itertuples(index=False):
                sheet.append(xlsx_row(sheet, [None if v is None or (isinstance(v, float) and v != v) else v
                                              for v in values]))
        self.rows_written += len(frame)

    def _open(self, frame: pd.DataFrame):
        if self.format in ("csv", "tsv", "jsonl"):
            encoding = "utf-8-sig" if self.format in ("csv", "tsv") else "utf-8"
            return self._partial.open("w", encoding=encoding, newline="")
        if self.format == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            schema = pa.Schema.from_pandas(frame, preserve_index=False)
            return pq.ParquetWriter(self._partial, schema)
        from openpyxl import Workbook

        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet()
        sheet.append(xlsx_row(sheet, [str(column) for column in frame.columns]))
        return workbook

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._state is None:
            if exc_type is None:
                raise ValueError(f"{self.path}: nothing was written (no columns known)")
            return
        if self.format == "xlsx":
            if exc_type is None:
                self._state.save(self._partial)
        else:
            self._state.close()
        if exc_type is None:
            self._partial.replace(self.path)
        else:
            self._partial.unlink(missing_ok=True)


def write_table(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a whole table, format chosen by the file extension."""
    with TableWriter(path) as writer:
        writer.write(frame)
    return Path(path)
