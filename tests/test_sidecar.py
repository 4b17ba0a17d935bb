"""Which agent took a call: sidecar CSV/JSON, a file-name pattern, or --agent."""

from __future__ import annotations

import json
from datetime import date

import pytest

from callqa.errors import CallQAError
from callqa.sidecar import UNASSIGNED, AgentMapper
from conftest import SAMPLES


def test_bundled_sidecar_maps_every_sample():
    mapper = AgentMapper()
    info = mapper.lookup(SAMPLES / "c04_bob_refund.mp3")
    assert (info.agent, info.call_date, info.source) == ("bob", date(2026, 10, 20), "sidecar")


def test_sidecar_in_a_parent_folder_and_json(tmp_path):
    (tmp_path / "week1").mkdir()
    call = tmp_path / "week1" / "x.wav"
    call.write_bytes(b"RIFF")
    (tmp_path / "calls.json").write_text(json.dumps([{"file": "week1/x.wav", "agent": "dana", "date": "2026-11-02"}]))
    info = AgentMapper().lookup(call)
    assert (info.agent, info.call_date) == ("dana", date(2026, 11, 2))


def test_name_pattern_and_option(tmp_path):
    call = tmp_path / "erin_20261103_0042.wav"
    call.write_bytes(b"RIFF")
    info = AgentMapper("{agent}_{date}_{id}").lookup(call)
    assert (info.agent, info.call_date, info.source) == ("erin", date(2026, 11, 3), "pattern")
    assert AgentMapper("{agent}_{date}_{id}", agent="frank").lookup(call).agent == "frank"
    assert AgentMapper().lookup(call).agent == UNASSIGNED
    # the issue's own example names the suffix: it matches the whole file name
    assert AgentMapper("{agent}_{date}_{id}.wav").lookup(call).agent == "erin"
    assert AgentMapper("{agent}_{date}_{id}.mp3").lookup(call).agent == UNASSIGNED


def test_bad_sidecar_and_pattern_are_clear_errors(tmp_path):
    call = tmp_path / "y.wav"
    call.write_bytes(b"RIFF")
    (tmp_path / "calls.csv").write_text("file,agent,date\ny.wav,gina,not-a-date\n")
    with pytest.raises(CallQAError, match="calls.csv.*not-a-date"):
        AgentMapper().lookup(call)
    with pytest.raises(CallQAError, match="no {agent} field"):
        AgentMapper("{date}_{id}")


def test_a_deeply_nested_calls_json_is_a_clear_error(tmp_path):
    """Issue 16, item 17: json's RecursionError escaped the batch's error handling (a traceback)."""
    call = tmp_path / "y.wav"
    call.write_bytes(b"RIFF")
    (tmp_path / "calls.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(CallQAError, match="calls.json: cannot read the sidecar.*nested too deeply"):
        AgentMapper().lookup(call)


def test_a_bad_date_fails_only_the_file_of_its_row(tmp_path):
    """Found by benchmarks/reliability.py (issue 16): one row of calls.csv with a date that is no
    date failed every file of the folder, those of the other rows and those it does not name,
    corrupt audio included ('calls.csv: cannot read the date'). Its own file still fails."""
    for name in ("bad.wav", "good.wav", "unnamed.wav"):
        (tmp_path / name).write_bytes(b"RIFF")
    (tmp_path / "calls.csv").write_text("file,agent,date\nbad.wav,gina,2026-13-45\ngood.wav,hal,2026-11-02\n")
    mapper = AgentMapper(roots=[tmp_path])
    with pytest.raises(CallQAError, match="calls.csv.*2026-13-45"):
        mapper.lookup(tmp_path / "bad.wav")
    good = mapper.lookup(tmp_path / "good.wav")
    assert (good.agent, good.call_date) == ("hal", date(2026, 11, 2))
    assert mapper.lookup(tmp_path / "unnamed.wav").agent == UNASSIGNED
    folder = tmp_path / "json"  # a date that is a number in calls.json: an error, not an AttributeError
    folder.mkdir()
    for name in ("bad.wav", "good.wav"):
        (folder / name).write_bytes(b"RIFF")
    (folder / "calls.json").write_text(json.dumps([{"file": "bad.wav", "agent": "gina", "date": 20261102},
                                                   {"file": "good.wav", "agent": "hal"}]))
    with pytest.raises(CallQAError, match="calls.json.*20261102"):
        AgentMapper(roots=[folder]).lookup(folder / "bad.wav")
    assert AgentMapper(roots=[folder]).lookup(folder / "good.wav").agent == "hal"
