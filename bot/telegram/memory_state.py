"""Small in-memory state: callback pages (LRU + TTL) and per-chat rate limits."""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

Clock = Callable[[], float]


class TTLStore(Generic[T]):
    """A bounded dict of short random keys → values that expire after ``ttl`` seconds.

    Telegram limits callback data to 64 bytes, so buttons carry only the key.
    """

    def __init__(self, maxsize: int = 2048, ttl: float = 7200.0, clock: Clock = time.monotonic):
        self.maxsize, self.ttl, self._clock = maxsize, ttl, clock
        self._items: OrderedDict[str, tuple[float, T]] = OrderedDict()

    def put(self, value: T) -> str:
        """Store ``value``; returns its key (8 URL-safe characters)."""
        key = secrets.token_urlsafe(6)
        while key in self._items:
            key = secrets.token_urlsafe(6)
        self._items[key] = (self._clock() + self.ttl, value)
        while len(self._items) > self.maxsize:
            self._items.popitem(last=False)
        return key

    def get(self, key: str) -> T | None:
        """The value, or ``None`` if unknown or expired."""
        item = self._items.get(key)
        if item is None:
            return None
        expires, value = item
        if expires < self._clock():
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return value

    def __len__(self) -> int:
        return len(self._items)


@dataclass
class _Bucket:
    tokens: float
    updated: float
    warned: bool = False


class RateLimiter:
    """A token bucket per chat: ``burst`` questions at once, then one per ``period`` seconds."""

    def __init__(
        self,
        burst: int = 10,
        period: float = 3.0,
        max_chats: int = 10_000,
        clock: Clock = time.monotonic,
    ):
        self.burst, self.period, self.max_chats, self._clock = burst, period, max_chats, clock
        self._buckets: OrderedDict[int, _Bucket] = OrderedDict()

    def _bucket(self, chat_id: int) -> _Bucket:
        now = self._clock()
        bucket = self._buckets.get(chat_id)
        if bucket is None:
            bucket = self._buckets[chat_id] = _Bucket(float(self.burst), now)
            while len(self._buckets) > self.max_chats:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(chat_id)
            refill = (now - bucket.updated) / self.period if self.period > 0 else self.burst
            bucket.tokens = min(float(self.burst), bucket.tokens + refill)
            bucket.updated = now
        return bucket

    def allow(self, chat_id: int) -> bool:
        """Take a token if there is one."""
        bucket = self._bucket(chat_id)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            bucket.warned = False
            return True
        return False

    def should_warn(self, chat_id: int) -> bool:
        """True once per throttled stretch, so a flood gets one note, not one per message."""
        bucket = self._bucket(chat_id)
        if bucket.warned:
            return False
        bucket.warned = True
        return True

    def retry_after(self, chat_id: int) -> float:
        """Seconds until the next question is allowed."""
        bucket = self._bucket(chat_id)
        return max(0.0, (1 - bucket.tokens) * self.period)


class Throttle:
    """True at most once every ``interval`` seconds (for the cheap engine refresh)."""

    def __init__(self, interval: float, clock: Clock = time.monotonic):
        self.interval, self._clock = interval, clock
        self._last = float("-inf")

    def ready(self) -> bool:
        now = self._clock()
        if now - self._last < self.interval:
            return False
        self._last = now
        return True
