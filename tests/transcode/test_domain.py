"""The graph builder, by its argument lists: no ffmpeg runs here."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import pytest

from transcode.domain import (
    BuildError,
    BuildOptions,
    Cue,
    Sidecar,
    Variant,
    build,
    build_loudness_check,
    build_loudness_measure,
    codecs_tag,
    fit_geometry,
    label_font_size,
    master_playlist,
    parse_ebur128_summary,
    parse_loudnorm_json,
    subtitle_playlist,
    wrap_cjk,
    write_ass,
)
from transcode.profiles import (
    BUILTIN_PROFILES,
    EBU_R128,
    LandscapePolicy,
    NoAudioPolicy,
    ScaleMode,
    SubtitleMode,
    SubtitleSpec,
)

TAIL = (
    "-hide_banner", "-nostdin", "-loglevel", "level+info", "-nostats", "-progress", "pipe:1", "-stats_period", "0.5",
    "-xerror", "-y",
)  # fmt: skip
BT709 = ("-color_primaries", "bt709", "-color_range", "tv", "-color_trc", "bt709", "-colorspace", "bt709")
AIGC = (
    '{"Label":"1","ContentProducer":"Pudong Pictures","ProduceID":"PP-2025-0042","ReservedCode1":"",'
    '"ContentPropagator":"PDX","PropagateID":"D-7","ReservedCode2":""}'
)
STEREO_48K = "[{a}]aformat=channel_layouts=stereo[{b}];"
LOUDNORM = (
    "loudnorm=I={i}:LRA=20.0:TP=-1.0:linear=true:measured_I=-20.5:measured_LRA=4.1:measured_TP=-3.2:"
    "measured_thresh=-31.0:offset=0.3:print_format=summary"
)
# the run meters what it delivers: ebur128 right before the encoder (the loudness check)
METER = "aformat=channel_layouts=stereo[{a}];[{a}]ebur128=framelog=verbose:peak=true"
# the run writes the checked frame without overlays (the explicit label check)
UNLABELLED = "trim=end_frame=1:start_frame=0[{a}];[{a}]format=pix_fmts=gray"
LABEL = (
    "drawtext=box=1:boxborderw=15:boxcolor=black@0.6:enable=lt(n\\,60):expansion=none:"
    "font=Noto Sans CJK SC:fontcolor=white:fontsize=60:text=AI生成:x=59:y=59"
)


@pytest.fixture
def plan_for(fake_probe, options, measured):
    def make(name, probe=None, **option_changes):
        opts = dataclasses.replace(options, **{"loudness": measured, **option_changes})
        return build(BUILTIN_PROFILES[name], probe or fake_probe(), "/in/ep01.mp4", "/out", opts)

    return make


# -- every built-in profile, argument for argument ---------------------------------------


def test_mezzanine_args(plan_for):
    plan = plan_for("mezzanine")
    graph = (
        "[0:v:0]scale=h=1920:w=1080[s0];[s0]setsar=1[s1];[s1]format=pix_fmts=yuv422p10le[s2];"
        "[0:a:0]aformat=channel_layouts=stereo[s3];[s3]aresample=48000[s4];"
        "[s4]apad=whole_dur=90[s5];[s5]atrim=duration=90[s6]"
    )
    assert plan.args == (
        "ffmpeg", "-i", "/in/ep01.mp4", "-filter_complex", graph, "-map", "[s2]", "-map", "[s6]",
        "-f", "mov", "-ac", "2", "-ar", "48000", "-c:a", "pcm_s24le", "-c:v", "prores_ks",
        "-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709", "-fps_mode", "cfr",
        "-metadata", f"AIGC={AIGC}", "-movflags", "+use_metadata_tags", "-profile:v", "hq", "-vendor", "apl0",
        "/out/.ep01.mezzanine.partial.mov", *TAIL,
    )  # fmt: skip
    assert plan.package == "/out/ep01.mezzanine.mov"
    assert plan.log_path == "/out/.ep01.mezzanine.log"
    assert plan.label is None
    assert plan.loudness is None


def test_upload_mp4_args(plan_for):
    plan = plan_for("upload_mp4")
    graph = (
        "[0:v:0]scale=h=1920:w=1080[s0];[s0]setsar=1[s1];[s1]split=2[s2][s3];"
        f"[s2]{LABEL}[s4];[s4]format=pix_fmts=yuv420p[s5];"
        f"[0:a:0]aformat=channel_layouts=stereo[s6];[s6]{LOUDNORM.format(i=-14.0)}[s7];"
        "[s7]aresample=48000[s8];[s8]apad=whole_dur=90[s9];[s9]atrim=duration=90[s10];"
        f"[s10]{METER.format(a='s11')}[s12];[s3]{UNLABELLED.format(a='s13')}[s14]"
    )
    assert plan.args == (
        "ffmpeg", "-i", "/in/ep01.mp4", "-filter_complex", graph, "-map", "[s5]", "-map", "[s12]",
        "-f", "mp4", "-ac", "2", "-ar", "48000", "-b:a", "192k", "-b:v", "8000k", "-bufsize", "16000k",
        "-c:a", "aac", "-c:v", "libx264", *BT709, "-fps_mode", "cfr",
        "-g", "15", "-keyint_min", "15",  # GOP = half the frame rate
        "-maxrate", "10000k", "-metadata", f"AIGC={AIGC}", "-movflags", "+faststart+use_metadata_tags",
        "-preset", "medium", "-profile:v", "high", "-sc_threshold", "0",
        "/out/.ep01.upload_mp4.partial.mp4",
        "-map", "[s14]", "-f", "rawvideo", "-frames:v", "1", "/out/.ep01.upload_mp4.label.gray", *TAIL,
    )  # fmt: skip
    assert plan.loudness is not None
    assert plan.loudness.integrated == -14.0
    assert plan.label.reference_path == "/out/.ep01.upload_mp4.label.gray"


def _rung_args(map_v, map_a, w, h, kbps, akbps, maxrate, bufsize):
    folder = f"/out/.ep01.hls_ladder.partial/{w}x{h}_{kbps}k"
    return (
        "-map", map_v, "-map", map_a, "-f", "hls", "-ac", "2", "-ar", "48000", "-b:a", f"{akbps}k",
        "-b:v", f"{kbps}k", "-bufsize", bufsize, "-c:a", "aac", "-c:v", "libx264", *BT709,
        "-force_key_frames", "expr:gte(t,n_forced*2)", "-fps_mode", "cfr", "-g", "60",
        "-hls_flags", "independent_segments", "-hls_playlist_type", "vod",
        "-hls_segment_filename", f"{folder}/seg_%05d.ts", "-hls_segment_type", "mpegts", "-hls_time", "6",
        "-keyint_min", "60", "-maxrate", maxrate, "-preset", "veryfast", "-profile:v", "high",
        "-sc_threshold", "0", f"{folder}/index.m3u8",
    )  # fmt: skip


def test_hls_ladder_args_one_decode_split_to_every_rung(plan_for):
    plan = plan_for("hls_ladder")
    graph = (
        "[0:v:0]scale=h=1920:w=1080[s0];[s0]setsar=1[s1];[s1]split=2[s2][s3];"
        f"[s2]{LABEL}[s4];[s4]split=6[s5][s6][s7][s8][s9][s10];"
        "[s5]scale=h=416:w=234[s11];[s11]format=pix_fmts=yuv420p[s12];"
        f"[0:a:0]aformat=channel_layouts=stereo[s13];[s13]{LOUDNORM.format(i=-14.0)}[s14];"
        "[s14]aresample=48000[s15];[s15]apad=whole_dur=90[s16];[s16]atrim=duration=90[s17];"
        f"[s17]{METER.format(a='s18')}[s19];[s19]asplit=6[s20][s21][s22][s23][s24][s25];"
        "[s6]scale=h=640:w=360[s26];[s26]format=pix_fmts=yuv420p[s27];"
        "[s7]scale=h=768:w=432[s28];[s28]format=pix_fmts=yuv420p[s29];"
        "[s8]scale=h=960:w=540[s30];[s30]format=pix_fmts=yuv420p[s31];"
        "[s9]scale=h=1280:w=720[s32];[s32]format=pix_fmts=yuv420p[s33];"
        "[s10]scale=h=1920:w=1080[s34];[s34]format=pix_fmts=yuv420p[s35];"
        f"[s3]{UNLABELLED.format(a='s36')}[s37]"
    )
    assert plan.args == (
        "ffmpeg", "-i", "/in/ep01.mp4", "-filter_complex", graph,
        *_rung_args("[s12]", "[s20]", 234, 416, 145, 64, "160k", "218k"),
        *_rung_args("[s27]", "[s21]", 360, 640, 365, 96, "402k", "548k"),
        *_rung_args("[s29]", "[s22]", 432, 768, 730, 96, "803k", "1095k"),
        *_rung_args("[s31]", "[s23]", 540, 960, 2000, 128, "2200k", "3000k"),
        *_rung_args("[s33]", "[s24]", 720, 1280, 3000, 128, "3300k", "4500k"),
        *_rung_args("[s35]", "[s25]", 1080, 1920, 6000, 160, "6600k", "9000k"),
        "-map", "[s37]", "-f", "rawvideo", "-frames:v", "1", "/out/.ep01.hls_ladder.label.gray",
        *TAIL,
    )  # fmt: skip
    assert plan.args.count("-i") == 1  # one decode
    assert [o.role for o in plan.outputs] == [
        "rung:234x416_145k", "rung:360x640_365k", "rung:432x768_730k",
        "rung:540x960_2000k", "rung:720x1280_3000k", "rung:1080x1920_6000k",
    ]  # fmt: skip
    assert plan.package == "/out/ep01.hls_ladder"
    assert plan.label is not None
    assert plan.label.checked_output == "rung:1080x1920_6000k"


def test_broadcast_r128_args_pillarbox_25p(plan_for):
    plan = plan_for("broadcast_r128")
    graph = (
        "[0:v:0]fps=fps=25[s0];[s0]scale=h=1080:w=608[s1];[s1]pad=color=black:h=1080:w=1920:x=656:y=0[s2];"
        "[s2]setsar=1[s3];[s3]format=pix_fmts=yuv420p[s4];"
        f"[0:a:0]aformat=channel_layouts=stereo[s5];[s5]{LOUDNORM.format(i=-23.0)}[s6];"
        "[s6]aresample=48000[s7];[s7]apad=whole_dur=90[s8];[s8]atrim=duration=90[s9];"
        f"[s9]{METER.format(a='s10')}[s11]"
    )
    assert plan.args == (
        "ffmpeg", "-i", "/in/ep01.mp4", "-filter_complex", graph, "-map", "[s4]", "-map", "[s11]",
        "-f", "mov", "-ac", "2", "-ar", "48000", "-b:v", "25000k", "-bufsize", "30000k",
        "-c:a", "pcm_s24le", "-c:v", "libx264", *BT709, "-fps_mode", "cfr", "-g", "12", "-keyint_min", "12",
        "-maxrate", "30000k", "-metadata", f"AIGC={AIGC}", "-movflags", "+use_metadata_tags",
        "-preset", "medium", "-profile:v", "high", "-sc_threshold", "0",
        "/out/.ep01.broadcast_r128.partial.mov", *TAIL,
    )  # fmt: skip
    assert plan.notes == (
        "frame rate converted from 30 to 25 fps",
        "loudness -20.5 LUFS normalised to -23 LUFS / -1 dBTP (EBU R128)",
    )


def test_screener_args_moving_watermark(plan_for):
    plan = plan_for("screener", watermark_text="Acme: 50% off [x]; a,b")
    watermark = (
        "drawtext=font=Noto Sans CJK SC:fontcolor=white@0.4:fontsize=29:shadowcolor=black@0.4:"
        "shadowx=2:shadowy=2:"
        # user text escaped for drawtext (\%), then for the option (\:) and graph ([],;) levels
        r"text=Acme\\: 50\\\\% off \[x\]\; a\,b  %{pts\\:hms}:"
        r"x=(w-tw)*abs(mod(t/23\,2)-1):y=(h-th)*abs(mod(t/31.51\,2)-1)"
    )
    graph = (
        f"[0:v:0]scale=h=1280:w=720[s0];[s0]setsar=1[s1];[s1]{watermark}[s2];[s2]format=pix_fmts=yuv420p[s3];"
        "[0:a:0]aformat=channel_layouts=stereo[s4];[s4]aresample=48000[s5];"
        "[s5]apad=whole_dur=90[s6];[s6]atrim=duration=90[s7]"
    )
    assert plan.args == (
        "ffmpeg", "-i", "/in/ep01.mp4", "-filter_complex", graph, "-map", "[s3]", "-map", "[s7]",
        "-f", "mp4", "-ac", "2", "-ar", "48000", "-b:a", "128k", "-bufsize", "5000k",
        "-c:a", "aac", "-c:v", "libx264", *BT709, "-crf", "26", "-fps_mode", "cfr", "-g", "60", "-keyint_min", "60",
        "-maxrate", "2500k", "-metadata", f"AIGC={AIGC}", "-movflags", "+faststart+use_metadata_tags",
        "-preset", "veryfast", "-profile:v", "high", "-sc_threshold", "0",
        "/out/.ep01.screener.partial.mp4", *TAIL,
    )  # fmt: skip


def test_stills_args_poster_and_thumbnails_from_one_decode(plan_for):
    plan = plan_for("stills")
    thumbs = "+".join(f"eq(n\\,{n})" for n in (135, 405, 675, 945, 1215, 1485, 1755, 2025, 2295, 2565))
    graph = (
        "[0:v:0]split=2[s0][s1];[s0]select=eq(n\\,270)[s2];[s2]scale=h=1920:w=1080[s3];[s3]setsar=1[s4];"
        f"[s4]format=pix_fmts=yuvj420p[s5];[s1]select={thumbs}[s6];[s6]scale=h=480:w=270[s7];[s7]setsar=1[s8];"
        "[s8]format=pix_fmts=yuvj420p[s9]"
    )
    assert plan.args == (
        "ffmpeg", "-i", "/in/ep01.mp4", "-filter_complex", graph,
        "-map", "[s5]", "-f", "image2", "-c:v", "mjpeg", "-fps_mode", "passthrough", "-frames:v", "1",
        "-q:v", "2", "-update", "1", "/out/.ep01.stills.partial/poster.jpg",
        "-map", "[s9]", "-f", "image2", "-c:v", "mjpeg", "-fps_mode", "passthrough", "-frames:v", "10",
        "-q:v", "2", "/out/.ep01.stills.partial/thumbnails/thumb_%03d.jpg", *TAIL,
    )  # fmt: skip
    assert plan.metadata == {}


def test_loudness_measure_pass_args():
    assert build_loudness_measure("/in/ep01.mp4", EBU_R128) == (
        "ffmpeg", "-i", "/in/ep01.mp4", "-filter_complex",
        "[0:a:0]aformat=channel_layouts=stereo[s0];[s0]loudnorm=I=-23.0:LRA=20.0:TP=-1.0:print_format=json[s1]",
        "-map", "[s1]", "-f", "null", "-", "-hide_banner", "-nostdin", "-nostats", "-progress", "pipe:1", "-y",
    )  # fmt: skip


# -- adapting or rejecting sources ---------------------------------------------------------


def test_landscape_source_rejected_by_upload_profile(plan_for, fake_probe):
    with pytest.raises(BuildError, match=r"landscape source \(1920x1080\).*rejects landscape"):
        plan_for("upload_mp4", probe=fake_probe(width=1920, height=1080))


def test_landscape_source_letterboxed_by_screener(plan_for, fake_probe):
    plan = plan_for("screener", probe=fake_probe(width=1920, height=1080))
    graph = plan.args[plan.args.index("-filter_complex") + 1]
    assert graph.startswith("[0:v:0]scale=h=406:w=720[s0];[s0]pad=color=black:h=1280:w=720:x=0:y=436[s1];")
    assert "landscape source (1920x1080) letterboxed into portrait" in plan.notes


def test_landscape_policy_crop(plan_for, fake_probe, shrink):
    profile = BUILTIN_PROFILES["screener"]
    profile = dataclasses.replace(profile, video=dataclasses.replace(profile.video, landscape=LandscapePolicy.CROP))
    plan = build(profile, fake_probe(width=1920, height=1080), "/in/ep01.mp4", "/out",
                 BuildOptions(ai_generated=False, watermark_text="x"))
    graph = plan.args[plan.args.index("-filter_complex") + 1]
    assert graph.startswith("[0:v:0]scale=h=1280:w=2276[s0];[s0]crop=h=1280:w=720:x=778:y=0[s1];")


def test_rotated_phone_source_counts_as_portrait(plan_for, fake_probe):
    plan = plan_for("upload_mp4", probe=fake_probe(width=1920, height=1080, rotation=90))
    assert "source rotated 90 degrees by its metadata; delivered upright" in plan.notes


def test_no_audio_gets_silence_of_the_video_length(plan_for, fake_probe):
    plan = plan_for("upload_mp4", probe=fake_probe(audio=()))
    i = plan.args.index("anullsrc=r=48000:cl=stereo")
    assert plan.args[i - 5 : i + 1] == ("-f", "lavfi", "-t", "90", "-i", "anullsrc=r=48000:cl=stereo")
    assert plan.args[plan.args.index("1:a") - 1] == "-map"
    assert "loudnorm" not in plan.args[plan.args.index("-filter_complex") + 1]
    assert "source has no audio: silent track added" in plan.notes


def test_no_audio_rejected_when_profile_says_so(fake_probe, options):
    profile = BUILTIN_PROFILES["screener"]
    profile = dataclasses.replace(profile, audio=dataclasses.replace(profile.audio, no_audio=NoAudioPolicy.REJECT))
    with pytest.raises(BuildError, match="has no audio and profile screener requires a sound track"):
        build(profile, fake_probe(audio=()), "/in/a.mp4", "/out", options)


def test_vfr_source_converted_to_cfr(plan_for, fake_probe):
    # a phone recording: 90 kHz nominal rate, 29.95 fps on average, snapped to NTSC 30000/1001
    plan = plan_for("upload_mp4", probe=fake_probe(r_frame_rate=Fraction(90000), avg_frame_rate=Fraction(2995, 100)))
    assert plan.args[plan.args.index("-filter_complex") + 1].startswith("[0:v:0]fps=fps=30000/1001[s0];")
    assert plan.frame_rate == Fraction(30000, 1001)
    assert "-fps_mode" in plan.args
    assert "variable frame rate source converted to constant 30000/1001 fps" in plan.notes


def test_ten_bit_source_goes_8_bit_for_h264_high(plan_for, fake_probe):
    plan = plan_for("upload_mp4", probe=fake_probe(pix_fmt="yuv420p10le", bit_depth=10))
    assert "format=pix_fmts=yuv420p[" in plan.args[plan.args.index("-filter_complex") + 1]
    assert "10-bit source converted to 8-bit yuv420p" in plan.notes


def test_two_pass_loudness_needs_the_measurement(fake_probe, options):
    with pytest.raises(BuildError, match="measure first"):
        build(BUILTIN_PROFILES["broadcast_r128"], fake_probe(), "/in/a.mp4", "/out", options)


def test_silent_audio_is_not_normalised(plan_for, measured):
    plan = plan_for("broadcast_r128", loudness={**measured, "input_i": float("-inf")})
    assert "loudnorm" not in plan.args[plan.args.index("-filter_complex") + 1]
    assert plan.loudness is None
    assert "audio is silent: loudness left as is" in plan.notes


def test_implicit_label_needs_aigc_unless_not_ai(fake_probe, measured):
    with pytest.raises(BuildError, match="options.aigc"):
        build(BUILTIN_PROFILES["upload_mp4"], fake_probe(), "/in/a.mp4", "/out", BuildOptions(loudness=measured))
    plan = build(BUILTIN_PROFILES["upload_mp4"], fake_probe(), "/in/a.mp4", "/out",
                 BuildOptions(loudness=measured, ai_generated=False))
    assert plan.metadata == {}
    assert plan.label is None
    assert not any(a.startswith("AIGC=") for a in plan.args)
    assert "drawtext" not in plan.args[plan.args.index("-filter_complex") + 1]


def test_label_text_from_options_and_size_from_short_side(plan_for):
    plan = plan_for("upload_mp4", label_text="本片由AI生成")
    assert plan.label is not None
    assert plan.label.text == "本片由AI生成"
    assert plan.label.font_size == 60 == label_font_size(1080, 5.0)
    # 5% of 1080 is 54 px of ink; Noto CJK inks 90% of the em
    assert plan.label.font_size * 0.9 >= 54
    # the opening frame is checked, where the label must be; the source rendered alone
    # gives the same frame for checking a delivered file later
    assert plan.label.check_frame == 0
    assert plan.label.reference_args[plan.label.reference_args.index("-filter_complex") + 1] == (
        f"[0:v:0]scale=h=1920:w=1080[s0];[s0]setsar=1[s1];[s1]{UNLABELLED.format(a='s2')}[s3]"
    )


def test_screener_requires_watermark_text(fake_probe, aigc):
    with pytest.raises(BuildError, match="watermark_text"):
        build(BUILTIN_PROFILES["screener"], fake_probe(), "/in/a.mp4", "/out", BuildOptions(aigc=aigc))


def test_ladder_skips_rungs_that_would_upscale(plan_for, fake_probe):
    plan = plan_for("hls_ladder", probe=fake_probe(width=540, height=960))
    assert [r.name for r in plan.rungs] == ["234x416_145k", "360x640_365k", "432x768_730k", "540x960_2000k"]
    assert plan.args.count("-hls_time") == 4
    assert plan.label is not None
    assert plan.label.frame == (540, 960)  # the canvas is the top rung kept


def test_burned_subtitles_use_the_ass_filter(fake_probe, options):
    profile = dataclasses.replace(BUILTIN_PROFILES["screener"], subtitles=SubtitleSpec(SubtitleMode.BURN, "zh-Hans"))
    plan = build(profile, fake_probe(), "/in/a.mp4", "/out", dataclasses.replace(options, subtitles="/subs/zh.ass"))
    graph = plan.args[plan.args.index("-filter_complex") + 1]
    assert "[s1]ass=filename=/subs/zh.ass:fontsdir=/usr/share/fonts/opentype/noto[s2]" in graph
    with pytest.raises(BuildError, match="burns in zh-Hans subtitles"):
        build(profile, fake_probe(), "/in/a.mp4", "/out", options)
    with pytest.raises(BuildError, match="must be an ASS file"):
        build(profile, fake_probe(), "/in/a.mp4", "/out", dataclasses.replace(options, subtitles="/subs/zh.srt"))


def test_sidecars_only_where_the_profile_takes_them(plan_for):
    with pytest.raises(BuildError, match="takes no sidecar subtitles"):
        plan_for("screener", sidecars=(Sidecar("en", "/subs/en.vtt"),))
    with pytest.raises(BuildError, match="WebVTT"):
        plan_for("hls_ladder", sidecars=(Sidecar("en", "/subs/en.srt"),))
    plan = plan_for("hls_ladder", sidecars=(Sidecar("en", "/subs/en.vtt"),))
    assert plan.sidecars == (Sidecar("en", "/subs/en.vtt"),)


def test_output_names_are_deterministic_and_safe(fake_probe, options, measured):
    opts = dataclasses.replace(options, loudness=measured, output_stem="第1集 / final?")
    plan = build(BUILTIN_PROFILES["upload_mp4"], fake_probe(), "/in/a.mp4", "/out", opts)
    assert plan.package == "/out/第1集_final.upload_mp4.mp4"
    assert plan.package_tmp == "/out/.第1集_final.upload_mp4.partial.mp4"
    again = build(BUILTIN_PROFILES["upload_mp4"], fake_probe(), "/in/a.mp4", "/out", opts)
    assert again.args == plan.args


# -- geometry, subtitles, playlists --------------------------------------------------------


@pytest.mark.parametrize(
    ("src", "dst", "mode", "expected"),
    [
        ((1080, 1920), (720, 1280), ScaleMode.PAD, (720, 1280, 720, 1280, 0, 0)),
        ((1920, 1080), (1080, 1920), ScaleMode.PAD, (1080, 608, 1080, 1920, 0, 656)),
        ((1920, 1080), (1080, 1920), ScaleMode.CROP, (3414, 1920, 1080, 1920, 1166, 0)),
        ((1080, 1440), (1080, 1920), ScaleMode.FIT, (1080, 1440, 1080, 1440, 0, 0)),
        ((1080, 1440), (720, 1280), ScaleMode.FIT, (720, 960, 720, 960, 0, 0)),
        ((1081, 1921), (1080, 1920), ScaleMode.PAD, (1080, 1920, 1080, 1920, 0, 0)),
    ],
)
def test_fit_geometry(src, dst, mode, expected):
    g = fit_geometry(*src, *dst, mode)
    assert (g.scale_w, g.scale_h, g.out_w, g.out_h, g.x, g.y) == expected
    assert all(v % 2 == 0 for v in (g.scale_w, g.scale_h, g.out_w, g.out_h))


def test_wrap_cjk_balances_lines_and_respects_punctuation():
    assert wrap_cjk("你今天晚上到底要不要跟我一起回家吃饭", 16) == ["你今天晚上到底要不", "要跟我一起回家吃饭"]
    assert wrap_cjk("我知道了，明天早上八点我们在公司门口见面", 16) == ["我知道了，", "明天早上八点我们在公司门口见面"]
    # closing punctuation never starts a line
    assert all(not line.startswith(("，", "。", "！")) for line in wrap_cjk("一二三四五六七八九十一二三四五六。好的", 16))
    assert wrap_cjk("短句", 16) == ["短句"]
    assert wrap_cjk("This is English and libass wraps it on spaces by itself", 16) == [
        "This is English and libass wraps it on spaces by itself"
    ]
    # a Latin word inside Chinese text is not cut
    lines = wrap_cjk("我们的新剧Shanghai Nights今晚在所有平台同步上线", 12)
    assert any("Shanghai" in line for line in lines)
    assert all(len(line) <= 12 for line in lines)


def test_write_ass_uses_video_size_and_breaks_chinese(tmp_path):
    cues = [Cue(1.0, 3.5, "你今天晚上到底要不要跟我一起回家吃饭"), Cue(0.0, 0.9, "{\\an8}开始")]
    text = write_ass(cues, 1080, 1920, path=str(tmp_path / "zh.ass"))
    assert "PlayResX: 1080\nPlayResY: 1920\n" in text
    assert "Style: Default,Noto Sans CJK SC,60," in text  # 5.5% of the short side
    lines = [ln for ln in text.splitlines() if ln.startswith("Dialogue:")]
    assert lines == [
        "Dialogue: 0,0:00:00.00,0:00:00.90,Default,,0,0,0,,｛＼an8｝开始",  # no override injection
        "Dialogue: 0,0:00:01.00,0:00:03.50,Default,,0,0,0,,你今天晚上到底要不\\N要跟我一起回家吃饭",
    ]
    assert (tmp_path / "zh.ass").read_text(encoding="utf-8") == text


def test_master_playlist_starts_near_2mbps_and_lists_subtitles_and_aigc():
    variants = [
        Variant("234x416_145k/index.m3u8", 160_000, 150_000, 234, 416, Fraction(30), "avc1.64000d,mp4a.40.2"),
        Variant("540x960_2000k/index.m3u8", 2_150_000, 2_000_000, 540, 960, Fraction(30), "avc1.64001f,mp4a.40.2"),
        Variant("1080x1920_6000k/index.m3u8", 6_500_000, 6_000_000, 1080, 1920, Fraction(30), "avc1.640028,mp4a.40.2"),
    ]
    text = master_playlist(variants, [(Sidecar("en", "/x/en.vtt", "English"), "subs_en/index.m3u8")], "aigc.json")
    assert text.splitlines() == [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        "#EXT-X-INDEPENDENT-SEGMENTS",
        '#EXT-X-SESSION-DATA:DATA-ID="cn.aigc.label",URI="aigc.json"',
        '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,'
        'URI="subs_en/index.m3u8"',
        '#EXT-X-STREAM-INF:BANDWIDTH=2150000,AVERAGE-BANDWIDTH=2000000,RESOLUTION=540x960,FRAME-RATE=30.000,'
        'CODECS="avc1.64001f,mp4a.40.2",SUBTITLES="subs"',
        "540x960_2000k/index.m3u8",
        '#EXT-X-STREAM-INF:BANDWIDTH=160000,AVERAGE-BANDWIDTH=150000,RESOLUTION=234x416,FRAME-RATE=30.000,'
        'CODECS="avc1.64000d,mp4a.40.2",SUBTITLES="subs"',
        "234x416_145k/index.m3u8",
        '#EXT-X-STREAM-INF:BANDWIDTH=6500000,AVERAGE-BANDWIDTH=6000000,RESOLUTION=1080x1920,FRAME-RATE=30.000,'
        'CODECS="avc1.640028,mp4a.40.2",SUBTITLES="subs"',
        "1080x1920_6000k/index.m3u8",
    ]


def test_subtitle_playlist_and_codecs():
    assert subtitle_playlist("en.vtt", 92.4).splitlines()[2:6] == [
        "#EXT-X-TARGETDURATION:93", "#EXT-X-MEDIA-SEQUENCE:0", "#EXT-X-PLAYLIST-TYPE:VOD", "#EXTINF:92.400,",
    ]  # fmt: skip
    assert codecs_tag("h264", "High", 40, "aac") == "avc1.640028,mp4a.40.2"
    assert codecs_tag("h264", "Constrained Baseline", 30, None) == "avc1.42e01e"


def test_parse_loudnorm_json_takes_the_last_block():
    stderr = (
        "[Parsed_loudnorm_1 @ 0x1]\n{\n"
        '\t"input_i" : "-27.61",\n\t"input_tp" : "-4.47",\n\t"input_lra" : "18.06",\n'
        '\t"input_thresh" : "-39.20",\n\t"output_i" : "-16.58",\n\t"output_tp" : "-1.50",\n'
        '\t"target_offset" : "0.58"\n}\n'
    )
    assert parse_loudnorm_json(stderr) == {
        "input_i": -27.61, "input_tp": -4.47, "input_lra": 18.06, "input_thresh": -39.2, "target_offset": 0.58,
    }  # fmt: skip
    with pytest.raises(ValueError, match="no loudnorm JSON"):
        parse_loudnorm_json("Stream map '0:a:0' matches no streams.")


def test_loudness_check_args_and_summary():
    assert build_loudness_check("/out/a.mp4") == (
        "ffmpeg", "-i", "/out/a.mp4", "-filter_complex", "[0:a:0]ebur128=framelog=verbose:peak=true[s0]",
        "-map", "[s0]", "-f", "null", "-", "-hide_banner", "-nostdin", "-nostats", "-progress", "pipe:1", "-y",
    )  # fmt: skip
    log = (
        "[Parsed_ebur128_0 @ 0x1] Summary:\n\n  Integrated loudness:\n    I:         -23.1 LUFS\n"
        "    Threshold: -33.1 LUFS\n\n  Loudness range:\n    LRA:         6.5 LU\n    Threshold: -43.0 LUFS\n"
        "\n  True peak:\n    Peak:       -1.4 dBFS\n"
    )
    assert parse_ebur128_summary(log) == {"integrated": -23.1, "lra": 6.5, "true_peak": -1.4}
    with pytest.raises(ValueError, match="no integrated"):
        parse_ebur128_summary("Conversion failed!")
