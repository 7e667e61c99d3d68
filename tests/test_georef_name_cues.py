"""Name cues as a place prior of automatic georeferencing (synthetic; no ../shared needed).

A random city of named streets is both the reference road raster and a user gazetteer (written
under a temporary JADIS_HOME); a map is cut from it through a known similarity and the names
"read" on it are the names of the streets it shows, at their pixel positions.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pyproj
import pytest
from scipy.spatial import Voronoi

from jadis.georef.auto import AutoGeorefFailed, AutoOptions, auto_georeference
from jadis.georef.auto_inputs import MapRoads, ReferenceRoads
from jadis.georef.auto_names import MIN_NAMES, NameCue, cues_from_text, place_prior

X0, Y0 = 650_000.0, 6_860_000.0   # lower-left corner of the synthetic city (EPSG:2154)
W, H, RES = 5000.0, 4000.0, 2.0


def city(seed: int, width: float = W) -> list[np.ndarray]:
    """Street centre lines (world metres relative to (X0, Y0)) of a random city."""
    rng = np.random.default_rng(seed)
    pts = rng.uniform([-200, -200], [width + 200, H + 200], size=(int(width * H / 110.0**2), 2))
    vor = Voronoi(pts)
    lines = [np.array([vor.vertices[a], vor.vertices[b]]) for a, b in vor.ridge_vertices if a >= 0 and b >= 0]
    return [ln for ln in lines if np.all((ln > -150) & (ln < [width + 150, H + 150]))]


def reference(lines: list[np.ndarray], width: float = W) -> ReferenceRoads:
    from rasterio.transform import from_origin

    img = np.zeros((int(H / RES), int(width / RES)), np.uint8)
    for ln in lines:
        px = np.c_[ln[:, 0] / RES, H / RES - ln[:, 1] / RES] * 16
        cv2.line(img, tuple(np.round(px[0]).astype(int)), tuple(np.round(px[1]).astype(int)), 1, 4, cv2.LINE_8,
                 shift=4)
    return ReferenceRoads(roads=img, valid=np.ones(img.shape, bool), transform=from_origin(X0, Y0 + H, RES, RES),
                          crs=pyproj.CRS("EPSG:2154"), source="synthetic")


class Pose:
    """Map pixel <-> world: an upright similarity of ``scale`` m/px centred on ``centre`` (relative)."""

    def __init__(self, size: tuple[int, int], scale: float, centre: tuple[float, float]) -> None:
        self.w, self.h, self.s = size[0], size[1], scale
        self.cx, self.cy = X0 + centre[0], Y0 + centre[1]

    def world(self, px: np.ndarray) -> np.ndarray:
        return np.stack([self.cx + self.s * (px[..., 0] - self.w / 2), self.cy - self.s * (px[..., 1] - self.h / 2)],
                        axis=-1)

    def pixel(self, xy: np.ndarray) -> np.ndarray:
        return np.stack([(xy[..., 0] - self.cx) / self.s + self.w / 2, (self.cy - xy[..., 1]) / self.s + self.h / 2],
                        axis=-1)


def render(ref: ReferenceRoads, pose: Pose) -> np.ndarray:
    yy, xx = np.mgrid[0:pose.h, 0:pose.w] + 0.5
    world = pose.world(np.stack([xx, yy], axis=-1))
    col = ((world[..., 0] - X0) / RES - 0.5).astype(np.float32)
    row = ((Y0 + H - world[..., 1]) / RES - 0.5).astype(np.float32)
    return cv2.remap(ref.roads.astype(np.float32), col, row, cv2.INTER_LINEAR) > 0.5


def write_gazetteer(lines: list[np.ndarray], names: list[str], tmp: Path, name: str = "synthetic_city") -> None:
    """A user gazetteer of named street lines (EPSG:2154)."""
    import geopandas as gpd
    import shapely

    from jadis.geocode.gazetteer import add_gazetteer

    geoms = [shapely.LineString(ln + [X0, Y0]) for ln in lines]
    path = tmp / f"{name}.gpkg"
    gpd.GeoDataFrame({"name": names}, geometry=geoms, crs="EPSG:2154").to_file(path, driver="GPKG")
    add_gazetteer(path, name, "1830-1840", name_field="name", kind="street_network")


def street_names(n: int) -> list[str]:
    """Names no real gazetteer has (the bundled ones are listed too)."""
    words = ["Zorbal", "Quintefeuille", "Vaubrique", "Morlandais", "Pestoullier", "Gravachon", "Ombrelune"]
    return [f"Rue {words[k % len(words)]} {chr(65 + (k // len(words)) % 26)}{k // (26 * len(words))}" for k in range(n)]


def cues_on(pose: Pose, lines: list[np.ndarray], names: list[str], k: int = 8, seed: int = 0) -> list[NameCue]:
    """``k`` cues: names of streets whose middle the map shows, at that middle's pixel."""
    rng = np.random.default_rng(seed)
    out = []
    for i in rng.permutation(len(lines)):
        mid = pose.pixel(lines[i].mean(axis=0) + [X0, Y0])
        if 0.05 * pose.w < mid[0] < 0.95 * pose.w and 0.05 * pose.h < mid[1] < 0.95 * pose.h and \
                np.hypot(*(lines[i][1] - lines[i][0])) > 60:
            out.append(NameCue(names[i], float(mid[0]), float(mid[1]), 0.9))
            if len(out) == k:
                break
    return out


