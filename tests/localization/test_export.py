"""Season ZIP export and safe ZIP ingest."""

from __future__ import annotations

import hashlib
import io
import json
import stat
import zipfile

import pytest

from localization.export import (
    ExportTrack,
    UnsafeArchiveError,
    build_season_zip,
    export_filename,
    ingest_zip,
    parse_subtitle_filename,
)
from localization.formats import Cue


def _cues(*texts: str) -> list[Cue]:
    return [Cue(n, n * 2000, n * 2000 + 1500, text) for n, text in enumerate(texts, 1)]


def _zip(entries: dict[str, bytes], *, symlink: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


SRT = "1\n00:00:01,000 --> 00:00:02,000\n{}\n"


# --------------------------------------------------------------------------- export


def test_export_filename():
    assert export_filename(12, "zh-hans", "subtitle", "srt") == "E012.zh-Hans.srt"
    assert export_filename(3, "en", "sdh", "vtt") == "E003.en.sdh.vtt"
    with pytest.raises(ValueError, match="kind"):
        export_filename(1, "en", "karaoke", "srt")


def test_season_zip_with_manifest_and_checksums():
    tracks = [
        ExportTrack(2, "en", _cues("Hello"), origin="machine", qc_status="failed"),
        ExportTrack(1, "zh-Hans", _cues("你好"), qc_status="passed", fps=30),
        ExportTrack(1, "en", _cues("Hi"), kind="sdh", origin="human", qc_status="passed"),
    ]
    data = build_season_zip(tracks, ["srt", "vtt", "ttml"], title="Love in Pudong", folder="love-in-pudong")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        manifest = json.loads(archive.read("love-in-pudong/manifest.json"))
        assert names[:3] == ["love-in-pudong/E001.en.sdh.srt", "love-in-pudong/E001.en.sdh.vtt", "love-in-pudong/E001.en.sdh.ttml"]
        assert len(names) == 10
        assert manifest["title"] == "Love in Pudong"
        by_path = {entry["path"]: entry for entry in manifest["files"]}
        assert set(by_path) == set(names) - {"love-in-pudong/manifest.json"}
        for path, entry in by_path.items():
            assert entry["sha256"] == hashlib.sha256(archive.read(path)).hexdigest()
        zh = by_path["love-in-pudong/E001.zh-Hans.ttml"]
        assert (zh["episode"], zh["language"], zh["kind"], zh["origin"], zh["qc_status"]) == (1, "zh-Hans", "subtitle", "source", "passed")
        assert b'ttp:frameRate="30"' in archive.read("love-in-pudong/E001.zh-Hans.ttml")
        assert by_path["love-in-pudong/E002.en.srt"]["qc_status"] == "failed"
    assert build_season_zip(tracks, ["srt", "vtt", "ttml"], title="Love in Pudong", folder="love-in-pudong") == data


def test_season_zip_refuses_duplicates_and_unknown_formats():
    with pytest.raises(ValueError, match="two tracks"):
        build_season_zip([ExportTrack(1, "en", _cues("a")), ExportTrack(1, "EN", _cues("b"))])
    with pytest.raises(ValueError, match="cannot export"):
        build_season_zip([ExportTrack(1, "en", _cues("a"))], ["docx"])


# --------------------------------------------------------------------------- ingest


def test_exported_zip_ingests_back():
    tracks = [ExportTrack(e, lang, _cues(f"{lang} {e}")) for e in (1, 2) for lang in ("en", "zh-Hans", "pt-BR")]
    report = ingest_zip(build_season_zip(tracks, ["srt", "vtt"]))
    assert len(report.files) == 12
    assert report.skipped == (("manifest.json", "not a subtitle file"),)
    for item in report.files:
        assert item.error is None
        assert item.track.cues[0].text == f"{item.language} {item.episode}"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("E012.zh-Hans.srt", (12, "zh-Hans", "subtitle")),
        ("ep12_es.vtt", (12, "es", "subtitle")),
        ("S01E05.en.sdh.srt", (5, "en", "sdh")),
        ("Love_in_Pudong_EP03_pt_BR.srt", (3, "pt-BR", "subtitle")),
        ("Episode 7 - es-419.ass", (7, "es-419", "subtitle")),
        ("第12集.zh-CN.srt", (12, "zh-CN", "subtitle")),
        ("th/015.srt", (15, "th", "subtitle")),
        ("E001.en.forced.vtt", (1, "en", "forced")),
        ("the_final.srt", (None, None, "subtitle")),
    ],
)
def test_file_name_inference(path, expected):
    assert parse_subtitle_filename(path) == expected


