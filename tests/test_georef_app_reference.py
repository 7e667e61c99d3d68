"""The app's Control points page offers the shipped modern reference when none is configured."""

from __future__ import annotations

import pytest

from jadis.paths import ROOT
from jadis.project import maps, tiles
from jadis.project.sample import write_sample
from jadis.project.workspace import init_project

pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
AppTest = pytest.importorskip("streamlit.testing.v1").AppTest


def test_control_points_default_to_the_shipped_reference(tmp_path, monkeypatch):
    proj = init_project(tmp_path / "proj", name="Default reference")
    image, classes = write_sample(tmp_path / "src", 300, 200)
    record = maps.add_map(proj, image, year=1836, author="setup")
    tiles.import_class_raster(proj, record.id, classes, author="setup")
    for var in ("JADIS_APP_PASSWORD", "JADIS_APP_PASSWORD_FILE", "JADIS_APP_AUTHOR_HEADER",
                "JADIS_APP_IMPORT_DIRS", "JADIS_REFERENCE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("JADIS_PROJECT", str(proj.root))
    at = AppTest.from_file(str(ROOT / "apps" / "jadis_app.py"), default_timeout=120)
    at.session_state["author"] = "alice"
    at.run()
    at.switch_page("views/control_points.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    box = at.selectbox(key="cp_reference")
    assert "OpenStreetMap" in box.value and "shipped" in box.value
    assert not any("No modern reference" in i.value for i in at.info)
