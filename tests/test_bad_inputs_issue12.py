"""Hardening (issue 12): bad inputs give exit code 2 and one line on stderr, and leave nothing behind.

No test here loads the segmentation model: the checks under test run before it (a checkpoint
that does not exist proves it), or the segmenter runs with the tiny hand-set network of
``_segfixtures``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import warnings

import numpy as np
import pandas as pd
import pytest
import rasterio
from _segfixtures import local_predictor, map_image
from PIL import Image

from jadis.georef.formats.qgis_points import write_points
from jadis.georef.gcps import GcpSet

pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("JADIS_HOME", str(tmp_path / "home"))  # only the bundled gazetteers


def _one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("jadis: error: "), err
    assert "internal error" not in err and "Traceback" not in err
    for needle in needles:
        assert needle in err, err


def _png(path, h: int = 150, w: int = 200):
    Image.fromarray(map_image(h, w)).save(path)
    return path


def _no_files(folder) -> list[str]:
    return sorted(p.name for p in folder.rglob("*")) if folder.exists() else []


# -- 1. segment --out FILE -------------------------------------------------------------------------------

def test_segment_out_is_a_file_fails_before_loading_the_model(run_cli, tmp_path):
    src = _png(tmp_path / "in.png")
    out = tmp_path / "outfile"
    out.write_text("not a folder")
    code, _, err = run_cli("segment", str(src), "--out", str(out), "--checkpoint", str(tmp_path / "none.pt"))
    _one_line_error(code, err, "exists and is not a folder")
    assert out.read_text() == "not a folder"


# -- 2. output folder not writable -----------------------------------------------------------------------

@pytest.fixture()
def points(tmp_path):
    """A 200x150 scan and a QGIS .points file in Lambert-93 (inside France)."""
    img = _png(tmp_path / "sheet.png")
    px = np.array([[10, 10], [190, 10], [10, 140], [190, 140], [100, 75]], float)
    world = np.column_stack([652000 + 2 * px[:, 0], 6862000 - 2 * px[:, 1]])
    return img, write_points(tmp_path / "sheet.points", GcpSet(px, world, "EPSG:2154"))


def _unwritable(monkeypatch, folder) -> None:
    """Make ``folder`` look unwritable (tests may run as root, for whom chmod does not bite)."""
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, *a, **k: False if os.path.abspath(p) == str(folder)
                        and mode & os.W_OK else real(p, mode, *a, **k))


def test_unwritable_output_folder_is_refused_up_front(run_cli, tmp_path, monkeypatch, points):
    img, pts = points
    locked = tmp_path / "locked"
    locked.mkdir()
    _unwritable(monkeypatch, locked)
    csv = tmp_path / "a.csv"
    csv.write_text("adresse;annee\n12 rue de Charonne;1836\n", encoding="utf-8")
    for args in (("segment", str(img), "--out", str(locked / "out"), "--checkpoint", str(tmp_path / "none.pt")),
                 ("segment", str(img), "--out", str(locked), "--checkpoint", str(tmp_path / "none.pt")),
                 ("georef", "fit", str(img), "--gcps", str(pts), "-o", str(locked / "g.json")),
                 ("geocode", str(csv), "-o", str(locked / "o.csv"))):
        code, _, err = run_cli(*args)
        _one_line_error(code, err, "not writable")
    assert _no_files(locked) == []


def test_permission_error_while_writing_is_one_line(run_cli, tmp_path, monkeypatch, points):
    """Whatever the up-front checks miss (a read-only disk, a folder locked meanwhile)."""
    from jadis.georef.georeference import Georeference

    img, pts = points

    def refuse(self, path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(Georeference, "save", refuse)
    code, _, err = run_cli("georef", "fit", str(img), "--gcps", str(pts), "-o", str(tmp_path / "g.json"), "-q")
    _one_line_error(code, err, "g.json: Permission denied")


def test_path_under_a_regular_file_is_refused(run_cli, tmp_path, points):
    img, pts = points
    plain = tmp_path / "plain"
    plain.write_text("x")
    code, _, err = run_cli("georef", "fit", str(img), "--gcps", str(pts), "-o", str(plain / "sub" / "g.json"))
    _one_line_error(code, err, "which is a file")


# -- 3. segment outputs appear together or not at all ----------------------------------------------------

def test_segment_output_name_taken_by_a_folder_writes_nothing(run_cli, tmp_path):
    src = _png(tmp_path / "in.png")
    out = tmp_path / "D"
    (out / "in_classes.tif").mkdir(parents=True)
    code, _, err = run_cli("segment", str(src), "--out", str(out), "--checkpoint", str(tmp_path / "none.pt"))
    _one_line_error(code, err, "in_classes.tif", "is a folder")
    assert _no_files(out) == ["in_classes.tif"]


def test_segment_image_renames_both_outputs_or_neither(tmp_path):
    from jadis.pipelines.scan import segment_image

    src = _png(tmp_path / "in.png")
    out = tmp_path / "D"
    (out / "in_classes.tif").mkdir(parents=True)
    with pytest.raises(OSError):
        segment_image(src, out, predictor=local_predictor(), tile=128, overlap=32, progress=False)
    assert _no_files(out) == ["in_classes.tif"]  # no in.gpkg, no temporary file
    (out / "in_classes.tif").rmdir()
    (out / "in.gpkg").mkdir()
    with pytest.raises(OSError):
        segment_image(src, out, predictor=local_predictor(), tile=128, overlap=32, progress=False)
    assert _no_files(out) == ["in.gpkg"]  # the class raster was taken back


def test_atomic_paths_restores_replaced_files(tmp_path):
    from jadis.io.atomic import atomic_paths

    a, b = tmp_path / "a.txt", tmp_path / "b"
    a.write_text("old a")
    b.mkdir()
    with pytest.raises(OSError), atomic_paths(a, b) as (ta, tb):
        ta.write_text("new a")
        tb.write_text("new b")
    assert a.read_text() == "old a" and b.is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b"]


# -- 4. a very long address ------------------------------------------------------------------------------

def test_long_address_is_geocoded_not_taken_for_a_file(run_cli):
    address = "12 rue de Charonne, " + "tailleur et marchand de drap, " * 10
    assert len(address) > 255
    code, out, err = run_cli("geocode", address, "--year", "1836")
    assert code == 0, err
    assert "internal error" not in err and "match_type" in out


def test_long_argument_is_not_echoed_in_full(run_cli, tmp_path):
    name = "x" * 300 + ".csv"
    code, _, err = run_cli("geocode", name, "--year", "1836", "-o", str(tmp_path / "o.csv"))
    _one_line_error(code, err)
    assert len(err) < 250 and "…" in err


# -- 5. --delimiter --------------------------------------------------------------------------------------

def test_delimiter_must_be_one_character(run_cli, tmp_path):
    src = tmp_path / "a.csv"
    src.write_text("adresse;annee\n12 rue de Charonne;1836\n", encoding="utf-8")
    code, _, err = run_cli("geocode", str(src), "--delimiter", ";;", "-o", str(tmp_path / "o.csv"))
    _one_line_error(code, err, "--delimiter must be one character")
    assert not (tmp_path / "o.csv").exists()
    tsv = tmp_path / "b.csv"
    tsv.write_text("adresse\tannee\n12 rue de Charonne\t1836\n", encoding="utf-8")
    code, _, err = run_cli("geocode", str(tsv), "--delimiter", "\\t", "-o", str(tmp_path / "o.csv"))
    assert code == 0, err


# -- 6. project init --crs FOO ---------------------------------------------------------------------------

def test_project_init_bad_crs_leaves_nothing(run_cli, tmp_path):
    proj = tmp_path / "new" / "p"
    code, _, err = run_cli("project", "init", str(proj), "--crs", "FOO")
    _one_line_error(code, err, "unknown CRS")
    assert not (tmp_path / "new").exists()
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "notes.txt").write_text("mine")
    code, _, err = run_cli("project", "init", str(kept), "--crs", "FOO")
    _one_line_error(code, err, "unknown CRS")
    assert _no_files(kept) == ["notes.txt"]


# -- 7. project add --classes of the wrong size ----------------------------------------------------------

def _class_raster(path, w: int, h: int):
    with warnings.catch_warnings():  # a plain raster: no georeferencing, and rasterio says so
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with rasterio.open(path, "w", driver="GTiff", width=w, height=h, count=1, dtype="uint8") as ds:
            ds.write(np.zeros((1, h, w), np.uint8))
    return path


def test_project_add_wrong_class_raster_registers_nothing(run_cli, tmp_path):
    scan = _png(tmp_path / "scan.png")
    proj = tmp_path / "p"
    assert run_cli("project", "init", str(proj))[0] == 0
    code, _, err = run_cli("project", "add", str(proj), str(scan), "--copy",
                           "--classes", str(_class_raster(tmp_path / "wrong.tif", 10, 10)))
    _one_line_error(code, err, "10x10")
    assert _no_files(proj / "scans") == []
    code, out, err = run_cli("project", "add", str(proj), str(scan), "--copy",
                             "--classes", str(_class_raster(tmp_path / "right.tif", 200, 150)))
    assert code == 0, err
    assert "added map #" in out and "imported class raster" in out


def test_failed_import_is_rolled_back(run_cli, tmp_path, monkeypatch):
    from jadis.errors import JadisError
    from jadis.project import tiles

    scan = _png(tmp_path / "scan.png")
    proj = tmp_path / "p"
    assert run_cli("project", "init", str(proj))[0] == 0

    def broken(*args, **kwargs):
        raise JadisError("cannot decode the class raster")

    classes = _class_raster(tmp_path / "right.tif", 200, 150)
    with monkeypatch.context() as patch:
        patch.setattr(tiles, "import_class_raster", broken)
        code, _, err = run_cli("project", "add", str(proj), str(scan), "--copy", "--classes", str(classes))
    _one_line_error(code, err, "cannot decode")
    assert _no_files(proj / "scans") == []
    code, _, err = run_cli("project", "add", str(proj), str(scan), "--classes", str(classes))
    assert code == 0, err


# -- 8. the store's write lock held by another process ---------------------------------------------------

def test_project_busy_is_a_clean_error(run_cli, tmp_path, monkeypatch):
    scan = _png(tmp_path / "scan.png")
    proj = tmp_path / "p"
    assert run_cli("project", "init", str(proj))[0] == 0
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3, sys, time\n"
         "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
         "c.execute('BEGIN IMMEDIATE')\nprint('locked', flush=True)\ntime.sleep(60)\n", str(proj / "project.gpkg")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        monkeypatch.setenv("JADIS_LOCK_TIMEOUT", "1.5")
        started = time.monotonic()
        code, _, err = run_cli("project", "add", str(proj), str(scan))
        assert time.monotonic() - started < 20
    finally:
        holder.kill()
        holder.wait()
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 2, err
    assert lines[0].startswith("jadis: warning: ") and "waiting" in lines[0]
    assert lines[1].startswith("jadis: error: ") and "the project is busy" in lines[1]
    if sys.platform.startswith("linux"):
        assert f"process {holder.pid}" in lines[1]
    assert "internal error" not in err and "Traceback" not in err
    code, _, err = run_cli("project", "add", str(proj), str(scan))  # nothing was registered
    assert code == 0, err


# -- 9. --year-column values -----------------------------------------------------------------------------

def test_year_column_uses_the_year_range_and_names_unusable_rows(run_cli, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("adresse;annee\n12 rue de Charonne;1836\n12 rue de Charonne;1e308\n"
                   "12 rue de Charonne;3000\n12 rue de Charonne;-5\n12 rue de Charonne;abc\n"
                   "12 rue de Charonne;\n12 rue de Charonne;12/05/1836\n", encoding="utf-8")
    out = tmp_path / "o.csv"
    code, _, err = run_cli("geocode", str(src), "--year-column", "annee", "-o", str(out))
    assert code == 0, err
    warned = [ln for ln in err.splitlines() if ln.startswith("jadis: warning:")]
    assert len(warned) == 1, err
    for row in ("row 3", "row 4", "row 5", "row 6"):
        assert row in warned[0]
    assert "row 2 " not in warned[0] and "row 7" not in warned[0] and "row 8" not in warned[0]
    assert "without a year" in warned[0]
    assert len(pd.read_csv(out)) == 7
    code, _, err = run_cli("geocode", str(src), "--year", "-5", "-o", str(out))
    _one_line_error(code, err, "1000-2200")


def test_year_cells_follow_the_year_option_rule():
    from jadis.geocode.geocoder import YEAR_MAX, YEAR_MIN, parse_year

    assert (YEAR_MIN, YEAR_MAX) == (1000, 2200)
    assert parse_year("1836") == parse_year("1836.0") == parse_year("12/05/1836") == parse_year(1836) == 1836
    assert parse_year("") is None and parse_year(None) is None and parse_year(float("nan")) is None
    for bad in ("1e308", "3000", "-5", "abc", "inf", "836", "1836.5"):
        with pytest.raises(ValueError):
            parse_year(bad)


# -- 10. history --limit ---------------------------------------------------------------------------------

def test_history_refuses_a_negative_limit(run_cli, tmp_path):
    proj = tmp_path / "p"
    assert run_cli("project", "init", str(proj))[0] == 0
    for limit in ("-5", "0"):
        code, _, err = run_cli("project", "history", str(proj), "--limit", limit)
        _one_line_error(code, err, "--limit")


# -- 11. GCPs outside the CRS's area of use --------------------------------------------------------------

def test_swapped_xy_gcps_are_warned_about(run_cli, tmp_path, points):
    img, _ = points
    px = np.array([[10, 10], [190, 10], [10, 140], [190, 140]], float)
    swapped = np.column_stack([6862000 - 2 * px[:, 1], 652000 + 2 * px[:, 0]])
    pts = write_points(tmp_path / "swapped.points", GcpSet(px, swapped, "EPSG:2154"))
    code, _, err = run_cli("georef", "fit", str(img), "--gcps", str(pts), "--crs", "EPSG:2154",
                           "-o", str(tmp_path / "g.json"), "-q")
    assert code == 0, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("jadis: warning:") and "area of use" in lines[0], err
    assert "4 of 4 GCPs" in lines[0]


def test_gcps_inside_the_area_of_use_give_no_warning(run_cli, tmp_path, points):
    img, pts = points
    code, _, err = run_cli("georef", "fit", str(img), "--gcps", str(pts), "-o", str(tmp_path / "g.json"), "-q")
    assert code == 0 and "warning" not in err, err


# -- 12. warnings: none for plain scans, one line for a multi-page TIFF ----------------------------------

def test_plain_scan_gives_no_not_georeferenced_warning(tmp_path):
    """In a real process (pytest would swallow the warnings): rasterio's NotGeoreferencedWarning is
    silenced, a jadis warning is one line."""
    one = tmp_path / "one.png"
    Image.fromarray(np.full((1, 1, 3), 200, np.uint8)).save(one)
    script = ("import sys, warnings, rasterio\n"
              "from jadis.cli.main import cli, main\n"
              "from jadis.errors import JadisWarning\n"
              "@cli.command('_read')\n"
              "def _read():\n"
              "    with rasterio.open(sys.argv[1]) as ds:\n"
              "        ds.read()\n"
              "    warnings.warn(JadisWarning('a jadis warning'))\n"
              "main(['_read'])\n")
    env = {**os.environ, "PYTHONWARNINGS": "default"}
    run = subprocess.run([sys.executable, "-c", script, str(one)], capture_output=True, text=True, env=env,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert "NotGeoreferenced" not in run.stderr and "geotransform" not in run.stderr
    assert run.stderr.strip().splitlines() == ["jadis: warning: a jadis warning"]


def test_multi_page_tiff_is_warned_about(run_cli, tmp_path):
    pages = [Image.fromarray(map_image(120, 160, seed=i)) for i in range(3)]
    tif = tmp_path / "multi.tif"
    pages[0].save(tif, save_all=True, append_images=pages[1:])
    proj = tmp_path / "p"
    assert run_cli("project", "init", str(proj))[0] == 0
    code, _, err = run_cli("project", "add", str(proj), str(tif))
    assert code == 0, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("jadis: warning:") and "3 pages" in lines[0], err


# -- 13. small --max-pixels ------------------------------------------------------------------------------

def test_small_pixel_limit_is_printed_sensibly(run_cli, tmp_path):
    src = _png(tmp_path / "in.png")
    code, _, err = run_cli("segment", str(src), "--out", str(tmp_path / "o"), "--checkpoint",
                           str(tmp_path / "none.pt"), "--max-pixels", "1000")
    _one_line_error(code, err, "30,000 pixels", "limit of 1,000 pixels")
    assert "0 MP" not in err


# -- 14. stale .part files -------------------------------------------------------------------------------

def test_successful_write_removes_stale_part_files(tmp_path):
    from jadis.io.atomic import atomic_write_text
    from jadis.pipelines.scan import segment_image

    out = tmp_path / "runs" / "map1"
    out.mkdir(parents=True)
    stale = [out / ".x_classes.abcd1234.part.tif", out / ".x_classes.abcd1234.part.tif.aux.xml",
             out / ".x.zz_99xyz.part.gpkg"]
    fresh = out / ".x_classes.qwerty12.part.tif"  # a write still running elsewhere
    other = out / ".y_classes.abcd1234.part.tif"  # another output's
    old = time.time() - 2 * 3600
    for path in (*stale, fresh, other):
        path.write_bytes(b"partial")
    for path in (*stale, other):
        os.utime(path, (old, old))
    src = _png(tmp_path / "x.png")
    segment_image(src, out, predictor=local_predictor(), tile=128, overlap=32, progress=False)
    assert sorted(p.name for p in out.iterdir()) == sorted([fresh.name, other.name, "x.gpkg", "x_classes.tif"])
    atomic_write_text(out / "y_classes.tif", "done")
    assert not other.exists() and fresh.exists()
