"""``python -m bot check`` and damaged indexes as a person meets them (issue 28): real
subprocesses on a private copy of the seed index."""

from __future__ import annotations

import shutil
from pathlib import Path

from retrieval.backends.local.folder import CURRENT
from retrieval.backends.local.segments import SEGMENTS
from tests.support.cli import assert_one_line_error, bot

QUESTION = "通武廊签署了什么协议？"


def test_check_names_the_damage_ask_says_how_to_repair_and_ingest_repairs(seed_index, tmp_path):
    index = Path(shutil.copytree(seed_index, tmp_path / "index"))
    proc = bot("check", "--index", str(index))
    assert proc.returncode == 0 and "sound: every part checked" in proc.stdout, proc.stdout

    (segment,) = (index / SEGMENTS).iterdir()
    with open(segment / "dense.faiss", "r+b") as fh:
        fh.truncate(64)
    proc = bot("check", "--index", str(index))
    assert proc.returncode == 1
    assert f"DAMAGED  segment {segment.name}" in proc.stdout
    assert "python -m bot ingest rewrites it from the embedding cache" in proc.stdout

    proc = bot("ask", "--index", str(index), QUESTION)
    assert_one_line_error(proc, "dense.faiss is 64 bytes")
    assert "repair it: python -m bot ingest" in proc.stderr

    proc = bot("ingest", "--index", str(index))  # the corpus folders of the last ingest
    assert proc.returncode == 0, proc.stderr
    assert "repairing damaged segment" in proc.stderr
    assert bot("check", "--index", str(index)).returncode == 0
    assert "通武廊" in bot("ask", "--index", str(index), QUESTION).stdout


def test_garbage_in_current_still_answers_and_rebuild_rebuilds(seed_index, tmp_path):
    index = Path(shutil.copytree(seed_index, tmp_path / "index"))
    (index / CURRENT).write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe garbage")
    proc = bot("ask", "--index", str(index), QUESTION)
    assert proc.returncode == 0 and "通武廊" in proc.stdout, proc.stderr
    assert "CURRENT" in proc.stderr and "UnicodeDecodeError" not in proc.stderr
    proc = bot("ingest", "--rebuild", "--index", str(index))
    assert proc.returncode == 0 and "full rebuild: --rebuild was given" in proc.stderr, proc.stderr
    assert bot("check", "--index", str(index)).returncode == 0
