"""Benchmark: a season's subtitles through read + QC + autofix + write, against pysubs2
alone parsing and writing the same files (the baseline), in the same run.

A season: 80 episodes × 6 languages (zh-Hans, en, es, pt-BR, th, ar), 40–60 events each,
realistic line lengths and some deliberate problems (long lines, short events, short
gaps, overlaps, empty events, unclosed italics), as SRT files in a temporary folder.

    .venv/bin/python bench/bench_subtitle_qc.py            # full season (480 files)
    .venv/bin/python bench/bench_subtitle_qc.py --quick    # 10 episodes (60 files)

Target: our pipeline within 3× of pysubs2's parse + write.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pysubs2  # noqa: E402

from localization.domain import autofix, check, summarize_season  # noqa: E402
from localization.formats import read_subtitles, write_srt  # noqa: E402
from localization.profiles import get_profile  # noqa: E402

LANGUAGES = ("zh-Hans", "en", "es", "pt-BR", "th", "ar")
FPS = 30.0

WORDS = {
    "en": "I you we they the a love money contract never tonight wedding sister mother father secret company "
    "promise why because believe leave stay truth lie husband wife heart sorry please wait listen".split(),
    "es": "yo tú nosotros el la un una amor dinero contrato nunca esta noche boda hermana madre padre secreto "
    "empresa promesa por qué creer irse quedarse verdad mentira esposo esposa corazón perdón espera escucha".split(),
    "pt-BR": "eu você nós o a um uma amor dinheiro contrato nunca hoje casamento irmã mãe pai segredo "
    "empresa promessa porque acreditar sair ficar verdade mentira marido esposa coração desculpa espera escuta".split(),
    "ar": "أنا أنت نحن الحب المال العقد أبدا الليلة الزفاف أختي أمي أبي سر الشركة وعد لماذا لأن صدق "
    "ارحل ابق الحقيقة كذب زوجي زوجتي قلبي آسف أرجوك انتظر اسمع".split(),
}
ZH_CHARS = "我你他她们的是了不在有这个上们来到时大地为子中说生国年着就那和要出也得里后自以会家可下而过天去能对小多然于心学么之都好看起发当没成只如事把还用第样道想作种开美总条理"
TH_SYLLABLES = "ฉัน คุณ เรา รัก เงิน สัญญา ไม่ คืนนี้ งานแต่ง พี่สาว แม่ พ่อ ความลับ บริษัท ทำไม เพราะ เชื่อ ไป อยู่ ความจริง โกหก สามี ภรรยา หัวใจ ขอโทษ รอ ฟัง".split()
# Lines written for a 9:16 frame (the vertical profiles allow 25 Latin / 12 CJK characters).
LINE_LENGTH = {"zh-Hans": (5, 12), "en": (10, 25), "es": (10, 25), "pt-BR": (10, 25), "th": (8, 21), "ar": (10, 25)}
READING_SPEED = {"zh-Hans": 9, "en": 20, "es": 17, "pt-BR": 17, "th": 17, "ar": 20}


def _line(rng: random.Random, language: str, length: int) -> str:
    if language == "zh-Hans":
        body = "".join(rng.choice(ZH_CHARS) for _ in range(length - 1))
        return body + rng.choice("，。！？")
    pool = TH_SYLLABLES if language == "th" else WORDS[language]
    words = [rng.choice(pool)]
    while True:
        word = rng.choice(pool)
        if sum(len(w) + 1 for w in words) + len(word) + 1 >= length:
            break
        words.append(word)
    text = " ".join(words)
    return (text[:1].upper() + text[1:] + rng.choice([".", ",", "?", "!", ""])).strip()


def make_episode(rng: random.Random, language: str) -> str:
    """One SRT file: 40–60 events, about one in ten with a deliberate problem."""
    events = []
    t = rng.randint(500, 3000)
    lo, hi = LINE_LENGTH[language]
    for _ in range(rng.randint(40, 60)):
        lines = [_line(rng, language, rng.randint(lo, hi)) for _ in range(rng.choice((1, 1, 2, 2, 3)))]
        chars = sum(len(line) for line in lines)
        # Timed by a subtitler: comfortably under the reading speed, within 1–7 s.
        duration = min(7000, max(1000, round(chars * 1000 / (READING_SPEED[language] * rng.uniform(0.55, 0.95)))))
        gap = rng.choice((rng.randint(70, 400), rng.randint(500, 2500)))
        problem = rng.random()
        if problem < 0.03:
            lines = [_line(rng, language, round(hi * 1.8))]  # too long for one line
        elif problem < 0.06:
            duration = rng.randint(200, 700)  # too short
        elif problem < 0.08:
            gap = rng.randint(0, 40)  # under two frames
        elif problem < 0.09:
            gap = -rng.randint(50, 300)  # overlap
        elif problem < 0.10:
            lines = [""]  # empty
        elif problem < 0.11:
            lines[0] = "<i>" + lines[0]  # never closed
        events.append((t, t + duration, "\n".join(lines)))
        t = max(t + duration + gap, t + 100)
    out = []
    for n, (start, end, text) in enumerate(events, 1):
        out.append(f"{n}\n{_ts(start)} --> {_ts(end)}\n{text}\n")
    return "\n".join(out)


def _ts(ms: int) -> str:
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, rest = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d},{rest:03d}"


def baseline(files: list[Path], out_dir: Path) -> float:
    start = time.perf_counter()
    for path in files:
        subs = pysubs2.SSAFile.from_string(path.read_bytes().decode("utf-8"), format_="srt")
        (out_dir / path.name).write_text(subs.to_string("srt"), encoding="utf-8")
    return time.perf_counter() - start


def pipeline(files: list[Path], out_dir: Path, profiles: dict[str, object]) -> tuple[float, dict]:
    reports = {}
    start = time.perf_counter()
    for path in files:
        language = path.name.split(".")[1]
        profile = profiles[language]
        track = read_subtitles(path.read_bytes(), filename=path.name)
        report = check(track.cues, profile, FPS)
        fixed, _ = autofix(track.cues, profile, FPS)
        (out_dir / path.name).write_text(write_srt(fixed), encoding="utf-8")
        reports[path.name] = (report, fixed, profile)
    return time.perf_counter() - start, reports


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10 episodes instead of 80")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side; the best counts")
    args = parser.parse_args()
    episodes = 10 if args.quick else 80
    rng = random.Random(20240601)
    profiles = {language: get_profile(language, layout="vertical") for language in LANGUAGES}
    with tempfile.TemporaryDirectory(prefix="pdx-bench-subs-") as tmp:
        root = Path(tmp)
        src, out_base, out_ours = root / "src", root / "pysubs2", root / "ours"
        for folder in (src, out_base, out_ours):
            folder.mkdir()
        files = []
        for episode in range(1, episodes + 1):
            for language in LANGUAGES:
                path = src / f"E{episode:03d}.{language}.srt"
                path.write_text(make_episode(rng, language), encoding="utf-8")
                files.append(path)
        events = sum(len(read_subtitles(p.read_bytes()).cues) for p in files[:12]) / 12
        print(f"{len(files)} SRT files ({episodes} episodes × {len(LANGUAGES)} languages), ~{events:.0f} events each, {FPS:g} fps, vertical profiles")

        base_times, ours_times = [], []
        reports: dict = {}
        for _ in range(max(1, args.repeat)):  # interleaved so both sides see the same machine state
            base_times.append(baseline(files, out_base))
            elapsed, reports = pipeline(files, out_ours, profiles)
            ours_times.append(elapsed)
        base, ours = min(base_times), min(ours_times)

    before = summarize_season({name: pair[0] for name, pair in reports.items()}, worst=3)
    after = summarize_season({name: check(fixed, profile, FPS) for name, (_, fixed, profile) in reports.items()}, worst=3)
    print(f"QC before autofix: {before.passed}/{before.total} files pass; after: {after.passed}/{after.total}")
    print(f"  issues before: {dict(sorted(before.issues_by_code.items()))}")
    print(f"  issues after:  {dict(sorted(after.issues_by_code.items()))}")
    print(f"baseline  pysubs2 parse + write:            {base:7.3f} s  {len(files) / base:8.1f} files/s")
    print(f"ours      read + QC + autofix + write:      {ours:7.3f} s  {len(files) / ours:8.1f} files/s")
    ratio = ours / base
    print(f"ratio ours/baseline: {ratio:.2f}x (target <= 3x) {'OK' if ratio <= 3 else 'OVER TARGET'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
