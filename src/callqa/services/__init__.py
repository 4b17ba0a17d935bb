"""The one API that the command line, the terminal UI and the reports call.

score_paths: recordings or transcripts in → transcribed (cache first) and scored in worker
processes, which hand back the rows to store; the batch writes them per agent, many calls per
transaction. Files already stored with the same rubric (its content hash)
are skipped; a stored call whose rubric changed is rescored from its stored transcript (no
Whisper); a file that fails is recorded with its error and the batch goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from callqa import storage
from callqa.audio import content_hash
from callqa.errors import CallQAError
from callqa.parallel import default_workers, run_all, worker_count
from callqa.records import UNASSIGNED, Flag
from callqa.redact import redact_message, redact_transcript
from callqa.sidecar import AgentMapper, CallInfo
from callqa.transcribe import TranscribeSettings, find_inputs, transcribe_file
from callqa.transcript import Transcript
from callqa.workspace import Workspace

if TYPE_CHECKING:  # the rubric engine loads when something is scored, not to read the database
    from callqa.rubric.schema import Rubric
    from callqa.scoring import CallScore

#: Version of the JSON line ``callqa score --format json`` prints per call.
SCORE_LINE_VERSION = 1


@dataclass(frozen=True)
class CallOutcome:
    file: str
    status: str  # "scored" | "rescored" | "skipped" | "failed" | "not_service" (reported, not scored)
    agent: str | None = None
    call_id: int | None = None
    score: CallScore | None = None
    duration: float = 0.0
    error: str | None = None

    def to_json(self, states: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The stable per-call JSON line of ``callqa score --format json`` (see the README). With
        ``states`` (the workspace's criterion states) each flag says its criterion's ``state``."""
        s = self.score
        return {
            "version": SCORE_LINE_VERSION, "call": self.call_id, "file": self.file, "agent": self.agent,
            "status": self.status, "score": s.score if s else None,
            "sections": dict(s.sections) if s else {},
            "critical_failed": list(s.critical_failed) if s else [],
            "flags": [_line_flag(f, states) for f in (s.flags if s else ())],
            "error": self.error,
        }


#: The keys of a flag in the score line (README, "Score JSON line"): the flag's JSON form
#: (``Flag.to_dict``) without its own version and the structured details.
SCORE_LINE_FLAG_KEYS = ("criterion", "category", "polarity", "severity", "speaker", "start", "end", "text",
                        "message", "suggestion", "explanation", "confidence", "uncertain")


def _line_flag(flag: Flag, states: Mapping[str, str] | None = None) -> dict[str, Any]:
    form = flag.to_dict()
    line = {key: form[key] for key in SCORE_LINE_FLAG_KEYS}
    if states is not None:  # human (no entry) / assisted: not yet shown to agree with blind reviewers
        line["state"] = states.get(flag.criterion, "human")
    return line


@dataclass
class BatchSummary:
    outcomes: list[CallOutcome] = field(default_factory=list)
    #: with redaction on: stored calls (any, not only this batch's) still unredacted (`callqa redact`)
    unredacted: int = 0

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    def recorder(self, on_outcome: Callable[[CallOutcome], None] | None) -> Callable[[CallOutcome], None]:
        """What a batch calls with each outcome: kept here, and passed on to ``on_outcome``."""
        def emit(outcome: CallOutcome) -> None:
            self.outcomes.append(outcome)
            if on_outcome:
                on_outcome(outcome)
        return emit

    @property
    def failed(self) -> list[CallOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]


def rubric_hash(rubric: Rubric, uncertain_count: bool = False) -> str:
    """A short hash of the rubric's content (``Rubric.content_hash``): any edit gives a new hash, so
    stored calls are rescored. Stored as ``calls.rubric_hash``; not the rubric file's ``version:``
    field (``Rubric.version``, ``CallScore.rubric_version``), which an author may leave unchanged.
    The setting the score formula reads, ``uncertain-flags-count``, is part of it: changing it
    rescores too."""
    return scoring_hash(rubric.content_hash, uncertain_count)


def scoring_hash(content_hash: str, uncertain_count: bool) -> str:
    """What decides a rescore: the rubric's content hash and the formula's setting (``/u0``: uncertain
    faults not counted, the default; ``/u1``: counted)."""
    return f"{content_hash}/u{int(uncertain_count)}"


# --- the database ---------------------------------------------------------------------------

