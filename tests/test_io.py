"""Input checks and atomic writes shared by every room."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from jadis.errors import JadisError
from jadis.io.atomic import atomic_path
from jadis.io.images import check_image


def _png(path, w=64, h=48):
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)).save(path)
    return path


def test_check_image_ok(tmp_path):
    info = check_image(_png(tmp_path / "a.png"))
    assert (info.width, info.height, info.count) == (64, 48, 3)
    assert not info.georeferenced


def test_missing_file(tmp_path):
    with pytest.raises(JadisError, match="no such file"):
        check_image(tmp_path / "nope.png")


def test_empty_file(tmp_path):
    p = tmp_path / "empty.png"
    p.write_bytes(b"")
    with pytest.raises(JadisError, match="empty"):
        check_image(p)


def test_not_an_image(tmp_path):
    p = tmp_path / "notes.png"
    p.write_text("hello, I am text\n" * 50)
    with pytest.raises(JadisError, match="not a readable image"):
        check_image(p)


@pytest.mark.parametrize("ext", ["png", "jpg", "tif"])
def test_truncated(tmp_path, ext):
    src = tmp_path / f"full.{ext}"
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 255, (300, 400, 3), dtype=np.uint8)).save(src)
    data = src.read_bytes()
    cut = tmp_path / f"cut.{ext}"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(JadisError):
        check_image(cut)


def test_pixel_limit(tmp_path):
    with pytest.raises(JadisError, match="exceeds the limit"):
        check_image(_png(tmp_path / "a.png"), max_pixels=1000)


def test_atomic_path_success(tmp_path):
    dest = tmp_path / "out.txt"
    with atomic_path(dest) as tmp:
        tmp.write_text("x")
        assert not dest.exists()
    assert dest.read_text() == "x"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_path_failure_leaves_nothing(tmp_path):
    dest = tmp_path / "out.txt"
    with pytest.raises(RuntimeError), atomic_path(dest) as tmp:
        tmp.write_text("half")
        raise RuntimeError("fail")
    assert list(tmp_path.iterdir()) == []
