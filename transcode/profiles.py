"""Delivery profiles as data.

A :class:`Profile` says everything the graph builder needs to turn a master into one
buyer's deliverable: container, video and audio encoding, what to do with sources
that do not fit (landscape, no audio), subtitles, the screener watermark, the AI
labels and, for HLS, the ladder. Profiles are frozen dataclasses so they can be
shared and compared; :meth:`Profile.from_dict` / :meth:`Profile.to_dict` turn them
into JSON-ready dicts so buyers and admins can store their own, and every error
names the offending field (``video.gop_seconds: must be > 0``).

The numbers behind the built-ins are in DESIGN.md section 4.3.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction
from typing import Any


class ProfileError(ValueError):
    """A profile is invalid; ``field`` is the dotted path of the offending value."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


def _check(ok: bool, field: str, message: str) -> None:
    if not ok:
        raise ProfileError(field, message)


class Container(StrEnum):
    MP4 = "mp4"
    MOV = "mov"
    HLS = "hls"
    IMAGES = "images"  # a folder of JPEG stills (poster frame + thumbnails)


class ScaleMode(StrEnum):
    """How a source whose shape differs from the frame is fitted into it."""

    PAD = "pad"  # fit inside, fill the rest with black (letter/pillarbox)
    CROP = "crop"  # cover the frame, cut the overflow (centre)
    FIT = "fit"  # fit inside and keep the smaller size: the output may be narrower


class LandscapePolicy(StrEnum):
    """What a portrait profile does with a landscape source (likely the wrong file)."""

    PAD = "pad"
    CROP = "crop"
    REJECT = "reject"


class NoAudioPolicy(StrEnum):
    SILENCE = "silence"
    REJECT = "reject"


class SubtitleMode(StrEnum):
    NONE = "none"
    BURN = "burn"  # an ASS file rendered into the picture
    SIDECAR = "sidecar"  # WebVTT files delivered beside the video (HLS renditions)


class LabelPosition(StrEnum):
    TOP_LEFT = "top_left"
    TOP_RIGHT = "top_right"
    BOTTOM_LEFT = "bottom_left"
    BOTTOM_RIGHT = "bottom_right"


#: ffmpeg encoder per codec name; the codec name is also what ffprobe reports back.
VIDEO_ENCODERS = {"h264": "libx264", "hevc": "libx265", "prores": "prores_ks", "mjpeg": "mjpeg"}
AUDIO_ENCODERS = {"aac": "aac", "pcm_s16le": "pcm_s16le", "pcm_s24le": "pcm_s24le"}
_CODEC_PROFILES = {
    "h264": {"baseline", "main", "high"},
    "hevc": {"main"},
    "prores": {"proxy", "lt", "standard", "hq"},
    "mjpeg": set(),
}
_X26X_PRESETS = {
    "ultrafast", "superfast", "veryfast", "faster", "fast",
    "medium", "slow", "slower", "veryslow", "placebo",
}  # fmt: skip
_NAME = re.compile(r"^[a-z0-9][a-z0-9_]{0,39}$")


@dataclass(frozen=True)
class Loudness:
    """An integrated-loudness target for two-pass loudnorm (LUFS = LKFS)."""

    standard: str
    integrated: float
    true_peak: float
    #: loudnorm's LRA target; set wide so a drama's dynamics stay linear (loudnorm
    #: falls back to dynamic compression when the source range exceeds it).
    lra: float = 20.0
    tolerance: float = 1.0  # accepted |measured - target| of the delivered file, LU

    def __post_init__(self) -> None:
        _check(-70 <= self.integrated <= -5, "integrated", "must be between -70 and -5 LUFS")
        _check(-9 <= self.true_peak <= 0, "true_peak", "must be between -9 and 0 dBTP")
        _check(1 <= self.lra <= 50, "lra", "must be between 1 and 50 LU")
        _check(0 < self.tolerance <= 5, "tolerance", "must be > 0 and <= 5 LU")


