"""Damage to a local index that the tool now repairs (issue 28): a truncated, changed or
lost segment, garbage in CURRENT, a damaged embedding cache (backends/local/check.py,
folder.py, ingest.py)."""

from __future__ import annotations

import logging
import shutil

import pytest

from corpus.loading import load_corpus
from retrieval.backends.local.check import check_index
from retrieval.backends.local.folder import CURRENT, current_version, load_version
from retrieval.backends.local.ingest import ingest
from retrieval.backends.local.segments import SEGMENTS
from retrieval.engine import AnswerEngine
from retrieval.errors import IndexDamagedError
from retrieval.ingest.embedding_cache import CACHE
from tests.support.corpora import write_corpus

DOCS = {
    "a.txt": "规划\n雄安新区规划于2018年4月发布。起步区规划建设全面展开。",
    "b.txt": "协议\n通武廊三地签署区域一体化高质量发展试点示范合作协议。",
}


@pytest.fixture
def built(tmp_path, embedder):
    corpus, index = write_corpus(tmp_path / "corpus", DOCS), tmp_path / "index"
    logs: list[str] = []

    def run(rebuild: bool = False):
        docs = load_corpus([corpus]).documents
        return ingest(index, docs, embedder, rebuild=rebuild, progress=False, log=logs.append)

    run()
    return index, run, logs


def _segment(index):
    (folder,) = [p for p in (index / SEGMENTS).iterdir() if not p.name.startswith(".")]
    return folder


def _damaged(index) -> dict[str, str]:
    return {f.part: f.problem for f in check_index(index) if not f.ok}


def _answers(index, embedder) -> bool:
    answer = AnswerEngine(index, embedder).ask("通武廊签署了什么协议")
    return bool(answer.results) and answer.results[0].doc_id == "b.txt"


def test_a_sound_index_checks_sound(built):
    index, _, _ = built
    findings = check_index(index)
    assert [f.part.split()[0] for f in findings] == [
        "CURRENT",
        "manifest",
        "segment",
        "store",
        "embedding",
    ]
    assert all(f.ok for f in findings) and "checksum" in findings[2].detail


def test_a_truncated_segment_is_named_and_a_plain_ingest_rewrites_it(built, embedder):
    index, run, logs = built
    dense = _segment(index) / "dense.faiss"
    with open(dense, "r+b") as fh:
        fh.truncate(100)
    with pytest.raises(IndexDamagedError, match=r"dense\.faiss is 100 bytes.*python -m bot ingest"):
        load_version(index)
    (part,) = _damaged(index)
    assert part.startswith("segment")
    result = run()  # nothing changed in the corpus: still a new version, repaired
    assert result.version == current_version(index) and result.chunks > 0
    assert any("repairing damaged segment" in line for line in logs)
    assert _damaged(index) == {} and _answers(index, embedder)


def test_a_changed_segment_is_found_by_its_checksum_and_rewritten(built, embedder):
    index, run, _ = built
    ids = _segment(index) / "ids.npy"
    data = bytearray(ids.read_bytes())
    data[-1] ^= 0xFF  # same size, one id changed
    ids.write_bytes(bytes(data))
    assert "checksum" in next(iter(_damaged(index).values()))
    run()
    assert _damaged(index) == {} and _answers(index, embedder)


def test_a_lost_segment_makes_the_next_ingest_rebuild(built, embedder):
    index, run, logs = built
    shutil.rmtree(_segment(index))
    assert "missing" in next(iter(_damaged(index).values()))
    run()
    assert any(line.startswith("full rebuild: segment") for line in logs)
    assert _damaged(index) == {} and _answers(index, embedder)


def test_garbage_in_current_falls_back_and_rebuild_always_rebuilds(built, embedder, caplog):
    index, run, logs = built
    live = current_version(index)
    (index / CURRENT).write_bytes(bytes(range(256)))  # no UTF-8, no version name
    with caplog.at_level(logging.WARNING):
        assert load_version(index).version == live
    assert "CURRENT" in caplog.text and "damaged" in caplog.text
    assert "CURRENT" in _damaged(index)
    assert _answers(index, embedder)
    result = run(rebuild=True)
    assert any("--rebuild was given" in line for line in logs)
    assert (index / CURRENT).read_text().strip() == result.version
    assert _damaged(index) == {}

    (index / CURRENT).write_bytes(b"\xff\xfe\x00garbage")
    run()  # a plain ingest too
    assert _damaged(index) == {} and _answers(index, embedder)


def test_a_damaged_cache_is_set_aside_and_refilled_for_a_repair(built, embedder):
    index, run, logs = built
    (index / CACHE).write_bytes(b"not a database" * 100)
    with open(_segment(index) / "dense.faiss", "r+b") as fh:
        fh.truncate(10)
    assert set(_damaged(index)) == {"embedding cache", f"segment {_segment(index).name}"}
    run()
    assert any("embedding cache could not be read" in line for line in logs)
    assert list(index.glob(f"{CACHE}.damaged-*"))
    assert _damaged(index) == {} and _answers(index, embedder)
