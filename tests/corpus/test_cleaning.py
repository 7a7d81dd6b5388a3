"""Cleaning, encodings and search keys, on the real seed documents."""

from __future__ import annotations

import json
import re
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corpus.cleaning import clean_text
from corpus.encoding import decode_bytes, read_text
from corpus.loading import shipped_corpus_dir
from corpus.normalize import search_key
from tests.support import DATA
from tests.support.strategies import FAST

SEED = shipped_corpus_dir()
SEED_FILES = sorted(p.name for p in SEED.glob("*.txt"))
QUESTIONS = DATA / "seed_questions.jsonl"
CPPCC = "jjj-cppcc-joint-meeting-2020.txt"
OVERVIEW = "jjj-coordinated-development-overview.txt"


def clean(name: str) -> str:
    return clean_text(read_text(SEED / name))


def test_five_seeds_are_shipped() -> None:
    assert len(SEED_FILES) == 5


@pytest.mark.parametrize("name", SEED_FILES)
def test_no_site_chrome_left(name: str) -> None:
    text = clean(name)
    for marker in ("当前位置", "首頁>", "ICP", "版权", "Copyright", "邮编", "二维码", "注册"):
        assert marker not in text, marker
    for marker in ("上一篇", "下一篇", "标题导航", "下转第", "上接第", "评论", "責任編輯", "編輯:"):
        assert marker not in text, marker
    assert "\n\n" not in text and text == text.strip()


@pytest.mark.parametrize("name", SEED_FILES)
def test_every_clean_line_is_kept_from_the_raw_text(name: str) -> None:
    """Cleaning only removes and joins; the characters of kept text are unchanged."""
    raw = read_text(SEED / name)
    raw = re.sub(r"\((?:[a-zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜü]+)\)", "", raw)
    raw = re.sub(r"[，,、。；;]{2,}", lambda m: m.group()[-1], raw)
    flat = raw.replace("\n", "")
    for paragraph in clean(name).split("\n"):
        assert paragraph.replace(" ", "") in flat.replace(" ", ""), paragraph[:30]


def test_pinyin_and_doubled_punctuation_removed_from_cppcc() -> None:
    raw = read_text(SEED / CPPCC)
    assert "(xié)" in raw and ",," in raw
    text = clean(CPPCC)
    assert not re.search(r"\([a-zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜü]+\)", text)
    assert not re.search(r"[，,、。；;]{2}", text)
    assert "京津冀政協主席聯席會議第六次會議召開" in text
    rejoined = "在天津召開,圍繞“加強‘十四五’規劃戰略協同,促進京津冀協同發展”主題協商議政"
    assert rejoined in text
    assert "(記者 張原)" in text  # Chinese in brackets is not pinyin
    assert not text.endswith("發展")  # 關鍵詞 footer gone


def test_overview_broken_lines_rejoined_headings_kept() -> None:
    raw = read_text(SEED / OVERVIEW)
    sentence = (
        "习近平指出,北京、天津、河北人口加起来有1亿多,土地面积有21.6万平方公里,"
        "京津冀地缘相接、人缘相亲,地域一体、文化一脉"
    )
    assert sentence not in raw
    text = clean(OVERVIEW)
    assert sentence in text
    first = "要以疏解非首都核心功能、解决北京“大城市病”为基本出发点,调整优化城市布局和空间结构"
    assert first in text
    lines = text.split("\n")
    for heading in ("发展过程", "提出背景", "协同历史", "共同倡议", "主要问题", "取得成绩"):
        assert heading in lines, heading
    assert "一是推动要素市场一体化改革,包括推进金融市场一体化" in text
    assert "4、建立跨区域规划的编制与实施工作的新体制、新机制。" in text


def test_newspaper_page_keeps_headline_and_drops_navigation() -> None:
    text = clean("tongwulang-pilot-agreement-2023.txt")
    assert text.startswith("十项行动 见行见效\n")
    assert "“通武廊”签署试点示范合作协议" in text.split("\n")
    assert "神舟十六号" not in text and "星期三" not in text
    assert text.endswith("助推京津冀协同发展走深走实。")


def test_work_plan_keeps_title_and_body_drops_boxes() -> None:
    text = clean("beijing-jjj-work-plan-2019.txt")
    title = "本市发布《北京市推进京津冀协同发展2019年工作要点》"
    assert text.startswith(title + "\n今年是新中国成立70周年")
    assert "浏览(127)" not in text and "0/500" not in text and ".jpg" not in text
    assert text.endswith("金融创新等领域合作互动。")


