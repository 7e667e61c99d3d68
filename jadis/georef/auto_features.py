"""Street-network features for matching: road density pyramids and street-orientation fields.

The matcher never compares road pixels directly: old maps draw streets wider or narrower than
OpenStreetMap, segmentation adds and drops streets, and the two images have different scales.
It compares **orientation fields** instead: at every pixel the doubled-angle vector of the road
edges, ``(gx + i gy)^2 = gx^2 - gy^2 + 2i gx gy`` (the complex form of the structure tensor),
averaged over a neighbourhood. Edges of both sides of a street agree (the angle is doubled), the
value is independent of the street's drawn width, and two fields agree only where the streets
run in the same directions at the same places, which makes the correlation peak much sharper
and more distinctive than a correlation of road densities (measured on the benchmark maps: the
right pose is the best one for 24/24 maps with orientation fields, 12-19/24 with densities).
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage as ndi

#: Gaussian sigma (pixels) of the road density before taking gradients.
GRADIENT_SIGMA = 1.0


def area_resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize an image to ``width x height`` by area averaging (float32 in the input's units)."""
    width, height = max(1, int(width)), max(1, int(height))
    src = image.astype(np.float32, copy=False)
    if (src.shape[1], src.shape[0]) == (width, height):
        out = src
    else:
        interp = cv2.INTER_AREA if width <= src.shape[1] else cv2.INTER_LINEAR
        out = cv2.resize(src, (width, height), interpolation=interp)
    return out.astype(np.float32, copy=False)


def density_levels(mask: np.ndarray, min_side: int = 256) -> list[np.ndarray]:
    """Road density pyramid of a boolean mask: level k has 2^k-times fewer pixels per side.

    Level 0 is the mask itself (uint8 0/255); the others are uint8 area averages (0..255), which
    keeps a 100-megapixel mask's pyramid small in memory.
    """
    levels = [mask.astype(np.uint8) * np.uint8(255)]
    while max(levels[-1].shape) // 2 >= min_side:
        prev = levels[-1]
        h, w = prev.shape
        levels.append(cv2.resize(prev, (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_AREA))
    return levels


def orientation_field(density: np.ndarray, sigma: float = GRADIENT_SIGMA) -> np.ndarray:
    """Complex doubled-angle gradient field ``(gx + i gy)^2`` of a road density image (complex64).

    Image axes: x to the right, y down; an angle ``phi`` of the gradient gives ``exp(2 i phi)``.
    """
    d = density.astype(np.float32, copy=False)
    if d.dtype == np.uint8 or d.max(initial=0) > 1.5:
        d = d / np.float32(255.0)
    b = cv2.GaussianBlur(d, (0, 0), sigma) if sigma > 0 else d
    gx = cv2.Sobel(b, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(b, cv2.CV_32F, 0, 1, ksize=3)
    return ((gx * gx - gy * gy) + 1j * (2 * gx * gy)).astype(np.complex64)


def resize_field(field: np.ndarray, width: int, height: int) -> np.ndarray:
    """Area-average (or bilinearly enlarge) a complex field to ``width x height``."""
    re = area_resize(np.ascontiguousarray(field.real), width, height)
    im = area_resize(np.ascontiguousarray(field.imag), width, height)
    return (re + 1j * im).astype(np.complex64)


def blur_field(field: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of a complex field."""
    if sigma <= 0:
        return field
    re = cv2.GaussianBlur(np.ascontiguousarray(field.real), (0, 0), sigma)
    im = cv2.GaussianBlur(np.ascontiguousarray(field.imag), (0, 0), sigma)
    return (re + 1j * im).astype(np.complex64)


def rotate_values(field: np.ndarray, theta_deg: float) -> np.ndarray:
    """Turn the orientations of a field as its image is turned by ``theta_deg`` (cv2 convention:
    counter-clockwise on screen, with y down): a direction ``phi`` becomes ``phi - theta``."""
    return (field * np.complex64(np.exp(-2j * np.deg2rad(theta_deg)))).astype(np.complex64)


def footprint(density: np.ndarray, radius: int, threshold: float = 0.02) -> np.ndarray:
    """Where the image has content: road pixels closed over gaps of ``2 * radius`` pixels, holes
    filled (float32 0/1). Blank margins, and areas far from any street, are outside it."""
    d = density.astype(np.float32, copy=False)
    if d.max(initial=0) > 1.5:
        d = d / np.float32(255.0)
    m = (d > threshold).astype(np.uint8)
    radius = max(1, int(round(radius)))
    pad = radius + 1
    m = cv2.copyMakeBorder(m, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, kernel)[pad:-pad, pad:-pad]
    m = ndi.binary_fill_holes(m).astype(np.uint8)
    return m.astype(np.float32)
