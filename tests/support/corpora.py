"""Small corpora written as folders of text files, for ingests that must stay quick."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
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


# Short policy-style sentences the embedding tests encode (questions and statements).
SENTENCES = [
    "京津冀协同发展的核心是什么？",
    "疏解北京非首都功能，推动雄安新区建设。",
    "北京城市副中心行政办公区正式启用。",
    "通武廊签署试点示范合作协议。",
    "北三县与通州区一体化高质量发展示范区建设。",
    "2019年北京市推进京津冀协同发展工作要点发布。",
    "生态环境部就察汗淖尔国家湿地公园保护情况展开调研。",
    "京津冀三地交通一体化，轨道上的京津冀加快形成。",
    "推进产业升级转移，推动公共服务共建共享。",
    "大兴国际机场临空经济区建设进展如何？",
    "河北省承接北京产业转移项目数量。",
    "天津滨海新区和北京中关村合作共建科技园区。",
    "全角标点：ＡＢＣ　１２３，测试！",
    "雄安新区规划纲要提出了哪些目标？",
    "京津冀大气污染联防联控取得明显成效。",
    "Beijing-Tianjin-Hebei coordinated development strategy.",
    "京津冀政協主席聯席會議第六次會議在天津召開。",
    "圍繞加強十四五規劃戰略協同，促進京津冀協同發展主題協商議政。",
    "國家發改委副秘書長講解了十四五規劃編制有關構想。",
    "三地政協和政府相關部門提出意見建議。",
    "建設更加暢通的綜合交通系統。",
    "構建更具競爭力的區域產業體系。",
    "推進更高水平的生態環境共建共治共享。",
    "實施更深層次的體制機制改革。",
    "北京市政協主席吉林、天津市政協主席盛茂林出席會議。",
    "京津冀協同發展面臨一系列難點和瓶頸問題。",
    "臺灣的大學與香港的學術交流。",
    "疏解非首都功能是京津冀協同發展的關鍵環節。",
    "雄安新區建設進入大規模建設與承接北京非首都功能疏解並重階段。",
    "通州、武清、廊坊三地簽署合作協議。",
    "聯席會議制度自2015年啟動。",
    "河北張家口和雄安新區開展調研。",
]


LAW_SAMPLE = Path(__file__).resolve().parents[1] / "data" / "law_sample"
"""25 regulations of the law library (issue 26), as LawRefBook/Laws writes them."""


def law_sample_engine(tmp_path_factory, embedder, files: Sequence[str]):
    """An engine over ``files`` of :data:`LAW_SAMPLE` (paths inside it), copied into a
    library folder and ingested with ``embedder``."""
    from corpus.loading import load_corpus
    from retrieval.backends.local.ingest import ingest
    from retrieval.engine import AnswerEngine

    library = tmp_path_factory.mktemp("law-library")
    for name in files:
        (library / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(LAW_SAMPLE / name, library / name)
    folder = tmp_path_factory.mktemp("law-index")
    ingest(folder, load_corpus([library]).documents, embedder, progress=False)
    return AnswerEngine.open(folder, embedder=embedder)
