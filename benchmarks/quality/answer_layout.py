"""How answers read: is the gold answer in the marked sentence and near the top of the reply?

For every answerable question of the given sets it asks the engine once (top 5), then:

* **marked**: the top result is the gold document and a gold answer lies inside its marked
  sentence(s) (``retrieval.evaluation.contains_answer``, as ``bot eval`` counts it);
* **telegram / ask**: renders the reply exactly as the bot sends it (Telegram HTML, top 5)
  and as ``ask`` prints it without colour (top 3), strips the tags, removes the echoed
  question, and checks whether a gold answer lies inside the first ``--window`` visible
  characters;
* the visible length of the first Telegram message of each answer, and of the replies to
  off-topic questions;
* why each Telegram miss misses: the top result is not the gold document, or the passage
  shown lacks the answer (retrieval), the marked sentence misses it (marking), each split
  by whether the reply was weak (not confident).

Each ``--set INDEX QUERIES`` pairs an index with its questions (``--index`` + ``--queries``
does the same with one index for all). ``--part tune`` / ``--part held-out`` keep the
questions of half of the gold documents (split by a hash of ``doc_id``), so marking rules
can be tuned on one half and reported on the other. ``--save FILE`` keeps the answers;
``--replay FILE`` re-marks and re-renders saved answers with the current code (no model
needed: only the index's IDF is read), which makes trying a marking rule take seconds;
``--replay FILE --as-saved`` renders them with the marks they were saved with (the
"before" of a marking change, with this script's layout code). ``--semantic`` marks the
top result with the opt-in semantic tie-break (``QABOT_SEMANTIC_MARKS=1``; loads the model
also when replaying).

    python -m benchmarks.quality.answer_layout --index ~/.local/share/qabot/index \\
        --queries tests/data/seed_questions.jsonl --queries tests/data/seed_questions_heldout.jsonl
    python -m benchmarks.quality.answer_layout --set /tmp/qabot-eval/cmrc \\
        ../shared/eval/cmrc2018-trial/queries.jsonl --part held-out --save /tmp/cmrc.jsonl
"""

from __future__ import annotations

import argparse
import html
import json
import re
import statistics
import zlib
from collections import Counter
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from bot.console_render import Style
from bot.console_render import render_answer as render_console
from bot.telegram.render import render_answer as render_telegram
from corpus.normalize import search_key
from embeddings.model import Embedder
from retrieval.answer import Answer, Result
from retrieval.backends.local.folder import load_version
from retrieval.engine import MAX_QUESTION_CHARS, AnswerEngine, shared_embedder
from retrieval.evaluation import Query, contains_answer, read_queries
from retrieval.query.marking import mark_sentences

OFF_TOPIC = (
    "2022年卡塔尔世界杯冠军是谁？",
    "2022年卡塔尔世界杯的冠军是哪支球队？",
    "北京明天会下雨吗？",
    "红烧肉怎么做才好吃？",
    "苹果公司现在的首席执行官是谁？",
    "Python 里怎样读取一个 CSV 文件？",
)
ASK_TOP = 3  # what `ask` prints; Telegram shows 5
_TAG = re.compile(r"<[^>]+>")
_CONSOLE_MARKS = re.compile(r"[【】]")


def visible(message: str) -> str:
    """What Telegram shows of an HTML message."""
    return html.unescape(_TAG.sub("", message))


def head(text: str, question: str, window: int) -> str:
    """The first ``window`` visible characters after removing the echoed question."""
    return text.replace(question, "", 1).lstrip()[:window]


def found(text: str, answers: tuple[str, ...]) -> bool:
    """A gold answer inside ``text`` (as ``bot eval`` counts it: punctuation around it ignored)."""
    return contains_answer(_CONSOLE_MARKS.sub("", text), answers)


def in_part(doc_id: str, part: str) -> bool:
    """Half of the gold documents (by CRC32 of ``doc_id``) for tuning, the other half held out."""
    if part == "all":
        return True
    return (zlib.crc32(doc_id.encode("utf-8")) % 2 == 0) == (part == "tune")


def answer_from_json(data: dict) -> Answer:
    results = [
        Result(**{**r, "marks": tuple(tuple(m) for m in r["marks"])}) for r in data["results"]
    ]
    return Answer(data["question"], data["confident"], results, data.get("off_topic", False))


def remarked(answer: Answer, idf, embedder: Embedder | None = None) -> Answer:
    """The same answer with every result marked again by the current marking code (with
    ``embedder``, the top result with the semantic tie-break, as ``QABOT_SEMANTIC_MARKS=1``)."""
    key = search_key(answer.question[:MAX_QUESTION_CHARS])
    similarity = None
    if embedder is not None:
        vector = embedder.encode_queries([key])[0]

        def similarity(texts):
            return (embedder.encode_sentences(texts) @ vector).tolist()

    results = [
        Result(
            **{
                **r.__dict__,
                "marks": mark_sentences(
                    r.excerpt, key, idf, r.title, similarity if i == 0 else None
                ),
            }
        )
        for i, r in enumerate(answer.results)
    ]
    return Answer(answer.question, answer.confident, results, answer.off_topic)


def answers(
    engine: AnswerEngine | None,
    index: Path,
    queries: list[Query],
    replay: dict[str, dict],
    as_saved: bool = False,
    embedder: Embedder | None = None,
) -> Iterator[tuple[Query, Answer]]:
    """Each question's top-5 answer: asked, or replayed (re-marked unless ``as_saved``)."""
    if engine is None:
        idf = lru_cache(maxsize=None)(load_version(index).idf)
        for q in queries:
            saved = answer_from_json(replay[q.question])
            yield q, saved if as_saved else remarked(saved, idf, embedder)
        return
    for q in queries:
        yield q, engine.ask(q.question, top_k=5)


