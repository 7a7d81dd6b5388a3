"""What an ingest will do, and what it did: the plan by content hash, any backend.

Both backends plan the same way (added, changed, removed, unchanged against the live
version's content hashes), hold the same lock file in the index folder while they write,
and report an :class:`IngestResult`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock, Timeout

from corpus.document import Document
from retrieval.errors import IndexBusyError

LOCK = ".ingest.lock"  # in the index folder, whichever backend holds the chunks


@dataclass
class IngestPlan:
    """What an ingest will do, by document id."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    rebuild_reason: str | None = None  # set when nothing of the old index is reused

    def summary(self) -> str:
        return (
            f"added {len(self.added)} · changed {len(self.changed)} · "
            f"removed {len(self.removed)} · unchanged {len(self.unchanged)}"
        )

    def changes_nothing(self) -> bool:
        return not (self.added or self.changed or self.removed or self.rebuild_reason)


@dataclass
class IngestResult:
    plan: IngestPlan
    version: str | None  # None on a dry run
    chunks: int
    embedded: int
    seconds: float

    def summary(self) -> str:
        return f"{self.plan.summary()} — embedded {self.embedded} chunks in {self.seconds:.1f} s"


def plan_documents(
    old: dict[str, str], documents: Sequence[Document], rebuild_reason: str | None = None
) -> IngestPlan:
    """The plan from the live version's content hashes (doc_id -> hash)."""
    plan = IngestPlan(rebuild_reason=rebuild_reason)
    for doc in documents:
        if doc.doc_id not in old:
            plan.added.append(doc.doc_id)
        elif old[doc.doc_id] != doc.content_hash:
            plan.changed.append(doc.doc_id)
        else:
            plan.unchanged.append(doc.doc_id)
    current = {d.doc_id for d in documents}
    plan.removed = [doc_id for doc_id in old if doc_id not in current]
    return plan


def same_version(
    documents_before: Sequence[str],
    corpus_before: Sequence[str],
    plan: IngestPlan,
    documents: Sequence[Document],
    corpus: Sequence[str],
) -> bool:
    """Whether the new version would be identical to the live one (same documents, same
    order, same corpus folders)."""
    if not plan.changes_nothing():
        return False
    same_order = list(documents_before) == [d.doc_id for d in documents]
    return same_order and list(corpus_before) == list(corpus)


@contextmanager
def ingest_lock(index_dir: Path, where: str) -> Iterator[None]:
    """Hold the index folder's ingest lock; IndexBusyError if another ingest holds it."""
    index_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(index_dir / LOCK))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise IndexBusyError(
            f"another ingest is already updating {where}; try again when it has finished"
        ) from None
    try:
        yield
    finally:
        lock.release()


def log_to_stderr(message: str) -> None:
    """The default progress log: one line on stderr, flushed."""
    print(message, file=sys.stderr, flush=True)
