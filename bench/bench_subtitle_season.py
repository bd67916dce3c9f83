"""Benchmark: the whole subtitle season workflow through the services and a real database,
against the pure core alone reading and checking the same files (the baseline).

An 80-episode Chinese season (40 events each, a few deliberate problems, recurring lines
as real dramas have) goes through: season ZIP upload with QC → autofix of failing tracks
→ approval → pseudo translation into one language (with translation memory) → export of
SRT, WebVTT and IMSC for both languages. Prints counts and the ratio of the upload step
to the baseline.

    .venv/bin/python bench/bench_subtitle_season.py            # 80 episodes
    .venv/bin/python bench/bench_subtitle_season.py --quick    # 10 episodes

Target: upload + QC within 10× of the pure read + QC: each file becomes a track, a
revision holding its events and QC report as JSON, and an audit entry, in a savepoint.
"""

from __future__ import annotations

import argparse
import io
import random
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

LINES = ["你好，我是林婉儿。", "今天是我第一天上班。", "总裁办公室在几楼？", "谢谢！", "等一下。",
         "这份合同必须马上签字。", "顾总，您还没看条款。", "我相信你的判断。", "说下去。", "谁起草的？",
         "叫他来见我。", "今晚一起吃饭吧。", "你为什么要帮我？", "原来是你……", "让他等着。",
         "婉儿，明天跟我回家。", "见你的家人？", "我找了你很久。", "董事长来了。", "这是我应该做的。"]


def srt(episode: int, events: int, rng: random.Random) -> bytes:
    out, start = [], 1000
    for n in range(1, events + 1):
        text = rng.choice(LINES) if rng.random() < 0.7 else f"第{episode}集第{n}句：{rng.choice(LINES)}"
        duration = max(1000, 300 * len(text))
        gap = 20 if rng.random() < 0.05 else 400
        end = start + duration
        out.append(f"{n}\n{_clock(start)} --> {_clock(end)}\n{text}\n")
        start = end + gap
    return "\n".join(out).encode("gb18030" if episode % 3 == 0 else "utf-8")


def _clock(ms: int) -> str:
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--profile", action="store_true", help="profile the upload step")
    args = parser.parse_args()
    episodes, events = (10, 40) if args.quick else (80, 40)
    rng = random.Random(7)
    files = {f"E{e:03d}.zh-Hans.srt": srt(e, events, rng) for e in range(1, episodes + 1)}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    season_zip = buffer.getvalue()

    from localization import services
    from localization.domain import check
    from localization.formats import read_subtitles

    profile = services.profile_for("zh-Hans", services.QCOptions())
    t0 = time.perf_counter()
    for name, data in files.items():
        check(read_subtitles(data, filename=name).cues, profile, 30.0)
    baseline = time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as tmp:
        from catalog import domain
        from catalog import services as catalog
        from marketplace import create_app
        from marketplace.accounts.models import Organization
        from marketplace.extensions import db

        app = create_app({"ENV": "testing", "SECRET_KEY": "bench-secret-key-0123456789",
                          "DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite",
                          "MEDIA_ROOT": f"{tmp}/media", "JOBS_CAPTURE": True,
                          "CELERY_BROKER_URL": f"sqla+sqlite:///{tmp}/broker.sqlite",
                          "CELERY_RESULT_BACKEND": f"db+sqlite:///{tmp}/results.sqlite"})
        with app.app_context():
            db.create_all()
            org = Organization(name="Bench Studio", slug="bench", kind="producer",
                               status="verified", country="CN")
            db.session.add(org)
            db.session.flush()
            title = catalog.create_title(org, domain.TitleInput(
                original_title="基准短剧", original_language="zh", country="CN", year=2025,
                episode_count=episodes, typical_episode_seconds=90, genres=["romance"], tags=[],
                localizations={"zh": ("基准短剧", "简介")}))
            catalog.add_episode_range(title, episodes, 90)
            db.session.commit()

            steps = {}
            t0 = time.perf_counter()
            if "--profile" in sys.argv:
                import cProfile
                import pstats

                profiler = cProfile.Profile()
                profiler.enable()
            upload = services.upload_season_zip(title, season_zip)
            db.session.commit()
            if "--profile" in sys.argv:
                profiler.disable()
                pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
            steps["upload + QC"] = time.perf_counter() - t0
            failing = sum(1 for f in upload.files if not f.qc_passed)

            t0 = time.perf_counter()
            fixed = services.autofix_season(title, "zh-Hans")
            approved = services.approve_season(title, "zh-Hans")
            db.session.commit()
            steps["autofix + approve"] = time.perf_counter() - t0

            t0 = time.perf_counter()
            [job] = services.start_translation(title, source_language="zh-Hans",
                                               target_languages=["es"])
            db.session.commit()
            job = services.run_translation_job(job.id)
            job_stats = (job.status, job.sent_to_provider, job.memory_hits)
            steps["translate (pseudo)"] = time.perf_counter() - t0

            for track in services.tracks_of(title, "es"):
                services.approve_track(track, override_reason="bench")
            db.session.commit()
            t0 = time.perf_counter()
            export = services.export_title(title, languages=["zh-Hans", "es"])
            db.session.commit()
            export_stats = (export.file_count, export.size)
            steps["export srt+vtt+ttml"] = time.perf_counter() - t0

    total_events = episodes * events
    print(f"{episodes} episodes × {events} events ({total_events} events), "
          f"{len(upload.encodings)} encodings {upload.encodings}")
    print(f"QC on upload: {episodes - failing}/{episodes} pass; autofix fixed "
          f"{fixed['tracks']} tracks ({fixed['fixes']} fixes); approved {approved['approved'] + 0}"
          f"/{episodes} after autofix")
    status, sent, hits = job_stats
    print(f"translation: {status}, {sent} lines sent, {hits} from memory "
          f"({hits / total_events:.0%} of events)")
    print(f"export: {export_stats[0]} files, {export_stats[1]} bytes")
    for name, seconds in steps.items():
        print(f"  {name:<22} {seconds:7.3f} s  {episodes / seconds:7.1f} episodes/s")
    ratio = steps["upload + QC"] / baseline
    print(f"baseline  pure read + QC:  {baseline:.3f} s")
    print(f"ratio upload+QC (database, revisions, audit) / pure: {ratio:.2f}x "
          f"(target <= 10x) {'OK' if ratio <= 10 else 'SLOW'}")


if __name__ == "__main__":
    main()
