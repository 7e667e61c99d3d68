"""Segmentation review: zoom/pan a full sheet, class overlay, accept/reject tiles, brush and polygon
corrections, undo, save (versioned, with conflict detection); the street names read on the map,
drawn on their streets, and their corrections (rename, name, remove, undo; versioned and signed)."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from jadis_ui import common, viewer

from jadis.classes import CLASS_COLORS, CLASS_NAMES
from jadis.errors import JadisError
from jadis.project import corrections, names, render, runs, tiles
from jadis.project.store import ConflictError

VIEWER_KEY = "seg_viewer"
project = common.current_project()
st.title("Segmentation review")
common.show_flashes()

record = common.map_selector(project)
if record is None:
    st.stop()
if not record.path.exists():
    raise JadisError(f"map '{record.name}': scan file {record.path} is missing")
grid = tiles.grid_for(project, record)

# --- per-map session state: the tile versions this user started from, unsaved edits, selection -------
bases = st.session_state.setdefault("seg_base", {})
pending_all = st.session_state.setdefault("seg_pending", {})
with project.connection() as conn:
    current = tiles.current_versions(conn, record.id)
if record.id not in bases:
    bases[record.id] = dict(current)
base = bases[record.id]
pending: list[corrections.Edit] = pending_all.setdefault(record.id, [])

view_col, tool_col = st.columns([3, 1], gap="medium")

with tool_col:
    st.markdown("**Tool**")
    mode = st.radio("Tool", ["Pan / select tile", "Brush", "Polygon", "Select street"], key="seg_mode",
                    label_visibility="collapsed",
                    help="Pan: drag to move, wheel to zoom, click to select a tile. Brush: paint by dragging. "
                         "Polygon: click the corners, double-click (or Enter) to close, Esc to cancel. "
                         "Select street: click a street to see and correct its name (below the map).")
    class_ids = [1, 2, 3, 0]
    class_id = st.selectbox("Class to paint", class_ids, key="seg_class",
                            format_func=lambda c: "other (erase)" if c == 0 else CLASS_NAMES[c])
    radius = st.slider("Brush radius (map pixels)", 1, 200, 12, key="seg_radius")
    opacity = st.slider("Overlay opacity", 0.0, 1.0, 0.5, 0.05, key="seg_opacity")
    show_grid = st.checkbox("Show tiles", value=True, key="seg_grid")
    show_names = st.checkbox("Show street names", value=True, key="seg_show_names",
                             help="Green: read on the map; orange, with '?': read with low confidence; "
                                  "purple: corrected by a librarian; grey: no name")

# --- the street names read on the map (None: never read) -------------------------------------------------
name_run = names.latest_run(project, record.id)
street_names = names.current_names(project, record.id) if name_run is not None else None
street_key = f"seg_street_{record.id}"
street_goto = st.session_state.pop("seg_street_goto", None)
if street_goto is not None and street_goto[0] == record.id and street_names is not None:
    st.session_state[street_key] = street_goto[1]
    seg_geom = street_names.geometry[street_names["street_id"] == street_goto[1]]
    if len(seg_geom):
        bx0, by0, bx1, by1 = seg_geom.iloc[0].bounds
        span = max(bx1 - bx0, by1 - by0, 150.0)
        viewer.set_view(VIEWER_KEY, record, render.View((bx0 + bx1) / 2, (by0 + by1) / 2,
                                                        0.6 * min(viewer.VIEW_W, viewer.VIEW_H) / span,
                                                        viewer.VIEW_W, viewer.VIEW_H))

# --- events from the viewer (last run's gestures) ------------------------------------------------------
event = viewer.take_event(VIEWER_KEY)
if not viewer.apply_view_event(VIEWER_KEY, record, event) and event:
    with common.guard():
        kind = event.get("type")
        if kind == "click" and mode == "Select street":
            if street_names is None:
                raise JadisError("the street names of this map have not been read yet (see Street names below)")
            picked = names.nearest_segment(street_names, float(event["x"]), float(event["y"]),
                                           max_distance=12.0 / viewer.get_view(VIEWER_KEY, record).zoom + 4.0)
            if picked is not None:
                st.session_state[street_key] = picked
        elif kind == "click":
            hit = grid.key_at(float(event["x"]), float(event["y"]))
            if hit is not None:  # the tile inputs below follow the click
                st.session_state[f"seg_tx_{record.id}"], st.session_state[f"seg_ty_{record.id}"] = hit
        elif kind == "brush":
            pending.append(corrections.brush_edit(event.get("points") or [], radius, class_id))
        elif kind == "polygon":
            pending.append(corrections.polygon_edit(event.get("points") or [], class_id))

with tool_col:
    st.markdown(f"**Unsaved edits: {len(pending)}**")
    b1, b2 = st.columns(2)
    if b1.button("Undo", disabled=not pending, key="seg_undo", width="stretch"):
        pending.pop()
        st.rerun()
    if b2.button("Discard", disabled=not pending, key="seg_discard", width="stretch"):
        pending.clear()
        st.rerun()
    if st.button(f"Save {len(pending)} edit(s)", disabled=not pending, type="primary", key="seg_save",
                 width="stretch"):
        with common.guard():
            who = common.require_author()
            try:
                result = corrections.save_correction(project, record.id, pending, base, author=who)
            except ConflictError as exc:
                st.session_state["seg_conflict"] = (record.id, str(exc))
            else:
                base.update(result.tiles)
                pending.clear()
                st.session_state.pop("seg_conflict", None)
                common.flash(f"Saved as correction #{result.correction_id} ({len(result.tiles)} tile(s) updated).")
            st.rerun()
    changed = sorted(k for k, v in current.items() if base.get(k, 0) != v)
    conflict = st.session_state.get("seg_conflict")
    if conflict and conflict[0] == record.id:
        st.error(conflict[1])
    if changed:
        st.warning(f"{len(changed)} tile(s) were changed by someone else since you loaded this map.")
    if st.button("Reload latest (keep my unsaved edits)", key="seg_reload", disabled=not changed, width="stretch"):
        bases[record.id] = dict(current)
        st.session_state.pop("seg_conflict", None)
        st.rerun()

# --- tile review -------------------------------------------------------------------------------------
states = tiles.tile_states(project, record.id)
goto = st.session_state.pop("seg_goto", None)
if goto is not None and goto[0] == record.id:  # "next tile": select it and show it whole
    gx, gy = goto[1]
    st.session_state[f"seg_tx_{record.id}"], st.session_state[f"seg_ty_{record.id}"] = gx, gy
    x0, y0, x1, y1 = grid.bounds((gx, gy))
    zoom = 0.95 * min(viewer.VIEW_W / (x1 - x0), viewer.VIEW_H / (y1 - y0))
    viewer.set_view(VIEWER_KEY, record, render.View((x0 + x1) / 2, (y0 + y1) / 2, zoom, viewer.VIEW_W,
                                                    viewer.VIEW_H))


def _next_to_review(after: tuple[int, int]) -> tuple[int, int] | None:
    """The next tile (row by row, wrapping) still to review."""
    todo = [k for k in grid.all_keys() if k in states and states[k].decision is None]
    later = [k for k in todo if (k[1], k[0]) > (after[1], after[0])]
    return (later or todo or [None])[0]


with tool_col:
    st.markdown("**Tile review**")
    if not current:
        st.caption("This map has no segmentation yet.")
        if st.button("Segment this map", key="seg_run", width="stretch"):
            with common.guard(), st.spinner("Segmenting… (a few seconds per megapixel)"):
                runs.segment_map(project, record.id, author=common.require_author())
                bases.pop(record.id, None)
                st.rerun()
    c_tx, c_ty = st.columns(2)
    tx = c_tx.number_input("Tile column", 0, grid.nx - 1, 0, key=f"seg_tx_{record.id}")
    ty = c_ty.number_input("Tile row", 0, grid.ny - 1, 0, key=f"seg_ty_{record.id}")
    key = (int(tx), int(ty))
    state = states.get(key)
    if state is None:
        st.caption(f"Tile {key}: not segmented.")
    else:
        label = {"accepted": "accepted ✅", "rejected": "rejected ❌"}.get(state.decision or "", "not reviewed")
        st.caption(f"Tile {key}: version {state.version}, {label}"
                   + (f" by {state.reviewed_by}" if state.reviewed_by else ""))
    r1, r2 = st.columns(2)

    def _review(keys: list[tuple[int, int]], decision: str, then_next: bool = False) -> None:
        who = common.require_author()
        dirty = corrections.touched_tiles(pending, grid) if pending else []
        if set(dirty) & set(keys):
            raise JadisError("save or discard your edits on these tiles before reviewing them")
        n = tiles.review_tiles(project, record.id, keys, decision, author=who, seen_versions=base)
        common.flash(f"{n} tile(s) {decision}.")
        if then_next:
            states.update({k: tiles.TileState(states[k].version, decision, who) for k in keys})
            nxt = _next_to_review(keys[-1])
            if nxt is not None:
                st.session_state["seg_goto"] = (record.id, nxt)
        st.rerun()

    if r1.button("Accept tile", key="seg_accept", disabled=state is None, width="stretch"):
        with common.guard():
            _review([key], "accepted")
    if r2.button("Reject tile", key="seg_reject", disabled=state is None, width="stretch"):
        with common.guard():
            _review([key], "rejected")
    n1, n2 = st.columns(2)
    if n1.button("Accept, next ▶", key="seg_accept_next", disabled=state is None, width="stretch",
                 help="Accept this tile and show the next one to review"):
        with common.guard():
            _review([key], "accepted", then_next=True)
    if n2.button("Next to review ▶", key="seg_next", disabled=not states, width="stretch",
                 help="Show the next tile nobody has reviewed yet (row by row)"):
        nxt = _next_to_review(key)
        if nxt is None:
            st.info("Every tile of this map has been reviewed.")
        else:
            st.session_state["seg_goto"] = (record.id, nxt)
            st.rerun()
    view = viewer.get_view(VIEWER_KEY, record)
    visible = [k for k in grid.keys_in(*view.window) if k in states]
    if st.button(f"Accept the {len(visible)} tile(s) in view", key="seg_accept_view", disabled=not visible,
                 width="stretch"):
        with common.guard():
            _review(visible, "accepted")
    states = tiles.tile_states(project, record.id)
    n_acc = sum(s.decision == "accepted" for s in states.values())
    n_rej = sum(s.decision == "rejected" for s in states.values())
    st.caption(f"{n_acc} accepted, {n_rej} rejected, {len(states) - n_acc - n_rej} to review "
               f"(of {grid.nx}×{grid.ny} tiles of {grid.size} px).")

with tool_col, st.expander("Paint a rectangle by coordinates"):
    rc1, rc2 = st.columns(2)
    rx0 = rc1.number_input("x from", 0, record.width, 0, key="seg_rx0")
    ry0 = rc2.number_input("y from", 0, record.height, 0, key="seg_ry0")
    rx1 = rc1.number_input("x to", 0, record.width, min(record.width, 100), key="seg_rx1")
    ry1 = rc2.number_input("y to", 0, record.height, min(record.height, 100), key="seg_ry1")
    if st.button("Add rectangle edit", key="seg_add_rect"):
        with common.guard():
            pending.append(corrections.rectangle_edit(rx0, ry0, rx1, ry1, class_id))
            st.rerun()


def _street_names_section() -> None:
    """The names read on the map: read them, pick a segment, rename / name / remove, rename all, undo."""
    st.subheader("Street names")
    conflict_names = st.session_state.get("seg_names_conflict")
    if conflict_names and conflict_names[0] == record.id:
        st.error(conflict_names[1])
    read_label = "Read the street names" if name_run is None else "Read the names again"
    if name_run is None:
        st.caption("The names printed on this map have not been read yet." if current else
                   "Segment this map first: its names are read on the streets and text the segmentation finds.")
    else:
        st.caption(f"Read {name_run.created_at.replace('T', ' ')[:16]} UTC by {name_run.author}: "
                   f"{name_run.n_named} of {name_run.n_segments} street segments named, {name_run.n_lines} line(s) "
                   f"of text, {name_run.n_numbers} house number(s)"
                   + (f"; {name_run.carried} correction(s) carried over from the previous reading"
                      if name_run.carried else "") + ".")
        if name_run.stale:
            st.warning("The segmentation was corrected since the names were read: read them again to name the "
                       "corrected streets (your name corrections are carried over).")
    if st.button(read_label, key="seg_names_read", disabled=not current,
                 help="OCR of the street names and house numbers on the current segmentation (a few seconds per "
                      "megapixel)"):
        with common.guard(), st.spinner("Reading the names on the map…"):
            run = names.read_street_names(project, record.id, author=common.require_author())
            st.session_state.pop("seg_names_conflict", None)
            common.flash(f"Read the names: {run.n_named} of {run.n_segments} street segments named.")
            st.rerun()
    if name_run is None or street_names is None:
        return
    frame = street_names
    seen_all = st.session_state.setdefault("seg_names_seen", {})
    seen_run, seen_versions = seen_all.get(record.id, (name_run.id, names.versions(frame)))

    def _save(changes: dict[int, str | None] | None = None, rename: tuple[str, str | None] | None = None) -> None:
        """Save ``changes`` (street_id -> name) or ``rename`` (old name -> new) against what was shown."""
        who = common.require_author()
        try:
            if rename is not None:
                done = names.rename_all(project, record.id, rename[0], rename[1], run_id=seen_run,
                                        base_versions=seen_versions, author=who)
            else:
                done = names.correct_names(project, record.id, changes or {}, run_id=seen_run,
                                           base_versions=seen_versions, author=who)
        except ConflictError as exc:
            st.session_state["seg_names_conflict"] = (record.id, str(exc))
        else:
            st.session_state.pop("seg_names_conflict", None)
            for k in [k for k in st.session_state if str(k).startswith(f"seg_street_name_{record.id}_")]:
                del st.session_state[k]  # the name boxes show the saved names again
            common.flash(f"Saved name correction #{done.correction_id}: {done.message}.")
        st.rerun()

    ids = [int(i) for i in frame["street_id"]]
    by_id = {int(r["street_id"]): r for _, r in frame.iterrows()}
    if st.session_state.get(street_key) not in ids:
        st.session_state.pop(street_key, None)

    def _label(i: int) -> str:
        r = by_id[i]
        if not isinstance(r["name"], str):
            return f"#{i} (no name)"
        flag = " ⚠ doubtful" if r["low"] else (" ✎" if r["name_from"] == "corrected" else "")
        return f"#{i} {r['name']} ({float(r['name_score']):.2f}){flag}"

    left, right = st.columns(2, gap="medium")
    with left:
        st.markdown("**A street segment** (choose it here, or click it on the map with the street tool)")
        sel = st.selectbox("Street segment", ids, key=street_key, format_func=_label, index=None,
                           placeholder="Choose a segment", label_visibility="collapsed")
        doubtful = [i for i in ids if bool(by_id[i]["low"])]
        c1, c2 = st.columns(2)
        if c1.button(f"Next doubtful ▶ ({len(doubtful)})", key="seg_names_next_low", disabled=not doubtful,
                     width="stretch", help="Select the next name read with low confidence and show it"):
            later = [i for i in doubtful if sel is None or i > sel]
            st.session_state["seg_street_goto"] = (record.id, (later or doubtful)[0])
            st.rerun()
        if c2.button("Show it", key="seg_street_show", disabled=sel is None, width="stretch"):
            st.session_state["seg_street_goto"] = (record.id, sel)
            st.rerun()
        if sel is not None:
            r = by_id[sel]
            read = (f"read “{r['read_name']}” ({float(r['read_score']):.2f})" if isinstance(r["read_name"], str)
                    else "no name read")
            current_name = r["name"] if isinstance(r["name"], str) else ""
            fixed = (f"“{current_name or '(no name)'}” since {r['corrected_by']} corrected it "
                     f"{str(r['corrected_at']).replace('T', ' ')[:16]} (version {int(r['version'])}); "
                     if int(r["version"]) else "")
            st.caption(f"Segment #{sel}: {fixed}{read}.")
            new_name = st.text_input("Name", value=current_name, max_chars=names.MAX_NAME_LENGTH,
                                     key=f"seg_street_name_{record.id}_{name_run.id}_{sel}")
            b1, b2 = st.columns(2)
            if b1.button("Save name", key="seg_name_save", type="primary", width="stretch",
                         disabled=not new_name.strip() or new_name.strip() == current_name):
                with common.guard():
                    _save({sel: new_name})
            if b2.button("Remove name", key="seg_name_remove", disabled=not current_name, width="stretch"):
                with common.guard():
                    _save({sel: None})
    with right:
        st.markdown("**Every segment of a name**")
        distinct = sorted({str(n) for n in frame["name"].dropna()})
        old = st.selectbox("Name", distinct, key=f"seg_rename_from_{record.id}", index=None,
                           placeholder="Choose a name")
        new = st.text_input("New name (empty: remove the name)", key=f"seg_rename_to_{record.id}",
                            max_chars=names.MAX_NAME_LENGTH)
        if st.button("Rename every segment" if new.strip() else "Remove from every segment", key="seg_rename_all",
                     disabled=old is None, width="stretch"):
            with common.guard():
                _save(rename=(old, new.strip() or None))
    table = names.name_table(frame)
    if table:
        only_doubtful = st.checkbox("Only doubtful names", key="seg_names_only_low")
        rows = [t for t in table if t["doubtful"]] if only_doubtful else table
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch",
                     column_config={"doubtful": st.column_config.CheckboxColumn("doubtful ⚠")})
    history = corrections.list_corrections(project, record.id, names.TARGET)
    if history:
        st.markdown("**History of name corrections**")
        st.dataframe(pd.DataFrame([{"#": c.id, "when": c.created_at.replace("T", " ")[:19], "who": c.author,
                                    "status": c.status, "what": c.message} for c in history[:50]]),
                     hide_index=True, width="stretch")
        applied = [c for c in history if c.status == "applied"]
        if st.button(f"Revert name correction #{applied[0].id}" if applied else "Revert", key="seg_names_undo",
                     disabled=not applied, help="Undo the latest name correction: its segments get back the names "
                                                "they had before (itself a new, signed correction)"):
            with common.guard():
                try:
                    done = names.undo_correction(project, applied[0].id, author=common.require_author())
                except ConflictError as exc:
                    st.session_state["seg_names_conflict"] = (record.id, str(exc))
                else:
                    st.session_state.pop("seg_names_conflict", None)
                    common.flash(f"Undid #{applied[0].id} as correction #{done.correction_id}.")
                st.rerun()
    seen_all[record.id] = (name_run.id, names.versions(frame))


# --- the viewer -------------------------------------------------------------------------------------
with view_col:
    viewer.zoom_buttons(VIEWER_KEY, record)
    view = viewer.get_view(VIEWER_KEY, record)
    with st.spinner("Preparing the map for viewing (once per map)…"):
        scan = render.read_scan(project, record, view)
    ids, origin, step = render.classes_for_view(project, record, view, versions=base)
    ids = corrections.preview(ids, origin, step, pending)
    overlay = render.colorize(render.ids_to_display(ids, origin, step, view))
    grid_data = None
    if show_grid:
        status = {}
        for k, s in states.items():
            status[k] = s.decision or "pending"
        for k in changed:
            status[k] = "stale"
        grid_data = {"size": grid.size, "width": record.width, "height": record.height,
                     "tiles": [[k[0], k[1], status.get(k, "pending")] for k in grid.keys_in(*view.window)]}
    street_lines = None
    if show_names and street_names is not None:
        street_lines = names.lines_for_view(street_names, view.window, selected=st.session_state.get(street_key),
                                            tolerance=0.5 / view.zoom)
    viewer.show(VIEWER_KEY, view, scan, overlay_rgba=overlay, opacity=opacity,
                mode={"Brush": "brush", "Polygon": "polygon"}.get(mode, "pan"), brush_radius=radius,
                brush_color=CLASS_COLORS[class_id] if class_id else (255, 255, 255), grid=grid_data,
                selected_tile=key, lines=street_lines)
    legend = " ".join(f"<span style='background:rgb{CLASS_COLORS[c]};padding:0 .6em;border-radius:3px'>&nbsp;</span> "
                      f"{CLASS_NAMES[c]}" for c in (1, 2, 3))
    st.markdown(legend + " · tiles: <span style='color:#1ea03c'>accepted</span>, "
                "<span style='color:#d21e1e'>rejected</span>, <span style='color:#e68c00'>changed by others</span>",
                unsafe_allow_html=True)

    _street_names_section()

    history = corrections.list_corrections(project, record.id, "segmentation")
    if history:
        st.markdown("**History of corrections on this map**")
        st.dataframe(pd.DataFrame([{"#": c.id, "when": c.created_at.replace("T", " ")[:19], "who": c.author,
                                    "status": c.status, "what": c.message} for c in history[:50]]),
                     hide_index=True, width="stretch")
        kept = [c for c in history if c.status == "conflict"]
        if kept:
            pick = st.selectbox("Re-apply a refused (conflicting) edit on the latest version", [c.id for c in kept],
                                format_func=lambda i: f"#{i}", key="seg_reapply_pick")
            if st.button("Re-apply it", key="seg_reapply"):
                with common.guard():
                    result = corrections.reapply_correction(project, int(pick), author=common.require_author())
                    bases[record.id] = dict(current) | result.tiles
                    st.session_state.pop("seg_conflict", None)
                    common.flash(f"Re-applied as correction #{result.correction_id}.")
                    st.rerun()

    n_valid = len(tiles.validated_tiles(project))
    st.caption(f"{n_valid} accepted tile(s) in this project can train the model: "
               f"`jadis train --from-project {project.root}`")
