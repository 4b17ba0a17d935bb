"""Command-line conventions: results on standard output, progress and logs on standard error,
-q / -v, a did-you-mean for mistyped commands and options, help for every option."""

from __future__ import annotations

import argparse
import shutil
import subprocess

import pytest

from callqa.cli import _parsers, build_parser, main

CALL = "Agent: Thank you for calling, how can I help?\nCustomer: My bill is wrong.\nAgent: I'm sorry, let me fix that.\n"


@pytest.fixture
def call(tmp_path, monkeypatch):
    monkeypatch.setenv("CALLQA_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "bob_1.txt").write_text(CALL, encoding="utf-8")
    return tmp_path


def test_results_go_to_stdout_and_quiet_and_verbose_change_the_lines(call, capsys):
    db = str(call / "c.db")
    assert main(["score", str(call / "bob_1.txt"), "--db", db, "--agent", "bob"]) == 0
    out, err = capsys.readouterr()
    assert "bob_1.txt" in out.splitlines()[0] and "issues" in out and "scored 1" in out
    assert "bob_1.txt" not in err
    assert main(["score", str(call / "bob_1.txt"), "--db", db, "-q"]) == 0
    out, _ = capsys.readouterr()
    assert "skipped 1" in out and "bob_1.txt" not in out
    assert main(["score", str(call / "bob_1.txt"), "--db", db, "-v"]) == 0
    out, _ = capsys.readouterr()
    assert "skipped  bob" in out and "bob_1.txt" in out


@pytest.mark.parametrize("argv, hint", [
    (["scor", "x"], "did you mean 'score'?"),
    (["agents", "--fromat", "json"], "did you mean --format?"),
    (["score", "x", "--rubirc", "r.yaml"], "did you mean --rubric?"),
    (["score", "x", "--engine", "fast-whisper"], "did you mean 'faster-whisper'?"),
])
def test_a_mistyped_command_option_or_choice_gets_a_did_you_mean(argv, hint, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2 and hint in capsys.readouterr().err


def test_every_option_has_help():
    missing = [(p.prog, a.option_strings) for p in _parsers(build_parser()) for a in p._actions
               if a.option_strings and not a.help and not isinstance(a, argparse._HelpAction)]
    assert missing == []


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completion_completes_commands_options_and_choices(tmp_path, capsys):
    assert main(["completion", "bash"]) == 0
    script = tmp_path / "callqa.bash"
    script.write_text(capsys.readouterr().out)

    def complete(*words: str) -> list[str]:
        probe = (f"source {script}; COMP_WORDS=(callqa {' '.join(repr(w) for w in words)}); "
                 f"COMP_CWORD={len(words)}; _shtab_callqa; printf '%s\\n' \"${{COMPREPLY[@]}}\"")
        run = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, check=True)
        return run.stdout.split()

    assert complete("sc") == ["score"]
    assert complete("export", "--for") == ["--format"]
    assert complete("export", "--format", "") == ["csv", "json"]
    assert "--min-score" in complete("export", "--m")


def test_zsh_completion_is_a_compdef(capsys):
    assert main(["completion", "zsh"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("#compdef callqa") and "rubric" in out


def test_markup_and_control_characters_in_names_are_shown_as_written(tmp_path, monkeypatch, capsys):
    """Issue 16: `callqa score t.txt --agent '[/bad]'` ended the batch with rich's MarkupError and
    `callqa agents` failed on that database from then on; "[reverse]FAKE[.txt" printed as
    "FAKE[.txt"; an escape sequence in a name reached the terminal."""
    monkeypatch.setenv("CALLQA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("COLUMNS", "200")
    weird = tmp_path / "[reverse]FAKE[.txt"
    weird.write_text(CALL, encoding="utf-8")
    db = str(tmp_path / "m.db")
    assert main(["score", str(weird), "--db", db, "--agent", "[/bad]\x1b[2J"]) == 0
    out = capsys.readouterr().out
    assert "[reverse]FAKE[.txt" in out and "[/bad]?[2J" in out and "\x1b" not in out
    assert main(["agents", "--db", db]) == 0
    assert "[/bad]?[2J" in capsys.readouterr().out
    assert main(["report", "[/nobody]", "--db", db]) == 2
    assert "'[/nobody]'" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["score", "{call}", "--name-pattern", "{agent}_{agent}"], "names {agent} 2 times; name it once"),
    (["export", "-o", "/missing/dir/x.csv"], "/missing/dir/x.csv: cannot write the export: No such file or directory"),
])
def test_bad_arguments_are_errors_not_tracebacks(argv, message, call, capsys):
    """Issue 16, item 17: these two raised re.error and FileNotFoundError with a traceback."""
    argv = [str(call / "bob_1.txt") if a == "{call}" else a for a in argv]
    assert main([*argv, "--db", str(call / "c.db")]) == 2
    assert message in capsys.readouterr().err
