"""End to end: the real Application, polling a fake Bot API over HTTP, answering with the
real engine built once over the shipped corpus."""

from __future__ import annotations

import dataclasses
import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from bot.telegram import handlers, render
from corpus.loading import load_corpus
from retrieval.backends.local.folder import current_version
from retrieval.backends.local.ingest import ingest
from retrieval.engine import AnswerEngine
from tests.support import free_port
from tests.support.corpora import write_corpus
from tests.support.fake_bot_api import FakeBotAPI
from tests.support.telegram import BURST_QUESTIONS, RunningBot, keyboard, new_chat, start_bot

# The engine below builds the index of the shipped corpus with the real model on first use.
pytestmark = pytest.mark.slow

TONGWULANG_QUESTION = "通武廊签署了什么协议"


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The engine these tests share (it stands in for tests/telegram/conftest.py's engine on
    a copy of the seed index, which the tests that change an index use)."""
    import qabot_settings
    from bot.open_index import open_engine

    # as `python -m bot telegram` on a new machine: the shipped corpus is built on first use
    settings = qabot_settings.Settings.from_env(tmp_path_factory.mktemp("index"))
    return open_engine(dataclasses.replace(settings, index_named=False))


@pytest.fixture(scope="session")
def tongwulang_title(engine: Any) -> str:
    titles = [s.title for s in engine.sources() if "tongwulang" in s.doc_id or "通武廊" in s.title]
    assert titles, [s.doc_id for s in engine.sources()]
    return titles[0]


@pytest.fixture(scope="module")
def api(engine: Any):
    """The default bot and its fake Bot API; fails the module on any rejected request."""
    api, bot = start_bot(engine)
    yield api
    bot.stop()
    api.stop()
    assert api.errors == []


@pytest.fixture(scope="module")
def strict_api(engine: Any):
    """A bot with an allowlist, a tiny rate limit, instantly expiring buttons, many results."""
    api, bot = start_bot(
        engine,
        allowed_chats=frozenset({5001, 5003, 5004}),
        rate_burst=3,
        rate_period=60.0,
        state_ttl=0.0,
        top_k=25,
    )
    yield api
    bot.stop()
    api.stop()
    assert api.errors == []


def assert_quiet(api: FakeBotAPI, chat_id: int, expected: int, **kwargs: Any) -> list[dict]:
    """Ask ``/help`` and wait for it: replies are in order per chat, so anything the bot
    would have said before it has been said by then."""
    api.send_message(chat_id, "/help", **kwargs)
    sent = api.wait_sent(chat_id, expected + 1)
    assert "使用说明" in sent[expected]["_plain"]
    assert len(sent) == expected + 1
    return sent[:expected]


# -- commands ---------------------------------------------------------------------------


def test_start_offers_example_questions(api: FakeBotAPI) -> None:
    chat = new_chat()
    api.send_message(chat, "/start")
    (greeting,) = api.wait_sent(chat)
    assert "京津冀协同发展" in greeting["_plain"]
    assert keyboard(greeting) == ["q:0", "q:1", "q:2"]
    commands = api.calls_of("setMyCommands")[0].params["commands"]
    assert [c["command"] for c in commands][:4] == ["start", "help", "sources", "ask"]

    query = api.press(chat, greeting["_message_id"], "q:0")
    sent = api.wait_sent(chat, 2)
    assert api.callback_answered(query) is not None
    assert TONGWULANG_QUESTION in sent[1]["_plain"]


def test_help(api: FakeBotAPI) -> None:
    chat = new_chat()
    api.send_message(chat, "/help")
    (reply,) = api.wait_sent(chat)
    for command in ("/start", "/sources", "/ask"):
        assert command in reply["_plain"]


def test_sources_lists_documents_with_dates(api: FakeBotAPI, engine: Any) -> None:
    chat = new_chat()
    api.send_message(chat, "/sources")
    text = "\n".join(m["_plain"] for m in api.wait_sent(chat))
    for source in engine.sources():
        assert source.title in text
        if source.date:
            assert source.date in text


# -- questions --------------------------------------------------------------------------


def test_question_gets_the_answer_line_first(
    api: FakeBotAPI, engine: Any, tongwulang_title: str
) -> None:
    chat = new_chat()
    api.send_message(chat, TONGWULANG_QUESTION)
    (answer,) = api.wait_sent(chat)
    assert answer["parse_mode"] == "HTML"
    expected = engine.ask(TONGWULANG_QUESTION)
    assert expected.confident
    plain = answer["_plain"]
    assert plain.startswith(f"问：{TONGWULANG_QUESTION}")
    top = expected.results[0]
    start, end = top.marks[0]
    line = plain.index(" ".join(top.excerpt[start:end].split()))
    citation = plain.index(f"《{tongwulang_title}》 · 2023-05-31")
    folded = answer["text"].index("<blockquote expandable>")
    assert line < citation and line < 60  # the answer line sits right under the question
    assert answer["text"].index("</b>", folded) > folded  # context repeats the mark in bold
    assert plain.index("2. ") > citation and len(plain) <= 1500
    assert answer["text"].count("<blockquote expandable>") == 1
    assert "c:" in keyboard(answer)[0] and keyboard(answer)[-1].startswith("m:")
    typing = [c for c in api.calls_of("sendChatAction") if str(c.params["chat_id"]) == str(chat)]
    assert typing and typing[0].params["action"] == "typing"


def test_more_results_and_context_buttons(api: FakeBotAPI, engine: Any) -> None:
    chat = new_chat()
    api.send_message(chat, TONGWULANG_QUESTION)
    (answer,) = api.wait_sent(chat)
    more = next(d for d in keyboard(answer) if d.startswith("m:"))
    query = api.press(chat, answer["_message_id"], more)
    sent = api.wait_sent(chat, 2)
    assert api.callback_answered(query) is not None
    assert sent[1]["_plain"].startswith("更多结果（第 6–10 条）")
    first = engine.ask(TONGWULANG_QUESTION, top_k=5, offset=5).results[0]
    assert first.title in sent[1]["_plain"]

    context = next(d for d in keyboard(answer) if d.startswith("c:"))
    query = api.press(chat, answer["_message_id"], context)
    sent = api.wait_sent(chat, 3)
    assert api.callback_answered(query) is not None
    best = engine.ask(TONGWULANG_QUESTION, top_k=1).results[0]
    shown = sent[2]["_plain"]
    assert shown.startswith("原文")
    assert best.title in shown
    assert best.excerpt.strip()[:30] in shown
    assert sent[2]["reply_parameters"]["message_id"] == answer["_message_id"]


def test_unanswerable_question_gets_kind_note(api: FakeBotAPI) -> None:
    chat = new_chat()
    api.send_message(chat, "雄安新区到2035年规划的常住人口规模是多少？")  # no document says
    (reply,) = api.wait_sent(chat)
    assert "没有找到" in reply["_plain"] and "/sources" in reply["_plain"]
    # two candidates (原文 each), the votes, then 更多结果
    assert [d.split(":")[0] for d in keyboard(reply)] == ["c", "c", "f", "f", "m"]


def test_off_topic_question_gets_no_passages(api: FakeBotAPI) -> None:
    chat = new_chat()
    api.send_message(chat, "2022年卡塔尔世界杯冠军是谁？")
    (reply,) = api.wait_sent(chat)
    plain = reply["_plain"]
    assert len(plain) <= 400 and "/sources" in plain and "<blockquote" not in reply["text"]
    assert keyboard(reply) == ["q:0", "q:2"]  # two example questions to tap
    api.press(chat, reply["_message_id"], "q:0")
    assert TONGWULANG_QUESTION in api.wait_sent(chat, 2)[1]["_plain"]


def test_empty_and_overlong_questions(api: FakeBotAPI) -> None:
    chat = new_chat()
    api.send_message(chat, "/ask")
    api.send_message(chat, TONGWULANG_QUESTION * 1000)  # 10,000 characters
    sent = api.wait_sent(chat, 2)
    assert sent[0]["_plain"] == handlers.EMPTY_ASK
    assert "10000 个字" in sent[1]["_plain"] and "前 500 个字" in sent[1]["_plain"]


def test_sticker_and_photo_get_text_only_note(api: FakeBotAPI) -> None:
    chat = new_chat()
    api.send_sticker(chat)
    api.send_photo(chat)
    sent = api.wait_sent(chat, 2)
    assert [m["_plain"] for m in sent] == [handlers.NOT_TEXT] * 2


# -- groups -----------------------------------------------------------------------------


def test_group_answers_only_when_addressed(api: FakeBotAPI, tongwulang_title: str) -> None:
    group = -100 - new_chat()
    kind = {"chat_type": "supergroup", "user_id": 77}
    api.send_message(group, TONGWULANG_QUESTION, **kind)
    api.send_sticker(group, **kind)
    assert_quiet(api, group, 0, **kind)

    asked = api.send_message(group, f"@{api.username} {TONGWULANG_QUESTION}", **kind)
    answer = api.wait_sent(group, 2)[1]
    assert tongwulang_title in answer["_plain"]
    assert answer["reply_parameters"]["message_id"] == asked

    api.send_message(group, "京津冀协同发展的核心是什么", reply_to=answer["_message_id"], **kind)
    api.send_message(group, f"/ask@{api.username} {TONGWULANG_QUESTION}", **kind)
    api.send_message(group, f"@{api.username}", **kind)
    sent = api.wait_sent(group, 5)
    assert "京津冀协同发展的核心是什么" in sent[2]["_plain"]
    assert TONGWULANG_QUESTION in sent[3]["_plain"] and tongwulang_title in sent[3]["_plain"]
    assert sent[4]["_plain"] == handlers.EMPTY_MENTION


# -- limits -----------------------------------------------------------------------------


def test_allowlist_refuses_once(strict_api: FakeBotAPI) -> None:
    api = strict_api
    api.send_message(5002, TONGWULANG_QUESTION)
    (refusal,) = api.wait_sent(5002)
    assert refusal["_plain"] == handlers.REFUSED
    api.send_message(5002, "/start")
    api.send_message(5001, "/help")
    api.wait_sent(5001)
    time.sleep(0.5)
    assert len(api.sent(5002)) == 1


def test_whoami_tells_the_user_id_even_outside_the_allowlist(strict_api: FakeBotAPI) -> None:
    api = strict_api
    api.send_message(5009, "/whoami")  # not in TELEGRAM_ALLOWED_CHATS
    (reply,) = api.wait_sent(5009)
    assert "您的用户 id：5009" in reply["_plain"] and "TELEGRAM_ADMINS" in reply["_plain"]
    time.sleep(0.5)
    assert len(api.sent(5009)) == 1  # no refusal after it


def test_long_answer_is_split_at_excerpts(strict_api: FakeBotAPI) -> None:
    api = strict_api
    api.send_message(5003, "京津冀协同发展的核心是什么？")  # confident: the full layout
    # the buttons come with the last part of the answer
    api.wait_for(lambda: any(keyboard(m) for m in api.sent(5003)))
    sent = api.sent(5003)
    assert len(sent) >= 2
    assert all(len(m["_plain"]) <= 4096 for m in sent)
    assert "京津冀协同发展" in sent[0]["_plain"] and sent[1]["_plain"][:1].isdigit()
    assert [bool(keyboard(m)) for m in sent] == [False] * (len(sent) - 1) + [True]


def test_rate_limit_and_expired_buttons(strict_api: FakeBotAPI) -> None:
    api = strict_api
    for _ in range(6):
        api.send_message(5004, TONGWULANG_QUESTION)
    api.send_message(5004, "/help")
    api.wait_for(lambda: any("使用说明" in m["_plain"] for m in api.sent(5004)))
    texts = [m["_plain"] for m in api.sent(5004) if not m["_plain"][:1].isdigit()]
    assert sum(TONGWULANG_QUESTION in t for t in texts) == 3
    assert sum("太快" in t for t in texts) == 1

    answer = next(m for m in api.sent(5004) if keyboard(m))
    query = api.press(5004, answer["_message_id"], keyboard(answer)[0])
    answered = api.wait_for(lambda: api.callback_answered(query))
    assert answered["text"] == handlers.EXPIRED


# -- many chats at once -----------------------------------------------------------------


def test_burst_of_200_questions_from_20_chats(api: FakeBotAPI) -> None:
    chats = [9000 + i for i in range(20)]
    for question in BURST_QUESTIONS:
        for chat in chats:
            api.send_message(chat, question)

    def first_messages(chat: int) -> list[str]:
        # one answer = one message, except for continuation messages of a split answer
        return [m["_plain"] for m in api.sent(chat) if not m["_plain"][:1].isdigit()]

    api.wait_for(lambda: all(len(first_messages(c)) >= 10 for c in chats), timeout=240)
    for chat in chats:
        answers = first_messages(chat)
        assert len(answers) == 10
        for question, text in zip(BURST_QUESTIONS, answers, strict=True):
            assert question in text, (chat, question, text[:60])


# -- start-up and deployment ------------------------------------------------------------


def test_webhook_mode(engine: Any, tongwulang_title: str) -> None:
    port = free_port()
    webhook = {
        "webhook_url": "https://bot.example/tg/hook",
        "webhook_listen": "127.0.0.1",
        "webhook_port": port,
        "webhook_secret": "s3cret",
    }
    with FakeBotAPI() as api:
        bot = RunningBot(api, engine, webhook=webhook).start()
        try:
            registered = api.calls_of("setWebhook")[0].params
            assert registered["url"] == webhook["webhook_url"]
            assert registered["secret_token"] == "s3cret"

            def post(update: dict, secret: str) -> int:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/tg/hook",
                    data=json.dumps(update).encode(),
                    headers={
                        "Content-Type": "application/json",
                        "X-Telegram-Bot-Api-Secret-Token": secret,
                    },
                )
                try:
                    with urllib.request.urlopen(request, timeout=10) as response:
                        return response.status
                except urllib.error.HTTPError as exc:
                    return exc.code

            update = api.make_message(4242, TONGWULANG_QUESTION)
            assert post(dict(update, update_id=1), "wrong") == 403
            assert post(dict(update, update_id=2), "s3cret") == 200
            (answer,) = api.wait_sent(4242)
            assert tongwulang_title in answer["_plain"]
        finally:
            bot.stop()
        assert api.errors == []


def test_new_index_is_picked_up_without_restart(tmp_path: Path, engine: Any) -> None:
    from bot.open_index import build_shipped_index
    from corpus.loading import load_corpus, shipped_corpus_dir
    from retrieval.backends.local import LocalBackend
    from retrieval.backends.local.ingest import ingest
    from retrieval.engine import AnswerEngine

    index_dir = tmp_path / "index"
    build_shipped_index(LocalBackend(index_dir), index_dir, embedder=engine.embedder)
    live = AnswerEngine.open(index_dir, embedder=engine.embedder)
    api, bot = start_bot(live, refresh_interval=0.0)
    try:
        api.send_message(4343, "/sources")
        count = len(live.sources())
        assert f"（{count} 篇）" in api.wait_sent(4343)[0]["_plain"]

        extra = tmp_path / "extra"
        extra.mkdir()
        (extra / "live-reload-note.txt").write_text(
            "热更新测试文件\n\n这份测试文件说明：索引更新后机器人无需重启即可回答新文件中的问题。\n",
            encoding="utf-8",
        )
        documents = load_corpus([shipped_corpus_dir(), extra]).documents
        ingest(index_dir, documents, engine.embedder, progress=False, log=lambda _: None)

        api.send_message(4343, "/sources")
        assert f"（{count + 1} 篇）" in api.wait_sent(4343, 2)[1]["_plain"]
    finally:
        bot.stop()
        api.stop()
    assert api.errors == []


# -- under load and change (the seed engine) -----------------------------------------


QUESTIONS = ["通武廊签署了什么协议", "京津冀协同发展的核心是什么", "雄安新区"]


def test_every_answer_arrives_in_order_when_telegram_says_429(seed_engine: Any) -> None:
    api, bot = start_bot(seed_engine)
    try:
        api.flood("sendMessage", every=3, retry_after=1)
        chats = [new_chat(), new_chat()]
        for question in QUESTIONS:
            for chat in chats:
                api.send_message(chat, question)
        for chat in chats:
            sent = api.wait_for(
                lambda c=chat: (m := api.sent(c)) and len(m) >= len(QUESTIONS) and m,
                timeout=120,
            )
            heads = [m["_plain"].split("\n", 1)[0] for m in sent]
            # A confident reply opens with 问：question, a doubtful one with a note quoting it.
            assert len(heads) == len(QUESTIONS), heads
            assert all(q in head for q, head in zip(QUESTIONS, heads, strict=True)), heads
        assert len(api.flooded) >= 2  # Telegram did refuse some, and each was retried
        assert not any(handlers.FAILED in m["_plain"] for c in chats for m in api.sent(c))
    finally:
        bot.stop()
        api.stop()
    assert api.errors == []


def test_sources_command_is_paged_with_buttons(seed_engine: Any, monkeypatch) -> None:
    monkeypatch.setattr(render, "SOURCES_PER_PAGE", 2)  # 5 documents: 3 pages
    api, bot = start_bot(seed_engine)
    try:
        chat = new_chat()
        api.send_message(chat, "/sources")
        (first,) = api.wait_sent(chat)
        assert "第 1/3 页" in first["_plain"] and keyboard(first) == ["s:1"]
        api.press(chat, first["_message_id"], "s:1")
        edit = api.wait_for(lambda: api.calls_of("editMessageText"))[0].params
        assert "第 2/3 页" in edit["text"] and keyboard({"reply_markup": edit["reply_markup"]}) == [
            "s:0",
            "s:2",
        ]
        assert len(api.sent(chat)) == 1  # the page changed in place, no new messages
    finally:
        bot.stop()
        api.stop()
    assert api.errors == []


DOCS = {
    "a.txt": "甲文件\n雄安新区设立于2017年4月1日。雄安新区规划建设以特定区域为起步区。\n",
    "b.txt": "乙文件\n通武廊三地签署了区域一体化高质量发展试点示范合作协议。\n",
}


@pytest.fixture
def changing_index(tmp_path: Path, embedder: Any):
    corpus = write_corpus(tmp_path / "corpus", DOCS)

    engines: list[AnswerEngine] = []

    def build() -> None:
        docs = load_corpus([corpus]).documents
        ingest(tmp_path / "index", docs, embedder, progress=False, log=lambda _m: None)
        # The bot loads new versions without blocking: a button pressed while its background
        # refresh is still loading would be answered from the old version. Wait (bounded)
        # until the engine has switched, so the next press sees the version just built.
        deadline = time.monotonic() + 30
        while engines and engines[0].version != current_version(tmp_path / "index"):
            assert time.monotonic() < deadline, "the new index version was never loaded"
            engines[0].refresh()
            time.sleep(0.02)

    build()
    engines.append(AnswerEngine.open(tmp_path / "index", embedder=embedder))
    return corpus, build, engines[0]


def test_buttons_notice_that_the_index_changed(changing_index: Any) -> None:
    corpus, build, engine = changing_index
    api, bot = start_bot(engine, refresh_interval=0.0, top_k=1)
    try:
        chat = new_chat()
        api.send_message(chat, "雄安新区什么时候设立？")
        (answer,) = api.wait_sent(chat)
        assert "2017年4月1日" in answer["_plain"]
        context = next(d for d in keyboard(answer) if d.startswith("c:"))
        more = next(d for d in keyboard(answer) if d.startswith("m:"))

        (corpus / "b.txt").write_text(DOCS["b.txt"] + "补充。\n", encoding="utf-8")
        build()  # another document changed: the excerpt is still quoted right
        api.press(chat, answer["_message_id"], context)
        sent = api.wait_sent(chat, 2)
        assert sent[1]["_plain"].startswith("原文") and "2017年4月1日" in sent[1]["_plain"]

        (corpus / "a.txt").write_text("甲文件\n雄安新区设立于2017年4月。\n", encoding="utf-8")
        build()  # the answer's own document changed: its offsets mean nothing now
        api.press(chat, answer["_message_id"], context)
        sent = api.wait_sent(chat, 3)
        assert sent[2]["_plain"] == handlers.CHANGED
        api.press(chat, answer["_message_id"], more)
        sent = api.wait_sent(chat, 4)
        assert sent[3]["_plain"] == handlers.CHANGED
        (again,) = keyboard(sent[3])
        api.press(chat, sent[3]["_message_id"], again)
        sent = api.wait_sent(chat, 5)
        assert "2017年4月" in sent[4]["_plain"] and "2017年4月1日" not in sent[4]["_plain"]
    finally:
        bot.stop()
        api.stop()
    assert api.errors == []