#: The columns of ``callqa export --format csv``: the call's, then the flag's.
EXPORT_CALL_FIELDS, EXPORT_FLAG_FIELDS = storage.EXPORT_CALL_FIELDS, storage.EXPORT_FLAG_FIELDS
EXPORT_VERSION, ExportFilter = storage.EXPORT_VERSION, storage.ExportFilter


def database_label(ws: Workspace) -> str:
    """The workspace's database as it may be shown: its URL without the password."""
    return storage.safe_url(storage.database_url(ws.db))


@lru_cache(maxsize=8)
def open_database(url: str | None = None) -> Engine:
    """Connect (and migrate once per process) to the database at ``url`` or the default."""
    engine = storage.connect(storage.database_url(url))
    storage.migrate(engine)
    return engine


@contextmanager
def session_for(url: str | None = None, *, redact: bool = False) -> Iterator[Session]:
    """A session on the database at ``url``; ``redact``: the reviews written through it are stored
    redacted (as they are anyway on a call stored redacted)."""
    with Session(open_database(url), info={"redact": redact}) as session:
        yield session


# --- scoring ----------------------------------------------------------------------------------

def load_rubric(path: str | None = None) -> Rubric:
    """The rubric at ``path`` (None: the packaged default); cached by content in the loader."""
    from callqa.rubric import loader

    return loader.load_rubric(path)


#: A batch writes what its workers handed back when this many calls are ready, or this many
#: seconds after its last write: many calls per transaction, and a slow batch (Whisper) still
#: stores each call soon after it is done.
FLUSH_CALLS, FLUSH_SECONDS = 200, 0.5
#: Files whose stored state is looked up again in one query before their jobs start, in case
#: another batch stored them meanwhile.
RECHECK_EVERY = 64


@dataclass(frozen=True)
class _Batch:
    """What every job of one batch shares; it reaches each worker once (workers need no rubric file)."""
    rubric: Rubric
    rhash: str
    settings: TranscribeSettings | None
    redact: bool
    company: str | None
    uncertain_count: bool = False


@dataclass(frozen=True)
class _Job:
    file: str  # as given: shown and stored
    digest: str
    info: CallInfo
    path: Path | None = None  # absolute (workers may run elsewhere): transcribe it
    stored: Transcript | None = None  # or rescore this stored transcript (no Whisper)
    call_id: int | None = None  # the stored call's id, when it is stored


@dataclass(frozen=True)
class _Done:
    job: _Job
    outcome: CallOutcome  # call_id is the stored one's, or None until it is written
    rows: storage.CallRows | None = None  # ready to write; None: nothing to store (failed, not a service call)


_BLAS_LIMITED = False


def _one_blas_thread() -> None:
    """Scoring's numpy products are small (a call's sentences against a criterion's examples): on
    several BLAS threads each one costs thread hand-offs, not work. Measured on the 2-core machine
    under load: 70 -> 24 ms CPU per call, and fitting the trained checks' heads 16 -> 3 s."""
    global _BLAS_LIMITED
    if not _BLAS_LIMITED:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1, user_api="blas")
        _BLAS_LIMITED = True


def _transcribe_and_score(batch: _Batch, job: _Job) -> _Done:
    """One call, in a worker process (perhaps on another machine): transcribed or taken from the
    database, redacted, scored and turned into the rows the parent writes. Never raises: a failure
    comes back as its message. The batch (its rubric) reaches each worker once, so its compiled
    matchers are built once per worker."""
    from callqa.rubric.loader import cached

    _one_blas_thread()
    rubric = cached(batch.rubric)  # one copy (and engine) per rubric content
    info = job.info
    try:
        if job.stored is not None:
            transcript, status = job.stored, "rescored"
        else:
            assert job.path is not None and batch.settings is not None
            # the agent's name joins the vocabulary Whisper is prompted with
            transcript, status = transcribe_file(job.path, batch.settings.with_words(info.spoken_name)), "scored"
        if batch.redact:
            transcript = redact_transcript(transcript)
        transcript = replace(transcript, file=job.file, extra={**transcript.extra, "vocabulary": _vocabulary(batch, info)})
        result = _score(transcript, rubric, batch.uncertain_count)
        if not result.service_call:  # reported with the reason, not stored as a scored call
            return _Done(job, CallOutcome(job.file, "not_service", info.agent, job.call_id, result,
                                          transcript.duration, _not_service(job.file)))
        result = _personalised(result, info.agent, batch.company, transcript)
        unchanged = job.stored is not None and transcript.segments == job.stored.segments
        rows = storage.call_rows(transcript, result, agent=info.agent, call_date=info.call_date,
                                 content_hash=job.digest, rubric_id=rubric.id, rubric_hash=batch.rhash,
                                 keep_segments=unchanged)
        return _Done(job, CallOutcome(job.file, status, info.agent, None, result, transcript.duration), rows)
    except CallQAError as exc:  # a StorageError too: data the database cannot hold
        return _Done(job, CallOutcome(job.file, "failed", error=str(exc)))
    except Exception as exc:  # a library failure on one file must not end the batch
        return _Done(job, CallOutcome(job.file, "failed", error=f"{job.file}: unexpected {type(exc).__name__}: {exc}"))


