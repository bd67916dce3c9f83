"""The catalog over JSON: search with facets, title detail, episodes, MEC export."""

from __future__ import annotations

import json
from dataclasses import replace

from flask import current_app, jsonify, redirect, request, url_for
from flask.views import MethodView
from flask_babel import get_locale
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate

from catalog import access, domain, listing, services
from catalog.search import SORTS, provided_filters, query_from_params
from marketplace.policy import login_required
from marketplace.storage import get_storage

blp = Blueprint("catalog_api", __name__, url_prefix="/api/v1",
                description="The catalog: published titles, their episodes, AI provenance, "
                            "copyright and compliance, and a MovieLabs MEC-shaped export.")


def _language(value: str) -> None:
    if domain.normalize_language(value) is None:
        raise ValidationError(f"'{value}' is not a language code (use e.g. zh, en, pt-BR).")


class TitleQuerySchema(Schema):
    q = fields.Str(validate=validate.Length(max=200), metadata={
        "description": "Words that must all occur in a title or synopsis, any language; "
                       "Chinese substrings match (霸总)."})
    genre = fields.List(fields.Str(validate=validate.OneOf(domain.GENRES)),
                        metadata={"description": "Any of these genres (repeat the parameter)."})
    language = fields.List(fields.Str(validate=_language), metadata={
        "description": "Available in any of these languages: original, localized, subtitled "
                       "or dubbed (BCP 47 codes)."})
    ai = fields.List(fields.Str(validate=validate.OneOf(domain.INVOLVEMENT)),
                     metadata={"description": "AI involvement."})
    year = fields.List(fields.Int(validate=validate.Range(min=1950, max=2100)))
    episodes_min = fields.Int(validate=validate.Range(min=1))
    episodes_max = fields.Int(validate=validate.Range(min=1))
    sort = fields.Str(validate=validate.OneOf(SORTS),
                      metadata={"description": "relevance (default with q) or newest."})
    page = fields.Int(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Int(load_default=24, validate=validate.Range(min=1, max=100))


class BadgeSchema(Schema):
    level = fields.Str(metadata={"enum": ["human", "assisted", "generated", "full"]})
    label = fields.Str()
    summary = fields.Str()
    c2pa = fields.Str(metadata={"enum": ["absent", "valid", "invalid", "mixed"]})
    labelled = fields.Bool()


class TitleSummarySchema(Schema):
    id = fields.Int()
    content_id = fields.Str()
    original_title = fields.Str()
    title = fields.Str(metadata={"description": "In the Accept-Language language if localized."})
    titles = fields.Dict(keys=fields.Str(), values=fields.Str())
    original_language = fields.Str()
    languages = fields.List(fields.Str())
    country = fields.Str(allow_none=True)
    year = fields.Int(allow_none=True)
    episode_count = fields.Int(allow_none=True)
    typical_episode_seconds = fields.Int(allow_none=True)
    aspect_ratio = fields.Str()
    genres = fields.List(fields.Str())
    ai_involvement = fields.Str()
    badge = fields.Nested(BadgeSchema)
    poster_url = fields.Str(allow_none=True)
    trailer_url = fields.Str(allow_none=True)
    published_at = fields.DateTime(allow_none=True)
    url = fields.Str()


class TitlePageSchema(Schema):
    items = fields.List(fields.Nested(TitleSummarySchema))
    total = fields.Int()
    page = fields.Int()
    per_page = fields.Int()
    pages = fields.Int()


class LocalizationSchema(Schema):
    language = fields.Str()
    title = fields.Str()
    synopsis = fields.Str()


class GapSchema(Schema):
    episode = fields.Str(allow_none=True)
    message = fields.Str()


class RegionSchema(Schema):
    region = fields.Str()
    name = fields.Str()
    in_force = fields.Date()
    status = fields.Str(metadata={"enum": ["ready", "needs_work", "not_applicable"]})
    gaps = fields.List(fields.Nested(GapSchema))


class CopyrightSchema(Schema):
    rights_holder = fields.Str(allow_none=True)
    registration_number = fields.Str(allow_none=True)
    nrta_number = fields.Str(allow_none=True)
    nrta_tier = fields.Str(allow_none=True)
    underlying_work = fields.Str(allow_none=True)
    music_clearances = fields.List(fields.Dict())
    documents = fields.List(fields.Dict(), metadata={
        "description": "Chain-of-title documents with SHA-256; download_url only for staff, "
                       "the owner and buyers with a signed deal."})


class MediaSchema(Schema):
    id = fields.Int()
    kind = fields.Str()
    episode = fields.Int(allow_none=True)
    language = fields.Str(allow_none=True)
    filename = fields.Str()
    size = fields.Int()
    sha256 = fields.Str()
    probe = fields.Dict(allow_none=True)
    c2pa = fields.Dict(allow_none=True)
    url = fields.Str(allow_none=True)


class TitleDetailSchema(TitleSummarySchema):
    status = fields.Str()
    tags = fields.List(fields.Str())
    localizations = fields.List(fields.Nested(LocalizationSchema))
    provenance = fields.Dict(metadata={"description": "The AI-provenance record."})
    digital_source_type_uri = fields.Str()
    copyright = fields.Nested(CopyrightSchema, allow_none=True)
    compliance = fields.List(fields.Nested(RegionSchema))
    media = fields.List(fields.Nested(MediaSchema))
    episodes_listed = fields.Int()


class EpisodeSchema(Schema):
    id = fields.Int()
    number = fields.Int()
    title = fields.Str(allow_none=True)
    duration_seconds = fields.Int(allow_none=True)
    content_id = fields.Str()
    provenance = fields.Dict(metadata={"description": "Effective provenance (title record with "
                                                      "this episode's overrides)."})
    overrides = fields.List(fields.Str())
    media = fields.List(fields.Nested(MediaSchema))


def _lang() -> str:
    best = request.accept_languages.best or "en"
    return best.replace("_", "-").split("-")[0].lower()


def _media_url(asset) -> str | None:
    return url_for("catalog_api.Media", asset_id=asset.id, _external=True) if asset else None


def _badge(badge: domain.Badge) -> dict:
    from catalog.labels import tr

    return {"level": badge.level, "label": tr(badge.label), "summary": tr(badge.summary),
            "c2pa": badge.c2pa, "labelled": badge.labelled}


def _summary(card: dict) -> dict:
    t = card["title"]
    return {
        "id": t.id, "content_id": domain.content_id(t.id), "original_title": t.original_title,
        "title": card["name"], "titles": card["localizations"],
        "original_language": t.original_language, "languages": card["languages"],
        "country": t.country, "year": t.year, "episode_count": t.episode_count,
        "typical_episode_seconds": t.typical_episode_seconds, "aspect_ratio": t.aspect_ratio,
        "genres": card["genres"], "ai_involvement": t.ai_involvement,
        "badge": _badge(card["badge"]), "poster_url": _media_url(card["poster"]),
        "trailer_url": _media_url(card["trailer"]),
        "published_at": t.published_at.isoformat() if t.published_at else None,
        "url": url_for("catalog_api.TitleResource", title_id=t.id, _external=True),
    }


_BADGE_TEXT: dict[tuple[str, str], str] = {}


def _badge_text(message: domain.Message) -> str:
    """Badge texts repeat on every list entry: translate each once per language."""
    from catalog.labels import tr

    if message.params:
        return tr(message)
    key = (str(get_locale()), message.msgid)
    if key not in _BADGE_TEXT:
        _BADGE_TEXT[key] = tr(message)
    return _BADGE_TEXT[key]


def _list_item(card: dict) -> dict:
    r = card["row"]
    badge = card["badge"]
    base = request.host_url.rstrip("/")
    return {
        "id": r.id, "content_id": domain.content_id(r.id), "original_title": r.original_title,
        "title": card["name"], "titles": card["localizations"],
        "original_language": r.original_language, "languages": card["languages"],
        "country": r.country, "year": r.year, "episode_count": r.episode_count,
        "typical_episode_seconds": r.typical_episode_seconds, "aspect_ratio": r.aspect_ratio,
        "genres": card["genres"], "ai_involvement": r.ai_involvement,
        "badge": {"level": badge.level, "label": _badge_text(badge.label),
                  "summary": _badge_text(badge.summary), "c2pa": badge.c2pa,
                  "labelled": badge.labelled},
        "poster_url": f"{base}/api/v1/media/{card['poster_id']}" if card["poster_id"] else None,
        "trailer_url": (f"{base}/api/v1/media/{card['trailer_id']}"
                        if card["trailer_id"] else None),
        "published_at": r.published_at.isoformat() if r.published_at else None,
        "url": f"{base}/api/v1/titles/{r.id}",
    }


def _asset(a) -> dict:
    return {"id": a.id, "kind": a.kind, "episode": a.episode.number if a.episode else None,
            "language": a.language, "filename": a.filename, "size": a.size, "sha256": a.sha256,
            "probe": a.probe, "c2pa": a.c2pa,
            "url": _media_url(a) if access.can_fetch(a) else None}


@blp.route("/titles")
class Titles(MethodView):
    @login_required
    @blp.arguments(TitleQuerySchema(), location="query")  # an instance: built once, not per request
    @blp.response(200, TitlePageSchema)
    def get(self, args):
        """Search published titles: text, facets, sort and pages.

        Other contexts may add filters (availability by territory, medium and window)
        that join the same query; their parameters are documented with them.
        """
        lang = _lang()
        q = query_from_params(args)
        extra = provided_filters(request.args)
        if extra:
            q = replace(q, extra_filters=extra)
        key = (request.host_url, lang, str(get_locale()), tuple(sorted(request.args.items(
            multi=True))))

        def build() -> bytes:
            rows, page = listing.search_rows(q)
            body = {"items": [_list_item(c) for c in listing.cards_from_rows(rows, lang)],
                    "total": page.total, "page": page.page, "per_page": page.per_page,
                    "pages": page.pages}
            return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()

        # Already shaped by the same fields as the schema: no second pass through it.
        return current_app.response_class(listing.cached(key, build),
                                          mimetype="application/json")


@blp.route("/titles/<int:title_id>")
class TitleResource(MethodView):
    @login_required
    @blp.response(200, TitleDetailSchema)
    def get(self, title_id: int):
        """A title with provenance, copyright summary, compliance status and public media.

        Drafts, submitted and withdrawn titles answer 404 except to their producer.
        """
        from catalog.labels import tr

        t = access.visible_title_or_404(title_id)
        card = services.cards_for([t], _lang())[0]
        card["badge"] = services.badge_for(t)
        prov = services.provenance_of(t)
        record = t.copyright
        documents = [{"id": a.id, "kind": a.kind, "filename": a.filename, "sha256": a.sha256,
                      "size": a.size, "download_url": _media_url(a) if access.can_fetch(a) else None}
                     for a in t.assets if a.kind in domain.DEAL_KINDS]
        body = _summary(card)
        body.update(
            published_at=t.published_at,  # the schema formats it
            status=t.status, tags=t.tags or [],
            languages=t.languages,
            localizations=[{"language": x.language, "title": x.title, "synopsis": x.synopsis}
                           for x in t.localizations],
            provenance=prov.to_dict(), digital_source_type_uri=prov.digital_source_type_uri,
            copyright=None if record is None else {
                "rights_holder": record.rights_holder,
                "registration_number": record.registration_number,
                "nrta_number": record.nrta_number, "nrta_tier": record.nrta_tier,
                "underlying_work": record.underlying_work,
                "music_clearances": record.music_clearances or [], "documents": documents},
            compliance=[{"region": r.region, "name": tr(r.name), "in_force": r.in_force,
                         "status": r.status,
                         "gaps": [{"episode": g.scope or None, "message": tr(g.message)}
                                  for g in r.gaps]}
                        for r in services.compliance_for(t)],
            media=[_asset(a) for a in t.assets
                   if a.kind not in domain.DEAL_KINDS and access.can_fetch(a)],
            episodes_listed=len(t.episodes))
        return body


@blp.route("/titles/<int:title_id>/episodes")
class TitleEpisodes(MethodView):
    @login_required
    @blp.response(200, EpisodeSchema(many=True))
    def get(self, title_id: int):
        """The title's episodes in order, with effective provenance and visible media."""
        t = access.visible_title_or_404(title_id)
        media: dict[int, list] = {}
        for a in t.assets:
            if a.episode_id and access.can_fetch(a):
                media.setdefault(a.episode_id, []).append(_asset(a))
        return [{"id": e.id, "number": e.number, "title": e.title,
                 "duration_seconds": e.duration_seconds,
                 "content_id": domain.content_id(t.id, e.number),
                 "provenance": domain.effective_provenance(
                     t.provenance, e.provenance_override).to_dict(),
                 "overrides": sorted(e.provenance_override or {}),
                 "media": media.get(e.id, [])} for e in t.episodes]


@blp.route("/titles/<int:title_id>/mec")
class TitleMEC(MethodView):
    @login_required
    @blp.response(200, description="MovieLabs MEC-shaped metadata: the series and its "
                                   "episodes (ContentID, LocalizedInfo, WorkType, SequenceInfo, "
                                   "Parent, …).")
    def get(self, title_id: int):
        """The title's metadata shaped after MovieLabs MEC."""
        return jsonify(services.mec_for(access.visible_title_or_404(title_id)))


@blp.route("/media/<int:asset_id>")
class Media(MethodView):
    @login_required
    @blp.response(302, description="Redirect to a signed, expiring download URL.")
    def get(self, asset_id: int):
        """A media file you may fetch: redirects to a signed download link."""
        asset = access.fetchable_asset_or_404(asset_id)
        ttl = current_app.config["PDX_PRESIGNED_URL_SECONDS"]
        return redirect(get_storage().url(asset.storage_key, ttl, filename=asset.filename))
