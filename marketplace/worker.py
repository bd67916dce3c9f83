"""Entry point for ``celery -A marketplace.worker:celery worker``: the app, and Celery bound to it."""

from marketplace import create_app

app = create_app()
celery = app.extensions["celery"]
