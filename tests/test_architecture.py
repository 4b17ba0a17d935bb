"""The architecture's rules are executable: the import-linter contracts in pyproject.toml hold, and
they catch a forbidden import when one is added (CI runs this file with the rest)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import REPO

LINT = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command as c; sys.exit(c())"]


def lint(root: Path, src: Path) -> subprocess.CompletedProcess:
    env = os.environ | {"PYTHONPATH": str(src)}
    return subprocess.run([*LINT, "--config", str(root / "pyproject.toml"), "--no-cache"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)


def test_the_import_contracts_hold():
    result = lint(REPO, REPO / "src")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


def test_a_forbidden_import_breaks_a_contract(tmp_path):
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(REPO / "src" / "callqa", tmp_path / "src" / "callqa",
                    ignore=shutil.ignore_patterns("*.safetensors", "*.csv", "__pycache__"))
    scoring = tmp_path / "src" / "callqa" / "scoring.py"
    scoring.write_text(scoring.read_text() + "\n\ndef _player():\n    import textual  # noqa\n")
    widget = tmp_path / "src" / "callqa" / "tui" / "widgets" / "format.py"
    widget.write_text(widget.read_text() + "\n\nfrom callqa.storage import list_calls  # noqa\n")
    # the rubric/ circle coming back: a detector module importing the engine, if only for a type
    metrics = tmp_path / "src" / "callqa" / "rubric" / "metrics.py"
    metrics.write_text(metrics.read_text() + "\n\nif TYPE_CHECKING:\n    from .engine import Engine  # noqa\n")
    result = lint(tmp_path, tmp_path / "src")
    assert result.returncode == 1, result.stdout
    assert "0 kept, 3 broken" in result.stdout
    assert "callqa.scoring -> textual" in result.stdout
    assert "callqa.tui.widgets.format -> callqa.storage" in result.stdout
    assert "callqa.rubric.metrics -> callqa.rubric.engine" in result.stdout
