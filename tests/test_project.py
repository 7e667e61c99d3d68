"""The project workspace: one GeoPackage, registered maps, versioned tiles, corrections, conflicts."""

from __future__ import annotations

import sqlite3

import numpy as np
import pyogrio
import pytest
import rasterio

from jadis.errors import JadisError
from jadis.project import corrections, gpkg, maps, render, tiles, uploads
from jadis.project.corrections import ConflictError
from jadis.project.sample import write_sample
from jadis.project.workspace import GPKG_NAME, init_project, open_project

pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")


@pytest.fixture()
def sample(tmp_path):
    return write_sample(tmp_path / "src", width=700, height=600, seed=1)


@pytest.fixture()
def project(tmp_path):
    return init_project(tmp_path / "proj", name="Test project")


@pytest.fixture()
def segmented(project, sample):
    image, classes = sample
    record = maps.add_map(project, image, author="alice")
    tiles.import_class_raster(project, record.id, classes, author="alice")
    return project, record, classes


def _truth(classes_path):
    with rasterio.open(classes_path) as ds:
        return ds.read(1)


def test_init_creates_a_geopackage_gdal_reads(project):
    assert gpkg.is_geopackage(project.gpkg_path)
    layers = dict(pyogrio.list_layers(project.gpkg_path))
    for name in ("maps", "seg_tiles", "seg_reviews", "corrections", "seg_edits", "georefs", "control_points",
                 "geocode_runs", "geocode_results", "control_points_current", "geocode_results_current"):
        assert name in layers, name
    assert layers["seg_edits"] == "MultiPolygon"
    conn = sqlite3.connect(project.gpkg_path)
    assert conn.execute("PRAGMA application_id").fetchone()[0] == gpkg.APPLICATION_ID
    assert conn.execute("SELECT organization_coordsys_id FROM gpkg_spatial_ref_sys WHERE srs_id = ?",
                        (project.srs_id,)).fetchone()[0] == 2154
    conn.close()
    again = open_project(project.root)
    assert again.name == "Test project" and again.crs == "EPSG:2154"


def test_init_refuses_existing_project_and_open_refuses_non_project(project, tmp_path):
    with pytest.raises(JadisError, match="already a jadis project"):
        init_project(project.root)
    with pytest.raises(JadisError, match="not a jadis project"):
        open_project(tmp_path)
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / GPKG_NAME).write_text("not sqlite")
    with pytest.raises(JadisError, match="not a jadis project"):
        open_project(tmp_path / "junk")
    with pytest.raises(JadisError, match="unknown CRS"):
        init_project(tmp_path / "other", crs="EPSG:999999")


def test_add_map_records_checksum_and_refuses_duplicates_and_non_images(project, sample, tmp_path):
    image, _ = sample
    record = maps.add_map(project, image, year=1836, author="alice")
    assert record.width == 700 and record.height == 600 and record.year == 1836
    assert record.sha256 == maps.sha256_file(image) and record.size_bytes == image.stat().st_size
    assert record.status == "registered" and record.added_by == "alice"
    with pytest.raises(JadisError, match="already registered"):
        maps.add_map(project, image)
    bad = tmp_path / "notes.png"
    bad.write_text("hello")
    with pytest.raises(JadisError):
        maps.add_map(project, bad)
    assert [m.name for m in maps.list_maps(project)] == ["sample_map"]
    assert maps.verify_map(record) is None
    image.write_bytes(image.read_bytes() + b"x")
    assert "changed" in maps.verify_map(record)


def test_add_map_copy_lands_inside_project(project, sample):
    image, _ = sample
    record = maps.add_map(project, image, copy=True, name="Plan de Paris 1836")
    assert record.path.parent == project.root / "scans"
    assert record.stored_path.startswith("scans/")
    assert record.name == "Plan_de_Paris_1836"


