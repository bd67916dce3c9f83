"""``subtitles`` commands: QC a file, convert between formats, autofix. They need no Flask
app context; the lead attaches the group to ``pdx`` (``pdx subtitles qc …``).

Exit codes: 0 fine, 1 QC failed, 2 the file could not be read (or bad usage).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from localization.domain import autofix, check
from localization.formats import (
    SubtitleParseError,
    Track,
    format_from_filename,
    read_subtitles,
    retime,
    write_subtitles,
)
from localization.profiles import get_profile

_WRITABLE = {"srt": "srt", "vtt": "vtt", "ttml": "ttml", "ass": "ass"}


def _read(path: Path) -> Track:
    try:
        return read_subtitles(path.read_bytes(), filename=path.name)
    except SubtitleParseError as exc:
        click.echo(f"{path}: cannot read: {exc}", err=True)
        sys.exit(2)


def _output_format(path: Path) -> str:
    fmt = format_from_filename(path.name)
    if fmt not in _WRITABLE:
        raise click.BadParameter(f"cannot write {path.suffix or 'a file without extension'}; use .srt, .vtt, .ttml or .ass", param_hint="OUT")
    return _WRITABLE[fmt]


def _profile(lang: str, layout: str, audience: str):
    try:
        return get_profile(lang, layout=layout, audience=audience)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--lang") from exc


@click.group(name="subtitles")
def subtitles() -> None:
    """Subtitle files: quality control, conversion, automatic fixes."""


@subtitles.command("qc")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--lang", required=True, help="BCP-47 language of the subtitles, e.g. zh-Hans, es-419.")
@click.option("--profile", "layout", type=click.Choice(["standard", "vertical"]), default="standard", show_default=True, help="vertical: 9:16 layout, 3 shorter lines.")
@click.option("--audience", type=click.Choice(["adult", "children"]), default="adult", show_default=True)
@click.option("--fps", type=click.FloatRange(min=1, max=240), default=30.0, show_default=True, help="Frame rate of the video.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def qc_command(file: Path, lang: str, layout: str, audience: str, fps: float, as_json: bool) -> None:
    """Check FILE against the QC profile; exit 1 when it fails."""
    profile = _profile(lang, layout, audience)
    track = _read(file)
    report = check(track.cues, profile, fps)
    if as_json:
        data = {"file": str(file), "format": track.format, "encoding": track.encoding, "warnings": list(track.warnings), **report.to_dict()}
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        click.echo(f"{file}  ({track.format}, {track.encoding})  profile: {profile.name}, {fps:g} fps")
        for warning in track.warnings:
            click.echo(f"  note: {warning}")
        if report.issues:
            click.echo(f"  {'event':>5}  {'severity':<8}  {'code':<20}  message")
            for issue in report.issues:
                event = "-" if issue.event_index is None else str(issue.event_index)
                click.echo(f"  {event:>5}  {issue.severity:<8}  {issue.code:<20}  {issue.message}")
        verdict = "PASS" if report.passed else "FAIL"
        click.echo(f"{verdict}: {report.event_count} events, {report.error_count} errors, {report.warning_count} warnings")
    if not report.passed:
        sys.exit(1)


@subtitles.command("convert")
@click.argument("source", metavar="IN", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("target", metavar="OUT", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--fps-from", type=click.FloatRange(min=1, max=240), help="Frame rate the times were made for (e.g. 25).")
@click.option("--fps-to", type=click.FloatRange(min=1, max=240), help="Frame rate to retime to (e.g. 23.976).")
@click.option("--offset-ms", type=int, default=0, show_default=True, help="Shift every time by this much (after retiming).")
@click.option("--lang", help="Language written into TTML (default: the source's, else 'und').")
@click.option("--ttml-fps", type=click.FloatRange(min=1, max=240), help="Write frame-based TTML times at this frame rate.")
def convert_command(source: Path, target: Path, fps_from: float | None, fps_to: float | None, offset_ms: int, lang: str | None, ttml_fps: float | None) -> None:
    """Convert IN to OUT; formats come from the extensions (.srt .vtt .ass .ssa .ttml)."""
    if (fps_from is None) != (fps_to is None):
        raise click.UsageError("give --fps-from and --fps-to together")
    fmt = _output_format(target)
    track = _read(source)
    try:
        cues = retime(track.cues, fps_from=fps_from, fps_to=fps_to, offset_ms=offset_ms)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    target.write_bytes(write_subtitles(cues, fmt, language=lang or track.language or "und", fps=ttml_fps))
    click.echo(f"{source} ({track.format}, {track.encoding}) -> {target} ({fmt}, utf-8): {len(cues)} events")


@subtitles.command("autofix")
@click.argument("source", metavar="IN", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("target", metavar="OUT", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--lang", required=True, help="BCP-47 language of the subtitles.")
@click.option("--profile", "layout", type=click.Choice(["standard", "vertical"]), default="standard", show_default=True)
@click.option("--audience", type=click.Choice(["adult", "children"]), default="adult", show_default=True)
@click.option("--fps", type=click.FloatRange(min=1, max=240), default=30.0, show_default=True)
def autofix_command(source: Path, target: Path, lang: str, layout: str, audience: str, fps: float) -> None:
    """Fix gaps, short events, line breaks and empty events in IN; write OUT; exit 1 if
    QC still fails afterwards."""
    profile = _profile(lang, layout, audience)
    fmt = _output_format(target)
    track = _read(source)
    cues, fixes = autofix(track.cues, profile, fps)
    target.write_bytes(write_subtitles(cues, fmt, language=lang))
    for fix in fixes:
        click.echo(f"  event {fix.event_index}: {fix.code}: {fix.message}")
    report = check(cues, profile, fps)
    click.echo(f"{len(fixes)} fixes; now {'PASS' if report.passed else 'FAIL'} ({report.error_count} errors, {report.warning_count} warnings)")
    if not report.passed:
        sys.exit(1)
