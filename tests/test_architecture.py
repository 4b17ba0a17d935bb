"""The architecture's rules are executable: the import-linter contracts in pyproject.toml hold, and
they catch a forbidden import when one is added (CI runs this file with the rest); commands that
score nothing do not load the language models (issue 17)."""

from __future__ import annotations

import json
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


#: What a command that scores nothing must not load: the NLP stack (spaCy pulls thinc and torch:
#: ~2.6 s, 270 MiB) and the sentence encoder.
HEAVY = {"spacy", "thinc", "torch", "onnxruntime", "sentence_transformers", "callqa.encoders"}
CALL = """Agent: Thank you for calling Northwind Energy, my name is Sam. How can I help you today?
Customer: Hi, I've been charged twice for my bill this month.
Agent: I'm sorry to hear that. I can see the duplicate payment; I'll refund it today.
Customer: Great, thanks.
Agent: Is there anything else I can help you with? Thank you for calling, goodbye.
"""


def run_callqa(argv: list[str], env: dict[str, str]) -> tuple[str, set[str]]:
    """A callqa command in a new process: its standard output, and the modules it imported."""
    probe = ("import json, sys\nfrom callqa.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n"
             "    pass\nsys.stdout.flush()\nsys.stderr.write('\\nMODULES ' + json.dumps(sorted(sys.modules)))\n")
    done = subprocess.run([sys.executable, "-c", probe, *argv], env=env, capture_output=True, text=True, timeout=600)
    modules = json.loads(done.stderr.rpartition("\nMODULES ")[2])
    return done.stdout, set(modules)


def test_commands_with_nothing_to_score_load_no_language_model_and_no_migration_tool(tmp_path):
    env = os.environ | {"PYTHONPATH": str(REPO / "src"), "CALLQA_CACHE_DIR": str(tmp_path / "cache")}
    calls, db = tmp_path / "calls", str(tmp_path / "calls.db")
    calls.mkdir()
    (calls / "c1.txt").write_text(CALL)
    out, modules = run_callqa(["score", str(calls), "--db", db, "--agent", "sam"], env)
    assert "scored 1," in out and "spacy" in modules  # scoring does load it
    rubric = str(REPO / "rubrics" / "default.yaml")
    for argv in (["--help"], ["rubric", "check", rubric], ["rubric", "explain", "negative_phrasing.dont_know"],
                 ["agents", "--db", db], ["export", "--db", db, "--format", "json"], ["score", str(calls), "--db", db]):
        out, modules = run_callqa(argv, env)
        assert out and not HEAVY & modules, (argv, HEAVY & modules)
        if argv[0] in ("score", "agents", "export"):  # the database is at the newest revision: one query says so
            assert "alembic" not in modules, argv
    # nothing to do: the rubric's content hash is found from the file's (no parsing, no validation)
    assert "skipped 1 (already stored)" in out
    assert not {"callqa.rubric.schema", "callqa.rubric.engine", "yaml", "numpy"} & modules
