"""Benchmark the transcode pipeline against bare ffmpeg, and the one-decode HLS ladder.

    .venv/bin/python bench/bench_transcode.py [--quick] [--cache DIR]

On a generated 60 s 1080x1920 episode (15 s with --quick; made once, cached):

1. upload_mp4 through the pipeline against the same ffmpeg arguments run bare with
   subprocess: the overhead ratio (target: within 5%), two ways:
   - the whole pipeline for one profile (``runner.transcode``: probe, loudness pass 1,
     build, encode with progress, ffprobe checks, label and loudness verification,
     SHA-256/MD5) against the pass-1 and the encode ffmpeg run bare;
   - the encode and its checks alone (``runner.run``'s own clock) against the encode
     run bare.
2. a 4-rung HLS ladder from one decode (split filter, one process) against the four
   rungs encoded by four separate processes: the speed-up (target: >= 1.3x).

Fast x264 presets keep it to a few minutes on 2 cores. Every ratio is against a
baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from transcode.domain import Aigc, BuildOptions, build, build_loudness_measure  # noqa: E402
from transcode.probe import probe  # noqa: E402
from transcode.profiles import BUILTIN_PROFILES, HlsRung  # noqa: E402
from transcode.runner import loudness_measure, transcode  # noqa: E402

RUNGS = (HlsRung(360, 640, 365, 96), HlsRung(540, 960, 2000, 128), HlsRung(720, 1280, 3000, 128),
         HlsRung(1080, 1920, 6000, 160))  # fmt: skip


def episode(cache: str, seconds: int) -> str:
    """A 1080x1920 30p master with speech-like level audio, generated once."""
    path = os.path.join(cache, f"episode_{seconds}s_1080x1920.mp4")
    if os.path.exists(path):
        return path
    os.makedirs(cache, exist_ok=True)
    print(f"generating {path} (once) ...", flush=True)
    tmp = path + ".partial.mp4"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
         "-f", "lavfi", "-i", f"testsrc2=s=1080x1920:r=30:d={seconds}",
         "-f", "lavfi", "-i", f"sine=f=220:r=48000:d={seconds}",
         "-c:v", "libx264", "-preset", "faster", "-crf", "18", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-b:a", "192k", "-ac", "2", "-shortest", tmp],
        check=True,
    )  # fmt: skip
    os.replace(tmp, path)
    return path


def measured(fn) -> tuple[float, float]:
    """Wall-clock seconds, and CPU seconds of this process and every child it waited
    for. CPU time barely moves when other jobs share the machine; wall time does."""
    def cpu() -> float:
        me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime

    start, cpu_start = time.perf_counter(), cpu()
    fn()
    return time.perf_counter() - start, cpu() - cpu_start


def bare(args) -> None:
    subprocess.run(list(args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                   check=True)


def bare_plan(plan) -> None:
    """Run a plan's ffmpeg alone (its output folders made first, as run() does)."""
    for out in plan.outputs:
        os.makedirs(os.path.dirname(out.tmp_path), exist_ok=True)
    bare(plan.args)


def best(runs: list[tuple[float, float]], i: int = 0) -> float:
    """The best of repeated (wall, cpu) measurements: wall with i=0, CPU with i=1."""
    return min(r[i] for r in runs)


