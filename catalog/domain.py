"""The catalog's rules, free of Flask and the database (DESIGN.md 4.4).

Vocabularies (genres, AI involvement, IPTC digital source types, NRTA tiers), the
validation of a title's metadata and AI-provenance record, the provenance badge a
buyer reads at a glance, the per-territory compliance rules (kept as data: a new
territory is a new entry in :data:`COMPLIANCE_RULES`, not new code) and the
MovieLabs MEC-shaped export.

Messages are :class:`Message` objects: the English text (a msgid the interface
translates) and its parameters. ``_l`` here only marks them for extraction, so this
module needs no request, locale or application.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from marketplace import languages


@dataclass(frozen=True)
class Message:
    """An interface message: ``msgid`` is translated at display time, then formatted."""

    msgid: str
    params: tuple[tuple[str, Any], ...] = ()

    def format(self, translate=None) -> str:
        text = translate(self.msgid) if translate else self.msgid
        return text % dict(self.params) if self.params else text

    def __str__(self) -> str:
        return self.format()


def _l(msgid: str, **params: Any) -> Message:
    return Message(msgid, tuple(sorted(params.items())))


class ValidationError(ValueError):
    """Input the caller can fix: ``errors`` maps a field name to a message."""

    def __init__(self, errors: Mapping[str, Message]):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


# --------------------------------------------------------------------------- vocabulary

GENRES: tuple[str, ...] = (
    "romance", "revenge", "ceo", "historical", "fantasy", "urban", "suspense", "family",
    "paranormal", "comedy", "rebirth", "martial_arts", "youth", "thriller",
)
INVOLVEMENT: tuple[str, ...] = ("none", "assisted", "mostly_generated", "fully_generated")
COMPONENTS: tuple[str, ...] = (
    "script", "storyboard", "visuals", "likeness", "voice", "music", "translation", "dubbing",
)
IPTC_BASE = "http://cv.iptc.org/newscodes/digitalsourcetype/"
DIGITAL_SOURCE_TYPES: tuple[str, ...] = (
    "trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia", "compositeSynthetic",
    "humanEdits", "digitalCapture", "digitalCreation",
)
NRTA_TIERS: tuple[str, ...] = ("key", "ordinary", "other")
#: Budget bands of the NRTA tiers in yuan (DESIGN.md 4.4, secondary: keep configurable).
NRTA_TIER_BUDGET_CNY = {"key": (1_000_000, None), "ordinary": (300_000, 1_000_000),
                        "other": (0, 300_000)}
STATUSES: tuple[str, ...] = ("draft", "submitted", "published", "withdrawn")
EDITABLE_STATUSES = frozenset({"draft", "withdrawn"})
ASPECT_RATIOS: tuple[str, ...] = ("9:16", "3:4", "1:1", "16:9")
LABEL_POSITIONS: tuple[str, ...] = (
    "top-left", "top-right", "bottom-left", "bottom-right", "top", "bottom", "center",
)
CONSENT_KINDS: tuple[str, ...] = ("likeness", "voice")
#: The implicit label of the Chinese labelling standard: the ``AIGC`` metadata object.
AIGC_FIELDS: tuple[str, ...] = (
    "Label", "ContentProducer", "ProduceID", "ReservedCode1",
    "ContentPropagator", "PropagateID", "ReservedCode2",
)
AIGC_REQUIRED: tuple[str, ...] = ("Label", "ContentProducer", "ProduceID")
AIGC_LABEL_VALUES = ("1", "2", "3")  # generated, possibly generated, suspected

ASSET_KINDS: tuple[str, ...] = (
    "master", "trailer", "poster", "key_art", "subtitle", "dub_audio", "document",
    "chain_of_title",
)
VIDEO_KINDS = frozenset({"master", "trailer"})
IMAGE_KINDS = frozenset({"poster", "key_art"})
#: Media anyone who may see the published title may fetch; the rest is restricted.
PUBLIC_KINDS = frozenset({"trailer", "poster", "key_art"})
#: Kinds only staff, the owner and (through a hook) buyers with a signed deal download.
DEAL_KINDS = frozenset({"document", "chain_of_title"})
SUBTITLE_EXTENSIONS = frozenset({"srt", "vtt", "ass", "ssa", "ttml", "xml", "dfxp", "stl"})
IMAGE_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "png"), (b"\xff\xd8\xff", "jpeg"),
                    (b"RIFF", "webp"))

_COUNTRY_RE = re.compile(r"^[A-Z]{2}$")


def normalize_language(code: str | None) -> str | None:
    """A BCP 47 language tag in canonical case (``zh``, ``zh-Hans``, ``pt-BR``), or None
    when ``code`` is not one (:mod:`marketplace.languages` reads it). Only language,
    script and region, which always fit the catalog's 16-character language columns."""
    try:
        tag = languages.parse(code)
    except languages.LanguageTagError:
        return None
    return str(tag) if tag.simple else None


