"""Control points: click a point on the old map and its partner on the modern reference (or type
coordinates); residuals and transform update live; automatic suggestions; outliers highlighted;
save as a new georeference version; export .points, Allmaps annotation, GeoTIFF."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st
from jadis_ui import common, viewer
from jadis_ui.gcp import TRANSFORMS, PointSet, fit

from jadis.errors import JadisError
from jadis.georef.crs import crs_name, parse_crs, reproject
from jadis.project import georefs, render, runs, uploads
from jadis.project.corrections import list_corrections
from jadis.project.modern_reference import open_reference, render_reference
from jadis.project.store import ConflictError

MAP_KEY, REF_KEY = "cp_map_viewer", "cp_ref_viewer"
VW, VH = 640, 500

project = common.current_project()
cfg = common.settings()
st.title("Control points")
common.show_flashes()
record = common.map_selector(project)
if record is None:
    st.stop()
if not record.path.exists():
    raise JadisError(f"map '{record.name}': scan file {record.path} is missing")


def _references() -> dict[str, Path]:
    """Modern references: the configured one, the shipped OSM roads of Paris, then the shipped
    historical street networks."""
    from jadis.georef.auto_inputs import DEFAULT_REFERENCE

    found: dict[str, Path] = {}
    if cfg.reference is not None:
        found[f"{cfg.reference.name} (configured reference)"] = cfg.reference
    if DEFAULT_REFERENCE.is_file() and cfg.reference != DEFAULT_REFERENCE:
        found["Paris roads today — © OpenStreetMap contributors (ODbL), shipped"] = DEFAULT_REFERENCE
    try:
        from jadis.geocode.gazetteer import list_gazetteers

        for info in list_gazetteers():
            if info.kind == "street_network" and info.path.exists():
                found[f"{info.title or info.name} — street network"] = info.path
    except (ImportError, JadisError):
        pass
    return found


refs = _references()
ref = None
if refs:
    ref_label = st.selectbox("Modern reference", list(refs), key="cp_reference")
    with common.guard():
        ref = open_reference(refs[ref_label])
else:
    st.info("No modern reference is configured (start the app with `jadis app PROJECT --reference FILE`): "
            "type the world coordinates of each point instead.")

# --- the point set being edited (per map, kept in the session until saved) ----------------------------
sets: dict[int, PointSet] = st.session_state.setdefault("cp_sets", {})
if record.id not in sets:
    saved = georefs.load_georef(project, record.id)
    if saved is not None:
        sets[record.id] = PointSet.from_georef(saved.georef, saved.version)
    else:
        sets[record.id] = PointSet(crs=ref.crs_wkt if ref is not None else project.crs)
points = sets[record.id]
set_crs = parse_crs(points.crs)

top1, top2, top3 = st.columns([2, 2, 3])
names = list(TRANSFORMS)
transform = top1.selectbox("Transform", names, index=names.index(points.transform) if points.transform in names else 1,
                           format_func=TRANSFORMS.get, key=f"cp_transform_{record.id}")
points.transform = transform
top2.markdown(f"**World CRS of the points**  \n{crs_name(set_crs)[:60]}")
top3.markdown(f"**Editing from version** v{points.version}" + (" (none saved yet)" if points.version == 0 else ""))

live = fit(points, (record.width, record.height))

# --- gestures from both viewers ------------------------------------------------------------------------
ref_extent = viewer.Extent(f"ref:{ref.path}", ref.width, ref.height) if ref is not None else None
ev = viewer.take_event(MAP_KEY)
if not viewer.apply_view_event(MAP_KEY, record, ev, VW, VH) and ev and ev.get("type") == "click":
    points.pending_pixel = (float(ev["x"]), float(ev["y"]))
    if live.georef is not None and ref is not None:  # show where the fit expects the partner
        guess = reproject(live.georef.pixel_to_world(np.array([points.pending_pixel])), set_crs, ref.crs)
        gx, gy = ref.world_to_pixel(guess)[0]
        view = viewer.get_view(REF_KEY, ref_extent, VW, VH)
        viewer.set_view(REF_KEY, ref_extent, render.View(gx, gy, view.zoom, VW, VH))
if ref is not None:
    ev = viewer.take_event(REF_KEY)
    if not viewer.apply_view_event(REF_KEY, ref_extent, ev, VW, VH) and ev and ev.get("type") == "click":
        world = ref.pixel_to_world(np.array([[float(ev["x"]), float(ev["y"])]]))
        points.pending_world = tuple(reproject(world, ref.crs, set_crs)[0])
if points.pending_pixel and points.pending_world:
    new_id = points.add(*points.pending_pixel, *points.pending_world)
    points.pending_pixel = points.pending_world = None
    common.flash(f"Added point {new_id}.")
    st.rerun()

# --- the two viewers ------------------------------------------------------------------------------------
report = live.report
outliers = set(np.asarray(report.ids)[report.outlier]) if report is not None else set()


def _marker(p: dict, x: float, y: float) -> dict:
    color = "#e0005a" if p["id"] in outliers else ("#8c8c8c" if not p["enabled"] else "#ff7f00")
    return {"x": float(x), "y": float(y), "label": p["id"], "color": color}


left, right = st.columns(2)
with left:
    st.markdown("**Old map** — click a point")
    viewer.zoom_buttons(MAP_KEY, record, VW, VH)
    view = viewer.get_view(MAP_KEY, record, VW, VH)
    marks = [_marker(p, p["x"], p["y"]) for p in points.points]
    if points.pending_pixel:
        marks.append({"x": points.pending_pixel[0], "y": points.pending_pixel[1], "label": "new", "color": "#00b7ff"})
    viewer.show(MAP_KEY, view, render.read_scan(project, record, view), points=marks)
with right:
    if ref is not None:
        st.markdown(f"**Modern reference** ({ref.name}) — click its partner")
        viewer.zoom_buttons(REF_KEY, ref_extent, VW, VH)
        rview = viewer.get_view(REF_KEY, ref_extent, VW, VH)
        marks = []
        if points.points:
            world = reproject(np.array([[p["X"], p["Y"]] for p in points.points]), set_crs, ref.crs)
            for p, (rx, ry) in zip(points.points, ref.world_to_pixel(world), strict=True):
                marks.append(_marker(p, rx, ry))
        if points.pending_world:
            rx, ry = ref.world_to_pixel(reproject(np.array([points.pending_world]), set_crs, ref.crs))[0]
            marks.append({"x": float(rx), "y": float(ry), "label": "new", "color": "#00b7ff"})
        viewer.show(REF_KEY, rview, render_reference(ref, rview), points=marks)
    if points.pending_pixel and not points.pending_world:
        st.info(f"Map point ({points.pending_pixel[0]:.0f}, {points.pending_pixel[1]:.0f}) chosen: now click its "
                "partner on the reference, or type its coordinates below.")
    if points.pending_world and not points.pending_pixel:
        st.info("Reference point chosen: now click its partner on the old map.")

# --- typed coordinates ----------------------------------------------------------------------------------
with st.expander("Type a point", expanded=ref is None):
    c = st.columns(5)
    tx = c[0].number_input("map x (px)", value=float(points.pending_pixel[0]) if points.pending_pixel else 0.0,
                           key="cp_tx")
    ty = c[1].number_input("map y (px, down)", value=float(points.pending_pixel[1]) if points.pending_pixel else 0.0,
                           key="cp_ty")
    wx = c[2].number_input("X / easting / lon", value=0.0, format="%.6f", key="cp_wx")
    wy = c[3].number_input("Y / northing / lat", value=0.0, format="%.6f", key="cp_wy")
    typed_crs = c[4].text_input("CRS of X, Y", value=set_crs.to_string() if set_crs.to_authority() else "",
                                key="cp_typed_crs", help="e.g. EPSG:2154, EPSG:4326 (lon, lat), VERNIQUET-m")
    if st.button("Add point", key="cp_add"):
        with common.guard():
            world = np.array([[wx, wy]])
            if typed_crs.strip():
                world = reproject(world, parse_crs(typed_crs), set_crs)
            new_id = points.add(tx, ty, *world[0])
            points.pending_pixel = points.pending_world = None
            common.flash(f"Added point {new_id}.")
            st.rerun()

# --- the residual table (live) --------------------------------------------------------------------------
st.subheader("Points and residuals")
if points.points:
    table = pd.DataFrame(points.points)
    if report is not None:
        rows = pd.DataFrame(report.rows())
        table["residual (m)"] = rows["residual_m"].round(2)
        table["residual (px)"] = rows["residual_px"].round(2)
        table["leave-one-out (m)"] = rows["loo_m"].round(2)
        table["outlier"] = rows["outlier"]
    styled = table.style.apply(
        lambda r: ["background-color: #ffd6e0" if r["id"] in outliers else "" for _ in r], axis=1)
    st.dataframe(styled, hide_index=True, width="stretch")
    if report is not None:
        s = report.summary()
        st.markdown(f"**{TRANSFORMS[points.transform]}** on {s['enabled']} of {s['gcps']} points: RMSE "
                    f"**{s['rmse_m'] or 0:.2f} m** ({s['rmse_px'] or 0:.2f} px); leave-one-out RMSE "
                    f"**{(s['loo_rmse_m'] if s['loo_rmse_m'] is not None else float('nan')):.2f} m**"
                    + (f"; outliers: {', '.join(s['outliers'])}" if s["outliers"] else ""))
    else:
        st.warning(f"No fit yet: {live.problem}")
    e1, e2, e3 = st.columns([3, 2, 1])
    ids = [p["id"] for p in points.points]
    toggle_key = f"cp_disabled_{record.id}_{len(ids)}"

    def _toggle(map_id: int = record.id, key: str = toggle_key) -> None:  # runs before the page: the fit sees it
        st.session_state["cp_sets"][map_id].set_enabled(set(st.session_state[key]))

    e1.multiselect("Disabled points (kept, not fitted)", ids,
                   default=[p["id"] for p in points.points if not p["enabled"]], key=toggle_key, on_change=_toggle)
    drop = e2.selectbox("Point", ids, key="cp_drop")
    if e3.button("Remove", key="cp_remove"):
        points.remove(drop)
        st.rerun()
else:
    st.caption("No points yet.")

# --- suggestions, files ---------------------------------------------------------------------------------
with st.expander("Suggestions and files"):
    if st.button("Suggest points by automatic alignment", key="cp_auto", disabled=ref is None,
                 help="Aligns the map's streets with the reference and proposes many control points"):
        with common.guard(), st.spinner("Aligning the map with the reference (up to a minute)…"):
            result = runs.auto_georeference(project, record.id, reference=ref.path)
            st.session_state["cp_suggested"] = (record.id, result.georef, result.summary())
    sugg = st.session_state.get("cp_suggested")
    if sugg and sugg[0] == record.id:
        georef, summary = sugg[1], sugg[2]
        st.write(f"{len(georef.gcps)} suggested points, {georef.transform}; confidence "
                 f"{summary.get('confidence', 0):.2f}, cross-validated error {summary.get('cv_error_m', 0):.1f} m.")
        if st.button("Use the suggested points (replaces the table)", key="cp_use_auto"):
            new = PointSet.from_georef(georef, points.version)
            new.points = [dict(p, X=float(w[0]), Y=float(w[1])) for p, w in
                          zip(new.points, reproject(georef.gcps.world, georef.gcps.crs, set_crs), strict=True)]
            new.crs = points.crs
            sets[record.id] = new
            st.session_state.pop("cp_suggested", None)
            st.rerun()
    upload = st.file_uploader("Import points (.points, Allmaps .json, .csv)", type=["points", "json", "csv"],
                              key="cp_import")
    if upload is not None and st.button("Import (replaces the table)", key="cp_import_go"):
        with common.guard():
            from jadis.georef.formats import read_gcps

            uploads.check_text_bytes(upload.name, upload.getvalue(), max_bytes=uploads.DEFAULT_MAX_GCP_BYTES,
                                     suffixes=(".points", ".json", ".csv"))
            tmp = project.inside("cache", "import_" + uploads.safe_filename(upload.name, default_stem="gcps"))
            tmp.write_bytes(upload.getvalue())
            try:
                gcps = read_gcps(tmp)
            finally:
                tmp.unlink(missing_ok=True)
            from jadis.georef.georeference import Georeference

            sets[record.id] = PointSet.from_georef(Georeference(gcps, points.transform), points.version)
            common.flash(f"Imported {len(gcps)} points from {upload.name}.")
            st.rerun()

# --- save / reload / export ------------------------------------------------------------------------------
st.subheader("Save and export")
s1, s2, s3 = st.columns(3)
if s1.button(f"Save as version {points.version + 1}", type="primary", key="cp_save", disabled=live.georef is None):
    with common.guard():
        try:
            version = georefs.save_georef(project, record.id, live.georef, base_version=points.version,
                                          author=common.require_author())
        except ConflictError as exc:
            st.session_state["cp_conflict"] = (record.id, str(exc))
        else:
            points.version = version
            st.session_state.pop("cp_conflict", None)
            common.flash(f"Saved georeference v{version} of '{record.name}'.")
        st.rerun()
if s2.button("Reload the latest saved version (drops unsaved changes)", key="cp_reload"):
    sets.pop(record.id, None)
    st.session_state.pop("cp_conflict", None)
    st.rerun()
conflict = st.session_state.get("cp_conflict")
if conflict and conflict[0] == record.id:
    st.error(conflict[1])
refused = [c for c in list_corrections(project, record.id, "georef") if c.status == "conflict"]
if refused:
    pick = s3.selectbox("Refused (conflicting) saves", [c.id for c in refused], format_func=lambda i: f"#{i}",
                        key="cp_refused")
    if s3.button("Load it into the table", key="cp_load_refused"):
        with common.guard():
            current = georefs.load_georef(project, record.id)
            sets[record.id] = PointSet.from_georef(georefs.refused_georef(project, int(pick)),
                                                   current.version if current else 0)
            st.session_state.pop("cp_conflict", None)
            st.rerun()

if live.georef is not None:
    from jadis.georef.formats.allmaps import annotation_dict
    from jadis.georef.formats.qgis_points import format_points

    stem = uploads.safe_filename(record.name.replace(".", "_"), default_stem="map")
    d1, d2, d3 = st.columns(3)
    d1.download_button("QGIS .points", format_points(live.georef.gcps, report.residual_pxy if report else None),
                       file_name=f"{stem}.points", mime="text/plain", key="cp_dl_points")
    d2.download_button("Allmaps annotation (.json)", json.dumps(annotation_dict(live.georef), indent=1),
                       file_name=f"{stem}.allmaps.json", mime="application/json", key="cp_dl_allmaps")
    if d3.button("Make the GeoTIFF (COG)", key="cp_warp"):
        with common.guard(), st.spinner("Warping the scan…"):
            from jadis.georef.warp import warp

            out = warp(record.path, live.georef, project.inside("exports", f"{stem}_cog.tif"), crs=project.crs,
                       progress=False)
            st.session_state["cp_cog"] = (record.id, str(out))
    cog = st.session_state.get("cp_cog")
    if cog and cog[0] == record.id and Path(cog[1]).exists():
        size = Path(cog[1]).stat().st_size
        st.caption(f"GeoTIFF written to `{cog[1]}` ({size / 1e6:.1f} MB).")
        if size < 200e6:
            d3.download_button("Download the GeoTIFF", Path(cog[1]).read_bytes(), file_name=Path(cog[1]).name,
                               mime="image/tiff", key="cp_dl_cog")

history = georefs.history(project, record.id)
if history:
    st.markdown("**Saved versions**")
    st.dataframe(pd.DataFrame(history), hide_index=True, width="stretch")
