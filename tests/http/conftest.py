"""The HTTP server for real: uvicorn on 127.0.0.1 in a thread of the test process (so it
shares the session's model), real HTTP, the real engine on a small real index.

``http_index`` is the session's seed index copied and given one more document, written to
test the page's escaping (its title and text hold ``<script>`` and ``<img onerror>``);
the copy keeps the seed index's embedding cache, so only that document is embedded.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.http.support import XSS_DOC, LiveServer, serve

XSS_TITLE = '<img src=x onerror="document.body.dataset.xss=1">跨站脚本测试文件'
XSS_TEXT = (
    "跨站脚本测试说明\n"
    "<script>document.body.dataset.xss='1'</script>本文件用于检验问答网页是否把文件内容当作文字显示。\n"
    '网页应当原样显示<img src=x onerror="document.body.dataset.xss=1">这样的字符，'
    "而不执行其中的任何代码。\n"
    "检验的方法是提问跨站脚本测试文件的用途，再打开这份文件查看引用的段落。\n"
)


def add_documents(
    index_dir: Path, folder: Path, embedder, extra: dict[str, tuple], fields: dict | None = None
):
    """Ingest the shipped corpus plus ``extra`` ({file: (title, text)} or {file: (title,
    text, date)}) into ``index_dir``; ``fields``: more of sources.json's fields for each."""
    from corpus.loading import load_corpus, shipped_corpus_dir
    from retrieval.backends.local.ingest import ingest

    folder.mkdir(parents=True, exist_ok=True)
    for name, (_title, text, *_date) in extra.items():
        (folder / name).write_text(text, encoding="utf-8")
    sources = {
        name: {"title": title, "date": date[0] if date else "2026-01-01", "source": "测试"}
        | (fields or {})
        for name, (title, _, *date) in extra.items()
    }
    (folder / "sources.json").write_text(json.dumps(sources, ensure_ascii=False), encoding="utf-8")
    seed = shipped_corpus_dir()
    documents = load_corpus([seed, folder]).documents
    return ingest(index_dir, documents, embedder, progress=False, corpus=[str(seed), str(folder)])


@pytest.fixture(scope="session")
def http_index(seed_index, embedder, tmp_path_factory) -> Path:
    index_dir = tmp_path_factory.mktemp("http") / "index"
    shutil.copytree(seed_index, index_dir)
    extra = tmp_path_factory.mktemp("http-extra")
    add_documents(index_dir, extra, embedder, {XSS_DOC: (XSS_TITLE, XSS_TEXT)})
    return index_dir


RENEWAL = (
    "第一条 为了推进城市更新，改善旧区居住条件，制定本条例。\n"
    "第二条 旧区改造应当坚持规划引领、居民自愿、公开透明的原则。\n"
    "第三条 区人民政府负责组织实施本行政区域内的旧区改造工作。\n"
)
VERSIONS = {  # two versions of one document (issue 26): same title and issuer, 2016 and 2022
    "renewal-2016.txt": (
        "上海市城市更新条例",
        RENEWAL + "第四条 本条例自2016年3月1日起施行。\n",
        "2016-03-01",
    ),
    "renewal-2022.txt": (
        "上海市城市更新条例（2022年修订）",
        RENEWAL
        + "第四条 旧区改造的补偿标准由市人民政府公布。\n第五条 本条例自2022年5月25日起施行。\n",
        "2022-05-25",
    ),
}


@pytest.fixture(scope="session")
def versions_index(seed_index, embedder, tmp_path_factory) -> Path:
    """The seed index plus two versions of one Shanghai regulation (older 2016, newer 2022)."""
    index_dir = tmp_path_factory.mktemp("http-versions") / "index"
    shutil.copytree(seed_index, index_dir)
    extra = tmp_path_factory.mktemp("http-versions-extra")
    add_documents(index_dir, extra, embedder, VERSIONS, {"issuer": "上海市人民代表大会常务委员会"})
    return index_dir


@pytest.fixture(scope="session")
def versions_engine(versions_index, embedder):
    from retrieval.engine import AnswerEngine

    return AnswerEngine.open(versions_index, embedder=embedder)


@pytest.fixture(scope="session")
def versions_server(versions_index, versions_engine) -> Iterator[LiveServer]:
    with serve(versions_index, versions_engine, rate_per_minute=100_000) as live:
        yield live


@pytest.fixture(scope="session")
def http_engine(http_index, embedder):
    from retrieval.engine import AnswerEngine

    return AnswerEngine.open(http_index, embedder=embedder)


@pytest.fixture(scope="session")
def server(http_index, http_engine) -> Iterator[LiveServer]:
    """No API keys, a generous rate limit: the server a person runs on their own machine."""
    with serve(http_index, http_engine, rate_per_minute=100_000) as live:
        yield live


@pytest.fixture(scope="session")
def keyed_server(http_index, http_engine) -> Iterator[LiveServer]:
    with serve(
        http_index, http_engine, api_keys=("key-one", "key-two"), rate_per_minute=100_000
    ) as live:
        yield live


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium from Debian's packages, driven by Selenium. Missing, the browser
    tests are skipped here, and fail in CI (``CI=true``), where .ci/run installs it."""
    chromium, driver = "/usr/bin/chromium", "/usr/bin/chromedriver"
    if not (os.path.exists(chromium) and os.path.exists(driver)):
        why = "no chromium: apt-get install chromium chromium-driver"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{why} (CI must run the browser tests)")
        pytest.skip(why)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(arg)
    options.add_argument("--window-size=1280,900")
    options.add_argument("--lang=zh-CN")
    driver_ = webdriver.Chrome(service=Service(driver), options=options)
    driver_.set_page_load_timeout(30)
    try:
        yield driver_
    finally:
        driver_.quit()
