"""Small server-rendered SVG charts (no chart library, no CDN): each has a title and a text
alternative, so a screen reader hears the figures a sighted user sees."""

from __future__ import annotations

from datetime import date
from html import escape

WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 560, 180, 40, 24, 10
# Distinguishable for common colour blindness, and dark enough against white (WCAG non-text 3:1).
PALETTE = ("#1f5fa8", "#b35806", "#2d7d46", "#7b3294", "#a50f15")


def _frame(label: str, body: list[str], legend: list[tuple[str, str]]) -> str:
    items = "".join(f'<li><span class="swatch" data-colour="{n}"></span>{escape(name)}</li>'
                    for n, (name, _colour) in enumerate(legend))
    svg = (f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(label)}" '
           f'xmlns="http://www.w3.org/2000/svg"><title>{escape(label)}</title>{"".join(body)}</svg>')
    return svg + (f'<ul class="legend">{items}</ul>' if legend else "")


def _axis(days: list[date], top: float, unit: str) -> list[str]:
    plot_height = HEIGHT - PAD_BOTTOM - PAD_TOP
    parts = [f'<line x1="{PAD_LEFT}" y1="{HEIGHT - PAD_BOTTOM}" x2="{WIDTH}" y2="{HEIGHT - PAD_BOTTOM}" '
             'stroke="#555"/>',
             f'<text x="{PAD_LEFT - 4}" y="{PAD_TOP + 8}" text-anchor="end" font-size="10" fill="#333">'
             f'{escape(_short(top))}</text>',
             f'<text x="{PAD_LEFT - 4}" y="{HEIGHT - PAD_BOTTOM}" text-anchor="end" font-size="10" fill="#333">0</text>',
             f'<text x="4" y="{PAD_TOP + plot_height / 2}" font-size="10" fill="#333">{escape(unit)}</text>']
    step = (WIDTH - PAD_LEFT) / max(len(days), 1)
    for n, day in enumerate(days):
        if n % 2 == 0:
            parts.append(f'<text x="{PAD_LEFT + step * n + step / 2:.1f}" y="{HEIGHT - 8}" text-anchor="middle" '
                         f'font-size="9" fill="#333">{day:%d %b}</text>')
    return parts


def _short(value: float) -> str:
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


def stacked_bars(days: list[date], series: dict[str, list[int]], unit: str) -> str:
    totals = [sum(values[n] for values in series.values()) for n in range(len(days))]
    top = max(totals + [1])
    plot_height = HEIGHT - PAD_BOTTOM - PAD_TOP
    step = (WIDTH - PAD_LEFT) / max(len(days), 1)
    body = _axis(days, top, unit)
    names = sorted(series)
    for n, day in enumerate(days):
        y = HEIGHT - PAD_BOTTOM
        for index, name in enumerate(names):
            value = series[name][n]
            if not value:
                continue
            height = plot_height * value / top
            y -= height
            body.append(f'<rect x="{PAD_LEFT + step * n + 2:.1f}" y="{y:.1f}" width="{max(step - 4, 1):.1f}" '
                        f'height="{height:.1f}" fill="{PALETTE[index % len(PALETTE)]}">'
                        f'<title>{day:%d %b}: {value} {escape(name)}</title></rect>')
    label = f"{unit} per day: " + ", ".join(f"{day:%d %b} {total}" for day, total in zip(days, totals, strict=True))
    return _frame(label, body, [(name, PALETTE[i % len(PALETTE)]) for i, name in enumerate(names)])


def line(days: list[date], values: list[float | None], unit: str, fmt: str) -> str:
    known = [v for v in values if v is not None]
    top = max(known + [1.0])
    plot_height = HEIGHT - PAD_BOTTOM - PAD_TOP
    step = (WIDTH - PAD_LEFT) / max(len(days), 1)
    body = _axis(days, top, unit)
    points = []
    for n, value in enumerate(values):
        if value is None:
            continue
        x = PAD_LEFT + step * n + step / 2
        y = HEIGHT - PAD_BOTTOM - plot_height * value / top
        points.append(f"{x:.1f},{y:.1f}")
        body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{PALETTE[0]}">'
                    f'<title>{days[n]:%d %b}: {escape(fmt.format(value))}</title></circle>')
    if len(points) > 1:
        body.insert(len(body) - len(points), f'<polyline points="{" ".join(points)}" fill="none" '
                    f'stroke="{PALETTE[0]}" stroke-width="2"/>')
    label = ", ".join(f"{day:%d %b} {fmt.format(v)}" for day, v in zip(days, values, strict=True) if v is not None)
    return _frame(label or "no figures yet", body, [])
