"""The bundled Korean sample corpus: it ships inside the package, parses, has every genre and the planned size,
carries the fictional PII and hard negatives its annotations promise (checked with the project's real masker),
the low-quality documents and duplicates the prepare steps need (checked with the real pipeline), and matches
a rebuild from its sources."""

from __future__ import annotations

import collections
import gzip
import importlib.util
import json
import re
from pathlib import Path

import pytest

import polyglot_ko
from polyglot_ko.corpus import (
    ANNOTATIONS_FILE_NAME,
    CORPUS_FILE_NAME,
    DESCRIPTION,
    bundled_corpus_annotations,
    bundled_corpus_dir,
    bundled_corpus_files,
    bundled_corpus_stats,
    iter_bundled_documents,
)

GENRES = {"news", "review", "dialogue", "notice", "howto", "essay", "qa", "blog", "classified", "story", "wiki", "web"}
HANGUL = re.compile(r"[\uac00-\ud7a3]")


@pytest.fixture(scope="module")
def docs() -> list[dict]:
    return list(iter_bundled_documents())


@pytest.fixture(scope="module")
def notes() -> dict[str, dict]:
    return bundled_corpus_annotations()


def test_files_ship_inside_the_installed_package():
    package_dir = Path(polyglot_ko.__file__).resolve().parent
    files = bundled_corpus_files()
    assert files == [bundled_corpus_dir() / CORPUS_FILE_NAME]
    for path in files + [bundled_corpus_dir() / ANNOTATIONS_FILE_NAME, bundled_corpus_dir() / "README.md"]:
        assert path.is_file(), path
        assert package_dir in path.resolve().parents, f"{path} is not inside the package at {package_dir}"
    assert files[0].stat().st_size < 1_000_000
    readme = (bundled_corpus_dir() / "README.md").read_text(encoding="utf-8")
    assert "CC0" in readme and "fictional" in readme
    assert "CC0" in DESCRIPTION


def test_documents_parse_with_the_shared_corpus_shape(docs):
    with gzip.open(bundled_corpus_files()[0], "rt", encoding="utf-8") as f:
        lines = f.read().splitlines()
    assert len(lines) == len(docs)
    for doc in docs:
        assert set(doc) == {"id", "source", "text"}
        assert all(isinstance(doc[k], str) and doc[k] for k in doc)
        assert doc["id"].startswith(doc["source"] + "-")
        assert "{{" not in doc["text"] and "}}" not in doc["text"], f"markup left in {doc['id']}"
    assert len({d["id"] for d in docs}) == len(docs), "ids must be unique"


def test_genres_and_size(docs, notes):
    stats = bundled_corpus_stats()
    assert set(stats["sources"]) == GENRES
    assert 1000 <= stats["documents"] <= 3000
    assert 200_000 <= stats["characters"] <= 500_000, stats["characters"]
    hangul = sum(len(HANGUL.findall(d["text"])) for d in docs)
    assert hangul >= 0.6 * stats["characters"], "the corpus must be mostly Korean"
    # hand-written text is a substantial core; no genre is a token gesture
    origins = collections.Counter(notes[d["id"]]["origin"] for d in docs)
    assert origins["handwritten"] >= 200
    for source, entry in stats["sources"].items():
        assert entry["documents"] >= 10, source
    # the endings a few-minute run should pick up are frequent
    text = "\n".join(d["text"] for d in docs)
    for ending in ("습니다", "했다", "있다", "어요", "니다."):
        assert text.count(ending) >= 200, ending


