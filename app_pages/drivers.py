"""满意度驱动: importance × satisfaction quadrant, driver table with intervals, scores per category."""
import streamlit as st

from tousu.analysis import charts
from tousu.explorer import filters, resources, views

st.title("满意度驱动")
active = filters.current()
score = st.radio("满意度指标", ["CSAT", "NPS"], horizontal=True, key="drivers_score",
                 help="驱动分析与矩阵按所选指标计算；NPS 矩阵的纵轴为各类别投诉客户的 NPS")
primary_only = st.checkbox("仅按主类别", key="drivers_primary_only",
                           help="默认一张工单的每个类别（多标签）都计入，按客户关联时计入该客户所有工单的类别；"
                                "勾选后只看主类别（同 `tousu link --primary-only`）")
result = resources.scores_view("driver_tables", active, score, primary_only)
if result is None:
    st.info("当前筛选下与工单关联的问卷太少，无法做驱动分析。请导入问卷（`tousu link … --store`）或放宽筛选。")
    st.stop()
drivers, quadrant, r_squared = result
st.metric("模型解释度 R²", f"{r_squared:.2f}")
if quadrant["quadrant"].notna().any():
    st.altair_chart(charts.quadrant_chart(quadrant, score=score), width="stretch")
    st.caption(f"点的大小：整体提升潜力，即该类投诉客户若与无投诉客户一样满意，整体 {score} 可提高的分数（占比 × −影响）。")
    focus = quadrant.loc[quadrant["quadrant"] == "重点改进区", "driver_name"]
    st.markdown("**重点改进区：** " + ("、".join(focus) if len(focus) else "（无）"))
effects = drivers.dropna(subset=["coef"])
if len(effects):
    st.altair_chart(charts.effect_chart(effects, score=score,
                                        title=f"各类投诉对 {score} 的影响（OLS 系数，95% 置信区间）"),
                    width="stretch")
st.subheader("驱动因素明细")
order = st.radio("排序", list(views.DRIVER_SORTS), horizontal=True, key="drivers_sort",
                 help="重要性：对满意度差异的解释占比；整体提升潜力：该类投诉若达到无投诉基线，整体满意度提高多少；"
                      "影响：该类投诉使满意度降低的分数")
st.dataframe(views.labelled(views.sorted_drivers(drivers, order)), hide_index=True)
st.caption(f"重要性与提升潜力的区间基于 {views.DRIVER_BOOTSTRAP} 次自助抽样，为交互浏览的近似值；"
           "`tousu link` 的报告用 200 次。")

st.subheader("各类别满意度")
scores = resources.scores_view("category_scores", active, primary_only)
categories = scores[~scores["is_baseline"]]
if categories["csat_mean"].notna().any():
    st.altair_chart(charts.score_chart(categories, label="group_name"), width="stretch")
st.dataframe(views.labelled(scores), hide_index=True)
