"""Automatic georeferencing (jadis georef auto) on synthetic street networks (no ../shared needed).

A random city (Voronoi blocks + a few long boulevards) is the reference, in Lambert-93; maps are
resampled from it through known transforms (rotation, scale, polynomial distortion), cropped,
damaged (streets removed, speckle, blank margins, a legend box) and must be recovered.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pyproj
import pytest
from scipy.spatial import Voronoi

from jadis.georef.auto import AutoGeorefFailed, AutoOptions, auto_georeference
from jadis.georef.auto_inputs import MapRoads, ReferenceRoads, classify_image, load_map_roads, load_reference

X0, Y0 = 650_000.0, 6_860_000.0   # lower-left corner of the synthetic city (EPSG:2154)
CITY_W, CITY_H, RES = 5000.0, 4000.0, 2.0


# -- synthetic data -------------------------------------------------------------------------------
def city_lines(seed: int, width: float = CITY_W, height: float = CITY_H, spacing: float = 110.0) -> list[np.ndarray]:
    """Street centre lines (world metres relative to (X0, Y0)) of a random city."""
    rng = np.random.default_rng(seed)
    n = int(width * height / spacing**2)
    pts = rng.uniform([-200, -200], [width + 200, height + 200], size=(n, 2))
    vor = Voronoi(pts)
    lines = [np.array([vor.vertices[a], vor.vertices[b]]) for a, b in vor.ridge_vertices if a >= 0 and b >= 0]
    for _ in range(6):
        c = rng.uniform([0, 0], [width, height])
        ang = rng.uniform(0, np.pi)
        d = np.array([np.cos(ang), np.sin(ang)]) * 2 * max(width, height)
        lines.append(np.array([c - d, c + d]))
    return lines


def rasterize(lines: list[np.ndarray], width: float = CITY_W, height: float = CITY_H, res: float = RES,
              street: float = 8.0) -> np.ndarray:
    w, h = int(width / res), int(height / res)
    img = np.zeros((h, w), np.uint8)
    th = max(1, int(round(street / res)))
    for ln in lines:
        px = np.c_[ln[:, 0] / res, h - ln[:, 1] / res] * 16
        cv2.line(img, tuple(np.round(px[0]).astype(int)), tuple(np.round(px[1]).astype(int)), 255, th,
                 cv2.LINE_8, shift=4)
    return img


def make_reference(seed: int = 1) -> ReferenceRoads:
    from rasterio.transform import from_origin

    img = rasterize(city_lines(seed))
    return ReferenceRoads(roads=(img > 0).astype(np.uint8), valid=np.ones(img.shape, bool),
                          transform=from_origin(X0, Y0 + CITY_H, RES, RES), crs=pyproj.CRS("EPSG:2154"),
                          source="synthetic")


class Truth:
    """A known map pixel -> world transform: similarity + optional quadratic distortion."""

    def __init__(self, size: tuple[int, int], scale: float, theta_deg: float, centre: tuple[float, float],
                 quad: float = 0.0) -> None:
        self.w, self.h = size
        self.s, self.t = scale, np.deg2rad(theta_deg)
        self.cx, self.cy = X0 + centre[0], Y0 + centre[1]
        self.quad = quad

    def __call__(self, px: np.ndarray) -> np.ndarray:
        x = px[..., 0] - self.w / 2
        y = px[..., 1] - self.h / 2
        u = x + self.quad * x * y
        v = y + 0.7 * self.quad * x * x
        c, s = np.cos(self.t), np.sin(self.t)
        return np.stack([self.cx + self.s * (c * u + s * v), self.cy + self.s * (s * u - c * v)], axis=-1)


def render_map(ref: ReferenceRoads, truth: Truth, seed: int = 5, damage: bool = True) -> np.ndarray:
    """The map's road mask: the reference seen through ``truth``, then damaged."""
    yy, xx = np.mgrid[0:truth.h, 0:truth.w] + 0.5
    world = truth(np.stack([xx, yy], axis=-1))
    col = ((world[..., 0] - X0) / RES - 0.5).astype(np.float32)
    row = ((Y0 + CITY_H - world[..., 1]) / RES - 0.5).astype(np.float32)
    m = (cv2.remap(ref.roads.astype(np.float32), col, row, cv2.INTER_LINEAR) > 0.5).astype(np.uint8)
    if damage:
        rng = np.random.default_rng(seed)
        for _ in range(25):  # streets missing or changed since
            centre = tuple(int(v) for v in rng.uniform([0, 0], [truth.w, truth.h]))
            cv2.circle(m, centre, int(rng.uniform(15, 60)), 0, -1)
        m |= (rng.random(m.shape) < 0.002).astype(np.uint8)  # speckle
        m[:, : truth.w // 12] = 0                            # blank margin
        m[: truth.h // 14, :] = 0
        x0, y0 = int(truth.w * 0.75), int(truth.h * 0.75)     # a legend box
        m[y0:, x0:] = 0
        cv2.rectangle(m, (x0 + 10, y0 + 10), (truth.w - 10, truth.h - 10), 1, 3)
    return m.astype(bool)


def grid_error(georef, truth: Truth, margin: float = 0.15) -> np.ndarray:  # noqa: ANN001
    """Errors (metres) of the georeference on a grid over the map's content."""
    xs = np.linspace(truth.w * margin, truth.w * (1 - margin), 9)
    ys = np.linspace(truth.h * margin, truth.h * (1 - margin), 7)
    pts = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
    return np.hypot(*(georef.pixel_to_world(pts) - truth(pts)).T)


def write_reference_tif(ref: ReferenceRoads, path: Path) -> Path:
    import rasterio

    with rasterio.open(path, "w", driver="GTiff", width=ref.roads.shape[1], height=ref.roads.shape[0], count=1,
                       dtype="uint8", crs="EPSG:2154", transform=ref.transform, compress="deflate") as ds:
        ds.write(ref.roads * np.uint8(255), 1)
    return path


@pytest.fixture(scope="module")
def reference() -> ReferenceRoads:
    return make_reference(seed=1)


@pytest.fixture(scope="module")
def reference_tif(reference: ReferenceRoads, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_reference_tif(reference, tmp_path_factory.mktemp("ref") / "streets_l93.tif")


def _roads(mask: np.ndarray) -> MapRoads:
    return MapRoads(mask=mask, kind="mask", path=Path("synthetic.png"))


# -- recovering known transforms ----------------------------------------------------------------------
def test_recovers_rotated_similarity(reference: ReferenceRoads) -> None:
    truth = Truth((1800, 1400), scale=1.6, theta_deg=123.0, centre=(2600, 2000))
    result = auto_georeference(_roads(render_map(reference, truth)), reference, progress=False)
    err = grid_error(result.georef, truth)
    assert np.median(err) < 3.0, err
    assert err.max() < 15.0, err
    assert result.confidence > 0.5
    assert len(result.georef.gcps) >= 20
    assert abs(result.scale - 1.6) < 0.02


def test_recovers_polynomial_distortion(reference: ReferenceRoads) -> None:
    truth = Truth((2000, 1500), scale=1.5, theta_deg=-8.0, centre=(2400, 2100), quad=4e-5)
    result = auto_georeference(_roads(render_map(reference, truth, seed=7)), reference, progress=False)
    err = grid_error(result.georef, truth)
    assert np.median(err) < 3.0, err
    assert err.max() < 20.0, err
    # a quadratic warp: the affine fit must be clearly worse, a polynomial or spline chosen
    assert result.georef.transform in {"polynomial2", "polynomial3", "tps"}
    assert result.transform_cv_m["polynomial1"] > 2 * result.cv_error_m


def test_forced_transform_and_scale_range(reference: ReferenceRoads) -> None:
    truth = Truth((1600, 1200), scale=2.0, theta_deg=3.0, centre=(2500, 1900))
    opts = AutoOptions(transform="affine", scale_range=(1.5, 2.5), max_rotation=10)
    result = auto_georeference(_roads(render_map(reference, truth, seed=3)), reference, opts, progress=False)
    assert result.georef.transform == "polynomial1"
    assert np.median(grid_error(result.georef, truth)) < 3.0


# -- saying "failed" ---------------------------------------------------------------------------------
def test_other_city_fails(reference: ReferenceRoads) -> None:
    other = make_reference(seed=99)
    truth = Truth((1800, 1400), scale=1.6, theta_deg=30.0, centre=(2500, 2000))
    with pytest.raises(AutoGeorefFailed, match="failed"):
        auto_georeference(_roads(render_map(other, truth)), reference, progress=False)


def test_noise_fails(reference: ReferenceRoads) -> None:
    rng = np.random.default_rng(0)
    blobs = cv2.GaussianBlur(rng.random((1400, 1800)).astype(np.float32), (0, 0), 6)
    mask = blobs > np.quantile(blobs, 0.85)
    with pytest.raises(AutoGeorefFailed, match="failed"):
        auto_georeference(_roads(mask), reference, progress=False)



def repeated_reference() -> ReferenceRoads:
    """A reference whose east half repeats its west half."""
    from rasterio.transform import from_origin

    half = make_reference(seed=4).roads[:, : int(2500 / RES)]
    twice = np.hstack([half, half])
    return ReferenceRoads(roads=twice, valid=np.ones(twice.shape, bool),
                          transform=from_origin(X0, Y0 + CITY_H, RES, RES), crs=pyproj.CRS("EPSG:2154"),
                          source="synthetic, repeated")


def test_a_map_fitting_two_places_is_ambiguous() -> None:
    """A reference whose east half repeats its west half: the map matches both places equally
    well, so no answer is trustworthy and the run says so (dense matching of the rival pose)."""
    ref = repeated_reference()
    truth = Truth((1000, 800), scale=1.0, theta_deg=0.0, centre=(1200, 2000))
    with pytest.raises(AutoGeorefFailed, match="ambiguous"):
        auto_georeference(_roads(render_map(ref, truth, damage=False)), ref,
                          AutoOptions(scale_range=(0.9, 1.1), max_rotation=4), progress=False)

# -- the command line ----------------------------------------------------------------------------
def test_cli_end_to_end(run_cli, reference: ReferenceRoads, reference_tif: Path, tmp_path: Path) -> None:
    from jadis.georef.georeference import Georeference

    truth = Truth((1700, 1300), scale=1.7, theta_deg=-35.0, centre=(2500, 2000))
    map_path = tmp_path / "map.png"
    cv2.imwrite(str(map_path), render_map(reference, truth, seed=11).astype(np.uint8) * 255)
    out = tmp_path / "map.json"
    code, stdout, err = run_cli("georef", "auto", str(map_path), "--reference", str(reference_tif), "-o", str(out))
    assert code == 0, err
    assert "confidence" in stdout
    georef = Georeference.load(out)
    assert georef.image_size == (1700, 1300)
    assert georef.crs.to_epsg() == 2154
    assert np.median(grid_error(georef, truth)) < 3.0
    meta = json.loads(out.read_text())["jadis"]
    assert meta["auto"]["confidence"] > 0.5 and meta["auto"]["input"] == "mask"


def test_cli_failure_writes_nothing(run_cli, reference_tif: Path, tmp_path: Path) -> None:
    other = make_reference(seed=42)
    truth = Truth((1600, 1200), scale=1.8, theta_deg=0.0, centre=(2500, 2000))
    map_path = tmp_path / "other_city.png"
    cv2.imwrite(str(map_path), render_map(other, truth).astype(np.uint8) * 255)
    out = tmp_path / "out.json"
    code, _, err = run_cli("georef", "auto", str(map_path), "-r", str(reference_tif), "-o", str(out))
    assert code == 3
    assert err.count("\n") == 1 and "failed" in err and "Traceback" not in err
    assert not out.exists()
    assert not list(tmp_path.glob(".out*"))


def test_vector_reference(tmp_path: Path) -> None:
    import geopandas as gpd
    from shapely.geometry import LineString

    lines = city_lines(seed=1)
    geoms = [LineString(ln + [X0, Y0]) for ln in lines]
    path = tmp_path / "streets.gpkg"
    gpd.GeoDataFrame({"id": range(len(geoms))}, geometry=geoms, crs="EPSG:2154").clip(
        (X0, Y0, X0 + CITY_W, Y0 + CITY_H)).to_file(path)
    ref = load_reference(path)
    assert ref.crs.to_epsg() == 2154 and ref.resolution == 2.0
    truth = Truth((1800, 1400), scale=1.6, theta_deg=15.0, centre=(2500, 2000))
    result = auto_georeference(_roads(render_map(make_reference(seed=1), truth)), ref, progress=False)
    assert np.median(grid_error(result.georef, truth)) < 4.0


# -- what the input is --------------------------------------------------------------------------------
def test_classify_inputs(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    mask = (rng.random((300, 400)) < 0.2).astype(np.uint8) * 255
    cv2.imwrite(str(tmp_path / "mask.png"), mask)
    cv2.imwrite(str(tmp_path / "mask01.tif"), mask // 255)
    cv2.imwrite(str(tmp_path / "mask_rgb.png"), np.dstack([mask] * 3))
    classes = rng.integers(0, 4, (300, 400)).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "classes.png"), classes)
    scan = cv2.GaussianBlur(rng.integers(0, 255, (300, 400, 3)).astype(np.uint8), (5, 5), 2)
    cv2.imwrite(str(tmp_path / "scan.jpg"), scan)
    cv2.imwrite(str(tmp_path / "grey.png"), scan[..., 0])
    assert classify_image(tmp_path / "mask.png") == "mask"
    assert classify_image(tmp_path / "mask01.tif") == "mask"
    assert classify_image(tmp_path / "mask_rgb.png") == "mask"
    assert classify_image(tmp_path / "classes.png") == "classes"
    assert classify_image(tmp_path / "scan.jpg") == "scan"
    assert classify_image(tmp_path / "grey.png") == "scan"
    roads = load_map_roads(tmp_path / "mask01.tif")
    assert roads.kind == "mask" and np.array_equal(roads.mask, mask > 0)
    roads = load_map_roads(tmp_path / "classes.png")
    assert roads.kind == "classes" and np.array_equal(roads.mask, classes == 1)


def test_scan_is_segmented(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import jadis.georef.auto_inputs as inputs

    rng = np.random.default_rng(1)
    scan = cv2.GaussianBlur(rng.integers(0, 255, (120, 160, 3)).astype(np.uint8), (5, 5), 2)
    cv2.imwrite(str(tmp_path / "scan.png"), scan)
    seen = {}

    def fake_segment(path, **kwargs):  # noqa: ANN001, ANN003, ANN202
        seen["path"] = path
        out = np.zeros((120, 160), bool)
        out[60, :] = True
        return out

    monkeypatch.setattr(inputs, "_segment_streets", fake_segment)
    roads = load_map_roads(tmp_path / "scan.png")
    assert roads.kind == "scan" and seen["path"] == tmp_path / "scan.png" and roads.mask[60].all()


# -- bad inputs: one line, exit 2 ---------------------------------------------------------------------
@pytest.fixture()
def good_map(tmp_path: Path) -> Path:
    path = tmp_path / "good_map.png"
    m = np.zeros((200, 300), np.uint8)
    m[100, :] = 255
    m[:, 150] = 255
    cv2.imwrite(str(path), m)
    return path


def _bad(run_cli, *args: str) -> str:  # noqa: ANN001
    code, _, err = run_cli("georef", "auto", *args)
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("jadis: error:") and "Traceback" not in err
    return err


def test_bad_inputs(run_cli, tmp_path: Path, good_map: Path, reference_tif: Path) -> None:
    out = str(tmp_path / "o.json")
    assert "no such file" in _bad(run_cli, str(tmp_path / "missing.png"), "-r", str(reference_tif), "-o", out)
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    assert "not a readable image" in _bad(run_cli, str(text), "-r", str(reference_tif), "-o", out)
    truncated = tmp_path / "trunc.png"
    truncated.write_bytes(good_map.read_bytes()[:200])
    _bad(run_cli, str(truncated), "-r", str(reference_tif), "-o", out)
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.zeros((50, 50), np.uint8))
    assert "no street" in _bad(run_cli, str(blank), "-r", str(reference_tif), "-o", out)
    plain = tmp_path / "plain.png"
    cv2.imwrite(str(plain), np.zeros((50, 50), np.uint8) + 255)
    assert "georeferencing" in _bad(run_cli, str(good_map), "-r", str(plain), "-o", out)
    assert "no such file" in _bad(run_cli, str(good_map), "-r", str(tmp_path / "nope.tif"), "-o", out)
    junk = tmp_path / "junk.gpkg"
    junk.write_text("garbage")
    assert "not a readable vector file" in _bad(run_cli, str(good_map), "-r", str(junk), "-o", out)
    empty = tmp_path / "empty.geojson"
    empty.write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    _bad(run_cli, str(good_map), "-r", str(empty), "-o", out)
    assert "positive" in _bad(run_cli, str(good_map), "-r", str(reference_tif), "-o", out,
                              "--scale-range", "-1", "2")
    assert "--near" in _bad(run_cli, str(good_map), "-r", str(reference_tif), "-o", out,
                            "--near", str(tmp_path / "no_neighbour.json"))
    assert "not valid JSON" in _bad(run_cli, str(good_map), "-r", str(reference_tif), "-o", out, "--near", str(text))
    assert not (tmp_path / "o.json").exists()


def test_geographic_vector_reference_is_projected(tmp_path: Path) -> None:
    import geopandas as gpd
    from shapely.geometry import LineString

    path = tmp_path / "wgs84.geojson"
    gpd.GeoDataFrame(geometry=[LineString([(2.30, 48.85), (2.32, 48.86)]), LineString([(2.30, 48.86), (2.32, 48.85)])],
                     crs="EPSG:4326").to_file(path)
    ref = load_reference(path)
    assert ref.crs.is_projected and ref.roads.any()


def test_paletted_class_raster_keeps_its_class_ids(tmp_path: Path) -> None:
    """A class raster saved as a paletted PNG (colours per class) is read by index, not by grey level."""
    from PIL import Image

    rng = np.random.default_rng(1)
    classes = rng.integers(0, 4, (200, 300)).astype(np.uint8)
    img = Image.fromarray(classes, mode="P")
    img.putpalette([255, 255, 255, 200, 60, 60, 90, 90, 90, 20, 20, 200] + [0] * (256 * 3 - 12))
    img.save(tmp_path / "classes_palette.png")
    assert classify_image(tmp_path / "classes_palette.png") == "classes"
    roads = load_map_roads(tmp_path / "classes_palette.png")
    assert roads.kind == "classes" and np.array_equal(roads.mask, classes == 1)


# -- the shipped reference and the search bands -------------------------------------------------------
def test_shipped_reference_is_the_default() -> None:
    """The OSM road raster of Paris ships with jadis (with its ODbL licence) and is the default."""
    from jadis.georef.auto_inputs import DEFAULT_REFERENCE, default_reference

    assert default_reference() == DEFAULT_REFERENCE
    licence = (DEFAULT_REFERENCE.parent / "LICENCE.md").read_text(encoding="utf-8")
    assert "OpenStreetMap contributors" in licence and "ODbL" in licence and "CC BY 4.0" in licence
    ref = load_reference()
    assert ref.crs.to_epsg() == 2154 and abs(ref.resolution - 1.3) < 0.01
    t, (h, w) = ref.transform, ref.roads.shape
    x0, x1, y0, y1 = t.c, t.c + t.a * w, t.f + t.e * h, t.f
    assert x0 < 652_000 < x1 and y0 < 6_862_000 < y1  # Paris (the Pont Neuf) is inside
    assert 0.05 < ref.roads[ref.valid].mean() < 0.5


def test_cli_reference_is_optional(run_cli, reference_tif: Path, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --reference, `jadis georef auto` uses the shipped reference (here replaced by the
    synthetic city, as the synthetic maps are not Paris)."""
    import jadis.georef.auto_inputs as inputs

    monkeypatch.setattr(inputs, "DEFAULT_REFERENCE", reference_tif)
    ref = load_reference(reference_tif)
    truth = Truth((1600, 1200), scale=1.7, theta_deg=20.0, centre=(2500, 2000))
    map_path = tmp_path / "map.png"
    cv2.imwrite(str(map_path), render_map(ref, truth, seed=4).astype(np.uint8) * 255)
    out = tmp_path / "map.json"
    code, stdout, err = run_cli("georef", "auto", str(map_path), "-o", str(out))
    assert code == 0, err
    from jadis.georef.georeference import Georeference

    assert np.median(grid_error(Georeference.load(out), truth)) < 3.0
    code, stdout, _ = run_cli("georef", "auto", "--help")
    assert code == 0 and "../shared" not in stdout and "shipped" in stdout


def test_search_bands_fit_the_map_size(reference: ReferenceRoads) -> None:
    """A city plan is searched at a coarse level only; an atlas sheet also at levels where its
    few hundred metres are many pixels; --scale-range gives one band."""
    from jadis.georef.auto import ATLAS_SCALE_RANGE, search_bands
    from jadis.georef.auto_search import MapFields, ReferenceFields

    reff = ReferenceFields(reference)
    big = MapFields(_roads(np.ones((600, 8000), bool)), [np.full((600, 8000), 255, np.uint8)])
    small = MapFields(_roads(np.ones((300, 400), bool)), [np.full((300, 400), 255, np.uint8)])
    b_big = search_bands(big, reff, AutoOptions())
    b_small = search_bands(small, reff, AutoOptions())
    assert len(b_big) == 1
    assert len(b_small) > 1
    assert min(b.lo for b in b_small) <= ATLAS_SCALE_RANGE[0] * 400 * 1.5
    assert min(b.res for b in b_small) < b_small[0].res / 4
    for b in b_small:
        assert b.lo / b.res >= 8  # the smallest map of a band is never a few pixels
    (one,) = search_bands(small, reff, AutoOptions(scale_range=(2.0, 4.0)))
    assert one.lo == pytest.approx(800.0) and one.hi == pytest.approx(1600.0)


def test_recovers_an_atlas_sheet_without_hints() -> None:
    """An atlas-like sheet: 1.0 km across at 0.5 m/px (2000 px), nearly north-up, found with no
    scale or rotation hint against a 4 x 3.2 km reference at 1 m/px."""
    from rasterio.transform import from_origin

    w, h, res = 4000.0, 3200.0, 1.0
    img = rasterize(city_lines(3, w, h, spacing=70.0), w, h, res, street=10.0)
    ref = ReferenceRoads(roads=(img > 0).astype(np.uint8), valid=np.ones(img.shape, bool),
                         transform=from_origin(X0, Y0 + h, res, res), crs=pyproj.CRS("EPSG:2154"),
                         source="synthetic")
    truth = Truth((2000, 1600), scale=0.5, theta_deg=2.0, centre=(2300, 1500))
    yy, xx = np.mgrid[0:truth.h, 0:truth.w] + 0.5
    world = truth(np.stack([xx, yy], axis=-1))
    col = ((world[..., 0] - X0) / res - 0.5).astype(np.float32)
    row = ((Y0 + h - world[..., 1]) / res - 0.5).astype(np.float32)
    m = cv2.remap(ref.roads.astype(np.float32), col, row, cv2.INTER_LINEAR) > 0.5
    result = auto_georeference(_roads(m), ref, progress=False)
    err = grid_error(result.georef, truth)
    assert np.median(err) < 3.0, err
    assert abs(result.scale - 0.5) < 0.02


@pytest.mark.parametrize("corner", [(0.2, 0.2), (0.8, 0.2), (0.2, 0.8), (0.8, 0.8)])
def test_search_finds_a_sheet_in_every_part_of_the_reference(reference: ReferenceRoads,
                                                              corner: tuple[float, float]) -> None:
    """The FFT search's shifts cover the whole reference: a sheet in the east or south half is not
    wrapped a reference width away (the circular shift was once split at half the FFT size)."""
    from jadis.georef.auto import search_pose
    from jadis.georef.auto_features import density_levels
    from jadis.georef.auto_search import MapFields, ReferenceFields

    truth = Truth((900, 700), scale=1.0, theta_deg=0.0, centre=(corner[0] * CITY_W, corner[1] * CITY_H))
    mask = render_map(reference, truth, damage=False)
    mapf = MapFields(_roads(mask), density_levels(mask))
    cands, _, _ = search_pose(mapf, ReferenceFields(reference), AutoOptions(scale_range=(0.9, 1.1), max_rotation=4))
    found = cands[0].pose @ [truth.w / 2, truth.h / 2, 1.0]
    assert np.hypot(*(found[:2] - truth(np.array([truth.w / 2, truth.h / 2])))) < 15.0


def test_signed_shift_splits_at_the_reference_size() -> None:
    from jadis.georef.auto_search import signed_shift

    # a 100-cell reference correlated with a 20-cell template over 120 cells
    assert signed_shift(0, 120, 100) == 0
    assert signed_shift(90, 120, 100) == 90     # far right of the reference, not -30
    assert signed_shift(110, 120, 100) == -10   # the template hanging over the start


def test_a_sheet_ambiguous_over_the_city_is_found_next_to_its_aligned_neighbour() -> None:
    """The repeated reference of the test above: alone the map fits two places and fails; next to a
    sheet of the same series already aligned (1 km west of it), only one of them is near."""
    from jadis.georef.auto_neighbours import neighbour_prior, similar_sheets
    from jadis.georef.gcps import GcpSet
    from jadis.georef.georeference import Georeference

    ref = repeated_reference()
    truth = Truth((1000, 800), scale=1.0, theta_deg=0.0, centre=(1200, 2000))
    west = Truth((1000, 800), scale=1.0, theta_deg=0.0, centre=(200, 2000))
    px = np.array([[0, 0], [1000, 0], [0, 800], [1000, 800]], float)
    neighbour = Georeference(GcpSet(px, west(px), "EPSG:2154"), "polynomial1", image_size=(1000, 800)).validate()
    opts = AutoOptions(scale_range=(0.9, 1.1), max_rotation=4)
    roads = _roads(render_map(ref, truth, damage=False))
    result = auto_georeference(roads, ref, opts, progress=False, neighbours=[neighbour])
    assert np.median(grid_error(result.georef, truth)) < 3.0
    assert result.summary()["neighbours"]["sheets"][0]["m_per_px"] == pytest.approx(1.0, abs=0.01)
    # a neighbour far from both places leaves it ambiguous, as without one
    far = Truth((1000, 800), scale=1.0, theta_deg=0.0, centre=(1200, -6000))
    stranger = Georeference(GcpSet(px, far(px), "EPSG:2154"), "polynomial1", image_size=(1000, 800)).validate()
    with pytest.raises(AutoGeorefFailed, match="ambiguous"):
        auto_georeference(roads, ref, opts, progress=False, neighbours=[stranger])
    # the prior: the neighbour's centre, its scale +-10 %, 1.6 extents around it; other series left out
    prior = neighbour_prior([neighbour], (1000, 800))
    (area,) = prior.areas
    assert (area.x, area.y) == pytest.approx(tuple(west(np.array([[500.0, 400.0]]))[0]), abs=0.5)
    assert area.scale == pytest.approx((0.9, 1.1), abs=0.01) and area.radius == pytest.approx(1600, abs=5)
    plan = Georeference(GcpSet(px * 4, west(px), "EPSG:2154"), "polynomial1", image_size=(4000, 3200)).validate()
    assert similar_sheets([neighbour, plan], (800, 1000)) == [neighbour]
