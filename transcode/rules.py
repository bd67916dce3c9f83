"""Which AI labels a delivery needs, from the buyer's territories (rules as data).

DESIGN.md 4.4: China wants an explicit label on screen at the start for at least 2 s,
text at least 5% of the short side, plus the implicit AIGC metadata; the EU's AI Act
article 50 asks deep fakes to be disclosed (from 2 August 2026) and generated content
to carry a machine-readable mark. A new territory is a new row of :data:`LABEL_RULES`.

Pure: takes plain values, returns an :class:`~transcode.profiles.AILabelSpec`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from transcode.profiles import AILabelSpec, LabelPosition

EU_MEMBERS = frozenset({
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE",
    "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
})

#: ``applies``: ``uses_ai`` (any AI involvement) or ``deep_fake`` (generated pictures,
#: likeness or voice). ``explicit``: the on-screen label's minimum seconds and glyph
#: height (% of the short side), or None when the rule asks for none.
LABEL_RULES: tuple[dict, ...] = (
    {"region": "CN", "countries": frozenset({"CN"}), "in_force": "2025-09-01",
     "applies": "uses_ai", "explicit": {"seconds": 2.0, "min_size_pct": 5.0}, "implicit": True},
    {"region": "EU", "countries": EU_MEMBERS, "in_force": "2026-08-02",
     "applies": "deep_fake", "explicit": {"seconds": 2.0, "min_size_pct": 5.0}, "implicit": True},
)

_POSITIONS = {"top-left": LabelPosition.TOP_LEFT, "top-right": LabelPosition.TOP_RIGHT,
              "bottom-left": LabelPosition.BOTTOM_LEFT,
              "bottom-right": LabelPosition.BOTTOM_RIGHT}
_DEEP_FAKE_COMPONENTS = ("visuals", "likeness", "voice", "dubbing")


@dataclass(frozen=True)
class ContentFacts:
    """What the title's provenance record says, as far as labels are concerned."""

    involvement: str = "none"
    components: frozenset[str] = frozenset()
    label_text: str = ""
    label_position: str = ""
    label_seconds: float = 0.0
    label_height_pct: float = 0.0

    @property
    def uses_ai(self) -> bool:
        return self.involvement != "none" or bool(self.components)

    @property
    def deep_fake(self) -> bool:
        return (self.involvement in ("mostly_generated", "fully_generated")
                or any(c in self.components for c in _DEEP_FAKE_COMPONENTS))


@dataclass(frozen=True)
class LabelDecision:
    spec: AILabelSpec
    regions: tuple[str, ...]  # the rules that asked for the explicit label


def _applies(kind: str, facts: ContentFacts) -> bool:
    return facts.uses_ai if kind == "uses_ai" else facts.deep_fake


def _in_force_during(rule: dict, start: date | None, end: date | None) -> bool:
    in_force = date.fromisoformat(rule["in_force"])
    return end is None or end > in_force


def label_spec(base: AILabelSpec, facts: ContentFacts, countries: Iterable[str] = (), *,
               start: date | None = None, end: date | None = None,
               rules: Iterable[dict] = LABEL_RULES) -> LabelDecision:
    """The profile's label spec, raised to what the territories' rules require.

    A rule counts when one of ``countries`` is in it, the content is what it is about,
    and it is in force at some point of the licence term [start, end). The title's own
    declared label (text, position, longer duration, larger text) is honoured too.
    """
    countries = frozenset(countries)
    spec = base
    regions: list[str] = []
    for rule in rules:
        if not (countries & rule["countries"]) or not _applies(rule["applies"], facts):
            continue
        if not _in_force_during(rule, start, end):
            continue
        explicit = rule.get("explicit")
        if explicit:
            regions.append(rule["region"])
            spec = dataclasses.replace(
                spec, explicit=True, seconds=max(spec.seconds, explicit["seconds"]),
                min_size_pct=max(spec.min_size_pct, explicit["min_size_pct"]))
        if rule.get("implicit"):
            spec = dataclasses.replace(spec, implicit=True)
    if spec.explicit:
        text = facts.label_text.strip()[:40]
        spec = dataclasses.replace(
            spec, text=text or spec.text,
            position=_POSITIONS.get(facts.label_position, spec.position),
            seconds=min(60.0, max(spec.seconds, facts.label_seconds)),
            min_size_pct=min(20.0, max(spec.min_size_pct, facts.label_height_pct)))
    return LabelDecision(spec, tuple(regions))
