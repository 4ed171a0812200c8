"""Preparing one print file: Printwork's step against a bare crop-resize-save, same run.

Run by hand:  .venv/bin/python bench/print_file.py   (needs Pillow for the Pillow yardstick:
.venv/bin/pip install pillow). Source: a 3000x2400 JPEG with photographic noise. Printwork and bare
pyvips run alternately, 15 times each after a warm-up, and the medians are compared; memory is the peak RSS of a fresh process that prepares
one 4800x6000 print.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyvips

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from printwork.core.assets.geometry import FILL, plan  # noqa: E402
from printwork.core.assets.imaging import inspect, render  # noqa: E402

SIZES = {"6x4in photo (1800x1200)": (1800, 1200), "16x20in canvas (4800x6000)": (4800, 6000)}


def make_source(path: Path) -> None:
    noise = [pyvips.Image.gaussnoise(3000, 2400, mean=m, sigma=s) for m, s in ((128, 40), (100, 30), (90, 50))]
    image = noise[0].bandjoin(noise[1:]).cast("uchar").gaussblur(1.2).copy(interpretation="srgb")
    image.write_to_file(str(path), Q=90)


def bare_pyvips(source: Path, target: Path, size: tuple[int, int]) -> None:
    image = pyvips.Image.new_from_file(str(source))
    p = plan(image.width, image.height, *size, FILL)
    if p.rotate:
        image = image.rot90()
    image = image.crop(p.crop.left, p.crop.top, p.crop.width, p.crop.height)
    image = image.resize(size[0] / image.width, vscale=size[1] / image.height, kernel="lanczos3")
    image.jpegsave(str(target), Q=92)


def bare_pillow(source: Path, target: Path, size: tuple[int, int]) -> None:
    from PIL import Image

    with Image.open(source) as image:
        p = plan(image.width, image.height, *size, FILL)
        if p.rotate:
            image = image.transpose(Image.Transpose.ROTATE_270)
        image = image.crop((p.crop.left, p.crop.top, p.crop.right, p.crop.bottom)).resize(size, Image.LANCZOS)
        image.save(target, "JPEG", quality=92)


def printwork(source: Path, target: Path, size: tuple[int, int]) -> None:
    info = inspect(source)
    render(source, plan(info.width, info.height, *size, FILL), target)


def timed(fn, *args) -> float:
    fn(*args)
    runs = []
    for _ in range(7):
        start = time.perf_counter()
        fn(*args)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs) * 1000


def timed_pair(first, second, rounds: int = 15) -> tuple[float, float]:
    """Medians of the two, run alternately, so the machine's swings in speed hit both alike."""
    first[0](*first[1:])
    second[0](*second[1:])
    a, b = [], []
    for _ in range(rounds):
        for runs, (fn, *args) in ((a, first), (b, second)):
            start = time.perf_counter()
            fn(*args)
            runs.append(time.perf_counter() - start)
    return statistics.median(a) * 1000, statistics.median(b) * 1000


def peak_memory_mb(source: Path, target: Path) -> float:
    code = (
        "import resource,sys; sys.path.insert(0,'src');"
        "from printwork.core.assets.geometry import plan, FILL; from printwork.core.assets.imaging import inspect, render;"
        f"i=inspect(__import__('pathlib').Path('{source}'));"
        f"render(__import__('pathlib').Path('{source}'), plan(i.width,i.height,4800,6000,FILL), __import__('pathlib').Path('{target}'));"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path(__file__).parents[1])
    return float(out.stdout.strip())


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="printwork-printfile-"))
    source = work / "source.jpg"
    make_source(source)
    try:
        import PIL  # noqa: F401

        have_pillow = True
    except ImportError:
        have_pillow = False
    print("| print | Printwork ms | bare pyvips ms | overhead | bare Pillow ms |")
    print("|---|---|---|---|---|")
    for label, size in SIZES.items():
        ours, vips = timed_pair((printwork, source, work / "ours.jpg", size),
                                (bare_pyvips, source, work / "vips.jpg", size))
        pil = f"{timed(bare_pillow, source, work / 'pil.jpg', size):.0f}" if have_pillow else "n/a"
        print(f"| {label} | {ours:.0f} | {vips:.0f} | {ours / vips - 1:+.0%} | {pil} |")
    print(f"\nPeak RSS of a process preparing one 4800x6000 print: {peak_memory_mb(source, work / 'big.jpg'):.0f} MB")


if __name__ == "__main__":
    main()
