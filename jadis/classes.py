"""The fixed class ids of every class raster jadis writes (the bottom floor: imports nothing from jadis).

Never renumber these. Every room uses them: segmentation writes them, vectorizing, reading, the
project store, the georeferencer and the app read them.
"""

from __future__ import annotations

from enum import IntEnum


class MapClass(IntEnum):
    """Pixel classes of a segmented map sheet (uint8 values in ``*_classes.tif``)."""

    OTHER = 0  #: background, paper, margins, anything else
    STREET = 1  #: public ways: streets, squares, quays, boulevards
    BLOCK = 2  #: building blocks (îlots)
    TEXT = 3  #: text labels (street names, house numbers, titles)


#: Number of classes the shipped model predicts.
NUM_CLASSES = len(MapClass)

#: Display colours (RGB) used by previews, the app and the QGIS styles.
CLASS_COLORS: dict[int, tuple[int, int, int]] = {
    MapClass.OTHER: (0, 0, 0),
    MapClass.STREET: (240, 200, 60),
    MapClass.BLOCK: (200, 70, 60),
    MapClass.TEXT: (60, 120, 220),
}

CLASS_NAMES: dict[int, str] = {c.value: c.name.lower() for c in MapClass}
