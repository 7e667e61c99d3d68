"""Machine steps run on a project's maps: segmentation (U-Net) and automatic georeferencing.

These only call the segmenter and the georeferencer and store what they return; the logic is
theirs (:mod:`jadis.segment.infer`, :mod:`jadis.georef.auto`).
"""

from __future__ import annotations

import os
from pathlib import Path

from jadis.errors import JadisError
from jadis.project.maps import get_map
from jadis.project.tiles import import_class_raster
from jadis.project.workspace import Project, clean_author


def segment_map(project: Project, map_id: int, *, checkpoint: str | os.PathLike[str] | None = None,
                author: str | None = None, progress: bool = False, predictor: object | None = None) -> int:
    """Segment a registered map with the U-Net; store the class raster as new tile versions.

    Returns the segmentation run id. The class raster of the run is kept in
    ``PROJECT/runs/map<ID>/`` (the GeoPackage keeps the tiles; the file can be deleted).
    """
    try:
        from jadis.segment.infer import segment_image
    except ImportError as exc:  # pragma: no cover - the segmenter ships with jadis
        raise JadisError("the segmenter is not available in this installation") from exc

    record = get_map(project, map_id)
    if not record.path.exists():
        raise JadisError(f"map '{record.name}': scan file {record.path} is missing")
    out_dir = project.inside("runs", f"map{record.id}")
    kwargs = {"checkpoint": checkpoint, "vectorize": False, "progress": progress}
    if predictor is not None:
        kwargs["predictor"] = predictor
    result = segment_image(record.path, out_dir, **kwargs)
    detail = f"checkpoint={Path(checkpoint).name if checkpoint else 'default'}"
    return import_class_raster(project, record.id, result.classes_path, source="model", detail=detail,
                               author=clean_author(author))


def auto_georeference(project: Project, map_id: int, *, reference: str | os.PathLike[str] | None) -> object:
    """Propose a georeference of a map by aligning it with a modern reference (not saved).

    Returns the :class:`~jadis.georef.georeference.Georeference` found by
    :mod:`jadis.georef.auto`; JadisError if it fails (it says so rather than guess).
    """
    if reference is None:
        raise JadisError("automatic georeferencing needs a modern reference (jadis app PROJECT --reference FILE)")
    try:
        from jadis.georef import auto
    except ImportError as exc:
        raise JadisError("automatic georeferencing is not available in this installation") from exc
    record = get_map(project, map_id)
    if not record.path.exists():
        raise JadisError(f"map '{record.name}': scan file {record.path} is missing")
    return auto.auto_georeference(record.path, reference)


def auto_georeference_map(project: Project, map_id: int, *, reference: str | os.PathLike[str] | None,
                          author: str | None = None) -> int:
    """Run :func:`auto_georeference` and save the result as the map's next georeference version."""
    from jadis.project import georefs

    georef = auto_georeference(project, map_id, reference=reference)
    conn = project.connect()
    try:
        base = georefs.current_version(conn, map_id)
    finally:
        conn.close()
    return georefs.save_georef(project, map_id, georef, base_version=base, source="auto", author=author)
