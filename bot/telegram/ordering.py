"""Concurrent updates across chats, strictly in order within a chat."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

log = logging.getLogger(__name__)


@dataclass
class _Lane:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    pending: int = 0


def chat_key(update: object) -> int | None:
    """The chat an update belongs to (``None`` for chat-less updates)."""
    if isinstance(update, Update):
        if update.effective_chat is not None:
            return update.effective_chat.id
        if update.effective_user is not None:
            return update.effective_user.id
    return None


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Runs updates of different chats concurrently, and those of one chat one after another.

    PTB starts update tasks in arrival order and its semaphore is FIFO, so taking a FIFO
    ``asyncio.Lock`` per chat keeps each chat's replies in the order it asked. A chat with
    more than ``max_pending`` updates waiting has further ones dropped, so one flooding chat
    cannot occupy every concurrency slot.
    """

    def __init__(self, max_concurrent_updates: int = 256, max_pending: int = 16):
        super().__init__(max_concurrent_updates)
        self.max_pending = max_pending
        self._lanes: dict[int, _Lane] = {}
        self.dropped = 0

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = chat_key(update)
        # inline queries need no order: a newer one replaces the older (see ``inline``)
        if key is None or (isinstance(update, Update) and update.inline_query is not None):
            await coroutine
            return
        lane = self._lanes.setdefault(key, _Lane())
        if lane.pending >= self.max_pending:
            self.dropped += 1
            log.warning("chat %s has %d updates waiting; dropping one", key, lane.pending)
            if inspect.iscoroutine(coroutine):
                coroutine.close()
            return
        lane.pending += 1
        try:
            async with lane.lock:
                await coroutine
        finally:
            lane.pending -= 1
            if lane.pending == 0:
                self._lanes.pop(key, None)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""
