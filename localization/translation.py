"""Machine translation of subtitle tracks: providers, glossary, translation memory.

``translate_track`` is the one entry point a job needs: it looks every line up in the
translation memory, sends only the unique remaining lines to the provider in batches,
enforces and checks the title's glossary, and returns new cues — or raises
:class:`TranslationError` and returns nothing (and stores nothing in the memory).

Providers: :class:`PseudoProvider` (pseudo-localisation, for testing layouts and line
limits), :class:`OpenAIChatProvider` (any OpenAI-compatible ``/chat/completions``) and
:class:`DeepLProvider` (a DeepL-style ``/v2/translate``). HTTP goes through
``urllib.request`` with a timeout: no extra dependency.
"""

from __future__ import annotations

import json
import re
import unicodedata
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from localization.formats import Cue

__all__ = [
    "DeepLProvider",
    "Glossary",
    "GlossaryEntry",
    "GlossaryMiss",
    "InMemoryTranslationMemory",
    "OpenAIChatProvider",
    "Provider",
    "PseudoProvider",
    "TranslationError",
    "TranslationMemory",
    "TranslationResult",
    "check_glossary",
    "translate_track",
]

ProgressCallback = Callable[[int, int], None]

# Protected glossary terms travel between these marks; they are rare enough in subtitles
# that seeing one in a translation can only mean ours.
PROTECT_OPEN, PROTECT_CLOSE = "\u27e6", "\u27e7"  # ⟦ ⟧
_MAX_RESPONSE_BYTES = 10 * 1024 * 1024


class TranslationError(Exception):
    """A provider failed: timed out, unreachable, an HTTP error, or an answer that is not
    what was asked (not JSON, wrong number of lines, empty lines). ``reason`` says which."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


# --------------------------------------------------------------------------- glossary

def _base(tag: str) -> str:
    return tag.replace("_", "-").split("-")[0].lower()


@dataclass(frozen=True)
class GlossaryEntry:
    """A source term (character name, place, honorific) and its rendering per target
    language, keyed by BCP-47 tag (``es`` covers ``es-419`` unless that has its own)."""

    source: str
    targets: Mapping[str, str]
    note: str = ""

    def target_for(self, language: str) -> str | None:
        wanted = language.replace("_", "-").lower()
        by_lower = {tag.replace("_", "-").lower(): term for tag, term in self.targets.items()}
        if wanted in by_lower:
            return by_lower[wanted]
        parts = wanted.split("-")
        while len(parts) > 1:
            parts.pop()
            if "-".join(parts) in by_lower:
                return by_lower["-".join(parts)]
        return None


@dataclass(frozen=True)
class Glossary:
    """A title's glossary."""

    entries: tuple[GlossaryEntry, ...] = ()

    @classmethod
    def from_mapping(cls, data: Mapping[str, Mapping[str, str]]) -> Glossary:
        """``{"林婉儿": {"en": "Lin Wan'er", "es": "Lin Wan'er"}}`` → Glossary."""
        return cls(tuple(GlossaryEntry(source, dict(targets)) for source, targets in data.items()))

    def terms_for(self, target_language: str) -> dict[str, str]:
        """Source term → target term for one target language (entries without a rendering
        for it are left out)."""
        out = {}
        for entry in self.entries:
            target = entry.target_for(target_language)
            if target:
                out[entry.source] = target
        return out


# Word bounds for Latin terms: "Li" must not match inside "Lisa", but "Lin Wan'er" next to
# Chinese characters (是Lin Wan'er。) is a whole word; ``\w`` would count 是 as a letter.
_LATIN_WORD = "0-9A-Za-z\u00c0-\u024f_"
_NOT_AFTER_LATIN = f"(?<![{_LATIN_WORD}])"
_NOT_BEFORE_LATIN = f"(?![{_LATIN_WORD}])"


def _term_pattern(terms: Iterable[str]) -> re.Pattern[str] | None:
    """One regex for all terms, longest first; Latin terms match whole words only (so
    'Li' does not match inside 'Lisa'), CJK terms match anywhere (no spaces to bound)."""
    parts = []
    for term in sorted(set(terms), key=len, reverse=True):
        escaped = re.escape(term)
        if term[:1].isascii() and term[:1].isalnum():
            escaped = _NOT_AFTER_LATIN + escaped
        if term[-1:].isascii() and term[-1:].isalnum():
            escaped += _NOT_BEFORE_LATIN
        parts.append(escaped)
    return re.compile("|".join(parts)) if parts else None


