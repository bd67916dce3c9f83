"""The engine's answers and the rights vocabulary in the viewer's language.

Territory and language names come from Babel (CLDR) in the viewer's locale; media,
statuses and sentences from the interface catalog. Reasons name another organization's
deal or offer only to the parties of that grant: a title's page never tells a buyer
whose deal blocks it, nor on what terms.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import format_date

from licensing import domain, reference
from marketplace.i18n import _, _l, current_locale_name

MEDIA_LABELS = {
    "ALL": _l("All media"), "LINEAR": _l("Linear TV"), "FREE_TV": _l("Free TV"),
    "PAY_TV": _l("Pay TV"), "NON_LINEAR": _l("Non-linear"), "SVOD": _l("SVOD"),
    "TVOD": _l("TVOD"), "EST": _l("EST"), "AVOD": _l("AVOD"), "FAST": _l("FAST"),
    "SHORT_DRAMA_APP": _l("Short-drama app"),
}
STATUS_LABELS = {
    # avails
    "free": _l("free"), "contested": _l("contested"), "blocked": _l("blocked"),
    "not_held": _l("not held"),
    # offers
    "open": _l("open"), "countered": _l("countered"), "accepted": _l("accepted"),
    "declined": _l("declined"), "withdrawn": _l("withdrawn"), "expired": _l("expired"),
    # deals and grants
    "pending_signature": _l("awaiting signatures"), "signed": _l("signed"),
    "active": _l("active"), "terminated": _l("terminated"), "reverted": _l("reverted"),
    "offer": _l("offer"), "option": _l("option"), "draft": _l("draft"),
    "inquiry": _l("inquiry"), "first_negotiation": _l("first negotiation"),
    "first_refusal": _l("first refusal"), "closed": _l("closed"),
}
USE_LABELS = {"subtitle": _l("subtitles"), "dub": _l("dubbing"), "any": _l("subtitles or dubbing")}
FEE_LABELS = {"flat": _l("Flat fee"), "mg_revshare": _l("Minimum guarantee + revenue share"),
              "revshare": _l("Revenue share only")}
TRIGGER_LABELS = {"on_signature": _l("on signature"),
                  "on_delivery_acceptance": _l("on delivery acceptance"),
                  "on_date": _l("on a date")}
ACTION_LABELS = {
    "rights_in.created": _l("Rights in recorded"), "rights_in.updated": _l("Rights in changed"),
    "rights_in.deleted": _l("Rights in deleted"), "rights_in.imported": _l("EMA file imported"),
    "inquiry.opened": _l("Inquiry opened"), "offer.made": _l("Offer made"),
    "offer.countered": _l("Counter-offer"), "offer.declined": _l("Offer declined"),
    "offer.withdrawn": _l("Offer withdrawn"), "offer.expired": _l("Offer expired"),
    "offer.accepted": _l("Offer accepted"), "deal.created": _l("Deal created"),
    "deal.signed": _l("Signed"), "deal.fully_signed": _l("Signed by both sides"),
    "deal.reverted": _l("Rights reverted"),
}


def action_label(action: str) -> str:
    return str(ACTION_LABELS.get(action, action))


def locale() -> str:
    return current_locale_name() or "en"


def status_label(value: str) -> str:
    return str(STATUS_LABELS.get(str(value), value))


def media_label(code: str) -> str:
    return str(MEDIA_LABELS.get(code, code))


def media_text(codes: Iterable[str]) -> str:
    return ", ".join(media_label(c) for c in codes)


def leaves_text(leaves: Iterable[str]) -> str:
    """Media leaves in the fewest words: "Linear TV, SVOD", "AVOD without FAST"."""
    remaining = set(leaves)
    names = []
    for node in reference.compact_media(remaining):
        remaining -= reference.media_leaves(node)
        names.append(media_label(node))
    for leaf in reference.MEDIA_LEAVES:  # a node no smaller node expresses, e.g. AVOD alone
        if leaf in remaining:
            others = sorted(reference.media_leaves(leaf) - {leaf})
            names.append(_("%(medium)s without %(others)s", medium=media_label(leaf),
                           others=media_text(others)) if others else media_label(leaf))
    return ", ".join(names)


def territory_label(code: str, loc: str | None = None) -> str:
    try:
        name = reference.territory_name(code, loc or locale())
    except ValueError:
        return code
    return name[:1].upper() + name[1:]  # CLDR writes "world" in English


def territories_text(countries: Iterable[str], loc: str | None = None, *,
                     list_up_to: int = 8) -> str:
    """A set of countries in few words: "Latin America and the Caribbean except Brazil"."""
    countries = list(countries)
    if not countries:
        return "—"
    included, excluded = reference.compact_territories(countries, list_up_to=list_up_to)
    text = ", ".join(territory_label(c, loc) for c in included)
    if excluded:
        text = _("%(included)s except %(excluded)s", included=text,
                 excluded=", ".join(territory_label(c, loc) for c in excluded))
    return text


def codes_text(included: Iterable[str], excluded: Iterable[str] = (),
               loc: str | None = None) -> str:
    """Stored territory codes (regions and countries) as names."""
    text = ", ".join(territory_label(c, loc) for c in included)
    excluded = list(excluded)
    if excluded:
        text = _("%(included)s except %(excluded)s", included=text,
                 excluded=", ".join(territory_label(c, loc) for c in excluded))
    return text


def language_label(right: str | domain.LanguageRight, loc: str | None = None) -> str:
    if not isinstance(right, domain.LanguageRight):
        right = domain.LanguageRight.parse(str(right))
    try:
        name = reference.language_name(right.language, loc or locale())
    except ValueError:
        name = right.language
    if right.use is domain.LanguageUse.ANY:
        return name
    return f"{name} ({USE_LABELS[right.use.value]})"


def languages_text(rights: Iterable[Any] | None, loc: str | None = None) -> str:
    if not rights:
        return _("all languages")
    return ", ".join(language_label(r, loc) for r in rights)


def day(value: date | None) -> str:
    return format_date(value, "medium") if value else ""


def term_text(start: date, end: date | None) -> str:
    if end is None:
        return _("from %(start)s, perpetual", start=day(start))
    return _("%(start)s to %(end)s", start=day(start), end=day(end))


def money(amount_minor: int | None, currency: str) -> str:
    from marketplace.i18n import format_money

    return format_money(amount_minor, currency) if amount_minor is not None else "—"


# --------------------------------------------------------------------------- answers


@dataclass(frozen=True)
class PartView:
    status: str
    status_label: str
    territories: tuple[str, ...]
    territories_text: str
    media: tuple[str, ...]
    media_text: str
    languages_text: str | None  # None: every language the request asked for
    episodes_text: str | None
    start: date
    end: date | None
    reasons: tuple[str, ...]
    sentence: str


def _part_languages(part: domain.AnswerPart, loc: str) -> str:
    uses: dict[str, set[str]] = {}
    for tag, use in part.languages:
        uses.setdefault(tag, set()).add(use)
    words = []
    for tag in sorted(uses, key=lambda t: (t == domain.ANY_OTHER_LANGUAGE, t)):
        name = (_("other languages") if tag == domain.ANY_OTHER_LANGUAGE
                else language_label(tag, loc))
        if len(uses[tag]) == 1:
            name = f"{name} ({USE_LABELS[next(iter(uses[tag]))]})"
        words.append(name)
    return ", ".join(words)


def reason_text(reason: domain.Reason, visible: bool) -> str:
    if reason.cause is domain.Cause.NO_RIGHTS_IN:
        return _("the producer holds no rights here")
    if reason.cause is domain.Cause.RIGHTS_IN_NOT_EXCLUSIVE:
        return _("the producer's rights here are not exclusive")
    soft = reason.status in domain.SOFT_STATUSES
    if visible:
        what = (_("%(status)s %(label)s (until %(date)s)", status=status_label(reason.status),
                  label=reason.label, date=day(reason.expires_on)) if soft
                else _("deal %(label)s", label=reason.label))
    else:
        what = _("another buyer's offer or option") if soft else _("another deal")
    if reason.cause is domain.Cause.HOLDBACK:
        return _("a holdback in %(what)s", what=what)
    return what


def part_view(part: domain.AnswerPart, request: domain.AvailsRequest, *,
              visible: Callable[[str | None], bool], loc: str | None = None) -> PartView:
    loc = loc or locale()
    where = territories_text(part.territories, loc)
    media = tuple(part.media)
    requested = reference.media_leaves(request.media)
    media_words = leaves_text(media) if set(media) != requested else None
    languages = None if part.all_languages else _part_languages(part, loc)
    episodes = None if part.all_episodes else (
        _("episodes %(first)d–%(last)d", first=part.episodes.first, last=part.episodes.last)
        if part.episodes.last else _("episodes %(first)d onwards", first=part.episodes.first))
    qualifiers = [q for q in (media_words, languages, episodes) if q]
    label = status_label(part.status.value)
    sentence = _("%(status)s in %(where)s", status=label, where=where)
    if qualifiers:
        sentence += f" ({'; '.join(qualifiers)})"
    if part.start != request.start:
        sentence += " " + _("from %(date)s", date=day(part.start))
    if part.end != request.end and part.end is not None:
        sentence += " " + _("until %(date)s", date=day(part.end))
    reasons = tuple(dict.fromkeys(reason_text(r, visible(r.grant_id)) for r in part.reasons))
    if reasons and part.status is not domain.Availability.FREE:
        sentence += " — " + "; ".join(reasons)
    return PartView(status=part.status.value, status_label=label, territories=part.territories,
                    territories_text=where, media=media,
                    media_text=leaves_text(media),
                    languages_text=languages, episodes_text=episodes, start=part.start,
                    end=part.end, reasons=reasons, sentence=sentence)


def request_text(request: domain.AvailsRequest, loc: str | None = None) -> str:
    loc = loc or locale()
    kind = _("exclusive") if request.exclusive else _("non-exclusive")
    text = _("%(kind)s %(media)s in %(where)s", kind=kind, media=media_text(request.media),
             where=codes_text(request.territories, request.territories_excluded, loc))
    if request.languages:
        text += f" ({languages_text(request.languages, loc)})"
    return f"{text}, {term_text(request.start, request.end)}"


def summary_text(answer: domain.Answer, *, locale: str | None = None,
                 visible: Callable[[str | None], bool] = lambda _gid: False) -> str:
    """One readable sentence for the whole answer."""
    from flask_babel import force_locale

    with force_locale(locale) if locale else _nullcontext():
        parts = [part_view(p, answer.request, visible=visible, loc=locale).sentence
                 for p in answer.parts]
        return f"{request_text(answer.request, locale)}: " + "; ".join(parts)


class _nullcontext:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def answer_json(answer: domain.Answer, *, visible: Callable[[str | None], bool]
                ) -> dict[str, Any]:
    """The API's shape of an answer: codes, dates and reasons (labels only to parties)."""
    def reason(r: domain.Reason) -> dict[str, Any]:
        shown = visible(r.grant_id)
        return {"cause": r.cause.value, "grant": r.label if shown else None,
                "status": r.status.value if r.status else None,
                "expires_on": r.expires_on.isoformat() if (shown and r.expires_on) else None,
                "text": reason_text(r, shown)}

    free = answer.free_territories()
    return {
        "title_id": int(answer.title_id), "status": answer.status.value,
        "available": answer.available,
        "summary": summary_text(answer, visible=visible),
        "free_territories": list(free),
        "parts": [{
            "status": p.status.value, "start": p.start.isoformat(),
            "end": p.end.isoformat() if p.end else None, "territories": list(p.territories),
            "media": list(p.media),
            "languages": None if p.all_languages else [f"{t}:{u}" for t, u in p.languages],
            "episodes": None if p.all_episodes else {"first": p.episodes.first,
                                                     "last": p.episodes.last},
            "reasons": [reason(r) for r in p.reasons]} for p in answer.parts],
    }
