from __future__ import annotations

import pytest

from marketplace import create_app
from marketplace.config import ConfigError


def test_production_refuses_the_default_secret(tmp_path):
    with pytest.raises(ConfigError, match="PDX_SECRET_KEY"):
        create_app({"ENV": "production", "DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite"})


def test_environment_variables_are_read_and_validated(tmp_path, monkeypatch):
    monkeypatch.setenv("PDX_STORAGE", "ftp")
    with pytest.raises(ConfigError, match="PDX_STORAGE"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite"})
    monkeypatch.setenv("PDX_STORAGE", "local")
    monkeypatch.setenv("PDX_MAX_UPLOAD_MB", "12")
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite"})
    assert app.config["MAX_CONTENT_LENGTH"] == 12 * 1024 * 1024


def test_production_cookies_are_secure(tmp_path):
    app = create_app({"ENV": "production", "SECRET_KEY": "x" * 40,
                      "DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite"})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True


def test_postgres_urls_use_psycopg3(tmp_path):
    from marketplace.config import normalize_db_url

    assert normalize_db_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_db_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
