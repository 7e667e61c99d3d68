"""Helpers of the browser tests: start `jadis app`, open pages, screenshots, a generated reference.

The browser is Debian's /usr/bin/chromium driven by PyPI playwright (never a downloaded browser).
Tests are skipped, with the reason, when chromium or playwright is missing.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from jadis.paths import ROOT

CHROMIUM = os.environ.get("JADIS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]
SAMPLE = ROOT / "data" / "samples" / "atlas_municipal_1925_crop.png"
SAMPLE_CLASSES = ROOT / "data" / "samples" / "atlas_municipal_1925_crop_classes.png"
SAMPLE_GCPS = ROOT / "data" / "samples" / "atlas_municipal_1925_crop.points"
DOCS = ROOT / "docs"
#: Where screenshots go: docs/ with JADIS_UPDATE_SCREENSHOTS=1 (`make screenshots`), else a temporary
#: folder, so that `make test` leaves the working tree clean.
SCREENSHOTS = DOCS if os.environ.get("JADIS_UPDATE_SCREENSHOTS") == "1" else Path(
    os.environ.get("TMPDIR", "/tmp")) / "jadis-screenshots"
VIEW_W, VIEW_H = 960, 620  # the segmentation viewer's size (apps/jadis_ui/viewer.py)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_reference(tmp: Path) -> Path:
    """A small "modern" road raster: the sample's streets warped to Lambert-93 with its shipped GCPs."""
    import rasterio

    from jadis.georef.formats import read_gcps
    from jadis.georef.georeference import Georeference
    from jadis.georef.warp import warp

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(SAMPLE_CLASSES) as ds:
            roads = np.where(ds.read(1) == 1, 255, 0).astype(np.uint8)
            width, height = ds.width, ds.height
        mask = tmp / "sample_streets.tif"
        with rasterio.open(mask, "w", driver="GTiff", width=width, height=height, count=1, dtype="uint8") as ds:
            ds.write(roads, 1)
    georef = Georeference(read_gcps(SAMPLE_GCPS), "polynomial1", image_size=(width, height))
    return warp(mask, georef, tmp / "reference_l93.tif", resampling="nearest", progress=False)


@contextlib.contextmanager
def start_app(project_root: Path, *args: str, log_path: Path, env: dict | None = None):  # the URL
    """`jadis app PROJECT ARGS` on a free port until the block ends (``env``: extra variables)."""
    port = _free_port()
    env = dict(os.environ, JADIS_QUIET="1", HF_HUB_OFFLINE="1", **(env or {}))
    for var in ("JADIS_APP_PASSWORD", "JADIS_APP_PASSWORD_FILE", "JADIS_APP_AUTHOR_HEADER"):
        env.pop(var, None)
    with log_path.open("w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "jadis", "app", str(project_root), "--port", str(port), *args],
                                stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            deadline = time.time() + 90
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"jadis app exited early: {log_path.read_text()[-2000:]}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.time() > deadline:
                        raise RuntimeError("jadis app did not start listening within 90 s") from None
                    time.sleep(0.3)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def open_page(browser, app_server, path: str, author: str):  # playwright objects
    """A new browser page on ``path`` with the user's name typed in the sidebar."""
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    page.set_default_timeout(60_000)
    page.goto(f"{app_server['url']}/{path}")
    name = page.get_by_label("Your name (signs your corrections)")
    name.fill(author)
    name.press("Enter")
    return page


def screenshot(page, name: str, height: int = 1500) -> None:  # playwright page
    """Save a screenshot of the page, from its title down (into docs/ when updating them)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    page.set_viewport_size({"width": 1500, "height": height})
    page.locator("h1").first.scroll_into_view_if_needed()
    page.wait_for_timeout(1500)  # let the layout settle and images paint
    page.screenshot(path=str(SCREENSHOTS / name))
    page.set_viewport_size(size)

