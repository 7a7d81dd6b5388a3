"""Turning any failure into one line a person can act on (``error: …``, exit code 2)."""

from __future__ import annotations

import errno
import sqlite3

REBUILD = "python -m bot ingest --rebuild"


class UsageError(Exception):
    """Options that cannot be used together (one line; exit code 2)."""


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _os_error(exc: OSError) -> str:
    where = f" {exc.filename}" if exc.filename else ""
    reason = exc.strerror or _first_line(exc)
    if isinstance(exc, PermissionError):
        return (
            f"permission denied:{where}; check the owner and permissions, "
            "or choose another folder with --index or QABOT_INDEX"
        )
    if exc.errno == errno.ENOSPC:
        return f"no space left on the device{where}; free some space and run it again"
    if isinstance(exc, NotADirectoryError):
        return f"not a folder:{where}"
    if isinstance(exc, FileNotFoundError):
        return f"file or folder not found:{where}"
    return f"{reason}:{where}" if where else reason


def _sqlite_error(exc: sqlite3.Error) -> str:
    reason = _first_line(exc)
    if "locked" in reason or "busy" in reason:
        return f"the index database is busy ({reason}); try again in a moment"
    if isinstance(exc, sqlite3.OperationalError) and "unable to open" in reason:
        return (
            f"cannot open the index database ({reason}); check the index folder's "
            f"permissions, or build the index: python -m bot ingest"
        )
    return f"the index database is damaged or unreadable ({reason}); rebuild it: {REBUILD}"


def describe(exc: BaseException) -> str:
    """The ``error:`` line for ``exc``: the project's own errors say what to do already."""
    from corpus.loading import CorpusError
    from embeddings.model import ModelError
    from retrieval.errors import RetrievalError

    if isinstance(exc, RetrievalError | CorpusError | ModelError | UsageError):
        return _first_line(exc)
    if isinstance(exc, sqlite3.Error):
        return _sqlite_error(exc)
    if isinstance(exc, OSError):
        return _os_error(exc)
    if isinstance(exc, MemoryError):
        return "out of memory; close other programs or ingest fewer documents at a time"
    return (
        f"unexpected {type(exc).__name__}: {_first_line(exc)} "
        "(run again with -v for details, and please report it)"
    )
