"""The demo cast: three Shanghai producers, four distributors, a festival organizer, an admin."""

from __future__ import annotations

from sqlalchemy import select

from marketplace.accounts import services
from marketplace.accounts.models import Organization, OrgRole, OrgStatus, User
from marketplace.db import utcnow
from marketplace.extensions import db

DEMO_PASSWORD = "pudong-demo-2026"

ORGS = [
    # slug, name, kind, country, status, user e-mail, user name, locale, timezone
    ("pdx-platform", "Pudong Drama Exchange", "platform", "CN", "verified",
     "admin@pdx.example", "Lin Wei (platform admin)", "zh_Hans", "Asia/Shanghai"),
    ("huangpu-pictures", "黄浦影业 Huangpu Pictures", "producer", "CN", "verified",
     "producer@huangpu.example", "Zhang Min", "zh_Hans", "Asia/Shanghai"),
    ("lujiazui-ai-studio", "陆家嘴AI影视 Lujiazui AI Studio", "producer", "CN", "verified",
     "producer@lujiazui.example", "Chen Jing", "zh_Hans", "Asia/Shanghai"),
    ("zhangjiang-shorts", "张江短剧 Zhangjiang Shorts", "producer", "CN", "verified",
     "producer@zhangjiang.example", "Wang Lei", "en", "Asia/Shanghai"),
    ("northstar-streaming", "NorthStar Streaming", "distributor", "US", "verified",
     "buyer@northstar.example", "Emily Carter", "en", "America/New_York"),
    ("tropico-media", "Tropico Media", "distributor", "BR", "verified",
     "buyer@tropico.example", "Lucas Oliveira", "en", "America/Sao_Paulo"),
    ("merlion-shorts", "Merlion Shorts", "distributor", "SG", "verified",
     "buyer@merlion.example", "Tan Mei Ling", "en", "Asia/Singapore"),
    ("gulf-screens", "Gulf Screens", "distributor", "AE", "pending",
     "buyer@gulfscreens.example", "Omar Haddad", "en", "Asia/Dubai"),
    ("cannes-markets", "MIP Markets Office", "festival", "FR", "verified",
     "staff@mipmarkets.example", "Claire Dubois", "en", "Europe/Paris"),
]


def load_demo(log) -> None:
    for slug, name, kind, country, status, email, uname, locale, tz in ORGS:
        org = db.session.scalar(select(Organization).where(Organization.slug == slug))
        if org is None:
            org = Organization(slug=slug, name=name, kind=kind, country=country, status=status,
                               verified_at=utcnow() if status == OrgStatus.VERIFIED else None)
            db.session.add(org)
            db.session.flush()
        if db.session.scalar(select(User.id).where(User.email == email)) is None:
            db.session.add(User(email=email, name=uname, organization=org,
                                password_hash=services.hash_password(DEMO_PASSWORD),
                                org_role=OrgRole.OWNER, is_admin=(kind == "platform"),
                                locale=locale, timezone=tz))
    db.session.flush()
    log("accounts: 9 organizations and their users")


def demo_sign_ins() -> list[tuple[str, str, str]]:
    return [(row[5], row[2], row[1]) for row in ORGS]
