"""Write a QGIS project (.qgs XML zipped into .qgz) whose layers are styled by class.

We write the XML ourselves (QGIS is not a dependency): a project CRS, one ``maplayer`` per
GeoPackage layer or raster, single-symbol styles in the jadis class colours
(:data:`jadis.classes.CLASS_COLORS`), a paletted renderer for class rasters, relative
paths so the folder can be moved, and a layer tree with one group per map.
"""

from __future__ import annotations

import os
import uuid
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree as ET

from jadis.classes import CLASS_COLORS, CLASS_NAMES, MapClass
from jadis.io.atomic import atomic_path

#: QGIS version we write for (any QGIS 3.x reads it).
QGIS_VERSION = "3.34.0-Prizren"


@dataclass
class QgisLayer:
    """One layer of the project."""

    name: str
    source: str  # path relative to the project file, or absolute
    kind: str  # 'vector' | 'raster'
    layer: str | None = None  # GeoPackage layer name (vector)
    geometry: str | None = None  # 'Point' | 'Line' | 'Polygon' (vector)
    crs_wkt: str | None = None  # None: no CRS (pixel coordinates)
    crs_authid: str | None = None
    style: str = "default"  # 'blocks' | 'streets' | 'street_nodes' | 'labels' | 'classes' | 'points' | 'scan' ...
    group: str | None = None
    visible: bool = True
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    @property
    def datasource(self) -> str:
        return f"{self.source}|layername={self.layer}" if self.layer else self.source


def _rgba(rgb: tuple[int, int, int], alpha: int = 255) -> str:
    return f"{rgb[0]},{rgb[1]},{rgb[2]},{alpha}"


def _options(parent: ET.Element, values: dict[str, str]) -> None:
    opt = ET.SubElement(parent, "Option", type="Map")
    for k, v in values.items():
        ET.SubElement(opt, "Option", name=k, type="QString", value=str(v))


def _symbol(kind: str, props: dict[str, str], layer_class: str) -> ET.Element:
    sym = ET.Element("symbol", type=kind, name="0", alpha="1", clip_to_extent="1", force_rhr="0")
    lyr = ET.SubElement(sym, "layer", attrib={"class": layer_class, "enabled": "1", "pass": "0", "locked": "0"})
    _options(lyr, props)
    return sym


def _style_symbol(layer: QgisLayer) -> ET.Element:
    block, street, text = CLASS_COLORS[MapClass.BLOCK], CLASS_COLORS[MapClass.STREET], CLASS_COLORS[MapClass.TEXT]
    if layer.style == "blocks":
        return _symbol("fill", {"color": _rgba(block, 150), "outline_color": _rgba((120, 40, 35)),
                                "outline_width": "0.3", "outline_width_unit": "MM", "style": "solid",
                                "outline_style": "solid"}, "SimpleFill")
    if layer.style == "labels":
        return _symbol("fill", {"color": _rgba(text, 60), "outline_color": _rgba(text), "outline_width": "0.4",
                                "outline_width_unit": "MM", "style": "solid", "outline_style": "solid"}, "SimpleFill")
    if layer.style == "streets":
        return _symbol("line", {"line_color": _rgba((170, 120, 0)), "line_width": "0.6", "line_width_unit": "MM",
                                "line_style": "solid", "capstyle": "round", "joinstyle": "round"}, "SimpleLine")
    if layer.style == "street_nodes":
        return _symbol("marker", {"color": _rgba(street), "outline_color": _rgba((90, 60, 0)), "size": "1.6",
                                  "size_unit": "MM", "name": "circle"}, "SimpleMarker")
    if layer.style == "edits":
        return _symbol("fill", {"color": "255,0,255,60", "outline_color": "255,0,255,255", "outline_width": "0.4",
                                "outline_width_unit": "MM", "style": "solid", "outline_style": "dash"}, "SimpleFill")
    if layer.style == "points":
        return _symbol("marker", {"color": "230,0,110,255", "outline_color": "255,255,255,255", "size": "3",
                                  "size_unit": "MM", "name": "cross2"}, "SimpleMarker")
    if layer.style == "addresses":
        return _symbol("marker", {"color": "20,90,200,255", "outline_color": "255,255,255,255", "size": "2.4",
                                  "size_unit": "MM", "name": "circle"}, "SimpleMarker")
    kind = {"Point": "marker", "Line": "line"}.get(layer.geometry or "", "fill")
    return _symbol(kind, {"color": "120,120,120,150", "line_color": "120,120,120,255"},
                   {"marker": "SimpleMarker", "line": "SimpleLine", "fill": "SimpleFill"}[kind])


def _srs(parent: ET.Element, layer_or_project: QgisLayer | tuple[str | None, str | None]) -> None:
    wkt, authid = ((layer_or_project.crs_wkt, layer_or_project.crs_authid) if isinstance(layer_or_project, QgisLayer)
                   else layer_or_project)
    srs = ET.SubElement(parent, "spatialrefsys", nativeFormat="Wkt")
    ET.SubElement(srs, "wkt").text = wkt or ""
    ET.SubElement(srs, "authid").text = authid or ""
    if authid and authid.upper().startswith("EPSG:"):
        ET.SubElement(srs, "srid").text = authid.split(":", 1)[1]
    ET.SubElement(srs, "description").text = authid or ("pixel coordinates" if not wkt else "")
    ET.SubElement(srs, "geographicflag").text = "false"


