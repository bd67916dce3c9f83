"""EMA Avails (MovieLabs) codec: rights in from spreadsheets and XML, avails out.

Reading: the spreadsheet v1.7–v1.9 (openpyxl; a sheet per work type, row 1 holds the
field classes, row 2 the field names, row 3 is reserved for notes) and the XML v2.x.
Each avail row (or XML Transaction) becomes rights in; rows with the same rights are
merged (HD and SD rows of one avail, the episodes of one season) and every row gets an
outcome in the report: accepted with the grant it went into, or rejected with reasons
that name the column. A file that is not an avails file at all (not a workbook, no sheet
with EMA headers, a required column missing, XML not well formed) raises
EmaFormatError. With strict=True (the default) any rejected row rejects the whole file:
EmaImportError carries the report and no grant is returned.

Writing: a v1.9 TV spreadsheet (work types Series/Season/Episode) and XML v2.4 from
grants plus plain title metadata. Licence types outside the EMA vocabulary (EST, VOD,
SVOD, POEST) go out as bilateral values with a warning in the export report.

Conventions: an End date is exclusive, as Google's EMA guide reads date-only values
(00:00 of that day); times of day are rounded outward to whole days with a warning.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import BinaryIO, Final
from xml.etree import ElementTree as ET
from xml.parsers import expat

import openpyxl
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import from_excel
from openpyxl.utils.exceptions import InvalidFileException

from licensing.domain import (
    EpisodeRange,
    Grant,
    GrantKind,
    GrantStatus,
    LanguageRight,
    LanguageUse,
)
from licensing.reference import (
    MEDIA_LEAVES,
    ReferenceCodeError,
    compact_media,
    compact_territories,
    expand_territories,
    media_leaves,
    normalize_territory,
)

Source = str | Path | bytes | BinaryIO

# --------------------------------------------------------------------------- vocabulary

#: EMA LicenseType values (Avails v2.5 vocabulary, spreadsheet v1.9) and the media node
#: each is imported as. POEST (pre-order EST) imports as EST.
EMA_LICENSE_TYPES: Final[dict[str, str]] = {
    "EST": "EST",
    "VOD": "TVOD",
    "SVOD": "SVOD",
    "POEST": "EST",
}
#: Values outside the EMA vocabulary, by bilateral agreement, for media EMA cannot name.
BILATERAL_LICENSE_TYPES: Final[dict[str, str]] = {
    "FreeTV": "FREE_TV",
    "PayTV": "PAY_TV",
    "AVOD": "AVOD",
    "FAST": "FAST",
    "ShortDramaApp": "SHORT_DRAMA_APP",
}
# Spellings other senders use for the same media, accepted on import.
_LICENSE_TYPE_ALIASES: Final[dict[str, str]] = {
    "TVOD": "TVOD",
    "FVOD": "AVOD",
    "FREE TV": "FREE_TV",
    "PAY TV": "PAY_TV",
}
# Which licence type each media node exports as.
_EXPORT_TYPE: Final[dict[str, str]] = {
    "SVOD": "SVOD",
    "TVOD": "VOD",
    "EST": "EST",
    "FREE_TV": "FreeTV",
    "PAY_TV": "PayTV",
    "AVOD": "AVOD",
    "FAST": "FAST",
    "SHORT_DRAMA_APP": "ShortDramaApp",
}

_CLASSES: Final = frozenset(
    {"Avail", "AvailTrans", "AvailAsset", "AvailMetadata", "Disposition", "AvailTerms"}
)
_REQUIRED_COLUMNS: Final = ("Territory", "WorkType", "EntryType", "LicenseType", "Start", "End")
_TITLE_COLUMNS: Final = (
    "ContentID",
    "EpisodeContentID",
    "SeasonContentID",
    "SeriesContentID",
    "ALID",
)
_TV_WORK_TYPES: Final = frozenset({"Series", "Season", "Episode"})
_MOVIE_WORK_TYPES: Final = frozenset({"Movie", "Short"})
_ACCEPTED_ENTRY_TYPES: Final = frozenset({"full extract", "create", "update"})

#: The v1.9 TV sheet, (class, field) per column: the v1.8 TV template plus the columns
#: v1.9 added (AssociatedALID, CampaignID, TPRType); ContractID is AvailTrans in v1.9.
TV_V19_COLUMNS: Final[tuple[tuple[str, str], ...]] = (
    ("Avail", "DisplayName"), ("Avail", "Licensee"), ("AvailTrans", "AssetLanguage"),
    ("AvailTrans", "Territory"), ("AvailTrans", "TerritoryExclusion"), ("AvailAsset", "WorkType"),
    ("Disposition", "EntryType"), ("AvailMetadata", "SeriesTitleInternalAlias"),
    ("AvailMetadata", "SeriesTitleDisplayUnlimited"), ("AvailMetadata", "SeasonNumber"),
    ("AvailMetadata", "VolumeTitleInternalAlias"), ("AvailMetadata", "VolumeTitleDisplayUnlimited"),
    ("AvailMetadata", "VolumeNumber"), ("AvailMetadata", "DistributionNumber"),
    ("AvailMetadata", "EpisodeNumber"), ("AvailMetadata", "LocalizationType"),
    ("AvailMetadata", "EpisodeTitleInternalAlias"), ("AvailMetadata", "EpisodeTitleDisplayUnlimited"),
    ("AvailMetadata", "SeasonTitleInternalAlias"), ("AvailMetadata", "SeasonTitleDisplayUnlimited"),
    ("AvailMetadata", "EpisodeCount"), ("AvailMetadata", "SeasonCount"), ("AvailMetadata", "SeriesID"),
    ("AvailMetadata", "SeasonID"), ("AvailMetadata", "VolumeID"), ("AvailMetadata", "EpisodeTitleID"),
    ("AvailMetadata", "EpisodeID"), ("AvailMetadata", "SeriesAltID"), ("AvailMetadata", "SeasonAltID"),
    ("AvailMetadata", "VolumeAltID"), ("AvailMetadata", "EpisodeAltID"), ("Avail", "ALID"),
    ("Avail", "AssociatedALID"), ("AvailMetadata", "CompanyDisplayCredit"),
    ("AvailMetadata", "GroupIdentity"), ("AvailMetadata", "Director"), ("AvailTrans", "LicenseType"),
    ("AvailTrans", "LicenseRightsDescription"), ("AvailTrans", "FormatProfile"), ("AvailTrans", "HDR"),
    ("AvailTrans", "WCG"), ("AvailTrans", "HFR"), ("AvailTrans", "NGAudio"), ("AvailTrans", "Start"),
    ("AvailTrans", "StartLag"), ("AvailTrans", "End"), ("AvailTrans", "EndLag"),
    ("AvailTrans", "WindowDuration"), ("AvailTrans", "SpecialPreOrderFulfillDate"),
    ("AvailTrans", "PriceType"), ("AvailTrans", "PriceValue"), ("AvailTrans", "PriceCurrency"),
    ("AvailTrans", "SRP"), ("AvailTrans", "Description"), ("AvailTrans", "Download"),
    ("AvailTrans", "OtherTerms"), ("AvailTrans", "OtherInstructions"), ("AvailAsset", "SeriesContentID"),
    ("AvailAsset", "SeasonContentID"), ("AvailAsset", "VolumeContentID"),
    ("AvailAsset", "EpisodeContentID"), ("Avail", "AvailID"), ("Avail", "UV_ID"), ("Avail", "DMA_ID"),
    ("Avail", "ReportingID"), ("AvailAsset", "Metadata"), ("AvailTrans", "SuppressionLiftDate"),
    ("AvailTrans", "AnnounceDate"), ("AvailMetadata", "ReleaseYear"),
    ("AvailMetadata", "ReleaseHistoryOriginal"), ("AvailMetadata", "ReleaseHistoryPhysicalHV"),
    ("Avail", "ExceptionFlag"), ("AvailMetadata", "RatingSystem"), ("AvailMetadata", "RatingValue"),
    ("AvailMetadata", "RatingReason"), ("AvailTrans", "RentalDuration"), ("AvailTrans", "WatchDuration"),
    ("AvailTrans", "FixedEndDate"), ("AvailMetadata", "CaptionIncluded"),
    ("AvailMetadata", "CaptionExemption"), ("AvailMetadata", "Any"), ("AvailTrans", "ContractID"),
    ("AvailTrans", "TitleStatus"), ("AvailTrans", "Exclusive"), ("AvailTrans", "ExclusiveAttributes"),
    ("AvailTrans", "BrandingRights"), ("AvailTrans", "BrandingRightsAttributes"),
    ("AvailTrans", "CampaignID"), ("AvailTrans", "TPRType"), ("Avail", "ServiceProvider"),
    ("AvailMetadata", "TotalRunTime"), ("AvailTrans", "HoldbackLanguage"),
    ("AvailTrans", "AllowedLanguages"), ("AvailTrans", "RequiredFulfillmentLanguages"),
    ("Avail", "BundledALIDs"), ("AvailMetadata", "RetailerEpisodeID1"),
    ("AvailMetadata", "RetailerEpisodeID2"), ("AvailMetadata", "RetailerVolumeID"),
    ("AvailMetadata", "RetailerSeasonID"), ("AvailMetadata", "RetailerSeriesID"),
    ("Avail", "RetailerSpare1"), ("Avail", "RetailerSpare2"), ("Avail", "RetailerSpare3"),
    ("AvailAsset", "PackageLabel"),
)  # fmt: skip

#: XPaths of the XML fields the importer reads, verbatim from MovieLabs' Mappings.json
#: (V1_9 "AllAvails"); a test holds them to the official file. Context: Avail, Asset or
#: Transaction; a dict is keyed by WorkType; a list gives alternatives; "*" many values.
XML_FIELDS: Final[dict[str, object]] = {
    "Avail:ALID": "{avail}ALID",
    "Avail:AvailID": "@TransactionID",
    "Avail:DisplayName": "{avail}Licensor/{md}DisplayName",
    "Disposition:EntryType": "{avail}Disposition/{avail}EntryType",
    "AvailAsset:WorkType": "{avail}WorkType",
    "AvailAsset:SeasonContentID": {
        "Season": "{avail}SeasonMetadata/{avail}SeasonContentID",
        "Episode": "{avail}EpisodeMetadata/{avail}SeasonMetadata/{avail}SeasonContentID",
        "Volume": "{avail}VolumeMetadata/{avail}SeasonMetadata/{avail}SeasonContentID",
    },
    "AvailAsset:SeriesContentID": {
        "Season": "{avail}SeasonMetadata/{avail}SeriesMetadata/{avail}SeriesContentID",
        "Episode": "{avail}EpisodeMetadata/{avail}SeasonMetadata/{avail}SeriesMetadata/{avail}SeriesContentID",
        "Volume": "{avail}VolumeMetadata/{avail}SeasonMetadata/{avail}SeriesMetadata/{avail}SeriesContentID",
    },
    "AvailMetadata:SeasonNumber": {
        "Season": "{avail}SeasonMetadata/{avail}SeasonNumber/{md}Number",
        "Episode": "{avail}EpisodeMetadata/{avail}SeasonMetadata/{avail}SeasonNumber/{md}Number",
        "Volume": "{avail}VolumeMetadata/{avail}SeasonMetadata/{avail}SeasonNumber/{md}Number",
    },
    "AvailMetadata:EpisodeNumber": {
        "Episode": "{avail}EpisodeMetadata/{avail}EpisodeNumber/{md}Number"
    },
    "AvailMetadata:TitleDisplayUnlimited": "{avail}Metadata/{avail}TitleDisplayUnlimited",
    "AvailMetadata:SeriesTitleDisplayUnlimited": {
        "Season": "{avail}SeasonMetadata/{avail}SeriesMetadata/{avail}SeriesTitleDisplayUnlimited",
        "Episode": "{avail}EpisodeMetadata/{avail}SeasonMetadata/{avail}SeriesMetadata/{avail}SeriesTitleDisplayUnlimited",
        "Volume": "{avail}VolumeMetadata/{avail}SeasonMetadata/{avail}SeriesMetadata/{avail}SeriesTitleDisplayUnlimited",
    },
    "AvailMetadata:EpisodeTitleDisplayUnlimited": "{avail}EpisodeMetadata/{avail}TitleDisplayUnlimited",
    "AvailMetadata:LocalizationType": "{avail}EpisodeMetadata/{avail}LocalizationOffering",
    "AvailTrans:LicenseType": "{avail}LicenseType",
    "AvailTrans:Territory": ["{avail}Territory/{md}country", "{avail}Territory/{md}countryRegion"],
    "AvailTrans:TerritoryExclusion": [
        "{avail}TerritoryExcluded/{md}country",
        "{avail}TerritoryExcluded/{md}countryRegion",
    ],
    "AvailTrans:Start": ["{avail}Start", "{avail}StartCondition"],
    "AvailTrans:StartLag": "{avail}StartCondition/@lag",
    "AvailTrans:End": ["{avail}End", "{avail}EndCondition"],
    "AvailTrans:EndLag": "{avail}EndCondition/@lag",
    "AvailTrans:AllowedLanguages": "*{avail}AllowedLanguage",
    "AvailTrans:AssetLanguage": "*{avail}AssetLanguage",
    "AvailTrans:ContractID": "{avail}ContractID",
    "AvailTrans:Exclusive": "{avail}Term/{avail}Boolean[../@termName='Exclusive']",
}

# --------------------------------------------------------------------------- errors and reports


class EmaFormatError(ValueError):
    """The file is not an EMA avails file we can read; nothing is imported."""

    def __init__(
        self,
        message: str,
        *,
        sheet: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ):
        self.sheet, self.row, self.column = sheet, row, column
        where = []
        if sheet is not None:
            where.append(f"sheet {sheet!r}")
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


@dataclass(frozen=True)
class EmaTitleRef:
    """How a row names its title: the ids and numbers a resolver can map to a title_id."""

    work_type: str
    content_id: str | None = None
    series_content_id: str | None = None
    season_content_id: str | None = None
    episode_content_id: str | None = None
    alid: str | None = None
    title: str | None = None
    season_number: int | None = None
    episode_number: int | None = None

    @property
    def key(self) -> str | None:
        """Default title id: the season (or series) for TV, the content id for movies."""
        if self.work_type in _TV_WORK_TYPES:
            return self.season_content_id or self.series_content_id or self.alid
        return self.content_id or self.alid


TitleResolver = Callable[[EmaTitleRef], str | None]


@dataclass(frozen=True)
class RowOutcome:
    """What happened to one spreadsheet row or XML Transaction."""

    where: str  # "sheet 'TV', row 12" or "line 88 (Transaction 957373)"
    accepted: bool
    reasons: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    grant_id: str | None = None
    sheet: str | None = None
    row: int | None = None
    line: int | None = None


@dataclass(frozen=True)
class EmaImport:
    """Rights in read from an avails file, with a row-by-row report."""

    grants: tuple[Grant, ...]
    rows: tuple[RowOutcome, ...]
    format: str  # "xlsx" or "xml"
    version: str | None = None

    @property
    def accepted(self) -> tuple[RowOutcome, ...]:
        return tuple(r for r in self.rows if r.accepted)

    @property
    def rejected(self) -> tuple[RowOutcome, ...]:
        return tuple(r for r in self.rows if not r.accepted)

    @property
    def ok(self) -> bool:
        return not self.rejected


class EmaImportError(ValueError):
    """Strict import found rejected rows: the file is rejected as a whole. `report`
    lists every row; rows that were fine are marked not imported."""

    def __init__(self, report: EmaImport) -> None:
        self.report = report
        bad = [r for r in report.rows if r.reasons and not r.reasons[0].startswith("not imported")]
        lines = [f"{r.where}: {'; '.join(r.reasons)}" for r in bad[:10]]
        more = f" (and {len(bad) - 10} more)" if len(bad) > 10 else ""
        super().__init__(
            f"{len(bad)} row(s) rejected, nothing imported: " + " | ".join(lines) + more
        )


# --------------------------------------------------------------------------- reading values


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


class _RowError(Exception):
    pass


class _Row:
    """One avail row (or Transaction), with a way to name where a value came from."""

    def __init__(
        self, values: Mapping[str, object], name_column: Callable[[str], str], where: str
    ) -> None:
        self.values = values
        self.name_column = name_column
        self.where = where
        self.reasons: list[str] = []
        self.warnings: list[str] = []

    def get(self, column: str) -> str:
        return _text(self.values.get(column))

    def raw(self, column: str) -> object:
        return self.values.get(column)

    def reject(self, column: str, message: str) -> None:
        self.reasons.append(f"{self.name_column(column)}: {message}")

    def warn(self, column: str, message: str) -> None:
        self.warnings.append(f"{self.name_column(column)}: {message}")


_DATE_RE: Final = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?)?$"
)


def _parse_instant(row: _Row, column: str, value: object) -> tuple[date, time] | None:
    """A cell or element value as (day, time of day); None when it is not a date."""
    if isinstance(value, datetime):
        return value.date(), value.time()
    if isinstance(value, date):
        return value, time()
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            converted = from_excel(value)
        except (ValueError, OverflowError):
            converted = None
        if isinstance(converted, datetime):
            row.warn(column, f"Excel serial number {value} read as {converted.date()}")
            return converted.date(), converted.time()
    match = _DATE_RE.match(_text(value))
    if not match:
        return None
    # A zone suffix is ignored: avails are stated in the territory's own time.
    year, month, day, hour, minute, second, _zone = match.groups()
    try:
        return date(int(year), int(month), int(day)), time(
            int(hour or 0), int(minute or 0), int(second or 0)
        )
    except ValueError:
        return None


def _parse_start(row: _Row, as_of: date) -> date | None:
    raw = row.raw("Start")
    text = _text(raw)
    if not text:
        row.reject("Start", "is empty; a start date is required")
        return None
    if text.lower() == "immediate":
        row.warn("Start", f"'Immediate' read as the import date {as_of}")
        return as_of
    instant = _parse_instant(row, "Start", raw)
    if instant is None:
        row.reject(
            "Start", f"{text!r} is not a date (YYYY-MM-DD or YYYY-MM-DDThh:mm:ss) nor 'Immediate'"
        )
        return None
    day, moment = instant
    if moment != time():
        row.warn("Start", f"time of day {moment} dropped: rights start on {day}")
    return day


_EST_START: Final = object()


def _parse_end(row: _Row, as_of: date) -> date | None | object:
    raw = row.raw("End")
    text = _text(raw)
    if not text:
        row.reject("End", "is empty; use a date or 'Open'")
        return None
    lowered = text.lower()
    if lowered == "open":
        return None
    if lowered == "eststart":
        return _EST_START
    if lowered == "immediate":
        row.warn("End", f"'Immediate' read as the import date {as_of}")
        return as_of
    instant = _parse_instant(row, "End", raw)
    if instant is None:
        row.reject(
            "End",
            f"{text!r} is not a date (YYYY-MM-DD or YYYY-MM-DDThh:mm:ss), 'Open' or 'ESTStart'",
        )
        return None
    day, moment = instant
    if moment != time():
        # An end time within a day (typically 23:59:59) ends the rights after that day.
        end = day + timedelta(days=1)
        row.warn("End", f"time of day {moment} rounded up: rights end before {end}")
        return end
    return day


def _parse_bool(row: _Row, column: str) -> bool:
    raw = row.raw(column)
    if raw is None or raw == "":
        return False
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int | float):
        if raw in (0, 1):
            return bool(raw)
    text = _text(raw).lower().replace(" ", "")
    if text in {"true", "yes", "y", "1", "=true()", "=true"}:
        return True
    if text in {"false", "no", "n", "0", "=false()", "=false"}:
        return False
    row.reject(column, f"{_text(raw)!r} is not a yes/no value")
    return False


def _split_codes(text: str) -> list[str]:
    return [part for part in re.split(r"[,;\s]+", text) if part]


def _parse_territories(row: _Row, column: str, required: bool) -> frozenset[str] | None:
    text = row.get(column)
    if not text:
        if required:
            row.reject(column, "is empty; a territory is required")
        return frozenset()
    countries: set[str] = set()
    ok = True
    for code in _split_codes(text):
        if code.upper() == "WW":
            row.warn(column, "'WW' read as the World (UN M.49 001)")
            code = "001"
        elif len(code) > 3 and "-" in code:
            row.reject(column, f"{code!r} is a subdivision (ISO 3166-2); rights are per country")
            ok = False
            continue
        try:
            countries |= expand_territories([normalize_territory(code)])
        except ReferenceCodeError as exc:
            row.reject(column, str(exc))
            ok = False
    return frozenset(countries) if ok else None


def _parse_languages(row: _Row) -> frozenset[LanguageRight] | None:
    """AssetLanguage (with LocalizationType) plus AllowedLanguages; none means all."""
    rights: set[LanguageRight] = set()
    localization = row.get("LocalizationType").lower()
    default_use = {"sub": LanguageUse.SUBTITLE, "dub": LanguageUse.DUB}.get(
        localization, LanguageUse.ANY
    )
    if localization and localization not in {"sub", "dub", "subdub", "any"}:
        row.reject("LocalizationType", f"{localization!r} is not one of sub, dub, subdub, any")
    for column in ("AssetLanguage", "AllowedLanguages"):
        for item in re.split(r"[,;]+", row.get(column)):
            item = item.strip()
            if not item:
                continue
            try:
                right = LanguageRight.parse(item)
            except ValueError as exc:
                row.reject(column, str(exc))
                continue
            if column == "AssetLanguage" and ":" not in item:
                right = LanguageRight(right.language, default_use)
            rights.add(right)
    return frozenset(rights) or None


def _parse_media(row: _Row) -> str | None:
    text = row.get("LicenseType")
    if not text:
        row.reject("LicenseType", "is empty")
        return None
    for vocabulary in (EMA_LICENSE_TYPES, BILATERAL_LICENSE_TYPES, _LICENSE_TYPE_ALIASES):
        for name, medium in vocabulary.items():
            if name.lower() == text.lower():
                if vocabulary is not EMA_LICENSE_TYPES:
                    row.warn(
                        "LicenseType",
                        f"{text!r} is not in the EMA vocabulary; read as {medium} (bilateral value)",
                    )
                elif name == "POEST":
                    row.warn("LicenseType", "pre-order EST (POEST) read as EST")
                return medium
    row.reject(
        "LicenseType",
        f"{text!r} is not a licence type we know (EMA: {', '.join(EMA_LICENSE_TYPES)}; "
        f"bilateral: {', '.join(BILATERAL_LICENSE_TYPES)})",
    )
    return None


def _parse_int(row: _Row, column: str) -> int | None:
    text = row.get(column)
    if not text:
        return None
    try:
        return int(float(text))
    except ValueError:
        row.reject(column, f"{text!r} is not a number")
        return None


@dataclass
class _Rights:
    """The rights of one accepted row, before merging."""

    index: int
    title_id: str
    group: tuple[str, str]  # (ContractID, AvailID)
    exclusive: bool
    start: date
    end: date | None
    episodes: frozenset[int] | None  # None: all episodes
    media: frozenset[str]  # leaves
    countries: frozenset[str]
    languages: frozenset[LanguageRight] | None
    license_type: str = ""
    territory_text: str = ""
    end_pending: bool = False
    origin: str = ""  # "r12" (spreadsheet row) or "l88" (XML line), for ids


def _parse_row(row: _Row, resolver: TitleResolver, as_of: date, index: int) -> _Rights | None:
    entry = row.get("EntryType")
    if not entry:
        row.reject("EntryType", "is empty")
    elif entry.lower() not in _ACCEPTED_ENTRY_TYPES:
        row.reject(
            "EntryType",
            f"{entry!r}: only 'Full Extract', 'Create' and 'Update' avails are imported",
        )
    work_type = row.get("WorkType")
    if work_type not in _TV_WORK_TYPES | _MOVIE_WORK_TYPES:
        supported = ", ".join(sorted(_TV_WORK_TYPES | _MOVIE_WORK_TYPES))
        row.reject(
            "WorkType", f"{work_type or 'empty'!r} is not supported (supported: {supported})"
        )
    ref = EmaTitleRef(
        work_type=work_type,
        content_id=row.get("ContentID") or None,
        series_content_id=row.get("SeriesContentID") or None,
        season_content_id=row.get("SeasonContentID") or None,
        episode_content_id=row.get("EpisodeContentID") or None,
        alid=row.get("ALID") or None,
        title=row.get("SeriesTitleDisplayUnlimited") or row.get("TitleDisplayUnlimited") or None,
        season_number=_parse_int(row, "SeasonNumber"),
        episode_number=_parse_int(row, "EpisodeNumber"),
    )
    title_id = resolver(ref) if work_type in _TV_WORK_TYPES | _MOVIE_WORK_TYPES else None
    if work_type in _TV_WORK_TYPES | _MOVIE_WORK_TYPES and not title_id:
        named = ref.key
        column = "SeasonContentID" if work_type in _TV_WORK_TYPES else "ContentID"
        row.reject(
            column, f"no title matches {named!r}" if named else "no content id names the title"
        )
    episodes: frozenset[int] | None = None
    if work_type == "Episode":
        if ref.episode_number is None:
            row.reject("EpisodeNumber", "is required for an Episode avail")
        elif ref.episode_number < 1:
            row.reject("EpisodeNumber", f"{ref.episode_number} is not an episode number")
        else:
            episodes = frozenset({ref.episode_number})
    medium = _parse_media(row)
    countries = _parse_territories(row, "Territory", required=True)
    excluded = _parse_territories(row, "TerritoryExclusion", required=False)
    start = _parse_start(row, as_of)
    end = _parse_end(row, as_of)
    if row.get("StartLag") or row.get("EndLag"):
        row.reject(
            "StartLag" if row.get("StartLag") else "EndLag",
            "lags on start/end conditions are not supported",
        )
    exclusive = _parse_bool(row, "Exclusive")
    languages = _parse_languages(row)
    if countries is not None and excluded is not None and countries and not countries - excluded:
        row.reject("TerritoryExclusion", "excludes every country of Territory")
    if isinstance(start, date) and isinstance(end, date) and end <= start:
        row.reject("End", f"{end} is not after Start {start}")
    if row.reasons:
        return None
    assert title_id is not None
    assert medium is not None
    assert countries is not None
    assert excluded is not None
    assert start is not None
    return _Rights(
        index=index,
        title_id=title_id,
        group=(row.get("ContractID"), row.get("AvailID")),
        exclusive=exclusive,
        start=start,
        end=None if end is _EST_START else end,  # type: ignore[arg-type]
        episodes=episodes,
        media=media_leaves(medium),
        countries=countries - excluded,
        languages=languages,
        license_type=row.get("LicenseType").upper(),
        territory_text=row.get("Territory"),
        end_pending=end is _EST_START,
        origin=f"r{row.values['__row__']}"
        if row.values.get("__row__")
        else f"l{row.values.get('__line__')}",
    )


def _resolve_est_start(rights: list[_Rights | None], rows: list[_Row]) -> None:
    """End 'ESTStart' ends a pre-order when the EST avail of the same title and
    territory starts: take the earliest later EST start in the file."""
    for item in rights:
        if item is None or not item.end_pending:
            continue
        starts = [
            other.start
            for other in rights
            if other is not None
            and other.license_type == "EST"
            and other.title_id == item.title_id
            and other.territory_text == item.territory_text
            and other.start > item.start
        ]
        row = rows[item.index]
        if starts:
            item.end = min(starts)
            item.end_pending = False
            row.warn("End", f"'ESTStart' resolved to {item.end}, when the EST avail starts")
        else:
            row.reject(
                "End",
                "'ESTStart' but no later EST avail for the same title and territory in this file",
            )


def _episode_ranges(episodes: frozenset[int] | None) -> list[EpisodeRange | None]:
    if episodes is None:
        return [None]
    ranges: list[EpisodeRange | None] = []
    ordered = sorted(episodes)
    first = previous = ordered[0]
    for number in ordered[1:] + [None]:
        if number is not None and number == previous + 1:
            previous = number
            continue
        ranges.append(EpisodeRange(first, previous))
        if number is not None:
            first = previous = number
    return ranges


def _merge(
    items: list[_Rights], id_prefix: str
) -> tuple[list[Grant], dict[int, str], dict[int, int]]:
    """Merge rows into as few grants as possible without changing the cells covered.

    Rows with identical rights collapse (HD and SD rows of one avail). Within one
    (title, ContractID, AvailID, exclusivity, term) group, pieces that differ in one
    dimension only are united in that dimension: a union of products that share all
    other dimensions is still a product, so no cell is added or lost.
    Returns (grants, {row index: grant id}, {row index: index of the row it repeats}).
    """
    duplicates: dict[int, int] = {}
    unique: dict[tuple, _Rights] = {}
    for item in items:
        key = (
            item.title_id,
            item.exclusive,
            item.start,
            item.end,
            item.episodes,
            item.media,
            item.countries,
            item.languages,
        )
        if key in unique:
            duplicates[item.index] = unique[key].index
        else:
            unique[key] = item
    groups: dict[tuple, list[tuple[object, frozenset, frozenset, object, list[int]]]] = {}
    for item in unique.values():
        key = (item.title_id, item.group, item.exclusive, item.start, item.end)
        groups.setdefault(key, []).append(
            (item.episodes, item.media, item.countries, item.languages, [item.index])
        )

    by_index = {item.index: item for item in items}
    grants: list[Grant] = []
    row_grant: dict[int, str] = {}
    used_ids: set[str] = set()
    for (title_id, (contract_id, avail_id), exclusive, start, end), group in groups.items():
        first_row = by_index[min(i for piece in group for i in piece[4])]
        base_id = avail_id or contract_id or f"{id_prefix}-{first_row.origin}"
        for episodes, media, countries, languages, indexes in _unite(group):
            for episode_range in _episode_ranges(episodes):
                grant_id, n = base_id, 1
                while grant_id in used_ids:
                    n += 1
                    grant_id = f"{base_id}#{n}"
                used_ids.add(grant_id)
                included, excluded = compact_territories(countries)
                grants.append(
                    Grant(
                        id=grant_id,
                        label=contract_id or avail_id or grant_id,
                        kind=GrantKind.RIGHTS_IN,
                        title_id=title_id,
                        media=compact_media(media),
                        territories=included,
                        territories_excluded=excluded,
                        languages=tuple(sorted(languages, key=str))
                        if languages is not None
                        else None,
                        episodes=episode_range,
                        start=start,
                        end=end,
                        exclusive=exclusive,
                        status=GrantStatus.ACTIVE,
                    )
                )
                for index in indexes:
                    row_episodes = by_index[index].episodes
                    if episode_range is None or any(e in episode_range for e in row_episodes or ()):
                        row_grant[index] = grant_id
    return grants, row_grant, duplicates


def _unite(pieces: list) -> list:
    """Unite pieces that differ in exactly one of episodes, countries, media, languages."""
    changed = True
    while changed:
        changed = False
        for dimension in range(4):
            merged: dict[tuple, list] = {}
            for piece in pieces:
                key = tuple(piece[d] for d in range(4) if d != dimension)
                if key in merged:
                    target = merged[key]
                    target[dimension] = _union(dimension, target[dimension], piece[dimension])
                    target[4] = target[4] + piece[4]
                    changed = True
                else:
                    merged[key] = list(piece)
            pieces = [tuple(p) for p in merged.values()]
    return pieces


def _union(dimension: int, a, b):
    if dimension in (0, 3):  # episodes, languages: None means all
        if a is None or b is None:
            return None
    return a | b


def _finish_import(
    rows: list[_Row],
    rights: list[_Rights | None],
    fmt: str,
    version: str | None,
    strict: bool,
    id_prefix: str,
) -> EmaImport:
    _resolve_est_start(rights, rows)
    good = [r for r in rights if r is not None and not rows[r.index].reasons]
    grants, row_grant, duplicates = _merge(good, id_prefix)
    outcomes = []
    for index, row in enumerate(rows):
        warnings = list(row.warnings)
        if index in duplicates:
            warnings.append(
                f"same rights as {rows[duplicates[index]].where} (another format profile?)"
            )
            grant_id = row_grant.get(duplicates[index])
        else:
            grant_id = row_grant.get(index)
        outcomes.append(
            RowOutcome(
                where=row.where,
                accepted=not row.reasons,
                reasons=tuple(row.reasons),
                warnings=tuple(warnings),
                grant_id=grant_id if not row.reasons else None,
                sheet=row.values.get("__sheet__"),  # type: ignore[arg-type]
                row=row.values.get("__row__"),  # type: ignore[arg-type]
                line=row.values.get("__line__"),  # type: ignore[arg-type]
            )
        )
    report = EmaImport(grants=tuple(grants), rows=tuple(outcomes), format=fmt, version=version)
    if strict and not report.ok:
        blocked = tuple(
            o
            if not o.accepted
            else RowOutcome(
                where=o.where,
                accepted=False,
                reasons=("not imported: the file has rejected rows",),
                warnings=o.warnings,
                sheet=o.sheet,
                row=o.row,
                line=o.line,
            )
            for o in outcomes
        )
        raise EmaImportError(EmaImport(grants=(), rows=blocked, format=fmt, version=version))
    return report


def _read_bytes(source: Source) -> bytes:
    if isinstance(source, bytes):
        return source
    if isinstance(source, str | Path):
        return Path(source).read_bytes()
    return source.read()


def _today() -> date:
    return datetime.now(UTC).date()


def _default_resolver(ref: EmaTitleRef) -> str | None:
    return ref.key


# --------------------------------------------------------------------------- spreadsheet import


def read_avails(
    source: Source,
    *,
    title_resolver: TitleResolver | None = None,
    strict: bool = True,
    as_of: date | None = None,
    id_prefix: str = "ema",
) -> EmaImport:
    """Read an EMA avails file, spreadsheet or XML (told apart by content)."""
    data = _read_bytes(source)
    if data[:2] == b"PK":
        return read_avails_xlsx(
            data, title_resolver=title_resolver, strict=strict, as_of=as_of, id_prefix=id_prefix
        )
    if data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"<":
        return read_avails_xml(
            data, title_resolver=title_resolver, strict=strict, as_of=as_of, id_prefix=id_prefix
        )
    raise EmaFormatError("not an EMA avails file: neither an .xlsx workbook nor XML")


def read_avails_xlsx(
    source: Source,
    *,
    title_resolver: TitleResolver | None = None,
    strict: bool = True,
    as_of: date | None = None,
    id_prefix: str = "ema",
    sheets: Sequence[str] | None = None,
) -> EmaImport:
    """Read rights in from an EMA avails spreadsheet (v1.7–v1.9), every avails sheet
    (or the `sheets` named). Rows are numbered as Excel shows them."""
    data = _read_bytes(source)
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise EmaFormatError(
            f"not an Excel .xlsx workbook ({exc.__class__.__name__}: {exc})"
        ) from exc
    resolver = title_resolver or _default_resolver
    as_of = as_of or _today()
    try:
        names = list(sheets) if sheets is not None else workbook.sheetnames
        for name in names:
            if name not in workbook.sheetnames:
                raise EmaFormatError(
                    f"no sheet named {name!r}; the workbook has {', '.join(map(repr, workbook.sheetnames))}"
                )
        rows: list[_Row] = []
        rights: list[_Rights | None] = []
        versions = set()
        found = False
        for name in names:
            sheet_rows = list(workbook[name].iter_rows(values_only=True))
            header = _sheet_header(name, sheet_rows)
            if header is None:
                if sheets is not None:
                    raise EmaFormatError(
                        "row 1 must hold EMA field classes (Avail, AvailTrans, …) and row 2 the field names",
                        sheet=name,
                    )
                continue
            found = True
            columns, version = header
            if version:
                versions.add(version)
            for number, values in enumerate(sheet_rows[2:], start=3):
                if _is_note_row(values, columns):
                    continue
                record = {
                    field_name: values[i] if i < len(values) else None
                    for field_name, i in columns.items()
                }
                record["__sheet__"], record["__row__"] = name, number

                def name_column(column: str, _columns=columns) -> str:
                    index = _columns.get(column)
                    return (
                        f"column {column} ({get_column_letter(index + 1)})"
                        if index is not None
                        else f"column {column}"
                    )

                row = _Row(record, name_column, f"sheet {name!r}, row {number}")
                rows.append(row)
                rights.append(_parse_row(row, resolver, as_of, len(rows) - 1))
        if not found:
            raise EmaFormatError(
                "no sheet with EMA avails headers (row 1: classes such as Avail, AvailTrans; row 2: field names); "
                f"sheets: {', '.join(map(repr, workbook.sheetnames))}"
            )
    finally:
        workbook.close()
    version = ", ".join(sorted(versions)) or None
    return _finish_import(rows, rights, "xlsx", version, strict, id_prefix)


def _sheet_header(name: str, rows: list[tuple]) -> tuple[dict[str, int], str | None] | None:
    if len(rows) < 2:
        return None
    classes = [_text(v) for v in rows[0]]
    fields = [_text(v) for v in rows[1]]
    if sum(1 for c in classes if c in _CLASSES) < 3:
        return None
    columns: dict[str, int] = {}
    for index, field_name in enumerate(fields):
        if field_name and field_name not in columns:
            columns[field_name] = index
    for required in _REQUIRED_COLUMNS:
        if required not in columns:
            raise EmaFormatError(
                f"required column {required!r} is missing from row 2", sheet=name, row=2
            )
    if not any(c in columns for c in _TITLE_COLUMNS):
        raise EmaFormatError(
            f"no column names the title (one of {', '.join(_TITLE_COLUMNS)}) in row 2",
            sheet=name,
            row=2,
        )
    version = None
    if (
        len(rows) > 2
        and rows[2]
        and isinstance(rows[2][0], int | float)
        and not isinstance(rows[2][0], bool)
    ):
        version = _text(rows[2][0])
    return columns, version


def _is_note_row(values: tuple, columns: dict[str, int]) -> bool:
    """Empty rows and the template's notes ("//REQ", "//Opt") are not avails."""
    key_cells = [
        _text(values[columns[c]]) if columns[c] < len(values) else "" for c in _REQUIRED_COLUMNS
    ]
    filled = [c for c in key_cells if c]
    if not filled:
        return not any(_text(v) for v in values)
    return all(c.startswith("/") for c in filled)


