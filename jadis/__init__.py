"""jadis: turn scanned historical maps of Paris into GIS data."""

__version__ = "0.1.0"
