"""The command line as a person uses it: real subprocesses, real index."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from retrieval.backends.local.folder import MANIFEST, current_version, version_dir
from retrieval.backends.local.store import STORE
from tests.support import ROOT
from tests.support.cli import assert_one_line_error, bot


def test_ask_json_follows_the_contract(seed_index):
    proc = bot(
        "ask", "--index", str(seed_index), "--json", "--top-k", "2", "通武廊签署了什么协议？"
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["question"] == "通武廊签署了什么协议？" and data["confident"] is True
    assert data["off_topic"] is False
    assert len(data["results"]) == 2
    top = data["results"][0]
    assert top["doc_id"] == "tongwulang-pilot-agreement-2023.txt" and top["rank"] == 1
    assert top["end"] - top["start"] == len(top["excerpt"])


def test_ask_prints_the_answer_line_first_and_full_on_request(seed_index):
    question = "通武廊在政务服务方面要全面实现什么？"
    proc = bot("ask", "--index", str(seed_index), question)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("[1] ") and "一地受理、异地审批" in lines[0]
    assert lines[1].strip().startswith("— 《“通武廊”签署试点示范合作协议》 · 2023-05-31")
    context = proc.stdout.index("【", len(lines[0]))  # the context follows, mark in 【】
    assert "一地受理、异地审批" in proc.stdout[context:]
    # the file name and character range come after the context, not in the citation line
    assert "tongwulang-pilot-agreement-2023.txt" not in lines[1]
    located = proc.stdout.index("    （tongwulang-pilot-agreement-2023.txt 第")
    assert context < located < proc.stdout.index("\n[2] ")

    full = bot("ask", "--index", str(seed_index), "--full", "--top-k", "1", question).stdout
    answer = json.loads(bot("ask", "--index", str(seed_index), "--json", question).stdout)
    top = answer["results"][0]
    assert top["excerpt"].split("\n")[0] in full  # whole excerpt, as before
    (start, end), *_ = top["marks"]
    assert f"【{top['excerpt'][start:end]}】" in full


def test_ask_off_topic_prints_only_the_note(seed_index):
    proc = bot("ask", "--index", str(seed_index), "2022年卡塔尔世界杯冠军是谁？")
    assert proc.returncode == 0, proc.stderr
    assert "python -m bot sources" in proc.stdout  # the CLI names its own command
    assert "[1]" not in proc.stdout and len(proc.stdout) <= 400


def test_ask_batch_writes_one_line_per_question_in_order(seed_index, tmp_path):
    batch = tmp_path / "q.jsonl"
    rows = [
        {"id": "a", "question": "京津冀政協主席聯席會議第六次會議在哪裡召開？"},
        {"id": "b", "question": "   "},
        {"id": "c", "question": "北京大兴国际机场计划什么时候通航？"},
    ]
    batch.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    proc = bot("ask", "--index", str(seed_index), "--batch", str(batch), "--json")
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [o.get("id") for o in out] == ["a", "b", "c"]  # an error line keeps its id
    assert out[0]["results"][0]["doc_id"] == "jjj-cppcc-joint-meeting-2020.txt"
    assert "empty" in out[1]["error"] and out[1]["line"] == 2
    assert out[2]["results"][0]["doc_id"] == "beijing-jjj-work-plan-2019.txt"
    assert proc.returncode == 1  # one line failed


def test_eval_reports_metrics_as_json(seed_index):
    queries = ROOT / "tests" / "data" / "seed_questions.jsonl"
    proc = bot("eval", "--index", str(seed_index), "--queries", str(queries), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    # measured: 0.905 / 0.667 (test_answer_core.test_seed_question_set_meets_quality_targets)
    assert report["recall_at_5"] >= 0.95 and report["unanswerable_not_confident"] >= 0.66
    assert report["answerable_confident"] >= 0.90


def test_people_errors_are_one_clear_line(tmp_path):
    assert_one_line_error(bot("ask", "  "), "question is empty")
    assert_one_line_error(
        bot("ingest", "--corpus", str(tmp_path / "nope")), "corpus folder not found"
    )
    assert_one_line_error(bot("ask", "--index", str(tmp_path / "none"), "京津冀"), "no index in")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "ok"}\nnot json\n', encoding="utf-8")
    assert_one_line_error(bot("eval", "--queries", str(bad)), "bad.jsonl:2")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_one_line_error(
        bot("ingest", "--corpus", str(empty), "--index", str(tmp_path / "i")),
        "no readable documents",
    )
    model = {"QABOT_MODEL": str(tmp_path / "missing-model")}
    assert_one_line_error(bot("model", env=model), "embedding model folder not found")


def test_help_lists_the_commands():
    proc = bot("--help")
    assert proc.returncode == 0
    for command in ("ingest", "ask", "console", "eval", "model", "telegram"):
        assert command in proc.stdout


# -- faults people make --------------------------------------------------------------


def copy_index(seed_index: Path, tmp_path: Path) -> Path:
    """A private copy of the session's seed index, safe to damage."""
    return Path(shutil.copytree(seed_index, tmp_path / "index"))


