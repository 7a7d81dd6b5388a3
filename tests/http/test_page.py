"""The web page in a real browser (headless Chromium from Debian, driven by Selenium)."""

from __future__ import annotations

import urllib.parse

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from tests.http.support import XSS_DOC

pytestmark = pytest.mark.browser
QUESTION = "通武廊在政务服务方面要全面实现什么？"
WAIT = 30


def wait_for(driver, css: str):
    WebDriverWait(driver, WAIT).until(lambda d: d.find_elements(By.CSS_SELECTOR, css))
    return driver.find_elements(By.CSS_SELECTOR, css)


def no_script_ran(driver) -> bool:
    return driver.execute_script("return document.body.dataset.xss === undefined")


def test_ask_by_keyboard_and_read_the_answer_first(browser, server):
    browser.get(server.url + "/")
    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.TAB)  # the skip link comes first
    assert browser.switch_to.active_element.get_attribute("class") == "skip"
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    browser.find_element(By.ID, "q").send_keys(QUESTION, Keys.ENTER)
    answer = wait_for(browser, ".answer")[0]
    lead = answer.find_element(By.CSS_SELECTOR, ".lead mark").text
    assert "全面实现“一地受理、异地审批”" in lead
    cite = answer.find_element(By.CSS_SELECTOR, ".cite")
    assert "《“通武廊”签署试点示范合作协议》" in cite.text and "2023-05-31" in cite.text
    context = answer.find_element(By.CSS_SELECTOR, "details.context")
    assert context.get_attribute("open") is None  # folded
    assert answer.find_elements(By.CSS_SELECTOR, ".others .result")
    assert urllib.parse.unquote(browser.current_url).endswith("/?q=" + QUESTION)  # shareable
    answer.find_element(By.CSS_SELECTOR, "button.vote.up").click()
    WebDriverWait(browser, WAIT).until(lambda d: "谢谢反馈" in answer.text)


def test_the_citation_opens_the_document_at_the_passage(browser, server):
    with server.client() as client:
        top = client.post("/api/ask", json={"question": QUESTION}).json()["results"][0]
    browser.get(server.url + "/?q=" + urllib.parse.quote(QUESTION))
    wait_for(browser, ".answer .doc-link")[0].click()
    hit = wait_for(browser, "#hit")[0]
    assert hit.text.split() == top["excerpt"].split()
    assert browser.find_element(By.ID, "doc-title").text == f"《{top['title']}》"
    assert urllib.parse.unquote(browser.current_url).endswith(
        f"/documents/{top['doc_id']}?start={top['start']}&end={top['end']}"
    )
    top_edge, height = browser.execute_script(
        "const r = document.getElementById('hit').getBoundingClientRect(); "
        "return [r.top, window.innerHeight];"
    )
    assert 0 <= top_edge < height  # scrolled into view
    browser.back()
    wait_for(browser, ".answer")


def test_traditional_share_link_off_topic_and_sources(browser, server):
    browser.get(server.url + "/?q=" + urllib.parse.quote("通武廊簽署了什麼協議？"))
    assert "通武廊" in wait_for(browser, ".answer .lead")[0].text
    browser.get(server.url + "/?q=" + urllib.parse.quote("2022年卡塔尔世界杯冠军是谁？"))
    off = wait_for(browser, ".answer.off-topic")[0]
    assert "没有与" in off.text and not off.find_elements(By.CSS_SELECTOR, ".cite")
    off.find_element(By.CSS_SELECTOR, "button.example").click()  # an example question
    assert len(wait_for(browser, ".answer .lead")) >= 1
    browser.get(server.url + "/sources")
    items = wait_for(browser, "#sources-list li")
    assert len(items) == 6 and "共 6 篇" in browser.find_element(By.ID, "sources-count").text


