"""Text for synthetic maps: fonts, labels written along street centre-lines, house numbers.

Text is drawn into a coverage layer (float 0–1, the fraction of each pixel covered by ink). The class
mask of text is **the glyph pixels grown by a margin of 8 % of the font size** (at least 1 px; the
glyph drawn with a stroke of that width, coverage ≥ 0.5): the letters themselves, thickened just enough
that a network working at half resolution can resolve them (with the bare glyphs, even a perfect
prediction downsampled to half resolution keeps only 27 % text IoU on the synthetic validation tiles).
Not boxes: a box would mark the paper between letters and words as text and eat into the street class
that surrounds most labels; the vectoriser groups the glyphs into oriented word boxes.
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


#: The text mask grows each glyph by this fraction of the font size (at least 1 px), see the module doc.
MASK_GROW = 0.08


def mask_grow_px(size: int) -> int:
    return max(1, int(round(size * MASK_GROW)))


@lru_cache(maxsize=8192)
def _glyph(face: str, size: int, char: str, angle_deg: int) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Ink coverage and mask coverage (float32) of one rotated character; its rotation centre."""
    from PIL import ImageDraw

    font = get_font(face, size)
    ascent, descent = font.getmetrics() if hasattr(font, "getmetrics") else (size, 0)
    width = max(1, int(np.ceil(font.getlength(char))))
    grow = mask_grow_px(size)
    pad = size // 2 + 2 + grow
    shape = (width + 2 * pad, ascent + descent + 2 * pad)
    ink = Image.new("L", shape, 0)
    ImageDraw.Draw(ink).text((pad, pad), char, font=font, fill=255)
    mask = Image.new("L", shape, 0)
    ImageDraw.Draw(mask).text((pad, pad), char, font=font, fill=255, stroke_width=grow, stroke_fill=255)
    # rotate around the centre of the character's advance box at mid x-height
    cx, cy = pad + width / 2, pad + ascent * 0.62
    arrays = [np.asarray(im.rotate(angle_deg, resample=Image.BICUBIC, center=(cx, cy), expand=False),
                         np.float32) / 255.0 for im in (ink, mask)]
    return arrays[0], arrays[1], cx, cy


@dataclass
class TextLayer:
    """Text of one ink colour: ``coverage`` (the ink) and ``mask`` (the ink grown for the class mask)."""

    coverage: np.ndarray  #: (H, W) float32 in [0, 1]
    mask: np.ndarray | None = None  #: (H, W) float32 in [0, 1]; created with ``coverage``'s shape

    def __post_init__(self) -> None:
        if self.mask is None:
            self.mask = np.zeros_like(self.coverage)

    def paste(self, arr: np.ndarray, x: float, y: float, target: np.ndarray | None = None) -> None:
        """Add ``arr`` with its (0, 0) at pixel (x, y) (rounded), clipped to the layer."""
        target = self.coverage if target is None else target
        h, w = target.shape
        x0, y0 = int(round(x)), int(round(y))
        ah, aw = arr.shape
        sx0, sy0 = max(0, -x0), max(0, -y0)
        dx0, dy0 = max(0, x0), max(0, y0)
        dx1, dy1 = min(w, x0 + aw), min(h, y0 + ah)
        if dx1 <= dx0 or dy1 <= dy0:
            return
        region = target[dy0:dy1, dx0:dx1]
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
            ink, grown, ox, oy = _glyph(face, size, ch, int(round(ang)))
            layer.paste(ink, cx - ox, cy - oy)
            layer.paste(grown, cx - ox, cy - oy, target=layer.mask)
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