def _vocabulary(batch: _Batch, info: CallInfo) -> tuple[str, ...]:
    """The names and terms of a call (what Whisper was prompted with), for the rubric's name matching."""
    return (batch.settings or TranscribeSettings(company=batch.company)).with_words(info.spoken_name).options().vocabulary


def _score(transcript: Transcript, rubric: Rubric, uncertain_count: bool) -> CallScore:
    from callqa.scoring import score_transcript

    if not transcript.segments:
        raise CallQAError(f"{transcript.file}: no speech was recognised; is the recording silent?")
    result = score_transcript(transcript, rubric, uncertain_count)
    if result.score is None and result.service_call:
        raise CallQAError(f"{transcript.file}: no criterion of rubric {rubric.id!r} applies to this call")
    return result


def _run_jobs(session: Session, jobs: Iterable[_Job], batch: _Batch, workers: int, executor: str | None,
              emit: Callable[[CallOutcome], None]) -> None:
    """Run ``jobs`` on the workers and write what they hand back, many calls per transaction. A
    failure is recorded at once; scored calls are reported once they are stored. However the
    batch ends (Ctrl-C too), the calls already done are written."""
    pending: list[_Done] = []
    last = time.monotonic()

    def flush() -> None:
        nonlocal last
        if not pending:
            return
        try:
            ids: list[int | None] = list(storage.save_scored_calls(session, [d.rows for d in pending]))
        except (storage.StorageError, DBAPIError):  # one call the database refuses fails alone
            ids = []
            for d in pending:
                try:
                    ids.append(storage.save_scored_calls(session, [d.rows])[0])
                except storage.StorageError as exc:
                    _fail(session, emit, d.job.file, d.job.digest, str(exc), batch.redact)
                    ids.append(None)
        done = pending[:]
        pending.clear()
        last = time.monotonic()
        storage.release_claim(session, *(d.job.digest for d in done))
        for d, call_id in zip(done, ids):
            if call_id is not None:
                emit(replace(d.outcome, call_id=call_id))
        storage.renew_claims(session)

    try:
        for d in run_all(_transcribe_and_score, ((job,) for job in jobs), workers, executor, shared=batch):
            if d.rows is not None:
                pending.append(d)
                if len(pending) >= FLUSH_CALLS or time.monotonic() - last >= FLUSH_SECONDS:
                    flush()
            elif d.outcome.status == "failed":
                _fail(session, emit, d.job.file, d.job.digest, d.outcome.error or "", batch.redact)
                storage.release_claim(session, d.job.digest)
            else:
                storage.record_error(session, d.job.file, d.job.digest, d.outcome.error or "")
                storage.release_claim(session, d.job.digest)
                emit(d.outcome)
    finally:
        flush()


