"""Paper, ageing and scanning effects for synthetic maps (all numpy / OpenCV, float32 RGB 0–255)."""

from __future__ import annotations

import cv2
import numpy as np


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Gaussian-filtered white noise, normalised to zero mean and unit std."""
    h, w = shape
    f = max(1, int(sigma // 4))  # filter a smaller field then upsample: same look, much faster
    small = rng.standard_normal((h // f + 2, w // f + 2)).astype(np.float32)
    small = cv2.GaussianBlur(small, (0, 0), sigma / f)
    field = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR) if f > 1 else small[:h, :w]
    field -= field.mean()
    return field / (field.std() + 1e-6)


def paper(rng: np.random.Generator, shape: tuple[int, int], low: tuple[int, int, int],
          high: tuple[int, int, int]) -> np.ndarray:
    """Blank paper: a base colour, blotchy low-frequency tone, grain and faint fibres."""
    h, w = shape
    t = rng.random()
    base = np.array(low, np.float32) * (1 - t) + np.array(high, np.float32) * t
    img = np.empty((h, w, 3), np.float32)
    img[:] = base
    tone = smooth_noise(rng, shape, rng.uniform(25, 90)) * rng.uniform(2, 7)
    grain = rng.standard_normal(shape).astype(np.float32)
    grain = cv2.GaussianBlur(grain, (0, 0), 0.7) * rng.uniform(2, 5)
    img += (tone + grain)[..., None]
    for _ in range(int(rng.integers(0, 25))):  # fibres: short faint curves
        p = rng.uniform(0, [w, h])
        pts = [p]
        for _ in range(4):
            p = p + rng.normal(0, 6, 2)
            pts.append(p)
        cv2.polylines(img, [np.round(np.array(pts) * 16).astype(np.int32)], False,
                      tuple(float(v) for v in base * rng.uniform(0.9, 0.97)), 1, cv2.LINE_AA, shift=4)
    return img


def stains(rng: np.random.Generator, img: np.ndarray, n: int) -> None:
    """Water / foxing stains: irregular brownish blotches (multiplicative)."""
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for _ in range(n):
        cx, cy = rng.uniform(-0.2, 1.2) * w, rng.uniform(-0.2, 1.2) * h
        rx, ry = rng.uniform(0.05, 0.5) * w, rng.uniform(0.05, 0.5) * h
        d = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2
        edge = smooth_noise(rng, (h, w), rng.uniform(8, 30)) * 0.25
        blob = np.clip(1.0 - d + edge, 0, 1)
        blob = cv2.GaussianBlur(blob, (0, 0), rng.uniform(1, 6))
        tint = np.array([rng.uniform(0.80, 0.95), rng.uniform(0.72, 0.90), rng.uniform(0.55, 0.80)], np.float32)
        strength = rng.uniform(0.15, 0.6)
        img *= 1 - (blob * strength)[..., None] * (1 - tint)
        if rng.random() < 0.5:  # a darker tide line at the rim
            rim = np.exp(-((blob - 0.05) / 0.03) ** 2) * (blob > 0.01)
            img *= 1 - (rim * strength * 0.3)[..., None]
    for _ in range(int(rng.integers(0, 30))):  # foxing dots
        x, y = int(rng.uniform(0, w)), int(rng.uniform(0, h))
        r = float(rng.uniform(0.8, 3.0))
        cv2.circle(img, (x, y), max(1, int(r)), (150.0, 110.0, 70.0), -1, cv2.LINE_AA)


def fold(rng: np.random.Generator, img: np.ndarray) -> None:
    """A paper fold or sheet join: a dark crease line with a lighter band beside it."""
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    a = rng.uniform(0, np.pi)
    nx, ny = np.cos(a), np.sin(a)
    c = rng.uniform(0.1, 0.9) * (w * abs(nx) + h * abs(ny))
    d = xx * nx + yy * ny - c
    width = rng.uniform(1.5, 8)
    crease = np.exp(-(d / width) ** 2) * rng.uniform(0.08, 0.3)
    light = np.exp(-((d - 2.5 * width) / (2 * width)) ** 2) * rng.uniform(0.0, 0.08)
    img *= (1 - crease + light)[..., None]


def scan(rng: np.random.Generator, img: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """Scanner and compression: uneven light, colour cast, blur, resampling, noise, JPEG. Returns uint8."""
    h, w = img.shape[:2]
    light = 1 + smooth_noise(rng, (h, w), rng.uniform(80, 200)) * rng.uniform(0.0, 0.06) * strength
    img = img * light[..., None]
    gain = np.clip(rng.normal(1.0, 0.025 * strength, 3), 0.94, 1.06).astype(np.float32)
    img = img * gain + rng.normal(0, 4 * strength)
    sigma = rng.uniform(0.0, 1.1) * strength
    if sigma > 0.25:
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    if rng.random() < 0.3 * strength:  # scanned at lower resolution, then upsampled
        f = rng.uniform(1.2, 2.0)
        small = cv2.resize(img, (max(8, int(w / f)), max(8, int(h / f))), interpolation=cv2.INTER_AREA)
        img = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    img = img + rng.normal(0, rng.uniform(0.5, 4) * strength, img.shape).astype(np.float32)
    out = np.clip(img, 0, 255).astype(np.uint8)
    if rng.random() < 0.75:
        quality = int(rng.uniform(30, 95))
        ok, buf = cv2.imencode(".jpg", out[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok:
            out = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].copy()
    return out
