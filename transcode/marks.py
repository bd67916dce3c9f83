"""Checks that a screener's per-recipient mark is really in the picture.

Like the AI label check (``runner.verify_labels``): the frame nearest ``at`` seconds is
decoded from the output and rendered from the source through the same scaling without
overlays; the mark's box (where the moving mark is at that time) must differ clearly
from the clean render, and the rest of the frame must not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from transcode.domain import (
    BuildOptions,
    _label_reference,
    _printable,
    _scale_mode,
    _text_width,
    build_frame_grab,
    fit_geometry,
)
from transcode.probe import ProbeError, probe
from transcode.profiles import Profile
from transcode.runner import _grab


@dataclass(frozen=True)
class MarkReport:
    ok: bool
    inside: float  # % of the mark's box that differs clearly from the clean frame
    outside: float  # the same over the rest of the frame
    box: tuple[int, int, int, int]
    detail: str = ""


def watermark_box(text: str, profile: Profile, width: int, height: int,
                  at: float) -> tuple[int, int, int, int]:
    """Where the mark is drawn at ``at`` seconds (x, y, w, h), padded for the estimate
    of the text's width and for a frame's worth of movement."""
    spec = profile.watermark
    size = max(10, math.ceil(min(width, height) * spec.size_pct / 100))
    shown = _printable(text) + ("  00:00:00.000" if spec.show_time else "")
    tw = min(width, _text_width(shown, size))
    th = min(height, math.ceil(size * 1.3))
    px, py = spec.period_seconds, round(spec.period_seconds * 1.37, 2)
    x = (width - tw) * abs(math.fmod(at / px, 2) - 1)
    y = (height - th) * abs(math.fmod(at / py, 2) - 1)
    pad = max(4, size // 2)
    left, top = max(0, int(x) - pad), max(0, int(y) - pad)
    return left, top, min(width - left, tw + 2 * pad), min(height - top, th + 2 * pad)


def verify_watermark(output: str, source: str, profile: Profile, text: str,
                     at: float = 0.5) -> MarkReport:
    """Whether ``output`` (made from ``source`` with ``profile``) shows the mark."""
    try:
        info = probe(source)
    except ProbeError as exc:
        return MarkReport(False, 0.0, 0.0, (0, 0, 0, 0), f"cannot read the source: {exc}")
    canvas = (profile.video.width, profile.video.height)
    geometry = fit_geometry(info.display_width, info.display_height, canvas[0], canvas[1],
                            _scale_mode(profile, info, canvas, []))
    rate = profile.video.fps or info.frame_rate
    resample = info.vfr or rate != info.frame_rate
    frame = round(min(at, max(0.0, info.duration / 2)) * rate)
    at = float(frame / rate)  # the mark moves with the frame's time
    reference = _label_reference(frame, info, source, rate, resample, geometry, BuildOptions())
    w, h = geometry.out_w, geometry.out_h
    shown, clean = _grab((build_frame_grab(output, frame, w, h), reference), w * h)
    box = watermark_box(text, profile, w, h, at)
    if shown is None or clean is None:
        return MarkReport(False, 0.0, 0.0, box, "could not decode the frame to check the mark")
    inside, outside = _changed_share(shown, clean, w, h, box)
    # Compression changes few pixels by much; the mark's glyphs change a good share of
    # its box by much. Shares in percent.
    ok = inside >= 3 and inside >= 4 * outside + 1
    detail = "" if ok else (f"mark not found at {at:g} s ({inside:.1f}% of its box changed, "
                            f"{outside:.1f}% of the rest)")
    return MarkReport(ok, inside, outside, box, detail)


def _changed_share(a: bytes, b: bytes, width: int, height: int,
                   box: tuple[int, int, int, int], threshold: int = 24) -> tuple[float, float]:
    """Percent of pixels whose luma changed by more than ``threshold`` inside ``box``
    and (sampled) outside it."""
    x, y, w, h = box
    changed = total = 0
    for row in range(y, min(height, y + h)):
        start = row * width + x
        for p, q in zip(a[start:start + w], b[start:start + w], strict=True):
            changed += abs(p - q) > threshold
            total += 1
    out_changed = out_total = 0
    for row in range(0, height, 3):
        offset = row * width
        for col in range(0, width, 3):
            if y <= row < y + h and x <= col < x + w:
                continue
            out_changed += abs(a[offset + col] - b[offset + col]) > threshold
            out_total += 1
    return 100 * changed / max(1, total), 100 * out_changed / max(1, out_total)
