"""Georeferencing core: CRSs, GCP sets, transforms, georeferences, residuals / leave-one-out."""

from __future__ import annotations

import numpy as np
import pyproj
import pytest

from jadis.errors import JadisError
from jadis.georef.crs import crs_name, ground_distance, metres_per_unit, parse_crs
from jadis.georef.fit import fit_report
from jadis.georef.gcps import GcpSet
from jadis.georef.georeference import Georeference
from jadis.georef.transforms import TRANSFORMS, fit_transform, min_points, transform_name

RNG = np.random.default_rng(42)


def _grid(n: int = 6, size: float = 4000.0) -> np.ndarray:
    g = np.linspace(100, size - 100, n)
    xx, yy = np.meshgrid(g, g)
    return np.column_stack([xx.ravel(), yy.ravel()]) + RNG.uniform(-30, 30, (n * n, 2))


def _l93(px: np.ndarray) -> np.ndarray:
    """A plausible smooth pixel -> Lambert-93 mapping over Paris (0.4 m/px, slight bend)."""
    x, y = px[:, 0], px[:, 1]
    return np.column_stack([651000 + 0.4 * x + 0.01 * y + 2e-6 * x * y,
                            6862000 - 0.4 * y + 0.015 * x + 3e-6 * x * x])


# -- CRS ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["EPSG:2154", "2154", "IGNF:LAMB93", "WGS84", "L93",
                                  "+proj=aeqd +lat_0=48.83635863 +lon_0=2.33652533 +ellps=GRS80 +units=m",
                                  "VERNIQUET-toise", "verniquet-m", "ATLAS-MUN"])
def test_parse_crs_accepts_codes_proj_and_named_grids(text):
    crs = parse_crs(text)
    assert isinstance(crs, pyproj.CRS)
    assert parse_crs(crs_name(crs)) == crs


def test_parse_crs_wkt_and_file(tmp_path):
    wkt = parse_crs("EPSG:2154").to_wkt()
    assert parse_crs(wkt).to_epsg() == 2154
    f = tmp_path / "x.prj"
    f.write_text(wkt)
    assert parse_crs(str(f)).to_epsg() == 2154


@pytest.mark.parametrize("bad", ["EPSG:999999", "not a crs", "", "+proj=nonsense"])
def test_unknown_crs_is_a_clear_error(bad):
    with pytest.raises(JadisError, match="CRS"):
        parse_crs(bad)


def test_named_grids_match_published_parameters():
    # The Verniquet origin (the Paris Observatory meridian) is (0, 0) in both grids;
    # 1000 toises east is 1949.04 m on the ground.
    vt, vm = parse_crs("VERNIQUET-toise"), parse_crs("VERNIQUET-m")
    d = ground_distance(np.array([[0.0, 0.0]]), np.array([[1000.0, 0.0]]), vt)[0]
    assert d == pytest.approx(1949.036, abs=0.05)
    d = ground_distance(np.array([[0.0, 0.0]]), np.array([[1000.0, 0.0]]), vm)[0]
    assert d == pytest.approx(1000.0, abs=0.05)
    assert metres_per_unit(vt, np.array([[0.0, 0.0]])) == pytest.approx(1.949, abs=0.002)
    # Atlas municipal grid: origin at the same point
    lonlat = pyproj.Transformer.from_crs(parse_crs("ATLAS-MUN"), "OGC:CRS84", always_xy=True).transform(0, 0)
    assert lonlat == pytest.approx((2.33652533, 48.83635864), abs=1e-7)