def test_class_raster_round_trip_and_subsampled_reads(segmented, tmp_path):
    project, record, classes_path = segmented
    truth = _truth(classes_path)
    assert (tiles.read_classes(project, record.id) == truth).all()
    for step in (1, 2, 3, 8):
        got = tiles.read_classes(project, record.id, (37, 91, 500, 400), step=step)
        x0, y0 = (37 // step) * step, (91 // step) * step
        want = np.zeros_like(got)
        part = truth[y0:91 + 400:step, x0:37 + 500:step][:got.shape[0], :got.shape[1]]
        want[:part.shape[0], :part.shape[1]] = part
        assert (got == want).all(), step
    outside = tiles.read_classes(project, record.id, (650, 550, 100, 100))
    assert (outside[50:, :] == 0).all() and (outside[:50, :50] == truth[550:, 650:]).all()
    out = tiles.write_class_raster(project, record.id, tmp_path / "classes.tif")
    assert (_truth(out) == truth).all()
    assert maps.get_map(project, record.id).status == "segmented"


def test_import_refuses_wrong_size(project, sample, tmp_path):
    image, _ = sample
    record = maps.add_map(project, image)
    _, other = write_sample(tmp_path / "other", width=300, height=200)
    with pytest.raises(JadisError, match="class raster is 300x200"):
        tiles.import_class_raster(project, record.id, other)


def test_correction_creates_new_versions_and_keeps_history(segmented):
    project, record, classes_path = segmented
    truth = _truth(classes_path)
    base = {k: s.version for k, s in tiles.tile_states(project, record.id).items()}
    edit = corrections.rectangle_edit(100, 100, 140, 130, 3)
    result = corrections.save_correction(project, record.id, [edit], base, author="bob")
    assert result.tiles == {(0, 0): 2}
    now = tiles.read_classes(project, record.id)
    assert (now[100:130, 100:140] == 3).all()
    changed = now != truth
    assert changed[100:130, 100:140].sum() == changed.sum()  # nothing else changed
    # the old version is still there
    old = tiles.read_classes(project, record.id, versions={k: 1 for k in base})
    assert (old == truth).all()
    history = corrections.list_corrections(project, record.id)
    assert history[0].status == "applied" and history[0].author == "bob"
    edits = pyogrio.read_dataframe(project.gpkg_path, layer="seg_edits")
    assert len(edits) == 1 and edits.iloc[0]["class_id"] == 3 and edits.iloc[0]["author"] == "bob"
    assert edits.geometry.iloc[0].bounds == (100.0, 100.0, 140.0, 130.0)


def test_second_save_over_the_same_region_is_a_conflict_and_nothing_is_lost(segmented):
    project, record, _ = segmented
    base = {k: s.version for k, s in tiles.tile_states(project, record.id).items()}
    corrections.save_correction(project, record.id, [corrections.rectangle_edit(10, 10, 60, 60, 1)], base,
                                author="alice")
    after_alice = tiles.read_classes(project, record.id)
    bob_edit = corrections.brush_edit([(30, 30), (200, 40)], 8, 2)
    with pytest.raises(ConflictError, match=r"changed by alice .* NOT applied .* kept as correction #2") as info:
        corrections.save_correction(project, record.id, [bob_edit], base, author="bob")
    assert info.value.tiles == [(0, 0)] and info.value.correction_id == 2
    assert (tiles.read_classes(project, record.id) == after_alice).all()  # Alice's work untouched
    kept = corrections.list_corrections(project, record.id)[0]
    assert (kept.status, kept.author) == ("conflict", "bob")
    assert corrections.load_edits(project, kept.id)[0].geometry.equals(bob_edit.geometry)
    # Bob re-applies his kept edit on the latest version
    result = corrections.reapply_correction(project, kept.id, author="bob")
    final = tiles.read_classes(project, record.id)
    assert (final[40, 100:180] == 2).all() and result.tiles[(0, 0)] == 3


def test_edits_on_different_tiles_do_not_conflict(segmented):
    project, record, _ = segmented
    base = {k: s.version for k, s in tiles.tile_states(project, record.id).items()}
    corrections.save_correction(project, record.id, [corrections.rectangle_edit(10, 10, 50, 50, 1)], base)
    corrections.save_correction(project, record.id, [corrections.rectangle_edit(600, 550, 650, 590, 2)], base)


def test_edits_on_unsegmented_map_start_from_version_zero(project, sample):
    image, _ = sample
    record = maps.add_map(project, image)
    result = corrections.save_correction(project, record.id, [corrections.polygon_edit(
        [(0, 0), (100, 0), (0, 100)], 2)], {})
    assert result.tiles == {(0, 0): 1}
    arr = tiles.read_classes(project, record.id, (0, 0, 100, 100))
    assert arr[10, 10] == 2 and arr[90, 90] == 0
    assert maps.get_map(project, record.id).status == "segmented"


def test_bad_edits_are_user_errors(segmented):
    project, record, _ = segmented
    with pytest.raises(JadisError, match="class id 7"):
        corrections.rectangle_edit(0, 0, 5, 5, 7)
    with pytest.raises(JadisError, match="at least 3"):
        corrections.polygon_edit([(0, 0), (1, 1)], 1)
    with pytest.raises(JadisError, match="radius"):
        corrections.brush_edit([(0, 0)], 0, 1)
    with pytest.raises(JadisError, match="pairs of numbers"):
        corrections.brush_edit([("a", None)], 3, 1)
    with pytest.raises(JadisError, match="outside map"):
        corrections.save_correction(project, record.id, [corrections.rectangle_edit(5000, 5000, 5100, 5100, 1)], {})


def test_reviews_accept_reject_and_go_stale_after_a_correction(segmented):
    project, record, _ = segmented
    states = tiles.tile_states(project, record.id)
    assert len(states) == 4  # 700x600 with 512 px tiles
    base = {k: s.version for k, s in states.items()}
    tiles.review_tiles(project, record.id, [(0, 0), (1, 0)], "accepted", author="carol", seen_versions=base)
    tiles.review_tiles(project, record.id, [(0, 1)], "rejected", author="carol")
    valid = tiles.validated_tiles(project)
    assert [v.key for v in valid] == [(0, 0), (1, 0)]
    corrections.save_correction(project, record.id, [corrections.rectangle_edit(10, 10, 20, 20, 1)], base)
    assert tiles.tile_states(project, record.id)[(0, 0)].decision is None  # changed since accepted
    assert [v.key for v in tiles.validated_tiles(project)] == [(1, 0)]
    with pytest.raises(ConflictError, match="changed since you loaded"):
        tiles.review_tiles(project, record.id, [(0, 0)], "accepted", seen_versions=base)
    tiles.review_tiles(project, record.id, [(0, 0), (1, 1)], "accepted")
    assert maps.get_map(project, record.id).status == "validated"
    with pytest.raises(JadisError, match="outside map"):
        tiles.review_tiles(project, record.id, [(9, 9)], "accepted")


def test_inside_refuses_paths_outside_the_project(project, tmp_path):
    assert project.inside("scans", "a.png") == project.root / "scans" / "a.png"
    for bad in ("../evil.png", "/etc/passwd", "scans/../../evil"):
        with pytest.raises(JadisError, match="outside the project"):
            project.inside(bad)
    (project.root / "scans" / "link").symlink_to(tmp_path)
    with pytest.raises(JadisError, match="outside the project"):
        project.inside("scans", "link", "x.png")


@pytest.mark.parametrize(("name", "expected"), [
    ("../../etc/passwd", "passwd"),
    ("..\\..\\windows\\evil.jpg", "evil.jpg"),
    ("Plan de Paris (1836) é.JPG", "Plan_de_Paris_1836_e.jpg"),
    ("...", "file"),
    (".bashrc", "bashrc"),
    ("con.png", "con_.png"),
    ("a" * 300 + ".tif", "a" * 96 + ".tif"),
    ("x\x00y.png", "xy.png"),
])
def test_safe_filename(name, expected):
    assert uploads.safe_filename(name) == expected


def test_save_upload_sanitises_checks_type_and_size(project, sample):
    image, _ = sample
    data = image.read_bytes()
    scans = project.inside("scans")
    saved = uploads.save_upload(scans, "../../../outside.png", data)
    assert saved.parent == scans and saved.name == "outside.png"
    assert not (project.root.parent / "outside.png").exists()
    again = uploads.save_upload(scans, "outside.png", data)
    assert again.name == "outside_2.png"
    with pytest.raises(JadisError, match="not a supported image"):
        uploads.save_upload(scans, "evil.png", b"#!/bin/sh\nrm -rf /\n")
    with pytest.raises(JadisError, match="exceeds the upload limit"):
        uploads.save_upload(scans, "big.png", data, max_bytes=1000)
    with pytest.raises(JadisError):  # right magic bytes, truncated body
        uploads.save_upload(scans, "cut.png", data[: len(data) // 3])
    assert sorted(p.name for p in scans.iterdir()) == ["outside.png", "outside_2.png"]
    renamed = uploads.save_upload(scans, "photo.txt", data)  # suffix follows the real type
    assert renamed.suffix == ".png"


def test_check_text_bytes():
    assert uploads.check_text_bytes("a.csv", b"adresse\n12 rue X\n").startswith("adresse")
    assert "é" in uploads.check_text_bytes("a.csv", "é\n".encode("cp1252"))
    with pytest.raises(JadisError, match="expected a"):
        uploads.check_text_bytes("a.exe", b"x")
    with pytest.raises(JadisError, match="binary"):
        uploads.check_text_bytes("a.csv", b"a\x00b")


def test_views_render_only_the_window(segmented):
    project, record, classes_path = segmented
    view = render.fit_view(record, 400, 300)
    rgb = render.read_scan(project, record, view)
    assert rgb.shape == (300, 400, 3)
    assert render.pyramid_path(project, record).exists()
    zoomed = render.View(100, 100, 2.0, 200, 100)  # map window x 50..150, y 75..125
    ids, origin, step = render.classes_for_view(project, record, zoomed)
    shown = render.ids_to_display(ids, origin, step, zoomed)
    truth = _truth(classes_path)
    assert (shown[::2, ::2] == truth[75:125, 50:150]).mean() > 0.99
    with rasterio.open(record.path) as ds:
        src = np.moveaxis(ds.read(window=((75, 125), (50, 150))), 0, -1)
    scan = render.read_scan(project, record, zoomed)
    assert np.abs(scan[::2, ::2].astype(int) - src).mean() < 8  # JPEG pyramid, nearest at zoom 2
    png = render.thumbnail_png(project, record, 128)
    assert png.startswith(b"\x89PNG")


def test_a_geocoded_row_placed_by_hand_is_versioned_and_a_stale_fix_is_kept(project):
    import pandas as pd

    from jadis.project import geocoding

    table = pd.DataFrame({"adresse": ["12 rue de la Harpe"]})
    run_id = geocoding.run_geocoding(project, table, "adresse", year=1836, gazetteers=["jacoubet_1836_fsa"],
                                     maps=[], author="alice")
    x, y = 651_000.0, 6_861_000.0
    assert geocoding.correct_result(project, run_id, 0, x, y, base_version=1, author="bob", note="seen") == 2
    with pytest.raises(ConflictError, match=r"corrected by bob .* kept as correction #2") as info:
        geocoding.correct_result(project, run_id, 0, x + 5, y, base_version=1, author="carol")
    row = geocoding.results(project, run_id).iloc[0]
    assert (row["version"], row["match_type"], row["x"]) == (2, "manual", x)
    history = corrections.list_corrections(project, target="geocode")
    assert [(c.id, c.status, c.author) for c in history] == [(info.value.correction_id, "conflict", "carol"),
                                                              (1, "applied", "bob")]
    with pytest.raises(JadisError, match="no row 5"):  # refused before anything is recorded
        geocoding.correct_result(project, run_id, 5, x, y, base_version=1)
    assert len(corrections.list_corrections(project)) == 2


def test_one_write_transaction_all_or_nothing(project):
    from jadis.project import store

    with pytest.raises(RuntimeError), project.transaction() as conn:
        conn.execute("INSERT INTO jadis_meta (key, value) VALUES ('x', '1')")
        raise RuntimeError("half-way")
    with project.connection() as conn:
        assert conn.execute("SELECT value FROM jadis_meta WHERE key = 'x'").fetchone() is None
    assert corrections.ConflictError is store.ConflictError and maps.STATUSES is store.STATUSES
