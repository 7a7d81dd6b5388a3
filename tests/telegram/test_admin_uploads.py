"""Admin uploads: a document sent by an admin is ingested, answered and announced; files that
change nothing are refused with a reason (bot/telegram/admin.py, bot/index_update.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

from bot.cli import main
from bot.index_update import read_origin, with_uploads, write_origin
from bot.telegram import admin, handlers, notices
from bot.telegram.admin import safe_name
from corpus.loading import shipped_corpus_dir
from retrieval.backends.local.folder import current_version
from retrieval.ingest.plan import LOCK
from tests.support.telegram import ADMIN, USER, Bot, plain

MAGLEV = {
    "doc_id": "maglev-2031",
    "title": "雄安新区磁悬浮示范线建设方案",
    "date": "2031-01-15",
    "source": "测试文件",
    "text": "雄安新区磁悬浮示范线建设方案\n\n根据方案，雄安新区将于2031年开通一条连接启动区与"
    "白洋淀的磁悬浮示范线，全长二十八公里，沿线设六座车站。",
}


MAGLEV_QUESTION = "雄安新区的磁悬浮示范线什么时候开通"


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


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\evil.md", "evil.md"),
        (".hidden.md", "hidden.md"),
        ("磁悬浮 方案.JSONL", "磁悬浮_方案.jsonl"),
        ("", "upload"),
    ],
)
def test_safe_upload_names(name: str, safe: str) -> None:
    assert safe_name(name) == safe


def test_origin_note(tmp_path: Path) -> None:
    assert read_origin(tmp_path, "v1") is None
    write_origin(tmp_path, "watch", None)  # under way: whatever it publishes is its own
    assert read_origin(tmp_path, "v2") == "watch"
    write_origin(tmp_path, "upload", "v2")
    assert read_origin(tmp_path, "v2") == "upload"
    assert read_origin(tmp_path, "v3") is None  # published by something that left no note


def test_uploads_folder_joins_every_ingest(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    assert with_uploads(tmp_path, [folder]) == [folder]
    (tmp_path / "uploads").mkdir()
    uploads = (tmp_path / "uploads").resolve()
    assert with_uploads(tmp_path, [folder]) == [folder, uploads]
    assert with_uploads(tmp_path, [uploads, folder]) == [uploads, folder]
