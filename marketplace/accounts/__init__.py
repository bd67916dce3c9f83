"""Organizations, users, roles, verification, invitations and API tokens."""

from flask import Flask


def init_app(app: Flask) -> None:
    from marketplace.accounts import api, views
    from marketplace.accounts.cli import org_cli, user_cli
    from marketplace.api import register
    from marketplace.i18n import _l
    from marketplace.web import NavItem, add_demo_loader, add_nav

    app.register_blueprint(views.bp)
    register(api.blp)
    app.cli.add_command(user_cli)
    app.cli.add_command(org_cli)
    add_nav(app, NavItem(_l("Organizations"), "accounts.admin_orgs", admin_only=True, order=90))
    add_nav(app, NavItem(_l("Audit log"), "accounts.admin_audit", admin_only=True, order=91))
    add_nav(app, NavItem(_l("Outbox"), "accounts.admin_outbox", admin_only=True, order=92))
    add_nav(app, NavItem(_l("My organization"), "accounts.organization", order=80))

    from marketplace.accounts.demo import load_demo

    add_demo_loader(app, load_demo)
    app.jinja_env.globals["status_label"] = status_label


def status_label(value: str) -> str:
    from marketplace.i18n import _

    labels = {
        "pending": _("pending"), "verified": _("verified"), "suspended": _("suspended"),
        "producer": _("producer"), "distributor": _("distributor"),
        "festival": _("festival organizer"), "platform": _("platform"),
        "owner": _("owner"), "member": _("member"),
    }
    return labels.get(value, value)
