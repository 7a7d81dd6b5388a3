"""Updating the index from corpus folders, shared by ``ingest`` and the bot's admin uploads.

Every update also leaves a small note, ``<index>/bot-state/last-ingest.json``, saying where it
came from (``ingest``, ``watch`` or ``upload``), so a running bot can say so when it announces
new documents. The note belongs to the bot, not to the index.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bot.errors import ingest_needs, note_disk
from corpus.document import Document
from corpus.loading import LoadReport, Unreadable, load_corpus, shipped_corpus_dir
from corpus.sanitize import escaped
from retrieval.backends import Backend
from retrieval.engine import shared_embedder
from retrieval.errors import RetrievalError
from retrieval.ingest.plan import IngestResult, ingest_lock

STATE_DIR = "bot-state"
UPLOADS = "uploads"
ORIGIN_NOTE = "last-ingest.json"
ORIGINS = ("ingest", "watch", "upload")


def _err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def state_dir(index_dir: Path) -> Path:
    """The bot's own files beside the index (SQLite state, the origin note)."""
    return Path(index_dir) / STATE_DIR


def uploads_dir(index_dir: Path) -> Path:
    """Files admins send the bot: a corpus folder of this index like any other."""
    return Path(index_dir).resolve() / UPLOADS


def with_uploads(index_dir: Path, paths: list[Path]) -> list[Path]:
    """``paths`` plus the index's uploads folder when there is one, so that no ingest into
    this index (``--corpus`` given or not, ``--watch`` included) drops uploaded documents."""
    uploads = uploads_dir(index_dir)
    if uploads.is_dir() and uploads not in paths:
        return [*paths, uploads]
    return paths


def corpus_paths(backend: Backend, given: list[Path] | None) -> list[Path]:
    """The given folders, else those ``backend``'s last ingest read, else the shipped corpus."""
    if given:
        return [Path(p).expanduser().resolve() for p in given]
    previous = backend.previous_corpus()
    if previous:
        return [Path(p) for p in previous]
    return [shipped_corpus_dir()]


def load_documents(
    paths: list[Path],
    warn: Callable[[str], None] = _err,
    backend: Backend | None = None,
    follow_symlinks: bool = False,
) -> LoadReport:
    """Load the corpus, reporting skipped files; raises if nothing at all is readable.

    With ``backend``, the indexed documents of sources that are there but could not be read
    (too large, unreadable, a folder that cannot be listed) are added to the report's
    documents as the live version has them, so the ingest keeps them unchanged; only what
    is gone is removed. Every line is printed with its control characters escaped.
    """
    report = load_corpus(paths, follow_symlinks=follow_symlinks)
    kept = kept_documents(backend, report) if backend is not None else {}

    def say(line: str) -> None:
        warn(escaped(line))

    for path, reason in report.skipped:
        source = next((u for u in kept if (u.path, u.reason) == (path, reason)), None)
        say(_kept_line(source, len(kept[source])) if source else f"skipped {path}: {reason}")
    for path, change in report.warnings:
        say(f"warning: {path}: {change}")
    if not report.documents:
        where = ", ".join(str(p) for p in paths)
        raise RetrievalError(f"no readable documents in {where}; the index was not changed")
    report.documents.extend(doc for docs in kept.values() for doc in docs)
    return report


def kept_documents(backend: Backend, report: LoadReport) -> dict[Unreadable, list[Document]]:
    """The live version's documents of each unreadable source of ``report`` (those this
    load did not find), by source."""
    if not report.unreadable:
        return {}
    owner = report.keeps()
    kept: dict[Unreadable, list[Document]] = {}
    for doc in backend.stored_documents(lambda doc_id: owner(doc_id) is not None):
        source = owner(doc.doc_id)
        if source is not None:
            kept.setdefault(source, []).append(doc)
    return kept


def _kept_line(source: Unreadable, count: int) -> str:
    """The warning for a source whose indexed documents were kept."""
    if source.doc_id is not None:
        return f"kept the indexed version of {source.path}: {source.reason}"
    what = f"{count} indexed document{'s' if count != 1 else ''}"
    if source.prefix is not None:
        return f"kept the {what} of {source.path}: {source.reason}"
    return (
        f"kept the {what} this load did not find, as {source.path} could not be read"
        f" (its doc_ids are inside it): {source.reason}"
    )


def update_index(
    backend: Backend,
    index_dir: Path,
    paths: list[Path],
    origin: str,
    documents: list[Document] | None = None,
    rebuild: bool = False,
    log: Callable[[str], None] = _err,
    progress: bool = True,
) -> IngestResult:
    """Ingest ``paths`` (or the already loaded ``documents``) into ``backend``, whose
    index folder is ``index_dir``, and note the ``origin``."""
    if documents is None:
        documents = load_documents(paths, log, backend).documents
    with ingest_lock(index_dir, str(index_dir)):  # refused while another ingest runs,
        pass  # before its note is touched
    previous = _read_note(index_dir)
    ours = write_origin(index_dir, origin, None)  # under way: a version published now is ours
    try:
        result = backend.ingest(
            documents,
            shared_embedder(),
            rebuild=rebuild,
            progress=progress,
            log=log,
            corpus=[str(p) for p in paths],
        )
    except BaseException as exc:
        _take_back_origin(index_dir, ours, previous)
        note_disk(exc, index_dir, ingest_needs(d.text for d in documents))
        raise
    write_origin(index_dir, origin, result.version)
    return result


def write_origin(index_dir: Path, origin: str, version: str | None) -> str:
    """Record where the running (``version`` None) or finished ingest came from; returns
    the note as written."""
    note = {
        "origin": origin,
        "version": version,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "pid": os.getpid(),
        "token": secrets.token_hex(4),  # tells this ingest's note from any other's
    }
    text = json.dumps(note)
    _write_note(index_dir, text)
    return text


def _write_note(index_dir: Path, text: str) -> None:
    folder = state_dir(index_dir)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{ORIGIN_NOTE}.{os.getpid()}.tmp"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, folder / ORIGIN_NOTE)


def _read_note(index_dir: Path) -> str | None:
    try:
        return (state_dir(index_dir) / ORIGIN_NOTE).read_text(encoding="utf-8")
    except OSError:
        return None


def _take_back_origin(index_dir: Path, ours: str, previous: str | None) -> None:
    """After a failed ingest: put back the note ``ours`` replaced, unless another ingest
    has written its own since (an ingest refused by the lock leaves the running one's)."""
    if _read_note(index_dir) != ours:
        return
    if previous is None:
        (state_dir(index_dir) / ORIGIN_NOTE).unlink(missing_ok=True)
    else:
        _write_note(index_dir, previous)


def read_origin(index_dir: Path, version: str) -> str | None:
    """Where ``version`` came from: the note's origin if it names that version or an ingest
    still under way (which published it a moment ago); ``None`` if unknown."""
    try:
        note = json.loads((state_dir(index_dir) / ORIGIN_NOTE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(note, dict) or note.get("origin") not in ORIGINS:
        return None
    return note["origin"] if note.get("version") in (None, version) else None
