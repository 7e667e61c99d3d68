"""End to end in real headless Chromium: `jadis app` on the bundled sample, a correction painted with
the mouse lands in the GeoPackage; two users over the same region -> conflict, nothing lost; a
path-traversal upload stays in the project. Saves a screenshot of every page into docs/."""

from __future__ import annotations

import numpy as np
import pyogrio
import pytest
import shapely
from browser_support import SAMPLE_GCPS, VIEW_H, VIEW_W, open_page, screenshot, start_app

from jadis.project import corrections, georefs, render, tiles

pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")]

CANVAS = "canvas[data-testid=jadis-viewer-canvas]"


def _canvas_box(page, index: int = 0) -> dict:
    """Screen box of the ``index``-th viewer; a Streamlit rerun may replace the canvas element while
    we scroll to it ("not attached to the DOM"), so try again on the new one."""
    from playwright.sync_api import Error as PlaywrightError

    canvas = page.locator(CANVAS).nth(index)
    for attempt in range(5):
        try:
            canvas.wait_for(state="visible")
            canvas.scroll_into_view_if_needed()
            page.wait_for_timeout(500)
            box = canvas.bounding_box()
            if box is not None:
                return box
        except PlaywrightError:
            if attempt == 4:
                raise
        page.wait_for_timeout(1000)
    raise AssertionError("the map viewer never settled on the page")


def _to_screen(box: dict, u: float, v: float, width: int = VIEW_W, height: int = VIEW_H) -> tuple[float, float]:
    """Display pixel (u, v) of the viewer -> screen position (the canvas may be scaled by CSS)."""
    return box["x"] + u * box["width"] / width, box["y"] + v * box["height"] / height


def _brush(page, stroke: list[tuple[float, float]]) -> None:
    box = _canvas_box(page)
    page.mouse.move(*_to_screen(box, *stroke[0]))
    page.mouse.down()
    for u, v in stroke[1:]:
        page.mouse.move(*_to_screen(box, u, v), steps=4)
    page.mouse.up()


def _tool(page, name: str) -> None:
    """Pick the viewer tool ``name`` (Brush, Polygon) and wait until the viewer has it: a stroke made
    before the rerun reaches the canvas would be taken as a pan."""
    page.get_by_text(name, exact=True).click()
    page.locator(f"{CANVAS}[data-mode={name.lower()}]").first.wait_for(timeout=60_000)


def _choose(page, key: str, option: str) -> None:
    """Pick ``option`` in the select box with Streamlit key ``key``."""
    page.locator(f".st-key-{key} [data-testid=stSelectbox]").click()
    page.get_by_role("option", name=option, exact=True).click()


