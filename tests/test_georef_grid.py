"""The printed grid of an atlas series: crossings found on a scan, the georeference snapped to them."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from jadis.georef.gcps import GcpSet
from jadis.georef.georeference import Georeference
from jadis.georef.grid import SERIES, find_grid, read_scan, series_by_name, snap_to_grid

MPP = 0.34          # metres per pixel of the synthetic sheet
SIZE = 2600         # pixels (884 m: 3-4 grid lines each way at 250 m)
ORIGIN = (-1130.0, 3390.0)   # VERNIQUET-m coordinates of the top-left pixel corner


def _georef(origin: tuple[float, float], mpp: float, rotation_deg: float = 0.0) -> Georeference:
    """A Georeference in VERNIQUET-m: pixel (col, row) -> (X, Y), north up (optionally rotated)."""
    px = np.array([[0, 0], [SIZE, 0], [0, SIZE], [SIZE, SIZE]], float)
    a = np.radians(rotation_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    local = (px * [mpp, -mpp]) @ rot.T
    return Georeference(GcpSet(px, local + origin, "VERNIQUET-m"), "polynomial1", image_size=(SIZE, SIZE)).validate()


def _sheet(truth: Georeference, seed: int = 0, grid: bool = True) -> np.ndarray:
    """A grey 'scan': paper with noise, thick street edges and, if ``grid``, the 250 m grid in thin lines."""
    rng = np.random.default_rng(seed)
    img = np.full((SIZE, SIZE), 215, np.uint8)
    # streets: double lines at any angle (some near the grid's), a block
    for _ in range(25):
        p = rng.uniform(0, SIZE, 2)
        ang = rng.uniform(0, np.pi)
        d = np.array([np.cos(ang), np.sin(ang)]) * rng.uniform(200, 900)
        for off in (0, 14):
            q = p + off * np.array([-np.sin(ang), np.cos(ang)])
            cv2.line(img, tuple(int(v) for v in q), tuple(int(v) for v in q + d), 70, 2)
    cv2.rectangle(img, (300, 300), (700, 600), 120, -1)
    if grid:
        world = truth.pixel_to_world(np.array([[0, 0], [SIZE, SIZE]], float))
        lo, hi = world.min(axis=0), world.max(axis=0)
        for x in np.arange(np.ceil(lo[0] / 250) * 250, hi[0], 250):
            a, b = truth.world_to_pixel(np.array([[x, lo[1] - 50], [x, hi[1] + 50]]))
            cv2.line(img, tuple(int(round(v * 16)) for v in a), tuple(int(round(v * 16)) for v in b), 60, 1,
                     cv2.LINE_AA, shift=4)
        for y in np.arange(np.ceil(lo[1] / 250) * 250, hi[1], 250):
            a, b = truth.world_to_pixel(np.array([[lo[0] - 50, y], [hi[0] + 50, y]]))
            cv2.line(img, tuple(int(round(v * 16)) for v in a), tuple(int(round(v * 16)) for v in b), 60, 1,
                     cv2.LINE_AA, shift=4)
    img = img.astype(np.float32) + rng.normal(0, 6, img.shape)
    return 1.0 - np.clip(img, 0, 255) / 255.0


@pytest.mark.parametrize("rotation", [0.0, 1.2])
def test_crossings_found_from_an_approximate_georeference(rotation: float) -> None:
    truth = _georef(ORIGIN, MPP, rotation)
    dark = _sheet(truth)
    # the approximate georeference: 14 m and 9 m off, 1.5 % too large, half a degree turned
    rough = _georef((ORIGIN[0] + 14.0, ORIGIN[1] - 9.0), MPP * 1.015, rotation + 0.5)
    fit = find_grid(dark, rough, series_by_name("verniquet-250m"))
    assert fit is not None
    assert len(fit.pixel) >= 9 and fit.spread > 0.5
    assert np.allclose(fit.world % 250.0, 0.0)
    err = np.hypot(*(fit.pixel - truth.world_to_pixel(fit.world)).T)
    assert np.median(err) < 0.6 and err.max() < 1.5, err
    snapped, fit2, choice = snap_to_grid(dark, rough)
    assert fit2.series.name == "verniquet-250m" and choice.name in {"polynomial1", "polynomial2"}
    probe = np.array([[100.0, 2500.0], [1300.0, 1300.0], [2500.0, 100.0]])
    before = np.hypot(*(rough.pixel_to_world(probe) - truth.pixel_to_world(probe)).T)
    after = np.hypot(*(snapped.pixel_to_world(probe) - truth.pixel_to_world(probe)).T)
    assert before.min() > 5.0 and after.max() < 0.5, (before, after)
    assert snapped.gcps.ids[0] == "grid1" and snapped.crs == rough.crs


def test_no_grid_no_snap() -> None:
    truth = _georef(ORIGIN, MPP)
    dark = _sheet(truth, grid=False)
    rough = _georef((ORIGIN[0] + 14.0, ORIGIN[1] - 9.0), MPP * 1.015, 0.5)
    assert find_grid(dark, rough, SERIES[0]) is None
    assert snap_to_grid(dark, rough) is None


def test_a_grid_beyond_the_search_reach_is_not_taken() -> None:
    # the printed grid lies 110 m from where the rough georeference puts it: never a neighbouring line
    truth = _georef(ORIGIN, MPP)
    dark = _sheet(truth)
    rough = _georef((ORIGIN[0] + 110.0, ORIGIN[1]), MPP, 0.0)
    fit = find_grid(dark, rough, SERIES[0])
    assert fit is None or np.median(np.hypot(*(fit.pixel - truth.world_to_pixel(fit.world)).T)) < 1.0


def test_kilometre_grid_not_taken_for_a_250m_one() -> None:
    truth = _georef(ORIGIN, MPP)
    dark = _sheet(truth)
    rough = _georef((ORIGIN[0] + 10.0, ORIGIN[1] + 6.0), MPP, 0.0)
    result = snap_to_grid(dark, rough)
    assert result is not None and result[1].series.name == "verniquet-250m"


def test_read_scan_and_unknown_series(tmp_path) -> None:
    from jadis.errors import JadisError

    img = np.full((20, 30, 3), 255, np.uint8)
    img[5, :, :] = 0
    cv2.imwrite(str(tmp_path / "s.png"), img)
    rgb, dark = read_scan(tmp_path / "s.png")
    assert rgb.shape == (20, 30, 3) and rgb.dtype == np.uint8
    assert dark.shape == (20, 30) and dark[5].min() == pytest.approx(1.0) and dark[0].max() == pytest.approx(0.0)
    with pytest.raises(JadisError, match="unknown grid"):
        series_by_name("mercator-5km")


def test_auto_result_reports_the_grid() -> None:
    from jadis.georef.auto import AutoResult

    g = _georef(ORIGIN, MPP)
    res = AutoResult(georef=g, confidence=0.9, cv_error_m=1.0, transform_cv_m={}, n_matches=10, n_consistent=9,
                     search_score=1.0, search_margin=2.0, scale=MPP, rotation=0.0, input_kind="classes", seconds=1.0)
    assert "grid" not in res.summary()
    res = replace(res, grid={"series": "verniquet-250m", "crossings": 12})
    assert res.summary()["grid"]["crossings"] == 12


def test_a_forced_transform_is_kept_and_the_auto_result_is_snapped(tmp_path) -> None:
    from jadis.georef.auto import AutoResult, _ScanPixels, _snap_grid

    truth = _georef(ORIGIN, MPP)
    dark = _sheet(truth)
    rough = _georef((ORIGIN[0] + 14.0, ORIGIN[1] - 9.0), MPP * 1.015, 0.5)
    snapped, _, choice = snap_to_grid(dark, rough, transform="tps")
    assert snapped.transform == "tps" and choice.name in {"polynomial1", "polynomial2"}
    # the auto pipeline's step: the scan read once, the result refitted, its forced transform kept
    scan = tmp_path / "scan.png"
    cv2.imwrite(str(scan), np.clip(255 * (1 - dark), 0, 255).astype(np.uint8))
    res = AutoResult(georef=rough, confidence=0.9, cv_error_m=5.0, transform_cv_m={}, n_matches=10, n_consistent=9,
                     search_score=1.0, search_margin=2.0, scale=MPP, rotation=0.0, input_kind="classes", seconds=1.0)
    out = _snap_grid(res, _ScanPixels(scan, (SIZE, SIZE)), "auto", "polynomial1")
    assert out.grid["series"] == "verniquet-250m" and out.georef.transform == "polynomial1"
    assert out.georef.gcps.ids[0] == "grid1" and out.cv_error_m < 0.5
    probe = np.array([[1300.0, 1300.0]])
    assert np.hypot(*(out.georef.pixel_to_world(probe) - truth.pixel_to_world(probe)).T)[0] < 0.5
    # a scan of another size is not this map's: the result is left as it was
    assert _snap_grid(res, _ScanPixels(scan, (SIZE, SIZE + 1)), "auto", None) is res


def _crop_georef(full: Georeference, x0: int, y0: int, side: int) -> Georeference:
    """The georeference of a ``side`` px square cut from the synthetic sheet at (``x0``, ``y0``)."""
    px = np.array([[0, 0], [side, 0], [0, side], [side, side]], float)
    return Georeference(GcpSet(px, full.pixel_to_world(px + [x0, y0]), full.crs), "polynomial1",
                        image_size=(side, side)).validate()


def _crop_case(x0: int, off: tuple[float, float], scale: float = 1.01, y0: int = 250, side: int = 1470
               ) -> tuple[np.ndarray, Georeference, Georeference]:
    """A 500 m crop of the synthetic sheet (darkness), its true georeference, and a rough one ``off``
    metres off, ``scale`` times too large, turned 0.3 degrees."""
    truth = _georef(ORIGIN, MPP)
    crop = _sheet(truth)[y0:y0 + side, x0:x0 + side].copy()
    rough = _crop_georef(_georef((ORIGIN[0] + off[0], ORIGIN[1] + off[1]), MPP * scale, 0.3), x0, y0, side)
    return crop, _crop_georef(truth, x0, y0, side), rough


@pytest.mark.parametrize("x0", [200, 342])
def test_a_500m_crop_is_snapped_to_its_four_crossings(x0: int) -> None:
    # a 500 m crop holds 2 x 2 crossings of the 250 m grid, two of them near its edge (their lines
    # run off the crop; at x0 = 342 they are 40 px from it, and 43 % of their strips lie off the crop):
    # all four are needed, and enough to refit it
    crop, crop_truth, rough = _crop_case(x0, (12.0, 7.0))
    fit = find_grid(crop, rough, series_by_name("verniquet-250m"))
    assert fit is not None and len(fit.pixel) == 4 == fit.tried
    snapped, _, choice = snap_to_grid(crop, rough)
    assert choice.name == "polynomial1"
    probe = np.array([[50.0, 50.0], [735.0, 735.0], [1420.0, 1420.0]])
    before = np.hypot(*(rough.pixel_to_world(probe) - crop_truth.pixel_to_world(probe)).T)
    after = np.hypot(*(snapped.pixel_to_world(probe) - crop_truth.pixel_to_world(probe)).T)
    assert before.min() > 5.0 and after.max() < 1.0, (before, after)


def test_a_small_map_missing_one_of_its_few_crossings_is_not_snapped() -> None:
    crop, _, rough = _crop_case(200, (12.0, 7.0))
    crop[600:1200, 600:1200] = 0.15   # the crossing at (918, 897) of the crop and its lines' ends: blank paper
    assert find_grid(crop, rough, series_by_name("verniquet-250m")) is None
    assert snap_to_grid(crop, rough) is None


def test_a_crop_whose_rough_georeference_puts_a_crossing_off_it_is_still_snapped() -> None:
    # 30 m off: the crossing 82 px from the crop's left edge is predicted outside it, and only two
    # crossings are predicted on the map; the two found predict the others again, all four are found
    crop, crop_truth, rough = _crop_case(300, (30.0, -5.0), 1.005)
    fit = find_grid(crop, rough, series_by_name("verniquet-250m"))
    assert fit is not None and len(fit.pixel) == 4
    err = np.hypot(*(fit.pixel - crop_truth.world_to_pixel(fit.world)).T)
    assert err.max() < 1.5, err
    # the same crop read with a rough georeference of the wrong scale (5 %) is refused, not forced
    _, _, wrong = _crop_case(300, (30.0, -5.0), 1.05)
    fit = find_grid(crop, wrong, series_by_name("verniquet-250m"))
    assert fit is None or np.hypot(*(fit.pixel - crop_truth.world_to_pixel(fit.world)).T).max() < 1.5
