"""The filter options of ask, console, eval and sources (issue 26), and the console's and
Telegram's filter syntax; imports nothing heavy (``--help`` stays fast)."""

from __future__ import annotations

import argparse
import re

OPTIONS = (
    ("--since", "since", "DATE", "only documents dated on or after DATE (2020, 2020-05-01)"),
    ("--until", "until", "DATE", "only documents dated on or before DATE"),
    ("--issuer", "issuer", "TEXT", "only documents whose issuing body contains TEXT"),
    ("--region", "region", "PLACE", "only documents of this jurisdiction (天津, 河北省, 国家)"),
    ("--type", "doc_type", "KIND", "only documents of this kind (条例, 办法, 规定 …)"),
)


def add_filter_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "filters", "answer only from the documents they select (dates: publication date)"
    )
    for flag, dest, metavar, text in OPTIONS:
        group.add_argument(flag, dest=dest, metavar=metavar, help=text)


def filters_of(args: argparse.Namespace):
    """The Filters the options name (an empty one when none); ValueError for a bad date."""
    from retrieval.filters import Filters

    return Filters.of(**{dest: getattr(args, dest, None) for _, dest, _, _ in OPTIONS})


# console: /filter region=天津 since=2020-01-01   ·   Telegram: 地区:天津 2020年以后 问题…
_KEYS = {
    "region": "region",
    "地区": "region",
    "地域": "region",
    "since": "since",
    "从": "since",
    "起": "since",
    "until": "until",
    "至": "until",
    "到": "until",
    "issuer": "issuer",
    "机关": "issuer",
    "发布机关": "issuer",
    "type": "doc_type",
    "类型": "doc_type",
}
_PAIR = re.compile(r"^\s*([A-Za-z_\u4e00-\u9fff]{1,6})\s*[=:：]\s*(\S+)")
_YEAR_SINCE = re.compile(r"^\s*(\d{4})\s*年(?:以后|以来|之后|起)\s*")
_YEAR_UNTIL = re.compile(r"^\s*(\d{4})\s*年(?:以前|之前)\s*")


def parse_pairs(text: str) -> tuple[dict[str, str], str]:
    """({field: value}, the rest) of text that opens with filter pairs (``地区:天津``,
    ``region=天津``, ``since=2020``) and year phrases (``2020年以后``, ``2020年以前``)."""
    found: dict[str, str] = {}
    while True:
        match = _PAIR.match(text)
        if match and match.group(1).lower() in _KEYS:
            found[_KEYS[match.group(1).lower()]] = match.group(2)
            text = text[match.end() :]
            continue
        if match := _YEAR_SINCE.match(text):
            found["since"] = match.group(1)
            text = text[match.end() :]
            continue
        if match := _YEAR_UNTIL.match(text):
            found["until"] = str(int(match.group(1)) - 1)
            text = text[match.end() :]
            continue
        return found, text.strip()
