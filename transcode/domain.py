"""The ffmpeg graph builder: profile + probed source + options -> a :class:`Plan`.

Pure: no process is started and no file is touched. :func:`build` uses ffmpeg-python
to assemble the filter graph and ``.compile()`` it into one argument list, so tests
compare argument lists and the runner (``transcode.runner``) only executes them.

Decisions worth knowing:

* One ffmpeg process per plan. An HLS ladder decodes once, fits the picture to the
  canvas once, then ``split`` feeds every rung (one output per rung); stills split
  into the poster and the thumbnails.
* ffmpeg writes to deterministic temporary names (``.<stem>.<profile>.partial*``)
  and the runner renames after verification, so a retried job overwrites its own
  leftovers and the final name never holds a half-written file.
* Fonts come from fontconfig by family (``font=Noto Sans CJK SC``), not by file:
  fonts-noto-cjk ships ``.ttc`` collections whose first face is the Japanese one,
  and drawtext cannot pick a face index, so a file path would draw Japanese glyph
  forms for Simplified Chinese. :func:`find_cjk_font` checks the family resolves.
* The implicit AI label is the ``AIGC`` container tag holding the JSON object of
  the Chinese labelling standard (GB 45438-2025: Label, ContentProducer, ProduceID,
  ReservedCode1, ContentPropagator, PropagateID, ReservedCode2). MP4/MOV need
  ``movflags=+use_metadata_tags`` to keep a custom key; HLS (MPEG-TS segments
  cannot hold it) lists ``aigc.json`` in the master playlist via
  ``EXT-X-SESSION-DATA``.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from functools import lru_cache

import ffmpeg

from transcode.probe import ProbeInfo
from transcode.profiles import (
    Container,
    HlsRung,
    LabelPosition,
    LandscapePolicy,
    Loudness,
    NoAudioPolicy,
    Profile,
    ScaleMode,
    SubtitleMode,
)

DEFAULT_FONT = "Noto Sans CJK SC"
NOTO_CJK_DIR = "/usr/share/fonts/opentype/noto"
#: Ink height of CJK ideographs in Noto Sans CJK as a share of the font size
#: (measured here: "AI生成" at fontsize 100 inks 94 px rows). The label rule is about
#: the height of the text on screen, so the font size is the required height / this.
CJK_INK_RATIO = 0.9
LOUDNORM_KEYS = ("input_i", "input_tp", "input_lra", "input_thresh", "target_offset")
#: Line-breaking rules for CJK (kinsoku): closing punctuation never starts a line,
#: opening punctuation never ends one, and a break after a pause mark reads naturally.
_NO_LINE_START = set("，。、；：！？）》」』】〕”’…—,.;:!?)]}%")
_NO_LINE_END = set("（《「『【〔“‘([{")
_BREAK_AFTER = set("，。、；：！？）》」』】”’…,.;:!?")


class BuildError(ValueError):
    """The profile cannot be applied to this source with these options (the reason
    is meant for the person who uploaded the master or configured the delivery)."""


@dataclass(frozen=True)
class Aigc:
    """The implicit label's fields (GB 45438-2025 metadata, names as in the standard)."""

    content_producer: str
    produce_id: str
    label: str = "1"  # 1 = AI-generated, 2 = may be, 3 = suspected
    content_propagator: str = ""
    propagate_id: str = ""
    reserved_code1: str = ""
    reserved_code2: str = ""

    def to_json(self) -> str:
        """Compact JSON in the standard's field order (what goes into the tag)."""
        return json.dumps(
            {
                "Label": self.label,
                "ContentProducer": self.content_producer,
                "ProduceID": self.produce_id,
                "ReservedCode1": self.reserved_code1,
                "ContentPropagator": self.content_propagator,
                "PropagateID": self.propagate_id,
                "ReservedCode2": self.reserved_code2,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )


@dataclass(frozen=True)
class Sidecar:
    """A subtitle file delivered beside the video (WebVTT for HLS renditions)."""

    language: str  # BCP-47
    path: str
    name: str | None = None  # shown in players; defaults to the language tag


@dataclass(frozen=True)
class BuildOptions:
    """Per-delivery inputs that are not part of the profile."""

    output_stem: str | None = None  # default: the input's file name without extension
    subtitles: str | None = None  # ASS file to burn in (see write_ass)
    sidecars: tuple[Sidecar, ...] = ()
    ai_generated: bool = True  # False: the content needs no AI label at all
    aigc: Aigc | None = None  # required when the profile wants the implicit label
    label_text: str | None = None  # overrides the profile's default label text
    watermark_text: str | None = None  # screener: organization name + short id
    loudness: Mapping[str, float] | None = None  # loudness_measure()'s result (pass 1)
    font: str = DEFAULT_FONT
    fonts_dir: str = NOTO_CJK_DIR
    poster_at: float | None = None  # seconds; overrides the profile's fraction
    strict_decode: bool = True  # -xerror: a corrupt frame fails the job instead of glitching
    threads: int | None = None
    stats_period: float = 0.5  # seconds between progress reports
    ffmpeg: str = "ffmpeg"


@dataclass(frozen=True)
class Geometry:
    """How the source picture becomes the output frame."""

    mode: ScaleMode
    scale_w: int
    scale_h: int
    out_w: int
    out_h: int
    x: int = 0  # pad offset (pad) or crop offset (crop)
    y: int = 0


@dataclass(frozen=True)
class Expect:
    """What ffprobe must report for an output before it is accepted."""

    kind: str  # "video", "hls" (a rung playlist), "image", "images" (a numbered sequence)
    video_codec: str
    width: int
    height: int
    pix_fmt: str | None = None
    frame_rate: Fraction | None = None
    duration: float | None = None
    audio_codec: str | None = None
    sample_rate: int | None = None
    channels: int | None = None
    count: int = 1  # files in an image sequence
    format_name: str | None = None  # one of ffprobe's format names, e.g. "mp4"


@dataclass(frozen=True)
class PlannedOutput:
    role: str  # "main", "rung:<name>", "poster", "thumbnails"
    tmp_path: str  # what ffmpeg writes (a %03d pattern for thumbnails)
    path: str  # the same file once the package is in place
    expect: Expect


@dataclass(frozen=True)
class LabelPlan:
    """Where the explicit label is drawn, so verify_labels can look for it."""

    text: str
    seconds: float
    font_size: int
    box: tuple[int, int, int, int]  # x, y, w, h in the checked output's pixels
    frame: tuple[int, int]  # the checked output's frame size
    checked_output: str  # role of the output that is checked (main or top rung)
    reference_args: tuple[str, ...]  # renders the checked frame from the source without overlays (gray8)
    check_frame: int  # index of the checked frame, counted from the first frame of the output
    reference_path: str = ""  # the same unlabelled frame, written by the delivery run itself


@dataclass(frozen=True)
class Plan:
    """Everything needed to run one delivery: one ffmpeg command and what it must produce."""

    profile: Profile
    source: ProbeInfo
    input_path: str
    args: tuple[str, ...]
    outputs: tuple[PlannedOutput, ...]
    package: str  # final path: a file, or a directory for HLS and stills
    package_tmp: str
    log_path: str
    duration: float  # expected output duration, seconds (progress denominator)
    frame_rate: Fraction
    notes: tuple[str, ...] = ()  # adaptations made to the source, for the delivery record
    metadata: Mapping[str, str] = field(default_factory=dict)  # container tags written
    label: LabelPlan | None = None
    # target the output is checked against; the run's own ebur128 meter (ahead of the
    # encoder) logs what was delivered, so checking it needs no second decode
    loudness: Loudness | None = None
    sidecars: tuple[Sidecar, ...] = ()
    rungs: tuple[HlsRung, ...] = ()

    @property
    def package_is_dir(self) -> bool:
        return self.profile.container in (Container.HLS, Container.IMAGES)


# -- the builder ---------------------------------------------------------------------


def build(
    profile: Profile,
    probe: ProbeInfo,
    input_path: str,
    output_dir: str,
    options: BuildOptions | None = None,
) -> Plan:
    """Compile the ffmpeg command that turns ``input_path`` into ``profile``'s deliverable.

    Promises: the arguments only write below ``output_dir`` and only under temporary
    names listed in the plan; a source the profile cannot take (landscape where it
    rejects landscape, no audio where it rejects silence) raises :class:`BuildError`;
    adaptations made instead (padding, VFR→CFR, 10→8 bit, silence) are listed in
    ``plan.notes``. A profile with a loudness target needs ``options.loudness``
    (from ``runner.loudness_measure``).
    """
    opts = options or BuildOptions()
    notes: list[str] = []
    stem = _stem(opts.output_stem or os.path.splitext(os.path.basename(input_path))[0])
    base = f"{stem}.{profile.name}"
    container = profile.container
    ext = {Container.MP4: ".mp4", Container.MOV: ".mov"}.get(container, "")
    package = os.path.join(output_dir, base + ext)
    package_tmp = os.path.join(output_dir, f".{base}.partial{ext}")
    log_path = os.path.join(output_dir, f".{base}.log")

    _check_subtitle_options(profile, opts)
    rate = profile.video.fps or probe.frame_rate
    resample = probe.vfr or rate != probe.frame_rate  # needs the fps filter
    if probe.vfr:
        notes.append(f"variable frame rate source converted to constant {_fmt_rate(rate)} fps")
    elif resample:
        notes.append(f"frame rate converted from {_fmt_rate(probe.frame_rate)} to {_fmt_rate(rate)} fps")
    if probe.bit_depth > 8 and not profile.video.pix_fmt.endswith("10le"):
        notes.append(f"{probe.bit_depth}-bit source converted to 8-bit {profile.video.pix_fmt}")
    if probe.rotation:
        notes.append(f"source rotated {probe.rotation} degrees by its metadata; delivered upright")

    rungs: tuple[HlsRung, ...] = ()
    canvas = (profile.video.width, profile.video.height)
    if container is Container.HLS:
        assert profile.hls is not None
        rungs = _usable_rungs(profile, probe, notes)
        canvas = (rungs[-1].width, rungs[-1].height)
    mode = _scale_mode(profile, probe, canvas, notes)
    geometry = fit_geometry(probe.display_width, probe.display_height, canvas[0], canvas[1], mode)

    inp = ffmpeg.input(input_path)
    video = inp["v:0"]
    reference_out = None
    if resample:
        video = video.filter("fps", fps=_fmt_rate(rate))

    metadata: dict[str, str] = {}
    label = _label_text(profile, opts)
    if profile.ai_label.implicit and opts.ai_generated:
        if opts.aigc is None:
            raise BuildError(
                f"profile {profile.name} writes the implicit AI label: pass options.aigc "
                "(ContentProducer, ProduceID) or ai_generated=False for non-AI content"
            )
        metadata["AIGC"] = opts.aigc.to_json()
    if profile.watermark.enabled and not (opts.watermark_text and opts.watermark_text.strip()):
        raise BuildError(f"profile {profile.name} marks each copy: pass options.watermark_text")

    if container is Container.IMAGES:
        outputs, out_streams = _stills(profile, probe, video, geometry, rate, package, package_tmp, opts)
        label_plan = None
    else:
        audio = _audio_chain(profile, probe, inp, opts, notes)
        video = _fit(video, geometry, probe)
        label_plan = None
        if label is not None:  # the checked frame without overlays, from this same run
            split = video.split()
            video, unlabelled = split[0], split[1]
        if profile.subtitles.mode is SubtitleMode.BURN:
            assert opts.subtitles is not None
            video = video.filter("ass", filename=opts.subtitles, fontsdir=opts.fonts_dir)
        if label is not None:
            video, label_plan = _draw_label(video, label, profile, geometry, rate, opts)
        if profile.watermark.enabled:
            assert opts.watermark_text is not None
            video = _draw_watermark(video, opts.watermark_text, profile, geometry, opts.font)
        if container is Container.HLS:
            outputs, out_streams = _ladder(profile, probe, video, audio, rungs, rate, package, package_tmp, metadata, opts)
        else:
            outputs, out_streams = _single(profile, probe, video, audio, geometry, rate, package, package_tmp, metadata, opts)
        if label_plan is not None:
            reference_path = os.path.join(output_dir, f".{base}.label.gray")
            unlabelled = _checked_frame(unlabelled, label_plan.check_frame)
            reference_out = ffmpeg.output(unlabelled, reference_path, f="rawvideo", **{"frames:v": 1})
            label_plan = replace(
                label_plan,
                checked_output=outputs[-1].role,  # the main file, or the top rung (canvas size)
                reference_args=_label_reference(label_plan.check_frame, probe, input_path, rate, resample, geometry, opts),
                reference_path=reference_path,
            )

    if reference_out is not None:
        out_streams = [*out_streams, reference_out]  # last: the main output stays the first
    graph = ffmpeg.merge_outputs(*out_streams) if len(out_streams) > 1 else out_streams[0]
    # level+info tags every log line with its severity, so the runner can quote the error
    global_args = ["-hide_banner", "-nostdin", "-loglevel", "level+info", "-nostats", "-progress", "pipe:1",
                   "-stats_period", f"{opts.stats_period:g}"]
    if opts.strict_decode:
        global_args.append("-xerror")
    graph = graph.global_args(*global_args)
    args = tuple(graph.compile(cmd=opts.ffmpeg, overwrite_output=True))

    loudness = None  # what the output is checked against
    if probe.has_audio and profile.audio and profile.audio.loudness and not _silent(opts.loudness):
        loudness = profile.audio.loudness
    return Plan(
        profile=profile,
        source=probe,
        input_path=input_path,
        args=args,
        outputs=tuple(outputs),
        package=package,
        package_tmp=package_tmp,
        log_path=log_path,
        duration=probe.duration,
        frame_rate=rate,
        notes=tuple(notes),
        metadata=metadata,
        label=label_plan,
        loudness=loudness,
        sidecars=opts.sidecars if profile.subtitles.mode is SubtitleMode.SIDECAR else (),
        rungs=rungs,
    )


def build_loudness_measure(
    input_path: str, target: Loudness, channels: int = 2, ffmpeg_bin: str = "ffmpeg"
) -> tuple[str, ...]:
    """Loudnorm pass 1: analyse the first audio stream (mixed to the delivered channel
    count, as pass 2 will be) and print the measurement as JSON on stderr."""
    audio = (
        ffmpeg.input(input_path)["a:0"]
        .filter("aformat", channel_layouts=_layout(channels))
        .filter("loudnorm", I=target.integrated, TP=target.true_peak, LRA=target.lra, print_format="json")
    )
    graph = ffmpeg.output(audio, "-", f="null").global_args(
        "-hide_banner", "-nostdin", "-nostats", "-progress", "pipe:1"
    )
    return tuple(graph.compile(cmd=ffmpeg_bin, overwrite_output=True))


def build_loudness_check(path: str, ffmpeg_bin: str = "ffmpeg") -> tuple[str, ...]:
    """Measure a delivered file's first audio stream with ebur128 (integrated, LRA,
    true peak): a fifth of loudnorm's cost, which is what verification needs."""
    audio = ffmpeg.input(path)["a:0"].filter("ebur128", peak="true", framelog="verbose")
    graph = ffmpeg.output(audio, "-", f="null").global_args(
        "-hide_banner", "-nostdin", "-nostats", "-progress", "pipe:1"
    )
    return tuple(graph.compile(cmd=ffmpeg_bin, overwrite_output=True))


def parse_ebur128_summary(log: str) -> dict[str, float]:
    """``integrated`` (LUFS), ``lra`` (LU) and ``true_peak`` (dBTP) from ebur128's summary."""
    summary = log[log.rfind("Summary:") :]
    found = {}
    for key, pattern in (("integrated", r"I:\s+(\S+) LUFS"), ("lra", r"LRA:\s+(\S+) LU"), ("true_peak", r"Peak:\s+(\S+) dBFS")):
        match = re.search(pattern, summary)
        if not match:
            raise ValueError(f"no {key} in ebur128's summary")
        found[key] = float(match.group(1))
    return found


def fit_geometry(src_w: int, src_h: int, dst_w: int, dst_h: int, mode: ScaleMode) -> Geometry:
    """Sizes (all even, as 4:2:0 needs) for fitting a src_w×src_h picture into dst_w×dst_h."""
    if mode is ScaleMode.CROP:
        factor = max(dst_w / src_w, dst_h / src_h)
        sw, sh = max(dst_w, _even_up(src_w * factor)), max(dst_h, _even_up(src_h * factor))
        return Geometry(mode, sw, sh, dst_w, dst_h, _even_down((sw - dst_w) / 2), _even_down((sh - dst_h) / 2))
    factor = min(dst_w / src_w, dst_h / src_h)
    sw, sh = min(dst_w, _even(src_w * factor)), min(dst_h, _even(src_h * factor))
    if mode is ScaleMode.FIT:
        return Geometry(mode, sw, sh, sw, sh)
    return Geometry(mode, sw, sh, dst_w, dst_h, _even_down((dst_w - sw) / 2), _even_down((dst_h - sh) / 2))


# -- pieces of the graph -----------------------------------------------------------


def _fit(stream, g: Geometry, probe: ProbeInfo):
    kwargs = {}
    if probe.color_space in ("bt470bg", "smpte170m"):  # SD-tagged source: convert the matrix
        kwargs = {"in_color_matrix": "bt601", "out_color_matrix": "bt709"}
    stream = stream.filter("scale", w=g.scale_w, h=g.scale_h, **kwargs)
    if g.mode is ScaleMode.PAD and (g.scale_w, g.scale_h) != (g.out_w, g.out_h):
        stream = stream.filter("pad", w=g.out_w, h=g.out_h, x=g.x, y=g.y, color="black")
    elif g.mode is ScaleMode.CROP and (g.scale_w, g.scale_h) != (g.out_w, g.out_h):
        stream = stream.filter("crop", w=g.out_w, h=g.out_h, x=g.x, y=g.y)
    return stream.filter("setsar", "1")


def _scale_mode(profile: Profile, probe: ProbeInfo, canvas: tuple[int, int], notes: list[str]) -> ScaleMode:
    portrait_canvas = canvas[1] > canvas[0]
    if not (portrait_canvas and probe.landscape):
        return profile.video.scale
    size = f"{probe.display_width}x{probe.display_height}"
    policy = profile.video.landscape
    if policy is LandscapePolicy.REJECT:
        raise BuildError(
            f"landscape source ({size}) but profile {profile.name} delivers portrait "
            f"{canvas[0]}x{canvas[1]} and rejects landscape sources: upload the 9:16 master"
        )
    notes.append(f"landscape source ({size}) {'letterboxed' if policy is LandscapePolicy.PAD else 'centre-cropped'} into portrait")
    return ScaleMode.PAD if policy is LandscapePolicy.PAD else ScaleMode.CROP


def _usable_rungs(profile: Profile, probe: ProbeInfo, notes: list[str]) -> tuple[HlsRung, ...]:
    assert profile.hls is not None
    rungs = tuple(sorted(profile.hls.rungs, key=lambda r: (r.height, r.video_kbps)))
    if not profile.hls.skip_upscale:
        return rungs
    # A rung is an upscale when the source fitted into it would have to grow.
    kept = tuple(r for r in rungs if min(probe.display_width / r.width, probe.display_height / r.height) >= 0.999)
    kept = kept or rungs[:1]
    if len(kept) < len(rungs):
        dropped = ", ".join(r.name for r in rungs if r not in kept)
        notes.append(f"rungs above the {probe.display_width}x{probe.display_height} source skipped: {dropped}")
    return kept


def _audio_chain(profile: Profile, probe: ProbeInfo, inp, opts: BuildOptions, notes: list[str]):
    spec = profile.audio
    assert spec is not None
    duration = _fmt_seconds(probe.duration)
    if not probe.has_audio:
        if spec.no_audio is NoAudioPolicy.REJECT:
            raise BuildError(f"the source has no audio and profile {profile.name} requires a sound track")
        notes.append("source has no audio: silent track added")
        silence = f"anullsrc=r={spec.sample_rate}:cl={_layout(spec.channels)}"
        return ffmpeg.input(silence, f="lavfi", t=duration)["a"]
    audio = inp["a:0"].filter("aformat", channel_layouts=_layout(spec.channels))
    if spec.loudness is not None:
        measured = opts.loudness
        if measured is None:
            raise BuildError(
                f"profile {profile.name} normalises loudness to {spec.loudness.integrated:g} LUFS in two "
                "passes: measure first (runner.loudness_measure) and pass options.loudness"
            )
        missing = [k for k in LOUDNORM_KEYS if k not in measured]
        if missing:
            raise BuildError(f"options.loudness lacks {', '.join(missing)} (pass loudness_measure()'s result)")
        if _silent(measured):
            notes.append("audio is silent: loudness left as is")
        else:
            t = spec.loudness
            audio = audio.filter(
                "loudnorm",
                I=t.integrated,
                TP=t.true_peak,
                LRA=t.lra,
                measured_I=_clamp(measured["input_i"], -99, 0),
                measured_TP=_clamp(measured["input_tp"], -99, 99),
                measured_LRA=_clamp(measured["input_lra"], 0, 99),
                measured_thresh=_clamp(measured["input_thresh"], -99, 0),
                offset=_clamp(measured["target_offset"], -99, 99),
                linear="true",
                print_format="summary",
            )
            notes.append(
                f"loudness {measured['input_i']:.1f} LUFS normalised to {t.integrated:g} LUFS / {t.true_peak:g} dBTP ({t.standard})"
            )
    # loudnorm works at 192 kHz; resample after it. Pad or trim so audio ends with the picture.
    audio = audio.filter("aresample", spec.sample_rate).filter("apad", whole_dur=duration).filter("atrim", duration=duration)
    if spec.loudness is not None and not _silent(opts.loudness):
        # the check meter: ebur128 passes the samples on unchanged and logs its summary when
        # the run ends (the runner reads it from the log). aformat first: ebur128 takes any
        # channel layout, so the encoder's would not reach back past it.
        audio = audio.filter("aformat", channel_layouts=_layout(spec.channels))
        audio = audio.filter("ebur128", peak="true", framelog="verbose")
    return audio


def _single(profile, probe, video, audio, geometry, rate, package, package_tmp, metadata, opts):
    v, a = profile.video, profile.audio
    video = video.filter("format", pix_fmts=v.pix_fmt)
    kwargs = {**_video_codec_args(profile, rate, v.bitrate_kbps, opts), **_audio_codec_args(a, a.bitrate_kbps)}
    kwargs["f"] = str(profile.container)
    movflags = ("+faststart" if profile.faststart else "") + ("+use_metadata_tags" if metadata else "")
    if movflags:
        kwargs["movflags"] = movflags
    if "AIGC" in metadata:
        kwargs["metadata"] = f"AIGC={metadata['AIGC']}"
    out = ffmpeg.output(video, audio, package_tmp, **kwargs)
    expect = Expect(
        kind="video",
        video_codec=v.codec,
        width=geometry.out_w,
        height=geometry.out_h,
        pix_fmt=v.pix_fmt,
        frame_rate=rate,
        duration=probe.duration,
        audio_codec=a.codec,
        sample_rate=a.sample_rate,
        channels=a.channels,
        format_name=str(profile.container),
    )
    return [PlannedOutput("main", package_tmp, package, expect)], [out]


def _ladder(profile, probe, video, audio, rungs, rate, package, package_tmp, metadata, opts):
    hls, v, a = profile.hls, profile.video, profile.audio
    assert hls is not None
    assert a is not None
    assert v.gop_seconds is not None
    videos = video.split() if len(rungs) > 1 else None
    audios = audio.asplit() if len(rungs) > 1 else None
    outputs, streams = [], []
    for i, rung in enumerate(rungs):
        rv = videos[i] if videos is not None else video
        ra = audios[i] if audios is not None else audio
        rv = rv.filter("scale", w=rung.width, h=rung.height).filter("format", pix_fmts=v.pix_fmt)
        kwargs = {**_video_codec_args(profile, rate, rung.video_kbps, opts), **_audio_codec_args(a, rung.audio_kbps)}
        peak = round(rung.video_kbps * hls.peak_ratio)
        kwargs.update(
            {
                "maxrate": f"{peak}k",
                "bufsize": f"{round(rung.video_kbps * 1.5)}k",
                # belt and braces with the fixed GOP: IDR frames at exact multiples of the GOP
                "force_key_frames": f"expr:gte(t,n_forced*{_fmt_rate(v.gop_seconds)})",
                "f": "hls",
                "hls_time": hls.segment_seconds,
                "hls_playlist_type": "vod",
                "hls_flags": "independent_segments",
                "hls_segment_type": "mpegts",
                "hls_segment_filename": os.path.join(package_tmp, rung.name, "seg_%05d.ts"),
            }
        )
        playlist = os.path.join(rung.name, "index.m3u8")
        streams.append(ffmpeg.output(rv, ra, os.path.join(package_tmp, playlist), **kwargs))
        expect = Expect(
            kind="hls",
            video_codec=v.codec,
            width=rung.width,
            height=rung.height,
            pix_fmt=v.pix_fmt,
            frame_rate=rate,
            duration=probe.duration,
            audio_codec=a.codec,
            sample_rate=a.sample_rate,
            channels=a.channels,
        )
        outputs.append(
            PlannedOutput(f"rung:{rung.name}", os.path.join(package_tmp, playlist), os.path.join(package, playlist), expect)
        )
    return outputs, streams


def _stills(profile, probe, video, geometry, rate, package, package_tmp, opts):
    spec, v = profile.stills, profile.video
    assert spec is not None
    total = max(1, math.floor(probe.duration * rate))
    at = opts.poster_at if opts.poster_at is not None else spec.poster_at * probe.duration
    poster_frame = min(total - 1, max(0, math.floor(at * rate)))
    count = min(spec.thumbnails, total)
    branches = video.split() if count else None
    poster = branches[0] if branches is not None else video
    image_args = {"c:v": "mjpeg", "q:v": v.qscale, "fps_mode": "passthrough", "f": "image2"}
    poster = _fit(poster.filter("select", f"eq(n,{poster_frame})"), geometry, probe)
    poster = poster.filter("format", pix_fmts=v.pix_fmt)
    poster_name = "poster.jpg"
    streams = [ffmpeg.output(poster, os.path.join(package_tmp, poster_name), **image_args, **{"frames:v": 1, "update": 1})]
    outputs = [
        PlannedOutput(
            "poster",
            os.path.join(package_tmp, poster_name),
            os.path.join(package, poster_name),
            Expect(kind="image", video_codec="mjpeg", width=geometry.out_w, height=geometry.out_h),
        )
    ]
    if count:
        assert branches is not None
        frames = [math.floor((i + 0.5) * total / count) for i in range(count)]
        thumb_geometry = fit_geometry(probe.display_width, probe.display_height, spec.thumb_width, spec.thumb_height, geometry.mode)
        thumbs = branches[1].filter("select", "+".join(f"eq(n,{n})" for n in frames))
        thumbs = _fit(thumbs, thumb_geometry, probe).filter("format", pix_fmts=v.pix_fmt)
        pattern = os.path.join("thumbnails", "thumb_%03d.jpg")
        streams.append(ffmpeg.output(thumbs, os.path.join(package_tmp, pattern), **image_args, **{"frames:v": count}))
        outputs.append(
            PlannedOutput(
                "thumbnails",
                os.path.join(package_tmp, pattern),
                os.path.join(package, pattern),
                Expect(kind="images", video_codec="mjpeg", width=thumb_geometry.out_w, height=thumb_geometry.out_h, count=count),
            )
        )
    return outputs, streams


def _video_codec_args(profile: Profile, rate: Fraction, bitrate_kbps: int | None, opts: BuildOptions) -> dict:
    v = profile.video
    args: dict = {"c:v": v.encoder}
    if v.codec in ("h264", "hevc"):
        if v.preset:
            args["preset"] = v.preset
        if v.profile:
            args["profile:v"] = v.profile
        if v.crf is not None:
            args["crf"] = v.crf
        if bitrate_kbps is not None:
            args["b:v"] = f"{bitrate_kbps}k"
        if v.maxrate_kbps is not None:
            args["maxrate"] = f"{v.maxrate_kbps}k"
            args["bufsize"] = f"{v.bufsize_kbps}k"
        gop = v.gop_for(rate)
        if gop is not None:
            # a fixed GOP: no shorter GOPs at scene cuts, so keyframes land where promised
            args.update({"g": gop, "keyint_min": gop, "sc_threshold": 0})
        args.update({"colorspace": "bt709", "color_primaries": "bt709", "color_trc": "bt709", "color_range": "tv"})
        args["fps_mode"] = "cfr"
    elif v.codec == "prores":
        args.update({"profile:v": v.profile or "hq", "vendor": "apl0", "fps_mode": "cfr"})
        args.update({"colorspace": "bt709", "color_primaries": "bt709", "color_trc": "bt709"})
    if opts.threads:
        args["threads"] = opts.threads
    return args


def _audio_codec_args(spec, bitrate_kbps: int | None) -> dict:
    args: dict = {"c:a": spec.encoder, "ar": spec.sample_rate, "ac": spec.channels}
    if spec.codec == "aac":
        args["b:a"] = f"{bitrate_kbps}k"
    return args


# -- labels and marks -----------------------------------------------------------------


def _label_text(profile: Profile, opts: BuildOptions) -> str | None:
    if not (profile.ai_label.explicit and opts.ai_generated):
        return None
    text = (opts.label_text or profile.ai_label.text).strip()
    return _printable(text) or profile.ai_label.text


def label_font_size(short_side: int, min_size_pct: float) -> int:
    """Font size whose CJK glyphs are at least ``min_size_pct`` % of the short side tall."""
    return math.ceil(short_side * min_size_pct / 100 / CJK_INK_RATIO)


def _text_width(text: str, font_size: int) -> int:
    # East Asian wide characters take a full em; others about 0.6 em in Noto Sans.
    return math.ceil(sum(1.0 if _is_wide(c) else 0.6 for c in text) * font_size)


def _draw_label(video, text: str, profile: Profile, g: Geometry, rate: Fraction, opts: BuildOptions):
    spec = profile.ai_label
    # counted in frames, not timestamps: a source whose first frame is stamped 0.04 s
    # would otherwise show the label for less than the required time
    frames = math.ceil(spec.seconds * rate)
    short = min(g.out_w, g.out_h)
    size = label_font_size(short, spec.min_size_pct)
    margin = math.ceil(short * 0.04)
    border = max(2, size // 4)
    left = spec.position in (LabelPosition.TOP_LEFT, LabelPosition.BOTTOM_LEFT)
    top = spec.position in (LabelPosition.TOP_LEFT, LabelPosition.TOP_RIGHT)
    x = str(margin + border) if left else f"w-tw-{margin + border}"
    y = str(margin + border) if top else f"h-th-{margin + border}"
    video = video.filter(
        "drawtext",
        font=opts.font,
        text=text,
        expansion="none",
        fontsize=size,
        fontcolor="white",
        box=1,
        boxcolor="black@0.6",
        boxborderw=border,
        x=x,
        y=y,
        enable=f"lt(n,{frames})",
    )
    box_w = _text_width(text, size) + 2 * border
    box_h = math.ceil(size * 1.2) + 2 * border
    box_x = margin if left else g.out_w - margin - box_w
    box_y = margin if top else g.out_h - margin - box_h
    box = (max(0, box_x), max(0, box_y), min(box_w, g.out_w), min(box_h, g.out_h))
    # checked_output and reference_args are filled in once the outputs are known; the
    # opening frame is checked, where GB 45438 wants the label (and the cheapest to decode)
    plan = LabelPlan(text, spec.seconds, size, box, (g.out_w, g.out_h), "", (), check_frame=0)
    return video, plan


def _checked_frame(video, frame: int):
    """Frame number ``frame`` alone, in gray. Counted by index, not timestamp, so the
    delivered file and the graph agree (an HLS rung starts at 1.4 s, a source may start late)."""
    return video.filter("trim", start_frame=frame, end_frame=frame + 1).filter("format", pix_fmts="gray")


def _label_reference(frame: int, probe, input_path, rate, resample: bool, g: Geometry, opts) -> tuple[str, ...]:
    """ffmpeg arguments rendering the checked frame from the source without any
    overlay (gray8 on stdout): for checking a delivered file on its own later."""
    video = ffmpeg.input(input_path)["v:0"]
    if resample:
        video = video.filter("fps", fps=_fmt_rate(rate))
    out = ffmpeg.output(_checked_frame(_fit(video, g, probe), frame), "pipe:1", f="rawvideo", **{"frames:v": 1})
    return tuple(out.global_args("-hide_banner", "-nostdin", "-loglevel", "error").compile(cmd=opts.ffmpeg))


def build_frame_grab(path: str, frame: int, width: int, height: int, ffmpeg_bin: str = "ffmpeg") -> tuple[str, ...]:
    """ffmpeg arguments writing frame number ``frame`` of ``path`` to stdout as gray8
    at ``width`` x ``height``: how verify_labels reads the delivered frame."""
    video = ffmpeg.input(path)["v:0"].filter("trim", start_frame=frame, end_frame=frame + 1)
    video = video.filter("scale", w=width, h=height).filter("format", pix_fmts="gray")
    out = ffmpeg.output(video, "pipe:1", f="rawvideo", **{"frames:v": 1})
    return tuple(out.global_args("-hide_banner", "-nostdin", "-loglevel", "error").compile(cmd=ffmpeg_bin))


def _draw_watermark(video, text: str, profile: Profile, g: Geometry, font: str):
    spec = profile.watermark
    size = max(10, math.ceil(min(g.out_w, g.out_h) * spec.size_pct / 100))
    # drawtext's own expansion level: \ and % are special when expansion is on.
    shown = _printable(text).replace("\\", "\\\\").replace("%", "\\%")
    if spec.show_time:
        shown += "  %{pts:hms}"
    px, py = spec.period_seconds, round(spec.period_seconds * 1.37, 2)
    # a triangle wave on each axis with different periods: the mark wanders over the
    # whole frame, so cropping one corner never removes it
    return video.filter(
        "drawtext",
        font=font,
        text=shown,
        fontsize=size,
        fontcolor=f"white@{spec.opacity:g}",
        shadowcolor=f"black@{spec.opacity:g}",
        shadowx=max(1, size // 12),
        shadowy=max(1, size // 12),
        x=f"(w-tw)*abs(mod(t/{px:g},2)-1)",
        y=f"(h-th)*abs(mod(t/{py:g},2)-1)",
    )


# -- loudness, subtitles options ---------------------------------------------------------


def _check_subtitle_options(profile: Profile, opts: BuildOptions) -> None:
    mode = profile.subtitles.mode
    if mode is SubtitleMode.BURN and not opts.subtitles:
        lang = f" {profile.subtitles.language}" if profile.subtitles.language else ""
        raise BuildError(f"profile {profile.name} burns in{lang} subtitles: pass options.subtitles (an ASS file)")
    if opts.subtitles and mode is not SubtitleMode.BURN:
        raise BuildError(f"profile {profile.name} does not burn in subtitles (subtitles.mode is {mode})")
    if opts.sidecars and mode is not SubtitleMode.SIDECAR:
        raise BuildError(f"profile {profile.name} takes no sidecar subtitles ({mode})")
    if opts.subtitles and not opts.subtitles.lower().endswith((".ass", ".ssa")):
        raise BuildError("options.subtitles must be an ASS file: write one with write_ass() (SRT would be scaled from 384x288)")
    if profile.container is Container.HLS:
        for sidecar in opts.sidecars:
            if not sidecar.path.lower().endswith(".vtt"):
                raise BuildError(f"HLS subtitle renditions are WebVTT: {os.path.basename(sidecar.path)} is not .vtt")


def _silent(measured: Mapping[str, float] | None) -> bool:
    return measured is not None and not measured["input_i"] > -70  # -inf for digital silence


def parse_loudnorm_json(stderr: str) -> dict[str, float]:
    """The measurement loudnorm prints (print_format=json): the last ``{...}`` block."""
    start = stderr.rfind("{")
    end = stderr.find("}", start)
    if start < 0 or end < 0:
        raise ValueError("no loudnorm JSON in ffmpeg's output")
    data = json.loads(stderr[start : end + 1])
    return {k: float(data[k]) for k in LOUDNORM_KEYS}


# -- subtitles: ASS writer ------------------------------------------------------------


@dataclass(frozen=True)
class Cue:
    start: float  # seconds
    end: float
    text: str  # "\n" separates lines the author broke


def wrap_cjk(text: str, max_chars: int = 16) -> list[str]:
    """Break a line of Chinese/Japanese text into balanced lines of at most
    ``max_chars`` characters (libass does not wrap text without spaces).

    Breaks prefer to follow punctuation, never put closing punctuation at the start
    of a line and never split a run of Latin letters or digits. Lines the author
    already broke (``\\n``) are kept.
    """
    lines: list[str] = []
    for raw in text.split("\n"):
        lines.extend(_wrap_line(raw.strip(), max_chars))
    return lines or [""]


def _wrap_line(line: str, max_chars: int) -> list[str]:
    if len(line) <= max_chars or not any(_is_wide(c) for c in line):
        return [line]  # short, or spaced text libass can wrap on its own
    units = re.findall(r"[A-Za-z0-9'’.\-]+|\s+|.", line)  # a Latin word is one unit
    target = len(line) / math.ceil(len(line) / max_chars)  # balanced lines: 20 chars -> 10 + 10
    # Cheapest layout by dynamic programming over break points: every line costs a
    # lot (fewest lines first), then its distance from the balanced length; a line
    # ending in punctuation earns a bonus (that is where a reader pauses); closing
    # punctuation may not start a line.
    n = len(units)
    best: list[tuple[float, int]] = [(0.0, 0)] + [(math.inf, 0)] * n
    for end in range(1, n + 1):
        length = 0
        for start in range(end - 1, -1, -1):
            length += len(units[start])
            if length > max_chars and end - start > 1:
                break
            if start > 0 and units[start][0] in _NO_LINE_START:
                continue
            text = "".join(units[start:end]).strip()
            if end < n and text and text[-1] in _NO_LINE_END:
                continue
            cost = best[start][0] + 1000 + 100 * ((len(text) - target) / max_chars) ** 2
            if end < n and text and text[-1] in _BREAK_AFTER:
                cost -= 40
            if cost < best[end][0]:
                best[end] = (cost, start)
    lines, end = [], n
    while end > 0:
        start = best[end][1]
        lines.append("".join(units[start:end]).strip())
        end = start
    return [ln for ln in reversed(lines) if ln]


def _ass_time(seconds: float) -> str:
    cs = max(0, round(seconds * 100))
    h, rem = divmod(cs, 360000)
    m, rem = divmod(rem, 6000)
    s, cs = divmod(rem, 100)
    return f"{h}:{m:02d}:{s:02d}.{cs:02d}"


def _ass_text(lines: Iterable[str]) -> str:
    # "{" opens an override block and "\" starts a tag in ASS: use full-width look-alikes.
    safe = (ln.replace("\\", "＼").replace("{", "｛").replace("}", "｝") for ln in lines)
    return r"\N".join(safe)


def write_ass(
    cues: Sequence[Cue],
    width: int,
    height: int,
    font: str = DEFAULT_FONT,
    *,
    font_size: int | None = None,
    max_chars: int = 16,
    margin_v: int | None = None,
    path: str | None = None,
) -> str:
    """An ASS document that burns ``cues`` in at the video's own size.

    PlayResX/PlayResY equal the video size, so sizes are in output pixels (an SRT
    burned in is scaled from a 384×288 canvas). CJK lines are pre-broken with
    ``\\N`` at ``max_chars`` (16 = Netflix's Simplified Chinese limit). Default
    font size is 5.5% of the short side; subtitles sit above the bottom 10%, where
    vertical-video apps draw their controls. Returns the text; also writes it
    (UTF-8) to ``path`` when given.
    """
    short = min(width, height)
    size = font_size or math.ceil(short * 0.055)
    mv = margin_v if margin_v is not None else math.ceil(height * 0.10)
    ml = math.ceil(width * 0.06)
    outline, shadow = max(1, round(size * 0.06)), max(0, round(size * 0.03))
    head = [
        "[Script Info]",
        "; written by transcode.domain.write_ass",
        "ScriptType: v4.00+",
        f"PlayResX: {width}",
        f"PlayResY: {height}",
        "WrapStyle: 0",
        "ScaledBorderAndShadow: yes",
        "YCbCr Matrix: TV.709",
        "",
        "[V4+ Styles]",
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, "
        "Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, "
        "Shadow, Alignment, MarginL, MarginR, MarginV, Encoding",
        f"Style: Default,{font},{size},&H00FFFFFF,&H000000FF,&H00000000,&H80000000,"
        f"0,0,0,0,100,100,0,0,1,{outline},{shadow},2,{ml},{ml},{mv},1",
        "",
        "[Events]",
        "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text",
    ]
    events = [
        f"Dialogue: 0,{_ass_time(c.start)},{_ass_time(c.end)},Default,,0,0,0,,{_ass_text(wrap_cjk(c.text, max_chars))}"
        for c in sorted(cues, key=lambda c: (c.start, c.end))
        if c.end > c.start
    ]
    text = "\n".join(head + events) + "\n"
    if path is not None:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    return text


# -- HLS master playlist ----------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    uri: str
    bandwidth: int  # peak bits/s over segments
    average_bandwidth: int
    width: int
    height: int
    frame_rate: Fraction
    codecs: str


def codecs_tag(video_codec: str, profile: str | None, level: int | None, audio_codec: str | None) -> str:
    """RFC 6381 CODECS value for a variant, from what ffprobe reports."""
    parts = []
    if video_codec == "h264":
        idc = {"Constrained Baseline": (66, 0xE0), "Baseline": (66, 0), "Main": (77, 0), "High": (100, 0)}
        p, flags = idc.get(profile or "High", (100, 0))
        parts.append(f"avc1.{p:02x}{flags:02x}{(level or 40):02x}")
    elif video_codec == "hevc":
        parts.append(f"hvc1.1.6.L{level or 120}.90")
    if audio_codec == "aac":
        parts.append("mp4a.40.2")
    return ",".join(parts)


def master_playlist(
    variants: Sequence[Variant],
    subtitles: Sequence[tuple[Sidecar, str]] = (),
    session_data_uri: str | None = None,
) -> str:
    """The HLS master playlist. The first variant listed is where players start, so it
    is the highest rung at or below 2 Mb/s; the rest follow in ascending order.
    ``subtitles`` pairs each sidecar with its rendition playlist's URI."""
    ordered = sorted(variants, key=lambda v: v.bandwidth)
    start = max((v for v in ordered if v.bandwidth <= 2_200_000), key=lambda v: v.bandwidth, default=ordered[0])
    ordered = [start] + [v for v in ordered if v is not start]
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    if session_data_uri:
        lines.append(f'#EXT-X-SESSION-DATA:DATA-ID="cn.aigc.label",URI="{session_data_uri}"')
    for i, (sidecar, uri) in enumerate(subtitles):
        name = (sidecar.name or sidecar.language).replace('"', "'")
        lines.append(
            f'#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="{name}",LANGUAGE="{sidecar.language}",'
            f'DEFAULT={"YES" if i == 0 else "NO"},AUTOSELECT=YES,URI="{uri}"'
        )
    for v in ordered:
        attrs = (
            f"BANDWIDTH={v.bandwidth},AVERAGE-BANDWIDTH={v.average_bandwidth},"
            f'RESOLUTION={v.width}x{v.height},FRAME-RATE={float(v.frame_rate):.3f},CODECS="{v.codecs}"'
        )
        if subtitles:
            attrs += ',SUBTITLES="subs"'
        lines += [f"#EXT-X-STREAM-INF:{attrs}", v.uri]
    return "\n".join(lines) + "\n"


def subtitle_playlist(vtt_name: str, duration: float) -> str:
    """A one-segment VOD playlist for a whole-episode WebVTT file (valid HLS: a
    subtitle segment may be as long as the target duration says)."""
    target = max(1, math.ceil(duration))
    return (
        "#EXTM3U\n#EXT-X-VERSION:3\n"
        f"#EXT-X-TARGETDURATION:{target}\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n"
        f"#EXTINF:{duration:.3f},\n{vtt_name}\n#EXT-X-ENDLIST\n"
    )


# -- fonts -------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def find_cjk_font(family: str = DEFAULT_FONT) -> str:
    """The font file fontconfig uses for ``family``; ``LookupError`` if the family is
    not installed (fc-match would silently substitute a font without CJK glyphs)."""
    try:
        done = subprocess.run(
            ["fc-match", "-f", "%{family}|%{file}", family], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        done = None
    if done is not None and done.returncode == 0 and "|" in done.stdout:
        families, path = done.stdout.rsplit("|", 1)
        if family.lower() in (f.strip().lower() for f in families.split(",")) and os.path.exists(path):
            return path
    fallback = os.path.join(NOTO_CJK_DIR, "NotoSansCJK-Regular.ttc")
    if family.startswith("Noto Sans CJK") and os.path.exists(fallback):
        return fallback
    raise LookupError(f"font {family!r} is not installed (apt-get install fonts-noto-cjk)")


# -- small helpers ---------------------------------------------------------------------


def _stem(name: str) -> str:
    cleaned = re.sub(r"[^\w.-]+", "_", name).strip("._")
    return cleaned[:80] or "episode"


def _layout(channels: int) -> str:
    return "stereo" if channels == 2 else "mono"


def _fmt_rate(rate: Fraction) -> str:
    return str(rate.numerator) if rate.denominator == 1 else f"{rate.numerator}/{rate.denominator}"


def _fmt_seconds(seconds: float) -> str:
    return f"{seconds:.6f}".rstrip("0").rstrip(".") or "0"


def _even(x: float) -> int:
    return max(2, 2 * math.floor(x / 2 + 0.5))


def _even_up(x: float) -> int:
    return max(2, 2 * math.ceil(x / 2 - 1e-9))


def _even_down(x: float) -> int:
    return max(0, 2 * math.floor(x / 2 + 1e-9))


def _clamp(value: float, low: float, high: float) -> float:
    return round(min(high, max(low, value)), 2)


def _is_wide(char: str) -> bool:
    o = ord(char)
    return (
        0x1100 <= o <= 0x115F or 0x2E80 <= o <= 0xA4CF or 0xAC00 <= o <= 0xD7A3
        or 0xF900 <= o <= 0xFAFF or 0xFE30 <= o <= 0xFE4F or 0xFF00 <= o <= 0xFF60
        or 0xFFE0 <= o <= 0xFFE6 or 0x20000 <= o <= 0x3FFFD
    )  # fmt: skip


def _printable(text: str) -> str:
    return "".join(c for c in text if c.isprintable()).strip()
