"""Warping to a Cloud-Optimized GeoTIFF, applying georeferences to data, deformation maps."""

from __future__ import annotations

import shutil
import subprocess

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from PIL import Image

from jadis.errors import JadisError
from jadis.georef.apply import apply_layers, apply_points, apply_points_file
from jadis.georef.deformation import deformation_field, write_deformation
from jadis.georef.gcps import GcpSet
from jadis.georef.georeference import Georeference
from jadis.georef.warp import warp

W, H = 400, 300
RNG = np.random.default_rng(11)


@pytest.fixture()
def scan(tmp_path):
    """A 400 x 300 RGB 'map' with a distinctive pattern (so misplacement shows)."""
    yy, xx = np.mgrid[0:H, 0:W]
    img = np.stack([(xx * 255 // W), (yy * 255 // H), ((xx // 20 + yy // 20) % 2) * 200 + 30], -1).astype(np.uint8)
    path = tmp_path / "scan.png"
    Image.fromarray(img).save(path)
    return path, img


def _affine_georef(matrix, offset, transform="polynomial1", **kw) -> Georeference:
    px = np.array([[0, 0], [W, 0], [0, H], [W, H], [W / 2, H / 3]], float)
    world = px @ np.asarray(matrix, float).T + offset
    return Georeference(GcpSet(px, world, "EPSG:2154"), transform, image_size=(W, H), **kw)


def test_warp_north_up_identity_reproduces_the_scan(tmp_path, scan):
    path, img = scan
    g = _affine_georef([[0.5, 0], [0, -0.5]], [651000, 6862000])
    out = warp(path, g, tmp_path / "out.tif", resampling="nearest", progress=False)
    with rasterio.open(out) as ds:
        assert ds.crs.to_epsg() == 2154 and ds.count == 4
        assert (ds.width, ds.height) == (W, H)
        assert ds.transform.a == pytest.approx(0.5) and ds.transform.c == pytest.approx(651000)
        data = ds.read()
        assert ds.colorinterp[3].name == "alpha"
    assert np.array_equal(np.moveaxis(data[:3], 0, -1), img)
    assert (data[3] == 255).all()


def test_warp_rotated_map_and_bilinear(tmp_path, scan):
    path, img = scan
    # the map is drawn with north to the left: pixel +x goes south, pixel +y goes west
    g = _affine_georef([[0, -0.5], [-0.5, 0]], [651000, 6862000], transform="helmert")
    out = warp(path, g, tmp_path / "rot.tif", progress=False)
    with rasterio.open(out) as ds:
        assert (ds.width, ds.height) == (H, W)
        data = np.moveaxis(ds.read(), 0, -1)
    expected = np.rot90(img, k=-1)  # turn the scan so that north is up
    inner = (slice(2, -2), slice(2, -2))
    diff = np.abs(data[..., :3][inner].astype(int) - expected[inner].astype(int))
    assert np.median(diff) <= 1 and diff.mean() < 3


def test_warp_is_transparent_outside_the_content_polygon(tmp_path, scan):
    path, _ = scan
    mask = np.array([[0, 0], [W, 0], [0, H]])  # the upper-left triangle of the scan
    g = _affine_georef([[0.5, 0], [0, -0.5]], [651000, 6862000], mask=mask)
    out = warp(path, g, tmp_path / "m.tif", crs="EPSG:3857", progress=False)
    with rasterio.open(out) as ds:
        alpha = ds.read(4)
        assert ds.crs.to_epsg() == 3857
    h, w = alpha.shape
    assert alpha[8: h // 3, 8: w // 3].min() == 255  # (3857 is turned ~0.7 deg from L93)
    assert alpha[-h // 3:, -w // 3:].max() == 0


@pytest.mark.skipif(shutil.which("gdalinfo") is None, reason="gdalinfo (gdal-bin) is not installed")
def test_warp_output_is_a_valid_cog(tmp_path):
    big = tmp_path / "big.png"
    Image.fromarray(RNG.integers(0, 255, (1500, 1800, 3), dtype=np.uint8)).save(big)
    px = np.array([[0, 0], [1800, 0], [0, 1500], [1800, 1500], [900, 700], [300, 1200]], float)
    world = np.column_stack([651000 + 0.3 * px[:, 0] + 1e-5 * px[:, 1] ** 2, 6862000 - 0.3 * px[:, 1]])
    g = Georeference(GcpSet(px, world, "EPSG:2154"), "polynomial2", image_size=(1800, 1500))
    out = warp(big, g, tmp_path / "cog.tif", progress=False)
    info = subprocess.run(["gdalinfo", str(out)], capture_output=True, text=True, check=True).stdout
    assert "LAYOUT=COG" in info and "Overviews" in info and "Block=512x512" in info
    assert "ColorInterp=Alpha" in info
    assert not list(tmp_path.glob(".*part*"))  # no temporary files left


def test_a_bendy_spline_is_interpolated_on_a_finer_grid_not_evaluated_at_every_pixel():
    from rasterio.windows import Window

    from jadis.georef import warp as warp_mod

    rng = np.random.default_rng(5)
    px = rng.uniform(0, 2000, (300, 2))  # hundreds of jittered GCPs, as automatic georeferencing gives
    world = px * 0.4 + rng.normal(0, 1.0, px.shape)
    georef = Georeference(GcpSet(px, world, "EPSG:2154"), "tps", image_size=(2000, 2000))
    grid = warp_mod.warp_grid(georef, 2000, 2000)
    bmap = warp_mod._BackwardMap(georef, grid)
    win = Window(600, 600, 256, 256)
    assert bmap._interpolated(win, warp_mod.APPROX_STEP) is None  # too bendy for the 16 px grid
    calls: list[int] = []
    exact = bmap.exact
    bmap.exact = lambda c, r: calls.append(np.size(c)) or exact(c, r)
    mx, my = bmap.block(win)
    bmap.exact = exact
    tx, ty = bmap._exact_block(win)
    assert max(np.abs(mx - tx).max(), np.abs(my - ty).max()) <= 2 * warp_mod.APPROX_TOLERANCE_PX
    assert sum(calls) < 256 * 256 / 4  # a finer grid, not every pixel


def test_warp_bad_inputs(tmp_path, scan):
    path, _ = scan
    g = _affine_georef([[0.5, 0], [0, -0.5]], [651000, 6862000])
    with pytest.raises(JadisError, match="unknown resampling"):
        warp(path, g, tmp_path / "x.tif", resampling="magic", progress=False)
    small = tmp_path / "small.png"
    Image.fromarray(np.zeros((100, 100, 3), np.uint8)).save(small)
    with pytest.raises(JadisError, match="image size mismatch"):
        warp(small, g, tmp_path / "x.tif", progress=False)
    with pytest.raises(JadisError, match="unknown CRS"):
        warp(path, g, tmp_path / "x.tif", crs="EPSG:0", progress=False)
    assert not (tmp_path / "x.tif").exists()


# -- apply ----------------------------------------------------------------------------------------
def test_apply_points_forward_inverse_and_pass_through(tmp_path):
    g = _affine_georef([[0.5, 0], [0, -0.5]], [651000, 6862000])
    src = tmp_path / "in.csv"
    src.write_text('name,x,y,code\n"Rue de la Harpe, 12",10,20,007\nb,200.5,100,x\n')
    out = apply_points_file(g, src, tmp_path / "out.csv")
    df = pd.read_csv(out, dtype=str)
    assert df["name"].tolist() == ["Rue de la Harpe, 12", "b"] and df["code"].tolist() == ["007", "x"]
    assert float(df["X"][0]) == pytest.approx(651005) and float(df["Y"][0]) == pytest.approx(6861990)
    assert 2.3 < float(df["lon"][0]) < 2.4 and 48.8 < float(df["lat"][0]) < 48.9
    back = apply_points(g, df.drop(columns=["x", "y"]), inverse=True)
    assert np.allclose(back[["x", "y"]].astype(float).to_numpy(), [[10, 20], [200.5, 100]], atol=1e-4)
    l93 = apply_points(g, pd.DataFrame({"x": ["10"], "y": ["20"]}), crs="EPSG:3857")
    assert float(l93["X"][0]) > 200000  # Web Mercator easting of Paris ~ 261 km
    with pytest.raises(JadisError, match="needs pixel columns"):
        apply_points(g, pd.DataFrame({"a": ["1"]}))
    with pytest.raises(JadisError, match="not a number"):
        apply_points(g, pd.DataFrame({"x": ["1", "zz"], "y": ["1", "2"]}))


def test_apply_layers_to_world(tmp_path):
    from jadis.io.vector import write_layers

    g = _affine_georef([[0.5, 0], [0, -0.5]], [651000, 6862000], transform="tps")
    blocks = gpd.GeoDataFrame({"block_id": [1]}, geometry=[shapely.box(10, 10, 110, 60)])
    streets = gpd.GeoDataFrame({"street_id": [1]}, geometry=[shapely.LineString([(0, 100), (400, 100)])])
    src = tmp_path / "seg.gpkg"
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        write_layers(src, {"blocks": blocks, "streets": streets})
    out = apply_layers(g, src, tmp_path / "world.gpkg", crs="EPSG:2154")
    b = gpd.read_file(out, layer="blocks")
    s = gpd.read_file(out, layer="streets")
    assert b.crs.to_epsg() == 2154 and b["block_id"].tolist() == [1]
    assert b.geometry[0].is_valid and b.geometry[0].area == pytest.approx(100 * 50 * 0.25, rel=1e-3)
    assert s.geometry[0].length == pytest.approx(200, rel=1e-3)
    minx, miny, maxx, maxy = b.total_bounds
    assert minx == pytest.approx(651005, abs=1e-3) and maxy == pytest.approx(6861995, abs=1e-3)
    with pytest.raises(JadisError, match="already in world coordinates"):
        apply_layers(g, out, tmp_path / "again.gpkg")


# -- deformation -----------------------------------------------------------------------------------
def test_deformation_of_a_similarity_is_uniform_and_correct():
    a = np.deg2rad(30)
    m = 0.5 * np.array([[np.cos(a), np.sin(a)], [np.sin(a), -np.cos(a)]])  # y down -> north, turned 30 deg
    g = _affine_georef(m, [651000, 6862000], transform="helmert")
    f = deformation_field(g, cells=40)
    s, r, an = (v[np.isfinite(v)] for v in (f.scale, f.rotation, f.anisotropy))
    assert np.allclose(s, 0.5, rtol=2e-3)  # L93 scale factor in Paris is ~0.9997
    assert np.allclose(r, 30, atol=0.5)  # plus L93 meridian convergence (~ -0.5 deg in Paris)
    assert np.allclose(an, 1, atol=1e-3)
    assert np.nanmax(np.abs(f.scale_rel)) < 0.1


def test_deformation_outputs_show_local_distortion(tmp_path, scan):
    path, _ = scan
    px = np.array([[x, y] for x in (0, 100, 200, 300, 400) for y in (0, 150, 300)], float)
    world = np.column_stack([651000 + 0.5 * px[:, 0], 6862000 - 0.5 * px[:, 1]])
    world[7] += [8.0, -6.0]  # a local bump in the middle of the sheet
    g = Georeference(GcpSet(px, world, "EPSG:2154"), "tps", image_size=(W, H))
    paths = write_deformation(g, tmp_path / "def", image=path)
    names = sorted(p.name for p in paths)
    assert names == ["deformation.tif", "distortion_grid.gpkg", "distortion_grid.png", "rotation.png", "scale.png"]
    with rasterio.open(tmp_path / "def" / "deformation.tif") as ds:
        assert ds.descriptions[0] == "scale_m_per_px" and ds.crs.to_epsg() == 2154
        rel = ds.read(2)
    assert np.nanmax(np.abs(rel)) > 2.0  # the bump shows as a few % of scale change
    grid = gpd.read_file(tmp_path / "def" / "distortion_grid.gpkg", layer="world_grid_on_map")
    assert len(grid) >= 4


def test_missing_image_is_an_error(tmp_path):
    g = _affine_georef([[0.5, 0], [0, -0.5]], [651000, 6862000])
    with pytest.raises(JadisError, match="no such file"):
        warp(tmp_path / "nope.jpg", g, tmp_path / "o.tif", progress=False)
