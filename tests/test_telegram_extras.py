"""Inline mode, feedback, admin uploads, /stats and subscriptions, end to end: the real
Application polling the fake Bot API, the real engine on a copy of the seed index, real
SQLite."""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

from bot.cli import main
from bot.index_update import state_dir
from bot.telegram import admin, feedback, handlers, notices
from bot.telegram.sqlite_state import FILENAME
from corpus.loading import shipped_corpus_dir
from retrieval.backends.local.folder import current_version
from retrieval.evaluation import read_queries
from retrieval.ingest.plan import LOCK
from tests.support.fake_bot_api import FakeBotAPI
from tests.support.telegram import RunningBot, keyboard

QUESTION = "通武廊签署了什么协议"
ADMIN = 7001
USER = 7002
MAGLEV = {
    "doc_id": "maglev-2031",
    "title": "雄安新区磁悬浮示范线建设方案",
    "date": "2031-01-15",
    "source": "测试文件",
    "text": "雄安新区磁悬浮示范线建设方案\n\n根据方案，雄安新区将于2031年开通一条连接启动区与"
    "白洋淀的磁悬浮示范线，全长二十八公里，沿线设六座车站。",
}
MAGLEV_QUESTION = "雄安新区的磁悬浮示范线什么时候开通"


@pytest.fixture
def index_dir(seed_index: Path, tmp_path: Path) -> Path:
    """A private copy of the seed index (without any bot state), free to change."""
    target = tmp_path / "index"
    shutil.copytree(seed_index, target, ignore=shutil.ignore_patterns("bot-state", "uploads"))
    return target


@pytest.fixture
def engine(index_dir: Path) -> Any:
    from retrieval.engine import AnswerEngine

    return AnswerEngine.open(index_dir)


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


@pytest.fixture
def bot(engine: Any):
    running = Bot(engine)
    yield running
    running.stop()


def flag(value: object) -> bool:
    """A boolean parameter as it arrives in a form body (``"true"``) or JSON."""
    return str(value).lower() == "true"


def plain(api: FakeBotAPI, chat: int) -> list[str]:
    return [m["_plain"] for m in api.sent(chat)]


# -- inline mode --------------------------------------------------------------------------


def test_inline_query_lists_cited_excerpts(bot: Bot, engine: Any) -> None:
    api = bot.api
    typing, full = api.inline_queries(USER, "通武", QUESTION)  # keystrokes arriving together
    answer = api.wait_for(lambda: api.inline_answer(full))
    assert api.inline_answer(typing) is None  # superseded while debouncing: never searched

    expected = engine.ask(QUESTION, top_k=5).results
    results = answer["results"]
    assert [r["title"] for r in results] == [r.title for r in expected]
    best = expected[0]
    (a, b), *_ = best.marks
    description = results[0]["description"].removesuffix("…")  # long sentences are shortened
    assert description and description in " ".join(best.excerpt[a:b].split())
    content = results[0]["input_message_content"]
    assert content["parse_mode"] == "HTML" and "<blockquote" in content["message_text"]
    assert content["_plain"].startswith(f"问：{QUESTION}") or "没有找到" in content["_plain"]
    assert best.title in content["_plain"] and description[:20] in content["_plain"]
    assert not flag(answer.get("is_personal"))  # no allowlist: Telegram may share the answer

    answered = bot.data["state"].answer_stats(0)[1]
    (again,) = api.inline_queries(USER + 1, f"  {QUESTION} ")
    cached = api.wait_for(lambda: api.inline_answer(again))
    assert cached["results"] == results
    assert bot.data["state"].answer_stats(0)[1] == answered  # from the cache, not the engine

    (empty,) = api.inline_queries(USER, "")
    assert api.wait_for(lambda: api.inline_answer(empty))["results"] == []


def test_inline_query_respects_allowlist(engine: Any) -> None:
    bot = Bot(engine, allowed_chats=frozenset({USER}))
    try:
        api = bot.api
        (refused,) = api.inline_queries(USER + 5, QUESTION)
        (allowed,) = api.inline_queries(USER, QUESTION)
        no = api.wait_for(lambda: api.inline_answer(refused))
        assert no["results"] == [] and no["button"]["text"] == handlers.REFUSED
        yes = api.wait_for(lambda: api.inline_answer(allowed))
        assert yes["results"] and flag(yes["is_personal"])
    finally:
        bot.stop()


# -- feedback -----------------------------------------------------------------------------


def _votes(index_dir: Path) -> list[tuple]:
    with sqlite3.connect(state_dir(index_dir) / FILENAME) as db:
        return db.execute("SELECT chat, vote, question, results, version FROM feedback").fetchall()


