"""Issue 26: ask/sources filter options, in process (the seed index, the real model)."""

from __future__ import annotations

import json

from bot.cli import main
from bot.filter_args import parse_pairs


def test_ask_since_keeps_only_documents_dated_then(seed_index, capsys) -> None:
    code = main(["ask", "--index", str(seed_index), "--json", "--top-k", "5",
                 "--since", "2022-01-01", "京津冀协同发展取得了哪些进展"])  # fmt: skip
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["filters"] == {"since": "2022-01-01"}
    assert out["results"] and all(r["date"] >= "2022-01-01" for r in out["results"])


def test_ask_bad_date_is_one_line(seed_index, capsys) -> None:
    code = main(["ask", "--index", str(seed_index), "--since", "昨天", "问题"])
    assert code != 0
    assert "not a date" in capsys.readouterr().err


def test_sources_by_the_same_filters(seed_index, capsys) -> None:
    assert main(["sources", "--index", str(seed_index), "--all", "--json"]) == 0
    every = json.loads(capsys.readouterr().out)["sources"]
    assert main(["sources", "--index", str(seed_index), "--all", "--json", "--until", "2020"]) == 0
    some = json.loads(capsys.readouterr().out)["sources"]
    assert 0 < len(some) < len(every)
    assert all(s["date"] and s["date"] <= "2020-12-31" for s in some)


def test_console_and_telegram_syntax() -> None:
    assert parse_pairs("地区:天津 2020年以后 消防车通道怎么规定") == (
        {"region": "天津", "since": "2020"},
        "消防车通道怎么规定",
    )
    assert parse_pairs("region=天津 since=2020-01-01") == (
        {"region": "天津", "since": "2020-01-01"},
        "",
    )
    assert parse_pairs("天津市的规定") == ({}, "天津市的规定")
