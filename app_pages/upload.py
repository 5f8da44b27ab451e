"""上传分类: classify an analyst's CSV/XLSX into the store, with a progress bar."""
import streamlit as st

from tousu.explorer import resources, upload, views

st.title("上传分类")
version = resources.current_model_version()
if version is None:
    st.info("结果库中还没有模型版本，无法分类。先用 `tousu classify … --store` 登记一个模型。")
    st.stop()
st.caption(f"用模型 {views.version_name(version, resources.query('model_versions'))} 分类；"
           "文本会先清洗并脱敏（电话、身份证、银行卡、邮箱），原始文件不保存。")
uploaded = st.file_uploader("上传投诉表（CSV / XLSX）", type=list(upload.UPLOAD_TYPES), key="upload_file")
if uploaded is not None and st.button("开始分类", key="upload_start", type="primary"):
    bar = st.progress(0.0, text="分类中…")

    def show_progress(done: int, total: int | None) -> None:
        bar.progress(min(done / total, 1.0) if total else 0.5, text=f"已处理 {done:,} 行")

    summary, stored = upload.classify_upload(resources.store(), version, uploaded.name, uploaded.getvalue(),
                                             on_progress=show_progress)
    bar.progress(1.0, text="完成")
    read, kept, quarantined = st.columns(3)
    read.metric("读取行数", f"{summary.rows_read:,}")
    kept.metric("已分类入库", f"{summary.rows_kept:,}")
    quarantined.metric("隔离行数（空文本、重复工单号等）", f"{summary.rows_quarantined:,}")
    st.success(f"「{uploaded.name}」已分类并写入结果库，各页面已可查看。")
    st.dataframe(views.labelled(stored["category_name"].value_counts().rename_axis("category_name")
                                .reset_index()), hide_index=True)
    st.dataframe(views.complaint_table(stored), hide_index=True)
