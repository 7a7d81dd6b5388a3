"""Issue 28, ingest: a source that is there but cannot be read keeps its indexed version
(only what is gone is removed), with a warning saying so; every printed path is escaped;
``ingest --follow-symlinks``. Real ingests of three tiny documents (the real model)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

import corpus.readers
from bot import index_update
from bot.index_update import load_documents, update_index
from corpus.document import Document
from qabot_settings import BackendSettings
from retrieval.backends import Backend, open_backend
from retrieval.engine import AnswerEngine
from retrieval.ingest.plan import IngestResult
from tests.support.cli import bot
from tests.support.corpora import BASE_DOCS, write_corpus

BACKENDS = [
    pytest.param("local", id="local"),
    pytest.param("milvus", id="milvus", marks=pytest.mark.milvus),
]
QUESTION = "京张高铁建成通车了吗？"  # answered by transport.txt


def make_backend(name: str, index_dir: Path) -> Backend:
    if name == "local":
        return open_backend(index_dir, BackendSettings(backend="local"))
    pytest.importorskip("pymilvus", reason="the milvus extra is not installed")
    uri = str(index_dir.parent / "milvus.db")
    collection = f"c{uuid.uuid4().hex[:10]}"
    return open_backend(index_dir, BackendSettings("milvus", milvus_uri=uri, collection=collection))


Ingest = Callable[[Backend, Path, Path], tuple[IngestResult, list[str]]]


@pytest.fixture
def ingest(monkeypatch, embedder) -> Ingest:
    """``ingest(backend, index_dir, corpus)``: update_index as ``python -m bot ingest`` runs
    it (with the session's model), and the lines it printed."""
    monkeypatch.setattr(index_update, "shared_embedder", lambda: embedder)

    def run(backend: Backend, index_dir: Path, corpus_dir: Path) -> tuple[IngestResult, list]:
        lines: list[str] = []
        result = update_index(
            backend, index_dir, [corpus_dir], "ingest", log=lines.append, progress=False
        )
        return result, lines

    return run


def indexed(backend: Backend, embedder) -> dict[str, Document]:
    version = backend.load()
    return {doc_id: version.document(doc_id) for doc_id in version.manifest.documents}


def make_unreadable(cause: str, file: Path, monkeypatch) -> str:
    """Make ``file`` unreadable by ``cause``; the reason the warning must give."""
    if cause == "too large":
        monkeypatch.setenv("QABOT_MAX_FILE_MB", "0.01")
        file.write_text(file.read_text(encoding="utf-8") * 200, encoding="utf-8")
        return "too large ("
    if cause == "undecodable":
        file.write_bytes(bytes(range(128, 256)) * 4)
        return "cannot decode text"
    if cause == "dangling link":
        file.unlink()
        file.symlink_to(file.with_name("moved-away.txt"))
        return "cannot open file: No such file or directory"
    error = {"read error": OSError(5, "Input/output error"), "vanished": FileNotFoundError(2, "x")}
    read_plain = corpus.readers.read_plain

    def failing(path: Path):
        if path.name == file.name:
            raise error[cause]
        return read_plain(path)

    monkeypatch.setitem(corpus.readers.READERS, ".txt", failing)
    return f"cannot open file: {error[cause].strerror}"


@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize(
    "cause", ["too large", "undecodable", "dangling link", "read error", "vanished"]
)
def test_a_file_that_cannot_be_read_keeps_its_indexed_version(
    tmp_path, monkeypatch, embedder, ingest, backend_name, cause
):
    corpus_dir, index_dir = write_corpus(tmp_path / "c", BASE_DOCS), tmp_path / "index"
    backend = make_backend(backend_name, index_dir)
    ingest(backend, index_dir, corpus_dir)
    before = indexed(backend, embedder)

    reason = make_unreadable(cause, corpus_dir / "transport.txt", monkeypatch)
    (corpus_dir / "ecology.txt").unlink()  # really gone: removed
    result, lines = ingest(backend, index_dir, corpus_dir)

    assert result.plan.removed == ["ecology.txt"]
    assert sorted(result.plan.unchanged) == ["industry.txt", "transport.txt"]
    after = indexed(backend, embedder)
    assert after["transport.txt"] == before["transport.txt"]
    assert after["transport.txt"].content_hash == before["transport.txt"].content_hash
    kept = f"kept the indexed version of {corpus_dir / 'transport.txt'}: {reason}"
    assert any(line.startswith(kept) for line in lines), lines
    assert not any(line.startswith("skipped") for line in lines), lines
    engine = AnswerEngine.open(index_dir, embedder=embedder, backend=backend)
    assert engine.ask(QUESTION, top_k=1).results[0].doc_id == "transport.txt"


def test_a_folder_that_cannot_be_listed_keeps_its_documents(
    tmp_path, monkeypatch, embedder, ingest
):
    corpus_dir, index_dir = write_corpus(tmp_path / "c", BASE_DOCS), tmp_path / "index"
    (corpus_dir / "sub").mkdir()
    os.replace(corpus_dir / "transport.txt", corpus_dir / "sub" / "transport.txt")
    backend = make_backend("local", index_dir)
    ingest(backend, index_dir, corpus_dir)
    before = indexed(backend, embedder)
    real_scandir = os.scandir

    def scandir(path):
        if Path(path).name == "sub":
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    (corpus_dir / "ecology.txt").unlink()
    result, lines = ingest(backend, index_dir, corpus_dir)
    assert result.plan.removed == ["ecology.txt"]
    assert indexed(backend, embedder)["sub/transport.txt"] == before["sub/transport.txt"]
    assert (
        f"kept the 1 indexed document of {corpus_dir / 'sub'}: "
        "cannot list the folder: Permission denied"
    ) in lines


def test_a_jsonl_that_cannot_be_read_keeps_its_records(tmp_path, monkeypatch, embedder, ingest):
    corpus_dir, index_dir = write_corpus(tmp_path / "c", BASE_DOCS), tmp_path / "index"
    export = corpus_dir / "export.jsonl"
    records = [
        {"doc_id": f"r{i}", "title": f"记录{i}", "text": BASE_DOCS[name]}
        for i, name in enumerate(sorted(BASE_DOCS))
    ]
    export.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records), "utf-8")
    backend = make_backend("local", index_dir)
    first, _ = ingest(backend, index_dir, corpus_dir)
    assert {"r0", "r1", "r2"} <= set(first.plan.added)

    # one record grows over the cap: it alone is skipped, its indexed version kept
    monkeypatch.setenv("QABOT_MAX_FILE_MB", "0.01")
    lines = export.read_text(encoding="utf-8").split("\n")
    lines[1] = lines[1].replace('"text": "', '"text": "' + "很长。" * 5000)
    export.write_text("\n".join(lines), encoding="utf-8")
    result, printed = ingest(backend, index_dir, corpus_dir)
    assert result.plan.changes_nothing(), result.plan
    assert f"kept the indexed version of {export}:2: record too large (" in "\n".join(printed)

    # the whole file cannot be read: every indexed document this load did not find stays
    export.unlink()
    export.symlink_to(corpus_dir / "elsewhere.jsonl")
    (corpus_dir / "ecology.txt").unlink()
    result, printed = ingest(backend, index_dir, corpus_dir)
    assert result.plan.removed == []  # ecology.txt may have been a record: kept, and said
    assert sorted(indexed(backend, embedder)) == sorted(["r0", "r1", "r2", *BASE_DOCS])
    assert (
        f"kept the 4 indexed documents this load did not find, as {export} could not be read"
        " (its doc_ids are inside it): cannot read JSONL: No such file or directory"
    ) in printed


