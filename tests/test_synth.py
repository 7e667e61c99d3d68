"""The synthetic map generator: exact masks, determinism, styles, networks, the `jadis synth` command."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from shapely.geometry import LineString, box

from jadis.classes import MapClass
from jadis.errors import JadisError
from jadis.segment.synth import STYLES, SynthConfig, generate_sample, load_network
from jadis.segment.synth.layout import Layout, StreetGeom, make_layout
from jadis.segment.synth.networks import bundled_network_paths, procedural_network, tidy_name
from jadis.segment.synth.render import render
from jadis.segment.synth.text import TextLayer, draw_along


def test_bundled_networks_load():
    paths = bundled_network_paths()
    assert len(paths) >= 5
    net = load_network(paths[0])
    assert len(net.streets) > 50 and "Licence Ouverte" in net.licence
    assert any(s.name for s in net.streets)


@pytest.mark.parametrize("style", sorted(STYLES))
def test_every_style_renders_all_classes(style):
    config = SynthConfig(size=256)
    seen = np.zeros(4, bool)
    for seed in range(6):
        sample = generate_sample(seed, config, style=style)
        assert sample.image.shape == (256, 256, 3) and sample.image.dtype == np.uint8
        assert sample.mask.shape == (256, 256) and sample.mask.dtype == np.uint8
        assert sample.mask.max() <= MapClass.TEXT
        seen |= np.bincount(sample.mask.ravel(), minlength=4)[:4] > 0
        assert sample.meta["style"] == style
    assert seen[MapClass.STREET] and seen[MapClass.BLOCK] and seen[MapClass.TEXT]


def test_same_seed_same_tile():
    a = generate_sample(42, SynthConfig(size=192))
    b = generate_sample(42, SynthConfig(size=192))
    c = generate_sample(43, SynthConfig(size=192))
    assert np.array_equal(a.image, b.image) and np.array_equal(a.mask, b.mask)
    assert not np.array_equal(a.mask, c.mask)


def _simple_layout() -> Layout:
    """Two blocks separated by a vertical street 40 px wide, with a name."""
    street = box(100, -10, 140, 266)
    blocks = [box(-10, -10, 100, 266), box(140, -10, 266, 266)]
    line = LineString([(120, 250), (120, 5)])
    return Layout(size=256, scale=0.3, streets=[StreetGeom(line, 40.0, "Rue de la Paix", "street")],
                  street_area=street, blocks=blocks)


def test_masks_are_exact_for_the_geometry():
    rng = np.random.default_rng(0)
    sample = render(rng, _simple_layout(), STYLES["municipal"], degrade=0.0)
    m = sample.mask
    assert m[128, 50] in (MapClass.BLOCK, MapClass.TEXT)  # block (or a house number / label on it)
    assert (m[:, 102:138] != MapClass.BLOCK).all()  # the street never holds block pixels
    assert (m[:, :99] != MapClass.STREET).all() and (m[:, 141:] != MapClass.STREET).all()
    assert (m == MapClass.TEXT).sum() > 50  # the street name was written
    # the block outline is drawn inside the block: dark pixels at the block edge are block pixels
    grey = sample.image.mean(axis=2)
    edge_col = grey[20:230, 96:100].min(axis=1)
    assert (edge_col < grey[20:230, 60:70].mean() - 40).mean() > 0.8
    assert (m[20:230, 97:99] != MapClass.STREET).all()


def test_text_mask_is_the_grown_glyph_pixels():
    layer = TextLayer(np.zeros((60, 300), np.float32))
    assert draw_along(layer, "Rue Mouffetard", LineString([(5, 30), (295, 30)]), 10, "serif-italic", 24)
    ink = layer.coverage >= 0.5
    mask = layer.mask >= 0.5
    box = mask.any(axis=0).sum() * mask.any(axis=1).sum()
    assert 150 < ink.sum() < mask.sum() < 0.8 * box  # grown glyphs: more than the ink, less than a box
    assert (mask | ~ink).all()  # every inked pixel is text
    from scipy import ndimage as ndi

    assert not (mask & ~ndi.binary_dilation(ink, iterations=4)).any()  # grown by ~2 px (8 % of 24), no more
    assert not draw_along(layer, "A much too long name for this path", LineString([(0, 0), (40, 0)]), 0,
                          "serif", 20)


def test_water_is_other_and_quays_are_street():
    for seed in range(40):
        rng = np.random.default_rng(seed)
        net = procedural_network(rng, 400, "grid")
        layout = make_layout(rng, net, 256, 0.5, p_water=1.0, p_place=0.0, p_frame=0.0)
        if layout.water is None or layout.water.area < 2000:
            continue
        sample = render(rng, layout, STYLES["municipal"], degrade=0.0)
        c = layout.water.representative_point()
        if sample.mask[int(c.y), int(c.x)] != MapClass.TEXT:
            assert sample.mask[int(c.y), int(c.x)] == MapClass.OTHER
        return
    pytest.fail("no tile with water")


def test_frame_margin_is_other():
    for seed in range(60):
        rng = np.random.default_rng(seed)
        layout = make_layout(rng, None, 192, 0.4, p_frame=1.0)
        sample = render(rng, layout, STYLES["jacoubet"], degrade=0.0)
        from jadis.segment.synth.render import rasterize

        outside = ~rasterize(layout.content, 192)
        assert (sample.mask[outside] == MapClass.OTHER).all()
        if outside.sum() > 1000:
            return
    pytest.fail("no tile with a margin")


def test_procedural_kinds():
    rng = np.random.default_rng(1)
    for kind in ("grid", "radial", "organic"):
        net = procedural_network(rng, 500, kind)
        assert len(net.streets) > 5
    with pytest.raises(JadisError):
        procedural_network(rng, 500, "spiral")


def test_load_network_from_gis_file(tmp_path):
    import geopandas as gpd

    gdf = gpd.GeoDataFrame({"nom": ["R LACUEE", "Boulevard D'ITALIE"]},
                           geometry=[LineString([(0, 0), (100, 0)]), LineString([(0, 0), (0, 80)])], crs=2154)
    path = tmp_path / "streets.gpkg"
    gdf.to_file(path)
    net = load_network(path)
    assert [s.name for s in net.streets] == ["Rue Lacuee", "Boulevard d'Italie"]
    nocrs = tmp_path / "nocrs.geojson"
    nocrs.write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    with pytest.raises(JadisError):
        load_network(nocrs)
    with pytest.raises(JadisError):
        load_network(tmp_path / "missing.gpkg")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(JadisError):
        load_network(bad)


def test_tidy_name():
    assert tidy_name("R DU FAUBOURG SAINT ANTOINE") == "Rue du Faubourg Saint Antoine"
    assert tidy_name("Avenue D'italie") == "Avenue d'Italie"
    assert tidy_name(None) == "" and tidy_name(float("nan")) == ""


def test_synth_command(run_cli, tmp_path):
    out = tmp_path / "synth"
    code, stdout, err = run_cli("synth", "--out", str(out), "--n", "3", "--size", "128", "--seed", "5",
                                "--style", "jacoubet")
    assert code == 0, err
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert [r["name"] for r in rows] == ["000000", "000001", "000002"]
    for r in rows:
        img = np.asarray(Image.open(out / r["image"]))
        mask = np.asarray(Image.open(out / r["mask"]))
        assert img.shape == (128, 128, 3) and mask.shape == (128, 128) and mask.max() <= 3
        assert r["style"] == "jacoubet"
    code, _, err = run_cli("synth", "--out", str(out), "--n", "1", "--network", str(tmp_path / "none.gpkg"))
    assert code == 2 and "not found" in err
