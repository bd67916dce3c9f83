"""The buyers' search: Chinese substrings, facets, sort, pagination, composability."""

from __future__ import annotations

import pytest

from catalog import services
from catalog.models import Title
from catalog.search import (
    CatalogQuery,
    facet_counts,
    query_from_params,
    register_filter_provider,
    search_titles,
    search_with_providers,
)
from marketplace.extensions import db
from tests.fixtures.catalog import PROVENANCE_AI


@pytest.fixture
def shelf(create_title, create_org):
    org = create_org(kind="producer")
    a = create_title(org, title="闪婚后霸总每天都在追我", genres=["ceo", "romance"], year=2025,
                     episodes=2, episode_count=80, localizations={
                         "zh": ("闪婚后霸总每天都在追我", "契约婚姻，霸道总裁。"),
                         "en": ("Flash Marriage to the CEO", "A contract marriage.")})
    b = create_title(org, title="龙王赘婿归来", genres=["revenge", "urban"], year=2024,
                     episodes=1, episode_count=120, language="zh",
                     provenance={"involvement": "none"}, localizations={
                         "zh": ("龙王赘婿归来", "隐忍三年的赘婿。"),
                         "es": ("El regreso del Rey Dragón", "Un yerno humillado.")})
    c = create_title(org, title="Moonlit Werewolf Bride", language="en",
                     genres=["paranormal", "romance"], year=2025, episodes=1, episode_count=60,
                     provenance=dict(PROVENANCE_AI, involvement="fully_generated"),
                     localizations={"en": ("Moonlit Werewolf Bride", "An alpha's mate.")})
    draft = create_title(org, title="霸总的草稿", status="draft")
    withdrawn = create_title(org, title="霸总已撤回", status="withdrawn")
    return {"a": a, "b": b, "c": c, "draft": draft, "withdrawn": withdrawn}


def _ids(page):
    return [t.id for t in page.items]


def test_two_character_chinese_substring(app, shelf):
    page = search_titles(CatalogQuery(text="霸总"))
    assert _ids(page) == [shelf["a"].id]  # drafts and withdrawn titles never show
    assert page.total == 1


def test_longer_chinese_substring_and_synopsis(app, shelf):
    assert _ids(search_titles(CatalogQuery(text="每天都在追"))) == [shelf["a"].id]
    assert _ids(search_titles(CatalogQuery(text="契约婚姻"))) == [shelf["a"].id]
    assert _ids(search_titles(CatalogQuery(text="隐忍三年"))) == [shelf["b"].id]


def test_other_languages_case_insensitive(app, shelf):
    assert _ids(search_titles(CatalogQuery(text="rey dragón"))) == [shelf["b"].id]
    assert _ids(search_titles(CatalogQuery(text="WEREWOLF"))) == [shelf["c"].id]
    assert _ids(search_titles(CatalogQuery(text="contract ceo"))) == [shelf["a"].id]
    assert _ids(search_titles(CatalogQuery(text='"quoted" nothing'))) == []


def test_facets_combine(app, shelf):
    assert set(_ids(search_titles(CatalogQuery(genres=("romance",))))) == {
        shelf["a"].id, shelf["c"].id}
    assert _ids(search_titles(CatalogQuery(genres=("romance",), languages=("en",),
                                           involvement=("fully_generated",)))) == [shelf["c"].id]
    assert _ids(search_titles(CatalogQuery(languages=("es",)))) == [shelf["b"].id]
    assert _ids(search_titles(CatalogQuery(involvement=("none",)))) == [shelf["b"].id]
    assert _ids(search_titles(CatalogQuery(years=(2024,)))) == [shelf["b"].id]
    assert _ids(search_titles(CatalogQuery(episodes_min=100))) == [shelf["b"].id]
    assert set(_ids(search_titles(query_from_params({"episodes": "60-99"})))) == {
        shelf["a"].id, shelf["c"].id}
    assert _ids(search_titles(CatalogQuery(text="霸总", genres=("revenge",)))) == []


def test_subtitle_language_counts_as_available(app, shelf, media):
    t = shelf["c"]
    t.status = "withdrawn"
    services.store_asset(t, kind="subtitle", stream=media["subtitle"].open("rb"),
                         filename="ep1.srt", language="ar")
    t.status = "published"
    db.session.commit()
    assert _ids(search_titles(CatalogQuery(languages=("ar",)))) == [t.id]


def test_sort_and_pagination(app, shelf):
    newest = search_titles(CatalogQuery(sort="newest", per_page=2))
    assert newest.total == 3
    assert newest.pages == 2
    assert newest.has_next
    assert _ids(newest) == [shelf["c"].id, shelf["b"].id]
    second = search_titles(CatalogQuery(sort="newest", per_page=2, page=2))
    assert _ids(second) == [shelf["a"].id]
    assert second.has_prev
    assert not second.has_next
    rel = search_titles(CatalogQuery(text="marriage", sort="relevance"))
    assert rel.items  # relevance with text; falls back to newest without
    assert CatalogQuery(sort="relevance").effective_sort == "newest"
    assert CatalogQuery(text="x").effective_sort == "relevance"


def test_facet_counts(app, shelf):
    counts = facet_counts(CatalogQuery(genres=("romance",)))
    genres = dict(counts["genre"])
    assert genres["romance"] == 2
    assert genres["revenge"] == 1
    assert dict(counts["involvement"]) == {"mostly_generated": 1, "fully_generated": 1}
    assert dict(counts["language"])["en"] == 2
    assert dict(counts["episodes"]) == {"lt60": 0, "60-99": 2, "100plus": 0}
    assert dict(counts["year"]) == {2025: 2}


def test_extra_filters_narrow_the_same_query(app, shelf):
    only_b = lambda stmt: stmt.where(Title.id == shelf["b"].id)  # noqa: E731
    assert _ids(search_titles(CatalogQuery(extra_filters=(only_b,)))) == [shelf["b"].id]
    assert _ids(search_titles(CatalogQuery(text="霸总", extra_filters=(only_b,)))) == []


def test_remembered_statements_never_stand_in_for_filtered_ones(app, shelf):
    # Queries equal but for their filters hash alike: the one without filters is kept
    # for reuse, and must not answer for the one with them (or the other way round).
    only_b = lambda stmt: stmt.where(Title.id == shelf["b"].id)  # noqa: E731
    query = CatalogQuery(genres=("revenge", "romance"), per_page=5)
    assert len(search_titles(query).items) == 3
    assert _ids(search_titles(CatalogQuery(genres=("revenge", "romance"), per_page=5,
                                           extra_filters=(only_b,)))) == [shelf["b"].id]
    assert len(search_titles(query).items) == 3
    assert search_titles(CatalogQuery(genres=["romance"])).total == 2  # a list: unhashable


def test_registered_provider_joins_the_query(app, shelf):
    def only_english(params):
        if params.get("catalog_test_only") != "en":
            return None
        return lambda stmt: stmt.where(Title.original_language == "en")

    register_filter_provider(app, only_english)
    try:
        page = search_with_providers(CatalogQuery(), {"catalog_test_only": "en"})
        assert _ids(page) == [shelf["c"].id]
        assert search_with_providers(CatalogQuery(), {}).total == 3
    finally:
        app.extensions["pdx_catalog_filters"].remove(only_english)
