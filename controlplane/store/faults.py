"""Which store errors are an outage (wait, retry the same write) and which are a fault of the
write itself (retrying it cannot help).

An outage is SQLite saying the file system or another process keeps it from writing now:
SQLITE_FULL ("database or disk is full"), SQLITE_IOERR ("disk I/O error": a WAL or shared-memory
file that cannot grow, a failed fsync), SQLITE_READONLY, SQLITE_CANTOPEN, SQLITE_PERM,
SQLITE_BUSY / SQLITE_LOCKED and SQLITE_PROTOCOL (locks held elsewhere). Everything else is a
fault of the write: a constraint (IntegrityError), a value SQLite cannot bind (InterfaceError),
SQLITE_ERROR (a statement that can never run), SQLITE_TOOBIG, a damaged file (SQLITE_CORRUPT,
SQLITE_NOTADB: waiting does not repair it, `orchestrator admin check` says what is wrong) and
any exception that is not SQLite's.
"""

from __future__ import annotations

import sqlite3

_OUTAGE_CODES = frozenset(
    {
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PERM,
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_PROTOCOL,
    }
)


def is_outage(error: BaseException) -> bool:
    """True when the store cannot take writes now but the same write may succeed later."""
    if not isinstance(error, sqlite3.OperationalError):
        return False
    code = getattr(error, "sqlite_errorcode", None)
    # The low byte is the primary code (SQLITE_IOERR_WRITE, SQLITE_IOERR_SHMSIZE, ... are IOERR).
    return code is not None and code & 0xFF in _OUTAGE_CODES


class PrecedingWriteFailed(Exception):
    """A batch left unwritten because an earlier batch of the same chain failed: it was built on
    changes the store does not hold."""

    def __init__(self, chain: str) -> None:
        super().__init__(f"an earlier write of {chain} failed")
        self.chain = chain
