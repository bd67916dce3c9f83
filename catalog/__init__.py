"""Titles, episodes, media assets, AI provenance, copyright and the buyers' search."""

from __future__ import annotations

from flask import Flask

_hooks_installed = False


def init_app(app: Flask) -> None:
    global _hooks_installed
    from catalog import api, cli, labels, models, services, views  # noqa: F401 - models: metadata
    from catalog.demo import load_demo
    from marketplace.api import register
    from marketplace.i18n import _l
    from marketplace.web import NavItem, add_demo_loader, add_nav

    if not _hooks_installed:
        services.install_session_hooks()
        _hooks_installed = True
    # Hooks other contexts fill: search filters (licensing's availability) and who else
    # may download chain-of-title documents (buyers with a signed deal).
    app.extensions.setdefault("pdx_catalog_filters", [])
    app.extensions.setdefault("pdx_catalog_deal_access", [])
    app.register_blueprint(views.bp)
    register(api.blp)
    app.cli.add_command(cli.catalog_cli)
    app.jinja_env.globals.update(labels.JINJA_GLOBALS)
    app.jinja_env.globals["catalog_page_url"] = views.page_url
    add_nav(app, NavItem(_l("Catalog"), "catalog.browse", order=10))
    add_nav(app, NavItem(_l("My titles"), "catalog.mine", kinds=("producer",), order=20))
    add_nav(app, NavItem(_l("Review listings"), "catalog.review_queue", admin_only=True,
                         order=85))
    add_demo_loader(app, load_demo)
    app.extensions.setdefault("pdx_dashboard", []).append(dashboard_panel)


def dashboard_panel(user):
    """The dashboard card: a producer's listings, the staff's review queue, or new titles."""
    from flask import render_template
    from markupsafe import Markup
    from sqlalchemy import select

    from catalog import services
    from catalog.models import Title
    from marketplace.extensions import db

    if user.is_admin:
        queue = services.review_queue()
        return Markup(render_template("catalog/_panel_staff.html", queue=queue))
    if user.organization.kind == "producer":
        counts = services.status_counts(user.organization_id)
        return Markup(render_template("catalog/_panel_producer.html", counts=counts))
    latest = db.session.scalars(select(Title).where(Title.status == "published")
                                .order_by(Title.published_at.desc()).limit(6)).all()
    return Markup(render_template("catalog/_panel_buyer.html",
                                  cards=services.cards_for(list(latest))))
