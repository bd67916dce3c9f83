"""EMA Avails codec: the MovieLabs samples, malformed files, export and round trips."""

from __future__ import annotations

import io
import json
from datetime import date

import openpyxl
import pytest

from licensing.domain import (
    EpisodeRange,
    Grant,
    GrantKind,
    GrantStatus,
    Holdback,
    LanguageRight,
    LanguageUse,
)
from licensing.ema import (
    TV_V19_COLUMNS,
    XML_FIELDS,
    EmaFormatError,
    EmaImportError,
    EmaTitle,
    read_avails,
    read_avails_xlsx,
    read_avails_xml,
    resolver_for,
    write_avails_xlsx,
    write_avails_xml,
)
from licensing.reference import media_leaves


def sample_bytes(ema_samples, name: str) -> bytes:
    return (ema_samples / name).read_bytes()


def edited_workbook(data: bytes, edit) -> bytes:
    """Apply `edit(sheet, column_index_by_field)` to the first sheet, return new bytes."""
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    sheet = workbook.worksheets[0]
    columns = {cell.value: cell.column for cell in sheet[2] if cell.value}
    edit(sheet, columns)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


# --------------------------------------------------------------------------- the samples


def test_every_sample_imports_or_reports_each_rejected_row(ema_samples):
    files = sorted(p for p in ema_samples.iterdir() if p.suffix in {".xlsx", ".xml"})
    assert len(files) == 3
    for path in files:
        report = read_avails(path, strict=False)
        assert report.rows, path.name
        for row in report.rows:
            assert row.accepted or row.reasons, (path.name, row)
            assert (row.grant_id is not None) == row.accepted, (path.name, row)
        assert {g.id for g in report.grants} == {r.grant_id for r in report.accepted}


def test_movies_v19_sample(ema_samples):
    report = read_avails_xlsx(sample_bytes(ema_samples, "Movies_v1.9.xlsx"))

    assert report.ok
    assert report.version == "1.9"
    assert len(report.rows) == 26  # rows 4–29 of the sheet
    assert len(report.grants) == 12  # HD/SD rows of the same rights merge
    by_id = {g.id: g for g in report.grants}
    exclusive_hd = by_id["34530345-ABD-AA-1"]
    assert exclusive_hd.exclusive
    assert exclusive_hd.media == ("EST",)
    assert exclusive_hd.territories == ("US",)
    assert exclusive_hd.title_id == "md:cid:eidr-s:1489-49A2-3956-4B2D-ZZ45-6"
    assert exclusive_hd.kind is GrantKind.RIGHTS_IN
    assert exclusive_hd.status is GrantStatus.ACTIVE
    preorder = by_id["543543-XYZ-WE-1"]  # POEST ending at 'ESTStart'
    assert (preorder.media, preorder.start, preorder.end) == (
        ("EST",),
        date(2013, 4, 14),
        date(2013, 5, 14),
    )
    assert by_id["543543-XYZ-WE-11"].languages == (LanguageRight("fr", LanguageUse.DUB),)
    row6 = next(r for r in report.rows if r.row == 6)
    assert any("ESTStart" in w for w in row6.warnings)
    assert any("POEST" in w for w in row6.warnings)


def test_tv_v18_sample(ema_samples):
    report = read_avails_xlsx(sample_bytes(ema_samples, "TV_v1.8.xlsx"))

    assert report.ok
    assert len(report.rows) == 38
    season = [g for g in report.grants if g.episodes is None]
    assert {(g.territories, g.exclusive) for g in season} == {
        (("US",), True),
        (("US",), False),
        (("FR",), False),
    }
    episodes = sorted(
        g.episodes.first for g in report.grants if g.episodes and g.territories == ("FR",)
    )
    assert episodes == [1, 2, 3, 4, 5, 6, 7, 8]
    assert {g.title_id for g in report.grants} == {"md:cid:eidr-s:1489-49A2-3956-4B2D-FE16-5"}