def normalize_country(code: str | None) -> str | None:
    value = (code or "").strip().upper()
    return value if _COUNTRY_RE.match(value) else None


def split_list(value: str | Iterable[str] | None) -> list[str]:
    """``"romance, CEO；revenge"`` → ``["romance", "ceo", "revenge"]`` (commas of both widths,
    semicolons, new lines), duplicates dropped, order kept."""
    if value is None:
        return []
    items = re.split(r"[,;，；、\n]+", value) if isinstance(value, str) else list(value)
    out: list[str] = []
    for item in items:
        token = str(item).strip()
        if token and token.lower() not in (o.lower() for o in out):
            out.append(token)
    return out


# --------------------------------------------------------------------------- title input


@dataclass
class TitleInput:
    """What a producer says about a series, before it touches the database."""

    original_title: str
    original_language: str
    country: str | None = None
    year: int | None = None
    episode_count: int | None = None
    typical_episode_seconds: int | None = None
    aspect_ratio: str = "9:16"
    genres: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    #: language → (localized title, synopsis)
    localizations: dict[str, tuple[str, str]] = field(default_factory=dict)


def clean_title_input(data: TitleInput, today: date | None = None) -> TitleInput:
    """The input normalized, or :class:`ValidationError` naming every bad field."""
    errors: dict[str, Message] = {}
    title = (data.original_title or "").strip()
    if not title:
        errors["original_title"] = _l("Enter the original title.")
    elif len(title) > 300:
        errors["original_title"] = _l("The title is longer than %(max)d characters.", max=300)
    language = normalize_language(data.original_language)
    if language is None:
        errors["original_language"] = _l(
            "'%(value)s' is not a language code (use e.g. zh, en, es, pt-BR).",
            value=data.original_language or "")
    country = None
    if data.country:
        country = normalize_country(data.country)
        if country is None:
            errors["country"] = _l("Use a two-letter country code such as CN.")
    this_year = (today or datetime.now(UTC).date()).year
    if data.year is not None and not 1950 <= data.year <= this_year + 3:
        errors["year"] = _l("The year must be between %(low)d and %(high)d.",
                            low=1950, high=this_year + 3)
    if data.episode_count is not None and not 1 <= data.episode_count <= 1000:
        errors["episode_count"] = _l("The number of episodes must be between 1 and 1000.")
    if data.typical_episode_seconds is not None and not 10 <= data.typical_episode_seconds <= 3600:
        errors["typical_episode_seconds"] = _l(
            "A typical episode lasts between 10 seconds and an hour.")
    if data.aspect_ratio not in ASPECT_RATIOS:
        errors["aspect_ratio"] = _l("Unknown aspect ratio.")
    genres = [g.lower() for g in split_list(data.genres)]
    unknown = [g for g in genres if g not in GENRES]
    if unknown:
        errors["genres"] = _l("Unknown genre(s): %(names)s.", names=", ".join(unknown))
    tags = split_list(data.tags)
    if len(tags) > 30 or any(len(t) > 40 for t in tags):
        errors["tags"] = _l("At most 30 tags of up to 40 characters each.")
    localizations: dict[str, tuple[str, str]] = {}
    for code, (loc_title, synopsis) in data.localizations.items():
        lang = normalize_language(code)
        key = f"localizations.{code}"
        if lang is None:
            errors[key] = _l("'%(value)s' is not a language code (use e.g. zh, en, es, pt-BR).",
                             value=code)
            continue
        if not (loc_title or "").strip() and not (synopsis or "").strip():
            continue
        if not (loc_title or "").strip():
            errors[key] = _l("Give the title in %(lang)s as well as the synopsis.", lang=lang)
            continue
        if len(synopsis or "") > 5000:
            errors[key] = _l("The synopsis is longer than %(max)d characters.", max=5000)
            continue
        localizations[lang] = (loc_title.strip(), (synopsis or "").strip())
    if errors:
        raise ValidationError(errors)
    return TitleInput(original_title=title, original_language=language, country=country,
                      year=data.year, episode_count=data.episode_count,
                      typical_episode_seconds=data.typical_episode_seconds,
                      aspect_ratio=data.aspect_ratio, genres=genres, tags=tags,
                      localizations=localizations)


