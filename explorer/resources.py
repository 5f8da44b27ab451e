"""Streamlit plumbing shared by the pages: the store, loaded models and cached results.

The store connection and models are ``st.cache_resource`` (one per process, shared by
sessions); query and statistics results are ``st.cache_data`` keyed by the store's
revision, so any write (an upload, an edit, a ``tousu classify --store`` run) makes the
next page run query afresh.
"""
from __future__ import annotations

import atexit

import streamlit as st

from explorer import views
from explorer.launch import store_path
from explorer.store import Filters, ResultsStore, StoreError

SIMILAR_CANDIDATES = 3000
_CANDIDATE_COLUMNS = ("id", "created_at", "category_name", "topic_label", "province", "text")


@st.cache_resource(show_spinner=False)
def open_store(path: str) -> ResultsStore:
    results = ResultsStore(path)
    atexit.register(results.close)  # so DuckDB checkpoints its write-ahead log on shutdown
    return results


def store() -> ResultsStore:
    """The results store named by ``$TOUSU_STORE``; if it cannot be used, the page says why and stops."""
    path = store_path()
    if not path.is_file():
        st.error(f"找不到结果库 {path}。请先运行 `tousu demo`，或用 `tousu classify … --store {path}` 导入数据。")
        st.stop()
    try:
        return open_store(str(path.resolve()))
    except StoreError as error:
        st.error(f"无法打开结果库：{error}")
        st.stop()


@st.cache_data(max_entries=256, show_spinner=False)
def _query(path: str, revision: int, method: str, args: tuple):
    return getattr(open_store(path), method)(*args)


def query(method: str, *args):
    """``ResultsStore.<method>(*args)``, cached until the store changes."""
    results = store()
    return _query(str(results.path), results.revision(), method, args)


@st.cache_data(max_entries=64, show_spinner="计算中…")
def _view(path: str, revision: int, name: str, args: tuple):
    return getattr(views, name)(open_store(path), *args)


def view(name: str, *args):
    """``explorer.views.<name>(store, *args)``, cached until the store changes."""
    results = store()
    return _view(str(results.path), results.revision(), name, args)


@st.cache_resource(max_entries=2, show_spinner="加载模型…")
def load_model(model_dir: str):
    from models.pipeline import ComplaintModel

    return ComplaintModel.load(model_dir)


@st.cache_data(max_entries=4, show_spinner="计算工单向量…")
def _candidate_vectors(path: str, revision: int, model_dir: str, filters: Filters):
    rows = open_store(path).complaints(filters, limit=SIMILAR_CANDIDATES, columns=_CANDIDATE_COLUMNS)
    return rows, load_model(model_dir).embed(rows["text"].fillna("").tolist())


def candidate_vectors(model_dir: str, filters: Filters):
    """(the newest filtered complaints, at most :data:`SIMILAR_CANDIDATES`, and their embeddings)."""
    results = store()
    return _candidate_vectors(str(results.path), results.revision(), model_dir, filters)


def current_model_version() -> str | None:
    return query("current_model_version")
