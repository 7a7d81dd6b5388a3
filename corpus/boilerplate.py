"""Recognise web/newspaper boilerplate lines (common Chinese site chrome) and drop them.

Three kinds of line: ``nav`` (breadcrumbs, login links, page navigation: everything
above the last one in the page header goes too), ``footer`` (ICP/copyright, postal
address, comment and QR boxes: everything below the first one after the body goes too)
and ``meta`` (bylines, view counters, page-jump notes: only the line itself goes).
"""

from __future__ import annotations

import re

_BODY_MIN = 15  # a body line has at least this many characters
_SHORT = 40  # "contains" patterns only fire on lines at most this long

_NAV = [
    r"^(?:当前位置|您的位置|您现在的位置|所在位置|當前位置|您的位置|現在位置)\s*[:：]",
    r"^(?:首页|首頁|主页|网站首页|Home)\s*(?:>|＞|»|›|/|\|)",
    r"^(?:欢迎访问|歡迎訪問|欢迎来到|歡迎來到)",
    r"^(?:回到首页|返回首页|返回顶部|回到顶部|返回首頁|回到頂部)",
    r"标题导航|標題導航",
    r"上一[篇版页頁]|下一[篇版页頁]",
    r"放大\s*缩小|放大\s*縮小|打印本页|关闭窗口|關閉窗口|分享到",
    r"^(?:注册|登录|註冊|登錄|登入|免费注册|用户登录)$",
    r"还没有账号|還沒有帳號|点击注册|點擊註冊|忘记密码|忘記密碼",
    r"~~~",
]
_FOOTER = [
    r"^(?:版权所有|版权说明|版权声明|版權所有|版權說明|版權聲明)",
    r"^(?:邮编|郵編|邮政编码|郵政編碼)\s*[:：]",
    r"^(?:技术支持|技術支持|主办单位|主辦單位|承办单位|承辦單位|网站标识码|網站標識碼)\s*[:：]",
    r"扫描二维码|扫码|二维码|掃描二維碼|掃碼|二維碼",
    r"^(?:评论|發表評論|发表评论|評論|网友评论|網友評論)$",
    r"^共有\s*\d+\s*条评论|^共有\s*\d+\s*條評論",
    r"^(?:联系我们|網站地圖|网站地图|關於我們|关于我们)(?:\s*[|｜]|$)",
    r"^[×✕]$",
]
_META = [
    r"^(?:作者|来源|來源|信息来源|信息來源|发布时间|發佈時間|发布日期|發布日期|发表时间"
    r"|浏览次数|瀏覽次數|点击数|點擊數|责任编辑|責任編輯|编辑|編輯|关键词|關鍵詞|关键字|關鍵字"
    r"|稿源|字号|字號)\s*[:：]",
    r"浏览\s*[(（]\d+[)）]|瀏覽\s*[(（]\d+[)）]|阅读\s*[(（]\d+[)）]|閱讀\s*[(（]\d+[)）]",
    r"^[(（]\s*[上下][转接轉]第?\s*[\d一二三四五六七八九十]+\s*版\s*[)）]$",
    r"^[-—–－]\s*\d+\s*[-—–－]$",
    r"^第\s*\d+\s*[页頁](?:\s*[/,，]?\s*共\s*\d+\s*[页頁])?$",
    r"^\d+\s*/\s*\d+$",
    r"^附件\s*[:：].*\.(?:jpe?g|png|gif|bmp|webp)$",
]


def _compile(patterns: list[str]) -> list[re.Pattern[str]]:
    return [re.compile(p) for p in patterns]


# Site marks that are boilerplate wherever they appear in a line of moderate length.
_STRONG = re.compile(
    r"(?i)ICP\s*[备備证證]|公[网網]安[备備]|copyright|all\s+rights\s+reserv|©"
    r"|如需[转轉]载|[转轉]载请注明|本[网網]站所有内容"
)
_STRONG_MAX = 120
_ANCHORED_MAX = 300
_KINDS = [("nav", _compile(_NAV)), ("footer", _compile(_FOOTER)), ("meta", _compile(_META))]
_BREADCRUMB_SEP = re.compile(r"\s*(?:>>?|＞|»|›)\s*")
_CLAUSE = re.compile(r"[，,。；;！？!?]")


def _is_breadcrumb(line: str) -> bool:
    """``A > B > C`` style trail: short, several separators, no sentence punctuation."""
    return len(line) <= 80 and len(_BREADCRUMB_SEP.findall(line)) >= 2 and not _CLAUSE.search(line)


def classify(line: str) -> str | None:
    """Return ``"nav"``, ``"footer"``, ``"meta"`` or None for a stripped line.

    Patterns anchored at the line start apply to lines up to 300 characters, the
    unmistakable site marks (ICP, copyright) up to 120, everything else only to short
    lines, so that a paragraph which merely mentions a QR code stays.
    """
    if not line:
        return None
    if _is_breadcrumb(line):
        return "nav"
    if len(line) <= _STRONG_MAX and _STRONG.search(line):
        return "footer"
    for kind, patterns in _KINDS:
        for pattern in patterns:
            limit = _ANCHORED_MAX if pattern.pattern.startswith("^") else _SHORT
            if len(line) <= limit and pattern.search(line):
                return kind
    return None


def _is_body(line: str) -> bool:
    """A line of running text: a sentence's worth of characters with clause punctuation."""
    return len(line) >= _BODY_MIN and bool(_CLAUSE.search(line))


def remove_boilerplate(lines: list[str]) -> list[str]:
    """Drop boilerplate lines, the page header above the last nav line, and the footer."""
    kinds = [classify(line) for line in lines]
    body = [i for i, line in enumerate(lines) if kinds[i] is None and _is_body(line)]
    start, end = 0, len(lines)
    if body:  # without a recognisable body, trim nothing but the flagged lines
        start = max((i + 1 for i in range(body[0]) if kinds[i] == "nav"), default=0)
        end = next(
            (i for i in range(body[-1] + 1, len(lines)) if kinds[i] in ("nav", "footer")), end
        )
    return [line for i, line in enumerate(lines[start:end], start) if kinds[i] is None]
