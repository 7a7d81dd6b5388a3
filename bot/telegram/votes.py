"""👍/👎 buttons for an answer's keyboard (the handler that stores votes is in ``feedback``)."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

UP, DOWN = "up", "down"
PATTERN = rf"^f:[\w-]+:({UP}|{DOWN})$"


def vote_row(key: str) -> list[InlineKeyboardButton]:
    return [
        InlineKeyboardButton("👍", callback_data=f"f:{key}:{UP}"),
        InlineKeyboardButton("👎", callback_data=f"f:{key}:{DOWN}"),
    ]


def with_votes(markup: InlineKeyboardMarkup, key: str) -> InlineKeyboardMarkup:
    """``markup`` plus a 👍/👎 row for the answer page ``key``, just above 「更多结果」 if the
    keyboard has it, else at the bottom."""
    rows = [list(row) for row in markup.inline_keyboard]
    at = len(rows)
    if rows and all(str(b.callback_data or "").startswith("m:") for b in rows[-1]):
        at -= 1
    rows.insert(at, vote_row(key))
    return InlineKeyboardMarkup(rows)
