"""Issue 28, loading: files that cannot be read (kept, not removed), JSONL read record by
record, zip bombs, links that leave the corpus folder, and file names with control
characters. The ingest side (the index keeps what it could not read) is in
tests/bot/test_ingest_faults.py."""

from __future__ import annotations

import json
import os
import tracemalloc
import zipfile
from pathlib import Path

import pytest

import corpus.readers
from corpus.loading import load_corpus

TEXT = "京津冀协同发展是一项重大国家战略。通武廊签署了试点示范合作协议。\n"


def record(doc_id: str, text: str = TEXT) -> str:
    return json.dumps(
        {"doc_id": doc_id, "title": f"标题{doc_id}", "text": text}, ensure_ascii=False
    )


def unreadable(report) -> dict[str, tuple[str | None, str | None]]:
    """path -> (doc_id, prefix) of every unreadable source."""
    return {u.path: (u.doc_id, u.prefix) for u in report.unreadable}


# --- 1. a file that cannot be read is not a file that is gone --------------------------


def test_files_that_cannot_be_read_are_unreadable_not_gone(tmp_path, monkeypatch):
    monkeypatch.setenv("QABOT_MAX_FILE_MB", "0.01")
    (tmp_path / "ok.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / "big.txt").write_text(TEXT * 400, encoding="utf-8")
    (tmp_path / "binary.txt").write_bytes(bytes(range(128, 256)) * 4)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "link.txt").symlink_to("gone.txt")  # names a file that is not there
    (tmp_path / "sub" / "broken.docx").write_bytes(b"PK")
    (tmp_path / "empty.txt").write_text("  \n", encoding="utf-8")  # read fine: nothing in it
    (tmp_path / "picture.jpg").write_bytes(b"\xff\xd8")  # never a document

    report = load_corpus([tmp_path])
    assert [d.doc_id for d in report.documents] == ["ok.txt"]
    assert unreadable(report) == {
        str(tmp_path / "big.txt"): ("big.txt", None),
        str(tmp_path / "binary.txt"): ("binary.txt", None),
        str(tmp_path / "sub" / "link.txt"): ("sub/link.txt", None),
        str(tmp_path / "sub" / "broken.docx"): ("sub/broken.docx", None),
    }
    reasons = dict(report.skipped)  # every unreadable source is skipped with its reason too
    assert (
        reasons[str(tmp_path / "sub" / "link.txt")] == "cannot open file: No such file or directory"
    )
    assert {u.reason for u in report.unreadable} <= set(reasons.values())


