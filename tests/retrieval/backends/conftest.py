"""Fixtures of the backend tests: a ``milvus-lite server`` on 127.0.0.1 for the session (the
network URI a Milvus cluster would have)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from tests.support import free_port

SERVER_START_S = 60


@pytest.fixture(scope="session")
def milvus_server(tmp_path_factory):
    """``milvus-lite server`` on 127.0.0.1, stopped at the end of the session."""
    port = free_port()
    data = tmp_path_factory.mktemp("milvus-server")
    log = open(data / "server.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "milvus_lite",
            "server",
            "--data-dir",
            str(data / "db"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + SERVER_START_S
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(
                    f"milvus-lite server did not start: {(data / 'server.log').read_text()}"
                )
            time.sleep(0.2)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
    log.close()
