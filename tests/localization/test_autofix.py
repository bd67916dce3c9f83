"""Autofix: each fix, line breaking rules, idempotence, and that fixed rules then pass."""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from localization.domain import (
    ARTICLES,
    EMPTY,
    GAP_NOT_CLOSED,
    GAP_TOO_SHORT,
    LINE_TOO_LONG,
    OVERLAP,
    TOO_MANY_LINES,
    TOO_SHORT,
    UNBALANCED_TAGS,
    autofix,
    check,
    rebreak,
)
from localization.formats import Cue
from localization.profiles import get_profile

EN = get_profile("en")
ZH = get_profile("zh-Hans")


def fix_codes(fixes):
    return [f.code for f in fixes]


def test_removes_empty_events_and_renumbers(make_cues):
    cues = make_cues((0, 2000, "One."), (3000, 4000, " <i></i> "), (5000, 7000, "Three."))
    out, fixes = autofix(cues, EN, 30)
    assert [c.text for c in out] == ["One.", "Three."]
    assert [c.index for c in out] == [1, 2]
    assert [(f.code, f.event_index) for f in fixes] == [("removed_empty", 2)]


def test_sorts_out_of_order_events(make_cues):
    out, fixes = autofix(make_cues((5000, 7000, "Later."), (1000, 3000, "Earlier.")), EN, 30)
    assert [c.text for c in out] == ["Earlier.", "Later."]
    assert "sorted" in fix_codes(fixes)


def test_closes_short_gaps_to_two_frames(make_cues):
    out, fixes = autofix(make_cues((0, 2000, "One."), (2300, 4000, "Two.")), EN, 30)
    assert out[0].end_ms == 2300 - 67  # two frames at 30 fps
    assert fix_codes(fixes) == ["gap_closed"]
    out24, _ = autofix(make_cues((0, 2000, "One."), (2300, 4000, "Two.")), EN, 24)
    assert out24[0].end_ms == 2300 - 83


def test_widens_a_gap_under_two_frames(make_cues):
    out, fixes = autofix(make_cues((0, 2000, "One."), (2010, 4000, "Two.")), EN, 30)
    assert out[0].end_ms == 2010 - 67
    assert fix_codes(fixes) == ["gap_widened"]


def test_leaves_gaps_of_half_a_second_or_more(make_cues):
    cues = make_cues((0, 2000, "One."), (2500, 4000, "Two."))
    assert autofix(cues, EN, 30) == (cues, [])


def test_trims_overlaps(make_cues):
    out, fixes = autofix(make_cues((0, 3000, "One."), (2500, 4000, "Two.")), EN, 30)
    assert out[0].end_ms == 2500 - 67
    assert fix_codes(fixes) == ["overlap_trimmed"]


def test_extends_short_events_when_there_is_room(make_cues):
    out, fixes = autofix(make_cues((0, 400, "Hi."), (5000, 7000, "Next.")), EN, 30)
    assert out[0].end_ms == 833
    assert fix_codes(fixes) == ["extended"]


def test_extension_stops_two_frames_before_the_next_event(make_cues):
    out, fixes = autofix(make_cues((0, 400, "Hi."), (700, 3000, "Next.")), EN, 30)
    assert out[0].end_ms == 700 - 67
    assert "extended" in fix_codes(fixes)
    assert TOO_SHORT in [i.code for i in check(out, EN, 30).issues]  # no room: still flagged


def test_extends_for_reading_speed(make_cues):
    text = "x" * 40  # 40 characters need 2 s at 20 characters/s
    out, _ = autofix(make_cues((0, 1000, text)), EN, 30)
    assert out[0].end_ms == 2000


def test_never_extends_beyond_the_maximum_duration(make_cues):
    text = "x" * 42 + "\n" + "y" * 42  # 84 characters would need 4.2 s in English …
    out, _ = autofix(make_cues((0, 1000, text)), replace(EN, reading_speed=5), 30)
    assert out[0].end_ms == 7000  # … 16.8 s at 5/s, capped at 7 s


def test_gap_closing_does_not_push_past_the_maximum(make_cues):
    cues = make_cues((0, 6900, "Long one."), (7300, 9000, "Next."))
    out, fixes = autofix(cues, EN, 30)
    assert out[0].end_ms == 6900
    assert fixes == []


def test_rebreaks_long_lines_after_punctuation():
    # Without the comma the balanced break would be "we need | to leave" (27/27).
    assert rebreak("I told you already, we need to leave before they arrive", EN) == (
        "I told you already,\nwe need to leave before they arrive"
    )


def test_rebreak_prefers_a_sentence_end():
    assert rebreak("I know. You should have told me about it sooner", EN) == (
        "I know.\nYou should have told me about it sooner"
    )


def test_rebreak_balances_lines_without_punctuation():
    assert rebreak("We have to find those papers before anybody else does it", EN) == (
        "We have to find those papers\nbefore anybody else does it"
    )


def test_an_article_break_is_never_a_fallback():
    assert rebreak("Ella vio una casa grande", replace(get_profile("es"), max_chars_per_line=14)) is None


@pytest.mark.parametrize(
    ("text", "profile", "expected"),
    [
        ("We saw the elephant", replace(EN, max_chars_per_line=12), "We saw\nthe elephant"),
        ("Ella vio una casa grande", replace(get_profile("es"), max_chars_per_line=15), "Ella vio\nuna casa grande"),
        ("Il a vu le chien noir", replace(get_profile("fr"), max_chars_per_line=13), "Il a vu\nle chien noir"),
        ("Ela comprou um carro novo", replace(get_profile("pt"), max_chars_per_line=15), "Ela comprou\num carro novo"),
    ],
)
def test_never_breaks_between_article_and_noun(text, profile, expected):
    assert rebreak(text, profile) == expected


