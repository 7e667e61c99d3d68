"""A georeference: GCPs + a transform type, fitted pixel -> world and world -> pixel.

Conventions (the same as Allmaps' ``GcpTransformer`` and GDAL's GCP transformers, so results agree):

* The **forward** transform (pixel -> world) and the **backward** transform (world -> pixel) are
  fitted *independently* by least squares from the same GCPs (except Helmert, whose backward
  transform is the exact inverse similarity, as in Allmaps). For polynomial and TPS fits a
  round trip pixel -> world -> pixel is therefore close to, but not exactly, the identity.
* Pixel y points down and world y points up, so pixels are fitted as ``(x, -y)``
  (Allmaps' ``differentHandedness``): this lets a Helmert fit be a proper similarity; the other
  transform types are unaffected.
* The fit happens in the CRS of the GCPs. GCPs in a geographic CRS (lon/lat, e.g. read from an
  Allmaps annotation without jadis metadata) are first projected to Web Mercator (EPSG:3857),
  which is what the Allmaps viewer does; fitting polynomials in degrees would distort shapes.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyproj

from jadis.errors import JadisError
from jadis.georef.crs import WGS84, crs_name, parse_crs, reproject
from jadis.georef.gcps import GcpSet
from jadis.georef.transforms import Helmert, Transform, transform_class, transform_name

#: CRS used for fitting when the GCPs are in a geographic CRS.
GEOGRAPHIC_FIT_CRS = "EPSG:3857"

if TYPE_CHECKING:
    from jadis.io.iiif import ImageService

_FLIP = np.array([1.0, -1.0])


@dataclass(frozen=True, eq=False)
class Georeference:
    """GCPs + transform type + image facts; the fitted transforms are computed on first use.

    Attributes:
        gcps: the control points (all of them; only the enabled ones are fitted).
        transform: canonical transform name (see :mod:`jadis.georef.transforms`).
        image_size: (width, height) of the full-resolution image in pixels, if known.
        mask: (K, 2) polygon of the map content in pixels (Allmaps' SVG clip), if any.
        image: source image URI or path (Allmaps ``target.source``), if known.
        image_service: the IIIF Image service of the scan (:class:`jadis.io.iiif.ImageService`), if
            known; an annotation is then written with it as ``target.source`` (valid for Allmaps).
    """

    gcps: GcpSet
    transform: str = "polynomial1"
    image_size: tuple[int, int] | None = None
    mask: np.ndarray | None = None
    image: str | None = None
    image_service: ImageService | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "transform", transform_name(self.transform))
        gcps = self.gcps
        if gcps.crs.is_geographic:
            gcps = gcps.to_crs(GEOGRAPHIC_FIT_CRS)
            object.__setattr__(self, "gcps", gcps)
        if self.image_size is not None:
            w, h = (int(v) for v in self.image_size)
            if w <= 0 or h <= 0:
                raise JadisError(f"image size must be positive, got {w}x{h}")
            object.__setattr__(self, "image_size", (w, h))
        if self.mask is not None:
            mask = np.asarray(self.mask, dtype=float).reshape(-1, 2)
            if len(mask) < 3 or not np.all(np.isfinite(mask)):
                raise JadisError("the content mask polygon needs at least 3 finite pixel vertices")
            object.__setattr__(self, "mask", mask)

    def validate(self) -> Georeference:
        """Raise :class:`JadisError` unless the enabled GCPs can support the transform; return self.

        Construction does not validate (a file may hold too few points for its transform and
        still be read and converted); fitting does.
        """
        self.gcps.validate(self.transform_cls.min_points, self.transform_cls.title)
        return self

    # -- fitted transforms -----------------------------------------------------------------------
    @property
    def crs(self) -> pyproj.CRS:
        """The CRS in which the transform is fitted and world coordinates are given."""
        return self.gcps.crs

    @property
    def transform_cls(self) -> type[Transform]:
        return transform_class(self.transform)

    @property
    def min_points(self) -> int:
        return self.transform_cls.min_points

    @functools.cached_property
    def forward(self) -> Transform:
        """pixel (x, -y) -> world, fitted on the enabled GCPs."""
        self.validate()
        act = self.gcps.active()
        return self.transform_cls.fit(act.pixel * _FLIP, act.world)

    @functools.cached_property
    def backward(self) -> Transform:
        """world -> pixel (x, -y), fitted independently (exact inverse for Helmert)."""
        fwd = self.forward
        if isinstance(fwd, Helmert):
            return fwd.inverse()
        act = self.gcps.active()
        return self.transform_cls.fit(act.world, act.pixel * _FLIP)

    def pixel_to_world(self, xy: np.ndarray) -> np.ndarray:
        """Pixel (x right, y down) -> world coordinates in :attr:`crs`. (N, 2) -> (N, 2)."""
        arr = np.asarray(xy, dtype=float)
        return self.forward(arr.reshape(-1, 2) * _FLIP).reshape(arr.shape)

    def world_to_pixel(self, xy: np.ndarray) -> np.ndarray:
        """World coordinates in :attr:`crs` -> pixel (x right, y down)."""
        arr = np.asarray(xy, dtype=float)
        return (self.backward(arr.reshape(-1, 2)) * _FLIP).reshape(arr.shape)

    def pixel_to_crs(self, xy: np.ndarray, crs: str | pyproj.CRS) -> np.ndarray:
        """Pixel -> world coordinates reprojected to ``crs``."""
        return reproject(self.pixel_to_world(xy), self.crs, parse_crs(crs))

    def crs_to_pixel(self, xy: np.ndarray, crs: str | pyproj.CRS) -> np.ndarray:
        """Coordinates in ``crs`` -> pixel."""
        return self.world_to_pixel(reproject(xy, parse_crs(crs), self.crs))

    def pixel_to_lonlat(self, xy: np.ndarray) -> np.ndarray:
        """Pixel -> WGS84 (lon, lat)."""
        return self.pixel_to_crs(xy, WGS84)

    def jacobian(self, xy: np.ndarray) -> np.ndarray:
        """(N, 2, 2) derivatives of pixel -> world: world units per pixel (``J[n, i, j]``)."""
        jac = self.forward.jacobian(np.asarray(xy, dtype=float).reshape(-1, 2) * _FLIP)
        return jac * _FLIP[None, None, :]

    # -- variants --------------------------------------------------------------------------------
    def to_crs(self, crs: str | pyproj.CRS) -> Georeference:
        """The same GCPs reprojected to ``crs`` and refitted there."""
        return replace(self, gcps=self.gcps.to_crs(crs))

    def with_transform(self, name: str) -> Georeference:
        return replace(self, transform=name)

    def with_gcps(self, gcps: GcpSet) -> Georeference:
        return replace(self, gcps=gcps)

    # -- geometry of the image ---------------------------------------------------------------------
    def footprint(self) -> np.ndarray | None:
        """The content polygon in pixels: the mask, else the image rectangle, else None."""
        if self.mask is not None:
            return self.mask
        if self.image_size is not None:
            w, h = self.image_size
            return np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=float)
        return None

    def check_image(self, width: int, height: int, what: str = "the image") -> None:
        """Raise if ``width x height`` is not the image this georeference was made for."""
        if self.image_size is not None and tuple(self.image_size) != (int(width), int(height)):
            w, h = self.image_size
            raise JadisError(f"image size mismatch: the georeference is for a {w}x{h} image but {what} is "
                             f"{width}x{height}")
        px = self.gcps.active().pixel
        if len(px):
            lo, hi = px.min(axis=0), px.max(axis=0)
            if lo[0] < -0.5 * width or lo[1] < -0.5 * height or hi[0] > 1.5 * width or hi[1] > 1.5 * height:
                raise JadisError(f"image size mismatch: the GCP pixel coordinates span up to "
                                 f"({hi[0]:.0f}, {hi[1]:.0f}) but {what} is {width}x{height} pixels "
                                 "(GCPs made for another scan or resolution?)")

    def __repr__(self) -> str:
        size = f"{self.image_size[0]}x{self.image_size[1]}" if self.image_size else "?"
        return (f"Georeference({self.transform}, {self.gcps.n_enabled}/{len(self.gcps)} GCPs, "
                f"crs={crs_name(self.crs)[:40]!r}, image={size})")

    # -- files -------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str], report: bool = True) -> Path:
        """Write as an Allmaps Georeference Annotation plus jadis metadata (atomic)."""
        from jadis.georef.formats.allmaps import write_annotation

        return write_annotation(path, self, include_report=report)

    @classmethod
    def load(cls, path: str | os.PathLike[str], index: int | None = None) -> Georeference:
        """Read an Allmaps annotation (ours or anyone's); ``index`` picks an item of an AnnotationPage."""
        from jadis.georef.formats.allmaps import read_annotation

        return read_annotation(path, index=index)

    def report(self):  # FitReport, imported lazily to avoid a cycle
        """Residuals, RMSE, leave-one-out errors and outlier flags (see :mod:`jadis.georef.fit`)."""
        from jadis.georef.fit import fit_report

        return fit_report(self)


def georeference(gcps: GcpSet, transform: str = "polynomial1", **kwargs) -> Georeference:
    """Build (and validate) a :class:`Georeference`; shorthand for the constructor."""
    return Georeference(gcps=gcps, transform=transform, **kwargs)
