"""Loading rubric files: errors name file, line and field; the default rubric; the schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from callqa.cli import main
from callqa.rubric.loader import DEFAULT_RUBRIC, RubricError, load_rubric, parse_rubric
from callqa.rubric.schema import CHECK_TYPES, SCHEMA_PATH, schema_text

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO.parent / "shared" / "seeds"

GOOD = """\
id: tiny
name: Tiny
version: "1"
sections:
  - {id: main, name: Main, weight: 1}
criteria:
  - id: main.thanks
    name: Thanks the customer
    category: rapport
    section: main
    polarity: positive
    message: No thanks.
    source: {seed: 001.txt, guidance: thank them}
    check:
      type: phrase
      phrases: [thank you]
"""


def issues(text: str) -> list[tuple[int | None, str, str]]:
    with pytest.raises(RubricError) as exc:
        parse_rubric(text, "my.yaml")
    assert all(i.file == "my.yaml" for i in exc.value.issues)
    assert "my.yaml:" in str(exc.value)
    return [(i.line, i.field, i.message) for i in exc.value.issues]


def test_a_valid_rubric_loads() -> None:
    rubric = parse_rubric(GOOD)
    assert rubric.criterion("main.thanks").check.type == "phrase"


def test_yaml_syntax_error_names_the_line() -> None:
    bad = GOOD.replace("phrases: [thank you]", "phrases: [thank you")
    [(line, field, message)] = issues(bad)
    assert line is not None and line >= 16 and "YAML syntax error" in message


def test_unknown_check_type_lists_the_valid_ones() -> None:
    [(line, field, message)] = issues(GOOD.replace("type: phrase", "type: phrasal"))
    assert line == 15 and field == "criteria[0].check.type"
    assert "unknown check type 'phrasal'" in message
    for valid in CHECK_TYPES:
        assert valid in message


def test_missing_field_names_the_field_and_the_criterion_line() -> None:
    [(line, field, message)] = issues(GOOD.replace("    message: No thanks.\n", ""))
    assert (line, field) == (7, "criteria[0].message") and "missing" in message


def test_wrong_value_points_at_its_own_line() -> None:
    text = GOOD.replace("      phrases: [thank you]", "      phrases: [thank you]\n      threshold: 300")
    [(line, field, message)] = issues(text)
    assert (line, field) == (17, "criteria[0].check.threshold") and "100" in message


def test_unknown_field_is_an_error() -> None:
    [(line, field, message)] = issues(GOOD.replace("    polarity: positive", "    polarity: positive\n    colour: red"))
    assert (line, field) == (12, "criteria[0].colour") and "Extra inputs" in message


def test_unknown_section_and_duplicate_ids() -> None:
    dup = GOOD + GOOD[GOOD.index("  - id: main.thanks"):].replace("section: main", "section: nowhere")
    found = issues(dup)
    assert (17, "criteria[1].id", "duplicate criterion id 'main.thanks'") in found
    assert any(line == 20 and field == "criteria[1].section" and "unknown section 'nowhere'" in msg
               for line, field, msg in found)


def test_bad_spacy_pattern_is_reported_at_the_pattern() -> None:
    text = GOOD.replace("      type: phrase\n      phrases: [thank you]",
                        "      type: pattern\n      patterns: [[{LEMA: thank}]]")
    [(line, field, message)] = issues(text)
    assert line == 16 and field == "criteria[0].check.patterns" and "LEMA" in message


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(RubricError, match="cannot read"):
        load_rubric(tmp_path / "absent.yaml")


def test_cli_check_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(GOOD)
    bad.write_text(GOOD.replace("type: phrase", "type: regexp"))
    assert main(["rubric", "check", str(good)]) == 0
    assert main(["rubric", "check", str(bad)]) == 1
    assert f"{bad}:15: criteria[0].check.type: unknown check type 'regexp'" in capsys.readouterr().out
    assert main(["rubric", "check", str(tmp_path / "none.yaml")]) == 2


def test_cli_explain(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rubric", "explain", "negative_phrasing.dont_know"]) == 0
    out = capsys.readouterr().out
    assert "I'll find out" in out and "002_f6e8b908dceac638.txt" in out and "fail: I don't know." in out
    assert main(["rubric", "explain", "negative_phrasing.dont_knw"]) == 2


def test_cli_test_runs_a_custom_rubrics_examples(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ok = GOOD + "    examples: {pass: [Thank you so much.], fail: [Okay.]}\n"
    wrong = GOOD + "    examples: {pass: [Okay.], fail: [Okay.]}\n"
    (tmp_path / "ok.yaml").write_text(ok)
    (tmp_path / "wrong.yaml").write_text(wrong)
    assert main(["rubric", "test", str(tmp_path / "ok.yaml")]) == 0
    assert main(["rubric", "test", str(tmp_path / "wrong.yaml")]) == 1
    assert "main.thanks: pass example 'Okay.' gave fail" in capsys.readouterr().out


def test_cli_test_golden_calls(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    call = {"segments": [{"speaker": "agent", "start": 0, "end": 3, "text": "Thank you for calling."},
                         {"speaker": "customer", "start": 3, "end": 5, "text": "Hi, I'd like to pay my bill."}]}
    (tmp_path / "c1.json").write_text(json.dumps(call))
    (tmp_path / "c1.expect.yaml").write_text("score: [30, 80]\nsections: {hold: null, greeting: [40, 60]}\n"
                                             "flags: {present: ['greeting.opening:positive'], absent: [negative_phrasing.dont_know]}\n")
    assert main(["rubric", "test", "--golden", str(tmp_path)]) == 0
    (tmp_path / "c1.expect.yaml").write_text("score: [0, 10]\nflags: {present: [negative_phrasing.dont_know]}\n")
    assert main(["rubric", "test", "--golden", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "c1.json: score" in out and "flag negative_phrasing.dont_know missing" in out



def test_the_sample_scripts_are_golden_calls_of_the_default_rubric(capsys: pytest.CaptureFixture[str]) -> None:
    """samples/reference/*.expect.yaml: what each sample script was written to show."""
    golden = REPO / "samples" / "reference"
    assert len(list(golden.glob("*.expect.yaml"))) == len(list(golden.glob("*.json"))) == 10
    assert main(["rubric", "test", "--golden", str(golden)]) == 0
    assert "10 golden call(s), 0 problem(s)" in capsys.readouterr().out

# --- the default rubric ---------------------------------------------------------------------

def test_default_rubric_categories_and_sources() -> None:
    rubric = load_rubric()
    cats = {c.category for c in rubric.criteria}
    assert cats == {"negative_phrasing", "empathy", "rapport", "listening", "ownership", "resolution",
                    "hold", "greeting", "closing", "apology", "referral", "anything_else"}
    for c in rubric.criteria:
        assert c.source.guidance.strip(), c.id
        if SEEDS.is_dir():
            assert (SEEDS / c.source.seed).is_file(), f"{c.id}: no seed {c.source.seed}"


def test_repository_copy_is_the_packaged_rubric() -> None:
    assert (REPO / "rubrics" / "default.yaml").read_text() == DEFAULT_RUBRIC.read_text()


def test_published_json_schema_is_up_to_date() -> None:
    assert SCHEMA_PATH.read_text() == schema_text(), "run: python -m callqa.rubric.schema"
    assert (REPO / "rubrics" / "rubric.schema.json").read_text() == SCHEMA_PATH.read_text()


def test_cli_explain_says_what_a_trained_check_learnt_from_without_listing_its_rows(capsys: pytest.CaptureFixture[str]) -> None:
    import csv

    with (DEFAULT_RUBRIC.parent / "labelled" / "utterances_tune.csv").open(encoding="utf-8", newline="") as fh:
        rows = sum(1 for _ in csv.DictReader(fh))
    assert rows > 3000
    assert main(["rubric", "explain", "empathy.acknowledgement"]) == 0
    out = capsys.readouterr().out
    assert f"classifier for 'empathy' trained on labelled/utterances_tune.csv ({rows} rows)" in out
    assert len(out) < 5000  # not the training rows
    assert main(["rubric", "explain", "empathy.acknowledgement", "--format", "json"]) == 0
    assert f'"rows": {rows}' in capsys.readouterr().out


def alias_bomb(levels: int = 9) -> str:
    """Issue 16, item 3: the 'billion laughs' of YAML: each level lists the one above nine times."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return GOOD + "\n".join(lines) + "\n"


def test_a_yaml_alias_bomb_is_refused_naming_the_file_and_line(tmp_path: Path) -> None:
    """It drove `callqa rubric check` to 7 GB; now it is an invalid rubric, in bounded memory."""
    import resource
    import subprocess
    import sys

    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(alias_bomb(), encoding="utf-8")

    def two_gigabytes() -> None:  # a regression fails with MemoryError here, not on the machine
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    run = subprocess.run([sys.executable, "-m", "callqa.cli", "rubric", "check", str(bomb)], capture_output=True,
                         text=True, timeout=120, preexec_fn=two_gigabytes)
    output = run.stdout + run.stderr
    assert run.returncode == 1, output
    assert "Traceback" not in output
    assert f"{bomb}:" in output and "alias" in output
    # the rubric's own aliases (the default rubric shares its cue lists) still load
    assert load_rubric(DEFAULT_RUBRIC).id


def test_check_warns_about_nested_quantifiers_and_names_the_criterion(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 16, item 3: `regex: ["(a+)+$"]` passed `rubric check` and then hung scoring."""
    risky = tmp_path / "risky.yaml"
    risky.write_text(GOOD.replace("phrases: [thank you]", 'phrases: [thank you]\n      regex: ["(a+)+$", "(?:\\\\d+ ?){4}"]'))
    assert main(["rubric", "check", str(risky)]) == 0  # valid: a warning, not an error
    out = capsys.readouterr().out
    assert f"{risky}:" in out and "main.thanks" in out and "'(a+)+$'" in out and "nested quantifiers" in out
    assert "{4}" not in out  # a bounded repeat around a quantifier is no risk
    assert main(["rubric", "check", str(DEFAULT_RUBRIC)]) == 0
    assert "warning" not in capsys.readouterr().out


def test_token_patterns_are_validated_as_spacy_validates_them() -> None:
    from spacy.schemas import validate_token_pattern as spacys

    from callqa.rubric.token_patterns import validate_token_pattern

    patterns = [[{"LOWER": "hi"}], [{"LEMA": "thank"}], [], [{"OP": "?"}], [{"OP": "x"}], [{"OP": "{2,3}"}],
                [{"LEMMA": {"IN": ["a", "b"]}}], [{"LEMMA": {"IN": "a"}}], [{"LENGTH": {">=": 3}}],
                [{"LENGTH": "x"}], [{"IS_ALPHA": "yes"}], [{"lower": None}], [{"DEP": "neg", "OP": "!"}],
                [{"_": {"foo": 1}}], [{"ENT_IOB": "X"}], [{"LOWER": {"REGEX": "^a"}}], "not a list", [1],
                [{"LOWER": {"FUZZY": {"IN": ["x"]}}}], [{"POS": 3}], [{"LEMMA": {"NOT_IN": ["be"]}, "POS": "VERB"}]]
    for pattern in patterns:
        assert validate_token_pattern(pattern) == spacys(pattern), pattern
    assert sum(1 for p in patterns if validate_token_pattern(p)) == 11  # the broken ones


TRAINED = GOOD + """\
  - id: main.sorry
    name: Apologises
    category: empathy
    section: main
    polarity: positive
    message: No apology.
    source: {seed: 001.txt, guidance: say sorry}
    check:
      type: semantic
      like: [I'm sorry, I apologise, Sorry about that]
      train: {file: labels.csv, label: apology}
"""


def test_a_file_validated_before_is_known_by_its_content_until_it_or_its_training_file_changes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from callqa.rubric import loader

    monkeypatch.setenv("CALLQA_CACHE_DIR", str(tmp_path / "cache"))
    rubric_file, labels = tmp_path / "r.yaml", tmp_path / "labels.csv"
    rubric_file.write_text(TRAINED)
    labels.write_text("text,labels\nI'm so sorry,apology\nThe bill is due,\n")
    assert loader.read_rubric(rubric_file).known_hash() is None  # never validated
    first = load_rubric(rubric_file).content_hash
    monkeypatch.setattr(loader, "_FILES", {})  # as in a new process: only the cache folder remembers
    assert loader.read_rubric(rubric_file).known_hash() == first
    labels.write_text("text,labels\nI'm so sorry,apology\nThe bill is due,\nMy apologies,apology\n")
    assert loader.read_rubric(rubric_file).known_hash() is None  # its training rows changed
    second = load_rubric(rubric_file).content_hash
    assert second != first and loader.read_rubric(rubric_file).known_hash() == second
    rubric_file.write_text(TRAINED.replace("Apologises", "Says sorry"))
    assert loader.read_rubric(rubric_file).known_hash() is None


def test_one_rubric_cache_by_content_builds_one_engine_per_rubric_and_keeps_the_latest_few() -> None:
    import pickle

    from callqa.rubric.engine import engine_for
    from callqa.rubric.loader import cached

    a, b = parse_rubric(GOOD), parse_rubric(GOOD)  # two objects, one content
    assert a is not b and engine_for(a) is engine_for(b)
    copy = pickle.loads(pickle.dumps(a))  # as a worker process receives it
    assert cached(copy) is cached(a) and engine_for(copy) is engine_for(a)
    first = engine_for(a)
    for n in range(8):  # eight other rubrics push it out
        engine_for(parse_rubric(GOOD.replace("Thanks the customer", f"Thanks {n}")))
    assert engine_for(parse_rubric(GOOD)) is not first