def test_xml_sample_rejects_the_collection_and_keeps_the_rest(ema_samples):
    report = read_avails_xml(sample_bytes(ema_samples, "Avails_noErrors_v2.4.xml"), strict=False)

    assert report.version == "2.4"
    assert len(report.rows) == 24  # one per Transaction
    assert [r.line for r in report.rejected] == [300, 321]
    for row in report.rejected:
        assert row.reasons == (
            "element WorkType: 'Collection' is not supported (supported: Episode, Movie, Season, Series, Short)",
        )
    episode_one = next(
        g
        for g in report.grants
        if g.title_id == "md:cid:disney.com:jake-s01" and g.episodes == EpisodeRange(1, 1)
    )
    assert episode_one.media == ("SVOD",)
    assert episode_one.languages == (LanguageRight("en"),)
    fox = next(
        g for g in report.grants if g.id == "573991-427591-6477-16623-338899-409927-US-EHVL-EN-HD"
    )
    assert fox.label == "16623"  # the ContractID
    assert fox.end == date(2017, 12, 12)  # End 2017-12-11T23:59:59 is the last day


def test_strict_import_returns_nothing_from_a_file_with_rejected_rows(ema_samples):
    with pytest.raises(
        EmaImportError, match=r"2 row\(s\) rejected, nothing imported: line 300"
    ) as excinfo:
        read_avails(sample_bytes(ema_samples, "Avails_noErrors_v2.4.xml"))
    assert excinfo.value.report.grants == ()
    assert not excinfo.value.report.accepted
    assert len(excinfo.value.report.rows) == 24


def test_xml_fields_are_the_official_movielabs_mappings(ema_samples):
    official = json.loads((ema_samples / "Mappings.json").read_text("utf-8"))["V1_9"]["AllAvails"]
    for key, xpath in XML_FIELDS.items():
        assert official[key] == xpath, key


# --------------------------------------------------------------------------- malformed files


def test_not_an_avails_file(tmp_path):
    with pytest.raises(EmaFormatError, match="neither an .xlsx workbook nor XML"):
        read_avails(b"Title,Territory\nFoo,US\n")
    with pytest.raises(EmaFormatError, match="not an Excel .xlsx workbook"):
        read_avails_xlsx(b"<xml/>")
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(EmaFormatError, match="not an Excel .xlsx workbook"):
        read_avails(broken)


def test_wrong_sheet():
    workbook = openpyxl.Workbook()
    workbook.active.title = "Budget"
    workbook.active.append(["Title", "Territory", "Price"])
    workbook.active.append(["Foo", "US", 3])
    out = io.BytesIO()
    workbook.save(out)
    with pytest.raises(EmaFormatError, match="no sheet with EMA avails headers.*'Budget'"):
        read_avails_xlsx(out.getvalue())
    with pytest.raises(EmaFormatError, match="no sheet named 'TV'"):
        read_avails_xlsx(out.getvalue(), sheets=["TV"])


def test_missing_required_column(ema_samples):
    def drop_start(sheet, columns):
        sheet.cell(row=2, column=columns["Start"]).value = None

    data = edited_workbook(sample_bytes(ema_samples, "TV_v1.8.xlsx"), drop_start)
    with pytest.raises(
        EmaFormatError, match=r"sheet 'Template-TV', row 2: required column 'Start' is missing"
    ) as excinfo:
        read_avails_xlsx(data)
    assert (excinfo.value.sheet, excinfo.value.row) == ("Template-TV", 2)


