"""The bot's view of the answer core: every engine call runs in worker threads."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, TypeVar

from telegram import CallbackQuery

import qabot_settings
from bot.filter_args import parse_pairs
from bot.open_index import open_engine
from retrieval.answer import Answer, Result, Source
from retrieval.filters import Filters

from .config import Settings
from .memory_state import RateLimiter, Throttle, TTLStore

if TYPE_CHECKING:
    from retrieval.engine import AnswerEngine

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Page:
    """What the buttons under one answer message need: the question, where the next
    page starts, the shown results (for 「原文」), the index version that answered, and
    the owner (:func:`chat_owner`) whose buttons may open it."""

    question: str
    next_offset: int
    results: dict[int, Result] = field(default_factory=dict)
    version: str | None = None
    owner: str | None = None


def chat_owner(chat_id: int) -> str:
    """The owner of the pages answered in chat ``chat_id``."""
    return f"chat:{chat_id}"


def button_owner(query: CallbackQuery) -> str | None:
    """Whose pages a pressed button may open: the chat its message is in, or, for a message
    sent through inline mode, that inline message (``None`` if Telegram says neither)."""
    if query.message is not None:
        return chat_owner(query.message.chat.id)
    if query.inline_message_id:
        return f"inline:{query.inline_message_id}"
    return None


class Service:
    """Engine + per-bot state, shared by all handlers through ``bot_data``."""

    def __init__(
        self,
        settings: Settings,
        engine: AnswerEngine | None = None,
        app: qabot_settings.Settings | None = None,
    ):
        self.settings = settings
        self.engine = engine
        self.app = app or qabot_settings.Settings.from_env()  # index folder, backend, answers
        self.pages: TTLStore[Page] = TTLStore(settings.state_size, settings.state_ttl)
        # called with the seconds each new question took (set by ``app.post_init``)
        self.on_answer: Callable[[float], None] | None = None
        self.limiter = RateLimiter(settings.rate_burst, settings.rate_period)
        self._refused_chats: set[int] = set()
        self._refresh = Throttle(settings.refresh_interval)
        self._executor = ThreadPoolExecutor(settings.engine_workers, thread_name_prefix="engine")
        self._sources: list[Source] | None = None

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: fn(*args))

    async def open(self) -> None:
        """Load (or build) the index unless an engine was handed in."""
        if self.engine is None:
            log.info("loading the index (building it on first run can take a minute)…")
            # Like ``ask``: the default index is built on first use, a named one must exist.
            self.engine = await self._run(open_engine, self.app)
            log.info("index ready")
            asyncio.get_running_loop().run_in_executor(self._executor, self.engine.prepare)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _engine(self) -> AnswerEngine:
        if self.engine is None:
            raise RuntimeError("the engine is not open yet")
        return self.engine

    async def refresh(self, force: bool = False) -> None:
        """Pick up a newer index, checking at most every ``refresh_interval`` seconds."""
        if not self._refresh.ready() and not force:
            return
        try:
            switched = await self._run(self._engine().refresh)
        except Exception:  # a broken new index must not take the bot down
            log.exception("index refresh failed; keeping the current index")
            return
        if switched:
            self._sources = None
            log.info("switched to a newer index")
            asyncio.get_running_loop().run_in_executor(self._executor, self._engine().prepare)

    async def ask(self, question: str, offset: int = 0) -> Answer:
        """The answer; a question opening with filters (``地区:天津 2020年以后 问题``, see
        docs/telegram.md) is answered under them, and keeps them in ``answer.question`` (so
        「更多结果」 asks the same)."""
        await self.refresh()
        started = time.perf_counter()
        asked, filters = question, None
        pairs, rest = parse_pairs(question)
        if pairs and rest:
            try:
                filters = Filters.of(**pairs)
                asked = rest
            except ValueError:
                filters = None  # not a filter after all: asked as typed
        engine = self._engine()
        if filters:
            answer = await self._run(engine.ask, asked, self.settings.top_k, offset, filters)
        else:
            answer = await self._run(engine.ask, asked, self.settings.top_k, offset)
        if filters:
            answer = replace(answer, question=question)
        if offset == 0 and self.on_answer is not None:
            self.on_answer(time.perf_counter() - started)
        return answer

    async def sources(self) -> list[Source]:
        await self.refresh()
        if self._sources is None:
            self._sources = await self._run(self._engine().sources)
        return self._sources

    @property
    def version(self) -> str | None:
        """The index version answering now."""
        return self.engine.version if self.engine is not None else None

    async def context(self, result: Result) -> tuple[str, int, int]:
        return await self._run(self._engine().context, result.doc_id, result.start, result.end)

    async def still_quoted(self, result: Result) -> bool:
        """Whether the live version still has ``result``'s excerpt at the same offsets (so
        its context can be shown although the index changed since the answer)."""

        def check() -> bool:
            doc = self._engine().document(result.doc_id)
            return doc is not None and doc.text[result.start : result.end] == result.excerpt

        return await self._run(check)

    async def url(self, doc_id: str) -> str | None:
        return next((s.url for s in await self.sources() if s.doc_id == doc_id), None)

    def own_page(self, key: str, query: CallbackQuery) -> Page | None:
        """The page behind a button's ``key`` if it belongs where the button was pressed;
        ``None`` if it expired or belongs to another chat (or inline message)."""
        page = self.pages.get(key)
        if page is None:
            return None
        if page.owner is None or page.owner != button_owner(query):
            log.info("refused a button whose key belongs to another chat")
            return None
        return page

    def first_refusal(self, chat_id: int) -> bool:
        """True the first time a chat outside the allowlist writes (bounded memory)."""
        if chat_id in self._refused_chats:
            return False
        if len(self._refused_chats) > 10_000:
            self._refused_chats.clear()
        self._refused_chats.add(chat_id)
        return True
