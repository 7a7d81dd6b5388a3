"""The embedding cache: vectors and keyword tokens by chunk-text hash, outside any version.

One SQLite file beside the versions (``cache.sqlite``). Vectors are keyed by
(model fingerprint, text hash) and tokens by (tokenizer key, text hash), so a
renamed or re-added document embeds nothing, and another model never sees
this model's vectors. Each batch is committed as soon as it is encoded: an
ingest killed after hours of work loses one batch, and the rerun embeds only
what is still missing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

CACHE = "cache.sqlite"
_SEP = "\x1f"


def join_tokens(tokens: Sequence[str]) -> str:
    """One chunk's tokens as the cache stores them."""
    return _SEP.join(tokens)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (
    model TEXT NOT NULL, text_hash TEXT NOT NULL, vector BLOB NOT NULL,
    PRIMARY KEY (model, text_hash)
);
CREATE TABLE IF NOT EXISTS tokens (
    tokenizer TEXT NOT NULL, text_hash TEXT NOT NULL, tokens TEXT NOT NULL,
    PRIMARY KEY (tokenizer, text_hash)
);
"""  # rowid tables: rows of 1-2 KB would spill into overflow pages WITHOUT ROWID
_BATCH = 500  # SQLite host parameters per IN (...) query


def _chunks(items: Sequence[str], size: int = _BATCH) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def sqlite_problem(path: Path, thorough: bool = False, tables: Sequence[str] = ()) -> str | None:
    """Why the SQLite file at ``path`` cannot be read, or None (also when it is absent).

    Cheap by default (the schema, and the highest key of each of ``tables``): that catches
    a file truncated, overwritten or not a database at all. ``thorough`` adds SQLite's
    ``quick_check`` (reads every page). "database is locked" is raised, not reported.
    """
    if not path.exists():
        return None
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            con.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            for table in tables:
                con.execute(f"SELECT MAX(rowid) FROM {table}").fetchone()
            if thorough:
                result = con.execute("PRAGMA quick_check").fetchone()
                if result and result[0] != "ok":
                    return f"SQLite's check failed: {result[0]}"
        finally:
            con.close()
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise
        return str(exc)
    except sqlite3.DatabaseError as exc:
        return str(exc)
    return None


def cache_problem(index_dir: Path, thorough: bool = False) -> str | None:
    """Why the embedding cache of ``index_dir`` cannot be read (``thorough``: SQLite's
    quick_check too, which reads every page), or None: also when there is none yet."""
    return sqlite_problem(index_dir / CACHE, thorough, ("vectors", "tokens"))


class EmbeddingCache:
    """Vectors and tokens of chunk texts, by content hash (one writer at a time: the ingest)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._con = sqlite3.connect(path, timeout=30)
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.execute("PRAGMA synchronous=NORMAL")
        self._con.executescript(_SCHEMA)

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> EmbeddingCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- vectors --------------------------------------------------------------------
    def missing_vectors(self, model: str, hashes: Sequence[str]) -> list[str]:
        """The hashes (in order, without repeats) that have no vector for ``model`` yet."""
        return self._missing("SELECT text_hash FROM vectors WHERE model = ?", model, hashes)

    def put_vectors(self, model: str, hashes: Sequence[str], vectors: np.ndarray) -> None:
        """Store one batch and commit it."""
        rows = (
            (model, h, np.asarray(v, np.float32).tobytes())
            for h, v in zip(hashes, vectors, strict=True)
        )
        with self._con:
            self._con.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)", rows)

    def vectors(self, model: str, hashes: Sequence[str], dimension: int) -> np.ndarray:
        """An ``(len(hashes), dimension)`` float32 array; KeyError if one is missing."""
        out = np.empty((len(hashes), dimension), np.float32)
        where: dict[str, list[int]] = {}
        for i, h in enumerate(hashes):
            where.setdefault(h, []).append(i)
        found = 0
        for part in _chunks(list(where)):
            marks = ",".join("?" * len(part))
            rows = self._con.execute(
                f"SELECT text_hash, vector FROM vectors WHERE model = ? AND text_hash IN ({marks})",
                (model, *part),
            )
            for h, blob in rows:
                out[where[h]] = np.frombuffer(blob, np.float32)
                found += 1
        if found != len(where):
            raise KeyError(f"{len(where) - found} vectors missing from the embedding cache")
        return out

    # --- tokens ---------------------------------------------------------------------
    def tokens(self, tokenizer: str, hashes: Sequence[str]) -> dict[str, tuple[str, ...]]:
        """Cached token tuples for whichever of ``hashes`` have them."""
        found: dict[str, tuple[str, ...]] = {}
        for part in _chunks(list(dict.fromkeys(hashes))):
            marks = ",".join("?" * len(part))
            rows = self._con.execute(
                f"SELECT text_hash, tokens FROM tokens WHERE tokenizer = ?"
                f" AND text_hash IN ({marks})",
                (tokenizer, *part),
            )
            found.update((h, tuple(t.split(_SEP)) if t else ()) for h, t in rows)
        return found

    def missing_tokens(self, tokenizer: str, hashes: Sequence[str]) -> list[str]:
        """The hashes (in order, without repeats) whose tokens are not cached yet."""
        return self._missing("SELECT text_hash FROM tokens WHERE tokenizer = ?", tokenizer, hashes)

    def _missing(self, select: str, key: str, hashes: Sequence[str]) -> list[str]:
        unique = list(dict.fromkeys(hashes))
        have: set[str] = set()
        for part in _chunks(unique):
            marks = ",".join("?" * len(part))
            rows = self._con.execute(f"{select} AND text_hash IN ({marks})", (key, *part))
            have.update(h for (h,) in rows)
        return [h for h in unique if h not in have]

    def iter_tokens(
        self, tokenizer: str, hashes: Sequence[str], batch: int = 5_000
    ) -> Iterator[tuple[str, ...]]:
        """Token tuples of ``hashes`` in order, read a batch at a time; KeyError if missing."""
        for i in range(0, len(hashes), batch):
            part = hashes[i : i + batch]
            found = self.tokens(tokenizer, part)
            for h in part:
                yield found[h]

    def put_token_strings(self, tokenizer: str, items: Iterable[tuple[str, str]]) -> None:
        """Store (text hash, ``join_tokens(tokens)``) pairs and commit."""
        with self._con:
            self._con.executemany(
                "INSERT OR REPLACE INTO tokens VALUES (?, ?, ?)",
                ((tokenizer, h, joined) for h, joined in items),
            )
