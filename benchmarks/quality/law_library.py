"""Build a law library to measure the bot on, from a copy of the LawRefBook/Laws repository.

The repository (https://github.com/LawRefBook/Laws) holds Chinese laws, judicial
interpretations, departmental rules and several provinces' local regulations as Markdown:
``# 标题``, the adoption/amendment lines, ``<!-- INFO END -->``, then ``## 第一章 …`` and
``第一条 …`` paragraphs. A file's name is its title and, where known, its date:
``上海市社会救助条例(2024-12-31).md``.

This script picks a few hundred of those files, deterministically, and copies them byte for
byte (the Markdown as it is: reading it is the bot's job) into ``OUT/docs/``; it writes
``OUT/manifest.json`` listing every file picked, where it came from and why.

Kept out, always (a held-out library of that kind checks the bot, so nothing here may be
selected, read or tuned on): Beijing's local regulations (``DLC/北京地方法规/``, and any
title starting with 北京) and the national administrative regulations (``行政法规/``). Also
left out: cases (``案例/``), guides and tables (``其他/``), the repository's scripts and
``_index.md`` files, and files over ``--max-bytes``.

What is picked, in this order (a file picked for several reasons lists them all):

1. ``versions``: every title (file name without the date) that occurs with two or more
   different dates in the repository -- revised laws, judicial interpretations and local
   regulations, old and new side by side. A title present twice with the same date (the
   same law filed under two folders) is one document, the first path in sorted order.
2. ``jurisdictions``: the province-level local regulations whose title, with the province's
   name taken off (``上海市消防条例`` -> ``消防条例``), occurs in at least
   ``--min-provinces`` provinces: the same kind of rule in several places, with different
   figures. Every version of such a regulation is kept.
3. ``implemented-law``: the national law a picked ``…省实施《X法》办法`` implements (all
   its versions).
4. ``departmental``: every departmental rule (部门规章).
5. ``sample``: a fixed pseudo-random sample (sha1 of the path) of the other local
   regulations of each province (``--per-province``, city regulations included), of the
   laws (``--laws``) and of the judicial interpretations (``--judicial``), so that not
   every document has a look-alike.

``--city NAME`` builds a second library of another shape instead: one province-level city's
local regulations plus national documents, old and new versions side by side (the shape of
the held-out Beijing-plus-administrative-regulations library). It picks

1. ``city``: every local regulation of ``DLC/NAME地方法规/`` (every version; 重庆: 103);
2. ``versions``: every title of a national law, departmental rule or city regulation with
   two or more dates (33 laws; none of 重庆's regulations has two);
3. ``sample``: other national laws and departmental rules in sha1 order (of the path) up to
   ``--total`` documents in all. Judicial interpretations are not picked.

``--exclude MANIFEST`` (an earlier library's manifest.json) leaves out of the sample every
document that library holds, so that the second library is mostly new documents. Two kinds
of its documents are kept all the same: the city's regulations (all of them, as the held-out
library holds all of its city's) and the national version groups (the first library holds
every title with two dates, so leaving them out would leave no old and new versions side by
side). With the
defaults, 重庆 and ``/tmp/lawlib/manifest.json`` that is 370 documents: 103 of 重庆 (34 also
in the first library), 66 laws in 33 version groups (all in it) and 201 other laws (none
in it); no departmental rule is left that the first library lacks.

Document ids (paths under ``OUT/docs``, which ``ingest`` uses as doc_ids):
``法律/公司法(2023-12-29).md``, ``司法解释/….md``, ``部门规章/….md``,
``地方性法规/上海/上海市社会救助条例(2024-12-31).md``.

The repository is read with git (``git ls-tree``/``git cat-file`` at ``--rev``), so a bare
mirror works; a plain directory that is not a git repository is walked instead. The same
input and options give the same output.

    python -m benchmarks.quality.law_library /path/to/Laws /tmp/lawlib
    python -m benchmarks.quality.law_library /path/to/Laws /tmp/lawlib --sample DIR
    python -m benchmarks.quality.law_library /path/to/Laws /tmp/lawlib2 --city 重庆 \\
        --exclude /tmp/lawlib/manifest.json
    python -m bot ingest --index /tmp/lawlib-index --corpus /tmp/lawlib/docs
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

# Top folders of national laws (法律) in the repository.
LAW_FOLDERS = (
    "宪法",
    "宪法相关法",
    "民法典",
    "民法商法",
    "行政法",
    "经济法",
    "社会法",
    "刑法",
    "诉讼与非诉讼程序法",
)
JUDICIAL_FOLDER = "司法解释"
DEPARTMENTAL_FOLDER = "部门规章"
LOCAL_FOLDER = "DLC"
# Never selected, never read (see the module docstring).
EXCLUDED_PREFIXES = ("行政法规/", "DLC/北京地方法规/")
EXCLUDED_TITLE = re.compile(r"^北京")
PROVINCE_NAMES = {
    "上海": "上海市",
    "重庆": "重庆市",
    "天津": "天津市",
    "山东": "山东省",
    "河南": "河南省",
    "浙江": "浙江省",
    "广东": "广东省",
    "河北": "河北省",
    "江苏": "江苏省",
}
# The small sample shipped as test data (tests/data/law_sample/, written by --sample):
# doc_ids holding one of these strings; 25 documents, about 0.56 MB.
SAMPLE = (
    "消防条例",  # one rule in five provinces
    "人口与计划生育条例",  # ditto, leave days that differ by province
    "生活垃圾管理条例",  # three provinces
    "上海市殡葬管理条例",  # version pairs: Shanghai regulations ...
    "上海市未成年人保护条例",
    "上海市中小学校学生伤害事故处理条例",
    "法律/反垄断法",  # ... and national laws
    "法律/行政复议法",
    "道路交通安全违法行为记分管理办法",  # departmental rules
    "家用汽车产品修理更换退货责任规定",
)
_NAME = re.compile(r"^(?P<title>.+?)(?:\((?P<date>\d{4}-\d{2}-\d{2})\))?\.md$")
_IMPLEMENTS = re.compile(r"实施《(?P<law>[^》]+)》")


@dataclass
class Entry:
    path: str  # path in the repository
    size: int
    kind: str  # law | judicial | departmental | local
    title: str
    date: str | None
    jurisdiction: str  # 国家 or the province folder's name (上海, 山东, ...)
    reasons: list[str] = field(default_factory=list)

    @property
    def doc_id(self) -> str:
        name = self.path.rsplit("/", 1)[-1]
        folder = {"law": "法律", "judicial": "司法解释", "departmental": "部门规章"}.get(self.kind)
        return f"{folder}/{name}" if folder else f"地方性法规/{self.jurisdiction}/{name}"

    @property
    def rule(self) -> str:
        """The title without its province's name: the kind of rule, across provinces."""
        prefix = PROVINCE_NAMES.get(self.jurisdiction, self.jurisdiction)
        if self.kind == "local" and self.title.startswith(prefix):
            return self.title[len(prefix) :]
        return self.title


