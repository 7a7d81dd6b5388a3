"""One threading plan for torch, FAISS and numpy, so that concurrent questions add up.

Measured on 2 cores (docs/performance.md): with torch's and FAISS's OpenMP
pools each sized to every core and spinning while idle, two questions at once
fight over the cores and each takes several times longer than alone. So:

* ``OMP_WAIT_POLICY=PASSIVE`` (set before torch or FAISS load, by ``python -m
  bot``): idle OpenMP threads sleep instead of spinning.
* Serving: ONNX Runtime (or torch, see embeddings/onnx_runtime.py) encodes the
  query with ``QABOT_QUERY_THREADS`` threads (default 1), FAISS searches with one
  and numpy's BLAS uses one. A question's dense search runs on a :func:`beside`
  thread while its BM25 search runs in the asking thread. Beyond that, parallelism
  comes from answering several questions at once (the bot's worker threads, or
  several processes), which is what a burst needs.
* Ingest: batch encoding, training the dense codes and adding use every core
  (``QABOT_INGEST_THREADS``, default: all), then serving settings return.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import qabot_settings

PASSIVE_ENV = {"OMP_WAIT_POLICY": "PASSIVE"}


def set_process_defaults() -> None:
    """Environment defaults that must exist before torch or FAISS is imported."""
    for name, value in PASSIVE_ENV.items():
        os.environ.setdefault(name, value)


def _apply(torch_threads: int, faiss_threads: int) -> None:
    """Set the pools; torch only if this process has loaded it (serving need not).
    numpy's BLAS follows FAISS: a 3,000-row rescoring product took 12 ms instead of
    0.2 with BLAS threads spinning beside another process (docs/performance.md)."""
    import faiss
    from threadpoolctl import threadpool_limits

    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(torch_threads)
    faiss.omp_set_num_threads(faiss_threads)
    threadpool_limits(faiss_threads, user_api="blas")


def for_serving() -> None:
    """Answering questions: one core per question."""
    _apply(qabot_settings.query_threads(), 1)


_beside: ThreadPoolExecutor | None = None
_beside_lock = threading.Lock()


def beside() -> ThreadPoolExecutor:
    """Threads that run one part of a question beside the asking thread (the dense search
    while BM25 runs), one per core, FAISS single-threaded in each. A lone question then
    uses two cores for its two searches; concurrent questions still share the cores."""
    global _beside
    with _beside_lock:
        if _beside is None:
            _beside = ThreadPoolExecutor(
                max_workers=os.cpu_count() or 1,
                thread_name_prefix="qabot-beside",
                initializer=_one_faiss_thread,
            )
    return _beside


def _one_faiss_thread() -> None:
    import faiss

    faiss.omp_set_num_threads(1)  # OpenMP's thread count is per thread: set it in each


@contextlib.contextmanager
def for_ingest() -> Iterator[None]:
    """Building an index: every core, then back to serving settings. torch is not
    imported for it: a small update encoded by ONNX Runtime never needs torch."""
    import faiss

    torch = sys.modules.get("torch")
    torch_before = torch.get_num_threads() if torch else qabot_settings.query_threads()
    before = torch_before, faiss.omp_get_max_threads()
    cores = qabot_settings.ingest_threads()
    _apply(cores, cores)
    try:
        yield
    finally:
        _apply(*before)
