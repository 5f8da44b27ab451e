"""主题: topic map, sizes and top words, topics over time, topics by category."""
import streamlit as st

from tousu.analysis import charts
from tousu.explorer import filters, resources, views

st.title("主题")
active = filters.current()
version = resources.current_model_version()
if version is None:
    st.info("结果库中还没有模型版本。用 `tousu classify … --store` 导入分类结果。")
    st.stop()
topics = resources.view("topic_table", version, active)
if topics.empty:
    st.info("当前模型没有主题（训练时用了 --no-topics，或训练数据太少）。")
    st.stop()

st.caption(f"模型版本：{views.version_name(version, resources.query('model_versions'))}，{len(topics)} 个主题")
st.subheader("主题地图")
st.altair_chart(charts.topic_map_chart(topics), width="stretch")
st.dataframe(views.labelled(topics[["topic_id", "topic_label", "filtered_count", "size", "category_name", "top_words"]])
             .rename(columns={"类别": "映射类别"}), hide_index=True)

frequency = views.FREQUENCIES[st.radio("周期", list(views.FREQUENCIES), index=1, horizontal=True,
                                       key="topics_frequency")]
trend = resources.view("trend_table", "topic_label", frequency, active)
if len(trend):
    st.altair_chart(charts.trend_chart(views.top_groups(trend), title="主题趋势（量最大的主题）", group_title="主题"),
                    width="stretch")

st.subheader("主题与类别对应")
st.dataframe(resources.view("topic_category_table", active))
