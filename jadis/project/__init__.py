"""The project workspace: one GeoPackage holding maps, layers, control points, corrections, runs."""
