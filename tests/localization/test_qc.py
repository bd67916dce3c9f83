"""QC profiles and the QC engine, one rule at a time."""

from __future__ import annotations

import json

import pytest

from localization.domain import (
    EMPTY,
    GAP_NOT_CLOSED,
    GAP_TOO_SHORT,
    LINE_TOO_LONG,
    OUT_OF_ORDER,
    OVERLAP,
    READING_SPEED,
    TOO_LONG,
    TOO_MANY_LINES,
    TOO_SHORT,
    UNBALANCED_TAGS,
    QCReport,
    check,
    count_characters,
    summarize_season,
)
from localization.profiles import get_profile, normalize_language

EN = get_profile("en")
ZH = get_profile("zh-Hans")


def codes(report: QCReport) -> list[str]:
    return [issue.code for issue in report.issues]


# --------------------------------------------------------------------------- profiles


@pytest.mark.parametrize(
    ("tag", "name", "cpl", "speed"),
    [
        ("en", "English", 42, 20),
        ("en-GB", "English", 42, 20),
        ("es-419", "Spanish", 42, 17),
        ("pt-BR", "Portuguese", 42, 17),
        ("fr-CA", "French", 42, 17),
        ("de", "Latin-script default", 42, 17),
        ("ar", "Arabic", 42, 20),
        ("zh-Hans", "Simplified Chinese", 16, 9),
        ("zh-CN", "Simplified Chinese", 16, 9),
        ("zh", "Simplified Chinese", 16, 9),
        ("zh-TW", "Traditional Chinese", 16, 9),
        ("zh-Hant-HK", "Traditional Chinese", 16, 9),
        ("ko", "Korean", 16, 12),
        ("ja", "Japanese", 13, 4),
        ("th", "Thai", 35, 17),
        ("hi", "Hindi", 42, 22),
    ],
)
def test_profile_selection_by_bcp47(tag, name, cpl, speed):
    profile = get_profile(tag)
    assert profile.name.startswith(name)
    assert (profile.max_chars_per_line, profile.reading_speed, profile.max_lines) == (cpl, speed, 2)
    assert (profile.min_duration_ms, profile.max_duration_ms, profile.min_gap_frames) == (833, 7000, 2)


@pytest.mark.parametrize(
    ("tag", "name"),
    [
        # The script CLDR finds likely for the language and region.
        ("zh-SG", "Simplified Chinese"),
        ("zh-MY", "Simplified Chinese"),
        ("cmn", "Simplified Chinese"),
        ("wuu", "Simplified Chinese"),
        ("yue-CN", "Simplified Chinese"),
        ("zh-HK", "Traditional Chinese"),
        ("zh-MO", "Traditional Chinese"),
        ("yue", "Traditional Chinese"),
        ("cmn-TW", "Traditional Chinese"),
        # A script written in the tag wins; Latin letters follow the Latin rules.
        ("yue-Hans", "Simplified Chinese"),
        ("cmn-Hant", "Traditional Chinese"),
        ("zh-Latn", "Latin-script default"),
        ("yue-Latn", "Latin-script default"),
    ],
)
def test_a_chinese_language_goes_by_its_script(tag, name):
    assert get_profile(tag).name.startswith(name + ",")


def test_children_vertical_and_overrides():
    assert get_profile("en", audience="children").reading_speed == 17
    assert get_profile("zh-Hans", audience="children").reading_speed == 7
    vertical = get_profile("es", layout="vertical")
    assert (vertical.max_lines, vertical.max_chars_per_line) == (3, 25)
    assert get_profile("zh-Hans", layout="vertical").max_chars_per_line == 12
    assert get_profile("ar", overrides={"ar": {"reading_speed_adult": 17}}).reading_speed == 17
    assert get_profile("ja", overrides={"ja": {"chars_per_line": 23}}).max_chars_per_line == 23
    with pytest.raises(ValueError, match="layout"):
        get_profile("en", layout="square")  # type: ignore[arg-type]


def test_normalize_language():
    assert normalize_language("zh_hans") == "zh-Hans"
    assert normalize_language("PT-br") == "pt-BR"
    assert normalize_language("ES-419") == "es-419"
    with pytest.raises(ValueError):
        normalize_language("not a tag!")


# --------------------------------------------------------------------------- one rule at a time


def test_a_clean_track_passes(make_cues):
    cues = make_cues((0, 2000, "Hello there."), (3000, 5000, "<i>How are you?</i>\nFine, thanks."))
    report = check(cues, EN, 30)
    assert report.passed
    assert report.issues == ()
    assert report.event_count == 2


def test_characters_per_line(make_cues):
    ok = "x" * 42
    report = check(make_cues((0, 5000, ok), (6000, 9000, "y" * 43)), EN, 30)
    assert codes(report) == [LINE_TOO_LONG]
    assert (report.issues[0].event_index, report.issues[0].line) == (2, 1)


def test_cjk_counts_each_character(make_cues):
    sixteen = "你好我是林婉儿今天我们一起去上海"
    assert len(sixteen) == 16
    assert check(make_cues((0, 4000, sixteen)), ZH, 30).passed
    report = check(make_cues((0, 4000, sixteen + "吧")), ZH, 30)
    assert LINE_TOO_LONG in codes(report)


def test_tags_do_not_count(make_cues):
    text = "<i>" + "x" * 40 + "</i>{\\an8}"
    assert LINE_TOO_LONG not in codes(check(make_cues((0, 5000, text)), EN, 30))


