"""The one-shot commands: ingest, ask, eval, model."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from tqdm import tqdm

from bot.console_render import Style, render_answer, use_colour
from bot.errors import UsageError
from bot.index_update import corpus_paths, load_documents, update_index, with_uploads
from bot.open_index import open_engine
from qabot_settings import Settings
from retrieval.backends import Backend, open_backend
from retrieval.engine import AnswerEngine, shared_embedder
from retrieval.errors import QueryError, RetrievalError
from retrieval.evaluation import evaluate, read_queries


def print_json(data: object) -> None:
    """One JSON document on one line (Chinese kept readable)."""
    print(json.dumps(data, ensure_ascii=False), flush=True)


def ingest_once(
    backend: Backend,
    index_dir: Path,
    paths: list[Path],
    rebuild: bool,
    dry_run: bool,
    out: TextIO | None = None,
    origin: str = "ingest",
    follow_symlinks: bool = False,
) -> None:
    paths = with_uploads(index_dir, paths)
    documents = load_documents(paths, backend=backend, follow_symlinks=follow_symlinks).documents
    if dry_run:
        result = backend.ingest(documents, shared_embedder(), rebuild=rebuild, dry_run=True)
        plan = result.plan
        print(f"plan for {backend.where}: {plan.summary()}")
        for label, ids in (("add", plan.added), ("change", plan.changed), ("remove", plan.removed)):
            for doc_id in ids:
                print(f"  {label:7} {doc_id}")
        if plan.rebuild_reason:
            print(f"  full rebuild: {plan.rebuild_reason}")
        print(f"would embed {result.embedded} of {result.chunks} chunks (dry run: nothing changed)")
        return
    result = update_index(backend, index_dir, paths, origin, documents, rebuild)
    print(result.summary(), file=out, flush=True)
    print(
        f"index {backend.where} → version {result.version} "
        f"({result.chunks} chunks)",
        file=out,
        flush=True,
    )


def run_ingest(args: argparse.Namespace, settings: Settings) -> int:
    if args.dry_run and args.watch:
        raise UsageError("--dry-run and --watch cannot be combined (--watch ingests for real)")
    folder = settings.index_dir
    backend = open_backend(folder, settings.backend)
    paths = corpus_paths(backend, args.corpus)
    origin = "watch" if args.watch else "ingest"
    follow = args.follow_symlinks
    ingest_once(
        backend, folder, paths, args.rebuild, args.dry_run, origin=origin, follow_symlinks=follow
    )
    if args.watch:
        from bot.watch import watch_and_ingest

        watch_and_ingest(
            paths,
            lambda: ingest_once(
                backend, folder, paths, False, False, origin="watch", follow_symlinks=follow
            ),
        )
    return 0


def run_ask(args: argparse.Namespace, settings: Settings) -> int:
    if args.top_k < 1:
        raise QueryError("--top-k must be at least 1")
    if args.batch is None and not (args.question or "").strip():
        raise QueryError('the question is empty: python -m bot ask "你的问题"')
    engine = open_engine(settings)
    if args.batch is not None:
        return _ask_batch(engine, args.batch, args.top_k)
    answer = engine.ask(args.question, top_k=args.top_k)
    if args.json:
        print_json(answer.to_json())
    else:
        print(render_answer(answer, Style(use_colour(sys.stdout)), full=args.full))
    return 0


def _ask_batch(engine: AnswerEngine, path: Path, top_k: int) -> int:
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as exc:
        raise RetrievalError(f"cannot read batch file {path}: {exc.strerror}") from None
    failures = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            qid, question = record.get("id"), record["question"]
            out = {"id": qid, **engine.ask(str(question), top_k=top_k).to_json()}
        except (ValueError, KeyError, TypeError, AttributeError, QueryError) as exc:
            failures += 1
            out = {"id": None, "line": number, "error": f"{path}:{number}: {exc}"}
        print_json(out)
    return 1 if failures else 0


def run_eval(args: argparse.Namespace, settings: Settings) -> int:
    if args.corpus and args.index is None:
        raise UsageError(
            "eval --corpus needs --index DIR: it ingests the corpus into that index "
            "(never into the live one the bot serves)"
        )
    queries = read_queries(args.queries)[: args.limit]
    if args.corpus:
        corpus = [Path(p).expanduser().resolve() for p in args.corpus]
        backend = open_backend(settings.index_dir, settings.backend)
        ingest_once(backend, settings.index_dir, corpus, False, False, sys.stderr)  # stdout: report
        settings = replace(settings, index_named=True)
    else:
        settings = replace(settings, index_named=False)  # as ask: the shipped corpus if none
    engine = open_engine(settings)
    started = time.perf_counter()
    with tqdm(total=len(queries), desc=f"eval ({args.mode})", unit="q", file=sys.stderr) as bar:
        report = evaluate(engine, queries, mode=args.mode, on_progress=lambda _n: bar.update())
    if args.json:
        print_json({**report.to_json(), "seconds": round(time.perf_counter() - started, 1)})
        return 0
    skipped = f" ({report.skipped_empty} empty ones skipped)" if report.skipped_empty else ""
    print(f"{args.queries} — {report.queries} questions{skipped}, mode {report.mode}")
    print(
        f"  Recall@1 {report.recall_at_1:.3f}  Recall@5 {report.recall_at_5:.3f}  "
        f"Recall@10 {report.recall_at_10:.3f}  MRR@10 {report.mrr_at_10:.3f}"
    )
    if report.answer_in_excerpts is not None:
        print(f"  answer text inside the top-5 excerpts: {report.answer_in_excerpts:.3f}")
        print(
            f"  answer text inside the top result's marked sentence: "
            f"{report.answer_in_marked:.3f} (marked {report.marked_chars:.0f} chars on average)"
        )
        print(f"  answerable questions marked confident: {report.answerable_confident:.3f}")
    if report.unanswerable and report.unanswerable_not_confident is not None:
        print(
            f"  unanswerable questions marked not confident: "
            f"{report.unanswerable_not_confident:.3f} of {report.unanswerable}"
        )
    print(f"  latency p50 {report.p50_ms:.1f} ms, p95 {report.p95_ms:.1f} ms")
    return 0


def run_model(_args: argparse.Namespace, _settings: Settings) -> int:
    started = time.perf_counter()
    embedder = shared_embedder()
    print(f"model {embedder.identity} loaded in {time.perf_counter() - started:.1f} s")
    print(f"questions encoded by: {embedder.runtime}")
    print(f"bf16 document encoding: {'on' if embedder.bf16 else 'off'}")
    return 0
