"""Updates of one chat are handled in order, chats in parallel, a flood is dropped
(bot/telegram/ordering.py)."""

from __future__ import annotations

import asyncio

from bot.telegram.ordering import PerChatUpdateProcessor


def test_processor_keeps_order_per_chat_and_runs_chats_in_parallel() -> None:
    from telegram import Chat, Message, Update

    def update(uid: int, chat_id: int) -> Update:
        chat = Chat(chat_id, "private")
        return Update(uid, message=Message(uid, None, chat))  # type: ignore[arg-type]

    async def main() -> list[tuple[int, int]]:
        processor = PerChatUpdateProcessor(max_concurrent_updates=64, max_pending=8)
        done: list[tuple[int, int]] = []
        running = {"now": 0, "max": 0}

        async def work(chat_id: int, n: int, delay: float) -> None:
            running["now"] += 1
            running["max"] = max(running["max"], running["now"])
            await asyncio.sleep(delay)
            running["now"] -= 1
            done.append((chat_id, n))

        tasks = []
        for n in range(5):
            for chat_id in (1, 2):
                delay = 0.02 if n % 2 == 0 else 0.001  # later ones would overtake if unordered
                u = update(n * 10 + chat_id, chat_id)
                tasks.append(
                    asyncio.create_task(processor.process_update(u, work(chat_id, n, delay)))
                )
        # a flood beyond max_pending is dropped, not queued
        flood = [
            asyncio.create_task(processor.process_update(update(1000 + i, 3), work(3, i, 0.01)))
            for i in range(12)
        ]
        await asyncio.gather(*tasks, *flood)
        assert processor.dropped == 4
        assert running["max"] >= 2
        return done

    done = asyncio.run(main())
    for chat_id in (1, 2, 3):
        order = [n for c, n in done if c == chat_id]
        assert order == sorted(order)