def test_document_text_is_shown_as_text_and_runs_nothing(browser, server):
    browser.get(server.url + "/?q=" + urllib.parse.quote("跨站脚本测试文件的用途是什么"))
    answer = wait_for(browser, ".answer")[0]
    assert '<img src=x onerror="document.body.dataset.xss=1">' in answer.text
    assert not answer.find_elements(By.CSS_SELECTOR, "img, script")
    browser.get(server.url + "/documents/" + XSS_DOC + "?start=0&end=8")
    wait_for(browser, "#hit")
    text = browser.find_element(By.ID, "doc-text").text
    assert "<script>document.body.dataset.xss='1'</script>" in text
    assert "<img src=x onerror=" in browser.find_element(By.ID, "doc-title").text
    browser.get(server.url + "/sources")
    wait_for(browser, "#sources-list li")
    assert "<img src=x" in browser.find_element(By.ID, "sources-list").text
    assert no_script_ran(browser)
    assert not browser.find_elements(By.CSS_SELECTOR, "main img, main script")


def test_readable_on_a_390_px_phone(browser, server):
    metrics = {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True}
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    try:
        for question in (QUESTION, "北京2019年推进京津冀协同发展的工作要点有哪些"):
            browser.get(server.url + "/?q=" + urllib.parse.quote(question))
            wait_for(browser, ".answer")
            browser.find_element(By.CSS_SELECTOR, "details.context summary").click()
            widths = browser.execute_script(
                "return [document.documentElement.scrollWidth, window.innerWidth]"
            )
            assert widths[0] <= widths[1] == 390, widths  # no horizontal scrolling
        browser.find_element(By.CSS_SELECTOR, ".answer .doc-link").click()
        wait_for(browser, "#hit")
        assert browser.execute_script("return document.documentElement.scrollWidth") <= 390
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_the_note_and_an_older_version_are_shown(browser, versions_server):
    """Issue 26: the answer's note above the results; 旧版（2016）· 已被 2022-05-25 版取代 under
    the older version's citation; both as text."""
    label = "旧版（2016）· 已被 2022-05-25 版取代"
    elsewhere = "天津市城市更新条例对旧区改造有什么规定"  # only Shanghai's versions are there
    browser.get(versions_server.url + "/?q=" + urllib.parse.quote(elsewhere))
    answer = wait_for(browser, ".answer")[0]
    children = answer.find_elements(By.XPATH, "./*")
    assert "caution" in children[0].get_attribute("class")  # above the results
    assert children[0].text == "注意：收录的文件中没有天津市的相关规定；以下是上海市的规定"
    assert [e.text for e in answer.find_elements(By.CSS_SELECTOR, ".superseded")] == [label]
    browser.get(versions_server.url + "/?q=" + urllib.parse.quote("上海市旧区改造应当坚持什么原则"))
    answer = wait_for(browser, ".answer")[0]
    assert not answer.find_elements(By.CSS_SELECTOR, ".caution")
    old = answer.find_elements(By.CSS_SELECTOR, ".result .superseded")
    assert [e.text for e in old] == [label]
    item = old[0].find_element(By.XPATH, "./..")
    assert "《上海市城市更新条例》" in item.find_element(By.CSS_SELECTOR, ".cite").text


def test_a_question_over_500_characters_is_said_shortened(browser, server):
    """The page takes up to 1,000 characters; past 500 (``truncated``) a short note says
    that only the first 500 were searched, above the answer."""
    asked = (QUESTION * 40)[:600]
    browser.get(server.url + "/?q=" + urllib.parse.quote(asked))
    answer = wait_for(browser, ".answer")[0]
    first = answer.find_elements(By.XPATH, "./*")[0]
    assert "caution" in first.get_attribute("class")
    assert first.text == "您的问题有 600 个字，太长了，只按前 500 个字检索。"
    browser.get(server.url + "/?q=" + urllib.parse.quote(QUESTION))
    assert not wait_for(browser, ".answer")[0].find_elements(By.CSS_SELECTOR, ".caution")
