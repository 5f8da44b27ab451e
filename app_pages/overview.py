"""总览: volume, category shares and Pareto, CSAT/NPS, KPI tiles, trends, growth alerts; the 满意度通报 deck."""
import streamlit as st

from tousu.analysis import charts
from tousu.explorer import brief, filters, resources, views

st.title("总览")
for warning in views.incomplete_import_warnings(resources.query("incomplete_imports")):
    st.warning(warning)
active = filters.current()
total = resources.query("count", active)
if total == 0:
    st.info("当前筛选下没有工单。放宽筛选条件，或在「上传分类」页导入数据。")
    st.stop()

kpis = resources.view("kpi_table", active)
tiles = views.overview_tiles(total, resources.scores_view("complainant_summary", active), kpis)
for column, (label, value) in zip(st.columns(len(tiles)), tiles):
    column.metric(label, value)
# Built only when clicked (on another thread; the store allows that): the deck of `tousu brief`.
store = resources.store()
st.download_button("下载满意度通报（PPT）", lambda: brief.brief_file(store, active), file_name="满意度通报.pptx",
                   on_click="ignore", key="overview_brief",
                   mime="application/vnd.openxmlformats-officedocument.presentationml.presentation",
                   help="当前筛选下的月度满意度通报：整体满意度与变化归因、排列图、重要性×满意度矩阵、驱动因素、"
                        "增长预警、处理时效 KPI 和重点改进区典型投诉（已脱敏），图表为图片，数字为可编辑的表格")

pareto = resources.view("category_pareto", active)
st.altair_chart(charts.pareto_chart(pareto, label="group_name"), width="stretch")
with st.expander("类别占比明细"):
    st.dataframe(views.labelled(pareto), hide_index=True)

frequency = views.FREQUENCIES[st.radio("周期", list(views.FREQUENCIES), index=1, horizontal=True,
                                       key="overview_frequency")]
trend = resources.view("trend_table", "category", frequency, active)
alerts = resources.view("growth_alerts", frequency, active)
rising = alerts.loc[alerts["dimension"] == "类别", "group"]
st.altair_chart(charts.trend_chart(views.top_groups(trend, also=rising), title="投诉量趋势（量最大与增长预警的类别）"),
                width="stretch")

st.subheader("增长预警")
if alerts.empty:
    st.success("近 4 个周期没有快速上升的类别或主题。")
else:
    st.warning(f"{len(alerts)} 个类别或主题近 4 个周期比之前 4 个周期增长超过 50%。")
    st.dataframe(views.labelled(views.alerts_table(alerts)), hide_index=True)

with st.expander("处理时效 KPI（按类别）"):
    st.dataframe(views.labelled(kpis), hide_index=True)
