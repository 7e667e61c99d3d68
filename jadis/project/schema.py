"""The tables of a project GeoPackage.

History tables are append-only: a correction adds a row with a higher ``version`` and the
``parent_version`` it started from; nothing is updated in place or deleted. ``*_current`` views
show the latest version of each row, so QGIS opens "the state now" directly while the history
stays queryable. Pixel-space layers (edits) use the undefined Cartesian SRS (-1) with pixel
coordinates x right, y down, as everywhere in jadis.
"""

from __future__ import annotations

import sqlite3

from jadis.project import gpkg

#: Bump when the schema changes; stored in ``jadis_meta``. Older projects are brought up to date by
#: :func:`migrate` when opened (2: street names read on the maps and their corrections; 3: batch runs
#: and the state of each map's batch steps).
SCHEMA_VERSION = 4

#: Side of a segmentation tile in pixels (the unit of review and of conflict detection).
DEFAULT_TILE_SIZE = 512

_ATTRIBUTE_TABLES: list[tuple[str, str, str]] = [
    ("jadis_meta", "key TEXT NOT NULL UNIQUE, value TEXT",
     "jadis project settings (name, CRS, schema version)"),
    ("maps", "name TEXT NOT NULL UNIQUE, path TEXT NOT NULL, sha256 TEXT NOT NULL, size_bytes INTEGER NOT NULL, "
             "width INTEGER NOT NULL, height INTEGER NOT NULL, bands INTEGER, driver TEXT, year INTEGER, "
             "status TEXT NOT NULL DEFAULT 'registered', added_by TEXT NOT NULL, added_at TEXT NOT NULL, "
             "note TEXT",
     "registered map scans: file, checksum, size, status"),
    ("seg_runs", "map_id INTEGER NOT NULL REFERENCES maps(fid), source TEXT NOT NULL, detail TEXT, "
                 "tile_size INTEGER NOT NULL, author TEXT NOT NULL, created_at TEXT NOT NULL",
     "segmentation runs and imports"),
    ("seg_tiles", "map_id INTEGER NOT NULL REFERENCES maps(fid), tx INTEGER NOT NULL, ty INTEGER NOT NULL, "
                  "version INTEGER NOT NULL, parent_version INTEGER, run_id INTEGER, correction_id INTEGER, "
                  "data BLOB NOT NULL, author TEXT NOT NULL, created_at TEXT NOT NULL, "
                  "UNIQUE (map_id, tx, ty, version)",
     "class raster tiles (PNG, ids 0 other 1 street 2 block 3 text), every version kept"),
    ("seg_reviews", "map_id INTEGER NOT NULL REFERENCES maps(fid), tx INTEGER NOT NULL, ty INTEGER NOT NULL, "
                    "version INTEGER NOT NULL, decision TEXT NOT NULL CHECK (decision IN ('accepted','rejected')), "
                    "author TEXT NOT NULL, created_at TEXT NOT NULL",
     "accept / reject decisions per tile version"),
    ("corrections", "map_id INTEGER REFERENCES maps(fid), target TEXT NOT NULL, status TEXT NOT NULL, "
                    "author TEXT NOT NULL, created_at TEXT NOT NULL, base TEXT, result TEXT, message TEXT",
     "every correction saved (or refused for a conflict), with who and when"),
    ("georefs", "map_id INTEGER NOT NULL REFERENCES maps(fid), version INTEGER NOT NULL, parent_version INTEGER, "
                "transform TEXT NOT NULL, crs TEXT NOT NULL, gcps TEXT NOT NULL, annotation TEXT, "
                "rmse_px REAL, rmse_m REAL, source TEXT NOT NULL, correction_id INTEGER, author TEXT NOT NULL, "
                "created_at TEXT NOT NULL, UNIQUE (map_id, version)",
     "control-point sets and transforms per map, every version kept"),
    ("geocode_runs", "name TEXT NOT NULL, year INTEGER, gazetteers TEXT, address_column TEXT, source_file TEXT, "
                     "params TEXT, n_rows INTEGER, author TEXT NOT NULL, created_at TEXT NOT NULL",
     "geocoding runs"),
    ("name_runs", "map_id INTEGER NOT NULL REFERENCES maps(fid), source TEXT NOT NULL, detail TEXT, "
                  "seg_mark INTEGER, n_segments INTEGER, n_named INTEGER, n_lines INTEGER, n_numbers INTEGER, "
                  "carried INTEGER, author TEXT NOT NULL, created_at TEXT NOT NULL",
     "readings of the street names printed on a map (OCR of its current segmentation)"),
    ("batch_runs", "started_at TEXT NOT NULL, finished_at TEXT, steps TEXT NOT NULL, sources TEXT, scheduler TEXT, "
                   "workers INTEGER, n_maps INTEGER, n_done INTEGER, n_failed INTEGER, report TEXT, "
                   "author TEXT NOT NULL",
     "`jadis batch` runs: steps, sources, where they ran, counts, report file"),
    ("batch_steps", "run_id INTEGER, map_id INTEGER NOT NULL REFERENCES maps(fid), step TEXT NOT NULL, "
                    "status TEXT NOT NULL CHECK (status IN ('done','failed')), message TEXT, output TEXT, "
                    "seconds REAL, worker TEXT, created_at TEXT NOT NULL",
     "each attempt of a batch step on a map (segment, georef, names, warp): done or failed and why"),
    ("batch_rejects", "run_id INTEGER NOT NULL, source TEXT NOT NULL, reason TEXT NOT NULL, created_at TEXT NOT NULL",
     "sources a batch run could not register as maps (unreadable scan, IIIF error) and why"),
]

