"""工单: the filtered complaints, masked, keywords highlighted; similar-complaint search; export."""
import math
from pathlib import Path

import streamlit as st

from tousu.explorer import filters, resources, views
from tousu.nlp.clean import clean_text
from tousu.store import vector_space

PAGE_SIZE = 50
CARDS = 20

st.title("工单")
active = filters.current()
total = resources.query("count", active)
st.metric("当前筛选工单数", f"{total:,}")
if total == 0:
    st.info("当前筛选下没有工单。")
    st.stop()

pages = math.ceil(total / PAGE_SIZE)
page = st.number_input(f"页码（共 {pages} 页，每页 {PAGE_SIZE} 条）", min_value=1, max_value=pages, value=1,
                       key="verbatims_page")
rows = resources.query("complaints", active, PAGE_SIZE, (page - 1) * PAGE_SIZE)
st.dataframe(views.complaint_table(rows), hide_index=True)

# The files are built only when a button is clicked (on another thread; the store allows that).
store = resources.store()
left, right = st.columns(2)
left.download_button("导出 CSV", lambda: views.csv_bytes(views.export_table(store, active)), file_name="工单.csv",
                     mime="text/csv", on_click="ignore", key="verbatims_csv")
right.download_button("导出 Excel", lambda: views.xlsx_bytes(views.export_table(store, active, views.XLSX_LIMIT)),
                      file_name="工单.xlsx", on_click="ignore", key="verbatims_xlsx",
                      mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
if total > views.XLSX_LIMIT:
    st.caption(f"Excel 只导出最新的 {views.XLSX_LIMIT:,} 条（更多行写 Excel 很慢）；"
               f"CSV 导出{'全部' if total <= views.EXPORT_LIMIT else f'最新的 {views.EXPORT_LIMIT:,} 条'}，"
               "Excel 可直接打开。")

st.subheader("原文")
version = resources.current_model_version()
keywords = resources.category_keywords(version) if version else {}
st.caption("黄色标出侧栏的关键词和该工单类别在分类体系中的关键词。")
for row in rows.head(CARDS).itertuples():
    marked = [active.keyword, *keywords.get(row.category, ())]
    name = getattr(row, "subcategory_name", None)
    subcategory = f" › {name}" if isinstance(name, str) and name else ""
    st.markdown(f"**{views.highlight(row.id)}** · {views.highlight((row.category_name or '') + subcategory)} · "
                f"{views.highlight(row.topic_label or '')}<br>{views.highlight(row.text, marked)}",
                unsafe_allow_html=True)

st.subheader("相似工单")
model_found = version is not None and Path(version).is_dir()
pasted = st.text_area("粘贴一段投诉文本，在当前筛选的工单中查找最相似的", key="similar_text")
if not model_found:
    st.caption("找不到结果库登记的模型目录，无法计算相似度。")
if st.button("查找相似工单", key="similar_search", disabled=not model_found) and pasted.strip():
    model = resources.load_model(version)
    ids, vectors = resources.vectors(vector_space(model.manifest_), active)
    best = views.most_similar(model.embed([clean_text(pasted)])[0], ids, vectors)
    found = resources.query("complaints_by_id", tuple(best["id"]), views.LIST_COLUMNS)
    similar = found.merge(best, on="id")
    st.dataframe(views.complaint_table(similar, columns=("similarity", *views.LIST_COLUMNS)), hide_index=True)
    if total > len(ids):
        st.caption(f"{total - len(ids):,} 条工单没有该模型的文本向量（用别的模型分类，或在相似检索加入之前入库），"
                   "未参与查找；用当前模型重新运行 `tousu classify … --store` 可补上。")
