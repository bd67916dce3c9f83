"""What a media file is, according to ffprobe.

:func:`probe` runs ffprobe (JSON output) on a source and returns a :class:`ProbeInfo`,
or raises :class:`ProbeError` with a reason a producer can act on (empty file, not a
video, truncated upload). :func:`parse` is the pure half, so the interpretation is
tested on canned JSON without running ffprobe.
"""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

FFPROBE = "ffprobe"

#: Frame rates a VFR source is snapped to when it is converted to CFR.
STANDARD_RATES = tuple(
    Fraction(r) for r in ("24000/1001", "24", "25", "30000/1001", "30", "50", "60000/1001", "60")
)
_STILL_FORMATS = {"image2", "png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe", "tiff_pipe", "gif"}
_STILL_CODECS = {"png", "mjpeg", "webp", "bmp", "tiff", "gif"}
#: ISO BMFF ``uuid`` box type under which C2PA stores its manifest store (C2PA spec 2.x, A.5).
C2PA_UUID = bytes.fromhex("d8fec3d61b0e483c92975828877ec481")


class ProbeError(Exception):
    """The file cannot be used as a video source; ``str(exc)`` says why."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{os.path.basename(path)}: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True)
class AudioStream:
    index: int  # ffprobe's stream index in the file
    codec: str
    sample_rate: int
    channels: int
    channel_layout: str | None = None
    language: str | None = None
    duration: float | None = None


@dataclass(frozen=True)
class ProbeInfo:
    """A video source as ffprobe sees it. ``width``/``height`` are as stored;
    ``display_width``/``display_height`` apply rotation and pixel aspect, which is
    what ffmpeg's filters receive (ffmpeg autorotates)."""

    path: str
    container: str  # ffprobe format_name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    duration: float  # of the video stream when known, else of the file
    size: int
    video_codec: str
    width: int
    height: int
    rotation: int  # degrees, 0/90/180/270
    sample_aspect: Fraction
    r_frame_rate: Fraction
    avg_frame_rate: Fraction
    pix_fmt: str
    bit_depth: int
    video_profile: str | None = None
    color_space: str | None = None
    audio: tuple[AudioStream, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)  # container-level metadata
    c2pa: bool = False  # a C2PA manifest store box is present

    @property
    def display_size(self) -> tuple[int, int]:
        """Width and height as displayed: pixel aspect applied, then rotation."""
        w, h = round(self.width * self.sample_aspect), self.height
        return (h, w) if self.rotation in (90, 270) else (w, h)

    @property
    def display_width(self) -> int:
        return self.display_size[0]

    @property
    def display_height(self) -> int:
        return self.display_size[1]

    @property
    def landscape(self) -> bool:
        return self.display_width > self.display_height

    @property
    def vfr(self) -> bool:
        """Variable frame rate: the nominal and average rates disagree by more than 0.2%
        (container rounding of a constant rate stays well below that)."""
        r, a = self.r_frame_rate, self.avg_frame_rate
        if r <= 0 or a <= 0:
            return r != a
        return abs(r - a) / r > Fraction(2, 1000)

    @property
    def frame_rate(self) -> Fraction:
        """The constant rate to encode at when the profile keeps the source rate.

        CFR: the nominal rate. VFR (phone footage, screen captures): the average
        snapped to a standard rate; if the average is nowhere near one, the nominal
        rate when that is standard (it is the finest rate the timestamps use, so no
        motion is lost), else the average itself.
        """
        r, a = self.r_frame_rate, self.avg_frame_rate
        if not self.vfr and r > 0:
            return r
        for candidate in (a, r):
            if candidate > 0 and snap_rate(candidate) in STANDARD_RATES:
                return snap_rate(candidate)
        return snap_rate(a or r)

    @property
    def has_audio(self) -> bool:
        return bool(self.audio)

    @property
    def aigc(self) -> dict[str, Any] | None:
        """The implicit AI label (``AIGC`` tag, JSON) if the file carries one."""
        raw = next((v for k, v in self.tags.items() if k.lower() == "aigc"), None)
        if raw is None:
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None


def snap_rate(rate: Fraction) -> Fraction:
    """The standard frame rate within 3% of ``rate``, else ``rate`` rounded to 1/1000."""
    if rate <= 0:
        return Fraction(30)
    best = min(STANDARD_RATES, key=lambda s: abs(s - rate))
    if abs(best - rate) / best <= Fraction(3, 100):
        return best
    return Fraction(round(rate * 1000), 1000)


def ffprobe(path: str, timeout: float = 30.0) -> dict[str, Any]:
    """ffprobe's JSON (format and streams) for any media file; :class:`ProbeError`
    if the file is missing, empty or not readable as media."""
    if not os.path.exists(path):
        raise ProbeError(path, "file not found")
    if os.path.isfile(path) and os.path.getsize(path) == 0:
        raise ProbeError(path, "empty file (0 bytes)")
    cmd = [FFPROBE, "-v", "error", "-print_format", "json", "-show_format", "-show_streams", path]
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired:
        raise ProbeError(path, f"ffprobe did not answer within {timeout:g} s") from None
    stderr = done.stderr.decode("utf-8", "replace").strip()
    if done.returncode != 0:
        last = stderr.splitlines()[-1] if stderr else f"ffprobe exit status {done.returncode}"
        raise ProbeError(path, f"not a readable media file ({last.removeprefix(path + ': ')})")
    try:
        return json.loads(done.stdout)
    except ValueError:
        raise ProbeError(path, "ffprobe returned unreadable output") from None


