"""The scalable index: segments, ANN above a threshold, the embedding cache, reloads.

Real model, FAISS, bm25s and SQLite throughout; corpora stay small so the tests are fast
(the thresholds are lowered instead).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import threading
from pathlib import Path

import bm25s
import numpy as np
import pytest

import retrieval.backends.local.folder
from corpus.loading import load_corpus, shipped_corpus_dir
from corpus.normalize import search_key
from retrieval.backends.local.bm25 import KeywordIndex
from retrieval.backends.local.folder import (
    DELETED,
    MANIFEST,
    LocalManifest,
    current_version,
    version_dir,
)
from retrieval.backends.local.ingest import IngestSettings, ingest
from retrieval.backends.local.segments import SegmentSettings
from retrieval.backends.local.store import StoreWriter
from retrieval.engine import AnswerEngine
from retrieval.ingest.embedding_cache import CACHE
from retrieval.tokens import tokenize
from tests.support.corpora import write_corpus

SEED_QUESTIONS = {
    "通武廊在政务服务方面要全面实现什么？": "tongwulang-pilot-agreement-2023.txt",
    "京津冀政协主席联席会议第六次会议在哪里召开？": "jjj-cppcc-joint-meeting-2020.txt",
    "北京大兴国际机场计划什么时候通航？": "beijing-jjj-work-plan-2019.txt",
}
DOCS = {
    "transport.txt": "京津冀交通一体化\n京张高铁建成通车。京雄城际铁路全线贯通，雄安站投入使用。",
    "ecology.txt": "京津冀生态环境联防联控\n三地建立大气污染联防联控机制，PM2.5平均浓度持续下降。",
    "industry.txt": "京津冀产业协同\n北京向津冀转移疏解一般制造业企业，"
    "中关村企业在津冀设立分支机构。",
}


def _quiet(_message: str) -> None:
    pass


def _ingest(index_dir: Path, docs: dict[str, str], embedder, folder: Path, **kwargs):
    documents = load_corpus([write_corpus(folder, docs)]).documents
    return ingest(index_dir, documents, embedder, progress=False, log=_quiet, **kwargs)


def _manifest(index_dir: Path) -> LocalManifest:
    return LocalManifest.read(version_dir(index_dir, current_version(index_dir)))


def _seed_copy(tmp_path: Path, seed_index: Path) -> Path:
    """A new index folder holding only the seed index's embedding cache (no re-embedding)."""
    index_dir = tmp_path / "index"
    index_dir.mkdir()
    shutil.copy(seed_index / CACHE, index_dir / CACHE)
    return index_dir


def test_keyword_index_matches_bm25s_and_survives_save_and_mmap_load(tmp_path):
    texts = [d.text for d in load_corpus([shipped_corpus_dir()]).documents]
    passages = [t[i : i + 300] for t in texts for i in range(0, len(t), 250)]
    tokens = [tokenize(search_key(p)) for p in passages]
    ours = KeywordIndex.build(tokens)
    theirs = bm25s.BM25(k1=1.2, b=0.75)
    theirs.index([list(t) for t in tokens], show_progress=False)
    ours.save(tmp_path / "kw")
    loaded = KeywordIndex.load(tmp_path / "kw")
    assert isinstance(loaded._bm25.scores["data"], np.memmap)  # read lazily, not into RAM
    for question in [*SEED_QUESTIONS, "雄安新区 交通", "完全无关的词语"]:
        query = tokenize(search_key(question))
        expected = theirs.get_scores(query)
        np.testing.assert_allclose(ours.scores(query), expected, atol=1e-4)
        np.testing.assert_allclose(loaded.scores(query), expected, atol=1e-4)


