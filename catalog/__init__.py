"""Titles, episodes, media assets, AI provenance, copyright and the buyers' search."""

from flask import Flask

_hooks_installed = False


def init_app(app: Flask) -> None:
    global _hooks_installed
    from catalog import (
        models,  # noqa: F401 - the tables must be known to the metadata
        services,
    )

    if not _hooks_installed:
        services.install_session_hooks()
        _hooks_installed = True
    app.extensions.setdefault("pdx_catalog_filters", [])
    app.extensions.setdefault("pdx_catalog_deal_access", [])
    try:
        from catalog import web
    except ImportError:  # pragma: no cover - during the first step only
        return
    web.init_app(app)
