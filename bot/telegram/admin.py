"""For the people running the bot (``TELEGRAM_ADMINS``): document uploads and /stats."""

from __future__ import annotations

import asyncio
import html
import logging
import os
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.index_update import (
    corpus_paths,
    kept_documents,
    update_index,
    uploads_dir,
    with_uploads,
)
from corpus.chunking import chunk_document
from corpus.document import Document
from corpus.loading import CorpusError, load_corpus
from qabot_settings import BackendSettings
from retrieval.backends import open_backend
from retrieval.errors import IndexBusyError, RetrievalError
from retrieval.ingest.plan import IngestResult

from . import handlers, notices
from .service import Service
from .sqlite_state import BotState

log = logging.getLogger(__name__)

SUPPORTED = (".pdf", ".docx", ".txt", ".md", ".html", ".htm", ".jsonl")

UNSUPPORTED = "不支持这种文件（{suffix}）。可以上传：" + "、".join(SUPPORTED) + "。"
TOO_BIG = (
    "文件太大（{size:.1f} MB）：Telegram 只允许机器人下载 20 MB 以内的文件。"
    "请拆分文件，或在服务器上用 python -m bot ingest 导入。"
)
UNREADABLE = "无法读取这个文件：{reason}\n索引没有变化。"
BUSY = "索引正在更新，请稍后再发一次。"
FAILED = "导入失败，索引没有变化：{reason}"
ADMINS_ONLY = "此命令仅供管理员使用。"


def is_admin(update: Update, service: Service) -> bool:
    user = update.effective_user
    return user is not None and user.id in service.settings.admins


def safe_name(name: str) -> str:
    """A plain file name (no folders, no leading dot) that keeps Chinese characters."""
    name = re.sub(r"[^\w.()\-]+", "_", Path(name.replace("\\", "/")).name).lstrip("._")
    stem, suffix = os.path.splitext(name)
    return (stem[:100] or "upload") + suffix.lower()


# -- the upload itself (blocking; runs in a thread) --------------------------------------


@dataclass
class UploadOutcome:
    """What an upload did: an error (nothing changed), or the ingest and its documents."""

    error: str | None = None
    result: IngestResult | None = None
    documents: list[Document] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # parts of the file left out, with why


def ingest_upload(
    index_dir: Path, staged: Path, backend: BackendSettings | None = None
) -> UploadOutcome:
    """Move ``staged`` into the uploads folder and ingest the corpus incrementally; a file
    that cannot be read, or whose documents cannot be added, is removed again."""
    alone = load_corpus([staged])
    if not alone.documents:
        reasons = "；".join(reason for _path, reason in alone.skipped) or "文件里没有文字"
        staged.unlink(missing_ok=True)
        return UploadOutcome(error=reasons)
    target = uploads_dir(index_dir) / staged.name
    previous = target.read_bytes() if target.exists() else None
    os.replace(staged, target)

    def restore() -> None:
        if previous is None:
            target.unlink(missing_ok=True)
        else:
            target.write_bytes(previous)

    target_backend = open_backend(index_dir, backend)
    try:
        paths = with_uploads(index_dir, corpus_paths(target_backend, None))
        report = load_corpus(paths)
        mine = [d for d in report.documents if d in alone.documents]
        skipped = [
            f"{path.removeprefix(str(target))}: {reason}".lstrip(":")
            for path, reason in report.skipped
            if path == str(target) or path.startswith(f"{target}:")
        ]
        if not mine:
            restore()
            return UploadOutcome(error="；".join(skipped) or "没有可加入的文件")
        # other sources that could not be read this time keep their indexed version
        kept = kept_documents(target_backend, report)
        documents = report.documents + [doc for docs in kept.values() for doc in docs]
        result = update_index(
            target_backend, index_dir, paths, "upload", documents, log=log.info, progress=False
        )
    except BaseException:
        restore()
        raise
    return UploadOutcome(result=result, documents=mine, skipped=skipped)


