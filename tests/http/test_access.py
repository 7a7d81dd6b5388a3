"""Keys, rate limits, CORS, and what ``python -m bot serve`` refuses."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from tests.http.support import serve
from tests.support import ROOT, free_port
from tests.support.cli import assert_one_line_error, bot

ASK = {"question": "通武廊签署了什么协议？", "top_k": 1}


def test_every_api_call_needs_a_key_when_keys_are_set(keyed_server):
    calls = [
        ("POST", "/api/ask", ASK),
        ("GET", "/api/sources", None),
        ("GET", "/v1/models", None),
        ("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": "雄安"}]}),
    ]
    for key, status in ((None, 401), ("wrong", 401), ("key-two", 200)):
        with keyed_server.client(key) as client:
            for method, path, body in calls:
                response = client.request(method, path, json=body)
                assert response.status_code == status, (key, path, response.text)
                if status == 401:
                    assert response.headers["www-authenticate"] == "Bearer"
                    assert response.json()["error"]["type"] == "authentication_error"
    with keyed_server.client() as client:  # the page and the probes stay open
        for path in ("/", "/healthz", "/readyz", "/static/app.js"):
            assert client.get(path).status_code == 200, path
        basic = client.post("/api/ask", json=ASK, headers={"Authorization": "Basic a2V5LW9uZQ=="})
        assert basic.status_code == 401


def test_rate_limit_answers_429_with_retry_after(http_index, http_engine):
    limited_server = serve(http_index, http_engine, api_keys=("a", "b"), rate_per_minute=2)
    with limited_server as live, live.client("a") as a, live.client("b") as b:
        assert [a.get("/api/sources").status_code for _ in range(2)] == [200, 200]
        limited = a.get("/api/sources")
        assert limited.status_code == 429
        assert limited.json()["error"]["type"] == "rate_limit_error"
        assert 1 <= int(limited.headers["retry-after"]) <= 30
        assert b.get("/api/sources").status_code == 200  # per key
        assert a.get("/healthz").status_code == 200  # probes are not counted


def test_cors_is_off_unless_origins_are_configured(http_index, http_engine):
    origin = "https://portal.example.cn"
    cors_server = serve(http_index, http_engine, cors_origins=(origin,), api_keys=("k",))
    with cors_server as live, live.client() as client:
        preflight = client.options(
            "/api/ask",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == origin
        denied = client.post("/api/ask", json=ASK, headers={"Origin": origin})
        assert denied.status_code == 401  # readable by the page that asked
        assert denied.headers["access-control-allow-origin"] == origin
        other = client.get("/healthz", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_serve_refuses_to_listen_beyond_loopback_without_keys(tmp_path):
    proc = bot("serve", "--index", str(tmp_path), "--host", "0.0.0.0", env={"QABOT_API_KEYS": ""})
    assert_one_line_error(proc, "refusing to listen on 0.0.0.0 without API keys")


def test_serve_says_when_the_port_is_taken(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = bot("serve", "--index", str(tmp_path), "--port", str(port))
    assert_one_line_error(proc, f"cannot listen on 127.0.0.1:{port}")


def test_python_m_bot_serve_answers_and_stops_on_sigterm(http_index):
    port = free_port()
    env = {**os.environ, "QABOT_API_KEYS": "secret", "QABOT_RATE_LIMIT": "1000"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--index", str(http_index), "--host", "0.0.0.0"]
        + ["--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 120
        while True:
            try:
                if httpx.get(url + "/readyz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.2)
        answer = httpx.post(
            url + "/api/ask", json=ASK, headers={"Authorization": "Bearer secret"}, timeout=60
        )
        assert answer.status_code == 200 and answer.json()["results"]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail("serve did not stop within 30 s of SIGTERM")
    # uvicorn shuts down gracefully, then re-raises the signal (systemd reads that as clean)
    assert proc.returncode in (0, -signal.SIGTERM), err
    assert "API keys required" in err and "Traceback" not in err
