from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange

from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.i18n import _, _l
from marketplace.markets import services
from marketplace.markets.models import SERIES_NAMES
from marketplace.policy import login_required, org_kind_required

bp = Blueprint("markets", __name__, template_folder="templates")


class MarketForm(FlaskForm):
    series = SelectField(_l("Market"), choices=[(k.value, v) for k, v in SERIES_NAMES.items()])
    year = IntegerField(_l("Year"), validators=[DataRequired(), NumberRange(2020, 2100)])
    city = StringField(_l("City"), validators=[DataRequired(), Length(max=100)])
    country = StringField(_l("Country (ISO code, e.g. FR)"),
                          validators=[DataRequired(), Length(min=2, max=2)])
    starts_on = DateField(_l("First day"), validators=[DataRequired()])
    ends_on = DateField(_l("Last day"), validators=[DataRequired()])


@bp.get("/markets")
@login_required
def index():
    upcoming, past = services.upcoming_and_past(utcnow().date())
    can_create = current_user.is_admin or current_user.organization.kind == "festival"
    return render_template("markets/index.html", upcoming=upcoming, past=past,
                           can_create=can_create)


@bp.route("/markets/new", methods=["GET", "POST"])
@org_kind_required("festival")
def create():
    form = MarketForm()
    if form.validate_on_submit():
        try:
            event = services.create_event(
                series=form.series.data, year=form.year.data, city=form.city.data,
                country=form.country.data, starts_on=form.starts_on.data,
                ends_on=form.ends_on.data, by=current_user)
        except services.MarketError as exc:
            db.session.rollback()
            field = getattr(form, exc.field or "", None)
            if field is not None:
                field.errors = [*field.errors, str(exc)]
            else:
                flash(str(exc), "error")
            return render_template("markets/form.html", form=form), 422
        db.session.commit()
        flash(_("%(name)s is on the calendar.", name=event.name), "success")
        return redirect(url_for(".index"))
    return render_template("markets/form.html", form=form), 422 if form.errors else 200
