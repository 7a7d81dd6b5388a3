"""What a new user trips over on the command line (issue 29): help that loads nothing heavy
and says what each command does, a closed pipe, an index path that is a file, a question
over the length limit, a batch line without a question, the console's quit words,
``python -m bot sources``, and ``ingest`` saying which folders drop out."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot import cli, commands, console
from bot.console_render import CLI_SOURCES, Style, render_answer
from retrieval.answer import Answer, Result
from retrieval.engine import MAX_QUESTION_CHARS
from retrieval.errors import QueryError
from tests.support import ROOT
from tests.support.corpora import write_corpus

HEAVY = ("numpy", "faiss", "torch", "telegram", "fastapi", "retrieval.engine", "jieba")


def _main(*argv: str) -> int:
    try:
        return cli.main(list(argv))
    except SystemExit as exc:  # argparse's --help and usage errors
        return int(exc.code or 0)


@pytest.mark.parametrize("argv", [["--help"], ["ask", "--help"], ["ask", "--top-k", "x"]])
def test_help_and_argument_errors_import_nothing_heavy(argv):
    probe = (
        "import sys\nfrom bot.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules], file=sys.stderr)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert proc.stderr.strip().splitlines()[-1] == "[]", proc.stderr


def test_retrieval_names_load_on_first_use():
    probe = (
        "import sys, retrieval\nassert 'retrieval.engine' not in sys.modules\n"
        "from retrieval import AnswerEngine, QueryError\n"
        "print(AnswerEngine.__module__, QueryError.__module__)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert proc.stdout.split() == ["retrieval.engine", "retrieval.errors"], proc.stderr


COMMANDS = ("ingest", "ask", "sources", "console", "eval", "model", "check", "feedback",
            "serve", "telegram")  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_help_says_what_it_does_with_examples_and_real_defaults(
    command, capsys, monkeypatch
):
    # argparse wraps long words at hyphens: names without any keep the test simple
    monkeypatch.setenv("QABOT_INDEX", "/nowhere/qabot_index")
    monkeypatch.setenv("QABOT_CACHE_DIR", "/nowhere/qabot_cache")
    assert _main(command, "--help") == 0
    out = capsys.readouterr().out
    assert "example" in out and f"python -m bot {command}" in out
    summary, description, _ = cli.HELP[command]
    assert description.split()[0] in out  # the description, not only the one-line summary
    if command != "model":
        assert "default: /nowhere/qabot_index (from QABOT_INDEX)" in " ".join(out.split())
    else:
        assert "embedding model" in out and "/nowhere/qabot_cache" in out


def test_readme_command_table_names_every_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for command in COMMANDS:
        assert f"`python -m bot {command}" in readme, command


def test_a_closed_pipe_ends_quietly():
    read, write = os.pipe()
    os.close(read)  # `python -m bot --help | head -0`: the reader is gone before any write
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "bot", "--help"],
            cwd=ROOT,
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write)
    assert proc.returncode in (0, cli.CLOSED_PIPE) and proc.stderr == ""


def test_a_broken_pipe_on_stdout_inside_a_command_is_quiet(monkeypatch, capfd):
    read, write = os.pipe()
    os.close(read)
    saved = os.dup(1)
    os.dup2(write, 1)

    def chatty(_args, _settings):
        for _ in range(100_000):
            print("收录文件" * 10)
        return 0

    monkeypatch.setattr(commands, "run_sources", chatty)
    monkeypatch.setattr(sys, "stdout", open(1, "w", closefd=False))  # noqa: SIM115
    try:
        code = cli.main(["sources"])
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(write)
    assert code == cli.CLOSED_PIPE
    assert "error" not in capfd.readouterr().err


def test_a_broken_pipe_elsewhere_is_still_an_error(monkeypatch, capsys):
    def broken(_args, _settings):
        raise BrokenPipeError(32, "Broken pipe")  # a socket, say: stdout is fine

    monkeypatch.setattr(commands, "run_sources", broken)
    assert cli.main(["sources"]) == 2
    assert "error: Broken pipe" in capsys.readouterr().err


def test_an_index_path_that_is_a_file_is_named_as_given(tmp_path, capsys):
    state = tmp_path / "bot-state"
    state.write_text("not a folder", encoding="utf-8")
    assert cli.main(["ingest", "--index", str(state)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"error: the index folder {state} (--index) is a file, not a folder; "
        "name a folder (it is created if missing)"
    )


# -- ask: a long question, a batch line without one --------------------------------------


class FakeEngine:
    """Records questions; answers with one result, or raises as the engine does."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def ask(self, question: str, top_k: int = 5, offset: int = 0) -> Answer:
        if not question.strip():
            raise QueryError("the question is empty: type a question in Chinese or English")
        self.asked.append(question)
        result = Result(1, "d.txt", "标题", None, None, 1.0, "摘录。", 0, 3, ((0, 3),))
        return Answer(question, True, [result])


