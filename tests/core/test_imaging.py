"""Print-ready files from real pixels: exact size, the expected crop, padding and rotation."""

from __future__ import annotations

import pyvips
import pytest

from printwork.core.assets.geometry import FILL, FIT, STRETCH, plan
from printwork.core.assets.imaging import UnusableImage, inspect, render, sniff, thumbnail

RED, GREEN, BLUE, WHITE = [255, 0, 0], [0, 160, 0], [0, 0, 255], [255, 255, 255]


def banded(path, width, height, horizontal=True):
    """Three bands: red, green, blue — left to right (or top to bottom)."""
    third = (width if horizontal else height) // 3
    image = pyvips.Image.black(width, height, bands=3).copy(interpretation="srgb")
    for index, colour in enumerate((RED, GREEN, BLUE)):
        size = (third, height) if horizontal else (width, third)
        block = (pyvips.Image.black(*size, bands=3) + colour).cast("uchar")
        image = image.insert(block, index * third if horizontal else 0, 0 if horizontal else index * third)
    image.write_to_file(str(path))
    return path


def pixel(path, x, y):
    return [round(v) for v in pyvips.Image.new_from_file(str(path))(x, y)]


def near(actual, expected, tolerance=40):
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected))


def test_fill_crops_the_edges_away(tmp_path):
    source = banded(tmp_path / "s.png", 300, 100)
    out = tmp_path / "o.jpg"
    render(source, plan(300, 100, 100, 100, FILL), out)
    image = pyvips.Image.new_from_file(str(out))
    assert (image.width, image.height) == (100, 100)
    assert near(pixel(out, 5, 50), GREEN) and near(pixel(out, 95, 50), GREEN)


def test_fit_keeps_everything_and_pads_with_white(tmp_path):
    source = banded(tmp_path / "s.png", 300, 100)
    out = tmp_path / "o.jpg"
    render(source, plan(300, 100, 300, 300, FIT), out)
    image = pyvips.Image.new_from_file(str(out))
    assert (image.width, image.height) == (300, 300)
    assert near(pixel(out, 150, 10), WHITE) and near(pixel(out, 150, 290), WHITE)
    assert near(pixel(out, 10, 150), RED) and near(pixel(out, 290, 150), BLUE)


def test_stretch_fills_the_area_with_everything(tmp_path):
    source = banded(tmp_path / "s.png", 300, 100)
    out = tmp_path / "o.jpg"
    render(source, plan(300, 100, 90, 90, STRETCH), out)
    assert near(pixel(out, 5, 45), RED) and near(pixel(out, 45, 45), GREEN) and near(pixel(out, 85, 45), BLUE)


def test_a_portrait_photo_is_turned_for_a_landscape_print(tmp_path):
    source = banded(tmp_path / "s.png", 100, 300, horizontal=False)  # red top, blue bottom
    out = tmp_path / "o.jpg"
    p = plan(100, 300, 300, 100, FILL)
    assert p.rotate
    render(source, p, out)
    image = pyvips.Image.new_from_file(str(out))
    assert (image.width, image.height) == (300, 100)
    # Turned clockwise: what was the top (red) is now on the right.
    assert near(pixel(out, 290, 50), RED) and near(pixel(out, 10, 50), BLUE)


@pytest.mark.parametrize("sizing", [FILL, FIT, STRETCH])
@pytest.mark.parametrize("source_size, target", [((640, 480), (1800, 1200)), ((3000, 2400), (1200, 1800)), ((997, 1013), (401, 299))])
def test_every_mode_makes_the_exact_size(tmp_path, sizing, source_size, target):
    source = tmp_path / "s.jpg"
    pyvips.Image.gaussnoise(*source_size).cast("uchar").bandjoin([128, 64]).copy(interpretation="srgb").write_to_file(str(source))
    out = tmp_path / "o.jpg"
    render(source, plan(*source_size, *target, sizing), out)
    image = pyvips.Image.new_from_file(str(out))
    assert (image.width, image.height) == target and image.bands == 3


