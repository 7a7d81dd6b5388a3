"""Inline mode: ``@bot 问题`` in any chat lists up to five excerpts (title, marked sentence);
choosing one sends that cited excerpt, in the same HTML as a normal answer."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace

from telegram import (
    InlineQueryResultArticle,
    InputTextMessageContent,
    LinkPreviewOptions,
    Update,
)
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from bot import answer_layout as layout
from retrieval.answer import Answer, Result
from retrieval.errors import RetrievalError

from . import render
from .config import Settings
from .memory_state import RateLimiter
from .service import Service

log = logging.getLogger(__name__)

MAX_RESULTS = 5
DESCRIPTION_CHARS = 120
WEAK = "相关度较低 · "
#: seconds Telegram's servers (and clients) may reuse an answer to the same query
CACHE_TIME = 30


@dataclass
class InlineState:
    """Per-bot inline state: the latest query of each user (debounce) and recent answers."""

    settings: Settings
    latest: dict[int, str] = field(default_factory=dict)
    cache: OrderedDict[str, tuple[float, list[InlineQueryResultArticle]]] = field(
        default_factory=OrderedDict
    )
    limiter: RateLimiter = field(default_factory=lambda: RateLimiter(burst=20, period=1.0))
    cache_size: int = 256

    def cached(self, text: str) -> list[InlineQueryResultArticle] | None:
        item = self.cache.get(text)
        if item is None or item[0] < time.monotonic():
            self.cache.pop(text, None)
            return None
        return item[1]

    def remember(self, text: str, results: list[InlineQueryResultArticle]) -> None:
        self.cache[text] = (time.monotonic() + self.settings.inline_cache_ttl, results)
        self.cache.move_to_end(text)
        while len(self.cache) > self.cache_size:
            self.cache.popitem(last=False)


def _description(result: Result, confident: bool) -> str:
    """Where the sentence stands (heading path › article), then the marked sentence."""
    a, b = result.marks[0] if result.marks else (0, len(result.excerpt))
    sentence = " ".join(result.excerpt[a:b].split())
    place = layout.where(result, layout.WHERE_SHORT_CHARS)
    if place:
        sentence = f"〔{place}〕{sentence}"
    if len(sentence) > DESCRIPTION_CHARS:
        sentence = sentence[: DESCRIPTION_CHARS - 1] + render.ELLIPSIS
    return sentence if confident else WEAK + sentence


def article(answer: Answer, result: Result) -> InlineQueryResultArticle:
    """One choosable result: the excerpt as a one-excerpt answer (≤ 4096 by construction)."""
    single = Answer(answer.question, answer.confident, [replace(result, rank=1)])
    text = render.render_answer(single)[0]
    key = f"{result.doc_id}\0{result.start}\0{result.end}".encode()
    return InlineQueryResultArticle(
        id=hashlib.sha1(key).hexdigest(),
        title=result.title,
        description=_description(result, answer.confident),
        input_message_content=InputTextMessageContent(
            text,
            parse_mode=ParseMode.HTML,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        ),
    )


def articles(answer: Answer) -> list[InlineQueryResultArticle]:
    return [article(answer, r) for r in answer.results[:MAX_RESULTS]]


async def inline_query(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer ``@bot 问题``; a query superseded within the debounce time is left unanswered
    (Telegram drops it), and identical queries are answered from a short cache."""
    query = update.inline_query
    service: Service = context.bot_data["service"]
    state: InlineState = context.bot_data["inline"]
    settings = service.settings
    text = " ".join(query.query.split())[: settings.max_question_chars]
    personal = settings.allowed_chats is not None  # never let Telegram share answers then
    results = state.cached(text) if text else []
    if results is None:
        user = query.from_user.id
        state.latest[user] = query.id
        await asyncio.sleep(settings.inline_debounce)
        if state.latest.get(user) != query.id:
            return  # the user kept typing; the newer query is answered instead
        del state.latest[user]
        if not state.limiter.allow(user):
            await query.answer([], cache_time=0, is_personal=True)
            return
        results = await _search(service, text)
        if results is None:
            await query.answer([], cache_time=0, is_personal=True)
            return
        state.remember(text, results)
    await query.answer(results, cache_time=CACHE_TIME, is_personal=personal)


async def _search(service: Service, text: str) -> list[InlineQueryResultArticle] | None:
    """The results, or ``None`` when the search failed or would miss Telegram's deadline."""
    try:
        answer = await asyncio.wait_for(service.ask(text), service.settings.inline_timeout)
    except TimeoutError:
        log.warning(
            "inline query took over %.0f s; answered empty", service.settings.inline_timeout
        )
        return None
    except RetrievalError:  # e.g. punctuation only
        return []
    return articles(answer)
