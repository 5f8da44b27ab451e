"""tousu: mine Chinese customer complaints.

The Python API does what the commands do — the command line calls these same functions::

    import tousu

    model_dir, manifest = tousu.train("orders.csv", label_col="类别")           # tousu train
    summary = tousu.classify(model_dir, "new.csv", "classified.csv")           # tousu classify
    report = tousu.link("classified.csv", "surveys.csv", "report/")            # tousu link
    metrics = tousu.evaluate(model_dir, "gold.csv", label_col="类别")          # tousu evaluate
    model = tousu.load(model_dir)            # a ComplaintModel: model.predict(["话费被乱扣了"])

The names are imported on first use, so ``import tousu.nlp.clean`` stays light.
"""
from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tousu.jobs.classify import classify_job as classify
    from tousu.jobs.evaluate import evaluate_job as evaluate
    from tousu.jobs.link import link_job as link
    from tousu.jobs.train import train_job as train
    from tousu.models.pipeline import ComplaintModel

    load = ComplaintModel.load

# public name → (module, attribute path)
_API = {
    "train": ("tousu.jobs.train", "train_job"),
    "classify": ("tousu.jobs.classify", "classify_job"),
    "link": ("tousu.jobs.link", "link_job"),
    "evaluate": ("tousu.jobs.evaluate", "evaluate_job"),
    "load": ("tousu.models.pipeline", "ComplaintModel.load"),
}
__all__ = sorted(_API)


def __getattr__(name: str):
    if name not in _API:
        raise AttributeError(f"module 'tousu' has no attribute {name!r}")
    module, path = _API[name]
    found = import_module(module)
    for part in path.split("."):
        found = getattr(found, part)
    globals()[name] = found
    return found


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
