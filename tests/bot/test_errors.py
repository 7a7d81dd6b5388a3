"""One actionable line for the errors people and disks cause (bot/errors.py)."""

from __future__ import annotations

import errno
import sqlite3

from bot.errors import describe


def test_describe_gives_one_actionable_line_for_os_and_sqlite_errors():
    denied = PermissionError(errno.EACCES, "Permission denied", "/srv/qabot/index")
    assert describe(denied).startswith("permission denied: /srv/qabot/index; check the owner")
    full = OSError(errno.ENOSPC, "No space left on device", "/srv/qabot/index/store.sqlite")
    assert "no space left" in describe(full) and "\n" not in describe(full)
    assert "busy" in describe(sqlite3.OperationalError("database is locked"))
    assert "--rebuild" in describe(sqlite3.DatabaseError("database disk image is malformed"))
    assert "run again with -v" in describe(RuntimeError("boom\nsecond line"))
    assert "\n" not in describe(RuntimeError("boom\nsecond line"))
