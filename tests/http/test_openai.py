"""The OpenAI-compatible chat, through the official ``openai`` client, streaming and not."""

from __future__ import annotations

import httpx
import openai
import pytest

from bot.http.markdown import escape, render

QUESTION = "通武廊在政务服务方面要全面实现什么？"


@pytest.fixture()
def client(keyed_server):
    return openai.OpenAI(base_url=keyed_server.url + "/v1", api_key="key-one", max_retries=0)


def test_models_and_a_whole_reply(client, http_engine):
    assert [m.id for m in client.models.list()] == ["qabot"]
    reply = client.chat.completions.create(
        model="qabot",
        messages=[{"role": "system", "content": "x"}, {"role": "user", "content": QUESTION}],
    )
    content = reply.choices[0].message.content
    assert reply.choices[0].finish_reason == "stop"
    assert content == render(http_engine.ask(QUESTION, top_k=3))
    first = content.split("\n\n")[0]
    assert first.startswith("**") and "全面实现“一地受理、异地审批”" in first  # answer first
    assert "—— 《“通武廊”签署试点示范合作协议》" in content
    extra = reply.model_extra["qabot"]
    assert extra["confident"] is True and extra["off_topic"] is False
    assert extra["results"][0]["doc_id"] == "tongwulang-pilot-agreement-2023.txt"


def test_streamed_reply_is_the_same_text(client):
    whole = client.chat.completions.create(
        model="qabot", messages=[{"role": "user", "content": QUESTION}]
    )
    stream = client.chat.completions.create(
        model="qabot", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == whole.choices[0].message.content
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].model_extra["qabot"]["results"]


def test_the_stream_ends_with_done(keyed_server):
    body = {"model": "qabot", "stream": True, "messages": [{"role": "user", "content": "雄安新区"}]}
    with httpx.stream(
        "POST",
        keyed_server.url + "/v1/chat/completions",
        json=body,
        headers={"Authorization": "Bearer key-one"},
        timeout=60,
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines) and lines[-1] == "data: [DONE]"


def test_content_parts_off_topic_and_no_question(client):
    parts = [{"type": "text", "text": "2022年卡塔尔世界杯冠军是谁？"}]
    off = client.chat.completions.create(
        model="qabot", messages=[{"role": "user", "content": parts}]
    )
    assert "没有与" in off.choices[0].message.content and off.model_extra["qabot"]["off_topic"]
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="qabot", messages=[{"role": "assistant", "content": "hi"}]
        )
    assert caught.value.body["code"] == "no_question"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=client.base_url, api_key="wrong", max_retries=0).models.list()


def test_markdown_shows_document_text_as_text():
    assert escape("<script>x</script> *a* [l](u)") == r"\<script\>x\</script\> \*a\* \[l\](u)"
    assert escape("# 标题\n1. 第一\n- 项") == "\\# 标题\n1\\. 第一\n\\- 项"


ELSEWHERE = "天津市城市更新条例对旧区改造有什么规定"  # asks Tianjin; only Shanghai's versions
PRINCIPLE = "上海市旧区改造应当坚持什么原则"
OLD_LABEL = "旧版（2016）· 已被 2022-05-25 版取代"


def test_markdown_shows_the_note_and_an_older_version(versions_server, versions_engine):
    """Issue 26: the answer's note above the results, and an older version's line under its
    citation, as the console and Telegram show them."""
    chat = openai.OpenAI(base_url=versions_server.url + "/v1", api_key="x", max_retries=0)
    for question in (ELSEWHERE, PRINCIPLE):
        reply = chat.chat.completions.create(
            model="qabot", messages=[{"role": "user", "content": question}]
        )
        content = reply.choices[0].message.content
        answer = versions_engine.ask(question, top_k=3)
        assert content == render(answer)
        old = [r for r in answer.results if r.superseded_by]
        assert old and old[0].doc_id == "renewal-2016.txt"
        assert content.count(f"**{OLD_LABEL}**") == 1  # under the 2016 version's citation
        cited = content.index("《上海市城市更新条例》")
        assert cited < content.index(OLD_LABEL) < cited + 120
        extra = reply.model_extra["qabot"]
        assert extra["note"] == answer.note
    note = versions_engine.ask(ELSEWHERE, top_k=3).note
    assert note == "收录的文件中没有天津市的相关规定；以下是上海市的规定"
    first = render(versions_engine.ask(ELSEWHERE, top_k=3)).split("\n\n")[0]
    assert first == f"**注意：{note}**"  # above everything else
    assert versions_engine.ask(PRINCIPLE, top_k=3).note is None
    assert "注意：" not in render(versions_engine.ask(PRINCIPLE, top_k=3))