def test_annotations_point_at_the_text(docs, notes):
    by_id = {d["id"]: d for d in docs}
    assert set(notes) == set(by_id)
    kinds = collections.Counter()
    for doc_id, note in notes.items():
        text = by_id[doc_id]["text"]
        for span in note.get("pii", []) + note.get("negatives", []):
            assert text[span["start"] : span["end"]] == span["text"], (doc_id, span)
            kinds[span["kind"]] += 1
    assert kinds["tel"] >= 150 and kinds["acc"] >= 100 and kinds["rrn"] >= 30, kinds
    for kind in ("date", "price", "zip", "bizno", "order", "tracking", "isbn", "time"):
        assert kinds[kind] >= 1, kind
    pii = [s["text"] for n in notes.values() for s in n.get("pii", [])]
    # many formats, not one: international, landline, no separator, dots, spaces
    assert any(t.startswith("+82") for t in pii)
    assert any(re.fullmatch(r"0(2|[3-6][1-5])-\d{3,4}-\d{4}", t) for t in pii)
    assert any(re.fullmatch(r"010\d{8}", t) for t in pii)
    assert any(re.fullmatch(r"010\.\d{4}\.\d{4}", t) for t in pii)
    assert any(re.fullmatch(r"010 \d{4} \d{4}", t) for t in pii)
    assert any(re.fullmatch(r"\d{6}-[1-4]\d{6}", t) for t in pii)
    assert sum(1 for n in notes.values() if n.get("pii")) >= 150


def _rrn_check_digit_ok(rrn: str) -> bool:
    d = rrn.replace("-", "")
    weights = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
    return (11 - sum(int(a) * w for a, w in zip(d[:12], weights, strict=True)) % 11) % 10 == int(d[12])


def test_registration_numbers_are_well_formed(notes):
    rrns = [s["text"] for n in notes.values() for s in n.get("pii", []) if s["kind"] == "rrn"]
    assert len(rrns) >= 30
    for rrn in rrns:
        assert re.fullmatch(r"\d{6}-?[1-4](\d{6}|\*{6})", rrn), rrn
        month, day = int(rrn[2:4]), int(rrn[4:6])
        assert 1 <= month <= 12 and 1 <= day <= 31, rrn
        assert "*" in rrn or _rrn_check_digit_ok(rrn), rrn


def test_low_quality_documents_and_duplicates(docs, notes):
    by_id = {d["id"]: d for d in docs}
    reasons = collections.Counter(n["quality"].split(":")[1] for n in notes.values() if "quality" in n)
    assert {"html", "repeat", "symbols", "english", "short", "boilerplate"} <= set(reasons), reasons
    exact = [(i, n["duplicate_of"]) for i, n in notes.items() if "duplicate_of" in n]
    near = [(i, n["near_duplicate_of"]) for i, n in notes.items() if "near_duplicate_of" in n]
    assert len(exact) >= 5 and len(near) >= 5
    for copy, original in exact:
        assert by_id[copy]["text"] == by_id[original]["text"]
    for copy, original in near:
        a, b = by_id[copy]["text"], by_id[original]["text"]
        assert a != b
        assert _jaccard(a, b) > 0.85, (copy, original, _jaccard(a, b))


def _shingles(text: str, n: int = 5) -> set[str]:
    s = " ".join(text.lower().split())
    return {s[i : i + n] for i in range(max(1, len(s) - n + 1))}


def _jaccard(a: str, b: str) -> float:
    sa, sb = _shingles(a), _shingles(b)
    return len(sa & sb) / len(sa | sb)


def test_no_template_dominates(docs, notes):
    # The most frequent sentence must stay rare, and generated documents must not be near copies of each
    # other (otherwise near-dedup would throw them away and the model would learn a handful of strings).
    sentences = collections.Counter(
        s.strip() for d in docs for s in re.split(r"(?<=[.!?])\s+|\n", d["text"]) if len(s.strip()) >= 15
    )
    top_sentence, top_count = sentences.most_common(1)[0]
    assert top_count <= 0.02 * len(docs), (top_sentence, top_count)
    generated = [d["text"] for d in docs if notes[d["id"]]["origin"] == "template"]
    shingled = [_shingles(t) for t in generated[:300]]
    worst = max(len(a & b) / len(a | b) for i, a in enumerate(shingled) for b in shingled[i + 1 :])
    assert worst < 0.8, worst


