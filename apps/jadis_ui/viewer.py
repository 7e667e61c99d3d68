"""The map viewer: a small bundled Streamlit component (no CDN) over server-rendered views.

The browser only ever receives the visible part of a sheet, rendered at the zoom shown
(:mod:`jadis.project.render`); gestures come back as events in map pixel coordinates.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from jadis.project import render
from jadis.project.render import View

_JS = Path(__file__).with_name("viewer.js").read_text(encoding="utf-8")
_CSS = """
.jadis-viewer canvas { max-width: 100%; height: auto; border: 1px solid #b5b5b5; touch-action: none;
  display: block; outline: none; }
.jadis-viewer canvas:focus { border-color: #4a90d9; }
.jadis-info { font: 12px monospace; color: #666; min-height: 1.3em; padding-top: 2px; }
"""
_component = st.components.v2.component("jadis_map_viewer", css=_CSS, js=_JS)

VIEW_W, VIEW_H = 960, 620


@dataclass(frozen=True)
class Extent:
    """What a viewer shows: an id and a size in pixels (a MapRecord is one too)."""

    id: int | str
    width: int
    height: int


def data_url(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def hex_color(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def get_view(key: str, record: Extent, width: int = VIEW_W, height: int = VIEW_H) -> View:
    """The view of ``record`` kept in the session under ``key`` (whole map the first time)."""
    store = st.session_state.setdefault("_views", {})
    view = store.get((key, record.id))
    if view is None or (view.width, view.height) != (width, height):
        view = render.fit_view(record, width, height)
        store[(key, record.id)] = view
    return view


def set_view(key: str, record: Extent, view: View) -> None:
    st.session_state.setdefault("_views", {})[(key, record.id)] = render.clamp_view(view, record)


def take_event(key: str) -> dict[str, Any] | None:
    """The viewer's new event for this run, if any (each event is returned once)."""
    value = st.session_state.get(key)
    event = None
    if isinstance(value, dict):
        event = value.get("event")
    elif value is not None:
        event = getattr(value, "event", None)
    if not isinstance(event, dict):
        return None
    seen = st.session_state.setdefault("_seen_events", {})
    if seen.get(key) == event.get("id"):
        return None
    seen[key] = event.get("id")
    return event


def _stored(key: str, record: Extent, width: int, height: int) -> View:
    view = st.session_state.get("_views", {}).get((key, record.id))
    return view if view is not None and (view.width, view.height) == (width, height) else render.fit_view(
        record, width, height)


def apply_view_event(key: str, record: Extent, event: dict[str, Any] | None, width: int = VIEW_W,
                     height: int = VIEW_H) -> bool:
    """Apply a pan/zoom event to the stored view; True if it was one."""
    if not event or event.get("type") != "view":
        return False
    try:
        cx, cy, zoom = float(event["cx"]), float(event["cy"]), float(event["zoom"])
    except (KeyError, TypeError, ValueError):
        return True
    if not all(np.isfinite([cx, cy, zoom])) or zoom <= 0:
        return True
    view = _stored(key, record, width, height)
    set_view(key, record, View(cx, cy, zoom, view.width, view.height))
    return True


def zoom_buttons(key: str, record: Extent, width: int = VIEW_W, height: int = VIEW_H) -> None:
    """− / + / whole-map buttons (keyboard- and test-friendly twins of the mouse wheel)."""
    c1, c2, c3, _ = st.columns([1, 1, 2, 6])
    view = _stored(key, record, width, height)
    if c1.button("−", key=f"{key}_zoom_out", help="Zoom out"):
        set_view(key, record, render.zoom_at(view, 0.5))
    if c2.button("+", key=f"{key}_zoom_in", help="Zoom in"):
        set_view(key, record, render.zoom_at(view, 2.0))
    if c3.button("Fit", key=f"{key}_fit", help="Show the whole map"):
        set_view(key, record, render.fit_view(record, view.width, view.height))


def show(key: str, view: View, base_rgb: np.ndarray, *, overlay_rgba: np.ndarray | None = None,
         opacity: float = 0.5, mode: str = "pan", brush_radius: float = 10.0,
         brush_color: tuple[int, int, int] = (255, 0, 255), grid: dict | None = None,
         selected_tile: tuple[int, int] | None = None, points: list[dict] | None = None,
         lines: list[dict] | None = None) -> None:
    """Mount the viewer with a rendered view (events are read with :func:`take_event` next run).

    ``lines``: polylines drawn over the map (map pixels), each ``{"points", "label", "kind"}`` with
    kind named | low | corrected | unnamed | selected (street names: see
    :func:`jadis.project.names.lines_for_view`).
    """
    x0, y0, _, _ = view.window
    data = {
        "image": data_url(render.encode_jpeg(base_rgb), "image/jpeg"),
        "overlay": None if overlay_rgba is None else data_url(render.encode_png(overlay_rgba), "image/png"),
        "opacity": float(opacity),
        "width": int(view.width),
        "height": int(view.height),
        "view": {"x0": float(x0), "y0": float(y0), "zoom": float(view.zoom)},
        "mode": mode,
        "brush_radius": float(brush_radius),
        "brush_color": hex_color(brush_color),
        "grid": grid,
        "selected_tile": list(selected_tile) if selected_tile else None,
        "points": points or [],
        "lines": lines or [],
    }
    _component(key=key, data=data, on_event_change=lambda: None)
