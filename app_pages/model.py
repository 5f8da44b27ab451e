"""模型: versions with metrics; rename/merge topics, correct categories, save a new version."""
from pathlib import Path

import streamlit as st

from tousu.explorer import editing, resources, views
from tousu.models.store import ModelStoreError
from tousu.models.taxonomy import load_taxonomy

st.title("模型")
versions = resources.query("model_versions")
if versions.empty:
    st.info("结果库中还没有模型版本。用 `tousu classify … --store` 导入分类结果。")
    st.stop()
st.dataframe(views.labelled(views.version_table(versions)), hide_index=True)
st.caption("编辑保存的版本沿用来源版本的留出指标（见「指标说明」），并未重新评估；"
           "用下方的训练标签重新训练后才有新的指标。")

store = resources.store()
version = st.selectbox("编辑的模型版本", versions["model_version"], key="model_version",
                       format_func=lambda v: views.version_name(v, versions))
topics = resources.query("topics", version)
live = topics[topics["merged_into"].isna()]
labels = dict(zip(live["topic_id"], live["topic_label"]))

st.subheader("主题：重命名与合并")
if live.empty:
    st.caption("该版本没有主题。")
else:
    left, right = st.columns(2)
    with left:
        renamed = st.selectbox("主题", list(labels), format_func=lambda t: f"{t} · {labels[t]}", key="rename_topic")
        new_label = st.text_input("新名称", key="rename_label")
        if st.button("重命名", key="rename") and new_label.strip():
            store.edit_topic(version, renamed, new_label=new_label.strip())
            st.success(f"主题 {renamed} 将改名为「{new_label.strip()}」（保存新版本后生效）")
    with right:
        source = st.selectbox("把主题", list(labels), format_func=lambda t: f"{t} · {labels[t]}", key="merge_source")
        target = st.selectbox("并入", [t for t in labels if t != source],
                              format_func=lambda t: f"{t} · {labels[t]}", key="merge_target")
        if st.button("合并", key="merge") and target is not None:
            store.edit_topic(version, source, merged_into=target)
            st.success(f"主题 {source} 将并入主题 {target}（保存新版本后生效）")
pending = resources.query("topic_edits", version)
if len(pending):
    st.dataframe(views.labelled(pending[["topic_id", "new_label", "merged_into", "edited_at"]]), hide_index=True)
    st.button("放弃这些主题修改", key="discard_edits", on_click=store.discard_topic_edits, args=(version,))

taxonomy = load_taxonomy(Path(version) / "taxonomy.yaml") if (Path(version) / "taxonomy.yaml").is_file() else None
carried = resources.query("category_names")
names = carried | ({c.code: c.name for c in taxonomy.all_categories} if taxonomy else {})
correctable = views.correction_categories(carried, taxonomy)  # level 1 only: the form below

st.subheader("待核查的训练标签")
issues = views.label_issue_table(version, names)
if issues is None:
    st.caption("该版本没有 label_issues.csv（零样本模型，或训练时用了 --no-label-issues）。")
elif issues.empty:
    st.caption("交叉验证的模型没有怀疑任何训练标签。")
else:
    st.caption(f"{len(issues)} 条训练工单的原标签被 5 折交叉验证的模型怀疑（置信学习），最可疑的在前。"
               "结果库中有的工单可载入下方更正；也可下载校对表，改 label 列后用 `tousu train … --corrections` 重新训练。")
    st.dataframe(views.labelled(issues), hide_index=True)

    def load_issue_for_correction(complaint_id: str, suggested: str) -> None:
        st.session_state["correct_id"] = complaint_id
        st.session_state["correct_category"] = suggested

    chosen = st.selectbox("核查工单", issues["id"], key="issue_id")
    suggested = issues.loc[issues["id"] == chosen, "suggested_label"].iloc[0]
    st.button("载入下方更正（建议标签）", key="load_issue", on_click=load_issue_for_correction,
              args=(chosen, suggested), disabled=suggested not in correctable)
    st.download_button("下载校对表（id, text, label）", views.csv_bytes(views.corrections_sheet(issues)),
                       file_name=f"{Path(version).name}.label_issues.corrections.csv", mime="text/csv")

st.subheader("下一批待标注")
st.caption("模型最拿不准、彼此又不相似的工单，标注它们最能提高模型（与 `tousu suggest` 同一规则）。"
           "从结果库中该版本分类的工单里选，已更正类别的不选。下载后在 label 列填类别代码，"
           "用 `tousu train 原训练表 --label-col 标签列 --corrections 下载的文件` 重新训练。")
model_found = Path(version).is_dir()
if not model_found:
    st.caption("找不到该版本的模型目录，无法计算。")
count = st.number_input("条数", min_value=1, max_value=2000, value=50, step=10, key="suggest_n")
if st.button("计算待标注清单", key="suggest", disabled=not model_found):
    with st.spinner("计算中…"):
        st.session_state["suggestions"] = (version, views.labelling_suggestions(
            store, resources.load_model(version), version, int(count)))
computed = st.session_state.get("suggestions")
if computed is not None and computed[0] == version:
    suggestions = computed[1]
    st.caption(f"从 {suggestions.attrs.get('pool', 0):,} 条未标注工单中选出 {len(suggestions):,} 条，最拿不准的在前。")
    st.dataframe(views.labelled(suggestions), hide_index=True)
    st.download_button("下载待标注表（CSV）", views.csv_bytes(suggestions), key="suggest_csv",
                       file_name=f"{Path(version).name}.suggestions.csv", mime="text/csv")

st.subheader("更正工单类别")
complaint_id = st.text_input("工单号", key="correct_id").strip()
complaint = resources.query("complaint", complaint_id) if complaint_id else None
if complaint_id and complaint is None:
    st.warning(f"没有工单 {complaint_id}")
if complaint is not None:
    st.markdown(f"当前类别：**{views.highlight(complaint['category_name'] or '')}**<br>"
                f"{views.highlight(complaint['text'])}", unsafe_allow_html=True)
    new_category = st.selectbox("改为", sorted(correctable), format_func=lambda c: f"{correctable[c]}（{c}）",
                                key="correct_category")
    note = st.text_input("备注", key="correct_note")
    if st.button("更正类别", key="correct"):
        store.correct_category(complaint_id, new_category, correctable[new_category], note=note)
        st.success(f"工单 {complaint_id} 已改为「{correctable[new_category]}」")
corrections = resources.query("corrections")
if len(corrections):
    pending = resources.query("corrections", True)
    st.caption(f"共 {len(corrections)} 条更正，其中 {len(pending)} 条尚未保存进模型版本。")
    st.dataframe(views.labelled(corrections[["id", "old_category", "label", "corrected_at", "note"]]),
                 hide_index=True)

st.subheader("保存为新模型版本")
st.caption("复制当前版本，写入上次保存以来的主题改名与合并；分类器不变，留出指标沿用来源版本（标为继承）。"
           "至今全部类别更正另存为训练标签（id, text, label），"
           "用 `tousu train 原训练表 --label-col 标签列 --corrections 标签文件` 重新训练：按工单号覆盖原标签，"
           "原训练表中没有的工单追加为新样本。")
save_note = st.text_input("版本说明", key="save_note")
if st.button("保存为新模型版本", key="save_version", type="primary"):
    try:
        new_dir, manifest = editing.save_model_version(store, version, note=save_note)
    except editing.NothingToSave:
        st.warning("上次保存以来没有新的主题修改或类别更正，未创建新版本。")
    except ModelStoreError as error:
        st.error(f"无法复制该模型版本：{error}")
    else:
        labels_file = manifest["edits"]["labels_file"]
        st.success(f"已保存新版本 {new_dir}（{manifest['metrics'].get('note', '')}）"
                   + (f"；训练标签：{labels_file}" if labels_file else ""))
        if labels_file:
            st.code(editing.retrain_command(manifest, labels_file), language="bash")