def test_committed_file_matches_a_rebuild():
    """Edits to handwritten/ or templates.py must be followed by a rebuild (make_corpus.py) and a commit."""
    folder = bundled_corpus_dir()
    tool = Path(__file__).resolve().parents[1] / "tools" / "corpus" / "make_corpus.py"  # a build tool, not shipped
    spec = importlib.util.spec_from_file_location("polyglot_ko_make_corpus", tool)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    records, annotations = module.build()
    with gzip.open(folder / CORPUS_FILE_NAME, "rt", encoding="utf-8") as f:
        shipped = [json.loads(line) for line in f]
    assert records == shipped, "ko-sample.jsonl.gz is stale: run make_corpus.py and commit its output"
    assert annotations == bundled_corpus_annotations()


def test_masker_finds_the_marked_pii_and_leaves_hard_negatives(docs, notes):
    try:
        from polyglot_ko.data.pii import find_pii
    except ImportError as e:  # pragma: no cover - only while data.pii is being written
        pytest.skip(f"polyglot_ko.data.pii is not available yet ({e})")
    total = found = pii_docs = docs_hit = 0
    missed, masked_negatives, unmarked = [], [], []
    for doc in docs:
        note = notes[doc["id"]]
        matches = [(m.start, m.end, m.type) for m in find_pii(doc["text"])]
        marked = note.get("pii", [])
        if marked:
            pii_docs += 1
            docs_hit += any(t == s["kind"] for _, _, t in matches for s in marked)
        for span in marked:
            total += 1
            hit = any(a < span["end"] and b > span["start"] and t == span["kind"] for a, b, t in matches)
            found += hit
            if not hit:
                missed.append((doc["id"], span["text"], doc["text"][max(0, span["start"] - 12) : span["end"]]))
        for span in note.get("negatives", []):
            if any(a < span["end"] and b > span["start"] for a, b, _ in matches):
                masked_negatives.append((doc["id"], span["kind"], span["text"]))
        for a, b, t in matches:
            if not any(a < s["end"] and b > s["start"] for s in marked):
                unmarked.append((doc["id"], t, doc["text"][a:b]))
    # Not 100%: the masker does not know every bank's grouping (3-2-6-1, e.g. 508-10-284716-3, is missed when
    # written with dashes); the bar catches regressions, and the failure message lists what was missed.
    assert docs_hit / pii_docs >= 0.97, f"documents with PII found {docs_hit}/{pii_docs}; missed: {missed}"
    assert found / total >= 0.97, f"recall {found}/{total}; missed: {missed}"
    assert not masked_negatives, masked_negatives
    assert not unmarked, f"masked text that is not personal data: {unmarked}"


def test_every_prepare_step_has_work_on_the_bundled_corpus(tmp_path):
    """The real prepare pipeline (with a mean-word-length bar that fits Korean eojeol) drops the web debris,
    both kinds of duplicates, masks every PII type, and keeps the rest of the corpus."""
    pytest.importorskip("datatrove")
    from polyglot_ko.data.pipeline import prepare

    stats = prepare(
        bundled_corpus_files(), tmp_path / "prepared", workers=1, quiet=True, quality={"min_mean_word_length": 2.0}
    )
    docs, dropped = stats["documents"], stats["documents"]["dropped"]
    assert docs["input"] == bundled_corpus_stats()["documents"]
    assert dropped.get("duplicate", 0) >= 7, dropped
    assert dropped.get("near_duplicate", 0) >= 6, dropped
    quality_reasons = set(dropped) - {"duplicate", "near_duplicate"}
    assert len(quality_reasons) >= 4, dropped
    assert docs["kept"] >= 0.9 * docs["input"], docs
    for kind in ("tel", "acc", "rrn"):
        assert stats["pii"][kind] >= 20, stats["pii"]
