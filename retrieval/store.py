"""SQLite store of one index version: documents, chunks, their tokens and vectors.

Row ``id`` of ``chunks`` is the chunk's id in the FAISS index and its row in the
keyword index. Vectors and tokens are kept so the next ingest can reuse them for
unchanged text (keyed by ``text_hash``) instead of encoding it again.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from corpus.document import Document

SCHEMA = """
CREATE TABLE documents (
    doc_id TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    source TEXT,
    date TEXT,
    url TEXT,
    content_hash TEXT NOT NULL
);
CREATE TABLE chunks (
    id INTEGER PRIMARY KEY,
    doc_id TEXT NOT NULL REFERENCES documents(doc_id),
    idx INTEGER NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    text_hash TEXT NOT NULL,
    tokens TEXT NOT NULL,
    vector BLOB NOT NULL
);
CREATE INDEX chunks_by_hash ON chunks(text_hash);
"""
_TOKEN_SEP = "\x1f"


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ChunkRecord:
    """A chunk as stored: where it is, and what search needs of it."""

    id: int
    doc_id: str
    index: int
    start: int
    end: int
    text_hash: str
    tokens: tuple[str, ...]
    vector: np.ndarray


def write_store(path: Path, documents: Iterable[Document], chunks: Iterable[ChunkRecord]) -> None:
    """Create a new store file (must not exist) in one transaction."""
    con = sqlite3.connect(path)
    try:
        with con:
            con.executescript(SCHEMA)
            con.executemany(
                "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    (d.doc_id, i, d.title, d.text, d.source, d.date, d.url, d.content_hash)
                    for i, d in enumerate(documents)
                ),
            )
            con.executemany(
                "INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    (
                        c.id,
                        c.doc_id,
                        c.index,
                        c.start,
                        c.end,
                        c.text_hash,
                        _TOKEN_SEP.join(c.tokens),
                        np.asarray(c.vector, np.float32).tobytes(),
                    )
                    for c in chunks
                ),
            )
    finally:
        con.close()


def _connect_readonly(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def read_documents(path: Path) -> list[Document]:
    con = _connect_readonly(path)
    try:
        rows = con.execute(
            "SELECT doc_id, title, text, source, date, url FROM documents ORDER BY position"
        ).fetchall()
    finally:
        con.close()
    return [Document(*row) for row in rows]


def read_chunks(path: Path, with_vectors: bool = True) -> list[ChunkRecord]:
    con = _connect_readonly(path)
    try:
        rows = con.execute(
            'SELECT id, doc_id, idx, start, "end", text_hash, tokens, vector'
            " FROM chunks ORDER BY id"
        ).fetchall()
    finally:
        con.close()
    empty = np.zeros(0, np.float32)
    return [
        ChunkRecord(
            cid,
            doc_id,
            idx,
            start,
            end,
            th,
            tuple(tokens.split(_TOKEN_SEP)) if tokens else (),
            np.frombuffer(blob, dtype=np.float32) if with_vectors else empty,
        )
        for cid, doc_id, idx, start, end, th, tokens, blob in rows
    ]