# --------------------------------------------------------------------------- XML import


def _parse_xml_with_lines(data: bytes) -> tuple[ET.Element, dict[int, int]]:
    """ElementTree with line numbers (expat reports them; ElementTree keeps none)."""
    parser = expat.ParserCreate(namespace_separator="}")
    lines: dict[int, int] = {}
    stack: list[ET.Element] = []
    root: list[ET.Element] = []

    def name(raw: str) -> str:
        return "{" + raw if "}" in raw else raw

    def start(tag: str, attributes: dict[str, str]) -> None:
        element = ET.Element(name(tag), {name(k): v for k, v in attributes.items()})
        lines[id(element)] = parser.CurrentLineNumber
        if stack:
            stack[-1].append(element)
        else:
            root.append(element)
        stack.append(element)

    def end(tag: str) -> None:
        stack.pop()

    def text(content: str) -> None:
        if stack:
            element = stack[-1]
            if len(element):
                element[-1].tail = (element[-1].tail or "") + content
            else:
                element.text = (element.text or "") + content

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise EmaFormatError(
            f"XML is not well formed: {expat.errors.messages[exc.code]}",
            row=exc.lineno,
            column=str(exc.offset + 1),
        ) from exc
    if not root:
        raise EmaFormatError("XML has no root element")
    return root[0], lines