# -- GCP sets -----------------------------------------------------------------------------------
def test_gcpset_validation_errors():
    px = np.array([[0, 0], [100, 0], [0, 100], [100, 100]], float)
    w = _l93(px)
    g = GcpSet(px, w, "EPSG:2154")
    g.validate(4)
    with pytest.raises(JadisError, match="at least 6"):
        g.validate(6, "polynomial order 2")
    dup = GcpSet(np.vstack([px, px[:1]]), np.vstack([w, w[:1] + 5]), "EPSG:2154")
    with pytest.raises(JadisError, match="same pixel position"):
        dup.validate(3)
    line = np.column_stack([np.arange(5) * 10.0, np.arange(5) * 20.0])
    with pytest.raises(JadisError, match="on one line"):
        GcpSet(line, _l93(line) + RNG.normal(0, 1, (5, 2)), "EPSG:2154").validate(3)
    with pytest.raises(JadisError, match="non-numeric"):
        GcpSet(np.array([[0, np.nan]]), np.array([[1, 2]]), "EPSG:2154")
    with pytest.raises(JadisError, match="2 pixel points but 1"):
        GcpSet(px[:2], w[:1], "EPSG:2154")


def test_gcpset_subset_crs_and_disabled():
    px = _grid(3)
    g = GcpSet(px, _l93(px), "EPSG:2154", enabled=[True] * 8 + [False], ids=[f"p{i}" for i in range(9)])
    assert g.n_enabled == 8 and len(g.active()) == 8
    assert g.active().ids[-1] == "p7"
    lonlat = g.to_crs("WGS84")
    assert lonlat.crs.is_geographic
    back = lonlat.to_crs("EPSG:2154")
    assert np.allclose(back.world, g.world, atol=1e-6)


# -- transforms ---------------------------------------------------------------------------------
def test_transform_names_and_min_points():
    assert transform_name("affine") == "polynomial1"
    assert transform_name("thinPlateSpline") == "tps"
    assert {n: min_points(n) for n in TRANSFORMS} == {
        "helmert": 2, "polynomial1": 3, "polynomial2": 6, "polynomial3": 10, "projective": 4, "tps": 3}
    with pytest.raises(JadisError, match="unknown transform"):
        transform_name("bogus")


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_each_transform_enforces_its_minimum(name):
    n = min_points(name)
    src = _grid(4)[: n - 1]
    with pytest.raises(JadisError, match=f"at least {n}"):
        fit_transform(name, src, _l93(src))


def test_helmert_recovers_a_similarity_exactly():
    src = _grid(3)
    ang, s = 0.3, 1.7
    rot = s * np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    dst = src @ rot.T + [1000, -500]
    t = fit_transform("helmert", src, dst)
    assert np.allclose(t(src), dst, atol=1e-6)
    assert t.scale == pytest.approx(s) and t.rotation == pytest.approx(ang)
    assert np.allclose(t.inverse()(dst), src, atol=1e-6)


@pytest.mark.parametrize("order", [1, 2, 3])
def test_polynomial_recovers_a_polynomial_of_its_order(order):
    src = _grid(5)
    x, y = src[:, 0] / 1000, src[:, 1] / 1000
    extra = {1: 0, 2: 3.0 * x * y + 2 * y**2, 3: 3.0 * x * y + 0.5 * x**3 - 0.7 * x * y**2}[order]
    dst = np.column_stack([600000 + 400 * x - 30 * y + extra, 6800000 + 20 * x + 410 * y - extra])
    t = fit_transform(f"polynomial{order}", src, dst)
    assert np.allclose(t(src), dst, atol=1e-5)
    # a lower order cannot fit it (except order 1 data)
    if order > 1:
        lower = fit_transform(f"polynomial{order - 1}", src, dst)
        assert np.abs(lower(src) - dst).max() > 0.1


def test_projective_recovers_a_homography():
    src = _grid(4)
    h = np.array([[1.1, 0.05, 30], [-0.02, 0.95, 12], [2e-5, -1e-5, 1]])
    hom = np.column_stack([src, np.ones(len(src))]) @ h.T
    dst = hom[:, :2] / hom[:, 2:]
    t = fit_transform("projective", src, dst)
    assert np.allclose(t(src), dst, atol=1e-6)
    assert np.allclose(t.inverse()(dst), src, atol=1e-6)
    with pytest.raises(JadisError, match="degenerate|line"):
        fit_transform("projective", np.array([[0, 0], [1, 1], [2, 2.0], [0, 5]]), np.array([[0, 0], [1, 1], [2, 2.0], [0, 5]]))


