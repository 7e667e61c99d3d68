"""Registered maps: add a scan (by path or copy), list them, their checksum, size and status."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from jadis.errors import JadisError
from jadis.io.atomic import atomic_path
from jadis.project import uploads
from jadis.project.store import STATUSES
from jadis.project.workspace import Project, clean_author, now


@dataclass(frozen=True)
class MapRecord:
    """One registered scan."""

    id: int
    name: str
    path: Path
    stored_path: str
    sha256: str
    size_bytes: int
    width: int
    height: int
    bands: int
    driver: str
    year: int | None
    status: str
    added_by: str
    added_at: str


def sha256_file(path: Path, chunk: int = 4 * 1024 * 1024) -> str:
    """SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def add_map(project: Project, path: str | os.PathLike[str], *, name: str | None = None, copy: bool = False,
            year: int | None = None, author: str | None = None) -> MapRecord:
    """Register a scan. Checks that it is a readable image; ``copy`` puts a copy in ``scans/``.

    The same file (same checksum) cannot be registered twice. Names are unique in a project:
    a taken name gets a numeric suffix.
    """
    from jadis.io.images import check_image

    src = Path(path).expanduser()
    info = check_image(src)
    digest = sha256_file(src)
    if year is not None and not (1000 <= int(year) <= 2100):
        raise JadisError(f"year {year} is out of range (1000-2100)")
    with project.connection() as conn:
        dup = conn.execute("SELECT name FROM maps WHERE sha256 = ?", (digest,)).fetchone()
    if dup is not None:  # before copying anything
        raise JadisError(f"{src}: already registered in this project as '{dup['name']}'")
    stored = src.resolve()
    copied = None
    if copy and project.root.resolve() not in stored.parents:
        scans = project.inside("scans")
        dest = uploads.unique_path(scans, uploads.safe_filename(src.name, default_stem="scan"))
        with atomic_path(dest) as tmp:
            shutil.copyfile(src, tmp)
        stored = copied = dest
    base = uploads.safe_filename((name or src.stem).replace(".", "_"), default_stem="map")
    try:
        with project.transaction() as conn:
            dup = conn.execute("SELECT name FROM maps WHERE sha256 = ?", (digest,)).fetchone()  # again, locked
            if dup is not None:
                raise JadisError(f"{src}: already registered in this project as '{dup['name']}'")
            map_name = _unique_name(conn, base)
            cur = conn.execute(
                "INSERT INTO maps (name, path, sha256, size_bytes, width, height, bands, driver, year, status, "
                "added_by, added_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (map_name, project.relative(stored), digest, src.stat().st_size, info.width, info.height,
                 info.count, info.driver, year, STATUSES[0], clean_author(author), now()))
            map_id = int(cur.lastrowid)
    except BaseException:
        if copied is not None:
            copied.unlink(missing_ok=True)
        raise
    return get_map(project, map_id)


def unregister_map(project: Project, record: MapRecord, *, delete_copy: bool = False) -> None:
    """Undo :func:`add_map` of a map nothing refers to yet (JadisError otherwise).

    ``delete_copy``: the scan was copied into ``scans/`` by that call; remove the copy too.
    """
    try:
        with project.transaction() as conn:
            conn.execute("DELETE FROM maps WHERE fid = ?", (record.id,))
    except sqlite3.IntegrityError as exc:
        raise JadisError(f"map '{record.name}' already has data; it cannot be unregistered") from exc
    if delete_copy and project.inside("scans").resolve() in record.path.resolve().parents:
        record.path.unlink(missing_ok=True)


def _unique_name(conn: sqlite3.Connection, base: str) -> str:
    name, n = base, 2
    while conn.execute("SELECT 1 FROM maps WHERE name = ?", (name,)).fetchone():
        name = f"{base}_{n}"
        n += 1
    return name


def _record(project: Project, row: sqlite3.Row) -> MapRecord:
    return MapRecord(id=int(row["fid"]), name=row["name"], path=project.resolve(row["path"]),
                     stored_path=row["path"], sha256=row["sha256"], size_bytes=int(row["size_bytes"]),
                     width=int(row["width"]), height=int(row["height"]), bands=int(row["bands"] or 0),
                     driver=row["driver"] or "", year=row["year"], status=row["status"],
                     added_by=row["added_by"], added_at=row["added_at"])


def list_maps(project: Project) -> list[MapRecord]:
    """All registered maps, in registration order."""
    with project.connection() as conn:
        return [_record(project, row) for row in conn.execute("SELECT * FROM maps ORDER BY fid")]


def get_map(project: Project, ref: int | str) -> MapRecord:
    """A map by id or by name (JadisError if unknown)."""
    with project.connection() as conn:
        if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
            row = conn.execute("SELECT * FROM maps WHERE fid = ?", (int(ref),)).fetchone()
            if row is None and isinstance(ref, str):
                row = conn.execute("SELECT * FROM maps WHERE name = ?", (ref,)).fetchone()
        else:
            row = conn.execute("SELECT * FROM maps WHERE name = ?", (ref,)).fetchone()
    if row is None:
        raise JadisError(f"no map {ref!r} in this project (see `jadis project status`)")
    return _record(project, row)


def verify_map(record: MapRecord) -> str | None:
    """None if the scan is still there with the registered checksum, else what is wrong."""
    if not record.path.exists():
        return f"{record.path}: file is missing"
    if record.path.stat().st_size != record.size_bytes:
        return f"{record.path}: size changed since registration"
    if sha256_file(record.path) != record.sha256:
        return f"{record.path}: content changed since registration (checksum differs)"
    return None