class _Xml:
    """Evaluates the Mappings.json XPaths of XML_FIELDS (the forms they use)."""

    def __init__(self, avails_ns: str, md_ns: str) -> None:
        self.ns = {"avail": avails_ns, "md": md_ns}

    def _path(self, path: str) -> str:
        return path.replace("{avail}", "{" + self.ns["avail"] + "}").replace(
            "{md}", "{" + self.ns["md"] + "}"
        )

    def values(self, context: ET.Element, spec: object, work_type: str = "") -> list[str]:
        if isinstance(spec, dict):
            spec = spec.get(work_type, spec.get("-default-"))
            if spec is None:
                return []
        if isinstance(spec, list):
            for alternative in spec:
                found = self.values(context, alternative, work_type)
                if found:
                    return found
            return []
        assert isinstance(spec, str)
        path = spec.lstrip("*")
        term = re.fullmatch(r"(.*)\[\.\./@termName='([^']+)'\]", path)
        if term:  # {avail}Term/{avail}Boolean[../@termName='Exclusive']
            term_path, child = term.group(1).rsplit("/", 1)
            out = []
            for element in context.findall(self._path(term_path)):
                if element.get("termName") == term.group(2):
                    out += [(c.text or "").strip() for c in element.findall(self._path(child))]
            return out
        if path.startswith("@"):
            value = context.get(path[1:])
            return [value] if value is not None else []
        if "/@" in path:
            element_path, attribute = path.split("/@")
            return [
                e.get(attribute)
                for e in context.findall(self._path(element_path))
                if e.get(attribute)
            ]
        return [(e.text or "").strip() for e in context.findall(self._path(path))]

    def first(self, context: ET.Element, spec: object, work_type: str = "") -> str:
        found = self.values(context, spec, work_type)
        return found[0] if found else ""