def test_tps_interpolates_and_is_smooth():
    src = _grid(4)
    dst = _l93(src) + RNG.normal(0, 2, src.shape)
    t = fit_transform("tps", src, dst)
    assert np.allclose(t(src), dst, atol=1e-6)
    # reproduces an affine map exactly everywhere
    aff = src @ np.array([[0.4, 0.01], [0.02, -0.4]]).T + [651000, 6862000]
    ta = fit_transform("tps", src, aff)
    q = RNG.uniform(0, 4000, (50, 2))
    assert np.allclose(ta(q), q @ np.array([[0.4, 0.01], [0.02, -0.4]]).T + [651000, 6862000], atol=1e-6)


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_analytic_jacobian_matches_finite_differences(name):
    src = _grid(4)
    t = fit_transform(name, src, _l93(src) + RNG.normal(0, 1, src.shape))
    p = np.array([[1234.0, 2345.0], [300.0, 3500.0]])
    e = 0.5
    num = np.stack([(t(p + [e, 0]) - t(p - [e, 0])) / (2 * e), (t(p + [0, e]) - t(p - [0, e])) / (2 * e)], axis=2)
    assert np.allclose(t.jacobian(p), num, rtol=1e-5, atol=1e-6)


# -- georeference -------------------------------------------------------------------------------
def test_georeference_directions_and_handedness():
    px = _grid(4)
    g = Georeference(GcpSet(px, _l93(px), "EPSG:2154"), "helmert", image_size=(4000, 4000))
    w = g.pixel_to_world(px)
    # y down in pixels, y up in the world: a proper similarity after the flip fits well
    assert np.abs(w - _l93(px)).max() < 25
    assert np.allclose(g.world_to_pixel(w), px, atol=1e-6)  # Helmert backward = exact inverse
    assert g.pixel_to_lonlat(px[:1])[0] == pytest.approx([2.34, 48.86], abs=0.05)
    jac = g.jacobian(px[:1])[0]
    assert jac[1, 1] < 0 < jac[0, 0]  # +pixel y goes south


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_backward_is_fitted_separately_and_close_to_inverse(name):
    px = _grid(5)
    g = Georeference(GcpSet(px, _l93(px) + RNG.normal(0, 0.2, px.shape), "EPSG:2154"), name)
    rt = g.world_to_pixel(g.pixel_to_world(px))
    assert np.abs(rt - px).max() < (150 if name == "helmert" else 2.0)


def test_georeference_geographic_gcps_are_fitted_in_web_mercator():
    px = _grid(3)
    affine = px @ np.array([[0.4, 0.01], [0.015, -0.4]]).T + [651000, 6862000]
    lonlat = GcpSet(px, affine, "EPSG:2154").to_crs("WGS84")
    g = Georeference(lonlat, "polynomial1")
    assert g.crs.to_epsg() == 3857
    assert np.allclose(g.pixel_to_lonlat(px), lonlat.world, atol=1e-6)  # ~0.1 m


def test_georeference_to_crs_and_image_checks():
    px = _grid(3)
    g = Georeference(GcpSet(px, _l93(px), "EPSG:2154"), "polynomial1", image_size=(4000, 4000))
    v = g.to_crs("VERNIQUET-m")
    assert np.allclose(v.pixel_to_crs(px, "EPSG:2154"), g.pixel_to_world(px), atol=0.5)
    g.check_image(4000, 4000)
    with pytest.raises(JadisError, match="image size mismatch"):
        g.check_image(2000, 2000)
    with pytest.raises(JadisError, match="image size mismatch"):
        Georeference(g.gcps, "affine").check_image(1000, 1000)
    with pytest.raises(JadisError, match="at least 10"):
        Georeference(g.gcps, "polynomial3").validate()
    with pytest.raises(JadisError, match="at least 10"):
        Georeference(g.gcps, "polynomial3").pixel_to_world(px)


