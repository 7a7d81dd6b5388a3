"""Unanswerable questions that name a library's regulation and ask about a subject it never
mentions: ``山东省物业管理条例对无人机飞行有什么规定？``.

The law questions hold few of this shape, and a question naming the regulation is nearly
always answerable there, so a model fitted on them trusts a named regulation whatever else
is asked. For a deterministic sample of the library's rules (titles ending in 条例, 办法,
规定 …), this writes one question per rule: a template over the title and a subject from
:data:`SUBJECTS` that its text (folded: simplified, lower case) does not contain anywhere.
``tools/calibrate_all.sh`` fits on 70 % of them and holds out the rest (by sha1 of the qid):

    python -m benchmarks.quality.law_uncovered /tmp/lawlib/docs /tmp/qabot-calib/law-uncovered.jsonl

Only the library's own text decides what is absent; nothing here reads a question file.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from corpus.loading import load_corpus
from corpus.normalize import search_key

# Subjects a citizen might ask a regulation about (services, technology, daily life): most
# regulations are silent on most of them.
SUBJECTS = (
    "无人机飞行 电梯加装 停车位租售 电动自行车充电 宠物饲养 网约车 共享单车 直播带货 "
    "校外培训 外卖配送 快递柜 个人信息保护 人工智能 新能源汽车补贴 养老服务补贴 托育机构 "
    "公租房申请 户籍迁移 住房公积金 医保报销 学区划分 彩票销售 野生动物保护 古树名木 "
    "河道采砂 光伏发电 地下管线 无障碍设施 应急避难场所 烟花爆竹燃放 养犬登记 公共场所控烟 "
    "广告牌设置 夜市摊点 网络游戏 电子竞技 基因检测 跨境电商 数据出境 农村宅基地 "
    "海洋捕捞 温泉开发 滑雪场 民宿经营 剧本杀 密室逃脱 社区团购 预付卡 二手房交易"
).split()
TEMPLATES = (
    "{title}对{subject}有什么规定？",
    "{title}关于{subject}是怎么规定的？",
    "根据{title}，{subject}应当遵守哪些要求？",
    "《{title}》中有关{subject}的条款是什么？",
    "{title}规定{subject}由哪个部门负责管理？",
)
RULE_ENDS = ("条例", "办法", "规定", "细则", "规则", "法")


def _hash(text: str) -> int:
    return int(hashlib.sha1(text.encode("utf-8")).hexdigest(), 16)


def questions(docs_dir: Path, limit: int) -> list[dict]:
    """One question per sampled rule (sha1 order of doc_id), at most ``limit``."""
    documents = load_corpus([docs_dir]).documents
    rules = [d for d in documents if (d.title or "").endswith(RULE_ENDS)]
    rules.sort(key=lambda d: _hash(d.doc_id))
    out: list[dict] = []
    seen_titles: set[str] = set()
    for doc in rules:
        if len(out) >= limit:
            break
        if doc.title in seen_titles:  # one question per title, not per version
            continue
        text = search_key(doc.title + "\n" + doc.text)
        absent = [s for s in SUBJECTS if search_key(s) not in text]
        if not absent:
            continue
        seen_titles.add(doc.title)
        h = _hash(doc.doc_id)
        subject = absent[h % len(absent)]
        template = TEMPLATES[(h // len(absent)) % len(TEMPLATES)]
        out.append(
            {
                "qid": f"lu{len(out) + 1:03d}",
                "question": template.format(title=doc.title, subject=subject),
                "kind": "unanswerable",
                "answers": [],
                "doc_id": None,
                "named_doc_id": doc.doc_id,
            }
        )
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.quality.law_uncovered",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("docs", type=Path, help="the library's docs/ folder")
    parser.add_argument("out", type=Path, help="question file to write (JSONL)")
    parser.add_argument("--limit", type=int, default=200, help="questions (default 200)")
    args = parser.parse_args(argv)
    if not args.docs.is_dir():
        sys.exit(f"error: {args.docs} is not a folder")
    found = questions(args.docs, args.limit)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        "".join(json.dumps(q, ensure_ascii=False) + "\n" for q in found), encoding="utf-8"
    )
    print(f"wrote {args.out}: {len(found)} questions")


if __name__ == "__main__":
    main()