def _git(repo: Path, *args: str) -> bytes:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True).stdout


def _is_git(repo: Path) -> bool:
    try:
        _git(repo, "rev-parse", "--git-dir")
    except (subprocess.CalledProcessError, FileNotFoundError):
        return False
    return True


def list_files(repo: Path, rev: str) -> list[tuple[str, int]]:
    """(path, size) of every Markdown file at ``rev`` (git) or under ``repo`` (a plain copy)."""
    if _is_git(repo):
        out = _git(repo, "ls-tree", "-r", "-l", "-z", rev)
        files = []
        for record in out.split(b"\0"):
            if not record:
                continue
            meta, path = record.split(b"\t", 1)
            parts = meta.split()
            if parts[1] != b"blob" or not path.endswith(b".md"):
                continue
            files.append((path.decode("utf-8"), int(parts[3])))
        return sorted(files)
    return sorted(
        (p.relative_to(repo).as_posix(), p.stat().st_size)
        for p in repo.rglob("*.md")
        if ".git" not in p.parts
    )


def read_file(repo: Path, rev: str, path: str) -> bytes:
    if _is_git(repo):
        return _git(repo, "cat-file", "blob", f"{rev}:{path}")
    return (repo / path).read_bytes()


def classify(path: str, size: int) -> Entry | None:
    """An Entry for a file that may be selected, None for one that never may."""
    if path.startswith(EXCLUDED_PREFIXES):
        return None
    parts = path.split("/")
    match = _NAME.match(parts[-1])
    if not match or parts[-1] == "_index.md" or len(parts) < 2:
        return None
    title, date = match.group("title"), match.group("date")
    if EXCLUDED_TITLE.match(title):
        return None
    top = parts[0]
    if top in LAW_FOLDERS:
        return Entry(path, size, "law", title, date, "国家")
    if top == JUDICIAL_FOLDER:
        return Entry(path, size, "judicial", title, date, "国家")
    if top == DEPARTMENTAL_FOLDER:
        return Entry(path, size, "departmental", title, date, "国家")
    if top == LOCAL_FOLDER and len(parts) >= 3 and parts[1].endswith("地方法规"):
        province = parts[1][: -len("地方法规")]
        return Entry(path, size, "local", title, date, province)
    return None


