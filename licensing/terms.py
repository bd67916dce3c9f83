"""Proposed rights and money, parsed once for the browser, the API and the CLI.

``parse_terms`` and ``parse_fee`` take the JSON shape of the API (forms are turned into
it by the views) and return validated dataclasses, or raise :class:`LicensingError`
whose ``errors`` map each bad field, named as in the API (``term.end``,
``instalments[1].percent``), to a message in the viewer's language.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.numbers import get_currency_precision, list_currencies

from licensing import domain, reference
from licensing.models import FeeModel, Trigger
from marketplace.i18n import _


class LicensingError(ValueError):
    """Input or a state the caller can fix. ``errors`` maps fields to messages (``field``
    is the first); ``status`` is the HTTP status to answer (400 bad field, 403 not
    allowed, 409 conflicting state or rights); ``conflict`` carries the engine's answer
    when rights are not free."""

    def __init__(self, field: str, message: str, *, status: int = 400,
                 errors: Mapping[str, str] | None = None, conflict: Any = None):
        self.errors = dict(errors) if errors else {field: str(message)}
        self.field = field
        self.status = status
        self.conflict = conflict
        super().__init__(str(message))

    @classmethod
    def collected(cls, errors: Mapping[str, str]) -> LicensingError:
        first = next(iter(errors))
        return cls(first, errors[first], errors=errors)


class FieldErrors(dict):
    """Errors collected field by field, raised together."""

    def add(self, field_name: str, message: str) -> None:
        self.setdefault(field_name, str(message))

    def raise_any(self) -> None:
        if self:
            raise LicensingError.collected(self)


# --------------------------------------------------------------------------- values


def _list(value: Any) -> list:
    """A list from a JSON list, a comma-separated string or a single value."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.replace(";", ",").split(",") if v.strip()]
    if isinstance(value, Iterable) and not isinstance(value, Mapping):
        out = []
        for item in value:
            out.extend(_list(item) if isinstance(item, str) else [item])
        return out
    return [value]


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value or "").strip().lower() in ("1", "true", "on", "yes", "y")


def parse_date(value: Any, field_name: str, errors: FieldErrors, *, required: bool = False
               ) -> date | None:
    if isinstance(value, date):
        return value
    text = str(value or "").strip()
    if not text:
        if required:
            errors.add(field_name, _("A date is required (YYYY-MM-DD)."))
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors.add(field_name, _("%(value)s is not a date (use YYYY-MM-DD).", value=text))
        return None


def _int(value: Any, field_name: str, errors: FieldErrors) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        errors.add(field_name, _("%(value)s is not a whole number.", value=value))
        return None
    return number


def territory_codes(values: Any, field_name: str, errors: FieldErrors) -> tuple[str, ...]:
    codes: list[str] = []
    for value in _list(values):
        try:
            code = reference.normalize_territory(str(value))
        except reference.UnknownTerritoryError:
            errors.add(field_name, _(
                "Unknown territory %(code)s: use an ISO country code such as BR or a UN M.49 "
                "region such as 419.", code=value))
            continue
        if code not in codes:
            codes.append(code)
    return tuple(codes)


def media_codes(values: Any, field_name: str, errors: FieldErrors) -> tuple[str, ...]:
    codes: list[str] = []
    for value in _list(values):
        try:
            code = reference.normalize_medium(str(value))
        except reference.UnknownMediumError:
            errors.add(field_name, _("Unknown medium %(code)s: use one of %(codes)s.",
                                     code=value, codes=", ".join(reference.MEDIA)))
            continue
        if code not in codes:
            codes.append(code)
    return tuple(codes)


