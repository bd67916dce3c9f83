"""Bulk import of a catalog from a CSV or XLSX sheet, one row per episode.

Rows with the same original title and language form one title (a draft). The whole
sheet is checked first; any error rejects the sheet and nothing is written. The report
names the row (as the spreadsheet numbers it, header = row 1) and the column.

Columns: ``original_title``, ``original_language`` and ``episode_number`` are required;
``title_<lang>`` / ``synopsis_<lang>`` add localizations (``title_en``, ``synopsis_zh`` …);
the rest are optional (see :data:`COLUMNS`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from catalog import domain, services
from catalog.domain import Message, ValidationError, _l
from marketplace.accounts.models import Organization, User

MAX_ROWS = 50_000

COLUMNS: tuple[tuple[str, bool, Message], ...] = (
    ("original_title", True, _l("Title in the original language")),
    ("original_language", True, _l("Language code, e.g. zh")),
    ("episode_number", True, _l("1, 2, 3 …")),
    ("episode_title", False, _l("Episode title")),
    ("episode_duration_seconds", False, _l("Episode length in seconds")),
    ("country", False, _l("Country of origin, e.g. CN")),
    ("year", False, _l("Year of production")),
    ("episode_count", False, _l("Planned number of episodes")),
    ("typical_episode_seconds", False, _l("Typical episode length in seconds")),
    ("aspect_ratio", False, _l("9:16 unless said otherwise")),
    ("genres", False, _l("Comma-separated genre codes: romance, revenge, ceo …")),
    ("tags", False, _l("Comma-separated tags")),
    ("ai_involvement", False, _l("none, assisted, mostly_generated or fully_generated")),
    ("ai_components", False, _l("Comma-separated: script, visuals, voice, music …")),
    ("digital_source_type", False, _l("IPTC digital source type, e.g. trainedAlgorithmicMedia")),
    ("rights_holder", False, _l("Rights holder")),
    ("copyright_registration_number", False, _l("Copyright registration number")),
    ("nrta_number", False, _l("NRTA licence or filing number")),
    ("nrta_tier", False, _l("key, ordinary or other")),
    ("underlying_work", False, _l("Underlying work")),
    ("title_<lang>", False, _l("Localized title, e.g. title_en")),
    ("synopsis_<lang>", False, _l("Synopsis in that language, e.g. synopsis_en")),
)
REQUIRED = [name for name, required, _d in COLUMNS if required]
KNOWN = {name for name, _r, _d in COLUMNS if "<" not in name}
TITLE_LEVEL = ("country", "year", "episode_count", "typical_episode_seconds", "aspect_ratio",
               "genres", "tags", "ai_involvement", "ai_components", "digital_source_type",
               "rights_holder", "copyright_registration_number", "nrta_number", "nrta_tier",
               "underlying_work")
TEMPLATE_HEADER = ["original_title", "original_language", "episode_number", "episode_title",
                   "episode_duration_seconds", "country", "year", "episode_count", "genres",
                   "ai_involvement", "ai_components", "digital_source_type", "rights_holder",
                   "nrta_number", "nrta_tier", "title_en", "synopsis_en", "synopsis_zh"]
TEMPLATE_ROWS = [
    ["闪婚霸总的契约新娘", "zh", "1", "契约", "95", "CN", "2025", "80", "ceo, romance",
     "mostly_generated", "visuals, voice", "trainedAlgorithmicMedia", "黄浦影业",
     "(沪)网微剧备字(2025)第001号", "ordinary", "The CEO's Contract Bride",
     "A contract marriage turns real.", "一纸契约，假戏真做。"],
    ["闪婚霸总的契约新娘", "zh", "2", "", "92"] + [""] * 13,
]


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    message: Message


@dataclass
class ImportReport:
    errors: list[RowError] = field(default_factory=list)
    titles: int = 0
    episodes: int = 0
    rows: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors

    def add(self, row: int, column: str, message: Message) -> None:
        self.errors.append(RowError(row, column, message))


class SheetError(ValueError):
    def __init__(self, report: ImportReport):
        super().__init__("; ".join(f"row {e.row} {e.column}: {e.message}" for e in report.errors))
        self.report = report


def read_rows(stream: BinaryIO, filename: str) -> Iterator[list[str]]:
    """The sheet's rows as lists of strings (the header first)."""
    name = (filename or "").lower()
    if name.endswith((".xlsx", ".xlsm")):
        from openpyxl import load_workbook

        book = load_workbook(stream, read_only=True, data_only=True)
        try:
            for values in book.worksheets[0].iter_rows(values_only=True):
                yield ["" if v is None else _cell(v) for v in values]
        finally:
            book.close()
        return
    if not name.endswith((".csv", ".txt", ".tsv")):
        raise ValueError("format")
    raw = stream.read(64 * 1024 * 1024 + 1)
    if len(raw) > 64 * 1024 * 1024:
        raise ValueError("size")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("gb18030")  # sheets saved by Chinese Excel
    first = text.split("\n", 1)[0]
    delimiter = "\t" if first.count("\t") > first.count(",") else (
        ";" if first.count(";") > first.count(",") else ",")
    yield from csv.reader(io.StringIO(text), delimiter=delimiter)


