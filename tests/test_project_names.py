"""Street names in a project: read on the map (OCR, a fake reader here), corrected by librarians
(versioned, signed, conflicts refused and kept, undo), carried over a new reading, stored in the
project GeoPackage, exported, and used as the map's gazetteer for geocoding."""

from __future__ import annotations

import json
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from jadis.errors import JadisError
from jadis.ocr.reader import Reading
from jadis.project import corrections, georefs, maps, names, schema, tiles
from jadis.project.corrections import ConflictError
from jadis.project.sample import REFERENCE_ORIGIN, REFERENCE_RESOLUTION, write_sample
from jadis.project.workspace import init_project, open_project

pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")

W, H = 600, 450
KNOWN = ["Rue de la Harpe", "Rue du Bac", "Quai des Célestins", "Rue Saint-Honoré", "Place Dauphine"]


class FakeReader:
    """Reads every crop as the same street name (the recogniser is tested in its own room)."""

    def __init__(self, text: str = "RUE DE LA HARPE", score: float = 0.95) -> None:
        self.text, self.score, self.crops = text, score, 0

    def read(self, crop: np.ndarray) -> Reading:
        assert crop.dtype == np.uint8 and crop.ndim == 3
        self.crops += 1
        return Reading(self.text, self.score, False)


@pytest.fixture()
def project(tmp_path):
    proj = init_project(tmp_path / "proj", name="Names")
    image, classes = write_sample(tmp_path / "src", W, H)
    record = maps.add_map(proj, image, year=1836, author="setup")
    tiles.import_class_raster(proj, record.id, classes, author="setup")
    return proj, record


def _layers(offset: float = 0.0, first_id: int = 0) -> dict[str, gpd.GeoDataFrame]:
    """A reading by hand: three segments of one street (one read with low confidence), one unnamed."""
    lines = [shapely.LineString([(50 + offset, 100), (250 + offset, 100)]),
             shapely.LineString([(250 + offset, 100), (450 + offset, 100)]),
             shapely.LineString([(450 + offset, 100), (550 + offset, 100)]),
             shapely.LineString([(300, 150 + offset), (300, 400 + offset)])]
    streets = gpd.GeoDataFrame({
        "street_id": np.arange(first_id, first_id + 4), "width_px": [20.0] * 4,
        "name": ["Rue de la Harpe", "Rue de la Harpe", "Rue de la Harpe", None],
        "name_score": [0.95, 0.9, 0.4, None], "name_from": ["label", "continued", "label", None],
    }, geometry=lines)
    text_lines = gpd.GeoDataFrame({"reading": ["RUE DE LA HARPE"], "name": ["Rue de la Harpe"], "name_score": [0.95],
                                   "how": ["fuzzy"], "label_ids": ["1,2"]},
                                  geometry=[shapely.box(100, 90, 200, 110)])
    numbers = gpd.GeoDataFrame({"number": ["12", "14"], "street_id": [first_id, first_id + 3], "side": ["left"] * 2,
                                "name": [None, None], "ocr_score": [0.9, 0.8]},
                               geometry=[shapely.Point(150, 90), shapely.Point(290, 200)])
    return {"streets": streets, "text_lines": text_lines, "house_numbers": numbers}


def _by_id(frame: gpd.GeoDataFrame) -> dict[int, str | None]:
    return {int(s): (n if isinstance(n, str) else None) for s, n in zip(frame["street_id"], frame["name"], strict=True)}


