"""Fast tests of the Telegram pieces that need neither a server nor the engine."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.telegram import render
from bot.telegram.config import ConfigError, load_dotenv, parse_chat_ids, settings_from_env
from bot.telegram.ordering import PerChatUpdateProcessor
from bot.telegram.redact import RedactFilter
from bot.telegram.state import RateLimiter, Throttle, TTLStore
from retrieval.answer import Answer, Result, Source
from tests.fake_bot_api import HTMLError, parse_html

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def result(rank: int, excerpt: str, marks=((0, 5),), title: str = "标题") -> Result:
    return Result(
        rank, "doc", title, "2023-05-31", "天津日报", 0.5, excerpt, 0, len(excerpt), marks
    )


# -- rendering --------------------------------------------------------------------------


def test_excerpt_is_escaped_marked_and_cited() -> None:
    excerpt = "前文。<script>&“协议”</script>是关键。后文"
    start = excerpt.index("<script>")
    end = excerpt.index("是关键。") + 4
    (message,) = render.render_answer(
        Answer("a<b>&c", True, [result(1, excerpt, ((start, end),), "“通武廊”<协议>")])
    )
    plain = parse_html(message)
    assert excerpt in plain and "a<b>&c" in plain
    assert "“通武廊”<协议> · 2023-05-31 · 天津日报" in plain
    assert "<b>&lt;script&gt;&amp;“协议”&lt;/script&gt;是关键。</b>" in message


def test_long_answer_splits_between_excerpts() -> None:
    results = [result(i, f"第{i}段。" + "内容" * 600) for i in range(1, 8)]
    messages = render.render_answer(Answer("问题", True, results))
    assert len(messages) > 1
    for message in messages:
        assert render.tg_len(message) <= 4096
        parse_html(message)
    numbers = [line for m in messages for line in parse_html(m).splitlines() if line[:-1].isdigit()]
    assert numbers == [f"{i}." for i in range(1, 8)]


def test_overlong_excerpt_is_cut_around_its_mark() -> None:
    excerpt = "甲" * 5000 + "这是最相关的句子。" + "乙" * 5000
    mark = (5000, 5009)
    (message,) = render.render_answer(Answer("问题", True, [result(1, excerpt, (mark,))]))
    plain = parse_html(message)
    assert render.tg_len(message) <= 4096
    assert "<b>这是最相关的句子。</b>" in message
    assert "…甲" in plain and "乙…" in plain


def test_window_keeps_marks_aligned() -> None:
    text = "0123456789" * 10
    cut, marks, left, right = render.window(text, [(50, 55)], 20)
    assert len(cut) == 20 and left and right
    a, b = marks[0]
    assert cut[a:b] == "01234"


def test_not_confident_answer_starts_with_a_kind_note() -> None:
    (message,) = render.render_answer(Answer("天气", False, [result(1, "无关段落")]))
    assert "没有找到" in message and "/sources" in message and "相关度较低" in message
    assert render.render_answer(Answer("天气", False, [])) == [render.not_found("天气")]


def test_sources_are_listed_with_dates_and_links() -> None:
    docs = [
        Source("a", "甲<文件>", "2019-06-06", "北京发改委", "https://x.example/?a=1&b=2", 11797),
        Source("b", "乙文件", None, None, None, 5716),
    ]
    (message,) = render.render_sources(docs)
    plain = parse_html(message)
    assert "甲<文件>" in plain and "2019-06-06" in plain and "日期不详" in plain
    assert 'href="https://x.example/?a=1&amp;b=2"' in message


# -- the fake server's HTML check (it must be as strict as Telegram) --------------------


@pytest.mark.parametrize(
    "bad",
    [
        "<p>x</p>",
        "<b>x",
        "<b><i>x</b></i>",
        "a < b",
        "AT&T",
        "&nbsp;",
        "<a>x</a>",
        '<span class="x">y</span>',
        "<b onclick='x'>y</b>",
    ],
)
def test_fake_api_rejects_what_telegram_rejects(bad: str) -> None:
    with pytest.raises(HTMLError):
        parse_html(bad)


def test_fake_api_accepts_telegram_html() -> None:
    good = (
        '<b>a</b><i>b</i><blockquote>c <u>d</u></blockquote><a href="https://e">f</a>'
        '<span class="tg-spoiler">g</span>&lt;&gt;&amp;&quot;&#20013;'
    )
    assert parse_html(good) == 'abc dfg<>&"中'


# -- state ------------------------------------------------------------------------------


def test_ttl_store_expires_and_evicts() -> None:
    clock = Clock()
    store: TTLStore[str] = TTLStore(maxsize=2, ttl=10, clock=clock)
    a, b = store.put("a"), store.put("b")
    assert len(a.encode()) <= 10 and store.get(a) == "a"
    c = store.put("c")  # evicts the least recently used: b
    assert store.get(b) is None and store.get(c) == "c"
    clock.now = 11
    assert store.get(a) is None


def test_rate_limiter_burst_refill_and_one_warning() -> None:
    clock = Clock()
    limiter = RateLimiter(burst=2, period=3, clock=clock)
    assert limiter.allow(1) and limiter.allow(1) and not limiter.allow(1)
    assert limiter.allow(2)  # other chats are unaffected
    assert limiter.should_warn(1) and not limiter.should_warn(1)
    assert limiter.retry_after(1) == pytest.approx(3)
    clock.now = 3
    assert limiter.allow(1) and not limiter.allow(1)
    assert limiter.should_warn(1)  # a new throttled stretch warns again


def test_throttle() -> None:
    clock = Clock()
    throttle = Throttle(5, clock)
    assert throttle.ready() and not throttle.ready()
    clock.now = 5
    assert throttle.ready()


# -- per-chat order ---------------------------------------------------------------------


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


# -- configuration and logging ----------------------------------------------------------


def test_settings_from_env(tmp_path) -> None:
    with pytest.raises(ConfigError) as error:
        settings_from_env({})
    assert "TELEGRAM_BOT_TOKEN" in str(error.value)
    settings = settings_from_env(
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": "http://127.0.0.1:8081/bot",
            "TELEGRAM_ALLOWED_CHATS": "12, -100345",
        }
    )
    assert settings.base_url == "http://127.0.0.1:8081/bot"
    assert settings.allowed_chats == {12, -100345}
    assert parse_chat_ids(" ") is None
    with pytest.raises(ConfigError):
        parse_chat_ids("12,abc")

    env = tmp_path / ".env"
    env.write_text('# comment\nexport TELEGRAM_BOT_TOKEN="from-file"\nOTHER=1\n', encoding="utf-8")
    environ = {"OTHER": "kept"}
    load_dotenv(env, environ)
    assert environ == {"TELEGRAM_BOT_TOKEN": "from-file", "OTHER": "kept"}


def test_logs_never_show_the_token() -> None:
    record = logging.LogRecord(
        "httpx",
        logging.INFO,
        __file__,
        1,
        'HTTP Request: POST %s "HTTP/1.1 200 OK"',
        (f"https://api.telegram.org/bot{TOKEN}/getMe",),
        None,
    )
    try:
        raise RuntimeError(f"boom at /bot{TOKEN}/sendMessage")
    except RuntimeError as exc:
        record.exc_info = (type(exc), exc, exc.__traceback__)
    assert RedactFilter((TOKEN,)).filter(record)
    text = logging.Formatter().format(record)
    assert TOKEN not in text and TOKEN.split(":")[1] not in text and "<redacted>" in text
