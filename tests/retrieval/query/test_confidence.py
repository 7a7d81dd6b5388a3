"""The calibrated confidence model: the shipped coefficients, and the policy on the seed index."""

from __future__ import annotations

import importlib.util
import json

import pytest

from corpus.normalize import search_key
from retrieval.evaluation import evaluate, read_queries
from retrieval.query.confidence import (
    FEATURES,
    SHIPPED,
    AbstentionPolicy,
    ConfidenceModel,
    ConfidenceModelError,
    answer_features,
    content_words,
    library_features,
    load_model,
    topic_uncovered,
)
from tests.support import DATA, ROOT
from tests.support.cli import assert_one_line_error, bot

SEED_FILES = ("seed_questions.jsonl", "seed_questions_heldout.jsonl")
HARD_FILES = ("seed_unanswerable.jsonl", "seed_unanswerable_heldout.jsonl")
ENGLISH_FILES = ("seed_english.jsonl", "seed_english_heldout.jsonl")


def test_shipped_model_loads_and_says_what_it_was_fitted_on():
    model = load_model(SHIPPED)
    assert model.features == FEATURES
    assert 0 < model.threshold < 1
    fitted = model.notes["fitted_on"]
    assert fitted["questions"] >= 2000 and fitted["heldout_questions"] >= 1000
    assert "calibrate" in model.notes["refit"]
    strong = {name: 1.0 for name in FEATURES} | {"missing_rare": 0.0, "dense_top": 0.9}
    weak = {name: 0.0 for name in FEATURES} | {"missing_rare": 1.0, "dense_top": 0.8}
    assert model.probability(strong) > model.threshold > model.probability(weak)


def _shipped() -> dict:
    return json.loads(SHIPPED.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda d: d.pop("weights"), "'weights' must be a list"),
        (lambda d: d.update(weights=d["weights"][:-1]), "'weights' must be a list"),
        (lambda d: d.update(bias="high"), "'bias' holds 'high'"),
        (lambda d: d.update(threshold=1.5), "'threshold' must lie between 0 and 1"),
        (lambda d: d.update(features=["coverage", "shoe_size"] + d["features"][2:]), "features"),
        (lambda d: d.update(format="something-else"), "format is 'something-else'"),
        (lambda d: d["scale"].__setitem__(0, 0), "'scale' values must be positive"),
    ],
)
def test_malformed_model_is_refused_with_one_line(tmp_path, change, fragment):
    data = _shipped()
    change(data)
    path = tmp_path / "model.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ConfidenceModelError) as err:
        load_model(path)
    message = str(err.value)
    assert fragment in message and str(path) in message and "\n" not in message


def test_unreadable_or_non_json_model_is_refused(tmp_path):
    with pytest.raises(ConfidenceModelError, match="cannot read confidence model"):
        load_model(tmp_path / "missing.json")
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfidenceModelError, match="not JSON"):
        load_model(tmp_path / "broken.json")


def test_a_malformed_model_named_in_the_environment_stops_the_cli_with_one_line(
    tmp_path, seed_index
):
    bad = tmp_path / "model.json"
    bad.write_text('{"format": "qabot-confidence/1", "features": []}', encoding="utf-8")
    proc = bot(
        "ask", "--index", str(seed_index), "京津冀", env={"QABOT_CONFIDENCE_MODEL": str(bad)}
    )
    assert_one_line_error(proc, "'features' must be a non-empty list")


def test_a_refitted_model_in_the_environment_is_used(tmp_path, seed_index):
    data = _shipped() | {"threshold": 0.999999}  # nothing is confident any more
    path = tmp_path / "strict.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    proc = bot(
        "ask",
        "--json",
        "--index",
        str(seed_index),
        "通武廊签署了什么协议？",
        env={"QABOT_CONFIDENCE_MODEL": str(path)},
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["confident"] is False


def test_answer_carries_probability_and_features(seed_engine):
    answer = seed_engine.ask("通武廊签署了什么协议？")
    assert set(answer.features) == set(FEATURES)
    assert answer.confident and seed_engine.policy.model.threshold <= answer.probability <= 1


def _rates(engine, files: tuple[str, ...]):
    queries = [q for name in files for q in read_queries(DATA / name)]
    return evaluate(engine, queries)