def test_printed_lines_escape_control_characters_in_names(tmp_path):
    (tmp_path / "ok.txt").write_text(BASE_DOCS["transport.txt"], encoding="utf-8")
    name = "evil\x1b]0;owned\x07\x1b[2J\u202eexe.txt\nskipped ok.txt: fake.txt"
    (tmp_path / name).write_bytes(bytes(range(128, 256)) * 4)  # undecodable: a skip line
    lines: list[str] = []
    load_documents([tmp_path], lines.append)
    assert lines == [
        f"skipped {tmp_path}/evil\\x1b]0;owned\\x07\\x1b[2J\\u202eexe.txt\\nskipped ok.txt:"
        " fake.txt: cannot decode text (not UTF-8, GB18030/GBK or Big5)"
    ]


def test_ingest_skips_links_out_of_the_corpus_unless_told(tmp_path, embedder):
    corpus_dir, index_dir = write_corpus(tmp_path / "c", BASE_DOCS), tmp_path / "index"
    secret = tmp_path / "passwd.txt"
    secret.write_text("系统账户清单\n管理员口令保存在服务器的配置文件之中。\n", encoding="utf-8")
    (corpus_dir / "passwd.txt").symlink_to(secret)
    args = ("ingest", "--index", str(index_dir), "--corpus", str(corpus_dir))
    proc = bot(*args)
    assert proc.returncode == 0, proc.stderr
    assert (
        f"skipped {corpus_dir / 'passwd.txt'}: a link to a file outside the corpus folder"
        f" ({secret}); use --follow-symlinks to allow"
    ) in proc.stderr
    assert "added 3 ·" in proc.stdout
    proc = bot(*args, "--follow-symlinks")
    assert proc.returncode == 0, proc.stderr
    assert "added 1 ·" in proc.stdout and "passwd.txt" not in proc.stderr


def test_an_admin_upload_keeps_what_could_not_be_read(tmp_path, ingest, embedder, monkeypatch):
    """An upload re-reads the whole corpus too: a file unreadable at that moment keeps its
    indexed version there as well (bot/telegram/admin.py)."""
    from bot.telegram.admin import ingest_upload

    index_dir = tmp_path / "index"
    corpus_dir = write_corpus(tmp_path / "corpus", BASE_DOCS)
    backend = make_backend("local", index_dir)
    ingest(backend, index_dir, corpus_dir)
    before = indexed(backend, embedder)["transport.txt"]
    make_unreadable("undecodable", corpus_dir / "transport.txt", monkeypatch)
    (index_dir / "uploads").mkdir()
    staged = tmp_path / "maglev.txt"
    staged.write_text("磁悬浮示范线\n雄安新区将于2031年开通磁悬浮示范线。", encoding="utf-8")

    outcome = ingest_upload(index_dir, staged, BackendSettings(backend="local"))
    assert outcome.error is None and "transport.txt" not in outcome.result.plan.removed
    after = indexed(backend, embedder)
    assert after["transport.txt"].content_hash == before.content_hash and "maglev.txt" in after
