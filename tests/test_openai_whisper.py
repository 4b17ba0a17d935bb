"""openai-whisper engine on the packaged weights, converted from CTranslate2."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from callqa import audio
from callqa.asr import EngineOptions
from callqa.asr.convert import convert_ct2_to_openai, load_openai_model, openai_checkpoint
from callqa.asr.faster import FasterWhisperTranscriber
from callqa.asr.models import ct2_model_dir
from callqa.asr.openai_engine import OpenAIWhisperTranscriber
from callqa.errors import ModelError

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
JFK = DATA / "faster-whisper" / "jfk.flac"
MODELS = ["tiny.en", "base"]


@pytest.fixture(scope="module", autouse=True)
def _cache(tmp_path_factory):
    """Convert into a throwaway cache, never the user's."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CALLQA_CACHE_DIR", str(tmp_path_factory.mktemp("callqa-cache")))
        yield


@pytest.fixture(scope="module")
def jfk() -> np.ndarray:
    if not JFK.is_file():
        pytest.skip(f"shared test audio not found: {JFK}")
    return audio.decode(JFK).mono()


@pytest.fixture(scope="module")
def engines():
    """One engine per model for the whole module, as in the app (load once per process)."""
    made: dict[str, OpenAIWhisperTranscriber] = {}
    return lambda name: made.setdefault(name, OpenAIWhisperTranscriber(name))


def _words(text: str) -> str:
    return " ".join(re.findall(r"[a-z']+", text.lower()))


@pytest.mark.slow
@pytest.mark.parametrize("name", MODELS)
def test_converted_model_decodes_the_same_tokens_as_ctranslate2(name, jfk):
    ctranslate2 = pytest.importorskip("ctranslate2")
    import torch
    import whisper

    model = load_openai_model(openai_checkpoint(name))
    mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(torch.from_numpy(jfk)), model.dims.n_mels)
    ours = whisper.decode(model, mel, whisper.DecodingOptions(language="en", without_timestamps=True, fp16=False))

    tokenizer = whisper.tokenizer.get_tokenizer(model.is_multilingual, num_languages=model.num_languages,
                                                language="en", task="transcribe")
    reference = ctranslate2.models.Whisper(str(ct2_model_dir(name)), device="cpu", compute_type="float32")
    features = ctranslate2.StorageView.from_array(np.ascontiguousarray(mel.numpy()[None]))
    theirs = reference.generate(features, [list(tokenizer.sot_sequence_including_notimestamps)], beam_size=1)

    assert ours.tokens == theirs[0].sequences_ids[0]
    assert "ask not what your country can do for you" in _words(ours.text)


@pytest.mark.slow
@pytest.mark.parametrize("name", MODELS)
def test_greedy_text_matches_faster_whisper_at_full_precision(name, jfk, engines):
    # int8 faster-whisper (the default) may differ in punctuation; float32 must not.
    options = EngineOptions(beam_size=1, vad=False, word_timestamps=False)
    ours = engines(name).transcribe(jfk, options)
    theirs = FasterWhisperTranscriber(name, compute_type="float32").transcribe(jfk, options)
    assert [s.text for s in ours] == [s.text for s in theirs]


@pytest.mark.slow
@pytest.mark.parametrize("name", MODELS)
def test_beam_search_transcribes_jfk_with_word_times(name, jfk, engines):
    segments = engines(name).transcribe(jfk, EngineOptions(beam_size=5))
    text = _words(" ".join(s.text for s in segments))
    assert "ask not what your country can do for you" in text
    words = [w for s in segments for w in s.words]
    assert words and all(0 <= w.start <= w.end <= len(jfk) / 16_000 + 0.5 for w in words)
    assert [w.start for w in words] == sorted(w.start for w in words)
    # each word's probability (issue 18): Whisper's own, not the 1.0 a word without one gets
    assert all(0 < w.probability <= 1 for w in words) and any(w.probability < 0.99 for w in words)


@pytest.mark.slow
def test_vad_times_are_on_the_original_timeline(jfk, engines):
    silence = np.zeros(5 * 16_000, dtype=np.float32)
    padded = np.concatenate([silence, jfk, silence])
    segments = engines("tiny.en").transcribe(padded, EngineOptions(beam_size=1, vad=True))
    first = segments[0].words[0]
    assert 4.5 < first.start < 6.0, first  # the speech starts after 5 s of silence
    words = [w for s in segments for w in s.words]  # mapped back with their probabilities
    assert all(0 < w.probability <= 1 for w in words) and any(w.probability < 0.99 for w in words)
    assert segments[-1].end <= 5 + len(jfk) / 16_000 + 0.5


def test_a_missing_checkpoint_is_a_model_error_naming_it(tmp_path):
    missing = tmp_path / "nowhere" / "model.pt"
    with pytest.raises(ModelError, match=re.escape(str(missing))):
        OpenAIWhisperTranscriber(str(missing)).transcribe(np.zeros(16_000, np.float32), EngineOptions())


def test_a_corrupt_checkpoint_is_a_model_error_naming_it(tmp_path):
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match=re.escape(str(broken))):
        load_openai_model(broken)


def test_a_folder_that_is_not_whisper_is_refused(tmp_path):
    (tmp_path / "model.bin").write_bytes(b"\x05\x00\x00\x00\x04\x00Foo\x00")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelError, match="model.bin"):
        convert_ct2_to_openai(tmp_path, tmp_path / "out.pt")
    assert not (tmp_path / "out.pt").exists()


def test_the_converted_checkpoint_is_cached_and_loads_with_openai_whisper():
    import whisper

    first = openai_checkpoint("tiny.en")
    stamp = first.stat().st_mtime_ns
    second = openai_checkpoint("tiny.en")
    assert second == first and second.stat().st_mtime_ns == stamp
    assert not [p for p in first.parent.iterdir() if p.name.endswith(".partial")]
    model = whisper.load_model(str(first), device="cpu")  # weights_only=True inside
    assert (model.dims.n_vocab, model.dims.n_text_layer, model.is_multilingual) == (51864, 4, False)
