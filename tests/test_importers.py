"""Importing existing transcripts: callqa JSON, prefixed plain text, WebVTT, SRT."""

from __future__ import annotations

import json

import pytest

from callqa.errors import TranscriptFormatError
from callqa.importers import load_transcript
from callqa.transcript import Segment, Transcript, Word


def test_json_round_trip(tmp_path):
    original = Transcript("call.wav", 12.0, "faster-whisper", "tiny.en", (
        Segment("agent", 0.0, 2.5, "Thank you for calling.", (Word(0.0, 0.4, "Thank", 0.9),)),
        Segment("customer", 2.0, 5.0, "Hi, my bill is wrong."),
    ))
    path = tmp_path / "call.json"
    path.write_text(json.dumps(original.to_dict()))
    loaded = load_transcript(path)
    assert loaded.segments == original.segments
    assert loaded.duration == 12.0 and loaded.engine == "faster-whisper"


def test_plain_text_with_prefixes_and_continuations(tmp_path):
    path = tmp_path / "call.txt"
    path.write_text("Agent: Thank you for calling Northwind, this is Sam.\n"
                    "CUSTOMER: Hi. My bill is wrong\n"
                    "and I was charged twice.\n\n"
                    "Rep: I'm sorry about that, let me take care of it.\n")
    t = load_transcript(path)
    assert [s.speaker for s in t.segments] == ["agent", "customer", "agent"]
    assert t.segments[1].text == "Hi. My bill is wrong and I was charged twice."
    assert t.extra["times"] == "estimated"
    assert t.segments[0].end <= t.segments[1].start  # estimated times keep the order


def test_plain_text_with_timestamps(tmp_path):
    path = tmp_path / "call.txt"
    path.write_text("[00:00:01] Agent: Hello there.\n[00:01:05.5] Caller: Hi.\n")
    t = load_transcript(path)
    assert [s.start for s in t.segments] == [1.0, 65.5]
    assert t.segments[1].speaker == "customer"


def test_webvtt_voice_tags(tmp_path):
    path = tmp_path / "call.vtt"
    path.write_text("WEBVTT\n\n1\n00:00:00.000 --> 00:00:02.500\n<v Agent>Thank you for calling.</v>\n\n"
                    "00:00:02.600 --> 00:00:04.000\n<v.loud Customer>I need <b>help</b>.</v>\n")
    t = load_transcript(path)
    assert [(s.speaker, s.start, s.end, s.text) for s in t.segments] == [
        ("agent", 0.0, 2.5, "Thank you for calling."), ("customer", 2.6, 4.0, "I need help.")]


def test_srt_prefixes_and_brackets(tmp_path):
    path = tmp_path / "call.srt"
    path.write_text("1\n00:00:00,000 --> 00:00:02,000\nAgent: Good morning.\n\n"
                    "2\n00:00:02,500 --> 00:00:05,250\n[Customer] My internet is down\nagain.\n")
    t = load_transcript(path)
    assert [(s.speaker, s.end, s.text) for s in t.segments] == [
        ("agent", 2.0, "Good morning."), ("customer", 5.25, "My internet is down again.")]


@pytest.mark.parametrize("name,content,expected", [
    ("a.txt", "Hello with no speaker\n", "a.txt:1: expected a speaker prefix"),
    ("b.json", '{"segments": [', "b.json:1: invalid JSON"),
    ("c.json", '{"segments": [{"speaker": "robot", "start": 0, "end": 1, "text": "x"}]}', "use \"agent\" or"),
    ("d.vtt", "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nno tag here\n", "d.vtt:3: cue has no speaker tag"),
    ("e.txt", "   \n", "empty"),
    ("f.json", '{"segments": [{"speaker": "agent", "start": 5, "end": 1, "text": "x"}]}', "ends"),
    # found by benchmarks/reliability.py: '00:00:xx,000' was read as 0 s from its last digits
    ("g.srt", "1\n00:00:xx,000 --> 00:00:01,000\nAgent: hi\n", "g.srt:2: bad cue timing"),
    ("h.vtt", "WEBVTT\n\n00:01.000 --> soon\n<v Agent>hi\n", "h.vtt:3: bad cue timing"),
], ids=["untagged-text", "bad-json", "unknown-speaker", "untagged-cue", "empty", "end-before-start",
        "broken-srt-time", "broken-vtt-time"])
def test_bad_transcripts_name_file_and_line(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(TranscriptFormatError) as info:
        load_transcript(path)
    assert name in str(info.value) and expected in str(info.value)


def test_non_utf8(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes("Agent: caf\xe9\n".encode("latin-1"))
    with pytest.raises(TranscriptFormatError, match="UTF-8"):
        load_transcript(path)


def test_nul_characters_are_dropped_from_every_format(tmp_path):
    """Issue 16, item 1: PostgreSQL cannot store NUL; a stray one must not cost the call."""
    text = tmp_path / "call.txt"
    text.write_bytes(b"Agent: hi\0 there\nCustomer: ok\n")
    as_json = tmp_path / "call.json"
    as_json.write_text(r'{"segments": [{"speaker": "agent", "start": 0, "end": 1, "text": "hi\u0000 there"},'
                       r' {"speaker": "customer", "start": 1, "end": 2, "text": "a \\u0000 stays"}]}')
    assert [s.text for s in load_transcript(text).segments] == ["hi there", "ok"]
    assert [s.text for s in load_transcript(as_json).segments] == ["hi there", r"a \u0000 stays"]
