"""Transcription end to end with the real packaged model: stereo roles, cache, CLI, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from callqa import asr
from callqa.audio import decode
from callqa.cli import main
from callqa.transcribe import TranscribeSettings, transcribe_file
from conftest import shared_file, write_audio

pytestmark = pytest.mark.slow


def assert_word_confidence(transcript) -> None:
    """Every word carries Whisper's probability (issue 18): in (0, 1], and not the 1.0 that a word
    without one gets (a path that dropped them would give 1.0 everywhere)."""
    words = [w for s in transcript.segments for w in s.words]
    assert words and all(0 < w.probability <= 1 for w in words)
    assert any(w.probability < 0.99 for w in words)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CALLQA_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def two_party_call(tmp_path_factory):
    """Stereo, 16 kHz: the JFK clip on the left at 0 s, then on the right at 13 s (24 s in all)."""
    speech = decode(shared_file("faster-whisper", "jfk.flac")).mono()
    gap = np.zeros(16000 * 2, dtype=np.float32)
    silence = np.zeros_like(speech)
    left = np.concatenate([speech, gap, silence])
    right = np.concatenate([silence, gap, speech])
    path = tmp_path_factory.mktemp("calls") / "two party.flac"
    return write_audio(path, np.stack([left, right]), 16000)


def test_stereo_channels_give_roles_on_one_timeline(two_party_call):
    t = transcribe_file(two_party_call)
    assert t.roles == "channels" and t.duration == pytest.approx(24.0, abs=0.1)
    agent, customer = t.turns("agent"), t.turns("customer")
    assert agent and customer
    assert all(s.end < 12.0 for s in agent) and all(s.start > 12.0 for s in customer)
    assert "ask not what your country" in " ".join(s.text for s in agent).lower()
    assert [s.start for s in t.segments] == sorted(s.start for s in t.segments)
    assert all(s.words for s in t.segments)  # word timestamps kept for later stages
    assert_word_confidence(t)


def test_agent_channel_setting_swaps_roles(two_party_call):
    t = transcribe_file(two_party_call, TranscribeSettings(agent_channel="right"))
    assert t.segments[0].speaker == "customer" and t.segments[-1].speaker == "agent"


def test_second_run_is_a_cache_hit_and_runs_no_model(two_party_call, monkeypatch):
    first = transcribe_file(two_party_call)

    def no_model(*_args, **_kwargs):
        raise AssertionError("the cache should have answered without loading a model")

    monkeypatch.setattr(asr, "get_transcriber", no_model)
    second = transcribe_file(two_party_call)
    assert second.segments == first.segments and second.extra["cache"] == "hit"  # probabilities too
    assert_word_confidence(second)
    with pytest.raises(AssertionError, match="cache should have answered"):
        transcribe_file(two_party_call, TranscribeSettings(beam_size=1))  # other options: a miss


def test_cli_json_output_and_errors_name_the_file(two_party_call, tmp_path, capsys):
    bad = tmp_path / "not audio.wav"
    bad.write_text("hello")
    code = main(["transcribe", str(two_party_call), str(bad), "--format", "json", "-j", "1"])
    out, err = capsys.readouterr()
    assert code == 2
    assert "not audio.wav" in err and "not a readable audio file" in err
    record = json.loads(out.strip().splitlines()[0])
    assert record["file"] == str(two_party_call) and record["engine"] == "faster-whisper"
    assert record["model"] == "tiny.en" and {s["speaker"] for s in record["segments"]} == {"agent", "customer"}
    assert set(record["segments"][0]) == {"speaker", "start", "end", "text", "words"}


def test_cli_text_output_of_an_imported_transcript(tmp_path, capsys):
    path = tmp_path / "call.txt"
    path.write_text("Agent: Thank you for calling.\nCustomer: My bill is wrong.\n")
    assert main(["transcribe", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Agent    Thank you for calling." in out and "Customer My bill is wrong." in out


def test_output_folder_keeps_every_transcript_under_its_own_name(tmp_path, capsys):
    """Issue 16, item 12: a/call.txt, b/call.txt and a/call.vtt gave one OUT/call.json, exit 0: two
    transcripts silently lost. Each is now OUT/<its path under the folder given>.json; two inputs
    that would share a name fail instead of one overwriting the other; a symlink there is replaced."""
    calls = tmp_path / "calls"
    for rel, text in (("a/call.txt", "Agent: I am a.\n"), ("b/call.txt", "Agent: I am b.\n"),
                      ("a/call.vtt", "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v Agent>I am the vtt.\n")):
        (calls / rel).parent.mkdir(parents=True, exist_ok=True)
        (calls / rel).write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    (out / "a").mkdir(parents=True)
    (tmp_path / "precious.txt").write_text("keep me", encoding="utf-8")
    (out / "a" / "call.txt.json").symlink_to(tmp_path / "precious.txt")
    assert main(["transcribe", str(calls), "-o", str(out), "-j", "1"]) == 0
    written = {str(p.relative_to(out)): json.loads(p.read_text(encoding="utf-8"))["segments"][0]["text"]
               for p in out.rglob("*.json")}
    assert written == {"a/call.txt.json": "I am a.", "b/call.txt.json": "I am b.", "a/call.vtt.json": "I am the vtt."}
    assert (tmp_path / "precious.txt").read_text(encoding="utf-8") == "keep me"
    capsys.readouterr()
    alone = tmp_path / "alone"
    assert main(["transcribe", str(calls / "a" / "call.txt"), str(calls / "b" / "call.txt"), "-o", str(alone)]) == 2
    err = capsys.readouterr().err
    assert "b/call.txt" in err and "a/call.txt" in err and "call.txt.json" in err
    assert [p.name for p in alone.iterdir()] == ["call.txt.json"]
    assert "I am a." in (alone / "call.txt.json").read_text(encoding="utf-8")


def test_missing_model_folder_is_a_clear_error(two_party_call, capsys):
    code = main(["transcribe", str(two_party_call), "--model", "/nonexistent/model", "-j", "1", "--no-cache"])
    assert code == 2
    assert "/nonexistent/model" in capsys.readouterr().err


@pytest.mark.parametrize("model", ["tiny.en", "base"])
def test_packaged_models_transcribe_real_speech_offline(model, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # any hub access would fail the test
    t = transcribe_file(shared_file("faster-whisper", "jfk.flac"), TranscribeSettings(model=model))
    text = " ".join(s.text for s in t.segments).lower()
    assert "ask not what your country can do for you" in text
    assert t.model == model


def test_mono_call_roles_from_diarization_match_the_script():
    """c06 is mono and its agent never greets by name: roles come from diarization and cues."""
    from conftest import SAMPLES, REPO
    ref = json.loads((REPO / "samples" / "reference" / "c06_carmen_solar.json").read_text())
    t = transcribe_file(SAMPLES / "c06_carmen_solar.mp3")
    assert t.roles == "diarization"
    right = total = 0
    for seg in t.segments:
        for w in seg.words:
            mid = (w.start + w.end) / 2
            truth = {s["speaker"] for s in ref["segments"] if s["start"] - 0.3 <= mid <= s["end"] + 0.3}
            if len(truth) == 1:
                total += 1
                right += truth == {seg.speaker}
    assert total > 150 and right / total > 0.9
    assert_word_confidence(t)


def test_mono_agent_override(tmp_path):
    from conftest import SAMPLES
    t = transcribe_file(SAMPLES / "c06_carmen_solar.mp3", TranscribeSettings(mono_agent="second"))
    assert t.roles == "override" and t.segments[0].speaker == "customer"
    assert_word_confidence(t)


def test_a_mono_transcript_cached_by_older_role_rules_is_transcribed_again(tmp_path, monkeypatch):
    from callqa.cache import TranscriptCache, cache_dir

    mono = write_audio(tmp_path / "mono.flac", decode(shared_file("faster-whisper", "jfk.flac")).mono()[None, :], 16000)
    first = transcribe_file(mono)
    assert first.roles == "diarization"
    entries = list(TranscriptCache(cache_dir() / "transcripts").root.rglob("*.json"))
    assert len(entries) == 1
    data = json.loads(entries[0].read_text())
    del data["extra"]["mono_roles_version"]  # as a callqa before the current role rules wrote it
    entries[0].write_text(json.dumps(data))

    def no_model(*_args, **_kwargs):
        raise AssertionError("model loaded")

    monkeypatch.setattr(asr, "get_transcriber", no_model)
    with pytest.raises(AssertionError, match="model loaded"):
        transcribe_file(mono)  # stale roles: not taken from the cache
    monkeypatch.undo()
    monkeypatch.setenv("CALLQA_CACHE_DIR", str(tmp_path / "cache"))
    again = transcribe_file(mono)
    assert again.extra["mono_roles_version"] and transcribe_file(mono).extra["cache"] == "hit"