def read_avails_xml(
    source: Source,
    *,
    title_resolver: TitleResolver | None = None,
    strict: bool = True,
    as_of: date | None = None,
    id_prefix: str = "ema",
) -> EmaImport:
    """Read rights in from EMA avails XML v2.x: one report row per Transaction."""
    data = _read_bytes(source)
    root, lines = _parse_xml_with_lines(data)
    match = re.fullmatch(
        r"\{(http://www\.movielabs\.com/schema/avails/v(2\.[0-9.]+)/avails)\}(AvailList|Avail)",
        root.tag,
    )
    if not match:
        raise EmaFormatError(
            f"root element {root.tag!r} is not an EMA AvailList (avails namespace v2.x)",
            row=lines.get(id(root)),
        )
    avails_ns, version, kind = match.groups()
    md_ns = next(
        (
            v
            for v in _namespaces(data)
            if re.fullmatch(r"http://www\.movielabs\.com/schema/md/v[0-9.]+/md", v)
        ),
        "http://www.movielabs.com/schema/md/v2.7/md",
    )
    xml = _Xml(avails_ns, md_ns)
    resolver = title_resolver or _default_resolver
    as_of = as_of or _today()
    avails = [root] if kind == "Avail" else root.findall(f"{{{avails_ns}}}Avail")
    rows: list[_Row] = []
    rights: list[_Rights | None] = []
    for avail in avails:
        asset = avail.find(f"{{{avails_ns}}}Asset")
        work_type = xml.first(asset, XML_FIELDS["AvailAsset:WorkType"]) if asset is not None else ""
        common: dict[str, object] = {
            "ALID": xml.first(avail, XML_FIELDS["Avail:ALID"]),
            "EntryType": xml.first(avail, XML_FIELDS["Disposition:EntryType"]),
            "DisplayName": xml.first(avail, XML_FIELDS["Avail:DisplayName"]),
            "WorkType": work_type,
        }
        if asset is not None:
            content_id = asset.get("contentID") or ""
            common["ContentID" if work_type not in _TV_WORK_TYPES else f"{work_type}ContentID"] = (
                content_id
            )
            common["SeasonContentID"] = common.get("SeasonContentID") or xml.first(
                asset, XML_FIELDS["AvailAsset:SeasonContentID"], work_type
            )
            common["SeriesContentID"] = xml.first(
                asset, XML_FIELDS["AvailAsset:SeriesContentID"], work_type
            )
            if work_type == "Series":
                common["SeriesContentID"] = common["SeriesContentID"] or content_id
            common["SeasonNumber"] = xml.first(
                asset, XML_FIELDS["AvailMetadata:SeasonNumber"], work_type
            )
            common["EpisodeNumber"] = xml.first(
                asset, XML_FIELDS["AvailMetadata:EpisodeNumber"], work_type
            )
            common["TitleDisplayUnlimited"] = xml.first(
                asset, XML_FIELDS["AvailMetadata:TitleDisplayUnlimited"]
            )
            common["SeriesTitleDisplayUnlimited"] = xml.first(
                asset, XML_FIELDS["AvailMetadata:SeriesTitleDisplayUnlimited"], work_type
            )
            # Mappings.json reads LocalizationType from EpisodeMetadata only; movies carry
            # it in Metadata, so fall back to that.
            common["LocalizationType"] = xml.first(
                asset, XML_FIELDS["AvailMetadata:LocalizationType"]
            ) or xml.first(asset, "{avail}Metadata/{avail}LocalizationOffering")
        transactions = avail.findall(f"{{{avails_ns}}}Transaction")
        for number, transaction in enumerate(transactions, start=1):
            record = dict(common)
            line = lines.get(id(transaction))
            record["__line__"] = line
            record["AvailID"] = xml.first(transaction, XML_FIELDS["Avail:AvailID"])
            for column in ("LicenseType", "ContractID", "StartLag", "EndLag"):
                record[column] = xml.first(transaction, XML_FIELDS[f"AvailTrans:{column}"])
            for column in ("Territory", "TerritoryExclusion"):
                record[column] = ",".join(
                    xml.values(transaction, XML_FIELDS[f"AvailTrans:{column}"])
                )
            record["Start"] = xml.first(transaction, XML_FIELDS["AvailTrans:Start"])
            record["End"] = xml.first(transaction, XML_FIELDS["AvailTrans:End"])
            record["Exclusive"] = xml.first(transaction, XML_FIELDS["AvailTrans:Exclusive"])
            record["AssetLanguage"] = ",".join(
                _xml_languages(transaction, xml, "AvailTrans:AssetLanguage")
            )
            record["AllowedLanguages"] = ",".join(
                _xml_languages(transaction, xml, "AvailTrans:AllowedLanguages")
            )
            label = f"Transaction {number}" + (
                f" ({record['AvailID']})" if record["AvailID"] else ""
            )
            where = f"line {line}: Avail {common['ALID'] or '?'}, {label}"

            def name_column(column: str) -> str:
                return f"element {column}"

            row = _Row(record, name_column, where)
            rows.append(row)
            rights.append(_parse_row(row, resolver, as_of, len(rows) - 1))
        if not transactions:
            row = _Row(
                {"__line__": lines.get(id(avail))},
                lambda c: f"element {c}",
                f"line {lines.get(id(avail))}: Avail {common['ALID'] or '?'}",
            )
            row.reject("Transaction", "the Avail has no Transaction")
            rows.append(row)
            rights.append(None)
    return _finish_import(rows, rights, "xml", version, strict, id_prefix)


