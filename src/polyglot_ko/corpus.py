"""The small Korean sample corpus that ships inside the package, for `polyglot-ko quickstart` and smoke tests.

About 1,400 documents (~300 K characters) written for this project: news-like articles, dialogue, reviews,
notices, how-to texts, essays, Q&A and blog posts, plus on-purpose material for every data-preparation step
(fictional personal data in many formats and hard negatives for PII masking, low-quality web debris for the
filters, exact and near duplicates for dedup). Same shape as the shared corpus: gzip JSON lines
`{"id", "source", "text"}`. Built by `tools/corpus/make_corpus.py` (repository only); see `assets/corpus/README.md`.

    >>> from polyglot_ko.corpus import bundled_corpus_files
    >>> bundled_corpus_files()  # [.../polyglot_ko/assets/corpus/ko-sample.jsonl.gz]
"""

from __future__ import annotations

import gzip
import json
from importlib import resources
from pathlib import Path

from polyglot_ko.errors import UserError

CORPUS_FILE_NAME = "ko-sample.jsonl.gz"
ANNOTATIONS_FILE_NAME = "ko-sample.annotations.json"

DESCRIPTION = (
    "polyglot-ko bundled sample corpus: ~1,400 Korean documents (~300 K characters) written for this project "
    "(news-like articles, dialogue, reviews, notices, how-to, essays, stories, Q&A, blog posts; CC0). Some carry "
    "fictional personal data (phone numbers, bank accounts, resident registration numbers) so PII masking has "
    "something to show, next to hard negatives (dates, prices, zip codes, order and business numbers); a few are "
    "deliberately low quality or duplicated so the filters and dedup have work. Large enough for a few-minute CPU "
    "run to learn frequent words and endings, far too small for a useful language model."
)


def bundled_corpus_dir() -> Path:
    """The folder holding the bundled corpus inside the installed package."""
    folder = Path(str(resources.files("polyglot_ko").joinpath("assets", "corpus")))
    if not (folder / CORPUS_FILE_NAME).is_file():
        raise UserError(
            f"{folder / CORPUS_FILE_NAME}: the bundled sample corpus is missing from the installed package; "
            "reinstall polyglot-ko (pip install --force-reinstall polyglot-ko) or pass your own files with --corpus"
        )
    return folder


def bundled_corpus_files() -> list[Path]:
    """The bundled corpus files (gzip JSON lines `{"id", "source", "text"}`), ready for `prepare --input`."""
    return [bundled_corpus_dir() / CORPUS_FILE_NAME]


def bundled_corpus_annotations() -> dict[str, dict]:
    """Per-document notes, by id: `origin` (handwritten / template / duplicate / near-duplicate), and where
    present `pii` and `negatives` (lists of `{"kind", "text", "start", "end"}` character spans in `text`),
    `quality` (`low:<reason>` for documents the filters should drop), `duplicate_of`, `near_duplicate_of`."""
    path = bundled_corpus_dir() / ANNOTATIONS_FILE_NAME
    return json.loads(path.read_text(encoding="utf-8"))["documents"]


def iter_bundled_documents():
    """Yield the bundled documents as dicts `{"id", "source", "text"}`, in file order."""
    for path in bundled_corpus_files():
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                yield json.loads(line)


def bundled_corpus_stats() -> dict:
    """Documents and characters in total and per source (genre), for reports."""
    by_source: dict[str, dict[str, int]] = {}
    for doc in iter_bundled_documents():
        entry = by_source.setdefault(doc["source"], {"documents": 0, "characters": 0})
        entry["documents"] += 1
        entry["characters"] += len(doc["text"])
    return {
        "documents": sum(e["documents"] for e in by_source.values()),
        "characters": sum(e["characters"] for e in by_source.values()),
        "sources": dict(sorted(by_source.items())),
    }