def probe(path: str, timeout: float = 30.0) -> ProbeInfo:
    """Probe a video source. Raises :class:`ProbeError` for a missing, empty,
    truncated or non-video file (audio only, still image, text)."""
    data = ffprobe(path, timeout)
    with open(path, "rb") as fh:
        boxes = scan_isobmff(fh, os.path.getsize(path))
    if boxes.truncated:
        raise ProbeError(path, f"truncated: {boxes.truncated}")
    return parse(data, path, c2pa=boxes.c2pa)


def parse(data: dict[str, Any], path: str, c2pa: bool = False) -> ProbeInfo:
    """Interpret ffprobe's JSON; pure (no I/O)."""
    fmt = data.get("format") or {}
    streams = data.get("streams") or []
    format_name = fmt.get("format_name", "")
    videos = [s for s in streams if s.get("codec_type") == "video"
              and not (s.get("disposition") or {}).get("attached_pic")]
    if not videos:
        kinds = sorted({s.get("codec_type", "?") for s in streams}) or ["no streams"]
        raise ProbeError(path, f"not a video: no video stream ({', '.join(kinds)})")
    v = videos[0]
    if format_name in _STILL_FORMATS or (v.get("codec_name") in _STILL_CODECS and _float(fmt.get("duration")) is None):
        raise ProbeError(path, f"not a video: a still image ({v.get('codec_name')})")
    duration = _float(v.get("duration")) or _float(fmt.get("duration"))
    if not duration or duration <= 0:
        raise ProbeError(path, "no duration: the file may be a fragment or corrupt")
    width, height = int(v.get("width") or 0), int(v.get("height") or 0)
    if width <= 0 or height <= 0:
        raise ProbeError(path, "video stream has no picture size")
    pix_fmt = v.get("pix_fmt") or "unknown"
    audio = tuple(
        AudioStream(
            index=int(s["index"]),
            codec=s.get("codec_name", "unknown"),
            sample_rate=int(s.get("sample_rate") or 0),
            channels=int(s.get("channels") or 0),
            channel_layout=s.get("channel_layout"),
            language=(s.get("tags") or {}).get("language"),
            duration=_float(s.get("duration")),
        )
        for s in streams
        if s.get("codec_type") == "audio"
    )
    return ProbeInfo(
        path=path,
        container=format_name,
        duration=duration,
        size=int(fmt.get("size") or 0),
        video_codec=v.get("codec_name", "unknown"),
        width=width,
        height=height,
        rotation=_rotation(v),
        sample_aspect=_ratio(v.get("sample_aspect_ratio"), default=Fraction(1)),
        r_frame_rate=_ratio(v.get("r_frame_rate")),
        avg_frame_rate=_ratio(v.get("avg_frame_rate")),
        pix_fmt=pix_fmt,
        bit_depth=_bit_depth(v, pix_fmt),
        video_profile=v.get("profile"),
        color_space=v.get("color_space"),
        audio=audio,
        tags={str(k): str(val) for k, val in (fmt.get("tags") or {}).items()},
        c2pa=c2pa,
    )


@dataclass(frozen=True)
class BoxScan:
    c2pa: bool = False
    truncated: str | None = None  # why the file looks cut short, if it does


def scan_isobmff(fh: Any, size: int) -> BoxScan:
    """Walk the top-level boxes of an MP4/MOV file (reads headers only).

    Finds a C2PA manifest box and a box that runs past the end of the file, the
    mark of an upload cut short (ffprobe happily reports the full duration of a
    faststart file whose media data is missing). Non-ISO files scan as clean.
    """
    pos, c2pa = 0, False
    while pos + 8 <= size:
        fh.seek(pos)
        header = fh.read(16)
        box_size, box_type = struct.unpack(">I4s", header[:8])
        if pos == 0 and box_type not in (b"ftyp", b"wide", b"free", b"mdat", b"moov", b"skip", b"pnot"):
            return BoxScan()  # not ISO BMFF
        header_len = 8
        if box_size == 1:
            if len(header) < 16:
                return BoxScan(c2pa, f"box '{box_type.decode('latin-1')}' header cut short at byte {pos}")
            box_size = struct.unpack(">Q", header[8:16])[0]
            header_len = 16
        elif box_size == 0:  # runs to the end of the file by definition
            box_size = size - pos
        if box_size < header_len:
            return BoxScan(c2pa, f"invalid box size {box_size} at byte {pos}")
        if box_type == b"uuid":
            fh.seek(pos + header_len)
            c2pa = c2pa or fh.read(16) == C2PA_UUID
        if pos + box_size > size:
            name = box_type.decode("latin-1")
            return BoxScan(c2pa, f"box '{name}' needs {pos + box_size} bytes but the file has {size}")
        pos += box_size
    return BoxScan(c2pa)


def _float(value: Any) -> float | None:
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if result == result else None  # NaN → None


def _ratio(value: Any, default: Fraction = Fraction(0)) -> Fraction:
    if not value or not isinstance(value, str):
        return default
    num, _, den = value.replace(":", "/").partition("/")
    try:
        n, d = int(num), int(den or 1)
    except ValueError:
        return default
    return Fraction(n, d) if d and n > 0 else default


def _rotation(stream: dict[str, Any]) -> int:
    rotation = None
    for side in stream.get("side_data_list") or []:
        if "rotation" in side:
            rotation = side["rotation"]
    if rotation is None:
        rotation = (stream.get("tags") or {}).get("rotate", 0)
    try:
        return int(round(float(rotation))) % 360
    except (TypeError, ValueError):
        return 0


def _bit_depth(stream: dict[str, Any], pix_fmt: str) -> int:
    raw = stream.get("bits_per_raw_sample")
    if raw and str(raw).isdigit():
        return int(raw)
    match = re.search(r"p(\d{2})(le|be)$", pix_fmt)
    return int(match.group(1)) if match else 8