def _xml_languages(transaction: ET.Element, xml: _Xml, key: str) -> list[str]:
    spec = XML_FIELDS[key]
    assert isinstance(spec, str)
    out = []
    for element in transaction.findall(xml._path(spec.lstrip("*"))):
        tag = (element.text or "").strip()
        asset = element.get("asset")
        out.append(f"{tag}:{asset}" if asset else tag)
    return out


def _namespaces(data: bytes) -> list[str]:
    return [m.decode() for m in re.findall(rb'xmlns(?::\w+)?="([^"]+)"', data[:4096])]


# --------------------------------------------------------------------------- export


@dataclass(frozen=True)
class EmaEpisode:
    number: int
    content_id: str | None = None
    title: str | None = None


@dataclass(frozen=True)
class EmaTitle:
    """Title metadata for export. `content_id` identifies the series; the season's id
    defaults to "<content_id>:s<season>" and episodes' to "<content_id>:e<n>"."""

    title_id: str
    content_id: str
    title: str
    season_number: int = 1
    season_content_id: str | None = None
    episode_count: int | None = None
    episodes: tuple[EmaEpisode, ...] = ()
    work_type: str = "Season"  # "Season" or "Series" for whole-title avails

    def season_id(self) -> str:
        return self.season_content_id or f"{self.content_id}:s{self.season_number}"

    def episode(self, number: int) -> EmaEpisode:
        for episode in self.episodes:
            if episode.number == number:
                return episode
        return EmaEpisode(number)

    def episode_id(self, number: int) -> str:
        return self.episode(number).content_id or f"{self.content_id}:e{number}"


