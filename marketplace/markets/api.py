from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import select

from marketplace.extensions import db
from marketplace.markets.models import MarketEvent
from marketplace.policy import login_required

blp = Blueprint("markets_api", __name__, url_prefix="/api/v1",
                description="Festival market events where deals are made.")


class MarketEventSchema(Schema):
    id = fields.Int()
    code = fields.Str(metadata={"example": "MIPCOM-2026"})
    series = fields.Str(metadata={"enum": ["mipcom", "miptv", "atf", "filmart", "stvf"]})
    name = fields.Str()
    city = fields.Str()
    country = fields.Str()
    starts_on = fields.Date()
    ends_on = fields.Date()


@blp.route("/markets")
class Markets(MethodView):
    @login_required
    @blp.response(200, MarketEventSchema(many=True))
    def get(self):
        """Every market edition, soonest first."""
        return db.session.scalars(select(MarketEvent).order_by(MarketEvent.starts_on)).all()
