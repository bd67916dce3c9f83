"""Translation jobs: Celery task, progress, glossary, translation memory, all-or-nothing
failure with retry, and a message delivered twice."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from localization import services, tasks
from localization.models import SubtitleTrack, TranslationJob, TranslationMemoryEntry
from localization.services import LocalizationError
from marketplace.extensions import db
from tests.fixtures.localization import ZH_SEASON


def _tracks(title, language):
    return services.tracks_of(title, language)


def _run(jobs) -> list:
    """Run the captured jobs; the worker used its own session, so forget what we loaded."""
    results = jobs.run_all()
    db.session.expire_all()
    return results


def test_pseudo_translation_runs_as_a_job_with_progress(subtitle_title, approved_season,
                                                        producer, jobs):
    services.add_glossary_entry(subtitle_title, source_term="林婉儿", target_language="es",
                                target_term="Lin Wan'er")
    created = services.start_translation(subtitle_title, source_language="zh-Hans",
                                         target_languages=["es", "en"], by=producer)
    assert jobs.pending == []  # nothing is sent before the commit
    db.session.commit()
    assert jobs.names() == ["localization.translate", "localization.translate"]
    assert [j.status for j in created] == ["queued", "queued"]
    assert created[0].progress_total == 18  # three episodes of six events

    assert _run(jobs) == ["succeeded", "succeeded"]
    es_job, en_job = (db.session.get(TranslationJob, j.id) for j in created)
    assert es_job.progress_done == es_job.progress_total == 18
    assert es_job.percent == 100
    # Three identical episodes: the memory answers episodes 2 and 3.
    assert es_job.sent_to_provider == 6
    assert es_job.memory_hits == 12
    assert es_job.glossary_misses == 0  # "Lin Wan'er" next to Chinese text counts
    es = _tracks(subtitle_title, "es")
    assert [(t.episode.number, t.status, t.origin) for t in es] == [
        (1, "in_review", "machine"), (2, "in_review", "machine"), (3, "in_review", "machine")]
    assert all(t.qc_passed is not None for t in es)  # checked on arrival
    first = services.current_cues(es[0])
    assert "Lin Wan'er" in first[0].text  # the glossary term, kept through pseudo-localization
    assert es[0].source_track_id == approved_season[0].id
    assert es[0].revision.reason == "translation"
    assert db.session.scalar(select(func.count(TranslationMemoryEntry.id))) == 12  # 6 × 2 langs


def test_progress_is_reported_while_running(subtitle_title, approved_season):
    [job] = services.start_translation(subtitle_title, source_language="zh-Hans",
                                       target_languages=["fr"])
    db.session.commit()
    seen = []
    services.run_translation_job(job.id, progress_cb=lambda done, total: seen.append(done))
    assert seen == sorted(seen)
    assert seen[-1] == 18
    assert len(seen) >= 3


def test_source_must_be_approved(subtitle_title, create_track):
    episodes = list(subtitle_title.episodes)
    create_track(episodes[0], approve=True)
    create_track(episodes[1])  # a draft
    with pytest.raises(LocalizationError) as caught:
        services.start_translation(subtitle_title, source_language="zh-Hans",
                                   target_languages=["es"])
    assert caught.value.status == 409
    assert "E002" in str(caught.value.message)
    with pytest.raises(LocalizationError) as caught:
        services.start_translation(subtitle_title, source_language="ko",
                                   target_languages=["es"])
    assert caught.value.field == "source_language"


def test_bad_target_languages(subtitle_title, approved_season):
    for targets, field in ((["klingon"], "target_languages"), (["zh-Hans"], "target_languages"),
                           ([], "target_languages")):
        with pytest.raises(LocalizationError) as caught:
            services.start_translation(subtitle_title, source_language="zh-Hans",
                                       target_languages=targets)
        assert caught.value.field == field


def test_one_active_job_per_language(subtitle_title, approved_season):
    services.start_translation(subtitle_title, source_language="zh-Hans", target_languages=["es"])
    db.session.commit()
    with pytest.raises(LocalizationError) as caught:
        services.start_translation(subtitle_title, source_language="zh-Hans",
                                   target_languages=["es"])
    assert caught.value.status == 409


def test_openai_compatible_provider_over_loopback(subtitle_title, approved_season, chat_server,
                                                  jobs):
    services.add_glossary_entry(subtitle_title, source_term="林婉儿", target_language="en",
                                target_term="Lin Wan'er")
    assert services.available_providers() == ["openai", "pseudo"]
    [job] = services.start_translation(subtitle_title, source_language="zh-Hans",
                                       target_languages=["en"])
    db.session.commit()
    assert job.provider == "openai"
    assert _run(jobs) == ["succeeded"]
    request = chat_server.requests[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["auth"] == "Bearer test-key"
    assert "Lin Wan'er" in request["body"]["messages"][0]["content"]  # the glossary
    assert len(chat_server.requests) == 1  # 6 unique lines in one batch; the rest from memory
    en = _tracks(subtitle_title, "en")
    assert len(en) == 3
    text = services.current_cues(en[0])[0].text
    assert text.startswith("[en] ")
    assert "Lin Wan'er" in text


@pytest.mark.parametrize(("mode", "reason"), [
    ("slow", "timeout"), ("garbage", "not JSON"), ("short", "wrong count")])
def test_provider_failure_fails_the_job_and_leaves_no_track(subtitle_title, approved_season,
                                                            chat_server, monkeypatch, jobs,
                                                            app, mode, reason):
    chat_server.mode = mode
    chat_server.delay = 1.5
    monkeypatch.setitem(app.config, "PDX_TRANSLATION_TIMEOUT", 0.5)
    [job] = services.start_translation(subtitle_title, source_language="zh-Hans",
                                       target_languages=["es"])
    db.session.commit()
    assert _run(jobs) == ["failed"]
    job = db.session.get(TranslationJob, job.id)
    assert job.status == "failed"
    assert reason in job.error
    assert job.attempts == 1
    assert _tracks(subtitle_title, "es") == []  # all or nothing

    # Retry once the provider behaves: the same job succeeds.
    chat_server.mode = "ok"
    services.retry_job(job)
    db.session.commit()
    assert _run(jobs) == ["succeeded"]
    job = db.session.get(TranslationJob, job.id)
    assert job.attempts == 2
    assert job.error is None
    assert len(_tracks(subtitle_title, "es")) == 3


def test_failure_on_a_later_episode_keeps_the_memory_of_earlier_ones(subtitle_title,
                                                                     create_track, chat_server):
    episodes = list(subtitle_title.episodes)
    create_track(episodes[0], ZH_SEASON[1], approve=True)
    create_track(episodes[1], [(1000, 3000, "谁起草的？"), (3500, 5500, "顾总来了。")],
                 approve=True)
    [job] = services.start_translation(subtitle_title, source_language="zh-Hans",
                                       target_languages=["es"])
    db.session.commit()
    calls = {"n": 0}
    real = services.build_provider

    def flaky(name, config=None):
        provider = real(name, config)
        original = provider.translate

        def translate(texts, *args, **kwargs):
            calls["n"] += 1
            if calls["n"] == 2:
                from localization.translation import TranslationError

                raise TranslationError("provider answered 503")
            return original(texts, *args, **kwargs)

        provider.translate = translate
        return provider

    import unittest.mock

    with unittest.mock.patch.object(services, "build_provider", flaky):
        services.run_translation_job(job.id)
    job = db.session.get(TranslationJob, job.id)
    assert job.status == "failed"
    assert job.error == "provider answered 503"
    assert _tracks(subtitle_title, "es") == []
    assert db.session.scalar(select(func.count(TranslationMemoryEntry.id))) == 6  # episode 1
    services.retry_job(job)
    db.session.commit()
    job = services.run_translation_job(job.id)
    assert job.status == "succeeded"
    assert job.memory_hits == 6


def test_task_delivered_twice_does_nothing_the_second_time(subtitle_title, approved_season,
                                                           jobs):
    [job] = services.start_translation(subtitle_title, source_language="zh-Hans",
                                       target_languages=["es"])
    db.session.commit()
    jobs.pending.append(jobs.pending[0])  # the broker delivers it again
    assert _run(jobs) == ["succeeded", "succeeded"]
    assert db.session.get(TranslationJob, job.id).attempts == 1
    assert all(t.current_revision == 1 for t in _tracks(subtitle_title, "es"))


def test_task_for_a_deleted_job_and_unexpected_errors(subtitle_title, approved_season,
                                                      monkeypatch):
    assert tasks.translate.apply(args=[987654]).get() is None
    [job] = services.start_translation(subtitle_title, source_language="zh-Hans",
                                       target_languages=["es"])
    db.session.commit()

    def boom(name, config=None):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(services, "build_provider", boom)
    assert tasks.translate.apply(args=[job.id]).get() == "failed"
    db.session.expire_all()
    job = db.session.get(TranslationJob, job.id)
    assert job.status == "failed"
    assert "disk on fire" in job.error


def test_retranslation_adds_a_revision(subtitle_title, approved_season, jobs):
    services.start_translation(subtitle_title, source_language="zh-Hans", target_languages=["es"])
    db.session.commit()
    _run(jobs)
    track = _tracks(subtitle_title, "es")[0]
    services.approve_track(track, override_reason="ok")
    services.start_translation(subtitle_title, source_language="zh-Hans", target_languages=["es"])
    db.session.commit()
    _run(jobs)
    track = db.session.get(SubtitleTrack, track.id)
    assert track.current_revision == 2
    assert track.status == "in_review"