def resolver_for(titles: Iterable[EmaTitle]) -> TitleResolver:
    """A title resolver that maps the ids written by the exporter back to title ids."""
    by_id: dict[str, str] = {}
    for title in titles:
        by_id[title.content_id] = title.title_id
        by_id[title.season_id()] = title.title_id

    def resolve(ref: EmaTitleRef) -> str | None:
        for candidate in (ref.season_content_id, ref.series_content_id, ref.content_id):
            if candidate and candidate in by_id:
                return by_id[candidate]
        return None

    return resolve


@dataclass(frozen=True)
class EmaExport:
    """An exported avails file and what the export had to bend."""

    data: bytes
    format: str  # "xlsx" or "xml"
    rows: int  # spreadsheet rows or XML Transactions written
    warnings: tuple[str, ...] = ()

    def write(self, path: str | Path) -> None:
        Path(path).write_bytes(self.data)


@dataclass
class _ExportRow:
    grant: Grant
    title: EmaTitle
    license_type: str
    episode: int | None
    countries: tuple[str, ...]
    languages: str


def _export_license_types(grant: Grant, warnings: list[str]) -> list[str]:
    leaves = set(media_leaves(grant.media))
    types = []
    if {"AVOD", "FAST"} <= leaves:  # the AVOD node covers FAST
        leaves -= {"AVOD", "FAST"}
        types.append(_EXPORT_TYPE["AVOD"])
    for leaf in MEDIA_LEAVES:
        if leaf in leaves:
            types.append(_EXPORT_TYPE[leaf])
    bilateral = [t for t in types if t not in EMA_LICENSE_TYPES]
    if bilateral:
        warnings.append(
            f"grant {grant.label}: LicenseType {', '.join(bilateral)} not in the EMA vocabulary "
            f"({', '.join(EMA_LICENSE_TYPES)}); exported as bilateral value(s) — agree them with the recipient"
        )
    return types


