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
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

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
_SAMPLE_BYTES = 1 << 20
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
    """One slice of a table: rows kept and rows quarantined."""

    kept: pd.DataFrame
    quarantine: pd.DataFrame

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


def detect_encoding(sample: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 by BOM, else GB18030 (a superset of GBK and GB2312)."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    for encoding in ("utf-8", "gb18030"):
        try:
            # final=False: the sample may end inside a multi-byte character.
            codecs.getincrementaldecoder(encoding)().decode(sample, final=False)
            return encoding
        except UnicodeDecodeError:
            continue
    # Mostly-valid files still decode; the rows with bad bytes are quarantined.
    return min(("utf-8", "gb18030"), key=lambda enc: sample.decode(enc, errors="replace").count("\ufffd"))


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
    ):
        self.path = Path(path)
        self.text_col = text_col
        self.id_col = id_col
        self.header = header
        self.sheet = sheet
        self.chunk_rows = chunk_rows
        self.require_text = require_text
        self.label_col = label_col
        self.encoding: str | None = None
        self.format = self._check_file()

    # ----- public API -----
    def chunks(self) -> Iterator[TableChunk]:
        """Yield kept/quarantined rows chunk by chunk; resolves the text and id columns first."""
        seen_ids = IdIndex()
        rows_seen = 0
        for raw in self._raw_chunks():
            if rows_seen == 0:
                self._resolve_columns(list(raw.columns))
            rows_seen += len(raw)
            if len(raw):
                yield self._split(raw, seen_ids)
        if rows_seen == 0:
            raise InputError(self.path, "the file has no rows under the header")

    def rows(self) -> pd.DataFrame:
        """Every row as text, without the complaint rules (no text column needed, ids not
        checked): for side tables such as surveys.  The index is the spreadsheet row number."""
        frames = list(self._raw_chunks())
        if not frames or not sum(map(len, frames)):
            raise InputError(self.path, "the file has no rows under the header")
        return pd.concat(frames)

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

    def _resolve_columns(self, columns: list[str]) -> None:
        available = ", ".join(map(repr, columns))
        duplicates = sorted({c for c in columns if columns.count(c) > 1})
        if duplicates:
            raise InputError(self.path, f"duplicate column names {duplicates} in the header", row=1)
        if self.text_col is None:
            by_lower = {str(c).strip().lower(): c for c in columns}
            found = next((by_lower[name] for name in KNOWN_TEXT_COLUMNS if name in by_lower), None)
            if found is None:
                raise InputError(
                    self.path,
                    f"no text column found (looked for {', '.join(KNOWN_TEXT_COLUMNS)}); "
                    f"name it with --text-col; the columns are: {available}",
                )
            self.text_col = found
        elif self.text_col not in columns:
            raise InputError(self.path, f"text column not found; the columns are: {available}", column=self.text_col)
        if self.label_col is not None and self.label_col not in columns:
            raise InputError(self.path, f"label column not found; the columns are: {available}", column=self.label_col)
        if self.id_col is None:
            self.id_col = next((c for c in KNOWN_ID_COLUMNS if c in columns and c != self.text_col), None)
            self._generate_ids = self.id_col is None
            if self._generate_ids:
                self.id_col = GENERATED_ID_COLUMN if GENERATED_ID_COLUMN not in columns else "tousu_id"
        elif self.id_col not in columns:
            raise InputError(self.path, f"id column not found; the columns are: {available}", column=self.id_col)
        else:
            self._generate_ids = False

    # ----- splitting kept / quarantined -----
    def _split(self, raw: pd.DataFrame, seen_ids: IdIndex) -> TableChunk:
        # Set by the raw readers for records they could not parse; kept only in the quarantine.
        parse_problems = raw.pop("_reason").fillna("").astype(object) if "_reason" in raw else None
        raw_lines = raw.pop("_line") if "_line" in raw else None
        for column in (self.text_col, None if self._generate_ids else self.id_col):
            if column is not None and column not in raw:  # a JSONL chunk where no record has the key
                raw[column] = ""
        text = raw[self.text_col].astype(str)
        reasons = pd.Series("", index=raw.index, dtype=object) if parse_problems is None else parse_problems
        columns = pd.Series(self.text_col, index=raw.index, dtype=object)
        columns[reasons != ""] = None
        undecodable = text.str.contains("\ufffd", regex=False) & (reasons == "")
        reasons[undecodable] = f"undecodable bytes (file read as {self.encoding})"
        if self.require_text:
            reasons[(text.str.strip() == "") & (reasons == "")] = "empty text"
        if self.label_col is not None:
            if self.label_col not in raw:
                raw[self.label_col] = ""
            empty_label = (raw[self.label_col].astype(str).str.strip() == "") & (reasons == "")
            reasons[empty_label] = "empty label"
            columns[empty_label] = self.label_col

        if self._generate_ids:
            raw[self.id_col] = self._content_ids(raw, seen_ids)
        else:
            ids = raw[self.id_col].astype(str).str.strip()
            empty_id = (ids == "") & (reasons == "")
            reasons[empty_id] = "empty id"
            columns[empty_id] = self.id_col
            candidates = ids[reasons == ""]
            first = seen_ids.first_rows(candidates.tolist(), candidates.index.to_numpy())
            for row, first_row in zip(candidates.index[first >= 0], first[first >= 0]):
                reasons[row] = f"duplicate id (first seen in row {first_row})"
                columns[row] = self.id_col

        bad = reasons != ""
        quarantine = raw[bad].copy()
        for name, values in zip(QUARANTINE_COLUMNS[::-1], (reasons[bad], columns[bad], quarantine.index, str(self.path))):
            quarantine.insert(0, name, values, allow_duplicates=True)
        if raw_lines is not None:
            quarantine["raw_line"] = raw_lines[bad].fillna("").to_numpy()
        return TableChunk(kept=raw[~bad], quarantine=quarantine.reset_index(drop=True))

    def _content_ids(self, raw: pd.DataFrame, seen_ids: IdIndex) -> list[str]:
        """Stable ids from the row's content; repeated identical rows get ``-2``, ``-3`` …"""
        digests = ["r" + hashlib.sha1("\x1f".join(values).encode("utf-8")).hexdigest()[:16]
                   for values in raw.astype(str).itertuples(index=False)]
        counts = seen_ids.occurrences(digests)
        return [digest if count == 1 else f"{digest}-{count}" for digest, count in zip(digests, counts)]

    # ----- format readers: yield DataFrames of strings indexed by row number -----
    def _raw_chunks(self) -> Iterator[pd.DataFrame]:
        reader = {"csv": self._delimited, "tsv": self._delimited, "xlsx": self._xlsx,
                  "parquet": self._parquet, "jsonl": self._jsonl}[self.format]
        first_row = 2 if self.header and self.format in ("csv", "tsv", "xlsx") else 1
        for frame in reader():
            frame.index = pd.RangeIndex(first_row, first_row + len(frame), name="row")
            first_row += len(frame)
            yield frame

    def _open_text(self):
        with self.path.open("rb") as handle:
            sample = handle.read(_SAMPLE_BYTES)
        self.encoding = detect_encoding(sample)
        return io.TextIOWrapper(self.path.open("rb"), encoding=self.encoding, errors="replace", newline="")

    def _delimited(self) -> Iterator[pd.DataFrame]:
        with self._open_text() as text:
            first_line = text.readline()
        if not first_line.strip():
            raise InputError(self.path, "the first line is empty; expected a header row", row=1)
        delimiter = "\t" if self.format == "tsv" else _sniff_delimiter(first_line)
        # pandas decodes a binary file itself; handed a text stream, it re-encodes every
        # chunk through a Python wrapper (reading took 2.4x as long).
        with self.path.open("rb") as handle:
            options = dict(sep=delimiter, dtype=str, keep_default_na=False, chunksize=self.chunk_rows,
                           quoting=csv.QUOTE_MINIMAL, skip_blank_lines=False, encoding=self.encoding,
                           encoding_errors="replace")
            if not self.header:
                width = len(next(csv.reader([first_line], delimiter=delimiter)))
                options.update(header=None, names=[f"column_{i}" for i in range(1, width + 1)])
            try:
                for frame in pd.read_csv(handle, **options):
                    # Short records leave NaN in the missing fields even with keep_default_na=False.
                    yield frame.fillna("")
            except pd.errors.ParserError as error:
                detail = str(error).strip()
                line = re.search(r"line (\d+)", detail)
                raise InputError(
                    self.path,
                    f"cannot parse as {delimiter!r}-separated text ({detail}); check the quoting and the "
                    "number of fields on that line",
                    row=int(line.group(1)) if line else None,
                ) from None

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
            rows = sheet.iter_rows(values_only=True)
            if self.header:
                header_row = next(rows, None)
                if header_row is None:
                    raise InputError(self.path, "the sheet is empty")
                header_cells = [_cell_to_text(v) for v in header_row]
                while header_cells and not header_cells[-1]:  # formatting alone widens a sheet's dimension
                    header_cells.pop()
                names = [cell or f"column_{i}" for i, cell in enumerate(header_cells, start=1)]
            else:
                names = None
            batch = []
            for values in rows:
                if names is None:
                    names = [f"column_{i}" for i in range(1, len(values) + 1)]
                cells = [_cell_to_text(v) for v in values]
                overflow = any(cells[len(names):])
                cells = cells[: len(names)] + [""] * (len(names) - len(cells))
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
            yield batch.to_pandas().map(_cell_to_text).astype(object)

    def _jsonl(self) -> Iterator[pd.DataFrame]:
        handle = self._open_text()
        with handle:
            records = []
            for line_number, line in enumerate(handle, start=1):
                records.append(self._parse_json_line(line, line_number))
                if len(records) == self.chunk_rows:
                    yield pd.DataFrame.from_records(records).map(_cell_to_text).astype(object)
                    records = []
            if records:
                yield pd.DataFrame.from_records(records).map(_cell_to_text).astype(object)

    @staticmethod
    def _parse_json_line(line: str, line_number: int) -> dict:
        if not line.strip():
            return {"_reason": "blank line"}
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            return {"_reason": f"invalid JSON ({error.msg} at character {error.pos + 1})", "_line": line.rstrip()}
        if not isinstance(record, dict):
            return {"_reason": f"expected a JSON object, got {type(record).__name__}", "_line": line.rstrip()}
        return record


def read_table(path: str | Path, **options) -> ReadResult:
    """Read a whole table; see :class:`TableReader` for the options."""
    return TableReader(path, **options).read()


def quarantine_path(output: str | Path) -> Path:
    """Where the quarantine table of a job writing ``output`` goes (same folder and format)."""
    output = Path(output)
    return output.with_name(f"{output.stem}.quarantine{output.suffix}")


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
        self._partial = self.path.with_name(f".{self.path.name}.partial")
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
            frame.to_csv(self._state, sep="," if self.format == "csv" else "\t", index=False,
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
                sheet.append([None if v is None or (isinstance(v, float) and v != v) else v for v in values])
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
        workbook.create_sheet().append(list(frame.columns))
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
