"""The bot's state: buttons that expire and are evicted, rate limits, throttles
(memory_state.py), and pages kept in SQLite across a restart (sqlite_state.py)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bot.telegram.memory_state import RateLimiter, Throttle, TTLStore
from bot.telegram.service import Page
from bot.telegram.sqlite_state import BotState, PersistentPages
from retrieval.answer import Result


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_ttl_store_expires_and_evicts() -> None:
    clock = Clock()
    store: TTLStore[str] = TTLStore(maxsize=2, ttl=10, clock=clock)
    a, b = store.put("a"), store.put("b")
    assert len(a.encode()) <= 10 and store.get(a) == "a"
    c = store.put("c")  # evicts the least recently used: b
    assert store.get(b) is None and store.get(c) == "c"
    clock.now = 11
    assert store.get(a) is None


def test_rate_limiter_burst_refill_and_one_warning() -> None:
    clock = Clock()
    limiter = RateLimiter(burst=2, period=3, clock=clock)
    assert limiter.allow(1) and limiter.allow(1) and not limiter.allow(1)
    assert limiter.allow(2)  # other chats are unaffected
    assert limiter.should_warn(1) and not limiter.should_warn(1)
    assert limiter.retry_after(1) == pytest.approx(3)
    clock.now = 3
    assert limiter.allow(1) and not limiter.allow(1)
    assert limiter.should_warn(1)  # a new throttled stretch warns again


def test_throttle() -> None:
    clock = Clock()
    throttle = Throttle(5, clock)
    assert throttle.ready() and not throttle.ready()
    clock.now = 5
    assert throttle.ready()


def _result(rank: int, doc_id: str) -> Result:
    return Result(rank, doc_id, f"标题{doc_id}", None, None, 0.5, "摘录。", 10, 13, ((0, 3),))


def test_pages_survive_a_reopen_and_expire(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite"
    state = BotState(path)
    pages = PersistentPages(state, maxsize=2, ttl=60.0, version=lambda: "v1")
    page = Page("问题", 5, {1: _result(1, "a"), 2: _result(2, "b")})
    key = pages.put(page)
    salt_hash = state.chat_hash(42)
    state.close()

    state = BotState(path)
    pages = PersistentPages(state, maxsize=2, ttl=60.0, version=lambda: "v2")
    assert pages.get_with_version(key) == (replace(page, version="v1"), "v1")
    assert state.chat_hash(42) == salt_hash != "42"
    for _ in range(2):
        pages.put(page)
    assert pages.get(key) is None and len(pages) == 2  # the oldest made room
    expired = PersistentPages(state, maxsize=2, ttl=-1.0, version=lambda: "v2")
    assert expired.get(expired.put(page)) is None
    state.close()