def _export_rows(
    grants: Iterable[Grant], titles: Mapping[str, EmaTitle] | Iterable[EmaTitle]
) -> tuple[list[_ExportRow], list[str]]:
    by_title = dict(titles) if isinstance(titles, Mapping) else {t.title_id: t for t in titles}
    warnings: list[str] = []
    rows: list[_ExportRow] = []
    for grant in grants:
        title = by_title.get(grant.title_id)
        if title is None:
            raise ValueError(
                f"no title metadata for title {grant.title_id!r} (grant {grant.label})"
            )
        if grant.holdbacks:
            warnings.append(
                f"grant {grant.label}: holdbacks have no place in EMA avails and were not exported"
            )
        if grant.status not in (GrantStatus.SIGNED, GrantStatus.ACTIVE):
            warnings.append(
                f"grant {grant.label}: status {grant.status} has no EMA equivalent; exported as an avail"
            )
        if grant.parent_id:
            warnings.append(
                f"grant {grant.label}: exported without its parent link ({grant.parent_id})"
            )
        countries = tuple(sorted(grant.countries))
        languages = ",".join(
            right.language
            if right.use is LanguageUse.ANY
            else f"{right.language}:{'sub' if right.use is LanguageUse.SUBTITLE else 'dub'}"
            for right in grant.languages or ()
        )
        if grant.episodes is None:
            episodes: list[int | None] = [None]
        else:
            last = grant.episodes.last
            if last is None:
                if title.episode_count is None:
                    warnings.append(
                        f"grant {grant.label}: episodes {grant.episodes.first}– need the title's episode count; not exported"
                    )
                    continue
                last = title.episode_count
            episodes = list(range(grant.episodes.first, last + 1))
        for license_type in _export_license_types(grant, warnings):
            for episode in episodes:
                rows.append(_ExportRow(grant, title, license_type, episode, countries, languages))
    return rows, warnings


