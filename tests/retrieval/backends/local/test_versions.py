"""Versions in the local index folder: pruning keeps the newest and the live one, a version
pruned while loading is read again, an ingest with nothing new publishes nothing
(backends/local/folder.py)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import retrieval.backends.local.folder as index_module
from corpus.loading import load_corpus
from retrieval.backends.local.folder import (
    CURRENT,
    VERSIONS,
    current_version,
    load_version,
    prune_versions,
    publish,
    version_dir,
)
from retrieval.backends.local.ingest import ingest
from tests.support.corpora import write_corpus


def _versions(index: Path) -> list[str]:
    return sorted(p.name for p in (index / VERSIONS).iterdir() if not p.name.startswith("."))


def _ingest(index: Path, corpus: Path, embedder) -> str:
    docs = load_corpus([corpus]).documents
    return ingest(index, docs, embedder, progress=False, log=lambda _m: None).version


def test_pruning_keeps_the_newest_two_and_always_the_live_one(tmp_path, embedder, monkeypatch):
    monkeypatch.setattr(index_module, "RETIRE_AFTER_S", 0.0)  # no grace: see the next test
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    made = []
    for i in range(4):
        write_corpus(corpus, {"a.txt": f"第{i}版\n雄安新区第{i}版规划于2018年发布。"})
        made.append(_ingest(index, corpus, embedder))
    assert _versions(index) == made[-2:]  # each ingest prunes to two

    publish(index, made[-2])  # an operator rolled back to the older one
    kept = prune_versions(index, keep=1)
    assert _versions(index) == made[-2:]  # the newest, and the live one although older
    assert {m.version for m in kept} == set(made[-2:])


def test_a_version_replaced_a_moment_ago_outlives_its_replacement(tmp_path, embedder):
    """Readers refresh every few seconds: a version stays RETIRE_AFTER_S after it was
    replaced, with its rows, then goes at the next ingest."""
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    made = []
    for i in range(4):
        write_corpus(corpus, {"a.txt": f"第{i}版\n雄安新区第{i}版规划于2018年发布。"})
        made.append(_ingest(index, corpus, embedder))
    assert _versions(index) == made  # all replaced within the grace period
    old = time.time() - index_module.RETIRE_AFTER_S - 1
    for name in made[1:3]:  # versions 1 and 2 were published long ago …
        os.utime(version_dir(index, name) / "manifest.json", (old, old))
    prune_versions(index)  # … so 0 and 1 (replaced by them) go; 2 was replaced just now
    assert _versions(index) == made[2:]


def test_store_keys_are_never_handed_out_twice(tmp_path, embedder, monkeypatch):
    """A reader on a retired version must never find another document's rows under its
    keys: the key of collected rows is not handed out again, although it was the highest."""
    monkeypatch.setattr(index_module, "RETIRE_AFTER_S", 0.0)
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    texts = {"a.txt": "甲\n雄安新区规划于2018年发布。", "c.txt": "丙\n通武廊签署协议。"}
    write_corpus(corpus, texts)
    _ingest(index, corpus, embedder)
    write_corpus(corpus, {**texts, "b.txt": "乙\n城市副中心启用。"})
    _ingest(index, corpus, embedder)
    b_key = load_version(index).manifest.documents["b.txt"][1]
    write_corpus(corpus, texts)
    _ingest(index, corpus, embedder)
    write_corpus(corpus, {"a.txt": texts["a.txt"]})
    _ingest(index, corpus, embedder)  # the version naming b is pruned: b's rows collected
    write_corpus(corpus, {"a.txt": texts["a.txt"], "d.txt": "丁\n新文件。"})
    _ingest(index, corpus, embedder)
    assert load_version(index).manifest.documents["d.txt"][1] > b_key


def test_a_version_pruned_while_loading_is_read_again(tmp_path, embedder, monkeypatch):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    write_corpus(corpus, {"a.txt": "甲\n雄安新区规划于2018年发布。"})
    first = _ingest(index, corpus, embedder)
    write_corpus(corpus, {"a.txt": "甲\n雄安新区规划于2018年4月发布。"})
    second = _ingest(index, corpus, embedder)
    stale = version_dir(index, first)
    assert stale.is_dir()
    answers = iter([first])  # the first read of CURRENT still names the old version …

    def racing_current(index_dir: Path) -> str | None:
        name = next(answers, None)
        if name is not None:
            index_module.shutil.rmtree(stale)  # … which an ingest prunes right then
            return name
        return (index_dir / CURRENT).read_text(encoding="utf-8").strip()

    monkeypatch.setattr(index_module, "current_version", racing_current)
    loaded = load_version(index)
    assert loaded.version == second


def test_an_ingest_with_nothing_new_publishes_nothing(tmp_path, embedder):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    write_corpus(
        corpus, {"a.txt": "甲\n雄安新区规划于2018年发布。", "b.txt": "乙\n通武廊签署协议。"}
    )
    version = _ingest(index, corpus, embedder)
    stamp = os.stat(index / CURRENT).st_mtime_ns
    assert _ingest(index, corpus, embedder) == version
    assert current_version(index) == version and _versions(index) == [version]
    assert os.stat(index / CURRENT).st_mtime_ns == stamp
