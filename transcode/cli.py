"""``transcode`` commands: run a profile on a file, list the built-in profiles.

A click group the lead attaches to ``pdx``; it needs no Flask app context.
"""

from __future__ import annotations

import json
import sys

import click

from transcode.domain import Aigc, BuildOptions, Sidecar
from transcode.profiles import BUILTIN_PROFILES, Profile
from transcode.runner import TranscodeError
from transcode.runner import transcode as run_transcode


@click.group(name="transcode")
def transcode() -> None:
    """Deliver episodes in a buyer's profile (ffmpeg)."""


def _load_profile(name: str | None, profile_file: str | None) -> Profile:
    if profile_file:
        try:
            with open(profile_file, encoding="utf-8") as fh:
                return Profile.from_dict(json.load(fh))
        except (OSError, ValueError) as exc:  # ProfileError is a ValueError
            raise click.BadParameter(str(exc), param_hint="--profile-file") from exc
    if not name:
        raise click.UsageError("give --profile NAME or --profile-file PATH")
    if name not in BUILTIN_PROFILES:
        raise click.BadParameter(f"unknown profile {name!r}; see `transcode profiles`", param_hint="--profile")
    return BUILTIN_PROFILES[name]


@transcode.command("run")
@click.option("--profile", "profile_name", metavar="NAME", help="a built-in profile (see `transcode profiles`)")
@click.option("--profile-file", type=click.Path(exists=True, dir_okay=False), help="a profile stored as JSON")
@click.option("--subtitles", type=click.Path(exists=True, dir_okay=False), help="ASS file to burn in")
@click.option("--sidecar", multiple=True, metavar="LANG=PATH", help="WebVTT delivered beside the video (repeatable)")
@click.option("--watermark", help="screener mark: organization name and short id")
@click.option("--label-text", help="explicit AI label text (default: the profile's)")
@click.option("--producer", help="AIGC ContentProducer (implicit label)")
@click.option("--produce-id", help="AIGC ProduceID (implicit label)")
@click.option("--not-ai", is_flag=True, help="the content is not AI-generated: no AI labels")
@click.option("--stem", help="output file name stem (default: the input's)")
@click.argument("input_path", type=click.Path(exists=True, dir_okay=False))
@click.argument("output_dir", type=click.Path(file_okay=False))
def run_command(
    profile_name: str | None,
    profile_file: str | None,
    subtitles: str | None,
    sidecar: tuple[str, ...],
    watermark: str | None,
    label_text: str | None,
    producer: str | None,
    produce_id: str | None,
    not_ai: bool,
    stem: str | None,
    input_path: str,
    output_dir: str,
) -> None:
    """Transcode INPUT_PATH into OUTPUT_DIR with a delivery profile."""
    profile = _load_profile(profile_name, profile_file)
    sidecars = []
    for item in sidecar:
        lang, sep, path = item.partition("=")
        if not sep or not lang or not path:
            raise click.BadParameter(f"{item!r} is not LANG=PATH", param_hint="--sidecar")
        sidecars.append(Sidecar(language=lang, path=path))
    aigc = None
    if producer or produce_id:
        aigc = Aigc(content_producer=producer or "", produce_id=produce_id or "")
    options = BuildOptions(
        output_stem=stem,
        subtitles=subtitles,
        sidecars=tuple(sidecars),
        ai_generated=not not_ai,
        aigc=aigc,
        label_text=label_text,
        watermark_text=watermark,
    )
    with click.progressbar(length=1000, label=profile.name, file=sys.stderr) as bar:

        def progress(fraction: float, speed: float | None) -> None:
            bar.update(int(fraction * 1000) - bar.pos)

        try:
            result = run_transcode(profile, input_path, output_dir, options, progress=progress)
        except TranscodeError as exc:
            failure = exc
        else:
            failure = None
    if failure is not None:
        if not sys.stderr.isatty():  # the bar's label was printed without a newline
            click.echo("", err=True)
        click.echo(f"error: {failure.reason}", err=True)
        if failure.log_tail:
            click.echo(failure.log_tail, err=True)
        sys.exit(1)
    for note in result.notes:
        click.echo(f"note: {note}")
    for f in result.files:
        click.echo(f"{f.sha256}  {f.size:>12}  {f.path}")
    speed = f", {result.speed:.2f}x real time" if result.speed else ""
    click.echo(f"{len(result.files)} file(s) in {result.elapsed:.1f} s{speed}")


@transcode.command("profiles")
@click.option("--json", "as_json", is_flag=True, help="print the profiles as JSON")
def profiles_command(as_json: bool) -> None:
    """List the built-in delivery profiles."""
    if as_json:
        click.echo(json.dumps({n: p.to_dict() for n, p in BUILTIN_PROFILES.items()}, ensure_ascii=False, indent=2))
        return
    width = max(len(n) for n in BUILTIN_PROFILES)
    click.echo(f"{'name':<{width}}  summary")
    for name, profile in BUILTIN_PROFILES.items():
        click.echo(f"{name:<{width}}  {profile.summary()}")

