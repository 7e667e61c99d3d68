"""Gazetteers: the bundled manifest, adding a user's own with validation, the CLI."""

from __future__ import annotations

import json

import geopandas as gpd
import pytest
import shapely

from jadis.errors import JadisError
from jadis.geocode.gazetteer import (
    KINDS,
    add_gazetteer,
    list_gazetteers,
    load_gazetteer,
    parse_years,
    remove_gazetteer,
)
from jadis.paths import gazetteers_dir

# a few points in central Paris, EPSG:2154 and WGS84
L93 = [(652000.0, 6862000.0), (652050.0, 6862010.0), (652100.0, 6862020.0)]
WGS = [(2.3488, 48.8534), (2.3495, 48.8535), (2.3502, 48.8536)]


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("JADIS_HOME", str(tmp_path / "home"))


def _lines_file(tmp_path, name="net.gpkg", crs="EPSG:2154", coords=L93, field="nom_entier"):
    gdf = gpd.GeoDataFrame({field: ["Rue de la Harpe", "Rue Saint-Jacques"]},
                           geometry=[shapely.LineString(coords[:2]), shapely.LineString(coords[1:])], crs=crs)
    path = tmp_path / name
    gdf.to_file(path)
    return path


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def test_bundled_manifest_is_complete():
    infos = [i for i in list_gazetteers() if i.bundled]
    assert len(infos) >= 10
    names = {i.name for i in infos}
    assert {"vasserot_1810_addresses_fsa", "jacoubet_1836_addresses_fsa", "atlas_municipal_1888",
            "wikidata_street_names", "paris_road_names"} <= names
    for info in infos:
        assert info.kind in KINDS and info.licence and info.source and info.path.exists()
        assert info.years is None or info.years[0] <= info.years[1]
        assert info.path.parent == gazetteers_dir()
    manifest = json.loads((gazetteers_dir() / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["crs"] == "EPSG:2154"
    # the whole-city Jacoubet network has no confirmed licence: it must not be bundled
    assert not any(i.name == "jacoubet_1836" for i in infos)


def test_bundled_gazetteers_load_in_lambert93():
    gaz = load_gazetteer("jacoubet_1836_addresses_fsa")
    assert gaz.frame.crs.to_epsg() == 2154
    assert gaz.frame["number"].notna().all() and (gaz.frame.geom_type == "Point").all()
    x0, y0, x1, y1 = gaz.frame.total_bounds
    assert 650_000 < x0 < x1 < 658_000 and 6_858_000 < y0 < y1 < 6_865_000
    names = load_gazetteer("wikidata_street_names").frame
    assert {"name", "entity", "valid_from", "valid_to"} <= set(names.columns)


@pytest.mark.parametrize(("text", "years"), [("1820-1850", (1820, 1850)), ("1836", (1836, 1836)),
                                             (" 1800 – 1805 ", (1800, 1805)), (None, None)])
def test_parse_years(text, years):
    assert parse_years(text) == years


@pytest.mark.parametrize("text", ["1850-1820", "soon", "12-14", "1820-"])
def test_parse_years_rejects(text):
    with pytest.raises(JadisError):
        parse_years(text)


def test_add_network_list_remove(tmp_path):
    info = add_gazetteer(_lines_file(tmp_path), "my_net", "1820-1850")
    assert info.kind == "street_network" and info.features == 2 and not info.bundled
    assert "my_net" in {i.name for i in list_gazetteers()}
    gaz = load_gazetteer("my_net")
    assert list(gaz.frame["name"]) == ["Rue de la Harpe", "Rue Saint-Jacques"]
    remove_gazetteer("my_net")
    assert "my_net" not in {i.name for i in list_gazetteers()}
    assert not info.path.exists()


def test_add_points_geojson_reprojects_and_detects_numbers(tmp_path):
    gdf = gpd.GeoDataFrame({"street": ["rue X"] * 3, "num": ["1", "3", "5 bis"]},
                           geometry=[shapely.Point(p) for p in WGS], crs="EPSG:4326")
    path = tmp_path / "pts.geojson"
    gdf.to_file(path, driver="GeoJSON")
    info = add_gazetteer(path, "pts", "1836", number_field="num")
    frame = load_gazetteer(info).frame
    assert info.kind == "address_points" and list(frame["number"]) == ["1", "3", "5bis"]
    assert frame.crs.to_epsg() == 2154 and 650_000 < frame.geometry.x.iloc[0] < 655_000


def test_add_csv_with_wkt_and_with_lonlat(tmp_path):
    wkt = tmp_path / "wkt.csv"
    wkt.write_text('nom;WKT\n"Rue A";"LINESTRING (2.3488 48.8534, 2.3495 48.8535)"\n', encoding="utf-8")
    with pytest.raises(JadisError, match="no CRS"):
        add_gazetteer(wkt, "wkt_net", "1840")
    assert add_gazetteer(wkt, "wkt_net", "1840", crs="EPSG:4326").kind == "street_network"
    pts = tmp_path / "centre.csv"
    pts.write_text(",street,lat,lon\n0,Rue A,48.8534,2.3488\n1,Rue B,48.8535,2.3495\n", encoding="utf-8")
    info = add_gazetteer(pts, "centre", "1836")
    assert info.kind == "street_points" and info.features == 2


@pytest.mark.parametrize(("make", "kwargs", "message"), [
    (lambda p: _lines_file(p, field="foo"), {}, "which field holds the name"),
    (lambda p: _lines_file(p), {"name_field": "nope"}, "no name field 'nope'"),
    (lambda p: _lines_file(p, coords=[(2.0, 48.0), (2.1, 48.1), (2.2, 48.2)], crs="EPSG:2154"), {},
     "outside the Paris region"),
    (lambda p: _lines_file(p, coords=[(100.0, -50.0), (200.0, -60.0), (300.0, -70.0)], crs="EPSG:4326"), {},
     "outside the Paris region"),
    (lambda p: _write(p / "empty.gpkg", b""), {}, "empty file"),
    (lambda p: _write(p / "junk.gpkg", b"not a geopackage at all"), {}, "not a readable"),
    (lambda p: p / "missing.gpkg", {}, "no such file"),
    (lambda p: _lines_file(p), {"crs": "EPSG:999999"}, "unknown CRS"),
    (lambda p: _lines_file(p), {"kind": "address_points"}, "point geometries"),
])
def test_add_rejects_bad_input(tmp_path, make, kwargs, message):
    with pytest.raises(JadisError, match=message):
        add_gazetteer(make(tmp_path), "bad", "1836", **kwargs)
    assert "bad" not in {i.name for i in list_gazetteers()}


def test_add_refuses_names_taken_or_unsafe(tmp_path):
    path = _lines_file(tmp_path)
    with pytest.raises(JadisError, match="bundled"):
        add_gazetteer(path, "atlas_municipal_1888", "1888")
    with pytest.raises(JadisError, match="lower-case"):
        add_gazetteer(path, "../evil", "1888")
    add_gazetteer(path, "mine", "1888")
    with pytest.raises(JadisError, match="--replace"):
        add_gazetteer(path, "mine", "1888")
    assert add_gazetteer(path, "mine", "1890", replace_existing=True).years == (1890, 1890)
    with pytest.raises(JadisError, match="cannot be removed"):
        remove_gazetteer("atlas_municipal_1888")
    with pytest.raises(JadisError, match="unknown gazetteer"):
        remove_gazetteer("never_added")


def test_cli_list_add_remove(run_cli, tmp_path):
    code, out, _ = run_cli("gazetteer", "list")
    assert code == 0 and "jacoubet_1836_addresses_fsa" in out and "Licence Ouverte" in out
    path = _lines_file(tmp_path)
    code, out, err = run_cli("gazetteer", "add", str(path), "--name", "cli_net", "--years", "1820-1850",
                             "--name-field", "nom_entier")
    assert code == 0, err
    assert "added cli_net: 2 features" in out
    code, out, _ = run_cli("gazetteer", "list", "--json")
    entry = next(e for e in json.loads(out) if e["name"] == "cli_net")
    assert entry["years"] == [1820, 1850] and entry["bundled"] is False
    code, out, err = run_cli("gazetteer", "add", str(path), "--name", "x", "--years", "later")
    assert code == 2 and err.startswith("jadis: error:") and len(err.strip().splitlines()) == 1
    assert run_cli("gazetteer", "remove", "cli_net")[0] == 0
