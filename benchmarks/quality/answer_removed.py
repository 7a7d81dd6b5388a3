"""Hard unanswerable questions at scale: a public set's corpus with every answer sentence cut.

Each passage keeps its subject but loses every sentence that holds (or overlaps) one of its
questions' answers; a question is kept when none of its answers is left in its passage. Asked
against an index of that corpus, the questions are the "hard" kind of unanswerable question
(the right subject, the detail absent) that the seed corpus has only 41 of:

    python -m benchmarks.quality.answer_removed ../shared/eval/cmrc2018-trial \\
        /tmp/calib/removed-cmrc
    python -m bot ingest --index /tmp/calib/index-cmrc-removed \\
        --corpus /tmp/calib/removed-cmrc/corpus.jsonl
    python -m tools.calibrate collect --work /tmp/calib/answer-removed --set cmrc-removed \\
        --unanswerable --split heldout --index /tmp/calib/index-cmrc-removed \\
        --queries /tmp/calib/removed-cmrc/queries.jsonl --limit 1000
    python -m tools.calibrate report --work /tmp/calib/answer-removed

``tools/calibrate_all.sh`` does this for CMRC and DRCD (measured, never fitted on).
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from pathlib import Path

_SENTENCE = re.compile(r"[^。！？；!?;\n]+[。！？；!?;\n]*|[。！？；!?;\n]+")
_CLAUSE = re.compile(r"[^。！？；!?;\n，,：:]+[。！？；!?;\n，,：:]*|[。！？；!?;\n，,：:]+")
UNITS = {"sentence": _SENTENCE, "clause": _CLAUSE}


def answer_spans(text: str, question: dict) -> list[tuple[int, int]]:
    """Where the question's answers sit in its passage: ``answer_start`` when it points at
    the first answer, and every occurrence of each answer string."""
    spans = []
    start = question.get("answer_start")
    answers = [a for a in question.get("answers") or [] if a]
    if answers and isinstance(start, int) and text[start : start + len(answers[0])] == answers[0]:
        spans.append((start, start + len(answers[0])))
    for answer in answers:
        at = text.find(answer)
        while at >= 0:
            spans.append((at, at + len(answer)))
            at = text.find(answer, at + 1)
    return spans


def cut_sentences(
    text: str, spans: list[tuple[int, int]], unit: re.Pattern[str] = _SENTENCE
) -> tuple[str, int, int]:
    """``text`` without the sentences (or other ``unit``) that overlap a span; also
    (removed, total) units."""
    kept, removed, total = [], 0, 0
    for m in unit.finditer(text):
        a, b = m.span()
        total += 1
        if any(x < b and y > a for x, y in spans):
            removed += 1
        else:
            kept.append(m.group())
    return "".join(kept), removed, total


def build(source: Path, out: Path, unit: str = "sentence") -> str:
    """Write ``out/corpus.jsonl`` and ``out/queries.jsonl``; return a one-line summary.

    ``unit`` "clause" cuts only the clause (between commas) that holds an answer: the rest of
    its sentence, and most of the question's words with it, stay."""
    docs = [json.loads(line) for line in (source / "corpus.jsonl").open(encoding="utf-8")]
    queries = [json.loads(line) for line in (source / "queries.jsonl").open(encoding="utf-8")]
    by_doc: dict[str, list[dict]] = defaultdict(list)
    for q in queries:
        if q.get("doc_id") and q.get("answers"):
            by_doc[q["doc_id"]].append(q)
    out.mkdir(parents=True, exist_ok=True)
    left: dict[str, str] = {}
    removed = total = 0
    with (out / "corpus.jsonl").open("w", encoding="utf-8") as f:
        for d in docs:
            spans = [s for q in by_doc[d["doc_id"]] for s in answer_spans(d["text"], q)]
            text, r, t = cut_sentences(d["text"], spans, UNITS[unit])
            removed, total = removed + r, total + t
            if text.strip():
                left[d["doc_id"]] = text
                f.write(json.dumps({**d, "text": text}, ensure_ascii=False) + "\n")
    kept = [
        q
        for q in queries
        if q.get("answers")
        and q.get("doc_id") in left
        and not any(a in left[q["doc_id"]] for a in q["answers"])
    ]
    with (out / "queries.jsonl").open("w", encoding="utf-8") as f:
        f.writelines(json.dumps(q, ensure_ascii=False) + "\n" for q in kept)
    return (
        f"{out}: {len(left)} of {len(docs)} passages left, {removed} of {total} {unit}s "
        f"removed; {len(kept)} of {len(queries)} questions kept"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="a shared set's folder (corpus/queries.jsonl)")
    parser.add_argument("out", type=Path, help="folder for the cut corpus and its questions")
    parser.add_argument("--unit", choices=sorted(UNITS), default="sentence", help="what is cut")
    args = parser.parse_args()
    print(build(args.source, args.out, args.unit))


if __name__ == "__main__":
    main()
