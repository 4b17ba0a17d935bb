"""Which database, opening it, and bringing its schema up to date.

SQLite (a file; the default) and PostgreSQL (``postgresql+psycopg://user:pass@host/db``) run the
same code. On SQLite every connection gets ``foreign_keys=ON``, WAL and a 30 s busy timeout, and
transactions that write start with ``BEGIN IMMEDIATE`` (see ``write_transaction``), so two
processes writing to one file queue for the lock instead of failing with "database is locked".
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from callqa.errors import CallQAError

ENV_VAR = "CALLQA_DB"
DB_FILE = "callqa.db"
BUSY_TIMEOUT_MS = 30_000
#: PostgreSQL: seconds to wait for a server to answer, and for one statement to finish
PG_CONNECT_TIMEOUT_S = 10
PG_STATEMENT_TIMEOUT_S = 300
MIGRATIONS = Path(__file__).with_name("migrations")
#: execution option read by the SQLite "begin" hook: "DEFERRED" (reads) or "IMMEDIATE" (writes)
BEGIN_OPTION = "callqa_sqlite_begin"
# any constant: serializes concurrent `migrate` calls on one PostgreSQL database
_MIGRATE_LOCK_KEY = 0x63616C6C7161


class StorageError(CallQAError):
    """The database cannot be opened or used; the message names it (never its password)."""


def default_url() -> str:
    from platformdirs import user_data_dir

    folder = Path(user_data_dir("callqa"))
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / DB_FILE}"


def database_url(explicit: str | None = None) -> str:
    """The database to use: ``explicit`` (the workspace's ``db``: ``--db``, ``$CALLQA_DB`` or a
    config file), else a SQLite file in the user data directory. A plain path means a SQLite file;
    ``postgresql://`` and ``postgres://`` URLs get the psycopg 3 driver."""
    raw = explicit or ""
    raw = raw.strip()
    if not raw:
        return default_url()
    if "://" not in raw:
        return f"sqlite:///{Path(raw).expanduser().resolve()}"
    for prefix in ("postgresql://", "postgres://"):
        if raw.startswith(prefix):
            return "postgresql+psycopg://" + raw[len(prefix):]
    return raw


# the password: from the first ":" of the user part to the LAST "@" (a password may hold an "@",
# "/" or "?" that was not percent-encoded; masking too much is harmless, too little is a leak)
_USERINFO = re.compile(r"(://[^/:]*:).*@", re.S)
_PASSWORD_PARAM = re.compile(r"(?i)\b(password|passwd|pwd)=[^&;\s]*")


def safe_url(url: str | URL) -> str:
    """The URL with any password replaced by ``***``: the only form ever printed or logged."""
    # masked before parsing (see _USERINFO), the query's password first: it may hold the last "@"
    masked = _USERINFO.sub(r"\1***@", _PASSWORD_PARAM.sub(r"\1=***", url)) if isinstance(url, str) else url
    try:
        rendered = make_url(masked).render_as_string(hide_password=True)
    except (ArgumentError, ValueError, TypeError):
        rendered = str(masked)
    rendered = _USERINFO.sub(r"\1***@", rendered)
    return _PASSWORD_PARAM.sub(r"\1=***", rendered)


_ENCODE_HINT = (" Percent-encode special characters in the user name and password ('@' as %40, ':' as %3A, "
                "'/' as %2F, '%' as %25), e.g. postgresql://qa:p%40ss@HOST/DB")


def _scrub(message: str, url: URL | str) -> str:
    """A driver's (or the URL parser's) message with the URL's password removed, in case it was
    repeated: the parsed password, and for a raw URL everything between the user's ":" and the
    last "@"."""
    secrets: list[str] = []
    if isinstance(url, URL):
        if url.password:
            secrets.append(str(url.password))
    elif (found := _USERINFO.search(url)) is not None:
        raw = found.group(0)[len(found.group(1)):-1]
        secrets += [raw, *(part for part in re.split(r"[@:/?]", raw) if len(part) >= 3)]
    for secret in sorted(secrets, key=len, reverse=True):
        message = message.replace(secret, "***")
    return _PASSWORD_PARAM.sub(r"\1=***", message)


