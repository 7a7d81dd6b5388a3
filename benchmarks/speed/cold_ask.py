"""Where a cold ``python -m bot ask`` goes: imports, model load, index load, the segmenters'
dictionaries (jieba), the first question, rendering (issue 29, docs/performance.md).

    python -m benchmarks.speed.cold_ask [--index DIR] [--runs 5]

Each run is a fresh interpreter doing the steps one after another (``--child``), so each
step's cost is its own; a real ``ask`` loads the index and the dictionaries beside the model
(``AnswerEngine.open``), though the GIL lets little of that overlap. The child ends as
``ask`` does, without the interpreter's teardown. Then the whole ``python -m bot ask`` is
timed as a person runs it, and set against model load + index load, the part no command can
skip (the issue's target: at most 1.3×). Without ``--index`` the shipped corpus is built into
a temporary folder first.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STARTED = time.perf_counter()  # as near the interpreter's start as a module can be

QUESTION = "通武廊在政务服务方面要全面实现什么？"
STEPS = ("start and exit", "imports", "model", "index", "dictionaries", "first question", "render")


def child(index: Path) -> dict[str, float]:
    """One cold ask, step by step, in this fresh process: seconds per step."""
    laps: dict[str, float] = {}
    mark = time.perf_counter

    def lap(name: str, since: list[float] = [STARTED]) -> None:  # noqa: B006 - a closure cell
        now = mark()
        laps[name] = now - since[0]
        since[0] = now

    from retrieval.threads import set_process_defaults

    set_process_defaults()
    import bot.commands  # noqa: F401 - everything `ask` imports
    from bot.console_render import CLI_SOURCES, Style, render_answer
    from retrieval.backends import open_backend
    from retrieval.engine import AnswerEngine, shared_embedder
    from retrieval.tokens import warm_up

    lap("imports")
    embedder = shared_embedder()
    lap("model")
    backend = open_backend(index)
    loaded = backend.load()
    lap("index")
    warm_up()
    lap("dictionaries")
    engine = AnswerEngine(index, embedder, loaded=loaded, backend=backend)
    answer = engine.ask(QUESTION, top_k=3)
    lap("first question")
    render_answer(answer, Style(False), sources=CLI_SOURCES)
    lap("render")
    return {name: round(seconds, 4) for name, seconds in laps.items()}


def _interpreter_start() -> float:
    """Seconds from exec to a bare ``python -c pass`` exiting (the floor of any command)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - started


def _whole_ask(index: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "bot", "ask", "--index", str(index), QUESTION],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def _seed_index(folder: Path) -> Path:
    from corpus.loading import load_corpus, shipped_corpus_dir
    from retrieval.backends.local.ingest import ingest
    from retrieval.engine import shared_embedder

    documents = load_corpus([shipped_corpus_dir()]).documents
    ingest(folder, documents, shared_embedder(), progress=False)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, help="index to ask (default: the shipped corpus)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.index)), flush=True)
        os._exit(0)  # as `python -m bot ask` ends (bot/cli.py FAST_EXIT): no teardown
    with tempfile.TemporaryDirectory() as scratch:
        index = args.index or _seed_index(Path(scratch) / "index")
        cmd = [sys.executable, "-m", "benchmarks.speed.cold_ask", "--child", "--index", str(index)]
        _whole_ask(index)  # warm the page cache and the model's files once
        steps, wholes, bare = [], [], []
        for _ in range(args.runs):
            started = time.perf_counter()
            out = subprocess.run(cmd, check=True, capture_output=True, text=True)
            run = json.loads(out.stdout.strip().splitlines()[-1])
            # the interpreter's start, these imports' own module, printing and exit
            run["start and exit"] = time.perf_counter() - started - sum(run.values())
            steps.append(run)
            wholes.append(_whole_ask(index))
            bare.append(_interpreter_start())
    median = {name: statistics.median(run[name] for run in steps) for name in STEPS}
    print(f"cold ask, median of {args.runs} fresh processes (seconds)")
    for name in STEPS:
        print(f"  {name:15} {median[name]:6.2f}")
    print(f"  {'sum of steps':15} {sum(median.values()):6.2f}")
    whole, floor = statistics.median(wholes), statistics.median(bare)
    needed = median["model"] + median["index"]
    print(f"python -m bot ask, whole process: {whole:.2f} s (python -c pass: {floor:.2f} s)")
    print(f"model + index load: {needed:.2f} s; whole ask / (model + index) = {whole / needed:.2f}")


if __name__ == "__main__":
    main()
