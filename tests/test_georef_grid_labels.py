"""A sheet placed by its printed grid alone: lines found, printed values read and voted."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from jadis.georef.grid_labels import lattice, long_lines, read_grid, read_grid_candidates, vote

W, H, STEP = 2100, 1500, 400      # sheet size and grid spacing (pixels)
X0, Y0 = -1000, 3750              # world values of the first vertical line and the top line (250 m grid)


def _sheet(labels: bool = True, seed: int = 0, misprint: dict[int, int] | None = None) -> np.ndarray:
    """An upright sheet: frame = outer grid lines, grid every STEP px, values printed at the line ends."""
    rng = np.random.default_rng(seed)
    img = np.full((H, W, 3), 225, np.uint8)
    xs = list(range(150, W - 100, STEP))   # 150, 550, 950, 1350, 1750
    ys = list(range(120, H - 100, STEP))   # 120, 520, 920, 1320
    for x in xs:
        cv2.line(img, (x, ys[0]), (x, ys[-1]), (60, 60, 60), 1)
    for y in ys:
        cv2.line(img, (xs[0], y), (xs[-1], y), (60, 60, 60), 1)
    for _ in range(12):  # streets at any angle
        p = rng.uniform(200, 1300, 2).astype(int) + [300, 0]
        q = p + rng.uniform(-400, 400, 2).astype(int)
        cv2.line(img, tuple(int(v) for v in p), tuple(int(v) for v in q), (70, 70, 70), 2)
    if labels:
        font = cv2.FONT_HERSHEY_COMPLEX
        for k, x in enumerate(xs):
            text = str(abs(X0 + 250 * k))
            (tw, th), _ = cv2.getTextSize(text, font, 0.7, 1)
            cv2.putText(img, text, (x - tw // 2, ys[0] - 8), font, 0.7, (40, 40, 40), 1, cv2.LINE_AA)
            cv2.putText(img, text, (x - tw // 2, ys[-1] + 8 + th), font, 0.7, (40, 40, 40), 1, cv2.LINE_AA)
        for j, y in enumerate(ys):
            text = str((misprint or {}).get(j, abs(Y0 - 250 * j)))
            (tw, th), _ = cv2.getTextSize(text, font, 0.7, 1)
            patch = np.full((th + 8, tw + 8, 3), 225, np.uint8)
            cv2.putText(patch, text, (4, th + 3), font, 0.7, (40, 40, 40), 1, cv2.LINE_AA)
            up = np.rot90(patch)      # reads upwards, left of the frame
            h, w = up.shape[:2]
            img[y - h // 2:y - h // 2 + h, xs[0] - 8 - w:xs[0] - 8] = up
            down = np.rot90(patch, -1)  # reads downwards, right of the frame
            img[y - h // 2:y - h // 2 + h, xs[-1] + 8:xs[-1] + 8 + w] = down
    return img


def _dark(img: np.ndarray) -> np.ndarray:
    from jadis.georef.grid import darkness

    return darkness(img)


def test_long_lines_and_lattice() -> None:
    dark = _dark(_sheet(labels=False))
    v = long_lines(dark, vertical=True)
    assert [round(ln.offset) for ln in v] == [150, 550, 950, 1350, 1750]
    n, spacing, phase = lattice([ln.offset for ln in v] + [700.0])   # a stray line off the lattice
    assert n == 5 and spacing == pytest.approx(400, abs=0.5) and phase == pytest.approx(150, abs=1)
    assert lattice([100.0, 900.0]) == (0, 0.0, 0.0)


def test_vote_signs_and_refusal() -> None:
    # values shrinking to the east: west of the meridian (negative)
    assert vote([(0, 1000), (1, 750), (3, 250)], 250, +1)[0] == -1000
    # values growing to the east: east of it
    assert vote([(0, 250), (1, 500), (2, 750)], 250, +1)[0] == 250
    # across the origin: 250, 0, 250
    assert vote([(0, 250), (1, 0), (2, 250)], 250, +1)[0] == -250
    # two lines only, or a tie between two readings: refused
    assert vote([(0, 1000), (1, 750)], 250, +1)[0] is None
    assert vote([(0, 1000), (1, 750), (2, 5500), (3, 5250)], 250, +1)[0] is None
    # down the sheet the value falls (world Y grows northwards)
    assert vote([(0, 5000), (1, 4750), (2, 4500), (4, 700)], 250, -1)[0] == 5000


def test_read_grid_places_the_sheet() -> None:
    from jadis.ocr.ctc import CtcRecogniser

    img = _sheet()
    reading = read_grid(img, _dark(img), CtcRecogniser(threads=1))
    assert reading is not None, "grid not read"
    assert reading.crs == "VERNIQUET-m" and reading.lines == (5, 4) and min(reading.agree) >= 3
    expected = {(150 + STEP * k, 120 + STEP * j): (X0 + 250 * k, Y0 - 250 * j) for k in range(5) for j in range(4)}
    assert len(reading.pixel) == 20
    for (px, py), world in zip(reading.pixel, reading.world, strict=True):
        key = (int(round(px)), int(round(py)))
        assert expected[key] == tuple(world), (key, world)


def test_unlabelled_grid_is_not_placed() -> None:
    from jadis.ocr.ctc import CtcRecogniser

    img = _sheet(labels=False)
    assert read_grid(img, _dark(img), CtcRecogniser(threads=1)) is None


def test_conflicting_values_leave_the_choice_to_the_caller() -> None:
    from jadis.ocr.ctc import CtcRecogniser

    # the two upper horizontal lines "read" 5750 and 5500 (a 3 taken for a 5): two places tie
    img = _sheet(misprint={0: 5750, 1: 5500})
    rec = CtcRecogniser(threads=1)
    assert read_grid(img, _dark(img), rec) is None
    found = read_grid_candidates(img, _dark(img), rec)
    assert len(found) == 2 and not any(r.decisive for r in found)
    tops = sorted(int(r.world[np.argmin(r.pixel[:, 1] + r.pixel[:, 0])][1]) for r in found)
    assert tops == [3750, 5750]
    assert all(int(r.world[np.argmin(r.pixel[:, 1] + r.pixel[:, 0])][0]) == X0 for r in found)


def test_a_sheet_whose_streets_fail_is_placed_by_its_printed_grid(tmp_path) -> None:
    """``auto_georeference``: the street match fails (noise for streets), the scan's printed grid places it."""
    from test_georef_auto import make_reference

    from jadis.georef.auto import AutoGeorefFailed, AutoOptions, auto_georeference
    from jadis.georef.auto_inputs import MapRoads
    from jadis.georef.crs import parse_crs, reproject

    rng = np.random.default_rng(0)
    blobs = cv2.GaussianBlur(rng.random((H, W)).astype(np.float32), (0, 0), 6)
    roads = MapRoads(mask=blobs > np.quantile(blobs, 0.85), kind="classes", path=tmp_path / "classes.png")
    scan = tmp_path / "scan.png"
    cv2.imwrite(str(scan), _sheet()[..., ::-1])
    reference = make_reference()
    quick = AutoOptions(scale_range=(0.55, 0.7), max_rotation=4.0)   # a short street search, which fails
    result = auto_georeference(roads, reference, quick, progress=False, scan=scan)
    s = result.summary()
    assert s["grid"]["source"] == "printed values" and s["method"].startswith("jadis printed grid")
    assert s["grid"]["crossings"] >= 16 and s["grid"]["values_decisive"]
    crossings = np.array([(150 + STEP * k, 120 + STEP * j) for k in range(5) for j in range(4)], float)
    world = reproject(result.georef.pixel_to_world(crossings), result.georef.crs, parse_crs("VERNIQUET-m"))
    expected = np.array([(X0 + 250 * k, Y0 - 250 * j) for k in range(5) for j in range(4)], float)
    assert np.abs(world - expected).max() < 1.0, np.abs(world - expected).max()
    # the same sheet without its printed values: an honest failure
    cv2.imwrite(str(scan), _sheet(labels=False)[..., ::-1])
    with pytest.raises(AutoGeorefFailed, match="failed"):
        auto_georeference(roads, reference, quick, progress=False, scan=scan)
