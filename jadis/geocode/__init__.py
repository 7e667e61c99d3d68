"""Historical geocoding: parse addresses, match them to the streets of their year, position them.

Public API (import from the modules):

* :class:`jadis.geocode.geocoder.Geocoder` — ``geocode(address, year)``, ``geocode_many``,
  ``geocode_table(frame, address_column, year=..., year_column=...)``; results carry ``match_type``,
  ``score``, ``uncertainty_m`` and an explanation.
* :mod:`jadis.geocode.gazetteer` — ``list_gazetteers``, ``load_gazetteer(s)``, ``add_gazetteer``,
  ``remove_gazetteer``, ``GazetteerInfo`` / ``Gazetteer`` (manifest entry + GeoDataFrame in EPSG:2154).
* :func:`jadis.geocode.parse.parse_address` and :func:`jadis.geocode.normalize.street_name`.
* :mod:`jadis.geocode.tables` — ``read_table`` (strict CSV reading) and ``write_results``.
"""
