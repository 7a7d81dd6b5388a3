"""Burst benchmark: many chats ask at once; how fast does the bot answer them all?

Runs the real Application and engine against the fake Bot API (tests/support/fake_bot_api.py)
over HTTP, pushes ``--chats × --per-chat`` questions at once, and prints questions/second and
p50/p95 latency (question queued → first answer message sent). Without ``--index`` it builds
the shipped corpus in a temporary folder first, as the bot's first run does.

    python -m benchmarks.speed.telegram_burst [--chats 20] [--per-chat 10] [--index DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import threading
import time
from pathlib import Path

from bot.open_index import build_shipped_index
from bot.telegram.app import build_application
from bot.telegram.cli import serve
from bot.telegram.config import Settings
from retrieval import AnswerEngine, open_backend
from tests.support.fake_bot_api import FakeBotAPI
from tests.support.telegram import BURST_QUESTIONS as QUESTIONS


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=20)
    parser.add_argument("--per-chat", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2, help="engine threads (default 2)")
    parser.add_argument("--index", type=Path, help="index folder (default: a fresh temp one)")
    args = parser.parse_args()

    index = args.index
    if index is None:
        index = Path(tempfile.mkdtemp(prefix="burst-index-")) / "index"
        build_shipped_index(open_backend(index), index)
    engine = AnswerEngine.open(index)
    engine.ask(QUESTIONS[0])  # warm up
    total = args.chats * args.per_chat
    with FakeBotAPI() as api:
        settings = Settings(
            token=api.token,
            base_url=api.base_url,
            engine_workers=args.workers,
            rate_burst=max(10, args.per_chat),
            max_pending_per_chat=max(16, args.per_chat),
        )
        app = build_application(settings, engine=engine)
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            serve(app, argparse.Namespace(webhook_url=None), stop_signals=None)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        api.wait_for(lambda: api.calls_of("getUpdates"))
        while not app.running:
            time.sleep(0.01)

        chats = [70_000 + i for i in range(args.chats)]
        asked: dict[int, list[float]] = {c: [] for c in chats}
        started = time.monotonic()
        for n in range(args.per_chat):
            for chat in chats:
                api.send_message(chat, QUESTIONS[n % len(QUESTIONS)])
                asked[chat].append(time.monotonic())

        def answers(chat: int) -> list[float]:
            # the first message of each answer (split answers continue with "N." blocks)
            return [
                c.at
                for c in api.calls_of("sendMessage")
                if str(c.params.get("chat_id")) == str(chat)
                and not c.params["_plain"][:1].isdigit()
            ]

        api.wait_for(lambda: all(len(answers(c)) >= args.per_chat for c in chats), timeout=600)
        elapsed = time.monotonic() - started
        latencies = [
            done - sent for c in chats for sent, done in zip(asked[c], answers(c), strict=True)
        ]
        loop.call_soon_threadsafe(app.stop_running)
        thread.join(30)
        errors = list(api.errors)

    print(
        f"{total} questions from {args.chats} chats, {args.workers} engine threads: "
        f"{total / elapsed:.1f} questions/s, "
        f"p50 {statistics.median(latencies) * 1000:.0f} ms, "
        f"p95 {percentile(latencies, 95) * 1000:.0f} ms, "
        f"max {max(latencies) * 1000:.0f} ms"
    )
    if errors:
        print(f"{len(errors)} requests rejected by the fake API, e.g. {errors[0]}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
