"""Moved: the map → gazetteer pipeline is :mod:`jadis.pipelines.map_gazetteer` (it reads the map with
:mod:`jadis.ocr`, which sits above :mod:`jadis.geocode`), the known names are :mod:`jadis.geocode.vocabulary`.

Kept so that old imports keep working (``benchmarks/`` and scripts import from here); new code
imports from the new places. The pipeline names are looked up lazily, so importing
:mod:`jadis.geocode` never pulls in the pipelines.
"""

from __future__ import annotations

from jadis.geocode.vocabulary import PLACE_PRIOR_WEIGHT, YEAR_SLACK, place_prior, vocabulary

_MOVED = ("MIN_NEW_NAME_SCORE", "MapGazetteer", "MapReading", "read_map", "build_map_gazetteer")

__all__ = ["PLACE_PRIOR_WEIGHT", "YEAR_SLACK", "place_prior", "vocabulary", *_MOVED]


def __getattr__(name: str) -> object:
    if name in _MOVED:
        from jadis.pipelines import map_gazetteer

        return getattr(map_gazetteer, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
