"""The ``transcode`` click group, without any Flask app."""

from __future__ import annotations

import hashlib
import json

import pytest
from click.testing import CliRunner

from transcode.cli import transcode
from transcode.profiles import BUILTIN_PROFILES


def test_profiles_table():
    result = CliRunner().invoke(transcode, ["profiles"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split() == ["name", "summary"]
    assert [line.split()[0] for line in lines[1:]] == list(BUILTIN_PROFILES)
    assert "mp4, h264 1080x1920, 8000k" in result.output


def test_profiles_json_round_trips():
    result = CliRunner().invoke(transcode, ["profiles", "--json"])
    assert json.loads(result.output)["screener"] == BUILTIN_PROFILES["screener"].to_dict()


def test_run_needs_a_profile(tmp_path):
    src = tmp_path / "a.mp4"
    src.write_bytes(b"x")
    result = CliRunner().invoke(transcode, ["run", str(src), str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "give --profile NAME or --profile-file PATH" in result.output
    result = CliRunner().invoke(transcode, ["run", "--profile", "nope", str(src), str(tmp_path / "out")])
    assert "unknown profile 'nope'" in result.output


def test_bad_profile_file_names_the_field(tmp_path):
    bad = tmp_path / "p.json"
    bad.write_text(json.dumps({**BUILTIN_PROFILES["screener"].to_dict(), "container": "avi"}))
    src = tmp_path / "a.mp4"
    src.write_bytes(b"x")
    result = CliRunner().invoke(transcode, ["run", "--profile-file", str(bad), str(src), str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "container: must be one of" in result.output


@pytest.mark.slow
def test_run_prints_outputs_with_sha256(media, shrink, tmp_path):
    profile_file = tmp_path / "screener.json"
    profile_file.write_text(json.dumps(shrink(BUILTIN_PROFILES["screener"]).to_dict()))
    out = tmp_path / "out"
    result = CliRunner().invoke(transcode, [
        "run", "--profile-file", str(profile_file), "--watermark", "Acme 7f3a", "--producer", "Pudong Pictures",
        "--produce-id", "PP-1", media("portrait"), str(out),
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    path = out / "portrait.screener.mp4"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert f"{digest}  " in result.output
    assert str(path) in result.output


@pytest.mark.slow
def test_run_reports_a_rejected_source(media, tmp_path):
    result = CliRunner().invoke(transcode, [
        "run", "--profile", "upload_mp4", "--not-ai", media("landscape"), str(tmp_path / "out"),
    ])  # fmt: skip
    assert result.exit_code == 1
    assert "error: landscape source (320x180)" in result.output