def test_names_are_read_on_the_segmented_map_and_stored_in_the_geopackage(project):
    proj, record = project
    reader = FakeReader()
    run = names.read_street_names(proj, record.id, reader=reader, names=KNOWN, author="reader")
    assert reader.crops >= 3 and run.author == "reader" and not run.stale
    assert run.n_segments > 0 and 1 <= run.n_named < run.n_segments and run.n_lines >= 1
    current = names.current_names(proj, record.id)
    assert set(current["name"].dropna()) == {"Rue de la Harpe"} and (current["version"] == 0).all()
    # what QGIS opens: the project GeoPackage, names on the segments and every line read
    view = pyogrio.read_dataframe(proj.gpkg_path, layer="map_streets_current")
    assert (view["name"] == "Rue de la Harpe").sum() == run.n_named
    assert len(pyogrio.read_dataframe(proj.gpkg_path, layer="map_text_lines")) == run.n_lines
    assert (proj.root / "runs" / f"map{record.id}" / "names.gpkg").exists()
    # the segmentation is corrected afterwards: the reading is stale until read again
    corrections.save_correction(proj, record.id, [corrections.rectangle_edit(10, 10, 40, 40, 1)],
                                {k: s.version for k, s in tiles.tile_states(proj, record.id).items()})
    assert names.latest_run(proj, record.id).stale


def test_segmenting_a_map_reads_its_names(project, monkeypatch):
    from jadis.project import runs

    proj, record = project

    class Result:
        classes_path = None

    def fake_segment(path, out_dir, **kwargs):  # the segmenter is tested elsewhere
        from jadis.project.sample import write_sample

        Result.classes_path = write_sample(out_dir, W, H)[1]
        return Result

    import jadis.pipelines.scan as scan

    monkeypatch.setattr(scan, "segment_image", fake_segment)
    runs.segment_map(proj, record.id, author="bot", reader=FakeReader())
    run = names.latest_run(proj, record.id)
    assert run is not None and run.author == "bot" and run.n_named >= 1
    runs.segment_map(proj, record.id, author="bot", names=False)
    assert names.latest_run(proj, record.id).id == run.id


def test_a_name_correction_is_versioned_signed_and_kept_in_the_history(project):
    proj, record = project
    run = names.save_name_run(proj, record.id, _layers(), author="ocr")
    seen = names.versions(names.current_names(proj, record.id))
    done = names.correct_names(proj, record.id, {2: "Rue de la Huchette"}, run_id=run.id, base_versions=seen,
                               author="alice")
    assert done.versions == {2: 1}
    now = names.current_names(proj, record.id)
    row = now[now["street_id"] == 2].iloc[0]
    assert (row["name"], row["name_from"], row["version"], row["corrected_by"]) == (
        "Rue de la Huchette", "corrected", 1, "alice")
    assert row["read_name"] == "Rue de la Harpe" and row["name_score"] == 1.0 and not row["low"]
    history = corrections.list_corrections(proj, record.id, names.TARGET)
    assert [(c.id, c.author, c.status) for c in history] == [(done.correction_id, "alice", "applied")]
    assert "Rue de la Harpe → Rue de la Huchette" in history[0].message
    edits = pyogrio.read_dataframe(proj.gpkg_path, layer="street_name_edits")
    assert edits[["street_id", "version", "parent_version", "name", "previous_name", "author"]].iloc[0].tolist() == [
        2, 1, 0, "Rue de la Huchette", "Rue de la Harpe", "alice"]
    assert edits.geometry.iloc[0].equals(shapely.LineString([(450, 100), (550, 100)]))
    # name an unnamed segment, remove a wrong name, then nothing to change
    seen = names.versions(names.current_names(proj, record.id))
    names.correct_names(proj, record.id, {3: "  Rue   Saint-Jacques "}, run_id=run.id, base_versions=seen, author="bob")
    names.correct_names(proj, record.id, {1: None}, run_id=run.id, base_versions=seen, author="bob")
    assert _by_id(names.current_names(proj, record.id)) == {0: "Rue de la Harpe", 1: None, 2: "Rue de la Huchette",
                                                            3: "Rue Saint-Jacques"}
    with pytest.raises(JadisError, match="nothing to change"):
        names.correct_names(proj, record.id, {1: ""}, run_id=run.id, base_versions={1: 1}, author="bob")
    with pytest.raises(JadisError, match="no street segment 99"):
        names.correct_names(proj, record.id, {99: "Rue X"}, run_id=run.id, base_versions={}, author="bob")
    with pytest.raises(JadisError, match="not a street name"):
        names.correct_names(proj, record.id, {0: "---"}, run_id=run.id, base_versions={0: 0}, author="bob")
    assert [len(names.history(proj, record.id, s)) for s in range(4)] == [0, 1, 1, 1]