def _pg_timeouts(url: URL) -> dict[str, Any]:
    """PostgreSQL defaults that bound a wait: a server that accepts and never answers is an error
    after ``connect_timeout`` seconds, a statement that runs away is cancelled by the server.
    The URL's own ``?connect_timeout=`` or ``?options=`` win."""
    defaults: dict[str, Any] = {"connect_timeout": PG_CONNECT_TIMEOUT_S,
                                "options": f"-c statement_timeout={PG_STATEMENT_TIMEOUT_S * 1000}"}
    return {k: v for k, v in defaults.items() if k not in url.query}


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Transactions are begun by the "begin" hook below, not by the sqlite3 module.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        _set_wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")  # safe with WAL; durable up to the last checkpoint
    finally:
        cursor.close()


def _set_wal(cursor: Any) -> None:
    """Switch a database to WAL, waiting for the lock. On a new file two processes can race to
    switch it; SQLite then answers "database is locked" at once, without the busy handler (it
    would deadlock), so the switch is retried for as long as the busy timeout allows."""
    import sqlite3
    import time

    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    pause = 0.01
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.25)


def _on_sqlite_begin(conn: Any) -> None:
    mode = conn.get_execution_options().get(BEGIN_OPTION, "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


def _open_error(url: URL, exc: BaseException) -> StorageError:
    shown = safe_url(url)
    reason = _scrub(str(getattr(exc, "orig", None) or exc).strip().splitlines()[0], url)
    if url.get_backend_name() == "sqlite":
        where = url.database or ":memory:"
        return StorageError(
            f"cannot open the SQLite database {where}: {reason}. Check that its folder exists and "
            f"is writable, or choose another database with --db or ${ENV_VAR}.")
    return StorageError(
        f"cannot connect to {shown}: {reason}. Check that the server is running and that the URL, "
        f"user and password are right (--db or ${ENV_VAR}).")


def _create_private(url: URL) -> None:
    """Create a new SQLite file readable by its owner only (0600; SQLite gives its -wal and -shm
    files the database's mode): it holds transcripts. An existing file keeps its mode; a folder
    that is missing is left for SQLite to report."""
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        return
    try:
        os.close(os.open(url.database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError:  # it exists (or cannot be created: SQLite says why)
        pass


def connect(url: str, **engine_options: Any) -> Engine:
    """An Engine for ``url``, checked by opening one connection; raises StorageError."""
    raw = str(url)
    if not raw.startswith("sqlite") and raw.partition("://")[2].count("@") > 1:
        # An unencoded "@" in the password: the URL parser ends the password at the first one and
        # takes the rest for the host (or the database), which would be sent to the DNS resolver
        # and quoted back in the driver's error. Refused before any connection. (A SQLite path may
        # hold "@": it has no password.)
        raise StorageError(f"not a database URL: {safe_url(url)!r}: it holds more than one '@' (one "
                           f"belongs between the user part and the host).{_ENCODE_HINT}")
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StorageError(f"not a database URL: {safe_url(url)!r} ({_scrub(str(exc), raw)}); expected a file "
                           "path, sqlite:///PATH or postgresql+psycopg://USER:PASSWORD@HOST/DB") from None
    except ValueError:  # int() of the port, which may be a piece of the password: not quoted
        raise StorageError(f"not a database URL: {safe_url(url)!r}: what follows the host's ':' is not a port "
                           f"number.{_ENCODE_HINT}") from None
    backend = parsed.get_backend_name()
    if backend == "postgresql" and parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        _create_private(parsed)
    try:
        if backend == "sqlite":
            engine = _sqlite_engine(parsed, **engine_options)
        else:
            engine_options.setdefault("pool_pre_ping", True)
            engine_options["connect_args"] = _pg_timeouts(parsed) | engine_options.get("connect_args", {})
            engine = create_engine(parsed, **engine_options)
    except (NoSuchModuleError, ModuleNotFoundError) as exc:
        hint = " PostgreSQL needs psycopg 3: pip install 'callqa[postgres]'." if backend == "postgresql" else ""
        raise StorageError(f"no driver for {safe_url(parsed)}: {exc}.{hint}") from None
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except (OperationalError, SQLAlchemyError, OSError) as exc:
        engine.dispose()
        if backend == "sqlite" and (read_only := _read_only_sqlite(parsed, **engine_options)) is not None:
            return read_only
        raise _open_error(parsed, exc) from None
    return engine


def _sqlite_engine(url: URL, **engine_options: Any) -> Engine:
    engine = create_engine(url, **engine_options)
    event.listen(engine, "connect", _on_sqlite_connect)
    event.listen(engine, "begin", _on_sqlite_begin)
    return engine


def _read_only_sqlite(url: URL, **engine_options: Any) -> Engine | None:
    """A SQLite file that cannot be opened for writing (nor its WAL index made: a read-only folder),
    opened read-only and immutable instead, so that commands that only read work; a write fails
    (``check_writable`` says so before a batch starts). None: not an existing file, or unreadable."""
    import sqlite3

    if not url.database or url.database == ":memory:" or not Path(url.database).is_file():
        return None
    uri = Path(url.database).resolve().as_uri() + "?mode=ro&immutable=1"
    engine = _sqlite_engine(url, creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False),
                            **engine_options)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError):
        engine.dispose()
        return None
    return engine


def check_writable(engine: Engine) -> None:
    """Fail before any work when nothing could be stored (a read-only file, folder or server):
    a write to Alembic's own table, rolled back."""
    try:
        with engine.connect().execution_options(**{BEGIN_OPTION: "IMMEDIATE"}) as conn:
            with conn.begin() as transaction:
                conn.execute(text("UPDATE alembic_version SET version_num = version_num"))
                transaction.rollback()
    except SQLAlchemyError as exc:
        url = engine.url
        reason = _scrub(str(getattr(exc, "orig", None) or exc).strip().splitlines()[0], url)
        where = url.database if url.get_backend_name() == "sqlite" else safe_url(url)
        raise StorageError(f"cannot write to the database {where}: {reason}. Scoring stores every call: make "
                           "the database (for SQLite, the file and its folder) writable, or choose another "
                           f"with --db or ${ENV_VAR}.") from None


@contextmanager
def write_transaction(session: Session) -> Iterator[Session]:
    """One transaction that writes: commits at the end, rolls back on error.

    Whatever transaction the session had open is committed first (the repository hands out no
    ORM rows, so that only ends a read). On SQLite the new transaction starts with
    ``BEGIN IMMEDIATE``: it waits (busy timeout) for the write lock up front, where a read that
    later turns into a write could fail at once with "database is locked".
    """
    if session.in_transaction():
        session.commit()
    if session.get_bind().dialect.name == "sqlite":
        session.connection(execution_options={BEGIN_OPTION: "IMMEDIATE"})
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise


_REVISION_LINE = re.compile(r"""^(revision|down_revision)\b[^=\n]*=\s*["']?([^"'\s]*)""", re.M)


def head_revision() -> str | None:
    """The newest migration's revision id, read from the migration files' ``revision`` and
    ``down_revision`` lines without importing Alembic; None unless they name exactly one head."""
    revisions, parents = set(), set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        found = dict(_REVISION_LINE.findall(path.read_text(encoding="utf-8")))
        if found.get("revision"):
            revisions.add(found["revision"])
            parents.add(found.get("down_revision"))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _stored_revisions(engine: Engine) -> set[str] | None:
    """The revisions in ``alembic_version`` (one query); None when there is no such table yet."""
    try:
        with engine.connect() as conn:
            return {row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))}
    except SQLAlchemyError:
        return None


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to ``revision`` (Alembic ``upgrade``), from empty or any older version.
    A database already at the newest revision costs one query: Alembic is not imported.

    Safe to run from several processes at once: SQLite takes the write lock first, PostgreSQL an
    advisory lock.
    """
    if revision == "head" and (head := head_revision()) is not None and _stored_revisions(engine) == {head}:
        return
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.connect().execution_options(**{BEGIN_OPTION: "IMMEDIATE"}) as conn:
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATE_LOCK_KEY})
                config.attributes["connection"] = conn
                command.upgrade(config, revision)
    except OperationalError as exc:
        reason = _scrub(str(exc.orig or exc).strip().splitlines()[0], engine.url)
        raise StorageError(f"cannot migrate {safe_url(engine.url)}: {reason}") from None


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database is at (None when never migrated)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
