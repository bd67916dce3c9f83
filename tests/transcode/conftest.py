"""Fixtures for the transcode tests: tiny generated media and shrunken profiles.

Media are made once per session with lavfi (testsrc2 + sine) at 180x320, so every
real ffmpeg run takes a fraction of a second.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
from collections.abc import Callable
from fractions import Fraction

import pytest

from transcode.domain import Aigc, BuildOptions
from transcode.probe import AudioStream, ProbeInfo
from transcode.profiles import HlsRung, Profile

W, H = 180, 320

_GEN = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y"]
_X264 = ["-c:v", "libx264", "-preset", "ultrafast"]


def _video(seconds: float, size: str = f"{W}x{H}", rate: int = 30) -> list[str]:
    return ["-f", "lavfi", "-i", f"testsrc2=s={size}:r={rate}:d={seconds}"]


def _tone(seconds: float, freq: int = 440) -> list[str]:
    # sine's default amplitude (1/8) is about -21.8 LUFS in stereo
    return ["-f", "lavfi", "-i", f"sine=f={freq}:r=48000:d={seconds}", "-ac", "2"]


def _recipes(path: str) -> dict[str, list[list[str]]]:
    """Commands that make each named source (the last one writes ``path``)."""
    aac = ["-c:a", "aac", "-b:a", "96k"]
    return {
        "portrait": [_GEN + _video(2) + _tone(2) + _X264 + ["-pix_fmt", "yuv420p"] + aac + ["-shortest", path]],
        "portrait3": [_GEN + _video(3) + _tone(3) + _X264 + ["-pix_fmt", "yuv420p"] + aac + ["-shortest", path]],
        "long": [_GEN + _video(20) + _tone(20) + _X264 + ["-pix_fmt", "yuv420p"] + aac + ["-shortest", path]],
        "landscape": [_GEN + _video(2, f"{H}x{W}") + _tone(2) + _X264 + ["-pix_fmt", "yuv420p"] + aac + ["-shortest", path]],
        "noaudio": [_GEN + _video(2) + _X264 + ["-pix_fmt", "yuv420p", path]],
        "tenbit": [_GEN + _video(2) + _tone(2) + _X264 + ["-pix_fmt", "yuv420p10le"] + aac + ["-shortest", path]],
        # 1.5 s at 30 fps, then 1.5 s at 15 fps: r_frame_rate 30, avg_frame_rate ~20
        "vfr": [_GEN + _video(2.5) + _tone(3) + _X264 + ["-pix_fmt", "yuv420p", "-vf",
                "setpts='if(lt(N,45),N/30,1.5+(N-45)/15)/TB'", "-fps_mode", "vfr"] + aac + [path]],
        "rotated": [
            _GEN + _video(2, f"{H}x{W}") + _X264 + ["-pix_fmt", "yuv420p", path + ".tmp.mp4"],
            _GEN + ["-i", path + ".tmp.mp4", "-c", "copy", "-metadata:s:v:0", "rotate=90", path],
        ],
    }


@pytest.fixture(scope="session")
def media(tmp_path_factory) -> Callable[[str], str]:
    """``media(name)`` → path of a generated source, made on first use."""
    root = tmp_path_factory.mktemp("media")
    made: dict[str, str] = {}

    def make(name: str) -> str:
        if name in made:
            return made[name]
        path = str(root / f"{name}.mp4")
        if name == "empty":
            open(path, "wb").close()
        elif name == "text":
            path = str(root / "notes.mp4")  # a video's name, a text file's content
            with open(path, "w") as fh:
                fh.write("EPISODE 1 - final script, not a video\n" * 50)
        elif name in ("corrupt", "truncated"):
            data = bytearray(open(make("portrait3"), "rb").read())
            if name == "corrupt":  # garbage over a stretch in the middle of the media data
                for i in range(len(data) // 2, len(data) // 2 + 12000):
                    data[i] = (i * 7919) & 0xFF
            else:  # a faststart upload cut off half-way
                faststart = path + ".fs.mp4"
                subprocess.run(_GEN + ["-i", make("portrait3"), "-c", "copy", "-movflags", "+faststart", faststart],
                               check=True)
                data = bytearray(open(faststart, "rb").read())[: len(data) // 2]
            with open(path, "wb") as fh:
                fh.write(data)
        else:
            for cmd in _recipes(path)[name]:
                subprocess.run(cmd, check=True)
        made[name] = path
        return path

    return make


def _shrink(profile: Profile, width: int = W, height: int = H, **video_changes) -> Profile:
    """The same profile at test size with a fast x264 preset that still makes High profile."""
    video = profile.video
    changes = {"width": width, "height": height, **video_changes}
    if video.preset:
        changes.setdefault("preset", "superfast")  # ultrafast would drop to Constrained Baseline
    hls = profile.hls
    if hls is not None:
        hls = dataclasses.replace(hls, rungs=(HlsRung(90, 160, 100, 64), HlsRung(144, 256, 200, 64), HlsRung(W, H, 300, 96)))
    return dataclasses.replace(profile, video=dataclasses.replace(video, **changes), hls=hls)


@pytest.fixture
def aigc() -> Aigc:
    return Aigc(content_producer="Pudong Pictures", produce_id="PP-2025-0042", content_propagator="PDX",
                propagate_id="D-7")


@pytest.fixture
def options(aigc) -> BuildOptions:
    return BuildOptions(aigc=aigc, watermark_text="Acme Films 7f3a")


def _fake_probe(**changes) -> ProbeInfo:
    """A 1080x1920 30p 90 s H.264 source with stereo AAC, without running ffprobe."""
    base = ProbeInfo(
        path="/in/ep01.mp4",
        container="mov,mp4,m4a,3gp,3g2,mj2",
        duration=90.0,
        size=123_456_789,
        video_codec="h264",
        width=1080,
        height=1920,
        rotation=0,
        sample_aspect=Fraction(1),
        r_frame_rate=Fraction(30),
        avg_frame_rate=Fraction(30),
        pix_fmt="yuv420p",
        bit_depth=8,
        audio=(AudioStream(index=1, codec="aac", sample_rate=48000, channels=2),),
    )
    return dataclasses.replace(base, **changes)


_MEASURED = {"input_i": -20.5, "input_tp": -3.2, "input_lra": 4.1, "input_thresh": -31.0, "target_offset": 0.3}


def _gray_frame(path: str, at: float, width: int, height: int) -> bytes:
    """One decoded frame as 8-bit luma."""
    done = subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-i", path, "-ss", str(at), "-frames:v", "1",
         "-vf", f"scale={width}:{height},format=gray", "-f", "rawvideo", "pipe:1"],
        capture_output=True, check=True,
    )  # fmt: skip
    assert len(done.stdout) == width * height
    return done.stdout


def _leftovers(folder: str) -> list[str]:
    """Temporary outputs still lying around (must be none after a run, good or bad)."""
    return sorted(n for n in os.listdir(folder) if ".partial" in n or n.endswith((".old", ".lock", ".label.gray")))


@pytest.fixture
def shrink() -> Callable[..., Profile]:
    """``shrink(profile, width=180, height=320, **video_changes)``: the profile at test size."""
    return _shrink


@pytest.fixture
def fake_probe() -> Callable[..., ProbeInfo]:
    """``fake_probe(**changes)``: a 1080x1920 30p 90 s source with stereo AAC, no ffprobe."""
    return _fake_probe


@pytest.fixture
def measured() -> dict[str, float]:
    """A loudnorm pass-1 result, as loudness_measure returns it."""
    return dict(_MEASURED)


@pytest.fixture
def gray_frame() -> Callable[[str, float, int, int], bytes]:
    return _gray_frame


@pytest.fixture
def leftovers() -> Callable[[str], list[str]]:
    return _leftovers
