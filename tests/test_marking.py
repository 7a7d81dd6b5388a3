"""Which sentence is marked: the rules of retrieval/marking.py on small texts."""

from __future__ import annotations

from retrieval.marking import mark_sentences, off_topic, sentence_scores


def flat(_token: str) -> float:
    return 1.0


def common(token: str) -> float:
    """Function words are frequent, names and nouns rare."""
    return {"的": 0.1, "是": 0.1, "约": 0.5, "了": 0.1}.get(token, 3.0)


def marked(text: str, question: str, idf=common) -> list[str]:
    return [text[a:b] for a, b in mark_sentences(text, question, idf)]


def best(text: str, question: str, idf=common) -> str:
    (a, b), _score = max(sentence_scores(text, question, idf), key=lambda item: item[1])
    return text[a:b]


def test_a_word_found_everywhere_counts_less_than_one_found_once():
    text = "蓝线裸顶鲷是一种鱼。蓝线裸顶鲷分布于西太平洋。蓝线裸顶鲷夜间觅食。本鱼体长可达80公分。"
    assert best(text, "蓝线裸顶鲷的体长约是多少公分？") == "本鱼体长可达80公分。"


def test_a_when_question_prefers_a_sentence_with_a_date():
    text = "机场计划建成通航，各方全力推进。机场将于2019年9月底前建成通航。"
    assert best(text, "机场什么时候建成通航？") == "机场将于2019年9月底前建成通航。"
    assert best(text, "机场建成通航") == "机场计划建成通航，各方全力推进。"


def test_a_close_runner_up_is_marked_too_a_weak_one_is_not():
    text = "协议涉及养老服务。其他内容很多。另外协议涉及医疗服务。天气很好。"
    assert marked(text, "协议涉及哪些服务？") == ["协议涉及养老服务。", "另外协议涉及医疗服务。"]
    text = "协议涉及养老服务和医疗服务。其他内容很多。另外还有服务。"
    assert marked(text, "协议涉及哪些服务？") == ["协议涉及养老服务和医疗服务。"]


def test_a_sentence_ending_in_a_colon_brings_the_next_one():
    text = "前言。合作协议明确了三项任务：\n共建产业园区、共享政务服务、共治生态环境。\n后记。"
    assert marked(text, "合作协议明确了哪些任务？") == [
        "合作协议明确了三项任务：",
        "共建产业园区、共享政务服务、共治生态环境。",
    ]


def test_no_mark_without_a_common_word():
    assert marked("今天天气很好。", "通武廊签署了什么协议？") == []


def test_off_topic_is_judged_by_the_idf_mass_found():
    idf = {"世界杯": 9.0, "冠军": 9.0, "年": 0.5}.get
    passages = ["2022年京津冀协同发展取得新进展"]
    assert off_topic(["2022", "年", "世界杯", "冠军"], passages, lambda t: idf(t, 5.0))
    assert not off_topic(["京津冀", "协同"], passages, lambda t: idf(t, 5.0))
    assert not off_topic(["world", "cup"], passages, flat)  # no Chinese words: not judged
