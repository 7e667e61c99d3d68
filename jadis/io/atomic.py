"""Atomic file writing: write to a temporary sibling, rename into place only when complete."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``dest``; rename it to ``dest`` if the block succeeds.

    The temporary file lives in the same directory (so ``os.replace`` is atomic) and keeps the
    destination's suffix (so drivers that pick a format from the extension still work). On any
    exception the temporary file is removed and ``dest`` is left untouched.

    >>> with atomic_path("out.tif") as tmp:
    ...     write_something(tmp)
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    suffix = dest.suffix if suffix is None else suffix
    fd, name = tempfile.mkstemp(prefix=f".{dest.stem}.", suffix=f".part{suffix}", dir=dest.parent)
    os.close(fd)
    tmp = Path(name)
    tmp.unlink()  # let the writer create it (some drivers refuse to overwrite an empty file)
    try:
        yield tmp
        os.replace(tmp, dest)
    finally:
        for leftover in (tmp, *tmp.parent.glob(tmp.name + ".*")):  # e.g. GDAL .aux.xml / .ovr
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()


def atomic_write_text(dest: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``dest`` atomically."""
    with atomic_path(dest) as tmp:
        tmp.write_text(text, encoding=encoding)


def atomic_write_bytes(dest: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``dest`` atomically."""
    with atomic_path(dest) as tmp:
        tmp.write_bytes(data)
