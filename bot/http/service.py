"""The answer core behind the HTTP server: one engine, a bounded pool of worker threads,
a time limit per question, and a loop that switches to newer index versions.

The threading plan of docs/performance.md holds: each question runs in one worker thread
(ONNX query encoder, FAISS one thread per search, its dense search beside it), and
``QABOT_HTTP_WORKERS`` of them (one per core by default) answer at once. Requests beyond
what the pool and a short queue hold are refused with 503 rather than left to pile up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from corpus.document import Document
from qabot_settings import HttpSettings
from retrieval import Answer, AnswerEngine, QueryError, RetrievalError, Source

from .errors import ApiError

log = logging.getLogger(__name__)
T = TypeVar("T")

QUEUE_PER_WORKER = 16  # waiting questions per worker thread before 503


@dataclass(frozen=True)
class Readiness:
    """What ``/readyz`` reports about the loaded index."""

    version: str
    documents: int
    chunks: int
    model: str


class EngineService:
    """Runs engine calls in worker threads; ``open()`` loads the engine unless one is given."""

    def __init__(
        self,
        settings: HttpSettings,
        engine: AnswerEngine | None = None,
        opener: Callable[[], AnswerEngine] | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self._opener = opener
        self.load_error: str | None = None
        self._pool = ThreadPoolExecutor(settings.workers, thread_name_prefix="qabot-http")
        self._side = ThreadPoolExecutor(1, thread_name_prefix="qabot-refresh")  # load, refresh
        self._pending = 0
        self._limit = settings.workers * (1 + QUEUE_PER_WORKER)
        self._sources: tuple[str, list[Source]] | None = None  # (version, sources)

    # -- life cycle ---------------------------------------------------------------------

    async def open(self) -> None:
        """Load the engine (building the shipped corpus on first use, as ``ask`` does)."""
        if self.engine is not None or self._opener is None:
            return
        try:
            loop = asyncio.get_running_loop()
            self.engine = await loop.run_in_executor(self._side, self._opener)
            log.warning("index loaded: version %s", self.engine.version)
            loop.run_in_executor(self._side, self.engine.prepare)  # not awaited: beside
        except Exception as exc:  # noqa: BLE001 - reported by /readyz, logged once
            from bot.errors import describe

            self.load_error = describe(exc)
            log.error("the index could not be loaded: %s", self.load_error)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._side.shutdown(wait=False, cancel_futures=True)

    async def refresh_forever(self) -> None:
        """Look for a newer index version every ``refresh_seconds``; requests in flight go
        on with the version they started with (the engine swaps versions atomically)."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.settings.refresh_seconds)
            if self.engine is None:
                continue
            try:
                if await loop.run_in_executor(self._side, self.engine.refresh):
                    log.warning("switched to index version %s", self.engine.version)
                    await loop.run_in_executor(self._side, self.engine.prepare)
            except Exception:  # a broken new version must not stop the server
                log.exception("index refresh failed; keeping version %s", self.engine.version)

    # -- calls --------------------------------------------------------------------------

    def ready(self) -> AnswerEngine:
        if self.engine is None:
            why = self.load_error or "the index is still loading; try again in a moment"
            raise ApiError(503, "not_ready", why, {"Retry-After": "5"})
        return self.engine

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """``fn(*args)`` in a worker thread, within the request timeout."""
        if self._pending >= self._limit:
            raise ApiError(
                503, "busy", "the server is busy; try again shortly", {"Retry-After": "1"}
            )
        self._pending += 1
        try:
            future = asyncio.get_running_loop().run_in_executor(self._pool, lambda: fn(*args))
            return await asyncio.wait_for(future, self.settings.request_timeout)
        except TimeoutError:
            raise ApiError(504, "timeout", "the question took too long; try again") from None
        except QueryError as exc:
            raise ApiError(400, "bad_question", str(exc)) from None
        except RetrievalError as exc:
            log.warning("retrieval failed: %s", exc)
            raise ApiError(503, "index_unavailable", str(exc).splitlines()[0]) from None
        finally:
            self._pending -= 1

    async def ask(self, question: str, top_k: int, filters=None) -> Answer:
        """``filters``: retrieval.filters.Filters, pushed down into the search."""
        engine = self.ready()
        if filters:
            return await self.run(engine.ask, question, top_k, 0, filters)
        return await self.run(engine.ask, question, top_k)

    async def sources(self) -> list[Source]:
        """Every document of the live version (read once per version)."""
        engine = self.ready()
        cached = self._sources
        if cached is None or cached[0] != engine.version:
            version = engine.version
            cached = self._sources = (version, await self.run(engine.sources))
        return cached[1]

    async def document(self, doc_id: str) -> Document | None:
        engine = self.ready()
        return await self.run(engine.index.document, doc_id)

    async def readiness(self) -> Readiness:
        engine = self.ready()
        documents = len(await self.sources())
        return Readiness(engine.version, documents, engine.chunks, str(engine.embedder.identity))
