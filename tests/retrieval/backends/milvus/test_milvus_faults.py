"""Faults of the Milvus backend (issue 28), each one line a person can act on: damaged
Milvus Lite data (and ``ingest --rebuild`` recovering from it), a damaged manifest row, a
Milvus Lite file in a folder that does not exist, a bad ``QABOT_MILVUS_KEYWORDS``, and a
reader of a version that later ingests retired."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

pytest.importorskip("pymilvus", reason="the milvus extra is not installed")

from corpus.loading import load_corpus  # noqa: E402
from corpus.normalize import search_key  # noqa: E402
from qabot_settings import BackendSettings, SettingsError  # noqa: E402
from retrieval.backends import open_backend  # noqa: E402
from retrieval.backends.milvus import client as meta  # noqa: E402
from retrieval.backends.milvus.manifest import manifest_key, read_current  # noqa: E402
from retrieval.engine import AnswerEngine  # noqa: E402
from retrieval.errors import (  # noqa: E402
    IndexNotFoundError,
    ManifestError,
    RetrievalError,
    VersionRetiredError,
)
from tests.support.cli import bot  # noqa: E402
from tests.support.corpora import BASE_DOCS, HYDROGEN, write_corpus  # noqa: E402

pytestmark = pytest.mark.milvus

QUESTION = "京张高铁"


def _ingest(index_dir: Path, corpus: Path, embedder, rebuild: bool = False):
    documents = load_corpus([corpus]).documents
    return open_backend(index_dir).ingest(
        documents, embedder, rebuild=rebuild, progress=False, corpus=[str(corpus)]
    )


def _one_error_line(proc, *fragments: str) -> str:
    """The ``error:`` line of a failed command: exit 2, the only error line and the last
    line on stderr, no traceback and no Milvus log."""
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert [line for line in lines if line.startswith("error: ")] == lines[-1:], proc.stderr
    assert "Traceback" not in proc.stderr and "ERROR" not in proc.stderr, proc.stderr
    for fragment in fragments:
        assert fragment in lines[-1], proc.stderr
    return lines[-1]


# -- Milvus Lite data the engine cannot read ---------------------------------------------


def _truncate_a_data_file(db: Path) -> None:
    data = sorted(db.glob("collections/*_chunks_*/partitions/*/data/*.parquet"))
    assert data, sorted(db.rglob("*"))
    content = data[0].read_bytes()
    data[0].write_bytes(content[: len(content) // 2])  # a write cut short


def _garbage_file(db: Path) -> None:
    shutil.rmtree(db)
    db.write_bytes(os.urandom(4096))


def _garbage_schema(db: Path) -> None:
    (next(db.glob("collections/*_meta")) / "schema.json").write_text("{garbage", "utf-8")


def _lite_index(tmp_path: Path, embedder) -> tuple[Path, Path, dict]:
    """(corpus, index folder, environment) of a Milvus Lite index this process let go of."""
    corpus, index_dir = write_corpus(tmp_path / "corpus", BASE_DOCS), tmp_path / "index"
    db = index_dir / "milvus.db"
    env = {
        "QABOT_BACKEND": "milvus",
        "QABOT_MILVUS_URI": str(db),
        "QABOT_MILVUS_COLLECTION": "qabot",
        "QABOT_MILVUS_KEYWORDS": "sparse",
    }
    open_backend(index_dir, _lite(db)).ingest(
        load_corpus([corpus]).documents, embedder, progress=False, corpus=[str(corpus)]
    )
    meta.disconnect(str(db))  # one process at a time opens a Milvus Lite file
    return corpus, index_dir, env


def _lite(db: Path) -> BackendSettings:
    return BackendSettings(backend="milvus", milvus_uri=str(db))


def _answers(index_dir: Path, embedder) -> None:
    db = index_dir / "milvus.db"
    try:
        engine = AnswerEngine.open(index_dir, embedder, backend=open_backend(index_dir, _lite(db)))
        assert engine.ask(QUESTION, top_k=1).results[0].doc_id == "transport.txt"
    finally:
        meta.disconnect(str(db))


def test_a_truncated_lite_data_file_is_one_line_and_rebuild_moves_it_aside(tmp_path, embedder):
    corpus, index_dir, env = _lite_index(tmp_path, embedder)
    db = index_dir / "milvus.db"
    _truncate_a_data_file(db)

    def run(*args: str):
        return bot(*args, "--index", str(index_dir), env=env)

    ask = run("ask", QUESTION)
    line = _one_error_line(ask, str(db), "cannot be read", "python -m bot ingest --rebuild")
    assert ask.stderr.strip() == line and not ask.stdout
    _one_error_line(run("ingest", "--corpus", str(corpus)), "python -m bot ingest --rebuild")
    # the folders of the last ingest are in the damaged data: the error asks for them
    _one_error_line(run("ingest", "--rebuild"), "--rebuild --corpus FOLDER")
    assert not list(index_dir.glob("milvus.db.damaged-*"))  # only a rebuild moves it

    rebuilt = run("ingest", "--rebuild", "--corpus", str(corpus))
    assert rebuilt.returncode == 0, rebuilt.stderr
    aside = list(index_dir.glob("milvus.db.damaged-*"))
    assert len(aside) == 1 and f"it was moved to {aside[0]}" in rebuilt.stderr
    assert "Traceback" not in rebuilt.stderr
    _answers(index_dir, embedder)


@pytest.mark.parametrize("damage", [_garbage_file, _garbage_schema], ids=["file", "schema"])
def test_garbage_lite_data_is_one_line_and_a_rebuild_recovers(tmp_path, embedder, damage):
    corpus, index_dir, env = _lite_index(tmp_path, embedder)
    db = index_dir / "milvus.db"
    damage(db)
    ask = bot("ask", "--index", str(index_dir), QUESTION, env=env)
    line = _one_error_line(ask, str(db), "cannot be read", "python -m bot ingest --rebuild")
    assert ask.stderr.strip() == line

    said: list[str] = []
    documents = load_corpus([corpus]).documents
    backend = open_backend(index_dir, _lite(db))
    result = backend.ingest(documents, embedder, rebuild=True, progress=False, log=said.append)
    aside = list(index_dir.glob("milvus.db.damaged-*"))
    assert result.chunks > 0 and len(aside) == 1 and f"moved to {aside[0]}" in said[0]
    meta.disconnect(str(db))
    _answers(index_dir, embedder)


# -- a damaged manifest row ------------------------------------------------------------


def _damage_manifest(backend, how: str) -> None:
    client, prefix = backend.client, backend.prefix
    pointer = read_current(client, prefix)
    key = manifest_key(pointer["version"])
    if how == "current":
        meta.write_value(client, prefix, meta.CURRENT, '{"version": ')
        return
    if how == "undecodable":
        meta.write_value(client, prefix, f"{key}:0", "garbage, not a compressed manifest")
        return
    data = meta.read_blob(client, prefix, key, pointer["pieces"])
    if how == "number":
        data["number"] += 5  # as if the rows were not born yet: every search empty
    elif how == "chunks":
        data["chunks"] = 0  # an empty version: no search at all
    elif how == "dead":
        data["dead"] = sorted(int(e[1]) for e in data["documents"].values())
    assert meta.write_blob(client, prefix, key, data) == pointer["pieces"]
    client.flush(meta.meta_name(prefix))


@pytest.fixture
def lite_env(tmp_path, monkeypatch) -> None:
    """A Milvus Lite file (the server reads and writes the meta rows the same way)."""
    monkeypatch.setenv("QABOT_BACKEND", "milvus")
    monkeypatch.setenv("QABOT_MILVUS_URI", str(tmp_path / "milvus.db"))
    monkeypatch.setenv("QABOT_MILVUS_COLLECTION", "qabot")


@pytest.mark.parametrize("how", ["undecodable", "number", "chunks", "dead", "current"])
def test_a_damaged_manifest_row_is_an_error_and_the_next_ingest_rebuilds(
    lite_env, tmp_path, embedder, how
):
    corpus, index_dir = write_corpus(tmp_path / "corpus", BASE_DOCS), tmp_path / "index"
    first = _ingest(index_dir, corpus, embedder)
    assert all(f.ok for f in open_backend(index_dir).check())
    _damage_manifest(open_backend(index_dir), how)
    damaged_parts = [f for f in open_backend(index_dir).check() if not f.ok]
    assert len(damaged_parts) == 1 and "ingest --rebuild" in damaged_parts[0].repair

    backend = open_backend(index_dir)
    with pytest.raises(ManifestError, match="python -m bot ingest --rebuild") as damaged:
        backend.load()
    assert "damaged" in str(damaged.value) and "\n" not in str(damaged.value)
    with pytest.raises(ManifestError):
        AnswerEngine.open(index_dir, embedder, backend=backend)

    again = _ingest(index_dir, corpus, embedder)  # not "unchanged": a full rebuild
    assert "could not be read" in (again.plan.rebuild_reason or "")
    assert again.version != first.version and again.chunks == first.chunks
    engine = AnswerEngine.open(index_dir, embedder, backend=open_backend(index_dir))
    assert engine.ask(QUESTION, top_k=1).results[0].doc_id == "transport.txt"
    assert open_backend(index_dir).previous_corpus() == [str(corpus)]
    assert all(f.ok for f in open_backend(index_dir).check())


def test_an_ingest_without_corpus_reads_the_folders_of_a_manifest_with_bad_values(
    lite_env, tmp_path, embedder
):
    corpus, index_dir = write_corpus(tmp_path / "corpus", BASE_DOCS), tmp_path / "index"
    _ingest(index_dir, corpus, embedder)
    _damage_manifest(open_backend(index_dir), "number")
    assert open_backend(index_dir).previous_corpus() == [str(corpus)]
    _damage_manifest(open_backend(index_dir), "undecodable")
    with pytest.raises(ManifestError, match="--rebuild --corpus FOLDER"):
        open_backend(index_dir).previous_corpus()


# -- QABOT_MILVUS_URI in a folder that does not exist ---------------------------------------


def test_a_lite_file_in_a_missing_folder_is_an_error_and_nothing_is_created(tmp_path):
    uri = tmp_path / "no" / "such" / "x.db"
    backend = open_backend(tmp_path / "index", BackendSettings("milvus", str(uri)))
    calls = [
        backend.current_version,
        backend.load,
        backend.previous_corpus,
        lambda: backend.ingest([], embedder=None),  # an ingest does not create it either
    ]
    for call in calls:
        with pytest.raises(RetrievalError, match="does not exist") as error:
            call()
        assert str(uri.parent) in str(error.value) and "\n" not in str(error.value)
    assert not (tmp_path / "no").exists() and not (tmp_path / "index").exists()

    # the default <index>/milvus.db, no index folder: no index yet, and nothing created
    backend = open_backend(tmp_path / "none", BackendSettings("milvus"))
    assert backend.current_version() is None and backend.previous_corpus() == []
    with pytest.raises(IndexNotFoundError):
        backend.load()
    # a file in an existing folder: reading does not create it (an ingest would)
    backend = open_backend(tmp_path, BackendSettings("milvus", str(tmp_path / "x.db")))
    assert backend.current_version() is None
    with pytest.raises(IndexNotFoundError):
        backend.load()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_ask_names_the_missing_folder_of_the_milvus_uri(tmp_path):
    uri = tmp_path / "nonexistent" / "dir" / "x.db"
    env = {"QABOT_BACKEND": "milvus", "QABOT_MILVUS_URI": str(uri), "QABOT_INDEX": ""}
    named = bot("ask", "--index", str(tmp_path / "index"), QUESTION, env=env)
    _one_error_line(named, str(uri.parent), "does not exist")
    default = bot("ask", QUESTION, env={**env, "QABOT_INDEX": str(tmp_path / "default")})
    _one_error_line(default, str(uri.parent), "does not exist")
    assert not (tmp_path / "nonexistent").exists()


# -- QABOT_MILVUS_KEYWORDS ------------------------------------------------------------------


def test_an_unknown_keyword_mode_is_refused_where_settings_are_read(monkeypatch, tmp_path):
    monkeypatch.setenv("QABOT_MILVUS_KEYWORDS", "BM25")
    assert BackendSettings.from_env().keywords == "bm25"
    monkeypatch.setenv("QABOT_MILVUS_KEYWORDS", "bogus")
    with pytest.raises(SettingsError, match="QABOT_MILVUS_KEYWORDS='bogus'.*sparse, bm25"):
        BackendSettings.from_env()
    env = {"QABOT_BACKEND": "milvus", "QABOT_MILVUS_KEYWORDS": "bogus"}
    proc = bot("ask", "--index", str(tmp_path), QUESTION, env=env)
    line = _one_error_line(proc, "QABOT_MILVUS_KEYWORDS", "sparse, bm25")
    assert proc.stderr.strip() == line


# -- readers of a version that later ingests retired -------------------------------------


def test_a_reader_two_ingests_behind_is_told_its_version_was_retired(
    milvus_env, tmp_path, embedder
):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    docs = dict(BASE_DOCS)
    write_corpus(corpus, docs)
    _ingest(index_dir, corpus, embedder)
    backend = open_backend(index_dir)
    old = backend.load()
    query = embedder.encode_queries([search_key(QUESTION)])[0]
    ids = old.dense_candidates(query, 10).ids.tolist()
    assert len(ids) == old.size == 3

    docs["transport.txt"] += "\n" + HYDROGEN
    write_corpus(corpus, docs)
    _ingest(index_dir, corpus, embedder)  # the old transport.txt rows: listed as dead
    assert set(old.rows(ids)) == set(ids)  # … and still there for readers of the old version
    docs["industry.txt"] += "\n雄安新区中关村科技园正式揭牌。"
    write_corpus(corpus, docs)
    live = _ingest(index_dir, corpus, embedder).version  # deletes them

    with pytest.raises(VersionRetiredError):
        old.rows(ids)
    with pytest.raises(VersionRetiredError):
        old.document("transport.txt")
    with pytest.raises(VersionRetiredError):
        old.dense_candidates(query, 10)
    with pytest.raises(VersionRetiredError):
        old.sources()
    # the engine loads the live version and asks again (retrieval/engine.py)
    engine = AnswerEngine(index_dir, embedder, backend=backend, loaded=old)
    answer = engine.ask("临港氢能示范园区什么时候建成？", top_k=1)
    assert answer.version == live and HYDROGEN in answer.results[0].excerpt


def test_a_reader_whose_collection_was_dropped_is_told_its_version_was_retired(
    milvus_env, tmp_path, embedder
):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    docs = dict(BASE_DOCS)
    write_corpus(corpus, docs)
    _ingest(index_dir, corpus, embedder)
    old = open_backend(index_dir).load()
    ids = [int(i) for i in old.keyword_candidates(["京张"], 10).ids]
    _ingest(index_dir, corpus, embedder, rebuild=True)  # a new collection
    docs["industry.txt"] += "\n雄安新区中关村科技园正式揭牌。"
    write_corpus(corpus, docs)
    _ingest(index_dir, corpus, embedder)  # drops the collection of the old version
    assert not open_backend(index_dir).client.has_collection(old.collection)

    query = embedder.encode_queries([search_key(QUESTION)])[0]
    with pytest.raises(VersionRetiredError, match=old.collection):
        old.dense_candidates(query, 10)
    with pytest.raises(VersionRetiredError):
        old.rows(ids)


def test_a_live_version_leaves_out_ids_it_does_not_have(milvus_env, tmp_path, embedder):
    corpus, index_dir = write_corpus(tmp_path / "corpus", BASE_DOCS), tmp_path / "index"
    _ingest(index_dir, corpus, embedder)
    version = open_backend(index_dir).load()
    assert version.rows([10_000]) == {} and version.document("no-such.txt") is None
    assert sorted(s[0] for s in version.sources()) == sorted(BASE_DOCS)