@pytest.fixture()
def town(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[list[np.ndarray], list[str]]:
    monkeypatch.setenv("JADIS_HOME", str(tmp_path / "home"))
    lines = city(seed=3)
    names = street_names(len(lines))
    write_gazetteer(lines, names, tmp_path)
    return lines, names


def _near(area, pose: Pose) -> float:  # noqa: ANN001 - a PlaceArea
    return float(np.hypot(area.x - pose.cx, area.y - pose.cy))


# -- the prior --------------------------------------------------------------------------------------
def test_names_point_to_the_right_area(town: tuple[list[np.ndarray], list[str]]) -> None:
    lines, names = town
    pose = Pose((2000, 1600), 0.5, (3300, 1200))
    prior = place_prior(cues_on(pose, lines, names), (pose.w, pose.h), (0.2, 2.0), year=1836)
    assert prior.areas, prior.summary()
    best = prior.areas[0]
    assert _near(best, pose) < best.radius and _near(best, pose) < 200.0
    assert best.scale[0] <= 0.5 <= best.scale[1]
    assert best.votes >= 6
    # the names agree with the true pose, not with one 1 km off
    assert prior.agreeing(pose.world, (pose.w / 2, pose.h / 2)) >= 6
    off = Pose((2000, 1600), 0.5, (2300, 1200))
    assert prior.agreeing(off.world, (off.w / 2, off.h / 2)) < MIN_NAMES


def test_misread_names_and_homonyms_do_not_move_the_area(tmp_path: Path, town: tuple[list[np.ndarray], list[str]]
                                                          ) -> None:
    lines, names = town
    pose = Pose((2000, 1600), 0.5, (1500, 2500))
    cues = cues_on(pose, lines, names, k=6)
    # every name read also names a street 2.5 km away (a homonym), and one more is misread: a real
    # name, of a street elsewhere
    far = [ln + [2500.0 if ln[:, 0].mean() < 2500 else -2500.0, 0.0] for ln in lines]
    write_gazetteer(far, names, tmp_path, "synthetic_homonyms")
    elsewhere = next(i for i, ln in enumerate(lines) if np.hypot(*(ln.mean(axis=0) - [4500, 500])) < 300)
    cues.append(NameCue(names[elsewhere], 1000.0, 800.0, 0.9))
    prior = place_prior(cues, (pose.w, pose.h), (0.2, 2.0), year=1836)
    assert prior.areas and _near(prior.areas[0], pose) < 200.0, prior.summary()
    # the homonyms agree only as a group (the shifted copy of the city): other areas are that copy
    # or the true place at other scales (within the map's extent), never a mixture of far places;
    # the street pattern decides between them
    assert all(_near(a, pose) < 1000.0 or abs(abs(a.x - pose.cx) - 2500.0) < 1000.0 for a in prior.areas), \
        prior.summary()


def test_too_few_or_inconsistent_names_give_no_area(town: tuple[list[np.ndarray], list[str]]) -> None:
    lines, names = town
    pose = Pose((2000, 1600), 0.5, (2500, 2000))
    two = cues_on(pose, lines, names, k=MIN_NAMES - 1)
    assert not place_prior(two, (pose.w, pose.h), (0.2, 2.0), year=1836)
    assert not place_prior([NameCue("Rue Inconnue Nulle Part", 10, 10)] * 5, (pose.w, pose.h), (0.2, 2.0))
    assert not place_prior([], (pose.w, pose.h), (0.2, 2.0))
    # three names of streets kilometres apart, read a few hundred pixels apart: no scale fits
    picks = [min(range(len(lines)), key=lambda i, p=p: np.hypot(*(lines[i].mean(axis=0) - p)))
             for p in ([500, 500], [4500, 500], [2500, 3500])]
    cues = [NameCue(names[i], 900 + 100 * k, 800.0, 0.9) for k, i in enumerate(picks)]
    assert not place_prior(cues, (pose.w, pose.h), (0.2, 2.0), year=1836)
    # low-confidence readings are not cues
    weak = [NameCue(c.name, c.x, c.y, 0.2) for c in cues_on(pose, lines, names)]
    assert not place_prior(weak, (pose.w, pose.h), (0.2, 2.0), year=1836)


def test_cues_from_text() -> None:
    class Line:
        def __init__(self, name: str | None, score: float) -> None:
            self.name, self.score, self.centre = name, score, np.array([10.0, 20.0])

    class Text:
        named_lines = [Line("Rue du Bac", 0.9), Line("Rue de Sèvres", 0.3)]

    assert cues_from_text(Text()) == [NameCue("Rue du Bac", 10.0, 20.0, 0.9)]


# -- in automatic georeferencing -------------------------------------------------------------------
def _roads(mask: np.ndarray) -> MapRoads:
    return MapRoads(mask=mask, kind="mask", path=Path("synthetic.png"))


def test_names_settle_a_map_that_fits_two_places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A city whose east half repeats its west half: the streets alone fit both places (the run
    refuses, as ambiguous); the names, known only in the west, settle it."""
    monkeypatch.setenv("JADIS_HOME", str(tmp_path / "home"))
    half = city(seed=4, width=2500.0)
    ref = reference(half + [ln + [2500.0, 0.0] for ln in half])
    names = street_names(len(half))
    write_gazetteer(half, names, tmp_path)
    pose = Pose((1000, 800), 1.0, (1200, 2000))
    roads = _roads(render(ref, pose))
    opts = AutoOptions(scale_range=(0.9, 1.1), max_rotation=4)
    with pytest.raises(AutoGeorefFailed, match="ambiguous"):
        auto_georeference(roads, ref, opts, progress=False)
    result = auto_georeference(roads, ref, opts, progress=False, names=cues_on(pose, half, names), year=1836)
    pts = np.stack(np.meshgrid(np.linspace(150, 850, 5), np.linspace(120, 680, 5)), axis=-1).reshape(-1, 2)
    assert np.median(np.hypot(*(result.georef.pixel_to_world(pts) - pose.world(pts)).T)) < 5.0
    assert result.summary()["names"]["agreeing"] >= MIN_NAMES
    # the same names read only once the search has failed without them: the same answer
    calls = []

    def read() -> list[NameCue]:
        calls.append(1)
        return cues_on(pose, half, names)

    late = auto_georeference(roads, ref, opts, progress=False, read_names=read, year=1836)
    assert calls == [1] and "reading_names" in late.stages
    np.testing.assert_allclose(late.georef.gcps.world, result.georef.gcps.world)


def _scene(lines: list[np.ndarray], pose: Pose) -> tuple:
    """The town's reference, the road mask of a map of it at ``pose``, the search options, and
    today's answer (no names)."""
    ref = reference(lines)
    roads = _roads(render(ref, pose))
    opts = AutoOptions(scale_range=(0.9, 1.1), max_rotation=4)
    return ref, roads, opts, auto_georeference(roads, ref, opts, progress=False)


def test_names_pointing_elsewhere_do_not_make_a_wrong_pose_pass(town: tuple[list[np.ndarray], list[str]]) -> None:
    """Names consistent with another place (a map with names pasted from elsewhere): the search
    there finds no match, and the usual search answers, as without names."""
    lines, names = town
    ref, roads, opts, plain = _scene(lines, Pose((1000, 800), 1.0, (1500, 1500)))
    decoy = cues_on(Pose((1000, 800), 1.0, (3800, 2800)), lines, names)
    assert place_prior(decoy, (1000, 800), (0.9, 1.1), year=1836).areas  # the names do point elsewhere
    result = auto_georeference(roads, ref, opts, progress=False, names=decoy, year=1836)
    assert "names" not in result.summary()
    np.testing.assert_allclose(result.georef.gcps.world, plain.georef.gcps.world)


def test_no_cue_is_todays_search(town: tuple[list[np.ndarray], list[str]]) -> None:
    lines, _ = town
    ref, roads, opts, plain = _scene(lines, Pose((1000, 800), 1.0, (2600, 1800)))
    # names that would be read when the search fails are not read when it succeeds
    unread = auto_georeference(roads, ref, opts, progress=False, read_names=lambda: pytest.fail("read"))
    np.testing.assert_allclose(unread.georef.gcps.world, plain.georef.gcps.world)
    for names_read in ([], [NameCue("Rue Inconnue Nulle Part", 500, 400)]):
        again = auto_georeference(roads, ref, opts, progress=False, names=names_read)
        np.testing.assert_allclose(again.georef.gcps.world, plain.georef.gcps.world)
        assert again.search_score == plain.search_score and "names" not in again.summary()


def _grid_scan(pose: Pose, path: Path, grid: bool = True) -> Path:
    """A blank scan of the map at ``pose`` with, if ``grid``, the Verniquet 250 m grid in thin lines."""
    from jadis.georef.crs import parse_crs, reproject

    img = np.full((pose.h, pose.w, 3), 225, np.uint8)
    l93, vern = pyproj.CRS("EPSG:2154"), parse_crs("VERNIQUET-m")
    corners = np.array([[0, 0], [pose.w, 0], [0, pose.h], [pose.w, pose.h]], float)
    lo, hi = (f(reproject(pose.world(corners), l93, vern), axis=0) for f in (np.min, np.max))
    for x in np.arange(np.ceil(lo[0] / 250) * 250, hi[0], 250) if grid else []:
        ends = pose.pixel(reproject(np.array([[x, lo[1] - 100], [x, hi[1] + 100]]), vern, l93)) * 16
        cv2.line(img, *(tuple(int(round(v)) for v in e) for e in ends), (60, 60, 60), 1, cv2.LINE_AA, shift=4)
    for y in np.arange(np.ceil(lo[1] / 250) * 250, hi[1], 250) if grid else []:
        ends = pose.pixel(reproject(np.array([[lo[0] - 100, y], [hi[0] + 100, y]]), vern, l93)) * 16
        cv2.line(img, *(tuple(int(round(v)) for v in e) for e in ends), (60, 60, 60), 1, cv2.LINE_AA, shift=4)
    cv2.imwrite(str(path), img)
    return path


def test_a_map_whose_streets_match_nowhere_is_placed_by_its_grid_lines_and_names(
        town: tuple[list[np.ndarray], list[str]], tmp_path: Path) -> None:
    """Streets rebuilt since (noise for streets): the printed grid's lines give scale and rotation,
    the names read say which line is which."""
    lines, names = town
    pose = Pose((1000, 1000), 0.5, (2600, 1800))    # 500 m: two lines of the 250 m grid each way
    ref = reference(lines)
    blobs = cv2.GaussianBlur(np.random.default_rng(0).random((pose.h, pose.w)).astype(np.float32), (0, 0), 6)
    roads = MapRoads(mask=blobs > np.quantile(blobs, 0.85), kind="classes", path=tmp_path / "classes.png")
    scan = _grid_scan(pose, tmp_path / "scan.png")
    opts = AutoOptions(scale_range=(0.45, 0.55), max_rotation=4)
    cues = cues_on(pose, lines, names)
    with pytest.raises(AutoGeorefFailed):
        auto_georeference(roads, ref, opts, progress=False, scan=scan)   # no names: no place
    result = auto_georeference(roads, ref, opts, progress=False, scan=scan, names=cues, year=1836)
    s = result.summary()
    assert s["grid"]["source"] == "grid lines labelled by the names read" and "names read" in s["method"]
    assert s["names"]["agreeing"] >= MIN_NAMES and s["grid"]["crossings"] == 4
    assert 0.0 <= s["cv_error_m"] < 2.0
    pts = np.stack(np.meshgrid(np.linspace(0, 1000, 5), np.linspace(0, 1000, 5)), axis=-1).reshape(-1, 2)
    err = np.hypot(*(result.georef.pixel_to_world(pts) - pose.world(pts)).T)
    assert err.max() < 1.5, err
    # too few names, or no grid printed: an honest failure
    with pytest.raises(AutoGeorefFailed):
        auto_georeference(roads, ref, opts, progress=False, scan=scan, names=cues[:MIN_NAMES - 1], year=1836)
    with pytest.raises(AutoGeorefFailed):
        auto_georeference(roads, ref, opts, progress=False, scan=_grid_scan(pose, tmp_path / "blank.png", grid=False),
                          names=cues, year=1836)


# -- the command line ----------------------------------------------------------------------------------
def _write_reference(ref: ReferenceRoads, path: Path) -> Path:
    import rasterio

    with rasterio.open(path, "w", driver="GTiff", width=ref.roads.shape[1], height=ref.roads.shape[0], count=1,
                       dtype="uint8", crs="EPSG:2154", transform=ref.transform) as ds:
        ds.write(ref.roads * np.uint8(255), 1)
    return path


def test_cli_names(run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,  # noqa: ANN001
                   town: tuple[list[np.ndarray], list[str]]) -> None:
    """--names reads the scan of a class raster (the reading is stubbed here) and reports the names
    that agree; bad combinations are one-line errors (status 2)."""
    import json

    import jadis.georef.auto_names as auto_names

    lines, names = town
    ref = _write_reference(reference(lines), tmp_path / "ref.tif")
    pose = Pose((1000, 800), 1.0, (2600, 1800))
    classes = render(reference(lines), pose).astype(np.uint8)
    classes[:40, :40] = 2  # a block: a class raster, not a mask
    cv2.imwrite(str(tmp_path / "classes.png"), classes)
    cv2.imwrite(str(tmp_path / "mask.png"), classes * 255)
    cv2.imwrite(str(tmp_path / "scan.png"), np.dstack([classes * 80, classes * 40, 255 - classes * 90]))
    cv2.imwrite(str(tmp_path / "small_scan.png"), np.zeros((50, 60, 3), np.uint8) + [0, 80, 160])
    seen = {}

    def fake_read(scan, classes_path, year=None, progress=True):  # noqa: ANN001, ANN202
        seen.update(scan=Path(scan).name, year=year)
        return cues_on(pose, lines, names)

    monkeypatch.setattr(auto_names, "read_name_cues", fake_read)
    out = tmp_path / "map.json"
    code, stdout, stderr = run_cli("georef", "auto", str(tmp_path / "classes.png"), "-r", str(ref), "-o", str(out),
                                   "--names", "--scan", str(tmp_path / "scan.png"), "--year", "1836",
                                   "--scale-range", "0.9", "1.1", "--max-rotation", "4")
    assert code == 0, stderr
    assert seen == {"scan": "scan.png", "year": 1836}
    assert "names: 8 read;" in stdout and "agree with the result" in stdout
    assert json.loads(out.read_text())["jadis"]["auto"]["names"]["agreeing"] >= MIN_NAMES
    for args, message in [
        (("classes.png", "--names"), "give its scan with --scan"),
        (("mask.png", "--names"), "a road mask has no names to read"),
        (("classes.png", "--no-names", "--year", "1836"), "does not go with --no-names"),
        (("classes.png", "--scan", "small_scan.png"), "is 60x50 pixels"),
        (("classes.png", "--names", "--scan", "nope.png"), "no such file"),
        (("classes.png", "--names", "--scan", "small_scan.png"), "is 60x50 pixels"),
    ]:
        first, *rest = args
        code, _, stderr = run_cli("georef", "auto", str(tmp_path / first), "-r", str(ref), "-o", str(tmp_path / "x.json"),
                                  *[str(tmp_path / a) if a.endswith(".png") else a for a in rest])
        assert code == 2 and message in stderr, (args, stderr)
        assert not (tmp_path / "x.json").exists()


def test_a_scan_is_segmented_once_for_streets_and_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import jadis.georef.auto_names as auto_names
    import jadis.segment.infer as infer
    import jadis.segment.predictor as predictor

    rng = np.random.default_rng(1)
    scan = cv2.GaussianBlur(rng.integers(0, 255, (120, 160, 3)).astype(np.uint8), (5, 5), 2)
    cv2.imwrite(str(tmp_path / "scan.png"), scan)
    calls = []

    def fake_predict(src, dst, pred, **kwargs):  # noqa: ANN001, ANN003, ANN202
        calls.append(Path(src))
        classes = np.zeros((120, 160), np.uint8)
        classes[60, :] = 1
        classes[:10, :10] = 2
        cv2.imwrite(str(Path(dst).with_suffix(".png")), classes)
        Path(dst).with_suffix(".png").replace(dst)

    def fake_read(scan_path, classes, year=None, progress=True):  # noqa: ANN001, ANN202
        assert Path(classes).is_file()
        return [NameCue("Rue du Bac", 10.0, 60.0, 0.9)]

    monkeypatch.setattr(predictor, "load_predictor", lambda *a, **k: object())
    monkeypatch.setattr(infer, "predict_file", fake_predict)
    monkeypatch.setattr(auto_names, "read_name_cues", fake_read)
    roads, cues = auto_names.roads_and_cues(tmp_path / "scan.png", year=1836, progress=False)
    assert calls == [tmp_path / "scan.png"]
    assert roads.kind == "scan" and roads.path == tmp_path / "scan.png" and roads.mask[60].all()
    assert cues == [NameCue("Rue du Bac", 10.0, 60.0, 0.9)]
