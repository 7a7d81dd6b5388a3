"""Opening the index a command answers from, and building the shipped corpus on first use.

The answer core only answers (``AnswerEngine.open`` on a missing index is an error saying
how to build one); offering the shipped corpus to a new user is the command layer's job.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from corpus.loading import load_corpus, shipped_corpus_dir
from embeddings.model import Embedder
from qabot_settings import Settings
from retrieval import AnswerEngine, open_backend, shared_embedder
from retrieval.backends import Backend
from retrieval.ingest.plan import log_to_stderr


def build_shipped_index(
    backend: Backend,
    index_dir: Path,
    progress: Callable[[str], None] = log_to_stderr,
    embedder: Embedder | None = None,
) -> None:
    """Build ``backend``'s first version from the shipped corpus (the README's first run)."""
    progress(f"No index in {index_dir} yet: building one from the shipped corpus …")
    seed = shipped_corpus_dir()
    report = load_corpus([seed])
    embedder = embedder or shared_embedder()
    result = backend.ingest(report.documents, embedder, log=progress, corpus=[str(seed)])
    progress(result.summary())


def open_engine(
    settings: Settings, progress: Callable[[str], None] = log_to_stderr
) -> AnswerEngine:
    """The engine over ``settings.index_dir``. The default folder is built from the shipped
    corpus on first use; a folder named with ``--index`` must already hold an index."""
    backend = open_backend(settings.index_dir, settings.backend)
    if not settings.index_named and backend.current_version() is None:
        build_shipped_index(backend, settings.index_dir, progress)
    return AnswerEngine.open(settings.index_dir, backend=backend, answers=settings.answers)
