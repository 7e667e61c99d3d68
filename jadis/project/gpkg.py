"""Minimal GeoPackage plumbing on the standard library's sqlite3.

Why not only pyogrio/GDAL: versioned corrections need *transactions* (read the current version,
check it, insert the new one, all or nothing, with other writers locked out), which pyogrio does
not expose. A GeoPackage is an SQLite file with a few registry tables and a documented geometry
blob (OGC 12-128r18), so this module writes exactly that: the registry tables, SRS rows from
pyproj, feature / attribute tables and views, and the geometry encoding (GP header + ISO WKB).
GDAL, QGIS and pyogrio read the result as any other GeoPackage (tested with ``ogrinfo``).
Bulk vector layers (segmentation polygons) are still written by pyogrio.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import struct
import warnings
from collections.abc import Iterator
from pathlib import Path

import shapely
from shapely.geometry.base import BaseGeometry

from jadis.errors import JadisError, JadisWarning, shorten

#: ``PRAGMA application_id`` of a GeoPackage ("GPKG") and the version we write (1.3.0).
APPLICATION_ID = 0x47504B47
USER_VERSION = 10300

#: SRS id of "undefined Cartesian" coordinates: we use it for pixel-space layers (x right, y down).
PIXEL_SRS_ID = -1

_CORE_DDL = """
CREATE TABLE IF NOT EXISTS gpkg_spatial_ref_sys (
  srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
CREATE TABLE IF NOT EXISTS gpkg_contents (
  table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
  description TEXT DEFAULT '', last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
  CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
CREATE TABLE IF NOT EXISTS gpkg_geometry_columns (
  table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
  CONSTRAINT uk_gc_table_name UNIQUE (table_name),
  CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
"""

_DEFAULT_SRS = [
    ("Undefined Cartesian SRS", -1, "NONE", -1, "undefined", "undefined Cartesian coordinate reference system"),
    ("Undefined geographic SRS", 0, "NONE", 0, "undefined", "undefined geographic coordinate reference system"),
]


#: Seconds a writer waits for another one by default (``JADIS_LOCK_TIMEOUT`` overrides it).
LOCK_TIMEOUT_S = 30.0
#: Seconds a writer waits silently before saying that it waits.
_QUIET_WAIT_S = 1.0


class ProjectBusy(JadisError):
    """Another writer held the project store longer than we could wait."""


def lock_timeout() -> float:
    """How long a writer waits for the store: ``JADIS_LOCK_TIMEOUT`` seconds, else :data:`LOCK_TIMEOUT_S`."""
    raw = os.environ.get("JADIS_LOCK_TIMEOUT", "").strip()
    if not raw:
        return LOCK_TIMEOUT_S
    try:
        return max(0.0, float(raw))
    except ValueError as exc:
        raise JadisError(f"JADIS_LOCK_TIMEOUT must be a number of seconds, got {raw!r}") from exc


def connect(path: str | os.PathLike[str], *, timeout_s: float | None = None) -> sqlite3.Connection:
    """Open a GeoPackage for reading and writing (autocommit mode; use :func:`transaction`).

    Writers wait up to ``timeout_s`` (default :func:`lock_timeout`) for each other. The ST_*
    functions GDAL's spatial-index triggers call are registered, so inserting into GDAL-written
    layers works too.
    """
    timeout_s = lock_timeout() if timeout_s is None else timeout_s
    conn = sqlite3.connect(str(path), timeout=timeout_s, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    _register_functions(conn)
    return conn


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on error): one writer at a time, all or nothing.

    While another writer holds the store, waits (with a warning naming it, after a second) up to
    the connection's timeout, then raises :class:`ProjectBusy`.
    """
    _begin(conn)
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@contextlib.contextmanager
def opened(path: str | os.PathLike[str], *, write: bool = False) -> Iterator[sqlite3.Connection]:
    """A connection to the GeoPackage at ``path``, closed on exit; ``write``: inside one :func:`transaction`."""
    conn = connect(path)
    try:
        if write:
            with transaction(conn):
                yield conn
        else:
            yield conn
    finally:
        conn.close()


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


def _try_begin(conn: sqlite3.Connection, timeout_ms: int) -> bool:
    """``BEGIN IMMEDIATE`` waiting at most ``timeout_ms``; False if the store stayed locked."""
    conn.execute(f"PRAGMA busy_timeout = {timeout_ms}")
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if not _is_busy(exc):
            raise
        return False
    return True


def _begin(conn: sqlite3.Connection) -> None:
    """``BEGIN IMMEDIATE``, saying so when it has to wait, and a clear error when it waited in vain."""
    full_ms = int(conn.execute("PRAGMA busy_timeout").fetchone()[0])
    quiet_ms = min(full_ms, int(_QUIET_WAIT_S * 1000))
    try:
        if _try_begin(conn, quiet_ms):
            return
        path = database_path(conn)
        holder = lock_holder(path) if path else None
        where = path.parent if path else "the project"
        who = holder or "another program"
        if full_ms > quiet_ms:
            warnings.warn(JadisWarning(f"{where}: the project is busy: {who} is writing to it; "
                                       f"waiting up to {full_ms / 1000:g} s"), stacklevel=3)
            if _try_begin(conn, full_ms - quiet_ms):
                return
        raise ProjectBusy(f"{where}: the project is busy: {who} is writing to it and did not finish "
                          f"within {full_ms / 1000:g} s; try again when it is done")
    finally:
        conn.execute(f"PRAGMA busy_timeout = {full_ms}")


def database_path(conn: sqlite3.Connection) -> Path | None:
    """The file of a connection's main database (None in memory)."""
    for row in conn.execute("PRAGMA database_list"):
        if row[1] == "main" and row[2]:
            return Path(row[2])
    return None


def lock_holder(path: str | os.PathLike[str]) -> str | None:
    """Who holds a write lock on the SQLite file ``path``, as ``"process 123 (jadis app p)"``.

    Read from ``/proc/locks`` (Linux; SQLite locks with POSIX record locks); None where unknown.
    """
    try:
        st = os.stat(path)
        table = Path("/proc/locks").read_text()
    except OSError:
        return None
    file_id = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    for line in table.splitlines():
        parts = line.split()
        if len(parts) < 6 or parts[1] == "->" or parts[3] != "WRITE" or parts[5] != file_id:
            continue
        pid = int(parts[4]) if parts[4].lstrip("-").isdigit() else -1
        if pid <= 0:
            return None
        if pid == os.getpid():
            return f"this process ({pid})"
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            cmd = ""
        return f"process {pid}" + (f" ({shorten(cmd, 60)})" if cmd else "")
    return None


def initialise(conn: sqlite3.Connection) -> None:
    """Make an empty SQLite database a GeoPackage (registry tables + the mandatory SRS rows)."""
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute(f"PRAGMA user_version = {USER_VERSION}")
    for statement in _CORE_DDL.split(";"):  # not executescript(): it would commit the open transaction
        if statement.strip():
            conn.execute(statement)
    conn.executemany("INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES (?,?,?,?,?,?)", _DEFAULT_SRS)
    ensure_srs(conn, "EPSG:4326")


def is_geopackage(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is an SQLite file with the GeoPackage application id."""
    path = Path(path)
    if not path.is_file() or path.stat().st_size < 100:
        return False
    with path.open("rb") as fh:
        header = fh.read(100)
    return header[:16] == b"SQLite format 3\x00" and header[68:72] == struct.pack(">I", APPLICATION_ID)


def ensure_srs(conn: sqlite3.Connection, crs: object) -> int:
    """Register ``crs`` (anything pyproj understands) if needed; return its ``srs_id``.

    CRSs with an authority code use that code as ``srs_id`` (EPSG:2154 -> 2154); others get
    an id above 100000.
    """
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        crs = CRS.from_user_input(crs)
    except CRSError as exc:
        raise JadisError(f"unknown CRS {crs!r}: {exc}") from exc
    definition = crs.to_wkt("WKT1_GDAL") or crs.to_wkt()
    authority = crs.to_authority()
    if authority is not None:
        org, code = authority[0], int(authority[1]) if authority[1].isdigit() else None
    else:
        org, code = "NONE", None
    row = conn.execute("SELECT srs_id FROM gpkg_spatial_ref_sys WHERE definition = ?", (definition,)).fetchone()
    if row is not None:
        return int(row[0])
    if code is not None:
        row = conn.execute("SELECT srs_id FROM gpkg_spatial_ref_sys WHERE organization = ? AND "
                           "organization_coordsys_id = ?", (org, code)).fetchone()
        if row is not None:
            return int(row[0])
        srs_id = code
        taken = conn.execute("SELECT 1 FROM gpkg_spatial_ref_sys WHERE srs_id = ?", (srs_id,)).fetchone()
        if taken:
            srs_id = None
    else:
        srs_id = None
    if srs_id is None:
        srs_id = max(100000, int(conn.execute("SELECT MAX(srs_id) FROM gpkg_spatial_ref_sys").fetchone()[0]) + 1)
        code = srs_id
    conn.execute("INSERT INTO gpkg_spatial_ref_sys VALUES (?,?,?,?,?,?)",
                 (crs.name or f"CRS {srs_id}", srs_id, org, code, definition, crs.name))
    return srs_id


def srs_crs(conn: sqlite3.Connection, srs_id: int) -> object | None:
    """The pyproj CRS of ``srs_id`` (None for the undefined SRSs)."""
    from pyproj import CRS

    row = conn.execute("SELECT organization, organization_coordsys_id, definition FROM gpkg_spatial_ref_sys "
                       "WHERE srs_id = ?", (srs_id,)).fetchone()
    if row is None or row["definition"] == "undefined":
        return None
    return CRS.from_wkt(row["definition"])


def table_exists(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)).fetchone() is not None


def create_attributes_table(conn: sqlite3.Connection, name: str, columns: str, description: str = "") -> None:
    """Create a non-spatial table (``columns``: SQL column definitions after the ``fid`` key)."""
    if table_exists(conn, name):
        return
    conn.execute(f'CREATE TABLE "{name}" (fid INTEGER PRIMARY KEY AUTOINCREMENT, {columns})')
    conn.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, description) VALUES (?,?,?,?)",
                 (name, "attributes", name, description))


def create_features_table(conn: sqlite3.Connection, name: str, columns: str, geometry_type: str, srs_id: int,
                          description: str = "") -> None:
    """Create a feature table with a ``geom`` column of ``geometry_type`` in ``srs_id``."""
    if table_exists(conn, name):
        return
    conn.execute(f'CREATE TABLE "{name}" (fid INTEGER PRIMARY KEY AUTOINCREMENT, geom {geometry_type.upper()}, '
                 f"{columns})")
    conn.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id) "
                 "VALUES (?,?,?,?,?)", (name, "features", name, description, srs_id))
    conn.execute("INSERT INTO gpkg_geometry_columns VALUES (?,?,?,?,0,0)", (name, "geom", geometry_type.upper(),
                                                                            srs_id))


def create_view(conn: sqlite3.Connection, name: str, select_sql: str, *, geometry_type: str | None = None,
                srs_id: int | None = None, description: str = "") -> None:
    """Create a view (e.g. "the current version of each row") registered so GDAL/QGIS list it.

    The SELECT must return an integer ``fid`` column first (GDAL uses it as the feature id) and,
    for a spatial view, a ``geom`` column.
    """
    if table_exists(conn, name):
        return
    conn.execute(f'CREATE VIEW "{name}" AS {select_sql}')
    kind = "features" if geometry_type else "attributes"
    conn.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id) "
                 "VALUES (?,?,?,?,?)", (name, kind, name, description, srs_id))
    if geometry_type:
        conn.execute("INSERT INTO gpkg_geometry_columns VALUES (?,?,?,?,0,0)",
                     (name, "geom", geometry_type.upper(), srs_id))


def touch(conn: sqlite3.Connection, table: str, bounds: tuple[float, float, float, float] | None = None) -> None:
    """Update ``last_change`` (and widen the extent by ``bounds``) of a table in gpkg_contents."""
    if bounds is None:
        conn.execute("UPDATE gpkg_contents SET last_change = strftime('%Y-%m-%dT%H:%M:%fZ','now') "
                     "WHERE table_name = ?", (table,))
        return
    minx, miny, maxx, maxy = bounds
    conn.execute(
        "UPDATE gpkg_contents SET last_change = strftime('%Y-%m-%dT%H:%M:%fZ','now'), "
        "min_x = MIN(COALESCE(min_x, ?), ?), min_y = MIN(COALESCE(min_y, ?), ?), "
        "max_x = MAX(COALESCE(max_x, ?), ?), max_y = MAX(COALESCE(max_y, ?), ?) WHERE table_name = ?",
        (minx, minx, miny, miny, maxx, maxx, maxy, maxy, table))


# --- geometry blobs -------------------------------------------------------------------------------

def encode_geometry(geom: BaseGeometry | None, srs_id: int) -> bytes | None:
    """A shapely geometry as a GeoPackage geometry blob (little endian, XY envelope)."""
    if geom is None:
        return None
    empty = geom.is_empty
    flags = 0x01 | (0x10 if empty else 0) | (0 if empty else 0x02)  # LE, empty bit, envelope type 1
    header = b"GP" + bytes([0, flags]) + struct.pack("<i", srs_id)
    if not empty:
        minx, miny, maxx, maxy = geom.bounds
        header += struct.pack("<4d", minx, maxx, miny, maxy)
    return header + shapely.to_wkb(geom, byte_order=1, flavor="iso")


def decode_geometry(blob: bytes | None) -> BaseGeometry | None:
    """A GeoPackage geometry blob as a shapely geometry (None stays None)."""
    if blob is None:
        return None
    blob = bytes(blob)
    if blob[:2] != b"GP":
        raise ValueError("not a GeoPackage geometry blob")
    flags = blob[3]
    envelope = (flags >> 1) & 0x07
    size = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}[envelope]
    return shapely.from_wkb(blob[8 + size:])


def _envelope(blob: bytes | None) -> tuple[float, float, float, float] | None:
    """(minx, maxx, miny, maxy) of a geometry blob, or None if empty/null."""
    if blob is None:
        return None
    blob = bytes(blob)
    flags = blob[3]
    if flags & 0x10:
        return None
    envelope = (flags >> 1) & 0x07
    fmt = "<4d" if flags & 0x01 else ">4d"
    if envelope:
        return struct.unpack(fmt, blob[8:40])
    geom = decode_geometry(blob)
    if geom is None or geom.is_empty:
        return None
    minx, miny, maxx, maxy = geom.bounds
    return minx, maxx, miny, maxy


def _register_functions(conn: sqlite3.Connection) -> None:
    """The SQL functions of GDAL's R-tree triggers (ST_IsEmpty, ST_MinX…), so inserts never fail."""

    def _is_empty(blob: bytes | None) -> int | None:
        return None if blob is None else int(_envelope(blob) is None)

    def _coord(i: int):
        def fn(blob: bytes | None) -> float | None:
            env = _envelope(blob)
            return None if env is None else env[i]
        return fn

    conn.create_function("ST_IsEmpty", 1, _is_empty, deterministic=True)
    for i, name in enumerate(("ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY")):
        conn.create_function(name, 1, _coord(i), deterministic=True)
