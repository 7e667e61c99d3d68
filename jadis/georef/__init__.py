"""Georeferencing: control points, transforms, residuals, warping, automatic alignment.

Where things are (one job per module):

* ``crs.py`` — parse CRSs (EPSG, PROJ, WKT, ``VERNIQUET-toise`` / ``VERNIQUET-m`` / ``ATLAS-MUN``)
* ``gcps.py`` — :class:`~jadis.georef.gcps.GcpSet` (pixel <-> world points, CRS, enabled flags, ids)
* ``transforms/`` — one file per transform (helmert, polynomial 1-3, projective, tps = thin-plate
  spline fitted in ``tps.py``); ``fit_transform(name, src, dst)``
* ``georeference.py`` — :class:`~jadis.georef.georeference.Georeference` (GCPs + transform type,
  forward/backward fits, save/load as an Allmaps annotation)
* ``fit.py`` — residuals, RMSE (plain and QGIS), leave-one-out, outliers (``FitReport``)
* ``formats/`` — ``qgis_points.py``, ``allmaps.py``, ``gdal.py``, ``csv.py``; ``read_gcps`` / ``write_gcps``
* ``warp.py`` — scan -> Cloud-Optimized GeoTIFF; ``apply.py`` — points / vector layers pixel <-> world
* ``deformation.py`` — scale / rotation heat maps and distortion grids
* (the cross-check against Allmaps / GDAL is a test helper: ``tests/_reference_impl.py``)
* ``auto.py`` — automatic georeferencing (street-network matching)
"""