def search_text(original_title: str, localizations: Iterable[tuple[str, str | None]],
                tags: Iterable[str] = ()) -> str:
    """The text full-text search indexes: every title and synopsis, in every language."""
    parts = [original_title]
    for loc_title, synopsis in localizations:
        parts.append(loc_title)
        if synopsis:
            parts.append(synopsis)
    parts.extend(tags)
    return "\n".join(p for p in parts if p)


# --------------------------------------------------------------------------- provenance


@dataclass
class AIModelUse:
    name: str
    vendor: str = ""
    version: str = ""
    commercial_use: bool = False
    purpose: str = ""


@dataclass
class Contributor:
    name: str
    role: str


@dataclass
class Consent:
    subject: str
    kind: str  # likeness | voice
    reference: str = ""  # contract or release number
    obtained: bool = True


@dataclass
class ExplicitLabel:
    text: str = ""
    position: str = "top-right"
    start_seconds: float = 0.0
    duration_seconds: float = 0.0
    #: Text height as a percentage of the picture's short side.
    text_height_percent: float = 0.0

    @property
    def present(self) -> bool:
        return bool(self.text.strip()) and self.duration_seconds > 0


@dataclass
class Provenance:
    """The AI-provenance record of a title (or an episode's override of it)."""

    involvement: str = "none"
    components: dict[str, bool] = field(default_factory=dict)
    digital_source_type: str = "digitalCapture"
    models: list[AIModelUse] = field(default_factory=list)
    contributors: list[Contributor] = field(default_factory=list)
    consents: list[Consent] = field(default_factory=list)
    explicit_label: ExplicitLabel = field(default_factory=ExplicitLabel)
    implicit_label: dict[str, str] = field(default_factory=dict)

    @property
    def ai_components(self) -> list[str]:
        return [c for c in COMPONENTS if self.components.get(c)]

    @property
    def digital_source_type_uri(self) -> str:
        return IPTC_BASE + self.digital_source_type

    @property
    def uses_ai(self) -> bool:
        return self.involvement != "none" or bool(self.ai_components)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Provenance:
        """Lenient reading of a stored record (unknown keys ignored, missing ones defaulted)."""
        data = dict(data or {})
        label = data.get("explicit_label") or {}
        return cls(
            involvement=str(data.get("involvement") or "none"),
            components={str(k): bool(v) for k, v in (data.get("components") or {}).items()},
            digital_source_type=str(data.get("digital_source_type") or "digitalCapture"),
            models=[AIModelUse(**_pick(m, AIModelUse)) for m in data.get("models") or []],
            contributors=[Contributor(**_pick(c, Contributor))
                          for c in data.get("contributors") or []],
            consents=[Consent(**_pick(c, Consent)) for c in data.get("consents") or []],
            explicit_label=ExplicitLabel(**_pick(label, ExplicitLabel)),
            implicit_label={str(k): str(v) for k, v in (data.get("implicit_label") or {}).items()
                            if v not in (None, "")},
        )


def _pick(data: Mapping[str, Any], cls) -> dict[str, Any]:
    names = {f for f in cls.__dataclass_fields__}
    return {k: v for k, v in dict(data).items() if k in names}


