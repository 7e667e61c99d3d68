"""Test helper, not part of the library: run the reference implementations users trust on the
same GCPs, to cross-check ours.

* Allmaps: ``@allmaps/transform`` (npm, installed in ``tests/interop/``) through Node.js.
* GDAL: ``gdaltransform`` (Debian ``gdal-bin``) with ``-order N`` or ``-tps``.

Both take pixel (x right, y down) <-> world GCPs like ours; Allmaps flips the pixel y axis
itself (``differentHandedness``). Used by ``tests/test_georef_interop.py`` (as ``_reference_impl``,
the tests folder being on ``sys.path`` under pytest) and ``benchmarks/georef_interop.py`` (as
``tests._reference_impl``, run from the repository root); never imported by :mod:`jadis`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np

#: Where ``npm ci`` installs the Allmaps packages (``tests/interop/node_modules``).
INTEROP_DIR = Path(__file__).resolve().parent / "interop"

#: our canonical transform name -> Allmaps transformation type
ALLMAPS_TYPE = {"helmert": "helmert", "polynomial1": "polynomial", "polynomial2": "polynomial2",
                "polynomial3": "polynomial3", "projective": "projective", "tps": "thinPlateSpline"}
#: our canonical transform name -> gdaltransform options (Helmert and projective have none)
GDAL_OPTIONS = {"polynomial1": ["-order", "1"], "polynomial2": ["-order", "2"],
                "polynomial3": ["-order", "3"], "tps": ["-tps"]}


def allmaps_available() -> str | None:
    """None if Allmaps can be run, else the reason why not."""
    if shutil.which("node") is None:
        return "node (Node.js) is not installed"
    if not (INTEROP_DIR / "node_modules" / "@allmaps" / "transform").is_dir():
        return "@allmaps/transform is not installed (run: cd tests/interop && npm ci)"
    return None


def gdal_available() -> str | None:
    """None if gdaltransform can be run, else the reason why not."""
    return None if shutil.which("gdaltransform") else "gdaltransform (Debian gdal-bin) is not installed"


def allmaps_transform(transform: str, pixel: np.ndarray, world: np.ndarray, to_world: np.ndarray,
                      to_pixel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Allmaps' ``GcpTransformer``: (``to_world`` pixels -> world, ``to_pixel`` world -> pixels)."""
    return allmaps_transform_many([(transform, pixel, world, to_world, to_pixel)])[0]


def allmaps_transform_many(
    jobs: list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
) -> list[tuple[np.ndarray, np.ndarray]]:
    """:func:`allmaps_transform` for many GCP sets in one Node.js process."""
    reqs = [{
        "type": ALLMAPS_TYPE[transform],
        "gcps": [{"resource": [float(p[0]), float(p[1])], "geo": [float(w[0]), float(w[1])]}
                 for p, w in zip(pixel, world, strict=True)],
        "toGeo": np.asarray(to_world, float).tolist(),
        "toResource": np.asarray(to_pixel, float).tolist(),
    } for transform, pixel, world, to_world, to_pixel in jobs]
    proc = subprocess.run(["node", str(Path(INTEROP_DIR) / "allmaps_transform.mjs")], input=json.dumps(reqs),
                          capture_output=True, text=True, cwd=INTEROP_DIR, check=True, timeout=600)
    return [(np.array(o["toGeo"], float).reshape(-1, 2), np.array(o["toResource"], float).reshape(-1, 2))
            for o in json.loads(proc.stdout)]


def gdal_transform(transform: str, pixel: np.ndarray, world: np.ndarray, points: np.ndarray,
                   inverse: bool = False) -> np.ndarray:
    """``gdaltransform`` with GCPs: pixel -> world (or world -> pixel with ``inverse``)."""
    cmd = ["gdaltransform", *GDAL_OPTIONS[transform], "-output_xy"]
    if inverse:
        cmd.append("-i")
    for p, w in zip(pixel, world, strict=True):
        cmd += ["-gcp", repr(float(p[0])), repr(float(p[1])), repr(float(w[0])), repr(float(w[1]))]
    text = "\n".join(f"{x!r} {y!r}" for x, y in np.asarray(points, float).tolist()) + "\n"
    proc = subprocess.run(cmd, input=text, capture_output=True, text=True, check=True, timeout=300)
    rows = [line.split()[:2] for line in proc.stdout.splitlines() if line.strip()]
    return np.array(rows, dtype=float).reshape(-1, 2)
