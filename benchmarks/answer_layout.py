"""How answers read: is the gold answer near the top of what the user sees?

For every answerable question of the given sets it renders the reply exactly as the bot
sends it (Telegram HTML, top 5) and as ``ask`` prints it without colour (top 3), strips the
tags, removes the echoed question, and checks whether a gold answer lies inside the first
``--window`` visible characters. It also prints the length of the first Telegram message
of each answer and of the replies to off-topic questions.

    python benchmarks/answer_layout.py --index ~/.local/share/qabot/index \\
        --queries tests/data/seed_questions.jsonl --queries tests/data/seed_questions_heldout.jsonl
"""

from __future__ import annotations

import argparse
import html
import json
import re
import statistics
from pathlib import Path

from bot.console_render import Style
from bot.console_render import render_answer as render_console
from bot.telegram.render import render_answer as render_telegram
from corpus.normalize import search_key
from retrieval.engine import AnswerEngine
from retrieval.evaluation import read_queries

OFF_TOPIC = (
    "2022年卡塔尔世界杯冠军是谁？",
    "2022年卡塔尔世界杯的冠军是哪支球队？",
    "北京明天会下雨吗？",
    "红烧肉怎么做才好吃？",
    "苹果公司现在的首席执行官是谁？",
    "Python 里怎样读取一个 CSV 文件？",
)
_TAG = re.compile(r"<[^>]+>")
_CONSOLE_MARKS = re.compile(r"[【】]")


def visible(message: str) -> str:
    """What Telegram shows of an HTML message."""
    return html.unescape(_TAG.sub("", message))


def head(text: str, question: str, window: int) -> str:
    """The first ``window`` visible characters after removing the echoed question."""
    return text.replace(question, "", 1).lstrip()[:window]


def found(text: str, answers: tuple[str, ...]) -> bool:
    key = search_key(_CONSOLE_MARKS.sub("", text))
    return any(a.strip() and search_key(a.strip()) in key for a in answers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--queries", type=Path, action="append", required=True)
    parser.add_argument("--window", type=int, default=300)
    parser.add_argument("--limit", type=int, help="at most this many questions per set")
    parser.add_argument("--show", type=int, default=0, help="print the N first misses")
    args = parser.parse_args()

    engine = AnswerEngine.open(args.index, build_if_missing=False)
    plain = Style(colour=False)
    for path in args.queries:
        queries = [q for q in read_queries(path) if q.doc_id and q.answers][: args.limit]
        tg_hits = ask_hits = 0
        first_lengths: list[int] = []
        misses: list[str] = []
        for q in queries:
            tg = render_telegram(engine.ask(q.question, top_k=5))
            tg_text = "\n".join(visible(m) for m in tg)
            console = render_console(engine.ask(q.question, top_k=3), plain)
            tg_ok = found(head(tg_text, q.question, args.window), q.answers)
            ask_ok = found(head(console, q.question, args.window), q.answers)
            tg_hits += tg_ok
            ask_hits += ask_ok
            first_lengths.append(len(visible(tg[0])))
            if not (tg_ok and ask_ok):
                misses.append(f"{q.qid} {q.question} → {q.answers[0]}")
        n = len(queries)
        report = {
            "set": str(path),
            "answerable": n,
            f"telegram_answer_in_first_{args.window}": round(tg_hits / n, 3),
            f"ask_answer_in_first_{args.window}": round(ask_hits / n, 3),
            "first_message_chars_p50": statistics.median(first_lengths),
            "first_message_chars_max": max(first_lengths),
        }
        print(json.dumps(report, ensure_ascii=False))
        for miss in misses[: args.show]:
            print("  miss:", miss)

    lengths = {}
    for question in OFF_TOPIC:
        answer = engine.ask(question, top_k=5)
        lengths[question] = sum(len(visible(m)) for m in render_telegram(answer))
    print(json.dumps({"off_topic_reply_chars": lengths}, ensure_ascii=False))


if __name__ == "__main__":
    main()
