// The page of `python -m bot serve`: ask, read the answer first, open the cited document.
// Everything that comes from the documents is set as text (textContent), never as HTML.
"use strict";

const EXAMPLES = ["通武廊签署了什么协议", "北京2019年推进京津冀协同发展的工作要点有哪些", "京津冀协同发展的核心是什么"];
const OFF_TOPIC_EXAMPLES = [EXAMPLES[0], EXAMPLES[2]];
const WEAK_SHOWN = 2; // candidates under a not-confident note (bot/answer_layout.py)
const LEAD_CHARS = 300;
const LINE_CHARS = 160;
const ECHO_CHARS = 60;
const KEY_STORE = "qabot-api-key";

const $ = (id) => document.getElementById(id);

// el("p", {className: "x"}, "text", childNode …): children are text or nodes, never HTML
function el(tag, props, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props || {});
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

// -- talking to the server -------------------------------------------------------------

class ApiError extends Error {
  constructor(status, message, retryAfter) {
    super(message);
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

async function api(path, body) {
  const headers = { Accept: "application/json" };
  const key = localStorage.getItem(KEY_STORE);
  if (key) headers.Authorization = "Bearer " + key;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method: body === undefined ? "GET" : "POST",
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try {
    data = await response.json();
  } catch (_) {
    data = null;
  }
  if (!response.ok) {
    const message = (data && data.error && data.error.message) || "请求失败（" + response.status + "）";
    throw new ApiError(response.status, message, response.headers.get("Retry-After"));
  }
  return data;
}

function explain(error) {
  if (error.status === 401) {
    $("key-form").hidden = false;
    $("key").focus();
    return "请先输入 API 密钥。";
  }
  if (error.status === 429) return "提问太快了，请过 " + (error.retryAfter || "几") + " 秒再问。";
  if (error.status === 503) return "服务正在加载或繁忙，请稍后再试。";
  if (error.status === 504) return "这个问题处理得太久了，请稍后再试。";
  if (error.status === undefined) return "连不上服务器，请检查网络后再试。";
  return error.message;
}

// -- what a reply shows first (the order of bot/answer_layout.py) ----------------------

function merge(marks, length) {
  const spans = marks
    .map(([a, b]) => [Math.max(0, a), Math.min(length, b)])
    .filter(([a, b]) => b > a)
    .sort((x, y) => x[0] - y[0]);
  const merged = [];
  for (const [a, b] of spans) {
    const last = merged[merged.length - 1];
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else merged.push([a, b]);
  }
  return merged;
}

function firstSentence(text) {
  const match = /[^。！？!?\n]*[。！？!?]?/.exec(text.trim());
  const start = text.indexOf(text.trim());
  return match && match[0] ? [[start, start + match[0].length]] : [];
}

function clip(text, size) {
  return text.length <= size ? text : text.slice(0, size) + "…";
}

// The answering sentence(s) as one line: the marks, joined with " … " where apart.
function leadText(result, size) {
  let spans = merge(result.marks, result.excerpt.length);
  if (!spans.length) spans = firstSentence(result.excerpt);
  let text = "";
  spans.forEach(([a, b], i) => {
    const part = result.excerpt.slice(a, b).split(/\s+/).join(" ").trim();
    if (i > 0) text += result.excerpt.slice(spans[i - 1][1], a).trim() ? " … " : " ";
    text += part;
  });
  return clip(text, size);
}

function where(result) {
  return [result.section, result.article].filter(Boolean).join(" › ");
}

function titled(result) {
  let title = "《" + result.title + "》";
  if (result.doc_number && !result.title.includes(result.doc_number)) title += "（" + result.doc_number + "）";
  return title;
}

function docHref(result) {
  const q = "?start=" + result.start + "&end=" + result.end;
  return "/documents/" + encodeURIComponent(result.doc_id) + q;
}

// 《title》（文号） · heading › article · date · source · issuer, the title a link to the passage
function citation(result) {
  const known = result.title + " " + (result.source || "");
  const issuer = result.issuer && !known.includes(result.issuer) ? result.issuer : null;
  const rest = [where(result), result.date, result.source, issuer].filter(Boolean);
  const link = el("a", { href: docHref(result), className: "doc-link" }, titled(result));
  link.dataset.nav = "";
  return el("p", { className: "cite" }, "—— ", link, rest.length ? " · " + rest.join(" · ") : "");
}

// 旧版（2016）· 已被 2022-05-25 版取代 under an older version's citation (bot/answer_layout.py)
function versionLabel(result) {
  if (!result.superseded_by) return null;
  const dates = [result.date, result.effective_date].filter(Boolean).sort();
  const year = dates.length ? dates[dates.length - 1].slice(0, 4) : "";
  const old = year ? "旧版（" + year + "）" : "旧版";
  const newer = result.superseded_date ? "已被 " + result.superseded_date + " 版取代" : "已有新版";
  return old + "· " + newer;
}

function superseded(result) {
  const label = versionLabel(result);
  return label ? el("p", { className: "superseded" }, label) : null;
}

// 注意：… (a place or time no cited document matches), shown above the results
function noteLine(answer) {
  return answer.note ? el("p", { className: "caution", role: "note" }, "注意：" + answer.note) : null;
}

// A question over 500 characters was searched by its start (`truncated`, bot/question_limit.py)
function shortenedLine(answer, asked) {
  if (!answer.truncated) return null;
  const chars = (text) => Array.from(text).length; // characters, as the server counts them
  return el("p", { className: "caution", role: "note" },
    "您的问题有 " + chars(asked) + " 个字，太长了，只按前 " + chars(answer.question) + " 个字检索。");
}

// The excerpt with its marks in <mark>, as text nodes
function markedText(text, marks) {
  const box = el("div", { className: "excerpt" });
  let pos = 0;
  for (const [a, b] of merge(marks, text.length)) {
    if (a > pos) box.append(text.slice(pos, a));
    box.append(el("mark", {}, text.slice(a, b)));
    pos = b;
  }
  if (pos < text.length) box.append(text.slice(pos));
  return box;
}

function votes(question, result) {
  const box = el("div", { className: "votes" });
  const thanks = el("span", { className: "thanks", role: "status" });
  for (const [vote, label, name] of [["up", "👍", "有帮助"], ["down", "👎", "没帮助"]]) {
    const button = el("button", { type: "button", className: "vote " + vote, title: name }, label + " " + name);
    button.addEventListener("click", async () => {
      try {
        await api("/api/feedback", {
          question, doc_id: result.doc_id, start: result.start, end: result.end, vote, rank: result.rank,
        });
        box.querySelectorAll("button").forEach((b) => b.setAttribute("aria-pressed", String(b === button)));
        thanks.textContent = vote === "up" ? "谢谢反馈！" : "谢谢反馈，我们会据此改进。";
      } catch (error) {
        thanks.textContent = explain(error);
      }
    });
    box.append(button);
  }
  box.append(thanks);
  return box;
}

function compact(result) {
  return el("li", { className: "result" }, el("p", { className: "line" }, leadText(result, LINE_CHARS)),
    citation(result), superseded(result));
}

function exampleButtons(questions) {
  return el("ul", { className: "examples" }, ...questions.map((q) =>
    el("li", {}, Object.assign(el("button", { type: "button", className: "example" }, q), {
      onclick: () => ask(q),
    }))));
}

function sourcesLink(text) {
  const link = el("a", { href: "/sources" }, text);
  link.dataset.nav = "";
  return link;
}

function renderAnswer(answer, asked) {
  const card = el("div", { className: "answer" });
  const echo = clip(answer.question, ECHO_CHARS);
  const results = answer.results || [];
  const shortened = shortenedLine(answer, asked || answer.question);
  if (shortened) card.append(shortened);
  if (answer.off_topic || !results.length) {
    card.classList.add("off-topic");
    card.append(
      el("p", { className: "note" }, "抱歉，收录的文件里没有与“" + echo + "”相关的内容。"),
      ...[noteLine(answer)].filter(Boolean),
      el("p", {}, "可以换个说法再问，或", sourcesLink("查看收录了哪些文件"), "。也可以试试这样问："),
      exampleButtons(OFF_TOPIC_EXAMPLES),
    );
    return card;
  }
  if (!answer.confident) {
    card.classList.add("weak");
    card.append(
      ...[noteLine(answer)].filter(Boolean),
      el("p", { className: "note" }, "抱歉，没有找到能明确回答“" + echo + "”的段落。",
        el("strong", {}, "最接近的段落（相关度较低，仅供参考）：")),
      el("ol", { className: "others" }, ...results.slice(0, WEAK_SHOWN).map(compact)),
      el("p", { className: "rephrase" }, "可以换个说法、用文件里的词语再问一次（例如“通武廊”“非首都功能疏解”），或",
        sourcesLink("查看收录了哪些文件"), "。"),
      votes(answer.question, results[0]),
    );
    return card;
  }
  const top = results[0];
  const context = el("details", { className: "context" }, el("summary", {}, "原文上下文"),
    markedText(top.excerpt, top.marks));
  card.append(...[
    noteLine(answer),
    el("p", { className: "lead" }, top.marks.length ? el("mark", {}, leadText(top, LEAD_CHARS)) : leadText(top, LEAD_CHARS)),
    citation(top),
    superseded(top),
    context,
    votes(answer.question, top),
  ].filter(Boolean));
  if (results.length > 1) {
    card.append(el("h2", { className: "others-title" }, "其他结果"),
      el("ol", { className: "others", start: 2 }, ...results.slice(1).map(compact)));
  }
  return card;
}

// -- views -----------------------------------------------------------------------------

async function ask(question) {
  question = (question || "").trim();
  if (!question) return;
  $("q").value = "";
  $("intro").hidden = true;
  const item = el("li", { className: "exchange" }, el("p", { className: "question" }, question));
  const waiting = el("p", { className: "waiting" }, "正在查找…");
  item.append(waiting);
  $("conversation").append(item);
  history.replaceState(null, "", "/?q=" + encodeURIComponent(question));
  $("status").textContent = "正在查找…";
  try {
    const answer = await api("/api/ask", { question, top_k: 3 });
    waiting.replaceWith(renderAnswer(answer, question));
    $("status").textContent = answer.off_topic ? "没有相关内容。" : answer.confident ? "已回答。" : "没有找到明确的回答。";
  } catch (error) {
    waiting.replaceWith(el("p", { className: "error" }, explain(error)));
    $("status").textContent = "出错了。";
  }
  item.scrollIntoView({ block: "start" });
}

function show(view) {
  for (const id of ["ask-view", "sources-view", "doc-view"]) $(id).hidden = id !== view;
}

async function showSources() {
  show("sources-view");
  document.title = "收录文件 · 京津冀政策问答";
  const list = $("sources-list");
  list.replaceChildren();
  try {
    const page = await api("/api/sources?limit=500");
    $("sources-count").textContent = "共 " + page.total + " 篇";
    for (const s of page.sources) {
      const link = el("a", { href: "/documents/" + encodeURIComponent(s.doc_id) }, "《" + s.title + "》");
      link.dataset.nav = "";
      list.append(el("li", {}, link, el("span", { className: "meta" },
        " " + [s.date, s.source, s.chars + " 字"].filter(Boolean).join(" · "))));
    }
  } catch (error) {
    $("sources-count").textContent = explain(error);
  }
}

async function showDocument(docId, start, end) {
  show("doc-view");
  const text = $("doc-text");
  text.replaceChildren();
  $("doc-title").textContent = "";
  $("doc-meta").textContent = "正在打开…";
  try {
    const doc = await api("/api/documents/" + encodeURIComponent(docId));
    document.title = doc.title + " · 京津冀政策问答";
    $("doc-title").textContent = "《" + doc.title + "》";
    const meta = [doc.doc_number, doc.issuer, doc.date, doc.source].filter(Boolean).join(" · ");
    $("doc-meta").replaceChildren(meta);
    if (doc.url && /^https?:\/\//i.test(doc.url)) {
      $("doc-meta").append(" · ", el("a", { href: doc.url, rel: "noopener noreferrer" }, "原始链接"));
    }
    const valid = Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start < end && end <= doc.text.length;
    if (!valid) {
      text.append(doc.text);
      return;
    }
    const hit = el("mark", { id: "hit", tabIndex: -1 }, doc.text.slice(start, end));
    text.append(doc.text.slice(0, start), hit, doc.text.slice(end));
    hit.scrollIntoView({ block: "center" });
    hit.focus({ preventScroll: true });
  } catch (error) {
    $("doc-meta").textContent = explain(error);
  }
}

function route() {
  const url = new URL(location.href);
  if (url.pathname === "/sources") return showSources();
  if (url.pathname.startsWith("/documents/")) {
    const id = decodeURIComponent(url.pathname.slice("/documents/".length));
    const number = (name) => (url.searchParams.has(name) ? Number(url.searchParams.get(name)) : NaN);
    return showDocument(id, number("start"), number("end"));
  }
  show("ask-view");
  document.title = "京津冀政策问答";
  const q = url.searchParams.get("q");
  if (q && !$("conversation").children.length) ask(q);
}

function navigate(href) {
  history.pushState(null, "", href);
  route();
  window.scrollTo(0, 0);
}

document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-nav]");
  if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
  event.preventDefault();
  navigate(link.getAttribute("href"));
});

document.addEventListener("DOMContentLoaded", () => {
  $("examples").replaceWith(exampleButtons(EXAMPLES));
  $("ask-form").addEventListener("submit", (event) => {
    event.preventDefault();
    ask($("q").value);
  });
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    localStorage.setItem(KEY_STORE, $("key").value.trim());
    $("key-form").hidden = true;
    $("status").textContent = "密钥已保存，请再问一次。";
    $("q").focus();
  });
  $("back").addEventListener("click", (event) => {
    if (history.length > 1) {
      event.preventDefault();
      history.back();
    }
  });
  window.addEventListener("popstate", route);
  route();
});
