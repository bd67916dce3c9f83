"""Forms of the catalog. Repeated rows (localizations, models, contributors, consents)
are read from the request with :func:`rows`; WTForms carries the CSRF token and the
single-valued fields."""

from __future__ import annotations

from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import (
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Length, NumberRange, Optional

from catalog import domain, labels
from marketplace.i18n import _l


class TitleForm(FlaskForm):
    original_title = StringField(_l("Original title"), validators=[Length(max=300)])
    original_language = StringField(_l("Original language (code, e.g. zh)"), default="zh")
    country = StringField(_l("Country of origin (e.g. CN)"), default="CN")
    year = IntegerField(_l("Year"), validators=[Optional()])
    episode_count = IntegerField(_l("Number of episodes"), validators=[Optional()])
    typical_episode_seconds = IntegerField(_l("Typical episode length (seconds)"),
                                           validators=[Optional()])
    aspect_ratio = SelectField(_l("Aspect ratio"), default="9:16",
                               choices=[(a, a) for a in domain.ASPECT_RATIOS])
    genres = SelectMultipleField(_l("Genres"), choices=list(labels.GENRES.items()))
    tags = StringField(_l("Tags (comma-separated)"))


class CopyrightForm(FlaskForm):
    rights_holder = StringField(_l("Rights holder"), validators=[Length(max=300)])
    registration_number = StringField(_l("Copyright registration number"),
                                      validators=[Length(max=100)])
    nrta_number = StringField(_l("NRTA distribution licence or filing number"),
                              validators=[Length(max=100)])
    nrta_tier = SelectField(_l("NRTA tier"),
                            choices=[("", "—"), *labels.NRTA_TIERS.items()])
    underlying_work = StringField(_l("Underlying work (novel, script, format)"),
                                  validators=[Length(max=500)])
    music_clearances = TextAreaField(_l("Music clearances, one per line: track | rights holder "
                                        "| licence reference"))


class EpisodeForm(FlaskForm):
    number = IntegerField(_l("Episode number"), validators=[Optional(), NumberRange(min=1)])
    name = StringField(_l("Episode title"), validators=[Length(max=300)])
    duration_seconds = IntegerField(_l("Duration (seconds)"), validators=[Optional()])
    count = IntegerField(_l("Or create episodes 1 to"), validators=[Optional()])


class UploadForm(FlaskForm):
    kind = SelectField(_l("What is it?"), choices=list(labels.ASSET_KINDS.items()))
    episode_id = SelectField(_l("Episode"), choices=[], validate_choice=False)
    language = StringField(_l("Language (subtitles and dubs)"))


class ReviewForm(FlaskForm):
    comment = TextAreaField(_l("Comment"), validators=[Length(max=2000)])


class ImportForm(FlaskForm):
    pass


def rows(form: MultiDict, *names: str) -> list[dict[str, str]]:
    """Zip repeated fields ``name[]`` into rows, dropping rows that are entirely empty."""
    columns = [form.getlist(f"{n}[]") for n in names]
    out = []
    for values in zip(*columns, strict=False):
        row = {n: (v or "").strip() for n, v in zip(names, values, strict=True)}
        if any(row.values()):
            out.append(row)
    return out


def _float(value: str | None) -> float:
    try:
        return float(value) if value not in (None, "") else 0.0
    except ValueError:
        return -1.0  # reported as invalid by the domain


def provenance_from_form(form: MultiDict) -> dict:
    """The provenance record a producer filled in, as the dict the domain validates."""
    models = [{"name": r["model_name"], "vendor": r["model_vendor"],
               "version": r["model_version"], "commercial_use": r["model_commercial"] == "yes",
               "purpose": r["model_purpose"]}
              for r in rows(form, "model_name", "model_vendor", "model_version",
                            "model_commercial", "model_purpose")
              if r["model_name"] or r["model_vendor"] or r["model_version"]]
    contributors = [{"name": r["contributor_name"], "role": r["contributor_role"]}
                    for r in rows(form, "contributor_name", "contributor_role")]
    consents = [{"subject": r["consent_subject"], "kind": r["consent_kind"],
                 "reference": r["consent_reference"]}
                for r in rows(form, "consent_subject", "consent_kind", "consent_reference")
                if r["consent_subject"] or r["consent_reference"]]
    return {
        "involvement": form.get("involvement", "none"),
        "components": {c: True for c in form.getlist("components")},
        "digital_source_type": form.get("digital_source_type", "digitalCapture"),
        "models": models,
        "contributors": contributors,
        "consents": consents,
        "explicit_label": {
            "text": form.get("label_text", "").strip(),
            "position": form.get("label_position", "top-right"),
            "start_seconds": _float(form.get("label_start")),
            "duration_seconds": _float(form.get("label_duration")),
            "text_height_percent": _float(form.get("label_height")),
        },
        "implicit_label": {f: form.get(f"aigc_{f}", "").strip() for f in domain.AIGC_FIELDS
                           if form.get(f"aigc_{f}", "").strip()},
    }