def _cell(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _int(value: str) -> int | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        raise ValueError(value) from None
    if not number.is_integer():
        raise ValueError(value)
    return int(number)


_FIELD_COLUMNS = {
    "original_title": "original_title", "original_language": "original_language",
    "country": "country", "year": "year", "episode_count": "episode_count",
    "typical_episode_seconds": "typical_episode_seconds", "aspect_ratio": "aspect_ratio",
    "genres": "genres", "tags": "tags", "involvement": "ai_involvement",
    "components": "ai_components", "digital_source_type": "digital_source_type",
}


@dataclass
class _PendingTitle:
    key: tuple[str, str]
    row: int
    values: dict[str, str]
    value_rows: dict[str, int]
    localizations: dict[str, list[str]]
    episodes: list[tuple[int, int, str | None, int | None]] = field(default_factory=list)


def check_sheet(stream: BinaryIO, filename: str, org: Organization | None = None
                ) -> tuple[ImportReport, list[_PendingTitle]]:
    """Read and check a sheet without writing anything."""
    report = ImportReport()
    try:
        rows = read_rows(stream, filename)
        header = next(rows, None)
    except ValueError as exc:
        message = (_l("Upload a .csv or .xlsx file.") if str(exc) == "format"
                   else _l("The sheet is too large."))
        report.add(0, "file", message)
        return report, []
    except Exception:  # openpyxl raises many kinds for a file that is not a workbook
        report.add(0, "file", _l("The file cannot be read as a CSV or XLSX sheet."))
        return report, []
    if not header or not any(h.strip() for h in header):
        report.add(1, "header", _l("The sheet is empty: the first row must name the columns."))
        return report, []
    columns = [h.strip().lower() for h in header]
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        report.add(1, ", ".join(missing), _l("Missing required column(s): %(names)s.",
                                              names=", ".join(missing)))
    loc_columns: dict[int, tuple[str, str]] = {}
    for i, name in enumerate(columns):
        kind, _sep, code = name.partition("_")
        if kind in ("title", "synopsis") and code and name not in KNOWN:
            lang = domain.normalize_language(code)
            if lang is None:
                report.add(1, name, _l("'%(value)s' is not a language code (use e.g. zh, en, es, "
                                       "pt-BR).", value=code))
            else:
                loc_columns[i] = (kind, lang)
    dupes = {c for c in columns if c and columns.count(c) > 1}
    if dupes:
        report.add(1, ", ".join(sorted(dupes)), _l("Column(s) appear twice: %(names)s.",
                                                  names=", ".join(sorted(dupes))))
    if not report.ok:
        return report, []
    index = {name: i for i, name in enumerate(columns)}
    titles: dict[tuple[str, str], _PendingTitle] = {}
    for row_no, values in enumerate(rows, start=2):
        if not any((v or "").strip() for v in values):
            continue
        report.rows += 1
        if report.rows > MAX_ROWS:
            report.add(row_no, "", _l("At most %(max)d rows per sheet.", max=MAX_ROWS))
            break
        values = [*values, *[""] * (len(columns) - len(values))]

        def get(name: str, row=values) -> str:
            i = index.get(name)
            return (row[i] or "").strip() if i is not None else ""

        original_title, language_raw = get("original_title"), get("original_language")
        if not original_title:
            report.add(row_no, "original_title", _l("Enter the original title."))
            continue
        language = domain.normalize_language(language_raw)
        if language is None:
            report.add(row_no, "original_language", _l(
                "'%(value)s' is not a language code (use e.g. zh, en, es, pt-BR).",
                value=language_raw))
            continue
        key = (original_title, language)
        pending = titles.get(key)
        if pending is None:
            pending = titles[key] = _PendingTitle(key=key, row=row_no, values={}, value_rows={},
                                                  localizations={})
        for name in TITLE_LEVEL:
            value = get(name)
            if not value:
                continue
            if name in pending.values and pending.values[name] != value:
                report.add(row_no, name, _l(
                    "Differs from row %(row)d for the same title ('%(value)s').",
                    row=pending.value_rows[name], value=pending.values[name]))
                continue
            pending.values[name] = value
            pending.value_rows.setdefault(name, row_no)
        for i, (kind, lang) in loc_columns.items():
            value = (values[i] or "").strip()
            if value:
                slot = pending.localizations.setdefault(lang, ["", ""])
                slot[0 if kind == "title" else 1] = slot[0 if kind == "title" else 1] or value
        try:
            number = _int(get("episode_number"))
            if number is None or number < 1:
                raise ValueError(get("episode_number"))
        except ValueError:
            report.add(row_no, "episode_number", _l("Episode numbers are whole numbers from 1."))
            continue
        try:
            duration = _int(get("episode_duration_seconds"))
            if duration is not None and not 1 <= duration <= 3600:
                raise ValueError(duration)
        except ValueError:
            report.add(row_no, "episode_duration_seconds",
                       _l("An episode lasts between 1 second and an hour."))
            continue
        if any(n == number for _r, n, _t, _d in pending.episodes):
            report.add(row_no, "episode_number", _l("Episode %(number)d appears twice.",
                                                    number=number))
            continue
        pending.episodes.append((row_no, number, get("episode_title") or None, duration))
    if report.rows == 0 and report.ok:
        report.add(2, "", _l("The sheet has a header but no rows."))
    existing = set()
    if org is not None:
        existing = {(t.original_title, t.original_language) for t in services.titles_of(org.id)}
    for pending in titles.values():
        _check_title(report, pending, existing)
    report.errors.sort(key=lambda e: (e.row, e.column))
    return report, list(titles.values())


def _title_input(key: tuple[str, str], p: _PendingTitle) -> domain.TitleInput:
    v = p.values

    def number(name: str) -> int | None:
        try:
            return _int(v.get(name, ""))
        except ValueError:
            raise ValidationError({name: _l("'%(value)s' is not a whole number.",
                                            value=v.get(name))}) from None

    locs = {lang: (t or (key[0] if lang == key[1] else ""), s)
            for lang, (t, s) in p.localizations.items()}
    return domain.TitleInput(
        original_title=key[0], original_language=key[1], country=v.get("country"),
        year=number("year"), episode_count=number("episode_count") or max(
            (n for _r, n, _t, _d in p.episodes), default=None),
        typical_episode_seconds=number("typical_episode_seconds"),
        aspect_ratio=v.get("aspect_ratio") or "9:16", genres=v.get("genres", ""),
        tags=v.get("tags", ""), localizations=locs)


def _provenance(p: _PendingTitle) -> dict:
    v = p.values
    components = [c.lower() for c in domain.split_list(v.get("ai_components", ""))]
    involvement = v.get("ai_involvement") or ("assisted" if components else "none")
    source = v.get("digital_source_type") or (
        "digitalCapture" if involvement == "none" else
        "trainedAlgorithmicMedia" if involvement in ("mostly_generated", "fully_generated")
        else "compositeWithTrainedAlgorithmicMedia")
    return {"involvement": involvement, "components": {c: True for c in components},
            "digital_source_type": source}


def _check_title(report: ImportReport, p: _PendingTitle, existing: set) -> None:
    key = p.key

    def row_of(column: str) -> int:
        return p.value_rows.get(column, p.row)

    if key in existing:
        report.add(p.row, "original_title", _l(
            "Your catalog already has a title '%(title)s' in this language.", title=key[0]))
    try:
        domain.clean_title_input(_title_input(key, p))
    except ValidationError as exc:
        for name, message in exc.errors.items():
            column = _FIELD_COLUMNS.get(name, name)
            if name.startswith("localizations."):
                column = f"title_{name.split('.', 1)[1]}"
            report.add(row_of(column), column, message)
    try:
        domain.clean_provenance(_provenance(p))
    except ValidationError as exc:
        for name, message in exc.errors.items():
            column = _FIELD_COLUMNS.get(name, "ai_involvement")
            report.add(row_of(column), column, message)
    tier = p.values.get("nrta_tier")
    if tier and tier not in domain.NRTA_TIERS:
        report.add(row_of("nrta_tier"), "nrta_tier",
                   _l("Choose the NRTA tier: key, ordinary or other."))


def import_sheet(org: Organization, stream: BinaryIO, filename: str, *,
                 by: User | None = None) -> ImportReport:
    """Check the sheet, then create its titles as drafts; a sheet with any error creates
    nothing (:class:`SheetError` carries the report)."""
    report, pending = check_sheet(stream, filename, org)
    if not report.ok:
        raise SheetError(report)
    for p in pending:
        title = services.create_title(org, _title_input(p.key, p), by=by)
        services.set_provenance(title, _provenance(p), by=by)
        v = p.values
        if any(v.get(n) for n in ("rights_holder", "copyright_registration_number",
                                  "nrta_number", "nrta_tier", "underlying_work")):
            services.set_copyright(
                title, rights_holder=v.get("rights_holder"),
                registration_number=v.get("copyright_registration_number"),
                nrta_number=v.get("nrta_number"), nrta_tier=v.get("nrta_tier"),
                underlying_work=v.get("underlying_work"), music_clearances=[], by=by)
        for _row, number, name, duration in sorted(p.episodes, key=lambda e: e[1]):
            services.add_episode(title, number=number, name=name, duration_seconds=duration)
        report.titles += 1
        report.episodes += len(p.episodes)
    return report