def test_feedback_is_stored_and_reported(
    bot: Bot, engine: Any, index_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api = bot.api
    api.send_message(USER, QUESTION)
    api.send_message(USER + 1, QUESTION)
    (answer,) = api.wait_sent(USER)
    (other,) = api.wait_sent(USER + 1)
    buttons = keyboard(answer)
    up, down = (d for d in buttons if d.startswith("f:"))
    assert buttons[0].startswith("c:") and buttons[-1].startswith("m:")
    for data in (up, down):  # a chat's later vote replaces its earlier one
        query = api.press(USER, answer["_message_id"], data)
        assert api.wait_for(lambda q=query: api.callback_answered(q))["text"]
    assert api.callback_answered(query)["text"] == feedback.THANKS_DOWN

    (row,) = _votes(index_dir)
    chat, vote, question, shown, version = row
    assert vote == -1 and question == QUESTION and version == engine.version
    assert str(USER) not in chat and len(chat) == 16  # a salted hash, not the chat id
    expected = engine.ask(QUESTION, top_k=5).results
    assert [(r["doc_id"], r["start"], r["end"]) for r in json.loads(shown)] == [
        (r.doc_id, r.start, r.end) for r in expected
    ]

    bot.restart()  # buttons and votes live in SQLite: they survive a restart
    query = api.press(
        USER + 1, other["_message_id"], next(d for d in keyboard(other) if ":up" in d)
    )
    assert api.wait_for(lambda: api.callback_answered(query))["text"] == feedback.THANKS_UP
    context = api.press(USER, answer["_message_id"], buttons[0])
    assert api.wait_sent(USER, 2)[1]["_plain"].startswith("原文")
    assert api.callback_answered(context) is not None and len(_votes(index_dir)) == 2

    assert main(["feedback", "--index", str(index_dir), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["votes"] == {"up": 1, "down": 1}
    assert [q["question"] for q in report["down_questions"]] == [QUESTION]
    top = next(d for d in report["documents"] if d["doc_id"] == expected[0].doc_id)
    assert top == {"doc_id": top["doc_id"], "title": expected[0].title, "up": 1, "down": 1}

    exported = tmp_path / "complaints.jsonl"
    assert main(["feedback", "--index", str(index_dir), "--export-queries", str(exported)]) == 0
    out, err = capsys.readouterr()
    assert "2 votes (👍 1, 👎 1)" in out and QUESTION in out and "wrote 1" in err
    (query_record,) = read_queries(exported)
    assert query_record.question == QUESTION and query_record.doc_id is None

    tomorrow = (date.today() + timedelta(days=2)).isoformat()
    assert main(["feedback", "--index", str(index_dir), "--since", tomorrow, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["votes"] == {"up": 0, "down": 0}


# -- uploads, notices, /stats -------------------------------------------------------------


def _wait_checked(bot: Bot, version: str) -> None:
    """Until the bot runs on ``version`` and has looked for new documents twice since."""
    service = bot.data["service"]
    bot.api.wait_for(lambda: service.engine.version == version, timeout=30)
    seen = bot.data["notices"].checks
    bot.api.wait_for(lambda: bot.data["notices"].checks >= seen + 2, timeout=30)


def test_admin_upload_is_answered_and_announced(
    bot: Bot, index_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api = bot.api
    api.send_message(USER, "/subscribe")
    assert api.wait_sent(USER)[0]["_plain"] == notices.SUBSCRIBED
    bot.restart()  # subscriptions persist
    api.send_message(USER, "/subscribe")
    assert api.wait_sent(USER, 2)[1]["_plain"] == notices.ALREADY

    upload = (json.dumps(MAGLEV, ensure_ascii=False) + "\n").encode()
    api.send_document(ADMIN, "磁悬浮 方案.jsonl", upload)
    reply = api.wait_for(lambda: [t for t in plain(api, ADMIN) if "已导入" in t])[0]
    assert "新收录：" + MAGLEV["title"] in reply and "2031-01-15 · 1 段" in reply
    assert "added 1 · changed 0 · removed 0 · unchanged 5" in reply
    assert (index_dir / "uploads" / "磁悬浮_方案.jsonl").is_file()

    notice = api.wait_sent(USER, 3)[2]["_plain"]
    assert notice.startswith("新收录：") and MAGLEV["title"] in notice and "2031-01-15" in notice
    assert "管理员上传" in notice

    api.send_message(ADMIN, MAGLEV_QUESTION)
    answer = api.wait_for(lambda: [t for t in plain(api, ADMIN) if MAGLEV_QUESTION in t])[0]
    assert "2031年开通" in answer and MAGLEV["title"] in answer

    # `python -m bot ingest` that changes a document but adds none: no notice. (Uploads stay
    # part of the index's corpus even when --corpus names other folders.)
    changed = dict(MAGLEV, text=MAGLEV["text"] + "首期工程投资一百亿元。")
    (index_dir / "uploads" / "磁悬浮_方案.jsonl").write_text(
        json.dumps(changed, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    seed = ["--corpus", str(shipped_corpus_dir())]
    assert main(["ingest", "--index", str(index_dir), *seed]) == 0
    assert "added 0 · changed 1 · removed 0 · unchanged 5" in capsys.readouterr().out
    _wait_checked(bot, current_version(index_dir))
    assert len(api.sent(USER)) == 3

    # one that adds a document: one notice, naming it and where it came from
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "park.txt").write_text(
        "通州湿地公园扩建说明\n\n测试文件：湿地公园将扩建到一千公顷。\n", encoding="utf-8"
    )
    assert main(["ingest", "--index", str(index_dir), *seed, "--corpus", str(extra)]) == 0
    assert "added 1 · changed 0 · removed 0 · unchanged 6" in capsys.readouterr().out
    _wait_checked(bot, current_version(index_dir))
    sent = plain(api, USER)
    assert len(sent) == 4 and "通州湿地公园扩建说明 · 日期不详" in sent[3]
    assert "命令行导入" in sent[3] and "雄安" not in sent[3]


def test_uploads_that_change_nothing(bot: Bot, engine: Any, index_dir: Path) -> None:
    api = bot.api
    version = engine.version
    api.send_document(USER, "notes.txt", "普通用户的文件".encode())
    assert api.wait_sent(USER)[0]["_plain"] == handlers.NOT_TEXT

    api.send_document(ADMIN, "broken.pdf", b"%PDF-1.4 this is not really a pdf")
    api.send_document(ADMIN, "huge.pdf", b"%PDF-1.4", file_size=25 * 1024 * 1024)
    api.send_document(ADMIN, "tool.exe", b"MZ")
    api.send_document(ADMIN, "empty.txt", b"  \n")
    broken, huge, exe, empty = (m["_plain"] for m in api.wait_sent(ADMIN, 4))
    assert broken.startswith("无法读取这个文件：cannot read PDF") and "索引没有变化" in broken
    assert "太大（25.0 MB）" in huge and "20 MB" in huge
    assert exe.startswith("不支持这种文件（.exe）") and ".docx" in exe
    assert empty.startswith("无法读取这个文件：") and "empty" in empty

    assert [c.params["file_id"] for c in api.calls_of("getFile")] == [
        "BQACAgIAAx0001",
        "BQACAgIAAx0004",
    ]  # only the two admin files within limits and of a supported type were fetched

    with FileLock(str(index_dir / LOCK)):  # an ingest is running elsewhere
        api.send_document(ADMIN, "note.txt", "通知\n\n一份可以读取的测试文件。".encode())
        assert api.wait_sent(ADMIN, 5)[4]["_plain"] == admin.BUSY

    assert engine.version == version
    assert sorted(p.name for p in (index_dir / "uploads").iterdir()) == [".incoming"]
    assert list((index_dir / "uploads" / ".incoming").iterdir()) == []


def test_stats_for_admins(bot: Bot, engine: Any, index_dir: Path, embedder: Any) -> None:
    from corpus.loading import load_corpus
    from retrieval.backends.local.ingest import ingest

    api = bot.api
    api.send_message(USER, "/stats")
    assert api.wait_sent(USER)[0]["_plain"] == admin.ADMINS_ONLY

    for question in (QUESTION, "京津冀协同发展的核心是什么"):
        api.send_message(ADMIN, question)
    answers = api.wait_for(lambda: [m for m in api.sent(ADMIN) if keyboard(m)][:2])
    vote = next(d for d in keyboard(answers[0]) if d.endswith(":up"))
    api.press(ADMIN, answers[0]["_message_id"], vote)
    api.send_message(USER, "/subscribe")
    api.wait_sent(USER, 2)
    api.send_message(ADMIN, "/stats")
    stats = api.wait_for(lambda: [t for t in plain(api, ADMIN) if t.startswith("运行统计")])[0]

    documents = load_corpus([shipped_corpus_dir()]).documents
    chunks = ingest(index_dir, documents, embedder, dry_run=True, progress=False).chunks
    assert f"文件：{len(engine.sources())} 篇 · 段落：{chunks} 个" in stats
    assert f"索引版本：{engine.version}（" in stats and "生成）" in stats
    assert "回答问题：今天 2 · 共 2" in stats
    assert "反馈：👍 1 · 👎 0" in stats and "订阅新文件通知：1 个聊天" in stats
    p50 = float(stats.split("检索用时 p50：")[1].split(" ms")[0])
    assert 0 < p50 < 60_000
