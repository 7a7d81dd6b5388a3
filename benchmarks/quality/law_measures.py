"""Per-kind figures on a law library that ``python -m bot eval`` does not print.

Asks every question of a law question file (``tests/data/law_questions_*.jsonl``, format in
``tests/data/README.md``) through ``retrieval.AnswerEngine`` on an index of the library built
by ``benchmarks/quality/law_library.py``, and prints per question kind:

- ``n``: questions of the kind;
- ``gold@1`` / ``gold@5``: the gold document is the first result / among the first five
  (versions: the wanted version);
- ``first excerpt``: the first result is the gold document and its excerpt holds the answer
  (compared as search keys, so a traditional answer matches a simplified excerpt);
- ``top article``: the first result is the gold document and its ``article`` is the article
  that holds the answer (for ``article`` questions: the named article came first);
- ``confident``: answerable questions marked confident;
- ``not confident``: unanswerable and other-jurisdiction questions marked not confident;
- ``version first``: version questions whose wanted version (the current one, or the old
  one for a question about the past) is ranked above every other version of the document;
- ``old unflagged``: version questions where a superseded version is among the results
  without ``superseded_by`` set (the attribute is read if the Result has it).

Below the table: the share of shown excerpts holding Markdown syntax (``#`` headings,
``<!-- … -->``, ``INFO END``, emphasis, links, table rows) and of results with a ``section``.

``--check LIBRARY_DOCS`` checks a question file against the library instead (no index
needed): each answer occurs in its document, inside the article named, and every doc_id
exists. ``--details FILE`` writes one JSON line per question (what came first, each measure).

    python -m benchmarks.quality.law_measures --index /tmp/lawlib-index \\
        --queries tests/data/law_questions_dev.jsonl
    python -m benchmarks.quality.law_measures --check /tmp/lawlib/docs \\
        --queries tests/data/law_questions_dev.jsonl tests/data/law_questions_heldout.jsonl
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

ANSWERABLE = ("fact", "fact-unnamed", "article", "version", "traditional", "english")
NOT_ANSWERABLE = ("unanswerable", "other-jurisdiction")
KINDS = ANSWERABLE + NOT_ANSWERABLE
COLUMNS = (
    "gold@1",
    "gold@5",
    "first excerpt",
    "top article",
    "confident",
    "not confident",
    "version first",
    "old unflagged",
)
_MARKDOWN = re.compile(
    r"(?m)^\s{0,3}#{1,6}\s|<!--|-->|INFO END|\*\*[^*\n]+\*\*|\[[^\]\n]+\]\([^)\n]*\)|^\s*\|.*\|\s*$"
)
_ARTICLE = re.compile(r"^(第[一二三四五六七八九十百零]+条)[ \u3000]", re.M)


def read_questions(paths: list[Path]) -> list[dict]:
    questions = []
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                try:
                    questions.append(json.loads(line))
                except ValueError as exc:
                    raise SystemExit(f"{path}:{number}: not JSON ({exc})") from None
    return questions


def _articles(text: str) -> list[tuple[str, str]]:
    starts = [(m.group(1), m.start()) for m in _ARTICLE.finditer(text)]
    return [
        (name, text[start : starts[i + 1][1] if i + 1 < len(starts) else len(text)])
        for i, (name, start) in enumerate(starts)
    ]


def check(docs: Path, questions: list[dict]) -> int:
    """Problems found in the question file against the library (0: none)."""
    problems = 0
    seen = set()
    for q in questions:
        qid, kind = q.get("qid"), q.get("kind")
        where = f"{qid} ({kind})"
        if qid in seen:
            print(f"{where}: duplicate qid")
            problems += 1
        seen.add(qid)
        if kind not in KINDS:
            print(f"{where}: unknown kind")
            problems += 1
            continue
        ids = (
            [q.get("doc_id")] + [q.get("current_doc_id")] + list(q.get("superseded_doc_ids") or [])
        )
        ids += list(q.get("library_has") or [])
        for doc_id in filter(None, ids):
            if not (docs / doc_id).is_file():
                print(f"{where}: no document {doc_id}")
                problems += 1
        if kind in NOT_ANSWERABLE:
            if q.get("doc_id") is not None or q.get("answers"):
                print(f"{where}: an unanswerable question has a doc_id or answers")
                problems += 1
            if kind == "other-jurisdiction":
                clash = [
                    p.relative_to(docs).as_posix()
                    for p in docs.rglob("*.md")
                    if q["place"] in p.name and q["rule"] in p.name
                ]
                if clash:
                    print(f"{where}: the library has {q['place']}'s {q['rule']}: {clash}")
                    problems += 1
            continue
        path = docs / q["doc_id"]
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        answer = q.get("answer") or (q.get("answers") or [""])[0]
        if not answer or answer not in text:
            print(f"{where}: answer {answer!r} not in {q['doc_id']}")
            problems += 1
            continue
        holding = [name for name, body in _articles(text) if answer in body]
        if q.get("article") not in holding:
            print(f"{where}: answer not inside {q.get('article')} (found in {holding})")
            problems += 1
    print(f"{len(questions)} questions checked, {problems} problems")
    return problems


def measure(engine, q: dict, top_k: int) -> dict:
    from retrieval.evaluation import contains_answer

    answer = engine.ask(q["question"], top_k=top_k)
    results = answer.results
    docs = list(dict.fromkeys(r.doc_id for r in results))
    row: dict = {
        "qid": q["qid"],
        "kind": q["kind"],
        "confident": answer.confident,
        "top_doc": results[0].doc_id if results else None,
        "top_article": results[0].article if results else None,
        "top_section": results[0].section if results else None,
        "excerpts": [r.excerpt for r in results],
        "sections": [r.section for r in results],
    }
    if q["kind"] in NOT_ANSWERABLE:
        row["not confident"] = not answer.confident
        return row
    gold = q["doc_id"]
    answers = q.get("answers") or [q.get("answer")]
    top_is_gold = bool(results) and results[0].doc_id == gold
    row["gold@1"] = top_is_gold
    row["gold@5"] = gold in docs[:5]
    row["first excerpt"] = top_is_gold and contains_answer(results[0].excerpt, answers)
    row["top article"] = top_is_gold and results[0].article == q.get("article")
    row["confident"] = answer.confident
    if q["kind"] == "version":
        group = {q.get("current_doc_id"), *q.get("superseded_doc_ids", [])} - {None}
        ranked = [d for d in docs if d in group]
        row["version first"] = bool(ranked) and ranked[0] == gold
        old = set(q.get("superseded_doc_ids", []))
        row["old unflagged"] = any(
            r.doc_id in old and not getattr(r, "superseded_by", None) for r in results
        )
    return row


def report(rows: list[dict]) -> str:
    by_kind: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_kind[row["kind"]].append(row)
    answerable = [r for r in rows if r["kind"] in ANSWERABLE]
    refusable = [r for r in rows if r["kind"] in NOT_ANSWERABLE]
    groups = [(k, by_kind[k]) for k in KINDS if by_kind[k]]
    groups += [("all answerable", answerable), ("all unanswerable", refusable)]
    lines = ["| kind | n | " + " | ".join(COLUMNS) + " |", "|---|---" + "|---" * len(COLUMNS) + "|"]
    for name, group in groups:
        if not group:
            continue
        cells = []
        for column in COLUMNS:
            values = [r[column] for r in group if column in r]
            if column == "confident" and name in NOT_ANSWERABLE + ("all unanswerable",):
                values = []
            cells.append(f"{sum(values) / len(values):.3f}" if values else "–")
        lines.append(f"| {name} | {len(group)} | " + " | ".join(cells) + " |")
    shown = [e for r in rows for e in r["excerpts"]]
    marked = sum(bool(_MARKDOWN.search(e)) for e in shown)
    sections = [s for r in rows for s in r["sections"]]
    top_markdown = sum(
        bool(r["excerpts"]) and bool(_MARKDOWN.search(r["excerpts"][0])) for r in rows
    )
    lines.append("")
    lines.append(
        f"excerpts holding Markdown syntax: {marked}/{len(shown)}"
        f" ({marked / max(len(shown), 1):.3f}); first excerpts: {top_markdown}/{len(rows)}"
    )
    lines.append(
        f"results with a section: {sum(s is not None for s in sections)}/{len(sections)}"
        f" ({sum(s is not None for s in sections) / max(len(sections), 1):.3f})"
    )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.quality.law_measures",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--queries", type=Path, nargs="+", required=True, help="law question files (JSONL)"
    )
    parser.add_argument(
        "--index", type=Path, help="index of the law library (python -m bot ingest --index …)"
    )
    parser.add_argument(
        "--check",
        type=Path,
        metavar="LIBRARY_DOCS",
        help="check the questions against the library's docs/ folder instead",
    )
    parser.add_argument("--top-k", type=int, default=5, help="results asked for (default 5)")
    parser.add_argument(
        "--kind", action="append", choices=KINDS, help="only these kinds (repeatable)"
    )
    parser.add_argument("--details", type=Path, help="write one JSON line per question here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    questions = read_questions(args.queries)
    if args.kind:
        questions = [q for q in questions if q.get("kind") in args.kind]
    if args.check:
        return 1 if check(args.check, questions) else 0
    if args.index is None:
        raise SystemExit("give --index (or --check LIBRARY_DOCS)")
    from retrieval import AnswerEngine

    engine = AnswerEngine.open(args.index)
    started = time.perf_counter()
    rows = [measure(engine, q, args.top_k) for q in questions]
    elapsed = time.perf_counter() - started
    if args.details:
        with args.details.open("w", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(
        f"{len(rows)} questions from {', '.join(map(str, args.queries))}; index {args.index} "
        f"({engine.chunks} chunks); {elapsed:.0f} s"
    )
    print(report(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
