"""Vectorization topology on synthetic class rasters: blocks, street graph, labels, windows."""

from __future__ import annotations

import cv2
import networkx as nx
import numpy as np
import pytest
import shapely
from _segfixtures import grid_classes
from affine import Affine

from jadis.classes import MapClass
from jadis.segment.evaluation import instance_labels
from jadis.vectorize.blocks import MIN_BLOCK_AREA
from jadis.vectorize.cleanup import absorb_text, fill_small_holes
from jadis.vectorize.labels import reading_angle
from jadis.vectorize.layers import vectorize_array


@pytest.fixture(scope="module")
def grid_layers():
    return vectorize_array(grid_classes())


def _graph(layers) -> nx.MultiGraph:
    g = nx.MultiGraph()
    g.add_nodes_from(layers["street_nodes"].node_id)
    g.add_edges_from(zip(layers["streets"].node_start, layers["streets"].node_end, strict=True))
    return g


def test_blocks_are_valid_polygons_one_per_component(grid_layers):
    blocks = grid_layers["blocks"]
    assert len(blocks) > 0
    assert blocks.geometry.is_valid.all() and (blocks.geom_type == "Polygon").all()
    resolved = absorb_text(grid_classes())
    labels, n = instance_labels(resolved == MapClass.BLOCK)
    areas = np.bincount(labels.ravel())[1:]
    assert len(blocks) == np.count_nonzero(areas >= MIN_BLOCK_AREA)  # specks are dropped
    assert blocks.area.sum() == pytest.approx(areas[areas >= MIN_BLOCK_AREA].sum(), rel=0.01)


def test_block_hole_is_kept(grid_layers):
    holed = [g for g in grid_layers["blocks"].geometry if len(g.interiors)]
    assert len(holed) == 1
    hole = shapely.Polygon(holed[0].interiors[0])
    assert hole.area == pytest.approx(400, rel=0.05)  # the 20x20 courtyard
    assert hole.centroid.x == pytest.approx(90, abs=1) and hole.centroid.y == pytest.approx(70, abs=1)


def test_text_does_not_split_blocks():
    c = np.full((60, 120), MapClass.BLOCK, np.uint8)
    c[:, 58:62] = MapClass.TEXT  # a letter stroke crossing the whole block
    layers = vectorize_array(c)
    assert len(layers["blocks"]) == 1


def test_diagonal_contact_is_two_blocks():
    c = np.zeros((40, 40), np.uint8)
    c[5:20, 5:20] = MapClass.BLOCK
    c[20:35, 20:35] = MapClass.BLOCK  # touches the first one only at a corner
    assert len(vectorize_array(c)["blocks"]) == 2


def test_street_graph_is_connected_with_junctions(grid_layers):
    streets, nodes = grid_layers["streets"], grid_layers["street_nodes"]
    assert streets.geometry.is_valid.all() and (streets.geom_type == "LineString").all()
    g = _graph(grid_layers)
    assert nx.number_connected_components(g) == 1
    degrees = dict(g.degree())
    assert all(degrees[i] == d for i, d in zip(nodes.node_id, nodes.degree, strict=True))
    # 5 vertical x 5 horizontal streets cross at 25 junctions of degree 4 (the avenue adds more).
    assert (nodes.degree >= 3).sum() >= 25
    # Every line ends on nodes of the layer.
    pts = {(round(p.x, 3), round(p.y, 3)) for p in nodes.geometry}
    for line in streets.geometry:
        for x, y in (line.coords[0], line.coords[-1]):
            assert (round(x, 3), round(y, 3)) in pts


def test_junction_positions_on_street_axes(grid_layers):
    nodes = grid_layers["street_nodes"]
    junctions = nodes[nodes.degree == 4]
    # vertical streets are centred at x = 40 + 7 + 150 k, horizontal ones at y = 30 + 7 + 130 k
    near = [min(abs(p.x - (47 + 150 * k)) for k in range(6)) for p in junctions.geometry]
    assert np.median(near) < 2.0


def test_spurs_are_pruned_and_dead_ends_kept():
    c = np.zeros((200, 400), np.uint8)
    c[90:110, 20:380] = MapClass.STREET  # a 20 px wide street
    c[110:116, 200:206] = MapClass.STREET  # a small bump on its edge (would make a skeleton spur)
    c[20:90, 300:316] = MapClass.STREET  # a real dead-end street, long for its width
    layers = vectorize_array(c)
    nodes = layers["street_nodes"]
    assert (nodes.degree == 3).sum() == 1  # only the real junction
    lengths = sorted(layers["streets"].length)
    assert lengths[0] > 40  # no short stub left
    g = _graph(layers)
    assert nx.number_connected_components(g) == 1


