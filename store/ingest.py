"""Input tables → the store's canonical rows: columns mapped to roles by their headers, values
parsed, personal data masked or hashed; and the survey links, by the rule of ``tousu link``.

Columns are canonical English snake_case names; each input column is mapped to its role by
its header (``工单号`` → ``id``, ``受理时间`` → ``created_at`` …, see :data:`COMPLAINT_ROLES`)
and every other input column is kept in the JSON column ``extra``, so nothing is lost.
Values that cannot be parsed (a time that is not a time, a score out of range) become NULL
in their canonical column and keep their raw text in ``extra``.

No personal number is stored as it came: texts, the province/channel/segment/touchpoint
columns and every ``extra`` value are PII-masked (after NFKC normalisation, so full-width
digits are caught too), and customer ids (``客户号``, ``用户号码`` … often the phone number
itself) are replaced by a keyed hash (HMAC-SHA256 with a secret made for each store and kept
in it), which still links a survey to its customer's complaints. The hash keeps numbers out
of sight and out of exports; it is no protection against someone who holds the file and
tries every phone number.
"""
from __future__ import annotations

import base64
import hashlib
import json
import unicodedata

import numpy as np
import pandas as pd

from tousu.analysis.conventions import SCORE_RANGES, parse_timestamps, stripped_text
from tousu.analysis.kpis import REPEAT_YES
from tousu.analysis.linking import clean_scores, link
from tousu.nlp.clean import mask_pii, to_halfwidth
from tousu.nlp.personal_data import KNOWN_CUSTOMER_ID_COLUMNS, KNOWN_SURVEY_ID_COLUMNS, keyed_digest
from tousu.nlp.tables import KNOWN_ID_COLUMNS
from tousu.store.connection import StoreError

REPEAT_NO = {"否", "n", "no", "0", "0.0", "false", "f", "不重复"}
CLASSIFICATION_COLUMNS = ("category", "category_name", "confidence", "categories", "topic_id", "topic_label",
                          "subcategory", "subcategory_name")

# Role → headers that carry it (compared stripped and case-insensitively); the role's own
# name is always accepted too.
COMPLAINT_ROLES = {
    "customer_id": KNOWN_CUSTOMER_ID_COLUMNS,
    "created_at": ("受理时间", "创建时间", "投诉时间", "created"),
    "responded_at": ("首次响应时间", "响应时间", "responded"),
    "resolved_at": ("办结时间", "结案时间", "解决时间", "resolved"),
    "province": ("省份", "省"),
    "channel": ("渠道", "受理渠道"),
    "segment": ("客户类型", "客户群", "用户类型"),
    "repeat": ("重复投诉", "是否重复"),
}
MASKED_ROLES = ("province", "channel", "segment", "touchpoint")
SURVEY_ROLES = {
    "survey_id": KNOWN_SURVEY_ID_COLUMNS,
    "ticket_id": ("工单号", "工单编号"),
    "customer_id": COMPLAINT_ROLES["customer_id"],
    "touchpoint": ("触点", "调查触点"),
    "surveyed_at": ("调查时间", "回访时间", "问卷时间"),
    "csat": ("CSAT", "满意度"),
    "nps": ("NPS", "推荐度"),
}
TIME_COLUMNS = ("created_at", "responded_at", "resolved_at", "surveyed_at")


