"""jieba's dictionary read a first character at a time (retrieval/jieba_dict.py): the same
words as jieba's own loaded dictionary, a damaged copy never used, and the warm-up thread
of a cold ask changing nothing."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import jieba
import pytest

from corpus.normalize import search_key
from retrieval import jieba_dict, tokens
from tests.support import DATA, ROOT


def _texts() -> list[str]:
    """Every question of tests/data and every line of the shipped corpus and of the test
    documents: Chinese, traditional, English and mixed, short and long."""
    texts = []
    for path in sorted(DATA.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                texts.append(json.loads(line)["question"])
    seed = (ROOT / "corpus" / "seed").glob("*.txt")
    documents = [*seed, *DATA.rglob("*.txt"), *DATA.rglob("*.md")]
    for path in sorted(documents):
        texts.extend(line for line in path.read_text(encoding="utf-8").splitlines() if line)
    return texts


def _loaded() -> jieba.Tokenizer:
    """jieba as it was used before: its whole dictionary loaded, then the domain words."""
    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer


def _bucketed(folder: Path) -> jieba.Tokenizer:
    tokenizer = jieba.Tokenizer()
    assert jieba_dict.attach(tokenizer, folder)
    return tokenizer


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> tuple[Path, jieba.Tokenizer]:
    """A stored dictionary, and jieba's own loaded one with the domain words."""
    folder = tmp_path_factory.mktemp("jieba")
    loaded = _loaded()
    assert jieba_dict.save(loaded, folder) is not None
    loaded.load_userdict(str(tokens.USER_DICT))
    return folder, loaded


def test_the_stored_dictionary_cuts_every_text_into_the_same_words(store):
    folder, loaded = store
    bucketed = _bucketed(folder)
    bucketed.load_userdict(str(tokens.USER_DICT))
    assert bucketed.total == loaded.total
    texts = _texts()
    assert len(texts) > 4000
    for text in texts:  # what the product cuts: search keys (corpus.normalize)
        key = search_key(text)
        assert bucketed.lcut(key) == loaded.lcut(key), key
    for text in texts[:1000]:  # the questions: other modes too, and the raw text
        key = search_key(text)
        assert bucketed.lcut(text) == loaded.lcut(text), text
        assert bucketed.lcut(key, HMM=False) == loaded.lcut(key, HMM=False), key
        assert bucketed.lcut_for_search(key) == loaded.lcut_for_search(key), key


def test_a_question_reads_only_the_buckets_of_its_characters(store):
    folder, _ = store
    bucketed = _bucketed(folder)
    question = "通武廊签署了什么协议？"
    words = bucketed.lcut(question)
    assert "".join(words) == question
    assert bucketed.FREQ.buckets_read() <= len(set(question))


@pytest.mark.parametrize(
    "damage", ["truncated", "flipped", "header flipped", "other jieba", "empty", "missing"]
)
def test_a_damaged_or_foreign_store_is_not_used(store, tmp_path, monkeypatch, damage):
    folder, _ = store
    path = jieba_dict.store_path(folder, jieba_dict.fingerprint())
    copy = jieba_dict.store_path(tmp_path, jieba_dict.fingerprint())
    data = path.read_bytes()
    if damage == "truncated":
        copy.write_bytes(data[:-100])
    elif damage == "flipped":  # in a bucket
        copy.write_bytes(data[:-100] + bytes([data[-100] ^ 0xFF]) + data[-99:])
    elif damage == "header flipped":  # where the buckets are
        at = jieba_dict._START + 40
        copy.write_bytes(data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :])
    elif damage == "other jieba":  # same file name, another dictionary's fingerprint inside
        copy.write_bytes(data)
        monkeypatch.setattr(jieba_dict, "fingerprint", lambda: "jieba 0.0 elsewhere 1 1")
        monkeypatch.setattr(jieba_dict, "store_path", lambda folder, _: copy)
    elif damage == "empty":
        copy.write_bytes(b"")
    tokenizer = jieba.Tokenizer()
    assert not jieba_dict.attach(tokenizer, tmp_path)
    assert not tokenizer.initialized  # jieba then loads its dictionary itself, as before


def test_an_unwritable_cache_folder_leaves_jieba_as_it_was(store, tmp_path):
    folder, loaded = store
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert jieba_dict.save(loaded, blocker / "jieba") is None


def test_the_product_tokenizer_stores_once_and_reads_after(store, tmp_path, monkeypatch):
    """``tokens._jieba``: the first process loads jieba's dictionary and stores it, the
    next ones read the stored copy; both cut as jieba's own loaded dictionary does."""
    _, loaded = store
    monkeypatch.setenv("QABOT_CACHE_DIR", str(tmp_path))
    texts = _texts()[:300]
    try:
        for round_ in ("stores", "reads"):
            tokens._jieba.cache_clear()
            words = [tokens.jieba_words(text) for text in texts]
            assert words == [loaded.lcut(text) for text in texts], round_
            bucketed = isinstance(tokens._jieba().FREQ, jieba_dict.BucketedFreq)
            assert bucketed == (round_ == "reads")
            assert list((tmp_path / "jieba").glob("freq-*.bin"))
    finally:
        tokens._jieba.cache_clear()


def test_the_warm_up_thread_of_a_cold_ask_gives_the_same_words(store, tmp_path, monkeypatch):
    """A cold ask warms the segmenters on a thread beside the model load
    (``AnswerEngine.open``) while questions may be cut on others: the same words."""
    folder, loaded = store
    (tmp_path / "jieba").mkdir()
    stored = jieba_dict.store_path(folder, jieba_dict.fingerprint())
    (tmp_path / "jieba" / stored.name).write_bytes(stored.read_bytes())
    monkeypatch.setenv("QABOT_CACHE_DIR", str(tmp_path))
    texts = _texts()[:200]
    tokens._jieba.cache_clear()
    try:
        results: dict[int, list[list[str]]] = {}
        warm = threading.Thread(target=tokens.warm_up)
        cutters = [
            threading.Thread(
                target=lambda i=i: results.__setitem__(i, [tokens.jieba_words(t) for t in texts])
            )
            for i in range(3)
        ]
        warm.start()
        for thread in cutters:
            thread.start()
        for thread in [warm, *cutters]:
            thread.join()
        expected = [loaded.lcut(text) for text in texts]
        assert all(results[i] == expected for i in range(3))
        assert isinstance(tokens._jieba().FREQ, jieba_dict.BucketedFreq)
    finally:
        tokens._jieba.cache_clear()


def test_the_search_segmenter_is_rjieba_s_default_plus_the_domain_words():
    """``tokens._segmenter`` takes the segmenter rjieba builds on import instead of a
    second one: the same search words as a fresh one given the domain dictionary."""
    import rjieba

    fresh = rjieba.Jieba()
    for line in tokens.USER_DICT.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if parts:
            fresh.add_word(parts[0], int(parts[1]), parts[2] if len(parts) > 2 else None)
    for text in _texts():
        key = search_key(text)
        assert tokens.jieba_tokens(key) == [
            word
            for run in tokens._RUNS.findall(key)
            for word in (fresh.cut_for_search(run) if tokens._CJK.match(run) else [run])
        ], key