def test_never_breaks_between_first_and_last_name():
    profile = replace(EN, max_chars_per_line=24)
    assert rebreak("I talked to Maria Fernanda yesterday", profile) == "I talked to\nMaria Fernanda yesterday"


@pytest.mark.parametrize(
    "text",
    [
        "The man who sold the house to a stranger has left the city for good",
        "Le directeur a donné les documents à la secrétaire hier",
        "La policía encontró el coche de un hombre en la playa ayer",
        "O menino deu uma flor para a menina no parque da cidade",
    ],
)
def test_no_line_ends_with_an_article(text):
    for cpl in (20, 25, 30, 42):
        new = rebreak(text, replace(get_profile("en", layout="vertical"), max_chars_per_line=cpl))
        if new is None:
            continue
        for line in new.split("\n")[:-1]:
            assert line.split()[-1].lower() not in ARTICLES, new


def test_cjk_breaks_at_punctuation_by_character_count():
    new = rebreak("总裁，这份合同必须马上签字，否则我们就要失去这个项目了", ZH)
    assert new == "总裁，这份合同必须马上签字，\n否则我们就要失去这个项目了"
    spaced = rebreak("总裁 这份合同必须马上签字 否则我们就要失去这个项目了", ZH)
    assert spaced == "总裁 这份合同必须马上签字\n否则我们就要失去这个项目了"


def test_cjk_never_starts_a_line_with_closing_punctuation():
    text = "我们必须马上离开这里，警察马上就要到了！快走吧。"
    for cpl in range(10, 17):
        new = rebreak(text, replace(ZH, max_chars_per_line=cpl))
        if new is None:
            continue
        assert all(line[0] not in "，。！？、" for line in new.split("\n")), new


def test_rebreak_keeps_tags_with_their_words_and_gives_up_when_it_cannot_fit():
    new = rebreak("<i>We have to find the documents before he does</i>", replace(EN, max_chars_per_line=30))
    assert new.startswith("<i>")
    assert new.endswith("</i>")
    assert "\n" in new
    assert rebreak("x" * 100, EN) is None
    assert rebreak("- Where are you going this late at night?\n- Home. I need some sleep.", replace(EN, max_chars_per_line=30)) is None


def test_autofix_rebreaks_and_reports(make_cues):
    cues = make_cues((0, 4000, "Listen to me, we have to leave this place before the police get here"))
    out, fixes = autofix(cues, EN, 30)
    assert fix_codes(fixes) == ["rebroken"]
    assert check(out, EN, 30).passed


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<i>left open", "<i>left open</i>"),
        ("<i><b>both open", "<i><b>both open</b></i>"),
        ("stray</i> closer", "stray closer"),
        ("<i>crossed <b>tags</i></b>", "<i>crossed <b>tags</i></b>"),
        ("<i>fine</i>", "<i>fine</i>"),
    ],
)
def test_closes_tags_left_open(make_cues, text, expected):
    out, fixes = autofix(make_cues((0, 2000, text)), EN, 30)
    assert out[0].text == expected
    assert fix_codes(fixes) == ([] if expected == text else ["tags_closed"])


def test_input_is_never_mutated(make_cues):
    cues = make_cues((0, 400, "Hi."), (420, 3000, "x" * 60), (2900, 3100, ""))
    snapshot = copy.deepcopy(cues)
    autofix(cues, EN, 30)
    assert cues == snapshot


FIXED_RULES = {EMPTY, GAP_TOO_SHORT, GAP_NOT_CLOSED, OVERLAP, LINE_TOO_LONG, TOO_MANY_LINES, TOO_SHORT, UNBALANCED_TAGS}


def test_fixed_track_passes_the_rules_it_fixes(make_cues):
    cues = make_cues(
        (0, 500, "Hi."),
        (2000, 2010, ""),
        (2600, 4500, "Listen to me, we have to leave this place before the police get here"),
        (4400, 6000, "Too close."),
        (6200, 8000, "Gap too short to keep."),
        (8010, 9500, "<i>Back to back."),
    )
    before = {i.code for i in check(cues, EN, 30).issues}
    assert FIXED_RULES - {TOO_MANY_LINES} <= before
    out, _ = autofix(cues, EN, 30)
    after = {i.code for i in check(out, EN, 30).issues}
    assert not (after & FIXED_RULES), after


WORDS = ["the", "a", "house", "Maria", "Lopez", "went", "home,", "quickly.", "una", "casa", "你好", "总裁，", "<i>yes</i>", "<i>", "</b>"]

cue_lists = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=60_000),
        st.integers(min_value=0, max_value=9_000),
        st.lists(st.sampled_from(WORDS), min_size=0, max_size=14),
        st.booleans(),
    ),
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(specs=cue_lists, fps=st.sampled_from([23.976, 24, 25, 29.97, 30, 60]), layout=st.sampled_from(["standard", "vertical"]))
def test_autofix_twice_equals_once(specs, fps, layout):
    cues = [
        Cue(n, start, start + length, ("\n" if newline else " ").join(words))
        for n, (start, length, words, newline) in enumerate(specs, 1)
    ]
    for language in ("en", "zh-Hans"):
        profile = get_profile(language, layout=layout)
        once, _ = autofix(cues, profile, fps)
        twice, fixes = autofix(once, profile, fps)
        assert twice == once
        assert fixes == []
