"""Issue 26: in a rule, the passage holding what the question asks for (an age, a number of
days) is shown first; confidence still judges the passage search ranked first, as it was
fitted on. The real model and index, on a small synthetic regulation (no real law)."""

from __future__ import annotations

import pytest

from corpus.loading import load_corpus
from retrieval.backends.local.ingest import ingest
from retrieval.engine import AnswerEngine

RIGHTS = (
    "本市适龄儿童依法享有平等接受义务教育的权利，各级人民政府应当保障适龄儿童入学接受义务教育。"
)
SCHOOL = "学校应当建立健全安全制度，加强校园周边环境治理，保障学生在校期间的人身安全和身心健康。"
TEACHERS = "教师应当遵守职业道德，关心爱护全体学生，尊重学生人格，不得歧视学生，不得体罚学生。"
NUMBERS = "三 四 五 六 七 八".split(), "十 十一 十二 十三 十四 十五".split()


@pytest.fixture(scope="module")
def engine(tmp_path_factory, embedder) -> AnswerEngine:
    articles = ["第一条 为了规范本市适龄儿童入学工作，保障适龄儿童接受义务教育的权利，制定本条例。"]
    articles.append(f"第二条 {RIGHTS}")
    articles += [f"第{n}条 {SCHOOL}" for n in NUMBERS[0]]
    articles.append("第九条 凡年满六周岁的儿童，其父母或者其他法定监护人应当送其入学。")
    articles += [f"第{n}条 {TEACHERS}" for n in NUMBERS[1]]
    library = tmp_path_factory.mktemp("typed-library")
    (library / "某市适龄儿童入学条例(2020-01-01).md").write_text(
        "# 某市适龄儿童入学条例\n\n2020年1月1日 某市人民代表大会常务委员会第十次会议通过\n\n"
        "<!-- INFO END -->\n\n## 第一章 总则\n\n" + "\n\n".join(articles) + "\n",
        "utf-8",
    )
    folder = tmp_path_factory.mktemp("typed-index")
    ingest(folder, load_corpus([library]).documents, embedder, progress=False)
    return AnswerEngine.open(folder, embedder=embedder)


def test_the_article_stating_the_age_asked_for_comes_first(engine, monkeypatch) -> None:
    question = "某市适龄儿童入学条例规定儿童年满多少岁应当入学？"
    answer = engine.ask(question, top_k=1)
    assert answer.results[0].article == "第九条"
    assert "六周岁" in answer.results[0].excerpt
    # search alone ranks the passage on rights first; confidence reads that one either way
    monkeypatch.setattr("retrieval.engine.typed_first", lambda passages, _lacks, _metas: passages)
    searched = engine.ask(question, top_k=1)
    assert searched.results[0].article != "第九条"
    assert searched.probability == answer.probability
    assert searched.features == answer.features
