"""Translation: pseudo provider, HTTP providers against a loopback server, glossary, memory,
and the all-or-nothing track translation."""

from __future__ import annotations

import pytest

from localization.formats import Cue, visible_text
from localization.translation import (
    DeepLProvider,
    Glossary,
    GlossaryEntry,
    InMemoryTranslationMemory,
    OpenAIChatProvider,
    Provider,
    PseudoProvider,
    TranslationError,
    check_glossary,
    deepl_language,
    enforce_glossary,
    protect_terms,
    translate_track,
)

GLOSSARY = Glossary.from_mapping({
    "林婉儿": {"en": "Lin Wan'er", "es": "Lin Wan'er", "pt-BR": "Lin Wan'er"},
    "陆总": {"en": "President Lu", "es": "presidente Lu"},
})


class Scripted(Provider):
    """A provider that answers from a function and records every batch it was sent."""

    name = "scripted"

    def __init__(self, answer=lambda text: f"EN:{text}", fail_on_call: int | None = None) -> None:
        self.answer = answer
        self.batches: list[list[str]] = []
        self.glossaries: list[dict] = []
        self.fail_on_call = fail_on_call

    def translate(self, texts, source_lang, target_lang, glossary=None):
        self.batches.append(list(texts))
        self.glossaries.append(dict(glossary or {}))
        if self.fail_on_call is not None and len(self.batches) == self.fail_on_call:
            raise TranslationError("scripted failure")
        return [self.answer(text) for text in texts]


# --------------------------------------------------------------------------- pseudo


def test_pseudo_accents_lengthens_brackets_and_keeps_tags_and_breaks():
    [out] = PseudoProvider().translate(["<i>Where are you going?</i>\nHome, {\\i1}now{\\i0}."], "en", "en-XA")
    first, second = out.split("\n")
    assert first.startswith("[<i>")
    assert first.endswith("]")
    assert "</i>" in first
    assert "{\\i1}" in second
    assert "{\\i0}" in second
    assert "Ŵĥéŕé" in first
    source_len = len("Where are you going?")
    assert len(visible_text(first)) >= round(source_len * 1.3)  # brackets included


def test_pseudo_keeps_glossary_terms_verbatim():
    [out] = PseudoProvider().translate(["林婉儿 meets President"], "zh", "en", {"林婉儿": "Lin Wan'er"})
    assert "Lin Wan'er" in out
    assert "Þŕéšîđéñţ" in out


# --------------------------------------------------------------------------- glossary


def test_glossary_terms_fall_back_from_region_to_base_language():
    assert GLOSSARY.terms_for("es-419") == {"林婉儿": "Lin Wan'er", "陆总": "presidente Lu"}
    assert GLOSSARY.terms_for("pt-BR") == {"林婉儿": "Lin Wan'er"}
    assert GLOSSARY.terms_for("pt-PT") == {}
    assert GlossaryEntry("Li", {"en": "Lee"}).target_for("EN-gb") == "Lee"


def test_latin_terms_match_whole_words_only():
    assert protect_terms("Li met Lisa", {"Li": "Lee"}, "[", "]") == "[Lee] met Lisa"


def test_enforce_replaces_an_untranslated_term():
    assert enforce_glossary("陆总来了", "陆总 is here", {"陆总": "President Lu"}) == "President Lu is here"
    assert enforce_glossary("陆总来了", "The boss is here", {"陆总": "President Lu"}) == "The boss is here"


def test_check_reports_events_missing_a_term():
    source = [Cue(1, 0, 1000, "林婉儿，你好"), Cue(2, 1000, 2000, "陆总来了"), Cue(3, 2000, 3000, "没有术语")]
    target = [Cue(1, 0, 1000, "Hello, lin wan'er"), Cue(2, 1000, 2000, "The boss is here"), Cue(3, 2000, 3000, "No term")]
    misses = check_glossary(source, target, GLOSSARY.terms_for("en"))
    assert [(m.event_index, m.source_term, m.expected) for m in misses] == [(2, "陆总", "President Lu")]


# --------------------------------------------------------------------------- translation memory


def test_memory_normalizes_whitespace_and_separates_language_pairs():
    tm = InMemoryTranslationMemory()
    tm.store("你好  ", "zh-Hans", "en", "Hello")
    assert tm.lookup(" 你好", "zh-Hans", "en") == "Hello"
    assert tm.lookup("你好", "zh-Hans", "es") is None
    assert tm.lookup_many(["你好", "再见"], "zh-Hans", "en") == {"你好": "Hello"}


# --------------------------------------------------------------------------- translate_track


