"""Class rasters to GIS layers: block polygons, street centre-line graphs, text-label boxes."""
