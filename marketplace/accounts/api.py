from __future__ import annotations

from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from marketplace.accounts import services
from marketplace.accounts.models import ApiToken, Organization
from marketplace.extensions import db
from marketplace.policy import login_required, owned_or_404, owner_required

blp = Blueprint("accounts_api", __name__, url_prefix="/api/v1",
                description="Who you are, your organization and its API tokens.")


class OrganizationSchema(Schema):
    id = fields.Int(dump_only=True)
    name = fields.Str()
    slug = fields.Str()
    kind = fields.Str(metadata={"enum": ["producer", "distributor", "festival", "platform"]})
    status = fields.Str(metadata={"enum": ["pending", "verified", "suspended"]})
    country = fields.Str(allow_none=True)
    verified_at = fields.DateTime(allow_none=True)


class MeSchema(Schema):
    id = fields.Int()
    email = fields.Email()
    name = fields.Str()
    org_role = fields.Str()
    is_admin = fields.Bool()
    locale = fields.Str(allow_none=True)
    timezone = fields.Str(allow_none=True)
    organization = fields.Nested(OrganizationSchema)


class TokenSchema(Schema):
    id = fields.Int(dump_only=True)
    name = fields.Str(required=True, validate=validate.Length(min=1, max=100))
    prefix = fields.Str(dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    last_used_at = fields.DateTime(dump_only=True, allow_none=True)
    revoked_at = fields.DateTime(dump_only=True, allow_none=True)


class NewTokenSchema(TokenSchema):
    token = fields.Str(dump_only=True, metadata={"description": "Shown once; store it now."})


@blp.route("/me")
class Me(MethodView):
    @login_required
    @blp.response(200, MeSchema)
    def get(self):
        """The signed-in user (or the token's user) and organization."""
        return current_user


@blp.route("/organizations/<int:org_id>")
class OrganizationResource(MethodView):
    @login_required
    @blp.response(200, OrganizationSchema)
    def get(self, org_id: int):
        """Your own organization (other organizations answer 404)."""
        return owned_or_404(Organization, org_id, "id")


@blp.route("/tokens")
class Tokens(MethodView):
    @owner_required
    @blp.response(200, TokenSchema(many=True))
    def get(self):
        """Your organization's API tokens (hashes are never shown)."""
        return db.session.scalars(select(ApiToken).where(
            ApiToken.organization_id == current_user.organization_id)).all()

    @owner_required
    @blp.arguments(TokenSchema)
    @blp.response(201, NewTokenSchema)
    def post(self, data):
        """Create a token; the response carries its value once."""
        token, raw = services.create_api_token(current_user, data["name"])
        db.session.commit()
        token.token = raw  # a plain attribute for this response only; never stored
        return token


@blp.route("/tokens/<int:token_id>")
class TokenResource(MethodView):
    @owner_required
    @blp.response(204)
    def delete(self, token_id: int):
        """Revoke a token; calls made with it answer 401 from now on."""
        services.revoke_api_token(owned_or_404(ApiToken, token_id), current_user)
        db.session.commit()