def test_two_librarians_renaming_the_same_segment_conflict_and_nothing_is_lost(project):
    proj, record = project
    run = names.save_name_run(proj, record.id, _layers(), author="ocr")
    seen = names.versions(names.current_names(proj, record.id))
    names.correct_names(proj, record.id, {0: "Rue de la Parcheminerie"}, run_id=run.id, base_versions=seen,
                        author="bob")
    with pytest.raises(ConflictError, match="renamed by bob") as err:
        names.correct_names(proj, record.id, {0: "Rue Galande", 1: "Rue Galande"}, run_id=run.id,
                            base_versions=seen, author="alice")
    assert _by_id(names.current_names(proj, record.id))[0] == "Rue de la Parcheminerie"
    assert _by_id(names.current_names(proj, record.id))[1] == "Rue de la Harpe"  # all or nothing
    kept = corrections.list_corrections(proj, record.id, names.TARGET)[0]
    assert (kept.id, kept.status, kept.author) == (err.value.correction_id, "conflict", "alice")
    conn = proj.connect()
    try:
        result = json.loads(conn.execute("SELECT result FROM corrections WHERE fid = ?", (kept.id,)).fetchone()[0])
    finally:
        conn.close()
    assert result["names"] == {"0": "Rue Galande", "1": "Rue Galande"}
    # a segment nobody else touched saves fine from the same old view
    names.correct_names(proj, record.id, {3: "Rue Galande"}, run_id=run.id, base_versions=seen, author="alice")
    # a new reading meanwhile: corrections against the old one are refused
    names.save_name_run(proj, record.id, _layers(), author="ocr")
    with pytest.raises(ConflictError, match="read again"):
        names.correct_names(proj, record.id, {2: "Rue X"}, run_id=run.id, base_versions=seen, author="alice")


def test_rename_every_segment_of_a_name_and_undo(project):
    proj, record = project
    run = names.save_name_run(proj, record.id, _layers(), author="ocr")
    seen = names.versions(names.current_names(proj, record.id))
    done = names.rename_all(proj, record.id, "Rue de la Harpe", "Rue de la Vieille-Harpe", run_id=run.id,
                            base_versions=seen, author="alice")
    assert sorted(done.versions) == [0, 1, 2]
    assert _by_id(names.current_names(proj, record.id)) == {0: "Rue de la Vieille-Harpe", 1: "Rue de la Vieille-Harpe",
                                                            2: "Rue de la Vieille-Harpe", 3: None}
    undo = names.undo_correction(proj, done.correction_id, author="bob")
    assert sorted(undo.versions) == [0, 1, 2]
    after = names.current_names(proj, record.id)
    assert _by_id(after) == {0: "Rue de la Harpe", 1: "Rue de la Harpe", 2: "Rue de la Harpe", 3: None}
    assert set(after.loc[after["street_id"] < 3, "version"]) == {2}
    assert corrections.list_corrections(proj, record.id, names.TARGET)[0].author == "bob"
    assert "undo of #" in corrections.list_corrections(proj, record.id, names.TARGET)[0].message
    with pytest.raises(ConflictError):  # its segments moved on since: the first correction cannot be undone now
        names.undo_correction(proj, done.correction_id, author="bob")
    with pytest.raises(JadisError, match="no street segment is named"):
        names.rename_all(proj, record.id, "Rue Inconnue", "Rue X", run_id=run.id, base_versions={}, author="bob")


