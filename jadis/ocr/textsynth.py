"""Synthetic training crops for the text-line recogniser (:mod:`jadis.ocr.crnn`).

:func:`render_crop` draws one upright crop of map lettering the way :func:`jadis.ocr.reader.crop_label`
cuts it from a scan: a word or a line of a Paris street name (whole, abbreviated, upper case, one word or
a fragment), a house number or another map word, in a period serif face (roman or italic), with letter
spacing, superscripts, a slightly curved baseline, small rotation and shear, map clutter (lines crossing,
hatching, pieces of neighbouring letters), paper colour and stains, blur, scan resolution (letter heights
7–40 px), JPEG noise; returned in grey levels at the model height. Everything is deterministic from the
``numpy.random.Generator`` given. :func:`render_pool` renders many crops into one compact array.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

#: Font files and their weight in sampling (italics dominate the lettering of streets on these atlases).
FONTS: list[tuple[str, float]] = [
    ("/usr/share/fonts/opentype/urw-base35/C059-Roman.otf", 1.0),
    ("/usr/share/fonts/opentype/urw-base35/C059-Italic.otf", 1.5),
    ("/usr/share/fonts/opentype/urw-base35/C059-Bold.otf", 0.4),
    ("/usr/share/fonts/opentype/urw-base35/C059-BdIta.otf", 0.3),
    ("/usr/share/fonts/opentype/urw-base35/P052-Roman.otf", 1.0),
    ("/usr/share/fonts/opentype/urw-base35/P052-Italic.otf", 1.5),
    ("/usr/share/fonts/opentype/urw-base35/P052-Bold.otf", 0.3),
    ("/usr/share/fonts/opentype/urw-base35/URWBookman-Light.otf", 0.6),
    ("/usr/share/fonts/opentype/urw-base35/URWBookman-LightItalic.otf", 0.8),
    ("/usr/share/fonts/opentype/urw-base35/NimbusRoman-Regular.otf", 1.0),
    ("/usr/share/fonts/opentype/urw-base35/NimbusRoman-Italic.otf", 1.5),
    ("/usr/share/fonts/opentype/urw-base35/NimbusRoman-Bold.otf", 0.3),
    ("/usr/share/fonts/opentype/ebgaramond/EBGaramond12-Regular.otf", 0.8),
    ("/usr/share/fonts/opentype/ebgaramond/EBGaramond12-Italic.otf", 1.2),
    ("/usr/share/fonts/opentype/ebgaramond/EBGaramond08-Regular.otf", 0.5),
    ("/usr/share/fonts/opentype/ebgaramond/EBGaramond08-Italic.otf", 0.8),
    ("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf", 0.4),
    ("/usr/share/fonts/truetype/dejavu/DejaVuSerif-Italic.ttf", 0.4),
    ("/usr/share/fonts/truetype/dejavu/DejaVuSerifCondensed.ttf", 0.3),
    ("/usr/share/fonts/truetype/dejavu/DejaVuSerifCondensed-Italic.ttf", 0.3),
    ("/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf", 0.4),
    ("/usr/share/fonts/truetype/liberation/LiberationSerif-Italic.ttf", 0.5),
    ("/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed.ttf", 0.15),
]

#: Street types and their printed abbreviations.
ABBREVIATIONS: dict[str, list[str]] = {
    "rue": ["R.", "R"], "boulevard": ["Bd", "B.d", "Boul.", "Bd."], "avenue": ["Av.", "Av", "Ave"],
    "place": ["Pl.", "Pl"], "passage": ["Pass.", "Pas.", "Pge"], "impasse": ["Imp.", "Imp"],
    "quai": ["Q."], "faubourg": ["Fg", "Faub.", "F."], "carrefour": ["Carref."], "chemin": ["Ch.", "Chem."],
    "square": ["Sq."], "cité": ["Cté"], "villa": ["Va"], "allée": ["All."],
}
#: Other lettering of the atlases (buildings, places, districts).
_OTHER_TEXT = (
    "Ecole École Eglise Église Caserne Hôpital Hospice Ministère Marché Mairie Collège Lycée Palais Jardin "
    "Chapelle Temple Prison Gare Pont Quai Port Seine Arrondissement Arrondt Ambassade Hôtel Institution "
    "Cimetière Théâtre Halle Fontaine Barrière Couvent Sœurs Dames Cité Impasse Ile Île Square Abattoir "
    "Entrepôt Manufacture Mont-de-Piété Caillou Chaillot Invalides Champ-de-Mars Tuileries Louvre Luxembourg "
    "Sénat Chambre Députés Archevêché Séminaire Sorbonne Bourse Banque Poste Télégraphe Octroi Douane Magasin "
    "Réservoir Pompe Usine Gaz Bains Lavoir Cour Grande Petite Vieille Neuve Basse Haute Notre-Dame Sainte "
    "Saint St Ste Gros Cloître Bureau Commissariat Police Pompiers Dépôt Petit Bac Visitation Russie Anglais "
    "Etat-Major Guerre Marine Finances Justice Intérieur Instruction Publique Beaux-Arts Monnaie Institut "
    "Bibliothèque Nationale Observatoire Val-de-Grâce Panthéon Madeleine Opéra Odéon Conservatoire Musée"
)
OTHER_WORDS: list[str] = _OTHER_TEXT.split()
#: Abbreviations printed with their last letters as superscripts (how many letters).
SUPERSCRIPTS: dict[str, int] = {"Bd": 1, "St": 1, "Ste": 2, "Gde": 2, "Pte": 2, "Fg": 1, "Arrondt": 1,
                                "Mon": 2, "Vve": 2, "Pce": 2, "Pnt": 2, "Cte": 2, "Mal": 2, "Gal": 2}
PARTICLES = {"de", "du", "des", "la", "le", "les", "d'", "l'", "et", "aux", "au", "en", "sur", "sous"}


@cache
def fonts() -> tuple[list[str], np.ndarray]:
    """Installed font files and their sampling probabilities."""
    paths = [p for p, _ in FONTS if Path(p).is_file()]
    weights = np.array([w for p, w in FONTS if Path(p).is_file()], dtype=float)
    if not paths:
        from jadis.segment.synth.text import font_path

        fallback = font_path("serif")
        return ([fallback] if fallback else [""]), np.ones(1)
    return paths, weights / weights.sum()


@lru_cache(maxsize=1024)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if not path:
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(path, size=size)


def normalise(text: str) -> str:
    """Typographic variants folded to the charset: curly quotes, dashes, ligature spacing, NFC."""
    text = unicodedata.normalize("NFC", text)
    return (text.replace("\u2019", "'").replace("\u2018", "'").replace("\u2014", "-").replace("\u2013", "-")
            .replace("\u00a0", " ").strip())


# ---------------------------------------------------------------------------------------------- texts


class TextSampler:
    """Random texts of map lettering built from a list of street names."""

    def __init__(self, names: Sequence[str], charset: str) -> None:
        allowed = set(charset)
        self.charset = charset
        clean = []
        for name in names:
            n = normalise(name)
            if "/" in n or not n or not set(n) <= allowed or len(n) > 48:
                continue
            clean.append(n)
        self.names = clean or ["Rue de Grenelle"]
        words = sorted({w for n in self.names for w in n.split() if len(w) > 1})
        self.words = words or ["Grenelle"]

    def _styled(self, rng: np.random.Generator, name: str) -> list[str]:
        words = name.split()
        typ = words[0].lower() if words else ""
        rest = words[1:] if typ in ABBREVIATIONS or typ in ("cour", "pont", "port", "villa", "sentier") else words
        has_type = rest is not words
        # names in upper case in the gazetteer ("rue MALUS") mostly become title case
        if any(w.isupper() and len(w) > 2 for w in rest) and rng.random() < 0.7:
            rest = [w.lower() if w.lower() in PARTICLES else "-".join(p.capitalize() for p in w.split("-"))
                    for w in rest]
        out: list[str] = []
        if has_type and rng.random() < 0.85:
            r = rng.random()
            if r < 0.3 and typ in ABBREVIATIONS:
                out.append(str(rng.choice(ABBREVIATIONS[typ])))
            else:
                out.append(typ.capitalize())
        for w in rest:
            if w.lower() in ("saint", "sainte") and rng.random() < 0.5:
                w = "St" if w.lower() == "saint" else "Ste"
            out.append(w)
        if rng.random() < 0.3:  # hyphenate Saint-X / compound names, as Paris writes them
            joined = " ".join(out)
            joined = joined.replace("Saint ", "Saint-").replace("Sainte ", "Sainte-")
            out = joined.split()
        r = rng.random()
        if r < 0.15:
            out = [w.upper() for w in out]
        elif r < 0.25:  # type as printed, name in capitals ("Quai MALAQUAIS")
            out = out[:1] + [w.upper() for w in out[1:]]
        return out

    def sample(self, rng: np.random.Generator) -> str:
        """One text; at most ~34 characters."""
        r = rng.random()
        if r < 0.10:  # house number
            n = int(rng.choice([rng.integers(1, 10), rng.integers(1, 100), rng.integers(1, 400)]))
            s = rng.random()
            suffix = "" if s < 0.8 else str(rng.choice(["bis", "ter", " bis", " ter", "bis", "B", "A"]))
            return f"{n}{suffix}"
        if r < 0.16:
            k = int(rng.integers(1, 3))
            text = " ".join(str(rng.choice(OTHER_WORDS)) for _ in range(k))
            return text.upper() if rng.random() < 0.15 else text
        if r < 0.20:  # random strings: letters the language model of the names would not predict
            letters = [c for c in self.charset if c.isalnum()]
            n = int(rng.integers(1, 12))
            text = "".join(str(rng.choice(letters)) for _ in range(n))
            return text
        if r < 0.30:  # one word of a name, any name
            w = str(rng.choice(self.words))
            return w.upper() if rng.random() < 0.15 else w
        words = self._styled(rng, str(rng.choice(self.names)))
        if not words:
            return "Rue"
        s = rng.random()
        if s < 0.35 or len(words) == 1:
            out = words
        elif s < 0.75:
            i = int(rng.integers(0, len(words)))
            out = [words[i]]
            if out[0].lower() in PARTICLES and i + 1 < len(words):
                out = words[i:i + 2]
        else:
            k = int(rng.integers(2, min(4, len(words)) + 1))
            i = int(rng.integers(0, len(words) - k + 1))
            out = words[i:i + k]
        text = " ".join(out)
        while len(text) > 34 and " " in text:
            text = text.rsplit(" ", 1)[0]
        return text[:34]


# ---------------------------------------------------------------------------------------------- images


@dataclass(frozen=True)
class Crop:
    """One synthetic crop: grey levels (height, width) uint8 and its text."""

    image: np.ndarray
    text: str


def _segments(text: str, rng: np.random.Generator) -> list[tuple[str, bool]]:
    """The text as (character, superscript) pairs: some abbreviations get raised final letters."""
    out: list[tuple[str, bool]] = []
    words = text.split(" ")
    for i, w in enumerate(words):
        k = SUPERSCRIPTS.get(w.rstrip("."), 0)
        low = w.lstrip("0123456789")
        if not k and low in ("bis", "ter") and low != w:
            k = len(low)
        sup = k and rng.random() < 0.45
        for j, ch in enumerate(w):
            out.append((ch, bool(sup and j >= len(w.rstrip(".")) - k and ch != ".")))
        if i + 1 < len(words):
            out.append((" ", False))
    return out


def _draw_text(text: str, rng: np.random.Generator, path: str, size: int,
               tracking: float) -> tuple[np.ndarray, int]:
    """Ink coverage (float32) of ``text`` on a canvas with wide margins; the baseline's row."""
    font = _font(path, size)
    sup_font = _font(path, max(5, int(size * 0.6)))
    ascent, descent = font.getmetrics()
    parts = _segments(text, rng)
    space_scale = rng.uniform(0.8, 1.6)
    width = 0.0
    advances = []
    for ch, sup in parts:
        adv = (sup_font if sup else font).getlength(ch)
        if ch == " ":
            adv *= space_scale
        advances.append(adv)
        width += adv + tracking * size
    pad = int(size * 1.5) + 4
    canvas = Image.new("L", (int(width + 2 * pad), ascent + descent + 2 * pad), 0)
    draw = ImageDraw.Draw(canvas)
    baseline = pad + ascent
    if tracking == 0 and not any(s for _, s in parts):
        draw.text((pad, baseline), text, font=font, fill=255, anchor="ls")
    else:
        x = float(pad)
        for (ch, sup), adv in zip(parts, advances, strict=True):
            if ch != " ":
                if sup:
                    draw.text((x, baseline - size * 0.33), ch, font=sup_font, fill=255, anchor="ls")
                else:
                    draw.text((x, baseline), ch, font=font, fill=255, anchor="ls")
            x += adv + tracking * size
    return np.asarray(canvas, np.float32) / 255.0, baseline


