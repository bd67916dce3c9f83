"""Readers, encodings, writers (SRT, WebVTT, IMSC 1.1), retiming."""

from __future__ import annotations

import codecs
import random
import re
from xml.etree import ElementTree as ET

import pytest

from localization.formats import (
    IMSC11_TEXT_PROFILE,
    TT_NS,
    TTP_NS,
    TTS_NS,
    XML_NS,
    Cue,
    SubtitleParseError,
    decode_subtitle_bytes,
    display_length,
    parse_ttml,
    read_subtitles,
    retime,
    visible_text,
    write_ass,
    write_srt,
    write_subtitles,
    write_ttml,
    write_vtt,
)

# --------------------------------------------------------------------------- SRT


def test_srt_reads_cues_times_and_text(sample_srt):
    track = read_subtitles(sample_srt.encode("utf-8"))
    assert track.format == "srt"
    assert track.encoding == "utf-8"
    assert [(c.index, c.start_ms, c.end_ms) for c in track.cues] == [(1, 1000, 3000), (2, 4000, 6500)]
    assert track.cues[0].text == "你好，我是林婉儿。\n今天我们一起去上海吧！"
    assert track.cues[0].lines == ["你好，我是林婉儿。", "今天我们一起去上海吧！"]


def test_srt_keeps_tags_and_tolerates_crlf_and_missing_numbers():
    data = b"00:00:01,000 --> 00:00:02,000\r\n<i>Hello</i>\r\n\r\n00:00:03,5 --> 00:00:04,25\r\nWorld\r\n"
    cues = read_subtitles(data).cues
    assert [c.text for c in cues] == ["<i>Hello</i>", "World"]
    assert (cues[1].start_ms, cues[1].end_ms) == (3500, 4250)


def test_srt_missing_blank_line_between_cues_is_tolerated():
    data = b"1\n00:00:01,000 --> 00:00:02,000\nOne\n2\n00:00:03,000 --> 00:00:04,000\nTwo\n"
    assert [c.text for c in read_subtitles(data).cues] == ["One", "Two"]


def test_srt_out_of_order_cues_are_sorted_with_a_warning():
    data = (
        b"1\n00:00:05,000 --> 00:00:06,000\nLater\n\n"
        b"2\n00:00:01,000 --> 00:00:02,000\nEarlier\n"
    )
    track = read_subtitles(data)
    assert [c.text for c in track.cues] == ["Earlier", "Later"]
    assert [c.index for c in track.cues] == [1, 2]
    assert any("line 6" in w and "sorted" in w for w in track.warnings)


@pytest.mark.parametrize(
    ("timing", "needle"),
    [
        ("-00:00:01,000 --> 00:00:02,000", "negative"),
        ("00:00:01,000 --> -00:00:02,000", "negative"),
        ("00:00:0x,000 --> 00:00:02,000", "does not parse"),
        ("00:61:00,000 --> 00:62:00,000", "above 59"),
        ("00:00:05,000 --> 00:00:02,000", "before it starts"),
        ("00:00:01,000 -> 00:00:02,000", "has no '-->'"),
    ],
)
def test_srt_refuses_broken_timing_naming_the_line(timing, needle):
    data = f"1\n00:00:00,100 --> 00:00:00,900\nfine\n\n2\n{timing}\nbroken\n".encode()
    with pytest.raises(SubtitleParseError) as info:
        read_subtitles(data)
    assert info.value.line == 6
    assert needle in info.value.message
    assert str(info.value).startswith("line 6:")


def test_srt_text_before_the_first_cue_is_refused():
    with pytest.raises(SubtitleParseError) as info:
        read_subtitles(b"Episode 1 subtitles\n\n1\n00:00:01,000 --> 00:00:02,000\nHi\n", format="srt")
    assert info.value.line == 1


def test_srt_paragraph_after_blank_line_is_kept_with_a_warning():
    data = b"1\n00:00:01,000 --> 00:00:02,000\nFirst part\n\nsecond part\n\n2\n00:00:03,000 --> 00:00:04,000\nNext\n"
    track = read_subtitles(data)
    assert track.cues[0].text == "First part\nsecond part"
    assert len(track.cues) == 2
    assert any("line 5" in w for w in track.warnings)


# --------------------------------------------------------------------------- junk and encodings


