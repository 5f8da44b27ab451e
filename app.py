"""tousu 投诉分析 — the results explorer.

``tousu explore [--store PATH]`` runs it (``streamlit run app.py`` with ``TOUSU_STORE``
set). The pages in ``app_pages/`` are thin; what they show comes from ``explorer/``.
"""
import streamlit as st

from tousu.explorer import auth, filters, resources

st.set_page_config(page_title="tousu 投诉分析", layout="wide")
# Chosen here from the address, run only at the end: a login asked for on /drivers leads to /drivers.
page = st.navigation([
    st.Page("app_pages/overview.py", title="总览", default=True),
    st.Page("app_pages/drivers.py", title="满意度驱动"),
    st.Page("app_pages/change.py", title="变化归因"),
    st.Page("app_pages/topics.py", title="主题"),
    st.Page("app_pages/verbatims.py", title="工单"),
    st.Page("app_pages/model.py", title="模型"),
    st.Page("app_pages/upload.py", title="上传分类"),
], position="sidebar" if auth.logged_in() else "hidden")
auth.require_login()  # until it passes, the script stops here: no page, query or export runs
resources.store()  # stops here, with the reason, when the store cannot be opened
filters.sidebar()
page.run()