@pytest.mark.parametrize("bad", ["../evil.srt", "subs/../../evil.srt", "/etc/cron.d/evil.srt", "C:\\Windows\\evil.srt", "..\\evil.srt"])
def test_zip_slip_is_refused(bad):
    data = _zip({"E001.en.srt": SRT.format("ok").encode(), bad: SRT.format("evil").encode()})
    with pytest.raises(UnsafeArchiveError, match="outside|absolute"):
        ingest_zip(data)


def test_symlink_entry_is_refused():
    with pytest.raises(UnsafeArchiveError, match="symbolic link"):
        ingest_zip(_zip({"E001.en.srt": SRT.format("ok").encode()}, symlink="E002.en.srt"))


def test_zip_bomb_caps():
    big = SRT.format("x" * 200_000).encode()
    data = _zip({"E001.en.srt": big, "E002.en.srt": big})
    assert len(data) < 10_000  # it compresses very well …
    with pytest.raises(UnsafeArchiveError, match="uncompressed"):
        ingest_zip(data, max_total_bytes=300_000)  # … but inflates past the total cap
    with pytest.raises(UnsafeArchiveError, match="uncompressed"):
        ingest_zip(data, max_file_bytes=100_000)
    many = _zip({f"E{n:03d}.en.srt": SRT.format(n).encode() for n in range(1, 12)})
    with pytest.raises(UnsafeArchiveError, match="entries"):
        ingest_zip(many, max_entries=10)


def test_not_a_zip():
    with pytest.raises(UnsafeArchiveError, match="not a ZIP"):
        ingest_zip(b"PK but not really")


def test_mixed_encodings_are_each_detected_and_reported(sample_srt, sample_srt_hant):
    data = _zip({
        "E001.zh-Hans.srt": sample_srt.encode("utf-8"),
        "E002.zh-Hans.srt": sample_srt.encode("gb18030"),
        "E003.zh-Hans.srt": sample_srt.encode("utf-16"),
        "E004.zh-Hant.srt": sample_srt_hant.encode("big5"),
        "__MACOSX/._E001.zh-Hans.srt": b"\x00\x05\x16\x07",
        "notes.txt": b"hello",
        "E005.zh-Hans.srt": b"1\n00:00:01,000 --> 00:00:0x,000\nbroken\n",
    })
    report = ingest_zip(data)
    assert report.encodings == {
        "E001.zh-Hans.srt": "utf-8",
        "E002.zh-Hans.srt": "gb18030",
        "E003.zh-Hans.srt": "utf-16-le",
        "E004.zh-Hant.srt": "big5",
        "E005.zh-Hans.srt": "utf-8",
    }
    assert report.mixed_encodings
    good = [f for f in report.files if f.error is None]
    assert {f.track.cues[0].text.split("\n")[0] for f in good} == {"你好，我是林婉儿。", "你好，我是林婉兒。"}
    broken = next(f for f in report.files if f.path == "E005.zh-Hans.srt")
    assert (broken.track, broken.error_line) == (None, 2)
    assert "does not parse" in broken.error
    assert dict(report.skipped) == {"__MACOSX/._E001.zh-Hans.srt": "hidden or resource-fork file", "notes.txt": "not a subtitle file"}
