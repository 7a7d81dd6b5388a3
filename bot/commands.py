"""The one-shot commands: ingest, ask, eval, model."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import TextIO

from tqdm import tqdm

from bot.console_render import CLI_SOURCES, Style, citation, render_answer, use_colour
from bot.errors import UsageError
from bot.filter_args import filters_of
from bot.index_update import corpus_paths, load_documents, update_index, with_uploads
from bot.open_index import build_shipped_index, open_engine
from bot.question_limit import answer_json, shortened
from corpus.document import Document
from qabot_settings import Settings
from retrieval.answer import Answer, Source
from retrieval.backends import Backend, open_backend
from retrieval.engine import AnswerEngine, shared_embedder
from retrieval.errors import IndexNotFoundError, QueryError, RetrievalError
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
    remembered: list[Path] | None = None,
) -> None:
    """Ingest ``paths`` into ``backend``. ``remembered``: the folders the last ingest read;
    any of them that ``paths`` leaves out is said, with the documents that go, first."""
    paths = with_uploads(index_dir, paths)
    documents = load_documents(paths, backend=backend, follow_symlinks=follow_symlinks).documents
    dropped = [p for p in remembered or [] if p not in paths]
    if dropped:
        print(folders_change(backend, dropped, documents), file=sys.stderr, flush=True)
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
        f"index {backend.where} → version {result.version} ({result.chunks} chunks)",
        file=out,
        flush=True,
    )
    for line in version_report(documents):
        print(line, file=out, flush=True)


def version_report(documents) -> list[str]:
    """``3 documents have older versions: 《X条例》 2016 → 2022 …`` (issue 26; the groups
    the ingest stored in the manifest, computed by the same function)."""
    from retrieval.filters import catalogue, describe_groups

    metas, groups = catalogue(documents)
    if not groups:
        return []
    titles = {d.doc_id: d.title for d in documents}
    lines = describe_groups(groups, titles, metas)
    head = f"{len(groups)} documents have older versions:"
    shown = lines[:20] + ([f"… and {len(lines) - 20} more"] if len(lines) > 20 else [])
    return [head, *(f"  {line}" for line in shown)]


def _shown_path(path: Path) -> str:
    """``corpus/seed`` inside the current folder, else the whole path."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def folders_change(backend: Backend, dropped: list[Path], documents: list[Document]) -> str:
    """The line said before an ingest whose folders leave out some the last one read."""
    live: list[str] = []
    backend.stored_documents(lambda doc_id: live.append(doc_id) and False)  # ids only
    loaded = {doc.doc_id for doc in documents}
    gone = sum(1 for doc_id in live if doc_id not in loaded)
    names = ", ".join(_shown_path(p) for p in dropped)
    verb = "is" if len(dropped) == 1 else "are"
    return (
        f"the folders change: {names} {verb} no longer included — "
        f"{gone} document{'s' if gone != 1 else ''} will be removed "
        "(to keep them, use --add-corpus DIR, or name them with --corpus too)"
    )


def _remembered(backend: Backend) -> list[Path]:
    """The folders the last ingest read, to say which ones a new --corpus leaves out; none
    when the index cannot say (damaged: the ingest given --corpus rebuilds it anyway)."""
    try:
        return [Path(p) for p in backend.previous_corpus()]
    except RetrievalError:
        return []


