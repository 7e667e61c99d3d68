"""Fixtures for the browser tests: a project around the bundled 1925 sample, `jadis app` on it, Chromium.

The browser is Debian's /usr/bin/chromium driven by PyPI playwright (never a downloaded browser).
Tests are skipped, with the reason, when chromium or playwright is missing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS, SAMPLE, SAMPLE_CLASSES, make_reference, start_app


@pytest.fixture(scope="module")
def app_server(tmp_path_factory):
    """`jadis app` on a fresh project holding the bundled 1925 sample (segmentation imported)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"chromium not found at {CHROMIUM} (apt-get install chromium, or set JADIS_CHROMIUM)")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    if not SAMPLE.exists():
        pytest.skip("the bundled sample data/samples/atlas_municipal_1925_crop.png is missing")
    from jadis.project import maps, names, tiles
    from jadis.project.workspace import init_project

    tmp = tmp_path_factory.mktemp("browser")
    project = init_project(tmp / "project", name="Atlas municipal 1925")
    record = maps.add_map(project, SAMPLE, copy=True, year=1925, author="librarian")
    tiles.import_class_raster(project, record.id, SAMPLE_CLASSES, source="import", author="librarian")
    names.read_street_names(project, record.id, author="librarian")  # the bundled OCR, as `segment` does
    reference = make_reference(tmp)
    with start_app(project.root, "--reference", str(reference), log_path=tmp / "app.log") as url:
        yield {"url": url, "project": project, "record": record, "reference": reference, "log": tmp / "app.log",
               "tmp": tmp}


@pytest.fixture(scope="module")
def browser(app_server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()
