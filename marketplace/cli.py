"""``pdx``: the operators' command line (serve, worker, db, demo, users, orgs, …)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext


def _create_app():
    from marketplace import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False,
             help="Pudong Drama Exchange operations. `pdx COMMAND --help` for each command.")
def main():
    pass


def init_app(app) -> None:
    """The commands live on ``app.cli`` so ``pdx`` and ``flask --app wsgi`` both have them."""
    for command in (serve, worker, demo, i18n_cli):
        app.cli.add_command(command)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option("--workers", default=2, show_default=True, help="Web worker processes.")
@click.option("--no-worker", is_flag=True, help="Do not start a job worker alongside.")
def serve(host, port, workers, no_worker):
    """Serve the marketplace (gunicorn) with one job worker beside it."""
    env = dict(os.environ)
    procs = []
    if not no_worker:
        # Two processes, so one long encode does not hold up mail and translations.
        procs.append(subprocess.Popen(_worker_argv(concurrency=2), env=env))
    procs.append(subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--threads", "4",
         "--bind", f"{host}:{port}", "--timeout", "300", "--access-logfile", "-", "wsgi:app"],
        env=env))
    click.echo(f"Pudong Drama Exchange on http://{host}:{port}  (Ctrl-C stops)")

    def stop(*_args):
        for p in procs:
            if p.poll() is None:
                p.terminate()

    signal.signal(signal.SIGTERM, stop)
    try:
        while all(p.poll() is None for p in procs):
            try:
                procs[-1].wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass
    except KeyboardInterrupt:
        pass
    finally:
        stop()
        for p in procs:
            p.wait(timeout=30)
    sys.exit(next((p.returncode for p in procs if p.returncode), 0))


def _worker_argv(concurrency: int, queues: str | None = None) -> list[str]:
    argv = [sys.executable, "-m", "celery", "-A", "marketplace.worker:celery", "worker",
            "--loglevel=INFO", f"--concurrency={concurrency}", "--without-gossip",
            "--without-mingle"]
    if queues:
        argv.append(f"--queues={queues}")
    return argv


@click.command("worker")
@click.option("--concurrency", default=2, show_default=True)
@click.option("--queues", default=None, help="Comma-separated queues (default: all).")
def worker(concurrency, queues):
    """Run a Celery job worker (embedded broker by default, Redis when configured)."""
    os.execv(sys.executable, _worker_argv(concurrency, queues))


@click.command("demo")
@with_appcontext
def demo():
    """Load the demo organizations, users and catalog (idempotent)."""
    from marketplace.accounts.demo import DEMO_PASSWORD, demo_sign_ins
    from marketplace.extensions import db

    for loader in current_app.extensions["pdx_demo"]:
        loader(click.echo)
        db.session.commit()
    click.echo(f"\nDemo sign-ins (password for all: {DEMO_PASSWORD}):")
    for email, kind, org in demo_sign_ins():
        click.echo(f"  {email:30} {kind:12} {org}")


@click.group("i18n")
def i18n_cli():
    """Interface translations."""


@i18n_cli.command("update")
@click.argument("packages", nargs=-1)
def i18n_update(packages):
    """Extract a context's strings into its zh_Hans catalog; list what is untranslated."""
    from marketplace.i18n import CONTEXT_PACKAGES, update_catalog

    missing_any = False
    for package in packages or CONTEXT_PACKAGES:
        path, missing = update_catalog(package)
        click.echo(f"{path}: {len(missing)} untranslated")
        for msgid in missing:
            click.echo(f"  - {msgid!r}")
        missing_any = missing_any or bool(missing)
    sys.exit(1 if missing_any else 0)


@i18n_cli.command("compile")
@click.option("--force", is_flag=True)
def i18n_compile(force):
    """Compile every context's message catalog (.po → .mo)."""
    from marketplace.i18n import compile_catalogs

    for path in compile_catalogs(force=force):
        click.echo(f"compiled {path}")
