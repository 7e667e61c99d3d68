"""A project folder: one GeoPackage (``project.gpkg``) plus the scans and derived files around it.

::

    PROJECT/
      project.gpkg   everything that matters: maps, tiles, corrections, georeferences, geocoding
      scans/         scans uploaded in the app or copied in with ``jadis project add --copy``
      cache/         derived and rebuildable (viewing pyramids, thumbnails); safe to delete
      runs/          working files of segmentation runs
      exports/       what ``jadis project export`` and the app's Export page write

Every path the project writes goes through :meth:`Project.inside`, which refuses anything that
would resolve outside the project folder (``..``, absolute paths, symbolic links pointing out).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import getpass
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from jadis.errors import JadisError
from jadis.project import gpkg, schema

GPKG_NAME = "project.gpkg"
DEFAULT_CRS = "EPSG:2154"
SUBDIRS = ("scans", "cache", "runs", "exports")


@dataclass(frozen=True)
class Project:
    """An open project: where it is and its settings. Functions in ``jadis.project`` take it first."""

    root: Path
    name: str
    crs: str
    srs_id: int

    @property
    def gpkg_path(self) -> Path:
        return self.root / GPKG_NAME

    def connect(self) -> sqlite3.Connection:
        """A new connection to the project GeoPackage (close it when done; prefer :meth:`connection`)."""
        return gpkg.connect(self.gpkg_path)

    def connection(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """``with project.connection() as conn:`` a connection for reading, closed on exit."""
        return gpkg.opened(self.gpkg_path)

    def transaction(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """``with project.transaction() as conn:`` one write transaction (``BEGIN IMMEDIATE`` … ``COMMIT``,
        ``ROLLBACK`` on error) on a connection closed on exit; :class:`~jadis.project.gpkg.ProjectBusy`
        when another writer holds the store too long."""
        return gpkg.opened(self.gpkg_path, write=True)

    def inside(self, *parts: str | os.PathLike[str]) -> Path:
        """``root/parts…``, guaranteed to lie inside the project folder (else JadisError)."""
        root = self.root.resolve()
        candidate = root.joinpath(*parts).resolve()
        if candidate != root and root not in candidate.parents:
            raise JadisError(f"refusing to write outside the project folder: {Path(*parts)}")
        return candidate

    def relative(self, path: Path) -> str:
        """``path`` relative to the project root when inside it, else absolute (as stored in ``maps``)."""
        path = Path(path).resolve()
        try:
            return path.relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return str(path)

    def resolve(self, stored: str) -> Path:
        """The absolute path of a path stored by :meth:`relative`."""
        path = Path(stored)
        return path if path.is_absolute() else self.root / path


def now() -> str:
    """The current UTC time as ISO 8601 (what every ``created_at`` holds)."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def default_author() -> str:
    """``JADIS_AUTHOR`` if set, else the login name."""
    author = os.environ.get("JADIS_AUTHOR", "").strip()
    if author:
        return author
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def clean_author(author: str | None) -> str:
    """A non-empty, single-line, bounded author name."""
    text = " ".join((author or "").split())[:100]
    return text or default_author()


def normalise_crs(value: object) -> str:
    """A CRS as stored in the project: ``AUTHORITY:CODE`` when it has one, else WKT.

    Accepts what :func:`jadis.georef.crs.parse_crs` accepts (EPSG codes, PROJ strings, WKT and
    the named historical Paris grids) when the georeferencer is installed, else what pyproj does.
    """
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        from jadis.georef.crs import parse_crs
    except ImportError:
        parse_crs = None
    try:
        crs = parse_crs(value) if parse_crs is not None else CRS.from_user_input(value)
    except CRSError as exc:
        raise JadisError(f"unknown CRS {value!r}") from exc
    authority = crs.to_authority()
    return f"{authority[0]}:{authority[1]}" if authority else crs.to_wkt()


def init_project(folder: str | os.PathLike[str], *, name: str | None = None, crs: str = DEFAULT_CRS) -> Project:
    """Create a new project in ``folder`` (created if missing; must not already hold a project).

    All or nothing: the settings are checked before anything is created, and the folders this
    call created are removed again if it fails.
    """
    root = Path(folder).expanduser()
    if root.exists() and not root.is_dir():
        raise JadisError(f"{root}: exists and is not a folder")
    gpkg_path = root / GPKG_NAME
    if gpkg_path.exists():
        raise JadisError(f"{root}: already a jadis project ({GPKG_NAME} exists)")
    crs = normalise_crs(crs)
    name = " ".join((name or root.resolve().name).split()) or "project"
    created: list[Path] = []
    tmp = root / f".{GPKG_NAME}.part"
    try:
        for path in [*reversed([root, *root.parents]), *(root / sub for sub in SUBDIRS)]:
            if not path.exists():
                path.mkdir()
                created.append(path)
        tmp.unlink(missing_ok=True)
        with gpkg.opened(tmp, write=True) as conn:
            gpkg.initialise(conn)
            srs_id = schema.create(conn, crs)
            conn.executemany("INSERT INTO jadis_meta (key, value) VALUES (?, ?)", [
                ("name", name), ("crs", str(crs)), ("schema_version", str(schema.SCHEMA_VERSION)),
                ("created_at", now()), ("tile_size", str(schema.DEFAULT_TILE_SIZE)),
            ])
        os.replace(tmp, gpkg_path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        for path in reversed(created):
            with contextlib.suppress(OSError):
                path.rmdir()  # only if still empty
        raise
    return Project(root=root.resolve(), name=name, crs=str(crs), srs_id=srs_id)


def open_project(folder: str | os.PathLike[str]) -> Project:
    """Open an existing project folder (or its ``project.gpkg``)."""
    root = Path(folder).expanduser()
    if root.is_file() and root.name == GPKG_NAME:
        root = root.parent
    gpkg_path = root / GPKG_NAME
    if not root.is_dir():
        raise JadisError(f"{root}: no such project folder (create one with `jadis project init {root}`)")
    if not gpkg.is_geopackage(gpkg_path):
        raise JadisError(f"{root}: not a jadis project (no {GPKG_NAME}; create one with `jadis project init`)")
    try:
        with gpkg.opened(gpkg_path) as conn:
            if not gpkg.table_exists(conn, "jadis_meta"):
                raise JadisError(f"{gpkg_path}: a GeoPackage but not a jadis project")
            meta = {row["key"]: row["value"] for row in conn.execute("SELECT key, value FROM jadis_meta")}
            version = int(meta.get("schema_version", "0"))
            if version > schema.SCHEMA_VERSION:
                raise JadisError(f"{gpkg_path}: made by a newer jadis (schema {version}); please upgrade jadis")
            crs = meta.get("crs", DEFAULT_CRS)
            if version < schema.SCHEMA_VERSION:  # an older project: add the tables it lacks
                schema.migrate(conn, crs)
            srs_id = gpkg.ensure_srs(conn, crs)
    except sqlite3.DatabaseError as exc:
        raise JadisError(f"{gpkg_path}: unreadable project database ({exc})") from exc
    for sub in SUBDIRS:
        (root / sub).mkdir(exist_ok=True)
    return Project(root=root.resolve(), name=meta.get("name", root.name), crs=crs, srs_id=srs_id)


def tile_size(project: Project) -> int:
    """The project's segmentation tile size in pixels."""
    with project.connection() as conn:
        row = conn.execute("SELECT value FROM jadis_meta WHERE key = 'tile_size'").fetchone()
    return int(row[0]) if row else schema.DEFAULT_TILE_SIZE
