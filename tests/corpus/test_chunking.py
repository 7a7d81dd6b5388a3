"""Sentence splitting and chunking over the cleaned seed corpus."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corpus.chunking import CHUNKER_VERSION, Chunk, chunk_document, split_sentences
from corpus.cleaning import clean_text
from corpus.document import Document
from corpus.loading import load_corpus, shipped_corpus_dir
from corpus.sanitize import sanitize_document
from tests.support.strategies import FAST, SHORT, TEXT

SEED_DOCS = load_corpus([shipped_corpus_dir()]).documents


def ids(docs: list[Document]) -> list[str]:
    return [d.doc_id for d in docs]


def test_split_sentences_marks_and_closing_quotes() -> None:
    text = " 他说：“要加快发展。”随后散会！真的吗？是的;好\n第二段……结束 "
    spans = split_sentences(text)
    assert [text[s:e] for s, e in spans] == [
        "他说：“要加快发展。”",
        "随后散会！",
        "真的吗？",
        "是的;",
        "好",
        "第二段……",
        "结束",
    ]


def test_split_sentences_handles_empty_and_blank() -> None:
    assert split_sentences("") == []
    assert split_sentences(" \n\n ") == []
    assert split_sentences("无标点") == [(0, 3)]


@pytest.mark.parametrize("doc", SEED_DOCS, ids=ids(SEED_DOCS))
def test_sentences_cover_text_without_whitespace_edges(doc: Document) -> None:
    spans = split_sentences(doc.text)
    assert spans
    for (_, e), (s2, _) in zip(spans, spans[1:], strict=False):
        assert e <= s2
    for s, e in spans:
        piece = doc.text[s:e]
        assert piece and piece == piece.strip()
    covered = "".join(doc.text[s:e] for s, e in spans)
    assert "".join(covered.split()) == "".join(doc.text.split())


@pytest.mark.parametrize("doc", SEED_DOCS, ids=ids(SEED_DOCS))
def test_seed_chunks_offsets_sizes_and_overlap(doc: Document) -> None:
    chunks = chunk_document(doc)
    assert len(chunks) > 1
    sentence_starts = {s for s, _ in split_sentences(doc.text)}
    sentence_ends = {e for _, e in split_sentences(doc.text)}
    for i, chunk in enumerate(chunks):
        assert isinstance(chunk, Chunk) and chunk.doc_id == doc.doc_id and chunk.index == i
        assert chunk.text and doc.text[chunk.start : chunk.end] == chunk.text
        assert chunk.end - chunk.start <= 400
        assert chunk.start in sentence_starts and chunk.end in sentence_ends  # whole sentences
    assert chunks[0].start == 0 and chunks[-1].end == len(doc.text)
    for prev, nxt in zip(chunks, chunks[1:], strict=False):
        # exactly one sentence shared: the next chunk starts at prev's last sentence
        last_start = max(s for s, _ in split_sentences(doc.text) if s < prev.end)
        assert nxt.start == last_start, (prev.index, nxt.index)
        # a chunk is short only when the next sentence would not fit
        if prev.end - prev.start < 200:
            following = next(e for s, e in split_sentences(doc.text) if s >= prev.end)
            assert following - prev.start > 400
    sizes = [c.end - c.start for c in chunks]
    assert sum(size >= 200 for size in sizes) >= 0.8 * len(sizes)


def test_short_document_is_one_chunk() -> None:
    doc = Document("a", "t", "京津冀协同发展。推动交通一体化。")
    chunks = chunk_document(doc)
    assert len(chunks) == 1
    assert (chunks[0].start, chunks[0].end, chunks[0].text) == (0, len(doc.text), doc.text)


def test_empty_document_has_no_chunks() -> None:
    assert chunk_document(Document("a", "t", "  \n")) == []


def test_overlong_sentence_is_cut_at_commas() -> None:
    sentence = "，".join(["推进京津冀协同发展重点任务落实"] * 60) + "。"
    doc = Document("long", "t", "开头一句。" + sentence + "结尾一句。")
    chunks = chunk_document(doc)
    assert all(c.end - c.start <= 400 for c in chunks)
    assert all(doc.text[c.start : c.end] == c.text for c in chunks)
    assert all(c.text.endswith(("，", "。")) for c in chunks)
    covered = set()
    for c in chunks:
        covered.update(range(c.start, c.end))
    assert covered == set(range(len(doc.text)))


def test_overlong_sentence_without_commas_is_hard_cut() -> None:
    doc = Document("x", "t", "京" * 1000)
    chunks = chunk_document(doc)
    assert [c.end - c.start for c in chunks] == [400, 400, 200]
    assert "".join(c.text for c in chunks) == doc.text


def test_parameters_are_validated_and_version_set() -> None:
    with pytest.raises(ValueError):
        chunk_document(SEED_DOCS[0], target=100, max_chars=50, min_chars=10)
    assert CHUNKER_VERSION


def test_custom_window_sizes() -> None:
    doc = SEED_DOCS[0]
    chunks = chunk_document(doc, target=120, max_chars=160, min_chars=80)
    assert len(chunks) > len(chunk_document(doc))
    assert all(c.end - c.start <= 160 for c in chunks)


@FAST
@given(TEXT, SHORT, st.one_of(st.none(), SHORT), st.one_of(st.none(), SHORT))
def test_cleaned_chunks_quote_the_clean_text(raw: str, title: str, source, url) -> None:
    text = clean_text(raw)
    doc, _warnings = sanitize_document(Document("d.txt", title or "t", text, source, None, url))
    assert doc.url is None or doc.url.startswith(("http://", "https://"))
    for chunk in chunk_document(doc):
        assert chunk.text == doc.text[chunk.start : chunk.end]