def clean_provenance(data: Mapping[str, Any]) -> Provenance:
    """A provenance record validated field by field (:class:`ValidationError` otherwise)."""
    errors: dict[str, Message] = {}
    try:
        prov = Provenance.from_dict(data)
    except (TypeError, ValueError):
        raise ValidationError({"provenance": _l("The provenance record is malformed.")}) from None
    if prov.involvement not in INVOLVEMENT:
        errors["involvement"] = _l("Choose how much AI was involved.")
    unknown = [c for c in prov.components if c not in COMPONENTS]
    if unknown:
        errors["components"] = _l("Unknown component(s): %(names)s.", names=", ".join(unknown))
    if prov.digital_source_type not in DIGITAL_SOURCE_TYPES:
        errors["digital_source_type"] = _l("Choose an IPTC digital source type.")
    if prov.involvement == "none" and prov.ai_components:
        errors["involvement"] = _l("AI components are ticked: involvement cannot be 'none'.")
    if prov.involvement in ("mostly_generated", "fully_generated") and prov.digital_source_type in (
            "digitalCapture", "digitalCreation"):
        errors["digital_source_type"] = _l(
            "Generated content needs an AI source type (trainedAlgorithmicMedia or a composite).")
    for i, m in enumerate(prov.models):
        if not m.name.strip():
            errors[f"models[{i}].name"] = _l("Name the model or tool.")
    for i, c in enumerate(prov.contributors):
        if not c.name.strip() or not c.role.strip():
            errors[f"contributors[{i}]"] = _l("Give each contributor a name and a role.")
    for i, c in enumerate(prov.consents):
        if c.kind not in CONSENT_KINDS or not c.subject.strip():
            errors[f"consents[{i}]"] = _l("A consent names a person and is for likeness or voice.")
    lab = prov.explicit_label
    if lab.position not in LABEL_POSITIONS:
        errors["explicit_label.position"] = _l("Unknown label position.")
    if lab.duration_seconds < 0 or lab.start_seconds < 0 or not 0 <= lab.text_height_percent <= 50:
        errors["explicit_label"] = _l("Label timing and size must be positive numbers.")
    unknown = [k for k in prov.implicit_label if k not in AIGC_FIELDS]
    if unknown:
        errors["implicit_label"] = _l("Unknown AIGC field(s): %(names)s.", names=", ".join(unknown))
    elif prov.implicit_label.get("Label", "1") not in AIGC_LABEL_VALUES:
        errors["implicit_label.Label"] = _l("The AIGC Label is 1, 2 or 3.")
    if errors:
        raise ValidationError(errors)
    prov.components = {c: True for c in prov.ai_components}
    return prov


def effective_provenance(title: Mapping[str, Any] | None,
                         override: Mapping[str, Any] | None) -> Provenance:
    """An episode's provenance: the title's record with the episode's keys laid over it."""
    merged = dict(title or {})
    for key, value in (override or {}).items():
        merged[key] = value
    return Provenance.from_dict(merged)


# --------------------------------------------------------------------------- C2PA


@dataclass(frozen=True)
class C2PAState:
    """What a file's C2PA manifest store says: ``state`` is absent, valid or invalid."""

    state: str = "absent"
    claim_generator: str | None = None
    issuer: str | None = None
    title: str | None = None
    actions: tuple[str, ...] = ()
    digital_source_types: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> C2PAState:
        data = dict(data or {})
        return cls(state=data.get("state", "absent"),
                   claim_generator=data.get("claim_generator"), issuer=data.get("issuer"),
                   title=data.get("title"), actions=tuple(data.get("actions") or ()),
                   digital_source_types=tuple(data.get("digital_source_types") or ()),
                   errors=tuple(data.get("errors") or ()))

    @property
    def claims_ai(self) -> bool:
        return any(t.rsplit("/", 1)[-1] in ("trainedAlgorithmicMedia",
                                             "compositeWithTrainedAlgorithmicMedia",
                                             "compositeSynthetic")
                   for t in self.digital_source_types)


def c2pa_from_manifest(store: Mapping[str, Any] | None, validation_state: str | None) -> C2PAState:
    """Interpret a C2PA manifest store (the JSON c2pa-python's Reader returns); pure."""
    if not store:
        return C2PAState()
    active_id = store.get("active_manifest")
    manifest = (store.get("manifests") or {}).get(active_id) or {}
    actions: list[str] = []
    sources: list[str] = []
    for assertion in manifest.get("assertions") or []:
        if not str(assertion.get("label", "")).startswith("c2pa.actions"):
            continue
        for action in (assertion.get("data") or {}).get("actions") or []:
            if action.get("action"):
                actions.append(str(action["action"]))
            if action.get("digitalSourceType"):
                sources.append(str(action["digitalSourceType"]))
    errors = tuple(str(s.get("code", "")) for s in store.get("validation_status") or []
                   if s.get("code"))
    state = (validation_state or "").lower()
    valid = state in ("valid", "trusted") or (not state and not errors)
    generator = manifest.get("claim_generator")
    if not generator and manifest.get("claim_generator_info"):
        info = manifest["claim_generator_info"][0]
        generator = " ".join(str(v) for v in (info.get("name"), info.get("version")) if v)
    return C2PAState(
        state="valid" if valid else "invalid",
        claim_generator=generator,
        issuer=(manifest.get("signature_info") or {}).get("issuer"),
        title=manifest.get("title"),
        actions=tuple(dict.fromkeys(actions)),
        digital_source_types=tuple(dict.fromkeys(sources)),
        errors=errors,
    )


