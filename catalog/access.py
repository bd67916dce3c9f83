"""Who may see and change which titles and files, in one place (built on marketplace.policy).

* Published titles: every signed-in user (buyers browse before verification).
* Drafts, submitted and withdrawn titles: the owning producer and platform admins;
  anyone else gets 404, never 403.
* Changes: the owning producer (admins too, for support).
* Files: trailers, posters and key art follow the title; masters, subtitles and dubs
  only the owner and admins; documents and chain of title also buyers the licensing
  context vouches for (a signed deal), through ``app.extensions["pdx_catalog_deal_access"]``:
  callables ``(user, title) -> bool``.
"""

from __future__ import annotations

from flask import abort, current_app
from flask_login import current_user

from catalog import domain
from catalog.models import Episode, MediaAsset, Title
from marketplace.extensions import db
from marketplace.policy import owned_or_404


def is_owner_or_admin(title: Title, user=None) -> bool:
    user = user if user is not None else current_user
    if not user or not user.is_authenticated:
        return False
    return bool(user.is_admin or user.organization_id == title.organization_id)


def visible_title_or_404(title_id: int) -> Title:
    """A title the current user may look at: published, or their own, or any for admins."""
    title = db.session.get(Title, title_id)
    if title is None:
        abort(404)
    if title.status == "published" or is_owner_or_admin(title):
        return title
    abort(404)


def own_title_or_404(title_id: int) -> Title:
    """A title the current user may change (owner's organization or admin)."""
    return owned_or_404(Title, title_id)


def own_episode_or_404(title: Title, episode_id: int) -> Episode:
    episode = db.session.get(Episode, episode_id)
    if episode is None or episode.title_id != title.id:
        abort(404)
    return episode


def has_deal_access(user, title: Title) -> bool:
    return any(check(user, title)
               for check in current_app.extensions.get("pdx_catalog_deal_access", []))


def can_fetch(asset: MediaAsset, user=None) -> bool:
    user = user if user is not None else current_user
    title = asset.title
    if is_owner_or_admin(title, user):
        return True
    if title.status != "published" or not user or not user.is_authenticated:
        return False
    if asset.kind in domain.PUBLIC_KINDS:
        return True
    if asset.kind in domain.DEAL_KINDS:
        return has_deal_access(user, title)
    return False


def fetchable_asset_or_404(asset_id: int) -> MediaAsset:
    asset = db.session.get(MediaAsset, asset_id)
    if asset is None or not can_fetch(asset):
        abort(404)
    return asset
