"""Catalog jobs. Thin: reload by id, do nothing if the row is gone, hand over to a service."""

from __future__ import annotations

import logging

from celery import shared_task

from marketplace.extensions import db

log = logging.getLogger(__name__)


@shared_task(name="catalog.poster_from_trailer")
def poster_from_trailer(asset_id: int) -> str:
    """Give a title without artwork a key art frame taken from its newly uploaded trailer."""
    from catalog import services
    from catalog.models import MediaAsset

    asset = db.session.get(MediaAsset, asset_id)
    if asset is None or asset.kind != "trailer":
        return "gone"
    if asset.title.poster is not None:
        return "has artwork"
    try:
        services.key_art_from_trailer(asset)
    except Exception:
        db.session.rollback()  # the session hook removes a half-written file
        log.exception("no key art from trailer %s", asset_id)
        return "failed"
    db.session.commit()
    return "done"
