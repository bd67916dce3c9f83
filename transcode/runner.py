"""Runs a :class:`~transcode.domain.Plan`: ffmpeg, progress, cancel, verification, checksums.

ffmpeg-python only builds argument lists; this is the process side (DESIGN.md 4.3).
Usable from a Celery task (``acks_late``): :func:`run` blocks, reports progress through
a callback, stops when ``cancel`` says so, never hangs (a stall timeout kills an ffmpeg
that stops advancing), and writes under temporary names that are renamed into place
only after every output passed ffprobe checks, so a retried job overwrites its own
leftovers and nobody ever sees a half-written file under the final name.

Labels are checked for real (:func:`verify_labels`): the implicit label is read back
from the container (or the HLS package's ``aigc.json``), and the explicit one by
decoding the labelled frame from the output and comparing it with the same frame without
overlays: pixels inside the label box must differ clearly, pixels outside must not.

The checks cost little beside the encode (DESIGN.md 4.3 allows 5%): the run itself
writes that unlabelled frame and meters the loudness it delivers (ebur128 right before
the encoder), so what follows it is one ffprobe per output, one decoded frame and the
checksums, side by side.
"""

from __future__ import annotations

import fcntl
import glob
import hashlib
import json
import math
import operator
import os
import queue
import re
import shlex
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

from transcode.domain import (
    LOUDNORM_KEYS,
    BuildError,
    BuildOptions,
    Expect,
    Plan,
    PlannedOutput,
    Sidecar,
    Variant,
    build,
    build_frame_grab,
    build_loudness_check,
    build_loudness_measure,
    codecs_tag,
    find_cjk_font,
    master_playlist,
    parse_ebur128_summary,
    parse_loudnorm_json,
    subtitle_playlist,
)
from transcode.probe import ProbeError, ffprobe, probe
from transcode.probe import parse as parse_probe
from transcode.profiles import Container, Loudness, Profile, SubtitleMode

ProgressCallback = Callable[[float, float | None], None]
Cancel = threading.Event | Callable[[], bool] | None

_ERROR_HINT = re.compile(r"error|invalid|failed|no such|not found|unable|cannot|could not|does not|unknown|matches no", re.I)


class TranscodeError(Exception):
    """A delivery failed. ``reason`` is one line for people; ``log_tail`` the end of
    ffmpeg's log; ``retryable`` is False when running again cannot help (bad source,
    bad profile, output that failed checks), True for stalls and killed processes."""

    def __init__(self, reason: str, log_tail: str = "", log_path: str | None = None, retryable: bool = False) -> None:
        super().__init__(reason if not log_tail else f"{reason}\n--- ffmpeg log (tail) ---\n{log_tail}")
        self.reason = reason
        self.log_tail = log_tail
        self.log_path = log_path
        self.retryable = retryable


class TranscodeCancelled(TranscodeError):
    """The job was cancelled; outputs were removed."""


@dataclass(frozen=True)
class OutputFile:
    role: str  # main, master, rung:<name>, segment:<name>, poster, thumbnail, aigc, subtitles:<lang>
    path: str
    size: int
    sha256: str
    md5: str  # for manifests of buyers' systems that still ask for it


@dataclass(frozen=True)
class LabelReport:
    implicit_expected: bool
    implicit: dict[str, Any] | None  # what the output carries
    implicit_ok: bool
    explicit_expected: bool
    explicit_ok: bool
    inside_diff: float = 0.0  # mean |output - unlabelled| inside the label box, 0..255
    outside_diff: float = 0.0  # the same outside the box (compression noise)
    detail: str = ""

    @property
    def ok(self) -> bool:
        return (self.implicit_ok or not self.implicit_expected) and (self.explicit_ok or not self.explicit_expected)


