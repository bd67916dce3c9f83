from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from marketplace.accounts import services
from marketplace.accounts.models import Organization, OrgRole
from marketplace.extensions import db

user_cli = click.Group("user", help="Manage user accounts.")
org_cli = click.Group("org", help="Manage organizations.")


def _org(slug: str) -> Organization:
    org = db.session.scalar(select(Organization).where(Organization.slug == slug))
    if org is None:
        raise click.ClickException(f"no organization with slug {slug!r} (see `pdx org list`)")
    return org


@user_cli.command("create")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--org", "org_slug", required=True, help="Organization slug.")
@click.option("--admin", is_flag=True, help="Platform administrator.")
@click.option("--owner", is_flag=True, help="Owner of the organization.")
@click.password_option()
@with_appcontext
def create_user(email, name, org_slug, admin, owner, password):
    """Create a user in an existing organization."""
    try:
        user = services.create_user(_org(org_slug), email=email, name=name, password=password,
                                    role=OrgRole.OWNER if owner else OrgRole.MEMBER,
                                    is_admin=admin)
    except services.AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"created {user.email} in {org_slug}")


@org_cli.command("list")
@with_appcontext
def list_orgs():
    """Organizations with their kind and verification status."""
    for org in db.session.scalars(select(Organization).order_by(Organization.id)):
        click.echo(f"{org.slug:32} {org.kind:12} {org.status:10} {org.name}")


def _set_status(slug: str, status: str, note: str | None) -> None:
    from marketplace.accounts.models import User

    org = _org(slug)
    actor = db.session.scalar(select(User).where(User.is_admin.is_(True)).limit(1))
    services.set_org_status(org, status, actor, note)
    db.session.commit()
    click.echo(f"{slug} is {status}")


@org_cli.command("verify")
@click.argument("slug")
@with_appcontext
def verify_org(slug):
    """Mark an organization verified (buyers can then screen and offer)."""
    _set_status(slug, "verified", None)


@org_cli.command("suspend")
@click.argument("slug")
@click.option("--note", help="Why, shown to the organization.")
@with_appcontext
def suspend_org(slug, note):
    """Suspend an organization: its users can no longer sign in."""
    _set_status(slug, "suspended", note)