def test_digest_drops_postal_footer() -> None:
    text = clean("jjj-policy-measures-2020-09.txt")
    assert "253023" not in text and "欢迎访问" not in text and "发布时间" not in text
    assert text.endswith("把京津“双城记”演绎得更加精彩。")


def test_seed_question_answers_survive_cleaning() -> None:
    cleaned = {name: clean(name) for name in SEED_FILES}
    checked = 0
    for line in QUESTIONS.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        for answer in item["answers"]:
            assert answer in cleaned[item["doc_id"]], (item["qid"], answer)
            checked += 1
    assert checked > 50


def test_generic_rules_on_user_text() -> None:
    raw = (
        "您的位置：首页 > 政策 > 解读\n"
        "关于推进区域协同的通知\n"
        "为推动区域协同发展，各地要加强规划对接，\n"
        "统筹推进交通一体化。。\n"
        "\n"
        "一、总体要求\n"
        "坚持问题导向，，突出重点。\n"
        "版权所有 © 某某网站 京ICP备12345678号\n"
        "地址：某某路1号\n"
    )
    assert clean_text(raw) == (
        "关于推进区域协同的通知\n"
        "为推动区域协同发展，各地要加强规划对接，统筹推进交通一体化。\n"
        "一、总体要求\n"
        "坚持问题导向，突出重点。"
    )


def test_pinyin_rule_is_narrow() -> None:
    assert clean_text("協（xié）商。") == "協商。"
    assert clean_text("京津冀(BTH)协同。") == "京津冀(BTH)协同。"
    assert clean_text("第(a)项内容。") == "第(a)项内容。"
    assert clean_text("See (xié) here.") == "See (xié) here."


def test_latin_words_rejoined_with_space() -> None:
    raw = "京津冀(Beijing, Tianjin and\nHebei)协同发展,\n是重大国家战略。"
    assert clean_text(raw) == "京津冀(Beijing, Tianjin and Hebei)协同发展,是重大国家战略。"


SAMPLE_SIMPLIFIED = "京津冀协同发展是一个重大国家战略，要坚持优势互补、互利共赢、扎实推进。\n"
SAMPLE_TRADITIONAL = "京津冀政協主席聯席會議第六次會議召開，圍繞加強規劃戰略協同協商議政。\n"


@pytest.mark.parametrize(
    ("encoding", "sample"),
    [
        ("gbk", SAMPLE_SIMPLIFIED),
        ("gb18030", SAMPLE_SIMPLIFIED + "𠀀"),
        ("big5", SAMPLE_TRADITIONAL),
        ("utf-8-sig", SAMPLE_TRADITIONAL + SAMPLE_SIMPLIFIED),
        ("utf-8", SAMPLE_SIMPLIFIED),
        ("gbk", SAMPLE_TRADITIONAL),
    ],
)
def test_read_text_encodings(tmp_path: Path, encoding: str, sample: str) -> None:
    path = tmp_path / "doc.txt"
    path.write_bytes(sample.replace("\n", "\r\n").encode(encoding))
    assert read_text(path) == sample


@pytest.mark.parametrize("name", SEED_FILES)
def test_read_text_whole_seeds_in_legacy_encodings(tmp_path: Path, name: str) -> None:
    text = clean(name)
    encoding = "big5" if name == CPPCC else "gbk"
    path = tmp_path / name
    path.write_bytes(text.encode(encoding, errors="ignore"))
    assert read_text(path) == text.encode(encoding, errors="ignore").decode(encoding)


def test_search_key_folds_scripts_and_widths() -> None:
    assert search_key("協商發展") == search_key("协商发展")
    assert search_key("京津冀政協主席聯席會議") == search_key("京津冀政协主席联席会议")
    assert search_key("ＰＭ２．５，Ｂｅｉｊｉｎｇ") == "pm2.5,beijing"
    assert search_key("協商發展") != search_key("发展协商")


def test_legacy_encoding_detection_uses_bounded_memory():
    text = "京津冀协同发展的核心是有序疏解北京非首都功能，推动雄安新区建设。\n" * 20000
    data = text.encode("gb18030")  # 1.2 MB, not UTF-8: the legacy path
    tracemalloc.start()
    try:
        assert decode_bytes(data) == text
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # the result itself is 2 bytes a character; listing every character took ~40x that
    assert peak < 6 * 2 * len(text), f"peak {peak / 2**20:.1f} MB"


@FAST
@given(st.binary(max_size=3000))
def test_any_bytes_decode_or_fail_cleanly(data: bytes) -> None:
    try:
        text = decode_bytes(data)
    except UnicodeDecodeError:
        return
    assert "\r" not in text
