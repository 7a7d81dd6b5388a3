"""The HTTP server under load, against the engine called directly (not a test).

    python -m benchmarks.http_load [--eval ../shared/eval] [--questions 300] \
        [--clients 1 8 32] [--workers 2] [--index DIR]

On the CMRC 2018 trial corpus of the shared eval sets (built into ``--index`` on first run
by the product's ingest), with its questions:

1. the engine directly, in this process: one thread (a lone question's latency) and
   ``--workers`` threads sharing the questions (the throughput the server can reach);
2. ``python -m bot serve`` in its own process with the same ``--workers``, asked over real
   HTTP (``POST /api/ask``, top_k 3) by 1, 8 and 32 concurrent clients (asyncio + httpx in
   this process), each client sending its next question as soon as it has an answer.

For each it reports the requests answered (every one must be a 200), p50 / p95 latency and
throughput, and the server's throughput as a share of the engine's. Targets (issue 27):
≥ 0.8× the engine's throughput at 8 clients; p95 at 32 clients ≤ 10× a lone question's.
Prints a table and, last, one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from retrieval.threads import set_process_defaults

set_process_defaults()

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_EVAL = ROOT.parent / "shared" / "eval"
DEFAULT_INDEX = Path("/tmp/qabot-http-load/index-cmrc")


def _questions(eval_dir: Path, n: int) -> list[str]:
    lines = (eval_dir / "cmrc2018-trial" / "queries.jsonl").read_text(encoding="utf-8")
    found = [json.loads(x)["question"] for x in lines.splitlines() if x.strip()]
    found = [q for q in found if q and q.strip()]
    return (found * (n // max(len(found), 1) + 1))[:n]


def _engine(index_dir: Path, eval_dir: Path):
    from corpus.loading import load_corpus
    from embeddings.model import load_embedder
    from retrieval.backends.local.ingest import ingest
    from retrieval.engine import AnswerEngine

    embedder = load_embedder()
    if not (index_dir / "CURRENT").exists():
        corpus = eval_dir / "cmrc2018-trial" / "corpus.jsonl"
        started = time.perf_counter()
        docs = load_corpus([corpus]).documents
        ingest(index_dir, docs, embedder, progress=False, corpus=[str(corpus)], log=lambda _m: None)
        print(f"built {index_dir} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return AnswerEngine.open(index_dir, embedder=embedder)


def _stats(latencies: list[float], wall: float, errors: int) -> dict:
    ms = np.array(latencies) * 1000
    return {
        "requests": len(latencies) + errors,
        "ok": len(latencies),
        "errors": errors,
        "p50_ms": round(float(np.percentile(ms, 50)), 1),
        "p95_ms": round(float(np.percentile(ms, 95)), 1),
        "per_s": round(len(latencies) / wall, 2),
    }


def engine_direct(engine, questions: list[str], threads: int) -> dict:
    """``engine.ask`` from ``threads`` threads sharing the questions."""
    latencies: list[float] = []
    lock = threading.Lock()

    def one(question: str) -> None:
        started = time.perf_counter()
        engine.ask(question, top_k=3)
        with lock:
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, questions))
    return _stats(latencies, time.perf_counter() - started, 0)


async def _http(url: str, questions: list[str], clients: int) -> dict:
    import httpx

    queue: asyncio.Queue[str] = asyncio.Queue()
    for q in questions:
        queue.put_nowait(q)
    latencies: list[float] = []
    errors: list[str] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def client(http: httpx.AsyncClient) -> None:
        while not queue.empty():
            question = queue.get_nowait()
            started = time.perf_counter()
            try:
                response = await http.post("/api/ask", json={"question": question, "top_k": 3})
                ok = response.status_code == 200 and "results" in response.json()
            except httpx.HTTPError as exc:
                ok, response = False, exc
            if ok:
                latencies.append(time.perf_counter() - started)
            else:
                errors.append(str(getattr(response, "status_code", response)))

    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        wall = time.perf_counter() - started
    result = _stats(latencies, wall, len(errors))
    if errors:
        result["error_samples"] = errors[:5]
    return result


def _serve(index_dir: Path, port: int, workers: int) -> subprocess.Popen:
    env = {**os.environ, "QABOT_RATE_LIMIT": "1000000", "QABOT_API_KEYS": ""}
    command = [sys.executable, "-m", "bot", "serve", "--index", str(index_dir)]
    command += ["--port", str(port), "--workers", str(workers)]
    return subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)


def _wait_ready(url: str, proc: subprocess.Popen, seconds: float = 180) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the server exited before it was ready")
        try:
            if httpx.get(url + "/readyz", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise SystemExit("the server was not ready in time")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval", type=Path, default=DEFAULT_EVAL)
    parser.add_argument("--index", type=Path, default=DEFAULT_INDEX)
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--port", type=int, default=8731)
    args = parser.parse_args()

    questions = _questions(args.eval, args.questions)
    engine = _engine(args.index, args.eval)
    for q in questions[:20]:  # warm-up
        engine.ask(q, top_k=3)
    report: dict = {
        "index": str(args.index),
        "chunks": engine.chunks,
        "questions": len(questions),
        "workers": args.workers,
        "cores": os.cpu_count(),
        "engine_1_thread": engine_direct(engine, questions, 1),
        f"engine_{args.workers}_threads": engine_direct(engine, questions, args.workers),
    }
    engine_rate = report[f"engine_{args.workers}_threads"]["per_s"]
    del engine

    url = f"http://127.0.0.1:{args.port}"
    proc = _serve(args.index, args.port, args.workers)
    try:
        _wait_ready(url, proc)
        asyncio.run(_http(url, questions[:20], 2))  # warm-up
        for clients in args.clients:
            result = asyncio.run(_http(url, questions, clients))
            result["of_engine"] = round(result["per_s"] / engine_rate, 2)
            report[f"http_{clients}_clients"] = result
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)

    lone = report["http_1_clients"]["p50_ms"] if "http_1_clients" in report else None
    if lone and f"http_{max(args.clients)}_clients" in report:
        worst = report[f"http_{max(args.clients)}_clients"]["p95_ms"]
        report[f"p95_at_{max(args.clients)}_over_lone_p50"] = round(worst / lone, 1)
    print(
        f"{'run':<22} {'ok/requests':>12} {'p50 ms':>8} {'p95 ms':>8} {'per s':>7} {'÷ engine':>9}"
    )
    for name, row in report.items():
        if isinstance(row, dict):
            share = row.get("of_engine", "")
            ok = f"{row['ok']}/{row['requests']}"
            print(
                f"{name:<22} {ok:>12} {row['p50_ms']:>8} {row['p95_ms']:>8} "
                f"{row['per_s']:>7} {share:>9}"
            )
    print(json.dumps(report, ensure_ascii=False))


if __name__ == "__main__":
    main()
