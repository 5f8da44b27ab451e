"""Shared fixtures.  Tests never touch the user's cache, the network or ../shared."""
from __future__ import annotations

import os

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"


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
