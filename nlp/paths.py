"""Where the project's bundled data and the user's caches live."""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """The bundled ``data/`` folder (taxonomy, dictionaries, demo data)."""
    return Path(os.environ.get("TOUSU_DATA_DIR", PROJECT_ROOT / "data"))


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