def _fresh(session: Session, jobs: list[_Job], rhash: str, rescore: bool,
           emit: Callable[[CallOutcome], None]) -> Iterator[_Job]:
    """``jobs`` as they are handed to the workers, looked up again ``RECHECK_EVERY`` at a time (a
    new read: what another batch stored meanwhile counts): one scored with this rubric since is
    skipped; a stored call's transcript is read here, when its job is due."""
    for at in range(0, len(jobs), RECHECK_EVERY):
        session.rollback()  # end the read snapshot
        chunk = []
        for job in jobs[at:at + RECHECK_EVERY]:  # claimed first, then looked up: no other batch slips between
            holder = storage.claim(session, job.digest)
            if holder is None:
                chunk.append(job)
            else:
                emit(CallOutcome(job.file, "skipped", job.info.agent,
                                 error=f"{job.file}: being scored by another batch ({holder})"))
        stored = storage.calls_by_hash(session, [job.digest for job in chunk])
        due = []
        for job in chunk:
            now = stored.get(job.digest)
            if now is not None and now.rubric_hash == rhash and not rescore:
                storage.release_claim(session, job.digest)
                emit(CallOutcome(job.file, "skipped", job.info.agent, now.id))
            elif now is not None and job.path is None:  # a stored call's job: rescored from the database
                due.append(replace(job, call_id=now.id))
            else:
                due.append(job)
        transcripts = storage.stored_transcripts(session, [j.call_id for j in due if j.path is None])
        for job in due:
            if job.path is None:
                if job.call_id not in transcripts:
                    storage.release_claim(session, job.digest)
                    continue  # deleted meanwhile: nothing to rescore
                job = replace(job, stored=transcripts[job.call_id])
            yield job