# --------------------------------------------------------------------------- badge


@dataclass(frozen=True)
class Badge:
    level: str  # css modifier: human, assisted, generated, full
    label: Message
    summary: Message
    c2pa: str  # absent | valid | invalid | mixed
    labelled: bool


_BADGE_LABELS = {
    "none": ("human", _l("Human-made")),
    "assisted": ("assisted", _l("AI-assisted")),
    "mostly_generated": ("generated", _l("Mostly AI-generated")),
    "fully_generated": ("full", _l("Fully AI-generated")),
}


def provenance_badge(prov: Provenance, c2pa_states: Sequence[str] = ()) -> Badge:
    """The one-glance summary a buyer sees on cards and title pages."""
    level, label = _BADGE_LABELS.get(prov.involvement, _BADGE_LABELS["none"])
    states = set(c2pa_states) - {"absent"}
    c2pa = "absent" if not states else (states.pop() if len(states) == 1 else "mixed")
    if prov.ai_components:
        summary = _l("AI used for: %(parts)s", parts=", ".join(prov.ai_components))
    elif prov.involvement == "none":
        summary = _l("No generative AI declared")
    else:
        summary = _l("AI involvement declared, components not itemized")
    return Badge(level=level, label=label, summary=summary, c2pa=c2pa,
                 labelled=prov.explicit_label.present)


# --------------------------------------------------------------------------- compliance


@dataclass(frozen=True)
class ComplianceFacts:
    """What the compliance rules look at, for one title or one episode."""

    provenance: Provenance
    has_c2pa: bool = False
    nrta_number: str | None = None
    scope: str = ""  # "" for the title, else "Episode 7" etc.


#: Rules as data. Each region lists requirements; each requirement names a check from
#: :data:`CHECKS`, its parameters, when it applies, and what to tell the producer.
#: ``in_force`` is the date from which the region's rules bind.
COMPLIANCE_RULES: tuple[dict[str, Any], ...] = (
    {
        "region": "CN",
        "name": _l("China (AI labelling measures, GB 45438-2025)"),
        "in_force": "2025-09-01",
        "requirements": [
            {"check": "explicit_label_present", "applies": "uses_ai",
             "message": _l("Show an explicit AI label on screen.")},
            {"check": "explicit_label_at_start", "applies": "uses_ai",
             "params": {"max_start_seconds": 0},
             "message": _l("The explicit label must appear at the start of each episode.")},
            {"check": "explicit_label_min_seconds", "applies": "uses_ai",
             "params": {"seconds": 2},
             "message": _l("The explicit label must stay on screen for at least %(seconds)s s.")},
            {"check": "explicit_label_min_height", "applies": "uses_ai",
             "params": {"percent": 5},
             "message": _l("The label text must be at least %(percent)s%% of the picture's "
                           "short side.")},
            {"check": "implicit_label_fields", "applies": "uses_ai",
             "params": {"fields": list(AIGC_REQUIRED)},
             "message": _l("Add the implicit AIGC metadata fields: %(fields)s.")},
            {"check": "nrta_number_present", "applies": "always",
             "message": _l("Online distribution in China needs an NRTA licence or filing "
                           "number.")},
        ],
    },
    {
        "region": "EU",
        "name": _l("European Union (AI Act, article 50)"),
        "in_force": "2026-08-02",
        "requirements": [
            {"check": "explicit_label_present", "applies": "deep_fake",
             "message": _l("Disclose that the content is artificially generated or "
                           "manipulated (Art. 50(4)).")},
            {"check": "machine_readable_mark", "applies": "generated",
             "message": _l("Mark the output as AI-generated in a machine-readable way: a C2PA "
                           "manifest or the AIGC metadata (Art. 50(2)).")},
        ],
    },
)