def _cues(*texts: str) -> list[Cue]:
    return [Cue(n, n * 1000, n * 1000 + 900, text, style="Default") for n, text in enumerate(texts, 1)]


def test_translate_track_batches_dedupes_and_reports_progress():
    cues = _cues("一", "二", "一", "三", "四", "", "五")
    provider = Scripted()
    seen: list[tuple[int, int]] = []
    result = translate_track(cues, "zh-Hans", "en", provider, progress=lambda done, total: seen.append((done, total)), batch_size=2)
    assert [c.text for c in result.cues] == ["EN:一", "EN:二", "EN:一", "EN:三", "EN:四", "", "EN:五"]
    assert [(c.index, c.start_ms, c.end_ms, c.style) for c in result.cues] == [(c.index, c.start_ms, c.end_ms, c.style) for c in cues]
    assert provider.batches == [["一", "二"], ["三", "四"], ["五"]]
    assert result.sent_to_provider == 5
    assert seen[0] == (1, 7)  # the empty cue needs no translation
    assert seen[-1] == (7, 7)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_translation_memory_spares_repeated_lines_across_episodes():
    tm = InMemoryTranslationMemory()
    first = Scripted()
    translate_track(_cues("你好", "走吧"), "zh-Hans", "en", first, tm=tm)
    second = Scripted(answer=lambda text: "SHOULD NOT BE ASKED" if text == "你好" else f"EN:{text}")
    result = translate_track(_cues("你好", "新的台词"), "zh-Hans", "en", second, tm=tm)
    assert [c.text for c in result.cues] == ["EN:你好", "EN:新的台词"]
    assert second.batches == [["新的台词"]]
    assert result.memory_hits == 1
    assert len(tm) == 3


def test_a_failure_raises_returns_nothing_and_stores_nothing():
    tm = InMemoryTranslationMemory()
    provider = Scripted(fail_on_call=2)
    with pytest.raises(TranslationError, match="scripted failure"):
        translate_track(_cues("一", "二", "三"), "zh-Hans", "en", provider, tm=tm, batch_size=1)
    assert len(tm) == 0


def test_a_provider_returning_the_wrong_count_is_refused():
    class Short(Scripted):
        def translate(self, texts, source_lang, target_lang, glossary=None):
            return super().translate(texts, source_lang, target_lang, glossary)[:-1]

    with pytest.raises(TranslationError, match="for 2 lines"):
        translate_track(_cues("一", "二"), "zh-Hans", "en", Short())


def test_glossary_is_passed_enforced_and_checked():
    provider = Scripted(answer=lambda text: {"陆总来了": "陆总 is here", "林婉儿哭了": "She cried"}[text])
    result = translate_track(_cues("陆总来了", "林婉儿哭了"), "zh-Hans", "en", provider, glossary=GLOSSARY)
    assert provider.glossaries[0] == {"林婉儿": "Lin Wan'er", "陆总": "President Lu"}
    assert result.cues[0].text == "President Lu is here"
    assert [(m.event_index, m.source_term) for m in result.glossary_misses] == [(2, "林婉儿")]


def test_pseudo_track_keeps_timing_and_lengthens():
    cues = _cues("Where are you going?", "<i>Home.</i>")
    result = translate_track(cues, "en", "en-XA", PseudoProvider())
    assert [(c.start_ms, c.end_ms) for c in result.cues] == [(c.start_ms, c.end_ms) for c in cues]
    assert all(len(new.text) > len(old.text) for new, old in zip(result.cues, cues, strict=True))


# --------------------------------------------------------------------------- OpenAI-compatible


def _chat_answer(content: str) -> dict:
    return {"id": "x", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]}


