"""Metadata lines of policy files: ``键：值`` pairs, dated history lines, 文号 and 令号.

Shared by the Markdown reader (info blocks, front matter, a leading metadata list) and by
:func:`corpus.structure.document_info` (what a plain text states about itself). Every
function here reads one line or value and is pure.
"""

from __future__ import annotations

import re
import unicodedata

FIELDS = (
    "title",
    "date",
    "effective_date",
    "issuer",
    "doc_number",
    "order_number",
    "doc_type",
    "source",
    "url",
)
"""The metadata a policy file may state, as :class:`corpus.readers.Extracted` names them."""

# 键 (as written in front matter and metadata lists, lowercased) -> field
KEYS: dict[str, str] = {
    **dict.fromkeys(["title", "标题", "名称", "法规名称", "文件名称", "题目"], "title"),
    **dict.fromkeys(
        [
            "date",
            "published",
            "公布日期",
            "发布日期",
            "发文日期",
            "成文日期",
            "颁布日期",
            "印发日期",
            "公布时间",
            "发布时间",
        ],
        "date",
    ),
    **dict.fromkeys(
        ["effective_date", "effective", "施行日期", "生效日期", "实施日期", "施行时间", "实施时间"],
        "effective_date",
    ),
    **dict.fromkeys(
        [
            "issuer",
            "author",
            "发布机关",
            "发文机关",
            "制定机关",
            "发布单位",
            "发文单位",
            "颁布机关",
            "公布机关",
            "发布部门",
            "发文部门",
        ],
        "issuer",
    ),
    **dict.fromkeys(["doc_number", "文号", "发文字号", "发文号", "发文文号"], "doc_number"),
    **dict.fromkeys(["order_number", "令号"], "order_number"),
    **dict.fromkeys(
        ["doc_type", "type", "category", "类型", "文种", "效力级别", "法规类别", "类别"],
        "doc_type",
    ),
    **dict.fromkeys(["source", "来源"], "source"),
    **dict.fromkeys(["url", "link", "链接", "原文链接", "网址"], "url"),
}
# Keys that are metadata but name no field (kept out of the text, not stored).
OTHER_KEYS = frozenset(["时效性", "状态", "tags", "标签", "关键词", "索引号", "主题分类"])