EBU_R128 = Loudness("EBU R128", integrated=-23.0, true_peak=-1.0, tolerance=1.0)
ATSC_A85 = Loudness("ATSC A/85", integrated=-24.0, true_peak=-2.0, tolerance=2.0)
STREAMING = Loudness("streaming", integrated=-14.0, true_peak=-1.0, tolerance=1.0)
#: Named targets a stored profile may refer to instead of spelling out numbers.
LOUDNESS_PRESETS: dict[str, Loudness] = {
    "ebu_r128": EBU_R128,
    "atsc_a85": ATSC_A85,
    "streaming": STREAMING,
}


@dataclass(frozen=True)
class VideoSpec:
    """The encoded picture. ``width``×``height`` is the frame every source is fitted
    into; for HLS it is the canvas the rungs are scaled down from."""

    codec: str
    width: int
    height: int
    scale: ScaleMode = ScaleMode.PAD
    landscape: LandscapePolicy = LandscapePolicy.PAD
    profile: str | None = None  # h264 high/main/baseline, prores hq/standard/lt/proxy
    preset: str | None = None  # x264/x265 preset
    crf: int | None = None
    bitrate_kbps: int | None = None
    maxrate_kbps: int | None = None
    bufsize_kbps: int | None = None
    qscale: int | None = None  # mjpeg quality, 2 (best) .. 31
    fps: Fraction | None = None  # None = the source's rate (VFR sources become CFR)
    gop_seconds: Fraction | None = None
    gop_frames: int | None = None
    pix_fmt: str = "yuv420p"
    color: str = "bt709"

    def __post_init__(self) -> None:
        _check(self.codec in VIDEO_ENCODERS, "codec", f"must be one of {sorted(VIDEO_ENCODERS)}")
        for name in ("width", "height"):
            value = getattr(self, name)
            _check(16 <= value <= 8192 and value % 2 == 0, name, "must be an even number of pixels from 16 to 8192")
        allowed = _CODEC_PROFILES[self.codec]
        _check(self.profile is None or self.profile in allowed, "profile",
               f"must be one of {sorted(allowed)} for {self.codec}" if allowed else f"not used by {self.codec}")
        x26x = self.codec in ("h264", "hevc")
        _check(self.preset is None or (x26x and self.preset in _X26X_PRESETS), "preset",
               f"must be one of the x264/x265 presets: {sorted(_X26X_PRESETS)}" if x26x else f"not used by {self.codec}")
        if x26x:
            _check(self.crf is None or self.bitrate_kbps is None, "crf", "set crf or bitrate_kbps, not both")
            _check(self.crf is None or 0 <= self.crf <= 51, "crf", "must be between 0 and 51")
        else:
            for name in ("crf", "bitrate_kbps", "maxrate_kbps", "bufsize_kbps"):
                _check(getattr(self, name) is None, name, f"not used by {self.codec}")
        for name in ("bitrate_kbps", "maxrate_kbps", "bufsize_kbps"):
            value = getattr(self, name)
            _check(value is None or value > 0, name, "must be > 0")
        _check((self.maxrate_kbps is None) == (self.bufsize_kbps is None), "bufsize_kbps",
               "maxrate_kbps and bufsize_kbps go together")
        if self.codec == "mjpeg":
            _check(self.qscale is not None and 2 <= self.qscale <= 31, "qscale", "must be between 2 and 31 for mjpeg")
        else:
            _check(self.qscale is None, "qscale", f"not used by {self.codec}")
        _check(self.fps is None or 1 <= self.fps <= 120, "fps", "must be between 1 and 120")
        _check(self.gop_seconds is None or self.gop_frames is None, "gop_seconds",
               "set gop_seconds or gop_frames, not both")
        _check(self.gop_seconds is None or 0 < self.gop_seconds <= 20, "gop_seconds", "must be > 0 and <= 20")
        _check(self.gop_frames is None or 1 <= self.gop_frames <= 1200, "gop_frames", "must be between 1 and 1200")
        expected_pix = {"prores": {"yuv422p10le"}, "mjpeg": {"yuvj420p"}}.get(self.codec)
        if expected_pix:
            _check(self.pix_fmt in expected_pix, "pix_fmt", f"must be {sorted(expected_pix)[0]} for {self.codec}")
        elif self.codec == "h264" and self.profile in ("high", "main", "baseline"):
            # 10-bit sources are converted: H.264 High is 8-bit 4:2:0 by definition.
            _check(self.pix_fmt == "yuv420p", "pix_fmt", f"must be yuv420p for H.264 {self.profile}")
        else:
            _check(self.pix_fmt in ("yuv420p", "yuv420p10le"), "pix_fmt", "must be yuv420p or yuv420p10le")
        _check(self.color == "bt709", "color", "only bt709 is supported")

    @property
    def encoder(self) -> str:
        return VIDEO_ENCODERS[self.codec]

    @property
    def portrait(self) -> bool:
        return self.height > self.width

    def gop_for(self, fps: Fraction) -> int | None:
        """GOP length in frames at ``fps`` (``None`` leaves it to the encoder)."""
        if self.gop_frames is not None:
            return self.gop_frames
        if self.gop_seconds is not None:
            return max(1, round(self.gop_seconds * fps))
        return None