_SEG_EDIT_COLUMNS = ("correction_id INTEGER NOT NULL, map_id INTEGER NOT NULL, seq INTEGER NOT NULL, "
                     "tool TEXT NOT NULL, class_id INTEGER NOT NULL, author TEXT NOT NULL, created_at TEXT NOT NULL")
_GCP_COLUMNS = ("georef_id INTEGER NOT NULL, map_id INTEGER NOT NULL, version INTEGER NOT NULL, "
                "point_id TEXT, pixel_x REAL NOT NULL, pixel_y REAL NOT NULL, world_x REAL NOT NULL, "
                "world_y REAL NOT NULL, enabled INTEGER NOT NULL, residual_m REAL, outlier INTEGER")
_GEOCODE_COLUMNS = ("run_id INTEGER NOT NULL, row INTEGER NOT NULL, version INTEGER NOT NULL, "
                    "parent_version INTEGER, address TEXT, year INTEGER, match_type TEXT, score REAL, "
                    "matched_name TEXT, gazetteer TEXT, uncertainty_m REAL, explanation TEXT, lon REAL, lat REAL, "
                    "x REAL, y REAL, input TEXT, correction_id INTEGER, author TEXT NOT NULL, "
                    "created_at TEXT NOT NULL, UNIQUE (run_id, row, version)")
_STREET_COLUMNS = ("run_id INTEGER NOT NULL, map_id INTEGER NOT NULL, street_id INTEGER NOT NULL, width_px REAL, "
                   "name TEXT, name_score REAL, name_from TEXT")
_TEXT_LINE_COLUMNS = ("run_id INTEGER NOT NULL, map_id INTEGER NOT NULL, reading TEXT, name TEXT, name_score REAL, "
                      "how TEXT, label_ids TEXT")
_NUMBER_COLUMNS = ("run_id INTEGER NOT NULL, map_id INTEGER NOT NULL, number TEXT, street_id INTEGER, side TEXT, "
                   "ocr_score REAL")
_NAME_EDIT_COLUMNS = ("correction_id INTEGER NOT NULL, map_id INTEGER NOT NULL, run_id INTEGER NOT NULL, "
                      "street_id INTEGER NOT NULL, version INTEGER NOT NULL, parent_version INTEGER, name TEXT, "
                      "previous_name TEXT, author TEXT NOT NULL, created_at TEXT NOT NULL, "
                      "UNIQUE (run_id, street_id, version)")
#: The street segments of each map's latest name reading with their current name: the librarians'
#: latest correction of a segment wins over the name read (``version`` 0: as read, never corrected).
_STREETS_CURRENT_SQL = (
    "SELECT s.fid, s.geom, s.map_id, s.run_id, s.street_id, s.width_px, "
    "CASE WHEN e.fid IS NULL THEN s.name ELSE e.name END AS name, "
    "CASE WHEN e.fid IS NULL THEN s.name_score WHEN e.name IS NULL THEN NULL ELSE 1.0 END AS name_score, "
    "CASE WHEN e.fid IS NULL THEN s.name_from ELSE 'corrected' END AS name_from, "
    "COALESCE(e.version, 0) AS version, e.correction_id AS correction_id, e.author AS corrected_by, "
    "e.created_at AS corrected_at, s.name AS read_name, s.name_score AS read_score "
    "FROM map_streets s LEFT JOIN street_name_edits e ON e.run_id = s.run_id AND e.street_id = s.street_id "
    "AND e.version = (SELECT MAX(version) FROM street_name_edits f WHERE f.run_id = s.run_id "
    "AND f.street_id = s.street_id) "
    "WHERE s.run_id = (SELECT MAX(fid) FROM name_runs r WHERE r.map_id = s.map_id)")


