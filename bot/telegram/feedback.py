"""Feedback: the 👍/👎 handler, and ``python -m bot feedback`` for maintainers."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from telegram import Update
from telegram.ext import ContextTypes

from bot.index_update import state_dir

from .service import Service
from .sqlite_state import FILENAME, BotState, Vote
from .votes import UP

THANKS_UP = "谢谢反馈！"
THANKS_DOWN = "谢谢反馈，我们会据此改进。"
EXPIRED = "这条结果已过期，请重新提问。"
NOT_SAVED = "抱歉，暂时无法保存反馈，请稍后再试。"


async def vote_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """👍/👎 under an answer: store the question, the shown excerpts and the index version."""
    query = update.callback_query
    _, key, choice = query.data.split(":", 2)
    service: Service = context.bot_data["service"]
    page = service.own_page(key, query)  # only the chat the answer was sent to may vote
    state: BotState | None = context.bot_data.get("state")
    if page is None or update.effective_chat is None or state is None:
        await query.answer(EXPIRED, show_alert=True)
        return
    shown = [
        {"rank": r.rank, "doc_id": r.doc_id, "title": r.title, "start": r.start, "end": r.end}
        for r in sorted(page.results.values(), key=lambda r: r.rank)
    ]
    up = choice == UP
    chat_id = update.effective_chat.id
    if not state.vote(key, chat_id, 1 if up else -1, page.question, shown, page.version):
        await query.answer(NOT_SAVED)
        return
    await query.answer(THANKS_UP if up else THANKS_DOWN)


# -- the maintainer's report --------------------------------------------------------------


def summarize(votes: list[Vote]) -> dict[str, Any]:
    """Votes per document (every document an answer showed) and the 👎 questions."""
    documents: dict[str, dict[str, Any]] = {}
    for v in votes:
        for doc_id, title in dict.fromkeys((r["doc_id"], r.get("title")) for r in v.results):
            row = documents.setdefault(
                doc_id, {"doc_id": doc_id, "title": title, "up": 0, "down": 0}
            )
            row["up" if v.vote > 0 else "down"] += 1
    return {
        "votes": {"up": sum(v.vote > 0 for v in votes), "down": sum(v.vote < 0 for v in votes)},
        "documents": sorted(documents.values(), key=lambda d: (-d["down"], -d["up"], d["doc_id"])),
        "down_questions": [
            {
                "at": v.at,
                "question": v.question,
                "doc_ids": [r["doc_id"] for r in v.results],
                "version": v.version,
            }
            for v in votes
            if v.vote < 0
        ],
    }


def export_queries(votes: list[Vote], path: Path) -> int:
    """Write each distinct 👎 question in the ``eval`` query format; returns how many.

    ``doc_id`` is null and ``answers`` empty until a maintainer fills them in (as written,
    ``eval`` counts them as questions the corpus cannot answer); ``shown`` lists what the
    bot answered with.
    """
    seen: dict[str, dict[str, Any]] = {}
    for v in votes:
        if v.vote < 0 and v.question not in seen:
            qid = "fb-" + hashlib.sha1(v.question.encode()).hexdigest()[:10]
            shown = [r["doc_id"] for r in v.results]
            seen[v.question] = {
                "qid": qid,
                "question": v.question,
                "answers": [],
                "doc_id": None,
                "shown": shown,
            }
    lines = [json.dumps(q, ensure_ascii=False) for q in seen.values()]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return len(lines)


def run(index_dir: Path, args: argparse.Namespace) -> int:
    """``python -m bot feedback``: summary to stdout, exit code 2 for a missing index."""
    if not index_dir.is_dir():
        print(f"error: no index folder {index_dir}", file=sys.stderr)
        return 2
    path = state_dir(index_dir) / FILENAME
    votes: list[Vote] = []
    if path.is_file():
        state = BotState(path)
        try:
            votes = state.votes(args.since)
        finally:
            state.close()
    summary = summarize(votes)
    if args.export_queries is not None:
        count = export_queries(votes, args.export_queries)
        print(f"wrote {count} 👎 questions to {args.export_queries}", file=sys.stderr)
    if args.json:
        print(json.dumps({"since": args.since, **summary}, ensure_ascii=False))
        return 0
    _print_text(summary, path, args.since)
    return 0


def _print_text(summary: dict[str, Any], path: Path, since: str | None) -> None:
    votes = summary["votes"]
    when = f" since {since}" if since else ""
    print(
        f"{path}{when}: {votes['up'] + votes['down']} votes (👍 {votes['up']}, 👎 {votes['down']})"
    )
    if summary["documents"]:
        print("\nper document (votes on answers that showed it):")
        print(f"  {'👍':>4} {'👎':>4}  document")
        for d in summary["documents"]:
            print(f"  {d['up']:>5} {d['down']:>5}  {d['doc_id']}  {d['title'] or ''}")
    if summary["down_questions"]:
        print("\n👎 questions:")
        for q in summary["down_questions"]:
            print(f"  {q['at'][:10]}  {q['question']}  (shown: {', '.join(q['doc_ids'])})")