def test_binary_junk_is_refused():
    rng = random.Random(7)
    junk = bytes(rng.randrange(256) for _ in range(4000))
    with pytest.raises(SubtitleParseError) as info:
        read_subtitles(junk)
    assert info.value.line is not None


def test_png_header_and_empty_file_are_refused():
    with pytest.raises(SubtitleParseError, match="binary"):
        read_subtitles(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(0, 64)))
    with pytest.raises(SubtitleParseError, match="empty"):
        read_subtitles(b"")


def test_plain_text_is_not_a_subtitle_file():
    with pytest.raises(SubtitleParseError) as info:
        read_subtitles("这是一份普通的文本文件。\n没有时间码。\n".encode())
    assert info.value.line == 1


def _utf16be_bom(text: str) -> bytes:
    return codecs.BOM_UTF16_BE + text.encode("utf-16-be")


@pytest.mark.parametrize(
    ("encode", "expected", "bom"),
    [
        (lambda t: t.encode("utf-8"), "utf-8", False),
        (lambda t: codecs.BOM_UTF8 + t.encode("utf-8"), "utf-8-sig", True),
        (lambda t: t.encode("utf-16"), "utf-16-le", True),  # Python writes a LE BOM
        (_utf16be_bom, "utf-16-be", True),
        (lambda t: t.encode("utf-16-le"), "utf-16-le", False),
        (lambda t: t.encode("gb18030"), "gb18030", False),
        (lambda t: t.encode("gbk"), "gb18030", False),
    ],
    ids=["utf-8", "utf-8-bom", "utf-16-le-bom", "utf-16-be-bom", "utf-16-le-no-bom", "gb18030", "gbk"],
)
def test_simplified_chinese_in_each_encoding(sample_srt, encode, expected, bom):
    track = read_subtitles(encode(sample_srt))
    assert (track.encoding, track.bom) == (expected, bom)
    assert track.cues[0].text.startswith("你好，我是林婉儿。")


def test_big5_traditional_chinese(sample_srt_hant):
    track = read_subtitles(sample_srt_hant.encode("big5"))
    assert track.encoding == "big5"
    assert track.cues[1].text == "總裁，這份合約必須馬上簽字。"


def test_gb18030_only_characters():
    # 𠮷 (U+20BB7) is outside GBK: only GB18030's four-byte form carries it.
    text = "1\n00:00:01,000 --> 00:00:02,000\n𠮷野家的老板说：欢迎光临！\n"
    data = text.encode("gb18030")
    with pytest.raises(UnicodeDecodeError):
        data.decode("gbk")
    track = read_subtitles(data)
    assert track.encoding == "gb18030"
    assert track.cues[0].text == "𠮷野家的老板说：欢迎光临！"


def test_western_code_page():
    text = "1\n00:00:01,000 --> 00:00:02,000\n¿Dónde está la señora García? ¡Qué niño más pequeño!\n"
    decoded = decode_subtitle_bytes(text.encode("cp1252"))
    assert decoded.text == text
    assert decoded.method == "detected"


def test_bom_that_lies_is_refused():
    with pytest.raises(SubtitleParseError, match="byte-order mark"):
        decode_subtitle_bytes(codecs.BOM_UTF8 + "你好".encode("gb18030"))


# --------------------------------------------------------------------------- WebVTT


VTT = """WEBVTT - episode 1
Kind: captions

NOTE a comment
spanning lines

STYLE
::cue { color: yellow }

intro
00:01.000 --> 00:03.500 line:0 align:start
<v Lin>Tom &amp; Jerry &lt;3</v>

00:00:04.000 --> 00:00:05.000
<i>second</i>
"""


def test_vtt_reads_identifiers_settings_entities_and_skips_blocks():
    track = read_subtitles(VTT.encode())
    assert track.format == "vtt"
    first, second = track.cues
    assert (first.start_ms, first.end_ms, first.identifier, first.settings) == (1000, 3500, "intro", "line:0 align:start")
    assert first.text == "<v Lin>Tom & Jerry <3</v>"
    assert second.text == "<i>second</i>"


def test_vtt_round_trip_keeps_everything():
    track = read_subtitles(VTT.encode())
    again = read_subtitles(write_vtt(track.cues).encode())
    assert again.cues == track.cues


def test_vtt_without_header_or_with_bad_timing_is_refused():
    with pytest.raises(SubtitleParseError, match="WEBVTT") as info:
        read_subtitles(b"00:01.000 --> 00:02.000\nHi\n", filename="E001.en.vtt")
    assert info.value.line == 1
    with pytest.raises(SubtitleParseError) as info:
        read_subtitles(b"WEBVTT\n\n00:01.000 --> 00:02.000\nok\n\n00:03.000 --> 00:02.000\nbad\n")
    assert info.value.line == 6


def test_vtt_writer_escapes_and_drops_foreign_tags():
    cues = [Cue(1, 0, 1000, 'Tom & "Jerry" <3 <font color="red">red</font> {\\i1}it{\\i0}\n\nsecond --> line')]
    out = write_vtt(cues)
    assert "Tom &amp; \"Jerry\" &lt;3 red <i>it</i>\nsecond --&gt; line" in out
    assert "<font" not in out


# --------------------------------------------------------------------------- ASS / SSA


ASS = r"""[Script Info]
ScriptType: v4.00+
PlayResX: 1080
PlayResY: 1920

[V4+ Styles]
Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding
Style: Default,Noto Sans CJK SC,60,&H00FFFFFF,&H000000FF,&H00000000,&H00000000,0,0,0,0,100,100,0,0,1,2,0,2,10,10,120,1

[Events]
Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
Comment: 0,0:00:00.00,0:00:01.00,Default,,0,0,0,,not shown
Dialogue: 0,0:00:01.00,0:00:03.50,Default,Lin,0,0,0,,{\i1}你好{\i0}，总裁\N今天, 下雨了
Dialogue: 0,0:00:04.00,0:00:05.00,Title,,0,0,0,,{\an8}Shanghai, 2024
"""


def test_ass_reads_dialogue_with_styles_breaks_and_commas_in_text():
    track = read_subtitles(ASS.encode(), filename="e01.ass")
    assert track.format == "ass"
    first, second = track.cues
    assert (first.start_ms, first.end_ms, first.style) == (1000, 3500, "Default")
    assert first.text == "{\\i1}你好{\\i0}，总裁\n今天, 下雨了"
    assert (second.style, second.text) == ("Title", "{\\an8}Shanghai, 2024")


def test_ass_broken_timestamp_and_reversed_event_name_the_line():
    broken = ASS.replace("0:00:04.00,0:00:05.00", "0:00:04.00,0:0x:05.00")
    with pytest.raises(SubtitleParseError) as info:
        read_subtitles(broken.encode())
    assert info.value.line == 14
    reversed_event = ASS.replace("0:00:04.00,0:00:05.00", "0:00:06.00,0:00:05.00")
    with pytest.raises(SubtitleParseError) as info:
        read_subtitles(reversed_event.encode())
    assert info.value.line == 14


def test_ssa_is_recognised():
    ssa = ASS.replace("ScriptType: v4.00+", "ScriptType: v4.00").replace("[V4+ Styles]", "[V4 Styles]")
    assert read_subtitles(ssa.encode()).format == "ssa"


def test_srt_written_from_ass_tags():
    track = read_subtitles(ASS.encode())
    out = write_srt(track.cues)
    assert "<i>你好</i>，总裁\n今天, 下雨了" in out
    assert "{\\an8}" not in out


def test_ass_writer_for_burn_in_uses_video_size_and_explicit_breaks():
    out = write_ass([Cue(1, 0, 2000, "<i>你好</i>\n总裁")], play_res=(1080, 1920))
    assert "PlayResX: 1080" in out
    assert "PlayResY: 1920" in out
    assert "{\\i1}你好{\\i0}\\N总裁" in out


# --------------------------------------------------------------------------- TTML in


TTML = """<?xml version="1.0" encoding="UTF-8"?>
<tt xmlns="http://www.w3.org/ns/ttml" xmlns:tts="http://www.w3.org/ns/ttml#styling"
    xmlns:ttp="http://www.w3.org/ns/ttml#parameter" xml:lang="es-419"
    ttp:frameRate="25" ttp:tickRate="10000000">
  <head>
    <styling><style xml:id="it" tts:fontStyle="italic"/></styling>
  </head>
  <body>
    <div begin="10s">
      <p begin="00:00:01:05" end="00:00:02:00">Hola <span tts:fontWeight="bold">mundo</span><br/>
         segunda   línea</p>
      <p begin="30000000t" dur="1.5s" style="it">Cursiva</p>
      <p begin="5s" end="6s"><span style="it">Sólo</span> esto</p>
    </div>
  </body>
</tt>
"""


