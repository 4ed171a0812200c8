"""Sizing geometry: exact print sizes, central crops, centred padding, rotation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from printwork.core.assets.geometry import FILL, FIT, STRETCH, Box, plan

sizes = st.integers(min_value=1, max_value=12000)


def test_the_documents_rotation_example():
    # "if you are creating a 10 x 15 photo, and upload an image that is 4500px x 3000px, then
    # [it is flipped] so it is 3000px x 4500px and thus fits the photo perfectly"
    p = plan(4500, 3000, 3000, 4500, FILL)
    assert p.rotate is True
    assert p.crop == Box(0, 0, 3000, 4500)


def test_fill_crops_centrally():
    p = plan(3000, 2000, 1000, 1000, FILL)
    assert p.rotate is False
    assert p.crop == Box(500, 0, 2500, 2000)
    assert p.resized == p.canvas == (1000, 1000) and p.offset == (0, 0)
    tall = plan(2000, 3000, 1000, 1000, FILL)
    assert tall.crop == Box(0, 500, 2000, 2500)


def test_fit_pads_centrally_with_the_whole_image():
    p = plan(3000, 2000, 1000, 1000, FIT)
    assert p.crop == Box(0, 0, 3000, 2000)
    assert p.resized == (1000, 667) and p.offset == (0, 166) and p.canvas == (1000, 1000)


def test_stretch_uses_everything_at_the_exact_size():
    p = plan(3000, 2000, 1000, 1000, STRETCH)
    assert p.crop == Box(0, 0, 3000, 2000) and p.resized == (1000, 1000)


@pytest.mark.parametrize("sizing", [FILL, FIT, STRETCH])
def test_a_landscape_image_on_a_portrait_area_is_turned(sizing):
    assert plan(3000, 2400, 1200, 1800, sizing).rotate is True
    assert plan(2400, 3000, 1200, 1800, sizing).rotate is False


@pytest.mark.parametrize("sizing", [FILL, FIT, STRETCH])
def test_square_images_and_areas_are_never_turned(sizing):
    assert plan(3000, 3000, 1200, 1800, sizing).rotate is False
    assert plan(3000, 2000, 1500, 1500, sizing).rotate is False


def test_unknown_sizing_and_empty_sizes_are_refused():
    with pytest.raises(ValueError):
        plan(10, 10, 10, 10, "squash")
    with pytest.raises(ValueError):
        plan(0, 10, 10, 10, FILL)


@given(sizes, sizes, sizes, sizes, st.sampled_from([FILL, FIT, STRETCH]))
def test_every_plan_makes_exactly_the_print_area(w, h, tw, th, sizing):
    p = plan(w, h, tw, th, sizing)
    source_w, source_h = (h, w) if p.rotate else (w, h)
    assert p.canvas == (tw, th)
    assert 0 <= p.crop.left < p.crop.right <= source_w and 0 <= p.crop.top < p.crop.bottom <= source_h
    assert 1 <= p.resized[0] <= tw and 1 <= p.resized[1] <= th
    assert p.offset[0] + p.resized[0] <= tw and p.offset[1] + p.resized[1] <= th
    if sizing in (FILL, STRETCH):
        assert p.resized == (tw, th) and p.offset == (0, 0)
    if sizing == FILL:
        # The crop has the area's aspect ratio, to within a pixel of rounding, and is centred.
        assert abs(p.crop.width * th - p.crop.height * tw) <= max(tw, th)
        assert abs(p.crop.left - (source_w - p.crop.right)) <= 1 and abs(p.crop.top - (source_h - p.crop.bottom)) <= 1
    if sizing == FIT:
        assert p.crop == Box(0, 0, source_w, source_h)
        # The image touches two opposite edges of the area (within rounding) and is centred.
        assert p.resized[0] >= tw - 1 or p.resized[1] >= th - 1
        assert abs(p.offset[0] - (tw - p.offset[0] - p.resized[0])) <= 1
