"""Draw a :class:`~jadis.segment.synth.layout.Layout` in a period :class:`~jadis.segment.synth.styles.Style`.

The image is composed of ink layers over paper (coverage in [0, 1] per layer, composited in order);
the class mask is rasterised from the same geometry, so it is exact: streets (1) = the street area,
blocks (2) = the block polygons (their printed outline is drawn inside them), text (3) = the grown
glyph pixels (see :mod:`jadis.segment.synth.text`), other (0) = water, the margin outside the map frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import cv2
import numpy as np
from rasterio import features
from shapely.geometry import LineString, Polygon
from shapely.geometry.base import BaseGeometry

from jadis.classes import MapClass
from jadis.segment.synth import paper as paper_fx
from jadis.segment.synth.layout import Layout
from jadis.segment.synth.styles import Style
from jadis.segment.synth.text import TextLayer, draw_along, draw_upright, text_length

INSTITUTIONS = ("École", "Caserne", "Marché", "Mairie", "Lycée", "Hôpital", "Église", "Chapelle", "Temple",
                "Collège", "Hôtel", "Ministère", "Prison", "Halle", "Couvent", "Séminaire", "Abattoir",
                "Entrepôt", "Gare", "Théâtre", "Caserne des Pompiers", "Bureau de Poste", "Institution")
SAINTS = ("St Louis", "St Paul", "Ste Marguerite", "St Antoine", "St Sulpice", "St Germain", "Ste Clotilde",
          "St Ambroise", "St Eloi", "Ste Anne", "St Nicolas", "St Merri", "St Gervais")


@dataclass
class Sample:
    """One synthetic tile: RGB image, class mask and what was drawn."""

    image: np.ndarray  #: (H, W, 3) uint8
    mask: np.ndarray  #: (H, W) uint8 class ids
    meta: dict = field(default_factory=dict)


def rasterize(geom: BaseGeometry | None, size: int) -> np.ndarray:
    """Boolean mask of a (multi)polygon on a size×size grid (pixel centres inside)."""
    if geom is None or geom.is_empty:
        return np.zeros((size, size), bool)
    return features.rasterize([(geom, 1)], out_shape=(size, size), fill=0, dtype="uint8").astype(bool)


def _lines(cov: np.ndarray, lines: list[np.ndarray], width: float, closed: bool = False, alpha: float = 1.0) -> None:
    """Anti-aliased polylines into a coverage layer; widths below 1 px are drawn faint."""
    if not lines:
        return
    thick = max(1, int(round(width)))
    value = float(min(1.0, width) * alpha) if width < 1 else float(alpha)
    pts = [np.round(np.asarray(p, np.float64) * 16).astype(np.int32) for p in lines if len(p) >= 2]
    tmp = np.zeros_like(cov)
    cv2.polylines(tmp, pts, closed, value, thick, cv2.LINE_AA, shift=4)
    np.maximum(cov, tmp, out=cov)


def _rings(geom: BaseGeometry) -> list[np.ndarray]:
    out = []
    for poly in getattr(geom, "geoms", [geom]):
        if poly.geom_type != "Polygon" or poly.is_empty:
            continue
        out.append(np.asarray(poly.exterior.coords))
        out.extend(np.asarray(r.coords) for r in poly.interiors)
    return out


@lru_cache(maxsize=64)
def _hatch(size: int, angle: float, spacing: float, width: float) -> np.ndarray:
    """Parallel anti-aliased lines over the whole tile (cached: read-only)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    u = xx * np.cos(angle) + yy * np.sin(angle)
    d = np.abs((u / spacing) % 1.0 - 0.5) * spacing
    out = np.clip(width / 2 + 0.5 - d, 0, 1)
    out.flags.writeable = False
    return out


def _composite(img: np.ndarray, cov: np.ndarray, colour: tuple[float, float, float], strength: float = 1.0) -> None:
    a = np.clip(cov * strength, 0, 1)[..., None]
    img *= 1 - a
    img += a * np.asarray(colour, np.float32)


