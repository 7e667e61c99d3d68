"""jadis review app (Streamlit). Start it with `jadis app PROJECT`; pages live in apps/views/."""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))

import streamlit as st  # noqa: E402
from jadis_ui import common  # noqa: E402

st.set_page_config(page_title="jadis", page_icon=":world_map:", layout="wide")

cfg = common.settings()

PAGES = [
    st.Page(str(_HERE / "views" / "maps.py"), title="Maps", icon=":material/map:", default=True),
    st.Page(str(_HERE / "views" / "segmentation.py"), title="Segmentation review", icon=":material/brush:",
            url_path="segmentation"),
    st.Page(str(_HERE / "views" / "control_points.py"), title="Control points", icon=":material/my_location:",
            url_path="control_points"),
    st.Page(str(_HERE / "views" / "geocoding.py"), title="Geocoding", icon=":material/location_on:",
            url_path="geocoding"),
    st.Page(str(_HERE / "views" / "export.py"), title="Export", icon=":material/download:", url_path="export"),
]
locked = bool(cfg.password) and not st.session_state.get("_auth_ok")
page = st.navigation(PAGES, position="hidden" if locked else "sidebar")  # keeps a deep link's page across login
common.require_login(cfg)

with st.sidebar:
    with common.guard():
        project = common.current_project()
        st.caption(f"Project **{project.name}**  \n`{project.root}`")
    if cfg.author_header and common.author():
        st.caption(f"Signed in as **{common.author()}**")
    else:
        st.text_input("Your name (signs your corrections)", key="author", max_chars=100)

with common.guard():
    page.run()
