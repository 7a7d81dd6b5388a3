"""A bounded soak: answers keep coming from whole versions while another process ingests."""

from __future__ import annotations

import importlib.util
import sys

from tests.support import ROOT


def _soak_module():
    spec = importlib.util.spec_from_file_location("soak", ROOT / "benchmarks" / "speed" / "soak.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["soak"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_asking_while_another_process_ingests(tmp_path, embedder):
    soak = _soak_module()
    report = soak.soak(
        tmp_path / "index", tmp_path / "corpus", rounds=3, embedder=embedder, ask_pause=0.05
    )
    print(report.summary())
    assert report.errors == [], report.errors[:5]
    assert report.reloads >= 1 and len(report.versions_seen) >= 2
    assert report.questions >= 20


def test_a_publish_storm_never_gives_an_empty_answer(tmp_path, embedder):
    """Issue 28: a version a second for 30 s, each replaced version retired at once (the
    worst case for readers); an engine refreshing every 5 s and cold CLI asks."""
    soak = _soak_module()
    report = soak.storm(tmp_path / "index", tmp_path / "corpus", seconds=30, embedder=embedder)
    print(report.summary())
    assert report.errors == [], report.errors[:5]
    assert report.questions >= 30 and report.cold_asks >= 2
    assert len(report.versions_seen) >= 3
