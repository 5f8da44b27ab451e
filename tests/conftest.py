"""Shared fixtures.  Tests never touch the user's cache, the network or ../shared."""
from __future__ import annotations

import os

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
