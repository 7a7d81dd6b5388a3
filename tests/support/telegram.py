"""The bot as ``python -m bot telegram`` runs it, in a thread, against the fake Bot API."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import threading
import time
from typing import Any

from bot.telegram.app import build_application
from bot.telegram.cli import serve
from bot.telegram.config import Settings
from tests.support.fake_bot_api import FakeBotAPI

_chat_ids = itertools.count(1001)

# Questions many chats send at once (the burst test and benchmarks.speed.telegram_burst).
BURST_QUESTIONS = [
    "通武廊签署了什么协议",
    "京津冀协同发展的核心是什么",
    "北京2019年工作要点有哪些",
    "非首都功能疏解",
    "京津冀政协主席联席会议在哪里召开",
    "雄安新区",
    "交通一体化",
    "生态环境保护合作",
    "产业转移",
    "公共服务共建共享",
]


class RunningBot:
    """The bot as ``python -m bot telegram`` runs it (``serve``), in a thread of its own."""

    def __init__(self, api: FakeBotAPI, engine: Any, webhook: dict | None = None, **overrides):
        settings = Settings(token=api.token, base_url=api.base_url, **overrides)
        self.api = api
        self.app = build_application(settings, engine=engine)
        self.args = argparse.Namespace(**{"webhook_url": None, **(webhook or {})})
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        serve(self.app, self.args, stop_signals=None)

    def start(self) -> RunningBot:
        self.thread.start()
        ready = "setWebhook" if self.args.webhook_url else "getUpdates"
        self.api.wait_for(lambda: self.api.calls_of("setMyCommands") and self.api.calls_of(ready))
        deadline = time.monotonic() + 30
        while not self.app.running:  # stop_running() before start() would be ignored
            assert time.monotonic() < deadline
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self.app.stop_running)
        self.thread.join(30)
        assert not self.thread.is_alive()


def start_bot(engine: Any, **overrides: Any) -> tuple[FakeBotAPI, RunningBot]:
    """A fresh fake Bot API and the bot polling it."""
    api = FakeBotAPI().start()
    bot = RunningBot(api, engine, **overrides).start()
    return api, bot


def new_chat() -> int:
    return next(_chat_ids)


def keyboard(message: dict) -> list[str]:
    markup = message.get("reply_markup") or {}
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]


QUESTION = "通武廊签署了什么协议"


ADMIN = 7001


USER = 7002


class Bot:
    """A fake Bot API and the bot polling it; ``restart()`` keeps the index and its state."""

    def __init__(self, engine: Any, **overrides: Any):
        self.engine, self.overrides = engine, overrides
        self.api = FakeBotAPI().start()
        self.running = self._run()

    def _run(self) -> RunningBot:
        settings = {
            "base_file_url": self.api.base_file_url,
            "admins": frozenset({ADMIN}),
            "refresh_interval": 0.2,
            **self.overrides,
        }
        return RunningBot(self.api, self.engine, **settings).start()

    @property
    def data(self) -> dict[str, Any]:
        return self.running.app.bot_data

    def restart(self) -> None:
        self.running.stop()
        self.running = self._run()

    def stop(self) -> None:
        self.running.stop()
        self.api.stop()
        assert self.api.errors == []


def plain(api: FakeBotAPI, chat: int) -> list[str]:
    return [m["_plain"] for m in api.sent(chat)]
