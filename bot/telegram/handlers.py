"""Typed async handlers: commands, questions, buttons, and everything else."""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import re
from collections.abc import AsyncIterator, Sequence

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultsButton,
    Message,
    MessageEntity,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatAction, ChatType
from telegram.error import BadRequest, TelegramError
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot import answer_layout as layout
from retrieval.answer import Answer, Result
from retrieval.errors import RetrievalError

from . import render, votes
from .ordering import chat_key
from .service import Page, Service, chat_owner

log = logging.getLogger(__name__)

EXAMPLES = layout.EXAMPLES

GREETING = (
    "您好！我可以回答关于<b>京津冀协同发展</b>政策文件的问题。\n"
    "我只引用文件原文：每条回答都是带出处的原文段落，最相关的句子加粗显示。\n\n"
    "直接发送问题即可，或点下面的示例问题试试："
)

HELP = (
    "<b>使用说明</b>\n"
    "• 直接发送文字问题，我会返回最相关的原文段落，并注明标题、日期和来源。\n"
    "• 「原文 N」按钮：查看第 N 条段落前后的上下文。\n"
    "• 「更多结果」按钮：查看接下来的段落。\n"
    "• 👍 / 👎：告诉我们这条回答有没有用。\n"
    "• 群聊中：@我 提问、回复我的消息，或发送 /ask 问题。\n"
    "• 在任意聊天中输入 @机器人用户名 加问题，可直接选择一段原文发送。\n\n"
    "<b>命令</b>\n"
    "/start — 开始与示例问题\n"
    "/help — 使用说明\n"
    "/sources — 收录的文件及日期\n"
    "/ask 问题 — 提问（群聊中使用）\n"
    "/whoami — 我的用户 id（设置管理员时用）\n"
    "/subscribe — 有新文件收录时通知我\n"
    "/unsubscribe — 取消通知"
)

COMMANDS = (
    ("start", "开始使用与示例问题"),
    ("help", "使用说明"),
    ("sources", "收录的文件及日期"),
    ("ask", "提问，例如 /ask 通武廊签署了什么协议"),
    ("subscribe", "有新文件收录时通知我"),
    ("unsubscribe", "取消新文件通知"),
    ("whoami", "我的用户 id（设置管理员时用）"),
)

NOT_TEXT = (
    "抱歉，我只能读懂文字问题，贴纸、图片、语音和文件都看不懂。"
    "请用文字提问，例如：通武廊签署了什么协议"
)
EMPTY_ASK = "请在 /ask 后面写上问题，例如：/ask 通武廊签署了什么协议"
EMPTY_MENTION = "您好！请在 @我 的同时写上问题，例如：通武廊签署了什么协议"
TOO_FAST = "您提问得太快了，请过 {seconds} 秒左右再问。"
REFUSED = "抱歉，这个机器人只对指定的聊天开放。"
EXPIRED = "这条结果已过期，请重新提问。"
NO_MORE = "没有更多结果了。"
CHANGED = "索引在这条回答之后更新了，之前的结果可能已经变了。要按新的索引重新提问吗？"
ASK_AGAIN = "重新提问"
FAILED = "抱歉，处理时出了点问题，请稍后再试。"
NO_CHAT = "这个按钮只能在与我的聊天中使用：请直接向我提问。"

_ASK_RE = re.compile(r"^/ask(@\w+)?\s*", re.IGNORECASE)


def _service(context: ContextTypes.DEFAULT_TYPE) -> Service:
    return context.bot_data["service"]


# -- sending -----------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def typing(bot: Bot, chat_id: int) -> AsyncIterator[None]:
    """Show "typing…" while the body runs, without delaying it (Telegram clears the action
    after about 5 s, so it is repeated)."""

    async def repeat() -> None:
        while True:
            with contextlib.suppress(TelegramError):
                await bot.send_chat_action(chat_id, ChatAction.TYPING)
            await asyncio.sleep(4.5)

    task = asyncio.create_task(repeat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def send(
    bot: Bot,
    chat_id: int,
    texts: Sequence[str],
    markup: InlineKeyboardMarkup | None = None,
    reply_to: Message | None = None,
) -> None:
    """Send HTML messages in order; the first replies to ``reply_to``, the last gets ``markup``."""
    for i, text in enumerate(texts):
        await bot.send_message(
            chat_id,
            text,
            reply_markup=markup if i == len(texts) - 1 else None,
            reply_parameters=(
                ReplyParameters(reply_to.message_id, allow_sending_without_reply=True)
                if reply_to is not None and i == 0
                else None
            ),
        )


def _reply_target(message: Message) -> Message | None:
    """In groups, answers quote the question; in private chats they need not."""
    return None if message.chat.type == ChatType.PRIVATE else message


def _buttons(key: str, results: Sequence[Result], more: bool) -> InlineKeyboardMarkup:
    rows = [
        [InlineKeyboardButton(f"原文 {r.rank}", callback_data=f"c:{key}:{r.rank}") for r in results]
    ]
    if more:
        rows.append([InlineKeyboardButton("更多结果 ›", callback_data=f"m:{key}")])
    return votes.with_votes(InlineKeyboardMarkup(rows), key)


def _example_buttons(questions: Sequence[str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(q, callback_data=f"q:{EXAMPLES.index(q)}")] for q in questions]
    )


