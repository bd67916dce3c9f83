"""Configuration: defaults, then ``PDX_*`` environment variables, validated at start."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

DEFAULT_SECRET_KEY = "dev-only-not-secret"  # noqa: S105 - refused in production below

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(RuntimeError):
    """The configuration cannot run: the message says which setting and why."""


def defaults(instance_path: str) -> dict:
    instance = Path(instance_path)
    return {
        "ENV": "development",  # development | production | testing
        "SECRET_KEY": DEFAULT_SECRET_KEY,
        "DATABASE_URL": f"sqlite:///{instance / 'pdx.sqlite'}",
        "CELERY_BROKER_URL": f"sqla+sqlite:///{instance / 'broker.sqlite'}",
        "CELERY_RESULT_BACKEND": f"db+sqlite:///{instance / 'results.sqlite'}",
        "STORAGE": "local",  # local | s3
        "MEDIA_ROOT": str(instance / "media"),
        "S3_BUCKET": "pdx-media",
        "S3_ENDPOINT_URL": None,
        "S3_REGION": "us-east-1",
        "S3_ACCESS_KEY_ID": None,
        "S3_SECRET_ACCESS_KEY": None,
        "S3_MULTIPART_CHUNK_MB": 16,
        "PRESIGNED_URL_SECONDS": 3600,
        "MAX_UPLOAD_MB": 4096,
        "STRIPE_SECRET_KEY": None,
        "STRIPE_WEBHOOK_SECRET": None,
        "STRIPE_API_BASE": None,
        # Machine translation for subtitles: pseudo (no network), openai (any
        # OpenAI-compatible chat endpoint) or deepl (a DeepL-style /v2/translate API).
        "TRANSLATION_PROVIDER": "pseudo",
        "TRANSLATION_URL": None,
        "TRANSLATION_API_KEY": None,
        "TRANSLATION_MODEL": "gpt-4o-mini",
        "TRANSLATION_TIMEOUT": 60,
        "CATALOG_LIST_CACHE_SECONDS": 2,  # API title lists, per process; 0 turns it off
        "TOKEN_CACHE_SECONDS": 10,  # how long a process trusts a verified API token
        "LICENSING_SIGN_DAYS": 30,  # an accepted offer holds its rights this long unsigned
        "LOGIN_MAX_FAILURES": 5,
        "LOGIN_LOCK_MINUTES": 15,
        "SESSION_HOURS": 12,
        "BASE_URL": "http://127.0.0.1:5000",
        "JOBS_CAPTURE": False,  # tests: keep enqueued jobs in a list instead of sending them
        "SQLITE_BUSY_MS": 15000,  # how long a SQLite writer waits for another's lock
    }


_INT_KEYS = {"LICENSING_SIGN_DAYS", "TOKEN_CACHE_SECONDS", "CATALOG_LIST_CACHE_SECONDS", "TRANSLATION_TIMEOUT", "S3_MULTIPART_CHUNK_MB", "PRESIGNED_URL_SECONDS", "MAX_UPLOAD_MB",
             "LOGIN_MAX_FAILURES", "LOGIN_LOCK_MINUTES", "SESSION_HOURS", "SQLITE_BUSY_MS"}


def load(app, overrides: dict | None) -> None:
    """Fill ``app.config`` from defaults, ``PDX_*`` variables and ``overrides``, then validate."""
    cfg = defaults(app.instance_path)
    for key in cfg:
        value = os.environ.get(f"PDX_{key}")
        if value is not None:
            cfg[key] = int(value) if key in _INT_KEYS else value
    cfg.update(overrides or {})
    for key, value in cfg.items():
        app.config[f"PDX_{key}"] = value
    validate(app.config)

    # Flask and extensions read their own keys.
    app.config["SECRET_KEY"] = cfg["SECRET_KEY"]
    app.config["SQLALCHEMY_DATABASE_URI"] = normalize_db_url(cfg["DATABASE_URL"])
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_pre_ping": True}
    app.config["MAX_CONTENT_LENGTH"] = cfg["MAX_UPLOAD_MB"] * 1024 * 1024
    production = cfg["ENV"] == "production"
    app.config["SESSION_COOKIE_SECURE"] = production
    app.config["REMEMBER_COOKIE_SECURE"] = production
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=cfg["SESSION_HOURS"])
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False  # checked in one place, see security.py
    app.config["WTF_CSRF_TIME_LIMIT"] = cfg["SESSION_HOURS"] * 3600
    app.config["TESTING"] = cfg["ENV"] == "testing" or app.config.get("TESTING", False)
    app.config.update(
        API_TITLE="Pudong Drama Exchange API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "info": {"description": "Catalog, avails, deals and deliveries of the Pudong Drama "
                                    "Exchange. Authenticate with `Authorization: Bearer <token>`; "
                                    "errors are RFC 9457 problem details."},
            "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearerAuth": []}],
        },
    )


def normalize_db_url(url: str) -> str:
    # Accept the common spellings and always use psycopg 3.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def validate(config) -> None:
    env = config["PDX_ENV"]
    if env not in {"development", "production", "testing"}:
        raise ConfigError(f"PDX_ENV must be development, production or testing, not {env!r}")
    if env == "production" and config["PDX_SECRET_KEY"] in (DEFAULT_SECRET_KEY, "", None):
        raise ConfigError("PDX_SECRET_KEY must be set to a long random value in production, e.g. "
                          f"PDX_SECRET_KEY={secrets.token_urlsafe(32)}")
    if env == "production" and len(str(config["PDX_SECRET_KEY"])) < 24:
        raise ConfigError("PDX_SECRET_KEY is too short for production: use at least 24 characters")
    if config["PDX_STORAGE"] not in {"local", "s3"}:
        raise ConfigError(f"PDX_STORAGE must be 'local' or 's3', not {config['PDX_STORAGE']!r}")
    if config["PDX_TRANSLATION_PROVIDER"] not in {"pseudo", "openai", "deepl"}:
        raise ConfigError("PDX_TRANSLATION_PROVIDER must be pseudo, openai or deepl")
    if config["PDX_TRANSLATION_PROVIDER"] != "pseudo" and not config["PDX_TRANSLATION_URL"]:
        raise ConfigError("PDX_TRANSLATION_URL is required for the "
                          f"{config['PDX_TRANSLATION_PROVIDER']} translation provider")
    url = config["PDX_DATABASE_URL"]
    if not url.startswith(("sqlite:", "postgres")):
        raise ConfigError(f"PDX_DATABASE_URL must be an sqlite:// or postgresql:// URL, not {url!r}")
