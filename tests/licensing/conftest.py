"""Factories for the licensing tests: fixtures returning callables."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from licensing.domain import AvailsRequest, Grant, GrantKind, GrantStatus, Holdback

EMA_SAMPLES = Path("/work/shared/data/ema")


@pytest.fixture
def make_grant():
    """make_grant(**fields) -> Grant, with defaults for a signed exclusive deal."""
    counter = iter(range(1, 10_000))

    def make(**fields) -> Grant:
        n = next(counter)
        defaults = {
            "id": f"G{n}",
            "label": f"D-2026-{n:04d}",
            "kind": GrantKind.RIGHTS_OUT,
            "title_id": "T1",
            "media": ("SVOD",),
            "territories": ("US",),
            "start": date(2026, 1, 1),
            "end": date(2029, 1, 1),
            "exclusive": True,
            "status": GrantStatus.SIGNED,
        }
        defaults.update(fields)
        return Grant(**defaults)

    return make


@pytest.fixture
def rights_in(make_grant):
    """The producer's rights in of DESIGN 4.1: World, all media, exclusive, 2025–2032."""
    return make_grant(
        id="R1",
        label="R-2025-0001",
        kind=GrantKind.RIGHTS_IN,
        media=("ALL",),
        territories=("001",),
        start=date(2025, 1, 1),
        end=date(2032, 1, 1),
        status=GrantStatus.ACTIVE,
    )


@pytest.fixture
def deal_a(make_grant):
    """Deal A of DESIGN 4.1: exclusive SVOD in US+CA, English, 2026-01-01 → 2029-01-01,
    holdback: no AVOD in US until 2027-06-30."""
    return make_grant(
        id="A",
        label="D-2026-0012",
        media=("SVOD",),
        territories=("US", "CA"),
        languages=("en",),
        start=date(2026, 1, 1),
        end=date(2029, 1, 1),
        exclusive=True,
        status=GrantStatus.SIGNED,
        licensee_id="buyer-a",
        holdbacks=(Holdback(media=("AVOD",), territories=("US",), until=date(2027, 6, 30)),),
    )


@pytest.fixture
def make_request():
    """make_request(**fields) -> AvailsRequest on title T1."""

    def make(**fields) -> AvailsRequest:
        defaults = {"title_id": "T1", "start": date(2026, 1, 1), "end": date(2029, 1, 1)}
        defaults.update(fields)
        return AvailsRequest(**defaults)

    return make


@pytest.fixture
def ema_samples() -> Path:
    if not EMA_SAMPLES.is_dir():
        pytest.skip("shared EMA samples are not on this machine")
    return EMA_SAMPLES
