"""Pieces every command shares: the index folder, opening the engine, JSON output, usage errors."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bot.errors import UsageError
from retrieval.engine import AnswerEngine
from retrieval.index import default_index_dir

__all__ = ["UsageError", "index_dir", "open_engine", "print_json"]


def index_dir(args: argparse.Namespace) -> Path:
    """``--index``, else ``$QABOT_INDEX``, else the user data dir."""
    return Path(args.index).expanduser() if getattr(args, "index", None) else default_index_dir()


def open_engine(args: argparse.Namespace) -> AnswerEngine:
    """The default index is built from the shipped corpus on first use; a named one must exist."""
    return AnswerEngine.open(index_dir(args), build_if_missing=args.index is None)


def print_json(data: object) -> None:
    print(json.dumps(data, ensure_ascii=False), flush=True)
