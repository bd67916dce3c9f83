"""The ``subtitles`` click group, through click's CliRunner (no app context)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from localization.cli import subtitles
from localization.formats import read_subtitles

GOOD = "1\n00:00:01,000 --> 00:00:03,000\n你好，我是林婉儿。\n\n2\n00:00:04,000 --> 00:00:06,000\n今天我们一起去上海吧！\n"
BAD = "1\n00:00:01,000 --> 00:00:01,200\n这一行字幕实在是太长了，根本没办法在手机屏幕上看清楚\n\n2\n00:00:01,210 --> 00:00:03,000\n\n"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def files(tmp_path):
    good = tmp_path / "E001.zh-Hans.srt"
    good.write_bytes(GOOD.encode("gb18030"))
    bad = tmp_path / "E002.zh-Hans.srt"
    bad.write_text(BAD, encoding="utf-8")
    junk = tmp_path / "junk.srt"
    junk.write_bytes(b"\x00\x01\x02garbage\xff\xfe")
    return {"good": good, "bad": bad, "junk": junk, "dir": tmp_path}


def test_qc_passes_with_exit_code_zero(runner, files):
    result = runner.invoke(subtitles, ["qc", str(files["good"]), "--lang", "zh-Hans"])
    assert result.exit_code == 0, result.output
    assert "gb18030" in result.output
    assert "PASS: 2 events, 0 errors" in result.output


def test_qc_fails_with_exit_code_one_and_a_table(runner, files):
    result = runner.invoke(subtitles, ["qc", str(files["bad"]), "--lang", "zh-CN", "--fps", "25"])
    assert result.exit_code == 1
    assert "line_too_long" in result.output
    assert "empty_event" in result.output
    assert result.output.strip().splitlines()[-1].startswith("FAIL:")


def test_qc_json(runner, files):
    result = runner.invoke(subtitles, ["qc", str(files["bad"]), "--lang", "zh-Hans", "--profile", "vertical", "--json"])
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["passed"] is False
    assert data["profile"].startswith("Simplified Chinese, vertical")
    assert data["encoding"] == "utf-8"
    assert {"line_too_long", "empty_event", "duration_too_short"} <= set(data["counts_by_code"])
    assert len(data["reading_speeds"]) == 2


def test_qc_unreadable_file_exits_two(runner, files):
    result = runner.invoke(subtitles, ["qc", str(files["junk"]), "--lang", "en"])
    assert result.exit_code == 2
    assert "cannot read" in result.output


def test_qc_bad_language_is_a_usage_error(runner, files):
    result = runner.invoke(subtitles, ["qc", str(files["good"]), "--lang", "not a tag!"])
    assert result.exit_code == 2


def test_convert_retimes_and_changes_format(runner, files):
    out = files["dir"] / "E001.zh-Hans.vtt"
    result = runner.invoke(subtitles, ["convert", str(files["good"]), str(out), "--fps-from", "25", "--fps-to", "23.976", "--offset-ms", "100"])
    assert result.exit_code == 0, result.output
    track = read_subtitles(out.read_bytes())
    assert track.format == "vtt"
    assert [(c.start_ms, c.end_ms) for c in track.cues] == [(1143, 3228), (4271, 6356)]


def test_convert_to_imsc(runner, files):
    out = files["dir"] / "E001.ttml"
    result = runner.invoke(subtitles, ["convert", str(files["good"]), str(out), "--lang", "zh-Hans", "--ttml-fps", "30"])
    assert result.exit_code == 0, result.output
    xml = out.read_text(encoding="utf-8")
    assert 'xml:lang="zh-Hans"' in xml
    assert 'ttp:frameRate="30"' in xml


def test_convert_refuses_unknown_output_and_half_a_retime(runner, files):
    result = runner.invoke(subtitles, ["convert", str(files["good"]), str(files["dir"] / "out.docx")])
    assert result.exit_code == 2
    result = runner.invoke(subtitles, ["convert", str(files["good"]), str(files["dir"] / "out.srt"), "--fps-from", "25"])
    assert result.exit_code == 2


def test_autofix_command(runner, files):
    out = files["dir"] / "fixed.srt"
    result = runner.invoke(subtitles, ["autofix", str(files["bad"]), str(out), "--lang", "zh-Hans"])
    assert "removed_empty" in result.output
    assert "rebroken" in result.output
    fixed = read_subtitles(out.read_bytes())
    assert len(fixed.cues) == 1
    assert all(len(line) <= 16 for line in fixed.cues[0].lines)
