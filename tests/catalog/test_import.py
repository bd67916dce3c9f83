"""Bulk import: one row per episode; any error rejects the whole sheet."""

from __future__ import annotations

import csv
import io
import re

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from catalog import importer
from catalog.models import Title
from marketplace.extensions import db

HEADER = ["original_title", "original_language", "episode_number", "episode_title",
          "episode_duration_seconds", "country", "year", "genres", "ai_involvement",
          "ai_components", "rights_holder", "nrta_number", "nrta_tier", "title_en",
          "synopsis_en", "synopsis_zh"]
GOOD = [
    ["龙王赘婿归来", "zh", "1", "归来", "95", "CN", "2025", "revenge, urban", "mostly_generated",
     "visuals, voice", "张江短剧", "NRTA-1", "ordinary", "Return of the Dragon King",
     "A humiliated son-in-law.", "隐忍三年。"],
    ["龙王赘婿归来", "zh", "2", "", "92", "", "", "", "", "", "", "", "", "", "", ""],
    ["龙王赘婿归来", "zh", "3", "", "", "", "", "", "", "", "", "", "", "", "", ""],
    ["Moonlit Bride", "en", "1", "Pilot", "120", "CN", "2024", "paranormal", "none", "", "",
     "", "", "", "An alpha's mate.", ""],
]


def _csv(rows, header=HEADER) -> io.BytesIO:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return io.BytesIO(out.getvalue().encode("utf-8-sig"))


def _xlsx(rows, header=HEADER) -> io.BytesIO:
    book = Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append([int(v) if v.isdigit() else (v or None) for v in row])
    out = io.BytesIO()
    book.save(out)
    out.seek(0)
    return out


@pytest.mark.parametrize(("make", "name"), [(_csv, "sheet.csv"), (_xlsx, "sheet.xlsx")])
def test_good_sheet_imports_drafts(app, create_org, make, name):
    org = create_org(kind="producer")
    report = importer.import_sheet(org, make(GOOD), name)
    db.session.commit()
    assert (report.titles, report.episodes, report.errors) == (2, 4, [])
    dragon = db.session.scalars(select(Title).where(Title.original_title == "龙王赘婿归来")).one()
    assert dragon.status == "draft"
    assert [e.number for e in dragon.episodes] == [1, 2, 3]
    assert dragon.episodes[0].title == "归来"
    assert dragon.genres == ["revenge", "urban"]
    assert dragon.ai_involvement == "mostly_generated"
    assert dragon.provenance["components"] == {"visuals": True, "voice": True}
    assert dragon.copyright.nrta_number == "NRTA-1"
    assert dragon.display_title("en") == "Return of the Dragon King"
    assert dragon.synopsis("zh") == "隐忍三年。"
    assert dragon.episode_count == 3


def _errors(org, rows, header=HEADER, name="s.csv"):
    with pytest.raises(importer.SheetError) as err:
        importer.import_sheet(org, _csv(rows, header), name)
    return [(e.row, e.column, str(e.message)) for e in err.value.report.errors]


def test_missing_columns(app, create_org):
    org = create_org(kind="producer")
    errors = _errors(org, [["x", "1"]], header=["original_title", "episode_title"])
    assert errors == [(1, "original_language, episode_number",
                       "Missing required column(s): original_language, episode_number.")]


def test_bad_language_code_in_a_row_and_in_a_header(app, create_org):
    org = create_org(kind="producer")
    rows = [list(GOOD[0]), list(GOOD[1])]
    rows[1][1] = "chinese"
    errors = _errors(org, rows)
    assert (3, "original_language",
            "'chinese' is not a language code (use e.g. zh, en, es, pt-BR).") in errors
    errors = _errors(org, GOOD, header=[*HEADER[:-1], "synopsis_xx"])
    assert errors == [(1, "synopsis_xx",
                       "'xx' is not a language code (use e.g. zh, en, es, pt-BR).")]


def test_row_errors_reject_the_whole_sheet(app, create_org):
    org = create_org(kind="producer")
    rows = [list(r) for r in GOOD]
    rows[1][2] = "1"  # duplicate episode
    rows[2][4] = "abc"  # bad duration
    rows[2][5] = "JP"  # conflicts with row 2's country
    rows[3][7] = "western"  # unknown genre
    rows.append(["", "zh", "1", "", "", "", "", "", "", "", "", "", "", "", "", ""])
    errors = _errors(org, rows)
    assert (3, "episode_number", "Episode 1 appears twice.") in errors
    assert (4, "episode_duration_seconds",
            "An episode lasts between 1 second and an hour.") in errors
    assert (4, "country", "Differs from row 2 for the same title ('CN').") in errors
    assert (5, "genres", "Unknown genre(s): western.") in errors
    assert (6, "original_title", "Enter the original title.") in errors
    assert db.session.scalar(select(func.count()).select_from(Title)) == 0


def test_title_already_listed(app, create_org, create_title):
    org = create_org(kind="producer")
    create_title(org, title="龙王赘婿归来", status="draft")
    errors = _errors(org, GOOD[:1])
    assert errors[0][1] == "original_title"


def test_unreadable_files(app, create_org):
    org = create_org(kind="producer")
    with pytest.raises(importer.SheetError) as err:
        importer.import_sheet(org, io.BytesIO(b"not a zip"), "s.xlsx")
    assert err.value.report.errors[0].column == "file"
    with pytest.raises(importer.SheetError) as err:
        importer.import_sheet(org, io.BytesIO(b"x"), "s.pdf")
    assert "Upload a .csv or .xlsx file." in str(err.value.report.errors[0].message)
    with pytest.raises(importer.SheetError) as err:
        importer.import_sheet(org, io.BytesIO(b""), "s.csv")
    assert err.value.report.errors[0].row == 1


def _token(client, path):
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def test_import_page(client, login, create_user):
    producer = create_user(kind="producer")
    login(producer)
    assert "original_language" in client.get("/catalog/import/template.csv").get_data(
        as_text=True)
    bad = [list(GOOD[0])]
    bad[0][1] = "klingon"
    resp = client.post("/catalog/import", data={
        "csrf_token": _token(client, "/catalog/import"), "file": (_csv(bad), "s.csv")})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "nothing was imported" in html
    assert "&#39;klingon&#39; is not a language code" in html
    resp = client.post("/catalog/import", data={
        "csrf_token": _token(client, "/catalog/import"), "file": (_xlsx(GOOD), "s.xlsx")})
    assert resp.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(Title).where(
        Title.organization_id == producer.organization_id)) == 2


def test_template_sheet_imports(app, create_org):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(importer.TEMPLATE_HEADER)
    writer.writerows(importer.TEMPLATE_ROWS)
    report = importer.import_sheet(create_org(kind="producer"),
                                   io.BytesIO(out.getvalue().encode()), "t.csv")
    assert (report.titles, report.episodes) == (1, 2)


def test_cli_import(app, create_org, tmp_path):
    org = create_org(kind="producer")
    path = tmp_path / "s.csv"
    path.write_bytes(_csv(GOOD).getvalue())
    result = app.test_cli_runner().invoke(args=["catalog", "import", str(path), "--org", org.slug])
    assert result.exit_code == 0, result.output
    assert "imported 2 titles, 4 episodes" in result.output