@dataclass(frozen=True)
class RunResult:
    profile: str
    package: str  # final path (file, or directory for HLS and stills)
    files: tuple[OutputFile, ...]
    log_path: str
    notes: tuple[str, ...]  # adaptations made to the source
    elapsed: float  # seconds, wall clock, ffmpeg and checks
    speed: float | None  # media seconds encoded per wall-clock second
    labels: LabelReport | None = None
    loudness: dict[str, float] | None = None  # the run's meter: integrated, lra, true_peak

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (for a delivery record or a task result)."""
        return {
            "profile": self.profile,
            "package": self.package,
            "files": [vars(f) for f in self.files],
            "log_path": self.log_path,
            "notes": list(self.notes),
            "elapsed": round(self.elapsed, 3),
            "speed": None if self.speed is None else round(self.speed, 3),
            "labels": None if self.labels is None else {**vars(self.labels), "ok": self.labels.ok},
            "loudness": self.loudness,
        }


# -- public entry points ----------------------------------------------------------------


def transcode(
    profile: Profile,
    input_path: str,
    output_dir: str,
    options: BuildOptions | None = None,
    *,
    progress: ProgressCallback | None = None,
    cancel: Cancel = None,
    log_path: str | None = None,
    stall_timeout: float = 60.0,
) -> RunResult:
    """Probe, measure loudness when the profile needs it (pass 1), build and run.

    Every failure is a :class:`TranscodeError` (bad sources and profiles with
    ``retryable=False``), so a Celery task needs a single ``except``.
    """
    opts = options or BuildOptions()
    try:
        info = probe(input_path)
    except ProbeError as exc:
        raise TranscodeError(f"unusable source: {exc}") from exc
    draws_text = profile.ai_label.explicit or profile.watermark.enabled or profile.subtitles.mode is SubtitleMode.BURN
    if draws_text:
        try:
            find_cjk_font(opts.font)
        except LookupError as exc:
            raise TranscodeError(str(exc)) from exc
    audio = profile.audio
    try:
        if audio and audio.loudness and info.has_audio and opts.loudness is None:
            # check the source against the profile first: a rejected source costs no audio pass
            build(profile, info, input_path, output_dir, replace(opts, loudness=dict.fromkeys(LOUDNORM_KEYS, 0.0)))
            measured = loudness_measure(input_path, audio.loudness, channels=audio.channels, cancel=cancel,
                                        stall_timeout=stall_timeout)
            opts = replace(opts, loudness=measured)
        plan = build(profile, info, input_path, output_dir, opts)
    except BuildError as exc:
        raise TranscodeError(str(exc)) from exc
    return run(plan, progress=progress, cancel=cancel, log_path=log_path, stall_timeout=stall_timeout)


def run(
    plan: Plan,
    progress: ProgressCallback | None = None,
    cancel: Cancel = None,
    log_path: str | None = None,
    *,
    stall_timeout: float = 60.0,
    kill_grace: float = 5.0,
) -> RunResult:
    """Execute ``plan`` and return the verified, checksummed outputs.

    ``progress(fraction, speed)`` is called from this thread with non-decreasing
    fractions (1.0 only once everything is verified and in place); ``cancel`` is a
    ``threading.Event`` or a callable polled about every 0.1 s. ffmpeg's stderr goes
    to ``log_path`` (default ``plan.log_path``, overwritten by a retry). Raises
    :class:`TranscodeCancelled` or :class:`TranscodeError`; in both cases the
    temporary outputs are removed and an earlier delivery under the final name is
    left untouched. A second run of the same delivery while one is in progress
    (a redelivered ``acks_late`` task) is refused with a retryable error.
    """
    log = log_path or plan.log_path
    os.makedirs(os.path.dirname(os.path.abspath(plan.package)), exist_ok=True)
    with _exclusive(plan):
        return _run_locked(plan, progress, cancel, log, stall_timeout, kill_grace)


@contextmanager
def _exclusive(plan: Plan):
    """One run per delivery at a time. With acks_late a task can be delivered again
    while the first worker still runs it; both would write the same temporary name."""
    lock_path = os.path.join(os.path.dirname(os.path.abspath(plan.package)), f".{os.path.basename(plan.package)}.lock")
    fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise TranscodeError(f"{os.path.basename(plan.package)} is being made by another run", retryable=True) from None
        try:
            yield
        finally:
            os.unlink(lock_path)  # while still holding it, so a waiting run finds a fresh file
    finally:
        os.close(fd)


def _run_locked(plan: Plan, progress, cancel, log: str, stall_timeout: float, kill_grace: float) -> RunResult:
    reference = plan.label.reference_path if plan.label is not None else ""
    _remove(plan.package_tmp)  # what a killed earlier attempt left behind
    if reference:
        _remove(reference)
    for out in plan.outputs:
        os.makedirs(os.path.dirname(os.path.abspath(out.tmp_path)), exist_ok=True)
    started = time.monotonic()
    last = [0.0]

    def report(fraction: float, speed: float | None) -> None:
        fraction = min(max(fraction, last[0]), 1.0)
        last[0] = fraction
        if progress is not None:
            progress(fraction, speed)

    try:
        _execute(list(plan.args), log, plan.duration, lambda f, s: report(min(f, 0.99), s), cancel,
                 stall_timeout, kill_grace)
        measured = _verify_loudness(plan, log) if plan.loudness else None
        labels, main_digest = _verify(plan, log)
        _install(plan.package_tmp, plan.package)
    except BaseException:
        _remove(plan.package_tmp)
        raise
    finally:
        if reference:
            _remove(reference)
    files = [OutputFile("main", plan.package, *main_digest)] if main_digest else list(_package_files(plan))
    files += _copy_file_sidecars(plan)
    elapsed = time.monotonic() - started
    report(1.0, plan.duration / elapsed if elapsed > 0 else None)
    return RunResult(
        profile=plan.profile.name,
        package=plan.package,
        files=tuple(files),
        log_path=log,
        notes=plan.notes,
        elapsed=elapsed,
        speed=plan.duration / elapsed if elapsed > 0 else None,
        labels=labels,
        loudness=measured,
    )


def _verify(plan: Plan, log: str) -> tuple[LabelReport | None, tuple[int, str, str] | None]:
    """Check the fresh outputs, side by side: the labelled frame decodes and a single
    file's checksums run (hashlib lets go of the GIL) while ffprobe reads each output.
    Raises TranscodeError for the first thing wrong; returns the label report and the
    single file's (size, sha256, md5)."""
    label = plan.label
    grab = None
    if label is not None:
        grab = _start(build_frame_grab(_checked_path(plan.package_tmp, plan), label.check_frame, *label.frame,
                                       ffmpeg_bin=plan.args[0]))
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            digest = None if plan.package_is_dir else pool.submit(_digest, plan.package_tmp)
            probed = _verify_outputs(plan, log)
            if plan.profile.container is Container.HLS:
                _finish_hls(plan)  # writes the aigc.json the label check reads
            shown = _collect(grab, label.frame[0] * label.frame[1]) if grab is not None else None
            grab = None
            main_digest = digest.result() if digest else None
    finally:
        if grab is not None:  # a check above failed: do not leave the decoder running
            grab.kill()
            grab.communicate()
    labels = None
    if label is not None or plan.metadata.get("AIGC"):
        if plan.package_is_dir:
            found = _read_hls_aigc(plan.package_tmp)
        else:
            found = parse_probe(probed[plan.outputs[0].role], plan.package_tmp).aigc
        labels = _label_report(plan, found, shown, _read_reference(plan))
        if not labels.ok:
            raise TranscodeError(f"AI label check failed: {labels.detail}", _tail(log), log)
    return labels, main_digest


