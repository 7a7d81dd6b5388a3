"""Which sentence is marked: the rules of retrieval/marking.py on small texts."""

from __future__ import annotations

from retrieval.query.marking import (
    CLAUSE_WINDOW,
    LONG_SENTENCE,
    mark_sentences,
    off_topic,
    sentence_scores,
)


def flat(_token: str) -> float:
    return 1.0


def common(token: str) -> float:
    """Function words are frequent, names and nouns rare."""
    return {"的": 0.1, "是": 0.1, "约": 0.5, "了": 0.1}.get(token, 3.0)


def marked(text: str, question: str, idf=common, title: str = "") -> list[str]:
    return [text[a:b] for a, b in mark_sentences(text, question, idf, title)]


def best(text: str, question: str, idf=common, title: str = "") -> str:
    scores = sentence_scores(text, question, idf, title)
    (a, b), _score = max(scores, key=lambda item: item[1])
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


def test_near_identical_questions_get_the_same_off_topic_decision():
    # issue 29: 红烧肉怎么做 reached the passages through 做 alone (0.33 of its IDF mass) and
    # showed two passages; 红烧肉怎么做才好吃 did not (0.2). One-character words say how,
    # not what: both are judged by the longer words, and both are off-topic.
    idf = {"红烧肉": 5.0, "做": 2.5, "才": 2.0, "好吃": 5.0}.get
    passages = ["要做好京津冀协同发展这篇大文章"]
    assert off_topic(["红烧肉", "做"], passages, lambda t: idf(t, 5.0))
    assert off_topic(["红烧肉", "做", "才", "好吃"], passages, lambda t: idf(t, 5.0))
    # a question of one-character words only is still judged by them
    assert not off_topic(["做", "吃"], passages, lambda t: idf(t, 5.0))


def test_a_chinese_questions_latin_words_count_for_off_topic():
    # 64DD is what the question is about; only 优点 is missing from the passage
    idf = {"64dd": 4.7, "有": 0.8, "优点": 5.8}.get
    passages = ["64dd克服了n64容量不足的问题，也提供cd-rom所没有的读写功能。"]
    assert not off_topic(["64dd", "有", "优点"], passages, lambda t: idf(t, 5.0))
    assert off_topic(["64dd", "有", "优点"], ["收录的文件里有京津冀的规划"], lambda t: idf(t, 5.0))


def test_words_of_the_title_count_less_than_what_is_asked():
    # The subject's name (cut by jieba into three rare pieces) opens the passage; the
    # sentence that answers names only the asked-for attribute.
    text = "蓝线裸顶鲷，俗名龙尖，为鲈形目龙占鱼科的一个种。本鱼体长可达80公分。"
    question = "蓝线裸顶鲷的体长约是多少公分？"
    assert best(text, question, flat) == "蓝线裸顶鲷，俗名龙尖，为鲈形目龙占鱼科的一个种。"
    assert best(text, question, flat, title="蓝线裸顶鲷") == "本鱼体长可达80公分。"


def test_question_words_themselves_do_not_match():
    text = "什么样的协议都要公开。通武廊签署了合作协议。"
    assert best(text, "签署了什么样的协议？", flat) == "通武廊签署了合作协议。"


def test_a_where_question_prefers_a_sentence_with_a_place():
    text = "美庐别墅始建于1903年，由西伊勋爵建造。美庐别墅位于江西省庐山牯岭东谷河西路。"
    assert best(text, "美庐别墅在哪里？", flat) == "美庐别墅位于江西省庐山牯岭东谷河西路。"
    assert best(text, "美庐别墅", flat) == "美庐别墅始建于1903年，由西伊勋爵建造。"


def test_a_when_questions_phrase_does_not_match_as_a_word():
    # jieba cuts 什么时候 into 什么 + 时候; 时候 must not pull the mark to "…的时候…"
    text = "红袜队比赛的时候用这首歌入场。这首歌于2004年在日本发行。"
    assert best(text, "这首歌是什么时候发行的？", flat) == "这首歌于2004年在日本发行。"


def test_a_where_question_prefers_the_sentence_that_says_where():
    # both sentences share the question's words and name a place (区, 路); the second
    # says where the building is
    text = "大楼由英国人于东城区建造，多次扩建。大楼位于河西路180号，多次扩建。"
    assert best(text, "大楼在哪里？", flat) == "大楼位于河西路180号，多次扩建。"
    # not a where question: the tie goes to the first sentence
    assert best(text, "大楼多次扩建", flat) == "大楼由英国人于东城区建造，多次扩建。"


def test_a_definition_question_prefers_the_sentence_that_opens_with_the_term():
    text = "魏晋以后以夫姓称呼已婚女性，与冠夫姓的习俗不同。冠夫姓指女性婚后改用丈夫的姓氏。"
    assert best(text, "什么是冠夫姓？", flat) == "冠夫姓指女性婚后改用丈夫的姓氏。"
    assert best(text, "冠夫姓是什么？", flat) == "冠夫姓指女性婚后改用丈夫的姓氏。"


