"""Atomic file writing: write to a temporary sibling, rename into place only when complete.

Temporary files are named ``.<stem>.<random>.part<suffix>`` next to their destination. A run that
is killed leaves one behind; the next successful write of the same destination removes those that
are stale (see :func:`remove_stale_parts`). :func:`check_output_dir` and :func:`check_output_file`
refuse an unusable destination before any work is done.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from jadis.errors import JadisError, shorten

#: A temporary file untouched for this long is stale (a live writer keeps touching its file).
STALE_PART_S = 3600.0


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``dest``; rename it to ``dest`` if the block succeeds.

    The temporary file lives in the same directory (so ``os.replace`` is atomic) and keeps the
    destination's suffix (so drivers that pick a format from the extension still work). On any
    exception the temporary file is removed and ``dest`` is left untouched.

    >>> with atomic_path("out.tif") as tmp:
    ...     write_something(tmp)
    """
    with atomic_paths(dest, suffixes=None if suffix is None else [suffix]) as (tmp,):
        yield tmp


@contextlib.contextmanager
def atomic_paths(*dests: str | os.PathLike[str], suffixes: list[str] | None = None) -> Iterator[list[Path]]:
    """:func:`atomic_path` for several files that must appear together or not at all.

    Yields one temporary path per destination. When the block succeeds they are renamed into
    place; if one rename fails, the files already renamed are taken back (and destinations they
    replaced restored), so either every destination is new or none changed.
    """
    started = time.time()
    paths = [Path(d) for d in dests]
    tmps: list[Path] = []
    try:
        for i, dest in enumerate(paths):
            dest.parent.mkdir(parents=True, exist_ok=True)
            suffix = dest.suffix if suffixes is None else suffixes[i]
            fd, name = tempfile.mkstemp(prefix=f".{dest.stem}.", suffix=f".part{suffix}", dir=dest.parent)
            os.close(fd)
            tmp = Path(name)
            tmp.unlink()  # let the writer create it (some drivers refuse to overwrite an empty file)
            tmps.append(tmp)
        yield list(tmps)
        _replace_all(tmps, paths)
    finally:
        for tmp in tmps:
            for leftover in (tmp, *tmp.parent.glob(glob_escape(tmp.name) + ".*")):  # e.g. GDAL .aux.xml
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()
    for dest in paths:
        remove_stale_parts(dest, before=started)


def atomic_write_text(dest: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``dest`` atomically."""
    with atomic_path(dest) as tmp:
        tmp.write_text(text, encoding=encoding)


def atomic_write_bytes(dest: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``dest`` atomically."""
    with atomic_path(dest) as tmp:
        tmp.write_bytes(data)


def _replace_all(tmps: list[Path], dests: list[Path]) -> None:
    """Rename every ``tmps[i]`` to ``dests[i]``, all or nothing."""
    if len(dests) == 1:
        os.replace(tmps[0], dests[0])
        return
    done: list[tuple[Path, Path | None]] = []  # (dest, backup of what it replaced)
    try:
        for tmp, dest in zip(tmps, dests, strict=True):
            backup = None
            if dest.exists() and not dest.is_dir():
                backup = dest.with_name(f".{dest.name}.{os.getpid()}.old")
                os.replace(dest, backup)
            try:
                os.replace(tmp, dest)
            except BaseException:
                if backup is not None:
                    os.replace(backup, dest)
                raise
            done.append((dest, backup))
    except BaseException:
        for dest, backup in reversed(done):
            with contextlib.suppress(OSError):
                if backup is not None:
                    os.replace(backup, dest)
                else:
                    dest.unlink()
        raise
    for _, backup in done:
        if backup is not None:
            with contextlib.suppress(OSError):
                backup.unlink()


def glob_escape(name: str) -> str:
    """``name`` with the glob wildcards ``* ? [`` escaped."""
    return re.sub(r"([*?\[])", r"[\1]", name)


def remove_stale_parts(dest: str | os.PathLike[str], before: float | None = None,
                       min_age_s: float = STALE_PART_S) -> list[Path]:
    """Remove temporary files of ``dest`` left by killed runs; return what was removed.

    Only files named as :func:`atomic_path` names them for this destination and not modified for
    ``min_age_s`` seconds (nor since ``before``, a time stamp) are removed: a write still running
    elsewhere keeps its file fresh.
    """
    dest = Path(dest)
    pattern = re.compile(rf"^\.{re.escape(dest.stem)}\.[a-z0-9_]{{8}}\.part")
    limit = time.time() - min_age_s
    if before is not None:
        limit = min(limit, before)
    removed = []
    try:
        candidates = list(dest.parent.glob(f".{glob_escape(dest.stem)}.*.part*"))
    except OSError:
        return removed
    for path in candidates:
        if not pattern.match(path.name):
            continue
        with contextlib.suppress(OSError):
            if path.is_file() and path.stat().st_mtime < limit:
                path.unlink()
                removed.append(path)
    return removed


def check_output_dir(folder: str | os.PathLike[str], what: str = "output folder") -> Path:
    """Fail early (JadisError) unless ``folder`` is, or can be created as, a writable folder."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise JadisError(f"{what} {shorten(folder)}: exists and is not a folder")
    _check_writable_dir(folder, what)
    return folder


def check_output_file(path: str | os.PathLike[str], what: str = "output") -> Path:
    """Fail early (JadisError) unless ``path`` can be written: not a folder, in a writable folder."""
    path = Path(path)
    if path.is_dir():
        raise JadisError(f"{what} {shorten(path)}: is a folder, not a file")
    _check_writable_dir(path.parent, what, of=path)
    return path


def _check_writable_dir(folder: Path, what: str, of: Path | None = None) -> None:
    subject = f"{what} {shorten(of if of is not None else folder)}"
    base = folder
    try:
        while not base.exists() and base != base.parent:  # the nearest existing ancestor
            base = base.parent
        if not base.is_dir():
            raise JadisError(f"{subject}: cannot create a folder inside {shorten(base)}, which is a file")
    except OSError as exc:  # e.g. a name too long
        raise JadisError(f"{subject}: unusable path ({exc.strerror or exc})") from exc
    if not os.access(base, os.W_OK | os.X_OK):
        raise JadisError(f"{subject}: folder {shorten(base)} is not writable")