@pytest.fixture
def fake_engine(monkeypatch):
    engine = FakeEngine()
    monkeypatch.setattr(commands, "open_engine", lambda _settings: engine)
    monkeypatch.setattr(console, "open_engine", lambda _settings: engine)
    return engine


def test_a_question_over_the_limit_is_said_shortened_and_echoed(fake_engine, capsys):
    long = "通武廊" * 300  # 900 characters
    assert cli.main(["ask", "--json", long]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["question"] == long[:MAX_QUESTION_CHARS] == fake_engine.asked[-1]
    assert data["truncated"] is True
    assert cli.main(["ask", long]) == 0
    out = capsys.readouterr().out
    note = f"您的问题有 900 个字，太长了，只按前 {MAX_QUESTION_CHARS} 个字检索：「通武廊"
    assert out.startswith(note)
    assert cli.main(["ask", "--json", "通武廊"]) == 0
    assert "truncated" not in json.loads(capsys.readouterr().out)


def test_a_batch_line_without_a_question_keeps_its_id(fake_engine, tmp_path, capsys):
    batch = tmp_path / "q.jsonl"
    rows = [{"id": "a", "question": "京津冀"}, {"id": "b", "question": "  "}, {"id": "c"}]
    batch.write_text("\n".join(json.dumps(r) for r in rows) + "\nnot json\n", encoding="utf-8")
    assert cli.main(["ask", "--batch", str(batch), "--json"]) == 1
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o["id"] for o in out] == ["a", "b", "c", None]
    assert "empty" in out[1]["error"] and out[1]["line"] == 2
    assert out[2]["line"] == 3 and out[3]["line"] == 4


def test_the_nothing_found_note_names_this_interface_s_sources_command():
    off = Answer("2022年卡塔尔世界杯冠军是谁？", False, [], off_topic=True)
    assert "用 /sources 查看" in render_answer(off, Style(False))
    cli_note = render_answer(off, Style(False), sources=CLI_SOURCES)
    assert "用 python -m bot sources 查看" in cli_note and "/sources" not in cli_note


# -- the console ------------------------------------------------------------------------


@pytest.mark.parametrize("word", ["exit", "quit", "q", "Q", "退出", "/quit"])
def test_console_quit_words_are_commands_not_questions(word, fake_engine, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"clear\n{word}\n通武廊\n"))
    assert cli.main(["console"]) == 0
    assert fake_engine.asked == []  # neither clear nor the quit word was searched, and it quit
    assert "\033[" not in capsys.readouterr().out  # clear draws nothing on a pipe


# -- sources and ingest on a real index --------------------------------------------------


@pytest.mark.slow
def test_sources_pages_and_json(seed_index, capsys):
    assert cli.main(["sources", "--index", str(seed_index), "--per-page", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "收录文件（5 篇） · 第 1/3 页" and out[1].startswith("  1. 《")
    assert out[-1].startswith("下一页：python -m bot sources --page 2")
    assert cli.main(["sources", "--index", str(seed_index), "--all", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["total"], data["pages"], len(data["sources"])) == (5, 1, 5)
    dates = [s["date"] for s in data["sources"]]
    assert dates == sorted(dates, key=lambda d: d or "", reverse=True)  # newest first
    assert set(data["sources"][0]) == {"doc_id", "title", "date", "source", "url", "chars"}


@pytest.mark.slow
def test_ingest_corpus_says_which_folders_drop_out_and_add_corpus_keeps_them(
    seed_index, tmp_path, capfd
):
    index = Path(shutil.copytree(seed_index, tmp_path / "index"))
    docs = write_corpus(tmp_path / "docs", {"a.txt": "临港氢能示范园区计划于2031年建成。\n" * 5})
    assert cli.main(["ingest", "--index", str(index), "--corpus", str(docs), "--dry-run"]) == 0
    captured = capfd.readouterr()
    assert "is no longer included — 5 documents will be removed" in captured.err
    assert "seed" in captured.err.split("the folders change: ")[1]
    assert "added 1 · changed 0 · removed 5" in captured.out

    assert cli.main(["ingest", "--index", str(index), "--add-corpus", str(docs), "--dry-run"]) == 0
    captured = capfd.readouterr()
    assert "folders change" not in captured.err
    assert "added 1 · changed 0 · removed 0" in captured.out


def test_the_tokenising_bar_reaches_its_total(tmp_path):
    """cache_tokens reads exactly as many results as there are texts (islice), so a tick
    after the last batch's yield never ran and the bar stayed at 0 %."""
    from retrieval.ingest.embedding_cache import EmbeddingCache
    from retrieval.ingest.prepare import cache_tokens, text_hash

    texts = [f"京津冀协同发展第{i}条" for i in range(40)]
    by_hash = {text_hash(t): t for t in texts}
    ticks: list[int] = []
    with EmbeddingCache(tmp_path / "cache.sqlite") as cache:
        cache_tokens(cache, list(by_hash), by_hash, ticks.append)
    assert sum(ticks) == len(texts) and len(ticks) > 1  # it moves on the way, too