_DEEP_FAKE_COMPONENTS = ("visuals", "likeness", "voice", "dubbing")


def _applies(kind: str, prov: Provenance) -> bool:
    if kind == "always":
        return True
    if kind == "uses_ai":
        return prov.uses_ai
    if kind == "generated":
        return prov.involvement in ("mostly_generated", "fully_generated") or any(
            prov.components.get(c) for c in ("visuals", "likeness", "voice"))
    if kind == "deep_fake":
        return prov.involvement in ("mostly_generated", "fully_generated") or any(
            prov.components.get(c) for c in _DEEP_FAKE_COMPONENTS)
    raise KeyError(f"unknown applicability {kind!r}")


def _check(name: str, facts: ComplianceFacts, params: Mapping[str, Any]) -> bool:
    label = facts.provenance.explicit_label
    if name == "explicit_label_present":
        return label.present
    if name == "explicit_label_at_start":
        return label.present and label.start_seconds <= params.get("max_start_seconds", 0)
    if name == "explicit_label_min_seconds":
        return label.present and label.duration_seconds >= params["seconds"]
    if name == "explicit_label_min_height":
        return label.present and label.text_height_percent >= params["percent"]
    if name == "implicit_label_fields":
        return all(facts.provenance.implicit_label.get(f) for f in params["fields"])
    if name == "machine_readable_mark":
        return facts.has_c2pa or all(facts.provenance.implicit_label.get(f)
                                     for f in AIGC_REQUIRED)
    if name == "nrta_number_present":
        return bool((facts.nrta_number or "").strip())
    raise KeyError(f"unknown compliance check {name!r}")


CHECKS = ("explicit_label_present", "explicit_label_at_start", "explicit_label_min_seconds",
          "explicit_label_min_height", "implicit_label_fields", "machine_readable_mark",
          "nrta_number_present")


@dataclass(frozen=True)
class Gap:
    scope: str
    message: Message


@dataclass(frozen=True)
class RegionReport:
    region: str
    name: Message
    in_force: date
    gaps: tuple[Gap, ...]
    checked: int  # requirements that applied

    @property
    def status(self) -> str:
        if not self.checked:
            return "not_applicable"
        return "ready" if not self.gaps else "needs_work"

    def in_force_on(self, day: date) -> bool:
        return day >= self.in_force


def evaluate_compliance(facts: Sequence[ComplianceFacts],
                        rules: Sequence[Mapping[str, Any]] = COMPLIANCE_RULES,
                        regions: Iterable[str] | None = None) -> list[RegionReport]:
    """For each region, what the title (and each episode with its own provenance) still
    needs. ``facts[0]`` is the title; later entries are episodes with overrides."""
    wanted = set(regions) if regions else None
    reports = []
    for rule in rules:
        if wanted is not None and rule["region"] not in wanted:
            continue
        gaps: list[Gap] = []
        checked = 0
        for req in rule["requirements"]:
            params = req.get("params", {})
            for f in facts:
                if not _applies(req.get("applies", "always"), f.provenance):
                    continue
                checked += 1
                if not _check(req["check"], f, params):
                    msg = req["message"]
                    gap_msg = Message(msg.msgid, tuple(sorted(
                        {**dict(msg.params), **{k: (", ".join(v) if isinstance(v, list) else v)
                                                for k, v in params.items()}}.items())))
                    gaps.append(Gap(scope=f.scope, message=gap_msg))
        reports.append(RegionReport(region=rule["region"], name=rule["name"],
                                    in_force=date.fromisoformat(rule["in_force"]),
                                    gaps=tuple(gaps), checked=checked))
    return reports


# --------------------------------------------------------------------------- listing


def submission_gaps(*, has_synopsis: bool, episode_rows: int, rights_holder: str | None,
                    has_poster: bool) -> list[tuple[str, Message]]:
    """What keeps a draft from going to review: (field, message) pairs."""
    gaps = []
    if not has_synopsis:
        gaps.append(("localizations", _l("Write a synopsis in at least one language.")))
    if episode_rows < 1:
        gaps.append(("episodes", _l("List at least one episode.")))
    if not (rights_holder or "").strip():
        gaps.append(("rights_holder", _l("Name the rights holder in the copyright record.")))
    if not has_poster:
        gaps.append(("poster", _l("Upload a poster or key art.")))
    return gaps


