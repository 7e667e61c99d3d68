"""The class raster of each map, stored in the project GeoPackage as versioned tiles.

A map's class raster (uint8, ids of :mod:`jadis.classes`) is cut into square tiles of
``tile_size`` pixels (edge tiles are smaller). Each tile has versions 1, 2, …: version 1 comes
from a segmentation run or an imported raster, later ones from corrections; none is ever
overwritten. A tile that was never written is version 0 (all "other"). Tiles are the unit of
review (accept / reject) and of conflict detection.
"""

from __future__ import annotations

import math
import os
import sqlite3
import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rasterio.errors import NotGeoreferencedWarning

from jadis.errors import JadisError
from jadis.project.maps import MapRecord, get_map
from jadis.project.store import ConflictError, promote_status
from jadis.project.workspace import Project, clean_author, now, tile_size

TileKey = tuple[int, int]  # (tx, ty): column and row of the tile


@dataclass(frozen=True)
class TileState:
    """The current version of a tile and its review."""

    version: int
    decision: str | None  # 'accepted' / 'rejected' for the current version, else None
    reviewed_by: str | None = None


@dataclass(frozen=True)
class Grid:
    """The tile grid of a map."""

    width: int
    height: int
    size: int

    @property
    def nx(self) -> int:
        return math.ceil(self.width / self.size)

    @property
    def ny(self) -> int:
        return math.ceil(self.height / self.size)

    def bounds(self, key: TileKey) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) pixel bounds of a tile (x1/y1 exclusive)."""
        tx, ty = key
        x0, y0 = tx * self.size, ty * self.size
        return x0, y0, min(x0 + self.size, self.width), min(y0 + self.size, self.height)

    def all_keys(self) -> list[TileKey]:
        return [(tx, ty) for ty in range(self.ny) for tx in range(self.nx)]

    def keys_in(self, x0: float, y0: float, x1: float, y1: float) -> list[TileKey]:
        """Tiles intersecting the pixel box [x0, x1) × [y0, y1)."""
        tx0, ty0 = max(0, int(x0 // self.size)), max(0, int(y0 // self.size))
        tx1 = min(self.nx - 1, int(math.ceil(x1 / self.size)) - 1)
        ty1 = min(self.ny - 1, int(math.ceil(y1 / self.size)) - 1)
        return [(tx, ty) for ty in range(ty0, ty1 + 1) for tx in range(tx0, tx1 + 1)]

    def key_at(self, x: float, y: float) -> TileKey | None:
        if not (0 <= x < self.width and 0 <= y < self.height):
            return None
        return int(x // self.size), int(y // self.size)


def grid_for(project: Project, record: MapRecord) -> Grid:
    return Grid(record.width, record.height, tile_size(project))


# --- encoding ---------------------------------------------------------------------------------------

def encode_tile(arr: np.ndarray) -> bytes:
    """A uint8 class tile as PNG bytes."""
    import cv2

    ok, buf = cv2.imencode(".png", np.ascontiguousarray(arr, dtype=np.uint8), [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise RuntimeError("PNG encoding of a class tile failed")
    return buf.tobytes()


def decode_tile(blob: bytes) -> np.ndarray:
    import cv2

    arr = cv2.imdecode(np.frombuffer(blob, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None or arr.ndim != 2:
        raise JadisError("corrupt class tile in the project database")
    return arr


class _TileCache:
    """Decoded (and possibly subsampled) tiles, bounded in bytes. Tile versions are immutable."""

    def __init__(self, max_bytes: int = 256 * 1024**2) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple) -> np.ndarray | None:
        with self._lock:
            arr = self._items.get(key)
            if arr is not None:
                self._items.move_to_end(key)
            return arr

    def put(self, key: tuple, arr: np.ndarray) -> None:
        with self._lock:
            if key in self._items:
                return
            self._items[key] = arr
            self._bytes += arr.nbytes
            while self._bytes > self.max_bytes and self._items:
                _, old = self._items.popitem(last=False)
                self._bytes -= old.nbytes


_CACHE = _TileCache()


# --- reading ----------------------------------------------------------------------------------------

def current_versions(conn: sqlite3.Connection, map_id: int) -> dict[TileKey, int]:
    """The current version of every tile that has one (missing tiles are version 0)."""
    rows = conn.execute("SELECT tx, ty, MAX(version) AS v FROM seg_tiles WHERE map_id = ? GROUP BY tx, ty",
                        (map_id,))
    return {(int(r["tx"]), int(r["ty"])): int(r["v"]) for r in rows}


def has_tiles(conn: sqlite3.Connection, map_id: int) -> bool:
    return conn.execute("SELECT 1 FROM seg_tiles WHERE map_id = ? LIMIT 1", (map_id,)).fetchone() is not None


def read_tile(conn: sqlite3.Connection, project: Project, grid: Grid, map_id: int, key: TileKey,
              version: int, step: int = 1) -> np.ndarray:
    """A tile's class ids at ``version`` (0 = never written: zeros), subsampled by ``step``."""
    x0, y0, x1, y1 = grid.bounds(key)
    cache_key = (str(project.gpkg_path), map_id, key, version, step)
    cached = _CACHE.get(cache_key)
    if cached is not None:
        return cached
    if version == 0:
        arr = np.zeros((y1 - y0, x1 - x0), np.uint8)
    else:
        row = conn.execute("SELECT data FROM seg_tiles WHERE map_id = ? AND tx = ? AND ty = ? AND version = ?",
                           (map_id, key[0], key[1], version)).fetchone()
        if row is None:
            raise JadisError(f"tile {key} version {version} of map {map_id} does not exist")
        arr = decode_tile(row["data"])
    if step > 1:
        arr = np.ascontiguousarray(arr[(-y0) % step::step, (-x0) % step::step])
    _CACHE.put(cache_key, arr)
    return arr


