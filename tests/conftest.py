"""Shared fixtures.  Tests never touch the user's cache, the network or ../shared."""
from __future__ import annotations

import os

import pandas as pd
import pytest
from complaint_fixtures import labelled_complaints
from embedders import TEST_EMBEDDER, HashedBigramEmbedder

from tousu.jobs.train import train_job
from tousu.nlp.embed.registry import register_embedder

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
# In this process only: a model trained with it cannot be loaded by a `tousu` subprocess.
register_embedder(TEST_EMBEDDER, HashedBigramEmbedder)


@pytest.fixture(scope="session", autouse=True)
def isolated_models_dir(tmp_path_factory):
    """Models trained without -o go to a temporary folder, not the user's ~/.local/share/tousu."""
    path = tmp_path_factory.mktemp("tousu-models")
    previous = os.environ.get("TOUSU_MODELS_DIR")
    os.environ["TOUSU_MODELS_DIR"] = str(path)
    yield path
    if previous is None:
        os.environ.pop("TOUSU_MODELS_DIR", None)
    else:
        os.environ["TOUSU_MODELS_DIR"] = previous


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory):
    """Point TOUSU_CACHE_DIR at a per-session temporary folder."""
    path = tmp_path_factory.mktemp("tousu-cache")
    previous = os.environ.get("TOUSU_CACHE_DIR")
    os.environ["TOUSU_CACHE_DIR"] = str(path)
    yield path
    if previous is None:
        os.environ.pop("TOUSU_CACHE_DIR", None)
    else:
        os.environ["TOUSU_CACHE_DIR"] = previous


@pytest.fixture(scope="session")
def complaints(tmp_path_factory):
    """120 labelled work orders (20 per category, label column ``类别``), one with an empty
    text and one with a phone number."""
    table = labelled_complaints(per_category=20)
    table.loc[3, "内容"] = ""  # one unusable row
    table.loc[5, "内容"] = "联系电话13812345678，" + table.loc[5, "内容"]
    path = tmp_path_factory.mktemp("data") / "train.csv"
    table.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def supervised_model(complaints, tmp_path_factory):
    """One supervised model with topics on :func:`complaints` (the default embedder), shared by
    every module. Read it only: a test that writes beside it (a new version) copies it first."""
    model_dir, _ = train_job(complaints, tmp_path_factory.mktemp("models") / "sup" / "v1", label_col="类别")
    return model_dir


@pytest.fixture
def small_tables(tmp_path):
    """A classified table of 8 complaints and 10 survey answers for it (3 without complaint),
    as files and as frames."""
    complaints = pd.DataFrame({
        "工单号": [f"T{i}" for i in range(8)],
        "内容": ["话费乱扣"] * 4 + ["信号差"] * 3 + ["排队太久"],
        "category": ["BIL"] * 4 + ["NET"] * 3 + ["QUE"],
        "category_name": ["资费计费争议"] * 4 + ["网络质量"] * 3 + ["营业厅排队等候"],
        "受理时间": pd.date_range("2026-01-05", periods=8, freq="3D").strftime("%Y-%m-%d %H:%M:%S"),
    })
    surveys = pd.DataFrame({
        "问卷号": [f"S{i}" for i in range(10)],
        "工单号": ["T0", "T1", "T2", "T3", "T4", "T5", "T7", "", "", ""],
        "CSAT": ["1", "2", "1", "2", "4", "3", "2", "5", "4", "5"],
        "NPS": ["0", "3", "2", "5", "8", "7", "4", "10", "9", "10"],
    })
    complaints_path, surveys_path = tmp_path / "classified.csv", tmp_path / "surveys.csv"
    complaints.to_csv(complaints_path, index=False)
    surveys.to_csv(surveys_path, index=False)
    return complaints_path, surveys_path, complaints, surveys