# --------------------------------------------------------------------------- MEC export

MEC_NAMESPACE = "pudong-drama-exchange"


def content_id(title_id: int, episode_number: int | None = None) -> str:
    """A MovieLabs-style Content ID: ``md:cid:org:<org>:<local id>``."""
    local = f"title-{title_id}" if episode_number is None else f"title-{title_id}-ep-{episode_number}"
    return f"md:cid:org:{MEC_NAMESPACE}:{local}"


def _iso_duration(seconds: int | float | None) -> str | None:
    if not seconds:
        return None
    seconds = int(round(seconds))
    minutes, sec = divmod(seconds, 60)
    return f"PT{minutes}M{sec}S" if minutes else f"PT{sec}S"


@dataclass
class MECTitle:
    id: int
    original_title: str
    original_language: str
    country: str | None
    year: int | None
    genres: list[str]
    localizations: dict[str, tuple[str, str]]
    rights_holder: str | None
    typical_episode_seconds: int | None
    episodes: list[tuple[int, str | None, int | None]]  # number, title, seconds
    ai_involvement: str = "none"
    digital_source_type: str | None = None


def mec_export(t: MECTitle) -> dict[str, Any]:
    """Metadata shaped after MovieLabs MEC (Media Entertainment Core) Basic metadata: the
    series and one entry per episode, linked by ``Parent``."""
    def localized(lang: str, title: str, synopsis: str | None) -> dict[str, Any]:
        info: dict[str, Any] = {"language": lang, "TitleDisplayUnlimited": title,
                                "TitleSort": title}
        if synopsis:
            info["Summary190"] = synopsis[:190]
            info["Summary400"] = synopsis[:400]
            info["Summary4000"] = synopsis[:4000]
        if t.genres:
            info["Genre"] = [{"id": g, "level": 0} for g in t.genres]
        return info

    infos = [localized(t.original_language, t.original_title,
                       t.localizations.get(t.original_language, ("", ""))[1] or None)]
    for lang, (title, synopsis) in sorted(t.localizations.items()):
        if lang == t.original_language:
            infos[0]["TitleDisplayUnlimited"] = title or t.original_title
            continue
        infos.append(localized(lang, title, synopsis))
    copyright_line = None
    if t.rights_holder:
        copyright_line = f"© {t.year} {t.rights_holder}" if t.year else f"© {t.rights_holder}"
    base: dict[str, Any] = {
        "ContentID": content_id(t.id),
        "LocalizedInfo": infos,
        "ReleaseYear": t.year,
        "WorkType": "Series",
        "OriginalLanguage": t.original_language,
        "CountryOfOrigin": {"country": t.country} if t.country else None,
        "CopyrightLine": copyright_line,
        "SequenceInfo": {"Number": len(t.episodes)},
        "AltIdentifier": [{"Namespace": MEC_NAMESPACE, "Identifier": str(t.id)}],
    }
    if t.digital_source_type:
        base["AIProvenance"] = {"Involvement": t.ai_involvement,
                                "DigitalSourceType": IPTC_BASE + t.digital_source_type}
    entries = [{"Basic": {k: v for k, v in base.items() if v is not None}}]
    for number, ep_title, seconds in t.episodes:
        ep: dict[str, Any] = {
            "ContentID": content_id(t.id, number),
            "LocalizedInfo": [{"language": t.original_language,
                               "TitleDisplayUnlimited": ep_title or f"{t.original_title} {number}"}],
            "WorkType": "Episode",
            "SequenceInfo": {"Number": number},
            "Parent": {"relationshipType": "isepisodeof", "ParentContentID": content_id(t.id)},
            "ReleaseYear": t.year,
            "OriginalLanguage": t.original_language,
            "CountryOfOrigin": {"country": t.country} if t.country else None,
            "CopyrightLine": copyright_line,
            "RunLength": _iso_duration(seconds or t.typical_episode_seconds),
        }
        entries.append({"Basic": {k: v for k, v in ep.items() if v is not None}})
    return {"MECVersion": "2.9", "CoreMetadata": entries}
