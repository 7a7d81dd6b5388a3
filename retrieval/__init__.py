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