@dataclass(frozen=True)
class AudioSpec:
    codec: str = "aac"
    sample_rate: int = 48000
    channels: int = 2
    bitrate_kbps: int | None = 192
    loudness: Loudness | None = None
    no_audio: NoAudioPolicy = NoAudioPolicy.SILENCE

    def __post_init__(self) -> None:
        _check(self.codec in AUDIO_ENCODERS, "codec", f"must be one of {sorted(AUDIO_ENCODERS)}")
        _check(self.sample_rate in (44100, 48000), "sample_rate", "must be 44100 or 48000")
        _check(self.channels in (1, 2), "channels", "must be 1 or 2")
        if self.codec == "aac":
            _check(self.bitrate_kbps is not None and 32 <= self.bitrate_kbps <= 512, "bitrate_kbps",
                   "must be between 32 and 512 for aac")
        else:
            _check(self.bitrate_kbps is None, "bitrate_kbps", "not used by PCM")

    @property
    def encoder(self) -> str:
        return AUDIO_ENCODERS[self.codec]


@dataclass(frozen=True)
class SubtitleSpec:
    mode: SubtitleMode = SubtitleMode.NONE
    language: str | None = None  # BCP-47 of the burned-in track, e.g. "zh-Hans"

    def __post_init__(self) -> None:
        _check(self.language is None or re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*", self.language) is not None,
               "language", "must be a BCP-47 tag such as zh-Hans or en")


@dataclass(frozen=True)
class WatermarkSpec:
    """The screener's per-recipient mark: organization + short id, moving about."""

    enabled: bool = False
    size_pct: float = 4.0  # font size as % of the frame's short side
    opacity: float = 0.4
    period_seconds: float = 23.0  # time to cross the frame; x and y use different periods
    show_time: bool = True  # append the playback time, so a leaked frame dates itself

    def __post_init__(self) -> None:
        _check(1 <= self.size_pct <= 20, "size_pct", "must be between 1 and 20")
        _check(0.05 <= self.opacity <= 1, "opacity", "must be between 0.05 and 1")
        _check(2 <= self.period_seconds <= 600, "period_seconds", "must be between 2 and 600")