def loudness_measure(
    input_path: str,
    target: Loudness,
    *,
    channels: int = 2,
    cancel: Cancel = None,
    stall_timeout: float = 60.0,
    ffmpeg_bin: str = "ffmpeg",
) -> dict[str, float]:
    """Loudnorm pass 1 on the first audio stream: ``input_i``, ``input_tp``,
    ``input_lra``, ``input_thresh``, ``target_offset`` (floats; ``input_i`` is
    ``-inf`` for digital silence). Pass the dict as ``BuildOptions.loudness``."""
    args = build_loudness_measure(input_path, target, channels, ffmpeg_bin)
    return _measure(args, parse_loudnorm_json, cancel, stall_timeout)


def loudness_check(
    path: str, *, cancel: Cancel = None, stall_timeout: float = 60.0, ffmpeg_bin: str = "ffmpeg"
) -> dict[str, float]:
    """EBU R128 measurement of a file's first audio stream: ``integrated`` (LUFS),
    ``lra`` (LU), ``true_peak`` (dBTP). Used to verify deliveries; cheap."""
    return _measure(build_loudness_check(path, ffmpeg_bin), parse_ebur128_summary, cancel, stall_timeout)


def _measure(args, parse, cancel: Cancel, stall_timeout: float) -> dict[str, float]:
    fd, log = tempfile.mkstemp(prefix="loudness-", suffix=".log")
    os.close(fd)
    try:
        _execute(list(args), log, None, None, cancel, stall_timeout, 5.0)
        with open(log, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
        try:
            return parse(text)
        except (ValueError, KeyError) as exc:
            raise TranscodeError(f"loudness measurement unreadable: {exc}", _tail(log)) from exc
    finally:
        os.unlink(log)


def verify_labels(output: str, plan: Plan) -> LabelReport:
    """Check the AI labels ``plan`` promised are in ``output``, on their own (the
    runner makes the same checks with what the run wrote).

    ``output`` is the delivered file, or the package directory for HLS. Implicit:
    the ``AIGC`` tag (HLS: ``aigc.json`` named in the master playlist) must equal
    what the plan wrote. Explicit: frame ``plan.label.check_frame`` is decoded from
    the output and rendered from the source through the same scaling without
    overlays; the mean absolute luma difference inside the label box must be at
    least 15 and three times the difference outside it (plus 4 for noise). This
    catches a label that is missing, transparent, off-frame or in the wrong place.
    """
    label = plan.label
    grabs = []  # started first: the frames decode while the tag is read
    if label is not None:
        grabs = [
            _start(build_frame_grab(_checked_path(output, plan), label.check_frame, *label.frame, ffmpeg_bin=plan.args[0])),
            _start(label.reference_args),
        ]
    found = None
    if plan.metadata.get("AIGC"):
        found = _read_hls_aigc(output) if os.path.isdir(output) else _read_tag_aigc(output)
    shown, reference = [_collect(proc, label.frame[0] * label.frame[1]) for proc in grabs] if label else [None, None]
    return _label_report(plan, found, shown, reference)


def _label_report(plan: Plan, found: dict[str, Any] | None, shown: bytes | None, reference: bytes | None) -> LabelReport:
    """Judge the labels from what was read back: the implicit label ``found`` in the
    output, the labelled frame ``shown`` and the unlabelled ``reference`` (gray8)."""
    implicit_expected = bool(plan.metadata.get("AIGC"))
    details = []
    implicit_ok = True
    if implicit_expected:
        implicit_ok = found == json.loads(plan.metadata["AIGC"])
        if not implicit_ok:
            details.append(f"implicit label {'missing' if found is None else 'differs: ' + json.dumps(found, ensure_ascii=False)}")
    label = plan.label
    if label is None:
        return LabelReport(implicit_expected, found, implicit_ok, False, False, detail="; ".join(details))
    w, h = label.frame
    if shown is None or reference is None or len(shown) != w * h or len(reference) != w * h:
        details.append("could not decode the frame to check the explicit label")
        return LabelReport(implicit_expected, found, implicit_ok, True, False, detail="; ".join(details))
    inside, outside = _region_diff(shown, reference, w, h, label.box)
    explicit_ok = inside >= 15 and inside >= 3 * outside + 4
    if not explicit_ok:
        details.append(f"explicit label not found in the first {label.seconds:g} s "
                       f"(difference inside the label box {inside:.1f}, outside {outside:.1f})")
    return LabelReport(implicit_expected, found, implicit_ok, True, explicit_ok, inside, outside, "; ".join(details))


def _checked_path(output: str, plan: Plan) -> str:
    """The file whose frame carries the explicit label: the output, or the top rung's playlist."""
    if not plan.package_is_dir:
        return output
    checked = next(o for o in plan.outputs if o.role == plan.label.checked_output)  # type: ignore[union-attr]
    return os.path.join(output, os.path.relpath(checked.tmp_path, plan.package_tmp))


def _read_reference(plan: Plan) -> bytes | None:
    """The unlabelled frame the delivery run wrote beside its outputs, if it did."""
    if plan.label is None or not plan.label.reference_path:
        return None
    try:
        with open(plan.label.reference_path, "rb") as fh:
            return fh.read()
    except OSError:
        return None


# -- the process ---------------------------------------------------------------------------


def _execute(args, log_path, duration, progress, cancel, stall_timeout, kill_grace) -> None:
    """Run ffmpeg with stderr to ``log_path`` and ``-progress`` on stdout; raise on failure."""
    cancelled = _cancel_check(cancel)
    with open(log_path, "wb") as log:
        log.write(f"$ {shlex.join(args)}\n".encode())
        log.flush()
        try:
            proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log)
        except OSError as exc:
            raise TranscodeError(f"cannot start {args[0]}: {exc}", log_path=log_path) from exc
        events: queue.Queue = queue.Queue()
        reader = threading.Thread(target=_read_progress, args=(proc.stdout, events), daemon=True)
        reader.start()
        try:
            _watch(proc, events, duration, progress, cancelled, stall_timeout, kill_grace, log_path)
        finally:
            if proc.poll() is None:  # an exception (cancel, stall, a signal in the caller)
                _stop(proc, kill_grace)
            reader.join(timeout=kill_grace)  # the pipe reaches EOF once ffmpeg is gone
            proc.stdout.close()
    if proc.returncode != 0:
        retryable = proc.returncode < 0  # killed by a signal (OOM killer, shutdown)
        # the cause is often followed by encoder statistics: look further back than the tail
        reason = _reason(_tail(log_path, 80))
        raise TranscodeError(f"ffmpeg failed (exit status {proc.returncode}): {reason}", _tail(log_path), log_path,
                             retryable)


