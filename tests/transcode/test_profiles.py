"""Profiles as data: built-ins, JSON round trips, validation that names the field."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest

from transcode.profiles import (
    APPLE_UPRIGHT_RUNGS,
    ATSC_A85,
    BUILTIN_PROFILES,
    EBU_R128,
    STREAMING,
    Container,
    LandscapePolicy,
    Profile,
    ProfileError,
    get_profile,
)

CUSTOM = {
    "name": "fast_app",
    "container": "mp4",
    "video": {"codec": "h264", "profile": "high", "width": 720, "height": 1280, "crf": 23,
              "fps": "30000/1001", "gop_seconds": 1, "landscape": "reject"},
    "audio": {"codec": "aac", "bitrate_kbps": 128, "loudness": "atsc_a85", "no_audio": "reject"},
    "ai_label": {"explicit": True, "text": "本视频由AI生成", "seconds": 3, "min_size_pct": 5},
}  # fmt: skip


def test_builtins_are_the_six_families():
    assert list(BUILTIN_PROFILES) == ["mezzanine", "upload_mp4", "hls_ladder", "broadcast_r128", "screener", "stills"]
    assert get_profile("screener") is BUILTIN_PROFILES["screener"]
    with pytest.raises(KeyError, match="known: mezzanine"):
        get_profile("nope")


@pytest.mark.parametrize("name", list(BUILTIN_PROFILES))
def test_builtin_round_trips_through_json(name):
    profile = BUILTIN_PROFILES[name]
    data = json.loads(json.dumps(profile.to_dict()))
    assert Profile.from_dict(data) == profile


def test_builtin_numbers_follow_the_design():
    upload = BUILTIN_PROFILES["upload_mp4"]
    assert upload.video.gop_for(Fraction(30)) == 15  # GOP = half the frame rate
    assert upload.video.gop_for(Fraction(24)) == 12
    assert upload.audio.loudness == STREAMING
    assert (STREAMING.integrated, STREAMING.true_peak) == (-14.0, -1.0)
    assert upload.faststart
    broadcast = BUILTIN_PROFILES["broadcast_r128"]
    assert broadcast.audio.loudness == EBU_R128
    assert (EBU_R128.integrated, EBU_R128.true_peak, EBU_R128.tolerance) == (-23.0, -1.0, 1.0)
    assert ATSC_A85.integrated == -24.0
    hls = BUILTIN_PROFILES["hls_ladder"]
    assert hls.video.gop_seconds == 2
    assert hls.hls.segment_seconds == 6
    assert [(r.width, r.height, r.video_kbps) for r in hls.hls.rungs] == [
        (234, 416, 145), (360, 640, 365), (432, 768, 730), (540, 960, 2000), (720, 1280, 3000), (1080, 1920, 6000),
    ]  # fmt: skip
    assert all(r in APPLE_UPRIGHT_RUNGS for r in hls.hls.rungs)
    assert BUILTIN_PROFILES["screener"].watermark.enabled
    assert (BUILTIN_PROFILES["screener"].video.width, BUILTIN_PROFILES["screener"].video.height) == (720, 1280)
    assert BUILTIN_PROFILES["mezzanine"].video.codec == "prores"
    assert BUILTIN_PROFILES["stills"].container is Container.IMAGES


def test_custom_profile_from_json():
    profile = Profile.from_dict(CUSTOM)
    assert profile.video.fps == Fraction(30000, 1001)
    assert profile.video.gop_for(profile.video.fps) == 30
    assert profile.video.landscape is LandscapePolicy.REJECT
    assert profile.audio.loudness == ATSC_A85
    assert Profile.from_dict(profile.to_dict()) == profile
    assert profile.to_dict()["video"]["fps"] == "30000/1001"


def _with(path: str, value):
    data = json.loads(json.dumps(CUSTOM))
    *parents, last = path.split(".")
    node = data
    for key in parents:
        node = node[key]
    if value is KeyError:
        del node[last]
    else:
        node[last] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("name", "Fast App", "name: must be 1-40 lowercase"),
        ("container", "avi", "container: must be one of ['mp4', 'mov', 'hls', 'images'], got 'avi'"),
        ("video.codec", "vp9", "video.codec: must be one of"),
        ("video.width", 721, "video.width: must be an even number"),
        ("video.height", "1280", "video.height: must be an integer, got '1280'"),
        ("video.crf", 60, "video.crf: must be between 0 and 51"),
        ("video.gop_seconds", 0, "video.gop_seconds: must be > 0"),
        ("video.fps", "fast", "video.fps: must be a number or a fraction"),
        ("video.colour", "bt709", "video.colour: unknown field"),
        ("video.pix_fmt", "yuv422p", "video.pix_fmt: must be yuv420p for H.264 high"),
        ("video.preset", "turbo", "video.preset: must be one of the x264/x265 presets"),
        ("audio.codec", "pcm_s24le", "audio.bitrate_kbps: not used by PCM"),
        ("audio.bitrate_kbps", None, "audio.bitrate_kbps: must be between 32 and 512 for aac"),
        ("audio.loudness", "loud", "audio.loudness: unknown loudness preset 'loud'"),
        ("audio.loudness", {"standard": "x", "integrated": -3, "true_peak": -1}, "audio.loudness.integrated: must be between -70 and -5"),
        ("audio.no_audio", "ignore", "audio.no_audio: must be one of ['silence', 'reject']"),
        ("ai_label.seconds", 0.1, "ai_label.seconds: must be between 0.5 and 60"),
        ("ai_label.explicit", "yes", "ai_label.explicit: must be true or false"),
        ("audio", KeyError, "audio: required for mp4"),
        ("video", KeyError, "video: is required"),
        ("video.crf", KeyError, "video.crf: set crf or bitrate_kbps"),
    ],
)
def test_invalid_profiles_name_the_field(path, value, message):
    with pytest.raises(ProfileError) as err:
        Profile.from_dict(_with(path, value))
    assert str(err.value).startswith(message)


def test_hls_rules():
    data = BUILTIN_PROFILES["hls_ladder"].to_dict()
    data["video"]["gop_seconds"] = 4  # 6 s segments would not start on IDR frames
    with pytest.raises(ProfileError, match="hls.segment_seconds: must be a multiple of video.gop_seconds"):
        Profile.from_dict(data)
    data = BUILTIN_PROFILES["hls_ladder"].to_dict()
    data["hls"]["rungs"].append({"width": 1280, "height": 720, "video_kbps": 3000})
    with pytest.raises(ProfileError, match=r"hls.rungs\[6\]: 1280x720 is larger than the 1080x1920 canvas"):
        Profile.from_dict(data)
    data = BUILTIN_PROFILES["hls_ladder"].to_dict()
    data["video"]["bitrate_kbps"] = 5000
    with pytest.raises(ProfileError, match="video.bitrate_kbps: not used by HLS"):
        Profile.from_dict(data)


def test_mezzanine_stays_clean():
    data = BUILTIN_PROFILES["mezzanine"].to_dict()
    data["watermark"]["enabled"] = True
    with pytest.raises(ProfileError, match="ProRes mezzanine stays clean"):
        Profile.from_dict(data)


def test_summary_lines():
    assert BUILTIN_PROFILES["upload_mp4"].summary() == (
        "mp4, h264 1080x1920, 8000k, source fps, aac 48kHz, -14 LUFS, AI label"
    )
    assert BUILTIN_PROFILES["hls_ladder"].summary().startswith("hls, h264 1080x1920, 6 rungs 145-6000k")
