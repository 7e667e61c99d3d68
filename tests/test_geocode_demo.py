"""The geocoding stage of `jadis demo`: the bundled directory addresses onto 1925."""

from __future__ import annotations

import pandas as pd
import pyogrio

from jadis.pipelines.geocode_demo import bundled_addresses_path, geocode_bundled_addresses


def test_bundled_addresses_geocoded_onto_1925(tmp_path, monkeypatch):
    monkeypatch.setenv("JADIS_HOME", str(tmp_path / "home"))
    table = pd.read_csv(bundled_addresses_path())
    assert {"entry", "year", "directory"} <= set(table.columns) and len(table) >= 30
    result = geocode_bundled_addresses(tmp_path / "out", 1925)
    out = pd.read_csv(result.csv)
    assert len(out) == len(table) == result.total
    placed = out[out["match_type"] != "none"]
    assert len(placed) >= 20
    assert placed["gazetteer"].str.contains("1888").mean() > 0.5  # the closest gazetteer to 1925
    assert (placed["score"] < 1).all()                             # 1925 is outside every gazetteer
    gdf = pyogrio.read_dataframe(result.gpkg)
    assert gdf.crs.to_epsg() == 2154 and gdf.geometry.notna().sum() == len(placed)
