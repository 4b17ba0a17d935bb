"""openai-whisper (PyTorch, float32 on CPU): the reference implementation, offline.

``tiny.en`` and ``base`` run from the packaged CTranslate2 weights, converted once into an
openai-whisper checkpoint (``convert.py``). openai-whisper has no voice activity detection, so
``options.vad`` borrows faster-whisper's bundled Silero VAD and its approach: keep only the speech,
transcribe it as one stream, then map every time back onto the original timeline.
"""

from __future__ import annotations

import threading

import numpy as np

from callqa.asr import AsrSegment, EngineOptions
from callqa.asr.convert import load_openai_model, openai_checkpoint
from callqa.asr.models import PACKAGED_MODELS, cache_dir
from callqa.errors import ModelError
from callqa.transcript import Word

SAMPLE_RATE = 16_000


class OpenAIWhisperTranscriber:
    engine = "openai-whisper"

    def __init__(self, model: str, threads: int = 0) -> None:
        self.model = model
        self._threads = threads
        self._whisper = None
        self._load_lock = threading.Lock()
        # openai-whisper decodes with forward hooks installed on the shared model (key/value
        # cache, word timing); two concurrent calls would mix each other's caches.
        self._run_lock = threading.Lock()

    def _load(self):
        with self._load_lock:
            if self._whisper is None:
                import torch

                if self._threads > 0:
                    torch.set_num_threads(self._threads)
                if self.model in PACKAGED_MODELS or self.model.endswith(".pt"):
                    self._whisper = load_openai_model(openai_checkpoint(self.model))
                else:
                    self._whisper = self._load_from_hub()
            return self._whisper

    def _load_from_hub(self):
        import whisper

        try:
            return whisper.load_model(self.model, device="cpu", download_root=str(cache_dir() / "models"))
        except Exception as exc:  # network errors, unknown names, checksum mismatches...
            raise ModelError(
                f"cannot load openai-whisper model {self.model!r} ({exc}); the model hub is probably "
                f"unreachable: use a packaged model ({', '.join(PACKAGED_MODELS)}) or a .pt checkpoint path"
            ) from exc

    def transcribe(self, samples: np.ndarray, options: EngineOptions) -> list[AsrSegment]:
        import whisper

        model = self._load()
        audio = np.ascontiguousarray(samples, dtype=np.float32)
        speech = None
        if options.vad:
            from faster_whisper.vad import VadOptions, collect_chunks, get_speech_timestamps

            speech = get_speech_timestamps(audio, VadOptions())
            if not speech:
                return []
            audio = np.concatenate(collect_chunks(audio, speech)[0])

        greedy = options.beam_size <= 1
        with self._run_lock:
            result = whisper.transcribe(
                model,
                audio,  # a numpy array: no ffmpeg needed
                language=options.language,
                beam_size=None if greedy else options.beam_size,
                # greedy: one deterministic pass; beam search keeps openai-whisper's temperature fallback
                **({"temperature": 0.0} if greedy else {}),
                word_timestamps=options.word_timestamps,
                condition_on_previous_text=False,
                initial_prompt=options.prompt(),  # the first window only, as faster-whisper's
                fp16=False,
                verbose=None,
            )
        segments = [_segment(seg) for seg in result["segments"]]
        return _restore_times(segments, speech) if speech else segments


def _segment(seg: dict) -> AsrSegment:
    words = tuple(Word(float(w["start"]), float(w["end"]), w["word"].strip(), float(w["probability"]))
                  for w in seg.get("words") or ())
    return AsrSegment(float(seg["start"]), float(seg["end"]), seg["text"].strip(), words,
                      float(seg.get("avg_logprob", 0.0)))


def _restore_times(segments: list[AsrSegment], speech: list[dict]) -> list[AsrSegment]:
    """Map times on the speech-only stream back to the recording (faster-whisper's restore_speech_timestamps)."""
    from faster_whisper.vad import SpeechTimestampsMap

    ts_map = SpeechTimestampsMap(speech, SAMPLE_RATE)
    out = []
    for seg in segments:
        if seg.words:
            words = []
            for w in seg.words:
                chunk = ts_map.get_chunk_index((w.start + w.end) / 2)  # both ends in the same chunk
                words.append(Word(ts_map.get_original_time(w.start, chunk), ts_map.get_original_time(w.end, chunk),
                                  w.text, w.probability))
            out.append(AsrSegment(words[0].start, words[-1].end, seg.text, tuple(words), seg.avg_logprob))
        else:
            out.append(AsrSegment(ts_map.get_original_time(seg.start),
                                  ts_map.get_original_time(seg.end, is_end=True), seg.text, (), seg.avg_logprob))
    return out
