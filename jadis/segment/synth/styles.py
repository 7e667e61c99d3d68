"""Period styles of Paris atlases for the synthetic generator.

Each :class:`Style` is a set of ranges the renderer samples from, so two tiles of one style differ.

* ``municipal`` — Atlas municipal (1868–1937, BHdV): cream paper, thin dark outlines, blank private
  blocks, public buildings hatched, gardens stippled, italic Didone street names, red house numbers,
  red metro lines, graticule, kerbs and tree-lined boulevards, water drawn with lines parallel to the banks.
* ``jacoubet`` — Atlas de Jacoubet (1827–1836): greyish paper, very fine outlines, parcel lines
  perpendicular to the streets with the house numbers between them, small italic names.
* ``verniquet`` — Plan de Verniquet (1791): engraved blocks filled with fine hatching, heavy
  outlines with a thicker "shadow" side, roman capitals for names.
* ``tinted`` — coloured plans (Andriveau-Goujon 1849 and others): blocks washed in pink, ochre or grey,
  blue water, dark outlines, roman or italic names.
"""

from __future__ import annotations

from dataclasses import dataclass

from jadis.errors import JadisError


@dataclass(frozen=True)
class Style:
    name: str
    paper: tuple[tuple[int, int, int], tuple[int, int, int]]  #: range of paper RGB (low, high)
    ink: tuple[int, int, int]  #: main ink RGB
    red: tuple[int, int, int]  #: red ink RGB (house numbers, metro, arrondissement names)
    outline_px: tuple[float, float]  #: block outline width range (px)
    shadow_side: float = 0.0  #: probability of a thicker "shadow" stroke on one side of blocks
    block_tints: tuple[tuple[int, int, int], ...] = ()  #: wash colours (empty: no wash)
    p_tint: float = 0.0  #: probability that a block is washed
    p_full_hatch: float = 0.05  #: probability that a whole block is hatched (engraved / public building)
    p_buildings: float = 0.3  #: probability that a block shows buildings (hatched band + courtyards)
    p_parcels: float = 0.2  #: probability that a block shows parcel lines
    p_garden: float = 0.08  #: probability that a block is a garden (stipple, trees, paths)
    hatch_spacing: tuple[float, float] = (3.0, 5.0)
    p_house_numbers: float = 0.3
    numbers_red: bool = False
    name_faces: tuple[str, ...] = ("serif-italic",)
    p_upper: float = 0.1  #: probability that a street name is in capitals
    p_trees: float = 0.5  #: probability that a wide street shows kerbs and tree rows
    p_kerbs: float = 0.2  #: probability that another street (≥ 10 px wide) shows kerbs
    p_metro: float = 0.0
    p_graticule: float = 0.3
    water_lines: bool = True
    water_tint: tuple[int, int, int] | None = None


STYLES: dict[str, Style] = {
    "municipal": Style(
        name="municipal", paper=((220, 205, 165), (240, 232, 205)), ink=(60, 50, 45), red=(200, 60, 50),
        outline_px=(1.0, 2.0), p_full_hatch=0.08, p_buildings=0.25, p_parcels=0.15, p_garden=0.08,
        hatch_spacing=(3.0, 5.0), p_house_numbers=0.35, numbers_red=True,
        name_faces=("serif-italic", "palatino-italic", "times-italic", "garamond-italic"), p_upper=0.08,
        p_trees=0.7, p_kerbs=0.4, p_metro=0.25, p_graticule=0.4),
    "jacoubet": Style(
        name="jacoubet", paper=((215, 205, 180), (238, 232, 215)), ink=(50, 45, 40), red=(150, 60, 50),
        outline_px=(0.7, 1.4), p_full_hatch=0.03, p_buildings=0.15, p_parcels=0.6, p_garden=0.06,
        hatch_spacing=(2.5, 4.0), p_house_numbers=0.7, numbers_red=False,
        name_faces=("serif-italic", "times-italic", "garamond-italic"), p_upper=0.05, p_trees=0.5,
        p_graticule=0.5),
    "verniquet": Style(
        name="verniquet", paper=((210, 195, 160), (235, 225, 200)), ink=(40, 35, 30), red=(140, 50, 40),
        outline_px=(1.2, 2.5), shadow_side=0.7, p_full_hatch=0.6, p_buildings=0.1, p_parcels=0.05,
        p_garden=0.1, hatch_spacing=(2.0, 3.5), p_house_numbers=0.0,
        name_faces=("serif", "garamond", "serif-italic"), p_upper=0.6, p_trees=0.3, p_graticule=0.2),
    "tinted": Style(
        name="tinted", paper=((225, 215, 190), (245, 240, 225)), ink=(45, 40, 40), red=(190, 50, 50),
        outline_px=(1.0, 2.2), block_tints=((225, 170, 160), (230, 200, 150), (190, 185, 180), (215, 160, 150)),
        p_tint=0.85, p_full_hatch=0.05, p_buildings=0.2, p_parcels=0.1, p_garden=0.08,
        p_house_numbers=0.15, name_faces=("serif", "serif-italic", "palatino-italic"), p_upper=0.3,
        p_trees=0.4, p_graticule=0.2, water_tint=(160, 190, 215)),
}


def get_style(name: str) -> Style:
    try:
        return STYLES[name]
    except KeyError:
        raise JadisError(f"unknown style {name!r}; choose from {', '.join(STYLES)}") from None