def test_answerable_seed_questions_are_confident(seed_engine):
    """Both seed files (calibration and held-out). The issue's band is 0.90; the model
    reaches 0.897 (87 of 97; the first model 0.80, the old coverage rule 0.67) and 14 of the
    18 unanswerable ones are not confident. History: 81 and 15 of 18 after the fifth round,
    80 and 15 after issue 29 (h033, confident only through "the"/"of"); the sixth round's
    refit (issue 26: law-library rows and features, English off-topic rows) gave 84 and 14
    (s067, 京津冀's 2025年 GDP target, its year absent from the passage, passed at p 0.64);
    the seventh (``named_missing``, ``named_uncovered``, generated law rows, every family
    weighing 1) 87 and 14. These bars guard the measured figures (docs/quality.md)."""
    report = _rates(seed_engine, SEED_FILES)
    assert report.answerable >= 95 and report.unanswerable >= 18
    assert report.answerable_confident >= 0.89
    assert report.unanswerable_not_confident >= 0.77


def test_hard_unanswerable_seed_questions_are_not_confident(seed_engine):
    """Questions about the seed corpus's own subjects asking for a detail no document states.
    Below the issue's 0.95: 28 of 41 are not confident (the first model 19, the models of
    issues 14–29 29; the old rule about 0.8, at the price of a third of the answerable
    questions). ``type_missing`` catches those
    whose asked-for number, date, place or office holder is not in the best sentences; a
    question like "how many of 天津's 130 points concern 河北" finds a number; see
    docs/quality.md."""
    report = _rates(seed_engine, HARD_FILES)
    assert report.unanswerable >= 40 and report.answerable == 0
    assert report.unanswerable_not_confident >= 0.68


def test_policy_threshold_decides(seed_engine):
    model = seed_engine.policy.model
    looser = AbstentionPolicy(ConfidenceModel(**{**model.__dict__, "threshold": 0.01}))
    assert looser.confident(0.02) and not AbstentionPolicy(model).confident(0.0)


def _missing(question: str, passage: str) -> dict[str, float]:
    words = {w: 1.0 for w in ("同仁医院", "床位", "会议", "天津", "联合会", "会长", "协议")}
    return answer_features(question, passage, words)


@pytest.mark.parametrize(
    ("question", "passage", "type_missing"),
    [
        # an amount with the unit the question names, near the question's words
        ("同仁医院亦庄院区二期建成后新增多少张床位?", "推进同仁医院亦庄院区二期建设。", 1.0),
        ("同仁医院亦庄院区二期建成后新增多少张床位?", "同仁医院二期新增床位500张。", 0.0),
        ("同仁医院新增多少张床位?", "同仁医院调整退出企业309家。", 1.0),  # a number, wrong unit
        # a unit as a text writes it (issue 26): 几天 → 七日, 多少岁 → 18周岁, 多少名 → 25人
        ("协议规定会长任期几天?", "会长任期七日。", 0.0),
        ("协议规定会长年龄要求是多少歲以上?", "会长应当年满18周岁以上。", 0.0),
        ("联合会有多少名会长?", "联合会设会长二十五人。", 0.0),
        ("志愿者每年至少服务多少小时?", "志愿者每年服务不少于20小时。", 0.0),
        ("志愿者每年至少服务多少小时?", "志愿者应当服务3年。", 1.0),
        # a share: a percentage, a fraction or 成, not any number
        ("会议代表的比例是多少?", "会议代表中天津占30%。", 0.0),
        ("会议代表的比例是多少?", "会议代表共50人。", 1.0),
        ("协议的费率是百分之几?", "协议费率为百分之二。", 0.0),
        # a place: a province-level name counts, the question's own places do not
        ("京津冀政协主席联席会议第六次会议在哪里召开?", "第六次会议在天津召开。", 0.0),
        ("天津的联席会议在哪里召开?", "天津联席会议召开。", 1.0),
        # a date, and a span of years (几年) that a year such as 2020年 does not answer
        ("协议是什么时候签署的?", "协议于2023年5月29日签署。", 0.0),
        ("协议是什么时候签署的?", "协议签署。", 1.0),
        ("协议的有效期是几年?", "2020年签署协议。", 1.0),
        ("协议的有效期是几年?", "协议有效期5年。", 0.0),
        # the holder of a role: the role must be there
        ("河北省智慧城市联合会的首任会长是谁?", "河北省智慧城市联合会在石家庄成立。", 1.0),
        ("河北省智慧城市联合会的首任会长是谁?", "联合会会长张三致辞。", 0.0),
        # 在哪 followed by a time or a kind asks no place: a place does not answer it
        ("协议是在哪一天签署的?", "协议在天津签署。", 1.0),
        ("协议是在哪一天签署的?", "协议于2023年5月29日签署。", 0.0),
        ("会议在哪几天召开?", "会议在天津召开。", 1.0),
        ("联合会在哪一种会议上成立?", "联合会在天津成立。", 0.0),  # no type asked
        ("联合会在哪召开会议?", "联合会会议召开。", 1.0),
        # a rule states a time from an event (自…之日起); its last article's date answers only
        # a question about when it took effect
        ("记分周期从什么时候开始计算?", "记分周期自初次领取驾驶证之日起计算。", 0.0),
        ("每年哪一天是志愿者日?", "第四十五条 本条例自2022年1月1日起施行。", 1.0),
        ("每年哪一天是志愿者日?", "2001年8月18日通过的《青年志愿服务规定》同时废止。", 1.0),
        ("每年哪一天是志愿者日?", "每年3月5日为志愿者日。本条例自2022年1月1日起施行。", 0.0),
        ("本条例什么时候起施行?", "第四十五条 本条例自2022年1月1日起施行。", 0.0),
        # a penalty's amount answers a question about a penalty, not about a price
        ("天然气的价格是每立方米多少元?", "对居民用户处两百元以上一千元以下罚款。", 1.0),
        ("天然气的价格是每立方米多少元?", "居民用气价格为每立方米2.5元。", 0.0),
        ("拒绝安全检查的居民用户罚款多少元?", "对居民用户处两百元以上一千元以下罚款。", 0.0),
        # 哪几种 asks which ones, not how many
        ("驾驶证的有效期分为哪几种?", "驾驶证有效期分为六年、十年和长期。", 0.0),
        # no asked-for type: nothing to miss
        ("通武廊签署了什么协议?", "通武廊签署试点示范合作协议。", 0.0),
    ],
)
def test_type_missing_reads_the_answer(question, passage, type_missing):
    assert _missing(question, passage)["type_missing"] == type_missing


