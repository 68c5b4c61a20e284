"""Readers: every format, files/globs/folders, and every kind of bad record counted by file and line."""

from __future__ import annotations

import gzip
import json

import pytest

from polyglot_ko.data.readers import ReadStats, iter_documents, read_texts, resolve_inputs
from polyglot_ko.errors import UserError

GOOD = ["첫 번째 문서입니다.", "두 번째 문서\n줄바꿈 포함", "세 번째"]


def _jsonl_bytes(texts):
    return b"".join(
        json.dumps({"id": f"d{i}", "text": t}, ensure_ascii=False).encode() + b"\n" for i, t in enumerate(texts)
    )


def test_all_formats_read_the_same_documents(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    import zstandard

    data = _jsonl_bytes(GOOD)
    (tmp_path / "a.jsonl").write_bytes(data)
    (tmp_path / "b.jsonl.gz").write_bytes(gzip.compress(data))
    (tmp_path / "c.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(data))
    pq.write_table(pa.table({"text": GOOD, "id": ["p0", "p1", "p2"]}), tmp_path / "d.parquet")
    (tmp_path / "e.txt").write_text("\n\n".join(GOOD) + "\n", encoding="utf-8")
    for name in ("a.jsonl", "b.jsonl.gz", "c.jsonl.zst", "d.parquet"):
        assert list(read_texts(tmp_path / name)) == GOOD, name
    assert list(read_texts(tmp_path / "e.txt", txt_mode="block")) == GOOD
    assert list(read_texts(tmp_path / "e.txt", txt_mode="file")) == ["\n\n".join(GOOD)]
    # line mode: blank lines are records too, counted as empty
    stats = ReadStats()
    lines = list(read_texts(tmp_path / "e.txt", txt_mode="line", stats=stats))
    assert lines == ["첫 번째 문서입니다.", "두 번째 문서", "줄바꿈 포함", "세 번째"]
    assert stats.problems["empty"] == 2 and stats.records == 6
    # a folder reads every supported file, sorted; a glob too
    assert len(list(read_texts(tmp_path, txt_mode="block"))) == 15
    assert len(resolve_inputs(str(tmp_path / "*.jsonl*"))) == 3


def test_bad_records_are_counted_by_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(
        b'{"text": "\xec\x95\x88\xeb\x85\x95"}\n'  # 1 ok (안녕)
        b'{"text": "broken\n'  # 2 malformed JSON
        b'{"text": "\xff\xfe bad bytes"}\n'  # 3 invalid UTF-8
        b'{"title": "no text field"}\n'  # 4 missing field
        b'{"text": 42}\n'  # 5 not a string
        b'{"text": "   "}\n'  # 6 empty
        b"[1, 2]\n"  # 7 not an object
        b'{"text": "' + b"x" * 200 + b'"}\n'  # 8 gigantic (max_chars=100)
        b'{"text": "\xeb\x81\x9d"}\n'  # 9 ok (끝)
    )
    stats = ReadStats()
    seen = []
    docs = list(iter_documents(path, stats=stats, max_chars=100, on_problem=seen.append))
    assert [d.text for d in docs] == ["안녕", "끝"]
    assert [(d.line, d.source) for d in docs] == [(1, str(path)), (9, str(path))]
    assert dict(stats.problems) == {
        "malformed_json": 2,
        "invalid_utf8": 1,
        "missing_field": 2,
        "empty": 1,
        "too_long": 1,
    }
    assert [(p.reason, p.line) for p in seen] == [
        ("malformed_json", 2),
        ("invalid_utf8", 3),
        ("missing_field", 4),
        ("missing_field", 5),
        ("empty", 6),
        ("malformed_json", 7),
        ("too_long", 8),
    ]
    assert stats.records == 9 == stats.documents + sum(stats.problems.values())


def test_truncated_gzip_keeps_what_was_read_and_reports_it(tmp_path):
    data = gzip.compress(_jsonl_bytes([f"문서 {i} " * 20 for i in range(2000)]))
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    stats = ReadStats()
    docs = list(iter_documents(path, stats=stats))
    assert 0 < len(docs) < 2000
    assert stats.problems["corrupt_file"] == 1
    assert stats.examples[-1].line == len(docs) + 1


def test_rank_sharding_covers_every_record_once(corpus_dir):
    path = corpus_dir / "konlpy-law.jsonl.gz"
    full = [d.id for d in iter_documents(path)]
    parts = [[d.id for d in iter_documents(path, rank=r, world_size=3)] for r in range(3)]
    assert sorted(sum(parts, [])) == sorted(full) and len(full) == 11
    assert all(parts)


def test_user_errors(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        list(read_texts(tmp_path / "missing.jsonl"))
    (tmp_path / "x.csv").write_text("a,b")
    with pytest.raises(UserError, match="unknown file type"):
        list(read_texts(tmp_path / "x.csv"))
    with pytest.raises(UserError, match="matches no"):
        list(read_texts(str(tmp_path / "*.jsonl")))
    with pytest.raises(UserError, match="txt_mode"):
        list(read_texts(tmp_path, txt_mode="para"))
