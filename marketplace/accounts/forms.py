from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length, Optional

from marketplace.i18n import LOCALES, _l


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired()])
    password = PasswordField(_l("Password"), validators=[DataRequired()])


class SignupForm(FlaskForm):
    org_name = StringField(_l("Organization"), validators=[DataRequired(), Length(max=200)])
    kind = SelectField(_l("We are a"), choices=[
        ("distributor", _l("Distributor (buyer)")),
        ("producer", _l("Producer (seller)")),
        ("festival", _l("Festival organizer")),
    ])
    country = StringField(_l("Country (ISO code, e.g. US)"),
                          validators=[Optional(), Length(min=2, max=2)])
    name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=200)])
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email()])
    password = PasswordField(_l("Password (at least 10 characters)"),
                             validators=[DataRequired()])


class InviteForm(FlaskForm):
    email = EmailField(_l("Colleague's e-mail"), validators=[DataRequired(), Email()])


class AcceptInviteForm(FlaskForm):
    name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=200)])
    password = PasswordField(_l("Password (at least 10 characters)"),
                             validators=[DataRequired()])


class TokenForm(FlaskForm):
    name = StringField(_l("Token name"), validators=[DataRequired(), Length(max=100)])


class PreferencesForm(FlaskForm):
    locale = SelectField(_l("Language"), choices=list(LOCALES.items()))
    timezone = StringField(_l("Time zone (e.g. Asia/Shanghai, America/New_York)"),
                           validators=[Optional(), Length(max=64)])


class EmptyForm(FlaskForm):
    """A CSRF token and nothing else, for buttons that change state."""