def test_ttml_times_nesting_spans_styles_and_language():
    track = read_subtitles(TTML.encode())
    assert track.format == "ttml"
    assert track.language == "es-419"
    assert [(c.start_ms, c.end_ms) for c in track.cues] == [(11200, 12000), (13000, 14500), (15000, 16000)]
    assert [c.text for c in track.cues] == ["Hola <b>mundo</b>\nsegunda línea", "<i>Cursiva</i>", "<i>Sólo</i> esto"]


def test_ttml_dtd_and_entities_are_refused():
    bomb = (
        '<?xml version="1.0"?>\n<!DOCTYPE tt [\n<!ENTITY a "aaaaaaaaaa">\n'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">\n]>\n'
        '<tt xmlns="http://www.w3.org/ns/ttml"><body><div><p begin="0s" end="1s">&b;</p></div></body></tt>'
    )
    with pytest.raises(SubtitleParseError, match="refused") as info:
        read_subtitles(bomb.encode(), format="ttml")
    assert info.value.line == 2
    external = '<?xml version="1.0"?>\n<!DOCTYPE tt SYSTEM "file:///etc/passwd">\n<tt xmlns="http://www.w3.org/ns/ttml"/>'
    with pytest.raises(SubtitleParseError, match="refused"):
        read_subtitles(external.encode(), format="ttml")


@pytest.mark.parametrize(
    ("body", "line", "needle"),
    [
        ('<p begin="0s" end="1s">ok</p>\n<p begin="2s">no end</p>', 3, "no end time"),
        ('<p begin="0s" end="1s">ok</p>\n<p begin="5s" end="2s">reversed</p>', 3, "before it starts"),
        ('<p begin="0s" end="1s">ok</p>\n<p begin="-1s" end="2s">neg</p>', 3, "negative"),
        ('<p begin="0s" end="1s">ok</p>\n<p begin="soon" end="2s">bad</p>', 3, "does not parse"),
        ('<p begin="0s" end="1s">ok\n</div>', 3, "well-formed"),
    ],
)
def test_ttml_errors_name_the_line(body, line, needle):
    doc = f'<tt xmlns="http://www.w3.org/ns/ttml"><body><div>\n{body}\n</div></body></tt>'
    with pytest.raises(SubtitleParseError) as info:
        read_subtitles(doc.encode(), format="ttml")
    assert needle in info.value.message
    assert info.value.line == line


# --------------------------------------------------------------------------- IMSC 1.1 out


def _imsc(cues, **kwargs):
    xml = write_ttml(cues, **kwargs)
    return xml, ET.fromstring(xml.encode("utf-8"))


def test_imsc_output_is_well_formed_with_required_attributes():
    cues = [Cue(1, 1000, 3000, "你好，<i>林婉儿</i>\n今天去上海"), Cue(2, 4000, 6500, "{\\an8}Top & <b>bold</b>")]
    xml, root = _imsc(cues, language="zh-Hans", fps=29.97)
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert root.tag == f"{{{TT_NS}}}tt"
    assert root.get(f"{{{XML_NS}}}lang") == "zh-Hans"
    assert root.get(f"{{{TTP_NS}}}profile") == IMSC11_TEXT_PROFILE
    assert root.get(f"{{{TTP_NS}}}timeBase") == "media"
    assert root.get(f"{{{TTP_NS}}}frameRate") == "30"
    assert root.get(f"{{{TTP_NS}}}frameRateMultiplier") == "1000 1001"
    assert root.get(f"{{{TTS_NS}}}extent") == "1080px 1920px"
    regions = {r.get(f"{{{XML_NS}}}id") for r in root.iter(f"{{{TT_NS}}}region")}
    assert regions == {"bottom", "top"}
    for region in root.iter(f"{{{TT_NS}}}region"):
        assert region.get(f"{{{TTS_NS}}}origin")
        assert region.get(f"{{{TTS_NS}}}extent")
    body = root.find(f"{{{TT_NS}}}body")
    paragraphs = body.findall(f"{{{TT_NS}}}div/{{{TT_NS}}}p")
    assert len(paragraphs) == 2
    frame_clock = re.compile(r"\d{2}:\d{2}:\d{2}:\d{2}")
    for p in paragraphs:
        assert frame_clock.fullmatch(p.get("begin"))
        assert frame_clock.fullmatch(p.get("end"))
        assert p.get("region") in regions
    assert paragraphs[0].get("begin") == "00:00:01:00"
    assert paragraphs[1].get("end") == "00:00:06:15"  # 0.5 s at 29.97 fps is frame 15
    assert paragraphs[1].get("region") == "top"
    assert len(paragraphs[0].findall(f"{{{TT_NS}}}br")) == 1
    span = paragraphs[0].find(f"{{{TT_NS}}}span")
    assert (span.text, span.get(f"{{{TTS_NS}}}fontStyle")) == ("林婉儿", "italic")


