"""The street names the gazetteers know: the vocabulary a map is read against, and the names known
to lie on a mapped place (a prior for reading it)."""

from __future__ import annotations

#: A name counts as valid in a map's year this many years before its first / after its last attestation.
YEAR_SLACK = 10


def vocabulary(include_user: bool = True, year: int | None = None) -> list[str]:
    """Every street name known to the gazetteers (bundled and the user's); with ``year``, only the
    names that can be on a map of that year: gazetteers valid then (or undated), and dated names
    (Wikidata's) given before it and not dropped before it (with ``YEAR_SLACK`` years of slack)."""
    import pandas as pd

    from jadis.geocode.gazetteer import list_gazetteers, load_gazetteer

    names: set[str] = set()
    for info in list_gazetteers(include_user=include_user):
        if year is not None and info.years is not None and info.kind != "names":
            lo, hi = info.years
            if not (lo - 60 <= year <= hi + 60):  # a network of 1728 says little about 1925's names
                continue
        frame = load_gazetteer(info).frame
        if year is not None and "valid_from" in frame.columns:
            start = pd.to_numeric(frame["valid_from"], errors="coerce")
            end = pd.to_numeric(frame.get("valid_to"), errors="coerce") if "valid_to" in frame.columns else None
            ok = ~(start > year + YEAR_SLACK)
            if end is not None:
                ok &= ~(end < year - YEAR_SLACK)
            frame = frame[ok]
        names.update(str(n) for n in frame["name"].dropna().unique())
    return sorted(names)


#: Weight of a name known (from a gazetteer's geometry) to be on the mapped place, against the
#: confidence of a name read in full on the map (about 1).
PLACE_PRIOR_WEIGHT = 0.3


def named_geometries(area, year: int | None = None, margin_m: float = 200.0) -> tuple[list[str], list]:
    """The names and geometries (EPSG:2154) of the streets that the gazetteers with geometry, valid
    near ``year``, have within ``margin_m`` of ``area`` (a shapely geometry in EPSG:2154)."""
    import shapely

    from jadis.geocode.gazetteer import list_gazetteers, load_gazetteer

    names: list[str] = []
    geoms: list = []
    if area is None or area.is_empty:
        return names, geoms
    zone = shapely.buffer(area, margin_m)
    for info in list_gazetteers():
        if info.kind not in ("street_network", "address_points", "street_points"):
            continue
        if year is not None and info.years is not None and not (info.years[0] - 60 <= year <= info.years[1] + 60):
            continue
        frame = load_gazetteer(info).frame
        if "geometry" not in frame.columns or len(frame) == 0:
            continue
        hits = frame.geometry.sindex.query(zone, predicate="intersects")
        part = frame.iloc[hits]
        part = part[part["name"].notna()]
        names.extend(str(n) for n in part["name"])
        geoms.extend(part.geometry.to_numpy())
    return names, geoms


def place_prior(area, year: int | None = None, margin_m: float = 200.0) -> dict[str, float]:
    """Name keys of the streets that the gazetteers (with geometry, valid near ``year``) have within
    ``margin_m`` of ``area`` (a shapely geometry in EPSG:2154): a georeferenced map is more likely to
    print those names."""
    from jadis.geocode.normalize import street_name

    names, _ = named_geometries(area, year, margin_m)
    return {street_name(name).key: PLACE_PRIOR_WEIGHT for name in dict.fromkeys(names)}
