"""Pixels: check an image without decoding it, and render a print-ready file from a plan.

pyvips, chosen by bench/print_file.py: it streams, so a 4800x6000 print stays far inside a
worker's memory budget, and it was the faster of the two at photo-print sizes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyvips

from printwork.core.assets.geometry import SizingPlan

# Every file is used once, so libvips' operation cache only holds memory (measured: a worker's
# peak RSS fell from ~730 MB, bench/pipeline.py).
pyvips.cache_set_max(0)


class PixelBudget:
    """Bounds how many source pixels a process decodes at once, so memory stays predictable
    however many job threads run: a 4800x6000 source waits for room instead of joining two
    others (bench/pipeline.py). A source larger than the whole budget runs alone."""

    def __init__(self, megapixels: float) -> None:
        self._capacity = megapixels * 1_000_000
        self._in_use = 0.0
        self._cond = threading.Condition()

    @contextmanager
    def held(self, pixels: int) -> Iterator[None]:
        want = min(float(pixels), self._capacity)
        with self._cond:
            self._cond.wait_for(lambda: self._in_use + want <= self._capacity)
            self._in_use += want
        try:
            yield
        finally:
            with self._cond:
                self._in_use -= want
                self._cond.notify_all()


RENDER_BUDGET = PixelBudget(40)

# Up to this size a print is held in memory once to make its thumbnail too (saves a decode);
# bigger ones re-read their file, so a 4800x7200 print does not hold 100 MB of pixels.
THUMBNAIL_FROM_MEMORY_PIXELS = 12_000_000

# What print files are made from; products that take PDFs (photobooks) add "pdf".
PRINT_FORMATS = frozenset({"jpeg", "png", "tiff"})

# Beyond these an upload is treated as a decompression bomb, not a photograph.
MAX_PIXELS = 400_000_000
MAX_SIDE = 40_000

SIGNATURES = (
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"%PDF-", "pdf"),
)


class UnusableImage(ValueError):
    """The file cannot be printed; the message says why, for an issue description."""


@dataclass(frozen=True)
class ImageInfo:
    format: str
    width: int
    height: int


def sniff(head: bytes) -> str | None:
    """The format the first bytes of a file announce, whatever its name or Content-Type says."""
    for signature, name in SIGNATURES:
        if head.startswith(signature):
            return name
    return None


def inspect(path: Path, accepted: frozenset[str] = PRINT_FORMATS) -> ImageInfo:
    """Format and size from the header alone; refuses other formats and pixel bombs."""
    with open(path, "rb") as handle:
        kind = sniff(handle.read(16))
    if kind is None:
        raise UnusableImage("the file is not a JPEG, PNG, TIFF or PDF")
    if kind not in accepted:
        raise UnusableImage(f"a {kind.upper()} file cannot be used for this product")
    if kind == "pdf":
        return ImageInfo(kind, 0, 0)
    try:
        image = pyvips.Image.new_from_file(str(path), access="sequential", fail=True)
    except pyvips.Error as exc:
        raise UnusableImage(f"the {kind.upper()} file cannot be read ({str(exc).splitlines()[0]})") from None
    if image.width > MAX_SIDE or image.height > MAX_SIDE or image.width * image.height > MAX_PIXELS:
        raise UnusableImage(f"the image is {image.width}x{image.height} pixels, more than can be printed")
    # Sizes as the photo is meant to be seen: EXIF orientations 5-8 are turned a quarter.
    if _orientation(image) in (5, 6, 7, 8):
        return ImageInfo(kind, image.height, image.width)
    return ImageInfo(kind, image.width, image.height)


def _orientation(image: pyvips.Image) -> int:
    return image.get("orientation") if image.get_typeof("orientation") else 1


def render(source: Path, plan: SizingPlan, target: Path, *, quality: int = 92,
           thumbnail_target: Path | None = None, thumbnail_side: int = 400) -> None:
    """Write `plan` applied to `source` as an sRGB JPEG of exactly `plan.canvas` pixels, and
    optionally a thumbnail of it made from the same pixels (no second decode)."""
    # Random access measured faster than sequential here for crop-then-resize (bench/print_file.py)
    # and stays inside a worker's memory budget for a 4800x6000 print.
    image = pyvips.Image.new_from_file(str(source), access="random", fail=True).autorot()
    if image.hasalpha():
        image = image.flatten(background=[255, 255, 255])
    if image.interpretation not in ("srgb", "b-w"):
        image = image.colourspace("srgb")
    crop = plan.crop
    width, height = plan.resized
    if plan.rotate:
        # The plan's boxes are in the turned image. Crop and resize the source in its own
        # orientation and turn only the result: turning the full-size source first cost a
        # third of a 6x4 print's time (bench/pipeline.py). libvips turns clockwise, so the
        # turned box (l, t, w, h) is the source box (t, H - l - w, h, w).
        left, top, crop_width, crop_height = crop.top, image.height - crop.left - crop.width, crop.height, crop.width
        width, height = height, width
    else:
        left, top, crop_width, crop_height = crop.left, crop.top, crop.width, crop.height
    if (left, top, crop_width, crop_height) != (0, 0, image.width, image.height):
        image = image.crop(left, top, crop_width, crop_height)
    image = image.resize(width / image.width, vscale=height / image.height, kernel="lanczos3")
    # Rounding inside resize can leave a pixel over or under; the print area must be exact.
    if (image.width, image.height) != (width, height):
        image = image.gravity("centre", width, height, extend="copy")
    if plan.rotate:
        image = image.rot90()
    if plan.canvas != plan.resized or plan.offset != (0, 0):
        fill = [255] * image.bands
        image = image.embed(plan.offset[0], plan.offset[1], plan.canvas[0], plan.canvas[1], background=fill)
    in_memory = thumbnail_target is not None and image.width * image.height <= THUMBNAIL_FROM_MEMORY_PIXELS
    if in_memory:
        image = image.copy_memory()  # so the print file and its thumbnail share one computation
        small = image.thumbnail_image(thumbnail_side, height=thumbnail_side, size="down")
        small.jpegsave(str(thumbnail_target), Q=80, strip=True)
    image.jpegsave(str(target), Q=quality, strip=True)
    if thumbnail_target is not None and not in_memory:
        thumbnail(target, thumbnail_target, thumbnail_side)


def thumbnail(source: Path, target: Path, longest_side: int = 400) -> None:
    image = pyvips.Image.thumbnail(str(source), longest_side, height=longest_side, size="down")
    if image.hasalpha():
        image = image.flatten(background=[255, 255, 255])
    image.jpegsave(str(target), Q=80, strip=True)