def test_a_neighbour_at_half_the_score_is_marked_a_far_one_is_not():
    # The answer spans two sentences: the second continues the first with fewer shared words.
    text = "京津冀签署协议共建产业园区。协议还涉及园区的医疗服务。天气很好。今天有雨。"
    assert marked(text, "京津冀签署协议共建哪些园区服务？", flat) == [
        "京津冀签署协议共建产业园区。",
        "协议还涉及园区的医疗服务。",
    ]
    text = "京津冀签署协议共建产业园区。天气很好。今天有雨。协议还涉及园区的医疗服务。"
    assert marked(text, "京津冀签署协议共建哪些园区服务？", flat) == [
        "京津冀签署协议共建产业园区。"
    ]


def test_a_very_long_sentence_is_cut_to_its_best_clauses_within_the_excerpt():
    filler = "，".join(f"第{i}项工作按计划推进" for i in range(1, 16))
    text = f"前言。{filler}，雄安新区医疗卫生机构对口帮扶5所，{filler}。后记。"
    assert len(text) > LONG_SENTENCE
    marks = mark_sentences(text, "雄安新区医疗卫生方面有什么帮扶安排？", common)
    assert len(marks) == 1
    ((a, b),) = marks
    assert b - a <= CLAUSE_WINDOW
    assert "雄安新区医疗卫生机构对口帮扶5所" in text[a:b]
    assert not text[a:b].endswith("，")


def test_a_why_answer_that_the_best_sentence_follows_on_from_is_marked_with_it():
    text = (
        "次磷酸是一种无机酸。它能把碘还原为氢碘酸，进而制成冰毒。"
        "因此，次磷酸的购买及使用受到严格管制。实验室常用它做还原剂。"
    )
    because = "它能把碘还原为氢碘酸，进而制成冰毒。"
    result = "因此，次磷酸的购买及使用受到严格管制。"
    assert marked(text, "为什么次磷酸的购买及使用受到严格管制？") == [because, result]
    # not a why/how question: the sentence that answers stands alone
    assert marked(text, "次磷酸的购买及使用受到什么限制？") == [result]


def test_a_why_cause_comes_before_a_close_runner_up():
    text = (
        "成公英攻打阎行，阎行不敌；此时韩遂逝世，成公英唯有投降曹操。"
        "曹操见到成公英后十分高兴，成公英被封列侯。"
    )
    cause, result = "成公英攻打阎行，阎行不敌；", "此时韩遂逝世，成公英唯有投降曹操。"
    runner_up = "曹操见到成公英后十分高兴，成公英被封列侯。"
    # a runner-up sharing the question's words would be marked as the second sentence ...
    assert marked(text, "成公英后来投降曹操的经过", flat) == [result, runner_up]
    # ... but a why question's cause is the sentence the best one follows on from
    assert marked(text, "成公英后来为什么投降曹操？", flat) == [cause, result]


def test_a_sentence_that_goes_on_from_the_best_one_is_marked_with_it():
    question = "印度野驴与非洲野驴的分别是什么？"
    text = "印度野驴是一种野驴。印度野驴与非洲野驴有些分别。其中牠们的毛多呈沙色。栖息于荒漠。"
    assert marked(text, question) == ["印度野驴与非洲野驴有些分别。", "其中牠们的毛多呈沙色。"]
    text = "印度野驴是一种野驴。印度野驴与非洲野驴有些分别。牠们的毛多呈沙色。栖息于荒漠。"
    assert marked(text, question) == ["印度野驴与非洲野驴有些分别。"]


def test_a_neighbour_holding_the_asked_for_date_is_marked_when_the_best_lacks_one():
    text = (
        "占旭刚出生于浙江。2004年，他第三次参加奥运会，卫冕失败。"
        "赛后，占旭刚正式结束运动生涯，着手行政工作。"
    )
    assert marked(text, "占旭刚什么时候正式结束运动生涯？") == [
        "2004年，他第三次参加奥运会，卫冕失败。",
        "赛后，占旭刚正式结束运动生涯，着手行政工作。",
    ]
    # the answer to 为何 runs back too (赛后 follows on from the sentence before)
    assert len(marked(text, "占旭刚为何结束运动生涯？")) == 2
    assert marked(text, "占旭刚正式结束运动生涯后做什么？") == [
        "赛后，占旭刚正式结束运动生涯，着手行政工作。"
    ]


def test_close_candidates_are_compared_by_meaning_in_one_call():
    filler = "，" + "各方代表在会上交流了意见并表示将继续推进" * 5
    lexical = "协议涉及养老服务和护理服务" + filler + "。"  # all of the question's words
    meant = "协议涉及医疗合作的具体安排" + filler + "。"  # fewer, but it answers
    text = lexical + "天气很好。" + meant
    question = "协议涉及什么服务？"
    calls = []

    def meaning(texts):
        calls.append(list(texts))
        return [0.9 if "医疗" in t else 0.2 for t in texts]

    assert marked(text, question)[0].startswith("协议涉及养老服务")
    marks = mark_sentences(text, question, common, similarity=meaning)
    assert len(calls) == 1 and len(calls[0]) == 2  # the close ones only, in one call
    assert [text[a:b][:8] for a, b in marks] == ["协议涉及医疗合作"]


def test_a_clear_best_sentence_needs_no_model_call():
    text = "通武廊签署了区域一体化合作协议。天气很好。会议在北京举行。"
    calls = []

    def meaning(texts):
        calls.append(texts)
        return [0.0] * len(texts)

    assert marked(text, "通武廊签署了什么协议？") == ["通武廊签署了区域一体化合作协议。"]
    mark_sentences(text, "通武廊签署了什么协议？", common, similarity=meaning)
    assert calls == []