def test_a_new_reading_carries_the_corrections_over(project):
    proj, record = project
    run = names.save_name_run(proj, record.id, _layers(), author="ocr")
    seen = names.versions(names.current_names(proj, record.id))
    fix = names.correct_names(proj, record.id, {2: "Rue de la Huchette", 3: "Rue Saint-Jacques"}, run_id=run.id,
                              base_versions=seen, author="alice")
    # the map is read again: other ids, the segments a little shifted
    again = names.save_name_run(proj, record.id, _layers(offset=3.0, first_id=10), author="ocr")
    assert again.carried == 2
    now = names.current_names(proj, record.id)
    assert _by_id(now) == {10: "Rue de la Harpe", 11: "Rue de la Harpe", 12: "Rue de la Huchette",
                           13: "Rue Saint-Jacques"}
    carried = now[now["street_id"] == 12].iloc[0]
    assert (carried["corrected_by"], carried["correction_id"]) == ("alice", fix.correction_id)
    # and the carried correction can be undone on the new reading
    names.undo_correction(proj, fix.correction_id, author="alice")
    assert _by_id(names.current_names(proj, record.id))[12] == "Rue de la Harpe"


def _georeference(proj, record) -> None:
    from jadis.georef.gcps import GcpSet
    from jadis.georef.georeference import Georeference

    px = np.array([[30, 30], [560, 40], [550, 420], [40, 400]], float)
    world = np.column_stack([REFERENCE_ORIGIN[0] + REFERENCE_RESOLUTION * px[:, 0],
                             REFERENCE_ORIGIN[1] - REFERENCE_RESOLUTION * px[:, 1]])
    georef = Georeference(GcpSet(px, world, "EPSG:2154"), "polynomial1", image_size=(W, H))
    georefs.save_georef(proj, record.id, georef, base_version=0)


def test_the_map_gazetteer_uses_the_corrected_names(project):
    from jadis.geocode.geocoder import Geocoder
    from jadis.project import geocoding

    proj, record = project
    run = names.save_name_run(proj, record.id, _layers(), author="ocr")
    assert names.map_gazetteers(proj) == []  # not georeferenced yet
    _georeference(proj, record)
    seen = names.versions(names.current_names(proj, record.id))
    names.correct_names(proj, record.id, {3: "Rue Pixelcourt"}, run_id=run.id, base_versions=seen, author="alice")
    names.correct_names(proj, record.id, {2: None}, run_id=run.id, base_versions=seen, author="alice")
    streets, numbers = names.map_gazetteers(proj)
    assert (streets.name, streets.kind, streets.info.years) == ("map_sample_map", "street_network", (1836, 1836))
    assert sorted(streets.frame["name"]) == ["Rue Pixelcourt", "Rue de la Harpe", "Rue de la Harpe"]
    x0, y0, x1, y1 = streets.frame.total_bounds
    assert REFERENCE_ORIGIN[0] <= x0 and x1 <= REFERENCE_ORIGIN[0] + W * REFERENCE_RESOLUTION
    assert REFERENCE_ORIGIN[1] - H * REFERENCE_RESOLUTION <= y0 and y1 <= REFERENCE_ORIGIN[1]
    # house numbers take the current name of their street: number 14 lies on the segment named by hand
    assert numbers.kind == "address_points"
    assert sorted(zip(numbers.frame["name"], numbers.frame["number"], strict=True)) == [
        ("Rue Pixelcourt", "14"), ("Rue de la Harpe", "12")]
    result = Geocoder([streets, numbers]).geocode("14 rue Pixelcourt", 1836)
    assert (result.matched_name, result.gazetteer, result.match_type) == ("Rue Pixelcourt", "map_sample_map_numbers",
                                                                         "address_point")
    # a geocoding run of the project uses them
    table = pd.DataFrame({"adresse": ["14 rue Pixelcourt", "3 rue de la Harpe"]})
    run_id = geocoding.run_geocoding(proj, table, "adresse", year=1836, author="alice")
    rows = geocoding.results(proj, run_id)
    assert rows.loc[0, "gazetteer"] == "map_sample_map_numbers" and rows.loc[0, "matched_name"] == "Rue Pixelcourt"
    run_id = geocoding.run_geocoding(proj, table, "adresse", year=1836, author="alice", maps=[])
    assert not str(geocoding.results(proj, run_id).loc[0, "gazetteer"]).startswith("map_sample_map")


