"""Transform types, one module each (as in Allmaps' transform package).

============  =====================  ==========  =======================================
name          module                 min points  Allmaps / GDAL equivalent
============  =====================  ==========  =======================================
helmert       helmert.py             2           ``helmert`` / (none)
polynomial1   polynomial.py          3           ``polynomial`` order 1 / ``-order 1``
polynomial2   polynomial.py          6           ``polynomial`` order 2 / ``-order 2``
polynomial3   polynomial.py          10          ``polynomial`` order 3 / ``-order 3``
projective    projective.py          4           ``projective`` / (none)
tps           tps.py                 3           ``thinPlateSpline`` / ``-tps``
============  =====================  ==========  =======================================

>>> from jadis.georef.transforms import fit_transform
>>> t = fit_transform("polynomial2", src_xy, dst_xy)
>>> t(src_xy) - dst_xy   # residuals
"""

from __future__ import annotations

import numpy as np

from jadis.errors import JadisError
from jadis.georef.transforms.base import Transform
from jadis.georef.transforms.helmert import Helmert
from jadis.georef.transforms.polynomial import Polynomial, Polynomial1, Polynomial2, Polynomial3
from jadis.georef.transforms.projective import Projective
from jadis.georef.transforms.tps import ThinPlateSpline

#: Canonical name -> class.
TRANSFORMS: dict[str, type[Transform]] = {
    cls.name: cls for cls in (Helmert, Polynomial1, Polynomial2, Polynomial3, Projective, ThinPlateSpline)
}

_ALIASES = {
    "similarity": "helmert", "helmert": "helmert",
    "affine": "polynomial1", "polynomial": "polynomial1", "poly1": "polynomial1", "polynomial1": "polynomial1",
    "order1": "polynomial1", "linear": "polynomial1",
    "poly2": "polynomial2", "polynomial2": "polynomial2", "order2": "polynomial2", "quadratic": "polynomial2",
    "poly3": "polynomial3", "polynomial3": "polynomial3", "order3": "polynomial3", "cubic": "polynomial3",
    "projective": "projective", "homography": "projective", "perspective": "projective",
    "tps": "tps", "thinplatespline": "tps", "thin-plate-spline": "tps", "thin_plate_spline": "tps",
    "thinplate": "tps", "spline": "tps",
}

#: Names offered on the command line.
TRANSFORM_CHOICES = ("helmert", "affine", "polynomial1", "polynomial2", "polynomial3", "projective", "tps")


def transform_name(name: str) -> str:
    """Canonical transform name for a user-facing name or alias (``affine`` -> ``polynomial1``)."""
    key = str(name).strip().lower().replace(" ", "")
    if key not in _ALIASES:
        raise JadisError(f"unknown transform {name!r}; choose one of {', '.join(TRANSFORM_CHOICES)}")
    return _ALIASES[key]


def transform_class(name: str) -> type[Transform]:
    """The class of a transform type (by name or alias)."""
    return TRANSFORMS[transform_name(name)]


def min_points(name: str) -> int:
    """The fewest enabled control points the transform ``name`` can be fitted on."""
    return transform_class(name).min_points


#: How each transform is offered to people (the app's list), by canonical name; the points it
#: needs are added by :func:`transform_label` from the class itself.
_LABELS = {
    "helmert": "Helmert (similarity)", "polynomial1": "Affine (polynomial 1)", "polynomial2": "Polynomial 2",
    "polynomial3": "Polynomial 3", "projective": "Projective", "tps": "Thin-plate spline",
}


def transform_label(name: str) -> str:
    """``'Polynomial 2, ≥6 points'``: a transform as offered to people, with the points it needs."""
    canonical = transform_name(name)
    return f"{_LABELS[canonical]}, ≥{min_points(canonical)} points"


def fit_transform(name: str, src: np.ndarray, dst: np.ndarray) -> Transform:
    """Fit the transform ``name`` mapping ``src`` (N, 2) onto ``dst`` (N, 2)."""
    return transform_class(name).fit(src, dst)


__all__ = [
    "TRANSFORMS", "TRANSFORM_CHOICES", "Helmert", "Polynomial", "Polynomial1", "Polynomial2", "Polynomial3",
    "Projective", "ThinPlateSpline", "Transform", "fit_transform", "min_points", "transform_class", "transform_label",
    "transform_name",
]