def test_pruned_keyword_top_k_equals_scoring_every_passage(monkeypatch):
    """KeywordIndex.top skips summing common tokens over every passage (MaxScore), yet
    returns exactly the best k of the full scores, also with deleted rows; both the
    shortcut and its fallback are exercised."""
    import random

    from retrieval.backends.local.bm25 import _best

    sentences = [
        s + "。" for d in load_corpus([shipped_corpus_dir()]).documents for s in d.text.split("。")
    ]
    rng = random.Random(7)
    passages = ["".join(rng.choice(sentences) for _ in range(6)) for _ in range(3000)]
    index = KeywordIndex.build(tokenize(search_key(p)) for p in passages)
    dead = np.array(sorted(rng.sample(range(len(passages)), 300)))
    taken = []
    real = KeywordIndex._pruned_top
    monkeypatch.setattr(
        KeywordIndex,
        "_pruned_top",
        lambda self, *a: taken.append(real(self, *a)) or taken[-1],
    )
    questions = [*SEED_QUESTIONS, "京津冀协同发展的目标是什么", "雄安新区 交通 2019年", "完全无关"]
    questions += [p[i : i + 20] for p in passages[:40] for i in (0, 35)]
    for question in questions:
        query = tokenize(search_key(question))
        idf = {t: 1.5 + (len(t) % 3) for t in query}  # another (global) IDF, as segments use
        for k, deleted in ((10, None), (100, dead)):
            scores, rows = index.top(query, k, idf, deleted)
            expected = index.scores(query, idf)
            if deleted is not None:
                expected[deleted] = 0
            want_scores, want_rows = _best(expected, k)
            np.testing.assert_allclose(scores, want_scores, rtol=1e-5)
            clear = scores > (scores[-1] if len(scores) == k else 0) * (1 + 1e-5)
            assert set(rows[clear]) <= set(want_rows)  # ties at the k-th score may differ
            assert deleted is None or not set(rows) & set(deleted)
    shortcuts = sum(r is not None for r in taken)
    assert 20 <= shortcuts < len(taken)  # both paths were checked, the shortcut many times


def test_ann_index_is_chosen_above_the_threshold_and_answers_like_exact(
    tmp_path, seed_index, seed_engine, embedder
):
    index_dir = _seed_copy(tmp_path, seed_index)
    settings = IngestSettings(segments=SegmentSettings(ann_threshold=50))
    result = ingest(
        index_dir,
        load_corpus([shipped_corpus_dir()]).documents,
        embedder,
        progress=False,
        log=_quiet,
        settings=settings,
    )
    assert result.embedded == 0  # every vector came from the cache
    (segment,) = _manifest(index_dir).segments
    assert segment["dense"] == "pq4fs-sq8" and segment["size"] == result.chunks
    assert segment["rescore"] == settings.segments.rescore
    engine = AnswerEngine(index_dir, embedder)
    for question, doc_id in SEED_QUESTIONS.items():
        assert engine.ask(question, top_k=1).results[0].doc_id == doc_id
        vector = embedder.encode_queries([search_key(question)])[0]
        _, approx = engine.index.dense_candidates(vector, 10)
        _, exact = seed_engine.index.dense_candidates(vector, 10)
        exact_chunks = seed_engine.index.rows(exact.tolist())
        approx_chunks = engine.index.rows(approx.tolist())
        spans = {(c.doc_id, c.start) for c in exact_chunks.values()}
        found = {(c.doc_id, c.start) for c in approx_chunks.values()}
        assert len(spans & found) >= 8  # recall@10 against exact search, on 86 chunks


def test_the_ann_segment_skips_deleted_rows_and_looks_further_when_they_fill_its_shortlist(
    tmp_path, seed_index, embedder
):
    index_dir = _seed_copy(tmp_path, seed_index)
    settings = IngestSettings(
        segments=SegmentSettings(ann_threshold=50, rescore=4), max_deleted_share=0.9
    )
    documents = load_corpus([shipped_corpus_dir()]).documents
    ingest(index_dir, documents, embedder, progress=False, log=_quiet, settings=settings)
    original = documents[0].text
    documents[0] = dataclasses.replace(documents[0], text=original + "\n白洋淀水质提升。")
    ingest(index_dir, documents, embedder, progress=False, log=_quiet, settings=settings)
    manifest = _manifest(index_dir)
    big, small = manifest.segments  # the changed document's rows are dead in the big one
    assert big["dense"] == "pq4fs-sq8" and small["dense"] == "flat"
    deleted = set(np.load(version_dir(index_dir, manifest.version) / DELETED).tolist())
    engine = AnswerEngine(index_dir, embedder)
    segment = engine.index.segments[0]
    dead = engine.index._dead_rows[0]
    assert dead is not None and set(segment.ids[dead].tolist()) == deleted
    old_rows = engine.index.rows(sorted(deleted))  # still stored: older versions name them
    assert len(old_rows) == len(deleted) > 0
    live = set(segment.ids.tolist()) - deleted
    for row in old_rows.values():  # each deleted chunk's own text is its nearest neighbour
        vector = embedder.encode_queries([search_key(original[row.start : row.end][:60])])[0]
        scores, ids = segment.search_dense(vector, 10, dead_rows=dead)
        assert len(ids) == 10 and not set(ids.tolist()) & deleted
        assert set(ids.tolist()) <= live and np.all(np.diff(scores) <= 0)
    _, every = engine.index.dense_candidates(vector, manifest.chunks)
    assert len(every) == manifest.chunks and not set(every.tolist()) & deleted


