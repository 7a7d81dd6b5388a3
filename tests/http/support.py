"""The live server of the HTTP tests: uvicorn in a thread, on a free port, bounded in time."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx

from tests.support import free_port

XSS_DOC = "xss-test.txt"
START_SECONDS = 30  # the server must be up within this, and gone within it again


@dataclass
class LiveServer:
    url: str
    app: object
    thread: threading.Thread

    def client(self, key: str | None = None, **kwargs) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kwargs)


@contextlib.contextmanager
def serve(index_dir: Path, engine, **settings) -> Iterator[LiveServer]:
    """The app around ``engine`` on 127.0.0.1 (``settings`` override HttpSettings' fields)."""
    import uvicorn

    from bot.http.app import create_app
    from qabot_settings import HttpSettings

    http = replace(HttpSettings(workers=2), **settings)
    app = create_app(http, index_dir, engine=engine)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the test server on port {port} did not start")
        time.sleep(0.02)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", app, thread)
    finally:
        server.should_exit = True
        thread.join(START_SECONDS)
        assert not thread.is_alive(), "the test server did not stop"
