"""Delivery: profiles, the ffmpeg graph builder and runner, transcode jobs on Celery
workers, watermarked screeners and delivery packages.

The pure core (``profiles``, ``probe``, ``domain``, ``runner``, ``cli``) needs neither
Flask nor a database; ``models``, ``services``, ``tasks``, ``views``, ``api`` and
``commands`` build the product around it.
"""

from __future__ import annotations

import os

from flask import Flask


def init_app(app: Flask) -> None:
    # models: the tables must be known to the metadata before create_all / migrations.
    from licensing.signals import deal_signed
    from marketplace.api import register
    from marketplace.i18n import _l
    from marketplace.jobs import add_periodic
    from marketplace.web import NavItem, add_dashboard_panel, add_demo_loader, add_nav
    from transcode import api, commands, models, services, tasks, views  # noqa: F401
    from transcode.cli import transcode as transcode_group
    from transcode.demo import load_demo
    from transcode.services import SETTINGS

    _settings(app)
    deal_signed.connect(_deliver_on_signature, sender=app)
    add_periodic(app, "transcode.reap", tasks.reap_stale_jobs,
                 setting="TRANSCODE_REAP_INTERVAL",
                 default=SETTINGS["TRANSCODE_REAP_INTERVAL"])
    app.register_blueprint(views.bp)
    register(api.blp)
    for command in (commands.reap, commands.jobs):
        transcode_group.add_command(command)
    app.cli.add_command(transcode_group)
    app.cli.add_command(commands.deliver)
    add_nav(app, NavItem(_l("Deliveries"), "transcode.packages",
                         kinds=("producer", "distributor"), order=32))
    add_nav(app, NavItem(_l("Screeners"), "transcode.screeners",
                         kinds=("producer", "distributor"), order=33))
    add_nav(app, NavItem(_l("Transcode jobs"), "transcode.jobs", kinds=("producer",), order=34))
    add_dashboard_panel(app, views.dashboard_panel)
    try:
        from marketplace.web import add_title_section
    except ImportError:  # a shell without title-page sections
        pass
    else:
        add_title_section(app, views.title_section)
    add_demo_loader(app, load_demo)
    _register_notifications(app)


def _settings(app: Flask) -> None:
    """``PDX_TRANSCODE_*`` from the environment when the configuration has none."""
    from transcode.services import SETTINGS

    for name, default in SETTINGS.items():
        key = f"PDX_{name}"
        if key in app.config:
            continue
        raw = os.environ.get(key)
        if raw is None:
            app.config[key] = default
        else:
            app.config[key] = int(raw) if isinstance(default, int) else raw


def _register_notifications(app: Flask) -> None:
    from marketplace.i18n import _
    from marketplace.notifications import register_kind

    texts = {
        "transcode.package_ready": lambda p: _(
            "The delivery of %(title)s (deal %(deal)s) is ready to download", **p),
        "transcode.package_failed": lambda p: _(
            "The delivery of %(title)s (deal %(deal)s) could not be completed", **p),
        "transcode.package_resent": lambda p: _(
            "The delivery of %(title)s (deal %(deal)s) was sent again with fresh links", **p),
        "transcode.screener_ready": lambda p: _("Your screener of %(title)s is ready", **p),
    }
    for kind, render in texts.items():
        register_kind(app, kind, render)


def _deliver_on_signature(app: Flask, *, deal_id: int, **_kwargs) -> None:
    """``licensing.signals.deal_signed``: with ``PDX_TRANSCODE_DELIVER_ON_SIGNATURE=1``,
    a package in the default profile is prepared for the deal just signed."""
    if int(app.config.get("PDX_TRANSCODE_DELIVER_ON_SIGNATURE") or 0):
        from marketplace.jobs import enqueue
        from transcode import tasks

        enqueue(tasks.prepare_delivery, deal_id)
