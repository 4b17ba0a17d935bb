"""The workspace: one settings object from flags > environment > project config > user config >
defaults, and the same behaviour from the command line, the config file and the terminal UI."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from callqa import services
from callqa.cli import main
from callqa.transcribe import TranscribeSettings
from callqa.workspace import ConfigError, Workspace, config_searched, resolve
from test_rubric_loader import GOOD

# the loader tests' smallest valid rubric, under a site's own id
SITE_RUBRIC = GOOD.replace("id: tiny\nname: Tiny", "id: site\nname: Site rubric")
assert "id: site" in SITE_RUBRIC


# personal data a redacting workspace must never store
CARD, EMAIL, PHONE = "4111 1111 1111 1111", "jo.bloggs@example.com", "555-867-5309"
PII_CALL = f"""\
Agent: Thank you for calling Northwind Energy, my name is Dana. How can I help you today?
Customer: Hi, my bill is wrong this month. My card is {CARD} and my e-mail is {EMAIL}.
Agent: I'm sorry about that. Let me look into it for you. Can I call you back on {PHONE}?
Customer: Yes, that's fine, thank you.
Agent: Thank you, you'll hear from me today. Is there anything else I can help with?
"""


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A team's folder: a call with personal data, a site rubric; the working folder of the test."""
    folder = tmp_path / "team"
    (folder / "calls").mkdir(parents=True)
    (folder / "calls" / "dana_2026-11-30_001.txt").write_text(PII_CALL, encoding="utf-8")
    (folder / "site.yaml").write_text(SITE_RUBRIC, encoding="utf-8")
    monkeypatch.chdir(folder)
    monkeypatch.setenv("CALLQA_CACHE_DIR", str(tmp_path / "cache"))
    for name in ("CALLQA_DB", "CALLQA_REDACT", "CALLQA_RUBRIC", "CALLQA_CONFIG", "CALLQA_NAME_PATTERN"):
        monkeypatch.delenv(name, raising=False)
    return folder


def stored_text(db_file: Path) -> str:
    """Everything the database file holds, as SQL text."""
    with sqlite3.connect(db_file) as conn:
        return "\n".join(conn.iterdump())


def stored_calls(db_file: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db_file) as conn:
        return conn.execute("SELECT a.name, c.rubric_id FROM calls c JOIN agents a ON a.id = c.agent_id").fetchall()


def assert_no_personal_data(db_file: Path) -> None:
    text = stored_text(db_file)
    assert "Northwind" in text  # the call was stored...
    for raw in (CARD, EMAIL, PHONE, "4111"):
        assert raw not in text, f"{raw!r} stored in {db_file}"  # ...without its personal data


# ------------------------------------------------------------------------------ resolution

def test_a_flag_beats_the_environment_which_beats_the_config_files(project, tmp_path, monkeypatch):
    user = tmp_path / "xdg"
    (user / "callqa").mkdir(parents=True)
    (user / "callqa" / "callqa.toml").write_text('model = "base"\nengine = "openai-whisper"\ncompany = "Acme"\n')
    monkeypatch.setenv("XDG_CONFIG_HOME", str(user))
    (project / "callqa.toml").write_text('engine = "faster-whisper"\nagent-channel = "right"\nredact = true\n')
    ws = resolve({"company": "Northwind"}, environ={"CALLQA_REDACT": "no"})
    assert (ws.company, ws.redact, ws.agent_channel, ws.engine, ws.model, ws.mono_agent) == \
        ("Northwind", False, "right", "faster-whisper", "base", "auto")
    assert ws.sources["company"] == "--company" and ws.sources["redact"] == "$CALLQA_REDACT"
    assert ws.sources["agent-channel"] == str(project / "callqa.toml")
    assert ws.sources["model"] == str(user / "callqa" / "callqa.toml") and ws.sources["mono-agent"] == "default"
    assert TranscribeSettings.of(ws).agent_channel == "right" and TranscribeSettings.of(ws).model == "base"
    assert [found for _, found in config_searched()] == [True, False, True]