def _page(
    service: Service, chat_id: int, answer: Answer, offset: int, results: Sequence[Result]
) -> tuple[str, bool]:
    """Remember the shown ``results`` for the buttons in chat ``chat_id``; returns the key
    and whether more may follow (the next page starts after the last shown result)."""
    more = len(answer.results) >= service.settings.top_k or len(results) < len(answer.results)
    next_offset = offset + len(results)
    shown = {r.rank: r for r in results}
    page = Page(answer.question, next_offset, shown, answer.version, chat_owner(chat_id))
    return service.pages.put(page), more


def _changed(service: Service, page: Page) -> bool:
    """Whether the index changed since ``page`` was answered."""
    return page.version is not None and page.version != service.version


async def _offer_again(bot: Bot, chat_id: int, service: Service, question: str) -> None:
    """Say the index changed, with a button that asks the question again."""
    key = service.pages.put(Page(question, 0, {}, service.version, chat_owner(chat_id)))
    button = InlineKeyboardButton(ASK_AGAIN, callback_data=f"a:{key}")
    await bot.send_message(chat_id, CHANGED, reply_markup=InlineKeyboardMarkup([[button]]))


# -- the answer path ---------------------------------------------------------------------


async def _rate_limited(service: Service, bot: Bot, chat_id: int) -> bool:
    if service.limiter.allow(chat_id):
        return False
    if service.limiter.should_warn(chat_id):
        seconds = max(1, round(service.limiter.retry_after(chat_id)))
        await bot.send_message(chat_id, TOO_FAST.format(seconds=seconds))
    return True


async def answer_question(update: Update, context: ContextTypes.DEFAULT_TYPE, text: str) -> None:
    """Answer ``text`` in the update's chat: cited excerpts, or a kind not-found note."""
    service = _service(context)
    message = update.message  # None when asked through an example button
    chat_id = update.effective_chat.id
    target = _reply_target(message) if message is not None else None
    if await _rate_limited(service, context.bot, chat_id):
        return
    question = text.strip()
    limit = service.settings.max_question_chars
    note = ""
    if len(question) > limit:
        note = f"您的问题有 {len(question)} 个字，太长了，只按前 {limit} 个字检索。"
        question = question[:limit]
    async with typing(context.bot, chat_id):
        try:
            answer = await service.ask(question)
        except RetrievalError as exc:  # e.g. a question of punctuation only
            await send(context.bot, chat_id, [html.escape(str(exc))], reply_to=target)
            return
    shown = layout.shown(answer)
    if not shown:  # off-topic: only the note, with two example questions to tap
        markup = _example_buttons(layout.OFF_TOPIC_EXAMPLES)
        await send(context.bot, chat_id, render.render_answer(answer, note), markup, target)
        return
    key, more = _page(service, chat_id, answer, 0, shown)
    await send(
        context.bot,
        chat_id,
        render.render_answer(answer, note),
        _buttons(key, shown, more),
        target,
    )


def addressed_text(message: Message, bot: Bot) -> str | None:
    """The question in a group message meant for the bot (mention or reply), else ``None``."""
    text = message.text or message.caption or ""
    mentioned = False
    entities = message.parse_entities() if message.text else message.parse_caption_entities()
    for entity, value in entities.items():
        if (
            entity.type == MessageEntity.MENTION
            and value[1:].lower() == (bot.username or "").lower()
        ) or (
            entity.type == MessageEntity.TEXT_MENTION and entity.user and entity.user.id == bot.id
        ):
            mentioned = True
            text = text.replace(value, " ")
    reply = message.reply_to_message
    replied = reply is not None and reply.from_user is not None and reply.from_user.id == bot.id
    return text.strip() if mentioned or replied else None