def _watch(proc, events, duration, progress, cancelled, stall_timeout, kill_grace, log_path) -> None:
    last_advance = time.monotonic()
    out_time = -1.0
    eof = False
    while True:
        try:
            block = events.get(timeout=0.1)
        except queue.Empty:
            block = None
        now = time.monotonic()
        if block is _EOF:
            eof = True
        elif block is not None:
            t = _out_seconds(block)
            if t is not None and t > out_time:
                out_time, last_advance = t, now
            if progress is not None and duration and t is not None:
                progress(max(0.0, min(1.0, t / duration)), _speed(block.get("speed")))
        if cancelled():
            _stop(proc, kill_grace)
            raise TranscodeCancelled("cancelled", log_path=log_path)
        if eof and proc.poll() is not None:
            return
        if now - last_advance > stall_timeout:
            _stop(proc, kill_grace)
            raise TranscodeError(
                f"ffmpeg made no progress for {stall_timeout:g} s and was stopped", _tail(log_path), log_path, True
            )


_EOF = object()


def _read_progress(stream, events: queue.Queue) -> None:
    # -progress writes key=value lines; each block ends with progress=continue|end.
    block: dict[str, str] = {}
    for raw in iter(stream.readline, b""):
        key, _, value = raw.decode("utf-8", "replace").strip().partition("=")
        block[key] = value
        if key == "progress":
            events.put(block)
            block = {}
    events.put(_EOF)