def detect_roles(columns, roles: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """{role: input column} for the columns whose header names a role."""
    by_name = {str(c).strip().lower(): c for c in columns}
    found: dict[str, str] = {}
    for role, names in roles.items():
        for name in (role, *names):
            column = by_name.get(name.lower())
            if column is not None and column not in found.values():
                found[role] = column
                break
    return found


def pca_2d(vectors: np.ndarray) -> np.ndarray:
    """The first two principal components of ``vectors`` (rows), signs fixed for stable maps."""
    vectors = np.asarray(vectors, dtype=float)
    coordinates = np.zeros((len(vectors), 2))
    if len(vectors) < 2:
        return coordinates
    centered = vectors - vectors.mean(axis=0)
    _, _, components = np.linalg.svd(centered, full_matrices=False)
    projected = centered @ components[:2].T
    for k in range(projected.shape[1]):
        if projected[np.abs(projected[:, k]).argmax(), k] < 0:
            projected[:, k] *= -1
        coordinates[:, k] = projected[:, k]
    return coordinates


def _nullable_text(values: pd.Series) -> pd.Series:
    """:func:`~tousu.analysis.conventions.stripped_text` with None where empty (DuckDB reads None as NULL)."""
    text = stripped_text(values)
    return text.astype(object).where(text.notna(), None)


def _unparsed(text: pd.Series, parsed: pd.Series) -> pd.Series:
    return text.where(parsed.isna() & text.notna(), None)


def _timestamps_keeping_raw(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(naive timestamps, the raw text of values that are not times), parsed as every analysis
    table parses them (:func:`~tousu.analysis.conventions.parse_timestamps`). Zone offsets are
    dropped, keeping the wall-clock time as written."""
    parsed, _, unparseable = parse_timestamps(values)
    if parsed.dt.tz is not None:
        parsed = parsed.dt.tz_localize(None)
    return parsed, _nullable_text(values).where(unparseable.to_numpy(), None)


def _parse_flags(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(True/False/<NA> repeat flags, the raw text of values that are neither)."""
    text = _nullable_text(values)
    lower = text.str.lower()
    flags = pd.Series(pd.NA, index=values.index, dtype="boolean")
    flags[lower.isin(REPEAT_YES).to_numpy()] = True
    flags[lower.isin(REPEAT_NO).to_numpy()] = False
    return flags, _unparsed(text, flags)


def _parse_scores(values: pd.Series, bounds: tuple[int, int]) -> tuple[pd.Series, pd.Series]:
    """(scores as floats, the raw text of the values blanked), by the rule of ``tousu link``
    (:func:`tousu.analysis.linking.clean_scores`): a number within ``bounds`` and whole (3.5
    is no answer on these scales)."""
    scores, _ = clean_scores(values, bounds)
    return scores, _unparsed(_nullable_text(values), scores)


def masked(value: str) -> str:
    """``value`` PII-masked, full-width digits and letters normalised first (NFKC), as
    ``tousu clean`` does before masking."""
    return mask_pii(unicodedata.normalize("NFKC", value))


def pseudonym(value: str, key: bytes) -> str:
    """A customer id as stored: a keyed hash (HMAC-SHA256, 80 bits, base32: letters and the
    digits 2–7 only, so it never reads as a phone or card number). The same customer written
    in full- or half-width digits gets the same pseudonym."""
    return "c_" + base64.b32encode(keyed_digest(value, key)[:10]).decode("ascii").lower()


def quantized(vectors: np.ndarray) -> list[bytes]:
    """Each vector as int8 bytes, scaled so its largest component is ±127."""
    vectors = np.asarray(vectors, dtype=np.float32)
    scale = np.abs(vectors).max(axis=1, keepdims=True)
    scale[scale == 0] = 1.0
    return [row.tobytes() for row in np.round(vectors / scale * 127).astype(np.int8)]


def _each_distinct(values: pd.Series, function) -> pd.Series:
    """``function`` of each non-empty text, computed once per distinct value."""
    text = _nullable_text(values)
    distinct = text.dropna().unique()
    return text.map(dict(zip(distinct, map(function, distinct)))).astype(object).where(text.notna(), None)


def _extra_json(table: pd.DataFrame, columns: list[str], unparsed: dict[str, pd.Series]) -> list[str | None]:
    """Per row, the other input columns (PII-masked) and unparseable values, as JSON."""
    parts = {column: _nullable_text(table[column]) for column in columns}
    parts |= {column: raw.astype(object).where(raw.notna(), None) for column, raw in unparsed.items()}
    if not parts:
        return [None] * len(table)
    frame = pd.DataFrame(parts, index=table.index)
    records = []
    for values in frame.itertuples(index=False, name=None):
        record = {column: masked(value) for column, value in zip(frame.columns, values) if value is not None}
        records.append(json.dumps(record, ensure_ascii=False) if record else None)
    return records


def role_values(frame: pd.DataFrame, role: str, values: pd.Series, key: bytes) -> None:
    """A text role's column: customer ids hashed, the free-text roles masked."""
    if role == "customer_id":
        frame[role] = _each_distinct(values, lambda value: pseudonym(value, key))
    elif role in MASKED_ROLES:
        frame[role] = _each_distinct(values, masked)
    else:
        frame[role] = _nullable_text(values)


def canonical_complaints(table: pd.DataFrame, text_column: str, id_column: str | None,
                          model_version: str | None, source_file: str | None, key: bytes) -> pd.DataFrame:
    if id_column is None:
        id_column = next((c for c in KNOWN_ID_COLUMNS if c in table.columns and c != text_column), None)
        if id_column is None:
            raise StoreError(f"no id column among {', '.join(map(str, table.columns))}; name it")
    for column in (text_column, id_column):
        if column not in table.columns:
            raise StoreError(f"no column {column!r} among {', '.join(map(str, table.columns))}")
    table = table.reset_index(drop=True)
    used = {text_column, id_column, *CLASSIFICATION_COLUMNS}
    roles = detect_roles([c for c in table.columns if c not in used], COMPLAINT_ROLES)
    # Cleaned texts come masked (unless `classify --no-mask`); masking again changes nothing else.
    texts = table[text_column].astype(object)
    frame = pd.DataFrame({"id": _nullable_text(table[id_column]),
                          "text": texts.map(lambda text: mask_pii(to_halfwidth(text)) if isinstance(text, str)
                                            else text)})
    unparsed = {}
    for role, column in roles.items():
        if role in TIME_COLUMNS:
            frame[role], unparsed[column] = _timestamps_keeping_raw(table[column])
        elif role == "repeat":
            frame[role], unparsed[column] = _parse_flags(table[column])
        else:
            role_values(frame, role, table[column], key)
    for column in CLASSIFICATION_COLUMNS:
        if column in table.columns:
            frame[column] = table[column]
    if "confidence" in frame:
        frame["confidence"] = pd.to_numeric(frame["confidence"], errors="coerce").astype(float)
    if "topic_id" in frame:
        frame["topic_id"] = pd.to_numeric(frame["topic_id"], errors="coerce").astype("Int64")
    for column in ("category", "category_name", "categories", "topic_label", "subcategory", "subcategory_name"):
        if column in frame:
            frame[column] = _nullable_text(frame[column])
    frame["model_version"] = model_version
    frame["source_file"] = source_file
    frame["loaded_at"] = pd.Timestamp.now()
    frame["extra"] = _extra_json(table, [c for c in table.columns if c not in used and c not in roles.values()],
                                 unparsed)
    frame = frame[frame["id"].notna()]
    return frame.drop_duplicates("id", keep="first")


def _row_ids(table: pd.DataFrame, prefix: str) -> list[str]:
    """Stable ids from a row's content; repeated identical rows get ``-2``, ``-3`` …"""
    seen: dict[str, int] = {}
    ids = []
    for values in table.astype(str).itertuples(index=False):
        digest = prefix + hashlib.sha1("\x1f".join(values).encode("utf-8")).hexdigest()[:16]
        seen[digest] = seen.get(digest, 0) + 1
        ids.append(digest if seen[digest] == 1 else f"{digest}-{seen[digest]}")
    return ids


def canonical_surveys(table: pd.DataFrame, key_column: str, source_file: str | None, key: bytes) -> pd.DataFrame:
    if key_column not in table.columns:
        raise StoreError(f"surveys: no key column {key_column!r}; the columns are: "
                         f"{', '.join(map(str, table.columns))}")
    table = table.reset_index(drop=True)
    key_role = next((role for role, column in detect_roles([key_column], SURVEY_ROLES).items()), "ticket_id")
    linked_by = "customer_id" if key_role == "customer_id" else "ticket_id"
    roles = detect_roles([c for c in table.columns if c != key_column], SURVEY_ROLES)
    roles[linked_by] = key_column
    frame = pd.DataFrame(index=table.index)
    frame["survey_id"] = _nullable_text(table[roles["survey_id"]]) if "survey_id" in roles else _row_ids(table, "s")
    unparsed = {}
    for role, column in roles.items():
        if role == "survey_id":
            continue
        if role in TIME_COLUMNS:
            frame[role], unparsed[column] = _timestamps_keeping_raw(table[column])
        elif role in ("csat", "nps"):
            frame[role], unparsed[column] = _parse_scores(table[column], SCORE_RANGES[role.upper()])
        else:
            role_values(frame, role, table[column], key)
    frame["linked_by"] = linked_by
    frame["source_file"] = source_file
    frame["loaded_at"] = pd.Timestamp.now()
    frame["extra"] = _extra_json(table, [c for c in table.columns if c not in roles.values()], unparsed)
    frame = frame[frame["survey_id"].notna()]
    return frame.drop_duplicates("survey_id", keep="first")


def topic_rows(model_version: str, topic_model) -> pd.DataFrame:
    info = topic_model.topic_info_.copy()
    coordinates = pd.DataFrame(pca_2d(topic_model.topic_embeddings_), columns=["x", "y"],
                               index=pd.Index(topic_model.topic_ids_, name="topic_id"))
    info = info.join(coordinates, on="topic_id")
    frame = pd.DataFrame({
        "model_version": model_version,
        "topic_id": info["topic_id"].astype(int),
        "topic_label": info["topic_label"].astype(str),
        "size": info["size"].astype("int64"),
        "share": info["share"].astype(float) if "share" in info else np.nan,
        "top_words": info["top_words"].map(lambda words: " ".join(words) if isinstance(words, (list, tuple, np.ndarray))
                                           else str(words)),
        "x": info["x"], "y": info["y"],
    })
    for column in ("category", "category_name"):
        frame[column] = _nullable_text(info[column]) if column in info else None
    merged = info["merged_into"] if "merged_into" in info else pd.Series(np.nan, index=info.index)
    frame["merged_into"] = pd.to_numeric(merged, errors="coerce").astype("Int64")
    return frame


def survey_link_targets(complaints: pd.DataFrame, surveys: pd.DataFrame) -> pd.DataFrame:
    """``survey_id``, ``complaint_id``, ``is_baseline`` of every answer that counts, by the rule
    of ``tousu link`` (:func:`tousu.analysis.linking.link`, which this calls).

    complaints: ``id``, ``customer_id``, earliest first; surveys: ``survey_id``,
    ``ticket_id``, ``customer_id``, ``linked_by``, ``csat``, ``nps``, earliest first. So
    "the first" complaint of a customer and "the first" answer are the earliest. By ticket,
    an empty ticket is the baseline and a ticket that matches no complaint is left out; by
    customer, a customer without complaint is the baseline and only the first answer counts.
    """
    found = [pd.DataFrame({"survey_id": pd.Series([], dtype=object), "complaint_id": pd.Series([], dtype=object),
                           "is_baseline": pd.Series([], dtype=bool)})]
    for linked_by, key in (("ticket_id", ("id", "ticket_id")), ("customer_id", ("customer_id", "customer_id"))):
        answers = surveys[surveys["linked_by"] == linked_by]
        if answers.empty:
            continue
        joined = link(complaints[["id", "customer_id"]], answers[["survey_id", linked_by, "csat", "nps"]],
                      key=key, complaint_id="id").joined
        found.append(pd.DataFrame({"survey_id": joined["survey_id"].to_numpy(dtype=object),
                                   "complaint_id": joined["id"].astype(object).where(joined["has_complaint"], None),
                                   "is_baseline": ~joined["has_complaint"].to_numpy(dtype=bool)}))
    return pd.concat(found, ignore_index=True)