def _clutter(shape: tuple[int, int], rng: np.random.Generator, size: int, box: tuple[int, int, int, int],
             sampler: TextSampler | None, path: str) -> np.ndarray:
    """Map ink that is not the label: lines crossing, hatching, neighbouring letters near the box."""
    import cv2

    h, w = shape
    layer = np.zeros(shape, np.float32)
    x0, y0, x1, y1 = box
    th = max(1, int(round(size * rng.uniform(0.03, 0.08))))
    if rng.random() < 0.45:  # street edges / lines crossing
        for _ in range(int(rng.integers(1, 4))):
            ang = rng.uniform(0, np.pi) if rng.random() < 0.5 else rng.normal(0, 0.15)
            cx, cy = rng.uniform(x0, x1), rng.uniform(y0 - size, y1 + size)
            if rng.random() < 0.6:  # a line along the text, above or below it
                ang = rng.normal(0, 0.05)
                cy = (y0 - rng.uniform(0.1, 0.6) * size) if rng.random() < 0.5 else (y1 + rng.uniform(0.1, 0.6) * size)
            dx, dy = np.cos(ang) * 2 * w, np.sin(ang) * 2 * w
            cv2.line(layer, (int(cx - dx), int(cy - dy)), (int(cx + dx), int(cy + dy)), 1.0, th, cv2.LINE_AA)
    if rng.random() < 0.15:  # hatching of a block
        step = rng.uniform(0.2, 0.5) * size
        ang = rng.choice([np.pi / 4, -np.pi / 4, np.pi / 3])
        hx0 = 0 if rng.random() < 0.5 else int(rng.uniform(x0, x1))
        region = np.zeros_like(layer)
        for k in range(-2 * (w + h), 2 * (w + h), max(2, int(step))):
            p = (k, 0)
            q = (int(k + np.cos(ang) * 3 * h * 10), int(np.sin(ang) * 3 * h * 10))
            cv2.line(region, p, q, 1.0, max(1, th // 2), cv2.LINE_AA)
        ya = int(y1 + size * rng.uniform(0.1, 0.5)) if rng.random() < 0.5 else 0
        yb = h if ya else int(y0 - size * rng.uniform(0.1, 0.5))
        layer[max(0, ya):max(0, yb), hx0:] = np.maximum(layer[max(0, ya):max(0, yb), hx0:],
                                                        region[max(0, ya):max(0, yb), hx0:])
    if sampler is not None and rng.random() < 0.3:  # pieces of neighbouring letters at the edges
        other = sampler.sample(rng)
        nsize = max(6, int(size * rng.uniform(0.6, 1.3)))
        ink, base = _draw_text(other, rng, path, nsize, 0.0)
        ih, iw = ink.shape
        side = rng.integers(0, 4)
        if side == 0:    # left
            ox, oy = x0 - iw + int(rng.uniform(0.3, 1.0) * nsize) + nsize, y1 - base + int(rng.normal(0, size * 0.3))
        elif side == 1:  # right
            ox, oy = x1 - int(rng.uniform(0.0, 0.6) * nsize) - nsize, y1 - base + int(rng.normal(0, size * 0.3))
        elif side == 2:  # above
            ox, oy = int(rng.uniform(x0 - iw / 2, x1 - iw / 2)), y0 - base - int(rng.uniform(0.1, 0.4) * size)
        else:            # below
            ox, oy = int(rng.uniform(x0 - iw / 2, x1 - iw / 2)), y1 - base + ih // 2 + int(rng.uniform(0.2, 0.5) * size)
        sx0, sy0 = max(0, -ox), max(0, -oy)
        dx0, dy0, dx1, dy1 = max(0, ox), max(0, oy), min(w, ox + iw), min(h, oy + ih)
        if dx1 > dx0 and dy1 > dy0:
            region = layer[dy0:dy1, dx0:dx1]
            np.maximum(region, ink[sy0:sy0 + dy1 - dy0, sx0:sx0 + dx1 - dx0], out=region)
    return layer


def _paper(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Paper colour (grey level) with low-frequency stains."""
    import cv2

    h, w = shape
    base = rng.uniform(150, 250)
    paper = np.full(shape, base, np.float32)
    if rng.random() < 0.6:
        small = rng.normal(0, 1, (max(2, h // 16), max(2, w // 16))).astype(np.float32)
        stain = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
        paper += stain * rng.uniform(2, 18)
    return paper


def render_crop(text: str, rng: np.random.Generator, height: int = 32, max_width: int = 512,
                sampler: TextSampler | None = None) -> Crop:
    """One upright crop of ``text`` as map lettering, grey levels of ``height`` rows (see module doc)."""
    import cv2

    paths, probs = fonts()
    path = paths[int(rng.choice(len(paths), p=probs))]
    cap = float(np.exp(rng.uniform(np.log(7), np.log(40))))      # capital height on the scan, px
    scale = 3 if cap < 14 else (2 if cap < 24 else 1)             # render finer, then down to the scan
    size = max(6, int(round(cap / 0.68 * scale)))
    r = rng.random()
    tracking = 0.0 if r < 0.55 else (rng.uniform(0.0, 0.25) if r < 0.85 else rng.uniform(0.25, 1.0))
    ink, baseline = _draw_text(text, rng, path, size, tracking)
    ys, xs = np.nonzero(ink > 0.2)
    if len(xs) == 0:
        ys, xs = np.array([baseline - size // 2, baseline]), np.array([size, size * 2])
    box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    clutter = _clutter(ink.shape, rng, size, box, sampler, path)
    layers = np.stack([ink, clutter], axis=-1)
    h, w = ink.shape
    # geometry: shear (synthetic italic), rotation, then a curved baseline
    shear = rng.normal(0, 0.12) if rng.random() < 0.5 else 0.0
    angle = rng.normal(0, 1.5)
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    m = cv2.getRotationMatrix2D((cx, cy), angle, 1.0)
    m[0, 1] -= shear
    m[0, 2] += shear * cy
    layers = cv2.warpAffine(layers, m, (w, h), flags=cv2.INTER_LINEAR)
    if rng.random() < 0.35:
        bend = rng.normal(0, 0.12) * (box[2] - box[0]) / max(1.0, (box[2] - box[0]) / size) ** 0.5
        xx = np.arange(w, dtype=np.float32)
        t = (xx - cx) / max(1.0, (box[2] - box[0]) / 2)
        dy = (bend * t * t).astype(np.float32)
        map_x = np.tile(xx, (h, 1))
        map_y = np.arange(h, dtype=np.float32)[:, None] + dy[None, :]
        layers = cv2.remap(layers, map_x, map_y, cv2.INTER_LINEAR)
    ink, clutter = layers[..., 0], layers[..., 1]
    ys, xs = np.nonzero(ink > 0.2)
    if len(xs):
        box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    # the window crop_label would cut: text height is 45-85 % of the crop, margins on the sides
    th = box[3] - box[1]
    crop_h = th / rng.uniform(0.45, 0.8)
    mid = (box[1] + box[3]) / 2 + rng.normal(0, 0.05) * crop_h
    margin_l, margin_r = (rng.uniform(0.05, 0.5, 2) * th)
    y0, y1 = int(round(mid - crop_h / 2)), int(round(mid + crop_h / 2))
    x0, x1 = int(round(box[0] - margin_l)), int(round(box[2] + margin_r))
    padded = np.pad(np.maximum(ink, clutter * rng.uniform(0.5, 1.0)), size * 2)
    cov = padded[y0 + 2 * size:y1 + 2 * size, x0 + 2 * size:x1 + 2 * size]
    # down to the scan's resolution
    if scale > 1:
        cov = cv2.resize(cov, (max(1, cov.shape[1] // scale), max(1, cov.shape[0] // scale)),
                         interpolation=cv2.INTER_AREA)
    if rng.random() < 0.5:  # ink spread / thin strokes
        k = np.ones((2, 2), np.uint8)
        cov = cv2.dilate(cov, k) * 0.5 + cov * 0.5 if rng.random() < 0.5 else cv2.erode(cov, k) * 0.4 + cov * 0.6
    paper = _paper(rng, cov.shape)
    ink_level = (rng.uniform(0, 0.25) if rng.random() < 0.8 else rng.uniform(0.25, 0.6)) * paper.mean()
    img = paper * (1 - cov * rng.uniform(0.85, 1.0)) + ink_level * cov
    img += rng.normal(0, rng.uniform(0, 8), img.shape)
    blur = rng.uniform(0, 0.9)
    if blur > 0.3:
        img = cv2.GaussianBlur(img, (0, 0), blur)
    img = np.clip(img, 0, 255).astype(np.uint8)
    if rng.random() < 0.7:
        ok, enc = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.uniform(25, 90))])
        if ok:
            img = cv2.imdecode(enc, cv2.IMREAD_GRAYSCALE)
    # crop_label scales to ~40 px text with cubic interpolation; the model resizes to its height
    out_w = int(round(img.shape[1] * height / max(1, img.shape[0]) * rng.uniform(0.85, 1.15)))
    out_w = int(min(max_width, max(8, out_w)))
    interp = cv2.INTER_CUBIC if img.shape[0] < height else cv2.INTER_AREA
    img = cv2.resize(img, (out_w, height), interpolation=interp)
    return Crop(img, text)


def render_pool(n: int, seed: int, charset: str, names: Sequence[str], height: int = 32,
                max_width: int = 512) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``n`` crops concatenated along the width: (height, total_width) uint8, per-crop offsets (n + 1,)
    and texts. Crop ``i`` is ``pixels[:, offsets[i]:offsets[i + 1]]``."""
    rng = np.random.default_rng(seed)
    sampler = TextSampler(names, charset)
    images, texts = [], []
    for _ in range(n):
        text = sampler.sample(rng)
        crop = render_crop(text, rng, height, max_width, sampler)
        images.append(crop.image)
        texts.append(crop.text)
    offsets = np.concatenate([[0], np.cumsum([im.shape[1] for im in images])]).astype(np.int64)
    return np.concatenate(images, axis=1), offsets, texts
