"""The bot's own state in SQLite beside the index: answer pages behind buttons, feedback,
subscriptions, answer times, and what the last new-documents notice covered.

Chats appear in feedback only as a salted hash; subscriptions keep the chat id (needed to
send the notice). No names and no message ids are stored.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import sqlite3
import statistics
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from retrieval.answer import Result

from .memory_state import TTLStore
from .service import Page

log = logging.getLogger(__name__)

FILENAME = "bot.sqlite"
P50_WINDOW = 1000

# The tables as first shipped: migration 1 (never edit it; add a migration instead).
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pages (
    key TEXT PRIMARY KEY, expires REAL NOT NULL, version TEXT, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS pages_expires ON pages (expires);
CREATE TABLE IF NOT EXISTS feedback (
    answer TEXT NOT NULL, chat TEXT NOT NULL, at TEXT NOT NULL, vote INTEGER NOT NULL,
    question TEXT NOT NULL, results TEXT NOT NULL, version TEXT,
    PRIMARY KEY (answer, chat));
CREATE TABLE IF NOT EXISTS subscribers (chat_id INTEGER PRIMARY KEY, since TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS answers (at REAL NOT NULL, seconds REAL NOT NULL);
CREATE INDEX IF NOT EXISTS answers_at ON answers (at);
"""


def _create_tables(db: sqlite3.Connection) -> None:
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)