@dataclass(frozen=True)
class AILabelSpec:
    """What the buyer's territory asks of AI-generated content (DESIGN.md 4.4)."""

    explicit: bool = False  # visible text at the start
    implicit: bool = True  # AIGC metadata in the container
    text: str = "AI生成"  # default text; the title's own label text overrides it
    seconds: float = 2.0
    min_size_pct: float = 5.0  # glyph height as % of the short side
    position: LabelPosition = LabelPosition.TOP_LEFT

    def __post_init__(self) -> None:
        _check(0 < len(self.text.strip()) <= 40, "text", "must be 1 to 40 characters")
        _check(0.5 <= self.seconds <= 60, "seconds", "must be between 0.5 and 60")
        _check(1 <= self.min_size_pct <= 20, "min_size_pct", "must be between 1 and 20")


@dataclass(frozen=True)
class HlsRung:
    width: int
    height: int
    video_kbps: int
    audio_kbps: int = 128

    def __post_init__(self) -> None:
        _check(self.width % 2 == 0 and self.height % 2 == 0 and self.width >= 16 and self.height >= 16,
               "width", "rung sizes must be even and at least 16")
        _check(50 <= self.video_kbps <= 50000, "video_kbps", "must be between 50 and 50000")
        _check(32 <= self.audio_kbps <= 320, "audio_kbps", "must be between 32 and 320")

    @property
    def name(self) -> str:
        return f"{self.width}x{self.height}_{self.video_kbps}k"


#: Apple's HLS authoring ladder (16:9) turned upright for 9:16.
APPLE_UPRIGHT_RUNGS: tuple[HlsRung, ...] = (
    HlsRung(234, 416, 145, 64),
    HlsRung(360, 640, 365, 96),
    HlsRung(432, 768, 730, 96),
    HlsRung(432, 768, 1100, 128),
    HlsRung(540, 960, 2000, 128),
    HlsRung(720, 1280, 3000, 128),
    HlsRung(720, 1280, 4500, 128),
    HlsRung(1080, 1920, 6000, 160),
    HlsRung(1080, 1920, 7800, 160),
)


@dataclass(frozen=True)
class HlsSpec:
    rungs: tuple[HlsRung, ...]
    segment_seconds: int = 6
    skip_upscale: bool = True  # drop rungs taller than the source (keeps at least one)
    peak_ratio: float = 1.1  # maxrate = video_kbps × this (Apple: peak ≤ 110% for VOD)

    def __post_init__(self) -> None:
        _check(len(self.rungs) >= 1, "rungs", "need at least one rung")
        names = [r.name for r in self.rungs]
        _check(len(set(names)) == len(names), "rungs", "two rungs have the same size and bitrate")
        _check(1 <= self.segment_seconds <= 20, "segment_seconds", "must be between 1 and 20")
        _check(1.0 <= self.peak_ratio <= 2.0, "peak_ratio", "must be between 1.0 and 2.0")


@dataclass(frozen=True)
class StillsSpec:
    poster_at: float = 0.1  # fraction of the duration where the poster frame is taken
    thumbnails: int = 10
    thumb_width: int = 270
    thumb_height: int = 480

    def __post_init__(self) -> None:
        _check(0 <= self.poster_at < 1, "poster_at", "must be a fraction of the duration, 0 <= x < 1")
        _check(0 <= self.thumbnails <= 100, "thumbnails", "must be between 0 and 100")
        _check(self.thumb_width % 2 == 0 and self.thumb_height % 2 == 0 and self.thumb_width >= 16
               and self.thumb_height >= 16, "thumb_width", "thumbnail sizes must be even and at least 16")


