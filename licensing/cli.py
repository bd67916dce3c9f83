"""``pdx avails``: EMA avails files in and out, and avails checks, from the command line."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select

avails_cli = click.Group("avails", help="Rights availability: EMA Avails import/export, checks.")


def _org(slug: str):
    from marketplace.accounts.models import Organization
    from marketplace.extensions import db

    org = db.session.scalar(select(Organization).where(Organization.slug == slug))
    if org is None:
        raise click.ClickException(f"no organization with slug {slug!r} (see `pdx org list`)")
    return org


def _actor(org):
    """Who the audit log names for a command-line change: the organization's owner."""
    from marketplace.accounts.models import User
    from marketplace.extensions import db

    user = db.session.scalar(select(User).where(User.organization_id == org.id)
                             .order_by(User.org_role != "owner", User.id).limit(1))
    if user is None:
        user = db.session.scalar(select(User).where(User.is_admin.is_(True)).limit(1))
    if user is None:
        raise click.ClickException(f"{org.slug} has no user to act for it")
    return user


@avails_cli.command("export")
@click.option("--org", "slug", required=True, help="Organization slug.")
@click.option("--format", "fmt", type=click.Choice(["xlsx", "xml"]), default="xlsx",
              show_default=True)
@click.argument("out", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@with_appcontext
def export_cmd(slug, fmt, out):
    """A producer's avails (its rights in) or a buyer's licensed rights, as EMA Avails."""
    from licensing import services

    result = services.export_ema(_org(slug), fmt)
    out.write_bytes(result.data)
    click.echo(f"wrote {out} ({result.format}, {result.rows} row(s))")
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)


@avails_cli.command("import")
@click.option("--org", "slug", required=True, help="Producer organization slug.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def import_cmd(slug, file):
    """Import an EMA avails spreadsheet or XML as rights in, with a row-by-row report.
    Any rejected row rejects the file: nothing is imported and the exit status is 1."""
    from licensing import ema, services
    from licensing.terms import LicensingError
    from marketplace.extensions import db

    org = _org(slug)
    try:
        result = services.import_ema(org, file.read_bytes(), by=_actor(org))
    except ema.EmaImportError as exc:
        db.session.rollback()
        _report(exc.report.rows)
        click.echo(f"rejected: {exc}", err=True)
        sys.exit(1)
    except (ema.EmaFormatError, LicensingError) as exc:
        db.session.rollback()
        click.echo(f"rejected: {exc}", err=True)
        sys.exit(1)
    db.session.commit()
    _report(result.report.rows)
    click.echo(f"imported {len(result.created)} grant(s) of rights in for {org.slug}: "
               + ", ".join(r.label for r in result.created))


def _report(rows) -> None:
    for row in rows:
        mark = "ok " if row.accepted else "REJ"
        line = f"{mark} {row.where}"
        if row.reasons:
            line += ": " + "; ".join(row.reasons)
        if row.warnings:
            line += " (" + "; ".join(row.warnings) + ")"
        click.echo(line)


@avails_cli.command("check")
@click.option("--title", "title_id", type=int, required=True)
@click.option("--territory", multiple=True, required=True,
              help="Country or M.49 region (repeat): BR, 419.")
@click.option("--exclude", multiple=True, help="Territory left out (repeat).")
@click.option("--media", multiple=True, default=("ALL",), show_default=True,
              help="Medium (repeat): SVOD, AVOD, NON_LINEAR, …")
@click.option("--from", "start", required=True, help="First day, YYYY-MM-DD.")
@click.option("--to", "end", default="", help="Exclusive end, YYYY-MM-DD (default: a year).")
@click.option("--exclusive", is_flag=True)
@click.option("--language", multiple=True, help="Language right (repeat): pt:subtitle.")
@click.option("--as-of", "as_of", default=None, help="Judge offers' expiry on this day.")
@with_appcontext
def check_cmd(title_id, territory, exclude, media, start, end, exclusive, language, as_of):
    """Where and when rights are free on a title. Exit status 0 when all of it is free,
    1 when not."""
    from catalog.models import Title
    from licensing import present, services
    from licensing.terms import LicensingError
    from marketplace.extensions import db

    title = db.session.get(Title, title_id)
    if title is None:
        raise click.ClickException(f"no title {title_id}")
    params = {"territory": list(territory), "exclude": list(exclude), "media": list(media),
              "from": start, "to": end, "exclusive": exclusive,
              "rights_language": list(language)}
    try:
        request, _contested = services.request_from_params(params)
        day = date.fromisoformat(as_of) if as_of else None
    except LicensingError as exc:
        raise click.BadParameter(str(exc), param_hint=f"--{exc.field.replace('_', '-')}") \
            from exc
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--as-of") from exc
    avails = services.title_avails(title)
    answer = avails.check(request, as_of=day)
    visible = lambda _gid: True  # noqa: E731 - operators see every grant
    click.echo(f"{title.original_title} (#{title.id}): "
               f"{'AVAILABLE' if answer.available else answer.status.value.upper()}")
    click.echo(present.summary_text(answer, locale="en", visible=visible))
    verdict = services.verdict(answer)
    if not answer.available and verdict.free_territories:
        click.echo("free instead: " + present.territories_text(verdict.free_territories, "en"))
    sys.exit(0 if answer.available else 1)


@avails_cli.command("expire-offers")
@with_appcontext
def expire_cmd():
    """Mark offers past their expiry as expired (the engine already ignores them). Workers
    do it every PDX_LICENSING_EXPIRE_INTERVAL seconds; this is the same sweep, now."""
    from licensing import tasks

    expired = tasks.expire_offers()
    click.echo(f"{len(expired)} offer(s) expired" + (": " + ", ".join(expired) if expired else ""))
