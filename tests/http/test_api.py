"""``/api``: the same answers as ``ask --json``, sources, documents, feedback, bad requests."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.http.support import XSS_DOC
from tests.support import ROOT

QUESTIONS = [
    "通武廊在政务服务方面要全面实现什么？",
    "通武廊簽署了什麼協議？",  # traditional
    "What did Tongzhou, Wuqing and Langfang sign?",
    "2022年卡塔尔世界杯冠军是谁？",  # off-topic
]


def _ask_json_batch(index, folder, rows: list[dict]) -> list[dict]:
    """What ``python -m bot ask --json --batch`` prints for ``rows`` (one JSON line each)."""
    batch = folder / "questions.jsonl"
    batch.write_text(
        "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "ask", "--json", "--index", str(index)]
        + ["--batch", str(batch)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_ask_gives_exactly_what_ask_json_prints(server, http_index, tmp_path):
    printed = _ask_json_batch(
        http_index, tmp_path, [{"id": i, "question": q} for i, q in enumerate(QUESTIONS)]
    )
    with server.client() as client:
        for expected, question in zip(printed, QUESTIONS, strict=True):
            response = client.post("/api/ask", json={"question": question})
            assert response.status_code == 200, response.text
            got = response.json()
            assert isinstance(got["off_topic"], bool)
            assert got == {k: v for k, v in expected.items() if k != "id"}
        assert client.post("/api/ask", json={"question": QUESTIONS[3]}).json()["off_topic"] is True
        assert client.post("/api/ask", json={"question": QUESTIONS[0]}).json()["off_topic"] is False


def test_ask_top_k_and_filters(server):
    with server.client() as client:
        five = client.post("/api/ask", json={"question": "京津冀协同发展", "top_k": 5}).json()
        assert [r["rank"] for r in five["results"]] == [1, 2, 3, 4, 5]
        wanted = "tongwulang-pilot-agreement-2023.txt"
        only = client.post(
            "/api/ask",
            json={"question": "京津冀协同发展", "top_k": 2, "filters": {"doc_ids": [wanted]}},
        ).json()
        assert [r["doc_id"] for r in only["results"]] == [wanted, wanted]
        assert [r["rank"] for r in only["results"]] == [1, 2]
        dated = client.post(
            "/api/ask",
            json={
                "question": "京津冀协同发展",
                "top_k": 10,
                "filters": {"date_from": "2023-01-01"},
            },
        ).json()
        assert dated["results"] and all(r["date"] >= "2023-01-01" for r in dated["results"])


def test_sources_are_paged_and_filtered(server):
    with server.client() as client:
        everything = client.get("/api/sources").json()
        assert everything["total"] == 6 and len(everything["sources"]) == 6
        page = client.get("/api/sources", params={"offset": 2, "limit": 2}).json()
        assert page["sources"] == everything["sources"][2:4] and page["total"] == 6
        found = client.get("/api/sources", params={"q": "通武廊"}).json()
        assert [s["doc_id"] for s in found["sources"]] == ["tongwulang-pilot-agreement-2023.txt"]
        recent = client.get("/api/sources", params={"date_from": "2023-01-01"}).json()
        assert recent["total"] >= 1 and all(s["date"] >= "2023-01-01" for s in recent["sources"])
        assert client.get("/api/sources", params={"limit": 0}).status_code == 422


def test_a_document_holds_the_text_the_offsets_index(server):
    with server.client() as client:
        answer = client.post("/api/ask", json={"question": QUESTIONS[0]}).json()
        top = answer["results"][0]
        doc = client.get(f"/api/documents/{top['doc_id']}").json()
        assert doc["text"][top["start"] : top["end"]] == top["excerpt"]
        assert doc["title"] == top["title"] and doc["chars"] == len(doc["text"])
        assert set(doc) >= {"date", "source", "url", "doc_number", "issuer", "version"}
        missing = client.get("/api/documents/no-such-file.txt")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "unknown_document"


def test_feedback_is_stored_with_the_telegram_votes(server, http_index):
    from bot.index_update import state_dir
    from bot.telegram.sqlite_state import FILENAME, BotState

    question = "通武廊签署了什么协议？"
    with server.client() as client:
        top = client.post("/api/ask", json={"question": question}).json()["results"][0]
        vote = {
            "question": question,
            "doc_id": top["doc_id"],
            "start": top["start"],
            "end": top["end"],
        }
        assert client.post("/api/feedback", json={**vote, "vote": "down"}).json() == {
            "stored": True
        }
        assert client.post("/api/feedback", json={**vote, "vote": "down"}).status_code == 200
        bad = client.post("/api/feedback", json={**vote, "vote": "meh"})
        assert bad.status_code == 422
        gone = client.post("/api/feedback", json={**vote, "doc_id": "nope.txt", "vote": "up"})
        assert gone.status_code == 404
    state = BotState(state_dir(http_index) / FILENAME)  # a Telegram vote in the same file
    state.vote(
        "tg1", 42, 1, "京津冀协同发展的核心是什么", [{"doc_id": top["doc_id"], "title": "t"}], None
    )
    state.close()
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "feedback", "--json", "--index", str(http_index)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["votes"] == {"up": 1, "down": 1}  # the web vote counted once, replaced
    assert [q["question"] for q in summary["down_questions"]] == [question]


def test_health_and_readiness(server, http_engine):
    with server.client() as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz").json()
        assert ready["status"] == "ready" and ready["version"] == http_engine.version
        assert ready["documents"] == 6 and ready["chunks"] == http_engine.chunks
        assert "multilingual-e5-small" in ready["model"]
        assert client.get("/openapi.json").json()["paths"]["/api/ask"]
        docs = client.get("/docs").text  # the OpenAPI page, its files served here (offline)
        assert "cdn." not in docs and "/static-offline-docs/swagger-ui-bundle.js" in docs
        assert client.get("/static-offline-docs/swagger-ui-bundle.js").status_code == 200


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 422),
        ({"question": ""}, 422),
        ({"question": "。。。"}, 400),  # nothing to search: the engine's one line
        ({"question": "雄安", "top_k": 0}, 422),
        ({"question": "雄安", "top_k": 1000}, 422),
        ({"question": "雄安", "colour": "red"}, 422),
        ({"question": "问" * 1001}, 422),
        ({"question": ["雄安"]}, 422),
    ],
)
def test_bad_requests_get_one_json_line(server, body, status):
    with server.client() as client:
        response = client.post("/api/ask", json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "code"} and "\n" not in error["message"]
    assert "Traceback" not in response.text


def test_malformed_json_oversized_bodies_and_unknown_paths(server):
    with server.client() as client:
        broken = client.post(
            "/api/ask", content=b'{"question": ', headers={"content-type": "application/json"}
        )
        assert broken.status_code == 422 and "error" in broken.json()
        big = client.post("/api/ask", json={"question": "雄安", "pad": "x" * 70_000})
        assert big.status_code == 413 and big.json()["error"]["code"] == "body_too_large"

        def chunks():  # no Content-Length: counted while read
            for _ in range(80):
                yield b"x" * 1024

        streamed = client.post(
            "/api/ask", content=chunks(), headers={"content-type": "application/json"}
        )
        assert streamed.status_code == 413
        assert client.get("/api/nothing").status_code == 404
        wrong = client.get("/api/ask")
        assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "method_not_allowed"


def test_the_page_and_its_files_are_served_with_a_strict_policy(server):
    with server.client() as client:
        for path in ("/", "/sources", f"/documents/{XSS_DOC}", "/?q=雄安"):
            page = client.get(path)
            assert page.status_code == 200 and "<html" in page.text
            assert "script-src 'self'" in page.headers["content-security-policy"]
        for name in ("app.js", "style.css"):
            assert client.get(f"/static/{name}").status_code == 200
        assert (
            "access-control-allow-origin"
            not in client.get("/healthz", headers={"Origin": "http://x"}).headers
        )


def test_a_question_of_501_to_1000_characters_says_it_was_shortened(server, http_index, tmp_path):
    """The API takes questions up to 1,000 characters; the engine searches the first 500.
    Past 500, ``/api/ask`` says so as ``ask --json`` does (``truncated``, and ``question``
    is what was searched), and a chat reply (/v1) starts with the command line's note."""
    asked = ("通武廊在政务服务方面要全面实现什么？" * 60)[:1000]
    lengths = (500, 501, 777, 1000)
    printed = _ask_json_batch(http_index, tmp_path, [{"question": asked[:n]} for n in lengths])
    with server.client() as client:
        for n, expected in zip(lengths, printed, strict=True):
            got = client.post("/api/ask", json={"question": asked[:n]})
            assert got.status_code == 200, got.text
            data = got.json()
            assert data == {k: v for k, v in expected.items() if k != "id"}, n
            assert data["question"] == asked[:500]
            assert data.get("truncated") is (True if n > 500 else None), n
        chat = client.post(
            "/v1/chat/completions", json={"messages": [{"role": "user", "content": asked}]}
        ).json()
        content = chat["choices"][0]["message"]["content"]
        assert content.startswith("您的问题有 1000 个字，太长了，只按前 500 个字检索：「通武廊")
        assert chat["qabot"]["truncated"] is True and chat["qabot"]["question"] == asked[:500]
        short = client.post(
            "/v1/chat/completions", json={"messages": [{"role": "user", "content": asked[:500]}]}
        ).json()
        assert (
            "truncated" not in short["qabot"]
            and "太长了" not in short["choices"][0]["message"]["content"]
        )
