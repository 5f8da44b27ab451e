"""Reader for the project's small versioned text data files.

They share one layout: ``#`` comment lines, one of which is ``# version: N``,
then one entry a line.
"""
from __future__ import annotations

import re
from pathlib import Path

_VERSION = re.compile(r"^#\s*version:\s*(\S+)")


def read_versioned_lines(path: str | Path) -> tuple[str, list[tuple[int, str]]]:
    """Return ``(version, [(line_number, line), ...])`` without comments and blanks."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"data file not found: {path}") from None
    version = None
    entries = []
    for line_number, line in enumerate(raw.splitlines(), start=1):
        stripped = line.rstrip("\r\n")
        if stripped.startswith("#"):
            match = _VERSION.match(stripped)
            if match:
                version = match.group(1)
            continue
        if stripped.strip():
            entries.append((line_number, stripped))
    if version is None:
        raise ValueError(f"{path}: missing '# version: N' header line")
    return version, entries
