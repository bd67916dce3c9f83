"""BCP 47 (RFC 5646) language tags, read one way for the whole marketplace.

:func:`parse` and :func:`normalize` are the one reading of a tag; the contexts keep
their own contracts as thin wrappers over them: the catalog answers None for a bad
code (``catalog.domain.normalize_language``), rights raise an error naming the code
(``licensing.reference.normalize_language``) and subtitle QC picks a profile from the
tag (``localization.profiles``).

A tag is well formed per RFC 5646 for the parts this marketplace meets: a 2-3 letter
language, optional 4-letter script, optional region (2 letters or 3 digits), variants,
extensions and a private-use part. Its primary language must be one CLDR knows: named
in English, an alias (``cmn``, ``iw``) or a locale Babel has data for. Tags are cased,
never rewritten: ``zh-cn`` becomes ``zh-CN``, not ``zh-Hans-CN``, and ``cmn`` stays
``cmn``, because stored rights and titles are matched by prefix on what was written.
Babel is asked for its data, not for ``Locale.parse``: that takes ``_`` separators,
needs locale data for the whole tag and refuses variants, extensions and unknown
regions that are valid BCP 47.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Final

from babel import Locale, localedata
from babel.core import get_global

__all__ = ["LanguageTag", "LanguageTagError", "likely_script", "normalize", "parse"]


class LanguageTagError(ValueError):
    """Not a language tag: ``tag`` is the input as given, ``detail`` says why."""

    def __init__(self, tag: object, detail: str) -> None:
        self.tag = tag
        self.detail = detail
        super().__init__(f"{tag!r} is not a BCP 47 language tag: {detail}")


_BCP47: Final = re.compile(
    r"""^(?P<language>[A-Za-z]{2,3})
        (?:-(?P<script>[A-Za-z]{4}))?
        (?:-(?P<region>[A-Za-z]{2}|[0-9]{3}))?
        (?P<variants>(?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*)
        (?P<extensions>(?:-[A-WY-Za-wy-z0-9](?:-[A-Za-z0-9]{2,8})+)*)
        (?P<private>-[Xx](?:-[A-Za-z0-9]{1,8})+)?$""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class LanguageTag:
    """A tag in canonical case: language lower, script title, region upper, the rest lower."""

    language: str
    script: str | None = None
    region: str | None = None
    variants: tuple[str, ...] = ()
    #: Extensions and the private-use part as written after the variants ("u-ca-gregory").
    extensions: str = ""

    @property
    def simple(self) -> bool:
        """Only language, script and region: no variants, extensions or private use."""
        return not self.variants and not self.extensions

    def __str__(self) -> str:
        parts = [self.language, self.script, self.region, *self.variants, self.extensions]
        return "-".join(p for p in parts if p)


@cache
def _known_languages() -> frozenset[str]:
    known = (set(Locale("en").languages) | set(get_global("language_aliases"))
             | {i.split("_")[0] for i in localedata.locale_identifiers()})
    return frozenset(k.lower() for k in known if re.fullmatch(r"[A-Za-z]{2,3}", k))


def parse(tag: object) -> LanguageTag:
    """The tag read and cased (``" zh_hans_cn "`` → ``zh-Hans-CN``); ``_`` counts as ``-``.

    Raises :class:`LanguageTagError` when it is not a well-formed tag or its primary
    language is not in ISO 639/CLDR.
    """
    if not isinstance(tag, str):
        raise LanguageTagError(tag, "not a string")
    return _parse(tag)


# A catalog search or a rights check reads the same few tags over and over.
@lru_cache(maxsize=4096)
def _parse(tag: str) -> LanguageTag:
    match = _BCP47.match(tag.strip().replace("_", "-"))
    if not match:
        raise LanguageTagError(tag, "not a well-formed BCP 47 tag")
    language = match["language"].lower()
    if language not in _known_languages():
        raise LanguageTagError(tag, f"primary language {language!r} is not in ISO 639/CLDR")
    return LanguageTag(
        language=language,
        script=match["script"].title() if match["script"] else None,
        region=match["region"].upper() if match["region"] else None,
        variants=tuple(match["variants"].lower().split("-")[1:]),
        extensions=((match["extensions"] or "") + (match["private"] or "")).lower()[1:],
    )


def normalize(tag: object) -> str:
    """The tag in canonical case, as :func:`parse` reads it (``pt_br`` → ``pt-BR``)."""
    return str(parse(tag))


def likely_script(tag: LanguageTag) -> str | None:
    """The script the tag is written in: its own, else CLDR's likely one for its language
    and region (``zh-TW`` → ``Hant``, ``zh`` and ``cmn`` → ``Hans``, ``yue`` → ``Hant``)."""
    if tag.script:
        return tag.script
    # An alias may carry a script or region of its own: sh → sr_Latn, cmn → zh.
    language, *alias = get_global("language_aliases").get(tag.language, tag.language).split("_")
    script = next((p for p in alias if len(p) == 4), None)
    if script:
        return script
    region = tag.region or next((p for p in alias if len(p) != 4), None)
    likely = get_global("likely_subtags")
    for key in (f"{language}_{region}", language) if region else (language,):
        if key in likely:
            return next((p for p in likely[key].split("_")[1:] if len(p) == 4), None)
    return None
