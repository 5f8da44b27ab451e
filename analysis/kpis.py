"""Complaint handling KPIs: 24 h response, 48 h resolution, repeat and escalation rates."""
from __future__ import annotations

import numpy as np
import pandas as pd

from tousu.analysis.conventions import TOTAL_LABEL, group_labels, parse_timestamps, stripped_text

ESCALATION_CHANNEL = "工信部转办"
ESCALATION_WORDS = ("工信部", "媒体", "曝光", "法院", "消协")
# 315 and 12300 only as whole numbers, so amounts such as 3150元 do not count as escalation.
ESCALATION_NUMBERS = ("12300", "315")
ESCALATION_PATTERN = "|".join([*ESCALATION_WORDS, *(rf"(?<!\d){number}(?!\d)" for number in ESCALATION_NUMBERS)])
REPEAT_YES = {"是", "y", "yes", "1", "1.0", "true", "t", "重复"}


def kpis(complaints: pd.DataFrame, created: str = "受理时间", responded: str = "首次响应时间",
         resolved: str = "办结时间", repeat: str = "重复投诉", channel: str = "渠道", text: str = "内容",
         by: str | None = "category") -> pd.DataFrame:
    """Handling KPIs per group and overall (last row, group ``(全部)``).

    * ``n`` complaints;
    * ``responded_24h_share``: first response at most 24 h after creation (exactly 24 h
      counts as within); never responded counts as not within; complaints whose creation or
      response time is unusable are left out of the share;
    * ``resolved_48h_share``: the same for resolution within 48 h (open = not within);
    * ``open_share``: share with no resolution time;
    * ``median_response_h``/``median_resolution_h``: median hours, over responded/resolved;
    * ``repeat_rate``: share flagged as repeat (是/Y/yes/1/true) among complaints with a flag;
    * ``escalation_rate``: channel ``工信部转办``, or the text mentions 工信部, 12300, 315,
      媒体, 曝光, 法院 or 消协;
    * ``bad_timestamps``: complaints with an unparseable time, an empty creation time, or a
      response/resolution before creation.

    A KPI whose column is absent is omitted; ``attrs["notes"]`` says which and why.
    """
    notes = []
    has = {name: column is not None and column in complaints.columns
           for name, column in (("created", created), ("responded", responded), ("resolved", resolved),
                                ("repeat", repeat), ("channel", channel), ("text", text))}
    metrics = pd.DataFrame(index=complaints.index)
    if has["created"]:
        start, start_empty, start_bad = parse_timestamps(complaints[created])
        bad = start_bad | start_empty
        for name, column, limit, label in (("responded", responded, 24, "response"),
                                           ("resolved", resolved, 48, "resolution")):
            if not has[name]:
                notes.append(f"{column}: no such column; {name}_{limit}h_share and median_{label}_h omitted")
                continue
            end, end_empty, end_bad = parse_timestamps(complaints[column])
            hours = (end - start) / pd.Timedelta(hours=1)
            negative = hours < 0
            bad |= end_bad | negative
            usable = start.notna() & ~end_bad & ~negative
            metrics[f"{name}_{limit}h_share"] = ((hours <= limit) & ~end_empty).astype(float).where(usable)
            metrics[f"median_{label}_h"] = hours.where(usable & ~end_empty)
            if name == "resolved":
                metrics["open_share"] = end_empty.astype(float)
        metrics["bad_timestamps"] = bad.astype(np.int64)
    else:
        notes.append(f"{created}: no such column; time KPIs omitted")
    if has["repeat"]:
        flag = complaints[repeat]
        if pd.api.types.is_bool_dtype(flag):
            metrics["repeat_rate"] = flag.astype(float)
        else:
            flag = stripped_text(flag).str.lower()
            metrics["repeat_rate"] = flag.isin(REPEAT_YES).astype(float).where(flag.notna())
    else:
        notes.append(f"{repeat}: no such column; repeat_rate omitted")
    if has["channel"] or has["text"]:
        escalated = pd.Series(False, index=complaints.index)
        if has["channel"]:
            escalated |= (stripped_text(complaints[channel]) == ESCALATION_CHANNEL).fillna(False).astype(bool)
        if has["text"]:
            escalated |= mentions_escalation(complaints[text])
        metrics["escalation_rate"] = escalated.astype(float)
        for name, column in (("channel", channel), ("text", text)):
            if not has[name]:
                notes.append(f"{column}: no such column; escalation_rate from the other column only")
    else:
        notes.append(f"{channel}, {text}: no such columns; escalation_rate omitted")

    if by is not None and by not in complaints.columns:
        notes.append(f"{by}: no such column; overall row only")
        by = None
    groups = group_labels(complaints[by]) if by else pd.Series(TOTAL_LABEL, index=complaints.index)
    total = pd.Series(TOTAL_LABEL, index=complaints.index)
    tables = [_kpi_rows(metrics, groups).sort_values(["n", "group"], ascending=[False, True], kind="stable")]
    if by:
        tables.append(_kpi_rows(metrics, total))
    order = ["group", "n", "responded_24h_share", "resolved_48h_share", "open_share", "median_response_h",
             "median_resolution_h", "repeat_rate", "escalation_rate", "bad_timestamps"]
    result = pd.concat(tables, ignore_index=True)
    result = result[[c for c in order if c in result.columns]]
    result.attrs["notes"] = notes
    return result


def mentions_escalation(texts: pd.Series) -> pd.Series:
    """Whether each text mentions an escalation (:data:`ESCALATION_PATTERN`); False where empty.

    Python's regex costs ~5 µs a text; one pass of Arrow's RE2 finds the texts that hold any
    of the words or numbers at all (~0.7 µs), and only those are matched in full."""
    arrow = texts.astype("string[pyarrow]")
    any_term = "|".join((*ESCALATION_WORDS, *ESCALATION_NUMBERS))
    candidate = arrow.str.contains(any_term, regex=True).fillna(False).to_numpy(dtype=bool)
    found = np.zeros(len(texts), dtype=bool)
    found[candidate] = arrow[candidate].str.contains(ESCALATION_PATTERN, regex=True).fillna(False).to_numpy(dtype=bool)
    return pd.Series(found, index=texts.index)


def _kpi_rows(metrics: pd.DataFrame, groups: pd.Series) -> pd.DataFrame:
    keys = groups.to_numpy()
    table = groups.groupby(keys).size().rename("n").to_frame()
    if len(metrics.columns):
        grouped = metrics.groupby(keys)
        aggregated = grouped.mean()
        medians = [c for c in metrics.columns if c.startswith("median_")]
        aggregated[medians] = grouped[medians].median()
        if "bad_timestamps" in metrics.columns:
            aggregated["bad_timestamps"] = grouped["bad_timestamps"].sum()
        table = table.join(aggregated)
    return table.rename_axis("group").reset_index()
