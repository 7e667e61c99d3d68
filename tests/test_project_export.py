"""Georeferences in the project (versions, conflicts) and the GIS export (GeoPackage, COG, .qgz)."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from xml.etree import ElementTree as ET

import numpy as np
import pyogrio
import pytest
import rasterio

from jadis.errors import JadisError
from jadis.georef.gcps import GcpSet
from jadis.georef.georeference import Georeference
from jadis.project import georefs, maps, qgis, tiles
from jadis.project.corrections import ConflictError
from jadis.project.export import export_project
from jadis.project.sample import write_sample
from jadis.project.workspace import init_project

pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")

W, H = 640, 480


def _georef(noise: float = 0.0) -> Georeference:
    """A Lambert-93 georeference: 0.5 m per pixel near the Île de la Cité."""
    px = np.array([[20, 20], [600, 30], [610, 450], [30, 460], [320, 240], [150, 350]], float)
    world = np.column_stack([651000 + px[:, 0] * 0.5, 6862000 - px[:, 1] * 0.5])
    world[-1] += noise
    return Georeference(GcpSet(px, world, "EPSG:2154"), "polynomial1", image_size=(W, H))


@pytest.fixture()
def project(tmp_path):
    proj = init_project(tmp_path / "proj", name="Export test")
    image, classes = write_sample(tmp_path / "src", W, H)
    record = maps.add_map(proj, image, author="alice")
    tiles.import_class_raster(proj, record.id, classes, author="alice")
    return proj, record


def test_georef_versions_and_conflict(project):
    proj, record = project
    assert georefs.load_georef(proj, record.id) is None
    v1 = georefs.save_georef(proj, record.id, _georef(), base_version=0, author="alice")
    v2 = georefs.save_georef(proj, record.id, _georef(3.0).with_transform("helmert"), base_version=v1, author="bob")
    assert (v1, v2) == (1, 2)
    latest = georefs.load_georef(proj, record.id)
    assert latest.version == 2 and latest.georef.transform == "helmert" and latest.author == "bob"
    assert georefs.load_georef(proj, record.id, 1).georef.transform == "polynomial1"
    with pytest.raises(ConflictError, match="saved as v2 by bob") as info:
        georefs.save_georef(proj, record.id, _georef(9.0), base_version=1, author="carol")
    kept = georefs.refused_georef(proj, info.value.correction_id)
    assert np.allclose(kept.gcps.world, _georef(9.0).gcps.world)
    assert georefs.load_georef(proj, record.id).version == 2  # nothing overwritten
    current = pyogrio.read_dataframe(proj.gpkg_path, layer="control_points_current")
    assert len(current) == 6 and set(current["version"]) == {2}
    every = pyogrio.read_dataframe(proj.gpkg_path, layer="control_points")
    assert len(every) == 12
    assert np.allclose(current.geometry.x, current["world_x"])  # project CRS = GCP CRS here
    assert maps.get_map(proj, record.id).status == "georeferenced"


def test_georef_for_another_image_or_too_few_points_is_refused(project):
    proj, record = project
    wrong = Georeference(_georef().gcps, "polynomial1", image_size=(100, 100))
    with pytest.raises(JadisError, match="image size mismatch"):
        georefs.save_georef(proj, record.id, wrong, base_version=0)
    few = Georeference(_georef().gcps.subset([0, 1, 2]), "polynomial2", image_size=(W, H))
    with pytest.raises(JadisError):
        georefs.save_georef(proj, record.id, few, base_version=0)


def test_export_writes_gpkg_cogs_and_a_qgis_project(project, tmp_path):
    pytest.importorskip("jadis.vectorize.layers", reason="the vectorizer is not in this checkout yet")
    proj, record = project
    georefs.save_georef(proj, record.id, _georef(), base_version=0)
    out = tmp_path / "out"
    report = export_project(proj, out)
    names = {p.name for p in report.files}
    assert {"sample_map_cog.tif", "sample_map_classes.tif", "sample_map_classes_cog.tif", "Export_test.gpkg",
            "Export_test.qgz"} <= names
    layers = dict(pyogrio.list_layers(out / "Export_test.gpkg"))
    for name in ("sample_map_blocks", "sample_map_streets", "sample_map_labels", "control_points", "maps",
                 "corrections"):
        assert name in layers
    blocks = pyogrio.read_dataframe(out / "Export_test.gpkg", layer="sample_map_blocks")
    assert blocks.crs.to_epsg() == 2154 and len(blocks) >= 5
    minx, miny, maxx, maxy = blocks.total_bounds
    assert minx >= 651000 and maxx <= 651000 + W * 0.5 + 1
    assert miny >= 6862000 - H * 0.5 - 1 and maxy <= 6862000
    with rasterio.open(out / "sample_map_classes_cog.tif") as ds:
        assert ds.crs.to_epsg() == 2154 and ds.count == 2  # classes + alpha
        values = set(np.unique(ds.read(1)))
        assert values <= {0, 1, 2, 3}  # nearest resampling keeps class ids
    with rasterio.open(out / "sample_map_classes.tif") as ds:
        assert (ds.width, ds.height) == (W, H)
    qlayers = qgis.read_qgz_layers(out / "Export_test.qgz")
    by_name = {q["name"]: q for q in qlayers}
    assert by_name["sample_map blocks"]["datasource"] == "Export_test.gpkg|layername=sample_map_blocks"
    assert by_name["sample_map (classes)"]["provider"] == "gdal"
    assert by_name["control points"]["type"] == "vector"
    for q in qlayers:  # every data source exists next to the project file
        assert (out / q["datasource"].split("|")[0]).exists(), q


def test_export_of_a_map_without_georeference_stays_in_pixels(project, tmp_path):
    pytest.importorskip("jadis.vectorize.layers", reason="the vectorizer is not in this checkout yet")
    proj, _ = project
    report = export_project(proj, tmp_path / "out")
    assert not any(p.name.endswith("_cog.tif") for p in report.files)
    blocks = pyogrio.read_dataframe(tmp_path / "out" / "Export_test.gpkg", layer="sample_map_blocks")
    assert blocks.crs is None and blocks.total_bounds[2] <= W


def test_qgz_is_valid_xml_with_class_styles(tmp_path):
    layers = [qgis.QgisLayer("blocks", "a.gpkg", "vector", layer="blocks", geometry="Polygon", style="blocks"),
              qgis.QgisLayer("classes", "c.tif", "raster", style="classes")]
    path = qgis.write_qgz(tmp_path / "p.qgz", "P", layers, crs_authid="EPSG:2154")
    with zipfile.ZipFile(path) as zf:
        assert zf.namelist() == ["p.qgs"]
        root = ET.fromstring(zf.read("p.qgs"))
    assert root.tag == "qgis"
    fill = root.find(".//maplayer[@type='vector']//layer[@class='SimpleFill']/Option")
    colors = {o.get("name"): o.get("value") for o in fill}
    assert colors["color"].startswith("200,70,60")  # the block class colour
    palette = root.findall(".//rasterrenderer[@type='paletted']/colorPalette/paletteEntry")
    assert [(p.get("value"), p.get("label")) for p in palette] == [("0", "other"), ("1", "street"), ("2", "block"),
                                                                   ("3", "text")]
    assert root.find(".//properties/Paths/Absolute").text == "false"


@pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="GDAL command-line tools (gdal-bin) not installed")
def test_project_geopackage_opens_in_gdal_tools(project):
    proj, _ = project
    out = subprocess.run(["ogrinfo", "-ro", "-so", str(proj.gpkg_path)], capture_output=True, text=True, check=True)
    assert "seg_edits (Multi Polygon)" in out.stdout and "control_points_current (Point)" in out.stdout


def test_the_sheets_already_aligned_of_the_same_size_are_a_maps_neighbours(project, tmp_path):
    from jadis.project.runs import aligned_neighbours

    proj, record = project
    image2, _ = write_sample(tmp_path / "src2", W, H, seed=2)
    other = maps.add_map(proj, image2, author="alice")
    big, _ = write_sample(tmp_path / "src3", 3 * W, 3 * H, seed=3)
    plan = maps.add_map(proj, big, author="alice")
    assert aligned_neighbours(proj, maps.get_map(proj, other.id)) == []    # nothing aligned yet
    georefs.save_georef(proj, record.id, _georef(), base_version=0, author="alice")
    px = np.array([[0, 0], [3 * W, 0], [0, 3 * H], [3 * W, 3 * H]], float)
    georefs.save_georef(proj, plan.id, Georeference(GcpSet(px, px * [2.0, -2.0] + [650000, 6864000], "EPSG:2154"),
                                                    "polynomial1", image_size=(3 * W, 3 * H)),
                        base_version=0, author="alice")
    found = aligned_neighbours(proj, maps.get_map(proj, other.id))
    assert len(found) == 1 and found[0].image_size == (W, H)   # the sheet, not the plan of another size
    assert aligned_neighbours(proj, maps.get_map(proj, record.id)) == []   # itself excluded; the plan differs
