"""faster-whisper (CTranslate2, int8 on CPU): the default engine."""

from __future__ import annotations

import threading

import numpy as np

from callqa.asr import AsrSegment, EngineOptions
from callqa.asr.models import ct2_model_dir, is_packaged
from callqa.errors import ModelError
from callqa.transcript import Word


class FasterWhisperTranscriber:
    engine = "faster-whisper"

    def __init__(self, model: str, threads: int = 0, compute_type: str = "int8") -> None:
        self.model = model
        self._threads = threads
        self._compute_type = compute_type
        self._whisper = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._whisper is None:
                from faster_whisper import WhisperModel

                from pathlib import Path

                local = is_packaged(self.model) or Path(self.model).expanduser().is_dir()
                source = str(ct2_model_dir(self.model)) if local else self.model
                try:
                    self._whisper = WhisperModel(source, device="cpu", compute_type=self._compute_type,
                                                 cpu_threads=self._threads, local_files_only=local)
                except Exception as exc:  # the library raises many kinds; name the model
                    raise ModelError(f"cannot load faster-whisper model {self.model!r} from {source}: {exc}") from exc
            return self._whisper

    def transcribe(self, samples: np.ndarray, options: EngineOptions) -> list[AsrSegment]:
        whisper = self._load()
        segments, _info = whisper.transcribe(
            samples,
            language=options.language,
            beam_size=options.beam_size,
            vad_filter=options.vad,
            word_timestamps=options.word_timestamps,
            condition_on_previous_text=False,
            # the first 30 s window only (no conditioning on earlier text), where names are said; as
            # hotwords, before every window, it made tiny.en drop its timestamps on a real call
            # and lose words (aws-call-49 agent WER 0.06 -> 0.33)
            initial_prompt=options.prompt(),
        )
        out = []
        for seg in segments:
            words = tuple(Word(float(w.start), float(w.end), w.word.strip(), round(float(w.probability), 4)) for w in (seg.words or ()))
            out.append(AsrSegment(float(seg.start), float(seg.end), seg.text.strip(), words, float(seg.avg_logprob)))
        return out