def test_lines_per_event_standard_and_vertical(make_cues):
    cues = make_cues((0, 5000, "One\nTwo\nThree"))
    assert codes(check(cues, EN, 30)) == [TOO_MANY_LINES]
    assert check(cues, get_profile("en", layout="vertical"), 30).passed


def test_reading_speed(make_cues):
    # 20 characters in one second is the English limit; 21 is over.
    assert count_characters("abcdefghij\nklmnopqrst") == 20
    assert check(make_cues((0, 1000, "abcdefghij\nklmnopqrst")), EN, 30).passed
    report = check(make_cues((0, 1000, "abcdefghij\nklmnopqrstu")), EN, 30)
    assert codes(report) == [READING_SPEED]
    # Chinese: 9 characters per second.
    assert check(make_cues((0, 1000, "你好我是林婉儿今天")), ZH, 30).passed
    assert codes(check(make_cues((0, 1000, "你好我是林婉儿今天我")), ZH, 30)) == [READING_SPEED]


def test_reading_speed_series(make_cues):
    report = check(make_cues((0, 2000, "x" * 20), (3000, 4000, "y" * 5)), EN, 30)
    assert [(p.event_index, p.characters, p.chars_per_second, p.limit) for p in report.reading_speeds] == [
        (1, 20, 10.0, 20.0),
        (2, 5, 5.0, 20.0),
    ]


def test_minimum_and_maximum_duration(make_cues):
    assert check(make_cues((0, 833, "Hi.")), EN, 30).passed
    assert codes(check(make_cues((0, 832, "Hi.")), EN, 30)) == [TOO_SHORT]
    assert check(make_cues((0, 7000, "Hi.")), EN, 30).passed
    assert codes(check(make_cues((0, 7001, "Hi.")), EN, 30)) == [TOO_LONG]


def test_minimum_gap_in_frames_depends_on_frame_rate(make_cues):
    # 70 ms is two frames at 30 fps (66.7 ms) but not at 24 fps (83.3 ms).
    cues = make_cues((0, 2000, "One."), (2070, 4000, "Two."))
    assert GAP_TOO_SHORT not in codes(check(cues, EN, 30))
    assert codes(check(cues, EN, 24)) == [GAP_TOO_SHORT]
    # 83 ms is how two frames at 24 fps are written in whole milliseconds.
    assert GAP_TOO_SHORT not in codes(check(make_cues((0, 2000, "One."), (2083, 4000, "Two.")), EN, 24))
    back_to_back = make_cues((0, 2000, "One."), (2000, 4000, "Two."))
    assert codes(check(back_to_back, EN, 30)) == [GAP_TOO_SHORT]


def test_short_gap_not_closed_is_a_warning(make_cues):
    report = check(make_cues((0, 2000, "One."), (2300, 4000, "Two.")), EN, 30)
    assert codes(report) == [GAP_NOT_CLOSED]
    assert report.issues[0].severity == "warning"
    assert report.passed
    assert check(make_cues((0, 2000, "One."), (2500, 4000, "Two.")), EN, 30).issues == ()


def test_overlap_and_out_of_order(make_cues):
    assert codes(check(make_cues((0, 2500, "One."), (2000, 4000, "Two.")), EN, 30)) == [OVERLAP]
    report = check(make_cues((5000, 7000, "Later."), (1000, 3000, "Earlier.")), EN, 30)
    assert OUT_OF_ORDER in codes(report)


def test_empty_event(make_cues):
    report = check(make_cues((0, 2000, "<i></i>")), EN, 30)
    assert codes(report) == [EMPTY]


@pytest.mark.parametrize(
    ("text", "severity"),
    [
        ("<i>open only", "error"),
        ("close only</i>", "error"),
        ("<i><b>crossed</i></b>", "error"),
        ("{\\i1}left on", "warning"),
        ("off{\\i0} without on", "warning"),
    ],
)
def test_unbalanced_tags(make_cues, text, severity):
    report = check(make_cues((0, 2000, text)), EN, 30)
    assert UNBALANCED_TAGS in codes(report)
    assert {i.severity for i in report.issues if i.code == UNBALANCED_TAGS} == {severity}


@pytest.mark.parametrize("text", ["<i>fine</i>", "<i><b>nested</b></i>", "{\\i1}on{\\i0} off", "{\\i1\\b1}x{\\r}", "<v Lin>open voice is fine"])
def test_balanced_tags(make_cues, text):
    assert UNBALANCED_TAGS not in codes(check(make_cues((0, 2000, text)), EN, 30))


def test_report_serialises(make_cues):
    report = check(make_cues((0, 500, "<i>x"), (600, 1800, "y" * 50)), EN, 25)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["passed"] is False
    assert data["error_count"] == report.error_count
    assert QCReport.from_dict(data) == report
    assert report.issues_for(2)
    assert all(i.event_index == 2 for i in report.issues_for(2))


def test_season_summary(make_cues):
    good = check(make_cues((0, 2000, "Fine.")), EN, 30)
    bad = check(make_cues((0, 100, "<i>x"), (50, 200, "")), EN, 30)
    meh = check(make_cues((0, 2000, "One."), (2300, 4000, "Two.")), EN, 30)
    summary = summarize_season({"E001 en": good, "E002 en": bad, "E003 en": meh}, worst=2)
    assert (summary.total, summary.passed, summary.failed) == (3, 2, 1)
    assert [e.label for e in summary.worst] == ["E002 en", "E003 en"]
    assert summary.issues_by_code[EMPTY] == 1
    assert summary.pass_rate == pytest.approx(2 / 3)