def _bind_pages_to_owners(db: sqlite3.Connection) -> None:
    """Each page belongs to the chat (or inline message) that received its buttons. Pages
    stored before had no owner and opened from any chat: they are dropped (their buttons
    answer 「已过期」)."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(pages)")}
    if "owner" not in columns:
        db.execute("ALTER TABLE pages ADD COLUMN owner TEXT")
    db.execute("DELETE FROM pages WHERE owner IS NULL")


#: Migration n (from 1) brings the database from ``PRAGMA user_version`` n-1 to n. Each is
#: idempotent, runs in a transaction of its own, and is never edited once shipped.
MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (
    _create_tables,
    _bind_pages_to_owners,
)


def migrate(db: sqlite3.Connection) -> int:
    """Apply the migrations ``db`` lacks (safe when several processes open it at once);
    returns its schema version."""
    level = db.isolation_level
    db.isolation_level = None  # explicit transactions below
    try:
        for number, step in enumerate(MIGRATIONS, start=1):
            db.execute("BEGIN IMMEDIATE")
            try:
                if db.execute("PRAGMA user_version").fetchone()[0] < number:
                    step(db)
                    db.execute(f"PRAGMA user_version = {number}")
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
    finally:
        db.isolation_level = level
    return len(MIGRATIONS)


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Vote:
    """One stored vote: +1 or -1 on the answer to ``question``."""

    at: str  # UTC, ISO 8601
    vote: int
    question: str
    results: list[dict[str, Any]]  # doc_id, title, start, end of each shown excerpt
    version: str | None
    chat: str  # salted hash

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class BotState:
    """One SQLite file (``None``: in memory); safe to share between the event loop and
    worker threads.

    Writes on the answer path (pages, votes, answer times, the notices' memory) are best
    effort: when the file cannot be written (read-only, disk full, damaged) they fail
    with one logged warning per outage, and the bot keeps answering.
    """

    def __init__(self, path: Path | None):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            path if path is not None else ":memory:", check_same_thread=False, timeout=10.0
        )
        self._failing = False
        try:
            with self._lock:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                migrate(self._db)
            salt = self.get_meta("salt")
            if salt is None:
                self.set_meta("salt", secrets.token_hex(16), replace=False)
                salt = self.get_meta("salt")
        except BaseException:
            self._db.close()
            raise
        self._salt = bytes.fromhex(salt or "")

    @classmethod
    def open(cls, path: Path) -> BotState:
        """The state in ``path``, or, when it cannot be opened or written, in memory (one
        warning: buttons and votes then last until the bot stops)."""
        try:
            return cls(path)
        except (sqlite3.Error, OSError) as exc:
            log.warning(
                "the bot's state %s cannot be opened or written (%s); keeping buttons, "
                "votes and subscriptions in memory until the bot stops",
                path,
                exc,
            )
            return cls(None)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _execute(self, sql: str, args: Sequence[object] = ()) -> list[tuple]:
        with self._lock, self._db:
            return self._db.execute(sql, args).fetchall()

    def _write(self, sql: str, args: Sequence[object] = ()) -> bool:
        """Run a best-effort write; False (and one warning per outage) if it failed."""
        try:
            self._execute(sql, args)
        except sqlite3.Error as exc:
            self.failed(exc)
            return False
        self.recovered()
        return True

    def failed(self, exc: BaseException) -> None:
        """Note a failed write: the first of an outage is logged as a warning."""
        if not self._failing:
            self._failing = True
            log.warning(
                "cannot write the bot's state %s (%s); answering without saving buttons "
                "or votes until it can",
                self.path or "in memory",
                exc,
            )

    def recovered(self) -> None:
        if self._failing:
            self._failing = False
            log.info("the bot's state %s can be written again", self.path)

    # -- meta -------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        rows = self._execute("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: str, replace: bool = True) -> bool:
        """Store ``value`` (best effort: False if it could not be written)."""
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        return self._write(f"{verb} INTO meta (key, value) VALUES (?, ?)", (key, value))

    def chat_hash(self, chat_id: int) -> str:
        """A salted hash of a chat id (the salt never leaves this database)."""
        return hmac.new(self._salt, str(chat_id).encode(), hashlib.sha256).hexdigest()[:16]

    # -- answer pages (button state) --------------------------------------------------

    def put_page(
        self, data: str, version: str | None, owner: str | None, ttl: float, maxsize: int
    ) -> str | None:
        """Store a page for ``owner``'s buttons; its key, or ``None`` if it could not be
        written."""
        now = time.time()
        key = secrets.token_urlsafe(6)
        try:
            with self._lock, self._db:
                self._db.execute("DELETE FROM pages WHERE expires < ?", (now,))
                self._db.execute(
                    "INSERT OR REPLACE INTO pages (key, expires, version, data, owner) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (key, now + ttl, version, data, owner),
                )
                self._db.execute(
                    "DELETE FROM pages WHERE key IN "
                    "(SELECT key FROM pages ORDER BY expires DESC LIMIT -1 OFFSET ?)",
                    (maxsize,),
                )
        except sqlite3.Error as exc:
            self.failed(exc)
            return None
        self.recovered()
        return key

    def get_page(self, key: str) -> tuple[str, str | None, str | None] | None:
        """(data, version, owner) of a live page; ``None`` if gone or unreadable."""
        try:
            rows = self._execute(
                "SELECT data, version, owner FROM pages WHERE key = ? AND expires >= ?",
                (key, time.time()),
            )
        except sqlite3.Error as exc:
            log.warning("cannot read the bot's state %s (%s)", self.path, exc)
            return None
        return rows[0] if rows else None

    def count_pages(self) -> int:
        return self._execute("SELECT COUNT(*) FROM pages WHERE expires >= ?", (time.time(),))[0][0]

    # -- feedback ---------------------------------------------------------------------

    def vote(
        self,
        answer: str,
        chat_id: int,
        vote: int,
        question: str,
        results: Iterable[dict[str, Any]],
        version: str | None,
    ) -> bool:
        """Store a vote; a chat's later vote on the same answer replaces its earlier one.
        False if it could not be written."""
        return self._write(
            "INSERT OR REPLACE INTO feedback "
            "(answer, chat, at, vote, question, results, version) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                answer,
                self.chat_hash(chat_id),
                utc_now(),
                1 if vote > 0 else -1,
                question,
                json.dumps(list(results), ensure_ascii=False),
                version,
            ),
        )

    def votes(self, since: str | None = None) -> list[Vote]:
        """Votes in time order, those on or after the UTC date/time ``since`` if given."""
        rows = self._execute(
            "SELECT at, vote, question, results, version, chat FROM feedback "
            "WHERE at >= ? ORDER BY at",
            (since or "",),
        )
        return [Vote(at, v, q, json.loads(r), ver, c) for at, v, q, r, ver, c in rows]

    def vote_counts(self) -> tuple[int, int]:
        """(👍, 👎) over all time."""
        rows = self._execute(
            "SELECT COALESCE(SUM(vote > 0), 0), COALESCE(SUM(vote < 0), 0) FROM feedback"
        )
        return int(rows[0][0]), int(rows[0][1])

    # -- subscriptions ----------------------------------------------------------------

    def subscribe(self, chat_id: int) -> bool:
        """True if the chat was not subscribed yet."""
        with self._lock, self._db:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO subscribers (chat_id, since) VALUES (?, ?)",
                (chat_id, utc_now()),
            )
            return cursor.rowcount > 0

    def unsubscribe(self, chat_id: int) -> bool:
        """True if the chat was subscribed."""
        with self._lock, self._db:
            cursor = self._db.execute("DELETE FROM subscribers WHERE chat_id = ?", (chat_id,))
            return cursor.rowcount > 0

    def subscribers(self) -> list[int]:
        return [r[0] for r in self._execute("SELECT chat_id FROM subscribers ORDER BY since")]

    # -- answer times -----------------------------------------------------------------

    def record_answer(self, seconds: float) -> None:
        """Remember how long a question took (best effort)."""
        self._write("INSERT INTO answers (at, seconds) VALUES (?, ?)", (time.time(), seconds))

    def answer_stats(self, day_start: float) -> tuple[int, int, float | None]:
        """(answered since ``day_start``, answered in all, median seconds of the latest)."""
        today = self._execute("SELECT COUNT(*) FROM answers WHERE at >= ?", (day_start,))[0][0]
        total = self._execute("SELECT COUNT(*) FROM answers")[0][0]
        latest = self._execute(
            "SELECT seconds FROM answers ORDER BY at DESC LIMIT ?", (P50_WINDOW,)
        )
        p50 = statistics.median(r[0] for r in latest) if latest else None
        return today, total, p50


class PersistentPages:
    """``Service.pages`` kept in SQLite, so 原文/更多/👍👎 buttons outlive a restart.

    Same interface as :class:`bot.telegram.memory_state.TTLStore` (``put``, ``get``, ``len``); each
    page also remembers the index version that answered it, for feedback, and its owner.
    A page that cannot be written is kept in memory instead (until the bot stops).
    """

    def __init__(
        self, state: BotState, maxsize: int, ttl: float, version: Callable[[], str | None]
    ):
        self._state, self.maxsize, self.ttl, self._version = state, maxsize, ttl, version
        self._memory: TTLStore[Page] = TTLStore(maxsize, ttl)

    def put(self, page: Page) -> str:
        data = {
            "question": page.question,
            "next_offset": page.next_offset,
            "results": [asdict(r) for r in page.results.values()],
        }
        version = page.version or self._version()
        key = self._state.put_page(
            json.dumps(data, ensure_ascii=False), version, page.owner, self.ttl, self.maxsize
        )
        return key if key is not None else self._memory.put(replace(page, version=version))

    def get(self, key: str) -> Page | None:
        found = self.get_with_version(key)
        return found[0] if found else None

    def get_with_version(self, key: str) -> tuple[Page, str | None] | None:
        """The page and the index version that answered it (``None`` if gone)."""
        kept = self._memory.get(key)
        if kept is not None:
            return kept, kept.version
        row = self._state.get_page(key)
        if row is None:
            return None
        raw, version, owner = row
        try:
            data = json.loads(raw)
            results = [
                Result(**{**r, "marks": tuple(tuple(m) for m in r.get("marks", ()))})
                for r in data["results"]
            ]
            shown = {r.rank: r for r in results}
            page = Page(data["question"], data["next_offset"], shown, version, owner)
        except (ValueError, KeyError, TypeError):  # written by an older, different version
            return None
        return page, version

    def __len__(self) -> int:
        return self._state.count_pages() + len(self._memory)