def test_bad_date_names_row_and_column(ema_samples):
    def bad_start(sheet, columns):
        sheet.cell(row=5, column=columns["Start"]).value = "tomorrow"

    data = edited_workbook(sample_bytes(ema_samples, "TV_v1.8.xlsx"), bad_start)
    header = [cell.value for cell in openpyxl.load_workbook(io.BytesIO(data)).worksheets[0][2]]
    letter = openpyxl.utils.get_column_letter(header.index("Start") + 1)
    with pytest.raises(
        EmaImportError,
        match=rf"sheet 'Template-TV', row 5: column Start \({letter}\): 'tomorrow' is not a date",
    ) as excinfo:
        read_avails_xlsx(data)
    assert not excinfo.value.report.accepted

    lenient = read_avails_xlsx(data, strict=False)
    assert [r.row for r in lenient.rejected] == [5]
    assert len(lenient.accepted) == 37
    assert lenient.grants


def test_unknown_territory_and_language_are_rejected_by_name(ema_samples):
    def bad_codes(sheet, columns):
        sheet.cell(row=4, column=columns["Territory"]).value = "USA"
        sheet.cell(row=6, column=columns["AllowedLanguages"]).value = "en, klingon"
        sheet.cell(row=8, column=columns["LicenseType"]).value = "Cinema"

    report = read_avails_xlsx(
        edited_workbook(sample_bytes(ema_samples, "TV_v1.8.xlsx"), bad_codes), strict=False
    )
    reasons = {r.row: r.reasons for r in report.rejected}
    assert set(reasons) == {4, 6, 8}
    assert "unknown territory 'USA'" in reasons[4][0]
    assert "column Territory" in reasons[4][0]
    assert "'klingon'" in reasons[6][0]
    assert "column AllowedLanguages" in reasons[6][0]
    assert "'Cinema' is not a licence type" in reasons[8][0]


def test_malformed_xml_names_the_line():
    with pytest.raises(EmaFormatError, match=r"row 3, column \d+: XML is not well formed"):
        read_avails_xml(b"<a>\n<b>\n</a>")
    with pytest.raises(EmaFormatError, match="is not an EMA AvailList"):
        read_avails_xml(b"<catalog/>")


# --------------------------------------------------------------------------- export


@pytest.fixture
def export_titles():
    return [
        EmaTitle(
            title_id="T1",
            content_id="md:cid:org:pdx:T1",
            title="Revenge of the Heiress",
            episode_count=80,
        ),
        EmaTitle(
            title_id="T2", content_id="md:cid:org:pdx:T2", title="霸总的契约新娘", episode_count=60
        ),
    ]


@pytest.fixture
def export_grants():
    return [
        Grant(
            id="R1",
            label="R-2025-0001",
            kind=GrantKind.RIGHTS_IN,
            title_id="T1",
            media=("ALL",),
            territories=("001",),
            territories_excluded=("CN",),
            start=date(2025, 1, 1),
            end=date(2032, 1, 1),
            exclusive=True,
            status=GrantStatus.ACTIVE,
        ),
        Grant(
            id="R2",
            label="R-2025-0002",
            kind=GrantKind.RIGHTS_IN,
            title_id="T2",
            media=("NON_LINEAR",),
            territories=("035", "030"),
            languages=("en", "th:subtitle", "es-419:dub"),
            episodes=EpisodeRange(1, 40),
            start=date(2025, 6, 1),
            exclusive=False,
            status=GrantStatus.ACTIVE,
        ),
        Grant(
            id="R3",
            label="R-2025-0003",
            kind=GrantKind.RIGHTS_IN,
            title_id="T2",
            media=("SVOD", "TVOD", "EST"),
            territories=("US",),
            start=date(2025, 6, 1),
            end=date(2026, 6, 1),
            exclusive=True,
            status=GrantStatus.ACTIVE,
        ),
    ]


def canonical(grant: Grant):
    return (
        grant.id,
        grant.label,
        grant.title_id,
        grant.kind,
        grant.status,
        media_leaves(grant.media),
        grant.countries,
        frozenset(grant.languages) if grant.languages else None,
        grant.episodes,
        grant.start,
        grant.end,
        grant.exclusive,
    )