def _out_seconds(block: dict[str, str]) -> float | None:
    # out_time_us, and out_time_ms despite its name, are microseconds.
    for key in ("out_time_us", "out_time_ms"):
        try:
            return int(block[key]) / 1_000_000
        except (KeyError, ValueError):
            continue
    return None


def _speed(value: str | None) -> float | None:
    try:
        return float((value or "").strip().rstrip("x"))
    except ValueError:
        return None


def _stop(proc: subprocess.Popen, grace: float) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()  # ffmpeg finishes the current packet and exits
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _cancel_check(cancel: Cancel) -> Callable[[], bool]:
    if cancel is None:
        return lambda: False
    if isinstance(cancel, threading.Event):
        return cancel.is_set
    return cancel


def _tail(log_path: str | None, lines: int = 15) -> str:
    if not log_path or not os.path.exists(log_path):
        return ""
    with open(log_path, "rb") as fh:
        fh.seek(max(0, os.path.getsize(log_path) - 8192))
        text = fh.read().decode("utf-8", "replace")
    return "\n".join(text.strip().splitlines()[-lines:])


_LEVEL = re.compile(r"^(?:\[(?P<who>[\w-]+) @ 0x[0-9a-f]+\] )?\[(?P<level>fatal|error)\] (?P<text>.+)$")


def _reason(tail: str) -> str:
    """The line that explains a failure: the last error ffmpeg logged (``-loglevel
    level+info`` tags them), else the last line that reads like one."""
    lines = [ln.strip() for ln in tail.splitlines() if ln.strip() and not ln.startswith("$ ")]
    for line in reversed(lines):
        match = _LEVEL.match(line)
        if match and match["text"].strip() != "Conversion failed!":
            who = f"{match['who']}: " if match["who"] else ""
            return (who + match["text"].strip())[:300]
    lines = [re.sub(r"\[(info|warning|verbose)\] ", "", ln) for ln in lines if "Conversion failed!" not in ln]
    hits = [ln for ln in lines if _ERROR_HINT.search(ln)]
    return (hits or lines or ["no message"])[-1][:300]


# -- verification -----------------------------------------------------------------------


def _fail(plan: Plan, out: PlannedOutput, message: str, log: str) -> TranscodeError:
    return TranscodeError(f"{plan.profile.name} {out.role}: {message}", _tail(log), log)


def _verify_outputs(plan: Plan, log: str) -> dict[str, dict[str, Any]]:
    """ffprobe every output against what the plan expects; returns the data read for
    each single-file output, by role."""
    probed = {}
    for out in plan.outputs:
        e = out.expect
        if e.kind == "images":
            files = sorted(glob.glob(out.tmp_path.replace("%03d", "[0-9][0-9][0-9]")))
            if len(files) != e.count:
                raise _fail(plan, out, f"{len(files)} images written, expected {e.count}", log)
            for path in files:
                _check_streams(plan, out, _probe_output(plan, out, path, log), log)
        elif e.kind == "hls":
            segments_total = _check_playlist(plan, out, log)
            _check_duration(plan, out, segments_total, log, "segments total")
            first = os.path.join(os.path.dirname(out.tmp_path), _segments(out.tmp_path)[0][0])
            _check_streams(plan, out, _probe_output(plan, out, first, log), log)
        else:
            data = probed[out.role] = _probe_output(plan, out, out.tmp_path, log)
            _check_streams(plan, out, data, log)
            if e.kind == "video":
                video = _stream(data, "video")
                duration = float(video.get("duration") or data["format"].get("duration") or 0)
                _check_duration(plan, out, duration, log, "duration")
    return probed