def test_transparency_becomes_white(tmp_path):
    source = tmp_path / "a.png"
    (pyvips.Image.black(50, 50, bands=4) + [0, 0, 0, 0]).cast("uchar").copy(interpretation="srgb").write_to_file(str(source))
    out = tmp_path / "o.jpg"
    render(source, plan(50, 50, 50, 50, FILL), out)
    assert near(pixel(out, 25, 25), WHITE)


def test_inspect_reads_the_header(tmp_path):
    source = banded(tmp_path / "s.png", 300, 100)
    info = inspect(source)
    assert (info.format, info.width, info.height) == ("png", 300, 100)


def test_a_pixel_bomb_is_refused_before_decoding(tmp_path):
    bomb = tmp_path / "bomb.png"
    pyvips.Image.black(45_000, 1).write_to_file(str(bomb))  # tiny file, absurd size
    assert bomb.stat().st_size < 10_000
    with pytest.raises(UnusableImage, match="45000x1 pixels"):
        inspect(bomb)


@pytest.mark.parametrize("content, message", [
    (b"GIF89a....", "not a JPEG, PNG, TIFF or PDF"),
    (b"<html>not an image</html>", "not a JPEG, PNG, TIFF or PDF"),
    (b"\xff\xd8\xff\xe0garbage", "cannot be read"),
    (b"%PDF-1.7\n", "PDF file cannot be used"),
])
def test_unusable_files_say_why(tmp_path, content, message):
    path = tmp_path / "file.bin"
    path.write_bytes(content)
    with pytest.raises(UnusableImage, match=message):
        inspect(path)


def test_a_pdf_is_accepted_where_the_product_takes_pdfs(tmp_path):
    path = tmp_path / "book.pdf"
    path.write_bytes(b"%PDF-1.7\n%...")
    assert inspect(path, frozenset({"pdf"})).format == "pdf"


def test_sniff_ignores_names_and_reads_bytes():
    assert sniff(b"\x89PNG\r\n\x1a\nrest") == "png"
    assert sniff(b"II*\x00rest") == sniff(b"MM\x00*rest") == "tiff"
    assert sniff(b"") is None


def test_thumbnail_is_small(tmp_path):
    source = banded(tmp_path / "s.png", 3000, 1000)
    out = tmp_path / "t.jpg"
    thumbnail(source, out)
    image = pyvips.Image.new_from_file(str(out))
    assert max(image.width, image.height) == 400


def test_exif_orientation_is_honoured(tmp_path):
    # Stored landscape (red left, blue right) but tagged "rotate 90 clockwise to view" (6).
    stored = tmp_path / "stored.png"
    banded(stored, 300, 100)
    tagged = tmp_path / "tagged.jpg"
    image = pyvips.Image.new_from_file(str(stored)).copy()
    image.set_type(pyvips.GValue.gint_type, "orientation", 6)
    image.jpegsave(str(tagged), Q=95)
    info = inspect(tagged)
    assert (info.width, info.height) == (100, 300)  # as it is meant to be seen: portrait
    out = tmp_path / "o.jpg"
    render(tagged, plan(info.width, info.height, 100, 300, STRETCH), out)
    assert near(pixel(out, 50, 10), RED) and near(pixel(out, 50, 290), BLUE)


def test_the_pixel_budget_lets_big_sources_wait_their_turn():
    import threading
    import time

    from printwork.core.assets.imaging import PixelBudget

    budget = PixelBudget(10)
    order: list[str] = []

    def second():
        with budget.held(8_000_000):
            order.append("second")

    with budget.held(8_000_000):
        waiter = threading.Thread(target=second)
        waiter.start()
        time.sleep(0.1)
        order.append("first done")
    waiter.join(timeout=5)
    assert order == ["first done", "second"]
    with budget.held(50_000_000):  # larger than the whole budget: runs, alone
        pass