def test_damaged_index_files_are_one_line_errors(seed_index, tmp_path):
    index = copy_index(seed_index, tmp_path)
    manifest = version_dir(index, current_version(index)) / MANIFEST
    good = manifest.read_bytes()
    manifest.write_text('{"version": "x", "documents": {', encoding="utf-8")
    proc = bot("ask", "--index", str(index), "京津冀")
    assert_one_line_error(proc, "manifest")
    assert "ingest --rebuild" in proc.stderr

    manifest.write_bytes(good)
    (index / STORE).write_bytes(b"this is not a database" * 100)
    proc = bot("ask", "--index", str(index), "通武廊签署了什么协议？")
    assert_one_line_error(proc, "index database is damaged")
    assert "ingest --rebuild" in proc.stderr

    a_file = tmp_path / "a-file"
    a_file.write_text("x", encoding="utf-8")
    assert_one_line_error(bot("ask", "--index", str(a_file / "index"), "京津冀"), "no index")
    proc = bot("ingest", "--index", str(a_file / "index"), "--corpus", "corpus/seed")
    assert_one_line_error(proc, "not a folder")


def test_options_that_cannot_go_together_are_refused(tmp_path):
    proc = bot("ingest", "--dry-run", "--watch", "--index", str(tmp_path / "i"))
    assert_one_line_error(proc, "--dry-run and --watch cannot be combined")
    assert not (tmp_path / "i").exists()
    queries = tmp_path / "q.jsonl"
    queries.write_text('{"question": "京津冀", "doc_id": "x"}\n', encoding="utf-8")
    proc = bot("eval", "--queries", str(queries), "--corpus", "corpus/seed")
    assert_one_line_error(proc, "eval --corpus needs --index")


def test_every_command_reads_the_same_dotenv(tmp_path):
    import os
    import subprocess
    import sys

    from tests.support import ROOT

    (tmp_path / ".env").write_text(f"QABOT_MODEL={tmp_path / 'no-such-model'}\n", "utf-8")
    env = {k: v for k, v in os.environ.items() if k != "QABOT_MODEL"}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "model"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert_one_line_error(proc, "embedding model folder not found")


ALL_OF_IT = "京津冀协同发展"  # asked for 20 results in full: tens of kilobytes of output
BUFFERED = {"PYTHONUNBUFFERED": ""}  # stdout block-buffered, as by default (CI may set it)


def test_a_one_shot_ask_writes_all_it_prints_through_a_pipe(seed_index, seed_engine):
    """``python -m bot ask`` ends without the interpreter's teardown (bot/cli.py, FAST_EXIT):
    what it printed still arrives whole through a pipe, the last buffer too, with status 0."""
    from bot.console_render import CLI_SOURCES, Style, render_answer

    args = ("ask", "--index", str(seed_index), "--full", "--top-k", "20", ALL_OF_IT)
    proc = bot(*args, env=BUFFERED)
    assert proc.returncode == 0 and proc.stderr == ""
    answer = seed_engine.ask(ALL_OF_IT, top_k=20)
    expected = render_answer(answer, Style(False), full=True, sources=CLI_SOURCES) + "\n"
    assert len(expected.encode()) > 16 * 1024 and proc.stdout == expected
    as_json = bot(
        "ask", "--index", str(seed_index), "--json", "--top-k", "20", ALL_OF_IT, env=BUFFERED
    )
    assert as_json.returncode == 0 and len(json.loads(as_json.stdout)["results"]) == 20


def test_a_one_shot_ask_keeps_its_status_when_the_output_cannot_be_written(seed_index):
    """A reader that has gone ends it quietly (141, as a Unix tool); a full disk is one
    ``error:`` line and status 2, never an answer lost with status 0."""
    from bot.cli import CLOSED_PIPE

    def ask(stdout, *extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "bot", "ask", "--index", str(seed_index), *extra, ALL_OF_IT],
            cwd=ROOT,
            env={**os.environ, **BUFFERED},
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            timeout=300,
        )

    for extra in ([], ["--full", "--top-k", "20"]):  # a tail left in the buffer; many writes
        read, write = os.pipe()
        os.close(read)  # `… | head -0`
        try:
            gone = ask(write, *extra)
        finally:
            os.close(write)
        assert gone.returncode == CLOSED_PIPE and gone.stderr == "", extra
        with open("/dev/full", "w") as full:
            assert_one_line_error(ask(full, *extra), "space")