def _probe_output(plan: Plan, out: PlannedOutput, path: str, log: str) -> dict[str, Any]:
    try:
        return ffprobe(path)
    except ProbeError as exc:
        raise _fail(plan, out, f"unreadable output ({exc.reason})", log) from exc


def _stream(data: dict[str, Any], kind: str) -> dict[str, Any]:
    return next((s for s in data.get("streams", []) if s.get("codec_type") == kind), {})


def _check_streams(plan: Plan, out: PlannedOutput, data: dict[str, Any], log: str) -> None:
    e: Expect = out.expect
    formats = data.get("format", {}).get("format_name", "").split(",")
    if e.format_name and e.format_name not in formats:
        raise _fail(plan, out, f"container is {','.join(formats)}, expected {e.format_name}", log)
    video = _stream(data, "video")
    if not video:
        raise _fail(plan, out, "no video stream", log)
    got = (video.get("codec_name"), video.get("width"), video.get("height"))
    if got != (e.video_codec, e.width, e.height):
        raise _fail(plan, out, f"video is {got[0]} {got[1]}x{got[2]}, expected {e.video_codec} {e.width}x{e.height}", log)
    if e.pix_fmt and video.get("pix_fmt") != e.pix_fmt:
        raise _fail(plan, out, f"pixel format is {video.get('pix_fmt')}, expected {e.pix_fmt}", log)
    if e.frame_rate and e.kind == "video":
        rate = _fraction(video.get("avg_frame_rate"))
        if not rate or abs(rate - e.frame_rate) / e.frame_rate > Fraction(1, 100):
            raise _fail(plan, out, f"frame rate is {video.get('avg_frame_rate')}, expected {e.frame_rate}", log)
    if e.audio_codec:
        audio = _stream(data, "audio")
        got_audio = (audio.get("codec_name"), int(audio.get("sample_rate") or 0), audio.get("channels"))
        if got_audio != (e.audio_codec, e.sample_rate, e.channels):
            raise _fail(plan, out, f"audio is {got_audio}, expected {(e.audio_codec, e.sample_rate, e.channels)}", log)


def _check_duration(plan: Plan, out: PlannedOutput, duration: float, log: str, what: str) -> None:
    expected = out.expect.duration
    if expected is None:
        return
    frame = 1 / float(out.expect.frame_rate or plan.frame_rate)
    if abs(duration - expected) > frame + 1e-3:  # "within one frame of the source"
        raise _fail(plan, out, f"{what} {duration:.3f} s, source {expected:.3f} s (more than one frame apart)", log)


