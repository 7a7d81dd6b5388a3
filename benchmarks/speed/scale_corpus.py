"""The scale benchmark's corpus: the shared sets' real passages, their e5 vectors (encoded once
and kept in a work folder), synthetic documents recombining their sentences with derived vectors,
and the shared sets' questions. Used by ``scale``, ``ann_recall`` and ``query_stages``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np

REAL_SETS = ("cmrc2018-trial", "drcd_s2-test")


def real_documents(eval_dir: Path):
    from corpus.loading import load_corpus

    return load_corpus([eval_dir / name / "corpus.jsonl" for name in REAL_SETS]).documents


def real_vectors(work: Path, documents, embedder) -> dict[str, np.ndarray]:
    """Real e5 vectors of the real passages' chunks, by text hash (encoded once, then kept)."""
    from corpus.chunking import chunk_document
    from corpus.normalize import search_key
    from retrieval.ingest.prepare import text_hash

    path = work / f"real-vectors-{embedder.identity.fingerprint[:12]}.npz"
    chunks = {text_hash(c.text): c.text for d in documents for c in chunk_document(d)}
    if path.is_file():
        data = np.load(path)
        if set(data["hashes"].tolist()) == set(chunks):
            return dict(zip(data["hashes"].tolist(), data["vectors"], strict=True))
    print(f"encoding {len(chunks):,} real chunks once (kept in {path}) …", flush=True)
    hashes = list(chunks)
    vectors = embedder.encode_documents([search_key(chunks[h]) for h in hashes], progress=True)
    np.savez(path, hashes=np.array(hashes), vectors=vectors)
    return dict(zip(hashes, vectors, strict=True))


def real_sentences(documents) -> dict[str, str]:
    """Each distinct sentence (8+ characters) of the real chunks -> hash of its chunk."""
    from corpus.chunking import chunk_document, split_sentences
    from retrieval.ingest.prepare import text_hash

    source: dict[str, str] = {}
    for doc in documents:
        for chunk in chunk_document(doc):
            for s, e in split_sentences(chunk.text):
                if e - s >= 8:
                    source.setdefault(chunk.text[s:e], text_hash(chunk.text))
    return source


def sentence_vectors(work: Path, sentences: list[str], embedder) -> dict[str, np.ndarray]:
    """Real e5 passage vectors of single sentences (encoded once, then kept)."""
    from corpus.normalize import search_key

    path = work / f"sentence-vectors-{embedder.identity.fingerprint[:12]}.npz"
    if path.is_file():
        data = np.load(path)
        if data["sentences"].tolist() == sentences:
            return dict(zip(sentences, data["vectors"], strict=True))
    print(f"encoding {len(sentences):,} real sentences once (kept in {path}) …", flush=True)
    vectors = embedder.encode_documents([search_key(x) for x in sentences], progress=True)
    np.savez(path, sentences=np.array(sentences), vectors=vectors)
    return dict(zip(sentences, vectors, strict=True))


class Derivation:
    """A synthetic chunk's vector: the normalised mean of real vectors of its parts."""

    def __init__(self, source: dict[str, str], chunk_vectors, sentence_vecs=None) -> None:
        self.source, self.chunk_vectors, self.sentence_vecs = source, chunk_vectors, sentence_vecs

    def __call__(self, text: str, rng: random.Random) -> np.ndarray:
        from corpus.chunking import split_sentences

        pieces = [text[s:e] for s, e in split_sentences(text)]
        if self.sentence_vecs is not None:
            parts = [self.sentence_vecs[p] for p in pieces if p in self.sentence_vecs]
        else:
            hashes = [self.source.get(p) for p in pieces]
            parts = [self.chunk_vectors[h] for h in hashes if h in self.chunk_vectors]
        if not parts:
            parts = [self.chunk_vectors[rng.choice(list(self.chunk_vectors))]]
        mean = np.mean(parts, axis=0)
        return (mean / np.linalg.norm(mean)).astype(np.float32)


def synthetic_corpus(sentences: list[str], derive: Derivation, target_chunks: int, seed: int = 0):
    """Documents recombining real sentences, and a derived vector for each of their chunks."""
    from corpus.chunking import chunk_document
    from corpus.document import Document
    from retrieval.ingest.prepare import text_hash

    rng = random.Random(seed)
    out, derived, made = [], {}, 0
    while made < target_chunks:
        n = len(out)
        picked = [rng.choice(sentences) for _ in range(rng.randint(6, 14))]
        doc = Document(
            doc_id=f"synthetic/{n:07d}",
            title=f"合成政策文件第{n}号",
            text="".join(picked),
            source="合成语料",
            date=f"20{rng.randint(10, 25):02d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        )
        for chunk in chunk_document(doc):
            h = text_hash(chunk.text)
            if h not in derived:
                derived[h] = derive(chunk.text, rng)
            made += 1
        out.append(doc)
    return out, derived


def questions(eval_dir: Path, per_set: int, seed: int = 0) -> list[dict]:
    rows = []
    for name in ("cmrc2018-trial", "drcd_s2-test"):
        lines = (eval_dir / name / "queries.jsonl").read_text(encoding="utf-8").splitlines()
        records = [json.loads(x) for x in lines if x.strip()]
        records = [r for r in records if r["question"].strip() and r.get("doc_id")]
        random.Random(seed).shuffle(records)
        rows += [{"set": name, **r} for r in records[:per_set]]
    return rows
