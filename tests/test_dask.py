"""Scale-out: ``services.score_paths`` with ``executor="dask://HOST:PORT"`` sends the transcription
jobs to a dask.distributed cluster (here a LocalCluster of 2 worker processes) and stores the results
centrally: in the real PostgreSQL server of tests/pg.py, or SQLite where PostgreSQL is absent.

Skipped without dask.distributed (pip install 'callqa[dask]'), unless CALLQA_REQUIRE_DASK=1.
"""

from __future__ import annotations

import json
import os
import shutil
from functools import partial
from pathlib import Path

import pytest
from pg import postgres_url, reset_database  # noqa: F401  (postgres_url is a fixture)
from sqlalchemy import text

from callqa import services
from callqa.audio import content_hash
from callqa.storage import connect, list_calls
from callqa.workspace import Workspace
from conftest import REPO, SAMPLES

REFERENCE = REPO / "samples" / "reference"
RECORDING = SAMPLES / "c10_alice_contact_update.ogg"  # stereo, 71 s: Whisper runs on a worker

try:
    import distributed
except ImportError:  # pragma: no cover - depends on the environment
    distributed = None
    if os.environ.get("CALLQA_REQUIRE_DASK") == "1":
        raise
    pytest.skip("dask.distributed is not installed (pip install 'callqa[dask]'); "
                "set CALLQA_REQUIRE_DASK=1 to make this a failure", allow_module_level=True)


@pytest.fixture
def central_db(request, tmp_path) -> str:
    """PostgreSQL from tests/pg.py; SQLite when PostgreSQL is not installed (and not required)."""
    try:
        url = request.getfixturevalue("postgres_url")
    except pytest.skip.Exception:
        return f"sqlite:///{tmp_path / 'central.db'}"
    reset_database(url)
    services.open_database.cache_clear()  # an engine migrated before the reset is stale
    return url


@pytest.fixture
def cluster(tmp_path, monkeypatch):
    # The workers inherit this environment: an empty transcript cache, so Whisper really runs there.
    monkeypatch.setenv("CALLQA_CACHE_DIR", str(tmp_path / "worker-cache"))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  host="127.0.0.1", local_directory=str(tmp_path / "dask")) as cluster:
        yield cluster


@pytest.mark.slow  # Whisper transcribes a recording on a worker
def test_score_paths_on_a_dask_cluster_stores_every_file_once(cluster, central_db, tmp_path):
    folder = tmp_path / "calls"
    folder.mkdir()
    expected: dict[Path, int | None] = {}
    for i, ref in enumerate(sorted(REFERENCE.glob("*.json"))[:5]):
        data = json.loads(ref.read_text(encoding="utf-8")) | {"batch_copy": i}
        path = folder / f"t{i}.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        expected[path] = len(data["segments"])
    shutil.copy(RECORDING, folder / "recording.ogg")
    expected[folder / "recording.ogg"] = None

    address = cluster.scheduler_address.removeprefix("tcp://")
    ws = Workspace(db=central_db)
    score = partial(services.score_paths, [folder], ws, executor=f"dask://{address}", agent="dana")
    with distributed.Client(cluster) as client:
        worker_pids = client.run(os.getpid)  # {worker address: pid}
        with distributed.get_task_stream(client) as stream:
            summary = score()
    ran_on = {t["worker"] for t in stream.data if "_transcribe_and_score" in str(t["key"])}

    assert [o.status for o in summary.outcomes].count("scored") == len(expected), \
        [(o.file, o.error) for o in summary.failed]
    assert len([t for t in stream.data if "_transcribe_and_score" in str(t["key"])]) == len(expected)
    assert ran_on and ran_on <= set(worker_pids)  # every job ran on a worker of the cluster...
    assert len(ran_on) == 2  # ...on both of them (the recording keeps one busy for seconds)
    assert os.getpid() not in worker_pids.values()

    engine = connect(central_db)
    with engine.connect() as conn:
        per_hash = dict(conn.execute(text("SELECT content_hash, COUNT(*) FROM calls GROUP BY content_hash")).all())
        segments = dict(conn.execute(text("SELECT c.content_hash, COUNT(s.id) FROM calls c JOIN segments s "
                                          "ON s.call_id = c.id GROUP BY c.content_hash")).all())
    engine.dispose()
    assert per_hash == {content_hash(p): 1 for p in expected}
    for path, n in expected.items():
        assert segments[content_hash(path)] == n if n is not None else segments[content_hash(path)] > 0
    with services.session_for(central_db) as session:
        recording = next(c for c in list_calls(session) if c.file.endswith("recording.ogg"))
    assert recording.engine == "faster-whisper" and recording.agent == "dana"
    assert list((tmp_path / "worker-cache" / "transcripts").rglob("*.json")), "the worker wrote its cache"

    again = score()
    assert {o.status for o in again.outcomes} == {"skipped"}


def test_relative_paths_are_found_by_workers_started_in_another_folder(cluster, tmp_path, monkeypatch):
    (tmp_path / "calls").mkdir()
    (tmp_path / "calls" / "t.json").write_text((REFERENCE / "c01_alice_double_charge.json").read_text("utf-8"))
    monkeypatch.chdir(tmp_path)  # the workers were started in another folder, as on other machines
    summary = services.score_paths(["calls"], Workspace(db=f"sqlite:///{tmp_path / 'q.db'}"),
                                   executor=cluster.scheduler_address.replace("tcp://", "dask://"))
    assert [(o.status, o.error) for o in summary.outcomes] == [("scored", None)]


def test_an_unreachable_scheduler_is_a_clear_error(tmp_path):
    from callqa.errors import CallQAError

    (tmp_path / "t.json").write_text((REFERENCE / "c01_alice_double_charge.json").read_text(encoding="utf-8"))
    with pytest.raises(CallQAError, match="cannot reach the dask scheduler at 127.0.0.1:9"):
        services.score_paths([tmp_path / "t.json"], Workspace(db=f"sqlite:///{tmp_path / 'q.db'}"),
                             executor="dask://127.0.0.1:9")
