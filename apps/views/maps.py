"""Maps page: register scans (upload or server path), thumbnails, status, run machine steps."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st
from jadis_ui import common

from jadis.errors import JadisError
from jadis.project import maps, render, runs, uploads
from jadis.project.status import map_status

project = common.current_project()
cfg = common.settings()
st.title("Maps")

records = maps.list_maps(project)


def _allowed_server_path(text: str) -> Path:
    """A server path the app may register: inside the project folder or a configured import folder."""
    if not text.strip():
        raise JadisError("type the path of a scan on the server")
    raw = Path(text.strip()).expanduser()
    path = (project.root / raw if not raw.is_absolute() else raw).resolve()
    roots = [project.root.resolve(), *(d.resolve() for d in cfg.import_dirs)]
    if not any(path == r or r in path.parents for r in roots):
        raise JadisError("only scans inside the project folder or an import folder (jadis app --import-dir) "
                         "can be registered by path; upload the file instead")
    return path


with st.expander("Register scans", expanded=not records):
    up_tab, path_tab = st.tabs(["Upload", "From the server"])
    with up_tab:
        files = st.file_uploader("Scans (TIFF, JPEG, PNG, JPEG 2000)", type=["tif", "tiff", "jpg", "jpeg", "png", "jp2"],
                                 accept_multiple_files=True, key="scan_uploads")
        year = st.number_input("Year the map shows (optional, 0 = unknown)", min_value=0, max_value=2100, value=0,
                               step=1, key="upload_year")
        if st.button("Register uploaded scans", disabled=not files, type="primary"):
            who = common.require_author()
            for f in files or []:
                with common.guard():
                    saved = uploads.save_upload(project.inside("scans"), f.name, f.getvalue(),
                                                max_bytes=uploads.max_scan_bytes())
                    try:
                        record = maps.add_map(project, saved, year=int(year) or None, author=who)
                    except BaseException:
                        saved.unlink(missing_ok=True)
                        raise
                    st.success(f"Registered '{record.name}' ({record.width}×{record.height} px).")
    with path_tab:
        server_path = st.text_input("Path of a scan on the server (inside the project or an import folder)",
                                    key="server_path")
        if st.button("Register this file"):
            with common.guard():
                who = common.require_author()
                record = maps.add_map(project, _allowed_server_path(server_path), year=int(year) or None, author=who)
                st.success(f"Registered '{record.name}' ({record.width}×{record.height} px).")

records = maps.list_maps(project)
if not records:
    st.info("No maps registered yet.")
    st.stop()

statuses = {r.id: map_status(project, r) for r in records}
table = pd.DataFrame([{
    "id": r.id, "map": r.name, "size (px)": f"{r.width}×{r.height}", "year": r.year or "",
    "status": r.status,
    "tiles accepted": f"{s.tiles_accepted}/{s.tiles_total}" if s.tiles_total else "",
    "georeference": f"v{s.georef_version} {s.georef_transform}" if s.georef_version else "",
    "added by": r.added_by, "added": r.added_at.replace("T", " ")[:16],
    "problem": s.problem or "",
} for r in records for s in [statuses[r.id]]])
st.dataframe(table, hide_index=True, width="stretch")

st.subheader("Thumbnails")
cols = st.columns(4)
for i, r in enumerate(records):
    with cols[i % 4], common.guard():
        if not r.path.exists():
            st.warning(f"{r.name}: scan file missing")
            continue
        with st.spinner(f"Preparing {r.name} for viewing (once)…"):
            png = render.thumbnail_png(project, r)
        st.image(png, caption=f"{r.name} — {r.status}")

st.subheader("Run on selected maps")
by_id = {r.id: r for r in records}
chosen = st.multiselect("Maps", list(by_id), format_func=lambda i: by_id[i].name, key="run_maps")
again = st.checkbox("Segment again maps that already have a segmentation (their tiles get a new version; "
                    "corrections stay in the history)", key="run_again")
c1, c2, c3 = st.columns(3)
if c1.button("Segment", disabled=not chosen, help="Run the U-Net; the result becomes a new version of each tile"):
    who = common.require_author()
    todo = [m for m in chosen if again or not statuses[m].segmented]
    for map_id in sorted(set(chosen) - set(todo)):
        st.info(f"'{by_id[map_id].name}' is already segmented (tick the box above to segment it again).")
    progress = st.progress(0.0, text="Segmenting…")
    for n, map_id in enumerate(todo):
        with common.guard(), st.spinner(f"Segmenting {by_id[map_id].name}…"):
            runs.segment_map(project, map_id, author=who)
            st.success(f"Segmented '{by_id[map_id].name}'.")
        progress.progress((n + 1) / len(todo), text=f"{n + 1}/{len(todo)} map(s) done")
if c2.button("Auto-georeference", disabled=not chosen,
             help="Align the map's streets with the modern reference and propose control points"):
    who = common.require_author()
    progress = st.progress(0.0, text="Aligning…")
    for n, map_id in enumerate(chosen):
        with common.guard(), st.spinner(f"Aligning {by_id[map_id].name} with the reference…"):
            version = runs.auto_georeference_map(project, map_id, reference=cfg.reference, author=who)
            st.success(f"'{by_id[map_id].name}': georeference v{version} saved (check it on Control points).")
        progress.progress((n + 1) / len(chosen), text=f"{n + 1}/{len(chosen)} map(s) done")
if c3.button("Verify files", disabled=not chosen, help="Re-check that each scan is unchanged (SHA-256)"):
    for map_id in chosen:
        problem = maps.verify_map(by_id[map_id])
        if problem:
            st.error(problem)
        else:
            st.success(f"{by_id[map_id].name}: unchanged")
