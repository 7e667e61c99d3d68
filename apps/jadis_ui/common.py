"""What every page shares: settings, the open project, the user's name, the login, error handling."""

from __future__ import annotations

import contextlib
import hmac
import logging
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from jadis.errors import JadisError
from jadis.project.maps import MapRecord, list_maps
from jadis.project.workspace import Project, open_project

log = logging.getLogger("jadis.app")


@dataclass(frozen=True)
class Settings:
    """App settings, from the environment ``jadis app`` prepares."""

    project: Path | None
    password: str | None
    reference: Path | None
    import_dirs: tuple[Path, ...] = field(default_factory=tuple)
    author_header: str | None = None


def settings() -> Settings:
    project = os.environ.get("JADIS_PROJECT")
    password = os.environ.get("JADIS_APP_PASSWORD") or None
    pw_file = os.environ.get("JADIS_APP_PASSWORD_FILE")
    if pw_file and not password:
        try:
            password = Path(pw_file).read_text(encoding="utf-8").splitlines()[0].strip() or None
        except (OSError, IndexError):
            password = None
    reference = os.environ.get("JADIS_REFERENCE")
    dirs = tuple(Path(p) for p in os.environ.get("JADIS_APP_IMPORT_DIRS", "").split(os.pathsep) if p)
    return Settings(Path(project) if project else None, password, Path(reference) if reference else None,
                    dirs, os.environ.get("JADIS_APP_AUTHOR_HEADER") or None)


@contextlib.contextmanager
def guard() -> Iterator[None]:
    """Show user errors as one line, anything unexpected as a generic message (details in the server log)."""
    try:
        yield
    except JadisError as exc:
        st.error(" ".join(str(exc).split()) or type(exc).__name__)
    except Exception:  # noqa: BLE001 - users never see tracebacks
        incident = uuid.uuid4().hex[:8]
        log.exception("unexpected error (incident %s)", incident)
        st.error(f"Something went wrong (incident {incident}). Nothing was saved by the failed action; "
                 "the details are in the server log.")


def require_login(cfg: Settings) -> None:
    """Stop the page until the optional password has been given (constant-time comparison)."""
    if not cfg.password or st.session_state.get("_auth_ok"):
        return
    st.title("jadis")
    with st.form("login"):
        entered = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Enter")
    if submitted:
        if hmac.compare_digest(entered.encode("utf-8"), cfg.password.encode("utf-8")):
            st.session_state["_auth_ok"] = True
            st.rerun()
        time.sleep(1.0)  # slow down guessing
        st.error("Wrong password.")
    st.stop()


def current_project() -> Project:
    """The project this app serves (set by ``jadis app PROJECT``)."""
    cfg = settings()
    if cfg.project is None:
        raise JadisError("no project: start the app with `jadis app PROJECT`")
    return open_project(cfg.project)


def author() -> str:
    """Who signs corrections: the reverse proxy's user header if configured, else the name typed in."""
    cfg = settings()
    if cfg.author_header:
        with contextlib.suppress(Exception):
            value = st.context.headers.get(cfg.author_header)
            if value:
                return " ".join(value.split())[:100]
    return " ".join(str(st.session_state.get("author", "")).split())[:100]


def require_author() -> str:
    """The user's name, or a clear error asking for it (corrections are always signed)."""
    name = author()
    if not name:
        raise JadisError("enter your name in the sidebar first: every correction records who made it")
    return name


def map_selector(project: Project, label: str = "Map", key: str = "map_id") -> MapRecord | None:
    """A select box of the project's maps, shared between pages (None if there are none)."""
    maps = list_maps(project)
    if not maps:
        st.info("No maps yet: register scans on the Maps page.")
        return None
    ids = [m.id for m in maps]
    by_id = {m.id: m for m in maps}
    remembered = st.session_state.get(key)  # plain key: survives page changes, unlike widget state
    index = ids.index(remembered) if remembered in ids else 0
    chosen = st.selectbox(label, ids, index=index, key=f"{key}_select",
                          format_func=lambda i: f"{by_id[i].name}  ({by_id[i].status})")
    st.session_state[key] = chosen
    return by_id[chosen]


def flash(message: str, kind: str = "success") -> None:
    """Queue a message for the next run (shown by :func:`show_flashes` after ``st.rerun()``)."""
    st.session_state.setdefault("_flash", []).append((kind, message))


def show_flashes() -> None:
    for kind, message in st.session_state.pop("_flash", []):
        {"success": st.success, "warning": st.warning, "error": st.error}.get(kind, st.info)(message)