def test_openai_provider_good_answer(loopback):
    loopback.reply(_chat_answer('```json\n{"translations": ["Lin Wan\'er, hello", "Let\'s go\\nnow"]}\n```'))
    provider = OpenAIChatProvider(loopback.url + "/v1", "sk-test", "qwen-plus", timeout=5)
    out = provider.translate(["林婉儿，你好", "走吧\n现在"], "zh-Hans", "en", {"林婉儿": "Lin Wan'er"})
    assert out == ["Lin Wan'er, hello", "Let's go\nnow"]
    request = loopback.requests[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == "Bearer sk-test"
    assert request["body"]["model"] == "qwen-plus"
    system, user = request["body"]["messages"]
    assert "林婉儿 → Lin Wan'er" in system["content"]
    assert "exactly 2 strings" in system["content"]
    assert "⟦Lin Wan'er⟧" in user["content"]  # the term travels protected


def test_openai_provider_strips_protection_marks_from_the_answer(loopback):
    loopback.reply(_chat_answer('{"translations": ["⟦Lin Wan\'er⟧, hello"]}'))
    provider = OpenAIChatProvider(loopback.url, "k", "m", timeout=5)
    assert provider.translate(["林婉儿，你好"], "zh", "en", {"林婉儿": "Lin Wan'er"}) == ["Lin Wan'er, hello"]


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ("<html>bad gateway</html>", 200, "not JSON"),
        (_chat_answer("Sure! Here are your translations."), 200, "not JSON"),
        (_chat_answer('{"translations": ["only one"]}'), 200, "wrong count"),
        (_chat_answer('{"translations": ["", "two"]}'), 200, "empty translation"),
        (_chat_answer('{"translations": [1, 2]}'), 200, "list of strings"),
        (_chat_answer(""), 200, "empty"),
        ({"error": {"message": "quota"}}, 200, "choices"),
        ({"error": {"message": "rate limited"}}, 429, "HTTP 429"),
    ],
)
def test_openai_provider_garbage_raises(loopback, body, status, needle):
    loopback.reply(body, status)
    provider = OpenAIChatProvider(loopback.url, "k", "m", timeout=5)
    with pytest.raises(TranslationError) as info:
        provider.translate(["一", "二"], "zh", "en")
    assert needle in info.value.reason


def test_openai_provider_timeout(loopback):
    loopback.reply(_chat_answer('{"translations": ["late"]}'))
    loopback.delay = 1.0
    provider = OpenAIChatProvider(loopback.url, "k", "m", timeout=0.2)
    with pytest.raises(TranslationError, match="timeout"):
        provider.translate(["一"], "zh", "en")


def test_unreachable_endpoint_raises():
    provider = OpenAIChatProvider("http://127.0.0.1:9", "k", "m", timeout=2)
    with pytest.raises(TranslationError, match="cannot reach|connection"):
        provider.translate(["一"], "zh", "en")


# --------------------------------------------------------------------------- DeepL-style


def test_deepl_provider_good_answer(loopback):
    loopback.reply({"translations": [
        {"detected_source_language": "ZH", "text": "<x>Lin Wan'er</x>, ¿estás bien?<br/>Vamos &amp; ya"},
        {"detected_source_language": "ZH", "text": "<i>Adiós</i>"},
    ]})
    provider = DeepLProvider(loopback.url, "key:fx", timeout=5)
    out = provider.translate(["林婉儿，你还好吗？\n走 & 吧", "<i>再见</i>"], "zh-Hans", "es-419", {"林婉儿": "Lin Wan'er"})
    assert out == ["Lin Wan'er, ¿estás bien?\nVamos & ya", "<i>Adiós</i>"]
    request = loopback.requests[0]
    assert request["path"] == "/v2/translate"
    assert request["headers"]["Authorization"] == "DeepL-Auth-Key key:fx"
    body = request["body"]
    assert body["text"] == ["<x>Lin Wan'er</x>，你还好吗？<br/>走 &amp; 吧", "<i>再见</i>"]
    assert (body["source_lang"], body["target_lang"], body["tag_handling"], body["ignore_tags"]) == ("ZH", "ES", "xml", ["x"])


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("not json at all", "not JSON"),
        ({"translations": [{"text": "uno"}]}, "wrong count"),
        ({"message": "Wrong endpoint"}, "translations"),
    ],
)
def test_deepl_provider_garbage_raises(loopback, body, needle):
    loopback.reply(body)
    with pytest.raises(TranslationError) as info:
        DeepLProvider(loopback.url, "k", timeout=5).translate(["一", "二"], "zh", "es")
    assert needle in info.value.reason


def test_deepl_provider_timeout(loopback):
    loopback.reply({"translations": [{"text": "tarde"}]})
    loopback.delay = 1.0
    with pytest.raises(TranslationError, match="timeout"):
        DeepLProvider(loopback.url, "k", timeout=0.2).translate(["一"], "zh", "es")


@pytest.mark.parametrize(
    ("tag", "target", "expected"),
    [
        ("en", True, "EN-US"),
        ("en-GB", True, "EN-GB"),
        ("pt-BR", True, "PT-BR"),
        ("pt", True, "PT-PT"),
        ("zh-Hans", True, "ZH-HANS"),
        ("zh-TW", True, "ZH-HANT"),
        ("es-419", True, "ES"),
        ("th", True, "TH"),
        ("zh-Hans", False, "ZH"),
        ("pt-BR", False, "PT"),
    ],
)
def test_deepl_language_codes(tag, target, expected):
    assert deepl_language(tag, target=target) == expected