def test_paths_in_a_config_file_are_taken_from_its_folder(project, tmp_path):
    (project / "callqa.toml").write_text('db = "qa.db"\nrubric = "site.yaml"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    ws = resolve(environ={"CALLQA_CONFIG": str(project / "callqa.toml")}, cwd=elsewhere)
    assert ws.db == str(project / "qa.db") and ws.rubric == str(project / "site.yaml")
    (project / "callqa.toml").write_text('db = "sqlite:///data/qa.db"\n')
    assert resolve(cwd=project, environ={}).db == f"sqlite:///{project / 'data' / 'qa.db'}"
    assert resolve({"db": "other.db"}, cwd=project, environ={}).db == "other.db"  # a flag: from the working folder


def test_pyproject_tool_table_is_read_and_a_pyproject_without_one_is_not(project):
    (project / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert resolve(cwd=project, environ={}).sources["redact"] == "default"
    (project / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.callqa]\nredact = true\n')
    ws = resolve(cwd=project, environ={})
    assert ws.redact and ws.sources["redact"] == str(project / "pyproject.toml")
    (project / "callqa.toml").write_text("redact = false\n")  # callqa.toml comes first
    assert resolve(cwd=project, environ={}).redact is False


@pytest.mark.parametrize("content, expected", [
    ("redcat = true\n", r"callqa.toml: unknown setting 'redcat'; did you mean 'redact'\?"),
    ('agent-channel = "middle"\n', r"callqa.toml: agent-channel = 'middle' must be one of left, right"),
    ("workers = -1\n", r"callqa.toml: workers = -1 must be a whole number of at least 0"),
    ("redact = maybe\n", r"callqa.toml: not valid TOML"),
])
def test_a_bad_config_file_is_an_error_naming_the_file_and_the_setting(project, content, expected):
    (project / "callqa.toml").write_text(content)
    with pytest.raises(ConfigError, match=expected):
        resolve(cwd=project, environ={})


def test_a_bad_environment_value_names_the_variable(project, capsys):
    with pytest.raises(ConfigError, match=r"\$CALLQA_REDACT: redact = 'perhaps' must be true or false"):
        resolve(environ={"CALLQA_REDACT": "perhaps"})
    (project / "callqa.toml").write_text("redcat = true\n")
    assert main(["agents"]) == 2
    assert "unknown setting 'redcat'" in capsys.readouterr().err


def test_callqa_config_shows_each_value_and_where_it_came_from(project, capsys, monkeypatch):
    (project / "callqa.toml").write_text('name-pattern = "{agent}_{date}_{id}"\ndb = "qa.db"\n')
    monkeypatch.setenv("CALLQA_MONO_AGENT", "second")
    assert main(["config", "--format", "json", "--engine", "openai-whisper"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["name-pattern"] == {"value": "{agent}_{date}_{id}", "from": str(project / "callqa.toml")}
    assert shown["db"]["value"] == f"sqlite:///{project / 'qa.db'}"
    assert shown["mono-agent"] == {"value": "second", "from": "$CALLQA_MONO_AGENT"}
    assert shown["engine"] == {"value": "openai-whisper", "from": "--engine"}
    assert shown["redact"] == {"value": False, "from": "default"}
    assert main(["config"]) == 0
    human = capsys.readouterr().out
    assert "name-pattern" in human and f"read: {project / 'callqa.toml'}" in human


# ------------------------------------------------- the same behaviour from every entry point

def test_redaction_and_rubric_from_a_flag(project):
    db = project / "flag.db"
    assert main(["score", "calls", "--db", str(db), "--redact", "--rubric", "site.yaml",
                 "--name-pattern", "{agent}_{date}_{id}"]) == 0
    assert_no_personal_data(db)
    assert stored_calls(db) == [("dana", "site")]


def test_redaction_and_rubric_from_the_environment(project, monkeypatch):
    db = project / "env.db"
    for key, value in (("DB", str(db)), ("REDACT", "1"), ("RUBRIC", "site.yaml"),
                       ("NAME_PATTERN", "{agent}_{date}_{id}")):
        monkeypatch.setenv(f"CALLQA_{key}", value)
    assert main(["score", "calls"]) == 0
    assert_no_personal_data(db)
    assert stored_calls(db) == [("dana", "site")]


def test_redaction_and_rubric_from_the_config_file(project):
    (project / "callqa.toml").write_text('db = "config.db"\nredact = true\nrubric = "site.yaml"\n'
                                         'name-pattern = "{agent}_{date}_{id}"\n')
    assert main(["score", "calls"]) == 0
    assert_no_personal_data(project / "config.db")
    assert stored_calls(project / "config.db") == [("dana", "site")]
    # --no-redact on the command line beats the file
    assert main(["score", "calls", "--rescore", "--no-redact", "--db", str(project / "raw.db")]) == 0
    assert CARD in stored_text(project / "raw.db")


async def test_redaction_rubric_and_agent_channel_from_the_config_file_in_the_ui(project):
    from callqa.cli import build_parser
    from callqa.tui.app import CallQAApp

    (project / "callqa.toml").write_text('db = "tui.db"\nredact = true\nrubric = "site.yaml"\n'
                                         'name-pattern = "{agent}_{date}_{id}"\nagent-channel = "right"\n')
    args = build_parser().parse_args(["tui", "--reviewer", "ana"])  # what `callqa tui` resolves
    app = CallQAApp(resolve(args), player=None)
    assert TranscribeSettings.of(app.workspace).agent_channel == "right" and app.reviewer == "ana"
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.press("5")
        await pilot.pause()
        screen = app.screen
        assert screen.query_one("#pattern").value == "{agent}_{date}_{id}"
        screen.query_one("#path").value = str(project / "calls")
        await pilot.press("ctrl+s")
        for _ in range(200):
            await pilot.pause(0.05)
            if "done:" in str(screen.query_one("#score-status").render()):
                break
        assert "done: scored 1" in str(screen.query_one("#score-status").render())
        assert app.rubric().id == "site"  # what the override dialog and filters use
    assert_no_personal_data(project / "tui.db")
    assert stored_calls(project / "tui.db") == [("dana", "site")]


def test_reports_use_the_workspace_database_and_rubric(project, tmp_path):
    (project / "callqa.toml").write_text('db = "r.db"\nrubric = "site.yaml"\nname-pattern = "{agent}_{date}_{id}"\n')
    assert main(["score", "calls"]) == 0
    assert main(["report", "dana", "--format", "json", "-o", str(tmp_path / "dana.json")]) == 0
    report = json.loads((tmp_path / "dana.json").read_text())
    assert report["calls"] == 1 and report["rubric_id"] == "site"


# --------------------------------------------------------------- the agent of a stored call

def test_a_rescore_without_a_name_pattern_keeps_every_agent(project, capsys):
    db = str(project / "keep.db")
    (project / "calls" / "erin_2026-11-29_002.txt").write_text(PII_CALL.replace("Dana", "Erin"), encoding="utf-8")
    assert main(["score", "calls", "--db", db, "--name-pattern", "{agent}_{date}_{id}"]) == 0
    before = sorted(stored_calls(project / "keep.db"))
    assert [a for a, _ in before] == ["dana", "erin"]
    assert main(["score", "calls", "--db", db, "--rubric", "site.yaml"]) == 0  # a new rubric: rescored
    assert "rescored 2" in capsys.readouterr().out
    assert sorted(a for a, _ in stored_calls(project / "keep.db")) == ["dana", "erin"]
    assert main(["score", "calls", "--db", db, "--rescore", "--agent", "fred"]) == 0  # told otherwise
    assert {a for a, _ in stored_calls(project / "keep.db")} == {"fred"}
    assert main(["score", "--rescore", "--db", db]) == 0  # every stored call, from the database
    assert {a for a, _ in stored_calls(project / "keep.db")} == {"fred"}


def test_services_take_a_workspace(project):
    ws = Workspace(db=str(project / "s.db"), rubric=str(project / "site.yaml"), redact=True,
                   name_pattern="{agent}_{date}_{id}")
    summary = services.score_paths(["calls"], ws)
    assert [o.status for o in summary.outcomes] == ["scored"]
    assert [a.agent for a in services.agent_summaries(ws)] == ["dana"]
    [row] = services.export_calls(ws)
    assert row["agent"] == "dana" and CARD not in json.dumps(row)


def test_unassigned_calls_are_no_agent_and_are_counted_apart(project, tmp_path, capsys):
    db = str(project / "u.db")
    (project / "calls" / "no-agent-in-this-name.txt").write_text(PII_CALL.replace("Dana", "Sam"), encoding="utf-8")
    assert main(["score", "calls", "--db", db, "--name-pattern", "{agent}_{date}_{id}"]) == 0
    assert sorted(a for a, _ in stored_calls(project / "u.db")) == ["dana", "unassigned"]
    capsys.readouterr()
    assert main(["agents", "--db", db, "--format", "json"]) == 0
    assert [a["agent"] for a in json.loads(capsys.readouterr().out)] == ["dana"]
    assert main(["agents", "--db", db]) == 0
    assert "1 call with no agent named" in capsys.readouterr().out
    assert main(["report", "--all", "--db", db, "--format", "json", "-o", str(tmp_path / "r")]) == 0
    overview = json.loads((tmp_path / "r" / "index.json").read_text())
    assert [a["agent"] for a in overview["agents"]] == ["dana"] and overview["calls"] == 1
    assert overview["unassigned_calls"] == 1
    assert main(["report", "--all", "--db", db, "-o", str(tmp_path / "h")]) == 0
    assert "1 call with no agent" in (tmp_path / "h" / "index.html").read_text()
    capsys.readouterr()
    assert main(["report", "unassigned", "--db", db]) == 2
    assert "'unassigned' is not an agent" in capsys.readouterr().err


def test_the_limits_defaults_are_written_once():
    """Issue 16 (review): max-call-minutes 240 and max-transcript-mb 50 were written in SETTINGS,
    in Workspace, in TranscribeSettings and in the flags' help; changing one left the others. Now
    callqa.workspace owns them and the others read its constants."""
    import re

    from callqa import workspace
    from callqa.transcribe import TranscribeSettings

    assert (workspace.MAX_CALL_MINUTES, workspace.MAX_TRANSCRIPT_MB) == (240, 50)
    for key, constant in (("max-call-minutes", workspace.MAX_CALL_MINUTES),
                          ("max-transcript-mb", workspace.MAX_TRANSCRIPT_MB)):
        field = key.replace("-", "_")
        assert workspace.SETTINGS[key][1] == constant
        assert getattr(workspace.Workspace(), field) == constant
        assert getattr(TranscribeSettings(), field) == constant
        assert getattr(TranscribeSettings.of(workspace.Workspace()), field) == constant
    # ... and nowhere else is the number written next to the limit's name
    src = Path(workspace.__file__).parent
    written = [f"{path.relative_to(src)}: {line.strip()}" for path in sorted(src.rglob("*.py"))
               for line in path.read_text(encoding="utf-8").splitlines()
               if re.search(r"(?i)max.(call.minutes|transcript.mb)", line) and re.search(r"\b(240|50)\b", line)
               and not line.startswith(("MAX_CALL_MINUTES =", "MAX_TRANSCRIPT_MB ="))]
    assert written == [], written
