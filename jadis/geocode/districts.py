"""Where the district qualifiers of old street names point to.

Directories and atlases tell homonymous streets apart with a district: "r. Sainte-Marguerite
S.-Germain" is not the "rue Sainte-Marguerite" of the Faubourg Saint-Antoine. When a qualifier has
to be dropped to find a street, the street must lie in that district. The centres below are the
approximate middles of the old faubourgs and quarters (hand-placed, WGS84, good to a few hundred
metres); a street within :data:`RADIUS_M` of its qualifier's centre is taken to be in it.
"""

from __future__ import annotations

from functools import lru_cache

#: qualifier (normalised words, as in :data:`jadis.geocode.normalize.DISTRICT_QUALIFIERS`) -> (lat, lon)
CENTRES: dict[str, tuple[float, float]] = {
    "faubourg saint antoine": (48.8510, 2.3780), "saint antoine": (48.8525, 2.3700),
    "faubourg saint germain": (48.8555, 2.3230), "saint germain": (48.8540, 2.3300),
    "faubourg saint honore": (48.8715, 2.3140), "saint honore": (48.8640, 2.3320),
    "faubourg saint denis": (48.8740, 2.3560), "saint denis": (48.8650, 2.3510),
    "faubourg saint martin": (48.8740, 2.3600), "saint martin": (48.8660, 2.3540),
    "faubourg saint jacques": (48.8370, 2.3390), "saint jacques": (48.8460, 2.3430),
    "faubourg saint marcel": (48.8380, 2.3560), "saint marcel": (48.8390, 2.3540),
    "faubourg montmartre": (48.8735, 2.3430), "montmartre": (48.8680, 2.3430),
    "faubourg poissonniere": (48.8740, 2.3480), "poissonniere": (48.8700, 2.3470),
    "faubourg du temple": (48.8700, 2.3700), "temple": (48.8650, 2.3620),
    "saint victor": (48.8470, 2.3550), "saint michel": (48.8520, 2.3430),
    "saint sauveur": (48.8650, 2.3490), "saint paul": (48.8535, 2.3620), "marais": (48.8590, 2.3610),
    "cite": (48.8545, 2.3470), "ile saint louis": (48.8517, 2.3570), "chaussee antin": (48.8730, 2.3330),
    "roule": (48.8745, 2.3050),
}
#: How far from its qualifier's centre a street may lie.
RADIUS_M = 1500.0


@lru_cache(maxsize=1)
def _centres_l93() -> dict[str, tuple[float, float]]:
    from pyproj import Transformer

    to_l93 = Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True)
    return {k: tuple(map(float, to_l93.transform(lon, lat))) for k, (lat, lon) in CENTRES.items()}


@lru_cache(maxsize=200_000)
def qualifier_of(core: str) -> str | None:
    """The district qualifier ending a normalised core ("sainte marguerite saint germain" -> "saint germain")."""
    best = None
    for qual in CENTRES:
        if core.endswith(" " + qual) and (best is None or len(qual) > len(best)):
            best = qual
    return best


def in_district(qualifier: str, x: float, y: float) -> bool:
    """Whether the point (EPSG:2154) lies in the district the qualifier names (True if unknown)."""
    centre = _centres_l93().get(qualifier)
    if centre is None:
        return True
    return (x - centre[0]) ** 2 + (y - centre[1]) ** 2 <= RADIUS_M ** 2
