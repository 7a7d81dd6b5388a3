"""A question longer than the engine reads: what is searched, and how a reply says so.

The engine searches a question's first ``MAX_QUESTION_CHARS`` (500) characters. Every
interface that takes longer ones says it shortened them the same way (issue 29): the JSON
contract (``ask --json``, ``/api/ask``, the ``qabot`` part of ``/v1``) echoes what was
searched as ``question`` and adds ``truncated: true``; a text reply (the command line, the
OpenAI-compatible chat) starts with :func:`shortened`'s note; the web page shows a short note.
"""

from __future__ import annotations

from retrieval.answer import Answer
from retrieval.engine import MAX_QUESTION_CHARS


def shortened(question: str) -> tuple[str, str | None]:
    """The question the engine searches (its first ``MAX_QUESTION_CHARS`` characters) and a
    note saying it was shortened, as the Telegram bot says it (None when it was not)."""
    question = (question or "").strip()
    if len(question) <= MAX_QUESTION_CHARS:
        return question, None
    searched = question[:MAX_QUESTION_CHARS]
    return searched, (
        f"您的问题有 {len(question)} 个字，太长了，只按前 {MAX_QUESTION_CHARS} 个字检索："
        f"「{searched[:40]}……{searched[-20:]}」"
    )


def answer_json(answer: Answer, note: str | None) -> dict:
    """``ask --json``'s contract; ``question`` is what was searched, and ``truncated`` says
    when that is only the start of what was asked (``note`` from :func:`shortened`)."""
    data = answer.to_json()
    if note is not None:
        data["truncated"] = True
    return data
