"""``python -m bot serve``: the HTTP server (bot/cli.py calls these two hooks)."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import socket
import sys
from dataclasses import replace

from bot.errors import UsageError
from qabot_settings import HttpSettings, Settings

LOOPBACK_NAMES = {"localhost", "ip6-localhost"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``serve`` (``--index`` and ``--backend`` are added by the caller)."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (8000)")
    parser.add_argument(
        "--workers",
        type=int,
        help="questions answered at once (default: $QABOT_HTTP_WORKERS or one per core)",
    )


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, http: HttpSettings) -> None:
    """Without API keys the server answers anyone who reaches it: loopback only."""
    if not http.api_keys and not is_loopback(host):
        raise UsageError(
            f"refusing to listen on {host} without API keys: set QABOT_API_KEYS "
            "(comma-separated), or listen on 127.0.0.1 behind a proxy that checks access"
        )


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so a busy port is one clear error line."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def run(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from bot.open_index import open_engine

    from .app import create_app

    http = HttpSettings.from_env()
    if args.workers is not None:
        if args.workers < 1:
            raise UsageError("--workers must be at least 1")
        http = replace(http, workers=args.workers)
    check_exposure(args.host, http)
    sock = bind(args.host, args.port)
    app = create_app(http, settings.index_dir, opener=lambda: open_engine(settings))
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(
        f"serving http://{shown}:{args.port}/ (index {settings.index_dir}, "
        f"{http.workers} workers, {'API keys required' if http.api_keys else 'no API keys'})",
        file=sys.stderr,
        flush=True,
    )
    config = uvicorn.Config(
        app,
        log_level="info" if args.verbose else "warning",
        access_log=bool(args.verbose),
        timeout_keep_alive=5,
        limit_concurrency=max(64, http.workers * 64),
        proxy_headers=True,
        server_header=False,
    )
    logging.getLogger("bot").setLevel(logging.INFO if args.verbose else logging.WARNING)
    uvicorn.Server(config).run(sockets=[sock])
    return 0
