"""The `pdx` operator commands."""

from __future__ import annotations

from sqlalchemy import func, select

from marketplace.accounts.models import Organization, User
from marketplace.extensions import db


def test_demo_is_idempotent_and_prints_sign_ins(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    assert "buyer@northstar.example" in first.output
    counts = (db.session.scalar(select(func.count()).select_from(Organization)),
              db.session.scalar(select(func.count()).select_from(User)))
    second = runner.invoke(args=["demo"])
    assert second.exit_code == 0, second.output
    assert counts == (db.session.scalar(select(func.count()).select_from(Organization)),
                      db.session.scalar(select(func.count()).select_from(User)))
    kinds = set(db.session.scalars(select(Organization.kind)))
    assert kinds >= {"producer", "distributor", "festival", "platform"}


def test_user_create_and_org_verify(app, create_org, create_user):
    create_user(kind="platform", is_admin=True)
    org = create_org(kind="distributor", status="pending")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["user", "create", "--email", "New@Example.com", "--name", "New",
                                 "--org", org.slug, "--owner"],
                           input="strong-pass-42\nstrong-pass-42\n")
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.email == "new@example.com"))
    assert user.org_role == "owner"
    result = runner.invoke(args=["org", "verify", org.slug])
    assert result.exit_code == 0, result.output
    assert org.status == "verified"


def test_cli_errors_are_clear(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["org", "verify", "no-such-org"])
    assert result.exit_code != 0
    assert "no organization with slug 'no-such-org'" in result.output
    result = runner.invoke(args=["user", "create", "--email", "x@example.com", "--name", "X",
                                 "--org", "no-such-org"], input="pw\npw\n")
    assert result.exit_code != 0
