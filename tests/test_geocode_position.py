"""Linear referencing, street main paths, and the 1805 numbering rule."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from jadis.geocode.position import Polyline, StreetModel, anchors_from_points, main_path
from jadis.geocode.seine import numbering_starts_at_first_vertex, seine_l93


def test_polyline_point_at_and_locate():
    line = Polyline.from_coords([(0, 0), (100, 0), (100, 50)])
    assert line.length == 150
    assert line.point_at(50) == (50, 0)
    assert line.point_at(50, offset=5) == (50, 5)      # left of an eastward line is north
    assert line.point_at(125, offset=-2) == (102, 25)  # right of a northward line is east
    assert line.point_at(-10) == (0, 0) and line.point_at(1e6) == (100, 50)
    m, s = line.locate(np.array([[50, 3], [103, 40], [-5, 0]]))
    assert m.tolist() == pytest.approx([50, 140, 0]) and s.tolist() == pytest.approx([3, -3, 5])
    assert line.reversed().point_at(0) == (100, 50)


def test_main_path_joins_segments_bridges_gaps_and_drops_spurs():
    parts = [shapely.LineString([(0, 0), (100, 0)]),
             shapely.LineString([(200, 0), (100, 0)]),          # reversed, shares an end
             shapely.LineString([(230, 0), (400, 0)]),          # after a 30 m gap
             shapely.LineString([(100, 0), (100, 20)])]         # a short spur
    line = main_path(parts)
    assert line.length == pytest.approx(400)
    assert {line.start, line.end} == {(0.0, 0.0), (400.0, 0.0)}
    assert main_path([]) is None
    far = main_path([shapely.LineString([(0, 0), (10, 0)]), shapely.LineString([(1000, 0), (1050, 0)])])
    assert far.length == pytest.approx(50)  # pieces too far apart are not bridged: the longest wins


def test_interpolation_with_parity_sides():
    line = Polyline.from_coords([(0, 0), (200, 0)])
    xy = np.array([[10, 5], [30, 5], [10, -5], [50, -5]])
    model = StreetModel(line, "rue", anchor_sets=[anchors_from_points(line, xy, np.array([1, 5, 2, 6]), "pts")])
    p = model.locate(3)
    assert (p.x, p.y) == pytest.approx((20, 5))
    p = model.locate(4)
    assert (p.x, p.y) == pytest.approx((30, -5))
    assert "between nos. 2 and 6" in p.explanation


def test_seine_rule_directions():
    river = seine_l93()
    p = np.array(river.interpolate(river.length * 0.3).coords[0])
    q = np.array(river.interpolate(river.length * 0.3 + 10).coords[0])
    t = (q - p) / np.linalg.norm(q - p)
    n = np.array([-t[1], t[0]])
    near, far = p + 50 * n, p + 500 * n
    assert numbering_starts_at_first_vertex(tuple(near), tuple(far))[0] is True
    assert numbering_starts_at_first_vertex(tuple(far), tuple(near))[0] is False
    up, down = p + 300 * n - 200 * t, p + 300 * n + 200 * t
    assert numbering_starts_at_first_vertex(tuple(up), tuple(down))[0] is True
    assert numbering_starts_at_first_vertex(tuple(down), tuple(up))[0] is False
    # a faubourg street starts at the end nearer the centre of Paris, whatever the river says
    assert numbering_starts_at_first_vertex((651000.0, 6862000.0), (656000.0, 6862000.0), faubourg=True)[0]
