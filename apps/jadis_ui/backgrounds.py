"""Backgrounds to show world positions on: a georeferenced map of the project or the modern reference."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from jadis.georef.crs import parse_crs, reproject
from jadis.project import georefs, render
from jadis.project.maps import MapRecord, list_maps
from jadis.project.modern_reference import open_reference, render_reference
from jadis.project.workspace import Project


@dataclass(frozen=True)
class Background:
    """A pixel space we can draw, with its link to the project CRS."""

    label: str
    key: str
    width: int
    height: int
    year: int | None
    render: Callable[[render.View], np.ndarray]
    to_pixel: Callable[[np.ndarray], np.ndarray]  # project CRS (N, 2) -> pixels
    to_world: Callable[[np.ndarray], np.ndarray]  # pixels (N, 2) -> project CRS

    @property
    def id(self) -> str:
        return self.key


def _map_background(project: Project, record: MapRecord, georef) -> Background:  # Georeference
    crs = parse_crs(project.crs)
    return Background(
        label=f"{record.name}" + (f" ({record.year})" if record.year else "") + " — georeferenced map",
        key=f"map:{record.id}", width=record.width, height=record.height, year=record.year,
        render=lambda view: render.read_scan(project, record, view),
        to_pixel=lambda xy: georef.crs_to_pixel(np.asarray(xy, float).reshape(-1, 2), crs),
        to_world=lambda xy: georef.pixel_to_crs(np.asarray(xy, float).reshape(-1, 2), crs))


def backgrounds(project: Project, reference_path=None) -> list[Background]:  # Path | None
    """Every georeferenced map of the project, then the modern reference if configured."""
    out = []
    for record in list_maps(project):
        saved = georefs.load_georef(project, record.id)
        if saved is not None and record.path.exists():
            out.append(_map_background(project, record, saved.georef))
    if reference_path is not None:
        ref = open_reference(reference_path)
        crs, ref_crs = parse_crs(project.crs), ref.crs
        out.append(Background(
            label=f"{ref.name} — modern reference", key=f"ref:{ref.path}", width=ref.width, height=ref.height,
            year=None, render=lambda view: render_reference(ref, view),
            to_pixel=lambda xy: ref.world_to_pixel(reproject(np.asarray(xy, float).reshape(-1, 2), crs, ref_crs)),
            to_world=lambda xy: reproject(ref.pixel_to_world(xy), ref_crs, crs)))
    return out


def closest_year(items: list[Background], year: int | None) -> int:
    """Index of the background whose year is closest to ``year`` (maps of unknown year last)."""
    if not items:
        return 0
    if year is None:
        return 0
    return min(range(len(items)), key=lambda i: abs((items[i].year or 10_000) - year))