def test_named_missing_joins_the_named_rule_and_the_missing_figure():
    # issue 26: 浙江省志愿服务条例 asked for 多少小时, a figure that rule never gives
    def named_missing(named: bool, place: bool, type_missing: float) -> float:
        return library_features(named, place, False, type_missing, uncovered=0.0)["named_missing"]

    assert named_missing(True, True, type_missing=1.0) == 1.0
    assert named_missing(False, True, type_missing=1.0) == 1.0
    assert named_missing(True, False, type_missing=0.0) == 0.0
    assert named_missing(False, False, type_missing=1.0) == 0.0


def test_named_uncovered_is_what_the_question_asks_beyond_the_rules_name():
    weights = {"山东": 2.0, "物业管理": 3.0, "条例": 1.0, "无人机": 8.0, "飞行": 4.0, "业主": 3.0}

    def idf(word: str) -> float:
        return weights.get(word, 1.0)

    title = search_key("山东省物业管理条例")
    passage = search_key("业主大会应当依照本条例规定在首次会议召开之日起三十日内备案。")
    absurd = search_key("山东省物业管理条例对无人机飞行有什么规定？")
    asked = search_key("山东省物业管理条例对业主有什么规定？")
    # 无人机 and 飞行 are not there (规定 is: the share of IDF missing is 12 of 13)
    assert topic_uncovered(absurd, title, passage, idf) == 12 / 13
    assert topic_uncovered(asked, title, passage, idf) == 0.0
    assert topic_uncovered(search_key("山东省物业管理条例"), title, passage, idf) == 0.0
    english = search_key("In Shandong, what does the property regulation say about owners?")
    assert topic_uncovered(english, title, passage, idf) == 0.0  # no Chinese word to look for
    found = library_features(True, False, False, type_missing=0.0, uncovered=1.0)
    assert found["named_uncovered"] == 1.0
    assert library_features(False, False, False, 0.0, uncovered=1.0)["named_uncovered"] == 0.0


def test_numbers_missing_counts_the_questions_numbers_the_passage_lacks():
    question = "京津冀政协主席联席会议第一次会议是在2015年召开的吗?"
    assert _missing(question, "第六次会议2020年在天津召开。")["numbers_missing"] == 1.0
    assert _missing(question, "2015年启动第一次联席会议。")["numbers_missing"] == 0.0
    assert _missing("通武廊签署了什么协议?", "协议。")["numbers_missing"] == 0.0


