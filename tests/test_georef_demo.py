"""The bundled sample's shipped GCPs georeference it: the demo's georeferencing stage."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely

from jadis.cli.demo import DemoContext, sample_path, stage_georef
from jadis.georef.formats import read_gcps
from jadis.georef.georeference import Georeference
from jadis.io.vector import write_layers


def test_shipped_gcps_fit_the_sample_to_a_few_metres():
    gcps_file = sample_path().with_suffix(".points")
    gcps = read_gcps(gcps_file)
    assert gcps.crs.to_epsg() == 2154 and len(gcps) >= 6
    g = Georeference(gcps, "affine", image_size=(1000, 800)).validate()
    s = g.report().summary()
    assert s["loo_rmse_m"] < 8.0  # the OSM reference is good to ~3-10 m
    # the crop shows the Pont Neuf: its middle (crop pixel ~ (470, 230)) is within 40 m of it
    lon, lat = g.pixel_to_lonlat(np.array([[470.0, 230.0]]))[0]
    assert lon == pytest.approx(2.3414, abs=0.0006) and lat == pytest.approx(48.8570, abs=0.0004)


def test_demo_stage_writes_cog_and_layers_in_lambert93(tmp_path):
    layers = tmp_path / "seg.gpkg"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        write_layers(layers, {"blocks": gpd.GeoDataFrame({"block_id": [1]}, geometry=[shapely.box(100, 100, 300, 250)]),
                              "streets": gpd.GeoDataFrame({"street_id": [1]},
                                                          geometry=[shapely.LineString([(0, 400), (1000, 420)])])})
    messages: list[str] = []
    ctx = DemoContext(out_dir=tmp_path / "demo", sample=sample_path(), echo=messages.append)
    ctx.outputs["layers"] = layers
    stage_georef(ctx)
    assert any("leave-one-out" in m for m in messages)
    with rasterio.open(ctx.outputs["cog"]) as ds:
        assert ds.crs.to_epsg() == 2154 and ds.count == 4
        assert 0.3 < ds.res[0] < 0.6  # the scan's own resolution, ~0.43 m
    blocks = gpd.read_file(ctx.outputs["layers_l93"], layer="blocks")
    assert blocks.crs.to_epsg() == 2154
    x0, y0, x1, y1 = blocks.total_bounds
    assert 651_000 < x0 < x1 < 652_500 and 6_861_500 < y0 < y1 < 6_862_500
    assert Georeference.load(ctx.outputs["georef"]).transform == "polynomial1"


def test_demo_georeferences_the_sample_automatically(tmp_path):
    """With the sample's hand-drawn class mask (data/samples/*_classes.png), the demo georeferences it
    against the shipped reference with no hint, compares the result with the measured GCPs, and uses
    it because they agree (to ~6 m). With the shipped model's segmentation they disagree (13 m) and
    the demo falls back on the measured GCPs: see benchmarks/RESULTS.md."""
    messages: list[str] = []
    classes = sample_path().with_name("atlas_municipal_1925_crop_classes.png")
    ctx = DemoContext(out_dir=tmp_path / "demo", sample=sample_path(), echo=messages.append)
    ctx.outputs["classes"] = classes
    stage_georef(ctx)
    text = "\n".join(messages)
    assert "automatic (scan alone, no hints)" in text, text
    assert "vs the 9 measured GCPs: median" in text and "falling back" not in text, text
    auto_json = tmp_path / "demo" / "georef" / "atlas_municipal_1925_crop_auto.json"
    assert auto_json.is_file()
    used = Georeference.load(ctx.outputs["georef"])
    assert len(used.gcps) >= 20  # the automatic GCPs, not the 9 measured ones
    # the georeference used puts the Pont Neuf where it is
    lon, lat = used.pixel_to_lonlat(np.array([[470.0, 230.0]]))[0]
    assert lon == pytest.approx(2.3414, abs=0.0008) and lat == pytest.approx(48.8570, abs=0.0006)