def _hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


Titles = dict[tuple[str, str], list[Entry]]


def _pool(files: list[tuple[str, int]], max_bytes: int) -> tuple[list[Entry], Titles, list[str]]:
    """The selectable entries (sorted by path), the same grouped by (kind, title), and the
    paths left out for being over ``max_bytes``."""
    entries: dict[tuple[str, str, str | None], Entry] = {}
    too_large = []
    for path, size in files:
        entry = classify(path, size)
        if entry is None:
            continue
        if size > max_bytes:
            too_large.append(path)
            continue
        # the same title and date under two folders is one document
        entries.setdefault((entry.kind, entry.title, entry.date), entry)
    pool = sorted(entries.values(), key=lambda e: e.path)
    by_title: Titles = defaultdict(list)
    for entry in pool:
        by_title[(entry.kind, entry.title)].append(entry)
    return pool, by_title, too_large


def _picker(picked: dict[str, Entry], by_title: Titles) -> Callable[[Entry, str], None]:
    """``pick(entry, reason)``: put every version of the entry's title into ``picked``."""

    def pick(entry: Entry, reason: str) -> None:
        for version in by_title[(entry.kind, entry.title)]:
            if reason not in version.reasons:
                version.reasons.append(reason)
            picked[version.path] = version

    return pick


def select(files: list[tuple[str, int]], args: argparse.Namespace) -> tuple[list[Entry], dict]:
    """The picked entries (sorted by doc_id) and the groups that explain them."""
    pool, by_title, too_large = _pool(files, args.max_bytes)
    picked: dict[str, Entry] = {}
    pick = _picker(picked, by_title)

    version_groups = {}
    for (_kind, title), group in sorted(by_title.items()):
        dates = {e.date for e in group}
        if len(group) >= 2 and len(dates) == len(group):
            version_groups[title] = [e.doc_id for e in sorted(group, key=lambda e: e.date or "")]
            pick(group[0], "versions")

    rules: dict[str, dict[str, list[Entry]]] = defaultdict(lambda: defaultdict(list))
    for entry in pool:
        if entry.kind == "local" and entry.rule != entry.title:
            rules[entry.rule][entry.jurisdiction].append(entry)
    jurisdiction_groups = {}
    for rule, places in sorted(rules.items()):
        if len(places) >= args.min_provinces:
            jurisdiction_groups[rule] = sorted(places)
            for group in places.values():
                pick(group[0], "jurisdictions")

    laws = {e.title: e for e in pool if e.kind == "law"}
    for entry in list(picked.values()):
        match = _IMPLEMENTS.search(entry.title) if entry.kind == "local" else None
        if match and match.group("law") in laws:
            pick(laws[match.group("law")], "implemented-law")

    for entry in pool:
        if entry.kind == "departmental":
            pick(entry, "departmental")

    rest = [e for e in pool if e.path not in picked]
    rest.sort(key=lambda e: _hash(e.path))
    quota = {"law": args.laws, "judicial": args.judicial}
    taken: dict[str, int] = defaultdict(int)
    for entry in rest:
        if entry.path in picked:
            continue
        key = entry.kind if entry.kind != "local" else f"local:{entry.jurisdiction}"
        limit = quota.get(entry.kind, args.per_province if entry.kind == "local" else 0)
        if taken[key] < limit:
            taken[key] += 1
            pick(entry, "sample")

    chosen = sorted(picked.values(), key=lambda e: e.doc_id)
    groups = {
        "versions": {t: ids for t, ids in version_groups.items()},
        "jurisdictions": {
            rule: {place: [e.doc_id for e in rules[rule][place]] for place in places}
            for rule, places in jurisdiction_groups.items()
        },
        "left_out_too_large": too_large,
    }
    return chosen, groups


def select_city(files: list[tuple[str, int]], args: argparse.Namespace) -> tuple[list[Entry], dict]:
    """The second shape (``--city``): one city's local regulations and national documents."""
    pool, by_title, too_large = _pool(files, args.max_bytes)
    earlier: set[str] = set()
    if args.exclude:
        manifest = json.loads(Path(args.exclude).read_text(encoding="utf-8"))
        earlier = {f["doc_id"] for f in manifest["files"]}
    national = ("law", "departmental")
    picked: dict[str, Entry] = {}
    pick = _picker(picked, by_title)

    for entry in pool:
        if entry.kind == "local" and entry.jurisdiction == args.city:
            pick(entry, "city")
    if not picked:
        raise SystemExit(f"no local regulations of {args.city} (DLC/{args.city}地方法规/)")

    version_groups = {}
    for (kind, title), group in sorted(by_title.items()):
        if kind not in national and group[0].path not in picked:
            continue
        if len(group) >= 2 and len({e.date for e in group}) == len(group):
            version_groups[title] = [e.doc_id for e in sorted(group, key=lambda e: e.date or "")]
            pick(group[0], "versions")

    rest = [e for e in pool if e.kind in national and e.path not in picked]
    left_out = sorted(e.doc_id for e in rest if e.doc_id in earlier)
    rest = sorted((e for e in rest if e.doc_id not in earlier), key=lambda e: _hash(e.path))
    for entry in rest[: max(0, args.total - len(picked))]:
        pick(entry, "sample")

    chosen = sorted(picked.values(), key=lambda e: e.doc_id)
    groups = {
        "versions": version_groups,
        "jurisdictions": {},
        "left_out_too_large": too_large,
        "left_out_earlier": left_out,
    }
    return chosen, groups


