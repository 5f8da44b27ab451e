"""`import tousu`: the functions the commands call, and the README's retraining script run as written."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import tousu
from tousu.demo.data import generate_demo_data

ROOT = Path(__file__).resolve().parent.parent


def test_the_api_is_what_the_commands_call():
    from tousu.jobs.classify import classify_job
    from tousu.jobs.evaluate import evaluate_job
    from tousu.jobs.link import link_job
    from tousu.jobs.train import train_job
    from tousu.models.pipeline import ComplaintModel

    assert (tousu.train, tousu.classify, tousu.link, tousu.evaluate) == (train_job, classify_job, link_job,
                                                                         evaluate_job)
    assert tousu.load == ComplaintModel.load
    assert set(tousu.__all__) == {"train", "load", "classify", "link", "evaluate"}
    with pytest.raises(AttributeError):
        tousu.not_a_function  # noqa: B018


def test_importing_a_stage_does_not_load_the_api():
    code = "import sys, tousu.nlp.clean; sys.exit('tousu.jobs.train' in sys.modules or 'sklearn' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def readme_retraining_script() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### A monthly retraining script", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.slow
def test_the_readme_retraining_script_runs(tmp_path):
    demo = generate_demo_data(tmp_path / "demo", n_complaints=240)
    month = "2026-11"
    orders = pd.read_csv(demo["complaints"], dtype=str)
    shutil.copy(demo["complaints"], tmp_path / f"orders_{month}.csv")
    shutil.copy(demo["surveys"], tmp_path / f"surveys_{month}.csv")
    shutil.copy(demo["complaints"], tmp_path / "gold.csv")
    first = orders.iloc[0]
    pd.DataFrame({"id": [first["工单号"]], "text": [first["内容"]], "label": ["NET"]}).to_csv(
        tmp_path / "v3.labels.csv", index=False)
    tousu.train(tmp_path / f"orders_{month}.csv", output=tmp_path / "current_model", label_col="人工分类",
                topics=False)
    done = subprocess.run([sys.executable, "-c", readme_retraining_script()], cwd=tmp_path, capture_output=True,
                          text=True, env=os.environ | {"TOUSU_MODELS_DIR": str(tmp_path / "models")}, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(pd.read_csv(tmp_path / f"classified_{month}.csv")) == len(orders)
    assert (tmp_path / f"report_{month}" / "report.xlsx").is_file()
    assert list((tmp_path / "models").glob("*/v1/manifest.json"))  # the default model directory
