"""Who may call, how often, and how much they may send: one pure ASGI middleware that runs
before routing and body parsing, so a caller without a key learns nothing else.

* API keys (``QABOT_API_KEYS``): every ``/api``, ``/retrieval`` and ``/v1`` call needs
  ``Authorization: Bearer <key>``; the page, ``/healthz``, ``/readyz`` and ``/docs`` do not.
* A token bucket per key (per client address without keys): ``QABOT_RATE_LIMIT`` requests
  a minute, answered 429 with ``Retry-After`` beyond that.
* Bodies above ``QABOT_MAX_BODY_KB`` are refused with 413, declared or streamed.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import ApiError, error_bytes

GUARDED = ("/api/", "/retrieval", "/v1/")
IDENTITY = "qabot.identity"  # scope key: who is calling (a key's hash or an address)


def guarded(path: str) -> bool:
    return path.startswith(GUARDED) or path in ("/api", "/v1")


class RateLimiter:
    """A token bucket per caller: ``per_minute`` requests, refilled evenly over a minute."""

    def __init__(
        self,
        per_minute: int,
        max_callers: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = float(max(1, per_minute))
        self.rate = self.capacity / 60.0  # tokens per second
        self.max_callers, self._clock = max_callers, clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, caller: str) -> float:
        """0 if the request may go ahead, else the seconds until it may."""
        with self._lock:
            now = self._clock()
            tokens, updated = self._buckets.pop(caller, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - updated) * self.rate)
            wait = 0.0
            if tokens >= 1:
                tokens -= 1
            else:
                wait = (1 - tokens) / self.rate
            self._buckets[caller] = (tokens, now)
            while len(self._buckets) > self.max_callers:
                self._buckets.popitem(last=False)
            return wait


class _BodyTooLarge(HTTPException):
    """Raised while the body is read; FastAPI passes an HTTPException through as it is."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit // 1024} KB")


class Guard:
    """The ASGI middleware: keys, rate limit and body size for the guarded paths."""

    def __init__(
        self, app: ASGIApp, keys: Sequence[str], limiter: RateLimiter, max_body: int
    ) -> None:
        self.app, self.keys, self.limiter, self.max_body = app, tuple(keys), limiter, max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        try:
            if guarded(path):
                scope[IDENTITY] = self._identity(scope)
                wait = self.limiter.take(scope[IDENTITY])
                if wait > 0:
                    seconds = str(max(1, math.ceil(wait)))
                    raise ApiError(
                        429,
                        "rate_limited",
                        f"too many requests; try again in {seconds} s",
                        {"Retry-After": seconds},
                    )
            declared = _header(scope, b"content-length")
            if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
                raise _too_large(self.max_body)
        except ApiError as error:
            await _send_error(send, path, error)
            return
        await self._limited(scope, receive, send, path)

    def _identity(self, scope: Scope) -> str:
        header = _header(scope, b"authorization")
        if not self.keys:  # loopback only (cli.py refuses anything else): per address
            client = scope.get("client") or ("local", 0)
            return f"addr:{client[0]}"
        scheme, _, token = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(
                403 if scope["path"].startswith("/retrieval") else 401,
                "missing_key",
                "Invalid Authorization header format. Expected 'Bearer <api-key>' format.",
                {"WWW-Authenticate": "Bearer"},
                dify_code=1001,
            )
        token = token.strip()
        if not any(hmac.compare_digest(token.encode(), key.encode()) for key in self.keys):
            raise ApiError(
                403 if scope["path"].startswith("/retrieval") else 401,
                "invalid_key",
                "Authorization failed: unknown API key.",
                {"WWW-Authenticate": "Bearer"},
                dify_code=1002,
            )
        return "key:" + hashlib.sha256(token.encode()).hexdigest()[:16]

    async def _limited(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise _BodyTooLarge(self.max_body)
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, watching_send)
        except _BodyTooLarge:
            if not started:
                await _send_error(send, path, _too_large(self.max_body))


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "body_too_large", f"request body larger than {limit // 1024} KB")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


async def _send_error(send: Send, path: str, error: ApiError) -> None:
    body = error_bytes(path, error)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
