"""The reading-speed chart, drawn as inline SVG on the server (no JavaScript, no library).

One bar per event at its place in the episode (x: time, y: characters per second), bars
over the profile's limit in red, and the limit as a dashed line.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from localization.domain import ReadingSpeedPoint


def _clock(ms: int) -> str:
    seconds = ms // 1000
    return f"{seconds // 60}:{seconds % 60:02d}"


def reading_speed_svg(points: Sequence[ReadingSpeedPoint], *, width: int = 720,
                      height: int = 220, label: str = "characters per second",
                      limit_label: str = "limit") -> str:
    """An accessible SVG string (role="img" with a title) for ``points``."""
    pad_l, pad_r, pad_t, pad_b = 40, 12, 12, 28
    plot_w, plot_h = width - pad_l - pad_r, height - pad_t - pad_b
    if not points:
        return (f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
                f'aria-label="{escape(label)}"><text x="{width / 2}" y="{height / 2}" '
                'text-anchor="middle">—</text></svg>')
    limit = max(p.limit for p in points)
    end_ms = max(p.start_ms + max(p.duration_ms, 1) for p in points)
    top = max(max(p.chars_per_second for p in points), limit) * 1.15 or 1.0

    def x(ms: float) -> float:
        return pad_l + plot_w * ms / end_ms

    def y(cps: float) -> float:
        return pad_t + plot_h * (1 - min(cps, top) / top)

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(label)}</title>",
        f'<line x1="{pad_l}" y1="{pad_t + plot_h}" x2="{width - pad_r}" y2="{pad_t + plot_h}" '
        'stroke="#9aa1ad"/>',
        f'<line x1="{pad_l}" y1="{pad_t}" x2="{pad_l}" y2="{pad_t + plot_h}" stroke="#9aa1ad"/>',
    ]
    for frac in (0, 0.5, 1):
        value = top * frac
        parts.append(f'<text x="{pad_l - 4}" y="{y(value) + 4:.1f}" font-size="10" '
                     f'text-anchor="end" fill="#5d6677">{value:.0f}</text>')
    for frac in (0, 0.25, 0.5, 0.75, 1):
        ms = int(end_ms * frac)
        parts.append(f'<text x="{x(ms):.1f}" y="{height - 8}" font-size="10" '
                     f'text-anchor="middle" fill="#5d6677">{_clock(ms)}</text>')
    for p in points:
        over = p.chars_per_second > p.limit + 1e-9
        x0 = x(p.start_ms)
        w = max(plot_w * max(p.duration_ms, 1) / end_ms - 1, 1.5)
        y0 = y(p.chars_per_second)
        colour = "#b3261e" if over else "#16794c"
        parts.append(
            f'<rect class="{"over" if over else "ok"}" x="{x0:.1f}" y="{y0:.1f}" '
            f'width="{w:.1f}" height="{pad_t + plot_h - y0:.1f}" fill="{colour}" '
            f'data-event="{p.event_index}"><title>#{p.event_index} {_clock(p.start_ms)}: '
            f'{p.chars_per_second:g}/s</title></rect>')
    parts.append(f'<line class="limit" x1="{pad_l}" y1="{y(limit):.1f}" x2="{width - pad_r}" '
                 f'y2="{y(limit):.1f}" stroke="#c8102e" stroke-dasharray="5 4"/>')
    parts.append(f'<text x="{width - pad_r}" y="{y(limit) - 4:.1f}" font-size="11" '
                 f'text-anchor="end" fill="#c8102e">{escape(limit_label)} {limit:g}/s</text>')
    parts.append("</svg>")
    return "".join(parts)
