"""Real ffmpeg runs on tiny generated media (180x320, 2-3 s; the cancel source 20 s)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import subprocess
import threading

import pytest

from transcode import runner
from transcode.domain import BuildOptions, Cue, Sidecar, build, write_ass
from transcode.probe import ffprobe, probe
from transcode.profiles import (
    BUILTIN_PROFILES,
    EBU_R128,
    NoAudioPolicy,
    SubtitleMode,
    SubtitleSpec,
    WatermarkSpec,
)
from transcode.runner import (
    TranscodeCancelled,
    TranscodeError,
    loudness_measure,
    run,
    transcode,
    verify_labels,
)

pytestmark = pytest.mark.slow


def _streams(path):
    data = ffprobe(path)
    video = next(s for s in data["streams"] if s["codec_type"] == "video")
    audio = next((s for s in data["streams"] if s["codec_type"] == "audio"), None)
    return data["format"], video, audio


def _sha256(path):
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


@pytest.fixture
def upload(shrink):
    return shrink(BUILTIN_PROFILES["upload_mp4"])


@pytest.fixture
def screener(shrink):
    return shrink(BUILTIN_PROFILES["screener"])


# -- one happy path per profile family ---------------------------------------------------


def test_upload_mp4_verified_labelled_normalised_checksummed(media, upload, options, tmp_path, leftovers):
    seen = []
    result = transcode(upload, media("portrait"), str(tmp_path), options, progress=lambda f, s: seen.append(f))
    assert result.package == str(tmp_path / "portrait.upload_mp4.mp4")
    (main,) = result.files
    assert (main.role, main.path, main.size) == ("main", result.package, os.path.getsize(result.package))
    assert main.sha256 == _sha256(result.package)
    assert main.md5 == hashlib.md5(open(result.package, "rb").read()).hexdigest()
    fmt, video, audio = _streams(result.package)
    assert (video["codec_name"], video["profile"], video["width"], video["height"]) == ("h264", "High", 180, 320)
    assert (video["pix_fmt"], video["color_space"]) == ("yuv420p", "bt709")
    assert (audio["codec_name"], audio["sample_rate"], audio["channels"]) == ("aac", "48000", 2)
    assert json.loads(fmt["tags"]["AIGC"])["ProduceID"] == "PP-2025-0042"
    with open(result.package, "rb") as fh:  # +faststart: the index comes before the media data
        head = fh.read(4096)
    assert head.find(b"moov") < head.find(b"mdat") or b"mdat" not in head
    # two-pass loudness: the ~-21.8 LUFS tone delivered at the streaming target
    assert abs(result.loudness["integrated"] - (-14.0)) <= 1.0
    assert result.labels.ok
    assert result.labels.implicit["ContentProducer"] == "Pudong Pictures"
    assert result.labels.inside_diff > 15
    assert seen[-1] == 1.0
    assert seen == sorted(seen)
    assert leftovers(str(tmp_path)) == []
    assert os.path.exists(result.log_path)


def test_mezzanine_prores_pcm(media, shrink, options, tmp_path):
    result = transcode(shrink(BUILTIN_PROFILES["mezzanine"]), media("portrait"), str(tmp_path), options)
    _, video, audio = _streams(result.package)
    assert (video["codec_name"], video["profile"], video["pix_fmt"]) == ("prores", "HQ", "yuv422p10le")
    assert (audio["codec_name"], audio["sample_rate"]) == ("pcm_s24le", "48000")
    assert result.package.endswith(".mezzanine.mov")


def test_broadcast_r128_two_pass_loudness_and_pillarbox(media, shrink, options, tmp_path, gray_frame):
    profile = shrink(BUILTIN_PROFILES["broadcast_r128"], width=320, height=180)
    result = transcode(profile, media("portrait3"), str(tmp_path), options)
    assert any("normalised to -23 LUFS" in n for n in result.notes)
    # measured again, independently of the runner's own check
    assert abs(result.loudness["integrated"] - (-23.0)) <= 1.0
    # and again with loudnorm's own meter, independently of the runner's ebur128 check
    again = loudness_measure(result.package, EBU_R128)
    assert abs(again["input_i"] - (-23.0)) <= 1.0
    assert again["input_tp"] <= -1.0 + 0.5
    _, video, audio = _streams(result.package)
    assert (video["width"], video["height"], video["avg_frame_rate"]) == (320, 180, "25/1")
    assert audio["codec_name"] == "pcm_s24le"
    frame = gray_frame(result.package, 1.0, 320, 180)
    assert max(frame[row * 320 + col] for row in range(180) for col in range(100)) <= 20  # pillarbox is black


def test_hls_ladder_is_one_process_with_an_output_per_rung(media, shrink, options, tmp_path, monkeypatch):
    profile = shrink(BUILTIN_PROFILES["hls_ladder"], gop_seconds=1)
    profile = dataclasses.replace(profile, hls=dataclasses.replace(profile.hls, segment_seconds=2))
    vtt = tmp_path / "en.vtt"
    vtt.write_text("WEBVTT\n\n00:00.500 --> 00:02.000\nHello\n", encoding="utf-8")
    source = media("portrait3")
    opts = dataclasses.replace(options, sidecars=(Sidecar("en", str(vtt), "English"),))
    opts = dataclasses.replace(opts, loudness=loudness_measure(source, profile.audio.loudness))
    plan = build(profile, probe(source), source, str(tmp_path / "out"), opts)
    assert plan.args.count("-i") == 1
    assert plan.args.count("hls") == 3
    started = []
    real_popen = subprocess.Popen

    def counting_popen(args, *a, **kw):
        if "-progress" in args:
            started.append(args)
        return real_popen(args, *a, **kw)

    monkeypatch.setattr(runner.subprocess, "Popen", counting_popen)
    result = run(plan)
    monkeypatch.undo()
    hls_runs = [a for a in started if "hls" in a]
    assert len(hls_runs) == 1  # one ffmpeg for every rung (the other run is the loudness check)
    root = tmp_path / "out" / "portrait3.hls_ladder"
    master = (root / "master.m3u8").read_text()
    assert master.count("#EXT-X-STREAM-INF") == 3
    assert '#EXT-X-SESSION-DATA:DATA-ID="cn.aigc.label",URI="aigc.json"' in master
    assert 'LANGUAGE="en"' in master
    assert json.loads((root / "aigc.json").read_text())["PropagateID"] == "D-7"
    for rung in ("90x160_100k", "144x256_200k", "180x320_300k"):
        playlist = (root / rung / "index.m3u8").read_text()
        durations = [float(line[8:].rstrip(",")) for line in playlist.splitlines() if line.startswith("#EXTINF:")]
        assert len(durations) == 2
        assert abs(sum(durations) - 3.0) <= 1 / 30
    # IDR frames every second, the same in every rung
    frames = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "frame=key_frame,pts_time", "-of", "csv=p=0",
         str(root / "90x160_100k" / "index.m3u8")], capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    keys = [round(float(t.split(",")[1]) - float(frames[0].split(",")[1]), 2) for t in frames if t.startswith("1,")]
    assert keys == [0.0, 1.0, 2.0]
    vtt_out = (root / "subs_en" / "en.vtt").read_text()
    assert vtt_out.splitlines()[1].startswith("X-TIMESTAMP-MAP=MPEGTS:")
    roles = {f.role for f in result.files}
    assert {"master", "aigc", "subtitles:en", "rung:180x320_300k", "segment:90x160_100k"} <= roles
    assert result.labels.ok


def test_stills_poster_and_thumbnails(media, shrink, tmp_path):
    profile = shrink(BUILTIN_PROFILES["stills"])
    profile = dataclasses.replace(profile, stills=dataclasses.replace(profile.stills, thumbnails=4, thumb_width=90, thumb_height=160))
    result = transcode(profile, media("portrait3"), str(tmp_path), BuildOptions())
    roles = [f.role for f in result.files]
    assert roles == ["poster", "thumbnail", "thumbnail", "thumbnail", "thumbnail"]
    _, poster, _ = _streams(os.path.join(result.package, "poster.jpg"))
    assert (poster["codec_name"], poster["width"], poster["height"]) == ("mjpeg", 180, 320)
    _, thumb, _ = _streams(os.path.join(result.package, "thumbnails", "thumb_004.jpg"))
    assert (thumb["width"], thumb["height"]) == (90, 160)
    assert len({f.sha256 for f in result.files}) == 5  # five different frames


def test_screener_watermark_moves(media, screener, options, tmp_path, gray_frame):
    moving = dataclasses.replace(screener, watermark=WatermarkSpec(enabled=True, size_pct=8, opacity=1.0, period_seconds=3))
    marked = transcode(moving, media("portrait3"), str(tmp_path / "a"), options)
    clean = transcode(dataclasses.replace(screener, watermark=WatermarkSpec()), media("portrait3"), str(tmp_path / "b"),
                      dataclasses.replace(options, watermark_text=None))

    def rows_changed(at):
        a, b = gray_frame(marked.package, at, 180, 320), gray_frame(clean.package, at, 180, 320)
        return [r for r in range(320) if sum(abs(a[r * 180 + c] - b[r * 180 + c]) for c in range(180)) > 180 * 8]

    early, late = rows_changed(0.2), rows_changed(2.0)
    assert early
    assert late
    assert abs(sum(early) / len(early) - sum(late) / len(late)) > 40  # the mark travelled down the frame


def test_burned_chinese_subtitles_wrap_and_render(media, screener, options, tmp_path, gray_frame):
    profile = dataclasses.replace(screener, watermark=WatermarkSpec(), subtitles=SubtitleSpec(SubtitleMode.BURN, "zh-Hans"))
    ass = tmp_path / "zh.ass"
    write_ass([Cue(0.0, 2.5, "你今天晚上到底要不要跟我一起回家吃饭")], 180, 320, font_size=14, max_chars=9, path=str(ass))
    opts = dataclasses.replace(options, watermark_text=None, subtitles=str(ass))
    subbed = transcode(profile, media("portrait3"), str(tmp_path / "a"), opts)
    plain = transcode(dataclasses.replace(profile, subtitles=SubtitleSpec()), media("portrait3"), str(tmp_path / "b"),
                      dataclasses.replace(opts, subtitles=None))
    a, b = gray_frame(subbed.package, 1.0, 180, 320), gray_frame(plain.package, 1.0, 180, 320)
    changed = [r for r in range(320) if sum(abs(a[r * 180 + c] - b[r * 180 + c]) for c in range(180)) > 180 * 4]
    assert changed, "no subtitle pixels"
    assert min(changed) > 160  # in the lower half, above the 10% margin
    assert max(changed) < 320 - 28
    assert max(changed) - min(changed) >= 1.5 * 14  # two lines: the \N break was applied


# -- labels read back ---------------------------------------------------------------------


def test_verify_labels_catches_missing_labels(media, upload, options, measured, tmp_path):
    labelled = transcode(upload, media("portrait"), str(tmp_path / "a"), options)
    unlabelled = transcode(upload, media("portrait"), str(tmp_path / "b"), dataclasses.replace(options, ai_generated=False))
    assert unlabelled.labels is None
    plan = build(upload, probe(media("portrait")), media("portrait"), str(tmp_path / "a"),
                 dataclasses.replace(options, loudness=measured))
    good = verify_labels(labelled.package, plan)
    assert good.ok
    bad = verify_labels(unlabelled.package, plan)
    assert not bad.ok
    assert not bad.implicit_ok
    assert not bad.explicit_ok
    assert "implicit label missing" in bad.detail
    assert "explicit label not found in the first 2 s" in bad.detail


def test_checks_ride_on_the_delivery_run(media, upload, options, measured, tmp_path, monkeypatch, leftovers):
    """The loudness meter and the unlabelled frame come from the delivery's own ffmpeg:
    after it, one short decode of the output is the only other ffmpeg, and what the
    run metered and wrote matches measuring and rendering independently."""
    source = media("portrait")
    plan = build(upload, probe(source), source, str(tmp_path), dataclasses.replace(options, loudness=measured))
    started, written = [], []
    real_popen, real_read = subprocess.Popen, runner._read_reference
    monkeypatch.setattr(runner.subprocess, "Popen", lambda args, *a, **kw: started.append(args) or real_popen(args, *a, **kw))
    monkeypatch.setattr(runner, "_read_reference", lambda p: written.append(real_read(p)) or written[-1])
    result = run(plan)
    monkeypatch.undo()
    assert [a[0] for a in started].count("ffmpeg") == 2  # the delivery, and the labelled frame read back
    assert result.labels.ok
    again = runner.loudness_check(result.package)  # decoded from the delivered file
    assert abs(again["integrated"] - result.loudness["integrated"]) <= 0.3
    assert abs(again["true_peak"] - result.loudness["true_peak"]) <= 0.5
    rendered = subprocess.run(plan.label.reference_args, capture_output=True, check=True).stdout
    assert written == [rendered]  # the same scaling of the same frame, byte for byte
    assert leftovers(str(tmp_path)) == []


def test_delivered_loudness_off_target_is_refused(media, upload, options, measured, tmp_path, leftovers):
    source = media("portrait")
    plan = build(upload, probe(source), source, str(tmp_path), dataclasses.replace(options, loudness=measured))
    wrong = dataclasses.replace(plan, loudness=EBU_R128)  # normalised to -14, checked against -23
    with pytest.raises(TranscodeError, match=r"loudness check failed: -1[34]\.\d LUFS .* target -23 ±1 LUFS"):
        run(wrong)
    assert not os.path.exists(plan.package)
    assert leftovers(str(tmp_path)) == []


def test_missing_explicit_label_is_refused(media, upload, options, measured, tmp_path, leftovers):
    source = media("portrait")
    plan = build(upload, probe(source), source, str(tmp_path), dataclasses.replace(options, loudness=measured))
    graph = plan.args.index("-filter_complex") + 1
    unlabelled = re.sub(r"drawtext=[^;]*(\[s\d+\])", r"null\1", plan.args[graph])
    assert "drawtext" not in unlabelled
    broken = dataclasses.replace(plan, args=(*plan.args[:graph], unlabelled, *plan.args[graph + 1 :]))
    with pytest.raises(TranscodeError, match="AI label check failed: explicit label not found in the first 2 s"):
        run(broken)
    assert not os.path.exists(plan.package)
    assert leftovers(str(tmp_path)) == []


# -- sources that must adapt or fail --------------------------------------------------------


def test_no_audio_gets_silence(media, upload, options, tmp_path):
    result = transcode(upload, media("noaudio"), str(tmp_path), options)
    _, _, audio = _streams(result.package)
    assert audio["codec_name"] == "aac"
    assert "source has no audio: silent track added" in result.notes
    assert result.loudness is None  # silence is not normalised


def test_no_audio_rejected(media, upload, options, tmp_path, leftovers):
    strict = dataclasses.replace(upload, audio=dataclasses.replace(upload.audio, no_audio=NoAudioPolicy.REJECT))
    with pytest.raises(TranscodeError, match="has no audio") as err:
        transcode(strict, media("noaudio"), str(tmp_path), options)
    assert not err.value.retryable


def test_vfr_source_delivered_cfr(media, upload, options, tmp_path):
    result = transcode(upload, media("vfr"), str(tmp_path), options)
    _, video, _ = _streams(result.package)
    assert video["avg_frame_rate"] == "30/1"
    assert video["r_frame_rate"] == "30/1"
    assert any(n.startswith("variable frame rate source converted to constant 30 fps") for n in result.notes)


def test_landscape_rejected_by_upload(media, upload, options, tmp_path, leftovers):
    with pytest.raises(TranscodeError, match=r"landscape source \(320x180\)"):
        transcode(upload, media("landscape"), str(tmp_path), options)
    assert os.listdir(tmp_path) == []


def test_landscape_letterboxed_by_screener(media, screener, options, tmp_path, gray_frame):
    result = transcode(screener, media("landscape"), str(tmp_path), options)
    _, video, _ = _streams(result.package)
    assert (video["width"], video["height"]) == (180, 320)
    frame = gray_frame(result.package, 1.0, 180, 320)
    assert max(frame[: 180 * 100]) <= 20  # black bars above the picture
    assert any("letterboxed" in n for n in result.notes)


def test_ten_bit_source_delivered_8_bit(media, upload, options, tmp_path):
    result = transcode(upload, media("tenbit"), str(tmp_path), options)
    _, video, _ = _streams(result.package)
    assert (video["pix_fmt"], video["profile"]) == ("yuv420p", "High")


def test_rotated_phone_recording_is_portrait(media, upload, options, tmp_path):
    result = transcode(upload, media("rotated"), str(tmp_path), options)
    _, video, _ = _streams(result.package)
    assert (video["width"], video["height"]) == (180, 320)


def test_corrupt_source_fails_cleanly(media, upload, options, tmp_path, leftovers):
    with pytest.raises(TranscodeError, match=r"ffmpeg failed \(exit status 1\)") as err:
        transcode(upload, media("corrupt"), str(tmp_path), options)
    # -xerror: the first damaged packet stops the job, and the reason quotes the decoder's error
    decoder, _, message = err.value.reason.removeprefix("ffmpeg failed (exit status 1): ").partition(": ")
    with open(err.value.log_path, encoding="utf-8") as fh:
        assert f"[{decoder} @ " in fh.read()
    assert message
    assert err.value.log_tail
    assert not err.value.retryable
    assert not os.path.exists(tmp_path / "corrupt.upload_mp4.mp4")
    assert leftovers(str(tmp_path)) == []


@pytest.mark.parametrize(
    ("name", "message"),
    [("empty", "empty file (0 bytes)"), ("text", "not a readable media file"), ("truncated", "truncated")],
)
def test_unusable_sources(media, upload, options, tmp_path, name, message):
    with pytest.raises(TranscodeError, match="unusable source") as err:
        transcode(upload, media(name), str(tmp_path), options)
    assert message in err.value.reason
    assert os.listdir(tmp_path) == []


def test_failing_ffmpeg_keeps_the_previous_delivery(media, screener, options, tmp_path, leftovers):
    first = transcode(screener, media("portrait"), str(tmp_path), options)
    before = _sha256(first.package)
    plan = build(screener, probe(media("portrait")), media("portrait"), str(tmp_path), options)
    broken = dataclasses.replace(plan, args=tuple("libnope" if a == "libx264" else a for a in plan.args))
    with pytest.raises(TranscodeError, match="Unknown encoder 'libnope'") as err:
        run(broken)
    assert "libnope" in err.value.log_tail
    assert _sha256(first.package) == before
    assert leftovers(str(tmp_path)) == []


def test_output_failing_its_checks_is_never_installed(media, screener, options, tmp_path, leftovers):
    plan = build(screener, probe(media("portrait")), media("portrait"), str(tmp_path), options)
    # ffmpeg succeeds but writes only the first second: the duration check must refuse it
    out = plan.args.index(plan.package_tmp)
    short = dataclasses.replace(plan, args=plan.args[:out] + ("-t", "1") + plan.args[out:])
    with pytest.raises(TranscodeError, match=r"main: duration 1\.0\d* s, source 2\.0\d* s"):
        run(short)
    assert not os.path.exists(plan.package)
    assert leftovers(str(tmp_path)) == []


def test_stalled_ffmpeg_is_stopped(screener, fake_probe, options, tmp_path, leftovers):
    fifo = str(tmp_path / "stuck.mp4")
    os.mkfifo(fifo)  # nobody ever writes: ffmpeg blocks opening it
    plan = build(screener, fake_probe(path=fifo, duration=2.0, width=180, height=320), fifo, str(tmp_path / "out"), options)
    with pytest.raises(TranscodeError, match="no progress for 1 s") as err:
        run(plan, stall_timeout=1.0, kill_grace=1.0)
    assert err.value.retryable
    assert leftovers(str(tmp_path / "out")) == []


def test_a_second_concurrent_run_of_the_same_delivery_is_refused(media, screener, options, tmp_path):
    plan = build(screener, probe(media("portrait")), media("portrait"), str(tmp_path), options)
    with runner._exclusive(plan):  # as if another worker were still on it (acks_late redelivery)
        with pytest.raises(TranscodeError, match="being made by another run") as err:
            run(plan)
    assert err.value.retryable
    assert run(plan).package == plan.package  # free again once the first one is done


def test_retry_overwrites_instead_of_duplicating(media, screener, options, tmp_path):
    first = transcode(screener, media("portrait"), str(tmp_path), options)
    second = transcode(screener, media("portrait"), str(tmp_path), options)
    assert second.package == first.package
    assert sorted(os.listdir(tmp_path)) == [".portrait.screener.log", "portrait.screener.mp4"]


# -- progress and cancel ----------------------------------------------------------------------


def test_progress_reports_increasing_fractions(media, screener, options, tmp_path):
    seen = []
    opts = dataclasses.replace(options, stats_period=0.05)
    transcode(screener, media("long"), str(tmp_path), opts, progress=lambda f, s: seen.append((f, s)))
    fractions = [f for f, _ in seen]
    assert len(set(fractions)) >= 3
    assert fractions == sorted(fractions)
    assert 0 <= fractions[0] < 1
    assert fractions[-1] == 1.0
    assert all(s is None or s > 0 for _, s in seen)


@pytest.mark.parametrize("kind", ["event", "callable"])
def test_cancel_stops_and_cleans_up(media, screener, options, tmp_path, leftovers, kind):
    event = threading.Event()
    cancel = event if kind == "event" else event.is_set
    slow = dataclasses.replace(screener, video=dataclasses.replace(screener.video, preset="veryslow"))
    opts = dataclasses.replace(options, stats_period=0.1)

    def progress(fraction, speed):
        if fraction > 0:
            event.set()

    with pytest.raises(TranscodeCancelled):
        transcode(slow, media("long"), str(tmp_path), opts, progress=progress, cancel=cancel)
    assert event.is_set()
    assert not os.path.exists(tmp_path / "long.screener.mp4")
    assert leftovers(str(tmp_path)) == []
