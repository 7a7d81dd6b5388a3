"""The chunk store: documents and chunk rows in one append-only SQLite file, shared by versions.

Rows are written once and never changed: a changed document gets a new
``doc_key`` and new chunk ids, so every version reads exactly the rows its
manifest and segments name. Rows that no kept version names any more are
deleted by :meth:`ChunkStore.collect_garbage`. Readers fetch only the rows of
the results they show; nothing of size *n* is held in memory.

Citation fields (chunker version 2): ``chunks.section`` and ``chunks.article`` (the
heading path and article where the chunk begins), ``documents.doc_number`` and
``documents.issuer`` (as the text states them). A store written before them gets the
columns added, empty (NULL), on the next ingest; its old rows keep NULL and are
collected once no kept version names them. Readers of a store that lacks the columns
read NULL.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from corpus.document import Document
from corpus.metadata import region_of
from corpus.structure import info_of
from retrieval.backends.base import ChunkRow
from retrieval.ingest.embedding_cache import sqlite_problem

STORE = "store.sqlite"
SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    doc_key INTEGER PRIMARY KEY,
    doc_id TEXT NOT NULL,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    source TEXT,
    date TEXT,
    url TEXT,
    content_hash TEXT NOT NULL,
    doc_number TEXT,
    issuer TEXT
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY,
    doc_key INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    text_hash TEXT NOT NULL,
    section TEXT,
    article TEXT
);
CREATE INDEX IF NOT EXISTS chunks_by_doc ON chunks(doc_key);
-- covers "SELECT doc_key FROM documents" (garbage collection) without reading the texts
CREATE INDEX IF NOT EXISTS documents_by_id ON documents(doc_id);
-- the next doc_key and chunk id to hand out: keys of collected rows are never reused
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, next INTEGER NOT NULL);
"""
# Columns added after the first release: (table, column), all TEXT and nullable.
ADDED_COLUMNS = (
    ("chunks", "section"),
    ("chunks", "article"),
    ("documents", "doc_number"),
    ("documents", "issuer"),
)
# Document metadata of issue 26 (retrieval/filters.py; readers take it from the manifest):
# added like the citation columns, NULL for rows written before them.
META_COLUMNS = (
    ("documents", "order_number"),
    ("documents", "effective_date"),
    ("documents", "doc_type"),
    ("documents", "region"),
)
_BATCH = 500


def _columns(con: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in con.execute(f"PRAGMA table_info({table})")}


