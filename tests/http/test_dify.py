"""Dify's External Knowledge API as Dify sends it (api/services/external_knowledge_service.py:
``{endpoint}/retrieval``, ``Authorization: Bearer <key>``, the body below) and as its spec
answers: ``{"records": [{content, score, title, metadata}]}``; errors ``{error_code,
error_msg}`` with 1001, 1002 and 2001."""

from __future__ import annotations

import json

import httpx

QUESTION = "通武廊在政务服务方面要全面实现什么？"


def dify_request(query: str = QUESTION, top_k: int = 3, threshold: float = 0.0, **more) -> dict:
    return {
        "retrieval_setting": {"top_k": top_k, "score_threshold": threshold},
        "query": query,
        "knowledge_id": "qabot",
        **more,
    }


def post(server, body, key: str | None = "key-one") -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    # as Dify sends it: the JSON serialised by hand, not by the client
    return httpx.post(server.url + "/retrieval", content=json.dumps(body), headers=headers)


def test_records_carry_the_excerpt_and_its_citation(keyed_server, http_engine):
    response = post(keyed_server, dify_request(top_k=2))
    assert response.status_code == 200, response.text
    records = response.json()["records"]
    assert len(records) == 2 and set(records[0]) == {"content", "score", "title", "metadata"}
    answer = http_engine.ask(QUESTION, top_k=2)
    for record, result in zip(records, answer.results, strict=True):
        assert record["content"] == result.excerpt and record["title"] == result.title
        assert 0.0 <= record["score"] <= 1.0
        meta = record["metadata"]
        assert meta["doc_id"] == result.doc_id and meta["date"] == result.date
        assert meta["source"] == result.source and meta["start"] == result.start
        assert f"《{result.title}》" in meta["citation"]
        assert None not in meta.values()
    assert "全面实现“一地受理、异地审批”" in records[0]["metadata"]["answer"]


def test_threshold_top_k_and_metadata_condition(keyed_server):
    everything = post(keyed_server, dify_request(top_k=5)).json()["records"]
    assert len(everything) == 5
    lowest = min(r["score"] for r in everything)
    above = post(keyed_server, dify_request(top_k=5, threshold=min(1.0, lowest + 1e-6))).json()
    assert len(above["records"]) < 5
    wanted = "tongwulang-pilot-agreement-2023.txt"
    condition = {
        "logical_operator": "and",
        "conditions": [{"name": ["doc_id"], "comparison_operator": "is", "value": wanted}],
    }
    only = post(keyed_server, dify_request(top_k=3, metadata_condition=condition)).json()
    assert only["records"] and {r["metadata"]["doc_id"] for r in only["records"]} == {wanted}
    older = {
        "conditions": [{"name": "date", "comparison_operator": "before", "value": "2021-01-01"}]
    }
    dated = post(keyed_server, dify_request(top_k=5, metadata_condition=older)).json()["records"]
    assert dated and all(r["metadata"]["date"] < "2021-01-01" for r in dated)


def test_error_codes_of_the_spec(keyed_server):
    missing = post(keyed_server, dify_request(), key=None)
    assert missing.status_code == 403 and missing.json()["error_code"] == 1001
    assert "Bearer" in missing.json()["error_msg"]
    wrong = post(keyed_server, dify_request(), key="nope")
    assert wrong.status_code == 403 and wrong.json() == {
        "error_code": 1002,
        "error_msg": "Authorization failed: unknown API key.",
    }
    unknown = post(keyed_server, dify_request(knowledge_id="another-kb"))
    assert unknown.status_code == 404 and unknown.json()["error_code"] == 2001
    bad = post(keyed_server, {"query": QUESTION})
    assert bad.status_code == 422 and set(bad.json()) == {"error_code", "error_msg"}


def test_difys_connection_check_passes(keyed_server):
    """Adding the API in Dify POSTs ``{endpoint}/retrieval`` with the key and no body, and
    fails on 404, 403 or 502 only."""
    good = httpx.post(keyed_server.url + "/retrieval", headers={"Authorization": "Bearer key-one"})
    assert good.status_code not in (403, 404, 502)
    bad = httpx.post(keyed_server.url + "/retrieval", headers={"Authorization": "Bearer x"})
    assert bad.status_code == 403


def test_off_topic_questions_get_no_records(keyed_server):
    off = post(keyed_server, dify_request(query="2022年卡塔尔世界杯冠军是谁？"))
    assert off.status_code == 200 and off.json() == {"records": []}
