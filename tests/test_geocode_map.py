"""The map as gazetteer: street names read on a synthetic labelled map, then used for geocoding.

The map comes from seg-train's synthetic generator (real PeGazUs street network, names drawn along
the streets); its exact class mask stands in for the segmenter, so the test checks OCR, line
grouping, correction and naming, not the U-Net.
"""

from __future__ import annotations

import warnings

import numpy as np
import pyogrio
import pytest
from PIL import Image

from jadis.geocode.normalize import street_name

SIZE = 1024
SCALE = 0.3  # m / px
ORIGIN = (652_000.0, 6_862_500.0)  # Lambert-93 of the top-left corner


@pytest.fixture(scope="module")
def synthetic_map(tmp_path_factory):
    from jadis.georef.gcps import GcpSet
    from jadis.georef.georeference import Georeference
    from jadis.io.vector import write_layers
    from jadis.segment.synth.generate import street_names
    from jadis.segment.synth.layout import make_layout
    from jadis.segment.synth.networks import bundled_network_paths, get_network
    from jadis.segment.synth.render import render
    from jadis.segment.synth.styles import get_style
    from jadis.vectorize.layers import vectorize_array

    folder = tmp_path_factory.mktemp("map")
    rng = np.random.default_rng(7)
    paths = [str(p) for p in bundled_network_paths()]
    layout = make_layout(rng, get_network(paths[7 % len(paths)]), SIZE, SCALE, p_water=0.0, names=street_names())
    sample = render(rng, layout, get_style("municipal"), names=street_names(), degrade=0.6)
    Image.fromarray(sample.image).save(folder / "map.png")
    layers = vectorize_array(sample.mask)
    with warnings.catch_warnings():  # pixel layers have no CRS, on purpose
        warnings.simplefilter("ignore", UserWarning)
        write_layers(folder / "map.gpkg", layers)
    px = np.array([[0, 0], [SIZE, 0], [0, SIZE], [SIZE, SIZE]], float)
    world = np.column_stack([ORIGIN[0] + px[:, 0] * SCALE, ORIGIN[1] - px[:, 1] * SCALE])
    Georeference(GcpSet(px, world, "EPSG:2154"), "affine", image_size=(SIZE, SIZE)).save(folder / "map.json")
    truth = [(s.name, s.line) for s in layout.streets if s.name]
    return folder, layers["streets"], truth


def test_names_read_on_the_map_become_a_gazetteer(synthetic_map, tmp_path, monkeypatch):
    from jadis.geocode.gazetteer import list_gazetteers, load_gazetteer
    from jadis.geocode.geocoder import Geocoder
    from jadis.pipelines.map_gazetteer import build_map_gazetteer

    monkeypatch.setenv("JADIS_HOME", str(tmp_path / "home"))
    folder, streets, truth = synthetic_map
    result = build_map_gazetteer(folder / "map.gpkg", folder / "map.png", "synthetic_1888", "1888",
                                 georef_path=folder / "map.json", progress=False)
    assert result.segments_named >= 6 and result.names >= 4
    assert "synthetic_1888" in {i.name for i in list_gazetteers()}
    features = pyogrio.read_dataframe(result.info.path, layer="features")
    readings = pyogrio.read_dataframe(result.info.path, layer="labels")
    assert features.crs.to_epsg() == 2154 and len(readings) >= result.lines_named
    # each named segment carries the name of the street drawn there (precision)
    correct = 0
    for name, sid in zip(features["name"], features["source_id"], strict=True):
        seg = streets.geometry[streets["street_id"] == int(sid.split(":")[1])].iloc[0]
        mid = seg.interpolate(0.5, normalized=True)
        true_name = min(truth, key=lambda t: t[1].distance(mid))[0]
        correct += street_name(true_name).core == street_name(name).core
    assert correct >= 0.8 * len(features)
    # in Lambert-93 where the georeference puts the map
    x0, y0, x1, y1 = features.total_bounds
    assert ORIGIN[0] - 1 <= x0 and x1 <= ORIGIN[0] + SIZE * SCALE + 1
    assert ORIGIN[1] - SIZE * SCALE - 1 <= y0 and y1 <= ORIGIN[1] + 1
    # and the map's streets geocode addresses of its year
    geocoder = Geocoder([load_gazetteer("synthetic_1888")])
    some = features["name"].iloc[0]
    r = geocoder.geocode(some, 1888)
    assert r.match_type == "street" and r.gazetteer == "synthetic_1888"
    assert ORIGIN[0] <= r.x <= ORIGIN[0] + SIZE * SCALE


def test_from_map_cli_and_bad_input(synthetic_map, tmp_path, monkeypatch, run_cli):
    monkeypatch.setenv("JADIS_HOME", str(tmp_path / "home"))
    folder, _, _ = synthetic_map
    code, out, err = run_cli("gazetteer", "from-map", str(folder / "map.gpkg"), "--image", str(folder / "map.png"),
                             "--georef", str(folder / "map.json"), "--name", "cli_map", "--years", "1886-1890")
    assert code == 0, err
    assert "added cli_map" in out and "street segments named" in out
    code, _, err = run_cli("gazetteer", "from-map", str(folder / "map.gpkg"), "--image", str(folder / "map.png"),
                           "--name", "no_georef", "--years", "1888")
    assert code == 2 and "--georef" in err and len(err.strip().splitlines()) == 1
    plain = tmp_path / "plain.gpkg"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        pyogrio.write_dataframe(pyogrio.read_dataframe(folder / "map.gpkg", layer="blocks"), plain, layer="blocks")
    code, _, err = run_cli("gazetteer", "from-map", str(plain), "--image", str(folder / "map.png"),
                           "--georef", str(folder / "map.json"), "--name", "x", "--years", "1888")
    assert code == 2 and "jadis segment" in err


def test_demo_geocoding_adds_the_map_gazetteer(synthetic_map, tmp_path, monkeypatch):
    import pandas as pd

    from jadis.pipelines.geocode_demo import geocode_bundled_addresses

    monkeypatch.setenv("JADIS_HOME", str(tmp_path / "home"))
    folder, _, _ = synthetic_map
    result = geocode_bundled_addresses(tmp_path / "out", 1925, map_layers=folder / "map.gpkg",
                                       map_image=folder / "map.png", map_georef=folder / "map.json")
    assert result.map_gazetteer is not None and result.map_gazetteer.exists() and result.map_names >= 4
    assert set(pyogrio.list_layers(result.map_gazetteer)[:, 0]) == {"streets", "labels", "house_numbers"}
    assert len(pd.read_csv(result.csv)) == result.total
