"""Faults of the Milvus backend (issue 28), each one line a person can act on: a bad
``QABOT_MILVUS_KEYWORDS``."""

from __future__ import annotations

import pytest

pytest.importorskip("pymilvus", reason="the milvus extra is not installed")

from qabot_settings import BackendSettings, SettingsError  # noqa: E402
from tests.support.cli import bot  # noqa: E402

pytestmark = pytest.mark.milvus

QUESTION = "京张高铁"


def _one_error_line(proc, *fragments: str) -> str:
    """The ``error:`` line of a failed command: exit 2, the only error line and the last
    line on stderr, no traceback and no Milvus log."""
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert [line for line in lines if line.startswith("error: ")] == lines[-1:], proc.stderr
    assert "Traceback" not in proc.stderr and "ERROR" not in proc.stderr, proc.stderr
    for fragment in fragments:
        assert fragment in lines[-1], proc.stderr
    return lines[-1]


# -- QABOT_MILVUS_KEYWORDS ------------------------------------------------------------------


def test_an_unknown_keyword_mode_is_refused_where_settings_are_read(monkeypatch, tmp_path):
    monkeypatch.setenv("QABOT_MILVUS_KEYWORDS", "BM25")
    assert BackendSettings.from_env().keywords == "bm25"
    monkeypatch.setenv("QABOT_MILVUS_KEYWORDS", "bogus")
    with pytest.raises(SettingsError, match="QABOT_MILVUS_KEYWORDS='bogus'.*sparse, bm25"):
        BackendSettings.from_env()
    env = {"QABOT_BACKEND": "milvus", "QABOT_MILVUS_KEYWORDS": "bogus"}
    proc = bot("ask", "--index", str(tmp_path), QUESTION, env=env)
    line = _one_error_line(proc, "QABOT_MILVUS_KEYWORDS", "sparse, bm25")
    assert proc.stderr.strip() == line
