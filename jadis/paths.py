"""Where jadis finds its bundled resources (checkpoints, gazetteers, sample data).

Defaults are the folders at the root of the source tree; environment variables override them
(``JADIS_CHECKPOINTS``, ``JADIS_GAZETTEERS``, ``JADIS_DATA``). User-added gazetteers live in
``JADIS_HOME`` (default ``~/.local/share/jadis``).
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _env_path(var: str, default: Path) -> Path:
    value = os.environ.get(var)
    return Path(value).expanduser() if value else default


def checkpoints_dir() -> Path:
    return _env_path("JADIS_CHECKPOINTS", ROOT / "checkpoints")


def gazetteers_dir() -> Path:
    return _env_path("JADIS_GAZETTEERS", ROOT / "gazetteers")


def data_dir() -> Path:
    return _env_path("JADIS_DATA", ROOT / "data")


def user_home() -> Path:
    return _env_path("JADIS_HOME", Path.home() / ".local" / "share" / "jadis")


def shared_data_dir() -> Path | None:
    """``../shared/data`` next to the source tree, if present (benchmarks only; tests never need it)."""
    path = _env_path("JADIS_SHARED_DATA", ROOT.parent / "shared" / "data")
    return path if path.is_dir() else None
