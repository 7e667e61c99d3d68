"""Export: GeoPackage, COG GeoTIFFs and a QGIS project (.qgz) with the layers styled by class."""

from __future__ import annotations

import streamlit as st
from jadis_ui import common

from jadis.project.export import export_project
from jadis.project.maps import list_maps
from jadis.project.status import map_status

MAX_DOWNLOAD = 200e6

project = common.current_project()
st.title("Export")
common.show_flashes()
records = list_maps(project)
if not records:
    st.info("No maps yet: register scans on the Maps page.")
    st.stop()

by_id = {r.id: r for r in records}
statuses = {r.id: map_status(project, r) for r in records}
chosen = st.multiselect(
    "Maps", list(by_id), default=list(by_id), key="exp_maps",
    format_func=lambda i: f"{by_id[i].name} ({'georeferenced' if statuses[i].georeferenced else 'pixels only'}, "
                          f"{statuses[i].tiles_accepted}/{statuses[i].tiles_total} tiles accepted)")
crs = st.text_input("CRS of the georeferenced outputs", value=project.crs, key="exp_crs")
st.caption("Writes into the project's exports/ folder: one GeoPackage (segmentation layers per map, control points, "
           "geocoded addresses, the map list and the correction history), each map's class raster, Cloud-Optimized "
           "GeoTIFFs of georeferenced maps (scan and classes), and a QGIS project (.qgz) with every layer styled by "
           "class. Maps without a georeference are exported in pixel coordinates.")
if st.button("Export", type="primary", disabled=not chosen, key="exp_go"):
    with common.guard(), st.spinner("Exporting (vectorizing and warping can take a while on full sheets)…"):
        report = export_project(project, None, maps=chosen, crs=crs.strip() or None)
        st.session_state["exp_report"] = [str(p) for p in report.files]
        for note in report.notes:
            common.flash(note, "warning")
        common.flash(f"Exported {len(report.files)} file(s) to {report.folder}.")
        st.rerun()

files = st.session_state.get("exp_report")
if files:
    from pathlib import Path

    st.subheader("Files")
    for i, name in enumerate(files):
        path = Path(name)
        if not path.exists():
            continue
        c1, c2 = st.columns([4, 1])
        c1.markdown(f"`{path.name}` — {path.stat().st_size / 1e6:.2f} MB")
        if path.stat().st_size <= MAX_DOWNLOAD:
            c2.download_button("Download", path.read_bytes(), file_name=path.name, key=f"exp_dl_{i}")
    st.info("Open the .qgz in QGIS (keep it in the same folder as the GeoPackage and the GeoTIFFs: paths are "
            "relative). The project GeoPackage itself (project.gpkg) also opens in QGIS as it is.")
