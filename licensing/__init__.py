"""Rights grants, the avails engine, inquiries, offers, deals and EMA avails.

The pure core (``reference``, ``domain``, ``oracle``, ``ema``) needs neither Flask nor a
database; ``models``, ``services``, ``views``, ``api``, ``cli`` and ``tasks`` build the
product around it. Other contexts subscribe to ``signals`` (``deal_signed``).
"""

from __future__ import annotations

from flask import Flask

_hooks_installed = False


def init_app(app: Flask) -> None:
    global _hooks_installed
    # models: the tables must be known to the metadata before create_all / migrations.
    from catalog.search import register_filter_provider
    from licensing import api, cli, index, models, notices, tasks, views  # noqa: F401
    from licensing.demo import load_demo
    from licensing.services import deal_access
    from marketplace.api import register
    from marketplace.i18n import _l
    from marketplace.jobs import add_periodic
    from marketplace.web import (
        NavItem,
        add_catalog_filter_fields,
        add_dashboard_panel,
        add_demo_loader,
        add_nav,
        add_title_section,
    )

    if not _hooks_installed:
        index.install_session_hooks()
        _hooks_installed = True
    app.register_blueprint(views.bp)
    register(api.blp)
    app.cli.add_command(cli.avails_cli)
    add_nav(app, NavItem(_l("Avails"), "licensing.search", order=12))
    add_nav(app, NavItem(_l("Rights in"), "licensing.rights", kinds=("producer",), order=22))
    add_nav(app, NavItem(_l("Deals"), "licensing.deals", kinds=("producer", "distributor"),
                         order=30))
    add_dashboard_panel(app, views.dashboard_panel)
    add_title_section(app, views.title_section)
    add_catalog_filter_fields(app, views.catalog_filter_fields)
    add_demo_loader(app, load_demo)
    register_filter_provider(app, views.catalog_availability_filter)
    app.extensions.setdefault("pdx_catalog_deal_access", []).append(deal_access)
    notices.register(app)
    add_periodic(app, "licensing.expire_offers", tasks.expire_offers,
                 setting="LICENSING_EXPIRE_INTERVAL", default=tasks.DEFAULT_EXPIRE_INTERVAL)
