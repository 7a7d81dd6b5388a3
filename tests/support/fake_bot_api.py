"""A small fake Telegram Bot API server for tests (stdlib only).

It answers the methods python-telegram-bot calls, queues updates pushed by the test for
``getUpdates`` long polling, records every call, and checks every message the way
Telegram does: HTML must use Telegram's tag subset, be properly nested and escaped, and be at
most 4096 characters after entity parsing. Invalid requests get a 400 like Telegram's, and
are kept in ``errors`` so a test can fail on them.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote

TOKEN = "123456789:AAFakeTokenForTestsOnly_abcdefghijk"
MAX_TEXT = 4096
MAX_DOWNLOAD = 20 * 1024 * 1024  # getFile refuses bigger files
INLINE_DEADLINE = 10.0  # seconds to answer an inline query

# fields Telegram expects JSON-encoded inside form bodies
_JSON_FIELDS = {
    "reply_markup",
    "commands",
    "allowed_updates",
    "entities",
    "caption_entities",
    "link_preview_options",
    "reply_parameters",
    "scope",
    "media",
    "results",
    "button",
}

_ALLOWED_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "a",
    "code",
    "pre",
    "blockquote",
    "tg-spoiler",
    "span",
    "tg-emoji",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TOKEN_RE = re.compile(
    r"<(/?)([A-Za-z][\w-]*)((?:\s+[^<>]*)?)\s*>"  # a tag
    r"|&(#[0-9]+|#x[0-9A-Fa-f]+|[A-Za-z]+);"  # an entity
    r"|[<>&]"  # a stray special character
)
_ATTR_RE = re.compile(r"""([\w-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")


class HTMLError(ValueError):
    """Telegram's "can't parse entities" 400."""


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def parse_html(text: str) -> str:
    """Validate Telegram-HTML; return the plain text after entity parsing."""
    plain: list[str] = []
    stack: list[str] = []
    pos = 0
    for match in _TOKEN_RE.finditer(text):
        plain.append(text[pos : match.start()])
        pos = match.end()
        closing, name, attrs, entity = (
            match.group(1),
            match.group(2),
            match.group(3),
            match.group(4),
        )
        if name is not None:
            name = name.lower()
            if name not in _ALLOWED_TAGS:
                raise HTMLError(f'Unsupported start tag "{name}" at byte offset {match.start()}')
            if closing:
                if not stack or stack[-1] != name:
                    raise HTMLError(
                        f"Unmatched end tag at byte offset {match.start()}, "
                        f'expected "</{stack[-1] if stack else ""}>", found "</{name}>"'
                    )
                stack.pop()
                continue
            _check_attrs(name, attrs or "")
            if name in ("blockquote", "a", "pre", "code") and name in stack:
                raise HTMLError(f"Can't nest <{name}> inside <{name}>")
            if name == "blockquote" and ("pre" in stack or "code" in stack):
                raise HTMLError("Can't put <blockquote> inside <pre>/<code>")
            stack.append(name)
        elif entity is not None:
            if entity.startswith("#x"):
                plain.append(chr(int(entity[2:], 16)))
            elif entity.startswith("#"):
                plain.append(chr(int(entity[1:])))
            elif entity in _NAMED_ENTITIES:
                plain.append(_NAMED_ENTITIES[entity])
            else:
                raise HTMLError(f'Unsupported HTML entity "&{entity};"')
        else:
            raise HTMLError(f"Unescaped {match.group(0)!r} at byte offset {match.start()}")
    plain.append(text[pos:])
    if stack:
        raise HTMLError(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(plain)


def _check_attrs(name: str, raw: str) -> None:
    attrs = {
        m.group(1).lower(): m.group(2) or m.group(3) or m.group(4) or ""
        for m in _ATTR_RE.finditer(raw)
    }
    allowed: dict[str, Callable[[str], bool]] = {
        "a": {"href": lambda v: bool(v)},
        "span": {"class": lambda v: v == "tg-spoiler"},
        "code": {"class": lambda v: v.startswith("language-")},
        "blockquote": {"expandable": lambda v: True},
        "tg-emoji": {"emoji-id": lambda v: v.isdigit()},
    }.get(name, {})
    for key, value in attrs.items():
        if key not in allowed or not allowed[key](value):
            raise HTMLError(f"Unsupported attribute {key}={value!r} in <{name}>")
    if name == "a" and "href" not in attrs:
        raise HTMLError("<a> needs href")
    if name == "span" and attrs.get("class") != "tg-spoiler":
        raise HTMLError('<span> needs class="tg-spoiler"')


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


class ApiError(Exception):
    def __init__(self, code: int, description: str, parameters: dict | None = None):
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


class FakeBotAPI:
    """``with FakeBotAPI() as api: ... api.base_url ...``"""

    def __init__(self, token: str = TOKEN, username: str = "jjj_test_bot", bot_id: int = 424242):
        self.token, self.username, self.bot_id = token, username, bot_id
        self.calls: list[Call] = []
        self.errors: list[str] = []
        self.webhook: dict[str, Any] | None = None
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._callback_ids = itertools.count(1)
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._chats: dict[int, dict[str, Any]] = {}
        self._callbacks: dict[str, bool] = {}
        self._inline: dict[str, float] = {}  # inline query id -> when it was sent
        self._files: dict[str, tuple[bytes, int]] = {}  # file_id -> content, declared size
        self._flood: dict[str, tuple[int, int]] = {}  # method -> (every n-th call, retry_after)
        self._flood_counts: dict[str, int] = {}
        self.flooded: list[Call] = []  # calls answered with 429 (not errors: the bot must retry)
        self._cond = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- lifecycle --------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """What python-telegram-bot's ``base_url`` takes (the token is appended)."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """What python-telegram-bot's ``base_file_url`` takes (file downloads)."""
        return f"http://127.0.0.1:{self.port}/file/bot"

    def start(self) -> FakeBotAPI:
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._cond.notify_all()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeBotAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what the test pushes ----------------------------------------------------------

    @property
    def me(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "京津冀问答",
            "username": self.username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": True,
        }

    def _chat(self, chat_id: int, chat_type: str) -> dict[str, Any]:
        chat = {"id": chat_id, "type": chat_type}
        chat.update(
            {"title": f"群 {chat_id}"} if chat_type != "private" else {"first_name": "测试"}
        )
        self._chats[chat_id] = chat
        return chat

    def push(self, update: dict[str, Any]) -> dict[str, Any]:
        with self._cond:
            update["update_id"] = next(self._update_ids)
            self._updates.append(update)
            self._cond.notify_all()
        return update

    def make_message(
        self,
        chat_id: int,
        text: str | None = None,
        *,
        chat_type: str = "private",
        user_id: int | None = None,
        reply_to: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A user's message update (not queued; for webhook tests). Groups have negative
        ids and ``chat_type="supergroup"``. Like Telegram, marks ``/commands`` and
        ``@mentions`` with entities."""
        user_id = user_id if user_id is not None else abs(chat_id)
        with self._cond:
            message_id = next(self._message_ids)
            message: dict[str, Any] = {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": self._chat(chat_id, chat_type),
                "from": {"id": user_id, "is_bot": False, "first_name": "测试"},
            }
            if text is not None:
                message["text"] = text
                entities = _entities(text)
                if entities:
                    message["entities"] = entities
            if reply_to is not None:
                message["reply_to_message"] = self._messages[(chat_id, reply_to)]
            message.update(extra or {})
            self._messages[(chat_id, message_id)] = message
        return {"message": message}

    def send_message(self, chat_id: int, text: str | None = None, **kwargs: Any) -> int:
        """A user writes in a chat (see :meth:`make_message`); returns the message id."""
        update = self.push(self.make_message(chat_id, text, **kwargs))
        return update["message"]["message_id"]

    def send_sticker(self, chat_id: int, **kwargs: Any) -> int:
        sticker = {
            "file_id": "CAACAgIAAx",
            "file_unique_id": "AgAD",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        }
        return self.send_message(chat_id, None, extra={"sticker": sticker}, **kwargs)

    def send_photo(self, chat_id: int, **kwargs: Any) -> int:
        photo = [{"file_id": "AgACAgIAAx", "file_unique_id": "AQAD", "width": 90, "height": 90}]
        return self.send_message(chat_id, None, extra={"photo": photo}, **kwargs)

    def send_document(
        self,
        chat_id: int,
        file_name: str,
        content: bytes,
        *,
        file_size: int | None = None,
        mime_type: str = "application/octet-stream",
        **kwargs: Any,
    ) -> int:
        """A user sends a file; ``getFile`` and the download serve ``content``. A
        ``file_size`` over 20 MB makes ``getFile`` refuse it, as Telegram does."""
        with self._cond:
            file_id = f"BQACAgIAAx{len(self._files):04d}"
            self._files[file_id] = (content, file_size if file_size is not None else len(content))
        document = {
            "file_id": file_id,
            "file_unique_id": f"AgAD{len(self._files):04d}",
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": self._files[file_id][1],
        }
        return self.send_message(chat_id, None, extra={"document": document}, **kwargs)

    def inline_queries(self, user_id: int, *texts: str) -> list[str]:
        """A user types ``@bot text`` (several texts: keystrokes arriving together); returns
        the inline query ids."""
        ids = []
        with self._cond:
            for text in texts:
                query_id = f"iq{next(self._callback_ids)}"
                self._inline[query_id] = time.monotonic()
                self.push(
                    {
                        "inline_query": {
                            "id": query_id,
                            "from": {"id": user_id, "is_bot": False, "first_name": "测试"},
                            "query": text,
                            "offset": "",
                            "chat_type": "sender",
                        }
                    }
                )
                ids.append(query_id)
        return ids

    def inline_answer(self, query_id: str) -> dict[str, Any] | None:
        for call in self.calls_of("answerInlineQuery"):
            if str(call.params.get("inline_query_id")) == query_id:
                return call.params
        return None

    def press(self, chat_id: int, message_id: int, data: str, user_id: int | None = None) -> str:
        """A user taps an inline button; the data must be on that message's keyboard."""
        with self._cond:
            message = self._messages[(chat_id, message_id)]
            buttons = [
                b.get("callback_data")
                for row in message.get("reply_markup", {}).get("inline_keyboard", [])
                for b in row
            ]
            if data not in buttons:
                raise AssertionError(f"no button {data!r} on message {message_id}: {buttons}")
            query_id = str(next(self._callback_ids))
            self._callbacks[query_id] = False
        self.push(
            {
                "callback_query": {
                    "id": query_id,
                    "from": {
                        "id": user_id if user_id is not None else abs(chat_id),
                        "is_bot": False,
                        "first_name": "测试",
                    },
                    "message": message,
                    "chat_instance": str(chat_id),
                    "data": data,
                }
            }
        )
        return query_id

    # -- what the test inspects --------------------------------------------------------

    def calls_of(self, method: str) -> list[Call]:
        with self._cond:
            return [c for c in self.calls if c.method == method]

    def sent(self, chat_id: int) -> list[dict[str, Any]]:
        """Messages the bot sent to (or edited in) ``chat_id``, in order."""
        with self._cond:
            return [
                c.params
                for c in self.calls
                if c.method == "sendMessage"
                and str(c.params.get("chat_id")) == str(chat_id)
                and not c.params.get("_flooded")
            ]

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 60.0) -> Any:
        """Wait until ``predicate()`` is truthy (re-checked after each call); return it."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = predicate()
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"timed out after {timeout}s waiting; errors={self.errors}"
                    )
                self._cond.wait(min(left, 0.5))

    def wait_sent(self, chat_id: int, count: int = 1, timeout: float = 60.0) -> list[dict]:
        return self.wait_for(lambda: (m := self.sent(chat_id)) and len(m) >= count and m, timeout)

    def callback_answered(self, query_id: str) -> dict[str, Any] | None:
        for call in self.calls_of("answerCallbackQuery"):
            if str(call.params.get("callback_query_id")) == query_id:
                return call.params
        return None

    # -- the API ----------------------------------------------------------------------

    def flood(self, method: str, every: int, retry_after: int = 1) -> None:
        """Answer every ``every``-th call of ``method`` with 429 Too Many Requests, as
        Telegram does past its limits (``every=0`` stops it)."""
        with self._cond:
            self._flood[method] = (every, retry_after)
            self._flood_counts[method] = 0

    def _flooded(self, method: str, params: dict[str, Any]) -> ApiError | None:
        every, retry_after = self._flood.get(method, (0, 0))
        if every <= 0:
            return None
        self._flood_counts[method] += 1
        if self._flood_counts[method] % every:
            return None
        params["_flooded"] = True
        self.flooded.append(Call(method, params))
        return ApiError(
            429,
            f"Too Many Requests: retry after {retry_after}",
            {"retry_after": retry_after},
        )

    def _dispatch(self, method: str, params: dict[str, Any]) -> Any:
        flooded = self._flooded(method, params)
        if flooded is not None:
            raise flooded
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            raise ApiError(404, "Not Found: method not found")
        return handler(params)

    def _api_getMe(self, params: dict[str, Any]) -> Any:
        return self.me

    def _api_deleteWebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = None
        return True

    def _api_setWebhook(self, params: dict[str, Any]) -> Any:
        if not str(params.get("url", "")).startswith("https://"):
            raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided")
        self.webhook = params
        return True

    def _api_getWebhookInfo(self, params: dict[str, Any]) -> Any:
        return {
            "url": (self.webhook or {}).get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    def _api_setMyCommands(self, params: dict[str, Any]) -> Any:
        commands = params.get("commands")
        if not isinstance(commands, list) or not commands:
            raise ApiError(400, "Bad Request: commands must be a non-empty list")
        for c in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", c.get("command", "")) or not (
                1 <= len(c.get("description", "")) <= 256
            ):
                raise ApiError(400, f"Bad Request: invalid command {c!r}")
        return True

    def _api_getUpdates(self, params: dict[str, Any]) -> Any:
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = min(float(params.get("timeout") or 0), 2.0)
        deadline = time.monotonic() + timeout
        with self._cond:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            while not self._updates and time.monotonic() < deadline:
                self._cond.wait(deadline - time.monotonic())
            return self._updates[:limit]

    def _api_sendChatAction(self, params: dict[str, Any]) -> Any:
        self._known_chat(params)
        return True

    def _api_sendMessage(self, params: dict[str, Any]) -> Any:
        chat = self._known_chat(params)
        text = params["_plain"] = self._check_text(params)
        markup = self._check_markup(params)
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": self.me,
            "text": text,
        }
        reply = params.get("reply_parameters")
        if reply:
            original = self._messages.get((chat["id"], int(reply["message_id"])))
            if original is None and not reply.get("allow_sending_without_reply"):
                raise ApiError(400, "Bad Request: message to be replied not found")
            if original is not None:
                message["reply_to_message"] = original
        if markup:
            message["reply_markup"] = markup
        self._messages[(chat["id"], message["message_id"])] = message
        params["_message_id"] = message["message_id"]
        return message

    def _api_editMessageText(self, params: dict[str, Any]) -> Any:
        chat = self._known_chat(params)
        key = (chat["id"], int(params.get("message_id", 0)))
        if key not in self._messages:
            raise ApiError(400, "Bad Request: message to edit not found")
        message = dict(self._messages[key], text=self._check_text(params))
        markup = self._check_markup(params)
        message.pop("reply_markup", None)
        if markup:
            message["reply_markup"] = markup
        self._messages[key] = message
        return message

    def _api_editMessageReplyMarkup(self, params: dict[str, Any]) -> Any:
        chat = self._known_chat(params)
        key = (chat["id"], int(params.get("message_id", 0)))
        if key not in self._messages:
            raise ApiError(400, "Bad Request: message to edit not found")
        message = dict(self._messages[key])
        message.pop("reply_markup", None)
        if markup := self._check_markup(params):
            message["reply_markup"] = markup
        self._messages[key] = message
        return message

    def _api_answerCallbackQuery(self, params: dict[str, Any]) -> Any:
        query_id = str(params.get("callback_query_id"))
        if query_id not in self._callbacks or self._callbacks[query_id]:
            raise ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        if len(params.get("text") or "") > 200:
            raise ApiError(400, "Bad Request: callback answer text is too long")
        self._callbacks[query_id] = True
        return True

    def _api_answerInlineQuery(self, params: dict[str, Any]) -> Any:
        query_id = str(params.get("inline_query_id"))
        sent = self._inline.pop(query_id, None)
        if sent is None or time.monotonic() - sent > INLINE_DEADLINE:
            raise ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        results = params.get("results")
        if not isinstance(results, list) or len(results) > 50:
            raise ApiError(400, "Bad Request: RESULTS_TOO_MUCH")
        ids = [str(r.get("id", "")) for r in results]
        if len(set(ids)) != len(ids) or not all(1 <= len(i.encode()) <= 64 for i in ids):
            raise ApiError(400, "Bad Request: RESULT_ID_INVALID")
        for result in results:
            content = result.get("input_message_content") or {}
            if result.get("type") != "article" or not result.get("title"):
                raise ApiError(400, "Bad Request: RESULT_TYPE_INVALID or title is empty")
            if not isinstance(content.get("message_text"), str):
                raise ApiError(400, "Bad Request: MESSAGE_EMPTY")
            content["_plain"] = self._check_text(
                {"text": content["message_text"], "parse_mode": content.get("parse_mode")}
            )
        button = params.get("button")
        if button is not None:
            if isinstance(button, str):
                button = json.loads(button)
            start = button.get("start_parameter", "")
            if not button.get("text") or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", start):
                raise ApiError(400, "Bad Request: BUTTON_INVALID")
        if int(params.get("cache_time") or 0) < 0:
            raise ApiError(400, "Bad Request: cache_time must be non-negative")
        return True

    def _api_getFile(self, params: dict[str, Any]) -> Any:
        file_id = str(params.get("file_id"))
        if file_id not in self._files:
            raise ApiError(400, "Bad Request: invalid file_id")
        content, size = self._files[file_id]
        if size > MAX_DOWNLOAD:
            raise ApiError(400, "Bad Request: file is too big")
        return {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_size": size,
            "file_path": f"documents/{file_id}.bin",
        }

    def file_content(self, file_path: str) -> bytes | None:
        match = re.fullmatch(r"documents/(\w+)\.bin", file_path)
        item = self._files.get(match.group(1)) if match else None
        return item[0] if item else None

    def _api_close(self, params: dict[str, Any]) -> Any:
        return True

    # -- checks -----------------------------------------------------------------------

    def _known_chat(self, params: dict[str, Any]) -> dict[str, Any]:
        try:
            return self._chats[int(params.get("chat_id"))]
        except (KeyError, TypeError, ValueError):
            raise ApiError(400, "Bad Request: chat not found") from None

    def _check_text(self, params: dict[str, Any]) -> str:
        text = params.get("text")
        if not isinstance(text, str):
            raise ApiError(400, "Bad Request: message text is empty")
        mode = str(params.get("parse_mode") or "").lower()
        if mode == "html":
            try:
                text = parse_html(text)
            except HTMLError as exc:
                raise ApiError(400, f"Bad Request: can't parse entities: {exc}") from None
        elif mode:
            raise ApiError(400, f"Bad Request: unsupported parse_mode {mode} in this fake")
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16_len(text) > MAX_TEXT:
            raise ApiError(400, "Bad Request: message is too long")
        return text

    def _check_markup(self, params: dict[str, Any]) -> dict[str, Any] | None:
        markup = params.get("reply_markup")
        if not markup:
            return None
        for row in markup.get("inline_keyboard", []):
            for button in row:
                if not button.get("text"):
                    raise ApiError(400, "Bad Request: button text is empty")
                data = button.get("callback_data")
                if data is not None and not 1 <= len(data.encode()) <= 64:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        return markup

    # -- HTTP -------------------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                self._serve()

            def do_GET(self) -> None:
                self._serve()

            def _serve(self) -> None:
                path = unquote(self.path.split("?")[0])  # PTB quotes the token's ":" here
                download = re.fullmatch(r"/file/bot([^/]+)/(.+)", path)
                if download and self.command == "GET":
                    return self._download(*download.groups())
                match = re.fullmatch(r"/bot([^/]+)/(\w+)", self.path.split("?")[0])
                if not match:
                    return self._reply(
                        404, {"ok": False, "error_code": 404, "description": "Not Found"}
                    )
                token, method = match.groups()
                if token != api.token:
                    return self._reply(
                        401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
                    )
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if len(body) < length:
                    # The client gave up mid-request (e.g. the bot cancelled its "typing…"
                    # call because the answer was ready): Telegram never sees such a call.
                    self.close_connection = True
                    return None
                try:
                    params = _parse_body(self.headers, body)
                except ValueError as exc:
                    return self._reply(
                        400, {"ok": False, "error_code": 400, "description": f"Bad Request: {exc}"}
                    )
                try:
                    if method == "getUpdates":
                        with api._cond:
                            api.calls.append(Call(method, params))
                            api._cond.notify_all()
                        result = api._api_getUpdates(params)  # waits on the condition itself
                    else:  # recorded and handled at once: a waiter never sees half a call
                        with api._cond:
                            api.calls.append(Call(method, params))
                            api._cond.notify_all()
                            result = api._dispatch(method, params)
                except ApiError as exc:
                    if method != "getUpdates" and exc.code != 429:
                        with api._cond:
                            api.errors.append(f"{method}: {exc.description}")
                            api._cond.notify_all()
                    payload = {"ok": False, "error_code": exc.code, "description": exc.description}
                    if exc.parameters:
                        payload["parameters"] = exc.parameters
                    return self._reply(exc.code, payload)
                self._reply(200, {"ok": True, "result": result})

            def _download(self, token: str, file_path: str) -> None:
                with api._cond:
                    api.calls.append(Call("download", {"file_path": file_path}))
                    content = api.file_content(file_path) if token == api.token else None
                    api._cond.notify_all()
                if content is None:
                    return self._reply(
                        404, {"ok": False, "error_code": 404, "description": "Not Found"}
                    )
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(content)

            def _reply(self, code: int, payload: dict[str, Any]) -> None:
                body = json.dumps(payload, ensure_ascii=False).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                # the client may have given up (e.g. a long poll cancelled at shutdown)
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(body)

        return Handler


def _parse_body(headers: Any, body: bytes) -> dict[str, Any]:
    """Form-encoded, multipart or JSON bodies; JSON-encoded complex fields are decoded."""
    ctype = headers.get("Content-Type", "")
    if not body:
        return {}
    if ctype.startswith("application/json"):
        return json.loads(body)
    if ctype.startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {ctype}\r\n\r\n".encode() + body
        )
        raw = {
            part.get_param("name", header="content-disposition"): part.get_payload(
                decode=True
            ).decode()
            for part in message.iter_parts()
        }
    else:
        raw = {k: v[-1] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
    params: dict[str, Any] = {}
    for key, value in raw.items():
        params[key] = json.loads(value) if key in _JSON_FIELDS else value
    return params


def _entities(text: str) -> list[dict[str, Any]]:
    """``bot_command`` and ``mention`` entities, offsets in UTF-16 units as Telegram sends."""
    entities = []
    for match in re.finditer(
        r"(?<![\w/@])(/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]+)?|@[A-Za-z0-9_]{3,32})", text
    ):
        kind = "bot_command" if match.group(0).startswith("/") else "mention"
        entities.append(
            {
                "type": kind,
                "offset": utf16_len(text[: match.start()]),
                "length": utf16_len(match.group(0)),
            }
        )
    return entities
