"""Golden-call sidecars (NAME.expect.yaml) are validated: a typo'd key or a wrong type fails the call."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from callqa.cli import main
from callqa.rubric.golden import _read_expect, check_golden
from callqa.rubric.loader import load_rubric

REPO = Path(__file__).resolve().parents[1]
CALL = {"segments": [{"speaker": "agent", "start": 0, "end": 3, "text": "Thank you for calling."},
                     {"speaker": "customer", "start": 3, "end": 5, "text": "Hi, I'd like to pay my bill."}]}
VALID = "score: [30, 80]\nsections: {hold: null, greeting: {min: 40}}\ncritical_failed: []\n" \
        "flags: {present: ['greeting.opening:positive'], absent: [negative_phrasing.dont_know]}\n"


def golden(folder: Path, **sidecars: str) -> Path:
    for name, text in sidecars.items():
        (folder / f"{name}.json").write_text(json.dumps(CALL))
        (folder / f"{name}.expect.yaml").write_text(text)
    return folder


def test_a_valid_sidecar_still_passes(tmp_path: Path) -> None:
    assert check_golden(load_rubric(), golden(tmp_path, c1=VALID)) == (1, [])


def test_a_typo_fails_with_file_line_and_did_you_mean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    golden(tmp_path, bad="# golden\nscore: [30, 60]\ncritcal_failed: []\nflags:\n  presnt: [greeting.opening]\n",
           good=VALID)
    assert main(["rubric", "test", "--golden", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "2 golden call(s), 2 problem(s)" in out  # the valid call still ran, and passed
    assert (f"{tmp_path / 'bad.expect.yaml'}:3: critcal_failed: unknown key; did you mean 'critical_failed'? "
            "valid keys: score, sections, critical_failed, flags") in out
    assert f"{tmp_path / 'bad.expect.yaml'}:5: flags.presnt: unknown key; did you mean 'present'?" in out


def test_a_wrong_type_fails(tmp_path: Path) -> None:
    n, problems = check_golden(load_rubric(), golden(tmp_path, c1="score: high\nsections: {hold: [1, x]}\n"))
    assert n == 1
    assert problems == [f"{tmp_path / 'c1.expect.yaml'}:1: score: Input should be a valid list",
                        f"{tmp_path / 'c1.expect.yaml'}:2: sections.hold[1]: Input should be a valid number"]


@pytest.mark.parametrize("text,message", [("score: [1, 2\n", ":2: YAML syntax error"),
                                          ("- score\n", ":1: an expect file is a mapping")])
def test_syntax_errors_and_non_mappings_fail(tmp_path: Path, text: str, message: str) -> None:
    n, problems = check_golden(load_rubric(), golden(tmp_path, c1=text))
    assert n == 1 and len(problems) == 1 and message in problems[0]


def test_every_committed_sidecar_validates() -> None:
    sidecars = [p for p in REPO.rglob("*.expect.yaml") if ".git" not in p.parts]
    assert sidecars
    assert [problem for p in sidecars for problem in _read_expect(p)[1]] == []
