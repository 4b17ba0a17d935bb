"""Claims: a recording one batch is scoring is not scored by another batch at the same time.

A batch claims a recording (its content hash) before it hands it to a worker, and releases the
claim once the result (a call or an error) is stored; another batch that meets the claim skips
the file. A claim whose owner is gone is stale and taken over: on the owner's machine, when its
process no longer runs (``kill -9``, a crash, a reboot); from another machine, when the owner has
not renewed it for ``CLAIM_TIMEOUT`` (it renews its claims as its results come in). A claim is
only ever taken from the owner that was read, so two batches never take one over together.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

from sqlalchemy import and_, delete, select, update
from sqlalchemy.orm import Session

from callqa.storage.db import write_transaction
from callqa.storage.models import ClaimRow
from callqa.storage.repository import _insert

#: A claim of another machine's batch not renewed for this long is taken over.
CLAIM_TIMEOUT = timedelta(hours=1)

_CLAIMS = ClaimRow.__table__


@dataclass(frozen=True)
class Claimant:
    host: str
    pid: int
    started: str

    def __str__(self) -> str:
        return f"process {self.pid} on {self.host}"


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()[:8]
    except OSError:
        return ""


def _started(pid: int) -> str | None:
    """The boot and start time of process ``pid`` ("" where /proc is not there; None: not running)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:  # no /proc: whether it runs is all that can be told
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return ""
    fields = stat.rsplit(")", 1)[1].split()  # after "pid (name)": state is field 3, start time 22
    return None if fields[0] in ("Z", "X") else f"{_boot_id()}:{fields[19]}"


@cache
def _this(pid: int) -> Claimant:
    return Claimant(socket.gethostname()[:255], pid, _started(pid) or "")


def this_process() -> Claimant:
    return _this(os.getpid())


def _owner(claimant: Claimant):
    return and_(_CLAIMS.c.host == claimant.host, _CLAIMS.c.pid == claimant.pid,
                _CLAIMS.c.started == claimant.started)


def _stale(owner: Claimant, claimed_at: datetime, now: datetime) -> bool:
    if owner.host == this_process().host:
        started = _started(owner.pid)
        return started is None or (bool(owner.started) and started != owner.started)
    return now - claimed_at.replace(tzinfo=claimed_at.tzinfo or UTC) > CLAIM_TIMEOUT


def claim(session: Session, content_hash: str, *, now: datetime | None = None) -> Claimant | None:
    """Claim the recording for this process: None when it is now ours, else the batch that holds it."""
    me, now = this_process(), now or datetime.now(UTC)
    with write_transaction(session):
        session.execute(_insert(session, _CLAIMS).values(content_hash=content_hash, host=me.host, pid=me.pid,
                                                         started=me.started, claimed_at=now)
                        .on_conflict_do_nothing())
        row = session.execute(select(_CLAIMS).where(_CLAIMS.c.content_hash == content_hash)).one()
        owner = Claimant(row.host, row.pid, row.started)
        if owner == me:
            return None
        if _stale(owner, row.claimed_at, now):
            taken = session.execute(update(_CLAIMS).where(_CLAIMS.c.content_hash == content_hash, _owner(owner))
                                    .values(host=me.host, pid=me.pid, started=me.started, claimed_at=now))
            if taken.rowcount == 1:
                return None
        return owner


_renewed: dict[int, datetime] = {}


def renew_claims(session: Session) -> None:
    """Tell other machines this process's claims are alive (a write every few minutes at most)."""
    now, me = datetime.now(UTC), this_process()
    if now - _renewed.get(me.pid, datetime.min.replace(tzinfo=UTC)) < CLAIM_TIMEOUT / 12:
        return
    with write_transaction(session):
        session.execute(update(_CLAIMS).where(_owner(me)).values(claimed_at=now))
    _renewed[me.pid] = now


def release_claim(session: Session, *content_hashes: str) -> None:
    """Release this process's claims on these recordings, in one statement."""
    with write_transaction(session):
        session.execute(delete(_CLAIMS).where(_CLAIMS.c.content_hash.in_(content_hashes), _owner(this_process())))


def release_claims(session: Session) -> None:
    """Release every claim of this process (a batch that ends, however it ends short of kill -9)."""
    with write_transaction(session):
        session.execute(delete(_CLAIMS).where(_owner(this_process())))