def build(args: argparse.Namespace) -> dict:
    repo = Path(args.repo)
    files = list_files(repo, args.rev)
    if not files:
        raise SystemExit(f"no Markdown files found in {repo} at {args.rev}")
    chosen, groups = select_city(files, args) if args.city else select(files, args)
    out = Path(args.out)
    docs = out / "docs"
    if docs.exists():
        shutil.rmtree(docs)
    docs.mkdir(parents=True)
    commit = None
    if _is_git(repo):
        commit = _git(repo, "rev-parse", args.rev).decode().strip()
    for entry in chosen:
        target = docs / entry.doc_id
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(read_file(repo, args.rev, entry.path))
    names = ("min_provinces", "per_province", "laws", "judicial", "max_bytes")
    if args.city:
        names = ("city", "total", "exclude", "max_bytes")
    options = {name: getattr(args, name) for name in names}
    counts: dict[str, int] = defaultdict(int)
    for entry in chosen:
        counts[entry.kind if entry.kind != "local" else f"local:{entry.jurisdiction}"] += 1
    manifest = {
        "source": "https://github.com/LawRefBook/Laws",
        "commit": commit,
        "options": options,
        "excluded": "Beijing local regulations (DLC/北京地方法规/, titles starting 北京) and "
        "national administrative regulations (行政法规/): never selected or read",
        "documents": len(chosen),
        "counts": dict(sorted(counts.items())),
        "bytes": sum(e.size for e in chosen),
        "files": [
            {
                "doc_id": e.doc_id,
                "source_path": e.path,
                "kind": e.kind,
                "jurisdiction": e.jurisdiction,
                "title": e.title,
                "date": e.date,
                "rule": e.rule,
                "reasons": e.reasons,
            }
            for e in chosen
        ],
        **groups,
    }
    (out / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    if args.sample:
        write_sample(docs, Path(args.sample), manifest)
    return manifest


def write_sample(docs: Path, sample: Path, manifest: dict) -> None:
    """Copy the SAMPLE documents of the library into ``sample`` (flat manifest.json too)."""
    files = [f for f in manifest["files"] if any(s in f["doc_id"] for s in SAMPLE)]
    if sample.exists():
        shutil.rmtree(sample)
    for f in files:
        target = sample / f["doc_id"]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(docs / f["doc_id"], target)
    part = {k: manifest[k] for k in ("source", "commit", "excluded")}
    part.update(documents=len(files), files=files)
    (sample / "manifest.json").write_text(
        json.dumps(part, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.quality.law_library",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "repo", help="a copy of LawRefBook/Laws: a bare mirror, a checkout or a plain folder"
    )
    parser.add_argument("out", help="output folder: OUT/docs/ (the library) and OUT/manifest.json")
    parser.add_argument("--rev", default="HEAD", help="git revision to read (default HEAD)")
    parser.add_argument(
        "--min-provinces",
        type=int,
        default=3,
        help="jurisdiction groups: provinces with the rule (default 3)",
    )
    parser.add_argument(
        "--per-province",
        type=int,
        default=6,
        help="sampled other local regulations per province (default 6)",
    )
    parser.add_argument("--laws", type=int, default=20, help="sampled other laws (default 20)")
    parser.add_argument(
        "--judicial", type=int, default=10, help="sampled judicial interpretations (default 10)"
    )
    parser.add_argument(
        "--max-bytes",
        type=int,
        default=120_000,
        help="leave out files larger than this (default 120000)",
    )
    parser.add_argument(
        "--city",
        metavar="NAME",
        help="build the second shape instead: every local regulation of this province-level "
        "city (a DLC folder's name: 重庆) plus national laws and departmental rules",
    )
    parser.add_argument(
        "--total",
        type=int,
        default=370,
        help="with --city: documents in all, filled with sampled national ones (default 370)",
    )
    parser.add_argument(
        "--exclude",
        metavar="MANIFEST",
        help="with --city: leave out the national documents of an earlier library's "
        "manifest.json (not its version groups, nor the city's regulations)",
    )
    parser.add_argument(
        "--sample",
        metavar="DIR",
        help="also copy the small test sample (SAMPLE in this file) into DIR, "
        "e.g. tests/data/law_sample",
    )
    args = parser.parse_args(argv)
    if args.exclude and not args.city:
        parser.error("--exclude needs --city")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    manifest = build(args)
    print(f"{manifest['documents']} documents, {manifest['bytes'] / 1e6:.1f} MB -> {args.out}/docs")
    for key, value in manifest["counts"].items():
        print(f"  {key}: {value}")
    versions, places = len(manifest["versions"]), len(manifest["jurisdictions"])
    print(f"  version groups: {versions}, jurisdiction groups: {places}")
    if args.exclude:
        print(f"  left out, in {args.exclude}: {len(manifest['left_out_earlier'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
