"""The Streamlit app, page by page, with streamlit.testing's AppTest (no browser)."""

from __future__ import annotations

import numpy as np
import pyogrio
import pytest

from jadis.paths import ROOT
from jadis.project import corrections, georefs, maps, tiles
from jadis.project.sample import REFERENCE_ORIGIN, REFERENCE_RESOLUTION, write_reference, write_sample
from jadis.project.workspace import init_project

pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
AppTest = pytest.importorskip("streamlit.testing.v1").AppTest

W, H = 600, 450
APP = str(ROOT / "apps" / "jadis_app.py")


@pytest.fixture()
def project(tmp_path, monkeypatch):
    proj = init_project(tmp_path / "proj", name="App test")
    image, classes = write_sample(tmp_path / "src", W, H)
    record = maps.add_map(proj, image, year=1836, author="setup")
    tiles.import_class_raster(proj, record.id, classes, author="setup")
    reference = write_reference(tmp_path / "src", W, H)
    for var in ("JADIS_APP_PASSWORD", "JADIS_APP_PASSWORD_FILE", "JADIS_APP_AUTHOR_HEADER", "JADIS_APP_IMPORT_DIRS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("JADIS_PROJECT", str(proj.root))
    monkeypatch.setenv("JADIS_REFERENCE", str(reference))
    return proj, record


def _open(page: str | None = None, author: str = "alice") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["author"] = author
    at.run()
    if page:
        at.switch_page(f"views/{page}.py")
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _texts(elements) -> list[str]:
    return [str(e.value) for e in elements]


def _button(at: AppTest, key: str):
    return at.button(key=key)


def test_every_page_renders_without_errors(project):
    at = _open()
    assert at.title[0].value == "Maps"
    for page, title in [("segmentation", "Segmentation review"), ("control_points", "Control points"),
                        ("geocoding", "Geocoding"), ("export", "Export")]:
        at.switch_page(f"views/{page}.py")
        at.run()
        assert not at.exception, (page, [e.value for e in at.exception])
        assert not at.error, (page, _texts(at.error))
        assert at.title[0].value == title


def test_maps_page_registers_an_upload_and_refuses_bad_files(project):
    proj, _ = project
    at = _open()
    image, _ = write_sample(proj.root.parent / "more", 300, 200, seed=5, name="second")
    uploader = at.file_uploader(key="scan_uploads")
    uploader.upload("../../../second.png", image.read_bytes(), "image/png")
    uploader.upload("evil.png", b"<?php system($_GET['c']); ?>", "image/png")
    at.run()
    next(b for b in at.button if b.label == "Register uploaded scans").click()
    at.run()
    assert not at.exception
    assert any("Registered 'second'" in t for t in _texts(at.success))
    assert any("evil.png: not a supported image" in t for t in _texts(at.error))
    names = {m.name: m for m in maps.list_maps(proj)}
    assert names["second"].path == proj.root / "scans" / "second.png" and names["second"].added_by == "alice"
    assert sorted(p.name for p in (proj.root / "scans").iterdir()) == ["second.png"]
    assert not (proj.root.parent.parent / "second.png").exists()


def test_maps_page_refuses_server_paths_outside_the_project(project, tmp_path):
    proj, _ = project
    at = _open()
    at.text_input(key="server_path").set_value(str(tmp_path / "src" / "sample_map.png"))
    next(b for b in at.button if b.label == "Register this file").click()
    at.run()
    assert any("only scans inside the project folder" in t for t in _texts(at.error))
    at.text_input(key="server_path").set_value("../src/sample_map.png")
    next(b for b in at.button if b.label == "Register this file").click()
    at.run()
    assert any("only scans inside the project folder" in t for t in _texts(at.error))
    assert len(maps.list_maps(proj)) == 1


def test_maps_page_registers_a_server_path_inside_the_project(project, tmp_path):
    import shutil

    proj, _ = project
    image, _ = write_sample(tmp_path / "other", 320, 240, seed=9, name="dropped")
    shutil.copy(image, proj.root / "scans" / "dropped.png")
    at = _open()
    at.text_input(key="server_path").set_value("scans/dropped.png")
    next(b for b in at.button if b.label == "Register this file").click()
    at.run()
    assert any("Registered 'dropped'" in t for t in _texts(at.success)), _texts(at.error)
    assert maps.get_map(proj, "dropped").stored_path == "scans/dropped.png"


def test_segmentation_page_paints_saves_and_reports_conflicts(project):
    proj, record = project
    at = _open("segmentation")
    at.selectbox(key="seg_class").set_value(3)
    for key, value in (("seg_rx0", 10), ("seg_ry0", 10), ("seg_rx1", 60), ("seg_ry1", 40)):
        at.number_input(key=key).set_value(value)
    at.button(key="seg_add_rect").click()
    at.run()
    assert any("Unsaved edits: 1" in t for t in _texts(at.markdown))
    # somebody else saves over the same tile meanwhile
    corrections.save_correction(proj, record.id, [corrections.rectangle_edit(0, 0, 5, 5, 2)], {(0, 0): 1},
                                author="bob")
    at.button(key="seg_save").click()
    at.run()
    assert not at.exception
    errors = _texts(at.error)
    assert any("changed by bob" in t and "NOT applied" in t for t in errors), errors
    assert any("Unsaved edits: 1" in t for t in _texts(at.markdown))  # nothing lost
    assert (tiles.read_classes(proj, record.id, (10, 10, 50, 30)) != 3).any()
    at.button(key="seg_reload").click()
    at.run()
    at.button(key="seg_save").click()
    at.run()
    assert any("Saved as correction" in t for t in _texts(at.success))
    assert (tiles.read_classes(proj, record.id, (10, 10, 50, 30)) == 3).all()
    assert (tiles.read_classes(proj, record.id, (0, 0, 5, 5)) == 2).all()  # Bob's edit kept too
    edits = pyogrio.read_dataframe(proj.gpkg_path, layer="seg_edits")
    assert sorted(edits["author"]) == ["alice", "alice", "bob"]  # the refused attempt is kept as well


def test_segmentation_page_undo_and_tile_review(project):
    proj, record = project
    at = _open("segmentation")
    at.button(key="seg_add_rect").click()
    at.run()
    assert any("Unsaved edits: 1" in t for t in _texts(at.markdown))
    at.button(key="seg_undo").click()
    at.run()
    assert any("Unsaved edits: 0" in t for t in _texts(at.markdown))
    at.number_input(key=f"seg_tx_{record.id}").set_value(1)
    at.run()
    at.button(key="seg_accept").click()
    at.run()
    assert any("1 tile(s) accepted" in t for t in _texts(at.success))
    assert tiles.tile_states(proj, record.id)[(1, 0)].decision == "accepted"
    assert tiles.tile_states(proj, record.id)[(1, 0)].reviewed_by == "alice"


def test_saving_needs_a_name(project):
    at = _open("segmentation", author="")
    at.button(key="seg_add_rect").click()
    at.run()
    at.button(key="seg_save").click()
    at.run()
    assert any("enter your name" in t for t in _texts(at.error))


def _truth_world(x: float, y: float) -> tuple[float, float]:
    return REFERENCE_ORIGIN[0] + REFERENCE_RESOLUTION * x, REFERENCE_ORIGIN[1] - REFERENCE_RESOLUTION * y


def test_control_points_typed_live_residuals_save_and_conflict(project):
    proj, record = project
    at = _open("control_points")
    pts = [(30, 30), (560, 40), (550, 420), (40, 400), (300, 220)]
    for i, (x, y) in enumerate(pts):
        wx, wy = _truth_world(x, y)
        if i == 4:
            wx += 15.0  # a wrong point: 15 m off
        at.number_input(key="cp_tx").set_value(float(x))
        at.number_input(key="cp_ty").set_value(float(y))
        at.number_input(key="cp_wx").set_value(wx)
        at.number_input(key="cp_wy").set_value(wy)
        at.button(key="cp_add").click()
        at.run()
        assert not at.exception, [e.value for e in at.exception]
    summary = " ".join(t for t in _texts(at.markdown) if "RMSE" in t)
    assert "on 5 of 5 points" in summary
    at.multiselect(key=f"cp_disabled_{record.id}_5").set_value(["5"])
    at.run()
    summary = " ".join(t for t in _texts(at.markdown) if "RMSE" in t)
    assert "on 4 of 5 points: RMSE **0.00 m**" in summary
    at.button(key="cp_save").click()
    at.run()
    assert any("Saved georeference v1" in t for t in _texts(at.success))
    saved = georefs.load_georef(proj, record.id)
    assert saved.version == 1 and saved.author == "alice" and saved.georef.gcps.n_enabled == 4
    assert np.allclose(saved.georef.pixel_to_world(np.array([[100.0, 100.0]])), [_truth_world(100, 100)], atol=0.01)
    # a second session edits from v1 while this one saves v2 first
    other = _open("control_points", author="bob")
    at.button(key="cp_save").click()
    at.run()
    other.button(key="cp_save").click()
    other.run()
    assert any("saved as v2 by alice" in t for t in _texts(other.error))
    assert georefs.load_georef(proj, record.id).version == 2


def test_geocoding_page_shows_results_and_fixes_a_row(project):
    pytest.importorskip("jadis.geocode.geocoder", reason="the geocoder is not in this checkout yet")
    proj, record = project
    georefs.save_georef(proj, record.id, _sample_georef(), base_version=0)
    at = _open("geocoding")
    csv = "nom;adresse\nDupont;12 rue de Charonne\nX;rue qui n'existe pas du tout\n".encode("cp1252")
    at.file_uploader(key="geo_upload").upload("liste ../../x.csv", csv, "text/csv")
    at.run()
    at.selectbox(key="geo_addr_col").set_value("adresse")
    at.button(key="geo_run").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Geocoded 2 addresses" in t for t in _texts(at.success)), _texts(at.error)
    at.selectbox(key="geo_fix_row").set_value(1)
    at.run()
    fx = next(n for n in at.number_input if n.key.startswith("geo_fx_"))
    fy = next(n for n in at.number_input if n.key.startswith("geo_fy_"))
    fx.set_value(651100.0)
    fy.set_value(6861900.0)
    at.button(key="geo_fix_save").click()
    at.run()
    assert any("placed by hand" in t for t in _texts(at.success)), _texts(at.error)
    rows = pyogrio.read_dataframe(proj.gpkg_path, layer="geocode_results_current")
    fixed = rows[rows["row"] == 1].iloc[0]
    assert fixed["match_type"] == "manual" and fixed["author"] == "alice" and fixed["version"] == 2
    assert (fixed.geometry.x, fixed.geometry.y) == (651100.0, 6861900.0)
    assert (proj.root / "exports").glob("geocoded_*.csv")


def _sample_georef():
    from jadis.georef.gcps import GcpSet
    from jadis.georef.georeference import Georeference

    px = np.array([[30, 30], [560, 40], [550, 420], [40, 400]], float)
    world = np.array([_truth_world(x, y) for x, y in px])
    return Georeference(GcpSet(px, world, "EPSG:2154"), "polynomial1", image_size=(W, H))


def test_export_page_writes_files(project):
    pytest.importorskip("jadis.vectorize.layers", reason="the vectorizer is not in this checkout yet")
    proj, record = project
    georefs.save_georef(proj, record.id, _sample_georef(), base_version=0)
    at = _open("export")
    at.button(key="exp_go").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    out = proj.root / "exports"
    assert (out / "App_test.qgz").exists() and (out / "sample_map_cog.tif").exists()
    assert any(".qgz" in t for t in _texts(at.markdown))


def test_password_gate(project, monkeypatch):
    monkeypatch.setenv("JADIS_APP_PASSWORD", "s3cret")
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.title or at.title[0].value == "jadis"
    assert not any(t.value == "Maps" for t in at.title)
    at.text_input[0].set_value("wrong")
    at.button[0].click()
    at.run()
    assert any("Wrong password" in t for t in _texts(at.error))
    at.text_input[0].set_value("s3cret")
    at.button[0].click()
    at.run()
    assert any(t.value == "Maps" for t in at.title)


def test_errors_are_one_line_and_never_tracebacks(project):
    proj, record = project
    record.path.unlink()  # the scan disappeared from disk
    at = _open()
    at.switch_page("views/segmentation.py")
    at.run()
    assert not at.exception
    errors = _texts(at.error)
    assert errors and "scan file" in errors[0] and "missing" in errors[0] and "\n" not in errors[0]
    assert "Traceback" not in " ".join(errors)


def test_maps_page_segments_selected_maps(project, tmp_path, monkeypatch):
    pytest.importorskip("segmentation_models_pytorch")
    from jadis.segment.model import ModelArch, build_model, save_checkpoint

    proj, first = project
    arch = ModelArch(decoder_channels=(16, 16, 16, 8, 8), extra={"input_scale": 0.5})
    (tmp_path / "ckpt").mkdir()
    save_checkpoint(tmp_path / "ckpt" / "jadis-unet-v1.pt", build_model(arch), arch)
    monkeypatch.setenv("JADIS_CHECKPOINTS", str(tmp_path / "ckpt"))
    image, _ = write_sample(tmp_path / "more", 300, 200, seed=3, name="unsegmented")
    second = maps.add_map(proj, image)
    at = _open()
    at.multiselect(key="run_maps").set_value([first.id, second.id])
    at.run()
    next(b for b in at.button if b.label == "Segment").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Segmented 'unsegmented'" in t for t in _texts(at.success)), _texts(at.error)
    assert any("already segmented" in t for t in _texts(at.info))
    assert maps.get_map(proj, second.id).status == "segmented"
    assert {s.version for s in tiles.tile_states(proj, first.id).values()} == {1}  # left alone


class _FakeAuto:
    """Stands in for jadis.georef.auto (tested in its own room): records its input, returns a known fit."""

    def __init__(self) -> None:
        self.inputs: list = []

    def __call__(self, map_input, reference, options=None, progress=True, scan=None, neighbours=None, **_):
        self.inputs.append((map_input, reference))
        self.scans = [*getattr(self, "scans", []), scan]
        self.neighbours = [*getattr(self, "neighbours", []), neighbours]
        georef = _sample_georef()

        class Result:
            pass

        result = Result()
        result.georef = georef
        result.summary = lambda: {"confidence": 0.93, "cv_error_m": 1.4}
        return result


def test_automatic_alignment_suggests_points_and_georeferences_from_the_maps_page(project, monkeypatch):
    auto = pytest.importorskip("jadis.georef.auto", reason="automatic georeferencing not in this checkout yet")
    from jadis.georef.auto_inputs import MapRoads

    proj, record = project
    fake = _FakeAuto()
    monkeypatch.setattr(auto, "auto_georeference", fake)
    # a correction first: the alignment must use the corrected streets, not the raw segmentation
    corrections.save_correction(proj, record.id, [corrections.rectangle_edit(100, 100, 140, 300, 1)],
                                {k: s.version for k, s in tiles.tile_states(proj, record.id).items()})
    at = _open("control_points")
    at.button(key="cp_auto").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("4 suggested points" in t and "confidence 0.93" in t for t in _texts(at.markdown)), _texts(at.error)
    map_input, _ = fake.inputs[0]
    assert isinstance(map_input, MapRoads) and map_input.kind == "classes"
    assert (map_input.mask == (tiles.read_classes(proj, record.id) == 1)).all()
    assert fake.scans[0] == record.path   # the printed grid is looked for on the scan
    assert fake.neighbours == [None]   # the only map of the project: no neighbours
    at.button(key="cp_use_auto").click()
    at.run()
    assert any("on 4 of 4 points" in t for t in _texts(at.markdown))

    at = _open()
    at.multiselect(key="run_maps").set_value([record.id])
    at.run()
    next(b for b in at.button if b.label == "Auto-georeference").click()
    at.run()
    assert any("georeference v1 saved" in t for t in _texts(at.success)), _texts(at.error)
    saved = georefs.load_georef(proj, record.id)
    assert saved.source == "auto" and saved.author == "alice"


def test_tile_by_tile_review_with_accept_next(project):
    proj, record = project
    at = _open("segmentation")
    assert at.number_input(key=f"seg_tx_{record.id}").value == 0
    at.button(key="seg_accept_next").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert tiles.tile_states(proj, record.id)[(0, 0)].decision == "accepted"
    assert at.number_input(key=f"seg_tx_{record.id}").value == 1  # moved to the next tile to review
    at.button(key="seg_next").click()
    at.run()
    assert at.number_input(key=f"seg_tx_{record.id}").value == 1  # (1, 0) is the only one left
    at.button(key="seg_accept_next").click()
    at.run()
    at.button(key="seg_next").click()
    at.run()
    assert any("Every tile of this map has been reviewed" in t for t in _texts(at.info))
    assert maps.get_map(proj, record.id).status == "validated"


def _read_names_by_hand(proj, record):
    """A name reading stored directly (OCR is tested in its own room): one street of three segments,
    the last read with low confidence, and an unnamed cross street."""
    import geopandas as gpd
    import shapely

    from jadis.project import names

    lines = [shapely.LineString([(50, 100), (250, 100)]), shapely.LineString([(250, 100), (450, 100)]),
             shapely.LineString([(450, 100), (550, 100)]), shapely.LineString([(300, 150), (300, 400)])]
    streets = gpd.GeoDataFrame({"street_id": [0, 1, 2, 3], "width_px": [20.0] * 4,
                                "name": ["Rue de la Harpe"] * 3 + [None], "name_score": [0.95, 0.9, 0.4, None],
                                "name_from": ["label", "continued", "label", None]}, geometry=lines)
    return names.save_name_run(proj, record.id, {"streets": streets}, author="ocr")


def _street_names(proj, record) -> dict:
    from jadis.project import names

    frame = names.current_names(proj, record.id)
    return {int(s): (n if isinstance(n, str) else None) for s, n in zip(frame["street_id"], frame["name"], strict=True)}


def test_segmentation_page_shows_street_names_and_corrects_them(project):
    from jadis.project import names

    proj, record = project
    _read_names_by_hand(proj, record)
    at = _open("segmentation")
    assert any("3 of 4 street segments named" in t for t in _texts(at.caption)), _texts(at.caption)
    table = next(d.value for d in at.dataframe if "doubtful" in d.value.columns)
    assert table.set_index("name").loc["Rue de la Harpe", "doubtful"]  # a low-confidence name is flagged
    street = at.selectbox(key=f"seg_street_{record.id}")
    assert "⚠ doubtful" in street.format_func(2) and "(no name)" in street.format_func(3)
    # walk to the doubtful name and rename it
    at.button(key="seg_names_next_low").click()
    at.run()
    assert at.selectbox(key=f"seg_street_{record.id}").value == 2
    name_box = next(t for t in at.text_input if t.key.startswith(f"seg_street_name_{record.id}_"))
    assert name_box.value == "Rue de la Harpe"
    name_box.set_value("Rue de la Huchette")
    at.run()
    at.button(key="seg_name_save").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Saved name correction" in t for t in _texts(at.success)), _texts(at.error)
    assert _street_names(proj, record)[2] == "Rue de la Huchette"
    # name the unnamed segment, picked by clicking near it on the map
    at.radio(key="seg_mode").set_value("Select street")
    at.run()
    at.session_state["seg_viewer"] = {"event": {"id": 42, "type": "click", "x": 304.0, "y": 300.0}}
    at.run()
    assert at.selectbox(key=f"seg_street_{record.id}").value == 3
    next(t for t in at.text_input if t.key.startswith(f"seg_street_name_{record.id}_")).set_value("Rue Galande")
    at.run()
    at.button(key="seg_name_save").click()
    at.run()
    assert _street_names(proj, record) == {0: "Rue de la Harpe", 1: "Rue de la Harpe", 2: "Rue de la Huchette",
                                           3: "Rue Galande"}
    # rename every segment of a name, then undo it
    at.selectbox(key=f"seg_rename_from_{record.id}").set_value("Rue de la Harpe")
    at.text_input(key=f"seg_rename_to_{record.id}").set_value("Rue de la Vieille-Harpe")
    at.run()
    at.button(key="seg_rename_all").click()
    at.run()
    assert [_street_names(proj, record)[i] for i in (0, 1)] == ["Rue de la Vieille-Harpe"] * 2
    at.button(key="seg_names_undo").click()
    at.run()
    assert any("Undid #" in t for t in _texts(at.success)), _texts(at.error)
    assert [_street_names(proj, record)[i] for i in (0, 1)] == ["Rue de la Harpe"] * 2
    # remove a wrong name
    at.selectbox(key=f"seg_street_{record.id}").set_value(3)
    at.run()
    at.button(key="seg_name_remove").click()
    at.run()
    assert _street_names(proj, record)[3] is None
    history = corrections.list_corrections(proj, record.id, names.TARGET)
    assert len(history) == 5 and {c.author for c in history} == {"alice"} and {c.status for c in history} == {
        "applied"}
    assert any("History of name corrections" in t for t in _texts(at.markdown))


def test_street_name_conflict_on_the_page_and_reading_names_from_it(project, monkeypatch):
    import jadis.ocr.reader as ocr_reader
    from jadis.project import names

    proj, record = project
    run = _read_names_by_hand(proj, record)
    at = _open("segmentation")
    at.selectbox(key=f"seg_street_{record.id}").set_value(0)
    at.run()
    next(t for t in at.text_input if t.key.startswith(f"seg_street_name_{record.id}_")).set_value("Rue Galande")
    at.run()
    # bob renames the same segment meanwhile
    names.correct_names(proj, record.id, {0: "Rue Saint-Séverin"}, run_id=run.id, base_versions={0: 0}, author="bob")
    at.button(key="seg_name_save").click()
    at.run()
    assert not at.exception
    assert any("renamed by bob" in t and "NOT saved" in t for t in _texts(at.error)), _texts(at.error)
    assert _street_names(proj, record)[0] == "Rue Saint-Séverin"
    assert corrections.list_corrections(proj, record.id, names.TARGET)[0].status == "conflict"

    class FakeReader:  # the recogniser is tested in its own room
        def __init__(self, *args, **kwargs) -> None:
            pass

        def read(self, crop):
            return ocr_reader.Reading("RUE DE LA HARPE", 0.97, False)

    monkeypatch.setattr(ocr_reader, "LabelReader", FakeReader)
    at.button(key="seg_names_read").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Read the names" in t for t in _texts(at.success)), _texts(at.error)
    again = names.latest_run(proj, record.id)
    assert again.id > run.id and again.author == "alice" and again.n_segments > 0


def test_geocoding_page_uses_the_maps_corrected_street_names(project):
    pytest.importorskip("jadis.geocode.geocoder", reason="the geocoder is not in this checkout yet")
    from jadis.project import geocoding, names

    proj, record = project
    run = _read_names_by_hand(proj, record)
    names.correct_names(proj, record.id, {3: "Rue Pixelcourt"}, run_id=run.id, base_versions={3: 0}, author="alice")
    georefs.save_georef(proj, record.id, _sample_georef(), base_version=0)
    at = _open("geocoding")
    at.file_uploader(key="geo_upload").upload("a.csv", b"adresse\nrue Pixelcourt\n", "text/csv")
    at.run()
    assert at.multiselect(key="geo_maps").value == [record.id]
    at.button(key="geo_run").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    row = geocoding.results(proj, geocoding.list_runs(proj)[0].id).iloc[0]
    assert (row["matched_name"], row["gazetteer"]) == ("Rue Pixelcourt", "map_sample_map"), row["explanation"]