def test_names_are_exported_with_the_maps_layers(project, tmp_path):
    from jadis.project.export import export_project

    proj, record = project
    run = names.save_name_run(proj, record.id, _layers(), author="ocr")
    names.correct_names(proj, record.id, {3: "Rue Saint-Jacques"}, run_id=run.id, base_versions={3: 0},
                        author="alice")
    report = export_project(proj, tmp_path / "out")
    gpkg_path = next(p for p in report.files if p.suffix == ".gpkg")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        layer = pyogrio.read_dataframe(gpkg_path, layer="sample_map_street_names")
    assert sorted(layer["name"].dropna()) == ["Rue Saint-Jacques", "Rue de la Harpe", "Rue de la Harpe",
                                              "Rue de la Harpe"]
    assert "sample_map_house_numbers" in report.layers


def test_an_older_project_is_migrated_when_opened(tmp_path):
    from jadis.project import gpkg

    proj = init_project(tmp_path / "old")
    conn = proj.connect()
    try:
        with gpkg.transaction(conn):  # make it look like a schema-1 project
            for name in ("map_streets_current", ):
                conn.execute(f'DROP VIEW "{name}"')
            for name in ("map_streets", "map_text_lines", "map_house_numbers", "street_name_edits", "name_runs"):
                conn.execute(f'DROP TABLE "{name}"')
            for name in ("map_streets_current", "map_streets", "map_text_lines", "map_house_numbers",
                         "street_name_edits", "name_runs"):
                conn.execute("DELETE FROM gpkg_geometry_columns WHERE table_name = ?", (name,))
                conn.execute("DELETE FROM gpkg_contents WHERE table_name = ?", (name,))
            conn.execute("UPDATE jadis_meta SET value = '1' WHERE key = 'schema_version'")
    finally:
        conn.close()
    opened = open_project(proj.root)
    conn = opened.connect()
    try:
        version = conn.execute("SELECT value FROM jadis_meta WHERE key = 'schema_version'").fetchone()[0]
        assert int(version) == schema.SCHEMA_VERSION >= 2
        assert gpkg.table_exists(conn, "street_name_edits") and gpkg.table_exists(conn, "map_streets_current")
    finally:
        conn.close()
    assert "map_streets_current" in {str(n) for n, _ in pyogrio.list_layers(opened.gpkg_path)}


def test_what_the_viewer_draws_and_picking_a_segment(project):
    proj, record = project
    run = names.save_name_run(proj, record.id, _layers(), author="ocr")
    names.correct_names(proj, record.id, {1: "Rue Galande"}, run_id=run.id, base_versions={1: 0}, author="alice")
    frame = names.current_names(proj, record.id)
    drawn = {d["id"]: d for d in names.lines_for_view(frame, (0, 0, W, H), selected=3)}
    assert {i: (d["kind"], d["label"]) for i, d in drawn.items()} == {
        0: ("named", "Rue de la Harpe"), 1: ("corrected", "Rue Galande"), 2: ("low", "Rue de la Harpe ?"),
        3: ("selected", "")}
    assert drawn[0]["points"] == [[50.0, 100.0], [250.0, 100.0]]
    assert [d["id"] for d in names.lines_for_view(frame, (0, 0, 200, 120))] == [0]
    assert names.nearest_segment(frame, 310, 300) == 3 and names.nearest_segment(frame, 100, 300) is None
    table = {t["name"]: t for t in names.name_table(frame)}
    assert table["Rue de la Harpe"]["segments"] == 2 and table["Rue de la Harpe"]["doubtful"]
    assert table["Rue Galande"]["corrected by"] == "alice" and not table["Rue Galande"]["doubtful"]


