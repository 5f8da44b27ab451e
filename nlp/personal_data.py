"""Personal data in the tables tousu writes: which columns are masked, which are keys.

Every writer of a table that carries input columns (``clean`` and ``classify`` outputs and their
quarantines, the ``link`` report, the explorer's exports) masks the columns
:func:`free_text_columns` names, so the rule lives here alone: every text column is free text
(a 备注, a 省份 typed by hand, a survey comment: any of them may hold a phone number) except the
key columns, which joins need as they are, and the columns tousu computed itself. Numbers,
dates and times stay as they are (:func:`tousu.nlp.clean.mask_pii` leaves them alone), so a date
column written as text needs no exception.

Keys are ids, customer ids and the link key: named by the caller, or recognised by their header
(:data:`KEY_COLUMN_NAMES`). ``--pseudonymise-ids KEYFILE`` replaces them with :func:`pseudonym`,
a keyed hash that is the same for the same id under the same key, so two tables pseudonymised
with one key still join.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from tousu.nlp.clean import mask_pii, to_halfwidth
from tousu.nlp.tables import KNOWN_ID_COLUMNS

KNOWN_CUSTOMER_ID_COLUMNS = ("客户号", "客户ID", "客户编号", "用户号码", "customer")
KNOWN_SURVEY_ID_COLUMNS = ("问卷号", "问卷编号", "问卷ID")
#: Headers of key columns (compared stripped and case-insensitively), the store's names among them.
KEY_COLUMN_NAMES = (*KNOWN_ID_COLUMNS, *KNOWN_CUSTOMER_ID_COLUMNS, *KNOWN_SURVEY_ID_COLUMNS,
                    "customer_id", "survey_id")
PSEUDONYM_PREFIX = "pid_"
PSEUDONYM_HEX_DIGITS = 16
MIN_KEY_BYTES = 16
_PSEUDONYM = re.compile(re.escape(PSEUDONYM_PREFIX) + f"[0-9a-f]{{{PSEUDONYM_HEX_DIGITS}}}")
_KEY_NAMES = {name.lower() for name in KEY_COLUMN_NAMES}


def key_columns(columns: Iterable, named: Iterable = ()) -> list:
    """The key columns among ``columns``: those ``named`` and those with a key header."""
    named = {column for column in named if column is not None}
    return [column for column in columns if column in named or str(column).strip().lower() in _KEY_NAMES]


def free_text_columns(frame: pd.DataFrame, keys: Iterable = (), own: Iterable = ()) -> list:
    """The columns of ``frame`` to mask: its text columns but the keys (``keys`` and the
    columns with a key header) and ``own``, the columns tousu wrote itself."""
    kept = set(key_columns(frame.columns, keys)) | set(own)
    return [column for column in dict.fromkeys(frame.columns) if column not in kept
            and (pd.api.types.is_object_dtype(frame[column]) or pd.api.types.is_string_dtype(frame[column]))]


def mask_free_text(frame: pd.DataFrame, keys: Iterable = (), own: Iterable = ()) -> pd.DataFrame:
    """``frame`` with personal data masked in its :func:`free_text_columns` (a copy when any
    changes). A value without any keeps its full-width characters; one with some is masked as
    ``tousu clean`` masks a text, full-width digits folded first."""
    masked = frame
    for column in free_text_columns(frame, keys, own):
        values = _masked_values(frame[column])
        if values is not None:
            masked = frame.copy() if masked is frame else masked
            masked[column] = values
    return masked


def _masked_values(values: pd.Series) -> pd.Series | None:
    """``values`` with each text that holds personal data masked (each distinct text once), or
    None when none does."""
    changed = {}
    for value in pd.unique(values):
        if isinstance(value, str):
            folded = to_halfwidth(value)
            without = mask_pii(folded)
            if without != folded:
                changed[value] = without
    if not changed:
        return None
    replaced = values.map(changed)
    return values.where(replaced.isna(), replaced)


def read_pseudonym_key(path: str | Path) -> bytes:
    """The secret of ``--pseudonymise-ids``: the bytes of ``path``, never made here, since a
    key made anew each run would give new pseudonyms that join with nothing."""
    path = Path(path)
    making = f"make one with `head -c 32 /dev/urandom > {path}` and keep it safe (the same key gives the " \
             "same pseudonyms, so tables pseudonymised with it still join)"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no key file for --pseudonymise-ids; {making}")
    key = path.read_bytes()
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"{path}: a key of {len(key)} bytes is guessable; use at least {MIN_KEY_BYTES} random "
                         f"bytes: {making}")
    return key


def keyed_digest(value: str, key: bytes) -> bytes:
    """HMAC-SHA256 of an id under ``key``: the same id written in full- or half-width characters,
    or with spaces around it, gets the same digest (every pseudonym the project writes starts here)."""
    return hmac.new(key, unicodedata.normalize("NFKC", value).strip().encode("utf-8"), hashlib.sha256).digest()


def pseudonym(value: str, key: bytes) -> str:
    """``value`` as a keyed hash: ``pid_`` and 16 hex digits of :func:`keyed_digest`."""
    return PSEUDONYM_PREFIX + keyed_digest(value, key).hex()[:PSEUDONYM_HEX_DIGITS]


def pseudonymise(frame: pd.DataFrame, key: bytes, named: Iterable = ()) -> pd.DataFrame:
    """``frame`` (a copy) with every key column (:func:`key_columns`) as pseudonyms. Empty cells
    stay empty (an empty survey key marks a respondent without complaint), and so do values
    that are pseudonyms already: ``link`` over the output of ``classify --pseudonymise-ids``
    pseudonymises the survey side and leaves the complaints as they are."""
    frame = frame.copy()
    for column in key_columns(frame.columns, named):
        frame[column] = frame[column].map(lambda value: _pseudonym_of_cell(value, key))
    return frame


def _pseudonym_of_cell(value, key: bytes):
    if not isinstance(value, str) or not value.strip() or _PSEUDONYM.fullmatch(value):
        return value
    return pseudonym(value, key)
