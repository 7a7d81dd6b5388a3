"""/subscribe, /unsubscribe, and the 「新收录」 notice when a new index version adds documents.

A background task picks up new index versions every ``refresh_interval`` seconds (questions
also do). New documents are found by comparing the doc ids of ``engine.sources()`` with those
the last check saw (kept in the bot's SQLite, so documents added while the bot was stopped are
announced at the next start). One message per change, to every subscribed chat.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from telegram import Update
from telegram.error import Forbidden, TelegramError
from telegram.ext import Application, ContextTypes

from bot.index_update import read_origin
from retrieval.answer import Source

from .service import Service
from .sqlite_state import BotState

log = logging.getLogger(__name__)

KNOWN = "known_documents"  # meta key: the doc ids the last check saw (JSON list)
MAX_LISTED = 30
SEND_INTERVAL = 0.05  # stay far below Telegram's ~30 messages per second

SUBSCRIBED = "已订阅：有新文件收录时我会在这里通知您。发送 /unsubscribe 取消。"
ALREADY = "这个聊天已经订阅了新文件通知。发送 /unsubscribe 取消。"
UNSUBSCRIBED = "已取消新文件通知。"
NOT_SUBSCRIBED = "这个聊天没有订阅新文件通知。发送 /subscribe 订阅。"
NOT_SAVED = "抱歉，暂时无法保存订阅设置，请稍后再试。"
ORIGINS = {"upload": "管理员上传", "ingest": "命令行导入", "watch": "自动监视文件夹"}


async def subscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/subscribe: this chat gets a message when new documents are indexed."""
    state: BotState = context.bot_data["state"]
    try:
        new = state.subscribe(update.effective_chat.id)
    except sqlite3.Error as exc:
        state.failed(exc)
        await update.effective_message.reply_text(NOT_SAVED)
        return
    await update.effective_message.reply_text(SUBSCRIBED if new else ALREADY)


async def unsubscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/unsubscribe."""
    state: BotState = context.bot_data["state"]
    try:
        gone = state.unsubscribe(update.effective_chat.id)
    except sqlite3.Error as exc:
        state.failed(exc)
        await update.effective_message.reply_text(NOT_SAVED)
        return
    await update.effective_message.reply_text(UNSUBSCRIBED if gone else NOT_SUBSCRIBED)


def notice_text(new: Sequence[Source], origin: str | None) -> str:
    """「新收录：」 and the new titles with their dates (the first ``MAX_LISTED``)."""
    lines = [f"<b>新收录：</b>{len(new)} 篇文件"]
    for s in new[:MAX_LISTED]:
        title = s.title if len(s.title) <= 100 else s.title[:100] + "…"
        lines.append(f"• {html.escape(title)} · {html.escape(s.date or '日期不详')}")
    if len(new) > MAX_LISTED:
        lines.append(f"……等共 {len(new)} 篇")
    if origin in ORIGINS:
        lines.append(f"<i>（{ORIGINS[origin]}）</i>")
    lines.append("可以直接提问，或发送 /sources 查看全部文件。")
    return "\n".join(lines)


async def check(application: Application) -> None:
    """Announce documents that the live index has and the previous check had not."""
    notices: _Notices = application.bot_data["notices"]
    async with notices.lock:
        service: Service = application.bot_data["service"]
        state: BotState = application.bot_data["state"]
        sources = await service.sources()
        ids = [s.doc_id for s in sources]
        known = notices.known
        if known is None:
            raw = state.get_meta(KNOWN)
            known = set(json.loads(raw)) if raw else None
        if known != set(ids):
            # best effort: when it cannot be saved, the copy in memory still keeps the
            # same documents from being announced again
            state.set_meta(KNOWN, json.dumps(ids, ensure_ascii=False))
            notices.known = set(ids)
            new = [s for s in sources if s.doc_id not in known] if known is not None else []
            if new:  # (the very first check only remembers what is there)
                origin = read_origin(Path(service.engine.index_dir), service.engine.version)
                await _send(application, notice_text(new, origin))
        notices.checks += 1


async def _send(application: Application, text: str) -> None:
    service: Service = application.bot_data["service"]
    state: BotState = application.bot_data["state"]
    allowed = service.settings.allowed_chats
    for chat_id in state.subscribers():
        if allowed is not None and chat_id not in allowed:
            continue
        try:
            await application.bot.send_message(chat_id, text)
        except Forbidden:  # the bot was blocked or removed from the group
            log.info("chat %s no longer reachable; unsubscribed", chat_id)
            state.unsubscribe(chat_id)
        except TelegramError as exc:
            log.warning("new-documents notice to chat %s failed: %s", chat_id, exc)
        await asyncio.sleep(SEND_INTERVAL)


class _Notices:
    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.task: asyncio.Task | None = None
        self.checks = 0  # finished checks (tests wait on it)
        self.known: set[str] | None = None  # the doc ids the last check saw


async def _watch(application: Application) -> None:
    service: Service = application.bot_data["service"]
    interval = max(service.settings.refresh_interval, 0.2)
    while True:
        await asyncio.sleep(interval)
        try:
            await service.refresh()
            await check(application)
        except Exception:  # keep watching; the next round tries again
            log.exception("checking for new documents failed")


async def start(application: Application) -> None:
    """Check once now (documents added while stopped), then keep watching."""
    notices = application.bot_data["notices"] = _Notices()
    await check(application)
    notices.task = asyncio.create_task(_watch(application))


async def stop(application: Application) -> None:
    notices: _Notices | None = application.bot_data.get("notices")
    if notices is not None and notices.task is not None:
        notices.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await notices.task
