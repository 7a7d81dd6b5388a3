"""Turning any failure into one line a person can act on (``error: …``, exit code 2)."""

from __future__ import annotations

import errno
import shutil
import sqlite3
from collections.abc import Iterable
from pathlib import Path

REBUILD = "python -m bot ingest --rebuild"

#: An index takes about this many bytes per byte of document text (the shipped corpus: 64 KB
#: of text, 1.3 MB of index, embedding cache and store), and at least ``_MIN_NEEDED``.
_INDEX_BYTES_PER_TEXT_BYTE = 20
_MIN_NEEDED = 2**20
_DISK = "__qabot_disk__"  # the attribute note_disk sets on an exception


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


def disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` says the disk (or the user's quota) is full: OSError ENOSPC or
    EDQUOT, SQLite's SQLITE_FULL ("database or disk is full")."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        return code == sqlite3.SQLITE_FULL or "database or disk is full" in str(exc)
    return False


def note_disk(exc: BaseException, where: Path | str, needed: int | None = None) -> None:
    """Tell :func:`describe` which folder ``exc`` was writing to and about how many bytes
    the work needed, in case it says the disk is full (the first note wins)."""
    if disk_full(exc) and not hasattr(exc, _DISK):
        setattr(exc, _DISK, (Path(where), needed))


def ingest_needs(texts: Iterable[str]) -> int:
    """About how many bytes an ingest of documents with these texts writes (an upper
    bound for an incremental ingest, which writes only what changed)."""
    size = sum(len(text.encode("utf-8")) for text in texts)
    return max(_MIN_NEEDED, size * _INDEX_BYTES_PER_TEXT_BYTE)


def _mb(size: float) -> str:
    mb = size / 2**20
    return f"{mb:.1f}" if mb < 10 else f"{mb:,.0f}"


def _free_bytes(path: Path) -> int | None:
    """Free bytes on the device holding ``path`` (or its nearest existing parent)."""
    for folder in (path, *path.parents):
        if folder.exists():
            try:
                return shutil.disk_usage(folder).free
            except OSError:
                return None
    return None


def _no_space(exc: BaseException, where: Path | str | None, needed: int | None) -> str:
    noted = getattr(exc, _DISK, None)
    filename = exc.filename if isinstance(exc, OSError) and exc.filename else None
    path = filename or where or (noted[0] if noted else None)
    needed = needed if needed is not None else (noted[1] if noted else None)
    if path is None:
        return "no space left on the device; free some space and run it again"
    free = _free_bytes(Path(path))
    sizes = []
    if needed is not None and free is not None and needed > free:
        sizes.append(f"needed about {_mb(needed - free)} MB more")
    if free is not None:
        sizes.append(f"{_mb(free)} MB free")
    told = f" ({', '.join(sizes)})" if sizes else ""
    return f"no space left on the device holding {path}{told}; free some space and run it again"


def describe(exc: BaseException, where: Path | str | None = None, needed: int | None = None) -> str:
    """The ``error:`` line for ``exc``: the project's own errors say what to do already.

    A full disk names the device by ``where`` (the folder being written; else the file the
    error names, or what :func:`note_disk` recorded) with its free space, and how much more
    ``needed`` bytes of work would take.
    """
    from corpus.loading import CorpusError
    from embeddings.model import ModelError
    from qabot_settings import SettingsError
    from retrieval.errors import RetrievalError

    if isinstance(exc, RetrievalError | CorpusError | ModelError | UsageError | SettingsError):
        return _first_line(exc)
    if disk_full(exc):  # never "damaged, rebuild": a rebuild needs more space still
        return _no_space(exc, where, needed)
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
