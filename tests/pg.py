"""A real, throwaway PostgreSQL server for the tests (Debian's postgresql package).

``postgres_url`` (session scope) runs initdb + pg_ctl in a temporary folder, listening on
127.0.0.1 at a free port with trust authentication, creates the database ``callqa_test``, yields
``postgresql+psycopg://postgres@127.0.0.1:PORT/callqa_test`` and stops the server at the end.
As root, initdb and the server run as the ``postgres`` user (initdb refuses root).

Without PostgreSQL installed the tests that use it are skipped, unless
``CALLQA_REQUIRE_POSTGRES=1`` (CI), where they fail.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

DATABASE = "callqa_test"
INSTALL_HINT = "PostgreSQL is not installed (install postgresql: scripts/test does it)"


def _bindir() -> Path | None:
    candidates: list[str] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            candidates.append(subprocess.run([pg_config, "--bindir"], capture_output=True, text=True,
                                             check=True).stdout.strip())
        except (OSError, subprocess.CalledProcessError):
            pass
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)  # newest first
    for folder in candidates:
        if folder and (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    return None


def _unavailable(reason: str) -> None:
    if os.environ.get("CALLQA_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"{reason}; CALLQA_REQUIRE_POSTGRES=1 requires it", pytrace=False)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    bindir = _bindir()
    if bindir is None:
        _unavailable(INSTALL_HINT)
    try:
        import psycopg
    except ImportError:
        _unavailable("psycopg is not installed (pip install 'callqa[postgres]')")

    as_root = os.geteuid() == 0
    prefix: list[str] = ["runuser", "-u", "postgres", "--"] if as_root else []
    root = Path(tempfile.mkdtemp(prefix="callqa-pg-"))
    data, log = root / "data", root / "server.log"
    data.mkdir()
    log.touch()
    if as_root:
        shutil.chown(root, "postgres")
        shutil.chown(data, "postgres")
        shutil.chown(log, "postgres")
    port = _free_port()

    def run(*args: str | Path) -> None:
        proc = subprocess.run([*prefix, *map(str, args)], capture_output=True, text=True, cwd=root)
        if proc.returncode != 0:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{args[0]} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}{tail}")

    started = False
    try:
        run(bindir / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
            "--no-sync", "--no-instructions")
        options = (f"-c listen_addresses=127.0.0.1 -p {port} -k {root} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        run(bindir / "pg_ctl", "-D", data, "-l", log, "-w", "-t", "60", "-o", options, "start")
        started = True
        with psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/{DATABASE}"
    finally:
        if started:
            subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                           capture_output=True, cwd=root)
        shutil.rmtree(root, ignore_errors=True)


def reset_database(url: str) -> None:
    """Empty the test database (drop every table and the migration history)."""
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    with psycopg.connect(host=u.host, port=u.port, user=u.username, dbname=u.database,
                         autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