def run_ingest(args: argparse.Namespace, settings: Settings) -> int:
    if args.dry_run and args.watch:
        raise UsageError("--dry-run and --watch cannot be combined (--watch ingests for real)")
    folder = settings.index_dir
    backend = open_backend(folder, settings.backend)
    paths = corpus_paths(backend, args.corpus)  # without --corpus, damage is reported here
    remembered = _remembered(backend) if args.corpus else paths
    for added in args.add_corpus or []:
        added = Path(added).expanduser().resolve()
        if added not in paths:
            paths.append(added)
    origin = "watch" if args.watch else "ingest"
    follow = args.follow_symlinks
    ingest_once(
        backend,
        folder,
        paths,
        args.rebuild,
        args.dry_run,
        origin=origin,
        follow_symlinks=follow,
        remembered=remembered,
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


def ask_under(engine: AnswerEngine, question: str, top_k: int, filters) -> Answer:
    """``engine.ask``, under ``filters`` when there are any."""
    if filters:
        return engine.ask(question, top_k=top_k, filters=filters)
    return engine.ask(question, top_k=top_k)


def run_ask(args: argparse.Namespace, settings: Settings) -> int:
    if args.top_k < 1:
        raise QueryError("--top-k must be at least 1")
    if args.batch is None and not (args.question or "").strip():
        raise QueryError('the question is empty: python -m bot ask "你的问题"')
    filters = filters_of(args)
    engine = open_engine(settings)
    if args.batch is not None:
        return _ask_batch(engine, args.batch, args.top_k, filters)
    question, note = shortened(args.question)
    answer = ask_under(engine, question, args.top_k, filters)
    if args.json:
        print_json(answer_json(answer, note))
        return 0
    style = Style(use_colour(sys.stdout))
    if note is not None:
        print(style.warn(note), end="\n\n")
    print(render_answer(answer, style, full=args.full, sources=CLI_SOURCES))
    return 0


def _ask_batch(engine: AnswerEngine, path: Path, top_k: int, filters=None) -> int:
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as exc:
        raise RetrievalError(f"cannot read batch file {path}: {exc.strerror}") from None
    failures = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        qid = None
        try:
            record = json.loads(line)
            qid = record.get("id")  # kept in the error line too, whatever else is wrong
            question, note = shortened(str(record["question"]))
            answer = ask_under(engine, question, top_k, filters)
            out = {"id": qid, **answer_json(answer, note)}
        except (ValueError, KeyError, TypeError, AttributeError, QueryError) as exc:
            failures += 1
            out = {"id": qid, "line": number, "error": f"{path}:{number}: {exc}"}
        print_json(out)
    return 1 if failures else 0


def run_sources(args: argparse.Namespace, settings: Settings) -> int:
    """``python -m bot sources``: the indexed documents, newest first, a page at a time."""
    if args.page < 1 or args.per_page < 1:
        raise UsageError("--page and --per-page must be at least 1")
    backend = open_backend(settings.index_dir, settings.backend)
    if not settings.index_named and backend.current_version() is None:
        build_shipped_index(backend, settings.index_dir)
    if backend.current_version() is None:
        raise IndexNotFoundError(
            f"no index in {backend.where} "
            f"(build one: python -m bot ingest --index {settings.index_dir})"
        )
    filters = filters_of(args)
    version = backend.load()
    chosen = filters.select(version.document_meta()) if filters else None
    sources = sorted(
        (Source(*row) for row in version.sources() if chosen is None or row[0] in chosen),
        key=lambda s: s.date or "",
        reverse=True,
    )
    per_page = (len(sources) or 1) if args.all else args.per_page
    pages = max(1, -(-len(sources) // per_page))
    page = min(args.page, pages)
    shown = sources[(page - 1) * per_page : page * per_page]
    if args.json:
        print_json(
            {
                "total": len(sources),
                "page": page,
                "pages": pages,
                "sources": [asdict(s) for s in shown],
            }
        )
        return 0
    style = Style(use_colour(sys.stdout))
    paged = f" · 第 {page}/{pages} 页" if pages > 1 else ""
    where = f" · {filters.describe()}" if filters else ""
    print(style.title(f"收录文件（{len(sources)} 篇）{where}{paged}"))
    first = (page - 1) * per_page + 1
    for number, source in enumerate(shown, start=first):
        print(f"  {number}. {citation(source)}")
    if page < pages:
        print(style.dim(f"下一页：python -m bot sources --page {page + 1}（或 --all）"))
    return 0


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
        report = evaluate(
            engine,
            queries,
            mode=args.mode,
            on_progress=lambda _n: bar.update(),
            filters=filters_of(args),
        )
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
