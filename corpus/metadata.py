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
_NEXT_EVENT = re.compile(rf"(?<=\s)(?={_DATE_TEXT})")  # where a line's next act begins
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


def history_events(line: str) -> list[tuple[str, str]]:
    """Every ``(date, event)`` of a history line, which may hold several acts, each opening
    with its date after a space (``…第十八次会议修正  2006年3月31日…修订``, as LawRefBook's
    重庆 files write them); empty when the line is no history line."""
    pieces = _NEXT_EVENT.split(unicodedata.normalize("NFKC", line))
    return [event for piece in pieces if (event := history(piece))]


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


# --- jurisdictions and versions (issue 26) ------------------------------------------------
NATIONAL = "国家"
"""The region of national bodies' documents (全国人大, 国务院, ministries …)."""

# short name -> the name a sentence uses (省/市/自治区), simplified; read after search_key
PLACES: dict[str, str] = {
    **{name: name + "市" for name in ("北京", "天津", "上海", "重庆")},
    **{
        name: name + "省"
        for name in (
            "河北 山西 辽宁 吉林 黑龙江 江苏 浙江 安徽 福建 江西 山东 河南 湖北 湖南 广东"
            " 海南 四川 贵州 云南 陕西 甘肃 青海 台湾"
        ).split()
    },
    "内蒙古": "内蒙古自治区",
    "广西": "广西壮族自治区",
    "西藏": "西藏自治区",
    "宁夏": "宁夏回族自治区",
    "新疆": "新疆维吾尔自治区",
    "香港": "香港特别行政区",
    "澳门": "澳门特别行政区",
    **{
        name: name + "市"
        for name in (
            "深圳 广州 珠海 汕头 佛山 东莞 杭州 宁波 温州 南京 苏州 无锡 武汉 成都 西安 青岛"
            " 大连 厦门 沈阳 长春 哈尔滨 济南 郑州 长沙 合肥 福州 南昌 昆明 贵阳 南宁 海口"
            " 三亚 兰州 西宁 银川 乌鲁木齐 拉萨 呼和浩特 石家庄 太原 唐山 保定 雄安"
        ).split()
    },
}
PLACES["雄安"] = "雄安新区"
_PLACE_NAMES = sorted(PLACES, key=len, reverse=True)
# How an English question names a province-level place (pinyin, lower case): "In Chongqing, …"
ENGLISH_PLACES: dict[str, str] = {
    "beijing": "北京", "tianjin": "天津", "shanghai": "上海", "chongqing": "重庆",
    "hebei": "河北", "shanxi": "山西", "liaoning": "辽宁", "jilin": "吉林",
    "heilongjiang": "黑龙江", "jiangsu": "江苏", "zhejiang": "浙江", "anhui": "安徽",
    "fujian": "福建", "jiangxi": "江西", "shandong": "山东", "henan": "河南", "hubei": "湖北",
    "hunan": "湖南", "guangdong": "广东", "hainan": "海南", "sichuan": "四川",
    "guizhou": "贵州", "yunnan": "云南", "shaanxi": "陕西", "gansu": "甘肃", "qinghai": "青海",
    "taiwan": "台湾", "inner mongolia": "内蒙古", "guangxi": "广西", "tibet": "西藏",
    "xizang": "西藏", "ningxia": "宁夏", "xinjiang": "新疆", "hong kong": "香港",
    "macau": "澳门", "macao": "澳门", "shenzhen": "深圳", "guangzhou": "广州",
    "hangzhou": "杭州", "xiong'an": "雄安", "xiongan": "雄安",
}  # fmt: skip
_ENGLISH_PLACE = re.compile(
    r"\b(" + "|".join(sorted(map(re.escape, ENGLISH_PLACES), key=len, reverse=True)) + r")(?:'s)?\b"
)
_NATIONAL_ISSUER = re.compile(
    r"^(?:全国人民代表大会|全国人大|国务院|中共中央|中国共产党中央|中央|最高人民法院|最高人民检察院"
    r"|国家|中国人民银行|海关总署|审计署)|(?:部|总局|总署|委员会|委|署)$"
)
_NATIONAL_TITLE = re.compile(r"^(?:中华人民共和国|国务院|国家|全国|最高人民)")
_VERSION_NOTE = re.compile(r"[（(][^（）()]*(?:\d{4}|修订|修正|修改|试行|草案)[^（）()]*[）)]")


def _fold(text: str) -> str:
    from corpus.normalize import search_key  # opencc loads on first use, not on import

    return search_key(text)


def place_in(text: str | None) -> str | None:
    """The place (a key of :data:`PLACES`) that ``text`` opens with, else None."""
    if not text:
        return None
    text = _fold(text).strip()
    text = text.removeprefix("中华人民共和国")
    for name in _PLACE_NAMES:
        if text.startswith(name):
            return name
    return None


def places_named(text: str) -> list[str]:
    """Every place of :data:`PLACES` that ``text`` names anywhere, longest names first and
    without those inside a longer one found (``石家庄`` is not also ``家``), in text order;
    English names too (``In Chongqing`` → ``重庆``, :data:`ENGLISH_PLACES`)."""
    text = _fold(text)
    found: list[tuple[int, str]] = []
    taken: list[tuple[int, int]] = []
    for name in _PLACE_NAMES:
        start = text.find(name)
        while start >= 0:
            end = start + len(name)
            if not any(a < end and start < b for a, b in taken):
                taken.append((start, end))
                found.append((start, name))
            start = text.find(name, end)
    found += [(m.start(), ENGLISH_PLACES[m.group(1)]) for m in _ENGLISH_PLACE.finditer(text)]
    return list(dict.fromkeys(name for _, name in sorted(found)))


def region_of(issuer: str | None, title: str | None) -> str | None:
    """The jurisdiction of a document: :data:`NATIONAL` for national bodies (全国人大, 国务院,
    ministries, a title opening with 中华人民共和国), else the place (a key of
    :data:`PLACES`) its issuer or title opens with; None when neither says."""
    key = issuer_key(issuer)
    if key:
        folded = _fold(key)
        place = place_in(folded)
        if place:
            return place
        if _NATIONAL_ISSUER.search(folded.removeprefix("中华人民共和国")):
            return NATIONAL
    place = place_in(title)
    if place:
        return place
    if title and _NATIONAL_TITLE.match(_fold(title).strip()):
        return NATIONAL
    return None


def version_title(title: str) -> str:
    """The title as versions of one document share it: 《》, spaces and the brackets naming
    a year or a revision (（2016年修订）, （2022年修正）, (试行)) removed, folded to
    simplified (``《上海市消防條例（2019年修正）》`` → ``上海市消防条例``)."""
    text = _fold(title)
    text = _VERSION_NOTE.sub("", text)
    return re.sub(r"[\s《》〈〉\"“”]", "", text)