# -- handlers ----------------------------------------------------------------------------


def whoami_text(user_id: int | None, chat_id: int, private: bool) -> str:
    """The reply to /whoami: the ids TELEGRAM_ADMINS and TELEGRAM_ALLOWED_CHATS take."""
    lines = [f"您的用户 id：<code>{user_id}</code>（TELEGRAM_ADMINS 用它）"]
    if private:
        lines.append("这个私聊的 id 与用户 id 相同（TELEGRAM_ALLOWED_CHATS 用它）。")
    else:
        lines.append(f"这个群的 id：<code>{chat_id}</code>（TELEGRAM_ALLOWED_CHATS 用它）")
    return "\n".join(lines)


async def whoami(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/whoami: the sender's user id and the chat's id, for TELEGRAM_ADMINS and
    TELEGRAM_ALLOWED_CHATS. Runs before the allowlist (a new admin is not on it yet), and
    only answers: nothing else happens for this update."""
    message = update.effective_message
    if message is None or update.effective_chat is None:
        return
    user = update.effective_user
    chat = update.effective_chat
    text = whoami_text(user.id if user else None, chat.id, chat.type == ChatType.PRIVATE)
    await context.bot.send_message(chat.id, text)
    raise ApplicationHandlerStop


async def gate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Allowlist (``TELEGRAM_ALLOWED_CHATS``): others get one polite refusal, then silence."""
    service = _service(context)
    allowed = service.settings.allowed_chats
    chat_id = chat_key(update)
    if allowed is None or chat_id is None or chat_id in allowed:
        return
    if update.callback_query is not None:
        await update.callback_query.answer(REFUSED)
    elif update.inline_query is not None:
        refused = InlineQueryResultsButton(REFUSED, start_parameter="refused")
        await update.inline_query.answer([], cache_time=0, is_personal=True, button=refused)
    elif (
        update.effective_message is not None
        and _is_for_me(update.effective_message, context.bot)
        and service.first_refusal(chat_id)
    ):
        user = update.effective_user
        log.info(
            "chat %s (user id %s) is not in TELEGRAM_ALLOWED_CHATS; refused",
            chat_id,
            user.id if user else None,
        )
        await context.bot.send_message(chat_id, REFUSED)
    raise ApplicationHandlerStop


def _is_for_me(message: Message, bot: Bot) -> bool:
    if message.chat.type == ChatType.PRIVATE:
        return True
    if (message.text or "").startswith("/"):
        return True
    return addressed_text(message, bot) is not None


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/start: greeting and three example questions as buttons."""
    buttons = InlineKeyboardMarkup(
        [[InlineKeyboardButton(q, callback_data=f"q:{i}")] for i, q in enumerate(EXAMPLES)]
    )
    await update.effective_message.reply_text(GREETING, reply_markup=buttons)


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/help."""
    await update.effective_message.reply_text(HELP)


async def sources(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/sources: the indexed documents with their dates, one page at a time."""
    service = _service(context)
    chat_id = update.effective_chat.id
    if await _rate_limited(service, context.bot, chat_id):
        return
    docs = await service.sources()
    text, pages = render.render_sources_page(docs, 0)
    await context.bot.send_message(chat_id, text, reply_markup=_source_buttons(0, pages))


def _source_buttons(page: int, pages: int) -> InlineKeyboardMarkup | None:
    row = []
    if page > 0:
        row.append(InlineKeyboardButton("‹ 上一页", callback_data=f"s:{page - 1}"))
    if page + 1 < pages:
        row.append(InlineKeyboardButton("下一页 ›", callback_data=f"s:{page + 1}"))
    return InlineKeyboardMarkup([row]) if row else None


async def sources_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """‹ 上一页 / 下一页 › under /sources: the message shows that page instead."""
    query = update.callback_query
    service = _service(context)
    if update.effective_chat is None:  # a message sent through inline mode
        await query.answer(NO_CHAT, show_alert=True)
        return
    chat_id = update.effective_chat.id
    if not service.limiter.allow(chat_id):
        await query.answer(TOO_FAST.format(seconds=round(service.limiter.retry_after(chat_id))))
        return
    await query.answer()
    docs = await service.sources()
    text, pages = render.render_sources_page(docs, int(query.data.split(":", 1)[1]))
    page = min(int(query.data.split(":", 1)[1]), pages - 1)
    markup = _source_buttons(page, pages)
    if isinstance(query.message, Message):
        with contextlib.suppress(BadRequest):  # "message is not modified": same page again
            await query.message.edit_text(text, reply_markup=markup)
    else:
        await context.bot.send_message(chat_id, text, reply_markup=markup)


async def ask_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/ask 问题 (works everywhere; the way to ask in groups without a mention)."""
    message = update.effective_message
    question = _ASK_RE.sub("", message.text or "", count=1).strip()
    if not question:
        await message.reply_text(EMPTY_ASK)
        return
    await answer_question(update, context, question)


async def private_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Any text in a private chat is a question."""
    await answer_question(update, context, update.effective_message.text or "")


async def group_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """In groups, answer only when mentioned or replied to."""
    message = update.effective_message
    question = addressed_text(message, context.bot)
    if question is None:
        return
    if not question:
        await message.reply_text(EMPTY_MENTION)
        return
    await answer_question(update, context, question)


async def not_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stickers, photos, voice, files…: a polite text-only note (in groups only if addressed)."""
    message = update.effective_message
    if message.chat.type != ChatType.PRIVATE and addressed_text(message, context.bot) is None:
        return
    await message.reply_text(NOT_TEXT)


async def example_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An example question from /start."""
    query = update.callback_query
    if update.effective_chat is None:  # a message sent through inline mode: no chat to answer in
        await query.answer(NO_CHAT, show_alert=True)
        return
    await query.answer()
    index = int(query.data.split(":", 1)[1])
    if 0 <= index < len(EXAMPLES):
        await answer_question(update, context, EXAMPLES[index])


async def more_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """「更多结果」: the next page of results."""
    query = update.callback_query
    service = _service(context)
    page = service.own_page(query.data.split(":", 1)[1], query)
    if page is None or update.effective_chat is None:
        await query.answer(EXPIRED, show_alert=True)
        return
    chat_id = update.effective_chat.id
    if not service.limiter.allow(chat_id):
        await query.answer(TOO_FAST.format(seconds=round(service.limiter.retry_after(chat_id))))
        return
    await query.answer()
    await service.refresh(force=True)
    if _changed(service, page):  # offsets of another version would page wrongly
        await _offer_again(context.bot, chat_id, service, page.question)
        return
    async with typing(context.bot, chat_id):
        answer = await service.ask(page.question, page.next_offset)
    if answer.version != page.version and page.version is not None:
        await _offer_again(context.bot, chat_id, service, page.question)
        return
    if not answer.results:
        await context.bot.send_message(chat_id, NO_MORE)
        return
    key, more = _page(service, chat_id, answer, page.next_offset, answer.results)
    markup = _buttons(key, answer.results, more)
    await send(context.bot, chat_id, render.render_more(answer), markup)


async def context_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """「原文 N」: the passage around excerpt N, the excerpt in bold."""
    query = update.callback_query
    service = _service(context)
    _, key, rank = query.data.split(":", 2)
    page = service.own_page(key, query)
    result = page.results.get(int(rank)) if page is not None else None
    if result is None or update.effective_chat is None:
        await query.answer(EXPIRED, show_alert=True)
        return
    await query.answer()
    chat_id = update.effective_chat.id
    await service.refresh()
    if _changed(service, page) and not await service.still_quoted(result):
        await _offer_again(context.bot, chat_id, service, page.question)
        return
    try:
        text, start, _end = await service.context(result)
    except RetrievalError:  # the document left the index since the answer was given
        await _offer_again(context.bot, chat_id, service, page.question)
        return
    span = (result.start - start, result.end - start)
    html_text = render.render_context(result, text, span, await service.url(result.doc_id))
    target = query.message if isinstance(query.message, Message) else None
    await send(context.bot, update.effective_chat.id, [html_text], reply_to=target)


async def again_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """「重新提问」 after the index changed: the same question, answered by the new index."""
    query = update.callback_query
    page = _service(context).own_page(query.data.split(":", 1)[1], query)
    if page is None or update.effective_chat is None:
        await query.answer(EXPIRED, show_alert=True)
        return
    await query.answer()
    await answer_question(update, context, page.question)


async def stale_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Any other callback data (e.g. from an older version): answer it anyway."""
    await update.callback_query.answer(EXPIRED)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the error (redacted by the log formatter) and tell the user something went wrong."""
    log.error("error while handling an update", exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat is not None:
        with contextlib.suppress(TelegramError):
            await context.bot.send_message(update.effective_chat.id, FAILED)