def fresh(folder: str) -> str:
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 15 s episode instead of 60 s")
    parser.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "pdx-bench-cache"))
    parser.add_argument("--preset", default="superfast", help="x264 preset for every encode")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each side of [1]; the best counts")
    ns = parser.parse_args()
    seconds = 15 if ns.quick else 60
    source = episode(ns.cache, seconds)
    info = probe(source)
    work = tempfile.mkdtemp(prefix="pdx-bench-")
    options = BuildOptions(aigc=Aigc("Bench Studio", "B-1"))
    try:
        # 1. pipeline overhead on upload_mp4
        upload = BUILTIN_PROFILES["upload_mp4"]
        upload = dataclasses.replace(upload, video=dataclasses.replace(upload.video, preset=ns.preset))
        pass1 = loudness_measure(source, upload.audio.loudness)
        opts = dataclasses.replace(options, loudness=pass1)
        bare_pass1 = build_loudness_measure(source, upload.audio.loudness)
        bare_encode = build(upload, info, source, os.path.join(work, "bare"), opts)
        fractions: list[float] = []
        results = []

        def pipeline() -> None:
            fractions.clear()
            results.append(transcode(upload, source, os.path.join(work, "pipeline"), options,
                                     progress=lambda f, s: fractions.append(f)))

        # interleaved repeats, best of each: other load on the machine hits both alike
        pass1_times, encode_times, pipe_times = [], [], []
        for _ in range(ns.repeat):
            pass1_times.append(measured(lambda: bare(bare_pass1)))
            fresh(os.path.join(work, "bare"))
            encode_times.append(measured(lambda: bare_plan(bare_encode)))
            fresh(os.path.join(work, "pipeline"))
            pipe_times.append(measured(pipeline))
        t_pass1, t_encode, t_pipe = best(pass1_times), best(encode_times), best(pipe_times)
        t_run = min(r.elapsed for r in results)
        c_bare, c_pipe = best(pass1_times, 1) + best(encode_times, 1), best(pipe_times, 1)
        result = results[-1]
        print(f"\n[1] upload_mp4 ({ns.preset}), {seconds} s 1080x1920 episode, best of {ns.repeat}")
        print(f"    bare ffmpeg: pass 1 + encode {t_pass1 + t_encode:7.2f} s  ({t_pass1:.2f} s + {t_encode:.2f} s; "
              f"encode {seconds / t_encode:5.2f}x real time)")
        print(f"    pipeline (transcode)         {t_pipe:7.2f} s  {seconds / t_pipe:5.2f}x real time "
              f"({len(fractions)} progress reports, labels ok={result.labels.ok}, "
              f"{result.loudness['integrated']:.1f} LUFS)")
        whole = t_pipe / (t_pass1 + t_encode)
        print(f"    overhead ratio, whole        {whole:7.3f}  ({(whole - 1) * 100:+.1f}%, target within 5%) "
              f"{'OK' if whole <= 1.05 else 'ABOVE TARGET'}")
        encode_only = t_run / t_encode
        print(f"    overhead ratio, encode+checks{encode_only:7.3f}  ({(encode_only - 1) * 100:+.1f}%; run {t_run:.2f} s "
              f"vs bare encode {t_encode:.2f} s) {'OK' if encode_only <= 1.05 else 'ABOVE TARGET'}")
        cpu_ratio = c_pipe / c_bare
        print(f"    overhead ratio, CPU time     {cpu_ratio:7.3f}  ({(cpu_ratio - 1) * 100:+.1f}%; "
              f"{c_bare:.1f} s vs {c_pipe:.1f} s, ffmpeg children included)")
        print(f"    load average while measuring {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

        # 2. ladder: one decode + split vs one process per rung
        ladder = BUILTIN_PROFILES["hls_ladder"]
        ladder = dataclasses.replace(ladder, video=dataclasses.replace(ladder.video, preset=ns.preset),
                                     hls=dataclasses.replace(ladder.hls, rungs=RUNGS))
        lopts = dataclasses.replace(options, loudness=pass1)
        together = build(ladder, info, source, fresh(os.path.join(work, "ladder")), lopts)
        assert together.args.count("-i") == 1
        t_one, c_one = measured(lambda: bare_plan(together))
        separate = []
        for rung in RUNGS:
            single = dataclasses.replace(ladder, hls=dataclasses.replace(ladder.hls, rungs=(rung,)))
            p = build(single, info, source, fresh(os.path.join(work, f"rung_{rung.name}")), lopts)
            separate.append(p)
        runs = [measured(lambda p=p: bare_plan(p)) for p in separate]
        t_sep, c_sep = sum(t for t, _ in runs), sum(c for _, c in runs)
        print(f"\n[2] HLS ladder, {len(RUNGS)} rungs ({', '.join(r.name for r in RUNGS)}), {ns.preset}")
        print(f"    one decode, split, 1 process {t_one:7.2f} s  {seconds / t_one:5.2f}x real time")
        print(f"    {len(RUNGS)} separate processes         {t_sep:7.2f} s  {seconds / t_sep:5.2f}x real time")
        speedup = t_sep / t_one
        print(f"    speed-up, wall time          {speedup:7.2f}x (target >= 1.3x) {'OK' if speedup >= 1.3 else 'BELOW TARGET'}")
        print(f"    CPU time saved               {c_sep / c_one:7.2f}x ({c_sep:.1f} s vs {c_one:.1f} s)")
        print(f"    load average while measuring {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    finally:
        shutil.rmtree(work, ignore_errors=True)

if __name__ == "__main__":
    main()
