"""Citations down to the article, through the real pipeline: the seed corpus and a synthetic
regulation ingested with the real model, asked, rendered by `ask`, the console, Telegram
(the real Application against the fake Bot API) and inline mode; and an index built before
chunker 2, upgraded."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot import answer_layout as layout
from bot import console_render
from bot.telegram import inline, render
from corpus.loading import load_corpus, shipped_corpus_dir
from retrieval.answer import Answer, Result
from tests.support import ROOT
from tests.support.corpora import law_sample_engine
from tests.support.fake_bot_api import FakeBotAPI, parse_html

REGULATION = ROOT / "tests" / "data" / "regulation"
REG_ID = "jjj-transit-regulation.txt"
REG_TITLE = "《京津冀交通一体化促进条例（示例）》（京津冀协同办发〔2024〕7号）"
REG_ISSUER = "京津冀协同发展示范区第一届人民代表大会常务委员会"
PLAN_ID = "beijing-jjj-work-plan-2019.txt"
PLAN_TASKS = "二、关于2019年工作要点的主要任务"
PENALTY = "运营单位未按规定进行车辆安全检查的，怎么处罚？"


def corpus() -> list:
    return load_corpus([shipped_corpus_dir(), REGULATION]).documents


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory, embedder) -> Path:
    from retrieval.backends.local.ingest import ingest

    folder = tmp_path_factory.mktemp("citations-index")
    ingest(folder, corpus(), embedder, progress=False, corpus=[str(REGULATION)])
    return folder


@pytest.fixture(scope="module")
def engine(index_dir, embedder):
    from retrieval.engine import AnswerEngine

    return AnswerEngine.open(index_dir, embedder=embedder)


@pytest.mark.parametrize(
    ("question", "section", "article"),
    [
        (PENALTY, "第四章 法律责任", "第十一条"),
        ("跨界道路竣工后多久完成交通标志统一设置？", "第二章 规划与建设 › 第二节 建设", "第七条"),
        ("专项规划征求意见的时间不少于多少天？", "第二章 规划与建设 › 第一节 规划", "第五条"),
        ("城际公交线路实行什么票制？", "第三章 运营与服务", "第八条"),
    ],
)
def test_regulation_answers_cite_chapter_and_article(engine, question, section, article) -> None:
    top = engine.ask(question).results[0]
    assert top.doc_id == REG_ID
    assert (top.section, top.article) == (section, article)
    assert top.doc_number == "京津冀协同办发〔2024〕7号" and top.issuer == REG_ISSUER
    start, _ = top.marks[0]
    assert top.excerpt[start:].startswith(article)  # the marked sentence is that article


def test_work_plan_answers_cite_the_heading_of_the_marked_sentence(engine) -> None:
    answer = engine.ask("2019年工作要点共安排了多少项具体任务？")
    top = answer.results[0]
    assert top.doc_id == PLAN_ID and "90项具体任务" in top.excerpt[slice(*top.marks[0])]
    assert (top.section, top.article, top.doc_number) == ("一、主要考虑", None, None)

    top = engine.ask("2019年北京要调整退出多少家一般制造业企业？").results[0]
    assert top.doc_id == PLAN_ID and "309家" in top.excerpt[slice(*top.marks[0])]
    assert top.section == f"{PLAN_TASKS} › 一是紧抓“牛鼻子”稳妥有序疏解北京非首都功能"


def test_json_contract_gains_the_fields_and_keeps_the_rest(engine) -> None:
    data = engine.ask(PENALTY, top_k=3).to_json()
    # note (issue 26) and off_topic (issue 29) follow the first three, additively
    assert list(data) == ["question", "confident", "results", "off_topic", "note"]
    for r in data["results"]:
        assert list(r)[:10] == [
            "rank",
            "doc_id",
            "title",
            "date",
            "source",
            "score",
            "excerpt",
            "start",
            "end",
            "marks",
        ]
        assert set(r) - set(list(r)[:10]) == {
            "section",
            "article",
            "doc_number",
            "issuer",
            "effective_date",
            "region",
            "superseded_by",
            "superseded_date",
        }
    top = data["results"][0]
    assert top["section"] == "第四章 法律责任" and top["article"] == "第十一条"
    assert top["doc_number"] == "京津冀协同办发〔2024〕7号"
    json.dumps(data, ensure_ascii=False)  # still plain JSON


def test_documents_without_structure_give_nulls(engine) -> None:
    answer = engine.ask("通武廊签署了什么协议？")
    top = answer.results[0]
    assert top.doc_id == "tongwulang-pilot-agreement-2023.txt"
    assert (top.section, top.article, top.doc_number, top.issuer) == (None, None, None, None)
    assert console_render.citation(top).startswith("《“通武廊”签署试点示范合作协议》 · 2023-05-31")


def test_ask_prints_the_article_in_its_citation_line(index_dir) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "ask", "--index", str(index_dir), "--top-k", "1", PENALTY],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    citation = next(line for line in lines if line.strip().startswith("— "))
    assert citation.strip().startswith(
        f"— {REG_TITLE} · 第四章 法律责任 › 第十一条 · 2024-03-12 · 测试用合成文件 · {REG_ISSUER}"
    )
    # the document id and character range follow the context, not the answer line
    located = next(i for i, line in enumerate(lines) if line.strip().startswith(f"（{REG_ID} 第"))
    assert located > lines.index(citation) + 1 and REG_ID not in citation


def test_telegram_and_inline_citations(engine) -> None:
    answer = engine.ask(PENALTY)
    messages = render.render_answer(answer)
    plain = parse_html(messages[0])
    assert f"{REG_TITLE} · 第四章 法律责任 › 第十一条 · 2024-03-12" in plain
    assert render.visible_len(messages[0]) <= render.FIRST_MESSAGE_CHARS
    article = next(a for a in inline.articles(answer) if a.title.startswith("京津冀交通"))
    assert "〔第四章 法律责任 › 第十一条〕第十一条" in article.description
    sent = parse_html(article.input_message_content.message_text)
    assert "第四章 法律责任 › 第十一条" in sent


def test_telegram_bot_replies_with_the_article(engine) -> None:
    """The real Application, polling the fake Bot API, answers with the cited article."""
    from tests.support.telegram import RunningBot

    api = FakeBotAPI().start()
    bot = RunningBot(api, engine).start()
    try:
        api.send_message(4242, PENALTY)
        (reply,) = api.wait_sent(4242)
        assert f"{REG_TITLE} · 第四章 法律责任 › 第十一条" in reply["_plain"]
        assert render.tg_len(reply["text"]) <= render.MESSAGE_LIMIT
    finally:
        bot.stop()
        api.stop()
    assert api.errors == []


# -- renderers on their own ----------------------------------------------------------------

LONG = (
    "第一编 总则 › 第二章 规划与建设的总体要求和实施 › 第一节 规划编制 › "
    "一、总体安排 › （一）专项规划的编制、征求意见与报批程序"
)


def made(section: str | None, article: str | None = None, doc_number: str | None = None):
    excerpt = "第十一条　运营单位未按照规定进行车辆安全检查的，处罚款。"
    return Result(
        1, "d", "条例", "2024-03-12", "来源", 1.0, excerpt, 0, len(excerpt), ((0, 10),),
        section, article, doc_number, "某某委员会",
    )  # fmt: skip


def test_long_heading_paths_are_shortened_sensibly() -> None:
    assert layout.short_section("二、重点任务 › （三）推动交通一体化") == (
        "二、重点任务 › （三）推动交通一体化"
    )
    short = layout.short_section(LONG, 40)
    assert len(short) <= 40
    assert short.startswith("第一编… › ") and "（一）专项规划" in short
    two = (
        "二、关于2019年工作要点的主要任务 › 四是推动生态、交通、产业、公共服务等关键环节取得新突破"
    )
    assert layout.short_section(two, 24) == "二、… › 四是推动生态、交通、产业、公共服务…"
    where = layout.where(made(LONG, "第十一条"), layout.WHERE_SHORT_CHARS)
    assert where.endswith(" › 第十一条") and len(where) <= layout.WHERE_SHORT_CHARS


def test_citations_in_every_renderer() -> None:
    r = made(LONG, "第十一条", "京政发〔2024〕3号")
    line = console_render.citation(r)
    assert line.startswith("《条例》（京政发〔2024〕3号） · 第一编")
    assert "› 第十一条 · 2024-03-12 · 来源 · 某某委员会 · d 第0–" in line
    block = parse_html(render.lead_block(r))
    assert (
        "《条例》（京政发〔2024〕3号） · 第一编… › … › " in block
        and "第十一条 · 2024-03-12" in block
    )
    compact = parse_html(render.compact_block(r))
    assert compact.endswith("› 第十一条 · 2024-03-12")
    limit = len("—— 《条例》（京政发〔2024〕3号） ·  · 2024-03-12") + layout.WHERE_SHORT_CHARS
    assert len(compact.split("\n")[-1]) <= limit
    context = parse_html(render.render_context(r, r.excerpt, (0, 10)))
    assert "第十一条 · 2024-03-12 · 来源" in context
    assert layout.where(made(None)) is None
    assert parse_html(render.compact_block(made(None))).endswith("—— 《条例》 · 2024-03-12")


def test_many_long_citations_keep_telegram_limits() -> None:
    results = [
        Result(
            i,
            f"d{i}",
            "很长的标题" * 8,
            "2024-03-12",
            "来源" * 10,
            1.0,
            "句子。" * 200,
            0,
            600,
            ((0, 3),),
            LONG * 2,
            "第一百二十三条",
            "京政办发〔2024〕123号",
            "机关" * 15,
        )  # fmt: skip
        for i in range(1, 11)
    ]
    messages = render.render_answer(Answer("问题", True, results))
    assert render.visible_len(messages[0]) <= render.FIRST_MESSAGE_CHARS
    assert all(render.tg_len(m) <= render.MESSAGE_LIMIT for m in messages)


# -- an index built before chunker 2 -----------------------------------------------------


def _make_old(folder: Path) -> None:
    """Turn a fresh index into what chunker 1 left: no citation columns, chunker "1"."""
    con = sqlite3.connect(folder / "store.sqlite")
    for table, column in (
        ("chunks", "section"),
        ("chunks", "article"),
        ("documents", "doc_number"),
        ("documents", "issuer"),
    ):
        con.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    con.commit()
    con.close()
    version = (folder / "CURRENT").read_text().strip()
    manifest = folder / "versions" / version / "manifest.json"
    data = json.loads(manifest.read_text())
    data["chunker_version"] = "1"
    manifest.write_text(json.dumps(data, ensure_ascii=False))


def test_index_from_before_chunker_2_answers_then_upgrades_without_reembedding(
    index_dir, embedder, tmp_path
) -> None:
    from retrieval.backends.local.ingest import ingest
    from retrieval.engine import AnswerEngine

    old = tmp_path / "old-index"
    shutil.copytree(index_dir, old)
    _make_old(old)

    before = AnswerEngine.open(old, embedder=embedder).ask(PENALTY)
    top = before.results[0]
    assert top.doc_id == REG_ID  # answers as before, without citation fields
    assert (top.section, top.article, top.doc_number) == (None, None, None)

    logged: list[str] = []
    result = ingest(old, corpus(), embedder, progress=False, log=logged.append)
    assert "full rebuild: chunker changed (1 → 2)" in logged
    assert result.embedded == 0  # vectors are cached by chunk text, which did not change
    con = sqlite3.connect(old / "store.sqlite")
    columns = {row[1] for row in con.execute("PRAGMA table_info(chunks)")}
    assert {"section", "article"} <= columns
    rows = con.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    assert rows == 2 * result.chunks  # the previous version's rows stay until it is pruned
    con.close()

    after = AnswerEngine.open(old, embedder=embedder).ask(PENALTY)
    top = after.results[0]
    assert (top.section, top.article) == ("第四章 法律责任", "第十一条")
    assert [r.excerpt for r in after.results] == [r.excerpt for r in before.results]


# -- the article of the answer sentence, and questions naming an article (issue 26) ------

LAW_FILES = (
    "地方性法规/浙江/浙江省消防条例(2021-11-25).md",
    "地方性法规/浙江/浙江省人口与计划生育条例(2021-11-25).md",
    "地方性法规/山东/山东省生活垃圾管理条例(2021-09-30).md",
    "法律/反垄断法(2007-08-30).md",
    "法律/反垄断法(2022-06-24).md",
)
ZJ_FIRE, ZJ_BIRTH, SD_WASTE, AML_2007, AML_2022 = LAW_FILES


@pytest.fixture(scope="module")
def law_engine(tmp_path_factory, embedder):
    """Five documents of the law sample (two versions of one law among them), ingested."""
    return law_sample_engine(tmp_path_factory, embedder, LAW_FILES)


def _answer_sentence(engine, result: Result, question: str) -> tuple[int, int]:
    from corpus.normalize import search_key
    from retrieval.query.marking import answer_mark

    key = search_key(question)
    idf = engine.index.idf
    return result.marks[answer_mark(result.excerpt, result.marks, key, idf, result.title)]


@pytest.mark.parametrize(
    ("question", "doc_id", "article"),
    [
        ("浙江省人口与计划生育条例规定生育二孩三孩的女方延长产假多少天？", ZJ_BIRTH, "第二十二条"),
        ("浙江省消防条例规定公民应当学习哪些常识？", ZJ_FIRE, "第五条"),
        ("山东省生活垃圾管理条例规定生活垃圾分为哪几类？", SD_WASTE, "第十六条"),
        ("反垄断法规定经营者集中达到什么标准应当事先申报？", AML_2022, "第二十六条"),
        ("经营者集中是指什么情形？", (AML_2007, AML_2022), None),  # either version
    ],
)
def test_the_article_is_where_the_answer_sentence_stands(
    law_engine, question, doc_id, article
) -> None:
    from corpus.structure import clause_at

    top = law_engine.ask(question).results[0]
    assert top.doc_id in (doc_id if isinstance(doc_id, tuple) else (doc_id,)) and top.marks
    text = law_engine.document(top.doc_id).text
    start, _ = _answer_sentence(law_engine, top, question)
    clause = clause_at(text, top.start + start)
    assert top.article == (clause.article if clause else None)
    if article is not None:
        assert top.article == article


def test_two_marks_in_two_articles_cite_the_one_holding_the_matched_words() -> None:
    from corpus.structure import positions
    from retrieval.backends.base import ChunkRow
    from retrieval.engine import _where
    from retrieval.query.marking import answer_mark
    from retrieval.query.search import Passage

    text = (
        "第二章 运营\n第三条 本市设立交通委员会，负责协调城际交通工作。\n"
        "第四条 运营单位应当每月进行一次车辆安全检查。\n"
    )
    third = (text.index("第三条"), text.index("\n第四条"))
    fourth = (text.index("第四条"), len(text) - 1)
    row = ChunkRow(1, 1, "d", 0, 0, len(text), "第二章 运营", None)  # as stored
    passage = Passage("d", 0, len(text), 1.0, 0.5, [row])
    question = "运营单位多久进行一次车辆安全检查？"
    lead = answer_mark(text, (third, fourth), question, lambda _w: 1.0)
    assert lead == 1  # the second mark holds the question's words
    where, _ = _where(text, passage, (third, fourth)[lead])
    assert (where.section, where.article) == ("第二章 运营", "第四条")
    assert _where(text, passage, third)[0].article == "第三条"  # the first mark's, before
    assert positions(text, [fourth[0]])[0] == where  # as a whole-document pass says


@pytest.mark.parametrize(
    ("question", "doc_id", "article", "section"),
    [
        ("《浙江省消防条例》第七条规定了什么？", ZJ_FIRE, "第七条", "第二章 消防职责"),
        ("浙江省消防条例第8条的内容是什么", ZJ_FIRE, "第八条", "第二章 消防职责"),
        ("《山东省生活垃圾管理条例》第十一条规定了什么？", SD_WASTE, "第十一条", None),
        # two versions of one law: the current one
        ("反垄断法第10条的内容是什么？", AML_2022, "第十条", "第一章 总则"),
        ("《中华人民共和国反垄断法》第二十五条是什么内容", AML_2022, "第二十五条", None),
        # a year naming the older version: that version's article
        ("2007年的反垄断法第十条规定了什么？", AML_2007, "第十条", None),
    ],
)
def test_a_named_article_comes_first_and_whole(
    law_engine, question, doc_id, article, section
) -> None:
    from corpus.structure import clause_at

    answer = law_engine.ask(question)
    top = answer.results[0]
    assert (top.doc_id, top.article) == (doc_id, article)
    if section is not None:
        assert top.section == section
    text = law_engine.document(doc_id).text
    assert top.excerpt == text[top.start : top.end] and top.excerpt.startswith(article)
    assert {clause_at(text, i).article for i in range(top.start, top.end)} == {article}
    after = text[top.end :].lstrip()
    assert not after or clause_at(text, len(text) - len(after)).article != article  # whole
    assert all(mark[1] <= len(top.excerpt) for mark in top.marks)
    assert all(  # nothing below repeats a part of it
        not (r.doc_id == doc_id and r.start < top.end and r.end > top.start)
        for r in answer.results[1:]
    )


def test_an_unnamed_article_is_read_from_the_top_document(law_engine) -> None:
    first = law_engine.ask("浙江省消防条例规定消防救援机构有哪些职责？").results[0]
    assert first.doc_id == ZJ_FIRE
    top = law_engine.ask("第九条规定了什么？").results[0]
    assert top.article == "第九条" and top.excerpt.startswith("第九条")


def test_a_named_article_respects_the_questions_filters(law_engine) -> None:
    """The named document is pinned only where the filters let it through: asked about
    浙江's 消防条例 under --region 山东, no result comes from 浙江."""
    from retrieval.filters import Filters

    answer = law_engine.ask("《浙江省消防条例》第七条规定了什么？", filters=Filters(region="山东"))
    assert answer.results and all(r.region == "山东" for r in answer.results)
    assert all(r.doc_id != ZJ_FIRE for r in answer.results)