def protect_terms(text: str, terms: Mapping[str, str], open_mark: str = PROTECT_OPEN, close_mark: str = PROTECT_CLOSE) -> str:
    """Replace each glossary source term in ``text`` with its target term between marks,
    so the provider keeps it as it is."""
    pattern = _term_pattern(terms)
    if pattern is None:
        return text
    return pattern.sub(lambda m: f"{open_mark}{terms[m.group()]}{close_mark}", text)


def unprotect(text: str, open_mark: str = PROTECT_OPEN, close_mark: str = PROTECT_CLOSE) -> str:
    return text.replace(open_mark, "").replace(close_mark, "")


def _contains(text: str, term: str) -> bool:
    if term.isascii():
        pattern = _NOT_AFTER_LATIN + re.escape(term) + _NOT_BEFORE_LATIN
        return re.search(pattern, text, re.IGNORECASE) is not None
    return term in text


def enforce_glossary(source: str, translated: str, terms: Mapping[str, str]) -> str:
    """Where a source term was left untranslated in ``translated`` (a model copied 林婉儿
    into English text), put the target term in its place."""
    pattern = _term_pattern(terms)
    if pattern is None:
        return translated
    for term in {m.group() for m in pattern.finditer(source)}:
        target = terms[term]
        if not _contains(translated, target) and term in translated:
            translated = translated.replace(term, target)
    return translated


@dataclass(frozen=True)
class GlossaryMiss:
    """A translated event whose source has a glossary term the translation lacks."""

    event_index: int
    source_term: str
    expected: str


def check_glossary(sources: Sequence[Cue], translations: Sequence[Cue], terms: Mapping[str, str]) -> list[GlossaryMiss]:
    """Pair source and translated cues (same order) and report every glossary term found
    in a source event whose target term is missing from the translated event."""
    pattern = _term_pattern(terms)
    if pattern is None:
        return []
    misses = []
    for src, dst in zip(sources, translations, strict=True):
        for term in sorted({m.group() for m in pattern.finditer(src.text)}):
            if not _contains(dst.text, terms[term]):
                misses.append(GlossaryMiss(dst.index, term, terms[term]))
    return misses


# --------------------------------------------------------------------------- translation memory

def normalize_source(text: str) -> str:
    """The memory key for a line: NFC, each line stripped, runs of spaces collapsed."""
    text = unicodedata.normalize("NFC", text)
    return "\n".join(re.sub(r"[ \t\u3000]+", " ", line).strip() for line in text.split("\n")).strip()


class TranslationMemory(ABC):
    """Source line → translation, per language pair. Identical lines across a season's
    episodes are translated once. Implement lookup/store (e.g. on a table keyed by the
    normalized source, source and target language); override the *_many methods to do it
    in one query."""

    @abstractmethod
    def lookup(self, source_text: str, source_lang: str, target_lang: str) -> str | None: ...

    @abstractmethod
    def store(self, source_text: str, source_lang: str, target_lang: str, target_text: str) -> None: ...

    def lookup_many(self, texts: Iterable[str], source_lang: str, target_lang: str) -> dict[str, str]:
        found = {}
        for text in texts:
            hit = self.lookup(text, source_lang, target_lang)
            if hit is not None:
                found[text] = hit
        return found

    def store_many(self, pairs: Mapping[str, str], source_lang: str, target_lang: str) -> None:
        for source_text, target_text in pairs.items():
            self.store(source_text, source_lang, target_lang, target_text)


