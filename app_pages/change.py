"""变化归因: what changed between two periods picked in the sidebar, per segment (mix / rate) and region."""
import streamlit as st

from tousu.analysis import charts
from tousu.explorer import filters, resources, views

st.title("变化归因")
active = filters.current()
with st.sidebar:
    st.subheader("变化归因")
    frequency = views.CHANGE_FREQUENCIES[st.radio("对比周期", list(views.CHANGE_FREQUENCIES), index=1,
                                                  horizontal=True, key="change_frequency")]
periods, default = resources.change_view("change_periods", active, frequency)
if default is None:
    st.info("当前筛选下有问卷的周期不足两个，无法比较。请导入带调查时间的问卷（`tousu link … --store`）、"
            "换用更短的周期或放宽筛选。")
    st.stop()
with st.sidebar:
    period_a = st.selectbox("对比期 A（前）", periods, index=periods.index(default[0]), key=f"change_a_{frequency}")
    period_b = st.selectbox("对比期 B（后）", periods, index=periods.index(default[1]), key=f"change_b_{frequency}")
if period_a == period_b:
    st.info("请在侧栏选择两个不同的周期。")
    st.stop()
result = resources.change_view("change_attribution", active, frequency, period_a, period_b)
if isinstance(result, str):
    st.warning(result)
    st.stop()
table, by_region, notes, overall = result
st.caption("每位受访者属于一个细分群体：其问卷所关联工单的主类别，或无投诉客户。结构效应：该群体占比变化带来的影响；"
           "表现效应：该群体自身得分变化带来的影响；各群体合计影响之和等于整体变化。NPS 按每人 +100/0/−100 取平均。")
for column, (score, (mean_a, mean_b, n_a, n_b)) in zip(st.columns(len(overall)), overall.items()):
    digits = 2 if score == "CSAT" else 1
    column.metric(f"{score}：{period_a} → {period_b}", f"{mean_b:.{digits}f}", f"{mean_b - mean_a:+.{digits + 1}f}",
                  help=f"样本 {n_a:,} → {n_b:,}")
for score in overall:
    st.altair_chart(charts.waterfall_chart(table, score, period_a, period_b), width="stretch")
st.subheader("各细分群体")
st.dataframe(views.change_labelled(table), hide_index=True)
if len(by_region):
    st.subheader("分地区 / 渠道")
    dimension = st.radio("维度", list(by_region["dimension"].unique()), horizontal=True, key="change_dimension")
    st.dataframe(views.change_labelled(by_region[by_region["dimension"] == dimension]), hide_index=True)
for note in notes:
    st.caption(note)
