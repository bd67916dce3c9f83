"""Benchmark: checking one offer with the avails engine vs the brute-force oracle.

Generates a catalog (default 10,000 titles, 200,000 grants; --quick: a tenth) with a
realistic mix: rights in per title, deals on regions and countries, media nodes,
languages with uses, episode ranges, holdbacks, sublicences and every status. Then, in
the same run, times random offer checks with the indexed engine (AvailsIndex.check) and
with the brute-force oracle (licensing.oracle) on the same requests, checks that both
give the same answer, and prints p50/p95 and the ratio (target: engine p95 at least 50x
faster). It also times a catalog-wide search (free_titles) against checking every title
one by one.

    .venv/bin/python bench/bench_avails.py [--quick] [--seed N]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from licensing.domain import (  # noqa: E402
    AvailsIndex,
    AvailsRequest,
    EpisodeRange,
    Grant,
    GrantKind,
    GrantStatus,
    Holdback,
    LanguageRight,
    LanguageUse,
)
from licensing.oracle import oracle_check  # noqa: E402
from licensing.reference import COUNTRIES  # noqa: E402

AS_OF = date(2026, 1, 1)
REGIONS = [
    "021",
    "419",
    "013",
    "005",
    "029",
    "035",
    "030",
    "034",
    "145",
    "150",
    "151",
    "154",
    "155",
    "039",
    "053",
    "015",
]
BIG_REGIONS = ["001", "142", "150", "019", "002", "009"]
MEDIA = [
    "SVOD",
    "SVOD",
    "AVOD",
    "FAST",
    "NON_LINEAR",
    "SHORT_DRAMA_APP",
    "TVOD",
    "EST",
    "FREE_TV",
    "PAY_TV",
    "LINEAR",
]
LANGUAGES = [
    "en",
    "es",
    "es-419",
    "pt-BR",
    "fr",
    "de",
    "th",
    "vi",
    "id",
    "ar",
    "ja",
    "ko",
    "zh-Hant",
    "ms",
]
HARD = [GrantStatus.SIGNED, GrantStatus.ACTIVE]
SOFT = [
    GrantStatus.OFFER,
    GrantStatus.OPTION,
    GrantStatus.FIRST_NEGOTIATION,
    GrantStatus.FIRST_REFUSAL,
]
OTHER = [GrantStatus.DRAFT, GrantStatus.INQUIRY, GrantStatus.EXPIRED, GrantStatus.TERMINATED]


def day(rng: random.Random, first: int = 2025, last: int = 2032) -> date:
    return date(rng.randint(first, last), rng.choice([1, 4, 7, 10]), 1)


def territories(rng: random.Random) -> tuple[tuple[str, ...], tuple[str, ...]]:
    roll = rng.random()
    if roll < 0.45:
        return (rng.choice(REGIONS),), ()
    if roll < 0.55:
        region = rng.choice(BIG_REGIONS)
        return (region,), tuple(rng.sample(COUNTRIES, rng.randint(0, 3)))
    return tuple(rng.sample(COUNTRIES, rng.randint(1, 5))), ()


def languages(rng: random.Random) -> tuple[LanguageRight, ...] | None:
    if rng.random() < 0.55:
        return None
    return tuple(
        LanguageRight(
            tag,
            rng.choice([LanguageUse.ANY, LanguageUse.ANY, LanguageUse.SUBTITLE, LanguageUse.DUB]),
        )
        for tag in rng.sample(LANGUAGES, rng.randint(1, 3))
    )


def make_catalog(rng: random.Random, titles: int, grants_per_title: int) -> dict[str, list[Grant]]:
    catalog: dict[str, list[Grant]] = {}
    serial = 0
    for t in range(titles):
        title = f"T{t:05d}"
        grants: list[Grant] = []
        episodes = rng.choice([60, 80, 100, 120, 150])
        # Rights in: mostly World, all media, exclusive, from the production year.
        serial += 1
        roll = rng.random()
        grants.append(
            Grant(
                id=f"G{serial}",
                label=f"R-{serial:07d}",
                kind=GrantKind.RIGHTS_IN,
                title_id=title,
                media=("ALL",) if roll < 0.8 else ("NON_LINEAR",),
                territories=("001",) if roll < 0.7 else ("142", "150", "019"),
                territories_excluded=("CN",) if roll < 0.3 else (),
                start=date(rng.choice([2024, 2025]), 1, 1),
                end=rng.choice([None, date(2032, 1, 1), date(2035, 1, 1)]),
                exclusive=rng.random() < 0.9,
                status=GrantStatus.ACTIVE,
            )
        )
        deals: list[Grant] = []
        for _ in range(grants_per_title - 1):
            serial += 1
            start = day(rng, 2025, 2030)
            end = start + timedelta(days=365 * rng.randint(1, 5)) if rng.random() < 0.9 else None
            roll = rng.random()
            status = rng.choice(
                HARD
                if roll < 0.55
                else SOFT
                if roll < 0.75
                else OTHER
                if roll < 0.95
                else [GrantStatus.REVERTED]
            )
            included, excluded = territories(rng)
            holdbacks = ()
            if rng.random() < 0.2:
                holdbacks = tuple(
                    Holdback(
                        media=(rng.choice(["AVOD", "FAST", "FREE_TV", "SHORT_DRAMA_APP"]),),
                        territories=territories(rng)[0],
                        until=start + timedelta(days=180 * rng.randint(1, 4)),
                    )
                    for _ in range(rng.randint(1, 2))
                )
            first = rng.randint(1, episodes // 2)
            fields = dict(
                id=f"G{serial}",
                label=f"D-{serial:07d}",
                kind=GrantKind.RIGHTS_OUT,
                title_id=title,
                media=(rng.choice(MEDIA),),
                territories=included,
                territories_excluded=excluded,
                languages=languages(rng),
                episodes=EpisodeRange(first, rng.randint(first, episodes))
                if rng.random() < 0.15
                else None,
                start=start,
                end=end,
                exclusive=rng.random() < 0.55,
                holdbacks=holdbacks,
                may_sublicense=rng.random() < 0.3,
                status=status,
                expires_on=AS_OF + timedelta(days=rng.randint(-60, 120)),
                reverted_on=start + timedelta(days=200) if status is GrantStatus.REVERTED else None,
                licensee_id=f"B{rng.randint(1, 400)}",
            )
            parents = [d for d in deals if d.may_sublicense and d.parent_id is None]
            if parents and rng.random() < 0.08:
                parent = rng.choice(parents)
                country = rng.choice(sorted(parent.countries))
                fields.update(
                    parent_id=parent.id,
                    territories=(country,),
                    territories_excluded=(),
                    media=parent.media,
                    languages=parent.languages,
                    episodes=parent.episodes,
                    start=parent.start,
                    end=parent.end,
                    exclusive=parent.exclusive and rng.random() < 0.5,
                    holdbacks=(),
                    may_sublicense=False,
                )
            deals.append(Grant(**fields))
        grants.extend(deals)
        catalog[title] = grants
    return catalog


def make_request(rng: random.Random, title: str | None) -> AvailsRequest:
    start = day(rng, 2025, 2031)
    if rng.random() < 0.6:
        where = tuple(rng.sample(COUNTRIES, rng.randint(1, 3)))
    else:
        where = (rng.choice(REGIONS),)
    return AvailsRequest(
        title_id=title,
        media=(rng.choice(MEDIA),),
        territories=where,
        languages=languages(rng),
        start=start,
        end=start + timedelta(days=365 * rng.randint(1, 4)),
        exclusive=rng.random() < 0.5,
        licensee_id=f"B{rng.randint(1, 400)}",
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def agree(answer, expected) -> bool:
    for cell, runs in expected.items():
        for run in runs:
            part = answer.part_at(
                cell.country,
                cell.medium,
                run.start,
                language=cell.language,
                use=cell.use,
                episode=cell.episode,
            )
            if part is None or (
                part.status,
                part.start,
                part.end,
                frozenset(r.key for r in part.reasons),
            ) != (
                run.status,
                run.start,
                run.end,
                run.reasons,
            ):
                return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="a tenth of the catalog and fewer timings"
    )
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    titles, per_title = 10_000 // scale, 20
    engine_runs, oracle_runs, search_runs = (400, 20, 10) if args.quick else (2000, 60, 20)
    rng = random.Random(args.seed)

    t0 = time.perf_counter()
    catalog = make_catalog(rng, titles, per_title)
    grants = [g for items in catalog.values() for g in items]
    t1 = time.perf_counter()
    index = AvailsIndex.build(grants)
    t2 = time.perf_counter()
    print(f"catalog: {titles:,} titles, {len(grants):,} grants (generated in {t1 - t0:.1f} s)")
    print(f"index build: {t2 - t1:.2f} s ({(t2 - t1) / len(grants) * 1e6:.1f} µs per grant)")

    ratio, agreed = engine_vs_oracle(catalog, index, rng, engine_runs, oracle_runs)
    title_ids = sorted(catalog)
    search_times = []
    free_counts = []
    for _ in range(search_runs):
        request = make_request(rng, None)
        start = time.perf_counter()
        free_counts.append(len(index.free_titles(request, AS_OF)))
        search_times.append(time.perf_counter() - start)
    baseline_request = make_request(rng, None)
    start = time.perf_counter()
    baseline = [t for t in title_ids if index.check(baseline_request.for_title(t), AS_OF).available]
    per_title_time = time.perf_counter() - start
    start = time.perf_counter()
    fast = index.free_titles(baseline_request, AS_OF)
    fast_time = time.perf_counter() - start
    assert fast == baseline, "free_titles disagrees with checking every title"
    print(
        f"catalog search (free_titles over {titles:,} titles): p50 {statistics.median(search_times) * 1e3:.1f} ms, "
        f"p95 {percentile(search_times, 0.95) * 1e3:.1f} ms, median {statistics.median(free_counts):.0f} free titles"
    )
    print(
        f"  vs checking every title one by one: {per_title_time * 1e3:.0f} ms vs {fast_time * 1e3:.1f} ms "
        f"({per_title_time / fast_time:,.0f}x), same {len(fast)} titles"
    )
    return 0 if ratio >= 50 and agreed == oracle_runs else 1


def engine_vs_oracle(
    catalog: dict[str, list[Grant]],
    index: AvailsIndex,
    rng: random.Random,
    engine_runs: int,
    oracle_runs: int,
) -> tuple[float, int]:
    """Time random offer checks with the engine and the oracle on the same requests;
    print the figures and return (oracle p95 / engine p95, offers they agree on)."""
    title_ids = sorted(catalog)
    requests = [make_request(rng, rng.choice(title_ids)) for _ in range(engine_runs)]
    engine_times = []
    statuses: dict[str, int] = {}
    for request in requests:
        start = time.perf_counter()
        answer = index.check(request, AS_OF)
        engine_times.append(time.perf_counter() - start)
        statuses[answer.status.value] = statuses.get(answer.status.value, 0) + 1

    oracle_times = []
    agreed = 0
    for request in requests[:oracle_runs]:
        title_grants = catalog[request.title_id]
        start = time.perf_counter()
        expected = oracle_check(request, title_grants, AS_OF)
        oracle_times.append(time.perf_counter() - start)
        agreed += agree(index.check(request, AS_OF), expected)

    engine_p50, engine_p95 = percentile(engine_times, 0.5), percentile(engine_times, 0.95)
    oracle_p50, oracle_p95 = percentile(oracle_times, 0.5), percentile(oracle_times, 0.95)
    ratio = oracle_p95 / engine_p95
    print(f"answers: {dict(sorted(statuses.items()))}")
    print(
        f"engine check: {engine_runs} offers, p50 {engine_p50 * 1e3:.3f} ms, p95 {engine_p95 * 1e3:.3f} ms"
    )
    print(
        f"oracle check: {oracle_runs} offers, p50 {oracle_p50 * 1e3:.1f} ms, p95 {oracle_p95 * 1e3:.1f} ms"
    )
    print(f"engine and oracle agree on {agreed}/{oracle_runs} offers")
    print(
        f"ratio oracle p95 / engine p95: {ratio:,.0f}x (target ≥ 50x: {'met' if ratio >= 50 else 'MISSED'})"
    )
    return ratio, agreed


if __name__ == "__main__":
    sys.exit(main())