def write_avails_xlsx(
    grants: Iterable[Grant],
    titles: Mapping[str, EmaTitle] | Iterable[EmaTitle],
    *,
    licensor: str = "Pudong Drama Exchange",
    format_profile: str = "HD",
) -> EmaExport:
    """Write a v1.9 TV avails spreadsheet: the two header rows (class, field), row 3
    reserved for notes, then one row per grant x licence type x episode (a Season row
    when the grant covers every episode). Territory lists the countries, comma separated
    (allowed since v1.7.3); AvailID carries the grant id and ContractID its label."""
    rows, warnings = _export_rows(grants, titles)
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "TV"
    sheet.append([c for c, _ in TV_V19_COLUMNS])
    sheet.append([f for _, f in TV_V19_COLUMNS])
    required = set(_REQUIRED_COLUMNS) | {"SeriesContentID", "SeasonNumber"}
    sheet.append([1.9] + ["//REQ" if f in required else "//Opt" for _, f in TV_V19_COLUMNS[1:]])
    index = {f: i for i, (_, f) in enumerate(TV_V19_COLUMNS)}
    for item in rows:
        grant, title = item.grant, item.title
        values: dict[str, object] = {
            "DisplayName": licensor,
            "Territory": ",".join(item.countries),
            "WorkType": "Episode" if item.episode is not None else title.work_type,
            "EntryType": "Full Extract",
            "SeriesTitleInternalAlias": title.title,
            "SeriesTitleDisplayUnlimited": title.title,
            "SeasonNumber": title.season_number,
            "EpisodeCount": title.episode_count,
            "SeriesContentID": title.content_id,
            "SeasonContentID": title.season_id(),
            "ALID": f"{title.season_id() if item.episode is None else title.episode_id(item.episode)}:alid",
            "LicenseType": item.license_type,
            "FormatProfile": format_profile,
            "Start": grant.start,
            "End": grant.end if grant.end is not None else "Open",
            "AvailID": grant.id,
            "ContractID": grant.label,
            "Exclusive": grant.exclusive,
            "AllowedLanguages": item.languages or None,
        }
        if item.episode is not None:
            episode = title.episode(item.episode)
            values["EpisodeNumber"] = item.episode
            values["EpisodeContentID"] = title.episode_id(item.episode)
            if episode.title:
                values["EpisodeTitleInternalAlias"] = episode.title
                values["EpisodeTitleDisplayUnlimited"] = episode.title
            else:
                values["EpisodeTitleInternalAlias"] = f"{title.title} {item.episode}"
        line: list[object] = [None] * len(TV_V19_COLUMNS)
        for name, value in values.items():
            line[index[name]] = value
        sheet.append(line)
    for column in ("Start", "End"):
        for cell in sheet[get_column_letter(index[column] + 1)][3:]:
            cell.number_format = "yyyy-mm-dd"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return EmaExport(
        data=buffer.getvalue(),
        format="xlsx",
        rows=len(rows),
        warnings=tuple(dict.fromkeys(warnings)),
    )


AVAILS_NS: Final = "http://www.movielabs.com/schema/avails/v2.4/avails"
MD_NS: Final = "http://www.movielabs.com/schema/md/v2.7/md"


def write_avails_xml(
    grants: Iterable[Grant],
    titles: Mapping[str, EmaTitle] | Iterable[EmaTitle],
    *,
    licensor: str = "Pudong Drama Exchange",
    format_profile: str = "HD",
) -> EmaExport:
    """Write EMA avails XML v2.4: an Avail per grant x asset (the season, or each
    episode of an episode range) with a Transaction per licence type, elements in the
    order of the v2.4 schema. TransactionID carries the grant id, ContractID its label."""
    rows, warnings = _export_rows(grants, titles)
    ET.register_namespace("avails", AVAILS_NS)
    ET.register_namespace("md", MD_NS)
    a = lambda name: f"{{{AVAILS_NS}}}{name}"  # noqa: E731
    m = lambda name: f"{{{MD_NS}}}{name}"  # noqa: E731
    root = ET.Element(a("AvailList"))
    avails: dict[tuple[str, int | None], ET.Element] = {}
    for item in rows:
        grant, title = item.grant, item.title
        key = (grant.id, item.episode)
        avail = avails.get(key)
        if avail is None:
            avail = ET.SubElement(root, a("Avail"))
            asset_id = title.season_id() if item.episode is None else title.episode_id(item.episode)
            ET.SubElement(avail, a("ALID")).text = f"{asset_id}:alid"
            ET.SubElement(
                ET.SubElement(avail, a("Disposition")), a("EntryType")
            ).text = "Full Extract"
            ET.SubElement(ET.SubElement(avail, a("Licensor")), m("DisplayName")).text = licensor
            ET.SubElement(avail, a("AvailType")).text = (
                "season" if item.episode is None else "episode"
            )
            ET.SubElement(avail, a("ShortDescription")).text = f"{title.title}: {grant.label}"
            asset = ET.SubElement(avail, a("Asset"), {"contentID": asset_id})
            _xml_asset(asset, title, item.episode, a, m)
            avails[key] = avail
        transaction = ET.Element(a("Transaction"), {"TransactionID": grant.id})
        ET.SubElement(transaction, a("LicenseType")).text = item.license_type
        for country in item.countries:
            ET.SubElement(ET.SubElement(transaction, a("Territory")), m("country")).text = country
        ET.SubElement(transaction, a("Start")).text = f"{grant.start.isoformat()}T00:00:00"
        if grant.end is None:
            ET.SubElement(transaction, a("EndCondition")).text = "Open"
        else:
            ET.SubElement(transaction, a("End")).text = f"{grant.end.isoformat()}T00:00:00"
        for right in grant.languages or ():
            attributes = (
                {}
                if right.use is LanguageUse.ANY
                else {"asset": "sub" if right.use is LanguageUse.SUBTITLE else "dub"}
            )
            ET.SubElement(transaction, a("AllowedLanguage"), attributes).text = right.language
        ET.SubElement(transaction, a("FormatProfile")).text = format_profile
        ET.SubElement(transaction, a("ContractID")).text = grant.label
        term = ET.SubElement(transaction, a("Term"), {"termName": "Exclusive"})
        ET.SubElement(term, a("Boolean")).text = "true" if grant.exclusive else "false"
        # Transactions come after the Asset (and before SharedEntitlement) in Avail.
        avail.append(transaction)
    ET.indent(root)
    data = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return EmaExport(
        data=data, format="xml", rows=len(rows), warnings=tuple(dict.fromkeys(warnings))
    )


def _xml_asset(asset: ET.Element, title: EmaTitle, episode: int | None, a, m) -> None:
    def season_metadata(parent: ET.Element) -> ET.Element:
        season = ET.SubElement(parent, a("SeasonMetadata"))
        ET.SubElement(season, a("SeasonContentID")).text = title.season_id()
        ET.SubElement(ET.SubElement(season, a("SeasonNumber")), m("Number")).text = str(
            title.season_number
        )
        if title.episode_count is not None:
            ET.SubElement(season, a("NumberOfEpisodes")).text = str(title.episode_count)
        series = ET.SubElement(season, a("SeriesMetadata"))
        ET.SubElement(series, a("SeriesContentID")).text = title.content_id
        ET.SubElement(series, a("SeriesTitleDisplayUnlimited")).text = title.title
        ET.SubElement(series, a("SeriesTitleInternalAlias")).text = title.title
        return season

    if episode is None:
        ET.SubElement(asset, a("WorkType")).text = "Season"
        season_metadata(asset)
        return
    ET.SubElement(asset, a("WorkType")).text = "Episode"
    metadata = ET.SubElement(asset, a("EpisodeMetadata"))
    info = title.episode(episode)
    if info.title:
        ET.SubElement(metadata, a("TitleDisplayUnlimited")).text = info.title
    ET.SubElement(metadata, a("TitleInternalAlias")).text = info.title or f"{title.title} {episode}"
    ET.SubElement(ET.SubElement(metadata, a("EpisodeNumber")), m("Number")).text = str(episode)
    season_metadata(metadata)


__all__ = [
    "BILATERAL_LICENSE_TYPES",
    "EMA_LICENSE_TYPES",
    "EmaEpisode",
    "EmaExport",
    "EmaFormatError",
    "EmaImport",
    "EmaImportError",
    "EmaTitle",
    "EmaTitleRef",
    "RowOutcome",
    "TV_V19_COLUMNS",
    "XML_FIELDS",
    "read_avails",
    "read_avails_xlsx",
    "read_avails_xml",
    "resolver_for",
    "write_avails_xlsx",
    "write_avails_xml",
]
