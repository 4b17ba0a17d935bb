"""Storage: SQLAlchemy models, Alembic migrations and a repository of domain objects.

    engine = connect(database_url(args.db)); migrate(engine)
    with Session(engine) as session:
        call_id = save_scored_call(session, transcript, score, agent=..., ...)
        summaries = agent_summaries(session)
"""

from callqa.storage.db import StorageError, check_writable, connect, database_url, migrate, safe_url, write_transaction
from callqa.records import (
    AgentSummary,
    CallSummary,
    Flag,
    Review,
    SectionResult,
    StoredCall,
    StoredError,
    StoredFlag,
)
from callqa.storage.claims import Claimant, claim, release_claim, release_claims, renew_claims
from callqa.storage.repository import (
    EXPORT_CALL_FIELDS,
    EXPORT_FLAG_FIELDS,
    EXPORT_REVIEW_FIELDS,
    EXPORT_VERSION,
    ExportFilter,
    ReviewError,
    add_review,
    agent_summaries,
    CallRows,
    call_id_for_hash,
    call_rows,
    calls_by_hash,
    call_summary,
    count_calls,
    count_unredacted,
    export_rows,
    export_sections,
    get_call,
    is_scored,
    list_calls,
    list_errors,
    record_error,
    redact_stored,
    save_scored_call,
    save_scored_calls,
    stored_transcript,
    stored_transcripts,
)

__all__ = [
    "EXPORT_CALL_FIELDS", "EXPORT_FLAG_FIELDS", "EXPORT_REVIEW_FIELDS", "EXPORT_VERSION", "ExportFilter",
    "export_rows", "export_sections",
    "Claimant", "claim", "release_claim", "release_claims", "renew_claims",
    "AgentSummary", "CallRows", "CallSummary", "Flag", "Review", "ReviewError", "SectionResult", "StorageError",
    "StoredCall", "StoredError", "StoredFlag", "add_review", "agent_summaries", "call_id_for_hash", "call_rows", "call_summary", "calls_by_hash",
    "check_writable", "connect", "count_calls", "count_unredacted", "database_url", "get_call", "is_scored",
    "list_calls", "list_errors", "migrate", "record_error", "redact_stored", "safe_url", "save_scored_call",
    "save_scored_calls", "stored_transcript", "stored_transcripts", "write_transaction",
]