def _text(page, text: str, timeout: float = 60_000) -> None:
    """Wait for ``text``; on timeout fail with the messages the page shows."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.get_by_text(text).first.wait_for(timeout=timeout)
    except PlaywrightTimeout:
        alerts = page.locator("[data-testid=stAlert]").all_inner_texts()
        pytest.fail(f"{text!r} did not appear; the page shows: {alerts}")


def _stroke_in_map(record, stroke: list[tuple[float, float]]) -> np.ndarray:
    view = render.fit_view(record, VIEW_W, VIEW_H)
    return np.array([view.to_map(u, v) for u, v in stroke])


def test_maps_page_and_path_traversal_upload(browser, app_server):
    project = app_server["project"]
    page = open_page(browser, app_server, "", "alice")
    _text(page, "Thumbnails")
    page.locator("[data-testid=stExpander]").filter(has_text="Register scans").locator("summary").click()
    uploader = page.locator("[data-testid=stFileUploader] input[type=file]").first
    png = (project.root / "scans").glob("*.png").__next__().read_bytes()
    uploader.set_input_files([
        {"name": "../../../../tmp/evil_traversal.png", "mimeType": "image/png", "buffer": png[:-1] + b"\x01"},
        {"name": "not_an_image.png", "mimeType": "image/png", "buffer": b"MZ\x90\x00 definitely not a PNG"},
    ])
    page.get_by_role("button", name="Register uploaded scans").click()
    _text(page, "not_an_image.png: not a supported image")
    _text(page, "Registered 'evil_traversal'")
    scans = sorted(p.name for p in (project.root / "scans").iterdir())
    assert scans == ["atlas_municipal_1925_crop.png", "evil_traversal.png"]  # the name lost its folders
    for folder in (project.root.parent, project.root.parent.parent, project.root.parent.parent.parent):
        assert not (folder / "evil_traversal.png").exists()
    assert not any(p.name == "evil_traversal.png" for p in project.root.parent.rglob("*") if "scans" not in p.parts)
    screenshot(page, "app_maps.png")
    page.close()


def test_paint_a_correction_and_find_it_in_the_geopackage(browser, app_server):
    project, record = app_server["project"], app_server["record"]
    before = len(corrections.list_corrections(project, record.id))
    page = open_page(browser, app_server, "segmentation", "alice")
    _text(page, "Unsaved edits: 0")
    _choose(page, "seg_class", "text")
    page.wait_for_timeout(1500)
    _tool(page, "Brush")
    stroke = [(420.0 + 6 * i, 250.0 + 2 * i) for i in range(15)]
    _brush(page, stroke)
    _text(page, "Unsaved edits: 1")
    page.get_by_role("button", name="Save 1 edit(s)").click()
    _text(page, "Saved as correction #")
    screenshot(page, "app_segmentation.png")
    page.close()

    history = corrections.list_corrections(project, record.id)
    assert len(history) == before + 1
    saved = history[0]
    assert (saved.status, saved.author) == ("applied", "alice")
    edit = corrections.load_edits(project, saved.id)[0]
    assert edit.class_id == 3 and edit.tool == "brush"
    expected = _stroke_in_map(record, stroke)
    minx, miny, maxx, maxy = edit.geometry.bounds
    radius = 12  # the brush radius slider's default (map pixels)
    assert abs(minx - (expected[:, 0].min() - radius)) < 8 and abs(maxx - (expected[:, 0].max() + radius)) < 8
    assert abs(miny - (expected[:, 1].min() - radius)) < 8 and abs(maxy - (expected[:, 1].max() + radius)) < 8
    cx, cy = expected.mean(axis=0).round().astype(int)
    assert tiles.read_classes(project, record.id, (cx - 2, cy - 2, 5, 5)).min() == 3
    layer = pyogrio.read_dataframe(project.gpkg_path, layer="seg_edits")
    assert (layer["correction_id"] == saved.id).sum() == 1 and layer[layer["correction_id"] == saved.id].iloc[0][
        "author"] == "alice"


def test_polygon_tool_and_undo(browser, app_server):
    project, record = app_server["project"], app_server["record"]
    page = open_page(browser, app_server, "segmentation", "alice")
    _text(page, "Unsaved edits: 0")
    _choose(page, "seg_class", "block")
    page.wait_for_timeout(1500)
    _tool(page, "Polygon")
    corners = [(600.0, 120.0), (700.0, 130.0), (690.0, 220.0), (610.0, 200.0)]

    def draw() -> None:
        box = _canvas_box(page)
        for u, v in corners[:-1]:
            page.mouse.click(*_to_screen(box, u, v))
            page.wait_for_timeout(150)
        page.mouse.dblclick(*_to_screen(box, *corners[-1]))

    draw()
    _text(page, "Unsaved edits: 1")
    page.get_by_role("button", name="Undo").click()
    _text(page, "Unsaved edits: 0")
    draw()
    _text(page, "Unsaved edits: 1")
    page.get_by_role("button", name="Save 1 edit(s)").click()
    _text(page, "Saved as correction #")
    page.close()
    saved = corrections.list_corrections(project, record.id)[0]
    edit = corrections.load_edits(project, saved.id)[0]
    assert (edit.tool, edit.class_id, saved.author) == ("polygon", 2, "alice")
    expected = _stroke_in_map(record, corners)
    assert edit.geometry.area == pytest.approx(shapely.Polygon(expected).area, rel=0.05)
    cx, cy = expected.mean(axis=0).round().astype(int)
    assert tiles.read_classes(project, record.id, (cx, cy, 1, 1))[0, 0] == 2


def test_two_users_over_the_same_region_conflict_and_nothing_is_lost(browser, app_server):
    project, record = app_server["project"], app_server["record"]
    carol = open_page(browser, app_server, "segmentation", "carol")
    bob = open_page(browser, app_server, "segmentation", "bob")
    for page in (carol, bob):
        _text(page, "Unsaved edits: 0")
        _tool(page, "Brush")
    _brush(carol, [(200.0 + 5 * i, 420.0) for i in range(10)])
    _text(carol, "Unsaved edits: 1")
    _brush(bob, [(210.0, 400.0 + 4 * i) for i in range(10)])
    _text(bob, "Unsaved edits: 1")
    carol.get_by_role("button", name="Save 1 edit(s)").click()
    _text(carol, "Saved as correction #")
    bob.get_by_role("button", name="Save 1 edit(s)").click()
    _text(bob, "changed by carol")
    message = bob.locator("[data-testid=stAlert]").filter(has_text="conflict").first.inner_text()
    assert "NOT applied" in message and "kept as correction" in message
    _text(bob, "Unsaved edits: 1")  # his edit is still on screen
    history = corrections.list_corrections(project, record.id)
    assert (history[0].author, history[0].status) == ("bob", "conflict")
    assert (history[1].author, history[1].status) == ("carol", "applied")
    assert len(corrections.load_edits(project, history[0].id)) == 1  # bob's stroke is stored
    # bob takes the latest version and saves again: both corrections are now in the map
    bob.get_by_role("button", name="Reload latest (keep my unsaved edits)").click()
    bob.wait_for_timeout(1500)
    bob.get_by_role("button", name="Save 1 edit(s)").click()
    _text(bob, "Saved as correction #")
    latest = corrections.list_corrections(project, record.id)[0]
    assert (latest.author, latest.status) == ("bob", "applied")
    carol.close()
    bob.close()


def test_street_names_on_the_segmentation_page_renamed_by_clicking_a_street(browser, app_server):
    from jadis.project import names

    project, record = app_server["project"], app_server["record"]
    run = names.latest_run(project, record.id)
    assert run is not None and run.n_segments > 0
    frame = names.current_names(project, record.id)
    seg = frame.loc[frame.geometry.length.idxmax()]  # the longest segment: easy to click
    sid = int(seg["street_id"])
    mid = seg.geometry.interpolate(0.5, normalized=True)
    page = open_page(browser, app_server, "segmentation", "alice")
    _text(page, f"of {run.n_segments} street segments named")
    page.get_by_text("Select street", exact=True).click()
    page.wait_for_timeout(2500)  # the rerun that switches the tool
    u, v = render.fit_view(record, VIEW_W, VIEW_H).to_display(mid.x, mid.y)
    page.mouse.click(*_to_screen(_canvas_box(page), u, v))
    _text(page, f"Segment #{sid}:")
    box = page.locator(f".st-key-seg_street_name_{record.id}_{run.id}_{sid} input")
    box.fill("Rue de la Cité-Essai")
    box.press("Enter")
    page.wait_for_timeout(1500)
    page.get_by_role("button", name="Save name").click()
    _text(page, "Saved name correction #")
    _text(page, "History of name corrections")
    screenshot(page, "app_street_names.png", height=2300)
    page.close()
    now = names.current_names(project, record.id)
    row = now[now["street_id"] == sid].iloc[0]
    assert (row["name"], row["corrected_by"], row["version"]) == ("Rue de la Cité-Essai", "alice", 1)
    layer = pyogrio.read_dataframe(project.gpkg_path, layer="map_streets_current")
    assert layer.loc[layer["street_id"] == sid, "name"].iloc[0] == "Rue de la Cité-Essai"


def test_control_points_geocoding_and_export_pages(browser, app_server, tmp_path):
    project, record = app_server["project"], app_server["record"]
    page = open_page(browser, app_server, "control_points", "alice")
    _text(page, "Modern reference")
    page.locator("[data-testid=stExpander]").filter(has_text="Suggestions and files").locator("summary").click()
    page.locator("[data-testid=stFileUploader] input[type=file]").first.set_input_files(str(SAMPLE_GCPS))
    page.get_by_role("button", name="Import (replaces the table)").click()
    _text(page, "Imported 9 points")
    _text(page, "leave-one-out RMSE")
    # one more point by clicking: on the old map, then on the reference where the fit predicts it
    box = _canvas_box(page, 0)
    page.mouse.click(*_to_screen(box, 320, 250, 640, 500))
    _text(page, "now click its partner")
    page.wait_for_timeout(1500)
    rbox = _canvas_box(page, 1)
    page.mouse.click(*_to_screen(rbox, 320, 250, 640, 500))  # the reference view was centred on the prediction
    _text(page, "Added point 10")
    page.get_by_role("button", name="Save as version 1").click()
    _text(page, "Saved georeference v1")
    screenshot(page, "app_control_points.png")
    page.close()
    saved = georefs.load_georef(project, record.id)
    assert saved.version == 1 and len(saved.georef.gcps) == 10 and saved.author == "alice"
    assert saved.rmse_m is not None and saved.rmse_m < 15

    csv = tmp_path / "adresses_1925.csv"
    csv.write_text("nom;adresse\nLibraire;5 rue des Lavandières-Sainte-Opportune\nCafé;12 place Dauphine\n"
                   "Fabricant;12 rue de Charonne\n"
                   "Inconnu;rue qui n'existe pas\n", encoding="utf-8")
    page = open_page(browser, app_server, "geocoding", "alice")
    page.locator("[data-testid=stFileUploader] input[type=file]").first.set_input_files(str(csv))
    _text(page, "4 rows")
    year = page.locator(".st-key-geo_year input")
    year.fill("1925")
    year.press("Enter")
    page.wait_for_timeout(1500)
    page.get_by_role("button", name="Geocode", exact=True).click()
    _text(page, "Geocoded 4 addresses")
    _text(page, "Row to place")
    # row 0's street is in no gazetteer with geometry (nor on the map, whose names the project read and
    # offers as a gazetteer): place it by clicking on the georeferenced 1925 map
    u, v = render.fit_view(record, 900, 560).to_display(250, 150)
    box = _canvas_box(page, 0)
    page.mouse.click(*_to_screen(box, u, v, 900, 560))
    page.wait_for_timeout(2000)
    page.get_by_role("button", name="Save the position of row 0").click()
    _text(page, "Row 0 placed by hand")
    screenshot(page, "app_geocoding.png")
    page.close()
    rows = pyogrio.read_dataframe(project.gpkg_path, layer="geocode_results_current")
    placed = rows[rows["row"] == 0].iloc[0]
    assert (placed["match_type"], placed["version"], placed["author"]) == ("manual", 2, "alice")
    expected = georefs.load_georef(project, record.id).georef.pixel_to_world(np.array([[250.0, 150.0]]))[0]
    assert np.hypot(placed.geometry.x - expected[0], placed.geometry.y - expected[1]) < 3  # metres

    page = open_page(browser, app_server, "export", "alice")
    page.get_by_role("button", name="Export", exact=True).click()
    _text(page, "Atlas_municipal_1925.qgz", timeout=180_000)
    screenshot(page, "app_export.png")
    page.close()
    out = project.root / "exports"
    assert (out / "Atlas_municipal_1925.qgz").exists() and (out / "Atlas_municipal_1925.gpkg").exists()
    assert (out / "atlas_municipal_1925_crop_cog.tif").exists()


def test_behind_a_login_proxy_corrections_are_signed_with_its_user_and_password_gate(browser, app_server):
    project, record = app_server["project"], app_server["record"]
    tmp = app_server["tmp"]
    secret = tmp / "password.txt"
    secret.write_text("correct horse\n")
    with start_app(project.root, "--author-header", "X-Remote-User", "--password-file", str(secret),
                   log_path=tmp / "app_proxy.log") as url:
        context = browser.new_context(viewport={"width": 1500, "height": 1000},
                                      extra_http_headers={"X-Remote-User": "dana.librarian"})
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(f"{url}/segmentation")
        password = page.get_by_label("Password", exact=True)
        password.fill("wrong")
        page.get_by_role("button", name="Enter").click()
        _text(page, "Wrong password")
        assert page.locator(CANVAS).count() == 0  # nothing shown before the password
        page.get_by_label("Password", exact=True).fill("correct horse")
        page.get_by_role("button", name="Enter").click()
        _text(page, "Signed in as dana.librarian")
        assert page.get_by_label("Your name (signs your corrections)").count() == 0
        _text(page, "Unsaved edits: 0")
        _tool(page, "Brush")
        _brush(page, [(300.0 + 4 * i, 150.0) for i in range(10)])
        _text(page, "Unsaved edits: 1")
        page.get_by_role("button", name="Save 1 edit(s)").click()
        _text(page, "Saved as correction #")
        context.close()
    latest = corrections.list_corrections(project, record.id)[0]
    assert (latest.author, latest.status) == ("dana.librarian", "applied")


def test_scan_to_exported_layers_in_the_app_alone(browser, tmp_path):
    """Upload -> segment -> review -> control points -> export, only through the browser."""
    from browser_support import SAMPLE

    from jadis.project import maps
    from jadis.project.workspace import init_project
    from jadis.segment.predictor import default_checkpoint

    project = init_project(tmp_path / "alone", name="From scan")
    env = {}
    if not default_checkpoint().exists():  # the shipped model is not here yet: an untrained stand-in
        pytest.importorskip("segmentation_models_pytorch")
        from jadis.segment.model import ModelArch, build_model, save_checkpoint

        arch = ModelArch(decoder_channels=(16, 16, 16, 8, 8), extra={"input_scale": 0.5})
        (tmp_path / "ckpt").mkdir()
        save_checkpoint(tmp_path / "ckpt" / "jadis-unet-v1.pt", build_model(arch), arch)
        env["JADIS_CHECKPOINTS"] = str(tmp_path / "ckpt")
    with start_app(project.root, log_path=tmp_path / "app.log", env=env) as url:
        server = {"url": url}
        page = open_page(browser, server, "", "alice")
        page.locator("[data-testid=stFileUploader] input[type=file]").first.set_input_files(str(SAMPLE))
        page.get_by_role("button", name="Register uploaded scans").click()
        _text(page, "Registered 'atlas_municipal_1925_crop'")
        page.wait_for_timeout(1500)
        chooser = page.locator(".st-key-run_maps input[role=combobox]")
        chooser.scroll_into_view_if_needed()
        chooser.click()
        page.get_by_role("option", name="atlas_municipal_1925_crop").click()
        page.keyboard.press("Escape")
        page.get_by_role("button", name="Segment", exact=True).click()
        _text(page, "Segmented 'atlas_municipal_1925_crop'", timeout=300_000)
        page.close()

        page = open_page(browser, server, "segmentation", "alice")
        _text(page, "4 to review")
        page.get_by_role("button", name="Accept the 4 tile(s) in view").click()
        _text(page, "4 tile(s) accepted")
        page.close()

        page = open_page(browser, server, "control_points", "alice")
        _text(page, "Type a point")
        page.locator("[data-testid=stExpander]").filter(has_text="Suggestions and files").locator("summary").click()
        page.locator("[data-testid=stFileUploader] input[type=file]").first.set_input_files(str(SAMPLE_GCPS))
        page.get_by_role("button", name="Import (replaces the table)").click()
        _text(page, "Imported 9 points")
        page.get_by_role("button", name="Save as version 1").click()
        _text(page, "Saved georeference v1")
        page.close()

        page = open_page(browser, server, "export", "alice")
        page.get_by_role("button", name="Export", exact=True).click()
        _text(page, "From_scan.qgz", timeout=300_000)
        page.close()
    record = maps.list_maps(project)[0]
    assert record.status == "georeferenced" and record.added_by == "alice"
    assert all(s.decision == "accepted" for s in tiles.tile_states(project, record.id).values())
    out = project.root / "exports"
    assert (out / "From_scan.qgz").exists() and (out / "atlas_municipal_1925_crop_cog.tif").exists()
    layers = dict(pyogrio.list_layers(out / "From_scan.gpkg"))
    assert "atlas_municipal_1925_crop_streets" in layers and "control_points" in layers
    assert "atlas_municipal_1925_crop_street_names" in layers  # segmenting read the names; they are exported