def _maplayer(layer: QgisLayer) -> ET.Element:
    ml = ET.Element("maplayer", type=layer.kind)
    if layer.kind == "vector":
        ml.set("geometry", layer.geometry or "Polygon")
        ml.set("wkbType", {"Point": "Point", "Line": "MultiLineString"}.get(layer.geometry or "", "MultiPolygon"))
    ET.SubElement(ml, "id").text = layer.id
    ET.SubElement(ml, "datasource").text = layer.datasource
    ET.SubElement(ml, "layername").text = layer.name
    _srs(ET.SubElement(ml, "srs"), layer)
    ET.SubElement(ml, "provider", encoding="UTF-8").text = "ogr" if layer.kind == "vector" else "gdal"
    if layer.kind == "vector":
        renderer = ET.SubElement(ml, "renderer-v2", type="singleSymbol", symbollevels="0", enableorderby="0",
                                 forceraster="0")
        symbols = ET.SubElement(renderer, "symbols")
        symbols.append(_style_symbol(layer))
        ET.SubElement(ml, "blendMode").text = "0"
        ET.SubElement(ml, "layerOpacity").text = "1"
    else:
        pipe = ET.SubElement(ml, "pipe")
        if layer.style == "classes":
            rr = ET.SubElement(pipe, "rasterrenderer", type="paletted", band="1", opacity="0.6", alphaBand="-1",
                               nodataColor="")
            palette = ET.SubElement(rr, "colorPalette")
            for cid, rgb in CLASS_COLORS.items():
                ET.SubElement(palette, "paletteEntry", value=str(int(cid)), color="#{:02x}{:02x}{:02x}".format(*rgb),
                              alpha="0" if cid == MapClass.OTHER else "255", label=CLASS_NAMES[int(cid)])
        else:
            rr = ET.SubElement(pipe, "rasterrenderer", type="multibandcolor", opacity="1", alphaBand="4",
                               redBand="1", greenBand="2", blueBand="3", nodataColor="")
        ET.SubElement(pipe, "brightnesscontrast", brightness="0", contrast="0", gamma="1")
        ET.SubElement(pipe, "huesaturation", saturation="0", grayscaleMode="0", colorizeOn="0")
        ET.SubElement(pipe, "rasterresampler", maxOversampling="2")
        ET.SubElement(ml, "blendMode").text = "0"
    return ml


def project_xml(title: str, layers: Sequence[QgisLayer], crs_wkt: str | None, crs_authid: str | None) -> bytes:
    """The .qgs document (UTF-8 XML bytes)."""
    root = ET.Element("qgis", projectname=title, version=QGIS_VERSION)
    ET.SubElement(root, "homePath", path="")
    ET.SubElement(root, "title").text = title
    _srs(ET.SubElement(root, "projectCrs"), (crs_wkt, crs_authid))
    tree = ET.SubElement(root, "layer-tree-group")
    ET.SubElement(tree, "customproperties")
    groups: dict[str, ET.Element] = {}
    for layer in layers:
        parent = tree
        if layer.group:
            if layer.group not in groups:
                groups[layer.group] = ET.SubElement(tree, "layer-tree-group", name=layer.group, checked="Qt::Checked",
                                                    expanded="1")
                ET.SubElement(groups[layer.group], "customproperties")
            parent = groups[layer.group]
        node = ET.SubElement(parent, "layer-tree-layer", id=layer.id, name=layer.name, source=layer.datasource,
                             providerKey="ogr" if layer.kind == "vector" else "gdal",
                             checked="Qt::Checked" if layer.visible else "Qt::Unchecked", expanded="0")
        ET.SubElement(node, "customproperties")
    order = ET.SubElement(root, "layerorder")
    for layer in layers:
        ET.SubElement(order, "layer", id=layer.id)
    proj_layers = ET.SubElement(root, "projectlayers")
    for layer in layers:
        proj_layers.append(_maplayer(layer))
    props = ET.SubElement(root, "properties")
    paths = ET.SubElement(props, "Paths")
    ET.SubElement(paths, "Absolute", type="bool").text = "false"
    ET.indent(root, space=" ")
    return b"<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + ET.tostring(root, encoding="utf-8")


def write_qgz(dest: str | os.PathLike[str], title: str, layers: Sequence[QgisLayer], *,
              crs_wkt: str | None = None, crs_authid: str | None = None) -> Path:
    """Write ``dest`` (.qgz: a zip holding ``<stem>.qgs``) atomically."""
    dest = Path(dest)
    xml = project_xml(title, layers, crs_wkt, crs_authid)
    with atomic_path(dest) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{dest.stem}.qgs", xml)
    return dest


def read_qgz_layers(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    """(For checks) the layers of a .qgz: name, type, datasource, provider."""
    with zipfile.ZipFile(path) as zf:
        names = [n for n in zf.namelist() if n.endswith(".qgs")]
        root = ET.fromstring(zf.read(names[0]))
    out = []
    for ml in root.iter("maplayer"):
        out.append({"name": ml.findtext("layername") or "", "type": ml.get("type") or "",
                    "datasource": ml.findtext("datasource") or "", "provider": ml.findtext("provider") or ""})
    return out
