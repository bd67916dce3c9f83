"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

import os

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from marketplace import create_app
from marketplace.extensions import db

PG_URL = os.environ.get("PDX_TEST_DATABASE_URL")


def _targets(tmp_path):
    yield f"sqlite:///{tmp_path / 'migrated.sqlite'}"
    if PG_URL:
        base = PG_URL.replace("postgresql://", "postgresql+psycopg://", 1)
        engine = create_engine(base)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS migcheck CASCADE"))
            conn.execute(text("CREATE SCHEMA migcheck"))
        engine.dispose()
        sep = "&" if "?" in base else "?"
        # public stays on the path: extensions such as pg_trgm live there.
        yield f"{base}{sep}options=-csearch_path%3Dmigcheck,public"


def _include(obj, name, type_, reflected, compare_to):
    return not (type_ == "table" and name and "_fts" in name)


@pytest.mark.slow
def test_upgrade_to_heads_matches_the_models(tmp_path, base_app):
    from flask_migrate import upgrade

    for url in _targets(tmp_path):
        app = create_app({"ENV": "testing", "DATABASE_URL": url, "SECRET_KEY": "m",
                          "MEDIA_ROOT": str(tmp_path / "media")})
        with app.app_context():
            upgrade(revision="heads")
            with db.engine.connect() as conn:
                ctx = MigrationContext.configure(conn, opts={
                    "compare_type": True, "include_object": _include})
                diff = compare_metadata(ctx, db.metadata)
            db.engine.dispose()
        assert diff == [], f"models and migrations differ on {url.split(':')[0]}: {diff}"
    base_app.extensions["celery"].set_default()
