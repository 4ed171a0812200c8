"""How a source image becomes a print area of exact pixel size: pure geometry, no pixels.

The three sizing modes of the v4 documents ("Image resizing"):
- fillPrintArea: scale until the area is covered, crop the overflow centrally;
- fitPrintArea: scale until the whole image fits, pad the rest with white, centred;
- stretchToPrintArea: scale each axis on its own to the area's size.
And rotation ("Rotation"): the image is turned 90 degrees when that needs less resizing, i.e.
keeps more of it (fill), wastes less of the area (fit), or distorts it less (stretch).
"""

from __future__ import annotations

from dataclasses import dataclass

FILL = "fillPrintArea"
FIT = "fitPrintArea"
STRETCH = "stretchToPrintArea"


@dataclass(frozen=True)
class Box:
    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top


@dataclass(frozen=True)
class SizingPlan:
    rotate: bool  # turn the source 90 degrees first; the boxes below are in the turned image
    crop: Box  # the part of the (turned) source that is used
    resized: tuple[int, int]  # the size `crop` is resized to
    offset: tuple[int, int]  # where the resized image sits on the white canvas
    canvas: tuple[int, int]  # the print area: always exactly the target size


def plan(source_width: int, source_height: int, target_width: int, target_height: int, sizing: str) -> SizingPlan:
    if min(source_width, source_height, target_width, target_height) <= 0:
        raise ValueError("sizes must be positive")
    upright = _plan(source_width, source_height, target_width, target_height, sizing, rotate=False)
    if source_width == source_height or target_width == target_height:
        return upright
    turned = _plan(source_height, source_width, target_width, target_height, sizing, rotate=True)
    return turned if _cost(turned, source_width, source_height, target_width, target_height, sizing) < _cost(
        upright, source_width, source_height, target_width, target_height, sizing
    ) else upright


def _plan(width: int, height: int, target_width: int, target_height: int, sizing: str, *, rotate: bool) -> SizingPlan:
    canvas = (target_width, target_height)
    if sizing == STRETCH:
        return SizingPlan(rotate, Box(0, 0, width, height), canvas, (0, 0), canvas)
    if sizing == FILL:
        # The largest centred box of the target's aspect ratio that fits in the source.
        if width * target_height > height * target_width:  # source is wider: trim the sides
            crop_width = max(1, round(height * target_width / target_height))
            left = (width - crop_width) // 2
            crop = Box(left, 0, left + crop_width, height)
        else:  # source is taller: trim top and bottom
            crop_height = max(1, round(width * target_height / target_width))
            top = (height - crop_height) // 2
            crop = Box(0, top, width, top + crop_height)
        return SizingPlan(rotate, crop, canvas, (0, 0), canvas)
    if sizing == FIT:
        scale = min(target_width / width, target_height / height)
        resized = (min(target_width, max(1, round(width * scale))), min(target_height, max(1, round(height * scale))))
        offset = ((target_width - resized[0]) // 2, (target_height - resized[1]) // 2)
        return SizingPlan(rotate, Box(0, 0, width, height), resized, offset, canvas)
    raise ValueError(f"unknown sizing {sizing!r}")


def _cost(p: SizingPlan, width: int, height: int, target_width: int, target_height: int, sizing: str) -> float:
    """What a plan loses: the share of the image cropped away (fill), the share of the print
    area left blank (fit), or how far the aspect ratio is bent (stretch)."""
    if sizing == FILL:
        return 1 - (p.crop.width * p.crop.height) / (width * height)
    if sizing == FIT:
        return 1 - (p.resized[0] * p.resized[1]) / (target_width * target_height)
    source_ratio = (height / width) if p.rotate else (width / height)
    distortion = (target_width / target_height) / source_ratio
    return max(distortion, 1 / distortion)