@dataclass(frozen=True)
class Profile:
    """One delivery profile. Validated on construction; see module docstring."""

    name: str
    container: Container
    video: VideoSpec
    audio: AudioSpec | None = None
    description: str = ""
    subtitles: SubtitleSpec = field(default_factory=SubtitleSpec)
    watermark: WatermarkSpec = field(default_factory=WatermarkSpec)
    ai_label: AILabelSpec = field(default_factory=AILabelSpec)
    hls: HlsSpec | None = None
    stills: StillsSpec | None = None
    faststart: bool = False  # mp4/mov: moov before mdat, so playback starts before download ends

    def __post_init__(self) -> None:
        _check(_NAME.match(self.name) is not None, "name",
               "must be 1-40 lowercase letters, digits or underscores, starting with a letter or digit")
        c, v, a = self.container, self.video, self.audio
        if c is Container.IMAGES:
            _check(v.codec == "mjpeg", "video.codec", "must be mjpeg for images")
            _check(a is None, "audio", "images have no audio")
            _check(self.stills is not None, "stills", "required for images")
        else:
            _check(v.codec != "mjpeg", "video.codec", f"mjpeg is for images, not {c}")
            _check(a is not None, "audio", f"required for {c}")
            _check(self.stills is None, "stills", "only for images")
        if c in (Container.MP4, Container.HLS):
            _check(v.codec in ("h264", "hevc"), "video.codec", f"must be h264 or hevc in {c}")
            _check(a is None or a.codec == "aac", "audio.codec", f"must be aac in {c}")
        if v.codec in ("h264", "hevc"):
            if c is Container.HLS:  # each rung carries its own bitrate
                _check(v.crf is None and v.bitrate_kbps is None, "video.bitrate_kbps",
                       "not used by HLS: each rung has its own video_kbps")
            else:
                _check(v.crf is not None or v.bitrate_kbps is not None, "video.crf",
                       "set crf or bitrate_kbps")
        if c is Container.HLS:
            _check(self.hls is not None, "hls", "required for an HLS profile")
            _check(v.gop_seconds is not None, "video.gop_seconds",
                   "HLS needs IDR frames at fixed times (e.g. 2)")
            assert self.hls is not None
            assert v.gop_seconds is not None
            _check(Fraction(self.hls.segment_seconds) % v.gop_seconds == 0, "hls.segment_seconds",
                   "must be a multiple of video.gop_seconds so segments start on IDR frames")
            for i, rung in enumerate(self.hls.rungs):
                _check(rung.width <= v.width and rung.height <= v.height, f"hls.rungs[{i}]",
                       f"{rung.width}x{rung.height} is larger than the {v.width}x{v.height} canvas")
                _check(abs(rung.width / rung.height - v.width / v.height) < 0.02, f"hls.rungs[{i}]",
                       "must have the canvas's aspect ratio")
        else:
            _check(self.hls is None, "hls", "only for HLS profiles")
        _check(not self.faststart or c in (Container.MP4, Container.MOV), "faststart", "only for mp4 and mov")
        burns = (self.subtitles.mode is SubtitleMode.BURN, self.watermark.enabled, self.ai_label.explicit)
        if c is Container.IMAGES:
            _check(self.subtitles.mode is SubtitleMode.NONE, "subtitles.mode", "images take no subtitles")
            _check(not self.watermark.enabled, "watermark.enabled", "images take no watermark")
            # JPEG stills carry neither label yet: ffmpeg cannot write the AIGC metadata there.
            _check(not self.ai_label.explicit and not self.ai_label.implicit, "ai_label",
                   "AI labels on stills are not supported; set explicit and implicit to false")
        _check(not (v.codec == "prores" and any(burns)), "video.codec",
               "a ProRes mezzanine stays clean: no burned-in subtitles, watermark or label")

    # -- serialisation ---------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict that :meth:`from_dict` turns back into an equal profile."""
        return _to_json(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Profile:
        """Build and validate a profile from JSON data.

        Unknown keys, wrong types and out-of-range values raise :class:`ProfileError`
        naming the field. ``audio.loudness`` may be a preset name (``"ebu_r128"``,
        ``"atsc_a85"``, ``"streaming"``) or a dict; fractions may be numbers or
        strings such as ``"30000/1001"``.
        """
        return _from_json(cls, data, "")

    def summary(self) -> str:
        """A one-line human description (used by ``transcode profiles``)."""
        v, a = self.video, self.audio
        parts = [str(self.container), f"{v.codec} {v.width}x{v.height}"]
        if self.hls:
            parts.append(f"{len(self.hls.rungs)} rungs {self.hls.rungs[0].video_kbps}-{self.hls.rungs[-1].video_kbps}k")
        elif v.bitrate_kbps:
            parts.append(f"{v.bitrate_kbps}k")
        elif v.crf is not None:
            parts.append(f"crf {v.crf}")
        parts.append(f"{v.fps}fps" if v.fps else "source fps")
        if a:
            parts.append(f"{a.codec} {a.sample_rate // 1000}kHz")
            if a.loudness:
                parts.append(f"{a.loudness.integrated:g} LUFS")
        if self.watermark.enabled:
            parts.append("watermark")
        if self.ai_label.explicit:
            parts.append("AI label")
        return ", ".join(parts)


# -- generic dict <-> dataclass conversion, with field paths in errors -----------


def _to_json(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return {f.name: _to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, Fraction):
        return value.numerator if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
    if isinstance(value, tuple | list):
        return [_to_json(v) for v in value]
    return value


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _from_json(cls: type, data: Any, path: str) -> Any:
    if not isinstance(data, Mapping):
        raise ProfileError(path, f"must be an object, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ProfileError(_join(path, unknown[0]), f"unknown field (known: {', '.join(fields)})")
    kwargs = {}
    for name, f in fields.items():
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ProfileError(_join(path, name), "is required")
            continue
        kwargs[name] = _coerce(hints[name], data[name], _join(path, name))
    try:
        return cls(**kwargs)
    except ProfileError as exc:  # re-anchor the field path at this object
        raise ProfileError(_join(path, exc.field), exc.message) from None


def _coerce(tp: Any, value: Any, path: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        tp = args[0]
        origin = typing.get_origin(tp)
    if tp is Loudness and isinstance(value, str):
        if value not in LOUDNESS_PRESETS:
            raise ProfileError(path, f"unknown loudness preset {value!r} (known: {', '.join(LOUDNESS_PRESETS)})")
        return LOUDNESS_PRESETS[value]
    if dataclasses.is_dataclass(tp):
        return _from_json(tp, value, path)
    if origin is tuple:
        (item,) = {a for a in typing.get_args(tp) if a is not Ellipsis}
        if not isinstance(value, list | tuple):
            raise ProfileError(path, "must be a list")
        return tuple(_coerce(item, v, f"{path}[{i}]") for i, v in enumerate(value))
    if isinstance(tp, type) and issubclass(tp, StrEnum):
        try:
            return tp(value)
        except ValueError:
            raise ProfileError(path, f"must be one of {[m.value for m in tp]}, got {value!r}") from None
    if tp is Fraction:
        try:
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise TypeError
            result = Fraction(value) if not isinstance(value, float) else Fraction(value).limit_denominator(1001)
        except (TypeError, ValueError, ZeroDivisionError):
            raise ProfileError(path, f"must be a number or a fraction such as '30000/1001', got {value!r}") from None
        return result
    if tp is bool:
        if not isinstance(value, bool):
            raise ProfileError(path, f"must be true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ProfileError(path, f"must be an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ProfileError(path, f"must be a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ProfileError(path, f"must be a string, got {value!r}")
        return value
    raise ProfileError(path, f"unsupported type {tp!r}")  # pragma: no cover - a programming error


# -- built-ins -------------------------------------------------------------------

_MEZZANINE = Profile(
    name="mezzanine",
    description="Archive master: 1080x1920 ProRes 422 HQ at the source frame rate, PCM 48 kHz, clean picture",
    container=Container.MOV,
    video=VideoSpec(codec="prores", profile="hq", width=1080, height=1920, pix_fmt="yuv422p10le",
                    scale=ScaleMode.PAD, landscape=LandscapePolicy.PAD),
    audio=AudioSpec(codec="pcm_s24le", bitrate_kbps=None),
)

_UPLOAD_MP4 = Profile(
    name="upload_mp4",
    description="Short-drama app upload: H.264 High ~8 Mb/s, GOP half a second, AAC, -14 LUFS, faststart",
    container=Container.MP4,
    video=VideoSpec(codec="h264", profile="high", preset="medium", width=1080, height=1920,
                    bitrate_kbps=8000, maxrate_kbps=10000, bufsize_kbps=16000,
                    gop_seconds=Fraction(1, 2), landscape=LandscapePolicy.REJECT),
    audio=AudioSpec(codec="aac", bitrate_kbps=192, loudness=STREAMING),
    ai_label=AILabelSpec(explicit=True, implicit=True),
    faststart=True,
)

_HLS_LADDER = Profile(
    name="hls_ladder",
    description="Streaming: Apple's ladder upright (234x416 145k .. 1080x1920 6000k), IDR every 2 s, 6 s segments",
    container=Container.HLS,
    video=VideoSpec(codec="h264", profile="high", preset="veryfast", width=1080, height=1920,
                    gop_seconds=Fraction(2), landscape=LandscapePolicy.REJECT),
    audio=AudioSpec(codec="aac", bitrate_kbps=128, loudness=STREAMING),
    subtitles=SubtitleSpec(mode=SubtitleMode.SIDECAR),
    ai_label=AILabelSpec(explicit=True, implicit=True),
    hls=HlsSpec(rungs=(
        HlsRung(234, 416, 145, 64),
        HlsRung(360, 640, 365, 96),
        HlsRung(432, 768, 730, 96),
        HlsRung(540, 960, 2000, 128),
        HlsRung(720, 1280, 3000, 128),
        HlsRung(1080, 1920, 6000, 160),
    )),
)

_BROADCAST_R128 = Profile(
    name="broadcast_r128",
    description="TV: vertical picture pillarboxed in 1920x1080 25p, H.264 High 25 Mb/s, PCM, EBU R128 -23 LUFS / -1 dBTP",
    container=Container.MOV,
    video=VideoSpec(codec="h264", profile="high", preset="medium", width=1920, height=1080,
                    bitrate_kbps=25000, maxrate_kbps=30000, bufsize_kbps=30000,
                    fps=Fraction(25), gop_frames=12, scale=ScaleMode.PAD),
    audio=AudioSpec(codec="pcm_s24le", bitrate_kbps=None, loudness=EBU_R128),
)

_SCREENER = Profile(
    name="screener",
    description="Buyer screener: 720x1280 H.264, moving per-recipient watermark (organization, id, time)",
    container=Container.MP4,
    video=VideoSpec(codec="h264", profile="high", preset="veryfast", width=720, height=1280,
                    crf=26, maxrate_kbps=2500, bufsize_kbps=5000, gop_seconds=Fraction(2)),
    audio=AudioSpec(codec="aac", bitrate_kbps=128),
    watermark=WatermarkSpec(enabled=True),
    faststart=True,
)

_STILLS = Profile(
    name="stills",
    description="Poster frame 1080x1920 JPEG and 10 thumbnails 270x480",
    container=Container.IMAGES,
    video=VideoSpec(codec="mjpeg", width=1080, height=1920, pix_fmt="yuvj420p", qscale=2),
    stills=StillsSpec(),
    ai_label=AILabelSpec(explicit=False, implicit=False),
)

BUILTIN_PROFILES: dict[str, Profile] = {
    p.name: p for p in (_MEZZANINE, _UPLOAD_MP4, _HLS_LADDER, _BROADCAST_R128, _SCREENER, _STILLS)
}


def get_profile(name: str) -> Profile:
    """The built-in profile called ``name``; ``KeyError`` lists the known names."""
    try:
        return BUILTIN_PROFILES[name]
    except KeyError:
        raise KeyError(f"no built-in profile {name!r} (known: {', '.join(BUILTIN_PROFILES)})") from None
