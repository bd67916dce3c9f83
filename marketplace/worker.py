"""Entry point for ``celery -A marketplace.worker:celery worker``: the app, and Celery bound to it.

Each worker also runs the contexts' periodic duties (``marketplace.jobs.add_periodic``).
"""

from marketplace import create_app

app = create_app()
celery = app.extensions["celery"]
