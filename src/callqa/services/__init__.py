"""The one API that the command line, the terminal UI and the reports call.

score_paths: recordings or transcripts in → transcribed (cache first), scored with the rubric,
stored per agent, one transaction per call. Files already stored with the same rubric (its content hash)
are skipped; a stored call whose rubric changed is rescored from its stored transcript (no
Whisper); a file that fails is recorded with its error and the batch goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine
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

    def to_json(self) -> dict[str, Any]:
        """The stable per-call JSON line of ``callqa score --format json`` (see the README)."""
        s = self.score
        return {
            "version": SCORE_LINE_VERSION, "call": self.call_id, "file": self.file, "agent": self.agent,
            "status": self.status, "score": s.score if s else None,
            "sections": dict(s.sections) if s else {},
            "critical_failed": list(s.critical_failed) if s else [],
            "flags": [_line_flag(f) for f in (s.flags if s else ())],
            "error": self.error,
        }


#: The keys of a flag in the score line (README, "Score JSON line"): the flag's JSON form
#: (``Flag.to_dict``) without its own version and the structured details.
SCORE_LINE_FLAG_KEYS = ("criterion", "category", "polarity", "severity", "speaker", "start", "end", "text",
                        "message", "suggestion", "explanation")


def _line_flag(flag: Flag) -> dict[str, Any]:
    form = flag.to_dict()
    return {key: form[key] for key in SCORE_LINE_FLAG_KEYS}


@dataclass
class BatchSummary:
    outcomes: list[CallOutcome] = field(default_factory=list)
    #: with redaction on: stored calls (any, not only this batch's) still unredacted (`callqa redact`)
    unredacted: int = 0

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def failed(self) -> list[CallOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]


def rubric_hash(rubric: Rubric) -> str:
    """A short hash of the rubric's content (``Rubric.content_hash``): any edit gives a new hash, so
    stored calls are rescored. Stored as ``calls.rubric_hash``; not the rubric file's ``version:``
    field (``Rubric.version``, ``CallScore.rubric_version``), which an author may leave unchanged."""
    return rubric.content_hash


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


def _transcribe_and_score(path: Path, settings: TranscribeSettings, rubric: Rubric, rhash: str,
                          redact: bool) -> tuple[Path, Transcript | None, CallScore | None, str | None]:
    """One file, in a worker process (perhaps on another machine): never raises, a failure comes
    back as its message. The rubric travels with the job, so workers need no rubric file; the
    loader's cache keeps one copy per rubric content, so its engine is compiled once per worker."""
    from callqa.rubric.loader import cached

    rubric = cached(rubric)
    try:
        transcript = transcribe_file(path, settings)
        if redact:
            transcript = redact_transcript(transcript)
        return path, transcript, _score(transcript, rubric), None
    except CallQAError as exc:
        return path, None, None, str(exc)
    except Exception as exc:  # a library failure on one file must not end the batch
        return path, None, None, f"{path}: unexpected {type(exc).__name__}: {exc}"


