"""GCP / georeference formats: QGIS .points, Allmaps annotations, GDAL VRT/GeoTIFF, CSV.

The Allmaps files of ../shared are not shippable, so the annotations here are generated in the
same structure (AnnotationPage with one or several items, pixelCoords, SVG selector); the full
~450-file round trip on the real files is benchmarks/georef_roundtrip.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from jadis.errors import JadisError
from jadis.georef.crs import parse_crs, to_wgs84
from jadis.georef.formats import read_gcps, write_gcps
from jadis.georef.formats.allmaps import read_annotation, read_annotations, write_annotations
from jadis.georef.formats.qgis_points import parse_points, read_points, write_points
from jadis.georef.gcps import GcpSet
from jadis.georef.georeference import Georeference

RNG = np.random.default_rng(3)


def _gcps(n: int = 12, crs: str = "EPSG:2154", disabled: int | None = None) -> GcpSet:
    px = RNG.uniform(0, 3000, (n, 2)).round(2)
    world = np.column_stack([651000 + 0.4 * px[:, 0], 6862000 - 0.4 * px[:, 1]]) + RNG.normal(0, 0.5, (n, 2))
    enabled = np.ones(n, bool)
    if disabled is not None:
        enabled[disabled] = False
    return GcpSet(px, world, crs, enabled, ids=[f"g{i}" for i in range(n)])


def _same(a: GcpSet, b: GcpSet, world_tol: float = 1e-6) -> None:
    assert np.allclose(a.pixel, b.pixel, atol=1e-6)
    assert np.allclose(a.world, b.world, atol=world_tol)
    assert list(a.enabled) == list(b.enabled)


# -- QGIS .points --------------------------------------------------------------------------------
def test_points_round_trip_with_negative_y(tmp_path):
    g = _gcps(disabled=4)
    p = write_points(tmp_path / "a.points", g)
    text = p.read_text()
    assert text.startswith("#CRS: ") and "mapX,mapY,sourceX,sourceY,enable,dX,dY,residual" in text
    first = text.splitlines()[2].split(",")
    assert float(first[3]) == pytest.approx(-g.pixel[0, 1])  # QGIS stores -row
    back = read_points(p)
    _same(g, back)
    assert back.crs == g.crs


def test_points_variants_and_crs_override():
    # old QGIS: no #CRS, no enable column -> needs a CRS
    old = "mapX,mapY,sourceX,sourceY\n-1000,3000,3340.15,-3533.5\n0,3000,5712.5,-3541.9\n0,4000,5721.0,-1166.5\n"
    with pytest.raises(JadisError, match="no #CRS header"):
        parse_points(old)
    g = parse_points(old, crs="ATLAS-MUN")
    assert g.pixel[0].tolist() == [3340.15, 3533.5] and g.enabled.all()
    # a wrong header (the Verniquet trap) is overridden by the caller's CRS
    wrong = "#CRS: " + parse_crs("EPSG:3857").to_wkt() + "\nmapX,mapY,sourceX,sourceY,enable\n" + \
        "2000,3000,322.1,-490.3,1\n2200,3000,3800.7,-497.8,0\n2400,3200,7259.9,-100.8,1\n"
    assert parse_points(wrong).crs.to_epsg() == 3857
    g = parse_points(wrong, crs="VERNIQUET-toise")
    assert g.crs == parse_crs("VERNIQUET-toise") and g.enabled.tolist() == [True, False, True]


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("mapX,mapY,sourceX\n1,2,3\n", "missing column 'sourcey'"),
    ("mapX,mapY,sourceX,sourceY\n", "no GCPs"),
    ("mapX,mapY,sourceX,sourceY\n1,2,abc,4\n", "line 2 is not numeric"),
    ("#CRS: nonsense\nmapX,mapY,sourceX,sourceY\n1,2,3,-4\n", "cannot parse the #CRS header"),
])
def test_points_malformed(text, message):
    with pytest.raises(JadisError, match=message):
        parse_points(text)


# -- Allmaps annotations -----------------------------------------------------------------------------
def _allmaps_item(g: GcpSet, transformation: dict, size=(5882, 4846), ident="x", key="pixelCoords") -> dict:
    lonlat = to_wgs84(g.world, g.crs)
    return {
        "type": "Annotation", "id": ident, "motivation": "georeferencing",
        "@context": ["http://www.w3.org/ns/anno.jsonld"],
        "target": {"type": "Image", "source": f"https://iiif.example.org/iiif/3/{ident}.jpg/full/max/0/default.jpg",
                   "service": [{"@id": f"https://iiif.example.org/iiif/3/{ident}.jpg", "type": "ImageService3"}],
                   "selector": {"type": "SvgSelector",
                                "value": f'<svg width="{size[0]}" height="{size[1]}"><polygon points="10,20 '
                                         f'5000,25 5010,4000 12,3990 10,20" /></svg>'}},
        "body": {"type": "FeatureCollection", "purpose": "gcp-georeferencing", "transformation": transformation,
                 "features": [{"type": "Feature", "properties": {key: [int(p[0]), int(p[1])]},
                               "geometry": {"type": "Point", "coordinates": [float(w[0]), float(w[1])]}}
                              for p, w in zip(g.pixel, lonlat, strict=True)]},
    }


def test_reads_allmaps_annotation_pages_like_the_real_files(tmp_path):
    g1, g2 = _gcps(9), _gcps(12)
    page = {"type": "AnnotationPage", "@context": ["http://www.w3.org/ns/anno.jsonld"],
            "items": [_allmaps_item(g1, {"type": "polynomial", "options": {"order": 2}}, ident="a"),
                      _allmaps_item(g2, {"type": "thinPlateSpline"}, ident="b", key="resourceCoords")]}
    f = tmp_path / "page.json"
    f.write_text(json.dumps(page))
    items = read_annotations(f)
    assert [i.transform for i in items] == ["polynomial2", "tps"]
    a = items[0]
    assert a.image_size == (5882, 4846) and a.image == "https://iiif.example.org/iiif/3/a.jpg"
    assert a.mask.shape == (4, 2)  # the closing vertex is dropped
    assert a.crs.to_epsg() == 3857  # WGS84 GCPs are fitted in Web Mercator, as the Allmaps viewer does
    assert np.allclose(to_wgs84(a.gcps.world, a.crs), to_wgs84(g1.world, g1.crs), atol=1e-9)
    with pytest.raises(JadisError, match="holds 2 georeferences"):
        read_annotation(f)
    assert read_annotation(f, index=1).transform == "tps"
    # write both back as a page and read again: same GCPs, transforms, sizes, masks, images
    out = write_annotations(tmp_path / "out.json", items)
    again = read_annotations(out)
    for x, y in zip(items, again, strict=True):
        _same(x.gcps, y.gcps)
        assert (x.transform, x.image_size, x.image) == (y.transform, y.image_size, y.image)
        assert np.allclose(x.mask, y.mask)


def test_georeference_save_load_keeps_crs_disabled_points_and_report(tmp_path):
    g = Georeference(_gcps(12, "VERNIQUET-m", disabled=3), "polynomial2", image_size=(3000, 3000),
                     mask=np.array([[0, 0], [3000, 0], [3000, 2900], [0, 3000]]), image="scan.jpg")
    path = g.save(tmp_path / "g.json")
    data = json.loads(path.read_text())
    assert data["type"] == "Annotation" and data["motivation"] == "georeferencing"
    assert len(data["body"]["features"]) == 11  # disabled GCPs are not given to other readers
    assert data["body"]["transformation"] == {"type": "polynomial", "options": {"order": 2}}
    assert data["jadis"]["crs"] == "VERNIQUET-m" and data["jadis"]["report"]["loo_rmse_m"] > 0
    assert "<svg width=\"3000\" height=\"3000\">" in data["target"]["selector"]["value"]
    h = Georeference.load(path)
    _same(g.gcps, h.gcps)
    assert h.crs == g.crs and h.image_size == g.image_size and h.image == "scan.jpg"
    q = np.array([[100.0, 200.0], [2500.0, 1500.0]])
    assert np.allclose(g.pixel_to_world(q), h.pixel_to_world(q))


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON"),
    ('{"type": "Feature"}', "not an Allmaps Georeference Annotation"),
    ('{"type": "AnnotationPage", "items": []}', "no items"),
    ('{"type": "Annotation", "body": {"features": []}}', "no GCP features"),
    ('{"type": "Annotation", "body": {"features": [{"properties": {}, "geometry": {"coordinates": [1, 2]}}]}}',
     "lacks pixelCoords"),
    ('{"type": "Annotation", "body": {"transformation": {"type": "polynomial", "options": {"order": 5}},'
     '"features": [{"properties": {"pixelCoords": [1, 2]}, "geometry": {"type": "Point", "coordinates": [2, 48]}}]}}',
     "order 5"),
])
def test_allmaps_malformed(tmp_path, content, message):
    f = tmp_path / "bad.json"
    f.write_text(content)
    with pytest.raises(JadisError, match=message):
        read_annotations(f)


# -- CSV ------------------------------------------------------------------------------------------------
def test_csv_round_trip_and_lenient_columns(tmp_path):
    g = _gcps(disabled=2)
    p = write_gcps(tmp_path / "g.csv", g)
    back = read_gcps(p)
    _same(g, back, world_tol=1e-4)
    assert back.ids == g.ids
    (tmp_path / "b.csv").write_text("name;col;row;lon;lat\na;10;20;2.35;48.85\nb;100;20;2.36;48.85\n")
    b = read_gcps(tmp_path / "b.csv")
    assert b.crs.is_geographic and b.pixel[1].tolist() == [100, 20] and b.ids == ("a", "b")
    (tmp_path / "c.csv").write_text("x,y,X,Y\n1,2,3,4\n")
    with pytest.raises(JadisError, match="CRS of the world columns is unknown"):
        read_gcps(tmp_path / "c.csv")
    assert read_gcps(tmp_path / "c.csv", crs="EPSG:2154").crs.to_epsg() == 2154


@pytest.mark.parametrize("content, message", [
    ("", "empty"),
    ("x,y,X,Y\n1,2,oops,4\n", "row 2: column 'X' is not a number"),
    ("a,b\n1,2\n", "missing pixel columns"),
    ("x,y,z\n1,2,3\n", "missing world columns"),
    ('x,y,X,Y\n1,2,3,4\n5,6,"7\n', "malformed CSV"),
])
def test_csv_malformed(tmp_path, content, message):
    f = tmp_path / "bad.csv"
    f.write_text(content)
    with pytest.raises(JadisError, match=message):
        read_gcps(f, crs="EPSG:2154")


# -- GDAL -------------------------------------------------------------------------------------------
@pytest.fixture()
def scan(tmp_path):
    path = tmp_path / "scan.png"
    Image.fromarray(RNG.integers(0, 255, (300, 400, 3), dtype=np.uint8)).save(path)
    return path


@pytest.mark.parametrize("suffix", [".vrt", ".tif"])
def test_gdal_gcps_round_trip(tmp_path, scan, suffix):
    px = np.array([[10, 20], [390, 30], [200, 280], [50, 250.5]])
    g = GcpSet(px, px * [0.5, -0.5] + [651000, 6862000], "EPSG:2154", ids=["a", "b", "c", "d"])
    out = write_gcps(tmp_path / f"g{suffix}", g, image=scan)
    back = read_gcps(out)
    _same(g, back)
    assert back.crs.to_epsg() == 2154
    if shutil.which("gdalinfo"):
        info = subprocess.run(["gdalinfo", str(out)], capture_output=True, text=True, check=True).stdout
        assert "GCP Projection" in info and "(390,30) -> (651195,6861985" in info


def test_gdal_without_gcps_is_an_error(tmp_path):
    import rasterio

    p = tmp_path / "plain.tif"
    with rasterio.open(p, "w", driver="GTiff", width=8, height=8, count=1, dtype="uint8") as ds:
        ds.write(np.zeros((1, 8, 8), np.uint8))
    with pytest.raises(JadisError, match="no GCPs"):
        read_gcps(p)


def test_unknown_suffix():
    with pytest.raises(JadisError, match="unknown GCP file type"):
        read_gcps("gcps.xyz")