def create(conn: sqlite3.Connection, crs: object) -> int:
    """Create every project table and view in an initialised GeoPackage; return the project srs_id."""
    srs_id = gpkg.ensure_srs(conn, crs)
    for name, columns, description in _ATTRIBUTE_TABLES:
        gpkg.create_attributes_table(conn, name, columns, description)
    conn.execute("CREATE INDEX IF NOT EXISTS seg_tiles_key ON seg_tiles (map_id, tx, ty, version)")
    conn.execute("CREATE INDEX IF NOT EXISTS seg_reviews_key ON seg_reviews (map_id, tx, ty, fid)")
    gpkg.create_features_table(conn, "seg_edits", _SEG_EDIT_COLUMNS, "MULTIPOLYGON", gpkg.PIXEL_SRS_ID,
                               "segmentation corrections: painted areas per class, in pixels (y down)")
    gpkg.create_features_table(conn, "control_points", _GCP_COLUMNS, "POINT", srs_id,
                               "control points of every georeference version (world position in project CRS)")
    gpkg.create_features_table(conn, "geocode_results", _GEOCODE_COLUMNS, "POINT", srs_id,
                               "geocoded addresses; a correction adds a row with a higher version")
    conn.execute("CREATE INDEX IF NOT EXISTS geocode_results_key ON geocode_results (run_id, row, version)")
    _create_names(conn)
    conn.execute("CREATE INDEX IF NOT EXISTS batch_steps_key ON batch_steps (map_id, step, fid)")
    gpkg.create_view(
        conn, "batch_steps_current",
        "SELECT s.* FROM batch_steps s WHERE s.fid = "
        "(SELECT MAX(fid) FROM batch_steps t WHERE t.map_id = s.map_id AND t.step = s.step)",
        description="the latest attempt of each batch step of each map")
    gpkg.create_view(
        conn, "georefs_current",
        "SELECT g.* FROM georefs g WHERE g.version = "
        "(SELECT MAX(version) FROM georefs h WHERE h.map_id = g.map_id)",
        description="the latest georeference of each map")
    gpkg.create_view(
        conn, "control_points_current",
        "SELECT c.* FROM control_points c JOIN georefs_current g ON c.georef_id = g.fid",
        geometry_type="POINT", srs_id=srs_id, description="control points of the latest georeference of each map")
    gpkg.create_view(
        conn, "geocode_results_current",
        "SELECT r.* FROM geocode_results r WHERE r.version = "
        "(SELECT MAX(version) FROM geocode_results s WHERE s.run_id = r.run_id AND s.row = r.row)",
        geometry_type="POINT", srs_id=srs_id, description="the latest version of each geocoded address")
    return srs_id


def _create_names(conn: sqlite3.Connection) -> None:
    """The street-name layers (schema 2): readings per run and the versioned name corrections."""
    pixel = gpkg.PIXEL_SRS_ID
    gpkg.create_features_table(conn, "map_streets", _STREET_COLUMNS, "LINESTRING", pixel,
                               "street segments of each name reading, with the name read (pixels, y down)")
    gpkg.create_features_table(conn, "map_text_lines", _TEXT_LINE_COLUMNS, "GEOMETRY", pixel,
                               "lines of text read on the maps and the street name each was matched to")
    gpkg.create_features_table(conn, "map_house_numbers", _NUMBER_COLUMNS, "POINT", pixel,
                               "house numbers read on the maps, with their street segment and side")
    gpkg.create_features_table(conn, "street_name_edits", _NAME_EDIT_COLUMNS, "LINESTRING", pixel,
                               "street-name corrections: one row per segment and version (name NULL: no name)")
    conn.execute("CREATE INDEX IF NOT EXISTS map_streets_key ON map_streets (run_id, street_id)")
    conn.execute("CREATE INDEX IF NOT EXISTS street_name_edits_key ON street_name_edits (run_id, street_id, version)")
    gpkg.create_view(conn, "map_streets_current", _STREETS_CURRENT_SQL, geometry_type="LINESTRING", srs_id=pixel,
                     description="street segments of each map with their current name (corrections applied)")


def migrate(conn: sqlite3.Connection, crs: object) -> int:
    """Bring an older project's tables up to :data:`SCHEMA_VERSION` (only adds); return the old version.

    Runs in one transaction, and only once: the version is checked again under the write lock.
    """
    with gpkg.transaction(conn):
        row = conn.execute("SELECT value FROM jadis_meta WHERE key = 'schema_version'").fetchone()
        old = int(row[0]) if row else 0
        if old < SCHEMA_VERSION:
            create(conn, crs)
            conn.execute("INSERT INTO jadis_meta (key, value) VALUES ('schema_version', ?) "
                         "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (str(SCHEMA_VERSION),))
    return old
