"""The geocoding pipeline on a small synthetic Paris (exact answers) and on the bundled gazetteers."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from jadis.geocode.gazetteer import CRS, Gazetteer, GazetteerInfo
from jadis.geocode.geocoder import Geocoder, temporal_factor
from jadis.geocode.seine import seine_l93

# ------------------------------------------------------------------------------------------ a synthetic city
# Streets laid out against the real Seine: "Rue Perpendiculaire" runs away from the river from A to B
# (so it is numbered from A, odd numbers on its left); "Rue Parallele" follows the river and is
# digitised downstream->upstream (so the 1805 rule must reverse it).

_RIVER = seine_l93()
_M = _RIVER.length * 0.55
_P = np.array(_RIVER.interpolate(_M).coords[0])
_T = np.array(_RIVER.interpolate(_M + 20).coords[0]) - _P
_T /= np.linalg.norm(_T)                    # downstream
_N = np.array([-_T[1], _T[0]])              # across the river
A, B = _P + 60 * _N, _P + 460 * _N          # Rue Perpendiculaire, A nearest the river
LEFT_AB = np.array([-_N[1], _N[0]])         # left of A->B
UP, DOWN = _P + 300 * _N - 250 * _T, _P + 300 * _N + 250 * _T  # Rue Parallele ends


def _along(m: float, offset: float = 0.0) -> np.ndarray:
    """Point at m metres from A along Rue Perpendiculaire, offset to its left (> 0) or right."""
    return A + m * _N + offset * LEFT_AB


def _info(name: str, kind: str, years: tuple[int, int] | None) -> GazetteerInfo:
    return GazetteerInfo(name=name, kind=kind, file=f"{name}.gpkg", years=years, licence="test")


def _lines(rows: list[tuple[str, list]], **extra) -> gpd.GeoDataFrame:
    data = {"name": [r[0] for r in rows], "number": [None] * len(rows), **extra}
    return gpd.GeoDataFrame(data, geometry=[shapely.LineString(r[1]) for r in rows], crs=CRS)


def _network_1836() -> Gazetteer:
    cross = [_along(200, -80), _along(200, 80)]
    far = _P + 2500 * _N
    frame = _lines([
        ("Rue Perpendiculaire", [A, A + 200 * _N]),       # two segments: the street is merged
        ("Rue Perpendiculaire", [A + 200 * _N, B]),
        ("Rue Parallele", [DOWN, UP]),
        ("Rue Traversante", cross),
        ("Rue Saint-Pierre", [_P + 1000 * _N, _P + 1000 * _N + 100 * _T]),
        ("Rue Saint-Pierre", [far, far + 300 * _T]),       # a homonym 1.5 km away
        ("Rue de l'Écharpe", [_P + 800 * _N, _P + 800 * _N + 120 * _T]),
    ])
    return Gazetteer(_info("net_1836", "street_network", (1825, 1845)), frame)


def _points_1836() -> Gazetteer:
    rows = []
    for k in range(10):
        odd, even = 2 * k + 1, 2 * k + 2
        if odd != 7:
            rows.append((str(odd), _along(10 + 10 * k, 5)))
        if even != 12:
            rows.append((str(even), _along(10 + 10 * k, -5)))
    rows.append(("4bis", _along(25, -5)))
    frame = gpd.GeoDataFrame({"name": ["Rue Perpendiculaire"] * len(rows), "number": [r[0] for r in rows]},
                             geometry=[shapely.Point(r[1]) for r in rows], crs=CRS)
    return Gazetteer(_info("points_1836", "address_points", (1825, 1845)), frame)


def _network_1888() -> Gazetteer:
    # Rue Parallele in 1888 with house-number ranges, digitised upstream -> downstream
    mid = (UP + DOWN) / 2
    frame = _lines([("R PARALLELE", [UP, mid]), ("R PARALLELE", [mid, DOWN]),
                    ("R NOUVELLE", [_P + 1200 * _N, _P + 1200 * _N + 200 * _T])],
                   left_from=["1", "21", None], left_to=["19", "41", None],
                   right_from=["2", "22", None], right_to=["20", "42", None])
    return Gazetteer(_info("net_1888", "street_network", (1870, 1905)), frame)


def _network_1728() -> Gazetteer:
    shift = 30 * _T
    frame = _lines([("R Perpendiculaire", [A + shift, B + shift])])
    return Gazetteer(_info("net_1728", "street_network", (1700, 1760)), frame)


def _names() -> Gazetteer:
    frame = pd.DataFrame({"name": ["rue Ancienne", "rue Nouvelle", "rue de la Harpe"],
                          "entity": ["e1", "e1", "e2"], "valid_from": [np.nan, 1850.0, np.nan],
                          "valid_to": [1850.0, np.nan, np.nan]})
    return Gazetteer(_info("names", "names", None), frame)


@pytest.fixture(scope="module")
def geocoder() -> Geocoder:
    return Geocoder([_network_1836(), _points_1836(), _network_1888(), _network_1728(), _names()])


def _xy(result) -> np.ndarray:
    return np.array([result.x, result.y])


def _side_and_m(result) -> tuple[float, float]:
    """(distance along Rue Perpendiculaire from A, signed offset: > 0 on its left)."""
    d = _xy(result) - A
    return float(d @ _N), float(d @ LEFT_AB)


# ------------------------------------------------------------------------------------------ synthetic tests


def test_known_address_point(geocoder):
    r = geocoder.geocode("5 rue Perpendiculaire", 1836)
    assert r.match_type == "address_point"
    assert np.allclose(_xy(r), _along(30, 5))
    assert r.score == pytest.approx(1.0) and r.gazetteer == "points_1836"
    assert r.uncertainty_m <= 6 and "known address point" in r.explanation


def test_bis_falls_back_and_exact_bis_is_used(geocoder):
    assert np.allclose(_xy(geocoder.geocode("4 bis rue Perpendiculaire", 1836)), _along(25, -5))
    r = geocoder.geocode("6bis rue Perpendiculaire", 1836)
    assert r.match_type == "address_point" and np.allclose(_xy(r), _along(30, -5)) and "no 6bis" in r.explanation


def test_interpolated_between_points_of_the_same_side(geocoder):
    r = geocoder.geocode("7, r. Perpendiculaire", 1836)   # 5 and 9 are known, 7 is not
    m, side = _side_and_m(r)
    assert r.match_type == "interpolated"
    assert m == pytest.approx(40, abs=1.5) and side == pytest.approx(5, abs=1.0)
    r = geocoder.geocode("12 rue Perpendiculaire", 1836)  # between 10 and 14, on the even (right) side
    m, side = _side_and_m(r)
    assert m == pytest.approx(60, abs=1.5) and side == pytest.approx(-5, abs=1.0)


def test_extrapolated_beyond_known_numbers(geocoder):
    r = geocoder.geocode("31 rue Perpendiculaire", 1836)  # known up to 19 (m = 100), 10 m per odd pair
    m, side = _side_and_m(r)
    assert r.match_type == "interpolated" and "extrapolated" in r.explanation
    assert m == pytest.approx(160, abs=10) and side > 0


def test_1805_rule_without_any_known_number():
    g = Geocoder([_network_1836()])
    odd, even = g.geocode("1 rue Perpendiculaire", 1836), g.geocode("2 rue Perpendiculaire", 1836)
    (m1, s1), (m2, s2) = _side_and_m(odd), _side_and_m(even)
    assert "perpendicular to the Seine" in odd.explanation
    assert m1 < 30 and m2 < 30              # numbered from the end nearest the river
    assert s1 > 0 > s2                      # odd on the left, even on the right
    far = g.geocode("41 rue Perpendiculaire", 1836)
    assert _side_and_m(far)[0] > 150
    assert far.uncertainty_m > odd.uncertainty_m


def test_1805_rule_parallel_street_numbered_from_upstream():
    g = Geocoder([_network_1836()])
    r = g.geocode("1 rue Parallele", 1836)
    assert "parallel to the Seine" in r.explanation
    assert np.linalg.norm(_xy(r) - UP) < np.linalg.norm(_xy(r) - DOWN)


def test_house_number_ranges_of_segments(geocoder):
    r = geocoder.geocode("11 rue Parallele", 1888)        # left side, middle of the first segment
    assert r.match_type == "interpolated" and r.gazetteer == "net_1888" and "range 1–19" in r.explanation
    seg = (DOWN - UP) / 2                                 # first segment: 250 m, numbers set 6 m in
    along = seg / np.linalg.norm(seg)
    expected_m = 6 + (11 - 1) / (19 - 1) * (np.linalg.norm(seg) - 12)
    d = _xy(r) - UP
    assert d @ along == pytest.approx(expected_m, abs=0.5)
    assert d @ np.array([-along[1], along[0]]) == pytest.approx(6, abs=0.5)  # 6 m to the left


def test_ranges_of_another_time_are_projected_on_the_street_of_the_year(geocoder):
    r = geocoder.geocode("31 rue Parallele", 1836)
    assert r.gazetteer == "net_1836" and "net_1888" in r.explanation
    assert r.uncertainty_m > 10  # 52 years apart: renumbering is possible


def test_street_level_and_none(geocoder):
    r = geocoder.geocode("rue Perpendiculaire", 1836)
    assert r.match_type == "street"
    assert np.linalg.norm(_xy(r) - (A + B) / 2) < 1
    assert r.uncertainty_m == pytest.approx(200, abs=1)
    none = geocoder.geocode("17 rue Inconnue du Monde", 1836)
    assert none.match_type == "none" and none.x is None and none.score == 0
    assert geocoder.geocode("", 1836).match_type == "none"


def test_time_selects_the_gazetteer(geocoder):
    assert geocoder.geocode("rue Perpendiculaire", 1740).gazetteer == "net_1728"
    assert geocoder.geocode("rue Perpendiculaire", 1836).gazetteer == "net_1836"
    late = geocoder.geocode("rue Perpendiculaire", 1950)
    assert late.match_type == "street" and late.score < 1.0
    assert temporal_factor(_info("x", "street_network", (1825, 1845)), 1865) == pytest.approx(0.9)


def test_numbers_before_1805_are_not_street_numbers(geocoder):
    r = geocoder.geocode("748 rue Perpendiculaire", 1798)
    assert r.match_type == "street" and "1805" in r.explanation


def test_renamed_street_followed_through_history(geocoder):
    r = geocoder.geocode("rue Ancienne", 1890)
    assert r.match_type == "street" and r.matched_name == "R NOUVELLE"
    assert "renamed" in r.explanation and r.score < 1


def test_known_name_is_not_a_misspelling_of_another(geocoder):
    assert geocoder.geocode("12 rue de la Harpe", 1836).match_type == "none"
    assert geocoder.geocode("12 rue de l'Echarpe", 1836).match_type != "none"


def test_homonyms_lower_the_score(geocoder):
    r = geocoder.geocode("rue Saint-Pierre", 1836)
    assert r.match_type == "street" and r.score < 0.95 and "streets of that name" in r.explanation


def test_corner_of_two_streets(geocoder):
    r = geocoder.geocode("au coin de la rue Perpendiculaire et de la rue Traversante", 1836)
    assert r.match_type == "street" and "corner" in r.explanation
    assert np.linalg.norm(_xy(r) - _along(200)) < 2


def test_geocode_table_of_nothing(geocoder):
    out = geocoder.geocode_table(pd.DataFrame({"adresse": []}), "adresse", year=1836, progress=False)
    assert len(out) == 0 and {"lon", "lat", "match_type", "explanation"} <= set(out.columns)


def test_geocode_table_keeps_rows_and_adds_columns(geocoder):
    frame = pd.DataFrame({"adresse": ["5 rue Perpendiculaire", "nowhere at all", "7 rue Perpendiculaire"],
                          "annee": ["1836", "1836", "vers 1838"], "x": [1, 2, 3]})
    out = geocoder.geocode_table(frame, "adresse", year_column="annee", progress=False)
    assert len(out) == 3 and list(out.columns[:3]) == ["adresse", "annee", "input_x"]
    assert list(out["match_type"]) == ["address_point", "none", "interpolated"]
    assert out["lon"].iloc[0] == pytest.approx(2.3, abs=0.1) and math.isnan(out["lon"].iloc[1])
    assert out["explanation"].str.len().min() > 10


# ------------------------------------------------------------------------------------------ bundled gazetteers


@pytest.fixture(scope="module")
def bundled(tmp_path_factory) -> Geocoder:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JADIS_HOME", str(tmp_path_factory.mktemp("home")))  # only the bundled gazetteers
        return Geocoder()


def test_bundled_faubourg_saint_antoine(bundled):
    r = bundled.geocode("12 rue de Charonne", 1836)
    assert r.match_type == "address_point" and r.gazetteer.startswith("jacoubet_1836")
    d = bundled.geocode("Dupont, tailleur, faub. S.-Antoine, 123", 1836)
    assert d.match_type in ("address_point", "interpolated")
    assert d.matched_name == "Rue du Faubourg Saint-Antoine"
    assert np.hypot(d.x - r.x, d.y - r.y) < 1500


def test_district_qualifier_must_match_the_place(bundled):
    from jadis.geocode.districts import in_district, qualifier_of

    assert qualifier_of("sainte marguerite saint germain") == "saint germain"
    assert qualifier_of("lenoir faubourg saint antoine") == "faubourg saint antoine"
    assert in_district("saint antoine", 654_000, 6_861_400) and not in_district("saint germain", 654_000, 6_861_400)
    ok = bundled.geocode("Boquillon, tourn. en bois, Ste-Marguerite-St- Antoine, 46.", 1841)
    assert ok.match_type != "none"
    wrong = bundled.geocode("Dufour, march. de vins, r. Ste.-Marguerite- S.-Germain, 6.", 1820)
    assert wrong.match_type == "none"


def test_bundled_renaming_and_1888_ranges(bundled):
    r = bundled.geocode("12 boulevard Mazas", 1890)
    assert r.matched_name == "BD DIDEROT" and "renamed" in r.explanation
    r = bundled.geocode("301 rue du Faubourg Saint-Antoine", 1888)
    assert r.match_type == "interpolated" and r.gazetteer == "atlas_municipal_1888"
