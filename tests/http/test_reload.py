"""A new index version published while questions are answered: none fails, the server
switches by itself, and the new document is found afterwards."""

from __future__ import annotations

import shutil
import threading
import time

from tests.http.conftest import add_documents
from tests.http.support import serve

NEW_DOC = "reload-test.txt"
NEW_TEXT = "重载测试说明\n本文件规定了霓虹灯牌照的年检办法：每年三月完成年检。\n"


def test_a_new_version_is_picked_up_without_failing_a_request(http_index, embedder, tmp_path):
    from retrieval.engine import AnswerEngine

    index = tmp_path / "index"
    shutil.copytree(http_index, index)
    engine = AnswerEngine.open(index, embedder=embedder)
    before = engine.version
    statuses: list[int] = []
    stop = threading.Event()
    with serve(index, engine, refresh_seconds=0.2, rate_per_minute=100_000) as live:

        def hammer() -> None:
            with live.client() as client:
                while not stop.is_set():
                    response = client.post(
                        "/api/ask", json={"question": "京津冀协同发展的核心是什么"}
                    )
                    statuses.append(response.status_code)

        threads = [threading.Thread(target=hammer) for _ in range(3)]
        for thread in threads:
            thread.start()
        try:
            add_documents(index, tmp_path / "more", embedder, {NEW_DOC: ("重载测试文件", NEW_TEXT)})
            deadline = time.monotonic() + 30
            with live.client() as client:
                while client.get("/readyz").json()["version"] == before:
                    assert time.monotonic() < deadline, "the server never switched"
                    time.sleep(0.1)
                time.sleep(0.5)  # requests keep coming after the switch
                stop.set()
                found = client.post("/api/ask", json={"question": "霓虹灯牌照的年检办法"})
                assert found.status_code == 200, found.text
                found = found.json()
                assert found["results"][0]["doc_id"] == NEW_DOC
                # the new version holds the shipped corpus and the new document only
                assert client.get("/readyz").json()["documents"] == 6
        finally:
            stop.set()
            for thread in threads:
                thread.join(60)
    assert len(statuses) > 3 and set(statuses) == {200}, statuses