def score_paths(paths: Iterable[str | Path], ws: Workspace = Workspace(), *, agent: str | None = None,
                rescore: bool = False, executor: str | None = None,
                on_outcome: Callable[[CallOutcome], None] | None = None,
                on_total: Callable[[int], None] | None = None) -> BatchSummary:
    """Score every recording and transcript under ``paths`` into the database (see the module doc).
    ``agent``: one agent for every file; ``rescore``: rescore stored calls even when their rubric
    did not change; ``executor``: "dask://HOST:PORT". A stored call keeps its agent and date unless
    ``agent``, a sidecar or the name pattern names them."""
    from callqa.rubric.loader import read_rubric

    rubric_file = read_rubric(ws.rubric)
    # a file validated before is known by its content, without validating it again (it is loaded
    # when a call needs scoring); a new or bad rubric is validated here, before any work
    rhash = scoring_hash(rubric_file.known_hash() or rubric_file.load().content_hash, ws.uncertain_flags_count)
    paths = list(paths)
    mapper = AgentMapper(ws.name_pattern, agent, roots=paths)
    inputs = find_inputs(paths)
    storage.check_writable(open_database(ws.db))  # a read-only database fails here, not after Whisper
    if on_total:
        on_total(len(inputs))
    summary = BatchSummary()

    emit = summary.recorder(on_outcome)

    with session_for(ws.db) as session, _claims_released(session):
        found: list[tuple[Path, str, CallInfo]] = []
        for path in inputs:
            try:
                found.append((path, content_hash(path), mapper.lookup(path)))
            except (CallQAError, OSError) as exc:
                _fail(session, emit, str(path), None, str(exc), ws.redact)
        stored = storage.calls_by_hash(session, [digest for _, digest, _ in found])
        jobs: list[_Job] = []
        for path, digest, info in found:
            call = stored.get(digest)
            if call is not None and info.source == "none":
                info = CallInfo(call.agent, call.call_date, "stored")  # nobody named another agent
            if call is not None and not rescore and call.rubric_hash == rhash:
                emit(CallOutcome(str(path), "skipped", info.agent, call.id))
            elif call is not None:  # stored before: rescore its stored transcript, no Whisper
                jobs.append(_Job(str(path), digest, info, call_id=call.id))
            else:
                jobs.append(_Job(str(path), digest, info, path=path.absolute()))
        if jobs:  # the rubric is loaded only now: a batch with nothing to score never validates it
            workers = worker_count(ws.workers, len(jobs))
            threads = 0
            if not executor:  # share this machine's cores between the workers
                threads = max(1, default_workers() // workers) if workers > 1 else 0
            batch = _Batch(rubric_file.rubric, rhash, replace(TranscribeSettings.of(ws), threads=threads), ws.redact,
                           ws.company, ws.uncertain_flags_count)
            _run_jobs(session, _fresh(session, jobs, rhash, rescore, emit), batch, workers, executor, emit)
        if ws.redact:
            summary.unredacted = storage.count_unredacted(session)
    return summary


@contextmanager
def _claims_released(session: Session) -> Iterator[None]:
    """The batch's claims go back when it ends, however it ends short of kill -9 (then they are
    stale: the next batch takes them over)."""
    try:
        yield
    finally:
        session.rollback()
        storage.release_claims(session)


def rescore_stored(ws: Workspace = Workspace(), *, agent: str | None = None, rescore: bool = False,
                   on_outcome: Callable[[CallOutcome], None] | None = None,
                   on_total: Callable[[int], None] | None = None, page: int = 500) -> BatchSummary:
    """Rescore every stored call (``agent``: only that agent's) with the workspace's rubric from its
    stored transcript, in the batch's workers: no recording is read, Whisper never runs, each call
    keeps its agent. Calls already scored with this rubric (same content hash) are skipped unless
    ``rescore``."""
    rubric = load_rubric(ws.rubric)
    rhash = rubric_hash(rubric, ws.uncertain_flags_count)
    storage.check_writable(open_database(ws.db))
    summary = BatchSummary()

    emit = summary.recorder(on_outcome)

    with session_for(ws.db) as session:
        total = storage.count_calls(session, agent=agent)
        if on_total:
            on_total(total)
        jobs: list[_Job] = []
        offset = 0  # pages in id order: rescoring a call keeps its id, so pages neither skip nor repeat
        while calls := storage.list_calls(session, agent=agent, order_by="id", limit=page, offset=offset):
            offset += len(calls)
            for call in calls:
                if call.rubric_hash == rhash and not rescore:
                    emit(CallOutcome(call.file, "skipped", call.agent, call.id))
                else:
                    jobs.append(_Job(call.file, call.content_hash, CallInfo(call.agent, call.call_date, "stored"),
                                     call_id=call.id))
        # no Whisper here: the settings give each call's vocabulary for the rubric's name matching
        batch = _Batch(rubric, rhash, TranscribeSettings.of(ws), ws.redact, ws.company, ws.uncertain_flags_count)
        _run_jobs(session, _fresh(session, jobs, rhash, rescore, emit), batch, worker_count(ws.workers, len(jobs)),
                  None, emit)
        if ws.redact:
            summary.unredacted = storage.count_unredacted(session)
    return summary


def _personalised(result: CallScore, agent: str, company: str | None, transcript: Transcript) -> CallScore:
    """The suggestions said as this agent would say them: "My name is {agent}" on bob's call reads
    "My name is Bob" (an unassigned call keeps the stand-in)."""
    customer = str(transcript.extra.get("customer_name") or "") or None
    return result.personalised(agent=None if agent == UNASSIGNED else agent, company=company, customer=customer)


def _not_service(file: str) -> str:
    return (f"{file}: not a service call (the customer never asks for anything or raises a problem); "
            "not scored. If it is one, the rubric's service_call gate needs the customer's words")


def _error(message: str, file: str, redact: bool) -> str:
    """An error message as it may be stored and shown: with redaction on, the personal data of a
    line it quotes is replaced (the file's name, as given or absolute, stays as it is)."""
    return redact_message(message, file, str(Path(file).absolute())) if redact else message


def _fail(session: Session, emit, file: str, digest: str | None, message: str, redact: bool) -> None:
    message = _error(message, file, redact)
    storage.record_error(session, file, digest, message)
    emit(CallOutcome(file, "failed", error=message))


def redact_stored(ws: Workspace = Workspace()) -> dict[str, int]:
    """Redact everything already stored in the workspace's database (``storage.redact_stored``):
    how many calls were not redacted yet, and how many segments, flags, error messages and reviews
    changed."""
    with session_for(ws.db) as session:
        return storage.redact_stored(session)


# --- reading ---------------------------------------------------------------------------------

def agent_summaries(ws: Workspace = Workspace(), **filters: Any) -> list[storage.AgentSummary]:
    with session_for(ws.db) as session:
        return storage.agent_summaries(session, **filters)


def unassigned_calls(ws: Workspace = Workspace()) -> int:
    """How many stored calls have no agent named: listed apart, never an agent's."""
    with session_for(ws.db) as session:
        return storage.count_calls(session, agent=UNASSIGNED)


def export_calls(ws: Workspace = Workspace(), where: storage.ExportFilter = storage.ExportFilter()
                 ) -> Iterator[dict[str, Any]]:
    """The stored calls ``where`` selects, with flags, section scores and reviews
    (``storage.export_rows``), streamed."""
    with session_for(ws.db) as session:
        yield from storage.export_rows(session, where)


def export_sections(ws: Workspace = Workspace(), where: storage.ExportFilter = storage.ExportFilter()) -> list[str]:
    """The section names of the calls ``where`` selects, in rubric order."""
    with session_for(ws.db) as session:
        return storage.export_sections(session, where)
