"""Moved to :mod:`jadis.classes` (every room uses the class ids); kept so old imports keep working."""

from jadis.classes import CLASS_COLORS, CLASS_NAMES, NUM_CLASSES, MapClass

__all__ = ["CLASS_COLORS", "CLASS_NAMES", "NUM_CLASSES", "MapClass"]