_KEY_VALUE = re.compile(r"^\s*(?:[-*+]\s+)?(?:\*\*)?([^：:\s*]{1,12})(?:\*\*)?\s*[：:]\s*(.*?)\s*$")
_NUM = "[一二三四五六七八九十百千零〇两\\d]+"
_DATE = re.compile(r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")
_DATE_TEXT = r"\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日|\d{4}-\d{1,2}-\d{1,2}"
_HISTORY = re.compile(rf"^[（(]?\s*({_DATE_TEXT})\s*(.*?)[）)]?$")
_EFFECTIVE_EVENT = re.compile(r"^(?:起)?(?:施行|生效|实施)|^自.*起(?:施行|生效|实施)")
_EFFECTIVE_FROM = re.compile(rf"自\s*({_DATE_TEXT})\s*起\s*(?:施行|生效|实施|执行)")
_SESSION = re.compile(rf"^(?:由|经)?([^，,。；;]*?)第{_NUM}次[\u4e00-\u9fff]{{0,4}}?会议")
_ANNOUNCED = re.compile(r"^(?:由|经)?([\u4e00-\u9fff、]{2,40}?)(?:公告|令)?(?:公布|发布|印发)")
# 文号: 京政办发〔2019〕12号, 劳社部发[2008]3号
DOC_NUMBER = re.compile(
    r"[\u4e00-\u9fff]{1,10}\s*[〔\[［【(（]\s*(?:19|20)\d\d\s*[〕\]］】)）]\s*\d{1,4}\s*号"
)
# 令号: 公安部令第149号, 国务院令第513号, 第12号令, 〔2020〕第3号令, 海关总署第5号令
ORDER_NUMBER = re.compile(
    r"(?:[\u4e00-\u9fff、]{2,40}?令\s*(?:[〔\[［(（]\s*\d{4}\s*[〕\]］)）]\s*)?第\s*\d{1,4}\s*号"
    r"|(?:[\u4e00-\u9fff、]{2,40}?)?(?:[〔\[［(（]\s*\d{4}\s*[〕\]］)）]\s*)?第\s*\d{1,4}\s*号令)"
)
_ORG_LEAD = re.compile(r"^(?:中华人民共和国)?")
_SPACES = re.compile(r"\s+")
_NESTED_TERM = re.compile(rf"第{_NUM}届")


def normalize_date(value: object) -> str | None:
    """``YYYY-MM-DD`` from 2019-06-06, 2019/6/6, 2019.06.06, 2019年6月6日 (full-width digits
    too); else None."""
    if not isinstance(value, str):
        return None
    match = _DATE.match(unicodedata.normalize("NFKC", value))
    if not match:
        return None
    year, month, day = (int(g) for g in match.groups())
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    return f"{year:04d}-{month:02d}-{day:02d}"


def key_value(line: str) -> tuple[str, str] | None:
    """``(field, value)`` for a metadata line ``发布机关：X`` / ``- 文号: X`` / ``title: X``;
    ``("", value)`` for a known key that names no field; None for anything else."""
    match = _KEY_VALUE.match(line)
    if not match:
        return None
    key = match.group(1).strip().lower()
    value = match.group(2).strip().strip("\"'").strip()
    if key in KEYS:
        return KEYS[key], value
    return ("", value) if key in OTHER_KEYS else None


def tidy_issuer(name: str) -> str | None:
    """An issuing body as stated, spaces removed (``第十届全国人民代表大会常务委员会``)."""
    name = _SPACES.sub("", name).strip("，,。、 ")
    return name if len(name) >= 2 else None


def issuer_key(name: str | None) -> str | None:
    """An issuer to compare and filter by: the term (第十三届) and spaces removed, so the
    versions of a regulation passed by different terms share it
    (``上海市第十三届人民代表大会常务委员会`` → ``上海市人民代表大会常务委员会``)."""
    if not name:
        return None
    key = _NESTED_TERM.sub("", _SPACES.sub("", unicodedata.normalize("NFKC", name)))
    return key or None


def history(line: str) -> tuple[str, str] | None:
    """``(date, event)`` of a dated history line (``2021年11月1日 施行``,
    ``2007年6月29日 第十届全国人民代表大会常务委员会第二十八次会议通过``), else None."""
    match = _HISTORY.match(unicodedata.normalize("NFKC", line.strip()))
    if not match:
        return None
    date = normalize_date(match.group(1))
    return (date, match.group(2).strip()) if date else None


def is_effective(event: str) -> bool:
    """Whether a history event is the day the document takes effect (施行/生效/实施)."""
    return bool(_EFFECTIVE_EVENT.search(event.strip()))


def event_issuer(event: str) -> str | None:
    """The body an event names: ``第十届全国人民代表大会常务委员会第二十八次会议通过`` →
    ``全国人民代表大会常务委员会``; ``公安部令第149号公布`` → ``公安部``."""
    event = unicodedata.normalize("NFKC", event).strip()
    session = _SESSION.match(event)
    if session:
        return tidy_issuer(session.group(1))
    order = re.match(r"^(?:由|经)?([\u4e00-\u9fff、]{2,40}?)令\s*第", event)
    if order:
        return tidy_issuer(order.group(1))
    announced = _ANNOUNCED.match(event)
    return tidy_issuer(announced.group(1)) if announced else None


def effective_from(text: str) -> str | None:
    """The date of ``自2021年1月1日起施行`` in ``text``, or None."""
    match = _EFFECTIVE_FROM.search(unicodedata.normalize("NFKC", text))
    return normalize_date(match.group(1)) if match else None


def order_number(line: str) -> str | None:
    """The 令号 a line states (``公安部令第149号``, ``〔2020〕第3号令``), spaces removed."""
    match = ORDER_NUMBER.search(unicodedata.normalize("NFKC", line))
    if not match:
        return None
    found = _SPACES.sub("", match.group())
    return re.sub(r"^(?:根据|经|由|以)", "", found)


def doc_number(line: str) -> str | None:
    """The 文号 a line states (``京政办发〔2019〕12号``), spaces removed."""
    match = DOC_NUMBER.search(line)
    return _SPACES.sub("", match.group()) if match else None


_TYPES = (
    "实施细则",
    "细则",
    "条例",
    "规定",
    "办法",
    "规则",
    "决定",
    "决议",
    "解释",
    "意见",
    "通知",
    "通告",
    "公告",
    "方案",
    "规划",
    "纲要",
    "计划",
    "批复",
    "指引",
    "指南",
    "标准",
    "守则",
    "章程",
    "命令",
    "报告",
    "函",
    "法",
)


def title_type(title: str | None) -> str | None:
    """The kind of document a title ends with: 条例, 办法, 通知, 法 … (brackets such as
    （试行） and （2020年修订） ignored), or None."""
    if not title:
        return None
    stem = re.sub(r"[（(][^）)]*[）)]\s*$", "", title.strip()).strip()
    stem = re.sub(r"[（(][^）)]*[）)]\s*$", "", stem).strip()
    for kind in _TYPES:
        if stem.endswith(kind):
            return kind
    return None
