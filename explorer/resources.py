"""Streamlit plumbing shared by the pages: the store, loaded models and cached results.

The store object and models are ``st.cache_resource`` (one per process, shared by
sessions). The store keeps no connection open between queries, so ``tousu classify --store``
and ``tousu link --store`` can write while the explorer runs. Query and statistics results
are ``st.cache_data`` keyed by the store's change token (the file's size and modification
time), so any write — an upload, an edit, a job in another process — makes the next page run
query afresh; their number and age are bounded, as results of old data are never asked for
again.
"""
from __future__ import annotations

from contextlib import contextmanager

import streamlit as st

from tousu.explorer import views
from tousu.explorer.launch import store_path
from tousu.store import Filters, ResultsStore, StoreError

# A page waits this long for a job that holds the store (a classify chunk takes a second or two).
STORE_WAIT_S = 30.0
CACHE_TTL_S = 3600


@st.cache_resource(show_spinner=False)
def open_store(path: str) -> ResultsStore:
    return ResultsStore(path, hold=False, wait_s=STORE_WAIT_S)


def _stopped(error: StoreError):
    st.error(f"无法读取结果库：{error}")
    st.stop()


def store() -> ResultsStore:
    """The results store named by ``$TOUSU_STORE``; if it cannot be used, the page says why and stops."""
    path = store_path()
    if not path.is_file():
        st.error(f"找不到结果库 {path}。请先运行 `tousu demo`，或用 `tousu classify … --store {path}` 导入数据。")
        st.stop()
    try:
        return open_store(str(path.resolve()))
    except StoreError as error:
        _stopped(error)


@contextmanager
def reading():
    """A block whose store queries share one read-only connection (no writes inside it)."""
    try:
        with store().reading():
            yield
    except StoreError as error:
        _stopped(error)


@st.cache_data(max_entries=64, ttl=CACHE_TTL_S, show_spinner=False)
def _query(path: str, token: tuple, method: str, args: tuple):
    return getattr(open_store(path), method)(*args)


def query(method: str, *args):
    """``ResultsStore.<method>(*args)``, cached until the store changes."""
    results = store()
    try:
        return _query(str(results.path), results.change_token(), method, args)
    except StoreError as error:
        _stopped(error)


@st.cache_data(max_entries=32, ttl=CACHE_TTL_S, show_spinner="计算中…")
def _view(path: str, token: tuple, name: str, args: tuple):
    results = open_store(path)
    with results.reading():
        return getattr(views, name)(results, *args)


def view(name: str, *args):
    """``tousu.explorer.views.<name>(store, *args)``, cached until the store changes."""
    results = store()
    try:
        return _view(str(results.path), results.change_token(), name, args)
    except StoreError as error:
        _stopped(error)


@st.cache_data(max_entries=16, ttl=CACHE_TTL_S, show_spinner="计算中…")
def _scores_view(path: str, token: tuple, name: str, filters: Filters, args: tuple):
    joined = _query(path, token, "joined_scores", (filters, views.SCORE_COLUMNS))
    return getattr(views, name)(joined, _query(path, token, "category_names", ()), *args)


def scores_view(name: str, filters: Filters, *args):
    """``tousu.explorer.views.<name>(responses, category names, *args)`` on the survey responses of the
    filtered complaints, which are queried once for every such view (CSAT, NPS, scores per category)."""
    results = store()
    try:
        return _scores_view(str(results.path), results.change_token(), name, filters, args)
    except StoreError as error:
        _stopped(error)


@st.cache_data(max_entries=16, ttl=CACHE_TTL_S, show_spinner="计算中…")
def _change_view(path: str, token: tuple, name: str, filters: Filters, args: tuple):
    joined = _query(path, token, "joined_scores", (filters, views.CHANGE_COLUMNS))
    return getattr(views, name)(joined, _query(path, token, "category_names", ()), *args)


def change_view(name: str, filters: Filters, *args):
    """``tousu.explorer.views.<name>(responses, category names, *args)`` on the survey responses of the
    filtered complaints with their dates, provinces and channels (:data:`views.CHANGE_COLUMNS`)."""
    results = store()
    try:
        return _change_view(str(results.path), results.change_token(), name, filters, args)
    except StoreError as error:
        _stopped(error)


@st.cache_resource(max_entries=2, show_spinner="加载模型…")
def load_model(model_dir: str):
    from tousu.models.pipeline import ComplaintModel

    return ComplaintModel.load(model_dir)


@st.cache_data(max_entries=2, ttl=CACHE_TTL_S, show_spinner="读取工单向量…")
def _vectors(path: str, token: tuple, space: str, filters: Filters):
    return open_store(path).vectors(space, filters)


def vectors(space: str, filters: Filters):
    """(ids, int8 vectors) of the filtered complaints that have a vector in ``space``."""
    results = store()
    try:
        return _vectors(str(results.path), results.change_token(), space, filters)
    except StoreError as error:
        _stopped(error)


@st.cache_data(max_entries=4, ttl=CACHE_TTL_S, show_spinner=False)
def category_keywords(model_dir: str) -> dict[str, tuple[str, ...]]:
    """{category code: taxonomy keywords} of a model (see :func:`tousu.explorer.views.category_keywords`)."""
    return views.category_keywords(model_dir)


def current_model_version() -> str | None:
    return query("current_model_version")
