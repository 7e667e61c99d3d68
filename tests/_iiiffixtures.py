"""A local IIIF Image API fixture: a static (level-0) tile set generated from an array, served by
``http.server`` on 127.0.0.1 in a thread, with failure hooks. No internet.

>>> with iiif_server(tmp_path / "www") as (url, state):
...     base = f"{url}/v3/sheet"
...     make_tileset(tmp_path / "www" / "v3" / "sheet", base, image_array, version=3, fmt="png")
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
from PIL import Image

TILE = 256


def source_image(width: int = 600, height: int = 450, seed: int = 3) -> np.ndarray:
    """An RGB test image: gradients plus noise (so every tile differs)."""
    yy, xx = np.mgrid[0:height, 0:width]
    rng = np.random.default_rng(seed)
    img = np.stack([(xx * 255 // width), (yy * 255 // height), ((xx + yy) % 256)], axis=-1).astype(np.int16)
    img += rng.integers(-20, 20, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def _size(version: int, w: int, h: int, width: int, height: int) -> str:
    """OpenSeadragon's canonical size parameter, as static tile generators write it."""
    if w == width and (version == 2 or h == height):
        return "full" if version == 2 else "max"
    return f"{w}," if version == 2 else f"{w},{h}"


def make_tileset(root: Path, url: str, img: np.ndarray, version: int = 3, fmt: str = "png",
                 factors=(1, 2, 4), tile: int = TILE) -> dict[tuple[int, int, int], np.ndarray]:
    """Write ``info.json`` and every tile of a level-0 service for ``img`` under ``root`` (served at
    ``url``); return ``{(factor, x, y): decoded tile}``."""
    H, W = img.shape[:2]
    root.mkdir(parents=True)
    tiles = {}
    for f in factors:
        reduced = np.asarray(Image.fromarray(img).resize((math.ceil(W / f), math.ceil(H / f)),
                                                         Image.Resampling.BOX)) if f > 1 else img
        for y in range(0, H, tile * f):
            for x in range(0, W, tile * f):
                w, h = min(tile * f, W - x), min(tile * f, H - y)
                region = "full" if (w, h) == (W, H) else f"{x},{y},{w},{h}"
                sw, sh = math.ceil(w / f), math.ceil(h / f)
                part = reduced[y // f: y // f + sh, x // f: x // f + sw]
                path = root / region / _size(version, sw, sh, W, H) / "0" / f"default.{fmt}"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(part).save(path, quality=95)
                with Image.open(path) as im:  # what a client decodes (JPEG is lossy)
                    tiles[(f, x, y)] = np.asarray(im.convert("RGB"))
    tile_info = [{"width": tile, "height": tile, "scaleFactors": list(factors)}]
    if version == 3:
        info = {"@context": "http://iiif.io/api/image/3/context.json", "id": url, "type": "ImageService3",
                "protocol": "http://iiif.io/api/image", "profile": "level0", "width": W, "height": H,
                "tiles": tile_info}
        if fmt != "jpg":
            info["preferredFormats"] = [fmt]
    else:
        info = {"@context": "http://iiif.io/api/image/2/context.json", "@id": url,
                "protocol": "http://iiif.io/api/image", "profile": ["http://iiif.io/api/image/2/level0.json"],
                "width": W, "height": H, "tiles": tile_info}
    (root / "info.json").write_text(json.dumps(info))
    return tiles


class _Handler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        st = self.server.state  # type: ignore[attr-defined]
        st["requests"].append(self.path)
        if st["fail"].get(self.path, 0) > 0:
            st["fail"][self.path] -= 1
            self.send_error(500, "boom")
            return
        if self.path in st["truncate"]:
            body = (Path(self.directory) / self.path.lstrip("/")).read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
            return
        super().do_GET()


@contextlib.contextmanager
def iiif_server(root: Path) -> Iterator[tuple[str, dict]]:
    """Serve ``root`` on 127.0.0.1; yield ``(base URL, state)``. ``state["requests"]`` logs the paths
    asked for; ``state["fail"][path] = n`` answers HTTP 500 n times; paths in ``state["truncate"]``
    are sent cut in half (with the full Content-Length)."""
    root.mkdir(parents=True, exist_ok=True)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, directory=str(root)))
    server.state = {"requests": [], "fail": {}, "truncate": set()}  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.state  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def make_manifest(path: Path, url: str, services: list[str], version: int = 3, label: str = "Atlas",
                  canvas_labels: list[str | None] | None = None, size: tuple[int, int] = (600, 450)) -> dict:
    """Write a IIIF Presentation ``version`` (2 or 3) manifest at ``path`` (served at ``url``): one
    canvas per Image service base URL of ``services``, labelled by ``canvas_labels`` (None: no label)."""
    W, H = size
    labels = canvas_labels or [f"p. {i + 1}" for i in range(len(services))]
    if version == 3:
        items = []
        for i, (service, name) in enumerate(zip(services, labels, strict=True)):
            canvas = {"id": f"{url}/canvas/{i}", "type": "Canvas", "width": W, "height": H, "items": [
                {"id": f"{url}/page/{i}", "type": "AnnotationPage", "items": [
                    {"id": f"{url}/anno/{i}", "type": "Annotation", "motivation": "painting",
                     "target": f"{url}/canvas/{i}",
                     "body": {"id": f"{service}/full/max/0/default.png", "type": "Image", "format": "image/png",
                              "width": W, "height": H,
                              "service": [{"id": service, "type": "ImageService3", "profile": "level0"}]}}]}]}
            if name is not None:
                canvas["label"] = {"fr": [name]}
            items.append(canvas)
        data = {"@context": "http://iiif.io/api/presentation/3/context.json", "id": url, "type": "Manifest",
                "label": {"fr": [label]}, "items": items}
    else:
        canvases = []
        for i, (service, name) in enumerate(zip(services, labels, strict=True)):
            canvas = {"@id": f"{url}/canvas/{i}", "@type": "sc:Canvas", "width": W, "height": H, "images": [
                {"@id": f"{url}/anno/{i}", "@type": "oa:Annotation", "motivation": "sc:painting",
                 "on": f"{url}/canvas/{i}",
                 "resource": {"@id": f"{service}/full/full/0/default.jpg", "@type": "dctypes:Image",
                              "width": W, "height": H,
                              "service": {"@context": "http://iiif.io/api/image/2/context.json", "@id": service,
                                          "profile": "http://iiif.io/api/image/2/level0.json"}}}]}
            if name is not None:
                canvas["label"] = name
            canvases.append(canvas)
        data = {"@context": "http://iiif.io/api/presentation/2/context.json", "@id": url, "@type": "sc:Manifest",
                "label": label, "sequences": [{"@type": "sc:Sequence", "canvases": canvases}]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return data


def make_collection(path: Path, url: str, manifests: list[str] = (), collections: list[str] = (),
                    version: int = 3, label: str = "Collection") -> dict:
    """Write a IIIF Presentation collection at ``path`` (served at ``url``) that refers to
    ``manifests`` and ``collections`` by URL."""
    if version == 3:
        data = {"@context": "http://iiif.io/api/presentation/3/context.json", "id": url, "type": "Collection",
                "label": {"none": [label]},
                "items": [{"id": m, "type": "Manifest"} for m in manifests]
                + [{"id": c, "type": "Collection"} for c in collections]}
    else:
        data = {"@context": "http://iiif.io/api/presentation/2/context.json", "@id": url, "@type": "sc:Collection",
                "label": label, "manifests": [{"@id": m, "@type": "sc:Manifest"} for m in manifests],
                "collections": [{"@id": c, "@type": "sc:Collection"} for c in collections]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return data