def _segments(playlist: str) -> list[tuple[str, float]]:
    segments, pending = [], None
    with open(playlist, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if line.startswith("#EXTINF:"):
                pending = float(line[8:].split(",")[0])
            elif line and not line.startswith("#") and pending is not None:
                segments.append((line, pending))
                pending = None
    return segments


def _check_playlist(plan: Plan, out: PlannedOutput, log: str) -> float:
    if not os.path.exists(out.tmp_path):
        raise _fail(plan, out, "playlist not written", log)
    with open(out.tmp_path, encoding="utf-8") as fh:
        if "#EXT-X-ENDLIST" not in fh.read():
            raise _fail(plan, out, "playlist is not complete (no #EXT-X-ENDLIST)", log)
    segments = _segments(out.tmp_path)
    if not segments:
        raise _fail(plan, out, "playlist lists no segments", log)
    folder = os.path.dirname(out.tmp_path)
    for name, _ in segments:
        path = os.path.join(folder, name)
        if not os.path.isfile(path) or os.path.getsize(path) == 0:
            raise _fail(plan, out, f"segment {name} missing or empty", log)
    return sum(d for _, d in segments)


def _verify_loudness(plan: Plan, log: str) -> dict[str, float]:
    """The delivered loudness, from the summary the run's own ebur128 meter logged
    (the build puts it after every audio filter, right before the encoder)."""
    target = plan.loudness
    assert target is not None
    with open(log, encoding="utf-8", errors="replace") as fh:
        text = fh.read()
    # ffmpeg builds the graph once to list its outputs before the run, and the meter logs
    # an empty summary then; the run's own comes after the stream mapping
    try:
        measured = parse_ebur128_summary(text[text.find("Stream mapping:") :])
    except ValueError as exc:
        raise TranscodeError(f"loudness check failed: {exc}", _tail(log), log) from exc
    off = measured["integrated"] - target.integrated
    # loudnorm's true-peak limiter works before the encoder; AAC can add a few tenths.
    if abs(off) > target.tolerance or measured["true_peak"] > target.true_peak + 1.0:
        raise TranscodeError(
            f"loudness check failed: {measured['integrated']:.1f} LUFS / {measured['true_peak']:.1f} dBTP, "
            f"target {target.integrated:g} ±{target.tolerance:g} LUFS / {target.true_peak:g} dBTP",
            _tail(log), log,
        )
    return measured


# -- HLS finishing: master playlist, subtitle renditions, AIGC ----------------------------------


def _finish_hls(plan: Plan) -> None:
    """Write what ffmpeg does not: the master playlist (bandwidths measured from the
    segments, CODECS from ffprobe), WebVTT renditions and the AIGC label file."""
    root = plan.package_tmp
    variants = []
    first_segment = None
    for out, rung in zip(plan.outputs, plan.rungs, strict=True):
        folder = os.path.dirname(out.tmp_path)
        segments = _segments(out.tmp_path)
        sizes = [(os.path.getsize(os.path.join(folder, n)), d) for n, d in segments]
        peak = max(s * 8 / d for s, d in sizes if d > 0)
        average = sum(s for s, _ in sizes) * 8 / sum(d for _, d in sizes)
        first = os.path.join(folder, segments[0][0])
        data = ffprobe(first)
        video, audio = _stream(data, "video"), _stream(data, "audio")
        first_segment = first_segment or data
        variants.append(Variant(
            uri=os.path.relpath(out.tmp_path, root),
            bandwidth=math.ceil(peak),
            average_bandwidth=math.ceil(average),
            width=rung.width,
            height=rung.height,
            frame_rate=plan.frame_rate,
            codecs=codecs_tag(video.get("codec_name", ""), video.get("profile"), video.get("level"), audio.get("codec_name")),
        ))
    subtitles = []
    for sidecar in plan.sidecars:
        folder = os.path.join(root, f"subs_{sidecar.language}")
        os.makedirs(folder, exist_ok=True)
        vtt_name = f"{sidecar.language}.vtt"
        start = float((first_segment or {}).get("format", {}).get("start_time") or 0)
        _write_vtt_rendition(sidecar, os.path.join(folder, vtt_name), start)
        with open(os.path.join(folder, "index.m3u8"), "w", encoding="utf-8") as fh:
            fh.write(subtitle_playlist(vtt_name, plan.duration))
        subtitles.append((sidecar, f"subs_{sidecar.language}/index.m3u8"))
    session = None
    if plan.metadata.get("AIGC"):
        with open(os.path.join(root, "aigc.json"), "w", encoding="utf-8") as fh:
            fh.write(plan.metadata["AIGC"])
        session = "aigc.json"
    with open(os.path.join(root, "master.m3u8"), "w", encoding="utf-8") as fh:
        fh.write(master_playlist(variants, subtitles, session))


def _write_vtt_rendition(sidecar: Sidecar, dest: str, ts_start: float) -> None:
    try:
        with open(sidecar.path, encoding="utf-8-sig") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise TranscodeError(f"subtitles {sidecar.language}: cannot read {sidecar.path} as UTF-8 ({exc})") from exc
    lines = text.splitlines()
    if not lines or not lines[0].startswith("WEBVTT"):
        raise TranscodeError(f"subtitles {sidecar.language}: {os.path.basename(sidecar.path)} is not WebVTT")
    # MPEG-TS segments start at ffmpeg's mux offset (1.4 s), not 0: map cue time 0 onto it.
    stamp = f"X-TIMESTAMP-MAP=MPEGTS:{round(ts_start * 90000)},LOCAL:00:00:00.000"
    body = [ln for ln in lines[1:] if not ln.startswith("X-TIMESTAMP-MAP")]
    with open(dest, "w", encoding="utf-8") as fh:
        fh.write("\n".join([lines[0], stamp, *body]) + "\n")


# -- labels -----------------------------------------------------------------------------------


def _read_tag_aigc(path: str) -> dict[str, Any] | None:
    try:
        return probe(path).aigc
    except ProbeError:
        return None


def _read_hls_aigc(package: str) -> dict[str, Any] | None:
    master = os.path.join(package, "master.m3u8")
    if not os.path.exists(master):
        return None
    with open(master, encoding="utf-8") as fh:
        match = re.search(r'#EXT-X-SESSION-DATA:DATA-ID="cn\.aigc\.label",URI="([^"]+)"', fh.read())
    if not match:
        return None
    try:
        with open(os.path.join(package, match.group(1)), encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def _start(args) -> subprocess.Popen:
    """Start a frame-grabbing ffmpeg (raw frame on stdout)."""
    return subprocess.Popen(list(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


def _grab(commands, size: int) -> list[bytes | None]:
    """Run frame-grabbing ffmpeg commands side by side; each result is the raw frame or None."""
    return [_collect(proc, size) for proc in [_start(args) for args in commands]]


def _collect(proc: subprocess.Popen, size: int) -> bytes | None:
    """The raw frame a grab wrote, or None if it failed or wrote the wrong amount."""
    try:
        out, _ = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        out = b""
    return out if proc.returncode == 0 and len(out) == size else None


def _region_diff(a: bytes, b: bytes, width: int, height: int, box: tuple[int, int, int, int]) -> tuple[float, float]:
    """Mean absolute difference inside ``box`` and (sampled) outside it."""
    x, y, w, h = box
    rows = range(y, min(height, y + h))
    inside = sum(_absdiff(a[r * width + x : r * width + x + w], b[r * width + x : r * width + x + w]) for r in rows)
    step = 3  # every third pixel of every third row: plenty for compression noise
    total = n_out = 0
    for row in range(0, height, step):
        start, end = row * width, (row + 1) * width
        spans = [(start, start + x), (start + x + w, end)] if y <= row < y + h else [(start, end)]  # around the box
        for lo, hi in spans:
            lo += -(lo - start) % step  # stay on the columns every third pixel falls on
            total += _absdiff(a[lo:hi:step], b[lo:hi:step])
            n_out += len(range(lo, hi, step))
    return inside / max(1, w * len(rows)), total / max(1, n_out)


def _absdiff(a: bytes, b: bytes) -> int:
    return sum(map(abs, map(operator.sub, a, b)))


# -- files ---------------------------------------------------------------------------------------


def _install(tmp: str, final: str) -> None:
    """Move the verified package into place; an earlier package is replaced."""
    if os.path.isdir(tmp) and os.path.lexists(final):
        old = final + ".old"
        _remove(old)
        os.replace(final, old)
        os.replace(tmp, final)
        _remove(old)
    else:
        os.replace(tmp, final)


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.unlink(path)


def _digest(path: str) -> tuple[int, str, str]:
    sha, md5, size = hashlib.sha256(), hashlib.md5(usedforsecurity=False), 0
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            sha.update(chunk)
            md5.update(chunk)
            size += len(chunk)
    return size, sha.hexdigest(), md5.hexdigest()


def _package_files(plan: Plan):
    """Every file of a directory package (HLS, stills), with its role and checksums."""
    rung_names = {os.path.dirname(os.path.relpath(o.path, plan.package)) for o in plan.outputs if o.role.startswith("rung:")}
    for folder, _, names in sorted(os.walk(plan.package)):
        for name in sorted(names):
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, plan.package)
            parent = os.path.dirname(rel)
            if rel == "master.m3u8":
                role = "master"
            elif rel == "aigc.json":
                role = "aigc"
            elif rel == "poster.jpg":
                role = "poster"
            elif parent == "thumbnails":
                role = "thumbnail"
            elif parent.startswith("subs_"):
                role = f"subtitles:{parent[5:]}"
            elif parent in rung_names:
                role = f"rung:{parent}" if name.endswith(".m3u8") else f"segment:{parent}"
            else:
                role = "other"
            yield OutputFile(role, path, *_digest(path))


def _copy_file_sidecars(plan: Plan) -> list[OutputFile]:
    """Single-file deliveries get their WebVTT files beside them: <package stem>.<lang>.vtt."""
    if plan.package_is_dir:
        return []
    files = []
    stem = os.path.splitext(plan.package)[0]
    for sidecar in plan.sidecars:
        ext = os.path.splitext(sidecar.path)[1] or ".vtt"
        final = f"{stem}.{sidecar.language}{ext}"
        tmp = os.path.join(os.path.dirname(final), f".{os.path.basename(final)}.partial")
        shutil.copyfile(sidecar.path, tmp)
        os.replace(tmp, final)
        files.append(OutputFile(f"subtitles:{sidecar.language}", final, *_digest(final)))
    return files


def _fraction(value: Any) -> Fraction | None:
    try:
        result = Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        return None
    return result if result > 0 else None
