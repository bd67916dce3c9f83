"""Festival market events (MIPCOM, MIPTV, Asia TV Forum, FILMART, Shanghai TV Festival).

A minimal table for now: deals are tagged with the market where they were made.
"""

from flask import Flask


def init_app(app: Flask) -> None:
    from marketplace.api import register
    from marketplace.i18n import _l
    from marketplace.markets import api, views
    from marketplace.markets.demo import load_demo
    from marketplace.web import NavItem, add_demo_loader, add_nav

    app.register_blueprint(views.bp)
    register(api.blp)
    add_nav(app, NavItem(_l("Markets"), "markets.index", order=40))
    add_demo_loader(app, load_demo)
