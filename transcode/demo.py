"""Demo: a buyer's own delivery profile, and nothing encoded at ``pdx demo`` time (it must
stay fast): the demo's signed deals are delivered on demand, from the deal's delivery
page or with ``pdx deliver D-…``."""

from __future__ import annotations

from sqlalchemy import select

from marketplace.accounts.models import Organization, User
from marketplace.extensions import db

#: NorthStar's app wants 720p, -16 LUFS and the AI label on screen whatever the territory.
NORTHSTAR_PROFILE = {
    "name": "northstar_app",
    "description": "NorthStar Streaming app: 720x1280 H.264 CRF 22, AAC, -14 LUFS, AI label",
    "container": "mp4",
    "video": {"codec": "h264", "width": 720, "height": 1280, "profile": "high",
              "preset": "veryfast", "crf": 22, "maxrate_kbps": 4000, "bufsize_kbps": 8000,
              "gop_seconds": 2, "landscape": "pad"},
    "audio": {"codec": "aac", "bitrate_kbps": 160, "loudness": "streaming"},
    "ai_label": {"explicit": True, "implicit": True},
    "faststart": True,
}


def load_demo(log) -> None:
    from transcode import services
    from transcode.models import DeliveryProfile

    org = db.session.scalar(select(Organization).where(
        Organization.slug == "northstar-streaming"))
    user = db.session.scalar(select(User).where(User.organization_id == org.id).limit(1)) \
        if org else None
    if org is None or user is None:
        log("transcode: no demo buyer; skipped")
        return
    exists = db.session.scalar(select(DeliveryProfile.id).where(
        DeliveryProfile.organization_id == org.id,
        DeliveryProfile.name == NORTHSTAR_PROFILE["name"]))
    if exists is None:
        services.create_profile(NORTHSTAR_PROFILE, by=user, organization_id=org.id)
    deals = services.signable_deals(None)
    log(f"transcode: NorthStar's delivery profile; {len(deals)} signed deal(s) ready to deliver "
        + (f"(e.g. `pdx deliver {deals[-1].number}`)" if deals else ""))