def render(rng: np.random.Generator, layout: Layout, style: Style, names: list[str] | None = None,
           degrade: float = 1.0) -> Sample:
    """Render ``layout`` in ``style``; ``degrade`` scales ageing and scanning effects (0 = clean)."""
    size = layout.size
    shape = (size, size)
    img = paper_fx.paper(rng, shape, *style.paper)
    margin_paper = img.copy()
    ink = np.zeros(shape, np.float32)  # main ink
    red = np.zeros(shape, np.float32)  # red ink
    faint = np.zeros(shape, np.float32)  # light ink (stipple, fine hatching)
    text_ink = TextLayer(np.zeros(shape, np.float32))
    text_red = TextLayer(np.zeros(shape, np.float32))
    line_scale = float(np.clip((0.32 / layout.scale) ** 0.5, 0.6, 1.6))
    outline_w = float(rng.uniform(*style.outline_px)) * line_scale

    street_mask = rasterize(layout.street_area, size)
    water_mask = rasterize(layout.water, size)

    # --- block washes and water
    if style.block_tints:
        tint_cov = np.zeros(shape, np.float32)
        tint_rgb = np.zeros((*shape, 3), np.float32)
        for blk in layout.blocks:
            if rng.random() < style.p_tint:
                m = rasterize(blk, size)
                tint_cov[m] = rng.uniform(0.35, 0.8)
                tint_rgb[m] = style.block_tints[int(rng.integers(len(style.block_tints)))]
        a = tint_cov[..., None]
        img *= 1 - a
        img += a * tint_rgb
    if water_mask.any():
        _draw_water(rng, img, faint, ink, water_mask, style)

    # --- blocks: outlines, buildings, parcels, gardens, hatching
    for blk in layout.blocks:
        _draw_block(rng, blk, size, style, outline_w, ink, faint, text_ink, text_red, layout.scale)

    # --- sidewalks: a kerb line (and tree rows on wide streets); the sidewalk belongs to its block
    sidewalks = _sidewalks(rng, layout, style, ink)
    sidewalk_mask = rasterize(sidewalks, size) & ~water_mask

    # --- overlays: graticule, metro, railway
    if rng.random() < style.p_graticule:
        for _ in range(int(rng.integers(1, 3))):
            a = rng.uniform(0, np.pi) if rng.random() < 0.3 else rng.choice([0, np.pi / 2]) + rng.normal(0, 0.02)
            c = rng.uniform(0, size, 2)
            d = np.array([np.cos(a), np.sin(a)]) * size * 2
            _lines(ink, [np.array([c - d, c + d])], rng.uniform(0.6, 1.2), alpha=rng.uniform(0.6, 1.0))
    if rng.random() < style.p_metro and layout.streets:
        st = layout.streets[int(rng.integers(len(layout.streets)))]
        _metro(rng, st.line, red)

    # --- text: street names, block labels, big labels
    _street_names(rng, layout, style, text_ink, names)
    if rng.random() < 0.12:
        label = rng.choice(["7e Arrondt", "6e Arrondt", "11e Arrondt", "12e", "IVe Arrt", "Quartier St Antoine"])
        face = str(rng.choice(["serif", "serif-italic"]))
        draw_upright(text_red if rng.random() < 0.6 else text_ink, str(label), rng.uniform(0.2, 0.8) * size,
                     rng.uniform(0.2, 0.8) * size, face, int(rng.uniform(28, 60)), rng.uniform(-30, 30))
    if layout.water is not None and layout.river_line is not None and rng.random() < 0.5:
        word = str(rng.choice(["LA SEINE", "FLEUVE", "S E I N E", "Canal", "Bras de la Seine"]))
        _label_along(rng, text_ink, word, layout.river_line, "serif", int(rng.uniform(18, 40)), tracking=0.6)

    # --- compose ink layers
    ink_colour = np.asarray(style.ink, np.float32) * rng.uniform(0.8, 1.2)
    fade = 1 - 0.25 * degrade * np.clip(paper_fx.smooth_noise(rng, shape, rng.uniform(40, 120)) * 0.5 + 0.5, 0, 1)
    strength = rng.uniform(0.75, 1.0)
    _composite(img, faint * fade, tuple(ink_colour), strength * 0.55)
    _composite(img, ink * fade, tuple(ink_colour), strength)
    _composite(img, red * fade, style.red, strength * 0.9)
    _composite(img, text_ink.coverage * fade, tuple(ink_colour * 0.9), strength)
    _composite(img, text_red.coverage * fade, style.red, strength)

    # --- mask
    mask = np.zeros(shape, np.uint8)
    blocks_mask = rasterize(_union(layout.blocks), size)
    mask[blocks_mask] = MapClass.BLOCK
    mask[street_mask] = MapClass.STREET
    mask[sidewalk_mask] = MapClass.BLOCK  # as in the real ground truth: the block ends at the kerb
    mask[water_mask & ~street_mask] = MapClass.OTHER
    text = (text_ink.mask >= 0.5) | (text_red.mask >= 0.5)
    mask[text] = MapClass.TEXT

    # --- the map's edge: blank margin outside the frame
    if layout.content is not None:
        content = rasterize(layout.content, size)
        img[~content] = margin_paper[~content]
        mask[~content] = MapClass.OTHER
        frame = np.zeros(shape, np.float32)
        _lines(frame, [np.asarray(layout.frame_line.coords)], rng.uniform(1.5, 3.5))
        gap = rng.uniform(3, 8)
        _lines(frame, [np.asarray(layout.frame_line.parallel_offset(gap, "left").coords)]
               if rng.random() < 0.5 else [], 1.0)
        _composite(img, frame, tuple(ink_colour), 1.0)

    # --- ageing and scanning
    if degrade > 0:
        if rng.random() < 0.5 * degrade:
            paper_fx.stains(rng, img, int(rng.integers(1, 4)))
        if rng.random() < 0.2 * degrade:
            paper_fx.fold(rng, img)
        image = paper_fx.scan(rng, img, degrade)
    else:
        image = np.clip(img, 0, 255).astype(np.uint8)
    meta = {"style": style.name, "scale_m_per_px": round(layout.scale, 4), "source": layout.source,
            "water": layout.water is not None, "frame": layout.content is not None,
            "blocks": len(layout.blocks), "outline_px": round(outline_w, 2)}
    return Sample(image=image, mask=mask, meta=meta)