def test_a_segment_written_with_ivf_before_the_pq_kind_still_answers(tmp_path, embedder):
    """Indexes built before 2026-11-23's evening hold IVF-SQ8 segments; they load and search."""
    import faiss

    index_dir, folder = tmp_path / "index", tmp_path / "corpus"
    _ingest(index_dir, DOCS, embedder, folder)
    (entry,) = _manifest(index_dir).segments
    segment_dir = index_dir / "segments" / entry["name"]
    flat = faiss.read_index(str(segment_dir / "dense.faiss"))
    ids = np.load(segment_dir / "ids.npy")
    vectors = np.stack([flat.reconstruct(int(i)) for i in ids])
    ivf = faiss.IndexIVFScalarQuantizer(
        faiss.IndexFlatIP(vectors.shape[1]),
        vectors.shape[1],
        1,
        faiss.ScalarQuantizer.QT_8bit,
        faiss.METRIC_INNER_PRODUCT,
    )
    ivf.train(vectors)
    ivf.add_with_ids(vectors, ids)
    faiss.write_index(ivf, str(segment_dir / "dense.faiss"))
    meta = json.loads((segment_dir / "meta.json").read_text(encoding="utf-8"))
    meta.update({"dense": "ivf-sq8", "nlist": 1, "nprobe": 1})
    del meta["files"]  # written before segments recorded their files' sizes and checksums
    (segment_dir / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    manifest_path = index_dir / "versions" / _manifest(index_dir).version / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["segments"] = [meta]  # the manifest holds what write_segment returned
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")

    engine = AnswerEngine(index_dir, embedder)
    assert engine.index.segments[0].meta["dense"] == "ivf-sq8"
    answer = engine.ask("京张高铁建成了吗？", top_k=1)
    assert answer.results[0].doc_id == "transport.txt"
    _, found = engine.index.dense_candidates(embedder.encode_queries(["生态环境"])[0], 3)
    assert sorted(found.tolist()) == sorted(ids.tolist())


def test_changing_one_document_writes_one_small_segment_and_touches_no_other_row(
    tmp_path, embedder
):
    index_dir, folder = tmp_path / "index", tmp_path / "corpus"
    settings = IngestSettings(max_deleted_share=0.5)  # 1 of 3 chunks changes: no rewrite yet
    docs = dict(DOCS)
    _ingest(index_dir, docs, embedder, folder, settings=settings)
    before = _manifest(index_dir)
    store = StoreWriter(index_dir / "store.sqlite")
    old_ecology = store.chunk_ids([before.documents["ecology.txt"][1]])

    docs["ecology.txt"] += "\n白洋淀水质提升至III类。"
    changed = _ingest(index_dir, docs, embedder, folder, settings=settings)
    after = _manifest(index_dir)
    assert changed.plan.changed == ["ecology.txt"] and changed.embedded == 1
    assert after.segments[: len(before.segments)] == before.segments  # shared, not copied
    (new,) = after.segments[len(before.segments) :]
    new_ids = np.load(index_dir / "segments" / new["name"] / "ids.npy")
    assert new["size"] == len(new_ids) == len(store.chunk_ids([after.documents["ecology.txt"][1]]))
    deleted = np.load(version_dir(index_dir, after.version) / DELETED)
    assert sorted(deleted.tolist()) == sorted(old_ecology)
    for doc_id in ("transport.txt", "industry.txt"):
        assert after.documents[doc_id] == before.documents[doc_id]  # same rows, same keys
    store.close()

    engine = AnswerEngine(index_dir, embedder)
    answer = engine.ask("白洋淀水质提升到几类？", top_k=3)
    assert "白洋淀" in answer.results[0].excerpt
    assert len({(r.doc_id, r.start) for r in answer.results}) == len(answer.results)
    assert all(r.doc_id != "ecology.txt" or "白洋淀" in r.excerpt for r in answer.results)


def test_small_segments_are_merged_and_deleted_rows_dropped(tmp_path, embedder):
    index_dir, folder = tmp_path / "index", tmp_path / "corpus"
    settings = IngestSettings(max_small_segments=2)
    docs = dict(DOCS)
    _ingest(index_dir, docs, embedder, folder, settings=settings)
    for i in range(4):
        docs["transport.txt"] += f"\n第{i}次更新：新增城际线路{i}条。"
        _ingest(index_dir, docs, embedder, folder, settings=settings)
        manifest = _manifest(index_dir)
        assert len(manifest.segments) <= settings.max_small_segments + 1
    assert manifest.chunks == sum(s["size"] for s in manifest.segments) - manifest.deleted
    segment_dirs = {p.name for p in (index_dir / "segments").iterdir()}
    kept = [LocalManifest.read(p) for p in (index_dir / "versions").iterdir()]
    assert segment_dirs == {s["name"] for m in kept for s in m.segments}  # pruned with versions
    engine = AnswerEngine(index_dir, embedder)
    assert "第3次更新" in engine.ask("第3次更新新增了几条城际线路？", top_k=1).results[0].excerpt


def test_a_version_that_cannot_load_is_logged_once_and_the_old_one_keeps_answering(
    tmp_path, embedder, caplog
):
    index_dir, folder = tmp_path / "index", tmp_path / "corpus"
    docs = dict(DOCS)
    _ingest(index_dir, docs, embedder, folder)
    engine = AnswerEngine(index_dir, embedder)
    good = engine.version
    docs["hydrogen.txt"] = "临港氢能示范园区\n临港氢能示范园区计划于2031年建成。"
    _ingest(index_dir, docs, embedder, folder)
    bad = current_version(index_dir)
    path = version_dir(index_dir, bad) / MANIFEST
    data = json.loads(path.read_text(encoding="utf-8"))
    data["model"] = {"name": "another-model", "fingerprint": "0" * 64, "dimension": 384}
    path.write_text(json.dumps(data), encoding="utf-8")

    with caplog.at_level(logging.WARNING, logger="retrieval.engine"):
        assert [engine.refresh() for _ in range(5)] == [False] * 5
    warnings = [r for r in caplog.records if bad in r.getMessage()]
    assert len(warnings) == 1 and "another-model" in warnings[0].getMessage()
    assert engine.version == good and engine.refresh_error
    assert engine.ask("京雄城际铁路全线贯通了吗？", top_k=1).results[0].doc_id == "transport.txt"


def test_questions_are_answered_while_a_new_version_loads(tmp_path, embedder, monkeypatch):
    index_dir, folder = tmp_path / "index", tmp_path / "corpus"
    docs = dict(DOCS)
    _ingest(index_dir, docs, embedder, folder)
    engine = AnswerEngine(index_dir, embedder)
    old = engine.version
    docs["hydrogen.txt"] = "临港氢能示范园区\n临港氢能示范园区计划于2031年建成。"
    _ingest(index_dir, docs, embedder, folder)

    loading, release = threading.Event(), threading.Event()
    real_segment = retrieval.backends.local.folder.Segment

    class SlowSegment(real_segment):  # a real segment load, held open until released
        def __init__(self, folder: Path, meta: dict | None = None) -> None:
            loading.set()
            assert release.wait(60)
            super().__init__(folder, meta)

    monkeypatch.setattr(retrieval.backends.local.folder, "Segment", SlowSegment)
    loader = threading.Thread(target=engine.refresh)
    loader.start()
    try:
        assert loading.wait(60)
        # The load is in progress: another thread neither waits for it nor sees half of it.
        assert engine.refresh() is False
        answer = engine.ask("京雄城际铁路全线贯通了吗？", top_k=1)
        assert answer.results[0].doc_id == "transport.txt" and engine.version == old
    finally:
        release.set()
        loader.join(60)
    assert engine.version == current_version(index_dir) != old
    assert engine.ask("临港氢能示范园区什么时候建成？", top_k=1).results[0].doc_id == "hydrogen.txt"


def test_a_full_build_in_several_segments_ranks_like_one(
    tmp_path, seed_index, seed_engine, embedder
):
    """Segments are written in parallel worker processes; BM25 scores with the IDF of the
    whole index, so splitting it changes no ranking on the seed corpus."""
    index_dir = _seed_copy(tmp_path, seed_index)
    settings = IngestSettings(segments=SegmentSettings(max_chunks=30))
    documents = load_corpus([shipped_corpus_dir()]).documents
    result = ingest(index_dir, documents, embedder, progress=False, log=_quiet, settings=settings)
    manifest = _manifest(index_dir)
    assert len(manifest.segments) == 3 and result.chunks == seed_engine.chunks
    engine = AnswerEngine(index_dir, embedder)
    for question in [*SEED_QUESTIONS, "雄安新区的交通建设有哪些进展？"]:
        ours = [(r.doc_id, r.start, r.end) for r in engine.ask(question, top_k=5).results]
        theirs = [(r.doc_id, r.start, r.end) for r in seed_engine.ask(question, top_k=5).results]
        assert ours == theirs
        tokens = tokenize(search_key(question))
        assert all(engine.index.idf(t) == pytest.approx(seed_engine.index.idf(t)) for t in tokens)
    _keyword_weights_read_like_a_search(engine.index, seed_engine.index)


def _keyword_weights_read_like_a_search(*indexes) -> None:
    """A few chunks' BM25 scores read from the postings equal what a keyword search gives
    them, in one segment and in three (segment ids sorted or not)."""
    tokens = tokenize(search_key("2019年工作要点 疏解非首都功能 医疗卫生"))
    for index in indexes:
        scores, ids = index.keyword_candidates(tokens, 100)
        expected = dict(zip(ids.tolist(), scores.tolist(), strict=True))
        assert len(expected) > 10
        picked = [*ids[::3].tolist(), max(expected) + 10_000]  # one id no segment holds
        unmatched = next(i for i in range(index.size) if i not in expected)  # lacks the tokens
        got = index.keyword_weights(tokens, [*picked, unmatched])
        assert got == pytest.approx({i: expected[i] for i in picked[:-1]}, rel=1e-6)
        for seg in index.segments:
            seg._ids_sorted = False  # the scan that unsorted ids would take
        assert index.keyword_weights(tokens, [*picked, unmatched]) == got
        for seg in index.segments:
            seg._ids_sorted = None
        assert index.keyword_weights([], picked) == {} and index.keyword_weights(tokens, []) == {}


def test_current_naming_a_missing_version_falls_back_to_the_newest_complete_one(
    tmp_path, embedder, caplog
):
    index_dir, folder = tmp_path / "index", tmp_path / "corpus"
    _ingest(index_dir, dict(DOCS), embedder, folder)
    good = current_version(index_dir)
    (index_dir / "CURRENT").write_text("20991231T000000-000000000\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="retrieval.backends.local.folder"):
        engine = AnswerEngine(index_dir, embedder)
    assert engine.version == good and "missing" in caplog.text
    assert engine.ask("京雄城际铁路全线贯通了吗？", top_k=1).results[0].doc_id == "transport.txt"


def test_a_narrow_filter_scans_only_its_rows_and_finds_what_a_whole_scan_would(tmp_path):
    """Issue 26: a filter leaving at most 1/NARROW of a PQ segment's rows scans a copy of the
    4-bit codes holding only its rows. It must return what scanning every row, keeping the
    allowed ones' best ``rescore`` and rescoring them gives: the same rows, the same order."""
    from retrieval.backends.local.segments import NARROW, RowFilter, Segment, write_segment

    rng = np.random.default_rng(7)
    n, dim = 4_000, 32
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(100, 100 + n, dtype=np.int64)
    settings = SegmentSettings(ann_threshold=1_000, rescore=200, train_sample=n)
    meta = write_segment(tmp_path, "s", ids, vectors, [["词"]] * n, settings)
    assert meta["dense"] == "pq4fs-sq8"
    segment = Segment(tmp_path / "s", meta)
    mask = rng.random(n) < 0.1  # a tenth of the rows: narrow enough for its own scan
    assert 0 < mask.sum() * NARROW <= n and mask.sum() > settings.rescore
    allowed = RowFilter(mask, np.flatnonzero(mask))
    for query in vectors[:5] + 0.01:
        query = query / np.linalg.norm(query)
        scores, found = segment.search_dense(query, 10, allowed=allowed)
        _, every = segment._scan.search(query.reshape(1, -1), n)  # all rows, by 4-bit score
        kept = np.array([r for r in every[0] if mask[r]][: settings.rescore])
        exact = segment._rescorer.sa_decode(segment._codes[kept]) @ query
        best = kept[np.argsort(-exact, kind="stable")[:10]]
        assert found.tolist() == ids[best].tolist()
        assert mask[found - 100].all()
    assert allowed.scan is not None and allowed.scan.ntotal == mask.sum()  # its own scan