def read_classes(project: Project, map_id: int, window: tuple[int, int, int, int] | None = None, *,
                 step: int = 1, versions: dict[TileKey, int] | None = None) -> np.ndarray:
    """The class ids of a pixel window (x, y, width, height), sampled every ``step`` pixels.

    ``out[j, i]`` is the class of full-resolution pixel ``(x + i*step, y + j*step)``; ``x`` and
    ``y`` are first rounded down to a multiple of ``step`` (so every zoom level samples the same
    global lattice and subsampled tiles can be cached). Outside the map: 0. ``versions`` pins tile
    versions (default: the current ones).
    """
    record = get_map(project, map_id)
    grid = grid_for(project, record)
    if window is None:
        window = (0, 0, record.width, record.height)
    step = max(1, int(step))
    x, y, w, h = (int(v) for v in window)
    ax, ay = (x // step) * step, (y // step) * step
    w, h = w + (x - ax), h + (y - ay)
    x, y = ax, ay
    out = np.zeros((math.ceil(h / step), math.ceil(w / step)), np.uint8)
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(record.width, x + w), min(record.height, y + h)
    if x1 <= x0 or y1 <= y0:
        return out
    with project.connection() as conn:
        current = current_versions(conn, map_id) if versions is None else versions
        for key in grid.keys_in(x0, y0, x1, y1):
            version = current.get(key, 0)
            if version == 0:
                continue
            tile = read_tile(conn, project, grid, map_id, key, version, step)
            bx0, by0, bx1, by1 = grid.bounds(key)
            tfx, tfy = -(-bx0 // step) * step, -(-by0 // step) * step  # first lattice sample in the tile
            sx0, sy0 = -(-max(bx0, x0) // step) * step, -(-max(by0, y0) // step) * step
            sx1, sy1 = min(bx1, x1), min(by1, y1)
            if sx0 >= sx1 or sy0 >= sy1:
                continue
            nxs, nys = len(range(sx0, sx1, step)), len(range(sy0, sy1, step))
            ix0, iy0 = (sx0 - tfx) // step, (sy0 - tfy) // step
            ox, oy = (sx0 - x) // step, (sy0 - y) // step
            out[oy:oy + nys, ox:ox + nxs] = tile[iy0:iy0 + nys, ix0:ix0 + nxs]
    return out


def tile_states(project: Project, map_id: int) -> dict[TileKey, TileState]:
    """Current version and review decision of every tile with data."""
    with project.connection() as conn:
        versions = current_versions(conn, map_id)
        reviews = conn.execute(
            "SELECT r.tx, r.ty, r.version, r.decision, r.author FROM seg_reviews r WHERE r.map_id = ? AND r.fid = "
            "(SELECT MAX(fid) FROM seg_reviews s WHERE s.map_id = r.map_id AND s.tx = r.tx AND s.ty = r.ty)",
            (map_id,)).fetchall()
    latest = {(int(r["tx"]), int(r["ty"])): r for r in reviews}
    states = {}
    for key, version in versions.items():
        r = latest.get(key)
        if r is not None and int(r["version"]) == version:
            states[key] = TileState(version, r["decision"], r["author"])
        else:
            states[key] = TileState(version, None)
    return states


# --- writing ----------------------------------------------------------------------------------------

def check_class_raster(raster: str | os.PathLike[str], width: int, height: int, what: str = "the map") -> None:
    """Raise JadisError unless ``raster`` is a readable one-band uint8 raster of ``width`` × ``height``."""
    from jadis.io.images import open_image

    with open_image(raster) as ds:
        _check_class_dataset(ds, raster, width, height, what)


def _check_class_dataset(ds, raster: str | os.PathLike[str], width: int, height: int,
                         what: str) -> None:
    if (ds.width, ds.height) != (width, height):
        raise JadisError(f"{raster}: class raster is {ds.width}x{ds.height} but {what} is {width}x{height}")
    if ds.count != 1 or ds.dtypes[0] != "uint8":
        raise JadisError(f"{raster}: a class raster must have one uint8 band (got {ds.count} band(s) of "
                         f"{ds.dtypes[0]})")


def import_class_raster(project: Project, map_id: int, raster: str | os.PathLike[str], *, source: str = "import",
                        detail: str = "", author: str | None = None) -> int:
    """Store a class raster (same size as the map) as a new version of every tile; return the run id.

    Read by strips of one tile row, so memory stays bounded for any sheet size.
    """
    import rasterio
    from rasterio.windows import Window

    from jadis.io.images import open_image

    record = get_map(project, map_id)
    grid = grid_for(project, record)
    author = clean_author(author)
    with open_image(raster) as ds:
        _check_class_dataset(ds, raster, record.width, record.height, f"map '{record.name}'")
        with project.transaction() as conn:
            created = now()
            cur = conn.execute("INSERT INTO seg_runs (map_id, source, detail, tile_size, author, created_at) "
                               "VALUES (?,?,?,?,?,?)", (map_id, source, detail, grid.size, author, created))
            run_id = int(cur.lastrowid)
            current = current_versions(conn, map_id)
            for ty in range(grid.ny):
                y0 = ty * grid.size
                h = min(grid.size, record.height - y0)
                with rasterio.Env(GDAL_PAM_ENABLED="NO"):
                    strip = ds.read(1, window=Window(0, y0, record.width, h))
                rows = []
                for tx in range(grid.nx):
                    x0 = tx * grid.size
                    tile = strip[:, x0:x0 + grid.size]
                    parent = current.get((tx, ty), 0)
                    rows.append((map_id, tx, ty, parent + 1, parent or None, run_id, None, encode_tile(tile),
                                 author, created))
                conn.executemany("INSERT INTO seg_tiles (map_id, tx, ty, version, parent_version, run_id, "
                                 "correction_id, data, author, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
            promote_status(conn, map_id, "segmented")
    return run_id


def review_tiles(project: Project, map_id: int, keys: list[TileKey], decision: str, *,
                 author: str | None = None, seen_versions: dict[TileKey, int] | None = None) -> int:
    """Accept or reject tiles at their current version; return how many were recorded.

    With ``seen_versions``, a tile that changed since the reviewer looked at it is a conflict
    (:class:`jadis.project.store.ConflictError`) and nothing is recorded.
    """
    if decision not in ("accepted", "rejected"):
        raise JadisError(f"decision must be 'accepted' or 'rejected', not {decision!r}")
    record = get_map(project, map_id)
    grid = grid_for(project, record)
    for key in keys:
        if not (0 <= key[0] < grid.nx and 0 <= key[1] < grid.ny):
            raise JadisError(f"tile {key} is outside map '{record.name}' ({grid.nx}x{grid.ny} tiles)")
    author = clean_author(author)
    with project.transaction() as conn:
        current = current_versions(conn, map_id)
        missing = [k for k in keys if current.get(k, 0) == 0]
        if missing:
            raise JadisError(f"map '{record.name}' has no segmentation for tile(s) {missing[:5]}; "
                             "segment it first")
        if seen_versions is not None:
            changed = [k for k in keys if current.get(k, 0) != seen_versions.get(k, 0)]
            if changed:
                raise ConflictError(
                    f"{len(changed)} tile(s) of map '{record.name}' changed since you loaded them "
                    f"(e.g. tile {changed[0]}); reload to review the latest version", tiles=changed)
        created = now()
        conn.executemany(
            "INSERT INTO seg_reviews (map_id, tx, ty, version, decision, author, created_at) "
            "VALUES (?,?,?,?,?,?,?)",
            [(map_id, k[0], k[1], current[k], decision, author, created) for k in keys])
        states = conn.execute(
            "SELECT COUNT(*) AS n FROM (SELECT tx, ty FROM seg_tiles WHERE map_id = ? GROUP BY tx, ty)",
            (map_id,)).fetchone()["n"]
        reviewed = _reviewed_count(conn, map_id)
        if reviewed == states:
            promote_status(conn, map_id, "validated")
    return len(keys)


def _reviewed_count(conn: sqlite3.Connection, map_id: int) -> int:
    """Tiles whose latest review is for their current version."""
    return int(conn.execute(
        "SELECT COUNT(*) AS n FROM (SELECT t.tx, t.ty, MAX(t.version) AS v FROM seg_tiles t WHERE t.map_id = ? "
        "GROUP BY t.tx, t.ty) c JOIN seg_reviews r ON r.map_id = ? AND r.tx = c.tx AND r.ty = c.ty "
        "AND r.fid = (SELECT MAX(fid) FROM seg_reviews s WHERE s.map_id = r.map_id AND s.tx = r.tx AND s.ty = r.ty) "
        "AND r.version = c.v", (map_id, map_id)).fetchone()["n"])


@dataclass(frozen=True)
class ValidatedTile:
    """A tile accepted at its current version: training data."""

    map_id: int
    map_path: Path
    key: TileKey
    version: int
    bounds: tuple[int, int, int, int]


def validated_tiles(project: Project, map_ids: list[int] | None = None) -> list[ValidatedTile]:
    """Every tile whose current version was accepted (what ``jadis train --from-project`` uses)."""
    from jadis.project.maps import list_maps

    out = []
    for record in list_maps(project):
        if map_ids is not None and record.id not in map_ids:
            continue
        grid = grid_for(project, record)
        for key, state in sorted(tile_states(project, record.id).items()):
            if state.decision == "accepted":
                out.append(ValidatedTile(record.id, record.path, key, state.version, grid.bounds(key)))
    return out


def write_class_raster(project: Project, map_id: int, dest: str | os.PathLike[str]) -> Path:
    """Assemble the current tiles into a tiled, compressed uint8 GeoTIFF (atomic)."""
    import rasterio
    from rasterio.windows import Window

    from jadis.classes import CLASS_COLORS
    from jadis.io.atomic import atomic_path

    record = get_map(project, map_id)
    grid = grid_for(project, record)
    dest = Path(dest)
    profile = {"driver": "GTiff", "width": record.width, "height": record.height, "count": 1, "dtype": "uint8",
               "tiled": True, "blockxsize": 256, "blockysize": 256, "compress": "deflate"}
    with project.connection() as conn:
        current = current_versions(conn, map_id)
        with atomic_path(dest) as tmp, rasterio.Env(GDAL_PAM_ENABLED="NO"), warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(tmp, "w", **profile) as ds:
                ds.write_colormap(1, {k: (*v, 255) for k, v in CLASS_COLORS.items()})
                for key in grid.all_keys():
                    x0, y0, x1, y1 = grid.bounds(key)
                    tile = read_tile(conn, project, grid, map_id, key, current.get(key, 0))
                    ds.write(tile, 1, window=Window(x0, y0, x1 - x0, y1 - y0))
    return dest