def test_a_file_gone_between_listing_and_reading_is_unreadable(tmp_path, monkeypatch):
    (tmp_path / "a.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / "b.txt").write_text(TEXT, encoding="utf-8")

    def vanishing(path: Path):
        if path.name == "b.txt":
            raise FileNotFoundError(2, "No such file or directory")
        return corpus.readers.read_plain(path)

    monkeypatch.setitem(corpus.readers.READERS, ".txt", vanishing)
    report = load_corpus([tmp_path])
    assert [d.doc_id for d in report.documents] == ["a.txt"]
    assert unreadable(report) == {str(tmp_path / "b.txt"): ("b.txt", None)}


def test_a_folder_that_cannot_be_listed_is_reported_and_covers_its_files(tmp_path, monkeypatch):
    (tmp_path / "a.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / "locked" / "deeper").mkdir(parents=True)
    (tmp_path / "locked" / "deeper" / "b.txt").write_text(TEXT, encoding="utf-8")
    real_scandir = os.scandir

    def scandir(path):
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    report = load_corpus([tmp_path])
    assert [d.doc_id for d in report.documents] == ["a.txt"]
    locked = str(tmp_path / "locked")
    assert dict(report.skipped) == {locked: "cannot list the folder: Permission denied"}
    (source,) = report.unreadable
    assert (source.path, source.prefix) == (locked, "locked/")
    assert source.covers("locked/deeper/b.txt") and not source.covers("lockedout.txt")
    owner = report.keeps()
    assert owner("locked/deeper/b.txt") is source and owner("a.txt") is None


def test_a_jsonl_file_that_cannot_be_read_covers_every_id_not_loaded(tmp_path):
    (tmp_path / "a.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / "docs.jsonl").symlink_to("missing.jsonl")
    report = load_corpus([tmp_path])
    (source,) = report.unreadable
    assert source.path == str(tmp_path / "docs.jsonl") and source.reason.startswith("cannot read")
    owner = report.keeps()
    assert owner("any/record") is source and owner("a.txt") is None  # a.txt was loaded


# --- 2. JSONL is a container, not a file -------------------------------------------------


def test_a_jsonl_larger_than_the_cap_loads_every_record(tmp_path, monkeypatch):
    monkeypatch.setenv("QABOT_MAX_FILE_MB", "0.01")  # about 10 KB a record
    path = tmp_path / "export.jsonl"
    path.write_text("\n".join(record(f"r{i}") for i in range(400)) + "\n", encoding="utf-8")
    assert path.stat().st_size > 5 * 0.01 * 2**20  # the file is well over the cap
    report = load_corpus([path])
    assert [d.doc_id for d in report.documents] == [f"r{i}" for i in range(400)]
    assert report.skipped == []


def test_one_over_long_record_skips_only_itself(tmp_path, monkeypatch):
    monkeypatch.setenv("QABOT_MAX_FILE_MB", "0.01")
    path = tmp_path / "export.jsonl"
    lines = [record("before"), record("huge", TEXT * 200), "", record("after")]
    path.write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8"))  # BOM, CRLF
    report = load_corpus([path])
    assert [d.doc_id for d in report.documents] == ["before", "after"]
    ((where, reason),) = report.skipped
    assert where == f"{path}:2"
    assert reason.startswith("record too large (") and "MB a record" in reason
    assert "QABOT_MAX_FILE_MB" in reason
    (source,) = report.unreadable  # its doc_id is read from the line's head: kept
    assert (source.path, source.doc_id) == (where, "huge")


def test_jsonl_memory_is_bounded_by_the_record_not_the_line(tmp_path, monkeypatch):
    monkeypatch.setenv("QABOT_MAX_FILE_MB", "0.05")
    path = tmp_path / "export.jsonl"
    with path.open("wb") as out:
        out.write((record("a") + "\n").encode())
        out.write(b'{"doc_id": "big", "title": "t", "text": "')
        for _ in range(40):  # one 40 MB line
            out.write(b"x" * 2**20)
        out.write(b'"}\n' + (record("b") + "\n").encode())
    tracemalloc.start()
    try:
        report = load_corpus([path])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [d.doc_id for d in report.documents] == ["a", "b"]
    assert "40.0 MB" in report.skipped[0][1]
    assert peak < 4 * 2**20, f"peak {peak / 2**20:.1f} MB for a 40 MB line"


def test_jsonl_records_decode_one_by_one(tmp_path):
    path = tmp_path / "mixed.jsonl"
    gbk = record("gbk").encode("gb18030")  # a legacy export still loads, record by record
    broken = b'{"doc_id": "bad", "title": "\xff\xfe\x80", "text": "x"}'
    path.write_bytes(record("utf8").encode() + b"\n" + gbk + b"\n" + broken + b"\n")
    report = load_corpus([path])
    assert [d.doc_id for d in report.documents] == ["utf8", "gbk"]
    assert report.documents[1].text == TEXT.strip()
    assert report.skipped == [(f"{path}:3", "cannot decode the line (not UTF-8, GB18030 or Big5)")]
    utf16 = tmp_path / "utf16.jsonl"
    utf16.write_text(record("x"), encoding="utf-16")
    report = load_corpus([utf16])
    assert report.skipped == [
        (str(utf16), "cannot read JSONL: it is UTF-16; JSONL is UTF-8 (save it as UTF-8)")
    ]


def test_a_broken_record_keeps_the_doc_id_it_names(tmp_path):
    path = tmp_path / "export.jsonl"
    lines = ['{"doc_id": "cut/1", "title": "半', '{"doc_id": "no-text", "title": "t"}', "{nothing"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = load_corpus([path])
    assert [w for w, _ in report.skipped] == [f"{path}:{n}" for n in (1, 2, 3)]
    assert [(u.path, u.doc_id) for u in report.unreadable] == [
        (f"{path}:1", "cut/1"),
        (f"{path}:2", "no-text"),
    ]


# --- 3. zip bombs ---------------------------------------------------------------------------


def write_docx_shaped(path: Path, members: dict[str, tuple[bytes, int]]) -> None:
    """A zip with each member written as ``chunk`` repeated ``times`` (never held whole)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, (chunk, times) in members.items():
            with archive.open(name, "w", force_zip64=True) as member:
                for _ in range(times):
                    member.write(chunk)


def test_a_zip_bomb_docx_is_refused_before_it_is_inflated(tmp_path):
    bomb = tmp_path / "bomb.docx"
    write_docx_shaped(
        bomb, {"[Content_Types].xml": (b"<x/>", 1), "word/document.xml": (b"\0" * 2**20, 64)}
    )
    assert bomb.stat().st_size < 2**20  # 64 MB of zeros in well under 1 MB
    (tmp_path / "ok.txt").write_text(TEXT, encoding="utf-8")
    tracemalloc.start()
    try:
        report = load_corpus([tmp_path])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [d.doc_id for d in report.documents] == ["ok.txt"]
    reason = dict(report.skipped)[str(bomb)]
    assert reason.startswith("cannot read DOCX: refused as a zip bomb: its part word/document.xml")
    assert "64.0 MB" in reason and "the limit is 100:1 for parts over 4.0 MB" in reason
    assert "\n" not in reason and peak < 8 * 2**20
    assert unreadable(report) == {str(bomb): ("bomb.docx", None)}


def test_a_docx_whose_parts_are_too_large_in_all_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("QABOT_MAX_FILE_MB", "0.5")  # parts may hold 2 MB in all
    big = tmp_path / "big.docx"
    write_docx_shaped(big, {"word/document.xml": (b"\0" * 2**20, 3)})  # 3 MB inside
    assert big.stat().st_size < 0.5 * 2**20  # under the file cap; no part over 4 MB
    reason = dict(load_corpus([tmp_path]).skipped)[str(big)]
    assert reason == (
        "cannot read DOCX: refused as a zip bomb: its parts would expand to 3.0 MB"
        " (the limit is 2.0 MB, 4 × QABOT_MAX_FILE_MB)"
    )


# --- 4. links that leave the corpus folder --------------------------------------------------


def test_a_link_out_of_the_corpus_folder_is_not_followed(tmp_path):
    corpus_dir, outside = tmp_path / "corpus", tmp_path / "outside"
    corpus_dir.mkdir()
    outside.mkdir()
    secret = outside / "passwd.txt"
    secret.write_text(
        "root:x:0:0:root:/root:/bin/bash\n秘密文件内容不应被收录。\n", encoding="utf-8"
    )
    (outside / "more.txt").write_text(TEXT, encoding="utf-8")
    (corpus_dir / "a.txt").write_text(TEXT, encoding="utf-8")
    (corpus_dir / "passwd.txt").symlink_to(secret)
    (corpus_dir / "elsewhere").symlink_to(outside)
    (corpus_dir / "alias.txt").symlink_to("a.txt")  # inside the folder: fine

    report = load_corpus([corpus_dir])
    assert [d.doc_id for d in report.documents] == ["a.txt", "alias.txt"]
    reasons = dict(report.skipped)
    assert reasons[str(corpus_dir / "passwd.txt")] == (
        f"a link to a file outside the corpus folder ({secret}); use --follow-symlinks to allow"
    )
    assert reasons[str(corpus_dir / "elsewhere")].startswith("a link to a folder outside")
    assert report.unreadable == []  # not kept either: what it indexed before is removed

    followed = load_corpus([corpus_dir], follow_symlinks=True)
    ids = [d.doc_id for d in followed.documents]
    assert ids == ["a.txt", "alias.txt", "elsewhere/more.txt", "elsewhere/passwd.txt", "passwd.txt"]


def test_linked_folders_never_loop(tmp_path):
    corpus_dir, outside = tmp_path / "corpus", tmp_path / "outside"
    (corpus_dir / "sub").mkdir(parents=True)
    outside.mkdir()
    (corpus_dir / "sub" / "a.txt").write_text(TEXT, encoding="utf-8")
    (corpus_dir / "sub" / "up").symlink_to(corpus_dir)  # a loop inside the folder
    (corpus_dir / "sub" / "again").symlink_to(corpus_dir / "sub")
    (outside / "b.txt").write_text(TEXT, encoding="utf-8")
    (outside / "back").symlink_to(outside)  # a loop outside it
    (outside / "corpus").symlink_to(corpus_dir)
    (corpus_dir / "out").symlink_to(outside)
    for follow in (False, True):
        report = load_corpus([corpus_dir], follow_symlinks=follow)
        ids = [d.doc_id for d in report.documents]
        assert ids == (["out/b.txt", "sub/a.txt"] if follow else ["sub/a.txt"])


# --- 5. file names with control, escape or bidi characters ---------------------------------


def test_names_differing_by_a_control_character_are_two_documents(tmp_path):
    (tmp_path / "report.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / "re\x1bport.txt").write_text(TEXT + "另一份。", encoding="utf-8")
    (tmp_path / "evil\u202etxt.md").write_text(TEXT, encoding="utf-8")
    report = load_corpus([tmp_path])
    ids = sorted(d.doc_id for d in report.documents)
    assert ids == ["evil\\u202etxt.md", "re\\x1bport.txt", "report.txt"]
    assert report.skipped == []
    warned = {Path(p).name: w for p, w in report.warnings}
    assert warned["re\x1bport.txt"] == (
        "control characters in the doc_id are kept escaped: re\\x1bport.txt"
    )


def test_escaped_spells_out_what_a_terminal_would_run():
    from corpus.sanitize import escaped

    name = "a\x1b]0;owned\x07\u202eb\nskipped fake.txt: ok\t\x9b"
    assert escaped(name) == "a\\x1b]0;owned\\x07\\u202eb\\nskipped fake.txt: ok\\t\\x9b"
    assert escaped("普通文件名.txt") == "普通文件名.txt"


@pytest.mark.parametrize("bad", ["\x1b[2J", "\u202e", "\n"])
def test_a_folder_file_with_a_bad_name_that_cannot_be_read_keeps_the_escaped_id(tmp_path, bad):
    from corpus.sanitize import escaped

    name = f"x{bad}y.txt"
    (tmp_path / name).write_bytes(bytes(range(128, 256)) * 4)  # undecodable
    (source,) = load_corpus([tmp_path]).unreadable
    assert source.doc_id == escaped(name) and source.path == str(tmp_path / name)
