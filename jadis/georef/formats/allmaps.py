"""Allmaps Georeference Annotations (IIIF / W3C Web Annotation JSON), read and write.

The format (https://iiif.io/api/extension/georef/, used by https://allmaps.org):

* an ``Annotation`` (or an ``AnnotationPage`` whose ``items`` are annotations) with
  ``motivation: "georeferencing"``;
* ``target``: the IIIF image (``source`` and/or ``service[0].@id``) and an ``SvgSelector`` whose
  value is ``<svg width=W height=H><polygon points="x,y x,y ..."/></svg>``: the image size and
  the clip polygon of the map content, in pixels;
* ``body``: a GeoJSON ``FeatureCollection``; each feature is a GCP with
  ``properties.pixelCoords = [x, y]`` (``resourceCoords`` in the 2024 spec; both are read) and a
  WGS84 ``Point`` geometry ``[lon, lat]``; ``body.transformation`` = ``{"type": "polynomial",
  "options": {"order": 2}}`` / ``{"type": "thinPlateSpline"}`` / ``helmert`` / ``projective``.

Written: with a known IIIF Image service (``Georeference.image_service``) the 2024 form that
``@allmaps/annotation`` generates and Allmaps opens — ``target = {type: SpecificResource, source:
{id, type: ImageService2|3, height, width}, selector}``, GCPs as ``resourceCoords``; otherwise the
older form with ``target.source`` = the image path or URL (a local path is not valid for Allmaps;
see docs/georeferencing.md).

jadis adds a ``"jadis"`` member to each annotation (ignored by other readers): the GCPs in their
own CRS (exact values, disabled points included), the CRS, the transform, and the fit report.
When it is present it is read back in preference to the WGS84 features.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from jadis.errors import JadisError
from jadis.georef.crs import WGS84, crs_name, parse_crs, to_wgs84
from jadis.georef.gcps import GcpSet
from jadis.georef.georeference import Georeference
from jadis.georef.transforms import transform_name
from jadis.io.atomic import atomic_write_text

#: ``@context`` of the 2024 spec (what ``@allmaps/annotation`` generates)
_GEOREF_CONTEXT = [
    "http://iiif.io/api/extension/georef/1/context.json",
    "http://iiif.io/api/presentation/3/context.json",
]

_ANNO_CONTEXT = [
    "http://www.w3.org/ns/anno.jsonld",
    "http://geojson.org/geojson-ld/geojson-context.jsonld",
    "http://iiif.io/api/presentation/3/context.json",
]

#: canonical transform name -> Allmaps transformation object
ALLMAPS_TRANSFORMATION = {
    "helmert": {"type": "helmert"},
    "polynomial1": {"type": "polynomial", "options": {"order": 1}},
    "polynomial2": {"type": "polynomial", "options": {"order": 2}},
    "polynomial3": {"type": "polynomial", "options": {"order": 3}},
    "projective": {"type": "projective"},
    "tps": {"type": "thinPlateSpline"},
}


def transformation_from_allmaps(obj: Any) -> str:
    """Canonical transform name from an Allmaps ``transformation`` member (default: affine)."""
    if obj is None:
        return "polynomial1"
    if isinstance(obj, str):
        obj = {"type": obj}
    if not isinstance(obj, dict) or "type" not in obj:
        raise JadisError(f"unsupported Allmaps transformation {obj!r}")
    kind = str(obj["type"])
    if kind == "polynomial":
        order = (obj.get("options") or {}).get("order", obj.get("order", 1))
        if order not in (1, 2, 3):
            raise JadisError(f"unsupported Allmaps polynomial order {order!r} (1, 2 or 3)")
        return f"polynomial{order}"
    if kind in ("straight",):
        raise JadisError("the Allmaps 'straight' transformation is not supported; use helmert")
    return transform_name(kind)


# -- reading ------------------------------------------------------------------------------------
def read_annotations(path_or_obj: str | os.PathLike[str] | dict) -> list[Georeference]:
    """Every georeference of an Annotation or AnnotationPage (file path or parsed JSON)."""
    name = "annotation"
    if isinstance(path_or_obj, dict):
        data = path_or_obj
    else:
        path = Path(path_or_obj)
        name = str(path)
        if not path.is_file():
            raise JadisError(f"{path}: no such file")
        try:
            data = json.loads(path.read_text(encoding="utf-8-sig"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise JadisError(f"{path}: not valid JSON ({exc})") from exc
    if isinstance(data, list):
        items = data
    elif isinstance(data, dict) and data.get("type") == "AnnotationPage":
        items = data.get("items") or []
    elif isinstance(data, dict) and data.get("type") == "Annotation":
        items = [data]
    else:
        raise JadisError(f"{name}: not an Allmaps Georeference Annotation (no Annotation / AnnotationPage type)")
    if not items:
        raise JadisError(f"{name}: the AnnotationPage has no items")
    out = []
    for k, item in enumerate(items):
        where = name if len(items) == 1 else f"{name} item {k + 1}"
        try:
            out.append(_read_item(item))
        except JadisError as exc:
            raise JadisError(f"{where}: {exc}") from exc
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise JadisError(f"{where}: malformed annotation ({type(exc).__name__}: {exc})") from exc
    return out


def read_annotation(path_or_obj: str | os.PathLike[str] | dict, index: int | None = None) -> Georeference:
    """One georeference; for a page of several, ``index`` (0-based) chooses which."""
    items = read_annotations(path_or_obj)
    if index is None:
        if len(items) > 1:
            raise JadisError(f"{path_or_obj if not isinstance(path_or_obj, dict) else 'annotation'}: "
                             f"holds {len(items)} georeferences; choose one (index 0..{len(items) - 1})")
        return items[0]
    if not 0 <= index < len(items):
        raise JadisError(f"annotation index {index} out of range (0..{len(items) - 1})")
    return items[index]


def _read_item(item: dict) -> Georeference:
    if not isinstance(item, dict):
        raise JadisError("annotation item is not a JSON object")
    target = item.get("target") or {}
    body = item.get("body") or {}
    if isinstance(target, str):
        target = {"source": target}
    size, mask = _parse_selector(target.get("selector"))
    source = target.get("source")
    service_id = service_type = None
    if isinstance(source, dict):  # 2024 spec: source is an object with id, type, width, height
        if size is None and source.get("width") and source.get("height"):
            size = (int(source["width"]), int(source["height"]))
        service_type = source.get("type")
        source = source.get("id") or source.get("@id")
        service_id = source
    services = target.get("service") or []
    if isinstance(services, dict):
        services = [services]
    image = None
    for s in services:
        if isinstance(s, dict) and (s.get("@id") or s.get("id")):
            image = s.get("@id") or s.get("id")
            service_id, service_type = image, s.get("type") or s.get("@type")
            break
    image = image or (source if isinstance(source, str) else None)
    image_service = None
    m = re.fullmatch(r"ImageService([23])", str(service_type or ""))
    if m and size is not None and isinstance(service_id, str) and re.match(r"https?://", service_id):
        from jadis.io.iiif import ImageService

        image_service = ImageService(id=service_id.rstrip("/"), version=int(m.group(1)), width=size[0],
                                     height=size[1])

    meta = item.get("jadis")
    if isinstance(meta, dict) and meta.get("gcps"):
        gcps = _gcps_from_meta(meta)
        transform = transform_name(meta.get("transform") or transformation_from_allmaps(body.get("transformation")))
    else:
        gcps = _gcps_from_features(body.get("features"))
        transform = transformation_from_allmaps(body.get("transformation"))
    return Georeference(gcps=gcps, transform=transform, image_size=size, mask=mask, image=image,
                        image_service=image_service)


def _gcps_from_features(features: Any) -> GcpSet:
    if not isinstance(features, list) or not features:
        raise JadisError("no GCP features in the annotation body")
    pixel, world, ids = [], [], []
    for k, feat in enumerate(features):
        props = feat.get("properties") or {}
        px = props.get("resourceCoords", props.get("pixelCoords"))
        geom = feat.get("geometry") or {}
        coords = geom.get("coordinates")
        if px is None or coords is None or geom.get("type", "Point") != "Point":
            raise JadisError(f"GCP feature {k + 1} lacks pixelCoords/resourceCoords or a Point geometry")
        try:
            pixel.append([float(px[0]), float(px[1])])
            world.append([float(coords[0]), float(coords[1])])
        except (TypeError, ValueError, IndexError) as exc:
            raise JadisError(f"GCP feature {k + 1} has non-numeric coordinates") from exc
        ids.append(str(feat.get("id") or props.get("id") or k + 1))
    return GcpSet(np.array(pixel), np.array(world), parse_crs(WGS84), ids=tuple(ids))


def _gcps_from_meta(meta: dict) -> GcpSet:
    crs = parse_crs(meta.get("crs") or WGS84)
    pts = meta["gcps"]
    pixel = np.array([p["pixel"] for p in pts], dtype=float)
    world = np.array([p["world"] for p in pts], dtype=float)
    enabled = np.array([bool(p.get("enabled", True)) for p in pts])
    ids = tuple(str(p.get("id", k + 1)) for k, p in enumerate(pts))
    labels = tuple(str(p.get("label") or "") for p in pts)
    return GcpSet(pixel, world, crs, enabled, ids, labels if any(labels) else None)


_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


def _parse_selector(selector: Any) -> tuple[tuple[int, int] | None, np.ndarray | None]:
    if isinstance(selector, list):
        selector = next((s for s in selector if isinstance(s, dict) and s.get("type") == "SvgSelector"), None)
    if not isinstance(selector, dict) or selector.get("type") != "SvgSelector":
        return None, None
    svg = str(selector.get("value") or "")
    size = None
    mw = re.search(r"<svg[^>]*\bwidth=[\"']?(" + _NUM + r")", svg)
    mh = re.search(r"<svg[^>]*\bheight=[\"']?(" + _NUM + r")", svg)
    if mw and mh:
        size = (int(round(float(mw.group(1)))), int(round(float(mh.group(1)))))
    mask = None
    mp = re.search(r"<(?:polygon|polyline)[^>]*\bpoints=[\"']([^\"']*)[\"']", svg)
    if mp:
        nums = [float(v) for v in re.findall(_NUM, mp.group(1))]
        if len(nums) >= 6 and len(nums) % 2 == 0:
            mask = np.array(nums).reshape(-1, 2)
            if len(mask) > 3 and np.allclose(mask[0], mask[-1]):
                mask = mask[:-1]  # closed ring: drop the repeated vertex
    return size, mask


# -- writing ------------------------------------------------------------------------------------
def _num(v: float) -> float | int:
    v = float(v)
    return int(v) if v.is_integer() and abs(v) < 2**53 else v


def annotation_dict(georef: Georeference, include_report: bool = True, ident: str | None = None) -> dict:
    """The Georeference Annotation (a JSON-ready dict) of one georeference."""
    gcps = georef.gcps
    act = gcps.active()
    lonlat = to_wgs84(act.world, act.crs) if len(act) else np.zeros((0, 2))
    features = []
    for k in range(len(act)):
        props: dict[str, Any] = {"pixelCoords": [_num(act.pixel[k, 0]), _num(act.pixel[k, 1])]}
        if act.ids:
            props["id"] = act.ids[k]
        if act.labels and act.labels[k]:
            props["label"] = act.labels[k]
        features.append({"type": "Feature", "properties": props,
                         "geometry": {"type": "Point", "coordinates": [float(lonlat[k, 0]), float(lonlat[k, 1])]}})
    service = georef.image_service
    if service is not None:
        target = _service_target(georef, service)
        for feat in features:  # the 2024 spec's name (pixelCoords is the 2023 one)
            feat["properties"] = {"resourceCoords": feat["properties"].pop("pixelCoords"), **feat["properties"]}
    else:
        target = _legacy_target(georef)
    anno: dict[str, Any] = {
        "type": "Annotation",
        "@context": list(_GEOREF_CONTEXT if service is not None else _ANNO_CONTEXT),
        "motivation": "georeferencing",
        "target": target,
        "body": {
            "type": "FeatureCollection",
            "purpose": "gcp-georeferencing",
            "transformation": ALLMAPS_TRANSFORMATION[georef.transform],
            "features": features,
        },
    }
    if ident:
        anno = {"id": ident, **anno}
    meta: dict[str, Any] = {
        "version": 1,
        "crs": crs_name(gcps.crs),
        "transform": georef.transform,
        "gcps": [
            {"id": gcps.ids[i] if gcps.ids else str(i + 1),
             "pixel": [float(gcps.pixel[i, 0]), float(gcps.pixel[i, 1])],
             "world": [float(gcps.world[i, 0]), float(gcps.world[i, 1])],
             "enabled": bool(gcps.enabled[i]),
             **({"label": gcps.labels[i]} if gcps.labels and gcps.labels[i] else {})}
            for i in range(len(gcps))
        ],
    }
    if include_report:
        try:
            rep = georef.report()
        except JadisError:
            rep = None
        if rep is not None:
            meta["report"] = {**rep.summary(), "residuals": _clean(rep.rows())}
    anno["jadis"] = meta
    return anno


def _legacy_target(georef: Georeference) -> dict[str, Any]:
    """``target`` of an image known only by a path or URL (the 2023 form; not an Allmaps
    annotation unless ``image`` is an IIIF service URL)."""
    target: dict[str, Any] = {"type": "Image"}
    image = georef.image
    if image and re.match(r"https?://", image) and "/full/" not in image:
        target["source"] = image.rstrip("/") + "/full/max/0/default.jpg"
        target["service"] = [{"@id": image, "type": "ImageService3"}]
    elif image:
        target["source"] = image
    poly = georef.footprint()
    if georef.image_size is not None or poly is not None:
        attrs = ""
        if georef.image_size is not None:
            attrs = f' width="{georef.image_size[0]}" height="{georef.image_size[1]}"'
        pts = "" if poly is None else " ".join(f"{_num(x)},{_num(y)}" for x, y in poly)
        inner = f'<polygon points="{pts}" />' if poly is not None else ""
        target["selector"] = {"type": "SvgSelector", "value": f"<svg{attrs}>{inner}</svg>"}
    return target


def _svg_num(v: float) -> str:
    """A number as the Allmaps SVG selector accepts it: plain decimals, never an exponent."""
    text = f"{float(v):.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _service_target(georef: Georeference, service: Any) -> dict[str, Any]:
    """``target`` of the 2024 Georeference Annotation spec: a ``SpecificResource`` whose source is
    the IIIF Image service, clipped by an SVG polygon (the mask, else the whole image)."""
    size = (int(service.width), int(service.height))
    if georef.image_size is not None and tuple(georef.image_size) != size:
        w, h = georef.image_size
        raise JadisError(f"the IIIF image {service.id} is {size[0]}x{size[1]} pixels but the georeference is for a "
                         f"{w}x{h} image; georeference the full-size image of the service")
    poly = georef.footprint()
    if poly is None:
        poly = np.array([[0, 0], [size[0], 0], [size[0], size[1]], [0, size[1]]], dtype=float)
    pts = " ".join(f"{_svg_num(x)},{_svg_num(y)}" for x, y in poly)
    return {
        "type": "SpecificResource",
        "source": service.annotation_source(),
        "selector": {"type": "SvgSelector",
                     "value": f'<svg width="{size[0]}" height="{size[1]}"><polygon points="{pts}" /></svg>'},
    }


def _clean(obj: Any) -> Any:
    if isinstance(obj, float):
        return None if not np.isfinite(obj) else round(obj, 6)
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_clean(v) for v in obj]
    return obj


def write_annotations(path: str | os.PathLike[str], georefs: list[Georeference], page: bool | None = None,
                      include_report: bool = True) -> Path:
    """Write one Annotation, or an AnnotationPage when ``page`` (default: when several), atomically."""
    if not georefs:
        raise JadisError("nothing to write: no georeferences")
    page = len(georefs) > 1 if page is None else page
    annos = [annotation_dict(g, include_report) for g in georefs]
    data: dict[str, Any]
    if page:
        data = {"type": "AnnotationPage", "@context": ["http://www.w3.org/ns/anno.jsonld"], "items": annos}
    else:
        data = annos[0]
    path = Path(path)
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return path


def write_annotation(path: str | os.PathLike[str], georef: Georeference, include_report: bool = True) -> Path:
    """Write one georeference as an Annotation (atomic)."""
    return write_annotations(path, [georef], page=False, include_report=include_report)
