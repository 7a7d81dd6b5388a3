"""Small corpora written as folders of text files, for ingests that must stay quick."""

from __future__ import annotations

from pathlib import Path

HYDROGEN = "临港氢能示范园区计划于2031年建成，总投资四百二十亿元。"
BASE_DOCS = {
    "transport.txt": "京津冀交通一体化\n京张高铁建成通车。京雄城际铁路全线贯通，雄安站投入使用。\n"
    "轨道上的京津冀加快形成，三地主要城市一小时通勤圈基本建成。",
    "ecology.txt": "京津冀生态环境联防联控\n三地建立大气污染联防联控机制，PM2.5平均浓度持续下降。\n"
    "永定河、潮白河生态补水常态化，华北地下水超采综合治理取得成效。",
    "industry.txt": "京津冀产业协同\n北京向津冀转移疏解一般制造业企业，"
    "中关村企业在津冀设立分支机构。\n天津滨海—中关村科技园、保定·中关村创新中心建设稳步推进。",
}


def write_corpus(folder: Path, docs: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.txt"):
        if old.name not in docs:
            old.unlink()
    for name, text in docs.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder
