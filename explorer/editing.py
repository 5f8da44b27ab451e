"""Analyst edits saved as a new model version.

The model page records edits in the results store as they are made: topic renames and
merges (``topic_edits``, pending until saved) and category corrections (applied to the
complaint at once, logged in ``category_corrections``). :func:`save_model_version` turns
the edits made since the last saved version into a model directory that
``ComplaintModel.load`` accepts like any other:

* the model's files are copied to the next version directory (``…/v2`` beside ``…/v1``);
* topic renames and merges are written into ``topics/topic_info.json`` — a merged topic
  keeps its embedding but answers as the topic it joined (``merged_into``);
* a fresh manifest records the parent version and the edits, with new checksums; its
  holdout metrics are the parent's, marked as inherited (``metrics.note``): nothing was
  evaluated again, and the classifier itself is unchanged;
* every category correction so far is written beside it as ``v2.labels.csv`` (``id``,
  ``text``, ``label``), for ``tousu train TRAINING_TABLE --label-col L --corrections
  v2.labels.csv``, which retrains with the corrected labels;
* the store records the new version and moves the complaints classified by the old one
  to it (their topics relabelled), so the explorer shows the edited topics at once.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd

from tousu.models.store import (
    MANIFEST,
    MANIFEST_CHECKSUM,
    next_version_dir,
    read_manifest,
    write_manifest,
    writing_model,
)
from tousu.models.topics import OUTLIER, TOPIC_INFO_FILE
from tousu.store import ResultsStore

# Written by write_manifest itself; everything else of the parent's manifest is kept.
_GENERATED_MANIFEST_KEYS = ("format", "format_version", "created", "libraries", "files")


class NothingToSave(ValueError):
    """Saving a new model version was asked for without any edit."""


def next_model_dir(model_dir: str | Path) -> Path:
    """Where the edited version of ``model_dir`` goes: ``…/name/v2`` for ``…/name/v1``; a
    directory not named ``vN`` (``out/demo/model``) gets its versions beside it
    (``out/demo/model-versions/v1``)."""
    model_dir = Path(model_dir)
    if re.fullmatch(r"v\d+", model_dir.name):
        return next_version_dir(model_dir.parent.parent, model_dir.parent.name)
    return next_version_dir(model_dir.parent, f"{model_dir.name}-versions")


def resolve_topic_edits(topic_info: pd.DataFrame, edits: pd.DataFrame) -> tuple[dict[int, int], dict[int, str]]:
    """({topic id: the id it answers as}, {surviving topic id: label}) after ``edits``.

    Merges are followed to their end (A → B → C sends A to C); a merge that would loop is
    ignored. Renames apply to the surviving topic; a merged topic takes its target's label.
    """
    labels = dict(zip(topic_info["topic_id"].astype(int), topic_info["topic_label"]))
    merges, renames = {}, {}
    for edit in edits.itertuples():
        if pd.notna(edit.merged_into) and int(edit.merged_into) != int(edit.topic_id):
            merges[int(edit.topic_id)] = int(edit.merged_into)
        if isinstance(edit.new_label, str) and edit.new_label.strip():
            renames[int(edit.topic_id)] = edit.new_label.strip()

    def final(topic: int) -> int:
        seen = {topic}
        while topic in merges and merges[topic] not in seen:
            topic = merges[topic]
            seen.add(topic)
        return topic

    targets = {topic: final(topic) for topic in labels}
    survivors = {target: renames.get(target, labels[target]) for target in targets.values()}
    return targets, survivors


def _edited_topic_info(payload: dict, targets: dict[int, int], labels: dict[int, str]) -> dict:
    topics = pd.DataFrame(payload["topics"])
    sizes = topics.set_index("topic_id")["size"]
    merged_sizes = topics.assign(target=topics["topic_id"].map(targets)).groupby("target")["size"].sum()
    total = max(int(sizes.sum()), 1)
    records = []
    for record in payload["topics"]:
        topic = int(record["topic_id"])
        target = targets.get(topic, topic)
        is_merged = target != topic
        size = 0 if is_merged else int(merged_sizes.get(topic, sizes.get(topic, 0)))
        records.append(record | {"topic_label": labels[target], "size": size, "share": size / total,
                                 "merged_into": target if is_merged else None})
    return payload | {"topics": records}


def inherited_metrics(parent_manifest: dict, parent: Path) -> dict:
    """The parent's metrics, marked as taken over without evaluating again (the note names the
    version that was evaluated)."""
    metrics = dict(parent_manifest.get("metrics", {}))
    if "inherited_from" not in metrics:
        metrics["inherited_from"] = str(parent)
        metrics["note"] = f"继承自 {parent_manifest.get('version') or parent.name}，未重新评估"
    return metrics


def retrain_command(manifest: dict, labels_file: str | Path) -> str:
    """The ``tousu train`` command that retrains the model's training table with the corrections."""
    data = manifest.get("data", {})
    training = data.get("input") or "训练表"
    label = data.get("label_column") or "标签列"
    return f"tousu train {training} --label-col {label} --corrections {labels_file}"


def save_model_version(store: ResultsStore, model_version: str, note: str = "") -> tuple[Path, dict]:
    """Write the edits made on ``model_version`` (a model directory) since the last saved
    version as a new model version.

    Returns the new directory and its manifest. Raises :class:`NothingToSave` when there is
    neither a pending topic edit nor a category correction made since the last save.
    """
    source = Path(model_version)
    parent_manifest = read_manifest(source)
    edits = store.topic_edits(model_version)
    new_corrections = store.corrections(pending=True)
    if edits.empty and new_corrections.empty:
        raise NothingToSave("no topic edits or category corrections since the last saved version")
    corrections = store.corrections()
    target = next_model_dir(source)
    topic_file = Path("topics") / TOPIC_INFO_FILE
    targets, labels = {}, {}
    with writing_model(target) as scratch:
        shutil.copytree(source, scratch, dirs_exist_ok=True, ignore=shutil.ignore_patterns(MANIFEST, MANIFEST_CHECKSUM))
        if (scratch / topic_file).is_file():
            payload = json.loads((scratch / topic_file).read_text(encoding="utf-8"))
            targets, labels = resolve_topic_edits(pd.DataFrame(payload["topics"]), edits)
            edited = _edited_topic_info(payload, targets, labels)
            (scratch / topic_file).write_text(json.dumps(edited, ensure_ascii=False, indent=2), encoding="utf-8")
        labels_file = target.with_name(f"{target.name}.labels.csv")
        manifest = {key: value for key, value in parent_manifest.items() if key not in _GENERATED_MANIFEST_KEYS}
        manifest |= {
            "name": target.parent.name, "version": target.name, "parent": str(source),
            "metrics": inherited_metrics(parent_manifest, source),
            "edits": {"note": note, "topics_renamed": int(edits["new_label"].notna().sum()),
                      "topics_merged": int(edits["merged_into"].notna().sum()),
                      "category_corrections": len(new_corrections),
                      "category_corrections_total": len(corrections),
                      "labels_file": str(labels_file) if len(corrections) else None},
        }
        if manifest.get("topics") and labels:
            manifest["topics"] = manifest["topics"] | {"count": sum(topic != OUTLIER for topic in labels)}
        manifest = write_manifest(scratch, manifest)
    if len(corrections):
        corrections[["id", "text", "label"]].to_csv(labels_file, index=False, encoding="utf-8-sig")
    new_version = store.record_model(target, manifest)
    store.move_to_version(model_version, new_version, targets, labels)
    return target, manifest
