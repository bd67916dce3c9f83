"""Subtitles: tracks and revisions, quality control, machine translation, season exports.

The pure core (formats, profiles, QC domain, translation providers, ZIP export, the
``subtitles`` CLI group) needs neither Flask nor a database; ``models``, ``services``,
``views``, ``api`` and ``tasks`` build the product around it.
"""

from flask import Flask


def init_app(app: Flask) -> None:
    # models: the tables must be known to the metadata before create_all / migrations.
    from localization import api, models, views  # noqa: F401
    from localization.cli import subtitles
    from localization.demo import load_demo
    from marketplace.api import register
    from marketplace.i18n import _l
    from marketplace.web import NavItem, add_demo_loader, add_nav

    app.register_blueprint(views.bp)
    register(api.blp)
    app.cli.add_command(subtitles)
    add_nav(app, NavItem(_l("Subtitles"), "localization.index", kinds=("producer",), order=25))
    add_demo_loader(app, load_demo)
    app.jinja_env.globals["language_name"] = views.language_label