def language_rights(values: Any, field_name: str, errors: FieldErrors
                    ) -> tuple[domain.LanguageRight, ...] | None:
    """None (every language) when empty; "pt:subtitle", "es:dub", "en" or
    {"language", "use"} items otherwise."""
    out: list[domain.LanguageRight] = []
    for value in _list(values):
        text = (f"{value.get('language', '')}:{value.get('use') or 'any'}"
                if isinstance(value, Mapping) else str(value))
        try:
            right = domain.LanguageRight.parse(text)
        except ValueError:
            errors.add(field_name, _(
                "%(value)s is not a language right: use a BCP 47 code with an optional use, "
                "e.g. pt, es-419:dub, en:subtitle.", value=text))
            continue
        if right not in out:
            out.append(right)
    return tuple(out) or None


# --------------------------------------------------------------------------- terms


@dataclass(frozen=True)
class Terms:
    """Rights proposed or held: media x territories x languages x episodes x term."""

    media: tuple[str, ...]
    territories: tuple[str, ...]
    start: date
    end: date | None = None
    territories_excluded: tuple[str, ...] = ()
    languages: tuple[domain.LanguageRight, ...] | None = None
    episodes: domain.EpisodeRange | None = None
    exclusive: bool = False
    holdbacks: tuple[domain.Holdback, ...] = ()
    may_sublicense: bool = False

    def request(self, title_id: int, *, licensee_org_id: int | None = None,
                ignore_grant_ids: Iterable[int] = ()) -> domain.AvailsRequest:
        """The avails question these terms ask of a title."""
        return domain.AvailsRequest(
            title_id=str(title_id), media=self.media, territories=self.territories,
            territories_excluded=self.territories_excluded, languages=self.languages,
            start=self.start, end=self.end, exclusive=self.exclusive, episodes=self.episodes,
            licensee_id=str(licensee_org_id) if licensee_org_id else None,
            ignore_grant_ids=frozenset(str(i) for i in ignore_grant_ids))

    def grant_columns(self) -> dict[str, Any]:
        """The ``RightsGrant`` columns these terms fill."""
        return {
            "media": list(self.media), "territories": list(self.territories),
            "territories_excluded": list(self.territories_excluded),
            "languages": [str(r) for r in self.languages] if self.languages else None,
            "episode_first": self.episodes.first if self.episodes else None,
            "episode_last": self.episodes.last if self.episodes else None,
            "starts_on": self.start, "ends_on": self.end, "exclusive": self.exclusive,
            "holdbacks": [holdback_json(h) for h in self.holdbacks],
            "may_sublicense": self.may_sublicense,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "media": list(self.media), "territories": list(self.territories),
            "territories_excluded": list(self.territories_excluded),
            "languages": [str(r) for r in self.languages] if self.languages else None,
            "episodes": ({"first": self.episodes.first, "last": self.episodes.last}
                         if self.episodes else None),
            "start": self.start.isoformat(), "end": self.end.isoformat() if self.end else None,
            "exclusive": self.exclusive,
            "holdbacks": [holdback_json(h) for h in self.holdbacks],
            "may_sublicense": self.may_sublicense,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Terms:
        """Terms stored by :meth:`to_json` (trusted: validated when they were made)."""
        from licensing.models import holdback_to_domain

        episodes = data.get("episodes")
        return cls(
            media=tuple(data["media"]), territories=tuple(data["territories"]),
            territories_excluded=tuple(data.get("territories_excluded") or ()),
            languages=(tuple(domain.LanguageRight.parse(x) for x in data["languages"])
                       if data.get("languages") else None),
            episodes=domain.EpisodeRange(episodes["first"], episodes.get("last"))
            if episodes else None,
            start=date.fromisoformat(data["start"]),
            end=date.fromisoformat(data["end"]) if data.get("end") else None,
            exclusive=bool(data.get("exclusive")),
            holdbacks=tuple(holdback_to_domain(h) for h in data.get("holdbacks") or ()),
            may_sublicense=bool(data.get("may_sublicense")))


def holdback_json(h: domain.Holdback) -> dict[str, Any]:
    return {"media": list(h.media), "territories": list(h.territories),
            "territories_excluded": list(h.territories_excluded),
            "languages": [str(r) for r in h.languages] if h.languages else None,
            "start": h.start.isoformat() if h.start else None,
            "until": h.until.isoformat() if h.until else None}


def _parse_holdbacks(values: Any, errors: FieldErrors) -> tuple[domain.Holdback, ...]:
    out = []
    for i, item in enumerate(values or ()):
        where = f"holdbacks[{i}]"
        if not isinstance(item, Mapping):
            errors.add(where, _("A holdback is an object with media, territories and until."))
            continue
        sub = FieldErrors()
        media = media_codes(item.get("media"), f"{where}.media", sub)
        if not media and not sub:
            sub.add(f"{where}.media", _("Choose at least one medium."))
        territories = territory_codes(item.get("territories"), f"{where}.territories", sub)
        if not territories and not sub:
            sub.add(f"{where}.territories", _("Choose at least one territory."))
        excluded = territory_codes(item.get("territories_excluded"),
                                   f"{where}.territories_excluded", sub)
        languages = language_rights(item.get("languages"), f"{where}.languages", sub)
        start = parse_date(item.get("start"), f"{where}.start", sub)
        until = parse_date(item.get("until"), f"{where}.until", sub)
        if start and until and until <= start:
            sub.add(f"{where}.until", _("The holdback ends before it starts."))
        if territories and not reference.expand_territories(territories, excluded):
            sub.add(f"{where}.territories_excluded",
                    _("The exclusions leave no country in the holdback."))
        if sub:
            for k, v in sub.items():
                errors.add(k, v)
            continue
        out.append(domain.Holdback(media=media, territories=territories,
                                   territories_excluded=excluded, languages=languages,
                                   start=start, until=until))
    return tuple(out)


def parse_terms(data: Mapping[str, Any]) -> Terms:
    """Validated terms from the API's JSON shape; every bad field is named."""
    errors = FieldErrors()
    media = media_codes(data.get("media"), "media", errors)
    if not media and "media" not in errors:
        errors.add("media", _("Choose at least one medium."))
    territories = territory_codes(data.get("territories"), "territories", errors)
    if not territories and "territories" not in errors:
        errors.add("territories", _("Choose at least one territory or region."))
    excluded = territory_codes(data.get("territories_excluded"), "territories_excluded", errors)
    if territories and not errors.get("territories_excluded") and \
            not reference.expand_territories(territories, excluded):
        errors.add("territories_excluded", _("The exclusions leave no country."))
    languages = language_rights(data.get("languages"), "languages", errors)

    episodes = None
    raw_episodes = data.get("episodes") or {}
    if isinstance(raw_episodes, Mapping) and any(v not in (None, "") for v in raw_episodes.values()):
        first = _int(raw_episodes.get("first"), "episodes.first", errors) or 1
        last = _int(raw_episodes.get("last"), "episodes.last", errors)
        if first < 1:
            errors.add("episodes.first", _("Episodes are numbered from 1."))
        elif last is not None and last < first:
            errors.add("episodes.last", _("The last episode comes before the first."))
        else:
            episodes = domain.EpisodeRange(first, last)

    term = data.get("term") or {}
    if not isinstance(term, Mapping):
        term = {}
    start = parse_date(term.get("start"), "term.start", errors, required=True)
    end = parse_date(term.get("end"), "term.end", errors)
    if start and end and end <= start:
        errors.add("term.end", _("The term ends (%(end)s) before it starts (%(start)s).",
                                 end=end.isoformat(), start=start.isoformat()))
    holdbacks = _parse_holdbacks(data.get("holdbacks"), errors)
    errors.raise_any()
    assert start is not None
    return Terms(media=media, territories=territories, territories_excluded=excluded,
                 languages=languages, episodes=episodes, start=start, end=end,
                 exclusive=parse_bool(data.get("exclusive")), holdbacks=holdbacks,
                 may_sublicense=parse_bool(data.get("may_sublicense")))


# --------------------------------------------------------------------------- money


@dataclass(frozen=True)
class Instalment:
    trigger: str
    percent_bp: int | None = None
    amount_minor: int | None = None
    due_on: date | None = None


@dataclass(frozen=True)
class Fee:
    model: str
    currency: str
    flat_fee_minor: int | None = None
    minimum_guarantee_minor: int | None = None
    revenue_share_bp: int | None = None
    instalments: tuple[Instalment, ...] = field(default=())

    @property
    def scheduled_total(self) -> int | None:
        """The sum the instalments pay: the flat fee or the minimum guarantee."""
        if self.model == FeeModel.FLAT:
            return self.flat_fee_minor
        if self.model == FeeModel.MG_REVSHARE:
            return self.minimum_guarantee_minor
        return None

    def amounts_due(self) -> list[int]:
        """Each instalment's amount in minor units; rounding goes to the last percentage."""
        total = self.scheduled_total or 0
        due = [i.amount_minor if i.amount_minor is not None else total * i.percent_bp // 10000
               for i in self.instalments]
        by_percent = [n for n, i in enumerate(self.instalments) if i.percent_bp is not None]
        if by_percent and sum(due) != total:
            due[by_percent[-1]] += total - sum(due)
        return due


def to_minor(value: Any, currency: str, field_name: str, errors: FieldErrors) -> int | None:
    """Major units ("50000.00") to integer minor units for the currency."""
    if value is None or str(value).strip() == "":
        return None
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        errors.add(field_name, _("%(value)s is not an amount.", value=value))
        return None
    minor = amount.scaleb(get_currency_precision(currency))
    if minor != minor.to_integral_value():
        errors.add(field_name, _("%(currency)s amounts have at most %(n)d decimals.",
                                 currency=currency, n=get_currency_precision(currency)))
        return None
    return int(minor)


def _percent_bp(value: Any, field_name: str, errors: FieldErrors) -> int | None:
    """A percentage ("30", "12.5") as basis points."""
    if value is None or str(value).strip() == "":
        return None
    try:
        bp = Decimal(str(value).strip().rstrip("%")) * 100
    except InvalidOperation:
        errors.add(field_name, _("%(value)s is not a percentage.", value=value))
        return None
    if bp != bp.to_integral_value() or not 0 < bp <= 10000:
        errors.add(field_name, _("A percentage between 0.01 and 100."))
        return None
    return int(bp)


def _money(data: Mapping[str, Any], key: str, prefix: str, currency: str,
           errors: FieldErrors) -> tuple[int | None, str]:
    """``<key>_minor`` (integer minor units) or ``<key>`` (major units); the field used."""
    minor_key = f"{key}_minor"
    if data.get(minor_key) not in (None, ""):
        value = _int(data.get(minor_key), f"{prefix}{minor_key}", errors)
        return value, f"{prefix}{minor_key}"
    return to_minor(data.get(key), currency, f"{prefix}{key}", errors), f"{prefix}{key}"


def parse_fee(data: Mapping[str, Any], instalments: Any) -> Fee:
    """Fee model, currency, amounts and instalment schedule, validated together."""
    errors = FieldErrors()
    fee = data if isinstance(data, Mapping) else {}
    model = str(fee.get("model") or "").strip()
    if model not in FeeModel.__members__.values():
        errors.add("fee.model", _("Choose a flat fee, a minimum guarantee with a revenue "
                                  "share, or a revenue share only."))
    currency = str(fee.get("currency") or "").strip().upper()
    if currency not in list_currencies():
        errors.add("fee.currency", _("%(value)s is not an ISO 4217 currency code such as USD.",
                                     value=currency or "—"))
        currency = "USD"  # keep parsing amounts to report their own errors too
    flat, flat_field = _money(fee, "flat_fee", "fee.", currency, errors)
    mg, mg_field = _money(fee, "minimum_guarantee", "fee.", currency, errors)
    if fee.get("revenue_share_bp") not in (None, ""):
        share_field = "fee.revenue_share_bp"
        share = _int(fee.get("revenue_share_bp"), share_field, errors)
        if share is not None and not 0 < share <= 10000:
            errors.add(share_field, _("A share between 1 and 10000 basis points."))
    else:
        share_field = "fee.revenue_share"
        share = _percent_bp(fee.get("revenue_share"), share_field, errors)
    if model == FeeModel.FLAT:
        if not flat or flat <= 0:
            errors.add(flat_field, _("Enter the flat fee."))
        mg = share = None
    elif model == FeeModel.MG_REVSHARE:
        if not mg or mg <= 0:
            errors.add(mg_field, _("Enter the minimum guarantee."))
        if not share:
            errors.add(share_field, _("Enter the revenue share."))
        flat = None
    elif model == FeeModel.REVSHARE:
        if not share:
            errors.add(share_field, _("Enter the revenue share."))
        flat = mg = None

    schedule: list[Instalment] = []
    items = [i for i in (instalments or ()) if not _blank_instalment(i)]
    if model == FeeModel.REVSHARE and items:
        errors.add("instalments", _("A revenue share only deal has no instalment schedule."))
        items = []
    for n, item in enumerate(items):
        where = f"instalments[{n}]"
        if not isinstance(item, Mapping):
            errors.add(where, _("An instalment is an object with percent or amount and "
                                "trigger."))
            continue
        trigger = str(item.get("trigger") or "").strip()
        if trigger not in Trigger.__members__.values():
            errors.add(f"{where}.trigger", _("Choose on signature, on delivery acceptance or "
                                             "on a date."))
        if item.get("percent_bp") not in (None, ""):
            percent = _int(item.get("percent_bp"), f"{where}.percent_bp", errors)
        else:
            percent = _percent_bp(item.get("percent"), f"{where}.percent", errors)
        amount, amount_field = _money(item, "amount", f"{where}.", currency, errors)
        if (percent is None) == (amount is None) and f"{where}.percent" not in errors:
            errors.add(f"{where}.percent", _("Give either a percentage or an amount."))
        if amount is not None and amount <= 0:
            errors.add(amount_field, _("The amount must be more than zero."))
        due_on = parse_date(item.get("due_on"), f"{where}.due_on", errors,
                            required=trigger == Trigger.ON_DATE)
        if trigger != Trigger.ON_DATE:
            due_on = None
        schedule.append(Instalment(trigger=trigger, percent_bp=percent, amount_minor=amount,
                                   due_on=due_on))
    total = flat if model == FeeModel.FLAT else mg if model == FeeModel.MG_REVSHARE else None
    if total and not schedule and not errors:
        schedule = [Instalment(trigger=Trigger.ON_SIGNATURE, percent_bp=10000)]
    if total and schedule and not errors:
        fixed = sum(i.amount_minor or 0 for i in schedule)
        percent = sum(i.percent_bp or 0 for i in schedule)
        # Exact arithmetic: the percentages of the total plus the amounts make the total.
        if fixed * 10000 + percent * total != total * 10000:
            errors.add("instalments", _(
                "The instalments must add up to the whole %(what)s: 100%% or the full amount.",
                what=_("flat fee") if model == FeeModel.FLAT else _("minimum guarantee")))
    errors.raise_any()
    return Fee(model=model, currency=currency, flat_fee_minor=flat,
               minimum_guarantee_minor=mg, revenue_share_bp=share,
               instalments=tuple(schedule))


def _blank_instalment(item: Any) -> bool:
    return isinstance(item, Mapping) and all(
        item.get(k) in (None, "") for k in ("percent", "percent_bp", "amount", "amount_minor"))


def parse_offer(data: Mapping[str, Any]) -> tuple[Terms, Fee]:
    """Terms and fee of an offer or a counter-offer together, so that one submission
    reports every bad field at once."""
    errors: dict[str, str] = {}
    terms = fee = None
    try:
        terms = parse_terms(data)
    except LicensingError as exc:
        errors.update(exc.errors)
    try:
        fee = parse_fee(data.get("fee") or {}, data.get("instalments"))
    except LicensingError as exc:
        errors.update(exc.errors)
    if errors:
        raise LicensingError.collected(errors)
    assert terms is not None
    assert fee is not None
    return terms, fee
