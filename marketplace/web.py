"""The shell every page shares: home and dashboard, language switch, signed downloads,
navigation, and the HTML error pages."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_login import current_user

from marketplace.extensions import db
from marketplace.i18n import LOCALES, _l
from marketplace.storage import LocalStorage, get_storage

bp = Blueprint("marketplace", __name__)


@dataclass(frozen=True)
class NavItem:
    label: object  # a lazy string, translated when rendered
    endpoint: str
    kinds: tuple[str, ...] = field(default=())  # empty: every signed-in user
    admin_only: bool = False
    public: bool = False
    order: int = 50


def add_nav(app: Flask, item: NavItem) -> None:
    app.extensions["pdx_nav"].append(item)
    app.extensions["pdx_nav"].sort(key=lambda i: i.order)


def add_demo_loader(app: Flask, loader) -> None:
    """``loader(log)`` adds a context's demo rows idempotently; ``pdx demo`` calls them in order."""
    app.extensions["pdx_demo"].append(loader)


def add_dashboard_panel(app: Flask, panel) -> None:
    """``panel(user)`` returns HTML for the dashboard, or None to show nothing."""
    app.extensions["pdx_dashboard"].append(panel)


def add_title_section(app: Flask, section) -> None:
    """``section(title)`` returns HTML for a card on the catalog's title page, or None.

    How other contexts add to the title page (licensing: the avails grid) without the
    catalog knowing them.
    """
    app.extensions["pdx_title_sections"].append(section)


def add_catalog_filter_fields(app: Flask, fields) -> None:
    """``fields()`` returns HTML inputs for the catalog's filter form (licensing: availability)."""
    app.extensions["pdx_catalog_filter_fields"].append(fields)


def catalog_filter_fields() -> list:
    return [html for fields in current_app.extensions["pdx_catalog_filter_fields"]
            if (html := fields())]


def title_sections(title) -> list:
    return [html for section in current_app.extensions["pdx_title_sections"]
            if (html := section(title))]


def visible_nav() -> list[NavItem]:
    items = []
    for item in current_app.extensions["pdx_nav"]:
        if item.public:
            items.append(item)
        elif not current_user.is_authenticated:
            continue
        elif item.admin_only and not current_user.is_admin:
            continue
        elif item.kinds and not (current_user.is_admin
                                 or current_user.organization.kind in item.kinds):
            continue
        else:
            items.append(item)
    return items


@bp.get("/")
def index():
    if current_user.is_authenticated:
        return redirect(url_for("marketplace.dashboard"))
    return render_template("index.html")


@bp.get("/dashboard")
def dashboard():
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    panels = [p(current_user) for p in current_app.extensions["pdx_dashboard"]]
    return render_template("dashboard.html", panels=[p for p in panels if p])


@bp.post("/locale")
def set_locale():
    code = request.form.get("locale", "")
    if code in LOCALES:
        session["locale"] = code
        if current_user.is_authenticated:
            current_user.locale = code
            db.session.commit()
    target = request.form.get("next") or request.referrer or url_for("marketplace.index")
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("marketplace.index")
    return redirect(target, 303)


@bp.get("/files")
def signed_file():
    """Serves a LocalStorage file for a link signed by ``LocalStorage.url`` (S3 signs its own)."""
    storage = get_storage()
    if not isinstance(storage, LocalStorage):
        abort(404)
    key = request.args.get("key", "")
    try:
        expires = int(request.args.get("expires", "0"))
    except ValueError:
        abort(400)
    if not storage.verify(key, expires, request.args.get("sig", "")):
        abort(403, description=str(_l("This download link is invalid or has expired.")))
    if not storage.exists(key):
        abort(404)
    filename = request.args.get("filename") or key.rsplit("/", 1)[-1]
    # send_file answers Range requests, so a <video> can seek in a signed local file.
    response = send_file(storage.local_path(key), as_attachment=True, download_name=filename,
                         conditional=True, max_age=0)
    # a signed file is one organization's (a marked screener, a delivery): no shared
    # cache keeps a copy, and browsers take its type as given
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/healthz")
def health():
    return {"status": "ok"}


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.jinja_env.globals["title_sections"] = title_sections
    app.jinja_env.globals["catalog_filter_fields"] = catalog_filter_fields

    @app.context_processor
    def inject_nav():
        return {"nav_items": visible_nav()}