class InMemoryTranslationMemory(TranslationMemory):
    """A dict-backed memory (tests, CLI, one process)."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str, str], str] = {}

    def lookup(self, source_text: str, source_lang: str, target_lang: str) -> str | None:
        return self.entries.get((normalize_source(source_text), source_lang.lower(), target_lang.lower()))

    def store(self, source_text: str, source_lang: str, target_lang: str, target_text: str) -> None:
        self.entries[(normalize_source(source_text), source_lang.lower(), target_lang.lower())] = target_text

    def __len__(self) -> int:
        return len(self.entries)


# --------------------------------------------------------------------------- providers

class Provider(ABC):
    """Translates a batch of subtitle texts. Must return exactly one string per input, in
    order, keeping line breaks and tags as far as the language allows; raises
    TranslationError on any failure."""

    name = "provider"

    @abstractmethod
    def translate(
        self,
        texts: Sequence[str],
        source_lang: str,
        target_lang: str,
        glossary: Mapping[str, str] | None = None,
    ) -> list[str]: ...


_ACCENTS = str.maketrans(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "åƀçđéƒĝĥîĵķļɱñöþǫŕšţûṽŵẋýžÅƁÇĐÉƑĜĤÎĴĶĻṀÑÖÞǪŔŠŢÛṼŴẊÝŽ",
)
_PSEUDO_SPLIT_RE = re.compile(r"(<[^<>]*>|\{\\[^{}]*\}|\u27e6[^\u27e7]*\u27e7)")


class PseudoProvider(Provider):
    """Pseudo-localisation: accented Latin letters, each line about ``expansion`` longer
    (German and French run ~30–35% longer than English) and in brackets, tags, line
    breaks and glossary terms kept. Deterministic and offline."""

    name = "pseudo"

    def __init__(self, expansion: float = 0.35) -> None:
        self.expansion = expansion

    def _line(self, line: str) -> str:
        if not line.strip():
            return line
        parts = _PSEUDO_SPLIT_RE.split(line)
        visible = 0
        out = []
        for part in parts:
            if not part:
                continue
            if _PSEUDO_SPLIT_RE.fullmatch(part):
                out.append(part)
                visible += len(part) - 2 if part.startswith(PROTECT_OPEN) else 0
            else:
                out.append(part.translate(_ACCENTS))
                visible += len(part)
        padding = "·" * max(1, round(visible * self.expansion) - 2)
        return "[" + "".join(out) + padding + "]"

    def translate(self, texts: Sequence[str], source_lang: str, target_lang: str, glossary: Mapping[str, str] | None = None) -> list[str]:
        out = []
        for text in texts:
            protected = protect_terms(text, glossary or {})
            out.append(unprotect("\n".join(self._line(line) for line in protected.split("\n"))))
        return out


def _post_json(url: str, payload: Any, headers: Mapping[str, str], timeout: float) -> Any:
    """POST JSON, return the decoded JSON answer; every failure becomes TranslationError."""
    request = urllib.request.Request(
        url,
        data=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
        headers={"Content-Type": "application/json", "Accept": "application/json", **headers},
        method="POST",
    )
    host = urlsplit(url).netloc
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - URL comes from config
            body = response.read(_MAX_RESPONSE_BYTES + 1)
    except urllib.error.HTTPError as exc:
        detail = exc.read(300).decode("utf-8", "replace") if exc.fp else ""
        raise TranslationError(f"HTTP {exc.code} from {host}: {detail}".strip()) from exc
    except TimeoutError as exc:
        raise TranslationError(f"{host} did not answer within {timeout:g} s (timeout)") from exc
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise TranslationError(f"{host} did not answer within {timeout:g} s (timeout)") from exc
        raise TranslationError(f"cannot reach {host}: {exc.reason}") from exc
    except OSError as exc:
        raise TranslationError(f"connection to {host} failed: {exc}") from exc
    if len(body) > _MAX_RESPONSE_BYTES:
        raise TranslationError(f"answer from {host} is larger than {_MAX_RESPONSE_BYTES} bytes")
    try:
        return json.loads(body)
    except ValueError as exc:
        raise TranslationError(f"answer from {host} is not JSON: {body[:120]!r}") from exc


def _check_batch(texts: Sequence[str], translated: Any, who: str) -> list[str]:
    if not isinstance(translated, list) or not all(isinstance(t, str) for t in translated):
        raise TranslationError(f"{who} did not return a list of strings")
    if len(translated) != len(texts):
        raise TranslationError(f"{who} returned {len(translated)} lines for {len(texts)} (wrong count)")
    for k, (src, dst) in enumerate(zip(texts, translated, strict=True)):
        if src.strip() and not dst.strip():
            raise TranslationError(f"{who} returned an empty translation for line {k + 1}")
    return list(translated)


class OpenAIChatProvider(Provider):
    """An OpenAI-compatible chat-completions endpoint (OpenAI, Azure-style proxies, vLLM,
    Ollama, DeepSeek, Qwen…). ``base_url`` ends before ``/chat/completions``, e.g.
    ``https://api.openai.com/v1``. The batch goes as a JSON array; the model must answer
    ``{"translations": [...]}`` with the same count. Glossary terms are given to the model
    as instructions and also pre-placed in the text between ⟦ ⟧ marks."""

    name = "openai-chat"

    def __init__(self, base_url: str, api_key: str, model: str, *, timeout: float = 60.0, temperature: float = 0.0) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.api_key = api_key
        self.model = model
        self.timeout = timeout
        self.temperature = temperature

    def _messages(self, texts: Sequence[str], source_lang: str, target_lang: str, glossary: Mapping[str, str]) -> list[dict[str, str]]:
        rules = [
            f"You translate subtitles of a short vertical drama series from {source_lang} to {target_lang}.",
            f'Answer with JSON only: {{"translations": [...]}} holding exactly {len(texts)} strings, one per input subtitle, in the same order.',
            "Keep each subtitle short and natural for reading on a phone screen.",
            "Keep line breaks (\\n) where they make sense, and keep markup such as <i>…</i> or {\\i1} unchanged.",
            f"Text between {PROTECT_OPEN} and {PROTECT_CLOSE} is already translated: copy it exactly, with the marks.",
        ]
        if glossary:
            rules.append("Glossary (always use these renderings):")
            rules.extend(f"- {src} → {dst}" for src, dst in glossary.items())
        return [
            {"role": "system", "content": "\n".join(rules)},
            {"role": "user", "content": json.dumps({"subtitles": list(texts)}, ensure_ascii=False)},
        ]

    def translate(self, texts: Sequence[str], source_lang: str, target_lang: str, glossary: Mapping[str, str] | None = None) -> list[str]:
        if not texts:
            return []
        terms = dict(glossary or {})
        protected = [protect_terms(text, terms) for text in texts]
        payload = {
            "model": self.model,
            "temperature": self.temperature,
            "messages": self._messages(protected, source_lang, target_lang, terms),
        }
        answer = _post_json(self.url, payload, {"Authorization": f"Bearer {self.api_key}"}, self.timeout)
        try:
            content = answer["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as exc:
            raise TranslationError("chat answer has no choices[0].message.content") from exc
        if not isinstance(content, str) or not content.strip():
            raise TranslationError("chat answer is empty")
        content = re.sub(r"^\s*```(?:json)?\s*|\s*```\s*$", "", content)
        try:
            data = json.loads(content)
        except ValueError as exc:
            raise TranslationError(f"the model's answer is not JSON: {content[:120]!r}") from exc
        if isinstance(data, dict):
            data = data.get("translations")
        return [unprotect(t) for t in _check_batch(texts, data, "the model")]


# DeepL wants upper-case codes, a variant for some targets, and only the base for sources.
_DEEPL_TARGETS = {
    "en": "EN-US", "en-gb": "EN-GB", "en-us": "EN-US",
    "pt": "PT-PT", "pt-br": "PT-BR", "pt-pt": "PT-PT",
    "zh": "ZH-HANS", "zh-hans": "ZH-HANS", "zh-cn": "ZH-HANS", "zh-sg": "ZH-HANS",
    "zh-hant": "ZH-HANT", "zh-tw": "ZH-HANT", "zh-hk": "ZH-HANT",
}


def deepl_language(tag: str, *, target: bool) -> str:
    """A BCP-47 tag as DeepL names it (``pt-BR`` → ``PT-BR``; as a source, ``PT``)."""
    lowered = tag.replace("_", "-").lower()
    if not target:
        return lowered.split("-")[0].upper()
    if lowered in _DEEPL_TARGETS:
        return _DEEPL_TARGETS[lowered]
    parts = lowered.split("-")
    if parts[0] == "zh" and len(parts) > 1:
        return _DEEPL_TARGETS.get(f"zh-{parts[1]}", "ZH-HANS")
    return parts[0].upper()


class DeepLProvider(Provider):
    """A DeepL-style ``POST {base_url}/v2/translate`` (``https://api-free.deepl.com`` or
    ``https://api.deepl.com``). Text goes as XML with ``tag_handling=xml``: line breaks
    as ``<br/>``, glossary terms pre-translated inside ``<x>`` which DeepL leaves alone."""

    name = "deepl"

    def __init__(self, base_url: str, api_key: str, *, timeout: float = 30.0, formality: str | None = None) -> None:
        self.url = base_url.rstrip("/") + "/v2/translate"
        self.api_key = api_key
        self.timeout = timeout
        self.formality = formality

    @staticmethod
    def _to_xml(text: str, glossary: Mapping[str, str]) -> str:
        protected = protect_terms(text, glossary, "\x01", "\x02")
        escaped = protected.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        # Give subtitle markup back its tag form: DeepL moves tags with the words they wrap.
        escaped = re.sub(r"&lt;(/?[ibu])&gt;", r"<\1>", escaped)
        return escaped.replace("\x01", "<x>").replace("\x02", "</x>").replace("\n", "<br/>")

    @staticmethod
    def _from_xml(text: str) -> str:
        text = re.sub(r"<br\s*/?>", "\n", text)
        text = re.sub(r"</?x>", "", text)
        return text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&apos;", "'").replace("&amp;", "&")

    def translate(self, texts: Sequence[str], source_lang: str, target_lang: str, glossary: Mapping[str, str] | None = None) -> list[str]:
        if not texts:
            return []
        terms = dict(glossary or {})
        payload: dict[str, Any] = {
            "text": [self._to_xml(text, terms) for text in texts],
            "source_lang": deepl_language(source_lang, target=False),
            "target_lang": deepl_language(target_lang, target=True),
            "tag_handling": "xml",
            "ignore_tags": ["x"],
            "split_sentences": "nonewlines",
            "preserve_formatting": True,
        }
        if self.formality:
            payload["formality"] = self.formality
        answer = _post_json(self.url, payload, {"Authorization": f"DeepL-Auth-Key {self.api_key}"}, self.timeout)
        try:
            items = [item["text"] for item in answer["translations"]]
        except (KeyError, TypeError) as exc:
            raise TranslationError("DeepL answer has no translations[].text") from exc
        return [self._from_xml(t) for t in _check_batch(texts, items, "DeepL")]


# --------------------------------------------------------------------------- the track

@dataclass(frozen=True)
class TranslationResult:
    """New cues (same timing and numbering as the source) and what happened on the way."""

    cues: tuple[Cue, ...]
    glossary_misses: tuple[GlossaryMiss, ...]
    memory_hits: int
    sent_to_provider: int
    provider: str


def translate_track(
    cues: Sequence[Cue],
    source_lang: str,
    target_lang: str,
    provider: Provider,
    glossary: Glossary | Mapping[str, str] | None = None,
    tm: TranslationMemory | None = None,
    progress: ProgressCallback | None = None,
    batch_size: int = 40,
) -> TranslationResult:
    """Translate a track, all or nothing.

    Each distinct source text is looked up in ``tm`` and otherwise sent once, in batches
    of ``batch_size``. ``progress(done, total)`` is called with cues resolved so far. The
    glossary (a :class:`Glossary` or a ready source→target dict) is passed to the provider,
    enforced where a term came back untranslated, and checked: events still missing a
    term are listed in ``glossary_misses``. New translations go into ``tm`` only after
    the whole track succeeded. Raises TranslationError on any provider failure.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    terms = glossary.terms_for(target_lang) if isinstance(glossary, Glossary) else dict(glossary or {})
    total = len(cues)
    keys = [normalize_source(cue.text) for cue in cues]
    unique = list(dict.fromkeys(key for key in keys if key))
    known: dict[str, str] = dict(tm.lookup_many(unique, source_lang, target_lang)) if tm is not None and unique else {}
    memory_hits = sum(1 for key in keys if key in known)
    empty = sum(1 for key in keys if not key)
    done = memory_hits + empty
    if progress is not None:
        progress(done, total)

    todo = [key for key in unique if key not in known]
    per_key = Counter(keys)
    fresh: dict[str, str] = {}
    for offset in range(0, len(todo), batch_size):
        batch = todo[offset:offset + batch_size]
        translated = provider.translate(batch, source_lang, target_lang, terms)
        if not isinstance(translated, list) or len(translated) != len(batch):
            raise TranslationError(f"{provider.name} returned {len(translated) if isinstance(translated, list) else 'no list'} for {len(batch)} lines")
        for key, text in zip(batch, translated, strict=True):
            fresh[key] = enforce_glossary(key, text, terms)
        if progress is not None:
            done += sum(per_key[key] for key in batch)
            progress(done, total)

    results = {**known, **fresh}
    new_cues = tuple(replace(cue, text=results[key] if key else "") for cue, key in zip(cues, keys, strict=True))
    misses = tuple(check_glossary(cues, new_cues, terms))
    if tm is not None and fresh:
        tm.store_many(fresh, source_lang, target_lang)
    return TranslationResult(new_cues, misses, memory_hits, len(todo), provider.name)