# -- residuals, RMSE conventions, leave-one-out, outliers ----------------------------------------
def test_fit_report_conventions():
    px = _grid(5)
    w = _l93(px) + RNG.normal(0, 0.5, px.shape)
    g = Georeference(GcpSet(px, w, "EPSG:2154"), "polynomial1")
    rep = fit_report(g)
    res = g.pixel_to_world(px) - w
    n, m = len(px), 3
    assert rep.rmse_m == pytest.approx(np.sqrt(np.sum(res**2) / n), rel=1e-3)
    assert rep.rmse_qgis_m == pytest.approx(np.sqrt(np.sum(res**2) / (n - m)), rel=1e-3)
    # 0.4 m per pixel -> pixel residuals are 2.5x the metre residuals
    assert rep.rmse_px == pytest.approx(rep.rmse_m / 0.4, rel=0.05)
    assert rep.loo_rmse_m > rep.rmse_m  # held-out error is larger than the fitted residual
    assert not rep.outlier.any()


def test_tps_loo_closed_form_equals_refitting():
    px = _grid(4)
    w = _l93(px) + RNG.normal(0, 1.0, px.shape)
    g = Georeference(GcpSet(px, w, "EPSG:2154"), "tps")
    rep = fit_report(g)
    assert rep.rmse_m == pytest.approx(0, abs=1e-6)
    for i in (0, 5, 11):
        keep = np.arange(len(px)) != i
        gi = Georeference(GcpSet(px[keep], w[keep], "EPSG:2154"), "tps")
        err = np.hypot(*(gi.pixel_to_world(px[i:i + 1])[0] - w[i]))
        assert rep.loo_m[i] == pytest.approx(err, rel=1e-3, abs=1e-3)


def test_outlier_is_flagged_and_disabled_points_are_check_points():
    px = _grid(5)
    w = _l93(px) + RNG.normal(0, 0.3, px.shape)
    w[7] += [60.0, -40.0]
    g = Georeference(GcpSet(px, w, "EPSG:2154"), "polynomial2")
    rep = fit_report(g)
    assert list(np.flatnonzero(rep.outlier)) == [7]
    enabled = np.ones(len(px), bool)
    enabled[7] = False
    rep2 = fit_report(Georeference(GcpSet(px, w, "EPSG:2154", enabled), "polynomial2"))
    assert rep2.residual_m[7] == pytest.approx(72, abs=5)  # a check point: its true error
    assert rep2.loo_m[7] == rep2.residual_m[7]
    assert rep2.rmse_m < 1.0


@pytest.mark.parametrize("name", ["polynomial1", "polynomial2", "polynomial3", "helmert", "projective"])
def test_loo_equals_refitting_without_the_point(name):
    px = _grid(4)
    w = _l93(px) + RNG.normal(0, 1.0, px.shape)
    rep = fit_report(Georeference(GcpSet(px, w, "EPSG:2154"), name))
    for i in (0, 6, 15):
        keep = np.arange(len(px)) != i
        gi = Georeference(GcpSet(px[keep], w[keep], "EPSG:2154"), name)
        err = ground_distance(gi.pixel_to_world(px[i:i + 1]), w[i:i + 1], parse_crs("EPSG:2154"))[0]
        assert rep.loo_m[i] == pytest.approx(err, rel=1e-6, abs=1e-6)


def test_transform_labels_come_from_the_transforms():
    from jadis.georef.transforms import transform_label

    assert transform_label("affine") == "Affine (polynomial 1), ≥3 points"
    assert all(f"≥{min_points(n)} points" in transform_label(n) for n in TRANSFORMS)
