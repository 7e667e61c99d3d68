"""The printed grid's lattice found without a georeference; its crossings labelled by a place guess."""

from __future__ import annotations

import numpy as np
import pytest

from jadis.georef.grid import series_by_name
from jadis.georef.grid_lattice import find_lattice, labelled, lattice_mapping, origins_near
from tests.test_georef_grid import MPP, ORIGIN, SIZE, _georef, _sheet

VERNIQUET = series_by_name("verniquet-250m")
SPACING_PX = 250.0 / MPP   # 735 px


def _truth_origin(lattice, truth) -> tuple[int, int]:  # noqa: ANN001
    """The labelling of ``lattice`` that the true georeference gives (its first crossing's grid line)."""
    first = truth.pixel_to_world(lattice.pixel[:1])[0] / 250.0
    i, j = lattice.index[0]
    return int(round(first[0])) - int(i), int(round(first[1])) + int(j)


@pytest.mark.parametrize("rotation", [0.0, 1.5, -5.0])
def test_the_lattice_of_a_whole_sheet(rotation: float) -> None:
    truth = _georef(ORIGIN, MPP, rotation)
    dark = _sheet(truth)
    lattice = find_lattice(dark, (500.0, 1000.0))
    assert lattice is not None
    assert min(lattice.lines) >= 3 and len(lattice.pixel) >= 9
    assert abs(lattice.spacing_px / SPACING_PX - 1.0) < 0.003
    assert abs(lattice.angle - rotation) < 0.2
    origin = _truth_origin(lattice, truth)
    world = labelled(lattice, VERNIQUET, origin)
    # every crossing of the lattice is where the truth puts that grid crossing, to a pixel
    assert np.hypot(*(truth.world_to_pixel(world) - lattice.pixel).T).max() < 1.5
    mapped = lattice_mapping(lattice.pixel, world)(np.array([[0.0, 0.0], [SIZE, SIZE]]))
    assert np.hypot(*(mapped - truth.pixel_to_world(np.array([[0.0, 0.0], [SIZE, SIZE]]))).T).max() < 1.5
    # a guess of the map's place 100 m off lists the true labelling first
    guess = truth.pixel_to_world(np.array([[SIZE / 2, SIZE / 2]]))[0] + [80.0, -60.0]
    assert origins_near(lattice, VERNIQUET, (SIZE / 2, SIZE / 2), tuple(guess), 400.0)[0] == origin


def test_a_crop_showing_one_line_of_a_family_away_from_its_edges() -> None:
    # a 500 m crop whose vertical grid lines fall 5 px from its left and right edges: the rows give
    # the spacing, the one column in the middle completes two crossings; a similarity through them
    truth = _georef(ORIGIN, MPP)
    x_line = truth.world_to_pixel(np.array([[-750.0, 3000.0]]))[0, 0]   # a vertical grid line
    x0, y0 = int(round(x_line - SPACING_PX - 5)), 400
    side = int(round(2 * SPACING_PX + 10))
    crop = _sheet(truth)[y0:y0 + side, x0:x0 + side].copy()
    lattice = find_lattice(crop, (500.0, 1000.0))
    assert lattice is not None and lattice.lines == (2, 1) and len(lattice.pixel) == 2
    assert abs(lattice.spacing_px / SPACING_PX - 1.0) < 0.005
    world_px = truth.pixel_to_world(lattice.pixel + [x0, y0])
    origin = (int(round(world_px[0, 0] / 250)) - int(lattice.index[0, 0]),
              int(round(world_px[0, 1] / 250)) + int(lattice.index[0, 1]))
    to_world = lattice_mapping(lattice.pixel, labelled(lattice, VERNIQUET, origin))
    probe = np.array([[0.0, 0.0], [side, side], [side, 0.0]])
    err = np.hypot(*(to_world(probe) - truth.pixel_to_world(probe + [x0, y0])).T)
    assert err.max() < 2.0, err


def test_no_grid_no_lattice() -> None:
    dark = _sheet(_georef(ORIGIN, MPP), grid=False)
    assert find_lattice(dark, (500.0, 1000.0)) is None
    # nor a grid of another spacing than the one asked for
    assert find_lattice(_sheet(_georef(ORIGIN, MPP)), (300.0, 600.0)) is None


def test_the_mapping_through_crossings() -> None:
    rng = np.random.default_rng(1)
    a = np.radians(3.0)
    m = 0.4 * np.array([[np.cos(a), np.sin(a)], [np.sin(a), -np.cos(a)]])  # y down -> y up, turned
    pixel = rng.uniform(0, 1000, (2, 2))
    world = pixel @ m + [600000.0, 128000.0]
    probe = rng.uniform(0, 1000, (5, 2))
    # two crossings: the similarity through them
    assert np.allclose(lattice_mapping(pixel, world)(probe), probe @ m + [600000.0, 128000.0], atol=1e-6)
    # four crossings: an affine (a sheared one is followed)
    pixel4 = rng.uniform(0, 1000, (4, 2))
    shear = np.array([[0.4, 0.01], [0.02, -0.41]])
    assert np.allclose(lattice_mapping(pixel4, pixel4 @ shear + 5.0)(probe), probe @ shear + 5.0, atol=1e-6)
