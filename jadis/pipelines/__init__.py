"""The pipelines: the flows that chain the model rooms, one floor above them.

* :mod:`~jadis.pipelines.scan` — scan -> class raster + vector layers (segment, then vectorize);
* :mod:`~jadis.pipelines.map_gazetteer` — segmented, georeferenced map -> the gazetteer of its year
  (read with :mod:`jadis.ocr`, placed with :mod:`jadis.georef`, stored as a :mod:`jadis.geocode` gazetteer);
* :mod:`~jadis.pipelines.geocode_demo` — the geocoding part of ``jadis demo`` (bundled addresses
  geocoded on the gazetteers and on the map read as its year's gazetteer).

The model rooms (:mod:`jadis.segment`, :mod:`jadis.vectorize`, :mod:`jadis.ocr`, :mod:`jadis.geocode`,
:mod:`jadis.georef`) never import this package; the project store, the CLI and the app do.
"""
