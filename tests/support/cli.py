"""``python -m bot`` as a person runs it, and the one-line error every failure must be."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support import ROOT


def bot(*args: str, stdin: str | None = None, env: dict | None = None):
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def assert_one_line_error(proc, fragment: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("error: ") and fragment in lines[-1], proc.stderr
    assert "Traceback" not in proc.stderr
