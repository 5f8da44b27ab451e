"""The sidebar filters shared by every page.

The widgets are drawn by ``app.py`` on every run, whatever the page, so their values (kept
in ``st.session_state`` under their keys) persist when the analyst switches pages. The
pages read the resulting :class:`~tousu.store.Filters` with :func:`current`.
"""
from __future__ import annotations

import streamlit as st

from tousu.explorer import resources
from tousu.store import Filters

ACTIVE = "active_filters"
# Filters field, sidebar label, store column; options are the column's distinct values.
LIST_FILTERS = (("topics", "主题", "topic_label"), ("provinces", "省份", "province"), ("channels", "渠道", "channel"),
                ("segments", "客户类型", "segment"))
KEYS = ("filter_dates", "filter_categories", *(f"filter_{field}" for field, _, _ in LIST_FILTERS), "filter_csat",
        "filter_nps", "filter_keyword")
CSAT_RANGE = (1.0, 5.0)
NPS_RANGE = (0.0, 10.0)


def _reset() -> None:
    for key in KEYS:
        st.session_state.pop(key, None)


def sidebar() -> Filters:
    """Draw the filters in the sidebar; returns them and keeps them for :func:`current`."""
    with resources.reading():  # one connection for its eight queries when the cache is cold
        return _sidebar()


def _sidebar() -> Filters:
    low, high = resources.query("date_bounds")
    names = resources.query("category_names")
    with st.sidebar:
        st.header("筛选")
        # Empty means every date, so complaints loaded later, or without a usable time, count.
        dates = st.date_input("受理日期（不选为全部）", value=(), min_value=low, max_value=high, key="filter_dates",
                              format="YYYY-MM-DD")
        categories = st.multiselect("类别", list(names), format_func=lambda code: f"{names[code]}（{code}）",
                                    key="filter_categories", placeholder="全部")
        chosen = {field: tuple(st.multiselect(label, resources.query("distinct", column), key=f"filter_{field}",
                                              placeholder="全部"))
                  for field, label, column in LIST_FILTERS}
        csat, nps = CSAT_RANGE, NPS_RANGE
        if resources.query("has_surveys"):
            csat = st.slider("问卷 CSAT 区间", *CSAT_RANGE, value=CSAT_RANGE, step=0.5, key="filter_csat",
                             help="只看有问卷、且 CSAT 在此区间内的工单")
            nps = st.slider("问卷 NPS 推荐度区间", *NPS_RANGE, value=NPS_RANGE, step=1.0, key="filter_nps",
                            help="只看有问卷、且推荐度（0–10 分）在此区间内的工单；与 CSAT 区间同时设置时，"
                                 "两项须出自同一份问卷")
        keyword = st.text_input("关键词", key="filter_keyword", help="在脱敏后的投诉内容中查找")
        st.button("重置筛选", on_click=_reset, key="filter_reset")
    # While a range is being picked the widget holds only its start.
    start, end = (tuple(dates) + (None, None))[:2]
    filters = Filters(start=start, end=end, categories=tuple(categories), **chosen,
                      csat=None if tuple(csat) == CSAT_RANGE else tuple(csat), keyword=keyword.strip(),
                      nps=None if tuple(nps) == NPS_RANGE else tuple(nps))
    st.session_state[ACTIVE] = filters
    return filters


def current() -> Filters:
    """The filters drawn in this run (all rows when none were drawn)."""
    return st.session_state.get(ACTIVE, Filters())
