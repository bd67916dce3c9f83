"""The Pudong Drama Exchange web application."""

from __future__ import annotations

import logging
from importlib import import_module

from flask import Flask

# Bounded contexts, each with an ``init_app(app)`` that registers its blueprints,
# navigation and demo data. Order matters only for navigation.
CONTEXTS = (
    "marketplace.accounts",
    "catalog",
    "licensing",
    "localization",
    "transcode",
    "marketplace.markets",
    "marketplace.payments",
)


def create_app(config: dict | None = None) -> Flask:
    """Build the application: configuration, extensions, blueprints, CLI."""
    app = Flask(__name__, instance_relative_config=True)
    from marketplace import config as config_module

    config_module.load(app, config)
    _ensure_instance(app)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)

    from marketplace import api, cli, i18n, jobs, notifications, policy, web
    from marketplace.extensions import db, migrate
    from marketplace.storage import build_storage

    db.init_app(app)
    _tune_engine(app)
    migrate.init_app(app, db, directory=str(config_module.PROJECT_ROOT / "migrations"))
    i18n.init_app(app)
    policy.init_app(app)
    api.init_app(app)
    jobs.init_app(app)
    app.extensions["pdx_storage"] = build_storage(app.config)
    app.extensions["pdx_nav"] = []
    app.extensions["pdx_demo"] = []
    app.extensions["pdx_dashboard"] = []  # callables(user) -> Markup | None
    app.extensions["pdx_title_sections"] = []  # callables(title) -> Markup | None
    app.extensions["pdx_catalog_filter_fields"] = []  # callables() -> Markup | None
    web.init_app(app)
    notifications.init_app(app)
    cli.init_app(app)

    import marketplace.audit  # noqa: F401 - the model must be known to the metadata

    for name in CONTEXTS:
        try:
            module = import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        init = getattr(module, "init_app", None)
        if init is not None:
            init(app)
    return app


def _ensure_instance(app: Flask) -> None:
    from pathlib import Path

    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if app.config["PDX_STORAGE"] == "local":
        Path(app.config["PDX_MEDIA_ROOT"]).mkdir(parents=True, exist_ok=True)


def _tune_engine(app: Flask) -> None:
    """SQLite: WAL, foreign keys, a busy timeout, and transactions SQLAlchemy controls."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    from sqlalchemy import event

    from marketplace.extensions import db

    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # pysqlite's own transaction handling breaks SAVEPOINT and BEGIN IMMEDIATE;
        # we turn it off and issue BEGIN ourselves (SQLAlchemy's documented recipe).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(app.config['PDX_SQLITE_BUSY_MS'])}")
        if ":memory:" not in app.config["SQLALCHEMY_DATABASE_URI"]:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        mode = conn.get_execution_options().get("sqlite_begin", "")
        conn.exec_driver_sql(f"BEGIN {mode}".strip())