@pytest.mark.parametrize("writer", [write_avails_xlsx, write_avails_xml])
def test_export_then_import_gives_the_same_grants(writer, export_grants, export_titles):
    exported = writer(export_grants, export_titles)
    back = read_avails(exported.data, title_resolver=resolver_for(export_titles))

    assert back.ok
    assert sorted(map(canonical, back.grants)) == sorted(map(canonical, export_grants))
    assert back.format == exported.format


def test_xlsx_export_has_the_two_v19_header_rows(export_grants, export_titles):
    workbook = openpyxl.load_workbook(
        io.BytesIO(write_avails_xlsx(export_grants, export_titles).data)
    )
    sheet = workbook["TV"]
    assert [c.value for c in sheet[1]] == [c for c, _ in TV_V19_COLUMNS]
    assert [c.value for c in sheet[2]] == [f for _, f in TV_V19_COLUMNS]
    assert sheet["A3"].value == 1.9
    fields = [f for _, f in TV_V19_COLUMNS]
    work_types = {
        row[fields.index("WorkType")] for row in sheet.iter_rows(min_row=4, values_only=True)
    }
    assert work_types == {"Season", "Episode"}


def test_series_work_type_and_ema_only_licence_types(export_titles):
    series = EmaTitle(
        title_id="T3", content_id="md:cid:org:pdx:T3", title="Series", work_type="Series"
    )
    grant = Grant(
        id="D1",
        label="D-1",
        kind=GrantKind.RIGHTS_OUT,
        title_id="T3",
        media=("SVOD",),
        territories=("FR",),
        start=date(2026, 1, 1),
        status=GrantStatus.SIGNED,
    )
    exported = write_avails_xlsx([grant], [series])
    assert exported.warnings == ()
    sheet = openpyxl.load_workbook(io.BytesIO(exported.data))["TV"]
    fields = [f for _, f in TV_V19_COLUMNS]
    row = next(sheet.iter_rows(min_row=4, values_only=True))
    assert (
        row[fields.index("WorkType")],
        row[fields.index("LicenseType")],
        row[fields.index("End")],
    ) == ("Series", "SVOD", "Open")


def test_bilateral_licence_types_and_holdbacks_are_reported(export_titles):
    grant = Grant(
        id="D2",
        label="D-2026-0002",
        kind=GrantKind.RIGHTS_OUT,
        title_id="T1",
        media=("AVOD", "SHORT_DRAMA_APP"),
        territories=("TH",),
        start=date(2026, 1, 1),
        status=GrantStatus.OFFER,
        expires_on=date(2026, 2, 1),
        holdbacks=(Holdback(media=("FAST",), territories=("TH",)),),
    )
    exported = write_avails_xml([grant], export_titles)
    text = " | ".join(exported.warnings)
    assert "LicenseType AVOD, ShortDramaApp not in the EMA vocabulary" in text
    assert "holdbacks have no place in EMA avails" in text
    assert "status offer has no EMA equivalent" in text
    assert b"<avails:LicenseType>AVOD</avails:LicenseType>" in exported.data
    back = read_avails(exported.data, title_resolver=resolver_for(export_titles))
    assert media_leaves(back.grants[0].media) == media_leaves(grant.media)
    assert any("bilateral value" in w for row in back.rows for w in row.warnings)


def test_export_needs_title_metadata(export_grants):
    with pytest.raises(ValueError, match="no title metadata for title 'T1'"):
        write_avails_xlsx(export_grants, [])


def test_open_episode_range_needs_an_episode_count():
    title = EmaTitle(title_id="T9", content_id="md:cid:org:pdx:T9", title="Untold")
    grant = Grant(
        id="D9",
        label="D-9",
        kind=GrantKind.RIGHTS_IN,
        title_id="T9",
        media=("SVOD",),
        territories=("US",),
        episodes=EpisodeRange(41, None),
        start=date(2026, 1, 1),
        status=GrantStatus.ACTIVE,
    )
    exported = write_avails_xlsx([grant], [title])
    assert exported.rows == 0
    assert exported.warnings == (
        "grant D-9: episodes 41– need the title's episode count; not exported",
    )