def upload_reply(name: str, outcome: UploadOutcome) -> str:
    """The ingest summary, and each new or changed document's title, date and chunk count."""
    result = outcome.result
    assert result is not None
    plan = result.plan
    lines = []
    for doc in outcome.documents:
        if doc.doc_id in plan.added:
            verb = "新收录"
        elif doc.doc_id in plan.changed:
            verb = "已更新"
        else:
            verb = "内容未变"
        chunks = len(chunk_document(doc))
        lines.append(
            f"{verb}：<b>{html.escape(doc.title)}</b>\n"
            f"    {html.escape(doc.date or '日期不详')} · {chunks} 段 · {html.escape(doc.doc_id)}"
        )
    head = f"<b>已导入 {html.escape(name)}</b>"
    for part in outcome.skipped[:5]:
        lines.append(f"<i>跳过 {html.escape(part)}</i>")
    summary = (
        f"<i>{html.escape(result.summary())}</i>\n索引版本 {html.escape(result.version or '')}"
    )
    return "\n".join([head, *lines[:30], summary])


# -- handlers ----------------------------------------------------------------------------


async def upload(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A file in a private chat: admins' files join the corpus; others get the text-only note."""
    service: Service = context.bot_data["service"]
    if not is_admin(update, service):
        await handlers.not_text(update, context)
        return
    message = update.effective_message
    document = message.document
    name = safe_name(document.file_name or "")
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED:
        await message.reply_text(html.escape(UNSUPPORTED.format(suffix=suffix or "无扩展名")))
        return
    if (document.file_size or 0) > service.settings.upload_limit:
        await message.reply_text(TOO_BIG.format(size=document.file_size / 1024 / 1024))
        return
    index_dir = Path(service.engine.index_dir)
    incoming = uploads_dir(index_dir) / ".incoming"  # hidden: never read as corpus
    incoming.mkdir(parents=True, exist_ok=True)
    lock: asyncio.Lock = context.bot_data.setdefault("upload_lock", asyncio.Lock())
    async with lock, handlers.typing(context.bot, message.chat_id):
        staged = incoming / name
        try:
            file = await context.bot.get_file(document.file_id)
            await file.download_to_drive(staged)
        except TelegramError as exc:
            staged.unlink(missing_ok=True)
            await message.reply_text(html.escape(f"下载文件失败：{exc}"))
            return
        try:
            outcome = await asyncio.to_thread(ingest_upload, index_dir, staged, service.app.backend)
        except (RetrievalError, CorpusError) as exc:  # e.g. another ingest holds the lock
            staged.unlink(missing_ok=True)
            busy = isinstance(exc, IndexBusyError)
            await message.reply_text(BUSY if busy else html.escape(FAILED.format(reason=exc)))
            return
    if outcome.error is not None:
        await message.reply_text(html.escape(UNREADABLE.format(reason=outcome.error)))
        return
    log.info("admin upload %s: %s", name, outcome.result.summary())
    await service.refresh(force=True)
    await message.reply_text(upload_reply(name, outcome))
    await notices.check(context.application)


async def stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/stats (admins): documents, chunks, index version and age, answers, feedback."""
    service: Service = context.bot_data["service"]
    message = update.effective_message
    if not is_admin(update, service):
        await message.reply_text(ADMINS_ONLY)
        return
    state: BotState = context.bot_data["state"]
    sources = await service.sources()
    version = service.engine.version
    chunks = service.engine.chunks
    midnight = datetime.now().astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
    today, total, p50 = state.answer_stats(midnight.timestamp())
    up, down = state.vote_counts()
    p50_text = f"{p50 * 1000:.0f} ms" if p50 is not None else "—"
    lines = [
        "<b>运行统计</b>",
        f"文件：{len(sources)} 篇 · 段落：{chunks} 个",
        f"索引版本：{html.escape(version)}（{index_age(version)}）",
        f"回答问题：今天 {today} · 共 {total}",
        f"检索用时 p50：{p50_text}",
        f"反馈：👍 {up} · 👎 {down}",
        f"订阅新文件通知：{len(state.subscribers())} 个聊天",
    ]
    await message.reply_text("\n".join(lines))


def index_age(version: str, now: float | None = None) -> str:
    """How long ago a version was built, from its name (``YYYYmmddTHHMMSS-…``, UTC)."""
    try:
        built = datetime.strptime(version[:15], "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return "时间未知"
    seconds = max(0.0, (now if now is not None else time.time()) - built.timestamp())
    if seconds < 60:
        return "刚刚生成"
    for unit, size in (("天", 86400), ("小时", 3600), ("分钟", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit}前生成"
    return "刚刚生成"