def test_english_questions_ranked_right_can_be_confident(seed_engine):
    """English questions about the seed corpus (both files): the dense model ranks few of
    them right, and a right one used to be never confident (0 of 3). Since issue 26's refits
    (English off-topic and law-library English rows in the fit) 13 of 18 answerable ones are
    confident, and 1 of the 11 unanswerable (eu009, on grain tonnes) is."""
    queries = [q for name in ENGLISH_FILES for q in read_queries(DATA / name)]
    assert len(queries) >= 20 and sum(q.doc_id is None for q in queries) >= 10
    answers = {q.qid: seed_engine.ask(q.question, top_k=1) for q in queries}
    right = [q.qid for q in queries if q.doc_id and answers[q.qid].results[0].doc_id == q.doc_id]
    unanswerable = [q.qid for q in queries if q.doc_id is None]
    assert right, "the dense model should rank some English questions right"
    assert sum(answers[q.qid].confident for q in queries if q.doc_id) >= 13
    assert sum(answers[qid].confident for qid in unanswerable) <= 1


def _answer_removed_module():
    path = ROOT / "benchmarks" / "quality" / "answer_removed.py"
    spec = importlib.util.spec_from_file_location("answer_removed", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_answer_removed_corpus_cuts_every_answer_sentence(tmp_path):
    """The hard-unanswerable benchmark corpus: each sentence holding an answer goes (wherever
    the answer string recurs), the rest of the passage stays; a passage left empty goes with
    its questions, and so does a question without answers."""
    source = tmp_path / "set"
    source.mkdir()
    docs = [
        {
            "doc_id": "d1",
            "title": "t",
            "text": "通州位于北京东部。面积906平方公里。906这个数再提一次。人口众多。",
        },
        {"doc_id": "d2", "title": "u", "text": "只有一句答案在此。"},
    ]
    queries = [
        {
            "qid": "q1",
            "question": "通州面积多大?",
            "answers": ["906平方公里"],
            "doc_id": "d1",
            "answer_start": 9,
        },
        {"qid": "q2", "question": "906出现几次?", "answers": ["906"], "doc_id": "d1"},
        {"qid": "q3", "question": "答案在哪?", "answers": ["答案"], "doc_id": "d2"},
        {"qid": "q4", "question": "无答案?", "answers": [], "doc_id": "d1"},
    ]
    for name, rows in (("corpus", docs), ("queries", queries)):
        lines = [json.dumps(r, ensure_ascii=False) + "\n" for r in rows]
        (source / f"{name}.jsonl").write_text("".join(lines), encoding="utf-8")
    summary = _answer_removed_module().build(source, tmp_path / "out")
    corpus = [json.loads(line) for line in (tmp_path / "out" / "corpus.jsonl").open()]
    kept = [json.loads(line)["qid"] for line in (tmp_path / "out" / "queries.jsonl").open()]
    assert [d["text"] for d in corpus] == ["通州位于北京东部。人口众多。"]
    assert kept == ["q1", "q2"]
    assert "1 of 2 passages left, 3 of 5 sentences removed; 2 of 4 questions kept" in summary
    module = _answer_removed_module()
    text = "人口2100万，面积16410平方公里。通州在东部。"
    span = [(text.index("16410"), text.index("。"))]
    assert module.cut_sentences(text, span)[0] == "通州在东部。"
    assert module.cut_sentences(text, span, module.UNITS["clause"]) == (
        "人口2100万，通州在东部。",
        1,
        3,
    )


def _benchmark(name: str):
    path = ROOT / "experiments" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reader_signal_scores_the_answer_sentence_and_drops_without_it(seed_engine):
    """The sentence-level reader signal that was measured for confidence (round four, not
    shipped; experiments/reader_signal.py): with the real model, the question's best sentence by
    meaning is the one that answers it, and the best cosine falls when that sentence is cut
    from the passage (as in the answer-removed sets), if only a little (0.907 to 0.905: the
    next sentence on the same subject scores nearly as well, which is why it did not ship)."""
    reader = _benchmark("reader_signal")
    question = "通武廊在政务服务方面要全面实现什么？"
    excerpt = seed_engine.ask(question, top_k=1).results[0].excerpt
    found = reader.sentences(excerpt)
    answer = next(i for i, s in enumerate(found) if "一地受理、异地审批" in s)
    key = search_key(question)
    idf = seed_engine.index.idf
    words = [sum(idf(w) for w in set(content_words(key)) if w in search_key(s)) for s in found]
    q = seed_engine.embedder.encode_queries([key])[0]
    vectors = seed_engine.embedder.encode_sentences(found)
    full = reader.reader_features(q, vectors, words)
    rest = [i for i in range(len(found)) if i != answer]
    cut = reader.reader_features(q, vectors[rest], [words[i] for i in rest])
    assert full["s_max"] == pytest.approx(float(vectors[answer] @ q))
    assert full["s_same"] == 1.0 and full["s_top3"] == full["s_max"]
    assert cut["s_max"] < full["s_max"]
    assert reader.reader_features(q, vectors[:0], []) == dict.fromkeys(reader.READER, 0.0)
