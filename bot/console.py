"""``python -m bot console``: ask questions interactively, same answer core as Telegram."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

import platformdirs

from bot.console_render import Style, render_answer, render_sources, use_colour
from bot.filter_args import filters_of, parse_pairs
from bot.open_index import open_engine
from qabot_settings import Settings
from retrieval.errors import QueryError

HELP = """\
输入问题后回车即可（中文简体、繁體或 English）。
  /more      下一批结果
  /sources   收录的文件
  /filter    只从部分文件回答：/filter region=天津 since=2020-01-01 until=… issuer=… type=条例
             （/filter 显示当前筛选，/filter off 取消）
  /help      本帮助
  /clear     清屏（或 clear）
  /quit      退出（或 quit、exit、q、退出，或按 Ctrl-D）"""

#: Words that are commands, not questions, typed with or without the slash.
QUIT = {"/quit", "/exit", "quit", "exit", "q", ":q", "退出", "/退出"}
CLEAR = {"/clear", "clear", "cls", "清屏"}


def _filter_command(line: str, filters, style):
    """``/filter region=天津 since=2020``: the filters to ask under from now on (shown);
    ``/filter off`` clears them, ``/filter`` alone shows them."""
    from retrieval.filters import Filters

    rest = line[len("/filter") :].strip()
    if rest in ("off", "clear", "none", "取消", "清除"):
        filters = Filters()
    elif rest:
        pairs, left = parse_pairs(rest)
        if left or not pairs:
            print(style.warn(f"看不懂的筛选：{left or rest}（例：/filter region=天津 since=2020）"))
            return filters
        try:
            filters = Filters.of(**{**_fields(filters), **pairs})
        except ValueError as exc:
            print(style.warn(str(exc)))
            return filters
    print(style.dim(f"筛选：{filters.describe()}" if filters else "筛选：无（全部文件）"))
    return filters


def _fields(filters) -> dict:
    return {k: v for k, v in filters.to_json().items()}


def _setup_history(path: Path | None = None) -> None:
    """Keep ↑ history in the user state dir; a folder or file that cannot be written only
    costs the history (one warning line), never the session."""
    try:
        import atexit
        import readline
    except ImportError:  # readline is missing on some platforms; history is a nicety
        return
    path = path or Path(platformdirs.user_state_dir("qabot")) / "console_history"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"warning: no console history ({exc.strerror}: {path.parent})", file=sys.stderr)
        return
    with contextlib.suppress(OSError):
        readline.read_history_file(path)
    readline.set_history_length(1000)

    def save() -> None:
        try:
            readline.write_history_file(path)
        except OSError as exc:
            print(f"warning: console history not saved ({exc.strerror}: {path})", file=sys.stderr)

    atexit.register(save)


def run_console(args: argparse.Namespace, settings: Settings) -> int:
    engine = open_engine(settings)
    style = Style(use_colour(sys.stdout))
    interactive = sys.stdin.isatty()
    if interactive:
        _setup_history()
        print(style.title(f"京津冀政策问答 · {len(engine.sources())} 篇文件 · /help 查看命令"))
    last_question, shown = "", 0
    filters = filters_of(args)
    while True:
        try:
            line = input("问> " if interactive else "")
        except EOFError:
            if interactive:
                print()
            return 0
        line = line.strip()
        if not line:
            continue
        command = line.lower()
        if command in QUIT:
            return 0
        if command in ("/help", "help", "帮助"):
            print(HELP)
            continue
        if command in CLEAR:
            if interactive and sys.stdout.isatty():
                print("\033[H\033[2J", end="", flush=True)
            continue
        refused = engine.refresh_error
        if engine.refresh():
            print(style.dim(f"（索引已更新：{engine.version}）"))
        elif engine.refresh_error and engine.refresh_error != refused:  # said once per version
            print(style.dim(f"（新索引无法载入，继续使用旧索引：{engine.refresh_error}）"))
        if line == "/sources":
            print(render_sources(engine.sources(), style))
            continue
        if line.split()[0] == "/filter":
            filters = _filter_command(line, filters, style)
            continue
        if line == "/more":
            if not last_question:
                print("还没有提问。")
                continue
            question, offset = last_question, shown
        elif line.startswith("/"):
            print(f"未知命令 {line}，输入 /help 查看可用命令。")
            continue
        else:
            question, offset = line, 0
        try:
            under = {"filters": filters} if filters else {}
            answer = engine.ask(question, top_k=args.top_k, offset=offset, **under)
        except QueryError as exc:
            print(style.warn(str(exc)))
            continue
        last_question, shown = question, offset + len(answer.results)
        if offset and not answer.results:
            print("没有更多结果了。")
            continue
        print(render_answer(answer, style, full=args.full))
        print()
