"""Services: upload (single and season ZIP), QC, autofix revisions, edit, approve, export."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from sqlalchemy import select

from localization import services
from localization.models import SubtitleRevision, SubtitleTrack
from localization.services import LocalizationError
from marketplace.audit import AuditEvent
from marketplace.extensions import db
from marketplace.storage import get_storage
from tests.fixtures.localization import ZH_SEASON, srt_of, zip_of


def _episode(title, number):
    return next(e for e in title.episodes if e.number == number)


def test_season_zip_mixed_encodings_qc_and_autofix_keep_the_original(subtitle_title,
                                                                      zh_season_zip, producer):
    result = services.upload_season_zip(subtitle_title, zh_season_zip, by=producer)
    db.session.commit()
    assert result.stored == 3
    assert result.failed == 0
    assert result.mixed_encodings
    assert {f.path: f.encoding for f in result.files} == {
        "season1/E001.zh-Hans.srt": "utf-8-sig", "season1/E002.zh-Hans.srt": "gb18030",
        "season1/E003.zh-Hans.srt": "utf-16-le"}
    tracks = services.tracks_of(subtitle_title)
    assert [(t.episode.number, t.language, t.qc_passed) for t in tracks] == [
        (1, "zh-Hans", True), (2, "zh-Hans", False), (3, "zh-Hans", False)]
    ep2 = tracks[1]
    assert ep2.qc_counts == {"gap_too_short": 2, "duration_too_short": 1}
    assert ep2.qc_profile == "Simplified Chinese, vertical, adult"  # 9:16 title
    original = ep2.revision.cues

    revision, fixes = services.autofix_track(ep2, by=producer)
    db.session.commit()
    assert revision.number == 2
    assert ep2.current_revision == 2
    assert {f.code for f in fixes} == {"gap_widened", "extended"}
    assert ep2.qc_passed
    assert ep2.qc_errors == 0
    assert [r.number for r in ep2.revisions] == [1, 2]
    assert ep2.revisions[0].cues == original  # the upload is kept
    assert ep2.revisions[0].encoding == "gb18030"
    assert ep2.revisions[0].reason == "upload"
    assert revision.details["fixes"][0]["code"] in {"gap_widened", "extended"}

    summary = services.season_view(subtitle_title).summaries["zh-Hans"]
    assert (summary.total, summary.passed) == (3, 2)
    assert summary.worst[0].label == "E003"


def test_revisions_are_append_only(subtitle_title, create_track):
    track = create_track(_episode(subtitle_title, 1))
    track.revision.cues = []
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.flush()
    db.session.rollback()


def test_reupload_adds_a_revision_and_needs_review_again(subtitle_title, create_track, producer):
    episode = _episode(subtitle_title, 1)
    track = create_track(episode, approve=True)
    assert track.status == "approved"
    result = services.upload_track(episode, language="zh-hans", data=srt_of(ZH_SEASON[2]),
                                   filename="again.srt", by=producer)
    db.session.commit()
    assert result.track.id == track.id
    assert not result.created
    assert track.current_revision == 2
    assert track.status == "draft"


@pytest.mark.parametrize(("data", "line", "fragment"), [
    (b"\x00\x01\x02\x89PNG\x00\x00binary" * 20, 1, "binary"),
    (b"1\n00:00:05,000 --> 00:00:04,000\nends before it starts\n", 2, "end"),
    (b"1\n-00:00:01,000 --> 00:00:02,000\nnegative\n", 2, "negative"),
    (b"1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\n00:00:xx,000 --> 00:00:03,000\nbad\n", 6, ""),
    (b"", 1, "empty"),
])
def test_unreadable_files_are_refused_with_the_line(subtitle_title, data, line, fragment):
    with pytest.raises(LocalizationError) as caught:
        services.upload_track(_episode(subtitle_title, 1), language="zh-Hans", data=data,
                              filename="E001.srt")
    assert caught.value.status == 422
    assert caught.value.line == line
    assert fragment in str(caught.value.message).lower()
    assert db.session.scalar(select(SubtitleTrack.id)) is None


def test_out_of_order_timecodes_are_read_and_flagged(subtitle_title):
    data = (b"1\n00:00:05,000 --> 00:00:07,000\nsecond\n\n"
            b"2\n00:00:01,000 --> 00:00:03,000\nfirst\n")
    result = services.upload_track(_episode(subtitle_title, 1), language="en", data=data,
                                   filename="E001.en.srt")
    # The reader sorts by start time and says so; QC then sees them in order.
    assert [c["text"] for c in result.revision.cues] == ["first", "second"]
    assert result.warnings


@pytest.mark.parametrize("tag", ["english", "xx", "zh_Hans!", "en-XX", "123", "", "und"])
def test_language_must_be_bcp47(subtitle_title, tag):
    with pytest.raises(LocalizationError) as caught:
        services.upload_track(_episode(subtitle_title, 1), language=tag,
                              data=srt_of(ZH_SEASON[1]), filename="E001.srt")
    assert caught.value.field == "language"
    assert caught.value.status == 400


@pytest.mark.parametrize(("tag", "canonical"), [
    ("zh_hans", "zh-Hans"), ("ES-419", "es-419"), ("pt-br", "pt-BR"), ("yue", "yue"),
    ("sr-Latn-RS", "sr-Latn-RS")])
def test_language_is_canonicalized(tag, canonical):
    assert services.parse_language(tag) == canonical


def test_zip_with_escaping_paths_stores_nothing(subtitle_title):
    evil = zip_of({"E001.zh-Hans.srt": srt_of(ZH_SEASON[1]),
                   "../../etc/E002.zh-Hans.srt": srt_of(ZH_SEASON[1])})
    with pytest.raises(LocalizationError) as caught:
        services.upload_season_zip(subtitle_title, evil)
    assert caught.value.status == 422
    assert "outside" in str(caught.value.message)
    assert db.session.scalar(select(SubtitleTrack.id)) is None


def test_zip_bad_files_do_not_stop_the_others(subtitle_title):
    archive = zip_of({
        "E001.zh-Hans.srt": srt_of(ZH_SEASON[1]),
        "E002.zh-Hans.srt": b"\x00\xff\x00junk" * 50,
        "E003.zh-Hans.srt": b"1\n00:00:03,000 --> 00:00:01,000\nbackwards\n",
        "E009.zh-Hans.srt": srt_of(ZH_SEASON[1]),  # no such episode
        "notes.txt": b"hello",
        "第2集.srt": srt_of(ZH_SEASON[2]),  # language from the default
    })
    result = services.upload_season_zip(subtitle_title, archive, language="zh-Hans")
    db.session.commit()
    by_path = {f.path: f for f in result.files}
    assert by_path["E001.zh-Hans.srt"].ok
    assert not by_path["E002.zh-Hans.srt"].ok
    assert by_path["E002.zh-Hans.srt"].error_line == 1
    assert by_path["E003.zh-Hans.srt"].error_line == 2
    assert "does not exist" in by_path["E009.zh-Hans.srt"].error
    assert by_path["第2集.srt"].ok
    assert by_path["第2集.srt"].language == "zh-Hans"
    assert ("notes.txt", "not a subtitle file") in result.skipped
    assert sorted(t.episode.number for t in services.tracks_of(subtitle_title)) == [1, 2]


def test_zip_without_a_language_asks_for_a_default(subtitle_title):
    result = services.upload_season_zip(subtitle_title, zip_of({"ep01.srt": srt_of(ZH_SEASON[1])}))
    assert not result.files[0].ok
    assert "language" in result.files[0].error


def test_qc_with_a_buyer_profile(subtitle_title, create_track):
    track = create_track(_episode(subtitle_title, 1))
    assert track.qc_passed
    strict = services.make_options(layout="standard", overrides={"reading_speed_adult": 3})
    report = services.run_qc(track, strict)
    assert not report.passed
    assert "reading_speed" in report.counts_by_code
    assert track.qc_report["options"]["overrides"] == {"reading_speed_adult": 3.0}
    with pytest.raises(LocalizationError) as caught:
        services.make_options(layout="diagonal")
    assert caught.value.field == "layout"
    with pytest.raises(LocalizationError):
        services.make_options(overrides={"reading_speed_adult": "fast"})


def test_approve_needs_clean_qc_or_an_audited_reason(subtitle_title, create_track, producer):
    track = create_track(_episode(subtitle_title, 2), ZH_SEASON[2])
    assert not track.qc_passed
    with pytest.raises(LocalizationError) as caught:
        services.approve_track(track, by=producer)
    assert caught.value.status == 409
    assert track.status == "draft"
    services.approve_track(track, by=producer, override_reason="buyer accepts tight gaps")
    db.session.commit()
    assert track.status == "approved"
    event = db.session.scalar(select(AuditEvent).where(
        AuditEvent.action == "subtitles.approved_with_override"))
    assert event.changes["override_reason"] == "buyer accepts tight gaps"
    assert event.changes["qc_errors"] == 3


def test_edit_makes_a_revision_and_reopens_review(subtitle_title, create_track, producer):
    track = create_track(_episode(subtitle_title, 1), language="en",
                         spec=[(1000, 3000, "Hello"), (3500, 5500, "World")],
                         origin="machine", approve=True)
    assert services.edit_track(track, {1: "Hello"}, by=producer) is None  # unchanged
    revision = services.edit_track(track, {2: "World!\r\n"}, by=producer)
    db.session.commit()
    assert revision.number == 2
    assert revision.reason == "edit"
    assert revision.details["changed"] == [2]
    assert services.current_cues(track)[1].text == "World!"
    assert track.status == "in_review"
    assert track.origin == "post_edited"
    with pytest.raises(LocalizationError):
        services.edit_track(track, {99: "nope"})


def test_bulk_autofix_and_approve(subtitle_title, zh_season_zip, producer):
    services.upload_season_zip(subtitle_title, zh_season_zip, by=producer)
    assert services.approve_season(subtitle_title, "zh-Hans") == {"approved": 1, "skipped": 2}
    assert services.autofix_season(subtitle_title, "zh-Hans") == {"tracks": 2, "fixes": 4}
    assert services.approve_season(subtitle_title, "zh-Hans") == {"approved": 2, "skipped": 0}


def test_export_zip_manifest_and_retiming(subtitle_title, approved_season, create_track):
    create_track(_episode(subtitle_title, 1), [(1000, 3000, "Hi")], language="en")  # draft
    export = services.export_title(subtitle_title, formats=["srt", "vtt", "ttml"],
                                   fps_from=25, fps_to=23.976, offset_ms=1000)
    db.session.commit()
    data = b"".join(get_storage().iter_bytes(export.storage_key))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = sorted(n.split("/", 1)[1] for n in archive.namelist())
        manifest = json.loads(next(archive.read(n) for n in archive.namelist()
                                   if n.endswith("manifest.json")))
        srt = next(archive.read(n) for n in archive.namelist() if n.endswith("E001.zh-Hans.srt"))
    assert names == ["E001.zh-Hans.srt", "E001.zh-Hans.ttml", "E001.zh-Hans.vtt",
                     "E002.zh-Hans.srt", "E002.zh-Hans.ttml", "E002.zh-Hans.vtt",
                     "E003.zh-Hans.srt", "E003.zh-Hans.ttml", "E003.zh-Hans.vtt",
                     "manifest.json"]  # the English draft is not approved
    assert {f["qc_status"] for f in manifest["files"]} == {"passed"}
    assert all(len(f["sha256"]) == 64 for f in manifest["files"])
    # 1000 ms at 25 fps is 1043 ms at 23.976, plus the offset.
    assert b"00:00:02,043 -->" in srt
    assert export.file_count == 9
    assert export.languages == ["zh-Hans"]
    url = services.export_url(export)
    assert url.startswith("/files?")
    assert "sig=" in url


def test_export_refuses_what_cannot_be_done(subtitle_title, approved_season):
    with pytest.raises(LocalizationError) as caught:
        services.export_title(subtitle_title, languages=["fr"])
    assert caught.value.status == 409
    with pytest.raises(LocalizationError) as caught:
        services.export_title(subtitle_title, formats=["docx"])
    assert caught.value.field == "formats"
    with pytest.raises(LocalizationError) as caught:
        services.export_title(subtitle_title, fps_from=25)
    assert caught.value.field == "fps_to"
    with pytest.raises(LocalizationError) as caught:
        services.export_title(subtitle_title, offset_ms=-60_000)
    assert caught.value.field == "offset_ms"


def test_export_for_languages_for_delivery(subtitle_title, approved_season):
    key = services.export_for_languages(subtitle_title.id, ["zh-Hans"], ["srt"])
    assert get_storage().exists(key)


def test_glossary_entries(subtitle_title, producer):
    services.add_glossary_entry(subtitle_title, source_term="林婉儿", target_language="EN",
                                target_term="Lin Wan'er", by=producer)
    services.add_glossary_entry(subtitle_title, source_term="林婉儿", target_language="en",
                                target_term="Lin Waner", by=producer)  # replaces
    services.add_glossary_entry(subtitle_title, source_term="林婉儿", target_language="es",
                                target_term="Lin Wan'er", by=producer)
    assert services.glossary_for(subtitle_title).terms_for("en") == {"林婉儿": "Lin Waner"}
    assert len(services.glossary_entries(subtitle_title)) == 2
    with pytest.raises(LocalizationError) as caught:
        services.add_glossary_entry(subtitle_title, source_term="", target_language="en",
                                    target_term="x")
    assert caught.value.field == "source_term"


def test_editor_rows_align_source_and_target(subtitle_title, create_track):
    source = create_track(_episode(subtitle_title, 1), approve=True)
    target = create_track(_episode(subtitle_title, 1), [(1000, 3000, "Hi, I'm Lin Wan'er."),
                                                        (3500, 5500, "First day at work.")],
                          language="en", origin="machine")
    target.source_track = source
    rows = services.editor_rows(target)
    assert rows[0].source[0].text == "你好，我是林婉儿。"
    assert rows[1].source[0].text == "今天是我第一天上班。"
    assert db.session.scalar(select(SubtitleRevision.id).where(
        SubtitleRevision.track_id == target.id)) is not None