def miss_reason(answer: Answer, q: Query, marked_ok: bool) -> str:
    """Why a reply misses: retrieval (top result), confidence (a weak reply), or marking."""
    top = answer.results[0] if answer.results else None
    weak = "weak: " if not answer.confident else ""
    if top is None or top.doc_id != q.doc_id:
        return weak + "top result not the gold document"
    if not contains_answer(top.excerpt, q.answers):
        return weak + "gold document, passage lacks the answer"
    return weak + ("marked, but past the window" if marked_ok else "marking picks another sentence")


def measure(pairs: Iterator[tuple[Query, Answer]], window: int, saved: list[dict]) -> dict:
    n = marked_hits = tg_hits = ask_hits = 0
    first_lengths: list[int] = []
    misses: list[str] = []
    why: Counter[str] = Counter()
    for q, answer in pairs:
        saved.append({**answer.to_json(), "off_topic": answer.off_topic})
        top = answer.results[0] if answer.results else None
        marked = "".join(top.excerpt[a:b] for a, b in top.marks) if top else ""
        marked_ok = bool(top) and top.doc_id == q.doc_id and contains_answer(marked, q.answers)
        tg = render_telegram(answer)
        tg_text = "\n".join(visible(m) for m in tg)
        top3 = Answer(answer.question, answer.confident, answer.results[:ASK_TOP], answer.off_topic)
        console = render_console(top3, Style(colour=False))
        tg_ok = found(head(tg_text, q.question, window), q.answers)
        ask_ok = found(head(console, q.question, window), q.answers)
        n += 1
        marked_hits += marked_ok
        tg_hits += tg_ok
        ask_hits += ask_ok
        first_lengths.append(len(visible(tg[0])))
        if not tg_ok:
            why[miss_reason(answer, q, marked_ok)] += 1
        if not (tg_ok and ask_ok and marked_ok):
            flags = "".join(
                c if ok else "-" for c, ok in zip("MTA", (marked_ok, tg_ok, ask_ok), strict=True)
            )
            misses.append(f"{flags} {q.qid} {q.question} → {q.answers[0]} | {marked[:80]}")
    return {
        "answerable": n,
        "marked_holds_answer": round(marked_hits / n, 3) if n else None,
        f"telegram_answer_in_first_{window}": round(tg_hits / n, 3) if n else None,
        f"ask_answer_in_first_{window}": round(ask_hits / n, 3) if n else None,
        "first_message_chars_p50": statistics.median(first_lengths) if n else None,
        "first_message_chars_max": max(first_lengths) if n else None,
        "telegram_misses": dict(sorted(why.items())),
        "_misses": misses,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", nargs=2, action="append", default=[], metavar=("INDEX", "QUERIES"))
    parser.add_argument("--index", type=Path, help="the index for every --queries")
    parser.add_argument("--queries", type=Path, action="append", default=[])
    parser.add_argument("--window", type=int, default=300)
    parser.add_argument(
        "--limit", type=int, help="the first N answerable questions of each set (before --part)"
    )
    parser.add_argument("--part", choices=("all", "tune", "held-out"), default="all")
    parser.add_argument("--show", type=int, default=0, help="print the N first misses")
    parser.add_argument("--save", type=Path, help="write the answers asked (JSON Lines)")
    parser.add_argument(
        "--replay", type=Path, action="append", help="re-mark saved answers instead of asking"
    )
    parser.add_argument(
        "--as-saved", action="store_true", help="with --replay: keep the saved marks"
    )
    parser.add_argument("--no-off-topic", action="store_true", help="skip the off-topic replies")
    parser.add_argument(
        "--semantic", action="store_true", help="mark with the semantic tie-break (loads the model)"
    )
    args = parser.parse_args()
    if args.queries and not args.index:
        parser.error("--queries needs --index (or use --set INDEX QUERIES)")
    sets = [(Path(i), Path(q)) for i, q in args.set] + [(args.index, q) for q in args.queries]
    if not sets:
        parser.error("give at least one --set INDEX QUERIES")

    replay: dict[str, dict] = {}
    for file in args.replay or ():
        for line in file.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            replay[record["question"]] = record
    saved: list[dict] = []
    engines: dict[Path, AnswerEngine] = {}
    embedder = shared_embedder() if args.semantic and args.replay else None
    for index, path in sets:
        engine = None
        if not args.replay:
            if index not in engines:
                engines[index] = AnswerEngine.open(index)
                engines[index].semantic_marks = args.semantic
            engine = engines[index]
        answerable = [
            q for q in read_queries(path) if q.doc_id and q.answers and q.question.strip()
        ]
        queries = [q for q in answerable[: args.limit] if in_part(q.doc_id, args.part)]
        pairs = answers(engine, index, queries, replay, args.as_saved, embedder)
        report = measure(pairs, args.window, saved)
        misses = report.pop("_misses")
        print(json.dumps({"set": str(path), "part": args.part, **report}, ensure_ascii=False))
        for miss in misses[: args.show]:
            print("  miss:", miss)

    if args.save:
        args.save.write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in saved), encoding="utf-8"
        )
    if args.no_off_topic or args.replay:
        return
    engine = next(iter(engines.values()))
    lengths = {}
    for question in OFF_TOPIC:
        answer = engine.ask(question, top_k=5)
        lengths[question] = sum(len(visible(m)) for m in render_telegram(answer))
    print(json.dumps({"off_topic_reply_chars": lengths}, ensure_ascii=False))


if __name__ == "__main__":
    main()
