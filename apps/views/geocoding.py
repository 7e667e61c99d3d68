"""Geocoding: upload a CSV, choose the year and gazetteers, run, see the results on the map of that
year, review low-score and ambiguous rows, fix one by clicking on the map, export CSV / GeoPackage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st
from jadis_ui import common, viewer
from jadis_ui.backgrounds import backgrounds, closest_year

from jadis.errors import JadisError
from jadis.geocode.tables import guess_address_column
from jadis.project import geocoding, names, uploads
from jadis.project.store import ConflictError

VIEW_KEY = "geo_viewer"
VW, VH = 900, 560
COLORS = {"address_point": "#1a7f37", "interpolated": "#2f6fde", "street": "#d98c00", "modern_address": "#0a8f8f",
          "modern_street": "#bf3989", "none": "#999999",
          "manual": "#8a2be2"}

project = common.current_project()
cfg = common.settings()
st.title("Geocoding")
common.show_flashes()

# --- a new run ------------------------------------------------------------------------------------------
runs = geocoding.list_runs(project)
with st.expander("Geocode an address list", expanded=not runs):
    upload = st.file_uploader("Address list (CSV, UTF-8 or Latin-1, comma or semicolon)", type=["csv", "txt", "tsv"],
                              key="geo_upload")
    if upload is not None and st.session_state.get("geo_upload_id") != upload.file_id:
        st.session_state["geo_upload_id"] = upload.file_id
        with common.guard():
            from jadis.geocode.tables import read_table

            uploads.check_text_bytes(upload.name, upload.getvalue())
            tmp = project.inside("cache", "upload_" + uploads.safe_filename(upload.name, default_stem="addresses"))
            tmp.write_bytes(upload.getvalue())
            try:
                try:
                    table = read_table(tmp)
                except JadisError:
                    table = read_table(tmp, encoding="cp1252")
            finally:
                tmp.unlink(missing_ok=True)
            st.session_state["geo_table"] = (upload.name, table)
    loaded = st.session_state.get("geo_table")
    if loaded is not None:
        name, table = loaded
        st.caption(f"{name}: {len(table)} rows, columns {', '.join(map(str, table.columns))}")
        st.dataframe(table.head(5), hide_index=True)
        cols = list(map(str, table.columns))
        guess = guess_address_column(cols) or cols[0]
        c1, c2, c3 = st.columns(3)
        address_column = c1.selectbox("Address column", cols, index=cols.index(guess), key="geo_addr_col")
        year_column = c2.selectbox("Year column (optional)", ["(none)", *cols], key="geo_year_col")
        year = c3.number_input("Year", min_value=1500, max_value=2100, value=1836, step=1, key="geo_year")
        try:
            from jadis.geocode.gazetteer import list_gazetteers

            infos = [i for i in list_gazetteers() if i.kind != "names"]
        except (ImportError, JadisError):
            infos = []
        labels = {i.name: f"{i.name} ({i.years_text()})" for i in infos}
        valid = [i.name for i in infos if i.valid_at(year)] or list(labels)
        chosen = st.multiselect("Gazetteers (default: those valid that year; name lists are always used)",
                                list(labels), default=valid, format_func=labels.get, key="geo_gazetteers")
        named_maps = {m.id: m for m in names.gazetteer_maps(project)}
        use_maps = st.multiselect(
            "Maps of this project as gazetteers (their street names, with your corrections)", list(named_maps),
            default=list(named_maps), key="geo_maps",
            format_func=lambda i: f"{named_maps[i].name} ({named_maps[i].year or 'any year'})",
            help="Georeferenced maps whose street names were read: addresses of their year are placed on the "
                 "streets as the map drew them") if named_maps else []
        if st.button("Geocode", type="primary", key="geo_run"):
            with common.guard(), st.spinner(f"Geocoding {len(table)} addresses…"):
                use = chosen + [i.name for i in list_gazetteers() if i.kind == "names"] if chosen else None
                run_id = geocoding.run_geocoding(
                    project, table, address_column, year=int(year),
                    year_column=None if year_column == "(none)" else year_column, gazetteers=use,
                    name=uploads.safe_filename(name), source_file=name, author=common.require_author(),
                    maps=[int(m) for m in use_maps])
                st.session_state["geo_run_id"] = run_id
                st.session_state.pop("geo_table", None)
                common.flash(f"Geocoded {len(table)} addresses (run #{run_id}).")
                st.rerun()

runs = geocoding.list_runs(project)
if not runs:
    st.stop()
run_ids = [r.id for r in runs]
by_id = {r.id: r for r in runs}
if st.session_state.get("geo_run_id") not in run_ids:
    st.session_state["geo_run_id"] = run_ids[0]
run_id = st.selectbox("Run", run_ids, key="geo_run_id",
                      format_func=lambda i: f"#{i} {by_id[i].name} — {by_id[i].n_rows} rows, year {by_id[i].year}, "
                                            f"by {by_id[i].author} {by_id[i].created_at[:16].replace('T', ' ')}")
run = by_id[run_id]
res = geocoding.results(project, run_id)

# --- summary and review list ------------------------------------------------------------------------
counts = res["match_type"].value_counts()
cols = st.columns(len(COLORS))
for col, kind in zip(cols, COLORS, strict=True):
    col.metric(kind.replace("_", " "), int(counts.get(kind, 0)))
threshold = st.slider("Review rows scoring below", 0.0, 1.0, 0.95, 0.01, key="geo_threshold",
                      help="The geocoder lowers the score of ambiguous names (several streets bear it), of fuzzy "
                           "matches and of gazetteers far from the year, so low scores are the rows to check.")
review = res[(res["match_type"] == "none") | (res["score"].fillna(0) < threshold)]
review = review[review["match_type"] != "manual"]
st.caption(f"{len(review)} row(s) to review (no match, low score or ambiguous).")

# --- the map of that year -----------------------------------------------------------------------------
bgs = []
with common.guard():
    bgs = backgrounds(project, cfg.reference)
if not bgs:
    st.info("Georeference a map of this period (Control points page) or configure a modern reference to see the "
            "results on a map and fix them by clicking.")
else:
    keys = [b.key for b in bgs]
    default = closest_year(bgs, run.year)
    bkey = st.selectbox("Show on", keys, index=default, format_func=lambda k: bgs[keys.index(k)].label,
                        key="geo_background")
    bg = bgs[keys.index(bkey)]
    fix_choices = [int(r) for r in review["row"]] + [int(r) for r in res["row"] if int(r) not in set(review["row"])]
    fix_row = st.selectbox("Row to place", fix_choices, key="geo_fix_row",
                           format_func=lambda r: f"{r}: {res.loc[res['row'] == r, 'address'].iloc[0]} "
                                                 f"({res.loc[res['row'] == r, 'match_type'].iloc[0]}, "
                                                 f"score {res.loc[res['row'] == r, 'score'].iloc[0] or 0:.2f})")
    target = res[res["row"] == fix_row].iloc[0]
    pending = st.session_state.setdefault("geo_pending", {})
    ev = viewer.take_event(VIEW_KEY)
    if not viewer.apply_view_event(VIEW_KEY, bg, ev, VW, VH) and ev and ev.get("type") == "click":
        world = bg.to_world(np.array([[float(ev["x"]), float(ev["y"])]]))[0]
        pending[(run_id, int(fix_row))] = (float(world[0]), float(world[1]))
    viewer.zoom_buttons(VIEW_KEY, bg, VW, VH)
    view = viewer.get_view(VIEW_KEY, bg, VW, VH)
    located = res[res.geometry.notna() & ~res.geometry.is_empty]
    marks = []
    if len(located):
        pix = bg.to_pixel(np.column_stack([located.geometry.x, located.geometry.y]))
        for (_, r), (px, py) in zip(located.iterrows(), pix, strict=True):
            sel = int(r["row"]) == int(fix_row)
            marks.append({"x": float(px), "y": float(py), "label": f"{r['row']}" if sel else "",
                          "color": "#00b7ff" if sel else COLORS.get(r["match_type"], "#999999")})
    new_pos = pending.get((run_id, int(fix_row)))
    if new_pos is not None:
        px, py = bg.to_pixel(np.array([new_pos]))[0]
        marks.append({"x": float(px), "y": float(py), "label": "new", "color": "#ff0080"})
    viewer.show(VIEW_KEY, view, bg.render(view), points=marks)
    st.caption("Click on the map to place the selected row; colours: "
               + ", ".join(f"<span style='color:{c}'>{k.replace('_', ' ')}</span>" for k, c in COLORS.items()),
               unsafe_allow_html=True)
    c1, c2, c3 = st.columns([2, 2, 2])
    fx = c1.number_input("X (project CRS)", value=float(new_pos[0]) if new_pos else float(target["x"] or 0.0),
                         format="%.2f", key=f"geo_fx_{run_id}_{fix_row}_{new_pos}")
    fy = c2.number_input("Y (project CRS)", value=float(new_pos[1]) if new_pos else float(target["y"] or 0.0),
                         format="%.2f", key=f"geo_fy_{run_id}_{fix_row}_{new_pos}")
    if c3.button(f"Save the position of row {fix_row}", type="primary", key="geo_fix_save"):
        with common.guard():
            try:
                version = geocoding.correct_result(project, run_id, int(fix_row), fx, fy,
                                                   base_version=int(target["version"]), author=common.require_author())
            except ConflictError as exc:
                st.error(str(exc))
            else:
                pending.pop((run_id, int(fix_row)), None)
                common.flash(f"Row {fix_row} placed by hand (version {version}).")
                st.rerun()

# --- the table and downloads ----------------------------------------------------------------------------
st.subheader("Results")
show = pd.DataFrame(res.drop(columns=["geometry", "input"]))
st.dataframe(show[["row", "address", "match_type", "score", "matched_name", "gazetteer", "uncertainty_m", "version",
                   "author", "explanation"]], hide_index=True, width="stretch")
d1, d2 = st.columns(2)
stem = uploads.safe_filename(f"geocoded_{run.name}_{run_id}".replace(".", "_"))
with common.guard():
    csv_path = geocoding.export_results(project, run_id, project.inside("exports", f"{stem}.csv"))
    d1.download_button("Download CSV", csv_path.read_bytes(), file_name=csv_path.name, mime="text/csv",
                       key="geo_dl_csv")
    if d2.button("Make a GeoPackage", key="geo_make_gpkg"):
        gpkg_path = geocoding.export_results(project, run_id, project.inside("exports", f"{stem}.gpkg"))
        st.session_state["geo_gpkg"] = str(gpkg_path)
    if st.session_state.get("geo_gpkg", "").endswith(f"{stem}.gpkg"):
        from pathlib import Path

        path = Path(st.session_state["geo_gpkg"])
        d2.download_button("Download GeoPackage", path.read_bytes(), file_name=path.name,
                           mime="application/geopackage+sqlite3", key="geo_dl_gpkg")
