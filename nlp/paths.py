"""Where the package's bundled data and the user's caches and models live."""
from __future__ import annotations

import os
from pathlib import Path

# The installed package (or, in a checkout, the repository root, which is the package).
PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """The bundled ``data/`` folder (taxonomy, dictionaries, demo data)."""
    return Path(os.environ.get("TOUSU_DATA_DIR", PACKAGE_ROOT / "data"))


def cache_dir() -> Path:
    """Per-user cache (rebuilt models, embedding cache); never inside the repo.

    ``TOUSU_CACHE_DIR`` overrides it, else ``$XDG_CACHE_HOME/tousu``, else ``~/.cache/tousu``.
    """
    if "TOUSU_CACHE_DIR" in os.environ:
        path = Path(os.environ["TOUSU_CACHE_DIR"])
    else:
        path = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tousu"
    path.mkdir(parents=True, exist_ok=True)
    return path


def models_dir() -> Path:
    """Where ``tousu train`` puts a model when no ``-o`` is given: ``<root>/<name>/v<N>``.

    ``TOUSU_MODELS_DIR`` overrides it, else ``$XDG_DATA_HOME/tousu/models``, else
    ``~/.local/share/tousu/models``: user data, kept apart from the code and from caches that
    may be wiped.
    """
    if "TOUSU_MODELS_DIR" in os.environ:
        return Path(os.environ["TOUSU_MODELS_DIR"])
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "tousu" / "models"