def _score(transcript: Transcript, rubric: Rubric) -> CallScore:
    from callqa.scoring import score_transcript

    if not transcript.segments:
        raise CallQAError(f"{transcript.file}: no speech was recognised; is the recording silent?")
    result = score_transcript(transcript, rubric)
    if result.score is None and result.service_call:
        raise CallQAError(f"{transcript.file}: no criterion of rubric {rubric.id!r} applies to this call")
    return result


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
    rhash = rubric_file.known_hash() or rubric_file.load().content_hash
    paths = list(paths)
    mapper = AgentMapper(ws.name_pattern, agent, roots=paths)
    inputs = find_inputs(paths)
    storage.check_writable(open_database(ws.db))  # a read-only database fails here, not after Whisper
    if on_total:
        on_total(len(inputs))
    summary = BatchSummary()

    def emit(outcome: CallOutcome) -> None:
        summary.outcomes.append(outcome)
        if on_outcome:
            on_outcome(outcome)

    with session_for(ws.db) as session, _claims_released(session):
        todo: dict[Path, tuple[str, Any]] = {}
        hashed: list[tuple[Path, str, CallInfo | None]] = []  # (path, its hash and agent, or the error)
        for path in inputs:
            try:
                hashed.append((path, content_hash(path), mapper.lookup(path)))
            except (CallQAError, OSError) as exc:
                hashed.append((path, str(exc), None))
        # what is stored already, for every file in a few queries: a run with nothing to do costs
        # little more than hashing the files
        known = storage.calls_by_hash(session, [digest for _, digest, info in hashed if info is not None])
        seen: set[str] = set()
        for path, digest, info in hashed:
            if info is None:
                _fail(session, emit, str(path), None, digest, ws.redact)
                continue
            # a second file with the same content sees what the first one stored
            stored = storage.calls_by_hash(session, [digest]).get(digest) if digest in seen else known.get(digest)
            seen.add(digest)
            call_id = stored.id if stored is not None else None
            if stored is not None and info.source == "none":
                info = CallInfo(stored.agent, stored.call_date, "stored")  # nobody named another agent
            if stored is not None and not rescore and stored.rubric_hash == rhash:
                emit(CallOutcome(str(path), "skipped", info.agent, call_id))
                continue
            if call_id is not None:  # stored before: rescore its stored transcript, no Whisper
                if not _claim(session, emit, path, digest, info, rhash, rescore):
                    continue
                transcript = _stored(session, call_id, ws.redact)
                try:
                    result = _score(transcript, rubric_file.rubric)
                except CallQAError as exc:
                    _fail(session, emit, str(path), digest, str(exc), ws.redact)
                else:
                    _save(session, emit, "rescored", replace(transcript, file=str(path)), result, info, digest,
                          rubric_file.rubric, rhash, ws.company, ws.redact)
                storage.release_claim(session, digest)
                continue
            todo[path.absolute()] = (path, digest, info)  # absolute: workers may run elsewhere

        def jobs() -> Iterator[tuple]:
            threads = 0
            if not executor:  # share this machine's cores between the workers
                threads = max(1, default_workers() // workers) if workers > 1 else 0
            transcription = replace(TranscribeSettings.of(ws), threads=threads)
            for absolute, (path, digest, info) in todo.items():
                session.rollback()  # end the read snapshot: see what another batch stored meanwhile
                if not _claim(session, emit, path, digest, info, rhash, rescore):
                    continue
                yield absolute, transcription, rubric_file.rubric, rhash, ws.redact

        workers = worker_count(ws.workers, len(todo))
        for absolute, transcript, result, error in run_all(_transcribe_and_score, jobs(), workers, executor):
            path, digest, info = todo[absolute]
            if error:
                _fail(session, emit, str(path), digest, error, ws.redact)
            else:
                _save(session, emit, "scored", replace(transcript, file=str(path)), result, info, digest,
                      rubric_file.rubric, rhash, ws.company, ws.redact)
            storage.release_claim(session, digest)
            storage.renew_claims(session)
        if ws.redact:
            summary.unredacted = storage.count_unredacted(session)
    return summary


def _claim(session: Session, emit, path: Path, digest: str, info: CallInfo, rhash: str, rescore: bool) -> bool:
    """Claim a file for this batch before scoring it (``storage.claims``): False, the file reported
    skipped, when another batch is scoring it or has stored it meanwhile."""
    holder = storage.claim(session, digest)
    if holder is not None:
        emit(CallOutcome(str(path), "skipped", info.agent, error=f"{path}: being scored by another batch ({holder})"))
        return False
    if not rescore and storage.is_scored(session, digest, rhash):
        storage.release_claim(session, digest)
        emit(CallOutcome(str(path), "skipped", info.agent, storage.call_id_for_hash(session, digest)))
        return False
    return True


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
    stored transcript: no recording is read, Whisper never runs, each call keeps its agent. Calls
    already scored with this rubric (same content hash) are skipped unless ``rescore``."""
    rubric = load_rubric(ws.rubric)
    rhash = rubric_hash(rubric)
    storage.check_writable(open_database(ws.db))
    summary = BatchSummary()
    with session_for(ws.db) as session:
        if on_total:
            on_total(storage.count_calls(session, agent=agent))
        offset = 0  # pages in id order: rescoring a call keeps its id, so pages neither skip nor repeat
        while batch := storage.list_calls(session, agent=agent, order_by="id", limit=page, offset=offset):
            offset += len(batch)
            for call in batch:
                if call.rubric_hash == rhash and not rescore:
                    outcome = CallOutcome(call.file, "skipped", call.agent, call.id)
                else:
                    outcome = _rescore_one(session, call, rubric, rhash, ws.company, ws.redact)
                summary.outcomes.append(outcome)
                if on_outcome:
                    on_outcome(outcome)
        if ws.redact:
            summary.unredacted = storage.count_unredacted(session)
    return summary


def _rescore_one(session: Session, call: storage.CallSummary, rubric: Rubric, rhash: str,
                 company: str | None, redact: bool) -> CallOutcome:
    transcript = _stored(session, call.id, redact)
    try:
        result = _score(transcript, rubric)
    except CallQAError as exc:
        message = _error(str(exc), call.file, redact)
        storage.record_error(session, call.file, call.content_hash, message)
        return CallOutcome(call.file, "failed", call.agent, call.id, error=message)
    if not result.service_call:  # its stored score stays; this rubric does not score it
        message = _not_service(call.file)
        storage.record_error(session, call.file, call.content_hash, message)
        return CallOutcome(call.file, "not_service", call.agent, call.id, result, call.duration, message)
    result = _personalised(result, call.agent, company, transcript)
    call_id = storage.save_scored_call(session, transcript, result, agent=call.agent, call_date=call.call_date,
                                       content_hash=call.content_hash, rubric_id=rubric.id, rubric_hash=rhash)
    return CallOutcome(call.file, "rescored", call.agent, call_id, result, call.duration)


def _save(session: Session, emit, status: str, transcript: Transcript, result: CallScore, info, digest: str,
          rubric: Rubric, rhash: str, company: str | None, redact: bool) -> None:
    if not result.service_call:  # reported with the reason, not stored as a scored call
        message = _not_service(transcript.file)
        storage.record_error(session, transcript.file, digest, message)
        emit(CallOutcome(transcript.file, "not_service", info.agent, None, result, transcript.duration, message))
        return
    result = _personalised(result, info.agent, company, transcript)
    try:
        call_id = storage.save_scored_call(session, transcript, result, agent=info.agent, call_date=info.call_date,
                                           content_hash=digest, rubric_id=rubric.id, rubric_hash=rhash)
    except storage.StorageError as exc:  # data the database cannot hold: this file fails, the batch goes on
        _fail(session, emit, transcript.file, digest, str(exc), redact)
        return
    emit(CallOutcome(transcript.file, status, info.agent, call_id, result, transcript.duration))


def _personalised(result: CallScore, agent: str, company: str | None, transcript: Transcript) -> CallScore:
    """The suggestions said as this agent would say them: "My name is {agent}" on bob's call reads
    "My name is Bob" (an unassigned call keeps the stand-in)."""
    customer = str(transcript.extra.get("customer_name") or "") or None
    return result.personalised(agent=None if agent == UNASSIGNED else agent, company=company, customer=customer)


def _not_service(file: str) -> str:
    return (f"{file}: not a service call (the customer never asks for anything or raises a problem); "
            "not scored. If it is one, the rubric's service_call gate needs the customer's words")


def _stored(session: Session, call_id: int, redact: bool) -> Transcript:
    """A stored call's transcript, to rescore; redacted when redaction is on (the rescore stores it
    so: a call stored before redaction was on is redacted by rescoring it)."""
    transcript = storage.stored_transcript(session, call_id)
    return redact_transcript(transcript) if redact else transcript


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