def test_the_names_of_a_map_become_cues_of_its_automatic_georeferencing(project, monkeypatch):
    """The names stored for a map (the librarians' corrections included) are what the automatic
    georeferencer reads when its search fails without them; a map never read has none."""
    import jadis.georef.auto as auto
    from jadis.project import runs

    proj, record = project
    assert runs.stored_name_cues(proj, record.id) == []
    run = names.save_name_run(proj, record.id, _layers(), author="ocr")
    names.correct_names(proj, record.id, {3: "Rue de la Huchette"}, run_id=run.id,
                        base_versions=names.versions(names.current_names(proj, record.id)), author="alice")
    cues = runs.stored_name_cues(proj, record.id)
    assert sorted((c.name, round(c.x), round(c.y)) for c in cues) == [
        ("Rue de la Harpe", 150, 100), ("Rue de la Harpe", 350, 100), ("Rue de la Harpe", 500, 100),
        ("Rue de la Huchette", 300, 275)]
    assert {c.name: c.score for c in cues}["Rue de la Huchette"] == 1.0
    seen = {}

    def fake(map_input, reference, options=None, progress=True, **kwargs):  # noqa: ANN001, ANN202
        seen.update(kwargs)
        raise auto.AutoGeorefFailed("automatic georeferencing failed: stubbed")

    monkeypatch.setattr(auto, "auto_georeference", fake)
    with pytest.raises(auto.AutoGeorefFailed):
        runs.auto_georeference(proj, record.id, reference=None)
    assert seen["year"] == 1836 and [c.name for c in seen["read_names"]()] == [c.name for c in cues]
    # looked up only when called: a correction made since is in
    names.correct_names(proj, record.id, {0: "Rue de la Parcheminerie"}, run_id=run.id,
                        base_versions=names.versions(names.current_names(proj, record.id)), author="alice")
    assert "Rue de la Parcheminerie" in {c.name for c in seen["read_names"]()}


def test_a_georeferenced_map_is_read_with_the_streets_around_each_line(project, tmp_path, monkeypatch):
    """Once the map is georeferenced, its name reading gets the streets a gazetteer has around each
    pixel (jadis.ocr.place); before, none."""
    import jadis.ocr.layers
    from jadis.geocode.gazetteer import add_gazetteer

    monkeypatch.setenv("JADIS_HOME", str(tmp_path / "home"))
    proj, record = project
    x0, y0 = REFERENCE_ORIGIN
    streets = gpd.GeoDataFrame(   # one street across the map's top (pixel row 100), one 2 km away
        {"name": ["Rue Zorbalique", "Rue Lointaine"]},
        geometry=[shapely.LineString([(x0, y0 - 100 * REFERENCE_RESOLUTION),
                                      (x0 + 600 * REFERENCE_RESOLUTION, y0 - 100 * REFERENCE_RESOLUTION)]),
                  shapely.LineString([(x0 + 2000, y0), (x0 + 2100, y0)])], crs="EPSG:2154")
    streets.to_file(tmp_path / "streets.gpkg", driver="GPKG")
    add_gazetteer(tmp_path / "streets.gpkg", "synthetic_1836", "1830-1840", name_field="name", kind="street_network")
    seen = []

    def fake_name_layers(*args, local=None, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        seen.append(local)
        raise JadisError("stop here: the reading itself is tested elsewhere")

    monkeypatch.setattr(jadis.ocr.layers, "name_layers", fake_name_layers)
    with pytest.raises(JadisError, match="stop here"):
        names.read_street_names(proj, record.id, reader=FakeReader(), names=KNOWN)
    assert seen == [None]   # not georeferenced: no place to look around
    _georeference(proj, record)
    with pytest.raises(JadisError, match="stop here"):
        names.read_street_names(proj, record.id, reader=FakeReader(), names=KNOWN)
    assert seen[-1] is not None
    assert seen[-1](np.array([300.0, 110.0])) == ["Rue Zorbalique"] and seen[-1](np.array([300.0, 400.0])) == []