def test_imsc_without_frame_rate_uses_media_clock_and_no_frame_rate():
    _, root = _imsc([Cue(1, 1234, 5678, "Hi")], language="en", fps=None, extent=None)
    assert root.get(f"{{{TTP_NS}}}frameRate") is None
    assert root.get(f"{{{TTS_NS}}}extent") is None
    p = next(root.iter(f"{{{TT_NS}}}p"))
    assert (p.get("begin"), p.get("end")) == ("00:00:01.234", "00:00:05.678")


def test_imsc_round_trips_through_the_reader():
    cues = [Cue(1, 1000, 3000, "Uno <i>dos</i>\ntres"), Cue(2, 3500, 4800, "<b>cuatro</b> & cinco")]
    for fps in (None, 25, 23.976):
        xml = write_ttml(cues, language="es", fps=fps)
        parsed, _, language = parse_ttml(xml)
        assert language == "es"
        assert [c.text for c in parsed] == [c.text for c in cues]
        frame = 1000 / fps if fps else 1
        for a, b in zip(parsed, cues, strict=True):
            assert abs(a.start_ms - b.start_ms) <= frame
            assert abs(a.end_ms - b.end_ms) <= frame


def test_imsc_refuses_an_odd_frame_rate():
    with pytest.raises(ValueError, match="frame rate"):
        write_ttml([Cue(1, 0, 1000, "x")], language="en", fps=26.5)


# --------------------------------------------------------------------------- retiming, helpers


def test_retime_25_to_23976_and_offset():
    cues = [Cue(1, 1000, 2000, "a"), Cue(2, 60_000, 61_000, "b")]
    out = retime(cues, fps_from=25, fps_to=23.976)
    assert [(c.start_ms, c.end_ms) for c in out] == [(1043, 2085), (62563, 63605)]
    assert cues[0].start_ms == 1000  # input untouched
    shifted = retime(cues, offset_ms=-500)
    assert [(c.start_ms, c.end_ms) for c in shifted] == [(500, 1500), (59500, 60500)]
    with pytest.raises(ValueError, match="offset"):
        retime(cues, offset_ms=-1500)
    with pytest.raises(ValueError, match="both"):
        retime(cues, fps_from=25)


def test_srt_writer_renumbers_and_drops_blank_lines():
    out = write_srt([Cue(7, 0, 1500, "a\n\nb"), Cue(9, 3_600_000, 3_601_000, "c")])
    assert out == "1\n00:00:00,000 --> 00:00:01,500\na\nb\n\n2\n01:00:00,000 --> 01:00:01,000\nc\n"


def test_write_subtitles_dispatch():
    cues = [Cue(1, 0, 1000, "x")]
    assert write_subtitles(cues, "srt").startswith(b"1\n")
    assert write_subtitles(cues, "vtt").startswith(b"WEBVTT")
    assert b"<tt" in write_subtitles(cues, "ttml", language="en")
    with pytest.raises(ValueError, match="cannot write"):
        write_subtitles(cues, "sbv")


def test_visible_text_and_display_length():
    assert visible_text("<i>Hi</i> {\\an8}there\\hyou <3") == "Hi there you <3"
    assert display_length("สวัสดีครับ") == 7  # 10 code points, 3 combining vowel marks
    assert display_length("你好，世界") == 5