def _union(polys: list[Polygon]) -> BaseGeometry | None:
    from shapely.ops import unary_union

    return unary_union(polys) if polys else None


def _draw_water(rng, img, faint, ink, water_mask, style: Style) -> None:
    if style.water_tint is not None:
        _composite(img, water_mask.astype(np.float32), style.water_tint, rng.uniform(0.4, 0.8))
    if style.water_lines or rng.random() < 0.5:
        dist = cv2.distanceTransform(water_mask.astype(np.uint8), cv2.DIST_L2, 5)
        period = rng.uniform(3.0, 6.0)
        lw = rng.uniform(0.6, 1.2)
        d = np.abs((dist / period) % 1.0 - 0.5) * period
        cov = np.clip(lw / 2 + 0.5 - d, 0, 1) * water_mask
        fade = np.clip(1.2 - dist / rng.uniform(40, 200), 0.35, 1.0)  # denser near the banks
        np.maximum(ink, cov * fade * rng.uniform(0.6, 1.0), out=ink)
    rings = []
    contours, _ = cv2.findContours(water_mask.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    rings = [c[:, 0, :].astype(np.float64) for c in contours if len(c) >= 2]
    _lines(ink, rings, rng.uniform(1.0, 2.0), closed=True)


def _draw_block(rng, blk: Polygon, size: int, style: Style, outline_w: float, ink, faint,
                text_ink: TextLayer, text_red: TextLayer, scale: float) -> None:
    inner = blk.buffer(-outline_w / 2)
    if inner.is_empty:
        return
    # outline (inside the block polygon, so its pixels are block pixels)
    w = outline_w * rng.uniform(0.85, 1.15)
    _lines(ink, _rings(inner), w, closed=True)
    if style.shadow_side and rng.random() < style.shadow_side:  # engraved shadow: thicker on one side
        shadow = blk.buffer(-outline_w * 1.5)
        if not shadow.is_empty:
            rings = _rings(shadow)
            pick = []
            for ring in rings:
                seg = np.diff(ring, axis=0)
                keep = (seg[:, 0] - seg[:, 1]) > 0  # edges facing the light's other side
                for i in np.flatnonzero(keep):
                    pick.append(ring[i:i + 2])
            _lines(ink, pick, w * 1.2)
    for part in getattr(inner, "geoms", [inner]):
        if part.geom_type != "Polygon" or part.area < 4:
            continue
        if rng.random() < style.p_garden:
            _garden(rng, part, size, ink, faint, scale)
            continue
        if rng.random() < style.p_full_hatch:
            _hatched(rng, part, size, style, ink, faint)
        elif rng.random() < style.p_buildings:
            _buildings(rng, part, size, style, ink, faint, scale)
        elif rng.random() < style.p_parcels:
            _buildings(rng, part, size, style, ink, faint, scale, hatch=False)
        if rng.random() < style.p_house_numbers:
            _house_numbers(rng, part, style, text_red if style.numbers_red else text_ink, scale)
        if rng.random() < 0.08 and part.area > 3000:
            _block_label(rng, part, text_ink)


def _hatched(rng, poly: Polygon, size: int, style: Style, ink, faint) -> None:
    angle = float(rng.choice([np.pi / 4, -np.pi / 4, np.pi / 3, 0.0]))
    pattern = _hatch(size, angle, round(rng.uniform(*style.hatch_spacing) * 4) / 4, round(rng.uniform(0.6, 1.1), 1))
    m = rasterize(poly.buffer(-1.0), size)
    target = ink if rng.random() < 0.6 else faint
    np.maximum(target, pattern * m, out=target)


def _buildings(rng, poly: Polygon, size: int, style: Style, ink, faint, scale: float,
               hatch: bool = True) -> None:
    """Houses along the block edge: parcel lines perpendicular to the street, some hatched."""
    ring = np.asarray(poly.exterior.coords)
    depth = rng.uniform(8, 22) / scale
    lines, houses = [], []
    for a, b in zip(ring[:-1], ring[1:], strict=True):
        edge = b - a
        length = float(np.hypot(*edge))
        if length < 6 / scale:
            continue
        u = edge / length
        n = np.array([-u[1], u[0]])
        if not poly.contains(_pt(a + u * length / 2 + n * 2)):
            n = -n
        pos = rng.uniform(0, 6) / scale
        while pos < length - 3 / scale:
            front = rng.uniform(5, 18) / scale
            d = depth * rng.uniform(0.6, 1.3)
            p0 = a + u * pos
            p1 = a + u * min(length, pos + front)
            lines.append(np.array([p0, p0 + n * d]))
            houses.append(Polygon([p0, p1, p1 + n * d, p0 + n * d]))
            pos += front
    clip_lines = []
    for seg in lines:
        part = LineString(seg).intersection(poly)
        for g in getattr(part, "geoms", [part]):
            if g.geom_type == "LineString" and g.length > 1:
                clip_lines.append(np.asarray(g.coords))
    _lines(ink if rng.random() < 0.5 else faint, clip_lines, rng.uniform(0.6, 1.1))
    if hatch and houses:
        pattern = _hatch(size, float(np.pi / 4 * rng.choice([1, -1])),
                         round(rng.uniform(*style.hatch_spacing) * 4) / 4, round(rng.uniform(0.6, 1.0), 1))
        chosen = [h for h in houses if rng.random() < 0.5]
        if chosen:
            from shapely.ops import unary_union

            area = unary_union(chosen).intersection(poly)
            m = rasterize(area, size)
            np.maximum(ink, pattern * m, out=ink)
            _lines(ink, _rings(area), rng.uniform(0.8, 1.3), closed=True)
    if rng.random() < 0.4:  # a building drawn inside, away from the street
        c = poly.representative_point()
        r = rng.uniform(4, 12) / scale
        inner = Polygon([(c.x - r, c.y - r * 0.7), (c.x + r, c.y - r * 0.7), (c.x + r, c.y + r * 0.7),
                         (c.x - r, c.y + r * 0.7)]).intersection(poly)
        _lines(ink, _rings(inner), rng.uniform(0.6, 1.2), closed=True)


def _pt(xy):
    from shapely.geometry import Point

    return Point(float(xy[0]), float(xy[1]))


def _garden(rng, poly: Polygon, size: int, ink, faint, scale: float) -> None:
    """A garden or square: stipple, tree symbols, curved paths and beds."""
    m = rasterize(poly.buffer(-2), size)
    if not m.any():
        return
    density = rng.uniform(0.02, 0.12)
    stipple = (rng.random((size, size)) < density) & m
    np.maximum(faint, stipple.astype(np.float32) * rng.uniform(0.5, 1.0), out=faint)
    minx, miny, maxx, maxy = poly.bounds
    step = rng.uniform(5, 10) / scale
    trees = []
    for x in np.arange(minx + step / 2, maxx, step):
        for y in np.arange(miny + step / 2, maxy, step):
            p = (x + rng.normal(0, step * 0.2), y + rng.normal(0, step * 0.2))
            if 0 <= p[0] < size and 0 <= p[1] < size and m[int(p[1]), int(p[0])] and rng.random() < 0.6:
                trees.append(p)
    for x, y in trees:
        r = max(1, int(round(rng.uniform(1.0, 3.0))))
        cv2.circle(ink, (int(x), int(y)), r, 1.0, 1, cv2.LINE_AA)
    if rng.random() < 0.6:  # beds: ellipses inside
        for _ in range(int(rng.integers(1, 4))):
            c = poly.representative_point()
            ax = (int(rng.uniform(5, 25) / scale), int(rng.uniform(4, 15) / scale))
            cv2.ellipse(ink, (int(c.x + rng.normal(0, 10)), int(c.y + rng.normal(0, 10))), ax,
                        float(rng.uniform(0, 180)), 0, 360, 1.0, 1, cv2.LINE_AA)


def _sidewalks(rng, layout: Layout, style: Style, ink) -> BaseGeometry | None:
    """Sidewalks along some streets: the band between the block edge and a kerb line.

    Drawn as a thin kerb line (plus a row of tree dots on wide streets). The band belongs to the
    block in the mask — the real ground truth draws a block's outline at the kerb where one is
    printed — so the kerb, not the building line, separates block from street. The band never
    crosses another street's carriageway, so two blocks never touch through it.
    """
    from shapely.ops import unary_union

    blocks = _union(layout.blocks)
    if blocks is None or blocks.is_empty:
        return None
    zones = []
    for st in layout.streets:
        wide = st.kind == "wide" and st.width > 14
        if st.width < 10 or rng.random() >= (style.p_trees if wide else style.p_kerbs):
            continue
        kerb = st.width * rng.uniform(0.12, 0.25)
        own = st.line.buffer(st.width / 2, cap_style="flat")
        zone = own.intersection(blocks.buffer(kerb, join_style="mitre")).difference(blocks)
        others = [o.line.buffer(o.width / 2 + 1, cap_style="flat") for o in layout.streets
                  if o is not st and o.line.distance(st.line) < 1]
        if others:
            zone = zone.difference(unary_union(others))
        if zone.is_empty:
            continue
        zones.append(zone)
        _lines(ink, _rings(zone), rng.uniform(0.6, 1.0), closed=True, alpha=rng.uniform(0.6, 1.0))
        if wide:
            spacing = rng.uniform(5, 10)
            for ring in _rings(zone.buffer(-kerb * 0.4)):
                line = LineString(ring)
                for d in np.arange(0, line.length, spacing):
                    p = line.interpolate(d)
                    x, y = int(round(p.x)), int(round(p.y))
                    if 0 <= x < ink.shape[1] and 0 <= y < ink.shape[0]:
                        cv2.circle(ink, (x, y), 1, 1.0, -1, cv2.LINE_AA)
    return unary_union(zones) if zones else None


def _metro(rng, line: LineString, red) -> None:
    dash = rng.uniform(8, 20)
    coords = np.asarray(line.coords)
    if len(coords) < 2:
        return
    total = line.length
    segs = []
    for d in np.arange(0, total, dash * 2):
        a, b = line.interpolate(d), line.interpolate(min(total, d + dash))
        segs.append(np.array([[a.x, a.y], [b.x, b.y]]))
    _lines(red, segs, rng.uniform(2, 4))


def _label_along(rng, layer: TextLayer, text: str, line: LineString, face: str, size: int,
                 tracking: float = 0.0) -> bool:
    total = text_length(text, face, size, tracking)
    if line.length < total + 4:
        return False
    start = rng.uniform(0, line.length - total)
    return draw_along(layer, text, line, start, face, size, tracking)


def _street_names(rng, layout: Layout, style: Style, layer: TextLayer, names: list[str] | None) -> None:
    """Street names written along their streets, sized to the street, not overlapping each other."""
    size = layout.size
    tile = Polygon([(0, 0), (size, 0), (size, size), (0, size)])
    placed: list = []
    used: dict[str, int] = {}
    order = rng.permutation(len(layout.streets))
    for i in order:
        st = layout.streets[i]
        name = st.name or (str(rng.choice(names)) if names and rng.random() < 0.3 else "")
        if not name or used.get(name, 0) >= 2 or rng.random() < 0.15:
            continue
        line = st.line.intersection(tile.buffer(-4)).intersection(layout.street_area)
        parts = [g for g in getattr(line, "geoms", [line]) if g.geom_type == "LineString" and g.length >= 20]
        if not parts:
            continue
        line = max(parts, key=lambda g: g.length)
        line = line.simplify(1.0)
        text = name.upper() if rng.random() < style.p_upper else name
        if rng.random() < 0.25 and " " in text:  # only the distinctive part: "Lacuée", "R. Lacuée"
            words = text.split(" ")
            text = words[-1] if rng.random() < 0.5 else f"{words[0][0]}. {' '.join(words[1:])}"
        face = str(rng.choice(style.name_faces))
        base = rng.uniform(9, 22) * float(np.clip(0.35 / layout.scale, 0.5, 1.6)) ** 0.7
        fsize = int(np.clip(max(st.width * rng.uniform(0.4, 0.8), base), 7, 44))
        tracking = rng.uniform(0.3, 1.2) if st.kind == "wide" and rng.random() < 0.5 else rng.uniform(0, 0.12)
        while fsize >= 7 and text_length(text, face, fsize, tracking) > line.length - 6:
            fsize -= 2
        if fsize < 7:
            continue
        total = text_length(text, face, fsize, tracking)
        start = rng.uniform(2, max(2.1, line.length - total - 2))
        span = line.interpolate(start).buffer(1).union(line.interpolate(start + total).buffer(1)).convex_hull
        zone = span.buffer(fsize * 0.8)
        if any(zone.intersects(p) for p in placed):
            continue
        if draw_along(layer, text, line, start, face, fsize, tracking, offset=rng.normal(0, fsize * 0.1)):
            placed.append(zone)
            used[name] = used.get(name, 0) + 1


def _house_numbers(rng, poly: Polygon, style: Style, layer: TextLayer, scale: float) -> None:
    ring = np.asarray(poly.exterior.coords)
    fsize = int(rng.uniform(7, 12))
    face = str(rng.choice(["serif", "serif-italic", "sans"]))
    number = int(rng.integers(1, 120))
    step = int(rng.choice([1, 2]))
    for a, b in zip(ring[:-1], ring[1:], strict=True):
        edge = b - a
        length = float(np.hypot(*edge))
        if length < 12 / scale:
            continue
        u = edge / length
        n = np.array([-u[1], u[0]])
        if not poly.contains(_pt(a + u * length / 2 + n * 3)):
            n = -n
        angle = np.degrees(np.arctan2(-u[1], u[0]))
        if angle > 90:
            angle -= 180
        elif angle < -90:
            angle += 180
        spacing = max(rng.uniform(6, 16) / scale, text_length(str(number + 50), face, fsize) + 4)
        for d in np.arange(spacing / 2, length - spacing / 2, spacing):
            p = a + u * d + n * fsize * 0.9
            if not poly.contains(_pt(p)):
                continue
            draw_upright(layer, str(number), p[0], p[1], face, fsize, angle)
            number += step
            if rng.random() < 0.1:
                number += step * int(rng.integers(1, 4))


def _block_label(rng, poly: Polygon, layer: TextLayer) -> None:
    c = poly.representative_point()
    word = str(rng.choice(INSTITUTIONS))
    if word in ("Église", "Chapelle") or rng.random() < 0.15:
        word = f"{word} {rng.choice(SAINTS)}"
    face = str(rng.choice(["serif", "serif-italic", "serif-bold"]))
    fsize = int(rng.uniform(9, 20))
    if rng.random() < 0.3:
        word = word.upper()
    draw_upright(layer, word, c.x, c.y, face, fsize, float(rng.choice([0, rng.uniform(-60, 60)])))
