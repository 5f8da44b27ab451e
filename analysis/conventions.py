"""Conventions shared by every analysis table, and the text and time readers they rely on.

* output columns are snake_case English; group values (category codes, province names …)
  are passed through as text, so the report layer can add Chinese headers;
* respondents who filed no complaint are the *baseline*: group ``NONE`` named ``(无投诉)``;
  a complaint whose group value is empty is grouped as ``(缺失)``;
* nothing is dropped silently: rows left out are listed with a reason;
* confidence intervals are percentile bootstraps, deterministic given ``seed``;
  a group with fewer than two responses has no interval (NaN), never an error.
"""
from __future__ import annotations

import warnings
import zlib

import numpy as np
import pandas as pd

from tousu.models.drivers import SMALL_N

SCORE_RANGES = {"CSAT": (1, 5), "NPS": (0, 10)}
BASELINE_CODE = "NONE"
BASELINE_LABEL = "(无投诉)"
MISSING_GROUP = "(缺失)"
TOTAL_LABEL = "(全部)"


class LinkError(ValueError):
    """The complaint or survey table cannot be linked at all (a whole column is missing)."""


def stripped_text(values: pd.Series) -> pd.Series:
    """Values as stripped text, <NA> where empty.

    A float column whose values are all whole numbers (ids or codes read from Excel) becomes
    ``"1001"`` rather than ``"1001.0"``, so it matches the same id read as text elsewhere.
    """
    if pd.api.types.is_float_dtype(values):
        finite = values[np.isfinite(values)]
        if len(finite) == values.notna().sum() and (finite == np.floor(finite)).all():
            values = values.astype("Int64")
    text = values.astype("string").str.strip()
    return text.mask(text == "")


def group_labels(values: pd.Series) -> pd.Series:
    """Group labels as text (so tables stay Arrow/Excel friendly), ``(缺失)`` where empty."""
    return stripped_text(values).fillna(MISSING_GROUP).astype(object)


def spreadsheet_rows(frame: pd.DataFrame) -> np.ndarray:
    """Row numbers as a spreadsheet shows them.

    Tables from ``nlp.tables.TableReader`` are indexed by the file's row number (index name
    ``row``) and keep it; otherwise the header is row 1 and the first data row is row 2.
    """
    if frame.index.name == "row" and pd.api.types.is_integer_dtype(frame.index):
        return frame.index.to_numpy(dtype=np.int64)
    return np.arange(2, len(frame) + 2, dtype=np.int64)


def require_columns(frame: pd.DataFrame, columns, table: str) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise LinkError(f"{table}: no column {', '.join(repr(c) for c in missing)}; "
                        f"the columns are: {', '.join(map(str, frame.columns))}")


def group_rng(seed: int, group: str, stream: int = 0) -> np.random.Generator:
    # One generator per group (seeded by its name), so a group's interval does not change
    # when other groups are added, removed or reordered.
    return np.random.default_rng([seed, zlib.crc32(str(group).encode("utf-8")), stream])


def sample_note(n_surveyed: int, n: int) -> str:
    """Caution for a group whose smallest score count is ``n``."""
    if n_surveyed == 0:
        return "no survey responses"
    if n == 0:
        return "no valid score"
    if n == 1:
        return "n=1: no interval"
    if n < SMALL_N:
        return f"n<{SMALL_N}: interpret with care"
    return ""


def parse_timestamps(values: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(timestamps, empty, unparseable) for a column of times.

    The format is inferred from the first value (fast); values in another format are parsed
    again one by one, and what still fails is reported as unparseable, never dropped silently.
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        empty = values.isna()
        return values, empty, pd.Series(False, index=values.index)
    text = stripped_text(values)
    empty = text.isna()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "could not infer format": the retry handles it
        parsed = pd.to_datetime(text, errors="coerce")
        retry = parsed.isna() & ~empty
        if retry.any():
            parsed[retry] = pd.to_datetime(text[retry], errors="coerce", format="mixed")
    return parsed, empty, parsed.isna() & ~empty