class ChunkStore:
    """Read side: thread-safe, one read-only connection per thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()

    def _con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
            self._local.con = con
            self._local.select = self._chunk_select(con)
        return con

    @staticmethod
    def _chunk_select(con: sqlite3.Connection) -> str:
        """The columns of a ChunkRow; NULL for citation columns an older store lacks."""
        have = {(t, c) for t in ("chunks", "documents") for c in _columns(con, t)}
        extra = [
            f"{'c' if table == 'chunks' else 'd'}.{column}" if (table, column) in have else "NULL"
            for table, column in ADDED_COLUMNS
        ]
        return 'c.id, c.doc_key, d.doc_id, c.idx, c.start, c."end", ' + ", ".join(extra)

    def chunks(self, ids: Iterable[int]) -> dict[int, ChunkRow]:
        """The rows of ``ids`` that exist, by id."""
        wanted = [int(i) for i in dict.fromkeys(ids)]
        found: dict[int, ChunkRow] = {}
        for i in range(0, len(wanted), _BATCH):
            part = wanted[i : i + _BATCH]
            marks = ",".join("?" * len(part))
            con = self._con()
            rows = con.execute(
                f"SELECT {self._local.select}"
                f" FROM chunks c JOIN documents d USING (doc_key) WHERE c.id IN ({marks})",
                part,
            )
            found.update((row[0], ChunkRow(*row)) for row in rows)
        return found

    def document(self, doc_key: int) -> Document | None:
        row = (
            self._con()
            .execute(
                "SELECT doc_id, title, text, source, date, url FROM documents WHERE doc_key = ?",
                (doc_key,),
            )
            .fetchone()
        )
        return Document(*row) if row else None

    def sources(self, doc_keys: Sequence[int]) -> list[tuple]:
        """(doc_id, title, date, source, url, characters) of ``doc_keys``, in that order,
        without reading the texts."""
        found: dict[int, tuple] = {}
        for i in range(0, len(doc_keys), _BATCH):
            part = list(doc_keys[i : i + _BATCH])
            marks = ",".join("?" * len(part))
            rows = self._con().execute(
                "SELECT doc_key, doc_id, title, date, source, url, length(text)"
                f" FROM documents WHERE doc_key IN ({marks})",
                part,
            )
            found.update((row[0], row[1:]) for row in rows)
        return [found[k] for k in doc_keys if k in found]

    def chunk_doc_keys(self) -> tuple[np.ndarray, np.ndarray]:
        """(chunk ids ascending, their doc_keys) of every chunk row stored (one pass over
        the chunks table: 100k rows in about 0.1 s), for filters."""
        rows = self._con().execute("SELECT id, doc_key FROM chunks ORDER BY id").fetchall()
        pairs = np.asarray(rows, np.int64).reshape(-1, 2)
        return pairs[:, 0].copy(), pairs[:, 1].copy()

    def chunk_texts(self, doc_keys: Sequence[int]) -> Iterable[tuple[int, str, str]]:
        """(chunk id, doc_id, chunk text) of every chunk of ``doc_keys``, for evaluation tools."""
        for doc_key in doc_keys:
            doc = self.document(doc_key)
            rows = self._con().execute(
                'SELECT id, start, "end" FROM chunks WHERE doc_key = ? ORDER BY idx', (doc_key,)
            )
            for cid, start, end in rows:
                yield cid, doc.doc_id, doc.text[start:end]


def store_problem(path: Path, thorough: bool = False) -> str | None:
    """Why the store at ``path`` cannot be read, or None (see sqlite_problem)."""
    return sqlite_problem(path, thorough, ("documents", "chunks"))


def _info(doc: Document) -> tuple[str | None, ...]:
    """(doc_number, issuer, order_number, effective_date, doc_type, region) of ``doc``."""
    info = info_of(doc)
    region = region_of(info.issuer, doc.title)
    return (
        info.doc_number,
        info.issuer,
        info.order_number,
        info.effective_date,
        info.doc_type,
        region,
    )


class StoreWriter:
    """Write side, used by the one ingest holding the lock."""

    def __init__(self, path: Path) -> None:
        self._con = sqlite3.connect(path, timeout=30)
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.executescript(SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """Add the citation columns to a store written before them (old rows: NULL)."""
        with self._con:
            for table, column in ADDED_COLUMNS + META_COLUMNS:
                if column not in _columns(self._con, table):
                    self._con.execute(f"ALTER TABLE {table} ADD COLUMN {column} TEXT")

    def close(self) -> None:
        self._con.close()

    def next_ids(self) -> tuple[int, int]:
        """(next doc_key, next chunk id): keys are never reused, not even those of rows
        already collected (a reader still on an old version would get another document's
        text under them), so the highest handed out is kept in ``counters``."""
        doc = self._con.execute("SELECT COALESCE(MAX(doc_key), -1) + 1 FROM documents").fetchone()
        chunk = self._con.execute("SELECT COALESCE(MAX(id), -1) + 1 FROM chunks").fetchone()
        kept = dict(self._con.execute("SELECT name, next FROM counters"))
        return max(int(doc[0]), kept.get("doc_key", 0)), max(int(chunk[0]), kept.get("chunk", 0))

    def append(
        self,
        documents: Sequence[tuple[int, Document]],
        chunks: Sequence[tuple],
    ) -> None:
        """Add (doc_key, document) rows, with the number and issuer the text states, and
        (id, doc_key, idx, start, end, text_hash[, section, article]) rows; commit."""
        top_doc = max((k for k, _ in documents), default=-1) + 1
        top_chunk = max((int(row[0]) for row in chunks), default=-1) + 1
        with self._con:
            self._con.executemany(
                "INSERT INTO counters (name, next) VALUES (?, ?) ON CONFLICT(name)"
                " DO UPDATE SET next = MAX(next, excluded.next)",
                (("doc_key", top_doc), ("chunk", top_chunk)),
            )
            self._con.executemany(
                "INSERT INTO documents (doc_key, doc_id, title, text, source, date, url,"
                " content_hash, doc_number, issuer, order_number, effective_date, doc_type,"
                " region) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    (k, d.doc_id, d.title, d.text, d.source, d.date, d.url, d.content_hash)
                    + _info(d)
                    for k, d in documents
                ),
            )
            self._con.executemany(
                'INSERT INTO chunks (id, doc_key, idx, start, "end", text_hash, section, article)'
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                ((*row, None, None)[:8] for row in chunks),
            )

    def chunk_ids(self, doc_keys: Iterable[int]) -> list[int]:
        """Chunk ids of the given documents."""
        keys = list(doc_keys)
        out: list[int] = []
        for i in range(0, len(keys), _BATCH):
            part = keys[i : i + _BATCH]
            marks = ",".join("?" * len(part))
            out.extend(
                cid
                for (cid,) in self._con.execute(
                    f"SELECT id FROM chunks WHERE doc_key IN ({marks})", part
                )
            )
        return out

    def chunk_hashes(self, ids: Sequence[int]) -> list[str]:
        """Text hashes of chunk ``ids``, in order."""
        found: dict[int, str] = {}
        for i in range(0, len(ids), _BATCH):
            part = [int(x) for x in ids[i : i + _BATCH]]
            marks = ",".join("?" * len(part))
            found.update(
                self._con.execute(f"SELECT id, text_hash FROM chunks WHERE id IN ({marks})", part)
            )
        return [found[int(i)] for i in ids]

    def texts(self, ids: Sequence[int]) -> dict[str, str]:
        """{text hash: chunk text} of chunk ``ids`` (to embed again what a cache lost)."""
        out: dict[str, str] = {}
        for i in range(0, len(ids), _BATCH):
            part = [int(x) for x in ids[i : i + _BATCH]]
            marks = ",".join("?" * len(part))
            rows = self._con.execute(
                'SELECT c.text_hash, substr(d.text, c.start + 1, c."end" - c.start)'
                f" FROM chunks c JOIN documents d USING (doc_key) WHERE c.id IN ({marks})",
                part,
            )
            out.update(rows)
        return out

    def collect_garbage(self, live_doc_keys: set[int]) -> int:
        """Delete documents (and their chunks) that no kept version names; how many."""
        stored = [k for (k,) in self._con.execute("SELECT doc_key FROM documents")]
        dead = [k for k in stored if k not in live_doc_keys]
        with self._con:
            for i in range(0, len(dead), _BATCH):
                part = dead[i : i + _BATCH]
                marks = ",".join("?" * len(part))
                self._con.execute(f"DELETE FROM chunks WHERE doc_key IN ({marks})", part)
                self._con.execute(f"DELETE FROM documents WHERE doc_key IN ({marks})", part)
        return len(dead)
