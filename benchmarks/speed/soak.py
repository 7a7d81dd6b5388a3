"""Soak: one process asks questions in a loop while another ingests a changing corpus.

Each round the ingester rewrites every document with the round's number in it (第N轮) and
ingests; the asker refreshes and asks without pause. Every answer must come from one whole
version: all its excerpts carry the same round number and quote their document exactly.
Stops by itself after ``--rounds`` rounds and prints the figures::

    QABOT_CACHE_DIR=/tmp/qcache HF_HUB_OFFLINE=1 python -m benchmarks.speed.soak --rounds 8

``--storm 30`` is the publish storm of issue 28 instead: a version a second for 30 s,
replaced versions retired at once, while an engine refreshing every 5 s (the bot's
interval) and cold ``python -m bot ask`` processes ask; no answer may be empty or fail.

(``--ingester`` is the child process's own entry point: it runs this file as a script, which
needs only the installed packages, so the soak also runs when a test loads this file by path.)
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

TOPICS = {
    "a.txt": "雄安新区建设稳步推进，起步区规划建设全面展开",
    "b.txt": "通武廊三地签署区域一体化高质量发展试点示范合作协议",
    "c.txt": "京津冀交通一体化加快推进，轨道上的京津冀加快形成",
    "d.txt": "北京城市副中心行政办公区正式启用，非首都功能有序疏解",
}
QUESTIONS = ["雄安新区建设进展如何", "通武廊签署了什么协议", "轨道上的京津冀", "城市副中心"]
_ROUND = re.compile(r"第(\d+)轮")


def write_round(corpus: Path, number: int) -> None:
    """Every document, stamped with round ``number`` (a different length each round, so
    offsets move)."""
    corpus.mkdir(parents=True, exist_ok=True)
    for name, topic in TOPICS.items():
        filler = "各项工作有序开展。" * (number % 3)
        mark = f"第{number}轮"
        text = f"{topic}（{mark}）\n{topic}，{mark}情况通报。{filler}本文件为{mark}。\n"
        (corpus / name).write_text(text, encoding="utf-8")


def ingester(
    index: Path, corpus: Path, rounds: int, pause: float, grace: float | None = None
) -> None:
    """Publish ``rounds`` rounds, ``pause`` seconds apart (with ``pause`` < 0: one every
    ``-pause`` seconds, however long an ingest takes). ``grace``: retire replaced versions
    after this many seconds instead of RETIRE_AFTER_S (0: at once, the readers' worst case)."""
    import retrieval.backends.local.folder as folder
    from corpus.loading import load_corpus
    from retrieval.backends.local.ingest import ingest
    from retrieval.engine import shared_embedder

    if grace is not None:
        folder.RETIRE_AFTER_S = grace
    embedder = shared_embedder()
    tick = time.monotonic()
    for number in range(1, rounds + 1):
        write_round(corpus, number)
        docs = load_corpus([corpus]).documents
        ingest(index, docs, embedder, progress=False, log=lambda _m: None)
        print(f"round {number} published", flush=True)
        if pause >= 0:
            time.sleep(pause)
        else:
            tick += -pause
            time.sleep(max(0.0, tick - time.monotonic()))


@dataclass
class SoakReport:
    rounds: int = 0
    questions: int = 0
    reloads: int = 0
    versions_seen: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    cold_asks: int = 0

    def summary(self) -> str:
        cold = f", {self.cold_asks} cold CLI asks" if self.cold_asks else ""
        return (
            f"{self.rounds} ingest rounds in {self.seconds:.1f} s: {self.questions} questions "
            f"answered{cold}, {self.reloads} reloads survived, {len(self.versions_seen)} "
            f"versions answered from, errors: {len(self.errors)}"
        )


def check_answer(answer, index) -> str | None:
    """Why ``answer`` is not from one whole version, or None."""
    rounds = set()
    for r in answer.results:
        found = _ROUND.findall(r.excerpt)
        if not found:
            return f"excerpt without a round number: {r.excerpt!r}"
        rounds.update(found)
        for a, b in r.marks:
            if not 0 <= a < b <= len(r.excerpt):
                return f"mark {a}-{b} outside the excerpt"
    if len(rounds) > 1:
        return f"one answer mixes rounds {sorted(rounds)}"
    return None


def _start_ingester(index: Path, corpus: Path, rounds: int, pause: float, grace=None):
    grace_args = ["--grace", str(grace)] if grace is not None else []
    return subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--ingester",
            "--index",
            str(index),
            "--corpus",
            str(corpus),
            "--rounds",
            str(rounds),
            "--pause",
            str(pause),
            *grace_args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _cold_asks(index: Path, until, report: SoakReport, lock: threading.Lock) -> None:
    """``python -m bot ask --json`` one after another (each a cold start) until ``until()``."""
    i = 0
    while not until():
        question = QUESTIONS[i % len(QUESTIONS)]
        proc = subprocess.run(
            [sys.executable, "-m", "bot", "ask", "--json", "--index", str(index), question],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=Path(__file__).resolve().parents[2],
        )
        with lock:
            report.cold_asks += 1
            if proc.returncode != 0:
                report.errors.append(f"cold ask exited {proc.returncode}: {proc.stderr[-300:]}")
            elif not json.loads(proc.stdout)["results"]:
                report.errors.append(f"cold ask got an empty answer to {question}")
        i += 1


def storm(
    index: Path,
    corpus: Path,
    seconds: int = 30,
    refresh_every: float = 5.0,
    grace: float | None = 0.0,
    embedder=None,
    cold: bool = True,
) -> SoakReport:
    """A publish storm: one version a second for ``seconds`` while an engine refreshing
    every ``refresh_every`` seconds (as the bot does) asks in a loop and, with ``cold``,
    cold ``python -m bot ask`` processes ask one after another. Every answer must have
    results from one whole version. ``grace`` 0 retires replaced versions at once, so
    readers meet retired versions all the time (the worst case)."""
    from corpus.loading import load_corpus
    from retrieval.backends.local.ingest import ingest
    from retrieval.engine import AnswerEngine, shared_embedder

    embedder = embedder or shared_embedder()
    write_round(corpus, 0)
    ingest(index, load_corpus([corpus]).documents, embedder, progress=False, log=lambda _m: None)
    engine = AnswerEngine.open(index, embedder=embedder)
    report = SoakReport(rounds=seconds)
    lock = threading.Lock()
    started = time.perf_counter()
    child = _start_ingester(index, corpus, seconds, -1.0, grace)
    asker = threading.Thread(
        target=_cold_asks, args=(index, lambda: child.poll() is not None, report, lock)
    )
    if cold:
        asker.start()
    last_refresh, i = time.monotonic(), 0
    try:
        while child.poll() is None:
            if time.monotonic() - last_refresh >= refresh_every:
                last_refresh = time.monotonic()
                report.reloads += engine.refresh()
            try:
                answer = engine.ask(QUESTIONS[i % len(QUESTIONS)], top_k=3)
                problem = None if answer.results else "an empty answer"
                problem = problem or check_answer(answer, engine.index)
                with lock:
                    report.questions += 1
                    report.versions_seen.add(answer.version)
                    if problem:
                        report.errors.append(problem)
            except Exception as exc:  # noqa: BLE001 - counted, the storm goes on
                with lock:
                    report.errors.append(f"{type(exc).__name__}: {exc}")
            i += 1
            time.sleep(0.05)
    finally:
        _, err = child.communicate(timeout=300)
        if cold:
            asker.join(300)
    if child.returncode != 0:
        report.errors.append(f"ingester exited {child.returncode}: {err.strip()[-500:]}")
    report.seconds = time.perf_counter() - started
    return report


def soak(
    index: Path,
    corpus: Path,
    rounds: int = 8,
    pause: float = 0.5,
    embedder=None,
    ask_pause: float = 0.0,
) -> SoakReport:
    """Build round 0, start the ingester process, ask until it exits; the report."""
    from corpus.loading import load_corpus
    from retrieval.backends.local.ingest import ingest
    from retrieval.engine import AnswerEngine, shared_embedder

    embedder = embedder or shared_embedder()
    write_round(corpus, 0)
    ingest(index, load_corpus([corpus]).documents, embedder, progress=False, log=lambda _m: None)
    engine = AnswerEngine.open(index, embedder=embedder)
    report = SoakReport(rounds=rounds)
    started = time.perf_counter()
    child = _start_ingester(index, corpus, rounds, pause)
    i = 0
    try:
        while child.poll() is None or i < 4:  # and a few more after the last round
            try:
                if engine.refresh():
                    report.reloads += 1
                answer = engine.ask(QUESTIONS[i % len(QUESTIONS)], top_k=3)
                report.questions += 1
                report.versions_seen.add(answer.version)
                problem = check_answer(answer, engine.index)
                if problem:
                    report.errors.append(problem)
            except Exception as exc:  # noqa: BLE001 - counted, the soak goes on
                report.errors.append(f"{type(exc).__name__}: {exc}")
            i += 1
            time.sleep(ask_pause)  # on a small machine, leave the ingester some CPU
    finally:
        out, err = child.communicate(timeout=300)
    if child.returncode != 0:
        report.errors.append(f"ingester exited {child.returncode}: {err.strip()[-500:]}")
    report.seconds = time.perf_counter() - started
    if engine.refresh():
        report.reloads += 1
    last = engine.ask(QUESTIONS[0], top_k=1)
    if not last.results or f"第{rounds}轮" not in last.results[0].excerpt:
        report.errors.append("the last round never became live")
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--pause", type=float, default=0.5)
    parser.add_argument("--index", type=Path)
    parser.add_argument("--corpus", type=Path)
    parser.add_argument(
        "--storm",
        type=int,
        metavar="SECONDS",
        help="a publish storm instead: one version a second for SECONDS, an engine refreshing "
        "every 5 s and cold CLI asks (replaced versions retired at once)",
    )
    parser.add_argument("--grace", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--ingester", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    from retrieval.threads import set_process_defaults

    set_process_defaults()
    if args.ingester:
        ingester(args.index, args.corpus, args.rounds, args.pause, args.grace)
        return 0
    with tempfile.TemporaryDirectory(prefix="qabot-soak-") as tmp:
        if args.storm:
            report = storm(Path(tmp) / "index", Path(tmp) / "corpus", args.storm)
        else:
            report = soak(Path(tmp) / "index", Path(tmp) / "corpus", args.rounds, args.pause)
    print(report.summary())
    for problem in report.errors[:10]:
        print(f"  error: {problem}")
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
