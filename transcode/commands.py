"""Commands that need the application: ``pdx deliver DEAL`` and, in the ``pdx transcode``
group beside ``run`` and ``profiles``, ``reap`` and ``jobs``."""

from __future__ import annotations

import sys
from datetime import timedelta

import click
from flask import current_app
from flask.cli import with_appcontext


@click.command("deliver")
@click.argument("deal_ref", metavar="DEAL")
@click.option("--profile", default=None, help="Delivery profile (default: upload_mp4).")
@click.option("--subtitles", type=click.Choice(["sidecar", "burn", "none"]), default=None,
              help="Subtitle files beside the videos, burned in, or none "
                   "(default: as the profile says).")
@click.option("--language", "languages", multiple=True,
              help="Subtitle language (repeatable; default: the deal's).")
@click.option("--inline", is_flag=True,
              help="Encode here and now instead of queueing the jobs for the workers.")
@with_appcontext
def deliver(deal_ref, profile, subtitles, languages, inline):
    """Prepare the delivery package of a signed DEAL (its number, D-2026-0001, or id)."""
    from marketplace.extensions import db
    from transcode import services

    deal = services.deal_by_ref(deal_ref)
    if deal is None:
        raise click.ClickException(f"no deal {deal_ref!r}")
    captured = current_app.extensions.setdefault("pdx_captured_jobs", [])
    capture = current_app.config["PDX_JOBS_CAPTURE"]
    if inline:
        current_app.config["PDX_JOBS_CAPTURE"] = True  # keep the jobs here, run them below
    try:
        try:
            package = services.package_for_deal(deal.id, profile, languages=list(languages) or None,
                                                subtitles=subtitles)
        except services.DeliveryError as exc:
            db.session.rollback()
            raise click.ClickException(f"{exc.field}: {exc.message}") from None
        db.session.commit()
        package_id = package.id
        click.echo(f"package {package_id} for {deal.number}: {len(package.jobs)} job(s), "
                   f"profile {package.profile_name}, subtitles {package.subtitles} "
                   f"{', '.join(package.languages) or '-'}")
        if package.missing_episodes:
            click.echo(f"episodes without a master (not included): "
                       f"{', '.join(map(str, package.missing_episodes))}")
        if not inline:
            click.echo("queued for the workers (`pdx worker`); follow it on /deliveries/"
                       f"{package_id}")
            return
        _run_captured(captured)
    finally:
        current_app.config["PDX_JOBS_CAPTURE"] = capture
    _report(package_id)


def _run_captured(captured: list) -> None:
    import socket

    from transcode import services

    while captured:
        name, args, _kwargs = captured.pop(0)
        if name == "transcode.run_job":
            outcome = services.run_job(args[0], hostname=f"cli@{socket.gethostname()}")
            while outcome.retry:
                outcome = services.run_job(args[0], hostname=f"cli@{socket.gethostname()}")
            click.echo(f"job {args[0]}: {outcome.status}")
        elif name == "transcode.finish_package":
            services.finish_package(args[0])


def _report(package_id: int) -> None:
    from marketplace.extensions import db
    from transcode.models import DeliveryPackage

    db.session.expire_all()
    package = db.session.get(DeliveryPackage, package_id)
    click.echo(f"package {package.id}: {package.status}")
    if package.error:
        click.echo(f"error: {package.error}", err=True)
    for f in package.files:
        click.echo(f"{f.sha256}  {f.size:>12}  {f.path}")
    if package.status != "ready":
        sys.exit(1)


@click.command("reap")
@click.option("--stale", type=int, default=None,
              help="Seconds without a heartbeat (default PDX_TRANSCODE_STALE_SECONDS).")
@click.option("--queued-older-than", type=int, default=None, metavar="MINUTES",
              help="Also send queued jobs older than this to the broker again.")
@with_appcontext
def reap(stale, queued_older_than):
    """Queue again the running jobs whose worker stopped answering."""
    from transcode import services

    ids = services.reap_stale_jobs(stale)
    click.echo(f"{len(ids)} job(s) queued again" + (f": {', '.join(map(str, ids))}" if ids else ""))
    if queued_older_than:
        sent = services.requeue_stuck_queued(timedelta(minutes=queued_older_than))
        click.echo(f"{len(sent)} queued job(s) sent again")


@click.command("jobs")
@click.option("--status", default=None, help="queued, running, succeeded, failed, cancelled")
@click.option("--limit", default=30, show_default=True)
@with_appcontext
def jobs(status, limit):
    """List transcode jobs: status, progress, worker."""
    from marketplace.extensions import db
    from transcode import services

    rows = db.session.scalars(services.jobs_query(None, status=status).limit(limit)).all()
    for job in rows:
        click.echo(f"{job.id:>6}  {job.status:<10} {job.percent:>3}%  {job.profile_name:<14} "
                   f"{(job.worker or '-'):<28} {job.title.original_title} · {job.label}"
                   + (f"  [{job.error}]" if job.error else ""))
    if not rows:
        click.echo("no jobs")


