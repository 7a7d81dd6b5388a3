"""Answering questions from an index: the public face of the answer core.

``bot/`` and ``benchmarks/`` import from here::

    from retrieval import AnswerEngine, Answer, Result, Source

The rooms behind it (docs/architecture.md):

* ``engine.py``, ``answer.py``: ``question -> Answer`` and the answer contract's types;
* ``query/``: fusion of the dense and keyword candidates, marking, confidence;
* ``ingest/``: the write path every backend shares (plan, chunk preparation, cache);
* ``backends/``: the seam (``base.py``) and one folder per backend (local, Milvus);
* ``tokens.py``: the tokenisers both paths share; ``threads.py``: the threading plan.
"""

import importlib
from typing import TYPE_CHECKING

# Names are imported on first use (PEP 562), so ``import retrieval.threads`` or a command's
# ``--help`` does not load the engine, FAISS and numpy (~0.3 s); ``from retrieval import
# AnswerEngine`` works as before.
_WHERE = {
    "Answer": "retrieval.answer",
    "Result": "retrieval.answer",
    "Source": "retrieval.answer",
    "open_backend": "retrieval.backends",
    "AnswerEngine": "retrieval.engine",
    "shared_embedder": "retrieval.engine",
    "IndexBusyError": "retrieval.errors",
    "IndexDamagedError": "retrieval.errors",
    "IndexMismatchError": "retrieval.errors",
    "IndexNotFoundError": "retrieval.errors",
    "ManifestError": "retrieval.errors",
    "QueryError": "retrieval.errors",
    "RetrievalError": "retrieval.errors",
    "VersionRetiredError": "retrieval.errors",
    "IngestPlan": "retrieval.ingest.plan",
    "IngestResult": "retrieval.ingest.plan",
}

if TYPE_CHECKING:  # what type checkers and the import-graph test read
    from retrieval.answer import Answer, Result, Source
    from retrieval.backends import open_backend
    from retrieval.engine import AnswerEngine, shared_embedder
    from retrieval.errors import (
        IndexBusyError,
        IndexDamagedError,
        IndexMismatchError,
        IndexNotFoundError,
        ManifestError,
        QueryError,
        RetrievalError,
        VersionRetiredError,
    )
    from retrieval.ingest.plan import IngestPlan, IngestResult


def __getattr__(name: str) -> object:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'retrieval' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))


__all__ = [
    "Answer",
    "AnswerEngine",
    "IndexBusyError",
    "IndexDamagedError",
    "IndexMismatchError",
    "IndexNotFoundError",
    "IngestPlan",
    "IngestResult",
    "ManifestError",
    "QueryError",
    "Result",
    "RetrievalError",
    "VersionRetiredError",
    "Source",
    "open_backend",
    "shared_embedder",
]
