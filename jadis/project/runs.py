"""Machine steps run on a project's maps: segmentation (U-Net) and automatic georeferencing.

These only call the segmenter and the georeferencer and store what they return; the logic is
theirs (:mod:`jadis.pipelines.scan`, :mod:`jadis.georef.auto`).
"""

from __future__ import annotations

import os
from pathlib import Path

from jadis.errors import JadisError
from jadis.project.maps import get_map
from jadis.project.tiles import import_class_raster
from jadis.project.workspace import Project, clean_author


def segment_map(project: Project, map_id: int, *, checkpoint: str | os.PathLike[str] | None = None,
                author: str | None = None, progress: bool = False, predictor: object | None = None,
                names: bool = True, reader: object | None = None) -> int:
    """Segment a registered map with the U-Net; store the class raster as new tile versions.

    Returns the segmentation run id. The class raster of the run is kept in
    ``PROJECT/runs/map<ID>/`` (the GeoPackage keeps the tiles; the file can be deleted).
    ``names``: then read the street names printed on the map (:func:`jadis.project.names.read_street_names`;
    ``reader``: the OCR reader, default the bundled one).
    """
    try:
        from jadis.pipelines.scan import segment_image
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
    run_id = import_class_raster(project, record.id, result.classes_path, source="model", detail=detail,
                                 author=clean_author(author))
    if names:
        from jadis.project.names import read_street_names

        try:
            read_street_names(project, record.id, reader=reader, author=author, progress=progress)
        except (JadisError, ImportError, OSError) as exc:
            raise JadisError(f"map '{record.name}' was segmented (run #{run_id}) but its street names could not "
                             f"be read: {exc}") from exc
    return run_id


def auto_georeference(project: Project, map_id: int, *, reference: str | os.PathLike[str] | None,
                      transform: str = "auto", progress: bool = False) -> object:
    """Propose a georeference of a map by aligning its streets with a modern reference (not saved).

    A segmented map is aligned through its *current* class raster (the librarians' corrections
    included); an unsegmented one is segmented on the fly by :mod:`jadis.georef.auto`. Returns the
    :class:`~jadis.georef.auto.AutoResult` (``.georef``, ``.confidence``, ``.summary()``); raises
    :class:`~jadis.georef.auto.AutoGeorefFailed` (a JadisError) when no trustworthy alignment exists.
    ``reference`` None: the shipped OSM road raster of Paris.
    """
    try:
        from jadis.georef.auto import AutoOptions
        from jadis.georef.auto import auto_georeference as align
        from jadis.georef.auto_inputs import MapRoads
    except ImportError as exc:  # pragma: no cover - the georeferencer ships with jadis
        raise JadisError("automatic georeferencing is not available in this installation") from exc
    from jadis.classes import MapClass
    from jadis.project.tiles import has_tiles, read_classes

    record = get_map(project, map_id)
    if not record.path.exists():
        raise JadisError(f"map '{record.name}': scan file {record.path} is missing")
    with project.connection() as conn:
        segmented = has_tiles(conn, map_id)
    map_input: object = record.path
    if segmented:
        streets = read_classes(project, map_id) == int(MapClass.STREET)
        if streets.any():
            map_input = MapRoads(mask=streets, kind="classes", path=record.path)
    return align(map_input, reference, AutoOptions(transform=transform), progress=progress,
                 scan=record.path if segmented else None,  # the printed grid is looked for on the scan
                 neighbours=aligned_neighbours(project, record) or None,
                 # the names read on the map (and corrected), looked up only when the search fails without them
                 read_names=lambda: stored_name_cues(project, map_id), year=record.year)


def stored_name_cues(project: Project, map_id: int) -> list:
    """The map's current street names (as read, and as librarians corrected them) as name cues for
    automatic georeferencing: one per named segment, at its middle (empty when never read)."""
    from jadis.georef.auto_names import NameCue
    from jadis.project.names import current_names, latest_run

    if latest_run(project, map_id) is None:
        return []
    named = current_names(project, map_id)
    named = named[named["name"].notna() & ~named.geometry.is_empty]
    return [NameCue(str(name), float(pt.x), float(pt.y), float(score if score is not None else 1.0))
            for name, score, pt in zip(named["name"], named["name_score"],
                                       named.geometry.interpolate(0.5, normalized=True), strict=True)]


def aligned_neighbours(project: Project, record) -> list:  # noqa: ANN001 - a MapRecord
    """The georeferences of the project's other maps already aligned whose scans have about this
    map's size (sheets of the same series: :func:`jadis.georef.auto_neighbours.similar_sheets`)."""
    from jadis.georef.auto_neighbours import similar_sheets
    from jadis.project.georefs import load_georef
    from jadis.project.maps import list_maps

    found = []
    for other in list_maps(project):
        if other.id == record.id:
            continue
        saved = load_georef(project, other.id)
        if saved is not None and saved.georef.image_size is not None:
            found.append(saved.georef)
    return similar_sheets(found, (record.width, record.height))


def auto_georeference_map(project: Project, map_id: int, *, reference: str | os.PathLike[str] | None,
                          author: str | None = None) -> int:
    """Run :func:`auto_georeference` and save its result as the map's next georeference version."""
    from jadis.project import georefs

    result = auto_georeference(project, map_id, reference=reference)
    with project.connection() as conn:
        base = georefs.current_version(conn, map_id)
    return georefs.save_georef(project, map_id, result.georef, base_version=base, source="auto", author=author)
