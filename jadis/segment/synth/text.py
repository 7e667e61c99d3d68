"""Text for synthetic maps: fonts, labels written along street centre-lines, house numbers.

Text is drawn into a coverage layer (float 0–1, the fraction of each pixel covered by ink). The
class mask of text is **the glyph pixels**: coverage ≥ 0.5 before any blur or scan degradation, i.e.
the ink of the letters themselves, not their boxes. That is what the network can see and what real
text looks like on the scans; the vectoriser turns glyph pixels into oriented word boxes afterwards.
Box masks would mark the paper between letters as text and eat into the street class that
surrounds most labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageFont
from shapely.geometry import LineString

#: Font files searched for each face, first found wins (Debian paths; see scripts/setup.sh).
FONT_CANDIDATES: dict[str, list[str]] = {
    "serif": ["/usr/share/fonts/opentype/urw-base35/C059-Roman.otf",
              "/usr/share/fonts/opentype/urw-base35/NimbusRoman-Regular.otf",
              "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf",
              "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"],
    "serif-italic": ["/usr/share/fonts/opentype/urw-base35/C059-Italic.otf",
                     "/usr/share/fonts/opentype/urw-base35/NimbusRoman-Italic.otf",
                     "/usr/share/fonts/truetype/liberation/LiberationSerif-Italic.ttf",
                     "/usr/share/fonts/truetype/dejavu/DejaVuSerif-Italic.ttf"],
    "garamond": ["/usr/share/fonts/opentype/ebgaramond/EBGaramond12-Regular.otf",
                 "/usr/share/fonts/opentype/urw-base35/P052-Roman.otf",
                 "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf"],
    "garamond-italic": ["/usr/share/fonts/opentype/ebgaramond/EBGaramond12-Italic.otf",
                        "/usr/share/fonts/opentype/urw-base35/P052-Italic.otf",
                        "/usr/share/fonts/truetype/liberation/LiberationSerif-Italic.ttf"],
    "palatino-italic": ["/usr/share/fonts/opentype/urw-base35/P052-Italic.otf",
                        "/usr/share/fonts/truetype/dejavu/DejaVuSerifCondensed-Italic.ttf",
                        "/usr/share/fonts/truetype/liberation/LiberationSerif-Italic.ttf"],
    "times-italic": ["/usr/share/fonts/opentype/urw-base35/NimbusRoman-Italic.otf",
                     "/usr/share/fonts/truetype/liberation/LiberationSerif-Italic.ttf"],
    "serif-bold": ["/usr/share/fonts/opentype/urw-base35/C059-Bold.otf",
                   "/usr/share/fonts/truetype/liberation/LiberationSerif-Bold.ttf",
                   "/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf"],
    "sans": ["/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed.ttf",
             "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf"],
}


@cache
def font_path(face: str) -> str | None:
    """The first installed file for ``face`` (None if none is installed: Pillow's default font)."""
    for candidate in FONT_CANDIDATES.get(face, []) + FONT_CANDIDATES["serif"]:
        if Path(candidate).is_file():
            return candidate
    return None


@lru_cache(maxsize=512)
def get_font(face: str, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = font_path(face)
    size = max(5, int(size))
    if path is None:
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(path, size=size)


@lru_cache(maxsize=8192)
def _glyph(face: str, size: int, char: str, angle_deg: int) -> tuple[np.ndarray, float, float]:
    """Coverage (float32) of one character rotated by ``angle_deg``; offset of its origin centre."""
    font = get_font(face, size)
    ascent, descent = font.getmetrics() if hasattr(font, "getmetrics") else (size, 0)
    width = max(1, int(np.ceil(font.getlength(char))))
    pad = size // 2 + 2
    canvas = Image.new("L", (width + 2 * pad, ascent + descent + 2 * pad), 0)
    from PIL import ImageDraw

    ImageDraw.Draw(canvas).text((pad, pad), char, font=font, fill=255)
    # rotate around the centre of the character's advance box at mid x-height
    cx, cy = pad + width / 2, pad + ascent * 0.62
    rotated = canvas.rotate(angle_deg, resample=Image.BICUBIC, center=(cx, cy), expand=False)
    arr = np.asarray(rotated, np.float32) / 255.0
    return arr, cx, cy


@dataclass
class TextLayer:
    """Coverage of text ink, one layer per ink colour."""

    coverage: np.ndarray  #: (H, W) float32 in [0, 1]

    def paste(self, arr: np.ndarray, x: float, y: float) -> None:
        """Add ``arr`` with its (0, 0) at pixel (x, y) (rounded), clipped to the layer."""
        h, w = self.coverage.shape
        x0, y0 = int(round(x)), int(round(y))
        ah, aw = arr.shape
        sx0, sy0 = max(0, -x0), max(0, -y0)
        dx0, dy0 = max(0, x0), max(0, y0)
        dx1, dy1 = min(w, x0 + aw), min(h, y0 + ah)
        if dx1 <= dx0 or dy1 <= dy0:
            return
        region = self.coverage[dy0:dy1, dx0:dx1]
        np.maximum(region, arr[sy0:sy0 + dy1 - dy0, sx0:sx0 + dx1 - dx0], out=region)


@lru_cache(maxsize=65536)
def advance(face: str, size: int, char: str) -> float:
    """Horizontal advance of one character (px)."""
    return float(get_font(face, size).getlength(char))


def text_length(text: str, face: str, size: int, tracking: float = 0.0) -> float:
    return sum(advance(face, size, ch) for ch in text) + tracking * size * max(0, len(text) - 1)


def draw_along(layer: TextLayer, text: str, path: LineString, start: float, face: str, size: int,
               tracking: float = 0.0, offset: float = 0.0) -> bool:
    """Write ``text`` along ``path`` from arc length ``start``; characters follow the path's direction.

    The text reads left to right (the path is reversed when it runs right to left). ``tracking`` adds
    letter spacing as a fraction of the size; ``offset`` shifts the baseline sideways (px).
    Returns False (nothing drawn) when the text does not fit.
    """
    total = text_length(text, face, size, tracking)
    if start < 0 or start + total > path.length or total <= 0:
        return False
    a, b = path.interpolate(start), path.interpolate(start + total)
    if b.x < a.x - 1e-6:  # reading direction: reverse the path
        path = LineString(path.coords[::-1])
        start = path.length - start - total
    pos = start
    for ch in text:
        adv = advance(face, size, ch)
        if ch.strip():
            mid = pos + adv / 2
            p0 = path.interpolate(max(0.0, mid - 2))
            p1 = path.interpolate(min(path.length, mid + 2))
            ang = np.degrees(np.arctan2(-(p1.y - p0.y), p1.x - p0.x))
            centre = path.interpolate(mid)
            nx, ny = -(p1.y - p0.y), (p1.x - p0.x)
            norm = np.hypot(nx, ny) or 1.0
            cx, cy = centre.x + offset * nx / norm, centre.y + offset * ny / norm
            arr, ox, oy = _glyph(face, size, ch, int(round(ang)))
            layer.paste(arr, cx - ox, cy - oy)
        pos += adv + tracking * size
    return True


def draw_upright(layer: TextLayer, text: str, x: float, y: float, face: str, size: int, angle: float = 0.0) -> None:
    """Write a short straight text centred on (x, y), rotated by ``angle`` degrees (counter-clockwise)."""
    rad = np.radians(angle)
    d = np.array([np.cos(rad), -np.sin(rad)])
    total = text_length(text, face, size)
    start = np.array([x, y]) - d * total / 2
    path = LineString([start, start + d * (total + 1)])
    if d[0] < 0:
        path = LineString([start + d * (total + 1), start])
    draw_along(layer, text, path, 0.0, face, size)
