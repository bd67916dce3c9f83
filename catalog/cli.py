"""``pdx catalog …``: import a sheet for a producer, rebuild the search index."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select, text

from marketplace.extensions import db

catalog_cli = click.Group("catalog", help="The catalog: bulk import, search index.")


@catalog_cli.command("import")
@click.argument("sheet", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--org", "org_slug", required=True, help="Producer organization slug.")
@with_appcontext
def import_cmd(sheet: Path, org_slug: str):
    """Import a CSV/XLSX sheet (one row per episode) as draft titles."""
    from catalog import importer
    from marketplace.accounts.models import Organization

    org = db.session.scalar(select(Organization).where(Organization.slug == org_slug))
    if org is None or org.kind != "producer":
        raise click.ClickException(f"no producer organization {org_slug!r}")
    with sheet.open("rb") as fh:
        try:
            report = importer.import_sheet(org, fh, sheet.name)
        except importer.SheetError as exc:
            db.session.rollback()
            for e in exc.report.errors:
                click.echo(f"row {e.row} {e.column}: {e.message}", err=True)
            raise click.ClickException("the sheet was rejected; nothing was imported") from None
    db.session.commit()
    click.echo(f"imported {report.titles} titles, {report.episodes} episodes (drafts)")


@catalog_cli.command("reindex")
@with_appcontext
def reindex():
    """Recompute every title's search text and rebuild the SQLite FTS index."""
    from catalog import services
    from catalog.models import Title

    n = 0
    for title in db.session.scalars(select(Title)):
        services.refresh_search_text(title)
        n += 1
    db.session.flush()
    if db.engine.dialect.name == "sqlite":
        db.session.execute(text("INSERT INTO title_fts(title_fts) VALUES ('rebuild')"))
    db.session.commit()
    click.echo(f"reindexed {n} titles")