def test_small_holes_do_not_make_loops():
    c = np.zeros((100, 300), np.uint8)
    c[30:70, 10:290] = MapClass.STREET
    c[48:52, 150:154] = MapClass.OTHER  # a kiosk
    streets = vectorize_array(c)["streets"]
    assert len(streets) == 1 and streets.geometry.iloc[0].length > 200


def test_windowed_vectorization_matches_whole(grid_layers):
    small = vectorize_array(grid_classes(), window=128, halo=64)
    for name in ("blocks", "streets", "street_nodes", "labels"):
        assert len(small[name]) == len(grid_layers[name]), name
    assert small["blocks"].area.sum() == pytest.approx(grid_layers["blocks"].area.sum(), rel=1e-3)
    assert small["streets"].length.sum() == pytest.approx(grid_layers["streets"].length.sum(), rel=1e-3)
    assert nx.number_connected_components(_graph(small)) == 1


def test_labels_oriented_boxes():
    c = np.zeros((300, 300), np.uint8)
    canvas = np.zeros((300, 300), np.uint8)
    cv2.putText(canvas, "RUE DE LA PAIX", (20, 160), cv2.FONT_HERSHEY_SIMPLEX, 0.7, 255, 2)
    rot = cv2.getRotationMatrix2D((150, 150), 30, 1.0)  # 30 degrees counter-clockwise on screen
    canvas = cv2.warpAffine(canvas, rot, (300, 300), flags=cv2.INTER_NEAREST)
    c[canvas > 0] = MapClass.TEXT
    labels = vectorize_array(c)["labels"]
    assert len(labels) == 1
    assert labels.angle.iloc[0] == pytest.approx(30, abs=3)
    assert labels.length_px.iloc[0] > 3 * labels.height_px.iloc[0]
    assert labels.geometry.iloc[0].is_valid


def test_reading_angle_convention():
    horizontal = np.array([[0, 0], [10, 0], [10, 2], [0, 2]], float)
    assert reading_angle(horizontal) == 0
    up_right = np.array([[0, 0], [10, -10], [11, -9], [1, 1]], float)  # y down: going up on screen
    assert reading_angle(up_right) == pytest.approx(45)
    assert reading_angle(up_right, y_down=False) == pytest.approx(-45)


def test_georeferenced_output_uses_world_coordinates():
    c = grid_classes(200, 300)
    transform = Affine(0.5, 0, 650000, 0, -0.5, 6862000)
    layers = vectorize_array(c, transform=transform, crs="EPSG:2154")
    for gdf in layers.values():
        assert gdf.crs is not None and gdf.crs.to_epsg() == 2154
    minx, miny, maxx, maxy = layers["blocks"].total_bounds
    assert 650000 <= minx < maxx <= 650150 and 6861900 <= miny < maxy <= 6862000
    pixel = vectorize_array(c)["blocks"]
    assert layers["blocks"].area.sum() == pytest.approx(pixel.area.sum() * 0.25, rel=1e-6)


def test_empty_raster_gives_empty_layers():
    layers = vectorize_array(np.zeros((50, 60), np.uint8))
    assert all(len(gdf) == 0 for gdf in layers.values())


def test_absorb_text_and_fill_holes():
    c = np.full((20, 20), MapClass.STREET, np.uint8)
    c[5:15, 5:15] = MapClass.BLOCK
    c[8:10, 2:8] = MapClass.TEXT
    out = absorb_text(c)
    assert MapClass.TEXT not in out
    assert out[8, 2] == MapClass.STREET and out[8, 7] == MapClass.BLOCK
    m = np.ones((20, 20), bool)
    m[5:7, 5:7] = False
    m[0:3, 10:12] = False  # touches the border: not a hole
    filled = fill_small_holes(m, 10)
    assert filled[5:7, 5:7].all() and not filled[0:3, 10:12].any()


def test_streamed_vectorization_equals_windowed(grid_layers):
    """Rows fed top to bottom in uneven chunks give the same layers as vectorizing the raster."""
    from jadis.vectorize.layers import StreamVectorizer

    c = grid_classes()
    ref = vectorize_array(c, window=128, halo=64)
    sv = StreamVectorizer(c.shape[1], c.shape[0], window=128, halo=64)
    y = 0
    for step in (7, 100, 33, 250, 1000):
        sv.add_rows(y, c[y:y + step])
        y = min(len(c), y + step)
    out = sv.finish()
    for name in ("blocks", "streets", "street_nodes", "labels"):
        assert len(out[name]) == len(ref[name]), name
        assert out[name].geometry.geom_equals(ref[name].geometry).all(), name
    with pytest.raises(ValueError):
        StreamVectorizer(10, 10).add_rows(5, np.zeros((2, 10), np.uint8))
