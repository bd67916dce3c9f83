"""Probing: ffprobe JSON interpreted (pure), and real files good and bad."""

from __future__ import annotations

import io
import re
import struct
from fractions import Fraction

import pytest

from transcode.probe import C2PA_UUID, ProbeError, parse, probe, scan_isobmff, snap_rate


def _json(video=None, audio=(), fmt=None):
    video = {
        "index": 0, "codec_type": "video", "codec_name": "h264", "width": 1080, "height": 1920,
        "r_frame_rate": "30/1", "avg_frame_rate": "30/1", "pix_fmt": "yuv420p", "duration": "92.5",
        "sample_aspect_ratio": "1:1", "profile": "High", **(video or {}),
    }  # fmt: skip
    streams = [video] + [
        {"index": i + 1, "codec_type": "audio", "codec_name": "aac", "sample_rate": "48000", "channels": 2,
         "channel_layout": "stereo", "tags": {"language": "chi"}, **a}
        for i, a in enumerate(audio)
    ]  # fmt: skip
    return {"streams": streams, "format": {"format_name": "mov,mp4,m4a,3gp,3g2,mj2", "duration": "92.6",
                                           "size": "1000", **(fmt or {})}}  # fmt: skip


def test_parse_a_plain_source():
    info = parse(_json(audio=[{}]), "ep.mp4")
    assert (info.width, info.height, info.display_size) == (1080, 1920, (1080, 1920))
    assert info.duration == 92.5  # the video stream's, not the file's
    assert info.frame_rate == Fraction(30)
    assert not info.vfr
    assert not info.landscape
    assert info.bit_depth == 8
    assert info.audio[0].language == "chi"
    assert info.has_audio


def test_parse_vfr_rotation_ten_bit_and_tags():
    data = _json(
        video={
            "r_frame_rate": "90000/1", "avg_frame_rate": "2995/100", "pix_fmt": "yuv420p10le",
            "width": 1920, "height": 1080, "side_data_list": [{"side_data_type": "Display Matrix", "rotation": -90}],
        },
        fmt={"tags": {"AIGC": '{"Label":"1","ContentProducer":"X"}', "encoder": "x"}},
    )  # fmt: skip
    info = parse(data, "phone.mp4")
    assert info.vfr
    assert info.frame_rate == Fraction(30000, 1001)  # the average, snapped to a standard rate
    assert info.rotation == 270
    assert info.display_size == (1080, 1920)  # upright: portrait
    assert info.bit_depth == 10
    assert info.aigc == {"Label": "1", "ContentProducer": "X"}
    assert not info.has_audio


def test_anamorphic_pixels_count_in_display_size():
    info = parse(_json(video={"width": 720, "height": 1920, "sample_aspect_ratio": "3:2"}), "sar.mp4")
    assert info.display_size == (1080, 1920)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"streams": [{"codec_type": "audio", "codec_name": "mp3"}], "format": {"format_name": "mp3"}},
         "not a video: no video stream (audio)"),
        ({"streams": [{"codec_type": "video", "codec_name": "png", "width": 9, "height": 9}],
          "format": {"format_name": "png_pipe"}}, "not a video: a still image (png)"),
        ({"streams": [{"codec_type": "video", "codec_name": "h264", "width": 9, "height": 9}],
          "format": {"format_name": "mpegts"}}, "no duration"),
    ],
)  # fmt: skip
def test_parse_rejects_non_videos(data, message):
    with pytest.raises(ProbeError, match=re.escape(message)):
        parse(data, "x.bin")


def test_snap_rate():
    assert snap_rate(Fraction(2997, 100)) == Fraction(30000, 1001)
    assert snap_rate(Fraction(2495, 100)) == 25
    assert snap_rate(Fraction(12)) == 12  # nothing standard nearby: kept


def _box(kind: bytes, payload: bytes = b"", declared: int | None = None) -> bytes:
    return struct.pack(">I4s", declared or 8 + len(payload), kind) + payload


def test_scan_isobmff_finds_truncation_and_c2pa():
    whole = _box(b"ftyp", b"isom\0\0\2\0") + _box(b"uuid", C2PA_UUID + b"manifest") + _box(b"mdat", b"x" * 100)
    scan = scan_isobmff(io.BytesIO(whole), len(whole))
    assert scan.c2pa
    assert scan.truncated is None
    cut = whole[:-40]
    scan = scan_isobmff(io.BytesIO(cut), len(cut))
    assert scan.truncated == f"box 'mdat' needs {len(whole)} bytes but the file has {len(cut)}"
    other = b"\x47" * 400  # an MPEG-TS file is not ISO BMFF: nothing to say
    assert scan_isobmff(io.BytesIO(other), len(other)).truncated is None


@pytest.mark.slow
def test_probe_real_sources(media):
    info = probe(media("portrait"))
    assert info.display_size == (180, 320)
    assert abs(info.duration - 2.0) < 0.05
    assert info.audio[0].sample_rate == 48000
    vfr = probe(media("vfr"))
    assert vfr.vfr
    assert vfr.frame_rate == 30  # average ~20 fps is nowhere standard: the nominal 30 is
    assert probe(media("tenbit")).bit_depth == 10
    rotated = probe(media("rotated"))
    assert (rotated.width, rotated.height, rotated.rotation) == (320, 180, 90)
    assert not rotated.landscape


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("empty", "empty file (0 bytes)"),
        ("text", "not a readable media file"),
        ("truncated", "truncated: box 'mdat' needs"),
    ],
)
def test_probe_bad_files(media, name, message):
    with pytest.raises(ProbeError, match=re.escape(message)):
        probe(media(name))


def test_probe_missing_file(tmp_path):
    with pytest.raises(ProbeError, match="file not found"):
        probe(str(tmp_path / "nope.mp4"))
