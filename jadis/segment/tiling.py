"""Tile layout and blending weights for windowed inference over sheets of any size.

A sheet is covered by square tiles of ``tile`` pixels that overlap by ``overlap`` pixels. Each
tile's logits are multiplied by a separable window that rises smoothly (raised cosine) from near
zero at the tile's edges to one over ``overlap`` pixels; where tiles overlap, the weighted logits
are summed and the class is their arg-max. The weights never reach zero, so pixels that only one
tile sees (the sheet's borders) keep that tile's prediction. Summing *weighted* logits without
dividing by the weight sum is enough: the arg-max of a positively scaled vector is unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: U-Net input sizes must be multiples of this (five stride-2 stages).
NET_MULTIPLE = 32


def tile_starts(length: int, tile: int, stride: int) -> list[int]:
    """Start offsets of tiles of size ``tile`` every ``stride`` pixels covering ``[0, length)``.

    The last tile is aligned with the end, so every tile lies inside the image (when
    ``length >= tile``). A length shorter than a tile gives one tile at 0.
    """
    if tile <= 0 or stride <= 0:
        raise ValueError("tile and stride must be positive")
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, stride))
    starts.append(length - tile)
    return starts


def blend_weights_1d(size: int, overlap: int) -> np.ndarray:
    """A raised-cosine ramp over ``overlap`` pixels at both ends, 1 in the middle, never 0."""
    w = np.ones(size, dtype=np.float32)
    ramp = min(overlap, size // 2)
    if ramp > 0:
        i = np.arange(ramp, dtype=np.float32)
        up = 0.5 - 0.5 * np.cos(np.pi * (i + 1) / (ramp + 1))
        w[:ramp] = up
        w[size - ramp:] = up[::-1]
    return w


def blend_weights(height: int, width: int, overlap: int) -> np.ndarray:
    """Separable 2-D blending window of shape (height, width), float32 in (0, 1]."""
    return np.outer(blend_weights_1d(height, overlap), blend_weights_1d(width, overlap))


def round_up(value: int, multiple: int) -> int:
    return int(math.ceil(value / multiple) * multiple)


@dataclass(frozen=True)
class TileGrid:
    """Tile layout over an image: tile sizes (after clamping to the image) and start offsets."""

    width: int
    height: int
    tile_w: int
    tile_h: int
    overlap: int
    xs: tuple[int, ...]
    ys: tuple[int, ...]

    @classmethod
    def build(cls, width: int, height: int, tile: int, overlap: int) -> TileGrid:
        """Lay out tiles of ``tile`` px overlapping by ``overlap`` px (``0 <= overlap < tile``)."""
        if width <= 0 or height <= 0:
            raise ValueError("image has no pixels")
        if not 0 <= overlap < tile:
            raise ValueError(f"overlap must be in [0, tile), got overlap={overlap}, tile={tile}")
        tile_w, tile_h = min(tile, width), min(tile, height)
        stride = tile - overlap
        return cls(width, height, tile_w, tile_h, overlap,
                   tuple(tile_starts(width, tile_w, stride)), tuple(tile_starts(height, tile_h, stride)))

    @property
    def n_tiles(self) -> int:
        return len(self.xs) * len(self.ys)

    def weights(self) -> np.ndarray:
        return blend_weights(self.tile_h, self.tile_w, self.overlap)
